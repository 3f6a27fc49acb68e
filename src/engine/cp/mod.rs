//! `cp`: copying files and directories between a service's containers and the
//! local file system, with docker cp's path rules ([`rules`]). The container side
//! runs in a child that sees the container's files ([`enter`]); tar streams
//! ([`tree`], [`extract`]) cross a pipe between the two.

pub mod enter;
pub mod extract;
pub mod rules;
pub mod sys;
pub mod tree;

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use self::enter::{Access, Child};
use self::extract::{extract, Owner};
use self::rules::{CopyInfo, Placement, RuleError};
use self::sys::Root;
use crate::container::list::{find, Found};
use crate::progress::Progress;
use crate::state::Layout;

/// One side of `cp`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local path, or `-` (stdin/stdout).
    Local(String),
    /// `SERVICE:PATH`.
    Service {
        /// The service.
        service: String,
        /// The path in its container.
        path: String,
    },
}

/// Splits `SERVICE:PATH` from a local path, as docker compose does: an absolute
/// path, or one whose part before `:` starts with `.`, is local.
pub fn split_arg(arg: &str) -> Endpoint {
    if arg.starts_with('/') {
        return Endpoint::Local(arg.into());
    }
    match arg.split_once(':') {
        Some((svc, path)) if !svc.starts_with('.') => Endpoint::Service {
            service: svc.into(),
            path: path.into(),
        },
        _ => Endpoint::Local(arg.into()),
    }
}

/// `cp`'s options.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// SRC (`SERVICE:PATH`, a local path, or `-`).
    pub source: String,
    /// DEST (`SERVICE:PATH`, a local path, or `-`).
    pub destination: String,
    /// `--index`: only this replica.
    pub index: Option<u32>,
    /// `--all`: also the containers `run` made.
    pub all: bool,
    /// `-L`: follow a symlink at the end of SRC.
    pub follow_link: bool,
    /// `-a`: keep the source's uid/gid when copying in.
    pub archive: bool,
}

/// The containers a copy goes to (every replica) or comes from (the first), as
/// docker compose picks them; created and exited ones count.
pub fn targets(
    all: Vec<Found>,
    service: &str,
    index: Option<u32>,
    with_oneoff: bool,
    from_service: bool,
) -> Result<Vec<Found>> {
    let mut mine: Vec<Found> = all
        .into_iter()
        .filter(|f| f.record.service == service)
        .collect();
    mine.sort_by_key(|f| (f.record.oneoff, f.record.number));
    if let Some(i) = index {
        return mine
            .into_iter()
            .find(|f| !f.record.oneoff && f.record.number == i)
            .map(|f| vec![f])
            .ok_or_else(|| anyhow!("service {service:?} is not running container #{i}"));
    }
    mine.retain(|f| with_oneoff || !f.record.oneoff);
    if mine.is_empty() {
        bail!("no container found for service {service:?}");
    }
    if from_service {
        mine.truncate(1);
    }
    Ok(mine)
}

/// Runs `cp` for `project`; `services` are the project's services when its file
/// was loaded (to tell a missing service from one without containers).
pub fn copy(
    layout: &Layout,
    project: &str,
    services: Option<&[String]>,
    opts: &CopyOptions,
    progress: impl FnOnce() -> Progress,
) -> Result<()> {
    let (src, dst) = (split_arg(&opts.source), split_arg(&opts.destination));
    let (service, from_service) = match (&src, &dst) {
        (Endpoint::Service { .. }, Endpoint::Service { .. }) => {
            bail!("copying between services is not supported")
        }
        (Endpoint::Local(_), Endpoint::Local(_)) => {
            bail!("unknown copy direction: one of SRC and DEST must be SERVICE:PATH")
        }
        (Endpoint::Service { service, .. }, _) => (service.clone(), true),
        (_, Endpoint::Service { service, .. }) => (service.clone(), false),
    };
    if from_service && opts.all {
        bail!("cannot use the --all flag when copying from a service");
    }
    if services.is_some_and(|s| !s.contains(&service)) {
        bail!("no such service: {service}");
    }
    let found = targets(
        find(&layout.root, Some(project)),
        &service,
        opts.index,
        opts.all,
        from_service,
    )?;
    let cwd = std::env::current_dir()
        .context("reading the current directory")?
        .to_string_lossy()
        .into_owned();
    match (src, dst) {
        (Endpoint::Service { path, .. }, Endpoint::Local(local)) => {
            copy_out(&found[0], &path, &local, &cwd, opts, progress)
        }
        (Endpoint::Local(local), Endpoint::Service { path, .. }) => {
            copy_in(&found, &local, &path, &cwd, opts, progress)
        }
        _ => unreachable!("directions were checked above"),
    }
}

