//! Which values of a compose tree are host paths, and making them absolute (or
//! relative to another directory). compose-go `paths/resolve.go` does this on the
//! canonical model; here it is done on the raw tree, short syntax included.

use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::Value;

use super::shortsyntax::parse_volume;

/// How a relative path found in a file is rewritten.
pub enum Rebase<'a> {
    /// Joined onto this directory (and `~` expanded with this home).
    Absolute {
        /// The directory the file's relative paths are relative to.
        base: &'a Path,
        /// The home directory for `~`, if known.
        home: Option<&'a Path>,
    },
    /// Made relative to `project` instead of `from` (paths of an extended file
    /// when paths are not resolved).
    Relative {
        /// The directory the file's relative paths are relative to.
        from: &'a Path,
        /// The project directory they must become relative to.
        project: &'a Path,
    },
}

impl Rebase<'_> {
    /// The rewritten form of one path value.
    pub fn apply(&self, p: &str) -> String {
        match self {
            Rebase::Absolute { base, home } => {
                if let Some(rest) = p.strip_prefix('~') {
                    if rest.is_empty() || rest.starts_with('/') {
                        if let Some(h) = home {
                            return clean(&h.join(rest.trim_start_matches('/')))
                                .display()
                                .to_string();
                        }
                    }
                    return p.to_string();
                }
                if Path::new(p).is_absolute() {
                    return p.to_string();
                }
                clean(&base.join(p)).display().to_string()
            }
            Rebase::Relative { from, project } => {
                if p.starts_with('~') || Path::new(p).is_absolute() {
                    return p.to_string();
                }
                let abs = clean(&from.join(p));
                relative(&abs, project).display().to_string()
            }
        }
    }
}

