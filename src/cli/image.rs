//! `berth image …`: list, inspect, remove, prune, load, import, save, tag, push, pull.

use crate::image::archive;
use crate::image::pull::{Progress, PullEvent};
use crate::image::{
    self, Client, Digest, Platform, PullOptions, Reference, RegistryOptions, Store, StoredImage,
};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Manage images.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more images
    Inspect {
        /// Images (reference, ID or digest)
        #[arg(required = true)]
        images: Vec<String>,
        /// Output format (only json, as docker; no -f: that is the global compose file option)
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm {
        /// Images (reference, ID or digest)
        #[arg(required = true)]
        images: Vec<String>,
        /// Remove every tag of an image given by ID (no -f: that is the global compose file option)
        #[arg(long)]
        force: bool,
    },
    /// Remove untagged images and unreferenced blobs and layers
    Prune {
        /// Do not prompt for confirmation (berth never prompts)
        #[arg(long)]
        force: bool,
    },
    /// Load images from a docker save tarball or an OCI layout (dir or tar, plain/gzip/zstd)
    Load {
        /// Read from this file or directory instead of stdin
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Repository for OCI layouts whose index names only a tag
        #[arg(long)]
        repository: Option<String>,
        /// Suppress the load output
        #[arg(short, long)]
        quiet: bool,
    },
    /// Import the contents from a tarball to create a filesystem image
    Import {
        /// Tarball path, or - for stdin
        file: String,
        /// Name for the image
        reference: Option<String>,
        /// Apply Dockerfile instruction(s) (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL)
        #[arg(short, long)]
        change: Vec<String>,
    },
    /// Save one or more images to a tar archive (docker save format, also an OCI layout)
    Save {
        /// Write to a file instead of stdout
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Images to save
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag {
        /// Existing image
        source: String,
        /// New reference
        target: String,
    },
    /// Upload an image to a registry
    Push {
        /// Image reference
        image: String,
        /// Suppress verbose output
        #[arg(short, long)]
        quiet: bool,
    },
    /// Download an image from a registry
    Pull {
        /// Image reference
        image: String,
        /// Platform (os/arch[/variant]) to pull from a multi-platform image
        #[arg(long)]
        platform: Option<String>,
        /// Suppress verbose output
        #[arg(short, long)]
        quiet: bool,
    },
}

/// `berth image ls` options.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show all images (berth keeps no intermediate images; accepted for compatibility)
    #[arg(short, long)]
    pub all: bool,
}

