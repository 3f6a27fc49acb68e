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

/// A project loaded from `yaml` in a fresh temp dir holding the empty directories
/// `dirs` (unit tests of the layers below: watch rules, build requests).
#[cfg(test)]
pub fn test_project(yaml: &str, dirs: &[&str]) -> (Project, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    for d in dirs {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let opts = ProjectOptions {
        working_dir: dir.path().to_path_buf(),
        project_name: Some("p".into()),
        interpolate: true,
        resolve_paths: true,
        ..Default::default()
    };
    let raw = load_raw(&opts).unwrap();
    let (mut project, _) = build_project(
        raw,
        &ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: false,
            services: vec![],
        },
    )
    .unwrap();
    env_file::resolve_services_environment(&mut project).unwrap();
    (project, dir)
}
