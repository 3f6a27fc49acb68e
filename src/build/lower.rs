//! From the parser's syntax tree ([`super::dockerfile`]) to the executor's steps
//! ([`super::steps`]): heredocs turned into what the shell or COPY gets, flags
//! into the executor's options. Words stay unexpanded.

use super::dockerfile as ast;
use super::steps::{Command, CopyOp, Dockerfile, Health, InlineFile, Op, Stage, Step};

fn command(c: &ast::CommandLine) -> Command {
    match c {
        ast::CommandLine::Shell(s) => Command::Shell(s.clone()),
        ast::CommandLine::Exec(v) => Command::Exec(v.clone()),
    }
}

/// RUN with heredocs, as BuildKit runs it: `RUN <<EOF` alone makes the body the
/// shell's script; anything else goes to the shell verbatim, bodies and
/// terminators included, and the shell reads its own heredocs.
fn run_command(r: &ast::RunInstr) -> Command {
    let base = command(&r.command);
    if r.heredocs.is_empty() {
        return base;
    }
    let Command::Shell(line) = base else {
        return base;
    };
    if r.heredocs.len() == 1 {
        let h = &r.heredocs[0];
        let alone = line.trim().trim_start_matches("<<").trim_start_matches('-');
        let alone = alone.trim_matches(|c| c == '"' || c == '\'');
        if alone == h.name && h.fd == 0 {
            return Command::Shell(h.body());
        }
    }
    let mut script = line;
    for h in &r.heredocs {
        script.push('\n');
        script.push_str(&h.content);
        script.push_str(&h.name);
    }
    Command::Shell(script)
}

fn copy_op(spec: &ast::CopySpec, add: bool, from: Option<String>, parents: bool) -> CopyOp {
    CopyOp {
        add,
        sources: spec.sources.clone(),
        inline: spec
            .inline
            .iter()
            .map(|i| InlineFile {
                name: i.name.clone(),
                body: i.content.clone(),
                expand: i.expand,
            })
            .collect(),
        dest: spec.dest.clone(),
        from,
        chown: spec.chown.clone(),
        chmod: spec.chmod.clone(),
        link: spec.link,
        exclude: spec.exclude.clone(),
        parents,
    }
}

fn op(i: &ast::Instruction) -> Op {
    use ast::Instruction as I;
    match i {
        I::Run(r) => Op::Run {
            cmd: run_command(r),
            mounts: r.mounts.iter().map(|m| m.raw.clone()).collect(),
            network: match r.network {
                ast::Network::Default => None,
                ast::Network::None => Some("none".into()),
                ast::Network::Host => Some("host".into()),
            },
        },
        I::Copy(c) => Op::Copy(copy_op(&c.spec, false, c.from.clone(), c.parents)),
        I::Add(a) => Op::Copy(copy_op(&a.spec, a.unpack != Some(false), None, false)),
        I::Env(kvs) => Op::Env(
            kvs.iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect(),
        ),
        I::Arg(decls) => Op::Arg(
            decls
                .iter()
                .map(|d| (d.name.clone(), d.default.clone()))
                .collect(),
        ),
        I::Workdir(w) => Op::Workdir(w.clone()),
        I::User(u) => Op::User(u.clone()),
        I::Shell(s) => Op::Shell(s.clone()),
        I::Cmd(c) => Op::Cmd(command(c)),
        I::Entrypoint(c) => Op::Entrypoint(command(c)),
        I::Expose(p) => Op::Expose(p.clone()),
        I::Volume(v) => Op::Volume(v.clone()),
        I::Label(kvs) => Op::Label(
            kvs.iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect(),
        ),
        I::Healthcheck(ast::Healthcheck::None) => Op::Healthcheck(Health {
            test: vec!["NONE".into()],
            ..Default::default()
        }),
        I::Healthcheck(ast::Healthcheck::Check(h)) => Op::Healthcheck(Health {
            test: h.test(),
            interval: h.interval.as_nanos() as i64,
            timeout: h.timeout.as_nanos() as i64,
            start_period: h.start_period.as_nanos() as i64,
            start_interval: h.start_interval.as_nanos() as i64,
            retries: h.retries as i64,
        }),
        I::StopSignal(s) => Op::StopSignal(s.clone()),
        I::Onbuild(o) => Op::OnBuild(o.expression.clone()),
        I::Maintainer(m) => Op::Maintainer(m.clone()),
    }
}

/// One ONBUILD trigger of a base image as a step of the child's stage, at the
/// child's FROM line (`text` is how errors and progress name it).
pub fn trigger_step(i: &ast::Instruction, line: usize, text: String) -> Step {
    Step {
        line,
        text,
        op: op(i),
    }
}

/// The executor's form of a parsed Dockerfile.
pub fn lower(df: &ast::Dockerfile, source: &str) -> Dockerfile {
    Dockerfile {
        global_args: df
            .meta_args
            .iter()
            .flat_map(|l| l.value.iter().map(|d| (d.name.clone(), d.default.clone())))
            .collect(),
        stages: df
            .stages
            .iter()
            .map(|s| Stage {
                name: s.name.clone(),
                base: s.from.value.base.clone(),
                platform: s.from.value.platform.clone(),
                line: s.from.line,
                steps: s
                    .instructions
                    .iter()
                    .map(|l| Step {
                        line: l.line,
                        text: l.source.lines().next().unwrap_or("").to_string(),
                        op: op(&l.value),
                    })
                    .collect(),
            })
            .collect(),
        source_lines: source.lines().map(String::from).collect(),
        escape: df.escape(),
    }
}