/// Runs one `berth image` subcommand against the store under `root`.
pub fn run(root: &Path, cmd: ImageCommand) -> Result<()> {
    let store = Store::open(root)
        .with_context(|| format!("opening the image store in {}", root.display()))?;
    match cmd {
        ImageCommand::Ls(a) => print_images(&store, None, &a),
        ImageCommand::Inspect { images, format } => {
            if format != "json" {
                bail!("unsupported format {format:?}: only json");
            }
            let mut out = Vec::new();
            for i in &images {
                out.push(inspect_json(&store.find(i)?));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        ImageCommand::Rm { images, force } => rm(&store, &images, force),
        ImageCommand::Prune { .. } => {
            let dangling: Vec<String> = store
                .records()?
                .into_iter()
                .filter(|r| r.name.starts_with("sha256:"))
                .map(|r| r.name)
                .collect();
            for d in store.remove_records(&dangling)? {
                println!("deleted: {}", d.digest);
            }
            let rep = store.gc(&[])?;
            println!("Total reclaimed space: {}", human_size(rep.bytes));
            Ok(())
        }
        ImageCommand::Load {
            input,
            repository,
            quiet,
        } => {
            let repo = repository.as_deref().map(Reference::parse).transpose()?;
            let loaded = match input {
                Some(p) => archive::load(&store, &p, repo.as_ref()),
                None => {
                    if std::io::stdin().is_terminal() {
                        bail!("requested load from stdin, but stdin is empty: use -i FILE");
                    }
                    archive::load_reader(&store, std::io::stdin().lock(), repo.as_ref())
                }
            }?;
            if !quiet {
                for l in loaded {
                    if l.tags.is_empty() {
                        println!("Loaded image ID: {}", l.id);
                    }
                    for t in l.tags {
                        println!("Loaded image: {}", t.familiar());
                    }
                }
            }
            Ok(())
        }
        ImageCommand::Import {
            file,
            reference,
            change,
        } => {
            let r = reference.as_deref().map(Reference::parse).transpose()?;
            let mut cfg = image::RuntimeConfig::default();
            for c in &change {
                apply_change(&mut cfg, c)?;
            }
            let loaded = if file == "-" {
                archive::import(&store, std::io::stdin().lock(), r.as_ref(), cfg)?
            } else {
                let f = std::fs::File::open(&file).with_context(|| format!("opening {file}"))?;
                archive::import(&store, std::io::BufReader::new(f), r.as_ref(), cfg)?
            };
            println!("{}", loaded.id);
            Ok(())
        }
        ImageCommand::Save { output, images } => {
            let mut sel = Vec::new();
            for i in &images {
                let img = store.find(i)?;
                let tags = match Reference::parse(i) {
                    Ok(r) if img.records.iter().any(|x| x.name == r.to_string()) => vec![r],
                    _ => img
                        .records
                        .iter()
                        .filter_map(|x| Reference::parse(&x.name).ok())
                        .collect(),
                };
                sel.push((img, tags));
            }
            match output {
                Some(p) => {
                    let f = std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    archive::save(&store, &sel, std::io::BufWriter::new(f))?;
                }
                None => {
                    if std::io::stdout().is_terminal() {
                        bail!("cowardly refusing to save to a terminal: use -o FILE or redirect");
                    }
                    archive::save(
                        &store,
                        &sel,
                        std::io::BufWriter::new(std::io::stdout().lock()),
                    )?;
                }
            }
            Ok(())
        }
        ImageCommand::Tag { source, target } => {
            let img = store.find(&source)?;
            let t = Reference::parse(&target)?;
            store.put_record(image::store::ImageRecord {
                name: t.to_string(),
                digest: img.digest.clone(),
                index_digest: None,
                repo_digest: None,
                updated_at: image::store::now_unix(),
            })?;
            Ok(())
        }
        ImageCommand::Push { image: name, quiet } => {
            let r = Reference::parse(&name)?;
            let img = store.find(&r.to_string())?;
            let client = Client::new(RegistryOptions::default());
            if !quiet {
                println!("The push refers to repository [{}]", r.name());
            }
            let rep = image::push::push(&store, &client, &img, &r, &|d, up| {
                if !quiet {
                    println!(
                        "{}: {}",
                        d.short(),
                        if up { "Pushed" } else { "Layer already exists" }
                    );
                }
            })?;
            if !quiet {
                println!(
                    "{}: digest: {} size: {}",
                    r.tag.as_deref().unwrap_or("latest"),
                    rep.digest,
                    store.blob_size(&rep.digest)?
                );
            } else {
                println!("{}", r.familiar());
            }
            Ok(())
        }
        ImageCommand::Pull {
            image: name,
            platform,
            quiet,
        } => {
            let r = Reference::parse(&name)?;
            let mut opts = PullOptions::default();
            if let Some(p) = platform {
                opts.platform = Platform::parse(&p).with_context(|| {
                    format!("invalid platform {p:?}: expected os/arch[/variant]")
                })?;
            }
            let client = Client::new(RegistryOptions::default());
            let display = PullDisplay::new(quiet);
            let rep = image::pull(&store, &client, &r, &opts, &display)?;
            display.finish();
            if quiet {
                println!("{}", r.familiar());
            } else {
                println!("Digest: {}", rep.repo_digest);
                if rep.updated {
                    println!("Status: Downloaded newer image for {}", r.familiar());
                } else {
                    println!("Status: Image is up to date for {}", r.familiar());
                }
                println!("{}", r);
            }
            Ok(())
        }
    }
}

/// Applies one `--change` instruction to an imported image's config.
fn apply_change(cfg: &mut image::RuntimeConfig, change: &str) -> Result<()> {
    let (ins, arg) = change
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((change.trim(), ""));
    let arg = arg.trim();
    let argv = || -> Vec<String> {
        serde_json::from_str::<Vec<String>>(arg)
            .unwrap_or_else(|_| vec!["/bin/sh".to_string(), "-c".to_string(), arg.to_string()])
    };
    let kv = |s: &str| -> (String, String) {
        match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.trim_matches('"').to_string()),
            None => match s.split_once(' ') {
                Some((k, v)) => (k.to_string(), v.trim().to_string()),
                None => (s.to_string(), String::new()),
            },
        }
    };
    match ins.to_ascii_uppercase().as_str() {
        "CMD" => cfg.cmd = Some(argv()),
        "ENTRYPOINT" => cfg.entrypoint = Some(argv()),
        "ENV" => {
            let (k, v) = kv(arg);
            cfg.env
                .get_or_insert_with(Vec::new)
                .push(format!("{k}={v}"));
        }
        "WORKDIR" => cfg.working_dir = Some(arg.to_string()),
        "USER" => cfg.user = Some(arg.to_string()),
        "STOPSIGNAL" => cfg.stop_signal = Some(arg.to_string()),
        "EXPOSE" => {
            for p in arg.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                };
                cfg.exposed_ports
                    .get_or_insert_with(Default::default)
                    .insert(p, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let vols = serde_json::from_str::<Vec<String>>(arg)
                .unwrap_or_else(|_| arg.split_whitespace().map(String::from).collect());
            for v in vols {
                cfg.volumes
                    .get_or_insert_with(Default::default)
                    .insert(v, serde_json::json!({}));
            }
        }
        "LABEL" => {
            let (k, v) = kv(arg);
            cfg.labels.get_or_insert_with(Default::default).insert(k, v);
        }
        other => bail!("unsupported --change instruction {other:?}"),
    }
    Ok(())
}

