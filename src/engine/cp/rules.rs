//! docker cp's path rules, without any file system of their own: what a source
//! is, what a destination is (following its symlinks), and from the two, which
//! directory the archive is extracted into under which top-level name. The same
//! rules serve the host side and the container side through [`Lookup`].

use std::io;

/// What a path names, without following a last symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, fifo or socket.
    Special,
}

/// The file system questions the rules ask; the host and a container answer them.
pub trait Lookup {
    /// What `path` is, not following a last symlink.
    fn lstat(&self, path: &str) -> io::Result<Kind>;
    /// What `path` is, following symlinks.
    fn stat(&self, path: &str) -> io::Result<Kind>;
    /// A symlink's target.
    fn readlink(&self, path: &str) -> io::Result<String>;
}

/// Errors of the path rules, worded as docker words them.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A directory cannot replace an existing file.
    #[error("cannot copy directory {src:?} onto the existing file {dst:?}")]
    CannotCopyDir {
        /// The source.
        src: String,
        /// The destination.
        dst: String,
    },
    /// A trailing `/` asserts a directory that does not exist, and the source is a file.
    #[error("no such directory: {0:?} (a trailing '/' means an existing directory)")]
    DirNotExists(String),
    /// A path used as a directory is not one.
    #[error("not a directory: {0}")]
    NotDirectory(String),
    /// A symlink chain too long to follow.
    #[error("too many symlinks in {0}")]
    TooManySymlinks(String),
    /// The destination exists but is neither a directory nor a regular file.
    #[error("destination {0:?} must be a directory or a regular file")]
    NotDirOrFile(String),
    /// A file system error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &str) -> impl FnOnce(io::Error) -> RuleError + '_ {
    move |source| {
        if source.raw_os_error() == Some(libc::ENOTDIR) {
            RuleError::NotDirectory(path.to_string())
        } else {
            RuleError::Io {
                path: path.to_string(),
                source,
            }
        }
    }
}

/// One side of a copy, as docker's `archive.CopyInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyInfo {
    /// The path (absolute, with a trailing `/` or `/.` kept).
    pub path: String,
    /// Whether it exists.
    pub exists: bool,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// The top-level name the archive should carry instead of the path's base
    /// (after `-L` followed a symlink).
    pub rebase: Option<String>,
}

/// Where an archive is extracted, and the top-level renames applied on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory the archive is extracted into.
    pub dir: String,
    /// `(old, new)` top-level names, applied in order.
    pub renames: Vec<(String, String)>,
}

/// Whether the path names a directory's contents (`dir/.`, `.`).
pub fn specifies_current_dir(p: &str) -> bool {
    p == "." || p.ends_with("/.")
}

/// Whether the path ends in a separator.
pub fn has_trailing_separator(p: &str) -> bool {
    p.len() > 1 && p.ends_with('/')
}

/// Whether the path can only name a directory.
pub fn asserts_directory(p: &str) -> bool {
    has_trailing_separator(p) || specifies_current_dir(p)
}

/// Lexical clean, as Go's `filepath.Clean`.
pub fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut out: Vec<&str> = vec![];
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Keeps a trailing `/.` or `/` of `original` on the cleaned path.
pub fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut out = cleaned.to_string();
    if specifies_current_dir(original) && !specifies_current_dir(&out) {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push('.');
    }
    if has_trailing_separator(original) && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// A container path: relative paths are relative to `/`, as the docker daemon has it.
pub fn container_path(p: &str) -> String {
    preserve_trailing(&clean(&format!("/{p}")), p)
}

/// A local path made absolute against `cwd`, as docker's `resolveLocalPath`.
pub fn local_path(p: &str, cwd: &str) -> String {
    let joined = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{cwd}/{p}")
    };
    preserve_trailing(&clean(&joined), p)
}

/// The directory and the entry in it that `path` names (`/a/b/.` → `/a/b`, `.`).
pub fn split_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned = if cleaned == "/" {
            "/.".into()
        } else {
            format!("{cleaned}/.")
        };
    }
    match cleaned.rfind('/') {
        Some(0) if cleaned.len() == 1 => ("/".into(), "/".into()),
        Some(0) => ("/".into(), cleaned[1..].to_string()),
        Some(i) => (cleaned[..i].to_string(), cleaned[i + 1..].to_string()),
        None => (".".into(), cleaned),
    }
}

fn join_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        clean(target)
    } else {
        let (parent, _) = split_dir_entry(path);
        clean(&format!("{parent}/{target}"))
    }
}

