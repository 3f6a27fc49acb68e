//! `exec`: one more process in a service's running container, through the runtime's
//! `Container::exec` (setns into its namespaces, into its cgroups), with a pty when
//! the caller is on a terminal.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use berth_runtime::{Container, ExecConfig, Stdio};
use oci_spec::runtime::Process;

use super::terminal::{pollfd, set_nonblocking, window_size, RawMode, SignalPipe};
use crate::container::list::{find, Found};
use crate::container::record::new_id;
use crate::container::ContainerState;
use crate::events::{emit_exec, ExecStep};
use crate::state::Layout;
use crate::supervise::launch::LaunchConfig;
use crate::supervise::runtime_launcher::runtime_dir;
use crate::supervise::sys::pidfd_open;

/// `exec`'s options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `-e K=V` (or `-e K`: the value from berth's own environment).
    pub env: Vec<String>,
    /// `-u user[:group]`.
    pub user: Option<String>,
    /// `-w dir`.
    pub workdir: Option<String>,
    /// A pty (no `-T`, and stdin is a terminal).
    pub tty: bool,
    /// `-d`: start it and return.
    pub detach: bool,
    /// `--privileged`: every capability, whatever the container has.
    pub privileged: bool,
    /// Wait for the process but send its stdio to /dev/null (lifecycle hooks).
    pub discard_output: bool,
}

/// The container `exec` targets: the service's replica number `index`, or without
/// one the lowest-numbered replica, else a one-off of the service (docker compose
/// sorts one-offs last); it must be running.
pub fn running_container(
    layout: &Layout,
    project: &str,
    service: &str,
    index: Option<u32>,
) -> Result<Found> {
    let mut all: Vec<Found> = find(&layout.root, Some(project))
        .into_iter()
        .filter(|f| f.record.service == service)
        .filter(|f| index.is_none_or(|i| !f.record.oneoff && f.record.number == i))
        .collect();
    // Running ones first: a stopped replica does not hide a running one-off.
    all.sort_by_key(|f| {
        (
            f.status.state != ContainerState::Running,
            f.record.oneoff,
            f.record.number,
        )
    });
    let Some(f) = all.into_iter().next() else {
        return Err(match index {
            Some(i) => anyhow!("service {service:?} is not running container #{i}"),
            None => anyhow!("service {service:?} is not running"),
        });
    };
    match f.status.state {
        ContainerState::Running => Ok(f),
        ContainerState::Paused => bail!("container {} is paused, unpause it first", f.record.name),
        s => bail!(
            "container {} is not running (it is {}); start it with `berth start {service}`",
            f.record.name,
            s.as_str()
        ),
    }
}

/// Merges `-e` entries into the container's environment (`K=V` lines).
pub fn merge_env(base: &[String], extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for e in extra {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match std::env::var(e) {
                Ok(v) => (e.clone(), v),
                Err(_) => continue,
            },
        };
        out.retain(|l| l.split_once('=').map_or(l.as_str(), |(a, _)| a) != k);
        out.push(format!("{k}={v}"));
    }
    out
}

/// The process to exec: the container's own (env, cwd, capabilities) with the options.
fn process_for(launch: &LaunchConfig, opts: &ExecOptions) -> Result<Process> {
    let mut p = launch.spec.process().clone().unwrap_or_default();
    p.set_args(Some(opts.command.clone()));
    let env = merge_env(&p.env().clone().unwrap_or_default(), &opts.env);
    p.set_env(Some(env));
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            bail!("-w {w:?}: the working directory must be an absolute path");
        }
        p.set_cwd(PathBuf::from(w));
    }
    if opts.privileged {
        // The spec's (serde) names carry the `CAP_` prefix its `FromStr` does not take.
        let all: oci_spec::runtime::Capabilities = serde_json::from_value(serde_json::json!(
            crate::spec::defaults::all_caps().collect::<Vec<_>>()
        ))?;
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(all.clone()))
            .set_effective(Some(all.clone()))
            .set_permitted(Some(all));
        p.set_capabilities(Some(caps));
    }
    p.set_terminal(Some(opts.tty));
    p.set_console_size(None);
    if opts.tty {
        if let Some((rows, cols)) = window_size(0) {
            p.set_console_size(Some(
                oci_spec::runtime::BoxBuilder::default()
                    .height(rows as u64)
                    .width(cols as u64)
                    .build()?,
            ));
        }
    }
    Ok(p)
}

