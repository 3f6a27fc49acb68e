//! A stand-in reader of the common Dockerfile subset into the parser's syntax
//! tree, used only until the full parser (`dockerfile::parse`) is merged: lines,
//! continuations, comments, JSON and shell forms, `--flags`, `AS name`. No
//! heredocs, directives are skipped.

#![allow(clippy::result_large_err)] // the parser's error type; this module goes away

use std::time::Duration;

use super::dockerfile::{self as ast, ErrorKind, ParseError};

fn err(file: &str, line: usize, instr: Option<&str>, kind: ErrorKind) -> ParseError {
    ParseError {
        file: file.to_string(),
        line,
        instruction: instr.map(str::to_uppercase),
        kind,
    }
}

/// Splits off leading `--flag[=value]` words.
fn flags(rest: &str) -> (Vec<(String, Option<String>)>, String) {
    let mut out = vec![];
    let mut s = rest.trim_start();
    while let Some(f) = s.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let word = &f[..end];
        match word.split_once('=') {
            Some((k, v)) => out.push((k.to_lowercase(), Some(v.to_string()))),
            None => out.push((word.to_lowercase(), None)),
        }
        s = f[end..].trim_start();
    }
    (out, s.to_string())
}

fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn cmdline(s: &str) -> ast::CommandLine {
    match json_array(s) {
        Some(v) => ast::CommandLine::Exec(v),
        None => ast::CommandLine::Shell(s.to_string()),
    }
}

/// Splits on whitespace outside quotes (quotes kept: expansion removes them).
fn words(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut q: Option<char> = None;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' => {
                cur.push(c);
                esc = true;
            }
            '"' | '\'' if q.is_none() => {
                q = Some(c);
                cur.push(c);
            }
            c if Some(c) == q => {
                q = None;
                cur.push(c);
            }
            c if c.is_whitespace() && q.is_none() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn kvs(s: &str, legacy_ok: bool) -> Vec<ast::KeyValue> {
    let ws = words(s);
    if legacy_ok && !ws.first().is_some_and(|w| w.contains('=')) {
        let (k, v) = s
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((s.trim(), ""));
        return vec![ast::KeyValue {
            key: k.to_string(),
            value: v.trim().to_string(),
            legacy: true,
        }];
    }
    ws.into_iter()
        .map(|w| {
            let (k, v) = w.split_once('=').unwrap_or((&w, ""));
            ast::KeyValue {
                key: k.to_string(),
                value: v.to_string(),
                legacy: false,
            }
        })
        .collect()
}

fn copy_spec(
    file: &str,
    line: usize,
    kw: &str,
    fl: &[(String, Option<String>)],
    rest: &str,
) -> Result<ast::CopySpec, ParseError> {
    let (mut ws, json) = match json_array(rest) {
        Some(v) => (v, true),
        None => (words(rest), false),
    };
    if ws.len() < 2 {
        return Err(err(
            file,
            line,
            Some(kw),
            ErrorKind::Arguments(format!("{kw} requires at least two arguments")),
        ));
    }
    let dest = ws.pop().expect("two words");
    let get = |k: &str| fl.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone());
    Ok(ast::CopySpec {
        sources: ws,
        inline: vec![],
        dest,
        chown: get("chown"),
        chmod: get("chmod"),
        link: fl.iter().any(|(n, _)| n == "link"),
        exclude: fl
            .iter()
            .filter(|(n, _)| n == "exclude")
            .filter_map(|(_, v)| v.clone())
            .collect(),
        json,
    })
}

