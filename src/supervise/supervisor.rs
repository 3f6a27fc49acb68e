//! The supervisor: one container, from its first start until it has exited for
//! good. It owns the container's stdout and stderr ([`super::output`]), reaps it,
//! records its status, restarts it by policy ([`super::restart`]), runs its
//! healthcheck ([`super::probe`]), carries attached clients ([`super::attached`])
//! and obeys the control socket ([`super::requests`]).
//!
//! Single-threaded and poll-driven, so that its memory stays small and so that it
//! may start container processes (the runtime forbids forking from threaded ones).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::attached::Clients;
use super::container_input::ContainerInput;
use super::control::{socket_path, Response};
use super::health::HealthConfig;
use super::launcher::{ExitInfo, Launched, Launcher};
use super::logfile::Stream;
use super::output::Output;
use super::probe::HealthMonitor;
use super::restart::{Decision, Exit, RestartPolicy, RestartState};
use super::sys::{epoch_secs, pipe, pollfd, set_nonblocking};
use crate::container::observe::SUPERVISOR_DIED;
use crate::container::{ContainerState, Health, Status};
use crate::events::{emit_for_dir, Action};

/// What the supervisor needs to know about its container.
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
    /// A check the supervisor repeats while it runs, whenever the descriptor the
    /// last check returned fires (restarting the root's DNS responder when it is
    /// found dead).
    pub tick: Option<Tick>,
    /// Started by the guard of a supervisor that died (see `supervise::guard`):
    /// a container its status says runs died with that supervisor.
    pub adopt: bool,
}

/// A check the supervisor makes right after the first start and again whenever
/// the descriptor it returned becomes readable (the DNS responder's pidfd: it
/// died). An idle supervisor so sleeps in poll until something happens: fifty of
/// them cost no CPU. A check that has nothing to wait on (no responder known yet)
/// is made again after `every`.
#[derive(Clone)]
pub struct Tick {
    /// When to check again if the last check returned no descriptor.
    pub every: Duration,
    /// The check; returns what to wait on before the next one.
    pub run: std::rc::Rc<std::cell::RefCell<dyn FnMut() -> Option<OwnedFd>>>,
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

/// Where the container's process is in its life.
pub(super) enum Phase {
    /// It runs; `kill_at` is when a `stop` turns into SIGKILL.
    Running {
        launched: Launched,
        started: Instant,
        kill_at: Option<Instant>,
    },
    /// It exited and restarts at `until` (the policy's back-off).
    Waiting { until: Instant },
    /// It exited for good.
    Done,
}

/// Runs the container until it has exited for good; returns its last exit.
pub fn supervise(
    settings: &Settings,
    launcher: &mut dyn Launcher,
    ready: ReadyPipe,
) -> io::Result<Option<ExitInfo>> {
    let sock = socket_path(&settings.container_dir);
    let _ = std::fs::remove_file(&sock);
    let (_dir, addr) = super::control::addressable(&sock)?;
    let listener = UnixListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    let _socket_guard = RemoveOnDrop(sock);
    Supervisor::new(settings, launcher, listener)?.run(ready)
}

/// One container's supervisor: its state between two turns of the loop.
pub(super) struct Supervisor<'a> {
    pub(super) settings: &'a Settings,
    pub(super) launcher: &'a mut dyn Launcher,
    pub(super) dir: PathBuf,
    listener: UnixListener,
    pub(super) status: Status,
    restarts: RestartState,
    pub(super) phase: Phase,
    output: Output,
    pub(super) clients: Clients,
    input: ContainerInput,
    /// `stop` requests, answered once the process has exited.
    pub(super) waiters: Vec<UnixStream>,
    health: Option<HealthMonitor>,
    /// Output and exit are held for the first client until then.
    hold_until: Option<Instant>,
    next_tick: Option<Instant>,
    /// Readable when the tick is due again (see [`Tick`]).
    tick_fd: Option<OwnedFd>,
    last_exit: Option<ExitInfo>,
}

/// The descriptors of one poll, and which is which.
struct PollSet {
    fds: Vec<libc::pollfd>,
    outputs: std::ops::Range<usize>,
    probe: Option<usize>,
    stdin: usize,
    clients: std::ops::Range<usize>,
    exit: Option<usize>,
    tick: Option<usize>,
}

