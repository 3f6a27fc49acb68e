//! The supervisor's loop: one container, from its first start until it has exited
//! for good. It owns the container's stdout and stderr (into the log), reaps it,
//! records its status, restarts it by policy and obeys the control socket.
//!
//! Single-threaded and poll-driven, so that its memory stays small and so that it
//! may start container processes (the runtime forbids forking from threaded ones).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::attach_proto::Frame;
use super::attached::Clients;
use super::container_input::ContainerInput;
use super::control::{encode_response, parse_request, socket_path, Request, Response};
use super::health::{clip_output, HealthConfig, HealthState, ProbeResult};
use super::logfile::{LogWriter, Stream};
use super::restart::{Decision, Exit, RestartPolicy, RestartState};
use crate::container::observe::SUPERVISOR_DIED;
use crate::container::{ContainerState, Health, Status};
use crate::events::{emit_exec_for_dir, emit_for_dir, Action, ExecStep};

/// How a run of the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
}

/// A started process: its host pid and a pidfd that becomes readable when it exits.
#[derive(Debug)]
pub struct Launched {
    /// The pid on the host.
    pub pid: u32,
    /// `pidfd_open` of it.
    pub pidfd: OwnedFd,
    /// With `tty: true`, the pty master: all output comes from it, not the pipes.
    pub tty: Option<OwnedFd>,
}

/// What actually starts and signals the container's process: berth's runtime in
/// production, a plain host process in the supervisor's own tests.
pub trait Launcher {
    /// Starts the process with its stdin (None: /dev/null), stdout and stderr on the
    /// given descriptors (a terminal replaces all three).
    fn launch(
        &mut self,
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> io::Result<Launched>;
    /// Sends `signal` to the process (with `all`, to every process of the container).
    fn signal(&mut self, signal: i32, all: bool) -> io::Result<()>;
    /// Collects the exit of a process whose pidfd became readable.
    fn reap(&mut self, launched: &Launched) -> io::Result<ExitInfo>;
    /// Releases what one run held (the runtime's container state), before a restart
    /// or the end.
    fn cleanup(&mut self) -> io::Result<()>;
    /// Freezes (or thaws) every process of the container.
    fn freeze(&mut self, frozen: bool) -> io::Result<()> {
        let _ = frozen;
        Err(io::Error::other("this launcher cannot pause"))
    }
    /// Starts a healthcheck probe inside the running container, its output on `output`.
    fn start_probe(&mut self, command: &[String], output: OwnedFd) -> io::Result<Launched> {
        let _ = (command, output);
        Err(io::Error::other("this launcher cannot run healthchecks"))
    }
    /// Reaps a probe that exited (or was killed); returns its exit code.
    fn reap_probe(&mut self, probe: &Launched) -> io::Result<i32> {
        let _ = probe;
        Ok(-1)
    }
}

/// A healthcheck probe under way.
struct Probe {
    launched: Launched,
    output: File,
    collected: Vec<u8>,
    deadline: Instant,
    timed_out: bool,
    /// The exec ID its `exec_*` events carry.
    exec_id: String,
}

/// What the loop needs to know about its container.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `<root>/containers/<id>/`: status, log and socket live here.
    pub container_dir: PathBuf,
    /// The restart policy.
    pub policy: RestartPolicy,
    /// Log rotation.
    pub rotation: Option<super::logfile::Rotation>,
    /// The healthcheck, if the container has one.
    pub healthcheck: Option<HealthConfig>,
    /// `stdin_open`: the container's stdin stays open for attached clients.
    pub stdin_open: bool,
    /// Read none of the first run's output, nor its exit, until a client attaches
    /// (or [`AWAIT_ATTACH`] passes): a foreground `run` misses nothing.
    pub await_attach: bool,
    /// Work done regularly while the supervisor runs (restarting the root's DNS
    /// responder when it is found dead).
    pub tick: Option<Tick>,
    /// Started by the guard of a supervisor that died (see `supervise::guard`):
    /// a container its status says runs died with that supervisor.
    pub adopt: bool,
}

/// Something the supervisor does every `every`, first right after the first start.
#[derive(Clone)]
pub struct Tick {
    /// How often.
    pub every: Duration,
    /// What.
    pub run: std::rc::Rc<std::cell::RefCell<dyn FnMut()>>,
}

impl std::fmt::Debug for Tick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tick").field("every", &self.every).finish()
    }
}

/// How long a supervisor told to await its first client waits for it.
pub const AWAIT_ATTACH: Duration = Duration::from_secs(10);

