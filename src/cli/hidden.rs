//! Subcommands berth runs itself, not people: a container's supervisor and the
//! DNS responder. Both are berth re-executed, so they carry no daemon.

use std::fs::File;
use std::os::fd::FromRawFd;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::engine::layout::Layout;
use crate::supervise::launch::LaunchConfig;
use crate::supervise::run::{supervise, Settings, Tick};

/// How often a supervisor looks whether the DNS responder still runs.
const DNS_CHECK: std::time::Duration = std::time::Duration::from_secs(1);
use crate::supervise::runtime_launcher::RuntimeLauncher;

/// `supervise ID`.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The container id
    pub id: String,
}

/// Supervises one container until it has exited for good.
pub fn run_supervise(layout: &Layout, a: &SuperviseArgs) -> Result<()> {
    let dir = layout.container(&a.id);
    let cfg = LaunchConfig::load(&dir).context("reading launch.json")?;
    let mut ready = std::env::var("BERTH_READY_FD")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        // SAFETY: the CLI handed us this descriptor (dup2'd to it before exec) and
        // nothing else in this process owns it.
        .map(|fd| {
            // Nothing the supervisor starts may inherit it: the CLI waits for its end.
            // SAFETY: fcntl on the descriptor we were handed.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            // SAFETY: as above; nothing else in this process owns it.
            unsafe { File::from_raw_fd(fd) }
        });
    std::env::remove_var("BERTH_READY_FD");
    let adopt = std::env::var_os(crate::supervise::guard::ADOPT_ENV).is_some();
    std::env::remove_var(crate::supervise::guard::ADOPT_ENV);
    // Forked first, while this process is single-threaded and holds nothing.
    crate::supervise::guard::spawn(
        &dir,
        std::env::current_exe()?,
        std::env::args_os().skip(1).collect(),
    )
    .context("starting the supervisor's guard")?;
    // One supervisor per container: a second one (a `start` racing the `up` that
    // a kill interrupted) leaves the container to the first.
    let lock_path = dir.join("supervisor.lock");
    let lock = match crate::state::try_lock(&lock_path)
        .with_context(|| format!("locking {}", lock_path.display()))?
    {
        Some(lock) => lock,
        None => match another_supervisor(&dir, &lock_path)? {
            Ok(lock) => lock,
            Err(msg) => {
                if let Some(mut r) = ready.take() {
                    let _ = std::io::Write::write_all(&mut r, msg.as_bytes());
                }
                return Ok(());
            }
        },
    };
    // `rm`/`down` hold this lock while they take the container apart: one that got
    // it first leaves nothing to supervise.
    if !crate::container::ContainerRecord::path(&dir).exists() {
        if let Some(mut r) = ready.take() {
            let _ = std::io::Write::write_all(&mut r, b"the container was removed\n");
        }
        return Ok(());
    }
    // A container on a bridge network needs the root's DNS responder: its
    // supervisor restarts it whenever it finds it dead.
    let on_bridge = std::fs::read(dir.join("net.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<serde_json::Value>>(&b).ok())
        .is_some_and(|atts| !atts.is_empty());
    let tick = on_bridge.then(|| {
        let mut keeper = crate::engine::network::DnsKeeper::new(layout);
        Tick {
            every: DNS_CHECK,
            run: std::rc::Rc::new(std::cell::RefCell::new(move || keeper.check())),
        }
    });
    let settings = Settings {
        tick,
        adopt,
        container_dir: dir.clone(),
        policy: cfg.policy,
        rotation: cfg.rotation,
        healthcheck: cfg.healthcheck.clone(),
        stdin_open: cfg.stdin_open,
        await_attach: cfg.await_attach,
    };
    let mut launcher = RuntimeLauncher::new(cfg, &dir);
    supervise(&settings, &mut launcher, ready)?;
    drop(lock);
    Ok(())
}

/// The lock is held by another supervisor of this container. One that is starting
/// it (created) or runs it is left to it: the answer is what it reports (`Err`).
/// One whose process has exited is on its way out (a `stop` just answered, then
/// `start`): wait for its lock and take over (`Ok`), or the start would be lost.
fn another_supervisor(
    dir: &std::path::Path,
    lock_path: &std::path::Path,
) -> Result<std::result::Result<File, String>> {
    use crate::container::ContainerState as S;
    let t0 = std::time::Instant::now();
    loop {
        let st = crate::container::Status::load(dir).unwrap_or_default();
        let waited_long = t0.elapsed() > std::time::Duration::from_secs(30);
        // Told to stop (its `stop` or `down` may have been killed since): it is
        // on its way out like an exited one, so wait to take over.
        let stopping = crate::container::observe::is_stopping(&st);
        match st.state {
            S::Running | S::Paused if stopping && waited_long => {
                return Ok(Err("the previous supervisor is still stopping it\n".into()))
            }
            S::Running | S::Paused if stopping => {
                if let Some(lock) = crate::state::try_lock(lock_path)
                    .with_context(|| format!("locking {}", lock_path.display()))?
                {
                    return Ok(Ok(lock));
                }
            }
            S::Running | S::Paused | S::Restarting => return Ok(Err("ok\n".into())),
            S::Dead => {
                let e = st
                    .error
                    .unwrap_or_else(|| "container failed to start".into());
                return Ok(Err(format!("{e}\n")));
            }
            S::Created if waited_long => return Ok(Err("ok\n".into())),
            S::Exited if waited_long => {
                return Ok(Err("the previous supervisor does not exit\n".into()))
            }
            S::Exited => {
                if let Some(lock) = crate::state::try_lock(lock_path)
                    .with_context(|| format!("locking {}", lock_path.display()))?
                {
                    return Ok(Ok(lock));
                }
            }
            S::Created => {}
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Serves DNS for every network of this state root until none is left.
pub fn run_dns(layout: &Layout) -> Result<()> {
    crate::engine::network::serve_dns(layout)
}
