//! What the executor runs: the Dockerfile's stages and instructions in the form
//! the executor needs, words not yet expanded (expansion happens per step, with
//! the ARG/ENV values in scope at that step). [`super::lower`] makes this from the
//! parser's syntax tree.

/// A command in shell form (run through SHELL) or exec form (argv as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN make` ⇒ `SHELL + ["make"]`.
    Shell(String),
    /// `RUN ["make", "all"]`.
    Exec(Vec<String>),
}

/// A heredoc given to COPY/ADD (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// The file name (the heredoc word).
    pub name: String,
    /// Its content.
    pub body: String,
    /// Whether ARG/ENV are expanded in the body (the word was not quoted).
    pub expand: bool,
}

/// COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyOp {
    /// ADD (local tar archives are extracted).
    pub add: bool,
    /// Sources, relative to the context (or to `from`'s root).
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub inline: Vec<InlineFile>,
    /// Destination, relative to WORKDIR unless absolute.
    pub dest: String,
    /// `--from=stage|index|image`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=0755` or symbolic.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--exclude=pattern`, repeatable.
    pub exclude: Vec<String>,
    /// `--parents`.
    pub parents: bool,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub test: Vec<String>,
    /// Durations in nanoseconds; 0 when unset (the engine's defaults apply).
    pub interval: i64,
    /// Timeout.
    pub timeout: i64,
    /// Start period.
    pub start_period: i64,
    /// Start interval.
    pub start_interval: i64,
    /// Retries; 0 when unset.
    pub retries: i64,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// RUN.
    Run {
        /// The command.
        cmd: Command,
        /// `--mount=` values, as written.
        mounts: Vec<String>,
        /// `--network=`.
        network: Option<String>,
    },
    /// COPY / ADD.
    Copy(CopyOp),
    /// ENV pairs (values unexpanded).
    Env(Vec<(String, String)>),
    /// ARG declarations (default values unexpanded).
    Arg(Vec<(String, Option<String>)>),
    /// WORKDIR.
    Workdir(String),
    /// USER.
    User(String),
    /// SHELL (exec form).
    Shell(Vec<String>),
    /// CMD.
    Cmd(Command),
    /// ENTRYPOINT.
    Entrypoint(Command),
    /// EXPOSE.
    Expose(Vec<String>),
    /// VOLUME.
    Volume(Vec<String>),
    /// LABEL pairs.
    Label(Vec<(String, String)>),
    /// STOPSIGNAL.
    StopSignal(String),
    /// HEALTHCHECK (None for NONE handled as test `["NONE"]`).
    Healthcheck(Health),
    /// ONBUILD (the raw trigger text).
    OnBuild(String),
    /// MAINTAINER.
    Maintainer(String),
}

/// One instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line in the Dockerfile.
    pub line: usize,
    /// The instruction as written (keyword and arguments, one line), for progress
    /// and history.
    pub text: String,
    /// What it does.
    pub op: Op,
}

/// One `FROM … [AS name]` and its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The base (unexpanded: global ARGs apply).
    pub base: String,
    /// `--platform=` (unexpanded).
    pub platform: Option<String>,
    /// Line of the FROM.
    pub line: usize,
    /// Instructions after FROM.
    pub steps: Vec<Step>,
}

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// ARGs before the first FROM.
    pub global_args: Vec<(String, Option<String>)>,
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// The file's lines, for error excerpts.
    pub source_lines: Vec<String>,
    /// The escape character (`\\` or `` ` ``).
    pub escape: char,
}
