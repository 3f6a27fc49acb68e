//! `berth-runtime`: berth's runtime as an OCI command line, taking runc's arguments so
//! one bundle runs under runc, crun and berth side by side.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_runtime::{
    container::parse_signal, Container, ContainerConfig, ExecConfig, Rootfs, Stdio,
};
use clap::{Parser, Subcommand};
use oci_spec::runtime::Spec;

#[derive(Parser)]
#[command(
    name = "berth-runtime",
    version,
    about = "berth's OCI container runtime"
)]
struct Cli {
    /// Directory holding one state directory per container.
    #[arg(long, default_value = "/run/berth-runtime", global = true)]
    root: PathBuf,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the OCI state JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal (default TERM).
    Kill {
        /// Signal every process of the container.
        #[arg(long, short)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name or number.
        signal: Option<String>,
    },
    /// Delete a stopped container (`--force`: kill it first).
    Delete {
        /// Kill a running container.
        #[arg(long, short)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// create + start + wait + delete, exiting with the container's status.
    Run(CreateArgs),
    /// Run a process in a running container.
    Exec {
        /// Allocate a terminal (its master goes to --console-socket).
        #[arg(long, short)]
        tty: bool,
        /// Working directory.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Extra environment, KEY=VALUE.
        #[arg(long, short)]
        env: Vec<String>,
        /// user[:group].
        #[arg(long, short)]
        user: Option<String>,
        /// A process.json instead of the arguments.
        #[arg(long, short)]
        process: Option<PathBuf>,
        /// Socket to send the pty master to.
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Return at once instead of waiting.
        #[arg(long, short)]
        detach: bool,
        /// Container id.
        id: String,
        /// Command and arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Freeze a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Print resource usage as JSON.
    Stats {
        /// Container id.
        id: String,
    },
    /// Print a default config.json.
    Spec,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Bundle directory (config.json and the root filesystem).
    #[arg(long, short, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Socket to send the pty master to.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Keep berth's init as pid 1.
    #[arg(long)]
    init: bool,
    /// Container id.
    id: String,
}

fn main() {
    berth_runtime::maybe_run_init();
    // The state directory is root's alone, as runc's is (containers' init sets its own).
    // SAFETY: umask cannot fail and touches only this process.
    unsafe { libc::umask(0o077) };
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("berth-runtime: {e:#}");
            std::process::exit(1);
        }
    }
}

fn create(root: &Path, a: &CreateArgs, run: bool) -> Result<Container> {
    let bundle = std::fs::canonicalize(&a.bundle)
        .with_context(|| format!("bundle {}", a.bundle.display()))?;
    let spec = Spec::load(bundle.join("config.json")).context("read config.json")?;
    let rootpath = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| "rootfs".into());
    let rootfs = Rootfs::Dir(if rootpath.is_absolute() {
        rootpath
    } else {
        bundle.join(rootpath)
    });
    let cfg = ContainerConfig {
        id: a.id.clone(),
        state_dir: root.join(&a.id),
        spec,
        rootfs,
        stdio: Stdio::Inherit,
        init: a.init,
        user: None,
        bundle: Some(bundle),
        // `create` exits at once; the container must outlive it.
        die_with_parent: false,
    };
    let c = if run {
        Container::run(cfg)?
    } else {
        Container::create(cfg)?
    };
    if let Some(p) = &a.pid_file {
        std::fs::write(p, c.pid().to_string()).with_context(|| format!("write {}", p.display()))?;
    }
    if let Some(master) = c.take_pty() {
        match &a.console_socket {
            Some(s) => berth_runtime::tty::send_to_console_socket(s, master.as_raw_fd())?,
            None => bail!("process.terminal needs --console-socket"),
        }
    }
    Ok(c)
}

