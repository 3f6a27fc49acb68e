//! Runs inside a test container and reports what it sees as JSON (like youki's
//! runtimetest). std only, so the tests can build it with a bare `rustc` and
//! `-C target-feature=+crt-static`: it needs no library inside the image.
//!
//! Modes: `report` (default), `alloc MIB`, `forks N`, `zombies`.

use std::fmt::Write as _;
use std::fs;

fn esc(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn status_field(name: &str) -> String {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn read(p: &str) -> String {
    fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_else(|e| format!("error: {e}"))
}

fn pids() -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_dir("/proc")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn zombies() -> usize {
    pids()
        .iter()
        .filter(|p| {
            let s = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            s.rfind(')').map(|i| s[i + 2..].starts_with('Z')).unwrap_or(false)
        })
        .count()
}

fn list(v: &[String]) -> String {
    v.iter().map(|s| format!("\"{}\"", esc(s))).collect::<Vec<_>>().join(",")
}

fn report() {
    let mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect();
    let hostname = read("/proc/sys/kernel/hostname");
    let mem = if fs::metadata("/sys/fs/cgroup/memory/memory.limit_in_bytes").is_ok() {
        read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    } else {
        read("/sys/fs/cgroup/memory.max")
    };
    let pids_max = if fs::metadata("/sys/fs/cgroup/pids/pids.max").is_ok() {
        read("/sys/fs/cgroup/pids/pids.max")
    } else {
        read("/sys/fs/cgroup/pids.max")
    };
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let keys = fs::read_to_string("/proc/keys").map(|s| s.len().to_string()).unwrap_or_else(|e| format!("error: {e}"));
    let firmware = fs::read_dir("/sys/firmware").map(|d| d.count().to_string()).unwrap_or_else(|e| format!("error: {e}"));
    let pidlist: Vec<String> = pids().iter().map(|p| p.to_string()).collect();
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let fds: Vec<String> = fs::read_dir("/proc/self/fd")
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string())).collect())
        .unwrap_or_default();
    println!(
        "{{\"pid\":{},\"ppid\":{},\"hostname\":\"{}\",\"uid\":\"{}\",\"gid\":\"{}\",\"groups\":\"{}\",\
\"cap_eff\":\"{}\",\"cap_bnd\":\"{}\",\"cap_prm\":\"{}\",\"seccomp\":\"{}\",\"no_new_privs\":\"{}\",\
\"mounts\":[{}],\"memory_limit\":\"{}\",\"pids_max\":\"{}\",\"cwd\":\"{}\",\"keys\":\"{}\",\"firmware\":\"{}\",\
\"pids\":[{}],\"env\":[{}],\"fds\":[{}],\"umask\":\"{}\",\"cgroup\":\"{}\"}}",
        std::process::id(),
        std::os::unix::process::parent_id(),
        esc(&hostname),
        esc(&status_field("Uid")),
        esc(&status_field("Gid")),
        esc(&status_field("Groups")),
        status_field("CapEff"),
        status_field("CapBnd"),
        status_field("CapPrm"),
        status_field("Seccomp"),
        status_field("NoNewPrivs"),
        list(&mounts),
        esc(&mem),
        esc(&pids_max),
        esc(&cwd),
        esc(&keys),
        esc(&firmware),
        pidlist.join(","),
        list(&env),
        list(&fds),
        status_field("Umask"),
        esc(&read("/proc/self/cgroup")),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("report") {
        "report" => report(),
        "alloc" => {
            let mib: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
            let mut keep = Vec::new();
            for _ in 0..mib {
                let mut v = vec![0u8; 1 << 20];
                for i in (0..v.len()).step_by(4096) {
                    v[i] = 1;
                }
                keep.push(v);
            }
            println!("{{\"allocated\":{}}}", keep.len());
        }
        "forks" => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
            let mut ok = 0;
            let mut children = Vec::new();
            for _ in 0..n {
                match std::process::Command::new("/bin/sleep").arg("2").spawn() {
                    Ok(c) => {
                        ok += 1;
                        children.push(c);
                    }
                    Err(_) => {}
                }
            }
            for mut c in children {
                let _ = c.kill();
                let _ = c.wait();
            }
            println!("{{\"forked\":{ok}}}");
        }
        "zombies" => println!("{{\"zombies\":{}}}", zombies()),
        m => {
            eprintln!("unknown mode {m}");
            std::process::exit(2);
        }
    }
}
