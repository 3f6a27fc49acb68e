//! The compose loader: files on disk to berth's project model, as compose-go does it.
//!
//! Two halves meet at [`RawProject`]: the raw loader (files, `.env`,
//! interpolation, merge, extends, include) produces one merged tree, and
//! [`build_project`] turns it into the typed [`Project`]:
//! `transform` (short syntax → long) → `validate::check_keys` → typed decode
//! (`model`, lenient casts) → `normalize` → `profiles` → cycles →
//! `validate::check_consistency` → `env_file` resolution. `output` prints it
//! as `docker compose config` does and `hash` computes the config hash.

pub mod env_file;
pub mod hash;
pub mod model;
pub mod normalize;
pub mod output;
pub mod profiles;
pub mod project;
pub mod raw;
// STAND-IN: delete when merging with `loader-raw`, which provides the real `load_raw`.
pub mod raw_standin;
pub mod transform;
pub mod validate;

pub use model::Project;
pub use project::{build_project, ModelError, ModelOptions, Warning};
pub use raw::{ProjectOptions, RawProject, VariableUse};
// STAND-IN: the real `load_raw` comes from `loader-raw`.
pub use raw_standin::{load_raw, LoadError};