fn run(cli: Cli) -> Result<i32> {
    let root = cli.root;
    let dir = |id: &str| root.join(id);
    match cli.cmd {
        Cmd::Create(a) => {
            create(&root, &a, false)?;
        }
        Cmd::Start { id } => Container::load(&dir(&id))?.start()?,
        Cmd::State { id } => println!(
            "{}",
            serde_json::to_string_pretty(&Container::load(&dir(&id))?.oci_state())?
        ),
        Cmd::Kill { all, id, signal } => {
            let s = signal.as_deref().unwrap_or("TERM");
            let sig = parse_signal(s).with_context(|| format!("unknown signal {s}"))?;
            Container::load(&dir(&id))?.kill(sig, all)?;
        }
        Cmd::Delete { force, id } => {
            let c = match Container::load(&dir(&id)) {
                Ok(c) => c,
                Err(berth_runtime::Error::NotFound(_)) if force => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            if !force && !c.exited() && c.status() != berth_runtime::Status::Created {
                bail!("container {id} is running; stop it or use --force");
            }
            c.delete()?;
        }
        Cmd::Run(a) => {
            let t = std::time::Instant::now();
            // create and start in one go (no round trip to the init in between).
            let c = create(&root, &a, true)?;
            let created = t.elapsed();
            let started = created;
            let status = c.wait()?;
            let waited = t.elapsed();
            let timings = c.timings();
            c.delete()?;
            if std::env::var_os("BERTH_RUNTIME_TIMING").is_some() {
                let us = |d: std::time::Duration| d.as_micros() as u64;
                eprintln!(
                    "timing_us create_start={} cgroups={} helper={} join={} clone={} init={} mounts={} wait={} delete={}",
                    us(created),
                    timings.cgroups_us,
                    timings.helper_us,
                    timings.cgroup_join_us,
                    timings.clone_us,
                    timings.init_us,
                    timings.mounts_us,
                    us(waited - started),
                    us(t.elapsed() - waited)
                );
            }
            return Ok(status.as_shell_code());
        }
        Cmd::Exec {
            tty,
            cwd,
            env,
            user,
            process,
            console_socket,
            detach,
            id,
            args,
        } => {
            let c = Container::load(&dir(&id))?;
            let mut p = match process {
                Some(f) => serde_json::from_slice(&std::fs::read(&f)?)?,
                None => {
                    let spec: Spec = c.saved_spec().context("no saved spec for the container")?;
                    let mut p = spec
                        .process()
                        .clone()
                        .context("no process in config.json")?;
                    if args.is_empty() {
                        bail!("exec needs a command");
                    }
                    p.set_args(Some(args));
                    p
                }
            };
            p.set_terminal(Some(tty));
            if let Some(d) = cwd {
                p.set_cwd(d);
            }
            if !env.is_empty() {
                let mut e = p.env().clone().unwrap_or_default();
                e.extend(env);
                p.set_env(Some(e));
            }
            let ep = c.exec(ExecConfig {
                process: p,
                user,
                stdio: Stdio::Inherit,
            })?;
            if let Some(m) = &ep.pty {
                match &console_socket {
                    Some(s) => berth_runtime::tty::send_to_console_socket(s, m.as_raw_fd())?,
                    None => bail!("--tty needs --console-socket"),
                }
            }
            if detach {
                return Ok(0);
            }
            return Ok(ep.wait()?.as_shell_code());
        }
        Cmd::Pause { id } => Container::load(&dir(&id))?.pause()?,
        Cmd::Resume { id } => Container::load(&dir(&id))?.resume()?,
        Cmd::Stats { id } => println!(
            "{}",
            serde_json::to_string_pretty(&Container::load(&dir(&id))?.stats()?)?
        ),
        Cmd::Spec => {
            let mut s = berth_runtime::spec::default_spec(&["sh"]);
            s.set_process(s.process().clone().map(|mut p| {
                p.set_terminal(Some(false));
                p
            }));
            println!("{}", serde_json::to_string_pretty(&s)?);
        }
    }
    Ok(0)
}
