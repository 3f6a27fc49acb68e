//! The supervisor's start protocol, both ends: the CLI starts `berth-supervisor
//! --root R --run-dir D supervise ID` (or itself with those arguments, when the
//! small binary is not installed beside it) with the write end of a pipe in
//! `BERTH_READY_FD`; the supervisor answers one line on it, `ok` once the
//! container's process runs, or the reason it could not start it. Reading one
//! line (not to EOF) keeps the CLI from waiting on anything that inherited the
//! write end.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::state::Layout;

/// The environment variable naming the ready pipe's write end.
pub const READY_ENV: &str = "BERTH_READY_FD";

/// The line that says the container's process runs.
pub const OK: &str = "ok";

/// The supervisor's own binary, installed beside `berth`: one per container
/// lives as long as the container, so it carries none of the CLI.
pub const SUPERVISOR_BIN: &str = "berth-supervisor";

/// The environment variable that tells a supervisor which `berth` started it
/// (it starts `berth dns-serve` when the DNS responder is found dead).
pub const BERTH_EXE_ENV: &str = "BERTH_EXE";

/// The program that runs a container's supervisor for the `berth` at `berth`:
/// [`SUPERVISOR_BIN`] beside it, or `berth` itself (which enters the same code
/// through its own fast path) when that is not installed.
pub fn supervisor_program(berth: &Path) -> PathBuf {
    let small = berth.with_file_name(SUPERVISOR_BIN);
    let runnable =
        std::fs::metadata(&small).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if runnable {
        small
    } else {
        berth.to_path_buf()
    }
}

/// The `berth` program, for whatever berth starts of itself (the DNS responder):
/// in a supervisor the one that started it, elsewhere this very program.
pub fn berth_program() -> std::io::Result<PathBuf> {
    match std::env::var_os(BERTH_EXE_ENV) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => std::env::current_exe(),
    }
}

/// Why a supervisor did not report a started container.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The pipe or the supervisor's log could not be made or read.
    #[error("starting the container's supervisor: {0}")]
    Io(#[from] std::io::Error),
    /// The supervisor could not be executed.
    #[error("starting the container's supervisor: {0}")]
    Spawn(std::io::Error),
    /// It exited without a word; its log says why.
    #[error("the supervisor of {id} exited before starting the container: {log}")]
    Exited {
        /// The container.
        id: String,
        /// The supervisor's log.
        log: String,
    },
    /// It reported why the container did not start.
    #[error("{0}")]
    Failed(String),
}

/// Starts the supervisor of container `id` ([`supervisor_program`], in its own
/// session) and waits for its one line on the ready pipe: `ok` once the
/// container's process runs, or why it could not start.
pub fn spawn(layout: &Layout, id: &str) -> Result<(), StartError> {
    let files = layout.container_dir(id);
    // Its run-side directory (tmpfs: gone after a reboot) holds what follows.
    files.ensure_run_dir()?;
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(StartError::Io(std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 just gave us these.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let log = File::create(files.supervisor_log())?;
    let berth = berth_program()?;
    // Its own session: a Ctrl-C or hangup of the CLI's terminal does not reach
    // it. The write end crosses exec as descriptor 3.
    let pid = super::detached::spawn(
        &supervisor_program(&berth),
        &supervisor_args(layout, id),
        super::detached::Detached {
            output: &log,
            fd3: w.as_raw_fd(),
            env: vec![
                (BERTH_EXE_ENV, berth.into()),
                (READY_ENV, "3".into()),
                // What this process detected: the supervisor does not read the
                // host's mount table again.
                (
                    berth_runtime::cgroups::detect::HIERARCHIES_ENV,
                    berth_runtime::cgroups::detect::handed_down().into(),
                ),
            ],
        },
    )
    .map_err(StartError::Spawn)?;
    drop(w);
    drop(log);
    berth_netns::fault::point("start:after-spawn");
    // One line: `ok` or the error. Reading to EOF would also wait for anything
    // that inherited the write end.
    let mut msg = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(File::from(r)), &mut msg)?;
    // The supervisor lives on by itself; reap it here only if it already exited.
    let mut status = 0;
    // SAFETY: waitpid on our own child, without blocking.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match msg.trim() {
        OK => Ok(()),
        "" => {
            let log = std::fs::read_to_string(files.supervisor_log()).unwrap_or_default();
            Err(StartError::Exited {
                id: id.to_string(),
                log: log.trim().to_string(),
            })
        }
        err => Err(StartError::Failed(err.to_string())),
    }
}

/// The command line of container `id`'s supervisor (after the program name).
pub fn supervisor_args(layout: &Layout, id: &str) -> Vec<OsString> {
    vec![
        "--root".into(),
        layout.root.clone().into(),
        "--run-dir".into(),
        layout.run.clone().into(),
        "supervise".into(),
        id.into(),
    ]
}

/// The layout and container id of a command line made by [`supervisor_args`]
/// (after the program name), so that a supervisor starts without the CLI's
/// parser: less memory in each of the processes a project keeps.
pub fn parse_supervisor_args(args: &[OsString]) -> Option<(Layout, String)> {
    match args {
        [r, root, d, run, s, id] if r == "--root" && d == "--run-dir" && s == "supervise" => {
            let id = id.to_str()?;
            let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
            valid.then(|| {
                (
                    Layout::new(root.as_ref(), Some(run.as_ref())),
                    id.to_string(),
                )
            })
        }
        _ => None,
    }
}

/// The supervisor's end: the write end it was handed, marked close-on-exec so
/// nothing it starts holds it, and taken out of the environment.
pub fn take_writer() -> Option<Ready> {
    let fd = std::env::var(READY_ENV).ok()?.parse::<i32>().ok();
    std::env::remove_var(READY_ENV);
    let fd = fd?;
    // Nothing the supervisor starts may inherit it: the CLI waits for its end.
    // SAFETY: fcntl on the descriptor we were handed.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the CLI handed us this descriptor (it crossed exec under its own
    // number) and nothing else in this process owns it.
    Some(Ready(unsafe { File::from_raw_fd(fd) }))
}

/// The write end of the ready pipe, in the supervisor.
#[derive(Debug)]
pub struct Ready(File);

impl Ready {
    /// Says the container's process runs.
    pub fn ok(mut self) {
        let _ = writeln!(self.0, "{OK}");
    }

    /// Says one line: why the container did not start, or what another supervisor reported.
    pub fn say(mut self, msg: &str) {
        let _ = writeln!(self.0, "{}", msg.trim_end().replace('\n', " "));
    }

    /// The underlying file, for the supervisor loop that answers later.
    pub fn into_file(self) -> File {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supervisor_command_line_parses_back() {
        let layout = Layout::new("/r".as_ref(), Some("/run/x".as_ref()));
        let args = supervisor_args(&layout, "abc123");
        let (l, id) = parse_supervisor_args(&args).unwrap();
        assert_eq!(
            (l.root, l.run, id.as_str()),
            (layout.root, layout.run, "abc123")
        );
        // Anything else goes to the CLI's parser.
        assert!(parse_supervisor_args(&args[..5]).is_none());
        let mut odd = args.clone();
        odd[5] = "../x".into();
        assert!(parse_supervisor_args(&odd).is_none());
    }
}
