//! The raw loader stays linear: a generated 500-service project with anchors,
//! extends and interpolation loads well within a debug build's budget.

use std::time::Instant;

use berth::compose::{load_raw, ProjectOptions};

#[test]
fn five_hundred_services_load_quickly() {
    let dir = std::env::temp_dir().join(format!("berth-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = String::from(
        "x-common: &common\n  restart: unless-stopped\n  labels:\n    team: core\n  environment:\n    LOG_LEVEL: ${LOG_LEVEL:-info}\nservices:\n  base:\n    image: busybox:${TAG:-1.36}\n    <<: *common\n",
    );
    for i in 0..500 {
        s.push_str(&format!(
            "  svc{i}:\n    extends: base\n    <<: *common\n    command: [\"sh\", \"-c\", \"echo {i} $${{HOME}}\"]\n    ports:\n      - \"{}:80\"\n    volumes:\n      - ./data/{i}:/data\n    environment:\n      IDX: \"{i}\"\n      HOST: ${{HOSTNAME:-localhost}}\n",
            10000 + i
        ));
    }
    std::fs::write(dir.join("compose.yaml"), s).unwrap();
    let opts = ProjectOptions {
        interpolate: true,
        resolve_paths: true,
        working_dir: dir.clone(),
        ..Default::default()
    };
    let start = Instant::now();
    let p = load_raw(&opts).unwrap();
    let elapsed = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(p.tree["services"].as_mapping().unwrap().len(), 501);
    assert_eq!(
        p.tree["services"]["svc7"]["image"],
        serde_yaml_ng::Value::from("busybox:1.36")
    );
    eprintln!("500 services loaded in {elapsed:?}");
    // Generous for unoptimized builds on a shared machine; release is far faster.
    assert!(elapsed.as_secs() < 5, "took {elapsed:?}");
}
