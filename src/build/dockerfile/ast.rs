//! The parsed Dockerfile: what the executor consumes.
//!
//! Words are kept **unexpanded** wherever BuildKit expands them at dispatch
//! time with the ARG/ENV values then in scope (FROM, COPY/ADD sources, dest
//! and flags, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, ARG
//! defaults, `--mount` values). Expand them with
//! [`super::expand`] / [`super::expand_words`] using [`Dockerfile::escape`].
//! RUN, CMD, ENTRYPOINT and SHELL are never expanded by the builder: the
//! shell does that (exec form gets none at all).

use std::time::Duration;

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The parser directives at the top of the file.
    pub directives: Directives,
    /// `ARG` instructions before the first `FROM` (global scope: visible in
    /// `FROM` lines, and in a stage only once re-declared there bare).
    pub meta_args: Vec<Located<Vec<ArgDecl>>>,
    /// The stages in file order; index `i` is what `--from=i` names.
    pub stages: Vec<Stage>,
    /// Non-fatal findings (e.g. empty continuation lines), as BuildKit warns.
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// The escape character in effect (`\` unless `# escape=`` ` ``).
    pub fn escape(&self) -> char {
        self.directives.escape
    }

    /// The stage a `--from`/`FROM`/`--target` name refers to: a stage name
    /// (case-insensitive) or a decimal index. `None` means "not a stage"
    /// (for `--from` and `FROM` that makes it an image reference).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.stages.iter().position(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return Some(i);
        }
        match name.parse::<usize>() {
            Ok(i) if i < self.stages.len() && name.bytes().all(|b| b.is_ascii_digit()) => Some(i),
            _ => None,
        }
    }
}

/// Parser directives (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=` as written; berth has no frontend images, so it is
    /// accepted and ignored.
    pub syntax: Option<String>,
    /// The escape and line-continuation character: `\` or `` ` ``.
    pub escape: char,
    /// `# check=` as written (`skip=A,B;error=true`), for the linter.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A warning found while parsing, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line it concerns.
    pub line: usize,
    /// One-line description.
    pub message: String,
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// 1-based line where it ends (continuations and heredoc bodies included).
    pub end_line: usize,
    /// The instruction as written, continuations joined, trimmed; what
    /// BuildKit shows in progress names and image history.
    pub source: String,
    /// Comment lines directly above it (without `#`), for doc comments.
    pub comments: Vec<String>,
    /// The parsed instruction.
    pub value: T,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The `FROM` line.
    pub from: Located<FromInstr>,
    /// The stage name from `AS name`, lower-cased (names match
    /// case-insensitively).
    pub name: Option<String>,
    /// The instructions of the stage, in order.
    pub instructions: Vec<Located<Instruction>>,
}

/// `FROM [--platform=P] base [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromInstr {
    /// The base: an image reference, a stage name, or `scratch`; unexpanded
    /// (global ARGs apply).
    pub base: String,
    /// `--platform`, unexpanded (global ARGs and BUILDPLATFORM etc. apply).
    pub platform: Option<String>,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
}

/// Every instruction that may appear inside a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `RUN`.
    Run(RunInstr),
    /// `COPY`.
    Copy(CopyInstr),
    /// `ADD`.
    Add(AddInstr),
    /// `ENV k=v ...` (or legacy `ENV k v`); keys and values unexpanded.
    Env(Vec<KeyValue>),
    /// `ARG name[=default] ...`; defaults unexpanded.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`, unexpanded.
    Workdir(String),
    /// `USER user[:group]`, unexpanded.
    User(String),
    /// `SHELL ["exe", "arg"...]` (JSON form only).
    Shell(Vec<String>),
    /// `CMD`.
    Cmd(CommandLine),
    /// `ENTRYPOINT`.
    Entrypoint(CommandLine),
    /// `EXPOSE port[/proto] ...`: words unexpanded; expand each with
    /// [`super::expand_words`] (one word may yield several).
    Expose(Vec<String>),
    /// `VOLUME path ...` or `VOLUME ["path", ...]`, unexpanded.
    Volume(Vec<String>),
    /// `LABEL k=v ...`; keys and values unexpanded.
    Label(Vec<KeyValue>),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `STOPSIGNAL sig`, unexpanded.
    StopSignal(String),
    /// `ONBUILD <instruction>`.
    Onbuild(Onbuild),
    /// `MAINTAINER name` (deprecated; sets the image author).
    Maintainer(String),
}

