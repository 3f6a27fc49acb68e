//! `RUN --mount=` as runtime mounts: the parser's [`Mount`] (BuildKit's keys,
//! defaults and checks) turned into binds and tmpfs for one RUN, plus what of
//! each mount enters the step's cache key (where it is, never a cache's or a
//! secret's content, nor an ssh id's keys).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::context::{self, Context};
use super::dockerfile::{Mount, MountSpec as RawMount, MountType};
use super::secrets::Secret;
use super::ssh;
use super::vars::Scope;
use crate::image::digest::Digest;
use crate::spec::MountSpec;

/// The mounts of one RUN, before its scratch directory exists.
#[derive(Debug, Default)]
pub struct Mounts {
    /// Binds and tmpfs ready to use.
    specs: Vec<MountSpec>,
    /// What enters the cache key, one string per mount.
    pub key: Vec<String>,
    /// Secret files to write into the scratch dir and bind read-only.
    files: Vec<SecretFile>,
    /// `KEY=value` of secrets exposed as variables (`env=`).
    pub env: Vec<String>,
    /// Agent sockets to serve while the step runs.
    ssh: Vec<SshMount>,
    /// Where the first ssh mount is: the step's `SSH_AUTH_SOCK` (BuildKit sets
    /// it even when an optional id was not given and nothing is mounted).
    pub ssh_auth_sock: Option<String>,
    /// How many ssh mounts came so far (given or not).
    ssh_seen: usize,
}

#[derive(Debug)]
struct SshMount {
    target: String,
    source: ssh::Source,
    mode: u32,
    uid: u32,
    gid: u32,
}

#[derive(Debug)]
struct SecretFile {
    target: String,
    value: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Where RUN mounts come from.
pub struct Sources<'a> {
    /// The build context (bind mounts).
    pub ctx: &'a Context,
    /// The state root (cache mounts live under `build/mounts`).
    pub root: &'a Path,
    /// The build's secrets.
    pub secrets: &'a [Secret],
    /// The build's ssh ids.
    pub ssh: &'a [ssh::Source],
    /// The step's working directory (relative targets are under it).
    pub cwd: &'a str,
}

/// Resolves every `--mount=` value of a RUN.
pub fn prepare(raw: &[String], scope: &Scope, src: &Sources) -> Result<Mounts, String> {
    let mut out = Mounts::default();
    for r in raw {
        let spec = RawMount::validate(r).map_err(|e| format!("--mount={r}: {e}"))?;
        let m = spec
            .resolve(scope.escape, &|n| scope.get(n))
            .map_err(|e| format!("--mount={r}: {e}"))?;
        one(&mut out, r, &m, src)?;
    }
    Ok(out)
}

fn absolute(target: &str, cwd: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), target)
    }
}

fn one(out: &mut Mounts, raw: &str, m: &Mount, src: &Sources) -> Result<(), String> {
    let target = m.target.as_deref().filter(|t| !t.is_empty());
    let need_target = || {
        target
            .map(|t| absolute(t, src.cwd))
            .ok_or_else(|| format!("--mount={raw}: target is required"))
    };
    match m.kind {
        MountType::Cache => {
            let target = need_target()?;
            let id = m.id.clone().unwrap_or_else(|| target.clone());
            let dir = src
                .root
                .join("build/mounts")
                .join(Digest::of(id.as_bytes()).hex());
            fs::create_dir_all(&dir).map_err(|e| format!("cache mount {id}: {e}"))?;
            out.specs.push(MountSpec::Bind {
                source: dir,
                target: target.clone(),
                read_only: false,
                propagation: None,
            });
            // The cache's content is never in the key, only where it is.
            out.key.push(format!("cache:{target}"));
        }
        MountType::Tmpfs => {
            let target = need_target()?;
            out.specs.push(MountSpec::Tmpfs {
                target: target.clone(),
                size: m.size,
                mode: None,
            });
            out.key.push(format!("tmpfs:{target}:{:?}", m.size));
        }
        MountType::Bind => {
            let target = need_target()?;
            if m.from.is_some() {
                return Err(format!(
                    "--mount={raw}: bind mounts from another stage or image are not supported yet"
                ));
            }
            if !m.readonly {
                return Err(format!(
                    "--mount={raw}: read-write bind mounts are not supported yet"
                ));
            }
            let rel = context::clean_rel(m.source.as_deref().unwrap_or(""));
            let sel = src.ctx.select(&rel).map_err(|e| e.to_string())?;
            let digest = src.ctx.selection_digest(&sel).map_err(|e| e.to_string())?;
            out.specs.push(MountSpec::Bind {
                source: src.ctx.root().join(&rel),
                target: target.clone(),
                read_only: true,
                propagation: None,
            });
            out.key.push(format!("bind:{rel}:{target}:{digest}"));
        }
        MountType::Secret => secret(out, m, src)?,
        MountType::Ssh => ssh_mount(out, raw, m, src)?,
    }
    Ok(())
}

