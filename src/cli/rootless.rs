//! `berth doctor` and `berth unshare`: rootless mode's two user-facing commands.

use anyhow::Result;
use clap::Args;

use crate::rootless::doctor::{self, Verdict};

/// `berth unshare`.
#[derive(Debug, Clone, Args)]
pub struct UnshareArgs {
    /// The command to run inside berth's user namespace (default: $SHELL)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Prints what rootless berth needs and what is missing; fails when something
/// it cannot work without is missing.
pub fn run_doctor(layout: &crate::state::Layout) -> Result<()> {
    let rootless = crate::rootless::is_rootless();
    println!(
        "mode: {}",
        if rootless {
            "rootless"
        } else {
            "root (rootless checks below are for other users)"
        }
    );
    println!("state root: {}", layout.root.display());
    println!("run dir: {}", layout.run.display());
    let checks = doctor::checks(&doctor::probe());
    let mut missing = 0;
    for c in &checks {
        let mark = match c.verdict {
            Verdict::Ok => "ok",
            Verdict::Limited => "limited",
            Verdict::Missing => {
                missing += 1;
                "MISSING"
            }
        };
        println!("[{mark:>7}] {}: {}", c.name, c.found);
        if !c.fix.is_empty() {
            println!("          fix: {}", c.fix);
        }
    }
    if rootless && missing > 0 {
        anyhow::bail!(
            "rootless berth cannot run here until the {missing} MISSING item(s) above are fixed"
        );
    }
    Ok(())
}

/// Runs a command as root of berth's user namespace (this process has joined it
/// already): what a container wrote with subordinate ids can be removed there.
pub fn run_unshare(a: &UnshareArgs) -> Result<()> {
    if !crate::rootless::in_user_namespace() {
        anyhow::bail!("berth unshare is for rootless mode: as root, run the command directly");
    }
    let mut argv = a.command.clone();
    if argv.is_empty() {
        argv.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| anyhow::anyhow!("{}: {e}", argv[0]))?;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if code != 0 {
        return Err(super::Exit(code).into());
    }
    Ok(())
}