impl Instruction {
    /// The instruction keyword, upper-case (`RUN`, `COPY`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Shell(_) => "SHELL",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Label(_) => "LABEL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// `key=value` of ENV and LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, unexpanded.
    pub key: String,
    /// The value, unexpanded (quotes still in place: expansion removes them).
    pub value: String,
    /// True for the legacy `ENV key value` form (no `=`).
    pub legacy: bool,
}

/// One `ARG` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name.
    pub name: String,
    /// `=default`, unexpanded; `None` for a bare `ARG name`.
    pub default: Option<String>,
}

/// The command of RUN, CMD, ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// Shell form: the text after the instruction (and its flags), run as
    /// `SHELL + [text]`.
    Shell(String),
    /// Exec form: a JSON array of strings, run as is.
    Exec(Vec<String>),
}

/// A here-document attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The word after `<<` with quotes removed (`EOF` for `<<"EOF"`); the
    /// terminator, and the file name for COPY/ADD.
    pub name: String,
    /// The file descriptor digits before `<<` (`3<<EOF`), 0 when absent.
    pub fd: u32,
    /// False when any part of the word was quoted: the body is then not
    /// expanded (by the builder for COPY/ADD, by the shell for RUN).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from each body line.
    pub chomp: bool,
    /// The raw body, every line with its newline, terminator excluded;
    /// leading tabs still in place (see [`Heredoc::body`]).
    pub content: String,
}

impl Heredoc {
    /// The body with `<<-` applied (leading tabs of every line removed).
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInstr {
    /// The command; with heredocs, the shell-form line that names them.
    pub command: CommandLine,
    /// Here-documents in the order they appear on the line.
    pub heredocs: Vec<Heredoc>,
    /// `--mount` specs in order, validated, values unexpanded.
    pub mounts: Vec<MountSpec>,
    /// `--network`.
    pub network: Network,
    /// `--security`.
    pub security: Security,
}

/// What a RUN executes, after BuildKit's heredoc rules (`dispatchRun`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunBody {
    /// Run these argv as is (exec form).
    Exec(Vec<String>),
    /// Run `SHELL + [script]`.
    Shell(String),
    /// `RUN <<WORD` alone whose body starts with `#!`: write `content` to a
    /// file named `name` (mode 0755) and execute it directly.
    Script {
        /// The heredoc word, the file name.
        name: String,
        /// The body (tabs chomped for `<<-`).
        content: String,
    },
}

impl RunInstr {
    /// What to execute, following BuildKit: a lone heredoc word runs its body
    /// as one shell argument (or as a script file when it starts with `#!`);
    /// a heredoc with other text sends the line, then each body and its
    /// terminator, to the shell verbatim (the shell does `<<-` itself).
    pub fn body(&self) -> RunBody {
        match &self.command {
            CommandLine::Exec(argv) => RunBody::Exec(argv.clone()),
            CommandLine::Shell(line) if self.heredocs.is_empty() => RunBody::Shell(line.clone()),
            CommandLine::Shell(line) => {
                let first = &self.heredocs[0];
                if super::heredoc::parse_word(line).is_some() {
                    let data = first.body();
                    if data.starts_with("#!") {
                        return RunBody::Script {
                            name: first.name.clone(),
                            content: data,
                        };
                    }
                    return RunBody::Shell(data);
                }
                let mut script = line.clone();
                for h in &self.heredocs {
                    script.push('\n');
                    script.push_str(&h.content);
                    script.push_str(&h.name);
                }
                RunBody::Shell(script)
            }
        }
    }
}

/// `RUN --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The build's network (the default).
    #[default]
    Default,
    /// No network: loopback only.
    None,
    /// The host's network namespace.
    Host,
}

/// `RUN --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// The default confinement.
    #[default]
    Sandbox,
    /// `insecure`: all capabilities, no seccomp (needs the entitlement).
    Insecure,
}

/// One `--mount=` value: validated at parse time, expanded into a [`Mount`]
/// by the builder with the ARG/ENV in scope ([`MountSpec::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The CSV text after `--mount=`, unexpanded.
    pub raw: String,
}

