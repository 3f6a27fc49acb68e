//! `berth watch`: develop.watch rules as docker compose reads them, applied
//! by writing straight into the containers' file systems (no tar, no exec),
//! in the foreground or detached, and reconciled after any gap.
//!
//! - [`rules`]: the rules, their ignores and where paths land.
//! - [`tree`]: inotify watches on the host and batching.
//! - [`sync`]: writes into a container root by descriptor.
//! - [`apply`]: the same for a stopped container, in a child that mounts it.
//! - [`run`]: the loop and docker compose's actions and log lines.
//! - [`state`], [`detach`]: what survives a gap, and the detached watcher.

pub mod apply;
pub mod detach;
pub mod rules;
pub mod run;
pub mod state;
pub mod sync;
pub mod tree;
