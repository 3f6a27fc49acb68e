//! The per-container supervisor: one process per container (the small
//! `berth-supervisor` binary), from its first start until it has exited for good.
//!
//! [`main`] is the process; [`supervisor`] its loop, whose parts each have a file:
//! [`output`] (pipes into the log and to clients), [`probe`] (the healthcheck),
//! [`restart`] (the policy), [`requests`] (the control socket), [`attached`] and
//! [`container_input`] (attach). [`ready`] and [`guard`] start it and take over
//! from it; [`launcher`] is the seam to the runtime.

pub mod attach_proto;
pub mod attached;
pub mod container_input;
pub mod control;
mod detached;
pub mod guard;
pub mod health;
pub mod launch;
pub mod launcher;
pub mod logfile;
pub mod logread;
pub mod main;
pub mod output;
pub mod probe;
pub mod ready;
mod requests;
pub mod resident;
pub mod restart;
pub mod runtime_launcher;
pub mod supervisor;
pub mod sys;
