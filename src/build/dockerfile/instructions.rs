//! From nodes to typed instructions and stages, with BuildKit's checks
//! (`instructions/parse.go`): argument counts, flags per instruction, stage
//! names, HEALTHCHECK options, ONBUILD triggers.

use std::time::Duration;

use super::ast::{
    AddInstr, ArgDecl, CommandLine, CopyInstr, CopySpec, FromInstr, Healthcheck, HealthcheckCmd,
    InlineSource, Instruction, KeyValue, Located, MountSpec, Network, Onbuild, RunInstr, Security,
    Stage,
};
use super::duration;
use super::error::ErrorKind;
use super::flags::{Flags, Kind};
use super::heredoc::parse_word;
use super::syntax::Node;
use super::words::lower_keyword;

/// Every instruction keyword, for "did you mean" hints.
const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// What one node is: the start of a stage or an instruction.
pub(crate) enum Parsed {
    From(FromInstr),
    Instruction(Instruction),
}

/// Wraps a value with the node's place, moving the node's text out.
fn located<T>(node: &mut Node, value: T) -> Located<T> {
    let mut source = std::mem::take(&mut node.original);
    source.truncate(source.trim_end().len());
    let blanks = source.len() - source.trim_start().len();
    source.drain(..blanks);
    Located {
        line: node.line,
        end_line: node.end_line,
        source,
        comments: std::mem::take(&mut node.comments),
        value,
    }
}

/// Global ARGs and stages.
pub(crate) type Assembled = (Vec<Located<Vec<ArgDecl>>>, Vec<Stage>);

/// An error with its line and instruction keyword.
pub(crate) type NodeError = (usize, Option<String>, ErrorKind);

/// Groups nodes into global ARGs and stages.
pub(crate) fn assemble(nodes: Vec<Node>) -> Result<Assembled, NodeError> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for mut node in nodes {
        let parsed = parse_node(&mut node);
        let fail = |e: ErrorKind| (node.line, Some(node.keyword.to_ascii_uppercase()), e);
        match parsed.map_err(fail)? {
            Parsed::From(from) => stages.push(Stage {
                name: from.name.clone(),
                from: located(&mut node, from),
                instructions: Vec::new(),
            }),
            Parsed::Instruction(Instruction::Arg(args)) if stages.is_empty() => {
                meta_args.push(located(&mut node, args));
            }
            Parsed::Instruction(i) => match stages.last_mut() {
                Some(stage) => stage.instructions.push(located(&mut node, i)),
                None => return Err(fail(ErrorKind::MissingFrom)),
            },
        }
    }
    Ok((meta_args, stages))
}

fn args_err(msg: String) -> ErrorKind {
    ErrorKind::Arguments(msg)
}

fn at_least_one(cmd: &str) -> ErrorKind {
    args_err(format!("{cmd} requires at least one argument"))
}

fn exactly_one(cmd: &str) -> ErrorKind {
    args_err(format!("{cmd} requires exactly one argument"))
}

fn no_flags(node: &Node) -> Result<(), ErrorKind> {
    Flags::parse(&node.flags, &[]).map(|_| ())
}

