//! Output: one file per object plus a `kustomization.yaml` listing them, or
//! one multi-document YAML stream (`--stdout`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Bundle, KubeError};

/// The kustomization that lists the files (`kubectl kustomize DIR`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization<'a> {
    api_version: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    resources: Vec<String>,
}

/// The bundle as one YAML stream, documents separated by `---`.
pub fn stream(bundle: &Bundle) -> Result<String, KubeError> {
    let mut out = String::new();
    for o in &bundle.objects {
        out.push_str("---\n");
        out.push_str(&o.to_yaml()?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The files of the bundle: (file name, text), kustomization.yaml last.
pub fn files(bundle: &Bundle, namespace: Option<&str>) -> Result<Vec<(String, String)>, KubeError> {
    let mut out = Vec::new();
    for o in &bundle.objects {
        out.push((o.file_name(), o.to_yaml()?));
    }
    let k = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace,
        resources: out.iter().map(|(f, _)| f.clone()).collect(),
    };
    let text = serde_yaml_ng::to_string(&k)
        .map_err(|e| KubeError::Render("kustomization.yaml".into(), e.to_string()))?;
    out.push(("kustomization.yaml".into(), text));
    Ok(out)
}

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct WriteError {
    /// The file or directory.
    pub path: PathBuf,
    /// The error.
    pub source: std::io::Error,
}

/// Writes the files into `dir` (created if missing), each atomically
/// (temp file, fsync, rename), so an interrupted run leaves whole files.
pub fn write_dir(dir: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>, WriteError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(err(&tmp))?;
        f.sync_all().map_err(err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(err(&path))?;
        written.push(path);
    }
    Ok(written)
}
