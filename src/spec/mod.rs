//! From a container's settings to the OCI runtime spec berth's runtime runs:
//! docker's defaults (capabilities, mounts, masked paths), then the service's own.

pub mod build;
pub mod defaults;
pub mod run_config;

pub use build::build_spec;
pub use run_config::{MountSpec, NamespaceMode, RunConfig};
