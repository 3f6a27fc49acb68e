//! Build secrets: what a build is given (`berth build --secret id=X,src=PATH`,
//! compose's `build.secrets`) and how `RUN --mount=type=secret` sees one.
//!
//! A secret's value is read when the RUN that mounts it runs, written to that
//! step's scratch directory (never its upper dir, so never a layer) and bound
//! read-only into the container. Its content is never part of a cache key: as in
//! BuildKit, a changed secret does not invalidate the step.

use std::path::PathBuf;

/// One secret given to a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The id `RUN --mount=type=secret,id=…` names.
    pub id: String,
    /// Where its value comes from.
    pub source: SecretSource,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file's content (`src=PATH`, compose `file:`).
    File(PathBuf),
    /// An environment variable of berth's process (`env=VAR`, compose `environment:`).
    Env(String),
    /// A value resolved by the caller (compose's project environment, `.env`).
    Value(String),
}

/// Why a secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `--secret` was malformed.
    #[error("--secret {spec:?}: {why}")]
    Spec {
        /// The flag's value.
        spec: String,
        /// What is wrong with it.
        why: String,
    },
    /// The secret's file could not be read.
    #[error("secret {id:?}: reading {path}: {source}")]
    Read {
        /// The secret.
        id: String,
        /// Its file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Secret {
    /// Parses `docker buildx build --secret`'s value: `id=X,src=PATH`,
    /// `id=X,env=VAR`, `type=file|env`, `source=` for `src=`; `id=X` alone reads
    /// the variable X when it is set, else the file X.
    pub fn parse(spec: &str) -> Result<Secret, SecretError> {
        let bad = |why: &str| SecretError::Spec {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
        for field in spec.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| bad(&format!("{field:?} is not key=value")))?;
            match k.trim().to_ascii_lowercase().as_str() {
                "id" => id = Some(v.to_string()),
                "type" => kind = Some(v.to_ascii_lowercase()),
                "src" | "source" => src = Some(v.to_string()),
                "env" => env = Some(v.to_string()),
                other => return Err(bad(&format!("unexpected key {other:?}"))),
            }
        }
        let kind = kind.unwrap_or_else(|| {
            if env.is_some() {
                "env".into()
            } else {
                "file".into()
            }
        });
        let id = id
            .or_else(|| src.as_ref().or(env.as_ref()).cloned())
            .filter(|i| !i.is_empty())
            .ok_or_else(|| bad("id is required"))?;
        let source = match kind.as_str() {
            "file" => match src {
                Some(p) => SecretSource::File(PathBuf::from(p)),
                None if std::env::var_os(&id).is_some() => SecretSource::Env(id.clone()),
                None => SecretSource::File(PathBuf::from(&id)),
            },
            "env" => SecretSource::Env(env.or(src).unwrap_or_else(|| id.clone())),
            other => return Err(bad(&format!("unsupported type {other:?} (file or env)"))),
        };
        Ok(Secret { id, source })
    }

    /// The secret's value now, or `None` when its variable is not set.
    pub fn value(&self) -> Result<Option<Vec<u8>>, SecretError> {
        match &self.source {
            SecretSource::File(p) => {
                std::fs::read(p)
                    .map(Some)
                    .map_err(|source| SecretError::Read {
                        id: self.id.clone(),
                        path: p.clone(),
                        source,
                    })
            }
            SecretSource::Env(v) => Ok(std::env::var_os(v).map(|s| {
                use std::os::unix::ffi::OsStringExt;
                s.into_vec()
            })),
            SecretSource::Value(v) => Ok(Some(v.clone().into_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildx_forms() {
        let s = Secret::parse("id=tok,src=/run/tok.txt").unwrap();
        assert_eq!(s.id, "tok");
        assert_eq!(s.source, SecretSource::File("/run/tok.txt".into()));
        let s = Secret::parse("id=tok,env=MY_TOKEN").unwrap();
        assert_eq!(s.source, SecretSource::Env("MY_TOKEN".into()));
        let s = Secret::parse("type=env,id=HOME").unwrap();
        assert_eq!(s.source, SecretSource::Env("HOME".into()));
        let s = Secret::parse("source=/a/b").unwrap();
        assert_eq!(s.id, "/a/b");
        assert!(Secret::parse("id=x,type=ssh").is_err());
        assert!(Secret::parse("src").is_err());
        assert!(Secret::parse("bogus=1,id=x").is_err());
    }

    #[test]
    fn values_from_file_env_and_given() {
        let dir = std::env::temp_dir().join(format!("berth-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("s");
        std::fs::write(&f, "s3cr3t").unwrap();
        let s = Secret {
            id: "a".into(),
            source: SecretSource::File(f),
        };
        assert_eq!(s.value().unwrap().unwrap(), b"s3cr3t");
        let s = Secret {
            id: "b".into(),
            source: SecretSource::Env("BERTH_SURELY_UNSET_VARIABLE".into()),
        };
        assert_eq!(s.value().unwrap(), None);
        let s = Secret {
            id: "c".into(),
            source: SecretSource::Value("v".into()),
        };
        assert_eq!(s.value().unwrap().unwrap(), b"v");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
