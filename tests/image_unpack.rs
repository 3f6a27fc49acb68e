//! Malicious layers are refused and nothing outside the layer directory is touched;
//! a few thousand mutated tar streams neither panic nor escape.

mod image_support;

use berth::image::unpack::{unpack, unpack_compressed, UnpackError};
use image_support::*;
use std::path::{Path, PathBuf};

/// A sandbox: `outside/` with a victim file, and a fresh layer dir per attempt.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/victim"), b"untouched").unwrap();
        std::fs::create_dir(dir.path().join("layers")).unwrap();
        Sandbox { dir }
    }
    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }
    fn layer(&self, n: usize) -> PathBuf {
        let p = self.dir.path().join("layers").join(n.to_string());
        std::fs::create_dir(&p).unwrap();
        p
    }
    /// Nothing outside the layers changed: same victim, no new files, nothing beside.
    fn assert_untouched(&self) {
        assert_eq!(
            std::fs::read(self.outside().join("victim")).unwrap(),
            b"untouched"
        );
        let names: Vec<_> = std::fs::read_dir(self.outside())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("victim")]);
        let top: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(top.len(), 2, "{top:?}");
    }
}

fn leak(s: String) -> &'static str {
    s.leak()
}

fn assert_refused(entries: Vec<E>, what: &str) {
    let sb = Sandbox::new();
    let dest = sb.layer(0);
    let err = unpack(&tar_of(&entries)[..], &dest).expect_err(what);
    assert!(matches!(err, UnpackError::Unsafe { .. }), "{what}: {err}");
    sb.assert_untouched();
}

#[test]
fn refuses_dotdot_paths() {
    assert_refused(
        vec![E::File("../outside/victim", b"pwned".to_vec(), 0o644)],
        "file ../",
    );
    assert_refused(
        vec![E::File("a/../../outside/victim", b"pwned".to_vec(), 0o644)],
        "file a/../../",
    );
    assert_refused(vec![E::Dir("../outside/newdir/", 0o755)], "dir ../");
    assert_refused(
        vec![E::Symlink("../outside/link", "/etc")],
        "symlink named ../",
    );
}

#[test]
fn refuses_absolute_paths() {
    let sb = Sandbox::new();
    let victim = leak(sb.outside().join("victim").display().to_string());
    assert_refused(
        vec![E::File(victim, b"pwned".to_vec(), 0o644)],
        "absolute file",
    );
    assert_eq!(
        std::fs::read(sb.outside().join("victim")).unwrap(),
        b"untouched"
    );
}

#[test]
fn refuses_writing_through_a_symlink() {
    let sb = Sandbox::new();
    let out = leak(sb.outside().display().to_string());
    for target in [out, "../outside", "../../outside", "/"] {
        assert_refused(
            vec![
                E::Symlink("evil", target),
                E::File("evil/victim", b"pwned".to_vec(), 0o644),
            ],
            "file through symlink",
        );
        assert_refused(
            vec![E::Symlink("evil", target), E::Dir("evil/sub/", 0o755)],
            "dir through symlink",
        );
        assert_refused(
            vec![
                E::Dir("d/", 0o755),
                E::Symlink("d/evil", target),
                E::File("d/evil/x", vec![], 0o644),
            ],
            "nested symlink",
        );
        assert_refused(
            vec![
                E::Symlink("evil", target),
                E::File("evil/.wh.victim", vec![], 0o644),
            ],
            "whiteout through symlink",
        );
        assert_refused(
            vec![
                E::Symlink("evil", target),
                E::File("evil/.wh..wh..opq", vec![], 0o644),
            ],
            "opaque through symlink",
        );
    }
    assert_untouched_by_symlink_replacement(&sb);
}

/// A symlink replaced by a file of the same name: the file is written in the layer.
fn assert_untouched_by_symlink_replacement(sb: &Sandbox) {
    let victim = leak(sb.outside().join("victim").display().to_string());
    let dest = sb.layer(99);
    unpack(
        &tar_of(&[
            E::Symlink("a", victim),
            E::File("a", b"inside".to_vec(), 0o644),
        ])[..],
        &dest,
    )
    .unwrap();
    assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"inside");
    sb.assert_untouched();
}

#[test]
fn refuses_hardlinks_out() {
    let sb = Sandbox::new();
    let victim = leak(sb.outside().join("victim").display().to_string());
    let out = leak(sb.outside().display().to_string());
    assert_refused(vec![E::Hardlink("h", victim)], "hardlink to absolute");
    assert_refused(vec![E::Hardlink("h", "../outside/victim")], "hardlink ../");
    assert_refused(
        vec![E::Symlink("s", out), E::Hardlink("h", "s/victim")],
        "hardlink through symlink",
    );
    // A hardlink to an inside file, then a file of that name: the other link keeps its content.
    let dest = sb.layer(7);
    unpack(
        &tar_of(&[
            E::File("f", b"one".to_vec(), 0o644),
            E::Hardlink("h", "f"),
            E::File("h", b"two".to_vec(), 0o644),
        ])[..],
        &dest,
    )
    .unwrap();
    assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"one");
    assert_eq!(std::fs::read(dest.join("h")).unwrap(), b"two");
    sb.assert_untouched();
}

