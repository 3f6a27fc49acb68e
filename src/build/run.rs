//! RUN: the command in a container on berth's runtime, over the step's root
//! (the layers below as overlay lowers, a fresh upper that becomes the layer),
//! with docker's default capabilities, seccomp profile and masked paths.
//! Output is streamed line by line; Ctrl-C kills the container at once.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_runtime::{Container, ContainerConfig, Rootfs, Stdio};

use super::cancel::Cancel;
use super::sandbox::Scratch;
use crate::spec::{build_spec, MountSpec, NamespaceMode, RunConfig};

/// The network a RUN gets (`RUN --network=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The host's network, with its resolvers (BuildKit's default without CNI).
    #[default]
    Default,
    /// A network namespace with only loopback.
    None,
    /// The host's network.
    Host,
}

impl Network {
    /// Parses `--network=` values.
    pub fn parse(s: &str) -> Option<Network> {
        match s {
            "default" => Some(Network::Default),
            "none" => Some(Network::None),
            "host" => Some(Network::Host),
            _ => None,
        }
    }
}

/// What a RUN executes and how.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// argv.
    pub args: Vec<String>,
    /// `KEY=value`: ENV, then ARGs in scope not shadowed by ENV.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// USER, resolved by the runtime in the root's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// The network.
    pub network: Network,
    /// `--mount=` mounts (cache and bind as binds, tmpfs).
    pub mounts: Vec<MountSpec>,
    /// What the whole build asks of every RUN (compose's `build:` keys).
    pub defaults: RunDefaults,
}

/// What a build request asks of all its RUN steps: compose's `build.network`,
/// `extra_hosts`, `shm_size`, `ulimits` and `privileged`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunDefaults {
    /// The network of a RUN without `--network=`.
    pub network: Network,
    /// Extra `/etc/hosts` lines: (name, address).
    pub extra_hosts: Vec<(String, String)>,
    /// `/dev/shm` size in bytes.
    pub shm_size: Option<u64>,
    /// rlimits: name (`nofile`) -> (soft, hard).
    pub ulimits: indexmap::IndexMap<String, (u64, u64)>,
    /// Every RUN with all capabilities and no seccomp filter (the user opted in).
    pub privileged: bool,
}

/// Why a RUN could not run (not: it ran and failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The runtime refused (bad user, missing binary, …).
    #[error("{0}")]
    Runtime(String),
    /// I/O around the container.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Ctrl-C.
    #[error("build cancelled")]
    Cancelled,
}

fn io_op(op: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Io { op, source }
}

/// Runs `spec` over `lowers` (top first) with `scratch`'s upper; each output line
/// goes to `line`. Returns the exit code.
pub fn run(
    scratch: &Scratch,
    lowers: &[PathBuf],
    spec: &RunSpec,
    cancel: &Cancel,
    line: &mut dyn FnMut(&str),
) -> Result<i32, RunError> {
    let id = scratch
        .dir
        .file_name()
        .map(|n| format!("build-{}", n.to_string_lossy()))
        .unwrap_or_else(|| "build".into());
    let mut etc_files = vec![];
    let hosts = scratch.dir.join("hosts");
    let mut hosts_text = String::from(
        "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    for (name, addr) in &spec.defaults.extra_hosts {
        hosts_text.push_str(&format!("{addr}\t{name}\n"));
    }
    fs::write(&hosts, hosts_text).map_err(io_op("writing /etc/hosts"))?;
    etc_files.push((hosts, "/etc/hosts".to_string()));
    if spec.network != Network::None {
        let resolv = scratch.dir.join("resolv.conf");
        fs::copy("/etc/resolv.conf", &resolv).map_err(io_op("copying the host's resolv.conf"))?;
        etc_files.push((resolv, "/etc/resolv.conf".to_string()));
    }
    let rc = RunConfig {
        args: spec.args.clone(),
        env: spec.env.clone(),
        cwd: spec.cwd.clone(),
        hostname: "buildkitsandbox".into(),
        net: match spec.network {
            Network::None => NamespaceMode::Private,
            Network::Default | Network::Host => NamespaceMode::Host,
        },
        cgroup_path: format!("berth/{id}"),
        etc_files,
        mounts: spec.mounts.clone(),
        privileged: spec.defaults.privileged,
        seccomp_unconfined: spec.defaults.privileged,
        shm_size: spec.defaults.shm_size,
        ulimits: spec.defaults.ulimits.clone(),
        ..RunConfig::default()
    };
    let oci = build_spec(&rc).map_err(|e| RunError::Runtime(e.to_string()))?;
    let targets: Vec<String> = oci
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    let (out_r, out_w) = super::sandbox::pipe().map_err(io_op("pipe"))?;
    let stdin: OwnedFd = fs::File::open("/dev/null")
        .map_err(io_op("open /dev/null"))?
        .into();
    let stdout: OwnedFd = out_w.into();
    let stderr = stdout.try_clone().map_err(io_op("dup"))?;
    let container = Container::run(ContainerConfig {
        id: id.clone(),
        state_dir: scratch.dir.join("runtime"),
        spec: oci,
        rootfs: Rootfs::Overlay {
            lowers: scratch.lowers(lowers),
            upper: scratch.upper(),
            work: scratch.work(),
        },
        stdio: Stdio::Fds {
            stdin,
            stdout,
            stderr,
        },
        init: false,
        // The build waits on the step in the thread that made it, and kills it on
        // Ctrl-C itself; a parent-death signal would fire on that thread's exit.
        die_with_parent: false,
        user: spec.user.clone(),
        bundle: None,
    })
    .map_err(|e| RunError::Runtime(e.to_string()))?;
    let res = follow(&container, out_r.into(), cancel, line);
    let status = if res.is_ok() {
        container.wait().ok()
    } else {
        None
    };
    let _ = container.delete();
    res?;
    remove_mount_points(scratch, lowers, &targets);
    Ok(status.map(|s| s.as_shell_code()).unwrap_or(-1))
}