/// The control socket is always the first descriptor polled.
const LISTENER: usize = 0;

impl<'a> Supervisor<'a> {
    fn new(
        settings: &'a Settings,
        launcher: &'a mut dyn Launcher,
        listener: UnixListener,
    ) -> io::Result<Supervisor<'a>> {
        let dir = settings.container_dir.clone();
        let output = Output::open(
            &crate::state::ContainerDir::new(&dir).log(),
            settings.rotation,
        )?;
        let status = Status::load(&dir).unwrap_or_default();
        let restarts = RestartState::resume(status.restart_count);
        Ok(Supervisor {
            settings,
            launcher,
            dir,
            listener,
            status,
            restarts,
            phase: Phase::Done,
            output,
            clients: Clients::default(),
            input: ContainerInput::default(),
            waiters: vec![],
            health: None,
            hold_until: None,
            next_tick: None,
            tick_fd: None,
            last_exit: None,
        })
    }

    fn run(mut self, mut ready: ReadyPipe) -> io::Result<Option<ExitInfo>> {
        let resumed = self.resume_adopted();
        self.status.supervisor_pid = Some(std::process::id());
        self.status.stopped_by_user = false;
        if let Some(Decision::Stay) = resumed {
            self.status.health = None;
            self.save()?;
            return Ok(Some(ExitInfo {
                code: SUPERVISOR_DIED,
                oom_killed: false,
            }));
        }
        // With a healthcheck the container is `starting` from its first moment, so
        // nobody who learns that it started sees it without a verdict.
        if self.settings.healthcheck.is_some() {
            self.status.health = Some(Health::Starting);
        }
        let first = match resumed {
            Some(Decision::RestartAfter(delay)) => {
                self.status.state = ContainerState::Restarting;
                self.save().map(|()| Phase::Waiting {
                    until: Instant::now() + delay,
                })
            }
            _ => self.start(),
        };
        self.hold_until = (self.settings.await_attach).then(|| Instant::now() + AWAIT_ATTACH);
        if let Some(r) = ready.take() {
            match &first {
                Ok(_) => r.ok(),
                Err(e) => r.say(&e.to_string()),
            }
        }
        self.phase = first?;
        if let Some(cfg) = &self.settings.healthcheck {
            self.health = Some(HealthMonitor::new(cfg.clone(), self.dir.clone()));
            self.status.health = Some(Health::Starting);
            self.save()?;
        }
        self.next_tick = self.settings.tick.as_ref().map(|_| Instant::now());
        while self.turn()? {}
        answer(&mut self.waiters, &Response::Ok);
        Ok(self.last_exit)
    }

    /// What the dead supervisor's run became, for one started by its guard: its
    /// container died with it (SIGKILL).
    fn resume_adopted(&mut self) -> Option<Decision> {
        let adopted = matches!(
            self.status.state,
            ContainerState::Running | ContainerState::Paused
        );
        if !(self.settings.adopt && adopted) {
            return None;
        }
        let now = epoch_secs(SystemTime::now());
        let ran_for =
            Duration::from_secs_f64((now - self.status.started_at.unwrap_or(now)).max(0.0));
        self.status.pid = None;
        self.status.exit_code = Some(SUPERVISOR_DIED);
        self.status.finished_at = Some(now);
        self.status.state = ContainerState::Exited;
        let decision = self.restarts.decide(
            self.settings.policy,
            Exit {
                code: SUPERVISOR_DIED,
                ran_for,
                stopped_by_user: self.status.stopped_by_user,
            },
        );
        self.status.restart_count = self.restarts.count;
        self.emit(Action::Die {
            exit_code: SUPERVISOR_DIED,
            ran_for,
        });
        Some(decision)
    }

    /// One turn of the loop: wait for something to happen, then handle it.
    /// False once the container has exited for good and its output is all in.
    fn turn(&mut self) -> io::Result<bool> {
        self.run_tick();
        if matches!(self.phase, Phase::Done) && self.output.is_empty() {
            return Ok(false);
        }
        let timeout = self.poll_timeout();
        let mut set = self.poll_set();
        match super::sys::poll(&mut set.fds, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e),
        }
        // Output first, so that what a process wrote before exiting is logged before its exit.
        let attached = self.clients.len();
        self.output
            .on_poll(&set.fds[set.outputs.clone()], &mut self.clients)?;
        self.on_input(&set);
        // docker's `detach` for each client that went away (hung up, or too slow
        // to read) while the container runs on; clients let go at its exit are
        // not detaching.
        for _ in self.clients.len()..attached {
            self.emit(Action::Detach);
        }
        self.on_probe(&set)?;
        if set.tick.is_some_and(|i| set.fds[i].revents != 0) {
            self.tick_fd = None;
            self.next_tick = Some(Instant::now());
        }
        if set.exit.is_some_and(|i| set.fds[i].revents != 0) {
            self.on_exit()?;
        }
        if set.fds[LISTENER].revents != 0 {
            self.on_control()?;
        }
        self.on_timers()
    }

    fn run_tick(&mut self) {
        if let (Some(t), Some(at)) = (&self.settings.tick, self.next_tick) {
            if Instant::now() >= at {
                self.tick_fd = (t.run.borrow_mut())();
                // A tick that hands back a descriptor sleeps until it fires (for
                // the DNS check: until the responder exits), so the code it ran
                // (reading and parsing the network records) is not needed again
                // for long: let its pages go, as after the start.
                if self.tick_fd.is_some() && matches!(self.phase, Phase::Running { .. }) {
                    super::resident::shed_startup_pages();
                }
                self.next_tick = match self.tick_fd {
                    Some(_) => None,
                    None => Some(Instant::now() + t.every),
                };
            }
        }
    }

    /// Milliseconds until the earliest thing the loop must do by itself (-1: none).
    fn poll_timeout(&self) -> i32 {
        let mut deadline = match &self.phase {
            Phase::Running { kill_at, .. } => *kill_at,
            Phase::Waiting { until } => Some(*until),
            Phase::Done => None,
        };
        let mut sooner = |t: Option<Instant>| {
            if let Some(t) = t {
                deadline = Some(deadline.map_or(t, |d| d.min(t)));
            }
        };
        sooner(self.hold_until);
        sooner(self.next_tick);
        if matches!(self.phase, Phase::Running { .. }) {
            sooner(self.health.as_ref().map(HealthMonitor::deadline));
        }
        deadline
            .map(|d| {
                d.saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128) as i32
            })
            .unwrap_or(-1)
    }

    fn poll_set(&self) -> PollSet {
        // Held for the first client: output stays in the pipes and the exit
        // unreaped (poll skips negative descriptors).
        let held = self.hold_until.is_some();
        let mut fds = vec![pollfd(self.listener.as_raw_fd())];
        let at = fds.len();
        fds.extend(self.output.pollfds(held));
        let outputs = at..fds.len();
        let probe = self
            .health
            .as_ref()
            .and_then(HealthMonitor::pollfds)
            .map(|p| {
                fds.extend(p);
                fds.len() - 2
            });
        let stdin = fds.len();
        fds.push(libc::pollfd {
            fd: match &self.input.stdin {
                Some(f) if !self.input.pending.is_empty() => f.as_raw_fd(),
                _ => -1,
            },
            events: libc::POLLOUT,
            revents: 0,
        });
        let at = fds.len();
        // Input waits in the clients' sockets while the container's stdin is full.
        fds.extend(self.clients.pollfds(self.input.pending.len() < 64 * 1024));
        let clients = at..fds.len();
        let exit = match &self.phase {
            Phase::Running { launched, .. } => {
                fds.push(pollfd(if held { -1 } else { launched.pidfd.as_raw_fd() }));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let tick = self.tick_fd.as_ref().map(|f| {
            fds.push(pollfd(f.as_raw_fd()));
            fds.len() - 1
        });
        PollSet {
            fds,
            outputs,
            probe,
            stdin,
            clients,
            exit,
            tick,
        }
    }

    /// Clients' input into the container's stdin (or terminal).
    fn on_input(&mut self, set: &PollSet) {
        let mut inputs = vec![];
        self.clients
            .service(&set.fds[set.clients.clone()], &mut inputs);
        for i in inputs {
            self.input.apply(i);
        }
        if set.fds[set.stdin].revents != 0 || !self.input.pending.is_empty() || self.input.closing {
            self.input.flush();
        }
    }

    /// The healthcheck: a probe's result, and the next probe when it is due. A
    /// frozen container is not probed: the probe would freeze too and count as a
    /// failure.
    fn on_probe(&mut self, set: &PollSet) -> io::Result<()> {
        let Some(health) = &mut self.health else {
            return Ok(());
        };
        let mut result = set
            .probe
            .and_then(|i| health.on_poll([set.fds[i], set.fds[i + 1]], &mut *self.launcher));
        if result.is_none()
            && matches!(self.phase, Phase::Running { .. })
            && self.status.state != ContainerState::Paused
        {
            result = health.start_if_due(&mut *self.launcher);
        }
        let Some(result) = result else {
            return Ok(());
        };
        let since = match &self.phase {
            Phase::Running { started, .. } => started.elapsed(),
            _ => Duration::ZERO,
        };
        if let Some(verdict) = health.record(result, since) {
            self.status.health = Some(verdict);
            self.save()?;
            self.emit(Action::HealthStatus(verdict));
        }
        // A probe runs the runtime's exec path in this process, as a start does.
        super::resident::shed_startup_pages();
        Ok(())
    }

    /// The container's process exited: record it, and restart it or stop here.
    fn on_exit(&mut self) -> io::Result<()> {
        let Phase::Running {
            launched, started, ..
        } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return Ok(());
        };
        // Whatever the process left in the pipes belongs before its exit.
        self.output.drain(&mut self.clients)?;
        self.input = ContainerInput::default();
        if let Some(h) = &mut self.health {
            h.restart(&mut *self.launcher);
            self.status.health = Some(Health::Starting);
        }
        let info = self.launcher.reap(&launched)?;
        self.launcher.cleanup()?;
        self.last_exit = Some(info);
        let ran_for = started.elapsed();
        self.status.pid = None;
        self.status.exit_code = Some(info.code);
        self.status.oom_killed = info.oom_killed;
        self.status.finished_at = Some(epoch_secs(SystemTime::now()));
        let decision = self.restarts.decide(
            self.settings.policy,
            Exit {
                code: info.code,
                ran_for,
                stopped_by_user: self.status.stopped_by_user,
            },
        );
        self.status.restart_count = self.restarts.count;
        self.phase = match decision {
            Decision::RestartAfter(delay) => {
                self.status.state = ContainerState::Restarting;
                Phase::Waiting {
                    until: Instant::now() + delay,
                }
            }
            Decision::Stay => {
                self.status.state = ContainerState::Exited;
                Phase::Done
            }
        };
        self.save()?;
        if info.oom_killed {
            self.emit(Action::Oom);
        }
        self.emit(Action::Die {
            exit_code: info.code,
            ran_for,
        });
        // Attached clients end with the process, as docker's attach does.
        self.clients.finish(info.code);
        if matches!(self.phase, Phase::Done) {
            // Waiters are `stop` requests: docker reports `stop` after the `die`.
            if !self.waiters.is_empty() {
                self.emit(Action::Stop);
            }
            answer(&mut self.waiters, &Response::Ok);
        }
        Ok(())
    }

    /// Connections on the control socket, each one request.
    fn on_control(&mut self) -> io::Result<()> {
        while let Ok((conn, _)) = self.listener.accept() {
            self.on_request(conn)?;
        }
        // A client, or a stop, ends the wait for the first client.
        if !self.clients.is_empty() || !self.waiters.is_empty() || self.status.stopped_by_user {
            self.hold_until = None;
        }
        Ok(())
    }

    /// What is due by the clock: the end of the wait for a client, the SIGKILL
    /// of a `stop` whose grace period ran out, a restart after its back-off.
    fn on_timers(&mut self) -> io::Result<bool> {
        let now = Instant::now();
        if self.hold_until.is_some_and(|h| h <= now) {
            self.hold_until = None;
        }
        match &mut self.phase {
            Phase::Running { kill_at, .. } if kill_at.is_some_and(|k| k <= now) => {
                *kill_at = None;
                let _ = self.launcher.signal(libc::SIGKILL, true);
                self.emit(Action::Kill {
                    signal: libc::SIGKILL,
                });
            }
            Phase::Waiting { until } if *until <= now => {
                self.phase = self.start()?;
            }
            _ => {}
        }
        Ok(true)
    }

    /// Starts the container's process, its output into [`Output`] and its stdin
    /// (with `stdin_open`) from the clients.
    fn start(&mut self) -> io::Result<Phase> {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin_r, stdin_w) = match self.settings.stdin_open {
            true => {
                let (r, w) = pipe()?;
                set_nonblocking(w.as_raw_fd())?;
                (Some(r), Some(File::from(w)))
            }
            false => (None, None),
        };
        self.input = ContainerInput::default();
        match self.launcher.launch(stdin_r, out_w, err_w) {
            Ok(mut launched) => {
                match launched.tty.take() {
                    Some(master) => self.take_terminal(master)?,
                    None => {
                        self.input.stdin = stdin_w;
                        self.output.add(Stream::Stdout, File::from(out_r));
                        self.output.add(Stream::Stderr, File::from(err_r));
                    }
                }
                self.status.state = ContainerState::Running;
                self.status.pid = Some(launched.pid);
                self.status.started_at = Some(epoch_secs(SystemTime::now()));
                self.status.error = None;
                self.save()?;
                self.emit(Action::Start);
                super::resident::shed_startup_pages();
                Ok(Phase::Running {
                    launched,
                    started: Instant::now(),
                    kill_at: None,
                })
            }
            Err(e) => {
                self.status.state = ContainerState::Dead;
                self.status.pid = None;
                self.status.error = Some(e.to_string());
                self.save()?;
                Err(e)
            }
        }
    }

    /// With `tty: true` all output comes from the terminal's master, and input goes to it.
    fn take_terminal(&mut self, master: OwnedFd) -> io::Result<()> {
        // The master is read here and written from the clients' input: neither
        // may block the loop.
        set_nonblocking(master.as_raw_fd())?;
        let term = File::from(master.try_clone()?);
        if self.settings.stdin_open {
            self.input.stdin = Some(term.try_clone()?);
        }
        self.input.terminal = Some(term);
        self.output.add(Stream::Stdout, File::from(master));
        Ok(())
    }

    /// Writes status.json.
    pub(super) fn save(&self) -> io::Result<()> {
        self.status.save(&self.dir).map_err(io::Error::other)
    }

    /// Appends an event of this container to its project's journal.
    pub(super) fn emit(&self, action: Action) {
        emit_for_dir(&self.dir, action);
    }
}

