//! Attached `up`, after the containers started: their logs and exits, and
//! stopping them on Ctrl-C (twice: killing) or on the exit that
//! `--abort-on-container-*` watches for.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::logs::{Follower, LogOptions};
use super::monitor::Monitor;
use super::stop::stop_all;
use crate::compose::Project;
use crate::container::list::find;
use crate::container::ContainerState;
use crate::progress::{Mode, Progress};
use crate::state::Layout;

/// What attached `up` does when a container exits (docker compose's `OnExit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    /// Keep going until every watched container has exited.
    Ignore,
    /// `--abort-on-container-exit`: stop everything on the first exit.
    Stop,
    /// `--abort-on-container-failure`: stop everything on the first non-zero exit.
    Fail,
}

/// How an attached `up` follows its project.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// The services named on the command line: what Ctrl-C and aborts stop
    /// (all when empty).
    pub services: Vec<String>,
    /// `-t`: the stop timeout.
    pub timeout: Option<Duration>,
    /// What a container's exit does.
    pub cascade: Cascade,
    /// The services whose output is shown.
    pub attach: Vec<String>,
    /// Output from before this is not shown (earlier runs of the containers).
    pub since: SystemTime,
    /// Plain output (no terminal, or `--no-color`).
    pub no_color: bool,
    /// `--no-log-prefix`.
    pub no_prefix: bool,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--exit-code-from`: whose exit code is returned.
    pub exit_code_from: Option<String>,
}

/// Follows `project`'s containers until they have exited or been stopped;
/// returns docker compose's exit status.
pub fn run(layout: &Layout, project: Project, o: &AttachOptions) -> Result<i32> {
    Session {
        layout: layout.clone(),
        project: Arc::new(project),
        services: o.services.clone(),
        timeout: o.timeout,
        in_flight: Arc::new(AtomicUsize::new(0)),
        stops_done: Arc::new(AtomicUsize::new(0)),
    }
    .attach(o)
}

/// Attached `up` after the containers started: their logs, their exits, and
/// stopping them on Ctrl-C or on the exit `--abort-on-container-*` watches for.
/// Cloned into the threads that stop containers in the background.
#[derive(Clone)]
struct Session {
    layout: Layout,
    project: Arc<Project>,
    /// The services named on the command line: what Ctrl-C and aborts stop.
    services: Vec<String>,
    timeout: Option<Duration>,
    /// Stops running in the background.
    in_flight: Arc<AtomicUsize>,
    /// Stops finished.
    stops_done: Arc<AtomicUsize>,
}

impl Session {
    /// Follows logs and exits until every watched container has exited or a
    /// stop has finished; returns docker compose's exit status.
    fn attach(&self, o: &AttachOptions) -> Result<i32> {
        let (cascade, attach, since) = (o.cascade, o.attach.as_slice(), o.since);
        let presses = Arc::new(AtomicU32::new(0));
        {
            let session = self.clone();
            let presses = presses.clone();
            ctrlc_handler(move || {
                if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                    session.stop(false);
                } else {
                    session.stop(true);
                }
            })?;
        }
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let log_opts = LogOptions {
            services: attach.to_vec(),
            follow: true,
            // What this `up` ran, not what earlier runs of the containers printed.
            since: Some(since),
            no_color: o.no_color,
            no_prefix: o.no_prefix,
            timestamps: o.timestamps,
            ..LogOptions::default()
        };
        let mut follower = (!attach.is_empty())
            .then(|| Follower::new(&self.layout.root, &self.project.name, &log_opts));
        if let Some(f) = follower.as_mut() {
            let names = f.names();
            if !names.is_empty() {
                println!("Attaching to {}", names.join(", "));
            }
            f.backlog(&mut out, &mut err);
        }
        // docker compose watches the services named, or else the attached ones.
        let watched = if self.services.is_empty() {
            attach.to_vec()
        } else {
            self.services.clone()
        };
        let mut monitor = Monitor::new(&self.layout.root, &self.project.name, &watched, since);
        let (mut aborting, mut exit_code, mut captured) = (false, 0, false);
        loop {
            let stopped_before = self.stops_done.load(Ordering::SeqCst) > 0;
            let events = monitor.poll();
            if let Some(f) = follower.as_mut() {
                f.rescan_due();
                f.pump(&mut out, &mut err);
            }
            for ev in &events {
                let msg = format!("exited with code {}", ev.exit_code);
                match &follower {
                    Some(f) => f.status(&mut out, &ev.id, &ev.name, &msg),
                    None => println!("{} {msg}", ev.name),
                }
                let aborts = match cascade {
                    Cascade::Ignore => false,
                    Cascade::Stop => true,
                    Cascade::Fail => ev.exit_code != 0,
                };
                if aborts && !aborting {
                    aborting = true;
                    exit_code = ev.exit_code;
                    println!("Aborting on container exit...");
                    self.clone().stop(false);
                }
                if !captured && o.exit_code_from.as_ref() == Some(&ev.service) {
                    captured = true;
                    exit_code = ev.exit_code;
                }
            }
            let busy = self.in_flight.load(Ordering::SeqCst) > 0;
            if !busy && (monitor.finished() || stopped_before) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(f) = follower.as_mut() {
            f.pump(&mut out, &mut err);
        }
        // Interrupted, docker compose (v5) exits 130 as a shell reports SIGINT.
        if presses.load(Ordering::SeqCst) > 0 {
            return Ok(130);
        }
        Ok(exit_code)
    }
}

impl Session {
    /// Stops (or, `force`, kills) the services `up` was asked for (all when
    /// none were named) from a thread of its own.
    fn stop(&self, force: bool) {
        let me = self.clone();
        me.in_flight.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            let services = &me.services;
            let containers: Vec<_> = find(&me.layout.root, Some(&me.project.name))
                .into_iter()
                .filter(|f| {
                    !f.record.oneoff
                        && if services.is_empty() {
                            me.project.services.contains_key(&f.record.service)
                        } else {
                            services.contains(&f.record.service)
                        }
                })
                .collect();
            let progress = Progress::new(Mode::Plain, "Stopping");
            let (word, timeout) = if force {
                (("Killing", "Killed"), Some(Duration::ZERO))
            } else {
                (("Stopping", "Stopped"), me.timeout)
            };
            let (running, ended): (Vec<_>, Vec<_>) = containers.into_iter().partition(|f| {
                matches!(
                    f.status.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                )
            });
            // docker compose reports the containers that had already exited as
            // stopped too: the project is stopped, whatever each one was doing.
            if !force {
                for f in &ended {
                    progress
                        .task(&format!("Container {}", f.record.name), word.0)
                        .done(word.1);
                }
            }
            let _ = stop_all(
                &me.layout,
                Some(&me.project),
                running,
                timeout,
                &progress,
                word,
            );
            me.stops_done.fetch_add(1, Ordering::SeqCst);
            me.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Runs `f` on SIGINT and SIGTERM, from a thread of its own. The handlers are
/// in place when this returns: a Ctrl-C right after never kills berth outright.
fn ctrlc_handler(f: impl Fn() + Send + 'static) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term) = {
        let _in_runtime = rt.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    std::thread::spawn(move || {
        rt.block_on(async move {
            loop {
                tokio::select! {
                    r = int.recv() => if r.is_none() { return },
                    r = term.recv() => if r.is_none() { return },
                }
                f();
            }
        })
    });
    Ok(())
}
