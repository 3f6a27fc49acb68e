//! From what the user typed (`-f`, `-p`, `--project-directory`, `--env-file`,
//! `--profile`) and the environment (`COMPOSE_*`, `.env`) to the files, project
//! directory, environment and profiles of one load, as docker compose's
//! `toProjectOptions` chains compose-go's `cli` options.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::dotenv;
use super::error::LoadError;
use super::paths::clean;
use super::raw::ProjectOptions;

/// Compose file names looked for, in order, in each directory upward.
pub const DEFAULT_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Override file names looked for next to the discovered compose file.
pub const DEFAULT_OVERRIDE_FILE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// Everything decided before the first compose file is parsed.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The project directory (absolute).
    pub project_dir: PathBuf,
    /// The compose files, absolute, in order; `-` for stdin.
    pub files: Vec<PathBuf>,
    /// OS env over env files.
    pub environment: IndexMap<String, String>,
    /// The env files that were read.
    pub env_files: Vec<PathBuf>,
    /// `--profile` or `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// `-p` or `COMPOSE_PROJECT_NAME`, already checked.
    pub explicit_name: Option<String>,
    /// Warnings (several candidate files, unset variables in `.env`, …).
    pub warnings: Vec<String>,
}

/// compose-go's `NormalizeProjectName`: lowercase, keep `[a-z0-9_-]`, trim
/// leading `_` and `-`.
pub fn normalize_project_name(s: &str) -> String {
    let lower = s.to_lowercase();
    let kept: String = lower
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Go's `strconv.ParseBool` truthy values.
fn truthy(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        clean(p)
    } else {
        clean(&cwd.join(p))
    }
}