/// Tells whoever spawned the supervisor how the first start went: `ok`, or the
/// error, on a pipe it handed over (then closed, so the reader sees EOF).
pub type ReadyPipe = Option<super::ready::Ready>;

enum Phase {
    Running {
        launched: Launched,
        started: Instant,
        kill_at: Option<Instant>,
    },
    Waiting {
        until: Instant,
    },
    Done,
}

/// Runs the container until it has exited for good; returns its last exit.
pub fn supervise(
    settings: &Settings,
    launcher: &mut dyn Launcher,
    mut ready: ReadyPipe,
) -> io::Result<Option<ExitInfo>> {
    let dir = &settings.container_dir;
    let sock = socket_path(dir);
    let _ = std::fs::remove_file(&sock);
    let (_dir, addr) = super::control::addressable(&sock)?;
    let listener = UnixListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    let _socket_guard = RemoveOnDrop(sock);
    let mut log = LogWriter::open(
        &crate::state::ContainerDir::new(dir).log(),
        settings.rotation,
    )?;
    let mut status = Status::load(dir).unwrap_or_default();
    let mut restarts = RestartState::resume(status.restart_count);
    // What the dead supervisor's run became: its container died with it (SIGKILL).
    let resumed = match status.state {
        ContainerState::Running | ContainerState::Paused if settings.adopt => {
            let now = epoch_secs(SystemTime::now());
            let ran_for =
                Duration::from_secs_f64((now - status.started_at.unwrap_or(now)).max(0.0));
            status.pid = None;
            status.exit_code = Some(SUPERVISOR_DIED);
            status.finished_at = Some(now);
            status.state = ContainerState::Exited;
            let decision = restarts.decide(
                settings.policy,
                Exit {
                    code: SUPERVISOR_DIED,
                    ran_for,
                    stopped_by_user: status.stopped_by_user,
                },
            );
            status.restart_count = restarts.count;
            emit_for_dir(
                dir,
                Action::Die {
                    exit_code: SUPERVISOR_DIED,
                    ran_for,
                },
            );
            Some(decision)
        }
        _ => None,
    };
    status.supervisor_pid = Some(std::process::id());
    status.stopped_by_user = false;
    if let Some(Decision::Stay) = resumed {
        status.health = None;
        status.save(dir).map_err(io::Error::other)?;
        return Ok(Some(ExitInfo {
            code: SUPERVISOR_DIED,
            oom_killed: false,
        }));
    }
    let mut pipes: Vec<(Stream, File)> = vec![];
    let mut waiters: Vec<UnixStream> = vec![];
    let mut clients = Clients::default();
    let mut input = ContainerInput::default();
    let mut last_exit = None;
    // With a healthcheck the container is `starting` from its first moment, so
    // nobody who learns that it started sees it without a verdict.
    if settings.healthcheck.is_some() {
        status.health = Some(Health::Starting);
    }
    let first = match resumed {
        Some(Decision::RestartAfter(delay)) => {
            status.state = ContainerState::Restarting;
            status.save(dir).map_err(io::Error::other)?;
            Ok(Phase::Waiting {
                until: Instant::now() + delay,
            })
        }
        _ => start(launcher, settings, &mut status, &mut pipes, &mut input, dir),
    };
    let mut hold_until = settings.await_attach.then(|| Instant::now() + AWAIT_ATTACH);
    if let Some(r) = ready.take() {
        match &first {
            Ok(_) => r.ok(),
            Err(e) => r.say(&e.to_string()),
        }
    }
    let mut phase = first?;
    let mut health = HealthState::default();
    let mut probe: Option<Probe> = None;
    let mut next_probe = settings
        .healthcheck
        .as_ref()
        .map(|h| Instant::now() + health.next_delay(h, Duration::ZERO));
    if settings.healthcheck.is_some() {
        status.health = Some(Health::Starting);
        status.save(dir).map_err(io::Error::other)?;
    }
    let mut next_tick = settings.tick.as_ref().map(|_| Instant::now());

    loop {
        if let (Some(t), Some(at)) = (&settings.tick, next_tick) {
            if Instant::now() >= at {
                (t.run.borrow_mut())();
                next_tick = Some(Instant::now() + t.every);
            }
        }
        if matches!(phase, Phase::Done) && pipes.is_empty() {
            break;
        }
        let now = Instant::now();
        let mut deadline = match &phase {
            Phase::Running { kill_at, .. } => *kill_at,
            Phase::Waiting { until } => Some(*until),
            Phase::Done => None,
        };
        if let Some(h) = hold_until {
            deadline = Some(deadline.map_or(h, |d| d.min(h)));
        }
        if let Some(t) = next_tick {
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        if matches!(phase, Phase::Running { .. }) {
            let probe_time = match &probe {
                Some(p) => Some(p.deadline),
                None => next_probe,
            };
            deadline = match (deadline, probe_time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let timeout_ms = deadline
            .map(|d| {
                d.saturating_duration_since(now)
                    .as_millis()
                    .min(i32::MAX as u128) as i32
            })
            .unwrap_or(-1);

        // Held for the first client: output stays in the pipes and the exit
        // unreaped (poll skips negative descriptors).
        let held = hold_until.is_some();
        let mut fds = vec![pollfd(listener.as_raw_fd())];
        fds.extend(
            pipes
                .iter()
                .map(|(_, f)| pollfd(if held { -1 } else { f.as_raw_fd() })),
        );
        let probe_at = fds.len();
        if let Some(p) = &probe {
            fds.push(pollfd(p.output.as_raw_fd()));
            fds.push(pollfd(p.launched.pidfd.as_raw_fd()));
        }
        let stdin_at = fds.len();
        fds.push(libc::pollfd {
            fd: match &input.stdin {
                Some(f) if !input.pending.is_empty() => f.as_raw_fd(),
                _ => -1,
            },
            events: libc::POLLOUT,
            revents: 0,
        });
        let clients_at = fds.len();
        // Input waits in the clients' sockets while the container's stdin is full.
        fds.extend(clients.pollfds(input.pending.len() < 64 * 1024));
        let clients_end = fds.len();
        if let Phase::Running { launched, .. } = &phase {
            fds.push(pollfd(if held { -1 } else { launched.pidfd.as_raw_fd() }));
        }
        // SAFETY: fds is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }

        // Output first, so that what a process wrote before exiting is logged before its exit.
        let mut closed = vec![];
        for (i, (stream, file)) in pipes.iter_mut().enumerate() {
            if fds[1 + i].revents != 0 {
                let mut buf = [0u8; 16 * 1024];
                match file.read(&mut buf) {
                    Ok(0) => closed.push(i),
                    Ok(n) => {
                        log.write(*stream, &buf[..n], SystemTime::now())?;
                        let attached = clients.len();
                        clients.broadcast(&output_frame(*stream, &buf[..n]));
                        report_detached(dir, attached, &clients);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                        ) => {}
                    Err(_) => closed.push(i),
                }
            }
        }
        for i in closed.into_iter().rev() {
            pipes.remove(i);
        }
        if pipes.is_empty() {
            log.flush_partial(SystemTime::now())?;
        }

        let mut inputs = vec![];
        let attached = clients.len();
        clients.service(&fds[clients_at..clients_end], &mut inputs);
        report_detached(dir, attached, &clients);
        for i in inputs {
            input.apply(i);
        }
        if fds[stdin_at].revents != 0 || !input.pending.is_empty() || input.closing {
            input.flush();
        }

        if let Some(p) = &mut probe {
            if fds[probe_at].revents != 0 {
                let mut buf = [0u8; 4096];
                if let Ok(n) = p.output.read(&mut buf) {
                    if p.collected.len() < 4096 {
                        p.collected.extend_from_slice(&buf[..n]);
                    }
                }
            }
            let now = Instant::now();
            if !p.timed_out && now >= p.deadline {
                p.timed_out = true;
                // SAFETY: pidfd_send_signal on our probe's pidfd.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        p.launched.pidfd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
            if fds[probe_at + 1].revents != 0 {
                let p = probe.take().expect("probe is there");
                let code = launcher.reap_probe(&p.launched).unwrap_or(-1);
                if let Some(cfg) = &settings.healthcheck {
                    emit_exec_for_dir(
                        dir,
                        ExecStep::Die { exit_code: code },
                        &p.exec_id,
                        &cfg.command,
                    );
                }
                let mut collected = p.collected;
                let mut out = p.output;
                set_nonblocking(out.as_raw_fd())?;
                let mut buf = [0u8; 4096];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 || collected.len() >= 4096 {
                        break;
                    }
                    collected.extend_from_slice(&buf[..n]);
                }
                let (code, output) = if p.timed_out {
                    (-1, "Health check exceeded timeout".to_string())
                } else {
                    (code, clip_output(&collected))
                };
                if let (Some(cfg), Phase::Running { started, .. }) = (&settings.healthcheck, &phase)
                {
                    let since = started.elapsed();
                    if let Some(v) = health.record(
                        cfg,
                        ProbeResult {
                            exit_code: code,
                            output,
                        },
                        since,
                    ) {
                        status.health = Some(v);
                        status.save(dir).map_err(io::Error::other)?;
                        emit_for_dir(dir, Action::HealthStatus(v));
                    }
                    next_probe = Some(Instant::now() + health.next_delay(cfg, since));
                }
            }
        }
        // A frozen container is not probed: the probe would freeze too and count as a failure.
        if probe.is_none()
            && matches!(phase, Phase::Running { .. })
            && status.state != ContainerState::Paused
        {
            if let (Some(cfg), Some(at)) = (&settings.healthcheck, next_probe) {
                if Instant::now() >= at {
                    let (r, w) = pipe()?;
                    match launcher.start_probe(&cfg.command, w) {
                        Ok(launched) => {
                            // Reported once the probe runs: a probe that could not
                            // start is a health failure, not an exec.
                            let exec_id = crate::container::record::new_id();
                            for step in [ExecStep::Create, ExecStep::Start] {
                                emit_exec_for_dir(dir, step, &exec_id, &cfg.command);
                            }
                            probe = Some(Probe {
                                exec_id,
                                launched,
                                output: File::from(r),
                                collected: vec![],
                                deadline: Instant::now() + cfg.timeout,
                                timed_out: false,
                            });
                        }
                        Err(e) => {
                            let since = match &phase {
                                Phase::Running { started, .. } => started.elapsed(),
                                _ => Duration::ZERO,
                            };
                            let res = ProbeResult {
                                exit_code: -1,
                                output: e.to_string(),
                            };
                            if let Some(v) = health.record(cfg, res, since) {
                                status.health = Some(v);
                                status.save(dir).map_err(io::Error::other)?;
                                emit_for_dir(dir, Action::HealthStatus(v));
                            }
                            next_probe = Some(Instant::now() + health.next_delay(cfg, since));
                        }
                    }
                }
            }
        }

        let exited = match &phase {
            Phase::Running { .. } => fds.last().is_some_and(|p| p.revents != 0),
            _ => false,
        };
        if exited {
            let Phase::Running {
                launched, started, ..
            } = std::mem::replace(&mut phase, Phase::Done)
            else {
                unreachable!("checked above")
            };
            // Whatever the process left in the pipes belongs before its exit.
            drain(&mut pipes, &mut log, &mut clients)?;
            input = ContainerInput::default();
            if let Some(p) = probe.take() {
                let _ = launcher.reap_probe(&p.launched);
            }
            let info = launcher.reap(&launched)?;
            launcher.cleanup()?;
            last_exit = Some(info);
            status.pid = None;
            status.exit_code = Some(info.code);
            status.oom_killed = info.oom_killed;
            status.finished_at = Some(epoch_secs(SystemTime::now()));
            let decision = restarts.decide(
                settings.policy,
                Exit {
                    code: info.code,
                    ran_for: started.elapsed(),
                    stopped_by_user: status.stopped_by_user,
                },
            );
            status.restart_count = restarts.count;
            if let Some(cfg) = &settings.healthcheck {
                health = HealthState::default();
                status.health = Some(Health::Starting);
                next_probe = Some(Instant::now() + health.next_delay(cfg, Duration::ZERO));
            }
            phase = match decision {
                Decision::RestartAfter(delay) => {
                    status.state = ContainerState::Restarting;
                    Phase::Waiting {
                        until: Instant::now() + delay,
                    }
                }
                Decision::Stay => {
                    status.state = ContainerState::Exited;
                    Phase::Done
                }
            };
            status.save(dir).map_err(io::Error::other)?;
            if info.oom_killed {
                emit_for_dir(dir, Action::Oom);
            }
            let ran_for = started.elapsed();
            emit_for_dir(
                dir,
                Action::Die {
                    exit_code: info.code,
                    ran_for,
                },
            );
            // Attached clients end with the process, as docker's attach does.
            clients.finish(info.code);
            if matches!(phase, Phase::Done) {
                // Waiters are `stop` requests: docker reports `stop` after the `die`.
                if !waiters.is_empty() {
                    emit_for_dir(dir, Action::Stop);
                }
                answer(&mut waiters, &Response::Ok);
            }
        }

        if fds[0].revents != 0 {
            while let Ok((conn, _)) = listener.accept() {
                handle(
                    conn,
                    &mut phase,
                    &mut status,
                    launcher,
                    &mut waiters,
                    &mut clients,
                    dir,
                )?;
            }
            // A client, or a stop, ends the wait for the first client.
            if !clients.is_empty() || !waiters.is_empty() || status.stopped_by_user {
                hold_until = None;
            }
        }
        if hold_until.is_some_and(|h| h <= Instant::now()) {
            hold_until = None;
        }

        let now = Instant::now();
        match &mut phase {
            Phase::Running { kill_at, .. } if kill_at.is_some_and(|k| k <= now) => {
                *kill_at = None;
                let _ = launcher.signal(libc::SIGKILL, true);
                emit_for_dir(
                    dir,
                    Action::Kill {
                        signal: libc::SIGKILL,
                    },
                );
            }
            Phase::Waiting { until } if *until <= now => {
                phase = start(launcher, settings, &mut status, &mut pipes, &mut input, dir)?;
            }
            _ => {}
        }
    }
    answer(&mut waiters, &Response::Ok);
    Ok(last_exit)
}

/// docker's `detach` for each client that went away (hung up, or too slow to
/// read) while the container runs on; clients let go at its exit are not detaching.
fn report_detached(dir: &Path, before: usize, clients: &Clients) {
    for _ in clients.len()..before {
        emit_for_dir(dir, Action::Detach);
    }
}

fn start(
    launcher: &mut dyn Launcher,
    settings: &Settings,
    status: &mut Status,
    pipes: &mut Vec<(Stream, File)>,
    input: &mut ContainerInput,
    dir: &Path,
) -> io::Result<Phase> {
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin_r, stdin_w) = match settings.stdin_open {
        true => {
            let (r, w) = pipe()?;
            set_nonblocking(w.as_raw_fd())?;
            (Some(r), Some(File::from(w)))
        }
        false => (None, None),
    };
    *input = ContainerInput::default();
    match launcher.launch(stdin_r, out_w, err_w) {
        Ok(mut launched) => {
            match launched.tty.take() {
                Some(master) => {
                    // The master is read here and written from the clients' input:
                    // neither may block the loop.
                    set_nonblocking(master.as_raw_fd())?;
                    let term = File::from(master.try_clone()?);
                    if settings.stdin_open {
                        input.stdin = Some(term.try_clone()?);
                    }
                    input.terminal = Some(term);
                    pipes.push((Stream::Stdout, File::from(master)));
                }
                None => {
                    input.stdin = stdin_w;
                    pipes.push((Stream::Stdout, File::from(out_r)));
                    pipes.push((Stream::Stderr, File::from(err_r)));
                }
            }
            status.state = ContainerState::Running;
            status.pid = Some(launched.pid);
            status.started_at = Some(epoch_secs(SystemTime::now()));
            status.error = None;
            status.save(dir).map_err(io::Error::other)?;
            emit_for_dir(dir, Action::Start);
            Ok(Phase::Running {
                launched,
                started: Instant::now(),
                kill_at: None,
            })
        }
        Err(e) => {
            status.state = ContainerState::Dead;
            status.pid = None;
            status.error = Some(e.to_string());
            status.save(dir).map_err(io::Error::other)?;
            Err(e)
        }
    }
}

fn handle(
    conn: UnixStream,
    phase: &mut Phase,
    status: &mut Status,
    launcher: &mut dyn Launcher,
    waiters: &mut Vec<UnixStream>,
    clients: &mut Clients,
    dir: &Path,
) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() {
        return Ok(());
    }
    let reply = |mut c: &UnixStream, r: Response| {
        let _ = c.write_all(&encode_response(&r));
    };
    let req = match parse_request(&line) {
        Ok(r) => r,
        Err(e) => {
            reply(&conn, Response::Error(format!("bad request: {e}")));
            return Ok(());
        }
    };
    // Signals wait in a frozen cgroup: stop and kill thaw it first, as docker does.
    if matches!(req, Request::Stop { .. } | Request::Kill { .. })
        && status.state == ContainerState::Paused
    {
        if let Err(e) = launcher.freeze(false) {
            tracing::debug!("thaw before signal: {e}");
        }
        status.state = ContainerState::Running;
        status.save(dir).map_err(io::Error::other)?;
    }
    match req {
        Request::Ping => reply(&conn, Response::Ok),
        Request::Pause | Request::Unpause => {
            let frozen = req == Request::Pause;
            let r = match phase {
                Phase::Running { .. } => match launcher.freeze(frozen) {
                    Ok(()) => {
                        status.state = if frozen {
                            ContainerState::Paused
                        } else {
                            ContainerState::Running
                        };
                        status.save(dir).map_err(io::Error::other)?;
                        Response::Ok
                    }
                    Err(e) => Response::Error(e.to_string()),
                },
                _ => Response::Error("container is not running".into()),
            };
            reply(&conn, r);
        }
        Request::Stop { signal, timeout_ms } => {
            status.stopped_by_user = true;
            status.save(dir).map_err(io::Error::other)?;
            match phase {
                Phase::Running { kill_at, .. } => {
                    if let Err(e) = launcher.signal(signal, false) {
                        tracing::debug!("stop signal: {e}");
                    }
                    emit_for_dir(dir, Action::Kill { signal });
                    let at = Instant::now() + Duration::from_millis(timeout_ms);
                    *kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
                    waiters.push(conn);
                }
                Phase::Waiting { .. } => {
                    status.state = ContainerState::Exited;
                    status.save(dir).map_err(io::Error::other)?;
                    *phase = Phase::Done;
                    reply(&conn, Response::Ok);
                }
                Phase::Done => reply(&conn, Response::Ok),
            }
        }
        Request::Kill { signal } => {
            if matches!(signal, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
                status.stopped_by_user = true;
                status.save(dir).map_err(io::Error::other)?;
            }
            let r = match phase {
                Phase::Running { .. } => match launcher.signal(signal, true) {
                    Ok(()) => {
                        emit_for_dir(dir, Action::Kill { signal });
                        Response::Ok
                    }
                    Err(e) => Response::Error(e.to_string()),
                },
                _ => Response::Error("container is not running".into()),
            };
            reply(&conn, r);
        }
        Request::Attach { stdin } => match phase {
            Phase::Running { .. } => {
                clients.add(conn, stdin)?;
                emit_for_dir(dir, Action::Attach);
            }
            _ => reply(&conn, Response::Error("container is not running".into())),
        },
        Request::Start => reply(
            &conn,
            match phase {
                Phase::Running { .. } => Response::Ok,
                _ => Response::Error(
                    "container is stopping; start it again when it has exited".into(),
                ),
            },
        ),
    }
    Ok(())
}

fn answer(waiters: &mut Vec<UnixStream>, resp: &Response) {
    for mut w in waiters.drain(..) {
        let _ = w.write_all(&encode_response(resp));
    }
}

fn drain(
    pipes: &mut [(Stream, File)],
    log: &mut LogWriter,
    clients: &mut Clients,
) -> io::Result<()> {
    for (stream, file) in pipes.iter_mut() {
        set_nonblocking(file.as_fd().as_raw_fd())?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    log.write(*stream, &buf[..n], SystemTime::now())?;
                    clients.broadcast(&output_frame(*stream, &buf[..n]));
                }
                Err(_) => break,
            }
        }
    }
    Ok(())
}