/// `type=ssh`. Its default target is `/run/buildkit/ssh_agent.<N>`, N counting
/// the RUN's ssh mounts from 0, as BuildKit numbers them.
fn ssh_mount(out: &mut Mounts, raw: &str, m: &Mount, src: &Sources) -> Result<(), String> {
    let index = out.ssh_seen;
    out.ssh_seen += 1;
    if m.source.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(format!("--mount={raw}: ssh does not support source"));
    }
    let id =
        m.id.clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| ssh::DEFAULT_ID.to_string());
    let target = match m.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => absolute(t, src.cwd),
        None => format!("/run/buildkit/ssh_agent.{index}"),
    };
    let (mode, uid, gid) = (
        m.mode.unwrap_or(0o600),
        m.uid.unwrap_or(0),
        m.gid.unwrap_or(0),
    );
    // The id and where it is mounted, never the keys: other keys for the same id
    // do not invalidate the step (BuildKit keys the ExecOp's SSHOpt).
    out.key.push(format!(
        "ssh:{id}:{target}:{mode:o}:{uid}:{gid}:{}",
        m.required
    ));
    out.ssh_auth_sock.get_or_insert_with(|| target.clone());
    match src.ssh.iter().find(|s| s.id == id) {
        Some(source) => out.ssh.push(SshMount {
            target,
            source: source.clone(),
            mode,
            uid,
            gid,
        }),
        None if m.required => {
            return Err(format!(
                "no SSH key {id:?} forwarded: the mount requires it (give it with \
                 `berth build --ssh {id}=KEYFILE|SOCKET` or compose build.ssh)"
            ))
        }
        // Not required: the step runs without the socket.
        None => {}
    }
    Ok(())
}

