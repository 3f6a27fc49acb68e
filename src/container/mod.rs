//! A berth container on disk: what the CLI decided (`container.json`) and what its
//! supervisor observed (`status.json`), kept in two files so each has one writer.

pub mod humanize;
pub mod list;
pub mod observe;
pub mod record;
pub mod status;
pub mod view;
pub mod watch;

pub use record::{ContainerRecord, NetworkRecord, PortRecord};
pub use status::{ContainerState, Health, Status};