/// The destination, symlinks followed; a missing one needs its parent directory
/// (docker's `CopyInfoDestinationPath`).
pub fn destination_info(fs: &dyn Lookup, path: &str) -> Result<CopyInfo, RuleError> {
    let mut path = path.to_string();
    let mut hops = 0;
    let kind = loop {
        match fs.lstat(&path) {
            Ok(Kind::Symlink) => {
                hops += 1;
                if hops > 10 {
                    return Err(RuleError::TooManySymlinks(path));
                }
                let target = fs.readlink(&path).map_err(io_err(&path))?;
                path = join_link(&path, &target);
            }
            Ok(k) => break Some(k),
            Err(e) if e.kind() == io::ErrorKind::NotFound => break None,
            Err(e) => return Err(io_err(&path)(e)),
        }
    };
    match kind {
        Some(Kind::Special) => Err(RuleError::NotDirOrFile(path)),
        Some(k) => Ok(CopyInfo {
            exists: true,
            is_dir: k == Kind::Dir,
            path,
            rebase: None,
        }),
        None => {
            let (parent, _) = split_dir_entry(&path);
            match fs.stat(&parent).map_err(io_err(&parent))? {
                Kind::Dir => Ok(CopyInfo {
                    path,
                    ..CopyInfo::default()
                }),
                _ => Err(RuleError::NotDirectory(parent)),
            }
        }
    }
}

/// The name to give a followed symlink's target: the link's own (`GetRebaseName`).
pub fn rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let (_, a) = split_dir_entry(path);
    let (_, b) = split_dir_entry(&resolved);
    let rebase = (a != b).then_some(a);
    (resolved, rebase)
}

/// The source: it must exist; with `follow`, a symlink at the end is followed and
/// the archive keeps the link's name. Symlinks above the last component are
/// always followed by the lookup itself.
pub fn source_info(fs: &dyn Lookup, path: &str, follow: bool) -> Result<CopyInfo, RuleError> {
    let mut resolved = path.to_string();
    let mut rebase = None;
    if follow {
        let mut hops = 0;
        while let Ok(Kind::Symlink) = fs.lstat(resolved.trim_end_matches("/.")) {
            hops += 1;
            if hops > 10 {
                return Err(RuleError::TooManySymlinks(path.into()));
            }
            let link = resolved.trim_end_matches("/.").to_string();
            let target = fs.readlink(&link).map_err(io_err(&link))?;
            let (r, b) = rebase_name(path, &join_link(&link, &target));
            resolved = r;
            rebase = rebase.or(b);
        }
    }
    let kind = fs.lstat(&resolved).map_err(io_err(&resolved))?;
    if specifies_current_dir(&resolved) && kind != Kind::Dir {
        return Err(RuleError::NotDirectory(path.into()));
    }
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: kind == Kind::Dir,
        rebase,
    })
}

