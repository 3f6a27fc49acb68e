//! Extracting a tar stream into a directory held by descriptor, as docker's
//! untar does for `cp`: existing directories are merged, anything else at a name
//! is replaced (never written through: a symlink, fifo or device in the way is
//! unlinked first), a directory never replaces a file nor a file a directory.
//! Every name is walked one component at a time without following symlinks, so
//! an archive cannot lead out of the destination either.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{anyhow, bail, Context as _, Result};

use super::rules::Kind;
use super::sys::{
    kind_of, link_at, lstat_at, mkdir_at, mknod_at, open_at, set_meta, symlink_at, unlink_at,
};

/// Who owns what is extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The user running berth (copying out: docker does not chown).
    Caller,
    /// Root, 0:0 (copying in without `-a`).
    Root,
    /// The uid and gid the archive carries (`-a`).
    Archive,
}

/// The components of an archive name after the top-level renames; `..` refused.
pub fn entry_components(name: &[u8], renames: &[(String, String)]) -> Result<Vec<OsString>> {
    let mut comps: Vec<OsString> = vec![];
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => bail!(
                "archive entry {:?} leaves the destination",
                String::from_utf8_lossy(name)
            ),
            c => comps.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    for (old, new) in renames {
        if old == "." || old == "/" {
            comps.insert(0, OsString::from(new));
        } else if comps.first().is_some_and(|c| c == OsStr::new(old)) {
            comps[0] = OsString::from(new);
        }
        comps.retain(|c| c != "." && !c.is_empty());
    }
    Ok(comps)
}

fn cname(c: &OsStr) -> Result<CString> {
    CString::new(c.as_bytes()).map_err(|_| anyhow!("a name in the archive holds a NUL byte"))
}

