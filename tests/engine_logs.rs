//! Big logs as a long-running, chatty service makes them: `logs --tail` answers
//! from the end of the log at once, and a container's log stays bounded unless
//! the service says otherwise.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{states, World};

/// The directory of the project's only container.
fn container_dir(w: &World, p: &Path) -> PathBuf {
    let ps = w.ps(p);
    let id = ps[0]["ID"].as_str().unwrap();
    let dirs: Vec<PathBuf> = fs::read_dir(w.root().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.file_name().unwrap().to_string_lossy().starts_with(id))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// Writes `mb` MiB of old records (`old <n>`, one second apart from `first`).
fn old_log(path: &Path, mb: usize, first: u64) -> u64 {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let (mut n, mut size) = (first, 0);
    while size < mb << 20 {
        let line = format!(
            "{{\"log\":\"old {n} padding padding padding padding padding\\n\",\"stream\":\"stdout\",\"time\":\"2001-01-01T00:00:00.{:09}Z\"}}\n",
            n
        );
        f.write_all(line.as_bytes()).unwrap();
        size += line.len();
        n += 1;
    }
    f.flush().unwrap();
    n
}

/// Peak RSS (KiB) of this process's waited-for children so far.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to that struct.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss
}

#[test]
fn tail_reads_a_big_rotated_log_from_its_end() {
    let w = World::new();
    let p = w.project(
        "bigtail",
        "services:\n  a:\n    image: IMAGE\n    command: [\"sh\", \"-c\", \"echo new 1; echo new 2; echo new 3\"]\n",
    );
    w.ok(&p, &["up", "-d"]);
    w.wait_until(20, "the container to exit", || {
        states(&w, &p).values().all(|s| s == "exited")
    });
    let dir = container_dir(&w, &p);
    // 300 MiB of older output in two rotated files, as a chatty service leaves.
    let next = old_log(&dir.join("log.2"), 200, 0);
    let last_old = old_log(&dir.join("log.1"), 100, next) - 1;

    let t0 = Instant::now();
    let out = w.ok(&p, &["logs", "--tail", "2", "--no-log-prefix"]);
    let took = t0.elapsed();
    assert_eq!(out, "new 2\nnew 3\n");
    let out = w.ok(&p, &["logs", "--tail", "5", "--no-log-prefix"]);
    assert_eq!(
        out,
        format!(
            "old {} padding padding padding padding padding\nold {last_old} padding padding padding padding padding\nnew 1\nnew 2\nnew 3\n",
            last_old - 1
        )
    );
    // Reading all 300 MiB took seconds and held the log in memory.
    assert!(took < Duration::from_secs(3), "logs --tail 2 took {took:?}");
    let peak = children_peak_rss_kib();
    assert!(
        peak < 150 * 1024,
        "a child of this test peaked at {peak} KiB"
    );
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn a_chatty_container_log_is_bounded_by_default() {
    let w = World::new();
    // About 400 000 records of 70-odd bytes: some 29 MiB of log.
    let p = w.project(
        "chatty",
        "services:\n  a:\n    image: IMAGE\n    command: [\"sh\", \"-c\", \"yes | head -c 800000; echo done\"]\n",
    );
    w.ok(&p, &["up", "-d"]);
    w.wait_until(120, "the container to exit", || {
        states(&w, &p).values().all(|s| s == "exited")
    });
    let dir = container_dir(&w, &p);
    let log = dir.join("log");
    let size = |f: &Path| fs::metadata(f).map(|m| m.len()).unwrap_or(0);
    assert!(dir.join("log.1").exists(), "no rotation at 20 MiB");
    for f in [log.clone(), dir.join("log.1")] {
        assert!(
            size(&f) <= 20 << 20,
            "{} is {} bytes",
            f.display(),
            size(&f)
        );
    }
    assert_eq!(
        w.ok(&p, &["logs", "--tail", "1", "--no-log-prefix"]),
        "done\n"
    );
    w.ok(&p, &["down"]);
    w.assert_clean();
}