/// Streams output until the container's init exits (then kills the rest, as BuildKit
/// does, and drains what they wrote), or until the build is cancelled.
fn follow(
    c: &Container,
    out: OwnedFd,
    cancel: &Cancel,
    line: &mut dyn FnMut(&str),
) -> Result<(), RunError> {
    let pidfd = crate::supervise::sys::pidfd_open(c.pid() as u32).map_err(io_op("pidfd_open"))?;
    // SAFETY: fcntl on a descriptor we own, to read without blocking.
    unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut pending: Vec<u8> = vec![];
    let mut buf = vec![0u8; 64 * 1024];
    let mut exited = false;
    let mut eof = false;
    let mut emit = |pending: &mut Vec<u8>, all: bool| {
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let l: Vec<u8> = pending.drain(..=i).collect();
            line(String::from_utf8_lossy(&l[..l.len() - 1]).trim_end_matches('\r'));
        }
        if all && !pending.is_empty() {
            line(&String::from_utf8_lossy(pending));
            pending.clear();
        }
    };
    while !eof {
        let mut fds = [
            libc::pollfd {
                fd: out.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if exited { -1 } else { pidfd.as_raw_fd() },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: cancel.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of three pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io_op("poll")(e));
        }
        if fds[2].revents != 0 {
            let _ = c.kill(libc::SIGKILL, true);
            return Err(RunError::Cancelled);
        }
        if fds[0].revents != 0 {
            loop {
                // SAFETY: read into our buffer of the length we pass.
                let r = unsafe { libc::read(out.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if r > 0 {
                    pending.extend_from_slice(&buf[..r as usize]);
                    emit(&mut pending, false);
                    continue;
                }
                if r == 0 {
                    eof = true;
                }
                break;
            }
        }
        if !exited && fds[1].revents != 0 {
            exited = true;
            // Whatever the command left running (daemons holding the output open)
            // dies with it, so the output ends.
            let _ = c.kill(libc::SIGKILL, true);
        }
    }
    emit(&mut pending, true);
    Ok(())
}

/// Removes the mount points the runtime had to create in the upper dir (an
/// /etc/hosts to bind over, /proc in an image without one): they are not the
/// command's changes. Only empty files and directories absent from every lower.
fn remove_mount_points(scratch: &Scratch, lowers: &[PathBuf], targets: &[String]) {
    let upper = scratch.upper();
    let in_lowers = |rel: &Path| {
        lowers
            .iter()
            .any(|l| fs::symlink_metadata(l.join(rel)).is_ok())
    };
    for t in targets {
        let rel = Path::new(t.trim_start_matches('/'));
        let mut p = rel.to_path_buf();
        loop {
            if p.as_os_str().is_empty() || in_lowers(&p) {
                break;
            }
            let full = upper.join(&p);
            match fs::symlink_metadata(&full) {
                Ok(m) if m.is_file() && m.len() == 0 => {
                    let _ = fs::remove_file(&full);
                }
                Ok(m) if m.is_dir() => {
                    if fs::remove_dir(&full).is_err() {
                        break;
                    }
                }
                _ => break,
            }
            if !p.pop() {
                break;
            }
        }
    }
}
