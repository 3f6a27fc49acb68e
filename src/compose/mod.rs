//! The compose loader: files on disk to berth's project model, as compose-go does it.
//!
//! Two halves meet at [`RawProject`]: the raw loader (files, `.env`,
//! interpolation, merge, extends, include) produces one merged tree, and
//! [`build_project`] turns it into the typed [`Project`]:
//! `transform` (short syntax → long) → `validate::check_keys` → typed decode
//! (`model`, lenient casts) → `normalize` → `profiles` → cycles →
//! `validate::check_consistency` → `env_file` resolution. `output` prints it
//! as `docker compose config` does and `hash` computes the config hash.

pub mod depth;
pub mod dotenv;
pub mod env_file;
pub mod error;
mod extends;
pub mod hash;
mod include;
pub mod interpolate;
pub mod keypath;
pub mod load;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod options;
pub mod output;
pub mod paths;
pub mod profiles;
pub mod project;
pub mod raw;
pub mod select;
pub mod shortsyntax;
pub mod transform;
pub mod validate;
pub mod viz;
pub mod yaml;

pub use error::LoadError;
pub use include::set_remote_loader;
pub use load::load_raw;
pub use raw::{ProjectOptions, RawProject, VariableUse};

pub use model::Project;
pub use project::{build_project, ModelError, ModelOptions, Warning};