fn rm(store: &Store, images: &[String], force: bool) -> Result<()> {
    let mut failed = false;
    for what in images {
        let by_ref = Reference::parse(what)
            .ok()
            .map(|r| r.to_string())
            .filter(|k| {
                store
                    .records()
                    .map(|rs| rs.iter().any(|x| &x.name == k))
                    .unwrap_or(false)
            });
        let names: Vec<String> = match by_ref {
            Some(k) => vec![k],
            None => match store.find(what) {
                Ok(img) if img.records.len() > 1 && !force => {
                    eprintln!(
                        "Error response: conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        img.config_digest.short()
                    );
                    failed = true;
                    continue;
                }
                Ok(img) => img.records.iter().map(|r| r.name.clone()).collect(),
                Err(e) => {
                    eprintln!("Error response: {e}");
                    failed = true;
                    continue;
                }
            },
        };
        for r in store.remove_records(&names)? {
            match Reference::parse(&r.name) {
                Ok(x) => println!("Untagged: {}", x.familiar()),
                Err(_) => println!("Deleted: {}", r.digest),
            }
        }
    }
    let rep = store.gc(&[])?;
    for l in rep.layers {
        println!("Deleted: sha256:{l}");
    }
    if failed {
        bail!("some images could not be removed");
    }
    Ok(())
}

/// docker's sizes: decimal units, three significant digits (`62MB`, `1.21GB`, `5.6kB`).
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 999.5 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let decimals = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

/// "2 weeks ago", as docker prints CREATED.
pub(super) fn since(created: Option<&str>) -> String {
    let Some(t) = created.and_then(|c| humantime::parse_rfc3339_weak(c).ok()) else {
        return "N/A".into();
    };
    let secs = std::time::SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (n, unit) = match secs {
        s if s < 60 => return "Less than a minute ago".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86400 * 2 => (s / 3600, "hour"),
        s if s < 86400 * 14 => (s / 86400, "day"),
        s if s < 86400 * 60 => (s / (86400 * 7), "week"),
        s if s < 86400 * 730 => (s / (86400 * 30), "month"),
        s => (s / (86400 * 365), "year"),
    };
    if n == 1 {
        format!(
            "{} {unit} ago",
            if unit == "hour" { "About an" } else { "1" }
        )
    } else {
        format!("{n} {unit}s ago")
    }
}

struct Row {
    repo: String,
    tag: String,
    digest: String,
    id: Digest,
    created: Option<String>,
    size: u64,
}

fn rows(store: &Store, only: Option<&[Reference]>) -> Result<Vec<Row>> {
    let wanted: Option<Vec<String>> = only.map(|refs| refs.iter().map(|r| r.to_string()).collect());
    let mut out = Vec::new();
    for img in store.images()? {
        for r in &img.records {
            if wanted.as_ref().is_some_and(|w| !w.contains(&r.name)) {
                continue;
            }
            let (repo, tag, digest) = match Reference::parse(&r.name) {
                Ok(x) => (
                    x.familiar_name(),
                    x.tag.clone().unwrap_or_else(|| "<none>".into()),
                    r.repo_digest
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "<none>".into()),
                ),
                Err(_) => ("<none>".into(), "<none>".into(), "<none>".into()),
            };
            out.push(Row {
                repo,
                tag,
                digest,
                id: img.config_digest.clone(),
                created: img.config.created.clone(),
                size: img.size(),
            });
        }
    }
    out.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then(a.repo.cmp(&b.repo))
            .then(a.tag.cmp(&b.tag))
    });
    Ok(out)
}

/// Prints images as `docker image ls` does; `only` restricts the listing to some
/// references (what `berth images` shows for a compose project).
pub fn print_images(store: &Store, only: Option<&[Reference]>, a: &LsArgs) -> Result<()> {
    let rows = rows(store, only)?;
    let id = |d: &Digest| {
        if a.no_trunc {
            d.to_string()
        } else {
            d.short().to_string()
        }
    };
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            if seen.insert(r.id.clone()) {
                println!("{}", id(&r.id));
            }
        }
        return Ok(());
    }
    if a.format == "json" {
        for r in &rows {
            let v = serde_json::json!({
                "Containers": "N/A",
                "CreatedAt": r.created.clone().unwrap_or_default(),
                "CreatedSince": since(r.created.as_deref()),
                "Digest": r.digest,
                "ID": id(&r.id),
                "Repository": r.repo,
                "SharedSize": "N/A",
                "Size": human_size(r.size),
                "Tag": r.tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(r.size),
            });
            println!("{v}");
        }
        return Ok(());
    }
    if a.format != "table" {
        bail!("unsupported format {:?}: table or json", a.format);
    }
    let mut table: Vec<Vec<String>> = vec![];
    let mut header = vec!["REPOSITORY", "TAG"];
    if a.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    table.push(header.iter().map(|s| s.to_string()).collect());
    for r in &rows {
        let mut row = vec![r.repo.clone(), r.tag.clone()];
        if a.digests {
            row.push(r.digest.clone());
        }
        row.extend([id(&r.id), since(r.created.as_deref()), human_size(r.size)]);
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
    Ok(())
}

