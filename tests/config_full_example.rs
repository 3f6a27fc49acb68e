//! compose-go's full example: `berth config --no-normalize --no-consistency`
//! prints exactly what compose-go's loader test expects for it (loaded with
//! normalization and the consistency check skipped, paths resolved), the
//! model docker compose prints for `config --no-normalize`.

use std::path::Path;
use std::process::Command;

#[test]
fn full_example_prints_as_compose_go_expects_without_normalization() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compose-go-full-example");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "-f",
            "full-example.yml",
            "config",
            "--no-normalize",
            "--no-consistency",
        ])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("BAR", "this is a secret")
        .env("QUX", "qux_from_environment")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let expected = std::fs::read_to_string(dir.join("expected.yaml"))
        .unwrap()
        .replace("{W}", &dir.display().to_string())
        .replace("{H}", &home.path().display().to_string());
    let got = String::from_utf8_lossy(&out.stdout);
    if got != expected {
        let first = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(expected.lines().count()));
        panic!(
            "line {}: got {:?}, expected {:?}\n--- got ---\n{got}",
            first + 1,
            got.lines().nth(first),
            expected.lines().nth(first)
        );
    }
    // The deprecated `external.name` forms are named, as docker compose does.
    assert!(stderr.contains("networks.other-external-network: external.name is deprecated"));
}
