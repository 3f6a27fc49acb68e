//! The compose loader: files on disk to berth's project model, as compose-go does it.

pub mod dotenv;
pub mod error;
mod extends;
mod include;
pub mod interpolate;
pub mod keypath;
pub mod load;
pub mod merge;
pub mod options;
pub mod paths;
pub mod raw;
pub mod shortsyntax;
pub mod yaml;

pub use error::LoadError;
pub use load::load_raw;
pub use raw::{ProjectOptions, RawProject, VariableUse};
