//! `berth-supervisor --root R --run-dir D supervise ID`: one container's supervisor
//! process, from its `launch.json` to the container's last exit. One supervisor per
//! container (its lock), taking over from one on its way out.
//!
//! The process is the small `berth-supervisor` binary (src/bin/berth-supervisor.rs)
//! when it is installed beside `berth`, else `berth` itself re-executed: both enter
//! here, through [`from_command_line`], without the CLI's parser.

use std::ffi::OsString;
use std::fs::File;

use anyhow::{Context as _, Result};

use super::launch::LaunchConfig;
use super::runtime_launcher::RuntimeLauncher;
use super::supervisor::{supervise, Settings, Tick};
use crate::state::Layout;

/// The process exit code of a supervisor whose command line (after the program
/// name) is the one [`super::ready::supervisor_args`] makes, or `None` for any other
/// command line. `dns_tick` is as for [`run`].
pub fn from_command_line(args: &[OsString], dns_tick: impl FnOnce(&Layout) -> Tick) -> Option<i32> {
    let (layout, id) = super::ready::parse_supervisor_args(args)?;
    if let Some(level) = std::env::var("BERTH_LOG").ok().and_then(|v| log_level(&v)) {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .init();
    }
    Some(match run(&layout, &id, || dns_tick(&layout)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {}", crate::report::text(&e));
            1
        }
    })
}

/// The most verbose level `BERTH_LOG` names, in the CLI's syntax
/// (`debug`, `berth::supervise=trace,info`). The supervisor logs at that level for
/// every target: `EnvFilter`'s per-target directives need a regex engine, code
/// that every supervisor would map (regex is still linked through another path:
/// see the issue 14 notes).
fn log_level(spec: &str) -> Option<tracing::level_filters::LevelFilter> {
    use tracing::level_filters::LevelFilter;
    spec.split(',')
        .filter_map(|d| d.rsplit('=').next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.parse::<LevelFilter>().ok())
        .max()
}

/// Supervises container `id` until it has exited for good: `berth supervise ID`.
/// `dns_tick` makes the check that keeps the root's DNS responder alive, wanted
/// only by a container on a bridge network.
pub fn run(layout: &Layout, id: &str, dns_tick: impl FnOnce() -> Tick) -> Result<()> {
    let files = layout.container_dir(id);
    let dir = files.path().to_path_buf();
    let mut ready = super::ready::take_writer();
    let adopt = std::env::var_os(crate::supervise::guard::ADOPT_ENV).is_some();
    std::env::remove_var(crate::supervise::guard::ADOPT_ENV);
    // Forked first, while this process is single-threaded and holds nothing: the
    // guard keeps a copy of whatever heap there is now (the launch config is read
    // after).
    crate::supervise::guard::spawn(&dir).context("starting the supervisor's guard")?;
    let cfg = LaunchConfig::load(&dir).context("reading launch.json")?;
    // One supervisor per container: a second one (a `start` racing the `up` that
    // a kill interrupted) leaves the container to the first.
    let lock_path = files.supervisor_lock();
    let lock = match crate::state::try_lock(&lock_path)
        .with_context(|| format!("locking {}", lock_path.display()))?
    {
        Some(lock) => lock,
        None => match another_supervisor(&dir, &lock_path)? {
            Ok(lock) => lock,
            Err(msg) => {
                if let Some(r) = ready.take() {
                    r.say(&msg);
                }
                return Ok(());
            }
        },
    };
    // `rm`/`down` hold this lock while they take the container apart: one that got
    // it first leaves nothing to supervise.
    if !crate::container::ContainerRecord::path(&dir).exists() {
        if let Some(r) = ready.take() {
            r.say("the container was removed");
        }
        return Ok(());
    }
    // A container on a bridge network needs the root's DNS responder: its
    // supervisor restarts it whenever it finds it dead.
    let on_bridge = files
        .read_json::<Vec<serde_json::Value>>(&files.net())
        .is_some_and(|atts| !atts.is_empty());
    let tick = on_bridge.then(dns_tick);
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
    let auto_remove = cfg.auto_remove;
    let mut launcher = RuntimeLauncher::new(cfg, &dir);
    supervise(&settings, &mut launcher, ready)?;
    drop(launcher);
    drop(lock);
    if auto_remove {
        crate::engine::run::remove_after_exit(layout, id)?;
    }
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
            S::Running | S::Paused | S::Restarting => return Ok(Err(super::ready::OK.into())),
            S::Dead => {
                let e = st
                    .error
                    .unwrap_or_else(|| "container failed to start".into());
                return Ok(Err(format!("{e}\n")));
            }
            S::Created if waited_long => return Ok(Err(super::ready::OK.into())),
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

#[cfg(test)]
mod tests {
    use super::log_level;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn berth_log_gives_its_most_verbose_level() {
        assert_eq!(log_level("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(
            log_level("berth::supervise=trace,info"),
            Some(LevelFilter::TRACE)
        );
        assert_eq!(log_level("off"), Some(LevelFilter::OFF));
        assert_eq!(log_level(""), None);
    }
}