/// Opens the directory `comps` under `dest`, creating missing ones when `create`.
fn walk(dest: &OwnedFd, comps: &[OsString], create: bool) -> Result<OwnedFd> {
    let mut dir = dest.try_clone()?;
    for c in comps {
        let n = cname(c)?;
        if create && lstat_at(dir.as_raw_fd(), &n)?.is_none() {
            mkdir_at(dir.as_raw_fd(), &n, 0o755)
                .or_else(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .with_context(|| format!("creating directory {}", c.to_string_lossy()))?;
        }
        dir =
            open_at(dir.as_raw_fd(), &n, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(
                |e| match e.raw_os_error() {
                    Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                        anyhow!("{} is not a directory", c.to_string_lossy())
                    }
                    _ => anyhow!(e).context(format!("opening {}", c.to_string_lossy())),
                },
            )?;
    }
    Ok(dir)
}

/// A directory's path, owner, mode and mtime, applied once the archive is in.
type DirMeta = (Vec<OsString>, Option<(u32, u32)>, u32, i64);

/// Extracts `input` into `dest`, renaming top-level names as `renames` says.
pub fn extract(
    input: impl Read,
    dest: &OwnedFd,
    renames: &[(String, String)],
    owner: Owner,
) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    // Directories get their mode and mtime last: adding entries changes the mtime.
    let mut dirs: Vec<DirMeta> = vec![];
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let comps = entry_components(&raw, renames)?;
        let h = entry.header();
        let kind = h.entry_type();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0) as i64;
        let ids = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
        let owner_ids = match owner {
            Owner::Caller => None,
            Owner::Root => Some((0, 0)),
            Owner::Archive => Some(ids),
        };
        let Some((last, parents)) = comps.split_last() else {
            // The destination directory itself (`.`): kept as it is, as docker does.
            continue;
        };
        let parent = walk(dest, parents, true).with_context(|| format!("extracting {shown}"))?;
        let p = parent.as_raw_fd();
        let name = cname(last)?;
        let is_dir_entry = kind == tar::EntryType::Directory;
        if let Some(st) = lstat_at(p, &name)? {
            let existing_dir = kind_of(&st) == Kind::Dir;
            if existing_dir && !is_dir_entry {
                bail!("cannot overwrite directory {shown:?} with non-directory");
            }
            if !existing_dir && is_dir_entry {
                bail!("cannot overwrite non-directory {shown:?} with directory");
            }
            if !existing_dir {
                unlink_at(p, &name).with_context(|| format!("replacing {shown}"))?;
            }
        }
        let made = |r: io::Result<()>| r.with_context(|| format!("extracting {shown}"));
        match kind {
            tar::EntryType::Directory => {
                if lstat_at(p, &name)?.is_none() {
                    made(mkdir_at(p, &name, 0o700))?;
                }
                dirs.push((comps.clone(), owner_ids, mode, mtime));
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = open_at(
                    p,
                    &name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                    0o600,
                )
                .with_context(|| format!("extracting {shown}"))?;
                let mut f = std::fs::File::from(fd);
                io::copy(&mut entry, &mut f).with_context(|| format!("writing {shown}"))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("symlink {shown} has no target"))?;
                made(symlink_at(OsStr::from_bytes(&target), p, &name))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("hard link {shown} has no target"))?;
                let tcomps = entry_components(&target, renames)?;
                let (tlast, tparents) = tcomps
                    .split_last()
                    .ok_or_else(|| anyhow!("hard link {shown} points at the destination"))?;
                let tdir = walk(dest, tparents, false)
                    .with_context(|| format!("hard link {shown}: its target"))?;
                made(link_at(tdir.as_raw_fd(), &cname(tlast)?, p, &name))?;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let t = match kind {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let dev = libc::makedev(
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                made(mknod_at(p, &name, t | 0o600, dev))?;
            }
            // pax and GNU long-name records are read by the tar crate itself; other
            // kinds have nothing to put on disk.
            _ => continue,
        }
        let mode = (kind != tar::EntryType::Symlink).then_some(mode);
        made(set_meta(p, &name, owner_ids, mode, mtime))?;
    }
    for (comps, owner_ids, mode, mtime) in dirs.iter().rev() {
        let Some((last, parents)) = comps.split_last() else {
            continue;
        };
        let parent = walk(dest, parents, false)?;
        set_meta(
            parent.as_raw_fd(),
            &cname(last)?,
            *owner_ids,
            Some(*mode),
            *mtime,
        )
        .with_context(|| format!("setting the metadata of {}", last.to_string_lossy()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(name: &str, renames: &[(&str, &str)]) -> Vec<String> {
        let r: Vec<(String, String)> = renames
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        entry_components(name.as_bytes(), &r)
            .unwrap()
            .into_iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn renames_apply_to_the_top_name_only() {
        assert_eq!(comps("f", &[("f", "new")]), ["new"]);
        assert_eq!(comps("d/d/x", &[("d", "n")]), ["n", "d", "x"]);
        assert_eq!(comps("other", &[("d", "n")]), ["other"]);
        // A directory's contents (`dir/.`) land under the new name.
        assert_eq!(comps(".", &[(".", "n")]), ["n"]);
        assert_eq!(comps("a/b", &[(".", "n")]), ["n", "a", "b"]);
        // -L's rename, then the destination's.
        assert_eq!(comps("d/x", &[("d", "link"), ("link", "n")]), ["n", "x"]);
        // Into the destination itself.
        assert!(comps("./", &[]).is_empty());
        assert!(entry_components(b"../etc/passwd", &[]).is_err());
        assert!(entry_components(b"a/../../x", &[]).is_err());
    }

    #[test]
    fn extracts_and_never_writes_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("f")).unwrap();
        let mut b = tar::Builder::new(vec![]);
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o640);
        h.set_size(3);
        h.set_mtime(1_000_000);
        b.append_data(&mut h, "f", &b"new"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o750);
        h.set_size(0);
        b.append_data(&mut h, "d", io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        b.append_link(&mut h, "d/hard", "f").unwrap();
        let data = b.into_inner().unwrap();
        let fd: OwnedFd = std::fs::File::open(&dest).unwrap().into();
        extract(&data[..], &fd, &[], Owner::Caller).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(dest.join("f")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(dest.join("d/hard")).unwrap(), "new");
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata(dest.join("f")).unwrap();
        assert_eq!(
            (m.permissions().mode() & 0o7777, m.mtime()),
            (0o640, 1_000_000)
        );
        assert_eq!(m.nlink(), 2);
        let d = std::fs::metadata(dest.join("d")).unwrap();
        assert_eq!(d.permissions().mode() & 0o7777, 0o750);
    }
}