/// Lexically cleans a path (`.` dropped, `..` folded), as Go's `filepath.Clean`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// `target` relative to `base` (both absolute and clean), with `..` as needed.
pub fn relative(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// Whether a build context is a URL or a reference rather than a directory.
pub fn is_remote_context(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("git@")
        || s.starts_with("github.com/")
        || s.starts_with("service:")
        || s.starts_with("target:")
}

/// Rewrites every path-valued attribute of one service.
pub fn rebase_service(service: &mut Value, rb: &Rebase) {
    let Value::Mapping(svc) = service else {
        return;
    };
    if let Some(build) = svc.get_mut("build") {
        match build {
            Value::String(ctx) if !is_remote_context(ctx) => *ctx = rb.apply(ctx),
            Value::Mapping(b) => {
                if let Some(Value::String(ctx)) = b.get_mut("context") {
                    if !is_remote_context(ctx) {
                        *ctx = rb.apply(ctx);
                    }
                }
                match b.get_mut("ssh") {
                    Some(Value::Mapping(m)) => {
                        for (_, v) in m.iter_mut() {
                            if let Value::String(p) = v {
                                if !p.is_empty() {
                                    *p = rb.apply(p);
                                }
                            }
                        }
                    }
                    Some(Value::Sequence(seq)) => {
                        for v in seq.iter_mut() {
                            if let Value::String(s) = v {
                                if let Some((k, p)) = s.split_once('=') {
                                    if !p.is_empty() {
                                        *s = format!("{k}={}", rb.apply(p));
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
                match b.get_mut("additional_contexts") {
                    Some(Value::Mapping(m)) => {
                        for (_, v) in m.iter_mut() {
                            if let Value::String(s) = v {
                                if !is_remote_context(s) {
                                    *s = rb.apply(s);
                                }
                            }
                        }
                    }
                    Some(Value::Sequence(seq)) => {
                        for v in seq.iter_mut() {
                            if let Value::String(s) = v {
                                if let Some((k, p)) = s.split_once('=') {
                                    if !is_remote_context(p) {
                                        *s = format!("{k}={}", rb.apply(p));
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for key in ["env_file", "label_file"] {
        match svc.get_mut(key) {
            Some(Value::String(s)) => *s = rb.apply(s),
            Some(Value::Sequence(seq)) => {
                for v in seq.iter_mut() {
                    match v {
                        Value::String(s) => *s = rb.apply(s),
                        Value::Mapping(m) => {
                            if let Some(Value::String(s)) = m.get_mut("path") {
                                *s = rb.apply(s);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Mapping(ext)) = svc.get_mut("extends") {
        if let Some(Value::String(f)) = ext.get_mut("file") {
            *f = rb.apply(f);
        }
    }
    if let Some(Value::Mapping(dev)) = svc.get_mut("develop") {
        if let Some(Value::Sequence(watch)) = dev.get_mut("watch") {
            for w in watch.iter_mut() {
                if let Some(Value::String(p)) = w.get_mut("path") {
                    *p = rb.apply(p);
                }
            }
        }
    }
    if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
        for v in vols.iter_mut() {
            match v {
                Value::String(spec) => {
                    if let Ok(parsed) = parse_volume(spec) {
                        // Only `.`/`~` sources are relative host paths; the rest
                        // of the string is kept byte for byte.
                        if parsed.bind
                            && !parsed.source.is_empty()
                            && spec.starts_with(&parsed.source)
                        {
                            let src = &parsed.source;
                            if src.starts_with('.') || src.starts_with('~') {
                                *spec = format!("{}{}", rb.apply(src), &spec[src.len()..]);
                            }
                        }
                    }
                }
                Value::Mapping(m) if m.get("type").and_then(Value::as_str) == Some("bind") => {
                    if let Some(Value::String(src)) = m.get_mut("source") {
                        *src = rb.apply(src);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Rewrites the paths of a whole tree: services, secrets/configs `file`, and
/// local volumes bound with `driver_opts`.
pub fn rebase_tree(tree: &mut Value, rb: &Rebase) {
    let Value::Mapping(root) = tree else {
        return;
    };
    if let Some(Value::Mapping(services)) = root.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            rebase_service(svc, rb);
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Mapping(items)) = root.get_mut(key) {
            for (_, item) in items.iter_mut() {
                if let Some(Value::String(f)) = item.get_mut("file") {
                    *f = rb.apply(f);
                }
            }
        }
    }
    if let Some(Value::Mapping(vols)) = root.get_mut("volumes") {
        for (_, vol) in vols.iter_mut() {
            if let Some(Value::Mapping(opts)) = vol.get_mut("driver_opts") {
                let bind = opts
                    .get("o")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o.split(',').any(|x| x == "bind"));
                if bind {
                    if let Some(Value::String(dev)) = opts.get_mut("device") {
                        *dev = rb.apply(dev);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebases() {
        let base = Path::new("/p");
        let rb = Rebase::Absolute {
            base,
            home: Some(Path::new("/home/u")),
        };
        assert_eq!(rb.apply("./a/../b"), "/p/b");
        assert_eq!(rb.apply("."), "/p");
        assert_eq!(rb.apply("~/x"), "/home/u/x");
        assert_eq!(rb.apply("/abs"), "/abs");
        let rb = Rebase::Relative {
            from: Path::new("/p/sub"),
            project: Path::new("/p"),
        };
        assert_eq!(rb.apply("./x"), "sub/x");
        assert_eq!(rb.apply("../y"), "y");
        let rb = Rebase::Relative {
            from: Path::new("/q"),
            project: Path::new("/p"),
        };
        assert_eq!(rb.apply("x"), "../q/x");
    }

    #[test]
    fn finds_paths_in_services() {
        let mut t: Value = serde_yaml_ng::from_str(
            "services:\n  a:\n    build: .\n    env_file: e.env\n    volumes: ['./d:/d:ro', 'named:/n', {type: bind, source: s, target: /s}]\n  b:\n    build: {context: 'https://github.com/x/y.git'}\nsecrets:\n  s:\n    file: ./s.txt\n",
        )
        .unwrap();
        rebase_tree(
            &mut t,
            &Rebase::Absolute {
                base: Path::new("/p"),
                home: None,
            },
        );
        let a = &t["services"]["a"];
        assert_eq!(a["build"], Value::from("/p"));
        assert_eq!(a["env_file"], Value::from("/p/e.env"));
        assert_eq!(a["volumes"][0], Value::from("/p/d:/d:ro"));
        assert_eq!(a["volumes"][1], Value::from("named:/n"));
        assert_eq!(a["volumes"][2]["source"], Value::from("/p/s"));
        assert_eq!(
            t["services"]["b"]["build"]["context"],
            Value::from("https://github.com/x/y.git")
        );
        assert_eq!(t["secrets"]["s"]["file"], Value::from("/p/s.txt"));
    }
}
