//! `events`: the project's container events as they happen, printed as docker
//! compose prints them, until Ctrl-C (or `--until`).

use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use clap::Args;

use super::context::Ctx;
use crate::engine::logs::time_flag;
use crate::events::follow::{Follower, Start};
use crate::events::format::{compose_json, compose_text, is_oneoff, local_offset, service};
use crate::events::EventRecord;

/// `events`' flags.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Which events to print.
struct Filter {
    services: Vec<String>,
    since: Option<SystemTime>,
}

impl Filter {
    fn wants(&self, ev: &EventRecord) -> bool {
        !is_oneoff(ev)
            && (self.services.is_empty() || self.services.iter().any(|s| s == service(ev)))
            && self.since.is_none_or(|s| ev.time() >= s)
    }
}

/// SIGINT and SIGTERM, taken as a readable descriptor instead of killing us, so
/// that Ctrl-C ends the stream with exit code 0.
struct StopSignals {
    fd: OwnedFd,
}

impl StopSignals {
    fn take() -> io::Result<StopSignals> {
        // SAFETY: sigset operations on a local, zeroed set; sigprocmask and
        // signalfd only read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(StopSignals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }
}

/// Waits until the journal or a signal wakes us, or `timeout_ms` (-1: forever)
/// passes; returns whether a stop signal arrived.
fn wait(follower: &Follower, signals: &StopSignals, timeout_ms: i32) -> io::Result<bool> {
    let mut fds = [
        libc::pollfd {
            fd: follower.wake_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: fds is a valid array of two pollfds.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(fds[1].revents != 0)
}

/// Runs `events`.
pub fn run_events(ctx: &Ctx, a: &EventsArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    if let Some(p) = &project {
        super::context::check_services(p, &a.services)?;
    }
    let now = SystemTime::now();
    let time = |s: &Option<String>, what: &str| time_flag(s.as_deref(), what, now);
    let since = time(&a.since, "since")?;
    let until = time(&a.until, "until")?;
    let filter = Filter {
        services: a.services.clone(),
        since,
    };
    let signals = StopSignals::take().context("taking SIGINT and SIGTERM")?;
    // Like docker's daemon: either bound replays what the journal still holds.
    let start = if since.is_some() || until.is_some() {
        Start::Beginning
    } else {
        Start::Now
    };
    let journal = ctx.layout.events_journal(&name);
    let mut follower = Follower::open(&journal, start)?;
    let mut out = io::stdout().lock();
    loop {
        for ev in follower.read_new() {
            if until.is_some_and(|u| ev.time() > u) {
                return Ok(());
            }
            if !filter.wants(&ev) {
                continue;
            }
            let offset = local_offset(ev.time());
            let text = if a.json {
                compose_json(&ev, offset)
            } else {
                compose_text(&ev, offset)
            };
            // Whoever reads our output went away (`| head`): the stream is over.
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
        let timeout_ms = match until {
            None => -1,
            Some(u) => match u.duration_since(SystemTime::now()) {
                Ok(left) => left.as_millis().clamp(1, i32::MAX as u128) as i32,
                Err(_) => return Ok(()),
            },
        };
        if wait(&follower, &signals, timeout_ms)? {
            return Ok(());
        }
    }
}
