//! COPY and ADD into the step's root, held by descriptor.
//!
//! The sources (context or another stage's root) become a tar stream that the
//! same extractor `berth cp` uses writes into the destination: every name is
//! walked one component at a time without following symlinks, the destination
//! directory itself is resolved with openat2(RESOLVE_IN_ROOT), so neither the
//! context nor the image can lead a write out of the root.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use berth_runtime::syscall::raw::open_in_root;

use super::context::{Entry, Kind};
use crate::engine::cp::extract::{extract, Owner};
use crate::engine::cp::sys::{fstat, kind_of, mkdir_at};

/// Owner and mode applied to what is copied.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    /// `--chown` ids (0:0 without it).
    pub owner: (u32, u32),
    /// `--chmod` bits, replacing the source's.
    pub chmod: Option<u32>,
}

/// Parses `--chmod`: octal only (symbolic modes are refused with a clear error).
pub fn parse_chmod(s: &str) -> Result<u32> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => bail!("invalid --chmod={s}: expected an octal mode up to 7777"),
    }
}

/// Reads a file of the root (resolved inside it), empty when missing.
pub fn read_in_root(root: &OwnedFd, path: &str) -> String {
    match open_in_root(root.as_raw_fd(), Path::new(path), libc::O_RDONLY, 0) {
        Ok(fd) => {
            let mut s = String::new();
            let _ = fs::File::from(fd).read_to_string(&mut s);
            s
        }
        Err(_) => String::new(),
    }
}

/// Resolves `user[:group]` for `--chown` against the root's /etc/passwd and /etc/group.
/// A user without a group gets gid = uid, as the Dockerfile reference says.
pub fn resolve_chown(root: &OwnedFd, spec: &str) -> Result<(u32, u32)> {
    let passwd = read_in_root(root, "/etc/passwd");
    let group = read_in_root(root, "/etc/group");
    let id = berth_runtime::user::resolve(spec, &passwd, &group)
        .map_err(|e| anyhow!("--chown={spec}: {e}"))?;
    if spec.contains(':') {
        Ok((id.uid, id.gid))
    } else {
        Ok((id.uid, id.uid))
    }
}

/// Creates `path` (absolute, inside the root) and its missing parents with mode
/// 0755 owned by `owner`; returns the directory.
pub fn mkdir_p(root: &OwnedFd, path: &str, owner: (u32, u32)) -> Result<OwnedFd> {
    let mut dir = open_in_root(
        root.as_raw_fd(),
        Path::new("/"),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )?;
    let mut sofar = String::new();
    for c in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        sofar.push('/');
        sofar.push_str(c);
        match open_in_root(
            root.as_raw_fd(),
            Path::new(&sofar),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        ) {
            Ok(d) => dir = d,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let name = CString::new(c).map_err(|_| anyhow!("NUL in path {path}"))?;
                mkdir_at(dir.as_raw_fd(), &name, 0o755)
                    .or_else(|e| {
                        if e.kind() == io::ErrorKind::AlreadyExists {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .with_context(|| format!("creating {sofar}"))?;
                // SAFETY: fchownat on a name in a directory we hold, not following links.
                unsafe {
                    libc::fchownat(
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        owner.0,
                        owner.1,
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                };
                dir = open_in_root(
                    root.as_raw_fd(),
                    Path::new(&sofar),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )
                .with_context(|| format!("opening {sofar}"))?;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                bail!("{sofar} is not a directory")
            }
            Err(e) => return Err(anyhow!(e).context(format!("opening {sofar}"))),
        }
    }
    Ok(dir)
}

/// Whether `path` inside the root is an existing directory (following links inside).
pub fn is_dir_in_root(root: &OwnedFd, path: &str) -> bool {
    open_in_root(root.as_raw_fd(), Path::new(path), libc::O_PATH, 0)
        .ok()
        .and_then(|fd| fstat(&fd).ok())
        .is_some_and(|st| kind_of(&st) == crate::engine::cp::rules::Kind::Dir)
}

/// One thing to write: a source entry under a name relative to the extraction dir.
struct Item<'a> {
    name: String,
    entry: &'a Entry,
}

fn header(e: &Entry, kind: tar::EntryType, meta: &Meta) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    let mode = if kind == tar::EntryType::Symlink {
        0o777
    } else {
        meta.chmod.unwrap_or(e.mode)
    };
    h.set_mode(mode);
    h.set_uid(meta.owner.0 as u64);
    h.set_gid(meta.owner.1 as u64);
    h.set_mtime(e.mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn write_items(items: &[Item], meta: &Meta, w: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    for it in items {
        let e = it.entry;
        match e.kind {
            Kind::Dir => {
                let mut h = header(e, tar::EntryType::Directory, meta);
                b.append_data(&mut h, format!("{}/", it.name), io::empty())?;
            }
            Kind::Symlink => {
                let mut h = header(e, tar::EntryType::Symlink, meta);
                b.append_link(&mut h, &it.name, e.link.as_deref().unwrap_or(""))?;
            }
            Kind::File => {
                if e.nlink > 1 {
                    if let Some(first) = links.get(&e.ino) {
                        let mut h = header(e, tar::EntryType::Link, meta);
                        b.append_link(&mut h, &it.name, first)?;
                        continue;
                    }
                    links.insert(e.ino, it.name.clone());
                }
                let f = open_nofollow(&e.path)?;
                let len = f.metadata()?.len();
                let mut h = header(e, tar::EntryType::Regular, meta);
                h.set_size(len);
                b.append_data(&mut h, &it.name, f.take(len))?;
            }
            Kind::Other => {}
        }
    }
    b.into_inner()?.flush()
}

fn open_nofollow(p: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
}

fn stream_into(dest: &OwnedFd, items: &[Item], meta: &Meta) -> Result<()> {
    let (r, w) = super::sandbox::pipe()?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || write_items(items, meta, w));
        let res = extract(
            BufReader::with_capacity(256 * 1024, r),
            dest,
            &[],
            Owner::Archive,
        );
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("copy thread panicked")));
        res?;
        produced.context("reading the sources")?;
        Ok(())
    })
}