/// Answers every waiting `stop`.
pub(super) fn answer(waiters: &mut Vec<UnixStream>, resp: &Response) {
    for mut w in waiters.drain(..) {
        let _ = io::Write::write_all(&mut w, &super::control::encode_response(resp));
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
#[cfg(test)]
mod tests {
    use super::super::attach_proto::Frame;
    use super::super::control::{call, Request};
    use super::super::logfile::read_all;
    use super::super::sys::pidfd_open;
    use super::*;
    use std::io::{Read, Write};
    use std::path::Path;
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
    fn a_tick_runs_again_when_its_descriptor_fires_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let runs = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counted = runs.clone();
        let mut watched: Option<Child> = None;
        let mut s = settings(dir.path(), RestartPolicy::No);
        s.tick = Some(Tick {
            // Never due by time within this test: only the descriptor wakes it.
            every: Duration::from_secs(3600),
            run: std::rc::Rc::new(std::cell::RefCell::new(move || {
                counted.set(counted.get() + 1);
                if let Some(mut c) = watched.take() {
                    c.wait().unwrap();
                    return None;
                }
                // The first check watches a process that exits soon (as a killed
                // DNS responder does); the second has nothing left to watch.
                let c = Command::new("sleep").arg("0.2").spawn().unwrap();
                let fd = pidfd_open(c.id()).unwrap();
                watched = Some(c);
                Some(fd)
            })),
        });
        let mut sh = Shell::new("sleep 1");
        supervise(&s, &mut sh, None).unwrap();
        assert_eq!(
            runs.get(),
            2,
            "once at start, once when the watched process exited"
        );
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
