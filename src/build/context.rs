//! The build context: the files COPY and ADD may read, hashed in place.
//!
//! Nothing is transferred: a source is read where it lies. Its cache key is the
//! digest of every selected entry's name, type, mode, uid, gid, size, link target
//! and bytes (never mtime). File digests are remembered per (dev, inode, size,
//! mtime, ctime), so a rebuild over an unchanged context stats instead of reads;
//! ctime moves with every write and cannot be set back, so a stale digest is never
//! reused (the trap of moby/buildkit#4817, which trusted size and mtime).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::image::digest::{Digest, Hasher};

/// Why the context could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A source named by COPY/ADD is not in the context.
    #[error("{0}: not found in the build context")]
    NotFound(String),
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, ContextError>;

fn io_at<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContextError + 'a {
    move |source| ContextError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The kind of a context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (copied as a link, never followed below the source).
    Symlink,
    /// Anything else (fifo, socket, device): skipped, as docker's context is.
    Other,
}

/// One file or directory of the context.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the context root, `/`-separated, no leading `/`.
    pub rel: String,
    /// Absolute host path.
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// Permission bits (07777).
    pub mode: u32,
    /// Owner on the host (in the key, not applied: files land 0:0).
    pub uid: u32,
    /// Group on the host.
    pub gid: u32,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time (kept on the copy, not in the key).
    pub mtime: i64,
    /// Link target (symlinks).
    pub link: Option<String>,
    /// (dev, ino), to keep hard links linked.
    pub ino: (u64, u64),
    /// nlink, so only multiply-linked files are tracked.
    pub nlink: u64,
    stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

fn stamp(m: &fs::Metadata) -> Stamp {
    Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
    }
}

/// Whether a context path is excluded by `.dockerignore`; `is_dir` lets a rule
/// that can never be re-included skip a whole directory.
pub trait Exclude: Send + Sync {
    /// True when `rel` (relative to the context root) must not be seen.
    fn excluded(&self, rel: &str) -> bool;
    /// True when some exception could re-include something under an excluded `rel`.
    fn may_reinclude_under(&self, rel: &str) -> bool;
}

/// No `.dockerignore`: everything is in.
pub struct NothingExcluded;

impl Exclude for NothingExcluded {
    fn excluded(&self, _: &str) -> bool {
        false
    }
    fn may_reinclude_under(&self, _: &str) -> bool {
        false
    }
}

/// A build context directory with its ignore rules and digest memory.
pub struct Context {
    root: PathBuf,
    exclude: Box<dyn Exclude>,
    /// Names that are never COPYable even when not ignored (the Dockerfile is read
    /// even if ignored; `.dockerignore` itself is copyable in BuildKit).
    cache_file: Option<PathBuf>,
    digests: Mutex<DigestMemo>,
}

#[derive(Default, Serialize, Deserialize)]
struct DigestMemo {
    #[serde(default)]
    files: BTreeMap<String, (Stamp, String)>,
    #[serde(skip)]
    dirty: bool,
}

impl Context {
    /// A context rooted at `root`; `memo` is where file digests are remembered.
    pub fn new(root: &Path, exclude: Box<dyn Exclude>, memo: Option<PathBuf>) -> Result<Context> {
        let root = fs::canonicalize(root).map_err(io_at("open build context", root))?;
        if !root.is_dir() {
            return Err(ContextError::Io {
                op: "open build context",
                path: root,
                source: io::Error::from(io::ErrorKind::NotADirectory),
            });
        }
        let digests = memo
            .as_ref()
            .and_then(|p| fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Context {
            root,
            exclude,
            cache_file: memo,
            digests: Mutex::new(digests),
        })
    }

    /// The context directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Saves the digest memory if it changed (best effort: it is only a speed-up).
    pub fn save(&self) {
        let Some(p) = &self.cache_file else { return };
        let memo = self.digests.lock().expect("digest memo");
        if memo.dirty {
            if let Ok(b) = serde_json::to_vec(&*memo) {
                let _ = crate::state::write_atomic(p, &b);
            }
        }
    }

