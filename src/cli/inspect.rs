//! `pause`, `unpause`, `top`, `stats`, `wait`: looking at (and freezing) running
//! service containers.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use super::Exit;
use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::engine::down::{down, DownOptions};
use crate::engine::pause::set_paused;
use crate::engine::stats::{row, sample, Row, Sample};
use crate::engine::top::{processes, render, TITLES};
use crate::engine::wait::wait;

/// Flags of `pause`, `unpause` and `top`: just services.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (default: all)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `stats`' flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (default: all)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `wait`'s flags.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drops project when the first container stops
    #[arg(long)]
    pub down_project: bool,
    /// Services to wait for
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
}

fn containers(ctx: &Ctx, services: &[String], want: &[ContainerState]) -> Result<Vec<Found>> {
    let (name, project) = ctx.project_maybe()?;
    if let Some(p) = &project {
        super::context::check_services(p, services)?;
    }
    Ok(find(&ctx.layout.root, Some(&name))
        .into_iter()
        .filter(|f| services.is_empty() || services.contains(&f.record.service))
        .filter(|f| want.is_empty() || want.contains(&f.status.state))
        .collect())
}

fn pause_all(ctx: &Ctx, a: &ServicesArgs, frozen: bool) -> Result<()> {
    // As docker lists them: running and paused containers; the daemon refuses to pause
    // a paused one and to unpause one that is not paused.
    let (from, refused) = if frozen {
        (ContainerState::Running, "is already paused")
    } else {
        (ContainerState::Paused, "is not paused")
    };
    let (working, done) = if frozen {
        ("Pausing", "Paused")
    } else {
        ("Unpausing", "Unpaused")
    };
    let progress = ctx.progress(working);
    let mut failed = vec![];
    let live = [ContainerState::Running, ContainerState::Paused];
    for f in containers(ctx, &a.services, &live)? {
        let task = progress.task(&format!("Container {}", f.record.name), working);
        if f.status.state != from {
            let e = format!("container {} {refused}", f.record.name);
            task.fail("Error", &e);
            failed.push(e);
            continue;
        }
        match set_paused(&ctx.layout, &f, frozen) {
            Ok(()) => task.done(done),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                failed.push(crate::report::text(&e));
            }
        }
    }
    if !failed.is_empty() {
        bail!(failed.join("; "));
    }
    Ok(())
}

/// Runs `pause`.
pub fn run_pause(ctx: &Ctx, a: &ServicesArgs) -> Result<()> {
    pause_all(ctx, a, true)
}

/// Runs `unpause`.
pub fn run_unpause(ctx: &Ctx, a: &ServicesArgs) -> Result<()> {
    pause_all(ctx, a, false)
}

/// Runs `top`.
pub fn run_top(ctx: &Ctx, a: &ServicesArgs) -> Result<()> {
    let live = [ContainerState::Running, ContainerState::Paused];
    let mut out = String::new();
    for f in containers(ctx, &a.services, &live)? {
        let rows: Vec<Vec<String>> = processes(&f)?.into_iter().map(Vec::from).collect();
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&f.record.name);
        out.push('\n');
        out.push_str(&render(&TITLES, &rows));
    }
    print!("{out}");
    Ok(())
}

fn stats_rows(found: &[Found], before: &BTreeMap<String, Sample>) -> Vec<Row> {
    found
        .iter()
        .map(|f| {
            let none = Sample::default();
            let after = sample(f).unwrap_or_default();
            row(f, before.get(&f.record.id).unwrap_or(&none), &after)
        })
        .collect()
}

fn print_stats(rows: &[Row], a: &StatsArgs, out: &mut impl Write) -> Result<()> {
    if a.format == "json" {
        for r in rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return Ok(());
    }
    let titles = [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                if a.no_trunc {
                    r.id.clone()
                } else {
                    r.container.clone()
                },
                r.name.clone(),
                r.cpu_perc.clone(),
                r.mem_usage.clone(),
                r.mem_perc.clone(),
                r.net_io.clone(),
                r.block_io.clone(),
                r.pids.clone(),
            ]
        })
        .collect();
    write!(out, "{}", render(&titles, &cells))?;
    Ok(())
}

/// Runs `stats`: one table with `--no-stream`, else one per second until interrupted.
pub fn run_stats(ctx: &Ctx, a: &StatsArgs) -> Result<()> {
    if a.format != "table" && a.format != "json" {
        bail!("--format {:?}: expected table or json", a.format);
    }
    let want: &[ContainerState] = if a.all {
        &[]
    } else {
        &[ContainerState::Running, ContainerState::Paused]
    };
    let mut before: BTreeMap<String, Sample> = BTreeMap::new();
    loop {
        let found = containers(ctx, &a.services, want)?;
        if before.is_empty() {
            for f in &found {
                before.insert(f.record.id.clone(), sample(f).unwrap_or_default());
            }
            // CPU % needs two samples; docker's first reading also spans a moment.
            std::thread::sleep(Duration::from_millis(500));
        }
        let rows = stats_rows(&found, &before);
        let mut out = std::io::stdout().lock();
        if !a.no_stream {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        print_stats(&rows, a, &mut out)?;
        out.flush()?;
        if a.no_stream {
            return Ok(());
        }
        before = found
            .iter()
            .map(|f| (f.record.id.clone(), sample(f).unwrap_or_default()))
            .collect();
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs `wait`: prints each container's exit code as it exits; exits with the first.
pub fn run_wait(ctx: &Ctx, a: &WaitArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    let code = wait(
        &ctx.layout,
        &name,
        &a.services,
        a.down_project,
        &mut |_, code| println!("{code}"),
    )?;
    if a.down_project {
        down(
            &ctx.layout,
            &name,
            project.as_ref(),
            &DownOptions::default(),
            &ctx.progress("Running"),
        )?;
    }
    match code {
        0 => Ok(()),
        c => Err(Exit(c).into()),
    }
}
