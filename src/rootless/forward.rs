//! The host-side agent: a process left outside the user namespace when a command
//! joins it, so that the command can still (re)start the network helper, which must bind its
//! ports in the host's network namespace. A joined process can never go back.
//! (pasta or slirp4netns: see `net_helper`.)
//!
//! `spawn` forks it while the command is still single-threaded, before joining;
//! at the end the command sends the ports its state publishes (or "stop" when
//! the holder goes away), the agent reconciles the helper and answers with an error
//! text (empty when all went well), then exits. A command that dies before
//! saying anything leaves the agent an end of file: it exits doing nothing.

use std::fs::File;
use std::io::{Read, Write};
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
    to: File,
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
        to: ask_w,
        from: ans_r,
        pid,
    })
}

fn agent(run: &Path, holder_pid: i32, mut ask: File, mut answer: File) {
    // Not killed with the command's terminal: the helper must be started whole.
    // SAFETY: setsid only detaches this process from the session.
    unsafe { libc::setsid() };
    let mut buf = Vec::new();
    if ask.read_to_end(&mut buf).is_err() || buf.is_empty() {
        return;
    }
    let res = match serde_json::from_slice::<Ask>(&buf) {
        Ok(Ask::Ports(p)) => net_helper::reconcile(run, holder_pid, &p),
        Ok(Ask::Stop) => {
            net_helper::stop(run);
            Ok(())
        }
        Err(e) => Err(format!("port agent: {e}")),
    };
    let _ = answer.write_all(res.err().unwrap_or_default().as_bytes());
}

impl Agent {
    fn ask(mut self, ask: &Ask) -> Result<(), String> {
        let msg = serde_json::to_vec(ask).map_err(|e| e.to_string())?;
        let sent = self.to.write_all(&msg);
        drop(self.to);
        let mut answer = String::new();
        let _ = self.from.read_to_string(&mut answer);
        // SAFETY: reaps our own child; a null status pointer is allowed.
        unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
        sent.map_err(|e| format!("port agent: {e}"))?;
        if answer.is_empty() {
            Ok(())
        } else {
            Err(answer)
        }
    }

    /// Has the helper carry `ports`.
    pub fn ports(self, ports: Vec<Forward>) -> Result<(), String> {
        self.ask(&Ask::Ports(ports))
    }

    /// Stops the helper (the holder is going away).
    pub fn stop(self) {
        let _ = self.ask(&Ask::Stop);
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
