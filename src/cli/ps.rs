//! `ps`, `ls`, `port`: what runs, as docker compose shows it.

use std::time::SystemTime;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::context::Ctx;
use super::gotemplate::{tabwrite, Template};
use crate::container::list::{find, projects};
use crate::container::view::{render_table, table, Row};
use crate::container::ContainerState;

/// `ps`'s flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]
    #[arg(long)]
    pub status: Vec<String>,
    /// Format the output. Values: [table | table TEMPLATE | json | TEMPLATE]
    /// (default: `psFormat` of the Docker CLI config, else table)
    #[arg(long)]
    pub format: Option<String>,
    /// Services (default: all)
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
}

/// Runs `ps`.
pub fn run_ps(ctx: &Ctx, a: &PsArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    if let Some(p) = &project {
        super::context::check_services(p, &a.names)?;
    }
    let now = SystemTime::now();
    let found: Vec<_> = find(&ctx.layout.root, Some(&name))
        .into_iter()
        .filter(|f| a.names.is_empty() || a.names.contains(&f.record.service))
        .filter(|f| {
            a.all
                || !a.status.is_empty()
                || f.status.state == ContainerState::Running
                || f.status.state == ContainerState::Restarting
                || f.status.state == ContainerState::Paused
        })
        .filter(|f| a.all || !f.record.oneoff || f.status.state == ContainerState::Running)
        .filter(|f| a.status.is_empty() || a.status.iter().any(|s| s == f.status.state.as_str()))
        .collect();
    if a.services {
        let mut s: Vec<&str> = found.iter().map(|f| f.record.service.as_str()).collect();
        s.dedup();
        for x in s {
            println!("{x}");
        }
        return Ok(());
    }
    if a.quiet {
        for f in &found {
            println!("{}", f.record.id);
        }
        return Ok(());
    }
    let rows: Vec<Row<'_>> = found
        .iter()
        .map(|f| Row {
            record: &f.record,
            status: &f.status,
        })
        .collect();
    // As docker compose: without --format, the Docker CLI config's psFormat.
    let format = match &a.format {
        Some(f) => f.clone(),
        None => configured_ps_format().unwrap_or_default(),
    };
    match format.trim() {
        "json" => {
            for r in &rows {
                println!("{}", serde_json::to_string(&r.json(now))?);
            }
        }
        "table" | "" => print!("{}", table(&rows, now)),
        custom => print!("{}", templated(custom, &rows, now)?),
    }
    Ok(())
}

/// `psFormat` from `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`).
fn configured_ps_format() -> Option<String> {
    let path = crate::image::registry::credentials::docker_config_path()?;
    let bytes = std::fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("psFormat")?.as_str().map(String::from)
}

/// The column names docker compose's ps table shows for each field.
fn header_of(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        "RunningFor" => "CREATED".into(),
        "LocalVolumes" => "LOCAL VOLUMES".into(),
        "ExitCode" => "EXIT CODE".into(),
        other => other.to_uppercase(),
    }
}

/// Rows through a Go template; a `table` template gets a header and aligned columns.
fn templated(format: &str, rows: &[Row<'_>], now: SystemTime) -> Result<String> {
    let (is_table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, format),
    };
    let t = Template::parse(body).map_err(|e| anyhow!("invalid --format {format:?}: {e}"))?;
    let mut lines = vec![];
    if is_table {
        let mut names: Vec<String> = PS_FIELDS.iter().map(|f| f.to_string()).collect();
        if let Some(serde_json::Value::Object(m)) = rows
            .first()
            .map(|r| serde_json::to_value(r.json(now)))
            .transpose()?
        {
            names.extend(m.keys().cloned());
        }
        let header: serde_json::Map<String, serde_json::Value> = names
            .into_iter()
            .map(|k| {
                let h = header_of(&k);
                (k, serde_json::Value::String(h))
            })
            .collect();
        lines.push(t.execute(&serde_json::Value::Object(header))?);
    }
    for r in rows {
        lines.push(t.execute(&serde_json::to_value(r.json(now))?)?);
    }
    Ok(if is_table {
        tabwrite(&lines)
    } else {
        lines.into_iter().map(|l| l + "\n").collect()
    })
}