fn secret(out: &mut Mounts, m: &Mount, src: &Sources) -> Result<(), String> {
    // BuildKit: `source` is an alias of `id`; both default to the target's basename.
    let id =
        m.id.clone()
            .or_else(|| m.source.clone())
            .filter(|i| !i.is_empty())
            .or_else(|| {
                m.target
                    .as_deref()
                    .and_then(|t| Path::new(t).file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .ok_or("secret mount: one of id, source or target is required")?;
    let value = match src.secrets.iter().find(|s| s.id == id) {
        Some(s) => s.value().map_err(|e| e.to_string())?,
        None => None,
    };
    let target = match (&m.target, &m.env) {
        (Some(t), _) if !t.is_empty() => Some(absolute(t, src.cwd)),
        // `env=` alone: a variable only, no file.
        (_, Some(_)) => None,
        _ => Some(format!("/run/secrets/{id}")),
    };
    let (mode, uid, gid) = (
        m.mode.unwrap_or(0o400),
        m.uid.unwrap_or(0),
        m.gid.unwrap_or(0),
    );
    // Where and how, never what: a changed secret does not invalidate the step.
    out.key.push(format!(
        "secret:{id}:{}:{}:{mode:o}:{uid}:{gid}",
        target.as_deref().unwrap_or(""),
        m.env.as_deref().unwrap_or("")
    ));
    let Some(value) = value else {
        if m.required {
            return Err(format!(
                "secret {id} not found: it is required (give it with \
                 `berth build --secret id={id},src=FILE` or compose build.secrets)"
            ));
        }
        return Ok(());
    };
    if let Some(name) = &m.env {
        out.env
            .push(format!("{name}={}", String::from_utf8_lossy(&value)));
    }
    if let Some(target) = target {
        out.files.push(SecretFile {
            target,
            value,
            mode,
            uid,
            gid,
        });
    }
    Ok(())
}

impl Mounts {
    /// Starts serving the ssh agent sockets under `dir` (the step's scratch
    /// directory, in a private 0700 directory); they stop and disappear when the
    /// returned guards drop. Returns the binds to add to the step's mounts.
    pub fn serve_ssh(&self, dir: &Path) -> io::Result<(Vec<MountSpec>, Vec<ssh::serve::Served>)> {
        let mut specs = vec![];
        let mut served = vec![];
        for (n, m) in self.ssh.iter().enumerate() {
            let s = ssh::serve::serve(
                &m.source,
                &dir.join("ssh"),
                &format!("agent.{n}"),
                m.mode,
                m.uid,
                m.gid,
            )?;
            specs.push(MountSpec::Bind {
                source: s.socket.clone(),
                target: m.target.clone(),
                read_only: false,
                propagation: None,
            });
            served.push(s);
        }
        Ok((specs, served))
    }

    /// The runtime mounts, the secret files written under `dir` (the step's
    /// scratch directory, removed with it; never its upper dir).
    pub fn materialize(self, dir: &Path) -> io::Result<Vec<MountSpec>> {
        let mut specs = self.specs;
        if self.files.is_empty() {
            return Ok(specs);
        }
        let sdir = dir.join("secrets");
        fs::create_dir(&sdir)?;
        fs::set_permissions(&sdir, fs::Permissions::from_mode(0o700))?;
        for (n, f) in self.files.into_iter().enumerate() {
            let path: PathBuf = sdir.join(n.to_string());
            fs::write(&path, &f.value)?;
            std::os::unix::fs::chown(&path, Some(f.uid), Some(f.gid))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(f.mode))?;
            specs.push(MountSpec::Bind {
                source: path,
                target: f.target,
                read_only: true,
                propagation: None,
            });
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_mounts_number_their_targets_and_key_ids_not_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path(), Box::new(context::NothingExcluded), None).unwrap();
        let (env, args) = (vec![], indexmap::IndexMap::new());
        let scope = Scope {
            env: &env,
            args: &args,
            escape: '\\',
        };
        let given = [ssh::Source {
            id: "a".into(),
            kind: ssh::Kind::Keys(Default::default()),
        }];
        let src = Sources {
            ctx: &ctx,
            root: dir.path(),
            secrets: &[],
            ssh: &given,
            cwd: "/w",
        };
        let raw = [
            "type=ssh".to_string(),
            "type=ssh,id=a,target=s,mode=0640".into(),
        ];
        let m = prepare(&raw, &scope, &src).unwrap();
        // The first mount names SSH_AUTH_SOCK even though no `default` was given.
        assert_eq!(
            m.ssh_auth_sock.as_deref(),
            Some("/run/buildkit/ssh_agent.0")
        );
        assert_eq!(
            m.key,
            [
                "ssh:default:/run/buildkit/ssh_agent.0:600:0:0:false",
                "ssh:a:/w/s:640:0:0:false"
            ]
        );
        assert_eq!(m.ssh.len(), 1);
        assert_eq!(m.ssh[0].target, "/w/s");
        let e = prepare(&["type=ssh,id=b,required".into()], &scope, &src).unwrap_err();
        assert!(e.contains("\"b\""), "{e}");
        let e = prepare(&["type=ssh,source=x".into()], &scope, &src).unwrap_err();
        assert!(e.contains("ssh does not support source"), "{e}");
    }
}
