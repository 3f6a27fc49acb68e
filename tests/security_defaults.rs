//! What a container starts from is docker's, never the caller's: sysctls of its own
//! network namespace, /etc files on top of the user's mounts, groups, the working
//! directory, the terminal, rlimits, nice and oom_score_adj, its own cgroup at
//! /sys/fs/cgroup, and docker's seccomp profile with the i386 ABI (as root).

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;

use common::World;

/// `exec -T SERVICE sh -c SCRIPT`, asserting success; returns stdout.
fn sh(w: &World, p: &Path, service: &str, script: &str) -> String {
    w.ok(p, &["exec", "-T", service, "sh", "-c", script])
}

/// Waits until `service`'s logs contain `what`; returns the logs.
fn logs_with(w: &World, p: &Path, service: &str, what: &str) -> String {
    let mut logs = String::new();
    w.wait_until(20, what, || {
        logs = w.ok(p, &["logs", "--no-log-prefix", service]);
        logs.contains(what)
    });
    logs
}

#[test]
fn own_network_namespace_lets_non_root_bind_port_80() {
    let w = World::new();
    let p = w.project(
        "sysctl",
        r#"
services:
  web:
    image: IMAGE
    user: "65534:65534"
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
  none:
    image: IMAGE
    user: "65534:65534"
    network_mode: none
    command: ["sleep", "3600"]
  own:
    image: IMAGE
    network_mode: none
    sysctls:
      net.ipv4.ip_unprivileged_port_start: "1024"
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    // A non-root httpd bound port 80 and serves.
    let mut body = String::new();
    w.wait_until(20, "the non-root httpd on port 80", || {
        let out = w.berth_in(
            &p,
            &[
                "exec",
                "-T",
                "web",
                "wget",
                "-q",
                "-O-",
                "http://127.0.0.1:80/passwd",
            ],
        );
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        body.contains("nobody")
    });
    let read =
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range";
    assert_eq!(sh(&w, &p, "none", read), "0\n0\t2147483647\n");
    // The service's own value wins.
    assert!(sh(&w, &p, "own", read).starts_with("1024\n"));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn etc_files_stay_visible_under_a_volume_at_etc_and_groups_include_the_primary_gid() {
    let w = World::new();
    let p = w.project(
        "etcvol",
        r#"
services:
  web:
    image: IMAGE
    hostname: probe
    command: ["sleep", "3600"]
    volumes: ["conf:/etc"]
  nobody:
    image: IMAGE
    user: "65534:65534"
    command: ["sleep", "3600"]
volumes:
  conf: {}
"#,
    );
    w.ok(&p, &["up", "-d"]);
    assert_eq!(sh(&w, &p, "web", "cat /etc/hostname"), "probe\n");
    assert!(sh(&w, &p, "web", "cat /etc/hosts").contains("probe"));
    // The volume is there too (copied up from the image's /etc).
    assert!(sh(&w, &p, "web", "cat /etc/passwd").contains("nobody"));
    let groups = |svc: &str| {
        sh(
            &w,
            &p,
            svc,
            "grep '^Groups:' /proc/self/status; grep '^Groups:' /proc/1/status",
        )
    };
    assert_eq!(groups("web"), "Groups:\t0 \nGroups:\t0 \n");
    assert_eq!(groups("nobody"), "Groups:\t65534 \nGroups:\t65534 \n");
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

#[test]
fn a_missing_working_dir_is_made_inside_the_root() {
    let w = World::new();
    let p = w.project(
        "workdir",
        r#"
services:
  web:
    image: IMAGE
    user: "65534:65534"
    working_dir: /srv/app/sub
    command: ["sh", "-c", "pwd; stat -c '%u:%g %a' /srv/app /srv/app/sub; sleep 3600"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let logs = logs_with(&w, &p, "web", "755");
    assert_eq!(logs, "/srv/app/sub\n0:0 755\n0:0 755\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_terminal_belongs_to_the_containers_user() {
    let w = World::new();
    let p = w.project(
        "ttyuser",
        r#"
services:
  web:
    image: IMAGE
    tty: true
    user: "65534:65534"
    command:
      - sh
      - -c
      - 'stat -c "%n %u %a" "$(tty)" /dev/console /dev/tty; echo x > /dev/tty && echo tty-writable; sleep 3600'
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let logs = logs_with(&w, &p, "web", "tty-writable");
    let lines: Vec<&str> = logs.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(
        lines[0].starts_with("/dev/pts/") && lines[0].ends_with(" 65534 620"),
        "{logs:?}"
    );
    assert_eq!(lines[1], "/dev/console 65534 620", "{logs:?}");
    assert_eq!(lines[2], "/dev/tty 0 666", "{logs:?}");
    // An exec on a terminal gets its own pty, owned by the exec's user too.
    let (mut child, mut mf) =
        common::pty::berth_on_pty(&w, &p, &["exec", "-u", "65534", "web", "sh"]);
    let mut seen = String::new();
    std::io::Write::write_all(&mut mf, b"echo owner=$(stat -c %u $(tty))=\n").unwrap();
    common::pty::read_until(&mut mf, &mut seen, "owner=65534=", 20);
    std::io::Write::write_all(&mut mf, b"exit 0\n").unwrap();
    let status = common::pty::wait_draining(&mut child, &mut mf, &mut seen);
    assert_eq!(status.code(), Some(0), "{seen:?}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// `berth ARGS` as a shell under `ulimit -Sn 512`, `nice -n 7` and oom_score_adj 500
/// would run it. (Only the soft limit: lowering the hard one is for good on a host
/// that withholds CAP_SYS_RESOURCE even from root, as this VM does; docker's daemon
/// could not raise it either.)
fn constrained(w: &World, p: &Path, args: &[&str]) -> String {
    let mut cmd = w.berth_command(p, args);
    // SAFETY: only async-signal-safe calls (setrlimit, setpriority, open/write/close).
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
            l.rlim_cur = 512;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) < 0
                || libc::setpriority(libc::PRIO_PROCESS, 0, 7) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"500".as_ptr() as *const libc::c_void, 3) != 3 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn limits_nice_and_oom_score_are_dockers_not_the_callers() {
    let w = World::new();
    let p = w.project(
        "limits",
        r#"
services:
  web:
    image: IMAGE
    command: ["sleep", "3600"]
  init:
    image: IMAGE
    init: true
    ulimits:
      nproc: 4096
    command: ["sleep", "3600"]
"#,
    );
    constrained(&w, &p, &["up", "-d"]);
    // nofile, oom_score_adj, nice of pid 1 and of an exec run from the same shell.
    let probe = "for p in 1 self; do \
        grep 'Max open files' /proc/$p/limits | awk '{print $4, $5}'; \
        cat /proc/$p/oom_score_adj; \
        awk '{print $19}' /proc/$p/stat; done; ulimit -u";
    // docker's values (nofile 1048576 capped at fs.nr_open, nproc unlimited), or the
    // hard limit where that cannot be raised: never the caller's soft 512.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    let can_raise = u64::from_str_radix(caps.trim(), 16).unwrap() & (1 << 24) != 0;
    let hard = |res| {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct we own.
        unsafe { libc::getrlimit(res, &mut l) };
        l.rlim_max
    };
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (mut nofile, mut nproc) = (nr_open.min(1 << 20), libc::RLIM_INFINITY);
    if !can_raise {
        nofile = nofile.min(hard(libc::RLIMIT_NOFILE));
        nproc = nproc.min(hard(libc::RLIMIT_NPROC));
    }
    assert_ne!(nofile, 512);
    let nproc = if nproc == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        nproc.to_string()
    };
    for (svc, nproc) in [("web", nproc.as_str()), ("init", "4096")] {
        let out = constrained(&w, &p, &["exec", "-T", svc, "sh", "-c", probe]);
        assert_eq!(
            out,
            format!("{nofile} {nofile}\n0\n0\n{nofile} {nofile}\n0\n0\n{nproc}\n"),
            "{svc}"
        );
    }
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn each_container_sees_its_own_cgroup_with_its_limits() {
    let w = World::new();
    let p = w.project(
        "cgview",
        r#"
services:
  limited:
    image: IMAGE
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 100
    command: ["sleep", "3600"]
  other:
    image: IMAGE
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let hier = berth_runtime::cgroups::hierarchies();
    let v2_only = matches!(hier, [only] if only.version == 2);
    if v2_only {
        let got = sh(
            &w,
            &p,
            "limited",
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max",
        );
        assert_eq!(got, "67108864\n50000 100000\n100\n");
    } else {
        let got = sh(
            &w,
            &p,
            "limited",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
             /sys/fs/cgroup/pids/pids.max",
        );
        assert_eq!(got, "67108864\n50000\n100\n");
    }
    // The container's own processes are there; no other container's cgroup is.
    let depth = if v2_only { 1 } else { 2 };
    let procs = sh(
        &w,
        &p,
        "other",
        &format!(
            "for f in $(find /sys/fs/cgroup -name cgroup.procs); do cat $f; done | sort -u; \
             find /sys/fs/cgroup -mindepth {depth} -type d | wc -l"
        ),
    );
    let lines: Vec<&str> = procs.lines().collect();
    assert_eq!(lines.last(), Some(&"0"), "sub-cgroups visible: {procs}");
    assert!(
        lines.contains(&"1"),
        "the container's pid 1 is in its cgroup: {procs}"
    );
    // Read-only, like docker's.
    let out = w.berth_in(
        &p,
        &[
            "exec",
            "-T",
            "limited",
            "sh",
            "-c",
            "mkdir /sys/fs/cgroup/pids/x || mkdir /sys/fs/cgroup/x",
        ],
    );
    assert!(!out.status.success());
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// A static i386 program, assembled here: write(1, "hello from i386\n") and exit(0)
/// through `int 0x80`, the 32-bit ABI with its own system call numbers.
fn hello32() -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const CODE: u32 = 52 + 32;
    let msg = b"hello from i386\n";
    let code = |msg_at: u32| {
        let mut c = vec![0xb8];
        c.extend(4u32.to_le_bytes()); // mov eax, 4 (write)
        c.push(0xbb);
        c.extend(1u32.to_le_bytes()); // mov ebx, 1
        c.push(0xb9);
        c.extend(msg_at.to_le_bytes()); // mov ecx, msg
        c.push(0xba);
        c.extend((msg.len() as u32).to_le_bytes()); // mov edx, len
        c.extend([0xcd, 0x80]); // int 0x80
        c.push(0xb8);
        c.extend(1u32.to_le_bytes()); // mov eax, 1 (exit)
        c.extend([0x31, 0xdb, 0xcd, 0x80]); // xor ebx, ebx; int 0x80
        c
    };
    let len = code(0).len() as u32;
    let text = code(BASE + CODE + len);
    let total = CODE + len + msg.len() as u32;
    let mut elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    for h in [2u16, 3] {
        elf.extend(h.to_le_bytes()); // ET_EXEC, EM_386
    }
    for w in [1u32, BASE + CODE, 52, 0, 0] {
        elf.extend(w.to_le_bytes()); // version, entry, phoff, shoff, flags
    }
    for h in [52u16, 32, 1, 0, 0, 0] {
        elf.extend(h.to_le_bytes()); // ehsize, phentsize, phnum, sh*
    }
    for w in [1u32, 0, BASE, BASE, total, total, 5, 0x1000] {
        elf.extend(w.to_le_bytes()); // PT_LOAD, R+X
    }
    elf.extend(text);
    elf.extend(msg);
    elf
}

#[test]
fn dockers_seccomp_profile_runs_32_bit_programs_and_reads_the_clock() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let p = w.project(
        "abi32",
        r#"
services:
  web:
    image: IMAGE
    user: "65534:65534"
    volumes: ["./probe:/probe:ro"]
    command: ["sleep", "3600"]
"#,
    );
    let probe = p.join("probe");
    std::fs::create_dir_all(&probe).unwrap();
    std::fs::write(probe.join("hello32"), hello32()).unwrap();
    std::fs::set_permissions(
        probe.join("hello32"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The host runs it (a kernel without IA32 emulation could not: nothing to test).
    let host = std::process::Command::new(probe.join("hello32"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&host.stdout), "hello from i386\n");
    w.ok(&p, &["up", "-d"]);
    assert_eq!(sh(&w, &p, "web", "/probe/hello32"), "hello from i386\n");
    // adjtimex(&tx) with modes 0 only reads the clock: allowed, as in docker.
    let out = sh(&w, &p, "web", "adjtimex");
    assert!(out.contains("status:"), "{out}");
    // What docker refuses stays refused: namespaces, mounts, hostnames.
    for refused in ["unshare -U true", "hostname other"] {
        let out = w.berth_in(&p, &["exec", "-T", "-u", "0", "web", "sh", "-c", refused]);
        assert!(!out.status.success(), "{refused} succeeded");
    }
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
