//! Ctrl-C while `up` converges: the first SIGINT (or SIGTERM) lets the container
//! in flight finish and stops before the next one, so no record, namespace or
//! mount is left half-made; `up` then fails with [`Interrupted`] (exit 130, as a
//! shell reports SIGINT). A second one gives up at once, as docker compose's does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;

/// `up` stopped early on the user's Ctrl-C.
#[derive(Debug, thiserror::Error)]
#[error("canceled")]
pub struct Interrupted;

#[derive(Default)]
struct State {
    /// Whether `up` is still converging (the signals are ours to act on).
    armed: AtomicBool,
    /// Whether a signal came while armed.
    hit: AtomicBool,
}

/// Catches SIGINT and SIGTERM while it lives; dropping it hands them back to
/// whoever comes next (an attached session installs its own handler).
pub struct Interrupt(Arc<State>);

impl Interrupt {
    /// Takes SIGINT and SIGTERM from now on, from a thread of its own.
    pub fn on_signals() -> Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        let state = Arc::new(State::default());
        state.armed.store(true, Ordering::SeqCst);
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
        let s = state.clone();
        std::thread::spawn(move || {
            rt.block_on(async move {
                loop {
                    let code = tokio::select! {
                        r = int.recv() => match r { Some(()) => 130, None => return },
                        r = term.recv() => match r { Some(()) => 143, None => return },
                    };
                    if !s.armed.load(Ordering::SeqCst) {
                        continue;
                    }
                    if s.hit.swap(true, Ordering::SeqCst) {
                        eprintln!("Aborting: the container being made may be left half-made; `up` or `down` repairs it");
                        std::process::exit(code);
                    }
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                }
            })
        });
        Ok(Interrupt(state))
    }

    /// Catches nothing: for a command that makes nothing a signal could leave
    /// half-made; SIGINT and SIGTERM keep their default action.
    pub fn none() -> Interrupt {
        Interrupt(Arc::default())
    }

    /// Fails with [`Interrupted`] once the user asked to stop.
    pub fn check(&self) -> Result<(), Interrupted> {
        if self.0.hit.load(Ordering::SeqCst) {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }

    /// Whether the user asked to stop.
    pub fn hit(&self) -> bool {
        self.0.hit.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.0.armed.store(false, Ordering::SeqCst);
    }
}