/// One node to a stage start or an instruction.
pub(crate) fn parse_node(node: &mut Node) -> Result<Parsed, ErrorKind> {
    let args = &node.args;
    let mut buf = [0u8; 12];
    let i = match lower_keyword(&node.keyword, &mut buf) {
        "from" => return parse_from(node).map(Parsed::From),
        "env" => Instruction::Env(key_values(node, "ENV")?),
        "label" => Instruction::Label(key_values(node, "LABEL")?),
        "maintainer" => {
            if args.len() != 1 {
                return Err(exactly_one("MAINTAINER"));
            }
            no_flags(node)?;
            Instruction::Maintainer(node.args.swap_remove(0))
        }
        "add" => {
            if args.len() < 2 {
                return Err(no_destination("ADD"));
            }
            let mut flags = Flags::parse(
                &node.flags,
                &[
                    ("chown", Kind::String),
                    ("chmod", Kind::String),
                    ("link", Kind::Bool),
                    ("keep-git-dir", Kind::Bool),
                    ("checksum", Kind::String),
                    ("unpack", Kind::Bool),
                    ("exclude", Kind::Strings),
                ],
            )?;
            Instruction::Add(AddInstr {
                spec: copy_spec(node, &mut flags, "ADD")?,
                keep_git_dir: flags.bool("keep-git-dir"),
                checksum: flags.string("checksum"),
                unpack: flags.bool("unpack"),
            })
        }
        "copy" => {
            if args.len() < 2 {
                return Err(no_destination("COPY"));
            }
            let mut flags = Flags::parse(
                &node.flags,
                &[
                    ("chown", Kind::String),
                    ("from", Kind::String),
                    ("chmod", Kind::String),
                    ("link", Kind::Bool),
                    ("exclude", Kind::Strings),
                    ("parents", Kind::Bool),
                ],
            )?;
            Instruction::Copy(CopyInstr {
                spec: copy_spec(node, &mut flags, "COPY")?,
                from: flags.string("from"),
                parents: flags.bool("parents").unwrap_or(false),
            })
        }
        "onbuild" => parse_onbuild(node)?,
        "workdir" => {
            if args.len() != 1 {
                return Err(exactly_one("WORKDIR"));
            }
            no_flags(node)?;
            Instruction::Workdir(node.args.swap_remove(0))
        }
        "run" => parse_run(node)?,
        "cmd" => {
            no_flags(node)?;
            Instruction::Cmd(command_line(node))
        }
        "entrypoint" => {
            no_flags(node)?;
            Instruction::Entrypoint(command_line(node))
        }
        "healthcheck" => Instruction::Healthcheck(parse_healthcheck(node)?),
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            no_flags(node)?;
            let mut ports = std::mem::take(&mut node.args);
            // BuildKit sorts the words before expanding them.
            ports.sort();
            Instruction::Expose(ports)
        }
        "user" => {
            if args.len() != 1 {
                return Err(exactly_one("USER"));
            }
            no_flags(node)?;
            Instruction::User(node.args.swap_remove(0))
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            no_flags(node)?;
            let mut vols = Vec::with_capacity(args.len());
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return Err(args_err(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                vols.push(v.to_string());
            }
            Instruction::Volume(vols)
        }
        "stopsignal" => {
            if args.len() != 1 {
                return Err(exactly_one("STOPSIGNAL"));
            }
            no_flags(node)?;
            Instruction::StopSignal(node.args.swap_remove(0))
        }
        "arg" => {
            if args.is_empty() {
                return Err(at_least_one("ARG"));
            }
            no_flags(node)?;
            let mut decls = Vec::with_capacity(args.len());
            for a in args {
                let decl = match a.split_once('=') {
                    Some(("", _)) => return Err(args_err("ARG names can not be blank".into())),
                    Some((k, v)) => ArgDecl {
                        name: k.to_string(),
                        default: Some(v.to_string()),
                    },
                    None => ArgDecl {
                        name: a.clone(),
                        default: None,
                    },
                };
                decls.push(decl);
            }
            Instruction::Arg(decls)
        }
        "shell" => {
            no_flags(node)?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err(args_err(
                    "SHELL requires the arguments to be in JSON form".into(),
                ));
            }
            Instruction::Shell(std::mem::take(&mut node.args))
        }
        _ => return Err(unknown_instruction(&node.keyword)),
    };
    Ok(Parsed::Instruction(i))
}

