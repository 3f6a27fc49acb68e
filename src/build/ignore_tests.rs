//! moby/patternmatcher's and ignorefile's test vectors (Apache-2.0) as
//! tables, and the `<Dockerfile>.dockerignore` lookup.

use super::*;

/// (pattern, path, excluded) for a single pattern.
const SINGLE: &[(&str, &str, bool)] = &[
    ("**", "file", true),
    ("**", "file/", true),
    ("**/", "file", true),
    ("**/", "file/", true),
    ("**", "/", true),
    ("**/", "/", true),
    ("**", "dir/file", true),
    ("**/", "dir/file", true),
    ("**", "dir/file/", true),
    ("**/", "dir/file/", true),
    ("**/**", "dir/file", true),
    ("**/**", "dir/file/", true),
    ("dir/**", "dir/file", true),
    ("dir/**", "dir/file/", true),
    ("dir/**", "dir/dir2/file", true),
    ("dir/**", "dir/dir2/file/", true),
    ("**/dir", "dir", true),
    ("**/dir", "dir/file", true),
    ("**/dir2/*", "dir/dir2/file", true),
    ("**/dir2/*", "dir/dir2/file/", true),
    ("**/dir2/**", "dir/dir2/dir3/file", true),
    ("**/dir2/**", "dir/dir2/dir3/file/", true),
    ("**file", "file", true),
    ("**file", "dir/file", true),
    ("**/file", "dir/file", true),
    ("**file", "dir/dir/file", true),
    ("**/file", "dir/dir/file", true),
    ("**/file*", "dir/dir/file", true),
    ("**/file*", "dir/dir/file.txt", true),
    ("**/file*txt", "dir/dir/file.txt", true),
    ("**/file*.txt", "dir/dir/file.txt", true),
    ("**/file*.txt*", "dir/dir/file.txt", true),
    ("**/**/*.txt", "dir/dir/file.txt", true),
    ("**/**/*.txt2", "dir/dir/file.txt", false),
    ("**/*.txt", "file.txt", true),
    ("**/**/*.txt", "file.txt", true),
    ("a**/*.txt", "a/file.txt", true),
    ("a**/*.txt", "a/dir/file.txt", true),
    ("a**/*.txt", "a/dir/dir/file.txt", true),
    ("a/*.txt", "a/dir/file.txt", false),
    ("a/*.txt", "a/file.txt", true),
    ("a/*.txt**", "a/file.txt", true),
    ("a[b-d]e", "ae", false),
    ("a[b-d]e", "ace", true),
    ("a[b-d]e", "aae", false),
    ("a[^b-d]e", "aze", true),
    (".*", ".foo", true),
    (".*", "foo", false),
    ("abc.def", "abcdef", false),
    ("abc.def", "abc.def", true),
    ("abc.def", "abcZdef", false),
    ("abc?def", "abcZdef", true),
    ("abc?def", "abcdef", false),
    ("a\\\\", "a\\", true),
    ("**/foo/bar", "foo/bar", true),
    ("**/foo/bar", "dir/foo/bar", true),
    ("**/foo/bar", "dir/dir2/foo/bar", true),
    ("abc/**", "abc", false),
    ("abc/**", "abc/def", true),
    ("abc/**", "abc/def/ghi", true),
    ("**/.foo", ".foo", true),
    ("**/.foo", "bar.foo", false),
    ("a(b)c/def", "a(b)c/def", true),
    ("a(b)c/def", "a(b)c/xyz", false),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
    (
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ),
    ("a\\*b", "a*b", true),
    ("a\\*b", "ab", false),
    // Go's filepath.Match vectors that hold for .dockerignore too.
    ("*", "abc", true),
    ("*c", "abc", true),
    ("a*", "a", true),
    ("a*/b", "abc/b", true),
    ("a*/b", "a/c/b", false),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
    ("a*b?c*x", "abxbbxdbxebxczzx", true),
    ("a*b?c*x", "abxbbxdbxebxczzy", false),
    ("ab[c]", "abc", true),
    ("ab[^c]", "abc", false),
    ("ab[^e-g]", "abc", true),
    ("a?b", "a☺b", true),
    ("a[^a]b", "a☺b", true),
    // A parent that matches excludes what is under it.
    ("docs", "docs/README.md", true),
    ("*.go", "dir/x.go", false),
];

