//! The compose loader: files on disk to berth's project model, as compose-go does it.

pub mod dotenv;
pub mod error;
pub mod interpolate;
pub mod keypath;
pub mod merge;
pub mod raw;
pub mod shortsyntax;
pub mod yaml;

pub use error::LoadError;
