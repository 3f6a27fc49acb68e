//! How a plan reads to people (`up --dry-run`, `plan`): per service, each
//! container's action and why.

use std::fmt;

use indexmap::IndexMap;

use super::{Action, Plan};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut by: IndexMap<String, Vec<String>> = IndexMap::new();
        for c in &self.containers {
            let what = match &c.action {
                Action::Keep => "keep (unchanged, running)".to_string(),
                Action::Start => "start (unchanged, not running)".to_string(),
                Action::Restart { because } => {
                    format!("restart ({because} is recreated, restart: true)")
                }
                Action::Create => "create".to_string(),
                Action::Recreate { reasons } => format!(
                    "recreate ({})",
                    reasons
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Action::ScaleDown => "remove (scale down)".to_string(),
                Action::RemoveOrphan => "remove (orphan)".to_string(),
            };
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| format!("{}#{}", c.service, c.number));
            by.entry(c.service.clone())
                .or_default()
                .push(format!("  {name}: {what}"));
        }
        for (svc, lines) in by {
            writeln!(f, "{svc}")?;
            for l in lines {
                writeln!(f, "{l}")?;
            }
        }
        for o in &self.orphans {
            writeln!(f, "orphan {o} (kept; --remove-orphans removes it)")?;
        }
        Ok(())
    }
}
