//! The compose loader: files on disk to berth's project model, as compose-go does it.

pub mod raw;
