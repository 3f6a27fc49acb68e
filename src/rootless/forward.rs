//! The host-side agent: a process left outside the user namespace when a command
//! joins it, so that the command can still (re)start the network helper, which must bind its
//! ports in the host's network namespace. A joined process can never go back.
//! (pasta or slirp4netns: see `net_helper`.)
//!
//! `spawn` forks it while the command is still single-threaded, before joining;
//! the command then asks it, one line of JSON at a time, to have the helper carry
//! a set of ports (when the helper is first needed, and at the end with the
//! ports its state now publishes) or to stop it (when the holder goes away); the
//! agent reconciles the helper and answers each with an error text (empty when
//! all went well). It exits when the command closes its end: a command that
//! dies leaves the agent an end of file, and it exits doing nothing more.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::net_helper;
use super::pasta::Forward;
use super::RootlessError;

/// What the command asks of the agent.
#[derive(Debug, Serialize, Deserialize)]
enum Ask {
    /// Carry exactly these ports.
    Ports(Vec<Forward>),
    /// The holder is going away: stop the helper.
    Stop,
}

/// The command's end of the agent.
#[derive(Debug)]
pub struct Agent {
    /// Closed when dropped: the agent then exits.
    to: Option<File>,
    from: File,
    pid: libc::pid_t,
}

fn pipe() -> Result<(File, File), RootlessError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own; O_CLOEXEC keeps them out
    // of every process the command or the agent starts (supervisors, the helper).
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(RootlessError::Sys {
            op: "pipe for the port agent".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: both descriptors are fresh and owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((File::from(r), File::from(w)))
}

/// Forks the agent for the holder `holder_pid`. Must be called while the
/// process is single-threaded (the child runs Rust code after fork).
pub fn spawn(run: &Path, holder_pid: i32) -> Result<Agent, RootlessError> {
    let (ask_r, ask_w) = pipe()?;
    let (ans_r, ans_w) = pipe()?;
    // SAFETY: the caller is single-threaded, so the child inherits no lock held
    // by another thread; it leaves with _exit, running no destructor of ours.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(RootlessError::Sys {
            op: "fork of the port agent".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        drop(ask_w);
        drop(ans_r);
        agent(run, holder_pid, ask_r, ans_w);
        // SAFETY: leaves the child without unwinding into the parent's code.
        unsafe { libc::_exit(0) };
    }
    drop(ask_r);
    drop(ans_w);
    Ok(Agent {
        to: Some(ask_w),
        from: ans_r,
        pid,
    })
}

fn agent(run: &Path, holder_pid: i32, ask: File, mut answer: File) {
    // Not killed with the command's terminal: the helper must be started whole.
    // SAFETY: setsid only detaches this process from the session.
    unsafe { libc::setsid() };
    let mut asks = BufReader::new(ask);
    let mut line = String::new();
    loop {
        line.clear();
        if !matches!(asks.read_line(&mut line), Ok(n) if n > 0) {
            return;
        }
        let (res, last) = match serde_json::from_str::<Ask>(&line) {
            Ok(Ask::Ports(p)) => (net_helper::reconcile(run, holder_pid, &p), false),
            Ok(Ask::Stop) => {
                net_helper::stop(run);
                (Ok(()), true)
            }
            Err(e) => (Err(format!("port agent: {e}")), true),
        };
        let text = serde_json::to_string(&res.err().unwrap_or_default()).unwrap_or_default();
        if writeln!(answer, "{text}").is_err() || last {
            return;
        }
    }
}

impl Agent {
    fn ask(&mut self, ask: &Ask) -> Result<(), String> {
        let msg = serde_json::to_string(ask).map_err(|e| e.to_string())?;
        let to = self.to.as_mut().ok_or("port agent: closed")?;
        writeln!(to, "{msg}").map_err(|e| format!("port agent: {e}"))?;
        let mut line = String::new();
        BufReader::new(&self.from)
            .read_line(&mut line)
            .map_err(|e| format!("port agent: {e}"))?;
        let answer: String = serde_json::from_str(line.trim())
            .map_err(|_| "port agent: it exited without answering".to_string())?;
        if answer.is_empty() {
            Ok(())
        } else {
            Err(answer)
        }
    }

    /// Has the helper carry `ports` (started when none runs).
    pub fn ports(&mut self, ports: Vec<Forward>) -> Result<(), String> {
        self.ask(&Ask::Ports(ports))
    }

    /// Stops the helper (the holder is going away).
    pub fn stop(&mut self) {
        let _ = self.ask(&Ask::Stop);
    }
}

impl Drop for Agent {
    /// Closes the command's end (the agent exits) and reaps it.
    fn drop(&mut self) {
        drop(self.to.take());
        // SAFETY: reaps our own child; a null status pointer is allowed.
        unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
    }
}

/// The ports the state publishes: every container's recorded ports.
pub fn published(layout: &crate::state::Layout) -> Vec<Forward> {
    crate::container::list::find(&layout.root, None)
        .into_iter()
        .flat_map(|f| f.record.ports)
        .map(|p| Forward {
            proto: p.protocol,
            host_ip: p
                .host_ip
                .parse::<std::net::IpAddr>()
                .ok()
                .filter(|ip| !ip.is_unspecified()),
            port: p.host_port,
        })
        .collect()
}