    fn entry(&self, rel: &str) -> Result<Option<Entry>> {
        let path = if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        };
        let m = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at("stat", &path)(e)),
        };
        let ft = m.file_type();
        let kind = if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            let _ = ft.is_fifo();
            Kind::Other
        };
        let link = if kind == Kind::Symlink {
            Some(
                fs::read_link(&path)
                    .map_err(io_at("readlink", &path))?
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        Ok(Some(Entry {
            rel: rel.to_string(),
            path,
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            size: if kind == Kind::File { m.size() } else { 0 },
            mtime: m.mtime(),
            link,
            ino: (m.dev(), m.ino()),
            nlink: m.nlink(),
            stamp: stamp(&m),
        }))
    }

    /// The entries selected by one COPY source (already cleaned, relative to the
    /// context, wildcards allowed): each match, and for a directory everything
    /// under it not ignored. Returns (match, entries under it, match first).
    pub fn select(&self, source: &str) -> Result<Vec<(Entry, Vec<Entry>)>> {
        let cleaned = clean_rel(source);
        let matches = if has_glob(&cleaned) {
            self.glob(&cleaned)?
        } else {
            vec![cleaned.clone()]
        };
        let mut out = vec![];
        for m in matches {
            if !m.is_empty() && self.exclude.excluded(&m) {
                continue;
            }
            let Some(top) = self.entry(&m)? else { continue };
            let mut below = vec![];
            if top.kind == Kind::Dir {
                self.walk(&m, &mut below)?;
            }
            out.push((top, below));
        }
        if out.is_empty() && !has_glob(&cleaned) {
            return Err(ContextError::NotFound(source.to_string()));
        }
        Ok(out)
    }

    fn walk(&self, dir: &str, out: &mut Vec<Entry>) -> Result<()> {
        let path = if dir.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir)
        };
        let mut names: Vec<String> = fs::read_dir(&path)
            .map_err(io_at("read", &path))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let rel = if dir.is_empty() {
                n
            } else {
                format!("{dir}/{n}")
            };
            let excluded = self.exclude.excluded(&rel);
            let Some(e) = self.entry(&rel)? else { continue };
            if e.kind == Kind::Dir {
                if excluded && !self.exclude.may_reinclude_under(&rel) {
                    continue;
                }
                let at = out.len();
                if !excluded {
                    out.push(e);
                }
                self.walk(&rel, out)?;
                // An excluded directory is kept only as the parent of a re-included file.
                if excluded && out.len() > at {
                    if let Some(e) = self.entry(&rel)? {
                        out.insert(at, e);
                    }
                }
            } else if !excluded && e.kind != Kind::Other {
                out.push(e);
            }
        }
        Ok(())
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>> {
        let mut current = vec![String::new()];
        for comp in pattern.split('/') {
            let mut next = vec![];
            for base in &current {
                if !has_glob(comp) {
                    let p = join_rel(base, comp);
                    if fs::symlink_metadata(self.root.join(&p)).is_ok() {
                        next.push(p);
                    }
                    continue;
                }
                let dir = self.root.join(base);
                let Ok(rd) = fs::read_dir(&dir) else { continue };
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| glob_match(comp, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join_rel(base, &n)));
            }
            current = next;
        }
        Ok(current)
    }

    /// The content digest of one file, from memory when its stamp is unchanged.
    pub fn file_digest(&self, e: &Entry) -> Result<Digest> {
        let key = e.rel.clone();
        if let Some((st, d)) = self.digests.lock().expect("memo").files.get(&key) {
            if *st == e.stamp {
                if let Ok(d) = Digest::from_hex(d) {
                    return Ok(d);
                }
            }
        }
        let mut f = fs::File::open(&e.path).map_err(io_at("open", &e.path))?;
        let mut h = Hasher::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(io_at("read", &e.path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let d = h.finish();
        let mut memo = self.digests.lock().expect("memo");
        memo.files.insert(key, (e.stamp, d.hex().to_string()));
        memo.dirty = true;
        Ok(d)
    }

    /// The cache digest of a selection: every entry's name (relative to its match),
    /// type, mode, uid, gid, size, link target and content.
    pub fn selection_digest(&self, sel: &[(Entry, Vec<Entry>)]) -> Result<Digest> {
        let mut h = Hasher::default();
        for (top, below) in sel {
            h.update(format!("match {}\0", top.rel).as_bytes());
            for e in std::iter::once(top).chain(below) {
                let kind = match e.kind {
                    Kind::File => 'f',
                    Kind::Dir => 'd',
                    Kind::Symlink => 'l',
                    Kind::Other => 'o',
                };
                h.update(
                    format!(
                        "{}\0{kind}\0{:o}\0{}\0{}\0{}\0{}\0",
                        e.rel,
                        e.mode,
                        e.uid,
                        e.gid,
                        e.size,
                        e.link.as_deref().unwrap_or("")
                    )
                    .as_bytes(),
                );
                if e.kind == Kind::File {
                    h.update(self.file_digest(e)?.hex().as_bytes());
                }
            }
        }
        Ok(h.finish())
    }
}

fn join_rel(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

/// Cleans a source path lexically and clamps it to the context: `/`, `..` and `.`
/// never lead above the root (COPY ../x reads the context's x, as BuildKit does).
pub fn clean_rel(p: &str) -> String {
    let mut out: Vec<&str> = vec![];
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// Whether a path holds a wildcard (`*`, `?`, `[`).
pub fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Go's `filepath.Match` for one path component: `*`, `?`, `[...]` with ranges and
/// `^`/`!` negation, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, chars consumed including ']').
        let mut i = 0;
        let negate = matches!(p.first(), Some('^') | Some('!'));
        if negate {
            i += 1;
        }
        let mut hit = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == ']' && !first {
                return Some((hit != negate, i + 1));
            }
            first = false;
            let mut lo = p[i];
            if lo == '\\' {
                i += 1;
                lo = *p.get(i)?;
            }
            i += 1;
            let mut hi = lo;
            if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
                hi = p[i + 1];
                if hi == '\\' {
                    hi = *p.get(i + 2)?;
                    i += 1;
                }
                i += 2;
            }
            if lo <= c && c <= hi {
                hit = true;
            }
        }
        None
    }
    fn go(p: &[char], n: &[char]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        match p[0] {
            '*' => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            '?' => !n.is_empty() && go(&p[1..], &n[1..]),
            '[' => match n.first() {
                Some(&c) => match class(&p[1..], c) {
                    Some((true, used)) => go(&p[1 + used..], &n[1..]),
                    _ => false,
                },
                None => false,
            },
            '\\' if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            c => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_go_does() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "a.txt.bak"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("[[]x", "[x"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "a"));
    }

    #[test]
    fn sources_are_clamped_to_the_context() {
        assert_eq!(clean_rel("/a/../../b/"), "b");
        assert_eq!(clean_rel("./"), "");
        assert_eq!(clean_rel("../../etc/passwd"), "etc/passwd");
    }

    #[test]
    fn the_key_moves_with_content_and_mode_not_mtime() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "one").unwrap();
        let ctx = Context::new(dir.path(), Box::new(NothingExcluded), None).unwrap();
        let d1 = ctx.selection_digest(&ctx.select("a").unwrap()).unwrap();
        let f = fs::File::options()
            .write(true)
            .open(dir.path().join("a"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        let d2 = ctx.selection_digest(&ctx.select("a").unwrap()).unwrap();
        assert_eq!(d1, d2, "mtime is not in the key");
        // Same size, same mtime, other bytes: ctime moved, so the memo is not trusted.
        fs::write(dir.path().join("a"), "two").unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        let d3 = ctx.selection_digest(&ctx.select("a").unwrap()).unwrap();
        assert_ne!(d1, d3);
        assert!(matches!(
            ctx.select("missing"),
            Err(ContextError::NotFound(_))
        ));
        assert!(ctx.select("*.none").unwrap().is_empty());
    }
}
