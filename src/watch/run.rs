//! The watch loop: batches of host changes → docker compose's actions per
//! batch (rebuilds, then syncs, then restarts, then execs), with its log lines.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::rules::{rules_of, Action, Rule};
use super::state::State;
use super::sync::{host_entry, owner_in, proc_root, Entry, Op, Writer};
use super::tree::{Batch, Heavy, Pace, Tree};
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::state::Layout;
use crate::supervise::launch::LaunchConfig;

/// How a watch runs.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Services to watch (all with `develop.watch` when empty).
    pub services: Vec<String>,
    /// `--prune`: remove dangling images after a rebuild.
    pub prune: bool,
    /// `--quiet`: hide build output.
    pub quiet: bool,
    /// berth's own global arguments (`--root`, `-f`, `-p`, …), for the berth
    /// commands a rebuild, restart or exec runs.
    pub berth_args: Vec<OsString>,
}

/// When batches end: as soon as the changes are complete, unless
/// `BERTH_WATCH_QUIET_MS` asks for a fixed quiet period (docker compose's
/// is 500 ms).
pub fn pace() -> Pace {
    Pace {
        fixed: std::env::var("BERTH_WATCH_QUIET_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis),
        ..Pace::default()
    }
}

/// A running container's root, held while its init lives.
struct Live {
    pid: u32,
    pidfd: OwnedFd,
    root: OwnedFd,
    owner: (u32, u32),
}

fn alive(pidfd: &OwnedFd) -> bool {
    // SAFETY: signal 0 through a pidfd we own only checks that it lives.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        ) == 0
    }
}

/// Go's `%q` of a string list: `["a" "b"]`.
fn quoted(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!("[{}]", q.join(" "))
}

/// One project's watch.
pub struct Session<'a> {
    layout: &'a Layout,
    project: &'a Project,
    rules: Vec<Rule>,
    opts: WatchOptions,
    out: &'a mut dyn Write,
    state: State,
    lives: HashMap<String, Live>,
    retry: BTreeSet<PathBuf>,
}

