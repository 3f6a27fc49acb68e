//! The healthcheck as the supervisor runs it: one probe at a time inside the
//! running container, its output kept up to docker's 4 KiB, killed when it
//! outlives its timeout, and its result turned into the container's verdict
//! ([`super::health::HealthState`]).

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::health::{clip_output, HealthConfig, HealthState, ProbeResult};
use super::launcher::{Launched, Launcher};
use super::sys::{pidfd_kill, pipe, pollfd, set_nonblocking};
use crate::container::Health;
use crate::events::{emit_exec_for_dir, ExecStep};

/// Output of a probe kept beyond which the rest is read and dropped.
const OUTPUT_CAP: usize = 4096;

/// A probe under way.
struct Probe {
    launched: Launched,
    output: File,
    collected: Vec<u8>,
    deadline: Instant,
    timed_out: bool,
    /// The exec ID its `exec_*` events carry.
    exec_id: String,
}

impl Probe {
    fn read(&mut self) {
        let mut buf = [0u8; OUTPUT_CAP];
        if let Ok(n) = self.output.read(&mut buf) {
            if self.collected.len() < OUTPUT_CAP {
                self.collected.extend_from_slice(&buf[..n]);
            }
        }
    }

    /// Reaps the probe, whose process has exited, and reads what it left.
    fn finish(mut self, launcher: &mut dyn Launcher) -> ProbeResult {
        let code = launcher.reap_probe(&self.launched).unwrap_or(-1);
        if self.timed_out {
            return ProbeResult {
                exit_code: -1,
                output: "Health check exceeded timeout".into(),
            };
        }
        if set_nonblocking(self.output.as_raw_fd()).is_ok() {
            let mut buf = [0u8; OUTPUT_CAP];
            while let Ok(n) = self.output.read(&mut buf) {
                if n == 0 || self.collected.len() >= OUTPUT_CAP {
                    break;
                }
                self.collected.extend_from_slice(&buf[..n]);
            }
        }
        ProbeResult {
            exit_code: code,
            output: clip_output(&self.collected),
        }
    }
}

/// One container's healthcheck: when the next probe is due, the one that runs,
/// and the verdict so far.
pub struct HealthMonitor {
    cfg: HealthConfig,
    state: HealthState,
    probe: Option<Probe>,
    next: Instant,
    /// The container's directory, for the probes' `exec_*` events.
    dir: PathBuf,
}

impl HealthMonitor {
    /// A healthcheck whose first probe is due one interval from now.
    pub fn new(cfg: HealthConfig, dir: PathBuf) -> HealthMonitor {
        let state = HealthState::default();
        let next = Instant::now() + state.next_delay(&cfg, Duration::ZERO);
        HealthMonitor {
            cfg,
            state,
            probe: None,
            next,
            dir,
        }
    }

    /// When the loop must look again: the running probe's timeout, or the next probe.
    pub fn deadline(&self) -> Instant {
        self.probe.as_ref().map_or(self.next, |p| p.deadline)
    }

    /// The running probe's output and exit descriptors, to poll.
    pub fn pollfds(&self) -> Option<[libc::pollfd; 2]> {
        self.probe.as_ref().map(|p| {
            [
                pollfd(p.output.as_raw_fd()),
                pollfd(p.launched.pidfd.as_raw_fd()),
            ]
        })
    }

    /// Handles the poll results of [`HealthMonitor::pollfds`]: keeps the probe's
    /// output, kills a probe past its timeout, and returns the result of one that
    /// exited.
    pub fn on_poll(
        &mut self,
        polled: [libc::pollfd; 2],
        launcher: &mut dyn Launcher,
    ) -> Option<ProbeResult> {
        let p = self.probe.as_mut()?;
        if polled[0].revents != 0 {
            p.read();
        }
        if !p.timed_out && Instant::now() >= p.deadline {
            p.timed_out = true;
            pidfd_kill(p.launched.pidfd.as_raw_fd(), libc::SIGKILL);
        }
        if polled[1].revents == 0 {
            return None;
        }
        let p = self.probe.take()?;
        let exec_id = p.exec_id.clone();
        let result = p.finish(launcher);
        let exit_code = result.exit_code;
        emit_exec_for_dir(
            &self.dir,
            ExecStep::Die { exit_code },
            &exec_id,
            &self.cfg.command,
        );
        Some(result)
    }

    /// Starts the next probe if it is due and none runs. A probe that cannot be
    /// started is a failed one: its result comes back at once.
    pub fn start_if_due(&mut self, launcher: &mut dyn Launcher) -> Option<ProbeResult> {
        if self.probe.is_some() || Instant::now() < self.next {
            return None;
        }
        let started = pipe().and_then(|(r, w)| {
            let launched = launcher.start_probe(&self.cfg.command, w)?;
            Ok(Probe {
                launched,
                output: File::from(r),
                collected: vec![],
                deadline: Instant::now() + self.cfg.timeout,
                timed_out: false,
                exec_id: crate::container::record::new_id(),
            })
        });
        match started {
            Ok(p) => {
                // Reported once the probe runs: a probe that could not start is
                // a health failure, not an exec.
                for step in [ExecStep::Create, ExecStep::Start] {
                    emit_exec_for_dir(&self.dir, step, &p.exec_id, &self.cfg.command);
                }
                self.probe = Some(p);
                None
            }
            Err(e) => Some(ProbeResult {
                exit_code: -1,
                output: e.to_string(),
            }),
        }
    }

    /// Takes a probe's result (`since_start`: how long the container has run) and
    /// schedules the next probe; returns the new verdict if it changed.
    pub fn record(&mut self, result: ProbeResult, since_start: Duration) -> Option<Health> {
        let verdict = self.state.record(&self.cfg, result, since_start);
        self.next = Instant::now() + self.state.next_delay(&self.cfg, since_start);
        verdict
    }

    /// The container's process exited: a running probe is reaped, and the next
    /// run starts over from `starting`.
    pub fn restart(&mut self, launcher: &mut dyn Launcher) {
        if let Some(p) = self.probe.take() {
            let _ = launcher.reap_probe(&p.launched);
        }
        self.state = HealthState::default();
        self.next = Instant::now() + self.state.next_delay(&self.cfg, Duration::ZERO);
    }
}
