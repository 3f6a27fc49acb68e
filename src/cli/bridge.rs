//! `berth bridge convert`: the project as Kubernetes manifests (see `kube`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::compose::ProjectOptions;
use crate::kube::{self, BindMounts, PublishAs};

/// `berth bridge …`, as docker compose names it.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Convert the project to Kubernetes manifests (one file per object plus kustomization.yaml)
    Convert(ConvertArgs),
}

/// How published ports leave the cluster.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PublishArg {
    /// A LoadBalancer Service on the compose published port
    Loadbalancer,
    /// A NodePort Service (the compose port when it is in 30000-32767)
    Nodeport,
}

/// What to do with bind mounts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BindArg {
    /// Leave them out (each one reported)
    Skip,
    /// hostPath volumes: the same path on the node
    Hostpath,
    /// A ConfigMap holding the file (files only)
    Configmap,
}

/// Flags of `berth bridge convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Services to convert, with what they depend on (default: all)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Directory for the manifests
    #[arg(short, long, value_name = "DIR", default_value = "out")]
    pub output: PathBuf,
    /// Namespace of every object
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Print one multi-document YAML stream instead of writing files
    #[arg(long)]
    pub stdout: bool,
    /// Service type for published ports
    #[arg(long, value_enum, default_value = "loadbalancer")]
    pub publish_as: PublishArg,
    /// What bind mounts become
    #[arg(long, value_enum, default_value = "skip")]
    pub bind_mounts: BindArg,
    /// Push the images berth built (services with `build`) and pin the pushed digests in the manifests
    #[arg(long)]
    pub push: bool,
}

/// Runs `berth bridge …`.
pub fn run(root: &Path, opts: ProjectOptions, cmd: &BridgeCommand) -> Result<()> {
    let BridgeCommand::Convert(a) = cmd;
    let mut loaded = kube::load::load(&opts, &a.services, root)?;
    if a.push {
        loaded.facts.pushed = kube::push::push_built(&loaded.project, &a.services, root, &|r| {
            eprintln!("pushed {r}");
        })?;
    }
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let options = kube::Options {
        namespace: a.namespace.clone(),
        services: a.services.clone(),
        publish_as: match a.publish_as {
            PublishArg::Loadbalancer => PublishAs::LoadBalancer,
            PublishArg::Nodeport => PublishAs::NodePort,
        },
        bind_mounts: match a.bind_mounts {
            BindArg::Skip => BindMounts::Skip,
            BindArg::Hostpath => BindMounts::HostPath,
            BindArg::Configmap => BindMounts::ConfigMap,
        },
    };
    let bundle = kube::convert(&loaded.project, &options, &loaded.facts)?;
    for w in bundle.warnings.list() {
        eprintln!("WARN[0000] {w}");
    }
    if a.stdout {
        let text = kube::render::stream(&bundle)?;
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to stdout")?;
        return Ok(());
    }
    let files = kube::render::files(&bundle, a.namespace.as_deref())?;
    let written = kube::render::write_dir(&a.output, &files)?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
