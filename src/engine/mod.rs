//! The engine: runs a plan's actions along the dependency graph.

pub mod attach;
pub mod cp;
pub mod down;
pub mod exec;
pub mod graph;
pub mod hooks;
pub mod images;
pub mod layout;
pub mod lifecycle;
pub mod load;
pub mod logs;
pub mod models;
pub mod monitor;
pub mod mounts;
pub mod network;
pub mod pause;
pub mod pre_start;
pub mod run;
pub mod settings;
pub mod stats;
pub mod terminal;
pub mod top;
pub mod up;
pub mod wait;
