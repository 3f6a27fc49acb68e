//! berth: a daemonless, Compose-compatible multi-container engine for Linux.

pub mod cli;
pub mod compose;
pub mod image;