fn output_frame(stream: Stream, bytes: &[u8]) -> Frame {
    match stream {
        Stream::Stdout => Frame::Stdout(bytes.to_vec()),
        Stream::Stderr => Frame::Stderr(bytes.to_vec()),
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two descriptors to us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pidfd_open(2)`: a descriptor that becomes readable when `pid` exits.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::control::call;
    use super::super::logfile::read_all;
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// Runs `sh -c SCRIPT` on the host: the supervisor's logic without a container.
    struct Shell {
        script: String,
        child: Option<Child>,
        launches: u32,
        probes: Vec<Child>,
    }

    impl Shell {
        fn new(script: &str) -> Shell {
            Shell {
                script: script.into(),
                child: None,
                launches: 0,
                probes: vec![],
            }
        }
    }

    impl Launcher for Shell {
        fn launch(
            &mut self,
            stdin: Option<OwnedFd>,
            stdout: OwnedFd,
            stderr: OwnedFd,
        ) -> io::Result<Launched> {
            self.launches += 1;
            let child = Command::new("/bin/sh")
                .arg("-c")
                .arg(&self.script)
                .env("RUN", self.launches.to_string())
                .stdin(stdin.map_or(Stdio::null(), Stdio::from))
                .stdout(Stdio::from(stdout))
                .stderr(Stdio::from(stderr))
                .spawn()?;
            let pid = child.id();
            self.child = Some(child);
            Ok(Launched {
                pid,
                pidfd: pidfd_open(pid)?,
                tty: None,
            })
        }

        fn signal(&mut self, signal: i32, _all: bool) -> io::Result<()> {
            if let Some(c) = &self.child {
                // SAFETY: kill with a pid of our own unreaped child.
                unsafe { libc::kill(c.id() as i32, signal) };
            }
            Ok(())
        }

        fn reap(&mut self, _: &Launched) -> io::Result<ExitInfo> {
            use std::os::unix::process::ExitStatusExt;
            let st = self.child.take().expect("launched").wait()?;
            let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            Ok(ExitInfo {
                code,
                oom_killed: false,
            })
        }

        fn cleanup(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn start_probe(&mut self, command: &[String], output: OwnedFd) -> io::Result<Launched> {
            let err = output.try_clone()?;
            let child = Command::new(&command[0])
                .args(&command[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::from(output))
                .stderr(Stdio::from(err))
                .spawn()?;
            let pid = child.id();
            self.probes.push(child);
            Ok(Launched {
                pid,
                pidfd: pidfd_open(pid)?,
                tty: None,
            })
        }

        fn reap_probe(&mut self, probe: &Launched) -> io::Result<i32> {
            let i = self
                .probes
                .iter()
                .position(|c| c.id() == probe.pid)
                .expect("our probe");
            let mut c = self.probes.swap_remove(i);
            Ok(c.wait()?.code().unwrap_or(-1))
        }
    }

    fn settings(dir: &Path, policy: RestartPolicy) -> Settings {
        Settings {
            tick: None,
            adopt: false,
            container_dir: dir.to_path_buf(),
            policy,
            rotation: None,
            healthcheck: None,
            stdin_open: false,
            await_attach: false,
        }
    }

    /// Reads frames from an attach stream until the exit frame; returns the
    /// output and the code.
    fn read_to_exit(stream: &mut UnixStream) -> (String, i32) {
        use super::super::attach_proto::Decoder;
        let mut d = Decoder::default();
        let mut out = String::new();
        let mut buf = [0u8; 4096];
        loop {
            while let Some(f) = d.next_frame().unwrap() {
                match f {
                    Frame::Stdout(b) | Frame::Stderr(b) => {
                        out.push_str(&String::from_utf8_lossy(&b))
                    }
                    Frame::Exit(c) => return (out, c),
                    other => panic!("unexpected {other:?}"),
                }
            }
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "stream ended without an exit frame: {out:?}");
            d.push(&buf[..n]);
        }
    }

    fn wait_for_socket(sock: &Path) {
        let started = Instant::now();
        while call(sock, &Request::Ping, Duration::from_secs(1)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "supervisor never listened"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_attached_client_feeds_stdin_and_sees_output_and_the_exit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let handle = std::thread::spawn(move || {
            let mut sh = Shell::new("cat; echo done >&2; exit 4");
            let mut s = settings(&path, RestartPolicy::No);
            s.stdin_open = true;
            supervise(&s, &mut sh, None).unwrap()
        });
        let sock = socket_path(dir.path());
        wait_for_socket(&sock);
        let mut a = super::super::control::attach(&sock, true).unwrap();
        // A second client only watches.
        let mut b = super::super::control::attach(&sock, false).unwrap();
        a.write_all(&Frame::Stdin(b"typed\n".to_vec()).encode())
            .unwrap();
        a.write_all(&Frame::CloseStdin.encode()).unwrap();
        let (out, code) = read_to_exit(&mut a);
        assert_eq!((out.as_str(), code), ("typed\ndone\n", 4));
        assert_eq!(read_to_exit(&mut b), ("typed\ndone\n".into(), 4));
        assert_eq!(handle.join().unwrap().unwrap().code, 4);
        let logs: Vec<_> = read_all(&dir.path().join("log"))
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs.len(), 2, "{logs:?}");
    }

    #[test]
    fn a_client_hanging_up_leaves_the_container_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let handle = std::thread::spawn(move || {
            let mut sh = Shell::new("while read l; do echo got $l; done");
            let mut s = settings(&path, RestartPolicy::No);
            s.stdin_open = true;
            supervise(&s, &mut sh, None).unwrap()
        });
        let sock = socket_path(dir.path());
        wait_for_socket(&sock);
        let a = super::super::control::attach(&sock, true).unwrap();
        drop(a);
        let mut b = super::super::control::attach(&sock, true).unwrap();
        b.write_all(&Frame::Stdin(b"one\n".to_vec()).encode())
            .unwrap();
        b.write_all(&Frame::CloseStdin.encode()).unwrap();
        assert_eq!(read_to_exit(&mut b), ("got one\n".into(), 0));
        handle.join().unwrap().unwrap();
    }

    #[test]
    fn awaiting_the_first_client_loses_no_output_and_no_exit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let handle = std::thread::spawn(move || {
            let mut sh = Shell::new("echo early; exit 6");
            let mut s = settings(&path, RestartPolicy::No);
            s.await_attach = true;
            supervise(&s, &mut sh, None).unwrap()
        });
        let sock = socket_path(dir.path());
        wait_for_socket(&sock);
        // The script has finished (a zombie nobody reaps yet): held, not lost.
        let pid = Status::load(dir.path()).unwrap().pid.unwrap();
        let t0 = Instant::now();
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        {
            assert!(t0.elapsed() < Duration::from_secs(10), "script never ended");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut a = super::super::control::attach(&sock, false).unwrap();
        assert_eq!(read_to_exit(&mut a), ("early\n".into(), 6));
        assert_eq!(handle.join().unwrap().unwrap().code, 6);
    }

    #[test]
    fn logs_output_and_records_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut sh = Shell::new("echo out; echo err >&2; exit 3");
        let exit = supervise(&settings(dir.path(), RestartPolicy::No), &mut sh, None).unwrap();
        assert_eq!(exit.unwrap().code, 3);
        let st = Status::load(dir.path()).unwrap();
        assert_eq!((st.state, st.exit_code), (ContainerState::Exited, Some(3)));
        let mut lines: Vec<_> = read_all(&dir.path().join("log"))
            .unwrap()
            .into_iter()
            .map(|e| (e.stream, e.log))
            .collect();
        lines.sort_by_key(|(s, _)| *s as u8);
        assert_eq!(
            lines,
            vec![
                (Stream::Stdout, "out\n".into()),
                (Stream::Stderr, "err\n".into())
            ]
        );
        assert!(!socket_path(dir.path()).exists(), "socket left behind");
    }

    #[test]
    fn on_failure_restarts_until_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut sh = Shell::new("echo run $RUN; exit 1");
        let policy = RestartPolicy::OnFailure { max_retries: 2 };
        supervise(&settings(dir.path(), policy), &mut sh, None).unwrap();
        assert_eq!(sh.launches, 3);
        let st = Status::load(dir.path()).unwrap();
        assert_eq!(st.restart_count, 2);
        let logs: Vec<_> = read_all(&dir.path().join("log"))
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs, vec!["run 1\n", "run 2\n", "run 3\n"]);
    }

    #[test]
    fn stop_signals_then_kills_after_the_grace_period_and_suspends_always() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        // The script ignores SIGTERM, as a careless pid 1 does.
        let handle = std::thread::spawn(move || {
            let mut sh = Shell::new("trap '' TERM; echo ready; while :; do sleep 0.05; done");
            let exit = supervise(&settings(&path, RestartPolicy::Always), &mut sh, None).unwrap();
            (exit, sh.launches)
        });
        let sock = socket_path(dir.path());
        // Wait for the supervisor to be up and the script to be running.
        let started = Instant::now();
        while call(&sock, &Request::Ping, Duration::from_secs(1)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "supervisor never listened"
            );
            std::thread::yield_now();
        }
        let t0 = Instant::now();
        let r = call(
            &sock,
            &Request::Stop {
                signal: libc::SIGTERM,
                timeout_ms: 300,
            },
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r, Response::Ok);
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let (exit, launches) = handle.join().unwrap();
        assert_eq!(exit.unwrap().code, 128 + libc::SIGKILL);
        assert_eq!(launches, 1, "a stopped container must not restart");
        let st = Status::load(dir.path()).unwrap();
        assert!(st.stopped_by_user);
        assert_eq!(st.state, ContainerState::Exited);
    }

    #[test]
    fn healthchecks_turn_healthy_when_the_probe_passes() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("flag");
        let path = dir.path().to_path_buf();
        let flag2 = flag.clone();
        let handle = std::thread::spawn(move || {
            let mut sh = Shell::new("trap 'exit 0' TERM; while :; do sleep 0.05; done");
            let mut s = settings(&path, RestartPolicy::No);
            s.healthcheck = Some(HealthConfig {
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!("echo probing; test -e {}", flag2.display()),
                ],
                interval: Duration::from_millis(50),
                timeout: Duration::from_secs(5),
                retries: 2,
                start_period: Duration::ZERO,
                start_interval: Duration::from_millis(50),
            });
            supervise(&s, &mut sh, None).unwrap()
        });
        let sock = socket_path(dir.path());
        let wait_for = |want: Health| {
            let t0 = Instant::now();
            loop {
                if Status::load(dir.path()).unwrap().health == Some(want) {
                    return;
                }
                assert!(t0.elapsed() < Duration::from_secs(20), "never {want:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_for(Health::Unhealthy);
        std::fs::write(&flag, b"").unwrap();
        wait_for(Health::Healthy);
        call(
            &sock,
            &Request::Stop {
                signal: libc::SIGTERM,
                timeout_ms: 5000,
            },
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(handle.join().unwrap().unwrap().code, 0);
    }
}
