//! berth: a daemonless, Compose-compatible multi-container engine for Linux.

pub mod build;
pub mod cli;
pub mod compose;
pub mod container;
pub mod engine;
pub mod events;
pub mod image;
pub mod kube;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod report;
pub mod rootless;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod volume;
pub mod watch;
