//! Arbitrary bytes as a Dockerfile and as a .dockerignore: parsing,
//! expanding every word the builder would expand, resolving `--mount`s and
//! matching ignore patterns must never panic, whatever the input.

#![no_main]

use berth::build::dockerfile::{expand, expand_words, parse, Instruction};
use berth::build::ignore::{read_patterns, Matcher};
use libfuzzer_sys::fuzz_target;

fn lookup(name: &str) -> Option<String> {
    (name.len() % 2 == 0).then(|| format!("v {name}*"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = parse(data, "Dockerfile") {
        let esc = d.escape();
        for stage in &d.stages {
            let _ = expand(&stage.from.value.base, esc, &lookup);
            for i in &stage.instructions {
                match &i.value {
                    Instruction::Run(r) => {
                        let _ = r.body();
                        for m in &r.mounts {
                            let _ = m.resolve(esc, &lookup);
                        }
                    }
                    Instruction::Expose(ports) => {
                        for p in ports {
                            let _ = expand_words(p, esc, &lookup);
                        }
                    }
                    Instruction::Env(kvs) | Instruction::Label(kvs) => {
                        for kv in kvs {
                            let _ = expand(&kv.value, esc, &lookup);
                        }
                    }
                    Instruction::Workdir(w) | Instruction::User(w) => {
                        let _ = expand(w, esc, &lookup);
                    }
                    _ => {}
                }
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = Matcher::new(&read_patterns(&text)) {
        for path in ["a", "a/b/c", "dir/file.txt", ".dockerignore"] {
            let _ = m.matches_or_parent(path);
            let _ = m.matches(path);
        }
        for line in text.lines().take(8) {
            let _ = m.matches_or_parent(line);
        }
    }
});