/// Where to extract and what to rename (docker's `PrepareArchiveCopy`).
pub fn placement(src: &CopyInfo, dst: &CopyInfo) -> Result<Placement, RuleError> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, src_base) = split_dir_entry(&src.path);
    let mut renames = vec![];
    if let Some(r) = &src.rebase {
        renames.push((src_base.clone(), r.clone()));
    }
    let top = src.rebase.clone().unwrap_or(src_base);
    if dst.exists && dst.is_dir {
        return Ok(Placement {
            dir: dst.path.clone(),
            renames,
        });
    }
    if dst.exists && src.is_dir {
        return Err(RuleError::CannotCopyDir {
            src: src.path.clone(),
            dst: dst.path.clone(),
        });
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(RuleError::DirNotExists(dst.path.clone()));
    }
    renames.push((top, dst_base));
    Ok(Placement {
        dir: dst_dir,
        renames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A file system as a map: path → kind, and symlink targets.
    #[derive(Default)]
    struct Fake {
        kinds: BTreeMap<String, Kind>,
        links: BTreeMap<String, String>,
    }

    impl Fake {
        fn new(entries: &[(&str, &str)]) -> Fake {
            let mut f = Fake::default();
            f.kinds.insert("/".into(), Kind::Dir);
            for (p, what) in entries {
                let k = match *what {
                    "dir" => Kind::Dir,
                    "file" => Kind::File,
                    "dev" => Kind::Special,
                    target => {
                        f.links.insert(p.to_string(), target.to_string());
                        Kind::Symlink
                    }
                };
                f.kinds.insert(p.to_string(), k);
            }
            f
        }
    }

    impl Lookup for Fake {
        fn lstat(&self, path: &str) -> io::Result<Kind> {
            let c = clean(path);
            match self.kinds.get(&c) {
                Some(k) if asserts_directory(path) && *k != Kind::Dir && *k != Kind::Symlink => {
                    Err(io::Error::from_raw_os_error(libc::ENOTDIR))
                }
                Some(Kind::Symlink) if asserts_directory(path) => self.stat(path),
                Some(k) => Ok(*k),
                None => Err(io::ErrorKind::NotFound.into()),
            }
        }
        fn stat(&self, path: &str) -> io::Result<Kind> {
            let mut p = clean(path);
            for _ in 0..10 {
                match self.kinds.get(&p) {
                    Some(Kind::Symlink) => p = join_link(&p, &self.links[&p]),
                    Some(k) => return Ok(*k),
                    None => return Err(io::ErrorKind::NotFound.into()),
                }
            }
            Err(io::Error::from_raw_os_error(libc::ELOOP))
        }
        fn readlink(&self, path: &str) -> io::Result<String> {
            self.links
                .get(&clean(path))
                .cloned()
                .ok_or_else(|| io::ErrorKind::InvalidInput.into())
        }
    }

    fn fs() -> Fake {
        Fake::new(&[
            ("/src", "dir"),
            ("/src/f", "file"),
            ("/src/d", "dir"),
            ("/src/link", "/src/d"),
            ("/dst", "dir"),
            ("/dst/file", "file"),
            ("/dst/sub", "dir"),
            ("/dst/tolink", "../src/d"),
            ("/dst/dangling", "/dst/newname"),
            ("/dev/null", "dev"),
        ])
    }

    /// docker's cases: (source, destination, extraction dir, renames) or error prefix.
    #[test]
    fn docker_copy_cases() {
        let f = fs();
        let r = |a: &str, b: &str| -> Vec<(String, String)> { vec![(a.into(), b.into())] };
        type Want<'a> = Result<(&'a str, Vec<(String, String)>), &'a str>;
        let cases: Vec<(&str, &str, Want)> = vec![
            // file → existing dir: into it, same name
            ("/src/f", "/dst", Ok(("/dst", vec![]))),
            ("/src/f", "/dst/", Ok(("/dst/", vec![]))),
            // file → missing name: created under that name
            ("/src/f", "/dst/new", Ok(("/dst", r("f", "new")))),
            // file → existing file: overwritten
            ("/src/f", "/dst/file", Ok(("/dst", r("f", "file")))),
            // file → missing name with a trailing '/': error
            ("/src/f", "/dst/new/", Err("no such directory")),
            // file → missing name in a missing dir: error
            ("/src/f", "/nope/new", Err("/nope: ")),
            // file → under an existing file: not a directory
            ("/src/f", "/dst/file/x", Err("not a directory")),
            ("/src/f", "/dst/file/", Err("not a directory")),
            // dir → existing dir: a subdirectory of it
            ("/src/d", "/dst", Ok(("/dst", vec![]))),
            // dir → missing name: created as that name (trailing '/' or not)
            ("/src/d", "/dst/new", Ok(("/dst", r("d", "new")))),
            ("/src/d", "/dst/new/", Ok(("/dst", r("d", "new")))),
            // dir → existing file: error
            ("/src/d", "/dst/file", Err("cannot copy directory")),
            // dir/. → existing dir: the contents
            ("/src/d/.", "/dst/sub", Ok(("/dst/sub", vec![]))),
            // dir/. → missing name: the contents under that name
            ("/src/d/.", "/dst/new", Ok(("/dst", r(".", "new")))),
            // destination symlinks are followed, dangling ones name the new file
            ("/src/f", "/dst/tolink", Ok(("/src/d", vec![]))),
            ("/src/f", "/dst/dangling", Ok(("/dst", r("f", "newname")))),
            // never through a device
            (
                "/src/f",
                "/dev/null",
                Err("destination \"/dev/null\" must be"),
            ),
        ];
        for (src, dst, want) in cases {
            let got = source_info(&f, src, false)
                .and_then(|s| Ok((s, destination_info(&f, dst)?)))
                .and_then(|(s, d)| placement(&s, &d));
            match (got, want) {
                (Ok(p), Ok((dir, renames))) => {
                    assert_eq!((p.dir.as_str(), p.renames), (dir, renames), "{src} → {dst}")
                }
                (Err(e), Err(prefix)) => assert!(
                    e.to_string().contains(prefix),
                    "{src} → {dst}: {e} lacks {prefix:?}"
                ),
                (got, want) => panic!("{src} → {dst}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn sources() {
        let f = fs();
        assert!(source_info(&f, "/src/missing", false).is_err());
        assert!(matches!(
            source_info(&f, "/src/f/.", false),
            Err(RuleError::NotDirectory(_))
        ));
        // A symlink is copied as a link, unless -L: then its target, under its name.
        let l = source_info(&f, "/src/link", false).unwrap();
        assert!(!l.is_dir && l.rebase.is_none());
        let l = source_info(&f, "/src/link", true).unwrap();
        assert_eq!(
            (l.path.as_str(), l.is_dir, l.rebase.as_deref()),
            ("/src/d", true, Some("link"))
        );
        let d = destination_info(&f, "/dst/x").unwrap();
        let p = placement(&l, &d).unwrap();
        assert_eq!(
            p.renames,
            vec![("d".into(), "link".into()), ("link".into(), "x".into())]
        );
    }

    #[test]
    fn path_forms() {
        assert_eq!(container_path("etc/hosts"), "/etc/hosts");
        assert_eq!(container_path("../../etc/"), "/etc/");
        assert_eq!(container_path("/data/."), "/data/.");
        assert_eq!(container_path("."), "/.");
        assert_eq!(local_path("out/", "/home/u"), "/home/u/out/");
        assert_eq!(local_path("../x", "/home/u"), "/home/x");
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a"), ("/".into(), "a".into()));
        assert_eq!(clean("/a/../../b//c/."), "/b/c");
    }
}