/// The JSON `docker image inspect` prints for one image.
pub fn inspect_json(img: &StoredImage) -> serde_json::Value {
    let tags: Vec<String> = img
        .records
        .iter()
        .filter_map(|r| Reference::parse(&r.name).ok())
        .filter(|r| r.tag.is_some())
        .map(|r| r.familiar())
        .collect();
    let digests: Vec<String> = img
        .records
        .iter()
        .filter_map(|r| {
            Some(format!(
                "{}@{}",
                Reference::parse(&r.name).ok()?.familiar_name(),
                r.repo_digest.as_ref()?
            ))
        })
        .collect();
    serde_json::json!({
        "Id": img.config_digest.to_string(),
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": img.config.created,
        "Author": img.config.author.clone().unwrap_or_default(),
        "Architecture": img.config.architecture,
        "Os": img.config.os,
        "Variant": img.config.variant,
        "Size": img.size(),
        "Config": img.config.config,
        "RootFS": {"Type": "layers", "Layers": img.config.rootfs.diff_ids},
        "Descriptor": {"mediaType": img.manifest.media_type, "digest": img.digest},
        "Metadata": {"LastTagTime": img.records.iter().map(|r| r.updated_at).max()},
    })
}

/// docker-style pull progress: a bar per layer on a terminal, plain lines otherwise.
/// Also what `berth pull` (compose) shows for each of a project's images.
pub struct PullDisplay {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<(String, Digest), ProgressBar>>,
    quiet: bool,
}

impl PullDisplay {
    /// A display on stderr; `quiet` shows nothing.
    pub fn new(quiet: bool) -> Self {
        let multi = (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new);
        PullDisplay {
            multi,
            bars: Mutex::default(),
            quiet,
        }
    }

    fn bar(&self, image: &Reference, layer: &Digest) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let mut bars = self.bars.lock().expect("bars");
        Some(
            bars.entry((image.to_string(), layer.clone()))
                .or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(0));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix}: {msg:<18} {bar:40} {bytes}/{total_bytes}",
                        )
                        .expect("template")
                        .progress_chars("=> "),
                    );
                    b.set_prefix(layer.short().to_string());
                    b
                })
                .clone(),
        )
    }

    /// Leaves the bars on screen.
    pub fn finish(&self) {
        for b in self.bars.lock().expect("bars").values() {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }

    fn line(&self, s: String) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(s);
            }
            None => eprintln!("{s}"),
        }
    }
}

impl Progress for PullDisplay {
    fn event(&self, ev: &PullEvent<'_>) {
        if self.quiet {
            return;
        }
        match ev {
            PullEvent::Resolving { image } => self.line(format!(
                "{}: Pulling from {}",
                image.tag.as_deref().unwrap_or("latest"),
                image.familiar_name()
            )),
            PullEvent::Layers { image, layers } => {
                for l in layers.iter() {
                    if let Some(b) = self.bar(image, &l.digest) {
                        b.set_length(l.size);
                        b.set_message("Waiting");
                    }
                }
            }
            PullEvent::LayerExists { image, layer } => match self.bar(image, layer) {
                Some(b) => b.finish_with_message("Already exists"),
                None => self.line(format!("{}: Already exists", layer.short())),
            },
            PullEvent::LayerBytes {
                image,
                layer,
                done,
                total,
            } => {
                if let Some(b) = self.bar(image, layer) {
                    b.set_length(*total);
                    b.set_position(*done);
                    b.set_message(if done < total {
                        "Downloading"
                    } else {
                        "Extracting"
                    });
                }
            }
            PullEvent::LayerDone { image, layer } => match self.bar(image, layer) {
                Some(b) => b.finish_with_message("Pull complete"),
                None => self.line(format!("{}: Pull complete", layer.short())),
            },
            PullEvent::Done { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_flags_do_not_clash_with_global_ones() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(5_600), "5.6kB");
        assert_eq!(human_size(61_993_000), "62MB");
        assert_eq!(human_size(187_400_000), "187MB");
        assert_eq!(human_size(1_214_000_000), "1.21GB");
    }
}
