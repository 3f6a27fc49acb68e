//! Named volumes: data directories under the state root that outlive containers.

pub mod copyup;
pub mod store;

pub use store::{VolumeInfo, VolumeStore};