fn unknown_instruction(keyword: &str) -> ErrorKind {
    let upper = keyword.to_ascii_uppercase();
    let close = KEYWORDS
        .iter()
        .map(|k| (super::flags::levenshtein(&upper, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    ErrorKind::UnknownInstruction(match close {
        Some((_, k)) if !keyword.is_empty() => {
            format!("{keyword} (did you mean {}?)", k.to_ascii_lowercase())
        }
        _ => keyword.to_string(),
    })
}

fn no_destination(cmd: &str) -> ErrorKind {
    args_err(format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    ))
}

fn key_values(node: &mut Node, cmd: &str) -> Result<Vec<KeyValue>, ErrorKind> {
    no_flags(node)?;
    let args = &mut node.args;
    if args.is_empty() {
        return Err(at_least_one(cmd));
    }
    if args.len() % 3 != 0 {
        return Err(args_err(format!("Bad input to {cmd}, too many arguments")));
    }
    args.chunks_mut(3)
        .map(|c| {
            if c[0].is_empty() {
                return Err(args_err(format!("{cmd} names can not be blank")));
            }
            Ok(KeyValue {
                key: std::mem::take(&mut c[0]),
                value: std::mem::take(&mut c[1]),
                legacy: c[2].is_empty(),
            })
        })
        .collect()
}

fn parse_from(node: &mut Node) -> Result<FromInstr, ErrorKind> {
    let args = &node.args;
    let name = match args.as_slice() {
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !valid_stage_name(&lower) {
                return Err(args_err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                )));
            }
            Some(lower)
        }
        [_] => None,
        _ => {
            return Err(args_err(
                "FROM requires either one or three arguments".into(),
            ))
        }
    };
    let mut flags = Flags::parse(&node.flags, &[("platform", Kind::String)])?;
    Ok(FromInstr {
        base: node.args.swap_remove(0),
        platform: flags.string("platform"),
        name,
    })
}

/// `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn copy_spec(node: &Node, flags: &mut Flags, cmd: &str) -> Result<CopySpec, ErrorKind> {
    let (srcs, dest) = node.args.split_at(node.args.len() - 1);
    let dest = &dest[0];
    if parse_word(dest).is_some() {
        return Err(args_err(format!(
            "{cmd} cannot accept a heredoc as a destination"
        )));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for src in srcs {
        // Only shell form has heredocs; a JSON "<<EOF" is a file name.
        match parse_word(src).filter(|_| !node.json) {
            Some(word) => {
                let body = node.heredocs.iter().find(|h| h.name == word.name);
                let content = body.map(|h| h.content.clone()).unwrap_or_default();
                let content = if word.chomp {
                    super::ast::Heredoc {
                        content,
                        ..word.clone()
                    }
                    .body()
                } else {
                    content
                };
                inline.push(InlineSource {
                    name: word.name,
                    content,
                    expand: word.expand,
                });
            }
            None => sources.push(src.clone()),
        }
    }
    Ok(CopySpec {
        sources,
        inline,
        dest: dest.clone(),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link").unwrap_or(false),
        exclude: flags.strings("exclude"),
        json: node.json,
    })
}

/// RUN/CMD/ENTRYPOINT arguments: the JSON array, or the text joined.
fn command_line(node: &mut Node) -> CommandLine {
    if node.json {
        CommandLine::Exec(std::mem::take(&mut node.args))
    } else if node.args.len() == 1 {
        CommandLine::Shell(node.args.swap_remove(0))
    } else {
        CommandLine::Shell(node.args.join(" "))
    }
}