/// `--mount` types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// `bind` (the default): a directory of the context, a stage or an image.
    Bind,
    /// `cache`: a persistent directory keyed by `id`.
    Cache,
    /// `tmpfs`.
    Tmpfs,
    /// `secret`: a file from the build's secrets.
    Secret,
    /// `ssh`: an agent socket.
    Ssh,
}

/// `sharing=` of cache mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Concurrent writers share the directory (the default).
    #[default]
    Shared,
    /// Each concurrent writer gets its own copy.
    Private,
    /// Writers wait for each other.
    Locked,
}

/// A `--mount` after expansion, with BuildKit's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `type=`.
    pub kind: MountType,
    /// `from=`: a stage name/index or image (bind, cache).
    pub from: Option<String>,
    /// `source=`/`src=`.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`.
    pub target: Option<String>,
    /// Read-only: explicit `ro`/`rw`, else true for bind/secret/ssh, false
    /// for cache/tmpfs.
    pub readonly: bool,
    /// `size=` of a tmpfs in bytes.
    pub size: Option<u64>,
    /// `id=` (cache id, secret id, ssh id).
    pub id: Option<String>,
    /// `sharing=` (cache only).
    pub sharing: Sharing,
    /// `required` (secret, ssh).
    pub required: bool,
    /// `env=` (secret): expose the secret as this variable.
    pub env: Option<String>,
    /// `mode=` (octal; cache, secret, ssh).
    pub mode: Option<u32>,
    /// `uid=` (cache, secret, ssh).
    pub uid: Option<u32>,
    /// `gid=` (cache, secret, ssh).
    pub gid: Option<u32>,
}

/// Inline file contents of COPY/ADD (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineSource {
    /// The file name (the heredoc word).
    pub name: String,
    /// The content, `<<-` already applied; expand it with ARG/ENV when
    /// `expand` is true.
    pub content: String,
    /// False when the heredoc word was quoted.
    pub expand: bool,
}

/// What COPY and ADD share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// Source paths (or URLs for ADD), unexpanded, in order.
    pub sources: Vec<String>,
    /// Heredoc sources, in order.
    pub inline: Vec<InlineSource>,
    /// The destination, unexpanded.
    pub dest: String,
    /// `--chown=user[:group]`, unexpanded.
    pub chown: Option<String>,
    /// `--chmod=octal|symbolic`, unexpanded.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--exclude=pattern` (repeatable), unexpanded.
    pub exclude: Vec<String>,
    /// True for the JSON form (`COPY ["a b", "/c"]`).
    pub json: bool,
}

/// `COPY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyInstr {
    /// Sources, destination and the shared flags.
    pub spec: CopySpec,
    /// `--from=stage|index|image`, unexpanded.
    pub from: Option<String>,
    /// `--parents`.
    pub parents: bool,
}

/// `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddInstr {
    /// Sources, destination and the shared flags.
    pub spec: CopySpec,
    /// `--keep-git-dir[=bool]`; `None` when not given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum=`, unexpanded.
    pub checksum: Option<String>,
    /// `--unpack[=bool]`; `None` when not given (local archives unpack).
    pub unpack: Option<bool>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check (`Test: ["NONE"]`).
    None,
    /// `HEALTHCHECK [opts] CMD ...`.
    Check(HealthcheckCmd),
}

/// `HEALTHCHECK [--interval ...] CMD command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckCmd {
    /// The test: shell form becomes `["CMD-SHELL", text]`, exec form
    /// `["CMD", argv...]`.
    pub command: CommandLine,
    /// `--interval`; zero when not given (the engine's default applies).
    pub interval: Duration,
    /// `--timeout`; zero when not given.
    pub timeout: Duration,
    /// `--start-period`; zero when not given.
    pub start_period: Duration,
    /// `--start-interval`; zero when not given.
    pub start_interval: Duration,
    /// `--retries`; zero when not given.
    pub retries: u32,
}

impl HealthcheckCmd {
    /// The image config `Healthcheck.Test` array.
    pub fn test(&self) -> Vec<String> {
        match &self.command {
            CommandLine::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            CommandLine::Exec(argv) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(argv.iter().cloned());
                t
            }
        }
    }
}

/// `ONBUILD <instruction>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger as stored in the image config `OnBuild` list: the text
    /// after `ONBUILD`, heredoc bodies and terminators appended.
    pub expression: String,
    /// The trigger parsed (never FROM, MAINTAINER or ONBUILD).
    pub instruction: Box<Instruction>,
}