#[test]
fn refuses_whiteout_of_dotdot() {
    assert_refused(vec![E::File(".wh...", vec![], 0o644)], "whiteout ..");
    assert_refused(
        vec![E::Dir("d/", 0o755), E::File("d/.wh...", vec![], 0o644)],
        "nested whiteout ..",
    );
    assert_refused(vec![E::File(".wh..", vec![], 0o644)], "whiteout .");
    assert_refused(
        vec![E::File("../.wh.outside", vec![], 0o644)],
        "whiteout in ..",
    );
}

#[test]
fn store_leaves_no_partial_layer() {
    let d = tempfile::tempdir().unwrap();
    let store = berth::image::Store::open(d.path()).unwrap();
    let evil = tar_of(&[
        E::File("ok", vec![1], 0o644),
        E::File("../x", vec![], 0o644),
    ]);
    let diff = berth::image::Digest::of(&evil);
    assert!(store.unpack_layer_from(&evil[..], &diff, &diff).is_err());
    assert!(!store.has_layer(&diff));
    assert_eq!(
        std::fs::read_dir(d.path().join("layers")).unwrap().count(),
        0
    );
    // A good tar with the wrong diff id is refused too.
    let good = tar_of(&[E::File("ok", vec![1], 0o644)]);
    assert!(store
        .unpack_layer_from(&gzip(&good)[..], &diff, &diff)
        .is_err());
    let ok = berth::image::Digest::of(&good);
    store.unpack_layer_from(&gzip(&good)[..], &ok, &ok).unwrap();
    assert!(store.has_layer(&ok));
}

#[test]
fn compressed_streams_report_their_diff_id() {
    let t = tar_of(&base_layer());
    for bytes in [t.clone(), gzip(&t), zstd(&t)] {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            unpack_compressed(&bytes[..], d.path()).unwrap(),
            berth::image::Digest::of(&t)
        );
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds(sb: &Sandbox) -> Vec<Vec<u8>> {
    let out = leak(sb.outside().display().to_string());
    vec![
        tar_of(&[
            E::Dir("a/", 0o755),
            E::File("a/b", b"hello".to_vec(), 0o644),
            E::Symlink("a/l", "b"),
            E::Hardlink("a/h", "a/b"),
            E::File("a/.wh.c", vec![], 0o644),
            E::File("a/.wh..wh..opq", vec![], 0o644),
            E::Fifo("p"),
        ]),
        tar_of(&[
            E::Symlink("s", out),
            E::File("t", b"x".to_vec(), 0o644),
            E::Hardlink("u", "t"),
            E::Dir("s2/", 0o700),
        ]),
    ]
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        if b.len() < 512 {
            break;
        }
        match rng.below(5) {
            // Header fields (name, link name, type) are where escapes hide.
            0 | 1 => {
                let block = rng.below(b.len() / 512) * 512;
                let field = [0usize, 1, 2, 3, 157, 158, 159, 156, 100, 124][rng.below(10)];
                let pos = (block + field + rng.below(8)).min(b.len() - 1);
                b[pos] = [
                    b'/',
                    b'.',
                    b'.',
                    0,
                    b'a',
                    b'5',
                    b'2',
                    b'0',
                    rng.next() as u8,
                ][rng.below(9)];
            }
            2 => {
                let pos = rng.below(b.len());
                b[pos] = rng.next() as u8;
            }
            3 => {
                let n = rng.below(b.len());
                b.truncate(n);
                if b.is_empty() {
                    b.push(0);
                }
            }
            _ => {
                let from = rng.below(b.len() / 512) * 512;
                let block = b[from..from + 512].to_vec();
                let to = rng.below(b.len() / 512 + 1) * 512;
                b.splice(to.min(b.len())..to.min(b.len()), block);
            }
        }
        // Headers with a bad checksum are rejected before anything else; fix most of them
        // so the unpacker, not the parser, sees the mutated names.
        if rng.below(4) != 0 {
            for blk in (0..b.len() / 512).map(|i| i * 512) {
                let h = &mut b[blk..blk + 512];
                if h.iter().all(|&x| x == 0) {
                    continue;
                }
                h[148..156].fill(b' ');
                let sum: u32 = h.iter().map(|&x| x as u32).sum();
                let s = format!("{sum:06o}\0 ");
                h[148..156].copy_from_slice(s.as_bytes());
            }
        }
    }
    b
}

#[test]
fn mutated_streams_never_panic_or_escape() {
    let sb = Sandbox::new();
    let seeds = seeds(&sb);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..3000 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        let dest = sb.layer(i);
        let res = std::panic::catch_unwind(|| unpack(&input[..], Path::new(&dest)));
        match res {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => panic!("unpacker panicked on input {i}: {:?}", input),
        }
        sb.assert_untouched();
        std::fs::remove_dir_all(&dest).unwrap();
    }
    assert!(
        ok > 100 && refused > 100,
        "mutations exercise both paths: ok={ok} refused={refused}"
    );
}
