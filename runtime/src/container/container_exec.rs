//! exec: an extra process in a running container, in all its namespaces and cgroups.

use std::os::fd::OwnedFd;

use oci_spec::runtime::{Process, Spec};

use super::container_wait::wait_pidfd;
use super::state::Status;
use super::{Container, ExitStatus};
use crate::error::{Error, Result};
use crate::process::message::{ExecRequest, FromInit, ToInit};
use crate::process::spawn::{self, Stdio};
use crate::syscall::raw;

/// What to exec.
#[derive(Debug)]
pub struct ExecConfig {
    /// The process (args, env, cwd, user, capabilities, terminal).
    pub process: Process,
    /// `user[:group]` resolved in the container's /etc/passwd.
    pub user: Option<String>,
    /// Its stdio (ignored with `process.terminal`).
    pub stdio: Stdio,
}

/// A process started by `Container::exec`; the caller is its parent.
#[derive(Debug)]
pub struct ExecProcess {
    /// Host pid.
    pub pid: i32,
    pidfd: OwnedFd,
    /// The pty master when `process.terminal` was set.
    pub pty: Option<OwnedFd>,
}

impl ExecProcess {
    /// Wait for it and reap it.
    pub fn wait(&self) -> Result<ExitStatus> {
        let (code, signal) = wait_pidfd(&self.pidfd)?.unwrap_or((None, None));
        Ok(ExitStatus {
            code,
            signal,
            oom_killed: false,
        })
    }

    /// Signal it through its pidfd.
    pub fn kill(&self, sig: i32) -> Result<()> {
        raw::pidfd_send_signal(&self.pidfd, sig).map_err(|e| Error::Sys {
            op: "pidfd_send_signal",
            source: e,
        })
    }
}

impl Container {
    /// Start `cfg.process` inside the running container. Returns once execve succeeded.
    pub fn exec(&self, cfg: ExecConfig) -> Result<ExecProcess> {
        let s = self.status();
        if s != Status::Running && s != Status::Created {
            return Err(Error::State {
                id: self.state.id.clone(),
                status: s.to_string(),
                op: "exec",
            });
        }
        let spec: Option<Spec> = self.saved_spec();
        let seccomp = spec
            .as_ref()
            .and_then(|s| s.linux().as_ref())
            .and_then(|l| l.seccomp().clone());
        let req = ExecRequest {
            pid: self.state.pid,
            start_time: self.state.start_time,
            cgroup_procs: Vec::new(),
            process: cfg.process,
            user: cfg.user,
            seccomp,
        };
        let (chan, mut helper) = spawn::spawn(cfg.stdio, None)?;
        if let Err(e) = helper.attach(&self.state.cgroups.procs_files()) {
            drop(chan);
            let _ = helper.wait();
            return Err(e);
        }
        chan.send(&ToInit::Exec(Box::new(req)))?;
        // Pid comes from the helper, the rest from its child: they may arrive in any
        // order; EOF (execve done, helper gone) always comes last.
        let mut p: Option<ExecProcess> = None;
        let mut pty = None;
        let mut failed = None;
        loop {
            match chan.recv::<FromInit>()? {
                Some((FromInit::Pid(pid, _), _)) => {
                    let pidfd = raw::pidfd_open(pid).map_err(|e| Error::Sys {
                        op: "pidfd_open",
                        source: e,
                    })?;
                    p = Some(ExecProcess {
                        pid,
                        pidfd,
                        pty: None,
                    });
                }
                Some((FromInit::Pty, fd)) => pty = fd,
                Some((FromInit::Ready(_) | FromInit::Hooks, _)) => {}
                Some((FromInit::Error(e), _)) => failed = Some(e),
                None => break,
            }
        }
        let _ = helper.wait();
        // The init ended while the helper was entering it (setns finds no
        // process): the container stopped, which callers tell from a failure.
        let failure = |e: String| {
            if self.exited() {
                Error::State {
                    id: self.state.id.clone(),
                    status: Status::Stopped.to_string(),
                    op: "exec",
                }
            } else {
                Error::Init(e)
            }
        };
        let Some(mut p) = p else {
            return Err(failure(
                failed.unwrap_or_else(|| "runtime helper exited without a pid".into()),
            ));
        };
        if let Some(e) = failed {
            let _ = p.wait();
            return Err(failure(e));
        }
        p.pty = pty;
        Ok(p)
    }
}
