//! The engine: runs a plan's actions along the dependency graph.

pub mod graph;
pub mod layout;
pub mod load;
pub mod network;
pub mod settings;