fn not_found(e: RuleError, shown: &str, name: &str) -> anyhow::Error {
    match e {
        RuleError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            anyhow!("Could not find the file {shown} in container {name}")
        }
        e => e.into(),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: pipe2 just gave us these.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What the child says about the source before its archive.
#[derive(Debug, Serialize, Deserialize)]
struct Prelude {
    path: String,
    is_dir: bool,
    rebase: Option<String>,
}

/// Opens the parent directory of `path` and names the entry in it.
fn open_entry(root: &Root, path: &str) -> io::Result<(OwnedFd, CString, String)> {
    let (dir, base) = rules::split_dir_entry(path);
    let (dir, name, top) = if base == "/" {
        ("/".to_string(), ".".to_string(), ".".to_string())
    } else {
        (dir, base.clone(), base)
    };
    let fd = root.open(&dir, libc::O_RDONLY | libc::O_DIRECTORY)?;
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok((fd, name, top))
}

fn copy_out(
    found: &Found,
    path: &str,
    local: &str,
    cwd: &str,
    opts: &CopyOptions,
    progress: impl FnOnce() -> Progress,
) -> Result<()> {
    let name = found.record.name.clone();
    let dst_info = if local == "-" {
        None
    } else {
        let p = rules::local_path(local, cwd);
        Some(
            rules::destination_info(&Root::Host, &p).map_err(|e| match e {
                RuleError::Io { path, source } => anyhow!("{path}: {source}"),
                e => e.into(),
            })?,
        )
    };
    let access = Access::of(found)?;
    let src_path = rules::container_path(path);
    let follow = opts.follow_link;
    let (data_r, data_w) = pipe()?;
    let keep = [data_w.as_raw_fd()];
    let child = Child::spawn(&access, &keep, |root| {
        let info =
            rules::source_info(root, &src_path, follow).map_err(|e| not_found(e, path, &name))?;
        let mut out = File::from(data_w.try_clone()?);
        let prelude = Prelude {
            path: info.path.clone(),
            is_dir: info.is_dir,
            rebase: info.rebase.clone(),
        };
        writeln!(out, "{}", serde_json::to_string(&prelude)?)?;
        let (parent, entry, top) = open_entry(root, &info.path).map_err(|e| {
            not_found(
                RuleError::Io {
                    path: info.path.clone(),
                    source: e,
                },
                path,
                &name,
            )
        })?;
        tree::write_tree(io::BufWriter::new(out), &parent, &entry, &top)?.flush()?;
        Ok(())
    })?;
    drop(data_w);
    let progress = progress();
    let task = progress.task(&format!("Container {name}"), "Copying");
    let mut reader = BufReader::new(File::from(data_r));
    let result = (|| -> Result<()> {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.is_empty() {
            // The child failed before it could say anything; its error tells why.
            return Ok(());
        }
        let p: Prelude = serde_json::from_str(&line).context("reading the copy's header")?;
        let Some(dst) = &dst_info else {
            io::copy(&mut reader, &mut io::stdout().lock()).context("writing to stdout")?;
            return Ok(());
        };
        let src = CopyInfo {
            path: p.path,
            exists: true,
            is_dir: p.is_dir,
            rebase: p.rebase,
        };
        let Placement { dir, renames } = rules::placement(&src, dst)?;
        let dir_fd = Root::Host
            .open(&dir, libc::O_RDONLY | libc::O_DIRECTORY)
            .with_context(|| format!("opening {dir}"))?;
        crate::state::perms::with_caller_umask(|| {
            extract(&mut reader, &dir_fd, &renames, Owner::Caller)
        })
    })();
    // Unblocks a child still writing when the extraction stopped early.
    drop(reader);
    let done = child.wait().and(result);
    match &done {
        Ok(()) => task.done("Copied"),
        Err(e) => task.fail("Error", &crate::report::text(e)),
    }
    done
}

/// Where copied-in content comes from.
enum Source {
    /// A local file or directory.
    Path(CopyInfo),
    /// A tar stream from stdin, read once for every container.
    Stdin(Vec<u8>),
}

fn copy_in(
    found: &[Found],
    local: &str,
    path: &str,
    cwd: &str,
    opts: &CopyOptions,
    progress: impl FnOnce() -> Progress,
) -> Result<()> {
    let source = if local == "-" {
        let mut buf = vec![];
        io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("reading the archive from stdin")?;
        Source::Stdin(buf)
    } else {
        let p = rules::local_path(local, cwd);
        let info = rules::source_info(&Root::Host, &p, opts.follow_link).map_err(|e| match e {
            RuleError::Io { path, source } => anyhow!("{path}: {source}"),
            e => e.into(),
        })?;
        Source::Path(info)
    };
    let owner = if opts.archive {
        Owner::Archive
    } else {
        Owner::Root
    };
    let dst_path = rules::container_path(path);
    // Every child is forked before anything else runs: the progress display starts
    // threads, and a fork must happen while berth is single-threaded.
    let mut children = vec![];
    for f in found {
        let access = Access::of(f)?;
        let (data_r, data_w) = pipe()?;
        let keep = [data_r.as_raw_fd()];
        let name = f.record.name.clone();
        let src_info = match &source {
            Source::Path(i) => Some(i.clone()),
            Source::Stdin(_) => None,
        };
        let child = Child::spawn(&access, &keep, |root| {
            let dst =
                rules::destination_info(root, &dst_path).map_err(|e| not_found(e, path, &name))?;
            let placement = match &src_info {
                None if dst.exists && dst.is_dir => Placement {
                    dir: dst.path.clone(),
                    renames: vec![],
                },
                None => bail!("destination \"{name}:{path}\" must be a directory"),
                Some(src) => rules::placement(src, &dst)?,
            };
            let dir = root
                .open(&placement.dir, libc::O_RDONLY | libc::O_DIRECTORY)
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ENOENT) => anyhow!(
                        "Could not find the file {} in container {name}",
                        placement.dir
                    ),
                    Some(libc::ENOTDIR) => anyhow!("extraction point is not a directory"),
                    _ => anyhow!(e).context(format!("opening {}", placement.dir)),
                })?;
            let input = io::BufReader::new(File::from(data_r.try_clone()?));
            extract(input, &dir, &placement.renames, owner)
        })?;
        drop(data_r);
        children.push((name, child, data_w, access));
    }
    let progress = progress();
    let mut first_error = None;
    for (name, child, data_w, _access) in children {
        let task = progress.task(&format!("Container {name}"), "Copying");
        let mut out = io::BufWriter::new(File::from(data_w));
        let sent: Result<()> = match &source {
            Source::Stdin(buf) => out.write_all(buf).map_err(Into::into),
            Source::Path(info) => (|| {
                let (parent, entry, top) = open_entry(&Root::Host, &info.path)
                    .with_context(|| format!("opening {}", info.path))?;
                tree::write_tree(&mut out, &parent, &entry, &top)?;
                Ok(())
            })(),
        };
        let sent = sent.and_then(|_| out.flush().map_err(Into::into));
        drop(out);
        // The child's own error says more than a broken pipe here.
        let done = child.wait().and(sent);
        match done {
            Ok(()) => task.done("Copied"),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_like_docker_compose() {
        let svc = |s: &str, p: &str| Endpoint::Service {
            service: s.into(),
            path: p.into(),
        };
        assert_eq!(split_arg("web:/etc/hosts"), svc("web", "/etc/hosts"));
        assert_eq!(split_arg("web:rel"), svc("web", "rel"));
        assert_eq!(split_arg("/abs:x"), Endpoint::Local("/abs:x".into()));
        assert_eq!(split_arg("./a:b"), Endpoint::Local("./a:b".into()));
        assert_eq!(split_arg("file"), Endpoint::Local("file".into()));
        assert_eq!(split_arg("-"), Endpoint::Local("-".into()));
    }
}
