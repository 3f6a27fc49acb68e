//! The engine: runs a plan's actions along the dependency graph.

pub mod graph;
