//! The per-container supervisor's logic: restart decisions and the log file.

pub mod attach_proto;
pub mod attached;
pub mod container_input;
pub mod control;
pub mod guard;
pub mod health;
pub mod launch;
pub mod logfile;
pub mod logread;
pub mod main;
pub mod ready;
pub mod restart;
pub mod run;
pub mod runtime_launcher;
