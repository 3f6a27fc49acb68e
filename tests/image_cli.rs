//! The `berth image` commands as a user types them, against a real registry.

mod image_support;

use image_support::*;
use std::process::Command;

struct Berth {
    root: tempfile::TempDir,
}

impl Berth {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(self.root.path())
            .args(["image"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "berth image {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .env("BERTH_ROOT", self.root.path())
            .arg("image")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "berth image {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }
}

#[test]
fn image_commands_like_docker() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "cli/busybox:v1", false);
    let b = Berth {
        root: tempfile::tempdir().unwrap(),
    };
    let name = format!("{}/cli/busybox:v1", reg.host());

    let out = b.run(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    assert!(b.run(&["pull", &name]).contains("Image is up to date"));

    let ls = b.run(&["ls", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(ls.lines().next().unwrap()).unwrap();
    assert_eq!(row["Repository"], format!("{}/cli/busybox", reg.host()));
    assert_eq!(row["Tag"], "v1");
    let table = b.run(&["ls"]);
    assert!(table.starts_with("REPOSITORY"), "{table}");

    b.run(&["tag", &name, "mine/bb:2"]);
    let inspect: serde_json::Value =
        serde_json::from_str(&b.run(&["inspect", "mine/bb:2"])).unwrap();
    assert_eq!(inspect[0]["Config"]["Cmd"][0], "sh");
    assert_eq!(inspect[0]["RepoTags"].as_array().unwrap().len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("bb.tar");
    b.run(&["save", "-o", tarball.to_str().unwrap(), "mine/bb:2"]);
    b.run(&["rm", "mine/bb:2"]);
    b.run(&["rm", &name]);
    assert_eq!(b.run(&["ls", "-q"]), "");
    b.run(&["prune"]);
    assert_eq!(
        std::fs::read_dir(b.root.path().join("layers"))
            .unwrap()
            .count(),
        0
    );
    let out = b.run(&["load", "-i", tarball.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: mine/bb:2");

    let rootfs = dir.path().join("rootfs.tar.gz");
    std::fs::write(&rootfs, gzip(&tar_of(&base_layer()))).unwrap();
    b.run(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        "-c",
        "ENV A=b",
        rootfs.to_str().unwrap(),
        "imported:1",
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&b.run(&["inspect", "imported:1"])).unwrap();
    assert_eq!(inspect[0]["Config"]["Env"][0], "A=b");

    let pushed = format!("{}/cli/imported:1", reg.host());
    b.run(&["tag", "imported:1", &pushed]);
    b.run(&["push", &pushed]);
    reg.inspect_raw("cli/imported:1");

    assert!(b.fails(&["inspect", "nope:1"]).contains("no such image"));
    assert!(b.fails(&["pull", "Bad/Name"]).contains("must be lowercase"));
}