impl<'a> Session<'a> {
    /// Checks the rules and prints docker compose's warnings for skipped ones.
    pub fn new(
        layout: &'a Layout,
        project: &'a Project,
        opts: WatchOptions,
        out: &'a mut dyn Write,
    ) -> Result<Session<'a>> {
        let mut rules = rules_of(project, &opts.services)?;
        if rules.iter().any(|r| r.legacy) {
            let _ = writeln!(out, "{}", super::rules::LEGACY_WARNING);
        }
        // docker compose warns when it reads the extension, even for a rule (sync+exec)
        // whose action then takes no initial sync.
        if rules.iter().any(|r| r.legacy_initial_sync) {
            let _ = writeln!(out, "{}", super::rules::LEGACY_INITIAL_SYNC_WARNING);
        }
        for r in rules.iter().filter(|r| r.bind_mounted) {
            let _ = writeln!(
                out,
                "path '{}' also declared by a bind mount volume, this path won't be monitored!",
                r.path.display()
            );
        }
        rules.retain(|r| !r.bind_mounted);
        if rules.is_empty() {
            return Err(super::rules::RuleError::NothingToWatch.into());
        }
        let state = State::load(layout, &project.name);
        Ok(Session {
            layout,
            project,
            rules,
            opts,
            out,
            state,
            lives: HashMap::new(),
            retry: BTreeSet::new(),
        })
    }

    /// The host trees to watch, with the directories no rule needs left out.
    pub fn tree(&self) -> Result<Tree> {
        let roots: Vec<PathBuf> = self.rules.iter().map(|r| r.path.clone()).collect();
        let rules = self.rules.clone();
        let prune = move |dir: &Path| {
            // Needed by a rule above it that does not ignore it, or leading to a rule's path.
            !rules.iter().any(|r| {
                r.path.starts_with(dir) || (dir.starts_with(&r.path) && !r.prunes_dir(dir))
            })
        };
        let slow: Vec<Rule> = self
            .rules
            .iter()
            .filter(|r| r.action != Action::Sync)
            .cloned()
            .collect();
        let heavy: Option<Heavy> = (!slow.is_empty())
            .then(|| Box::new(move |p: &Path| slow.iter().any(|r| r.matches(p))) as Heavy);
        Ok(Tree::new(&roots, Box::new(prune), heavy, pace())?)
    }

    /// Runs until `stop` is set; `ready` is called once watching has begun.
    pub fn run(&mut self, stop: &AtomicBool, ready: impl FnOnce()) -> Result<()> {
        let mut tree = self.tree()?;
        let started = super::state::now();
        self.reconcile(false)?;
        self.state.seen_until = Some(started);
        let _ = self.state.save(self.layout, &self.project.name);
        let _ = writeln!(self.out, "Watch enabled");
        let _ = self.out.flush();
        ready();
        let mut last_save = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let wait = if self.retry.is_empty() {
                Duration::from_millis(200)
            } else {
                Duration::from_millis(250)
            };
            let before = super::state::now();
            let idle = match tree.next_batch(wait)? {
                Some(batch) => {
                    self.batch(batch)?;
                    false
                }
                None if !self.retry.is_empty() => {
                    let paths = std::mem::take(&mut self.retry);
                    self.handle(&paths, true)?;
                    false
                }
                None => true,
            };
            self.state.seen_until = Some(before);
            // The state is fsync'd: written while idle, never between an edit and its sync.
            if idle && last_save.elapsed() >= Duration::from_secs(1) {
                let _ = self.state.save(self.layout, &self.project.name);
                last_save = Instant::now();
            }
        }
        let _ = self.state.save(self.layout, &self.project.name);
        let _ = writeln!(self.out, "Watch disabled");
        Ok(())
    }

    fn batch(&mut self, batch: Batch) -> Result<()> {
        if batch.rescan {
            return self.reconcile(true);
        }
        if batch.paths.len() > 1000 {
            let _ = writeln!(
                self.out,
                "Large batch of file changes detected. If you just switched branches, this is expected."
            );
        }
        self.handle(&batch.paths, false)
    }

    /// Compares what the containers have with the host and syncs what differs:
    /// at start (files changed since the last run, files synced before and
    /// gone since, and everything for `initial_sync`), and after lost events.
    pub fn reconcile(&mut self, everything: bool) -> Result<()> {
        let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
        for r in self.rules.iter().filter(|r| r.action.syncs()) {
            let all = everything || r.initial_sync;
            walk(r, &r.path, &mut |p| {
                if all || self.state.changed_since(p) {
                    paths.insert(p.to_path_buf());
                }
            });
        }
        for p in &self.state.synced {
            if std::fs::symlink_metadata(p).is_err() {
                paths.insert(p.clone());
            }
        }
        if paths.is_empty() {
            return Ok(());
        }
        self.handle(&paths, true)
    }

    /// docker compose's `handleWatchBatch`; `compare`: write only what differs.
    fn handle(&mut self, paths: &BTreeSet<PathBuf>, compare: bool) -> Result<()> {
        let mut rebuild: BTreeSet<String> = BTreeSet::new();
        let mut restart: BTreeSet<String> = BTreeSet::new();
        let mut sync: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
        let mut exec: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for p in paths {
            for (i, r) in self.rules.iter().enumerate() {
                if !r.matches(p) {
                    continue;
                }
                if r.action.syncs() {
                    sync.entry(r.service.clone())
                        .or_default()
                        .insert(r.container_path(p), p.clone());
                }
                match r.action {
                    Action::Rebuild => {
                        rebuild.insert(r.service.clone());
                    }
                    Action::Restart | Action::SyncRestart => {
                        restart.insert(r.service.clone());
                    }
                    Action::SyncExec => {
                        exec.entry(r.service.clone()).or_default().insert(i);
                    }
                    Action::Sync => {}
                }
            }
        }
        if !rebuild.is_empty() {
            self.rebuild(&rebuild.into_iter().collect::<Vec<_>>());
        }
        for (service, mappings) in &sync {
            self.sync(service, mappings, compare);
        }
        if !restart.is_empty() {
            let services: Vec<String> = restart.into_iter().collect();
            let mut args = vec!["restart".to_string()];
            args.extend(services.iter().cloned());
            match self.berth(&args, false) {
                Ok(()) => {
                    let _ = writeln!(self.out, "service(s) {} restarted", quoted(&services));
                }
                Err(e) => {
                    let _ = writeln!(self.out, "Error handling changed files: {e:#}");
                }
            }
        }
        for (service, rules) in &exec {
            for i in rules {
                self.exec(service, &self.rules[*i].exec.clone());
            }
        }
        let _ = self.out.flush();
        Ok(())
    }

    fn sync(&mut self, service: &str, mappings: &BTreeMap<String, PathBuf>, compare: bool) {
        let ops: Vec<Op> = mappings
            .iter()
            .map(|(c, h)| Op {
                path: c.clone(),
                entry: host_entry(h),
            })
            .collect();
        for (op, host) in ops.iter().zip(mappings.values()) {
            match op.entry {
                Entry::Gone => {
                    self.state.synced.remove(host);
                }
                Entry::Dir { .. } => {}
                _ => {
                    self.state.synced.insert(host.clone());
                }
            }
        }
        let containers: Vec<Found> = find(&self.layout.root, Some(&self.project.name))
            .into_iter()
            .filter(|f| f.record.service == service && !f.record.oneoff)
            .collect();
        let mut changed = 0usize;
        let mut logged = false;
        if !compare {
            let _ = writeln!(
                self.out,
                "Syncing service {service:?} after {} changes were detected",
                ops.len()
            );
            logged = true;
        }
        for f in &containers {
            let result = match f.status.state {
                ContainerState::Running | ContainerState::Paused => {
                    self.sync_live(f, &ops, compare)
                }
                ContainerState::Created | ContainerState::Exited | ContainerState::Dead => {
                    self.sync_stopped(f, &ops, compare)
                }
                // Starting or restarting: its next batch gets the files.
                _ => Err(anyhow::anyhow!("container {} is restarting", f.record.name)),
            };
            match result {
                Ok(n) => changed = changed.max(n),
                Err(e) => {
                    tracing::debug!("sync to {} deferred: {e:#}", f.record.name);
                    self.retry.extend(mappings.values().cloned());
                }
            }
        }
        if compare && changed > 0 && !logged {
            let _ = writeln!(
                self.out,
                "Syncing service {service:?} after {changed} changes were detected"
            );
        }
    }

    fn live(&mut self, f: &Found) -> Result<&Live> {
        let pid = f
            .status
            .pid
            .ok_or_else(|| anyhow::anyhow!("container {} has no process", f.record.name))?;
        let stale = self
            .lives
            .get(&f.record.id)
            .is_none_or(|l| l.pid != pid || !alive(&l.pidfd));
        if stale {
            let pidfd = crate::supervise::sys::pidfd_open(pid)
                .with_context(|| format!("container {} stopped", f.record.name))?;
            let root =
                proc_root(pid).with_context(|| format!("opening the root of {}", f.record.name))?;
            // The root is the container's only if the pid still is.
            if !alive(&pidfd) {
                anyhow::bail!("container {} stopped", f.record.name);
            }
            let user = LaunchConfig::load(&f.dir).ok().and_then(|l| l.user);
            let owner = owner_in(root.as_raw_fd(), user.as_deref());
            self.lives.insert(
                f.record.id.clone(),
                Live {
                    pid,
                    pidfd,
                    root,
                    owner,
                },
            );
        }
        Ok(&self.lives[&f.record.id])
    }

    fn sync_live(&mut self, f: &Found, ops: &[Op], compare: bool) -> Result<usize> {
        let live = self.live(f)?;
        let w = Writer::new(&live.root, live.owner);
        let mut n = 0;
        for op in ops {
            if compare && w.same(&op.path, &op.entry) {
                continue;
            }
            w.apply(op)
                .with_context(|| format!("syncing {} into {}", op.path, f.record.name))?;
            n += 1;
        }
        if !alive(&live.pidfd) {
            // It stopped meanwhile: what we wrote may have gone with a removed container.
            self.lives.remove(&f.record.id);
            anyhow::bail!("container {} stopped during the sync", f.record.name);
        }
        Ok(n)
    }

    /// A stopped container has no root to open: a berth child mounts it (as
    /// `cp` does) and applies the changes, deletions included.
    fn sync_stopped(&mut self, f: &Found, ops: &[Op], compare: bool) -> Result<usize> {
        let payload = serde_json::to_vec(&super::apply::Request {
            id: f.record.id.clone(),
            compare,
            ops: ops.to_vec(),
        })?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(&self.opts.berth_args)
            .args(["watch", "--apply"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting berth to sync a stopped container")?;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(&payload)
            .context("sending the changes")?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// Runs berth itself (`restart`, `build`, `up`, `exec`), as a user would.
    fn berth(&mut self, args: &[String], hide_output: bool) -> Result<()> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(&self.opts.berth_args)
            .args(args)
            .stdin(Stdio::null());
        if hide_output {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let out = cmd
            .output()
            .with_context(|| format!("running berth {}", args[0]))?;
        let _ = self.out.write_all(&out.stdout);
        if !out.status.success() {
            anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        if !hide_output {
            let _ = self.out.write_all(&out.stderr);
        }
        Ok(())
    }

    fn rebuild(&mut self, services: &[String]) {
        let _ = writeln!(
            self.out,
            "Rebuilding service(s) {} after changes were detected...",
            quoted(services)
        );
        let mut build = vec!["build".to_string()];
        build.extend(services.iter().cloned());
        if let Err(e) = self.berth(&build, self.opts.quiet) {
            let _ = writeln!(self.out, "Build failed. Error: {e:#}");
            return;
        }
        if self.opts.prune {
            let _ = self.berth(&["image".into(), "prune".into(), "--force".into()], true);
        }
        let _ = writeln!(
            self.out,
            "service(s) {} successfully built",
            quoted(services)
        );
        let mut up: Vec<String> = [
            "up",
            "-d",
            "--no-deps",
            "--force-recreate",
            "--pull",
            "never",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        up.extend(services.iter().cloned());
        if let Err(e) = self.berth(&up, true) {
            let _ = writeln!(
                self.out,
                "Failed to recreate services after update. Error: {e:#}"
            );
        }
    }

    fn exec(&mut self, service: &str, hook: &crate::compose::model::service::ServiceHook) {
        let numbers: Vec<u32> = find(&self.layout.root, Some(&self.project.name))
            .into_iter()
            .filter(|f| {
                f.record.service == service
                    && !f.record.oneoff
                    && f.status.state == ContainerState::Running
            })
            .map(|f| f.record.number)
            .collect();
        for n in numbers {
            let mut args = vec![
                "exec".to_string(),
                "-T".into(),
                "--index".into(),
                n.to_string(),
            ];
            if !hook.user.is_empty() {
                args.extend(["--user".into(), hook.user.clone()]);
            }
            if hook.privileged {
                args.push("--privileged".into());
            }
            if !hook.working_dir.is_empty() {
                args.extend(["--workdir".into(), hook.working_dir.clone()]);
            }
            for (k, v) in &hook.environment {
                let v = v
                    .clone()
                    .or_else(|| self.project.environment.get(k).cloned())
                    .unwrap_or_default();
                args.extend(["--env".into(), format!("{k}={v}")]);
            }
            args.push(service.into());
            args.extend(hook.command.clone().unwrap_or_default());
            if let Err(e) = self.berth(&args, false) {
                let _ = writeln!(self.out, "Error handling changed files: {e:#}");
            }
        }
    }
}

/// Every path under `dir` a rule syncs (directories before what they hold),
/// skipping what it ignores.
fn walk(rule: &Rule, dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !m.is_dir() {
        if rule.matches(dir) {
            f(dir);
        }
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            if rule.prunes_dir(&p) {
                continue;
            }
            if rule.matches(&p) {
                f(&p);
            }
            walk(rule, &p, f);
        } else if rule.matches(&p) {
            f(&p);
        }
    }
}