fn instruction(
    file: &str,
    line: usize,
    kw: &str,
    rest: &str,
) -> Result<ast::Instruction, ParseError> {
    use ast::Instruction as I;
    let (fl, rest) = flags(rest);
    let get = |k: &str| fl.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone());
    Ok(match kw {
        "RUN" => I::Run(ast::RunInstr {
            command: cmdline(&rest),
            heredocs: vec![],
            mounts: fl
                .iter()
                .filter(|(n, _)| n == "mount")
                .filter_map(|(_, v)| v.clone())
                .map(|raw| ast::MountSpec { raw })
                .collect(),
            network: match get("network").as_deref() {
                Some("none") => ast::Network::None,
                Some("host") => ast::Network::Host,
                _ => ast::Network::Default,
            },
            security: ast::Security::Sandbox,
        }),
        "COPY" => I::Copy(ast::CopyInstr {
            spec: copy_spec(file, line, kw, &fl, &rest)?,
            from: get("from"),
            parents: fl.iter().any(|(n, _)| n == "parents"),
        }),
        "ADD" => I::Add(ast::AddInstr {
            spec: copy_spec(file, line, kw, &fl, &rest)?,
            keep_git_dir: None,
            checksum: None,
            unpack: None,
        }),
        "ENV" => I::Env(kvs(&rest, true)),
        "LABEL" => I::Label(kvs(&rest, false)),
        "ARG" => I::Arg(
            words(&rest)
                .into_iter()
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => ast::ArgDecl {
                        name: k.into(),
                        default: Some(v.into()),
                    },
                    None => ast::ArgDecl {
                        name: w,
                        default: None,
                    },
                })
                .collect(),
        ),
        "WORKDIR" => I::Workdir(rest.trim().into()),
        "USER" => I::User(rest.trim().into()),
        "SHELL" => I::Shell(json_array(&rest).ok_or_else(|| {
            err(
                file,
                line,
                Some(kw),
                ErrorKind::Arguments("SHELL requires the arguments to be in JSON form".into()),
            )
        })?),
        "CMD" => I::Cmd(cmdline(&rest)),
        "ENTRYPOINT" => I::Entrypoint(cmdline(&rest)),
        "EXPOSE" => I::Expose(words(&rest)),
        "VOLUME" => I::Volume(json_array(&rest).unwrap_or_else(|| words(&rest))),
        "STOPSIGNAL" => I::StopSignal(rest.trim().into()),
        "MAINTAINER" => I::Maintainer(rest.trim().into()),
        "HEALTHCHECK" => {
            let t = rest.trim();
            if t.eq_ignore_ascii_case("none") {
                I::Healthcheck(ast::Healthcheck::None)
            } else {
                let cmd = t
                    .strip_prefix("CMD")
                    .or_else(|| t.strip_prefix("cmd"))
                    .ok_or_else(|| {
                        err(
                            file,
                            line,
                            Some(kw),
                            ErrorKind::Arguments("HEALTHCHECK needs CMD or NONE".into()),
                        )
                    })?;
                let dur = |k: &str| {
                    get(k)
                        .and_then(|v| humantime::parse_duration(&v).ok())
                        .unwrap_or(Duration::ZERO)
                };
                I::Healthcheck(ast::Healthcheck::Check(ast::HealthcheckCmd {
                    command: cmdline(cmd.trim()),
                    interval: dur("interval"),
                    timeout: dur("timeout"),
                    start_period: dur("start-period"),
                    start_interval: dur("start-interval"),
                    retries: get("retries").and_then(|r| r.parse().ok()).unwrap_or(0),
                }))
            }
        }
        other => {
            return Err(err(
                file,
                line,
                Some(other),
                ErrorKind::UnknownInstruction(other.to_string()),
            ))
        }
    })
}

/// Reads `text` (named `file` in errors).
pub fn parse(text: &str, file: &str) -> Result<ast::Dockerfile, ParseError> {
    let mut logical: Vec<(usize, String)> = vec![];
    let mut cur: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let t = raw.trim_start();
        if t.starts_with('#') || (t.is_empty() && cur.is_none()) {
            continue;
        }
        let (body, cont) = match raw.trim_end().strip_suffix('\\') {
            Some(b) => (b.to_string(), true),
            None => (raw.to_string(), false),
        };
        match &mut cur {
            Some((_, s)) => s.push_str(&body),
            None => cur = Some((n, body.trim_start().to_string())),
        }
        if !cont {
            logical.push(cur.take().expect("current"));
        }
    }
    logical.extend(cur);
    let mut df = ast::Dockerfile {
        directives: Default::default(),
        meta_args: vec![],
        stages: vec![],
        warnings: vec![],
    };
    for (line, s) in logical {
        let s = s.trim().to_string();
        let (kw, rest) = s.split_once(char::is_whitespace).unwrap_or((&s, ""));
        let kw = kw.to_uppercase();
        fn located<T>(line: usize, s: &str, value: T) -> ast::Located<T> {
            ast::Located {
                line,
                end_line: line,
                source: s.to_string(),
                comments: vec![],
                value,
            }
        }
        if kw == "FROM" {
            let (fl, rest) = flags(rest);
            let ws = words(&rest);
            let name = match ws.as_slice() {
                [_, a, n] if a.eq_ignore_ascii_case("as") => Some(n.to_lowercase()),
                [_] => None,
                _ => {
                    return Err(err(
                        file,
                        line,
                        Some("FROM"),
                        ErrorKind::Arguments("FROM requires one argument, or three with AS".into()),
                    ))
                }
            };
            let platform = fl
                .into_iter()
                .find(|(k, _)| k == "platform")
                .and_then(|x| x.1);
            df.stages.push(ast::Stage {
                from: located(
                    line,
                    &s,
                    ast::FromInstr {
                        base: ws[0].clone(),
                        platform,
                        name: name.clone(),
                    },
                ),
                name,
                instructions: vec![],
            });
            continue;
        }
        let instr = instruction(file, line, &kw, rest)?;
        match df.stages.last_mut() {
            Some(st) => st.instructions.push(ast::Located {
                line,
                end_line: line,
                source: s.clone(),
                comments: vec![],
                value: instr,
            }),
            None => match instr {
                ast::Instruction::Arg(a) => df.meta_args.push(located(line, &s, a)),
                _ => return Err(err(file, line, Some(&kw), ErrorKind::MissingFrom)),
            },
        }
    }
    if df.stages.is_empty() {
        return Err(err(file, 0, None, ErrorKind::NoInstructions));
    }
    Ok(df)
}
