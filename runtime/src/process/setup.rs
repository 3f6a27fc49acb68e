//! The last steps before execve, shared by a container's process and an exec'd one.
//! `prepare` runs while errors can still be reported at create time (identity, PATH
//! lookup, seccomp compile); `finalize_and_exec` makes the irreversible changes in an
//! order that matters for security, commented at each step.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxSeccomp, Process};

use crate::capabilities::{self, Sets};
use crate::error::{Error, Result};
use crate::lsm;
use crate::seccomp;
use crate::syscall::raw;
use crate::user;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything `execve` needs, computed up front.
pub struct Prepared {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    caps: Sets,
    /// The runtime's own bounding set, read once (41 prctl calls) for both the
    /// warning here and the limit at exec: nothing changes it in between.
    held: u64,
    nnp: bool,
    umask: u32,
    cwd: PathBuf,
    rlimits: Vec<(u32, u64, u64)>,
    scheduler: Option<oci_spec::runtime::Scheduler>,
    filter: Option<seccomp::Program>,
    labels: lsm::ProcessLabels,
    /// Ask for SIGKILL when the parent dies, once the identity is final (a uid
    /// change clears the request).
    pub(crate) die_with_parent: bool,
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Resolve identity, executable and environment inside the container's root.
pub fn prepare(
    process: &Process,
    user_override: Option<&str>,
    sc: Option<&LinuxSeccomp>,
) -> Result<Prepared> {
    let u = process.user();
    let (uid, gid, mut groups, home) = match user_override {
        Some(spec) => {
            let id = user::resolve(spec, &read("/etc/passwd"), &read("/etc/group"))?;
            (id.uid, id.gid, id.groups, id.home)
        }
        None => {
            let home = user::resolve(&u.uid().to_string(), &read("/etc/passwd"), "")
                .ok()
                .and_then(|i| i.home);
            (u.uid(), u.gid(), Vec::new(), home)
        }
    };
    for g in u.additional_gids().iter().flatten() {
        if !groups.contains(g) {
            groups.push(*g);
        }
    }
    // The primary group is a supplementary one too, first, as docker's processes have
    // it (runc's GetExecUser includes it): `Groups:` in /proc/self/status shows it and
    // a process keeps it across a setgid to another group.
    groups.retain(|g| *g != gid);
    groups.insert(0, gid);
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home.unwrap_or_else(|| "/".into())));
    }
    let args = process.args().clone().unwrap_or_default();
    let Some(arg0) = args.first() else {
        return Err(Error::Spec("process.args is empty".into()));
    };
    let search = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let path = lookup(arg0, search)?;
    let c = |s: &str| CString::new(s).map_err(|_| Error::Spec(format!("NUL byte in {s:?}")));
    let rlimits = process
        .rlimits()
        .iter()
        .flatten()
        .map(|r| {
            Ok((
                rlimit_number(&format!("{:?}", r.typ()))?,
                r.soft(),
                r.hard(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let caps = Sets::from_spec(process.capabilities().as_ref());
    // What cannot be granted is said, not silently dropped: the process's stderr is
    // where the caller of create looks (runc logs the ambient warning the same way).
    let dropped = caps.ambient & !caps.raisable_ambient();
    if dropped != 0 {
        warn(&format!(
            "ambient capabilities {} not raised: not in both the permitted and inheritable sets",
            capabilities::names(dropped).join(",")
        ));
    }
    let all = caps.bounding | caps.effective | caps.permitted | caps.inheritable | caps.ambient;
    let held = capabilities::bounding_now();
    let missing = all & !held;
    if missing != 0 {
        warn(&format!(
            "capabilities {} not granted: the runtime itself does not hold them",
            capabilities::names(missing).join(",")
        ));
    }
    Ok(Prepared {
        path: CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::Spec("NUL in path".into()))?,
        argv: args.iter().map(|a| c(a)).collect::<Result<_>>()?,
        envp: env.iter().map(|e| c(e)).collect::<Result<_>>()?,
        uid,
        gid,
        groups,
        caps,
        held,
        nnp: process.no_new_privileges().unwrap_or(false),
        umask: u.umask().unwrap_or(0o022),
        cwd: process.cwd().clone(),
        rlimits,
        scheduler: process.scheduler().clone(),
        filter: sc.map(seccomp::compile).transpose()?,
        labels: lsm::process_labels(process)?,
        die_with_parent: false,
    })
}

impl Prepared {
    /// The uid and gid the process will run as.
    pub fn ids(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }
}

/// The rlimits by name, as the spec spells them.
const RLIMITS: [(&str, u32); 16] = [
    ("CPU", libc::RLIMIT_CPU),
    ("FSIZE", libc::RLIMIT_FSIZE),
    ("DATA", libc::RLIMIT_DATA),
    ("STACK", libc::RLIMIT_STACK),
    ("CORE", libc::RLIMIT_CORE),
    ("RSS", libc::RLIMIT_RSS),
    ("NPROC", libc::RLIMIT_NPROC),
    ("NOFILE", libc::RLIMIT_NOFILE),
    ("MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("AS", libc::RLIMIT_AS),
    ("LOCKS", libc::RLIMIT_LOCKS),
    ("SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("NICE", libc::RLIMIT_NICE),
    ("RTPRIO", libc::RLIMIT_RTPRIO),
    ("RTTIME", libc::RLIMIT_RTTIME),
];

/// A warning on the container's stderr (the caller of create sees it).
fn warn(msg: &str) {
    let line = format!("berth-runtime: warning: {msg}\n");
    // SAFETY: writes a valid buffer to fd 2.
    unsafe { libc::write(2, line.as_ptr() as *const libc::c_void, line.len()) };
}

/// `RLIMIT_NOFILE` style name (oci-spec's Debug is `RlimitNofile`) → resource number.
fn rlimit_number(name: &str) -> Result<u32> {
    let n = name
        .to_ascii_uppercase()
        .replace("RLIMIT_", "")
        .replace("RLIMIT", "");
    RLIMITS
        .iter()
        .find(|(k, _)| *k == n)
        .map(|(_, v)| *v)
        .ok_or_else(|| Error::Spec(format!("unknown rlimit {name}")))
}

/// Find `arg0` on `search` like execvp, inside the current root.
pub fn lookup(arg0: &str, search: &str) -> Result<PathBuf> {
    let exec_ok = |p: &Path| {
        let c = raw::cstr(p).ok();
        c.is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0) && !p.is_dir()
    };
    if arg0.contains('/') {
        return if exec_ok(Path::new(arg0)) {
            Ok(arg0.into())
        } else {
            Err(Error::Spec(format!(
                "exec: {arg0:?}: no such file or not executable"
            )))
        };
    }
    for dir in search.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(arg0);
        if exec_ok(&p) {
            return Ok(p);
        }
    }
    Err(Error::Spec(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// Every signal back to its default action and none blocked. execve keeps ignored
/// signals ignored and the mask as it is, and the runtime runs inside a Rust binary,
/// which ignores SIGPIPE: without this `yes | head` in a container never ends.
fn reset_signals() {
    /// The kernel's `struct sigaction` (x86-64 and aarch64 layout).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // The raw call, not the C library's: it refuses 32 and 33, which it keeps for
    // itself, and those can be inherited ignored too.
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: a valid sigaction for the kernel to copy; no old action asked.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &default as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
    // SAFETY: sets this thread's mask from an initialised empty set.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// SIGKILL when the parent (the creator, or the runtime's pid 1) dies. Set again
/// after every identity change, which clears it (prctl(2)).
pub(crate) fn set_parent_death_signal() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    raw::check(
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) },
        "PR_SET_PDEATHSIG",
    )
    .map(|_| ())
}

/// The spec's rlimits and scheduler, for the calling process (while it still holds
/// CAP_SYS_RESOURCE and CAP_SYS_NICE: raising a hard limit or lowering the nice value
/// the caller had needs them). A runtime-kept pid 1 applies them too, before it forks.
pub fn apply_limits(p: &Prepared) -> Result<()> {
    for (res, soft, hard) in &p.rlimits {
        let l = libc::rlimit {
            rlim_cur: *soft,
            rlim_max: *hard,
        };
        if unsafe { libc::setrlimit(*res as _, &l) } < 0 {
            return Err(Error::Init(format!(
                "setrlimit {} {soft}/{hard}: {}",
                rlimit_name(*res),
                std::io::Error::last_os_error()
            )));
        }
    }
    if let Some(s) = &p.scheduler {
        super::sched::apply(s)?;
    }
    Ok(())
}

fn rlimit_name(res: u32) -> String {
    RLIMITS
        .iter()
        .find(|(_, v)| *v == res)
        .map_or_else(|| res.to_string(), |(k, _)| format!("RLIMIT_{k}"))
}

/// Makes the process's user the owner of its stdin, stdout and stderr, as runc's
/// fixStdioPermissions does: the pipes were made outside the container, by root, mode
/// 0600, and a non-root process that reopens them (nginx's `error_log /dev/stderr`,
/// `echo > /dev/stdout`) would get EACCES. /dev/null and descriptors the user already
/// owns are left alone; a descriptor that cannot be changed (an owner not mapped in a
/// user namespace, a read-only /dev) is left as it is, as runc does.
fn give_stdio_to(uid: u32) {
    // SAFETY: libc::stat is plain data: all zeroes is a valid value.
    let mut null: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a stat buffer we own.
    let null_rdev =
        (unsafe { libc::stat(c"/dev/null".as_ptr(), &mut null) } == 0).then_some(null.st_rdev);
    for fd in 0..=2 {
        // SAFETY: as above.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a descriptor number writes only into our buffer; a closed
        // descriptor fails with EBADF.
        if unsafe { libc::fstat(fd, &mut st) } < 0 {
            continue;
        }
        let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && Some(st.st_rdev) == null_rdev;
        if st.st_uid == uid || is_null {
            continue;
        }
        // SAFETY: fchown on a descriptor number; only the uid changes (gid -1). Errors
        // leave the descriptor as it was, which is what we want.
        unsafe { libc::fchown(fd, uid, u32::MAX) };
    }
}

/// Apply rlimits, identity, capabilities, seccomp; close fds; execve.
pub fn finalize_and_exec(p: &Prepared) -> Result<Infallible> {
    reset_signals();
    // While /proc and our privileges are still whole (runc's order).
    lsm::apply_on_exec(&p.labels)?;
    apply_limits(p)?;
    // Nothing outside our own bounding set can be had: asking capset(2) for it
    // fails the whole start (a `privileged` container under a runtime that lacks
    // a capability itself).
    let caps = p.caps.limited_to(p.held);
    // The bounding set can only shrink while CAP_SETPCAP is still effective.
    capabilities::drop_bounding(caps.bounding)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it now, while we
    // still have it (the profile allows the calls that follow). With no_new_privs it is
    // loaded last, as close to execve as possible (runc and youki order).
    if !p.nnp {
        if let Some(f) = &p.filter {
            seccomp::load(f)?;
        }
    }
    unsafe { libc::umask(p.umask as libc::mode_t) };
    // While still root: the process must be able to reopen its own stdio.
    give_stdio_to(p.uid);
    if unsafe { libc::syscall(libc::SYS_setgroups, p.groups.len(), p.groups.as_ptr()) } < 0 {
        return Err(Error::sys("setgroups"));
    }
    raw::check(
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) },
        "PR_SET_KEEPCAPS",
    )?;
    // Raw syscalls, not glibc's wrappers: those broadcast setxid to all threads through a
    // signal, which deadlocks after a fork from a threaded process (runwasi#347).
    if unsafe { libc::syscall(libc::SYS_setresgid, p.gid, p.gid, p.gid) } < 0 {
        return Err(Error::sys("setresgid"));
    }
    if unsafe { libc::syscall(libc::SYS_setresuid, p.uid, p.uid, p.uid) } < 0 {
        return Err(Error::sys("setresuid"));
    }
    capabilities::set(&caps)?;
    if p.die_with_parent {
        set_parent_death_signal()?;
    }
    let cwd = raw::cstr(&p.cwd).map_err(|e| Error::Path {
        op: "chdir",
        path: p.cwd.clone(),
        source: e,
    })?;
    if unsafe { libc::chdir(cwd.as_ptr()) } < 0 {
        return Err(Error::last("chdir", &p.cwd));
    }
    if p.nnp {
        raw::check(
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
            "PR_SET_NO_NEW_PRIVS",
        )?;
        if let Some(f) = &p.filter {
            seccomp::load(f)?;
        }
    }
    // No descriptor but stdio may survive execve: a leaked host directory fd lets the
    // process escape through /proc/self/fd (CVE-2024-21626).
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            4u32, /* CLOSE_RANGE_CLOEXEC */
        )
    };
    let mut argv: Vec<*const libc::c_char> = p.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = p.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    unsafe { libc::execve(p.path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(Error::last(
        "execve",
        std::ffi::OsStr::from_bytes(p.path.as_bytes()),
    ))
}
