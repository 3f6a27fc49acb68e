//! Parser tests: the Dockerfile reference's examples and BuildKit's parser
//! test files (Apache-2.0), rewritten as tables.

use std::time::Duration;

use super::syntax::{dump::dump, parse_nodes};
use super::*;

fn ok(text: &str) -> Dockerfile {
    parse_str(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn err(text: &str) -> String {
    parse_str(text, "Dockerfile").unwrap_err().to_string()
}

/// The instructions of the only stage.
fn instrs(text: &str) -> Vec<Instruction> {
    let d = ok(text);
    d.stages[0]
        .instructions
        .iter()
        .map(|l| l.value.clone())
        .collect()
}

fn one(text: &str) -> Instruction {
    let mut v = instrs(&format!("FROM scratch\n{text}"));
    assert_eq!(v.len(), 1, "{text}");
    v.remove(0)
}

fn nodes(text: &str) -> Vec<String> {
    parse_nodes(text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .nodes
        .iter()
        .map(dump)
        .collect()
}

/// (Dockerfile, BuildKit's node dump of each instruction), after the
/// parser's testfiles (continueIndent, continue-at-eof, escape*,
/// trailing-backslash, flags, env, health, jeztah-invalid-json-*, json,
/// kartar-entrypoint-oddities, lk4d4-the-edge-case-generator).
const NODE_CASES: &[(&str, &[&str])] = &[
    // Continuations keep the whitespace of continued lines.
    (
        "RUN echo hello\\\n  world\\\n  goodnight  \\\n  moon\\\n  light\\\nning\n",
        &[r#"run "echo hello  world  goodnight    moon  lightning""#],
    ),
    ("RUN echo hello  \\\n  world\n", &[r#"run "echo hello    world""#]),
    ("RUN echo hello  \\  \nworld\n", &[r#"run "echo hello  world""#]),
    // Empty and comment lines inside a continuation are dropped.
    (
        "RUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight\n",
        &[r#"run "echo hi   world  goodnight""#],
    ),
    ("RUN a \\\n# comment\n  b\n", &[r#"run "a   b""#]),
    ("RUN a \\\n\n  b\n", &[r#"run "a   b""#]),
    // EOF inside a continuation ends the instruction.
    ("FROM alpine:3.5\n\nRUN something \\", &[r#"from "alpine:3.5""#, r#"run "something""#]),
    // An escaped escape at the end is no continuation.
    (
        "ENV C trailing\\\\backslash\\\\\nENV D next\n",
        &[r#"env "C" "trailing\\\\backslash\\\\" """#, r#"env "D" "next" """#],
    ),
    ("ENV E hello\\\n\\\nworld\n", &[r#"env "E" "helloworld" """#]),
    ("ENV F hello\\\n \\\nworld\n", &[r#"env "F" "hello world" """#]),
    // The escape directive.
    (
        "#escape = `\n\nFROM image\nENV GOPATH `\n\\go",
        &[r#"from "image""#, r#"env "GOPATH" "\\go" """#],
    ),
    // After a comment, `# escape` is a comment, and `\` continues.
    (
        "# Comment.\n# escape = `\n\nFROM image\nENV GOPATH \\\n\\go",
        &[r#"from "image""#, r#"env "GOPATH" "\\go" """#],
    ),
    // Flags and `--`.
    (
        "COPY --user=me --doit=true foo /tmp/\nCOPY --doit=true -- foo /tmp/\nCOPY -- foo /tmp/\nCMD --doit [ \"a\", \"b\" ]\nCMD --doit -- [ ]\n",
        &[
            r#"copy ["--user=me" "--doit=true"] "foo" "/tmp/""#,
            r#"copy ["--doit=true"] "foo" "/tmp/""#,
            r#"copy "foo" "/tmp/""#,
            r#"cmd ["--doit"] "a" "b""#,
            r#"cmd ["--doit"]"#,
        ],
    ),
    // ENV: legacy and key=value forms keep quotes and escapes for expansion.
    (
        "ENV name value\nENV name=value name2=value2\nENV name=\"value value1\"\nENV name=value\\ value2\nENV name='a\\'b''\nENV name=\"a\\\"b\"\n",
        &[
            r#"env "name" "value" """#,
            r#"env "name" "value" "=" "name2" "value2" "=""#,
            r#"env "name" "\"value value1\"" "=""#,
            r#"env "name" "value\\ value2" "=""#,
            r#"env "name" "'a\\'b''" "=""#,
            r#"env "name" "\"a\\\"b\"" "=""#,
        ],
    ),
    (
        "ENV name=value \\\n    name2=\"value2a \\\n           value2b\" \\\n",
        &[r#"env "name" "value" "=" "name2" "\"value2a            value2b\"" "=""#],
    ),
    // HEALTHCHECK shapes.
    (
        "HEALTHCHECK\nHEALTHCHECK --interval=5s --retries=3 \\\n  CMD /app/check.sh --quiet\nHEALTHCHECK CMD\nHEALTHCHECK   CMD   a b\nHEALTHCHECK --timeout=3s CMD [\"foo\"]\nHEALTHCHECK CONNECT TCP 7000\n",
        &[
            "healthcheck",
            r#"healthcheck ["--interval=5s" "--retries=3"] "CMD" "/app/check.sh --quiet""#,
            r#"healthcheck "CMD""#,
            r#"healthcheck "CMD" "a b""#,
            r#"healthcheck ["--timeout=3s"] "CMD" "foo""#,
            r#"healthcheck "CONNECT" "TCP 7000""#,
        ],
    ),
    // Invalid JSON is shell form.
    (
        "CMD ['echo','single quotes are invalid JSON']\nCMD [\"echo\", \"unterminated]\nCMD [\"a\"\nCMD \"[\\\"echo\\\", \\\"x\\\"]\"\nCMD [\"a\"] b\n",
        &[
            r#"cmd "['echo','single quotes are invalid JSON']""#,
            r#"cmd "[\"echo\", \"unterminated]""#,
            r#"cmd "[\"a\"""#,
            r#"cmd "\"[\\\"echo\\\", \\\"x\\\"]\"""#,
            r#"cmd "[\"a\"] b""#,
        ],
    ),
    (
        "CMD []\nCMD [\"\"]\nCMD [\"a\"]\nCMD [\"abc\", \"\\u0041\"]\nENTRYPOINT    [\"/bin/sh\", \"-c\"]\n",
        &["cmd", r#"cmd """#, r#"cmd "a""#, r#"cmd "abc" "A""#, r#"entrypoint "/bin/sh" "-c""#],
    ),
    // Case, whitespace, ONBUILD, odd words.
    (
        "from  ubuntu:14.04   AS   Build\nrUn\techo  x\nONBUILD RUN [\"a\"]\nonbuild  add --chown=1 . /app\nADD [\"a b\", \"/c\"]\nVOLUME /a /b\nEXPOSE 80  443/udp\n",
        &[
            r#"from "ubuntu:14.04" "AS" "Build""#,
            r#"run "echo  x""#,
            r#"onbuild (run "a")"#,
            r#"onbuild (add ["--chown=1"] "." "/app")"#,
            r#"add "a b" "/c""#,
            r#"volume "/a" "/b""#,
            r#"expose "80" "443/udp""#,
        ],
    ),
    // A BOM and CRLF line ends.
    ("\u{feff}FROM a\r\nRUN b\r\n", &[r#"from "a""#, r#"run "b""#]),
];

#[test]
fn nodes_as_buildkit_dumps_them() {
    for (text, want) in NODE_CASES {
        assert_eq!(nodes(text), *want, "{text:?}");
    }
}

#[test]
fn heredocs_as_buildkit_extracts_them() {
    // After BuildKit's TestParseExtractsHeredoc.
    let text = "FROM alpine\nRUN <<EMPTY\nEMPTY\nRUN 3<<EMPTY2\nEMPTY2\nRUN \"<<NOHEREDOC\"\nRUN <<INDENT\n\tfoo\n\tbar\nINDENT\nRUN <<-UNINDENT\n\tbaz\n\tquux\n\tUNINDENT\nRUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\nRUN <<COMMENT\n# internal comment\necho hello # trailing\nCOMMENT\nRUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\nCOPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\nCOPY <<X <<Y /dest\nY\nX\nX\nY\nRUN <<eo'f'\necho foo\neof\nRUN <<eo\\'f\necho foo\neo'f\nRUN <<'one two'\necho bar\none two\nRUN <<$EOF\n$EOF\nRUN <<  EOF  > foo\nEOF\nUSER <<INVALID\nRUN [\"<<EOF\"]\n";
    let p = parse_nodes(text).unwrap();
    type Doc = (String, String, bool, bool, u32);
    let got: Vec<Vec<Doc>> = p.nodes[1..]
        .iter()
        .map(|n| {
            n.heredocs
                .iter()
                .map(|h| (h.name.clone(), h.content.clone(), h.expand, h.chomp, h.fd))
                .collect()
        })
        .collect();
    let h =
        |n: &str, c: &str, e: bool, ch: bool, fd: u32| (n.to_string(), c.to_string(), e, ch, fd);
    let want = vec![
        vec![h("EMPTY", "", true, false, 0)],
        vec![h("EMPTY2", "", true, false, 3)],
        vec![],
        vec![h("INDENT", "\tfoo\n\tbar\n", true, false, 0)],
        vec![h("UNINDENT", "\tbaz\n\tquux\n", true, true, 0)],
        vec![h("NOEXPAND", "\tdon't expand $NAME\n", false, true, 0)],
        vec![h(
            "COMMENT",
            "# internal comment\necho hello # trailing\n",
            true,
            false,
            0,
        )],
        vec![h("MOUNT", "echo hello\n", true, false, 0)],
        vec![
            h("FILE1", "content 1\n", true, false, 0),
            h("FILE2", "content 2\n", true, false, 0),
        ],
        vec![h("X", "Y\n", true, false, 0), h("Y", "X\n", true, false, 0)],
        vec![h("eof", "echo foo\n", false, false, 0)],
        vec![h("eo'f", "echo foo\n", true, false, 0)],
        vec![h("one two", "echo bar\n", false, false, 0)],
        vec![h("$EOF", "", true, false, 0)],
        vec![h("EOF", "", true, false, 0)],
        vec![],
        vec![],
    ];
    assert_eq!(got, want);
    // Line numbers run through heredoc bodies.
    assert_eq!((p.nodes[4].line, p.nodes[4].end_line), (7, 10));
}

#[test]
fn run_bodies() {
    let run = |t: &str| match one(t) {
        Instruction::Run(r) => r.body(),
        other => panic!("{other:?}"),
    };
    assert_eq!(run("RUN echo hi"), RunBody::Shell("echo hi".into()));
    assert_eq!(
        run("RUN [\"echo\", \"hi\"]"),
        RunBody::Exec(vec!["echo".into(), "hi".into()])
    );
    // A lone heredoc: its body is the one shell argument.
    assert_eq!(
        run("RUN <<EOF\necho a\necho b\nEOF"),
        RunBody::Shell("echo a\necho b\n".into())
    );
    assert_eq!(
        run("RUN <<-EOF\n\techo a\nEOF"),
        RunBody::Shell("echo a\n".into())
    );
    // `#!` makes it a script.
    assert_eq!(
        run("RUN <<PY\n#!/usr/bin/env python3\nprint(1)\nPY"),
        RunBody::Script {
            name: "PY".into(),
            content: "#!/usr/bin/env python3\nprint(1)\n".into()
        }
    );
    // With other text, the line, bodies and terminators go to the shell.
    assert_eq!(
        run("RUN python3 <<A && cat <<-B\nprint(1)\nA\n\tx\n\tB"),
        RunBody::Shell("python3 <<A && cat <<-B\nprint(1)\nA\n\tx\nB".into())
    );
}

#[test]
fn stages_and_global_args() {
    let d = ok("# syntax=docker/dockerfile:1\nARG BASE=alpine\nARG TAG\nFROM --platform=$BUILDPLATFORM ${BASE}:${TAG:-3} AS Build\nARG BASE\nRUN make\n\nFROM scratch\nCOPY --from=build /out /\n");
    assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.escape(), '\\');
    assert_eq!(d.meta_args.len(), 2);
    assert_eq!(
        d.meta_args[0].value,
        [ArgDecl {
            name: "BASE".into(),
            default: Some("alpine".into())
        }]
    );
    assert_eq!(d.meta_args[1].line, 3);
    let s = &d.stages[0];
    assert_eq!(s.name.as_deref(), Some("build"));
    assert_eq!(s.from.value.base, "${BASE}:${TAG:-3}");
    assert_eq!(s.from.value.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(s.from.line, 4);
    assert_eq!(s.instructions[1].line, 6);
    assert_eq!(s.instructions[1].source, "RUN make");
    assert_eq!(d.stages[1].from.value.base, "scratch");
    assert_eq!(d.stage_index("BUILD"), Some(0));
    assert_eq!(d.stage_index("1"), Some(1));
    assert_eq!(d.stage_index("2"), None);
    assert_eq!(d.stage_index("+1"), None);
    assert_eq!(d.stage_index("alpine"), None);
}

#[test]
fn instructions_typed() {
    assert_eq!(
        one("ENV a=1 b=\"two words\""),
        Instruction::Env(vec![
            KeyValue {
                key: "a".into(),
                value: "1".into(),
                legacy: false
            },
            KeyValue {
                key: "b".into(),
                value: "\"two words\"".into(),
                legacy: false
            },
        ])
    );
    assert_eq!(
        one("ENV MY_VAR my value here"),
        Instruction::Env(vec![KeyValue {
            key: "MY_VAR".into(),
            value: "my value here".into(),
            legacy: true
        }])
    );
    assert_eq!(
        one("ARG a b=2 c="),
        Instruction::Arg(vec![
            ArgDecl {
                name: "a".into(),
                default: None
            },
            ArgDecl {
                name: "b".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "c".into(),
                default: Some(String::new())
            },
        ])
    );
    assert_eq!(one("WORKDIR /a b"), Instruction::Workdir("/a b".into()));
    assert_eq!(one("USER app:app"), Instruction::User("app:app".into()));
    assert_eq!(
        one("SHELL [\"bash\", \"-c\"]"),
        Instruction::Shell(vec!["bash".into(), "-c".into()])
    );
    assert_eq!(
        one("CMD echo $HOME"),
        Instruction::Cmd(CommandLine::Shell("echo $HOME".into()))
    );
    assert_eq!(
        one("ENTRYPOINT [\"top\", \"-b\"]"),
        Instruction::Entrypoint(CommandLine::Exec(vec!["top".into(), "-b".into()]))
    );
    assert_eq!(
        one("EXPOSE 8080 80/udp 1000-1002"),
        Instruction::Expose(vec!["1000-1002".into(), "80/udp".into(), "8080".into()])
    );
    assert_eq!(
        one("VOLUME [\"/data\", \"/logs\"]"),
        Instruction::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(
        one("STOPSIGNAL SIGKILL"),
        Instruction::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        one("MAINTAINER Jane <j@x>"),
        Instruction::Maintainer("Jane <j@x>".into())
    );
    assert_eq!(
        one("LABEL \"com.example.vendor\"=\"ACME\" version=1.0"),
        Instruction::Label(vec![
            KeyValue {
                key: "\"com.example.vendor\"".into(),
                value: "\"ACME\"".into(),
                legacy: false
            },
            KeyValue {
                key: "version".into(),
                value: "1.0".into(),
                legacy: false
            },
        ])
    );
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Instruction::Healthcheck(Healthcheck::None)
    );
    let Instruction::Healthcheck(Healthcheck::Check(h)) =
        one("HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=100ms --retries=3 CMD curl -f http://localhost/ || exit 1")
    else {
        panic!()
    };
    assert_eq!(
        h.test(),
        ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    );
    assert_eq!(
        (
            h.interval,
            h.timeout,
            h.start_period,
            h.start_interval,
            h.retries
        ),
        (
            Duration::from_secs(300),
            Duration::from_secs(3),
            Duration::from_secs(1),
            Duration::from_millis(100),
            3
        )
    );
    let Instruction::Healthcheck(Healthcheck::Check(h)) =
        one("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]")
    else {
        panic!()
    };
    assert_eq!(h.test(), ["CMD", "/bin/check", "-q"]);
    assert_eq!(h.interval, Duration::ZERO);
}

#[test]
fn copy_and_add_flags() {
    let Instruction::Copy(c) =
        one("COPY --from=build --chown=app:app --chmod=0755 --link --exclude=*.md --exclude=tmp --parents a b/ /dst/")
    else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("build"));
    assert!(c.parents);
    let s = &c.spec;
    assert_eq!(
        (s.sources.clone(), s.dest.as_str()),
        (vec!["a".to_string(), "b/".to_string()], "/dst/")
    );
    assert_eq!(
        (s.chown.as_deref(), s.chmod.as_deref(), s.link),
        (Some("app:app"), Some("0755"), true)
    );
    assert_eq!(s.exclude, ["*.md", "tmp"]);
    let Instruction::Add(a) =
        one("ADD --keep-git-dir=true --checksum=sha256:abc --unpack=false https://x/y.tar.gz /")
    else {
        panic!()
    };
    assert_eq!(
        (a.keep_git_dir, a.checksum.as_deref(), a.unpack),
        (Some(true), Some("sha256:abc"), Some(false))
    );
    let Instruction::Add(a) = one("ADD a /") else {
        panic!()
    };
    assert_eq!((a.keep_git_dir, a.unpack), (None, None));
    // Heredoc files: `<<-` chomps, quoted words do not expand.
    let Instruction::Copy(c) = one("COPY <<A <<-'B' src /dst/\nhello $X\nA\n\tbye\n\tB") else {
        panic!()
    };
    assert_eq!(c.spec.sources, ["src"]);
    assert_eq!(
        c.spec.inline,
        [
            InlineSource {
                name: "A".into(),
                content: "hello $X\n".into(),
                expand: true
            },
            InlineSource {
                name: "B".into(),
                content: "bye\n".into(),
                expand: false
            },
        ]
    );
    // JSON form: "<<EOF" is a file name.
    let Instruction::Copy(c) = one("COPY [\"<<EOF\", \"/d\"]") else {
        panic!()
    };
    assert_eq!(
        (c.spec.sources.clone(), c.spec.json),
        (vec!["<<EOF".to_string()], true)
    );
}

#[test]
fn run_flags() {
    let Instruction::Run(r) = one(
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok --network=none --security=insecure make",
    ) else {
        panic!()
    };
    assert_eq!(r.mounts.len(), 2);
    assert_eq!((r.network, r.security), (Network::None, Security::Insecure));
    let no_env = |_: &str| None;
    let m = r.mounts[0].resolve('\\', &no_env).unwrap();
    assert_eq!(
        (m.kind, m.target.as_deref()),
        (MountType::Cache, Some("/root/.cache"))
    );
    let Instruction::Run(r) = one("RUN --network=host x") else {
        panic!()
    };
    assert_eq!(r.network, Network::Host);
}

#[test]
fn onbuild() {
    let Instruction::Onbuild(o) = one("ONBUILD ADD . /app/src") else {
        panic!()
    };
    assert_eq!(o.expression, "ADD . /app/src");
    assert!(matches!(*o.instruction, Instruction::Add(_)));
    let Instruction::Onbuild(o) = one("onbuild   RUN <<EOF\necho hi\nEOF") else {
        panic!()
    };
    assert_eq!(o.expression, "RUN <<EOF\necho hi\nEOF");
    let Instruction::Run(r) = *o.instruction.clone() else {
        panic!()
    };
    assert_eq!(r.body(), RunBody::Shell("echo hi\n".into()));
    // The stored trigger parses back to the same instruction.
    assert_eq!(
        parse_trigger(&o.expression, "base").unwrap(),
        *o.instruction
    );
    assert!(parse_trigger("FROM x", "base")
        .unwrap_err()
        .to_string()
        .contains("isn't allowed"));
}

#[test]
fn directives() {
    let d = ok("# escape=`\n# check=skip=all\nFROM x\nRUN a `\n  b\n");
    assert_eq!(d.escape(), '`');
    assert_eq!(d.directives.check.as_deref(), Some("skip=all"));
    let Instruction::Run(r) = &d.stages[0].instructions[0].value else {
        panic!()
    };
    assert_eq!(r.command, CommandLine::Shell("a   b".into()));
    // The escape character is not processed inside RUN except at line end.
    let d = ok("FROM x\nRUN dir c:\\\n");
    let Instruction::Run(r) = &d.stages[0].instructions[0].value else {
        panic!()
    };
    assert_eq!(r.command, CommandLine::Shell("dir c:".into()));
    // Comments above are kept for doc comments; directives are not comments.
    let d = ok("# syntax=x\n# the base\nFROM x\n# build it\nRUN make\n");
    assert_eq!(d.stages[0].from.comments, ["the base"]);
    assert_eq!(d.stages[0].instructions[0].comments, ["build it"]);
}

#[test]
fn warnings() {
    let d = ok("FROM x\nRUN a \\\n\n b\n");
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0]
        .message
        .starts_with("Empty continuation line found in: RUN a  b"));
}

/// (Dockerfile, the whole message).
const ERRORS: &[(&str, &str)] = &[
    ("", "Dockerfile:0: file with no instructions"),
    ("# Hello\n# just comments\n\n", "Dockerfile:3: file with no instructions"),
    ("FROM busybox\n\nENV PATH\n", "Dockerfile:3: ENV: ENV must have two arguments"),
    ("CMD [ \"echo\", [ \"nested json\" ] ]", "Dockerfile:1: CMD: when using JSON array syntax, arrays must be comprised of strings only"),
    ("RUN x\n", "Dockerfile:1: RUN: no build stage in current context (the first instruction must be FROM, after optional ARGs)"),
    ("ARG A\n", "Dockerfile:1: no build stage in current context (the first instruction must be FROM, after optional ARGs)"),
    ("FROM x\nRUNN make\n", "Dockerfile:2: RUNN: unknown instruction: RUNN (did you mean run?)"),
    ("FROM x\nFOOBARBAZ make\n", "Dockerfile:2: FOOBARBAZ: unknown instruction: FOOBARBAZ"),
    ("FROM x\nCOPY --form=a b c\n", "Dockerfile:2: COPY: unknown flag: --form (did you mean from?)"),
    ("FROM x\nCOPY --from=a --from=b c d\n", "Dockerfile:2: COPY: duplicate flag specified: --from"),
    ("FROM x\nCOPY --link=maybe a b\n", "Dockerfile:2: COPY: expecting boolean value for flag --link, not: maybe"),
    ("FROM x\nCOPY --chown a b\n", "Dockerfile:2: COPY: missing a value on flag: --chown"),
    ("FROM x\nCOPY a\n", "Dockerfile:2: COPY: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("FROM x\nADD a\n", "Dockerfile:2: ADD: ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("FROM x\nCOPY a <<EOF\nx\nEOF\n", "Dockerfile:2: COPY: COPY cannot accept a heredoc as a destination"),
    ("FROM x\nRUN <<EOF\necho\n", "Dockerfile:2: RUN: unterminated heredoc EOF"),
    ("FROM x\nRUN <<A <<B\na\nA\n", "Dockerfile:2: RUN: unterminated heredoc B"),
    ("FROM x\nRUN --network=bridge x\n", "Dockerfile:2: RUN: invalid network mode \"bridge\""),
    ("FROM x\nRUN --security=weird x\n", "Dockerfile:2: RUN: security \"weird\" is not valid"),
    ("FROM x\nRUN --mount=type=cache,tagret=/x make\n", "Dockerfile:2: RUN: --mount: unexpected key 'tagret' in 'tagret=/x' (did you mean target?)"),
    ("FROM x\nRUN\n", "Dockerfile:2: RUN: RUN requires at least one argument"),
    ("FROM\n", "Dockerfile:1: FROM: FROM requires either one or three arguments"),
    ("FROM a b\n", "Dockerfile:1: FROM: FROM requires either one or three arguments"),
    ("FROM a AS 1x\n", "Dockerfile:1: FROM: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"),
    ("FROM a AS b c\n", "Dockerfile:1: FROM: FROM requires either one or three arguments"),
    ("FROM --platform a\n", "Dockerfile:1: FROM: missing a value on flag: --platform"),
    ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used"),
    ("FROM x\nWORKDIR\n", "Dockerfile:2: WORKDIR: WORKDIR requires exactly one argument"),
    ("FROM x\nUSER\n", "Dockerfile:2: USER: USER requires exactly one argument"),
    ("FROM x\nSTOPSIGNAL\n", "Dockerfile:2: STOPSIGNAL: STOPSIGNAL requires exactly one argument"),
    ("FROM x\nEXPOSE\n", "Dockerfile:2: EXPOSE: EXPOSE requires at least one argument"),
    ("FROM x\nVOLUME []\n", "Dockerfile:2: VOLUME: VOLUME requires at least one argument"),
    ("FROM x\nVOLUME [\"\"]\n", "Dockerfile:2: VOLUME: VOLUME specified can not be an empty string"),
    ("FROM x\nARG =1\n", "Dockerfile:2: ARG: ARG names can not be blank"),
    ("FROM x\nARG\n", "Dockerfile:2: ARG: ARG requires at least one argument"),
    ("FROM x\nENV =1\n", "Dockerfile:2: ENV: ENV names can not be blank"),
    ("FROM x\nENV a=1 b\n", "Dockerfile:2: ENV: Syntax error - can't find = in \"b\". Must be of the form: name=value"),
    ("FROM x\nLABEL\n", "Dockerfile:2: LABEL: LABEL requires at least one argument"),
    ("FROM x\nSHELL /bin/bash -c\n", "Dockerfile:2: SHELL: SHELL requires the arguments to be in JSON form"),
    ("FROM x\nSHELL []\n", "Dockerfile:2: SHELL: SHELL requires at least one argument"),
    ("FROM x\nHEALTHCHECK\n", "Dockerfile:2: HEALTHCHECK: HEALTHCHECK requires at least one argument"),
    ("FROM x\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK: HEALTHCHECK NONE takes no arguments"),
    ("FROM x\nHEALTHCHECK CMD\n", "Dockerfile:2: HEALTHCHECK: Missing command after HEALTHCHECK CMD"),
    ("FROM x\nHEALTHCHECK CONNECT TCP 7000\n", "Dockerfile:2: HEALTHCHECK: Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"),
    ("FROM x\nHEALTHCHECK --interval=1us CMD x\n", "Dockerfile:2: HEALTHCHECK: Interval \"interval\" cannot be less than 1ms"),
    ("FROM x\nHEALTHCHECK --timeout=5 CMD x\n", "Dockerfile:2: HEALTHCHECK: time: missing unit in duration \"5\""),
    ("FROM x\nHEALTHCHECK --retries=-1 CMD x\n", "Dockerfile:2: HEALTHCHECK: --retries cannot be negative (-1)"),
    ("FROM x\nONBUILD\n", "Dockerfile:2: ONBUILD: ONBUILD requires at least one argument"),
    ("FROM x\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM x\nONBUILD FROM y\n", "Dockerfile:2: ONBUILD: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM x\nONBUILD maintainer y\n", "Dockerfile:2: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("FROM x\nMAINTAINER\n", "Dockerfile:2: MAINTAINER: MAINTAINER requires exactly one argument"),
    ("FROM x\nUSER --x=1 a\n", "Dockerfile:2: USER: unknown flag: --x"),
    ("FROM x\nRUN a \\\n  b \\\nFOO bar\nBAZ\n", "Dockerfile:5: BAZ: unknown instruction: BAZ"),
];

#[test]
fn errors_name_file_line_and_instruction() {
    for (text, want) in ERRORS {
        assert_eq!(err(text), *want, "{text:?}");
    }
    let e = parse(b"FROM x\nRUN \xff\n", "app/Dockerfile.dev").unwrap_err();
    assert_eq!(e.to_string(), "app/Dockerfile.dev:2: invalid UTF-8");
}

/// A deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_inputs_never_panic() {
    let seeds: Vec<&str> = NODE_CASES
        .iter()
        .map(|(t, _)| *t)
        .chain(ERRORS.iter().map(|(t, _)| *t))
        .chain([
            "FROM x\nRUN <<A cat\n${x:-y}\nA\nCOPY <<-\"B\" /b\n\tq\n\tB\n",
            "# escape=`\nFROM x\nENV a=${b/c*/d} `\n e=\"f\"\nLABEL x=${y:?z}\n",
            "FROM x\nRUN --mount=\"type=bind,src=a\" --mount=type=tmpfs,size=1g x\nHEALTHCHECK --interval=1h30m CMD [\"a\"]\n",
        ])
        .collect();
    let alphabet: &[&str] = &[
        "\\", "`", "\n", "\"", "'", "$", "{", "}", ":", "-", "?", "#", "%", "/", "<<", "<<-",
        "EOF", "[", "]", ",", "=", " ", "\t", "--", "FROM ", "RUN ", "ONBUILD ", "\u{feff}", "é",
        "\r",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let lookup = |k: &str| (k.len() % 2 == 0).then(|| format!("v{k} w"));
    for _ in 0..20_000 {
        let mut s = seeds[rng.below(seeds.len())].to_string();
        for _ in 0..1 + rng.below(6) {
            let mut pos = rng.below(s.len() + 1);
            while !s.is_char_boundary(pos) {
                pos -= 1;
            }
            match rng.below(3) {
                0 => s.insert_str(pos, alphabet[rng.below(alphabet.len())]),
                1 => {
                    let mut end = (pos + 1 + rng.below(4)).min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    s.replace_range(pos..end, "");
                }
                _ => s.truncate(pos),
            }
        }
        if let Ok(d) = parse_str(&s, "Dockerfile") {
            // Expanding whatever came out must not panic either.
            for st in &d.stages {
                let _ = expand(&st.from.value.base, d.escape(), &lookup);
                for i in &st.instructions {
                    if let Instruction::Run(r) = &i.value {
                        let _ = r.body();
                        for m in &r.mounts {
                            let _ = m.resolve(d.escape(), &lookup);
                        }
                    }
                }
            }
        }
        let _ = expand_words(&s, '\\', &lookup);
    }
}

/// A 1,000-line Dockerfile with every common shape.
pub(crate) fn big_dockerfile() -> String {
    let mut s = String::from("# syntax=docker/dockerfile:1\nARG BASE=debian:12\n");
    for i in 0..50 {
        s.push_str(&format!("FROM ${{BASE}} AS stage{i}\n"));
        s.push_str("ENV PATH=/usr/local/bin:$PATH LANG=C.UTF-8\n");
        s.push_str("WORKDIR /app\n");
        s.push_str("COPY --chown=app:app --chmod=0644 src/ /app/src/\n");
        s.push_str("RUN --mount=type=cache,target=/var/cache/apt apt-get update && \\\n    apt-get install -y \\\n      curl ca-certificates && \\\n    rm -rf /var/lib/apt/lists/*\n");
        s.push_str("RUN <<EOF\nset -e\necho building\nmake -j2\nEOF\n");
        s.push_str("LABEL org.opencontainers.image.title=\"app\" version=1\n");
        s.push_str("EXPOSE 8080/tcp\nUSER app\nCMD [\"./app\", \"--serve\"]\n");
        s.push_str("ARG VERSION=1.0\nVOLUME /data\nHEALTHCHECK --interval=5s CMD curl -f localhost || exit 1\n");
    }
    s
}

#[test]
fn a_thousand_lines_parse_quickly() {
    let text = big_dockerfile();
    assert_eq!(text.lines().count(), 1002);
    let d = ok(&text);
    assert_eq!(d.stages.len(), 50);
    // Well under 1 ms in release; leave room for debug builds. CPU time, not
    // wall time: other jobs on the machine must not fail this test.
    let t = super::thread_cpu_time();
    for _ in 0..10 {
        ok(&text);
    }
    let used = super::thread_cpu_time() - t;
    assert!(used < Duration::from_millis(1000), "{:?}", used / 10);
}
