//! Thousands of pseudo-random mutations of compose files through `load_raw`:
//! every input must give a project or an error, never a panic.

use std::path::PathBuf;

use berth::compose::{dotenv, load_raw, ProjectOptions};

const SEEDS: &[&str] = &[
    "services:\n  web:\n    image: nginx:${TAG:-latest}\n    ports:\n      - \"8080:80\"\n      - target: 81\n        published: ${P-82}\n    volumes:\n      - ./data:/data:ro\n      - named:/x\n    environment:\n      A: 1\n      B:\n    command: [\"a\", \"b\"]\nvolumes:\n  named: {}\n",
    "x-base: &base\n  image: busybox\n  labels: {a: b}\nservices:\n  a:\n    <<: *base\n    command: !reset []\n  b:\n    extends: a\n    ports: !override [\"1:1\"]\n  c:\n    extends: {service: b}\n",
    "include:\n  - other.yaml\n  - path: [other.yaml]\n    env_file: [.env]\nservices:\n  s:\n    build: .\n    env_file: e.env\n    depends_on: [t]\n  t:\n    build: {context: ., args: [A=1]}\n---\nservices:\n  s:\n    depends_on:\n      t: {condition: service_healthy}\n",
    "name: ${NAME:?need a name}\nservices:\n  a:\n    image: $$notvar ${FOO:+alt} ${BAR?err}\n    extends:\n      file: other.yaml\n      service: o\n",
    "version: '3'\nservices:\n  a:\n    image: x\n    logging: {driver: json-file, options: {max-size: 1m}}\n    ulimits: {nofile: {soft: 1, hard: 2}}\nnetworks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/24\n",
];

const TOKENS: &[&str] = &[
    "${",
    "}",
    "$",
    "$$",
    ":-",
    ":?",
    ":+",
    "<<: *a",
    "&a ",
    "*a",
    "!reset ",
    "!override ",
    "---\n",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "\n",
    "\n  ",
    "\t",
    "#",
    "extends: ",
    "include: ",
    "services:\n",
    "~",
    "..",
    "/",
    "\\",
    "\u{feff}",
    "é",
    "\0",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(pos..pos, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (pos + rng.below(16)).min(v.len());
                v.drain(pos.min(end)..end);
            }
            3 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + rng.below(32)).min(v.len());
                let chunk: Vec<u8> = v[start..end].to_vec();
                v.splice(pos..pos, chunk);
            }
            4 => {
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let start = rng.below(other.len());
                let end = (start + rng.below(64)).min(other.len());
                v.splice(pos..pos, other[start..end].iter().copied());
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.extend_from_slice(t);
            }
        }
    }
    v
}

#[test]
fn mutated_compose_files_never_panic() {
    let dir = std::env::temp_dir().join(format!("berth-nopanic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("other.yaml"),
        "services:\n  o:\n    image: o\n    build: ./ctx\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "TAG=1\nNAME=proj\n").unwrap();
    let file: PathBuf = dir.join("compose.yaml");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut loaded = 0;
    let iterations = 3000;
    for i in 0..iterations {
        let seed = SEEDS[i % SEEDS.len()].as_bytes();
        let mut input = mutate(&mut rng, seed);
        // Now and then mutate the mutant again for deeper damage.
        if rng.below(4) == 0 {
            input = mutate(&mut rng, &input);
        }
        std::fs::write(&file, &input).unwrap();
        // The other file is sometimes damaged too, for extends/include.
        if rng.below(8) == 0 {
            let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
            std::fs::write(dir.join("other.yaml"), mutate(&mut rng, other)).unwrap();
        }
        let opts = ProjectOptions {
            files: vec![file.display().to_string()],
            interpolate: rng.below(8) != 0,
            resolve_paths: rng.below(2) == 0,
            working_dir: dir.clone(),
            os_env: [("FOO", "x"), ("HOME", "/root")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        if load_raw(&opts).is_ok() {
            loaded += 1;
        }
        // The same bytes as a .env file.
        let text = String::from_utf8_lossy(&input);
        let _ = dotenv::parse(&text, &|_| None, &mut Vec::new());
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Sanity: the mutations are not all fatal, so the deeper stages ran too.
    assert!(
        loaded > iterations / 50,
        "only {loaded} of {iterations} mutants loaded"
    );
}
