//! The per-container supervisor's logic: restart decisions and the log file.

pub mod control;
pub mod health;
pub mod logfile;
pub mod restart;
pub mod run;