/// What one COPY/ADD writes: each matched source with what lies below it.
pub struct Plan<'a> {
    /// Matches and their trees.
    pub matches: &'a [(Entry, Vec<Entry>)],
    /// Absolute destination as written (a trailing `/` means a directory).
    pub dest: &'a str,
    /// Several sources or a wildcard: the destination is a directory.
    pub dest_is_dir: bool,
    /// ADD: extract local tar archives.
    pub add: bool,
    /// Owner and mode.
    pub meta: Meta,
    /// Owner of directories created for the destination.
    pub dir_owner: (u32, u32),
}

/// Writes the plan into the root.
pub fn copy(root: &OwnedFd, plan: &Plan) -> Result<()> {
    let dest = plan.dest;
    let dest_dir_form = dest.ends_with('/') || plan.dest_is_dir;
    let dest_clean = crate::build::context::clean_rel(dest);
    let dest_abs = format!("/{dest_clean}");
    for (top, below) in plan.matches {
        if top.kind == Kind::Dir {
            let dir = mkdir_p(root, &dest_abs, plan.dir_owner)?;
            let prefix = if top.rel.is_empty() {
                String::new()
            } else {
                format!("{}/", top.rel)
            };
            let items: Vec<Item> = below
                .iter()
                .map(|e| Item {
                    name: e.rel.strip_prefix(&prefix).unwrap_or(&e.rel).to_string(),
                    entry: e,
                })
                .collect();
            stream_into(&dir, &items, &plan.meta)
                .with_context(|| format!("copying {} to {dest}", show(&top.rel)))?;
            continue;
        }
        let base = top.rel.rsplit('/').next().unwrap_or(&top.rel).to_string();
        if plan.add && top.kind == Kind::File && is_archive(&top.path)? {
            let dir = mkdir_p(root, &dest_abs, plan.dir_owner)?;
            let f = fs::File::open(&top.path)?;
            let plain = crate::image::unpack::decompress(f)?;
            extract(plain, &dir, &[], Owner::Archive)
                .with_context(|| format!("extracting {} to {dest}", top.rel))?;
            continue;
        }
        let (dir_path, name) = if dest_dir_form || is_dir_in_root(root, &dest_abs) {
            (dest_abs.clone(), base)
        } else {
            let (d, n) = dest_abs.rsplit_once('/').unwrap_or(("", &dest_abs));
            (
                if d.is_empty() {
                    "/".into()
                } else {
                    d.to_string()
                },
                n.to_string(),
            )
        };
        let dir = mkdir_p(root, &dir_path, plan.dir_owner)?;
        let items = [Item { name, entry: top }];
        stream_into(&dir, &items, &plan.meta)
            .with_context(|| format!("copying {} to {dest}", show(&top.rel)))?;
    }
    Ok(())
}

fn show(rel: &str) -> &str {
    if rel.is_empty() {
        "."
    } else {
        rel
    }
}

/// Whether a file is a tar archive (plain, gzip, bzip2? no: gzip, zstd, plain),
/// judged by content as ADD does, not by name.
fn is_archive(p: &Path) -> Result<bool> {
    let f = fs::File::open(p)?;
    let mut r = BufReader::new(f);
    let head = r.fill_buf()?.to_vec();
    if head.is_empty() {
        return Ok(false);
    }
    let f = fs::File::open(p)?;
    let mut plain = match crate::image::unpack::decompress(f) {
        Ok(x) => x,
        Err(_) => return Ok(false),
    };
    let mut block = vec![0u8; 512];
    let mut got = 0;
    while got < 512 {
        match plain.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return Ok(false),
        }
    }
    Ok(got == 512 && &block[257..262] == b"ustar")
}
