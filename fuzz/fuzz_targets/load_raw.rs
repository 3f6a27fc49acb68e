//! Arbitrary bytes as a compose file, loaded from a temp dir: berth must never
//! panic, whatever the input.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use berth::compose::{load_raw, ProjectOptions};
use libfuzzer_sys::fuzz_target;

fn workdir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = workdir();
    let file = dir.join("compose.yaml");
    if std::fs::write(&file, data).is_err() {
        return;
    }
    let opts = ProjectOptions {
        files: vec![file.display().to_string()],
        interpolate: true,
        resolve_paths: true,
        working_dir: dir.clone(),
        os_env: [("HOME".to_string(), "/root".to_string()), ("FOO".to_string(), "bar".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let _ = load_raw(&opts);
});