/// (patterns, path, excluded).
const MULTI: &[(&[&str], &str, bool)] = &[
    (&["**", "!util/docker/web"], "util/docker/web/foo", false),
    (
        &["**", "!util/docker/web", "util/docker/web/foo"],
        "util/docker/web/foo",
        true,
    ),
    (
        &["**", "!dist/*.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
    (&["!fileutils.go", "*.go"], "fileutils.go", true),
    (&["*.go", "!fileutils.go"], "fileutils.go", false),
    (&["docs", "!docs/README.md"], "docs/README.md", false),
    (&["docs/", "!docs/README.md"], "docs/README.md", false),
    (&["docs/*", "!docs/README.md"], "docs/README.md", false),
    (&["*.go"], ".", false),
    (&[], "any/path/there", false),
    // BuildKit's testDockerignore: ba*, Dockerfile, !bay, .dockerignore.
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "foo",
        false,
    ),
    (&["ba*", "Dockerfile", "!bay", ".dockerignore"], "bar", true),
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "bay",
        false,
    ),
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "Dockerfile",
        true,
    ),
];

#[test]
fn patternmatcher_vectors() {
    for (pattern, path, want) in SINGLE {
        let m = Matcher::new(&[*pattern]).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(
            m.matches_or_parent(path),
            *want,
            "pattern {pattern:?} path {path:?}"
        );
        // Walking down with parent results gives the same answer.
        let mut parent: Option<ParentMatches> = None;
        let clean_path = clean(path);
        let comps: Vec<&str> = clean_path.split('/').filter(|c| !c.is_empty()).collect();
        for i in 1..comps.len() {
            let (_, info) = m.matches_with_parents(&comps[..i].join("/"), parent.as_ref());
            parent = Some(info);
        }
        if !clean_path.starts_with('/') {
            let (got, _) = m.matches_with_parents(&clean_path, parent.as_ref());
            assert_eq!(got, *want, "walk: pattern {pattern:?} path {path:?}");
        }
    }
    for (patterns, path, want) in MULTI {
        let m = Matcher::new(patterns).unwrap();
        assert_eq!(
            m.matches_or_parent(path),
            *want,
            "patterns {patterns:?} path {path:?}"
        );
    }
}

#[test]
fn matches_cuts_the_parent_to_the_pattern_depth() {
    let m = Matcher::new(&["docs"]).unwrap();
    assert!(m.matches("docs/README.md"));
    let m = Matcher::new(&["docs/*"]).unwrap();
    assert!(m.matches("docs/a/b"));
    let m = Matcher::new(&["a"]).unwrap();
    assert!(!m.matches("x/a/b"));
    assert!(!m.matches_or_parent("x/a/b"));
}

#[test]
fn bad_patterns() {
    assert_eq!(
        Matcher::new(&["!"]).unwrap_err(),
        IgnoreError::LoneExclusion
    );
    for bad in ["[", "a[", "[]", "a\\", "[a-"] {
        assert!(
            matches!(Matcher::new(&[bad]), Err(IgnoreError::BadPattern(_))),
            "{bad}"
        );
    }
    let m = Matcher::new(&["docs", "  !docs/README.md  ", ""]).unwrap();
    assert!(m.exclusions());
}

#[test]
fn read_all() {
    let text = "\u{feff}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n  #not a comment\n! /inverted/abs/path\n!\n! \r\n./x/../y/\n";
    assert_eq!(
        read_patterns(text),
        [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "#not a comment",
            "!inverted/abs/path",
            "!",
            "!",
            "y"
        ]
    );
}

#[test]
fn go_clean() {
    for (input, want) in [
        ("", "."),
        ("a/b/", "a/b"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("/", "/"),
        ("a/./b/../c", "a/c"),
    ] {
        assert_eq!(clean(input), want, "{input}");
    }
}

#[test]
fn dockerfile_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path();
    std::fs::create_dir(ctx.join("build")).unwrap();
    let dockerfile = ctx.join("build/app.Dockerfile");
    assert_eq!(ignore_file(ctx, &dockerfile), None);
    assert!(load(ctx, &dockerfile).unwrap().is_empty());
    std::fs::write(ctx.join(".dockerignore"), "*.log\n").unwrap();
    assert_eq!(
        ignore_file(ctx, &dockerfile),
        Some(ctx.join(".dockerignore"))
    );
    std::fs::write(ctx.join("build/app.Dockerfile.dockerignore"), "secret\n").unwrap();
    assert_eq!(
        ignore_file(ctx, &dockerfile),
        Some(ctx.join("build/app.Dockerfile.dockerignore"))
    );
    let m = load(ctx, &dockerfile).unwrap();
    assert!(m.matches_or_parent("secret/key"));
    assert!(!m.matches_or_parent("x.log"));
}

#[test]
fn many_stars_stay_fast() {
    let m = Matcher::new(&["*a*a*a*a*a*a*a*a*a*a*b"]).unwrap();
    let long = "a".repeat(3000);
    let t = std::time::Instant::now();
    assert!(!m.matches_or_parent(&long));
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}
