//! The per-container supervisor's logic: restart decisions and the log file.

pub mod logfile;
pub mod restart;