fn parse_run(node: &mut Node) -> Result<Instruction, ErrorKind> {
    let mut flags = Flags::parse(
        &node.flags,
        &[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    let mounts = flags
        .strings("mount")
        .iter()
        .map(|m| MountSpec::validate(m).map_err(ErrorKind::Mount))
        .collect::<Result<Vec<_>, _>>()?;
    let network = match flags.string("network").as_deref() {
        None | Some("default") => Network::Default,
        Some("none") => Network::None,
        Some("host") => Network::Host,
        Some(other) => {
            return Err(ErrorKind::BadFlag(format!(
                "invalid network mode {other:?}"
            )))
        }
    };
    let security = match flags.string("security").as_deref() {
        None | Some("sandbox") => Security::Sandbox,
        Some("insecure") => Security::Insecure,
        Some(other) => {
            return Err(ErrorKind::BadFlag(format!(
                "security {other:?} is not valid"
            )))
        }
    };
    // BuildKit accepts an empty RUN and fails when running it; say so now.
    if node.args.is_empty() {
        return Err(at_least_one("RUN"));
    }
    Ok(Instruction::Run(RunInstr {
        command: command_line(node),
        heredocs: std::mem::take(&mut node.heredocs),
        mounts,
        network,
        security,
    }))
}

fn parse_healthcheck(node: &Node) -> Result<Healthcheck, ErrorKind> {
    let args = &node.args;
    let Some(typ) = args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = typ.to_ascii_uppercase();
    if typ == "NONE" {
        if args.len() != 1 {
            return Err(args_err("HEALTHCHECK NONE takes no arguments".into()));
        }
        no_flags(node)?;
        return Ok(Healthcheck::None);
    }
    let mut flags = Flags::parse(
        &node.flags,
        &[
            ("interval", Kind::String),
            ("timeout", Kind::String),
            ("start-period", Kind::String),
            ("start-interval", Kind::String),
            ("retries", Kind::String),
        ],
    )?;
    if typ != "CMD" {
        return Err(args_err(format!(
            "Unknown type {typ:?} in HEALTHCHECK (try CMD)"
        )));
    }
    if args.len() < 2 {
        return Err(args_err("Missing command after HEALTHCHECK CMD".into()));
    }
    let command = if node.json {
        CommandLine::Exec(args[1..].to_vec())
    } else {
        CommandLine::Shell(args[1..].join(" "))
    };
    let mut interval = |name: &str| -> Result<Duration, ErrorKind> {
        let Some(v) = flags.string(name).filter(|v| !v.is_empty()) else {
            return Ok(Duration::ZERO);
        };
        let d = duration::parse(&v).map_err(ErrorKind::BadFlag)?;
        if !d.is_zero() && d < Duration::from_millis(1) {
            return Err(ErrorKind::BadFlag(format!(
                "Interval {name:?} cannot be less than 1ms"
            )));
        }
        Ok(d)
    };
    let (interval, timeout, start_period, start_interval) = (
        interval("interval")?,
        interval("timeout")?,
        interval("start-period")?,
        interval("start-interval")?,
    );
    let retries = match flags.string("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| ErrorKind::BadFlag(format!("--retries: invalid number {v:?}")))?;
            if n < 0 {
                return Err(ErrorKind::BadFlag(format!(
                    "--retries cannot be negative ({n})"
                )));
            }
            n as u32
        }
    };
    Ok(Healthcheck::Check(HealthcheckCmd {
        command,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
}

fn parse_onbuild(node: &mut Node) -> Result<Instruction, ErrorKind> {
    let Some(child) = node.child.as_deref() else {
        return Err(at_least_one("ONBUILD"));
    };
    no_flags(node)?;
    let trigger = child.keyword.trim().to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => {
            return Err(args_err(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
            ))
        }
        "MAINTAINER" | "FROM" => {
            return Err(args_err(format!(
                "{trigger} isn't allowed as an ONBUILD trigger"
            )))
        }
        _ => {}
    }
    // The text after the keyword, as the image config stores it.
    let original = node.original.trim_start();
    let mut expression = original
        .get(..7)
        .filter(|k| k.eq_ignore_ascii_case("onbuild"))
        .map_or(original, |_| &original[7..])
        .trim_start()
        .to_string();
    for h in &node.heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    let mut child = child.clone();
    child.heredocs = node.heredocs.clone();
    child.line = node.line;
    child.end_line = node.end_line;
    let instruction = match parse_node(&mut child)? {
        Parsed::Instruction(i) => i,
        Parsed::From(_) => return Err(args_err("FROM isn't allowed as an ONBUILD trigger".into())),
    };
    Ok(Instruction::Onbuild(Onbuild {
        expression,
        instruction: Box::new(instruction),
    }))
}

/// True for an instruction keyword (upper-case).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}