/// The fields of a ps row, for a header when no container is listed.
const PS_FIELDS: [&str; 20] = [
    "ID",
    "Name",
    "Names",
    "Image",
    "Command",
    "Project",
    "Service",
    "CreatedAt",
    "RunningFor",
    "State",
    "Status",
    "Health",
    "ExitCode",
    "Publishers",
    "Ports",
    "Labels",
    "LocalVolumes",
    "Mounts",
    "Networks",
    "Size",
];

/// `ls`'s flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    pub all: bool,
    /// Only display project names
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output. Values: [table | json]
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Filter output based on conditions provided (`name=REGEX`)
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Whether project `name` passes `ls --filter`s, as docker compose matches
/// them: every filter is `name=…`, and one of them equals the name or is a
/// regular expression found in it.
pub fn ls_filter_matches(filters: &[String], name: &str) -> Result<bool> {
    let mut values = vec![];
    for f in filters {
        match f.split_once('=') {
            Some(("name", v)) => values.push(v),
            Some((k, _)) => bail!("invalid filter '{k}'"),
            None => bail!("bad format of filter (expected name=value): {f:?}"),
        }
    }
    Ok(values.is_empty()
        || values
            .iter()
            .any(|v| *v == name || regex::Regex::new(v).is_ok_and(|re| re.is_match(name))))
}

/// Runs `ls`.
pub fn run_ls(ctx: &Ctx, a: &LsArgs) -> Result<()> {
    ls_filter_matches(&a.filter, "")?;
    let mut list = projects(&ctx.layout.root, a.all);
    list.retain(|p| ls_filter_matches(&a.filter, &p.name).unwrap_or(false));
    if a.quiet {
        for p in &list {
            println!("{}", p.name);
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&list)?),
        "table" => {
            let rows: Vec<[String; 3]> = list
                .iter()
                .map(|p| [p.name.clone(), p.status.clone(), p.config_files.clone()])
                .collect();
            print!(
                "{}",
                render_table(&["NAME", "STATUS", "CONFIG FILES"], &rows)
            );
        }
        other => bail!("invalid --format {other:?}: expected table or json"),
    }
    Ok(())
}

/// `port`'s arguments.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The service
    pub service: String,
    /// The port inside the container
    pub private_port: u16,
}

/// Runs `port`.
pub fn run_port(ctx: &Ctx, a: &PortArgs) -> Result<()> {
    let (name, _) = ctx.project_maybe()?;
    let f = find(&ctx.layout.root, Some(&name))
        .into_iter()
        .find(|f| f.record.service == a.service && f.record.number == a.index && !f.record.oneoff)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "service {:?} has no container with index {}",
                a.service,
                a.index
            )
        })?;
    match f.record.ports.iter().find(|p| {
        p.host_port != 0 && p.container_port == a.private_port && p.protocol == a.protocol
    }) {
        Some(p) => {
            println!("{}:{}", p.host_ip, p.host_port);
            Ok(())
        }
        None => bail!(
            "no port {}/{} published for {}",
            a.private_port,
            a.protocol,
            f.record.name
        ),
    }
}

#[cfg(test)]
mod ls_tests {
    use super::ls_filter_matches;

    #[test]
    fn name_filters_match_as_docker_compose_matches_them() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(ls_filter_matches(&[], "web").unwrap());
        assert!(ls_filter_matches(&f(&["name=web"]), "web").unwrap());
        assert!(ls_filter_matches(&f(&["name=^we"]), "web").unwrap());
        assert!(!ls_filter_matches(&f(&["name=^eb"]), "web").unwrap());
        assert!(ls_filter_matches(&f(&["name=x", "name=b$"]), "web").unwrap());
        assert_eq!(
            ls_filter_matches(&f(&["status=running"]), "web")
                .unwrap_err()
                .to_string(),
            "invalid filter 'status'"
        );
    }
}
