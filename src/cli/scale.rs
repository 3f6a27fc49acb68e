//! `scale`: set services' replica counts on a running project, as
//! `up -d --scale` would, without touching the other services.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::engine::images::PullOverride;
use crate::engine::up::{up, UpOptions};

/// `scale`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// SERVICE=REPLICAS pairs
    #[arg(value_name = "SERVICE=REPLICAS", required = true)]
    pub services: Vec<String>,
}

/// Parses `SERVICE=REPLICAS` arguments with docker compose's messages.
pub fn parse_replicas(args: &[String]) -> Result<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    for arg in args {
        let Some((service, n)) = arg.split_once('=') else {
            bail!("invalid scale specifier: {arg}");
        };
        let n: u32 = n.parse().map_err(|_| {
            anyhow!("invalid scale specifier: can't parse replica value as int: {arg}")
        })?;
        out.insert(service.to_string(), n);
    }
    Ok(out)
}

/// Runs `scale`: `up -d` of the named services (and, unless `--no-deps`, what
/// they depend on) with their replica counts replaced.
pub fn run_scale(ctx: &Ctx, a: &ScaleArgs) -> Result<()> {
    let replicas = parse_replicas(&a.services)?;
    let services: Vec<String> = replicas.keys().cloned().collect();
    let loaded = ctx.load(&services)?;
    super::context::check_services(&loaded.project, &services)?;
    let opts = UpOptions {
        services,
        no_deps: a.no_deps,
        scale: replicas,
        pull: PullOverride::Policy,
        ..UpOptions::default()
    };
    up(&ctx.layout, loaded, &opts, &ctx.progress("Running"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_parse_with_docker_messages() {
        let ok = parse_replicas(&["web=3".into(), "db=0".into()]).unwrap();
        assert_eq!(ok["web"], 3);
        assert_eq!(ok["db"], 0);
        let e = parse_replicas(&["web".into()]).unwrap_err().to_string();
        assert_eq!(e, "invalid scale specifier: web");
        let e = parse_replicas(&["web=x".into()]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid scale specifier: can't parse replica value as int: web=x"
        );
    }
}