/// The container has no runtime any more (it stopped, or was killed, after its
/// status was read): there is nothing to exec in.
#[derive(Debug, thiserror::Error)]
#[error("container {name} is not running: {source}")]
pub struct NotRunning {
    /// The container's name.
    pub name: String,
    /// Why its runtime could not be loaded.
    source: berth_runtime::Error,
}

/// Runs `exec` in `found`; returns the process's exit code (0 with `detach`).
pub fn exec(found: &Found, opts: &ExecOptions) -> Result<i32> {
    if opts.command.is_empty() {
        bail!("exec needs a command to run");
    }
    let launch = LaunchConfig::load(&found.dir)?;
    let process = process_for(&launch, opts)?;
    let container = Container::load(&runtime_dir(&found.dir)).map_err(|source| NotRunning {
        name: found.record.name.clone(),
        source,
    })?;
    let stdio = if opts.detach || opts.discard_output {
        Stdio::Null
    } else {
        Stdio::Inherit
    };
    let user = opts.user.clone().or_else(|| launch.user.clone());
    let layout = Layout::of_container_dir(&found.dir);
    let exec_id = new_id();
    let event = |step| emit_exec(&layout, &found.record, step, &exec_id, &opts.command);
    event(ExecStep::Create);
    let proc = container
        .exec(ExecConfig {
            process,
            user,
            stdio,
        })
        .map_err(|e| {
            if e.is_stopped() {
                // Stopped (killed) since its status was read.
                anyhow::Error::new(NotRunning {
                    name: found.record.name.clone(),
                    source: e,
                })
            } else {
                anyhow!("exec in {}: {e}", found.record.name)
            }
        })?;
    event(ExecStep::Start);
    if opts.detach {
        return Ok(0);
    }
    if let Some(master) = &proc.pty {
        let pidfd = pidfd_open(proc.pid as u32)?;
        relay_terminal(master, &pidfd)?;
    }
    let st = proc.wait().map_err(|e| anyhow!("waiting for exec: {e}"))?;
    let code = st.as_shell_code();
    event(ExecStep::Die { exit_code: code });
    Ok(code)
}

/// Copies stdin to the pty and the pty to stdout until the process exits, with the
/// terminal raw and the window size following SIGWINCH.
fn relay_terminal(master: &OwnedFd, pidfd: &OwnedFd) -> Result<()> {
    let m = master.as_raw_fd();
    if let Some((rows, cols)) = window_size(0) {
        let _ = berth_runtime::tty::resize(m, rows, cols);
    }
    let winch = SignalPipe::install(&[libc::SIGWINCH])?;
    let _raw = RawMode::enter(0);
    let mut stdout = std::io::stdout().lock();
    let mut master_file = File::from(master.try_clone()?);
    let mut stdin_open = true;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut fds = [
            pollfd(m),
            pollfd(pidfd.as_raw_fd()),
            pollfd(winch.fd()),
            pollfd(if stdin_open { 0 } else { -1 }),
        ];
        // SAFETY: fds is a valid array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(std::io::Error::last_os_error().into());
        }
        if fds[0].revents != 0 {
            match master_file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    stdout.write_all(&buf[..k])?;
                    stdout.flush()?;
                }
            }
        }
        if fds[2].revents != 0 {
            winch.take();
            if let Some((rows, cols)) = window_size(0) {
                let _ = berth_runtime::tty::resize(m, rows, cols);
            }
        }
        if fds[3].revents != 0 {
            // SAFETY: reading stdin into our buffer.
            let k = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if k <= 0 {
                stdin_open = false;
            } else {
                master_file.write_all(&buf[..k as usize])?;
            }
        }
        if fds[1].revents != 0 {
            // The process is gone: what it wrote last is still in the pty.
            set_nonblocking(m);
            while let Ok(k) = master_file.read(&mut buf) {
                if k == 0 {
                    break;
                }
                stdout.write_all(&buf[..k])?;
            }
            stdout.flush()?;
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_by_key() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let out = merge_env(&base, &["A=2".into(), "B=x=y".into()]);
        assert_eq!(out, vec!["PATH=/bin", "A=2", "B=x=y"]);
    }
}
