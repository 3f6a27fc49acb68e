//! `berth watch --apply`: the changes for one stopped (created or exited)
//! container, applied by a single-threaded berth that mounts the container's
//! files as `cp` does (its overlay upper layer and volumes), so deletions
//! reach a container that is not running: docker compose's `rm` through exec
//! cannot (docker/compose#13057).

use std::io::Read;
use std::os::fd::AsRawFd;

use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::sync::{owner_in, Op, Writer};
use crate::container::list::find;
use crate::engine::cp::enter::{Access, Child};
use crate::engine::cp::sys::Root;
use crate::state::Layout;
use crate::supervise::launch::LaunchConfig;

/// What the watcher sends on stdin.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The container.
    pub id: String,
    /// Write only what differs.
    pub compare: bool,
    /// The changes.
    pub ops: Vec<Op>,
}

/// Reads a [`Request`] from stdin and applies it; prints how many changes
/// were written.
pub fn run(layout: &Layout) -> Result<()> {
    let mut buf = vec![];
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("reading the changes")?;
    let req: Request = serde_json::from_slice(&buf).context("reading the changes")?;
    let found = find(&layout.root, None)
        .into_iter()
        .find(|f| f.record.id == req.id)
        .ok_or_else(|| anyhow!("no such container: {}", req.id))?;
    // The child cannot see the host's files: read them now.
    let ops = req
        .ops
        .into_iter()
        .map(|op| {
            Ok(Op {
                entry: op.entry.loaded()?,
                path: op.path,
            })
        })
        .collect::<std::io::Result<Vec<Op>>>()
        .context("reading the changed files")?;
    let user = LaunchConfig::load(&found.dir).ok().and_then(|l| l.user);
    let access = Access::of(&found)?;
    let (r, w) = super::sync::pipe().context("pipe")?;
    let keep = [w.as_raw_fd()];
    let compare = req.compare;
    let out = &w;
    let child = Child::spawn(&access, &keep, move |root| {
        let Root::InRoot(fd) = root else {
            anyhow::bail!("not inside the container");
        };
        let owner = owner_in(fd.as_raw_fd(), user.as_deref());
        let writer = Writer::new(fd, owner);
        let mut n = 0usize;
        for op in &ops {
            if compare && writer.same(&op.path, &op.entry) {
                continue;
            }
            writer
                .apply(op)
                .with_context(|| format!("syncing {}", op.path))?;
            n += 1;
        }
        use std::io::Write;
        let mut out = out;
        writeln!(out, "{n}")?;
        Ok(())
    })?;
    drop(w);
    let mut count = String::new();
    let mut r = r;
    let _ = r.read_to_string(&mut count);
    child.wait()?;
    drop(access);
    println!("{}", count.trim());
    Ok(())
}
