//! Subcommands berth runs itself, not people: a container's supervisor and the
//! DNS responder. Both are berth re-executed, so they carry no daemon.

use anyhow::Result;
use clap::Args;

use crate::state::Layout;
use crate::supervise::supervisor::Tick;

/// How soon a supervisor looks again for a DNS responder it could not wait on
/// (none runs and no network exists, or a new one has not said its pid yet).
const DNS_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// `supervise ID`.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The container id
    pub id: String,
}

/// Supervises one container until it has exited for good.
pub fn run_supervise(layout: &Layout, a: &SuperviseArgs) -> Result<()> {
    crate::supervise::main::run(layout, &a.id, || dns_tick(layout))
}

/// What a supervisor of a container on a bridge network does whenever this
/// root's DNS responder exits: restart it (`berth-supervisor` and berth's own
/// fast path both start supervisors with it).
pub fn dns_tick(layout: &Layout) -> Tick {
    let mut keeper = crate::engine::network::DnsKeeper::new(layout);
    Tick {
        every: DNS_CHECK,
        run: std::rc::Rc::new(std::cell::RefCell::new(move || keeper.check())),
    }
}

/// Serves DNS for every network of this state root until none is left.
pub fn run_dns(layout: &Layout) -> Result<()> {
    crate::engine::network::serve_dns(layout)
}