/// Resolves files, project directory, environment and profiles.
pub fn resolve(opts: &ProjectOptions) -> Result<Resolved, LoadError> {
    let cwd = if opts.working_dir.is_absolute() {
        clean(&opts.working_dir)
    } else {
        let here = std::env::current_dir().map_err(|e| LoadError::io(".", e))?;
        clean(&here.join(&opts.working_dir))
    };
    let project_dir_opt = opts.project_directory.as_ref().map(|p| absolute(&cwd, p));
    let mut warnings = Vec::new();
    let mut env = opts.os_env.clone();

    let abs_file = |f: &str| -> PathBuf {
        if f == "-" {
            PathBuf::from("-")
        } else {
            absolute(&cwd, Path::new(f))
        }
    };
    let mut files: Vec<PathBuf> = opts.files.iter().map(|f| abs_file(f)).collect();

    let working_dir_for = |files: &[PathBuf]| -> PathBuf {
        if let Some(p) = &project_dir_opt {
            return p.clone();
        }
        match files.iter().find(|f| f.as_os_str() != "-") {
            Some(f) => f
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.clone()),
            None => cwd.clone(),
        }
    };

    let mut explicit_env_files: Vec<PathBuf> =
        opts.env_files.iter().map(|p| absolute(&cwd, p)).collect();
    if explicit_env_files.is_empty() {
        if let Some(v) = opts
            .os_env
            .get("COMPOSE_ENV_FILES")
            .filter(|v| !v.is_empty())
        {
            explicit_env_files = v
                .split(',')
                .map(|p| absolute(&cwd, Path::new(p.trim())))
                .collect();
        }
    }

    // First pass: env files next to the working dir known so far, so that `.env`
    // can set COMPOSE_FILE, COMPOSE_PROFILES, COMPOSE_PROJECT_NAME.
    let mut env_files_read: Vec<PathBuf> = Vec::new();
    let load_env = |env: &mut IndexMap<String, String>,
                    dir: &Path,
                    warnings: &mut Vec<String>,
                    read: &mut Vec<PathBuf>|
     -> Result<(), LoadError> {
        let list: Vec<PathBuf> = if !explicit_env_files.is_empty() {
            explicit_env_files.clone()
        } else {
            if opts
                .os_env
                .get("COMPOSE_DISABLE_ENV_FILE")
                .is_some_and(|v| truthy(v))
            {
                return Ok(());
            }
            let f = dir.join(".env");
            if f.is_file() {
                vec![f]
            } else {
                Vec::new()
            }
        };
        let new: Vec<PathBuf> = list.into_iter().filter(|f| !read.contains(f)).collect();
        if new.is_empty() {
            return Ok(());
        }
        let from_files = dotenv::read_env_files(&new, &opts.os_env, warnings)?;
        for (k, v) in from_files {
            env.entry(k).or_insert(v);
        }
        read.extend(new);
        Ok(())
    };
    load_env(
        &mut env,
        &working_dir_for(&files),
        &mut warnings,
        &mut env_files_read,
    )?;

    if files.is_empty() {
        if let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
            let sep = env
                .get("COMPOSE_PATH_SEPARATOR")
                .filter(|s| !s.is_empty())
                .map(String::as_str)
                .unwrap_or(":");
            let base = project_dir_opt.clone().unwrap_or_else(|| cwd.clone());
            files = list
                .split(sep)
                .filter(|p| !p.is_empty())
                .map(|p| absolute(&base, Path::new(p)))
                .collect();
        }
    }
    if files.is_empty() {
        files = discover(&working_dir_for(&[]), &mut warnings);
        if files.is_empty() {
            return Err(LoadError::NoConfigFile);
        }
    }

    // Second pass: the project directory may have moved with the files found.
    let project_dir = working_dir_for(&files);
    load_env(&mut env, &project_dir, &mut warnings, &mut env_files_read)?;

    let mut profiles: Vec<String> = opts.profiles.clone();
    if profiles.is_empty() {
        if let Some(p) = env.get("COMPOSE_PROFILES") {
            profiles = p
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
    }

    let explicit_name = match (&opts.project_name, env.get("COMPOSE_PROJECT_NAME")) {
        (Some(n), _) if !n.is_empty() => Some(n.clone()),
        (_, Some(n)) if !n.is_empty() => Some(n.clone()),
        _ => None,
    };
    if let Some(n) = &explicit_name {
        if normalize_project_name(n) != *n {
            return Err(LoadError::InvalidProjectName(n.clone()));
        }
    }

    Ok(Resolved {
        project_dir,
        files,
        environment: env,
        env_files: env_files_read,
        profiles,
        explicit_name,
        warnings,
    })
}

/// The compose file (and its override) in `dir` or the nearest parent having one.
pub fn discover(dir: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let mut current = Some(dir);
    while let Some(d) = current {
        let candidates: Vec<PathBuf> = DEFAULT_FILE_NAMES
            .iter()
            .map(|n| d.join(n))
            .filter(|p| p.is_file())
            .collect();
        if let Some(winner) = candidates.first() {
            if candidates.len() > 1 {
                let names: Vec<String> =
                    candidates.iter().map(|p| p.display().to_string()).collect();
                warnings.push(format!(
                    "Found multiple config files with supported names: {}",
                    names.join(", ")
                ));
                warnings.push(format!("Using {}", winner.display()));
            }
            let mut out = vec![winner.clone()];
            let overrides: Vec<PathBuf> = DEFAULT_OVERRIDE_FILE_NAMES
                .iter()
                .map(|n| d.join(n))
                .filter(|p| p.is_file())
                .collect();
            if let Some(o) = overrides.first() {
                if overrides.len() > 1 {
                    let names: Vec<String> =
                        overrides.iter().map(|p| p.display().to_string()).collect();
                    warnings.push(format!(
                        "Found multiple override files with supported names: {}",
                        names.join(", ")
                    ));
                    warnings.push(format!("Using {}", o.display()));
                }
                out.push(o.clone());
            }
            return out;
        }
        current = d.parent();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(
            normalize_project_name("UNNORMALIZED PATH"),
            "unnormalizedpath"
        );
        assert_eq!(normalize_project_name("_-My.App-1"), "myapp-1");
    }
}
