//! A service's mounts on the host: named and anonymous volumes (made on first
//! use, seeded from the image), bind mounts, tmpfs, secrets and configs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::compose::model::{FileObjectConfig, FileReferenceConfig, ServiceConfig};
use crate::compose::Project;
use crate::spec::MountSpec;
use crate::state::perms::{create_shared_dir, write_shared};
use crate::state::Layout;
use crate::volume::copyup::copy_up;

/// What a container gets mounted, and the volumes it uses.
#[derive(Debug, Default)]
pub struct Mounts {
    /// In mount order.
    pub specs: Vec<MountSpec>,
    /// Named volumes used (full names), for `down -v` and `rm -v`.
    pub volumes: Vec<String>,
}

/// The name of a container's anonymous volume at `target`: stable per replica, so
/// a recreated container keeps its anonymous volumes, as docker compose does.
pub fn anonymous_volume_name(project: &str, service: &str, number: u32, target: &str) -> String {
    let h = Sha256::digest(format!("{project}/{service}/{number}/{target}").as_bytes());
    let hex = crate::image::digest::to_hex(&h[..16]);
    format!("{project}_{service}_{number}_{hex}")
}

/// The host directory a `local` volume binds (`driver_opts: {type: none, o:
/// bind, device: DIR}`), which docker's local driver mounts in place of the
/// volume's own data.
fn bound_device(cfg: &crate::compose::model::VolumeConfig) -> Option<std::path::PathBuf> {
    let opts = &cfg.driver_opts;
    let bind = opts
        .get("o")?
        .split(',')
        .any(|o| o == "bind" || o == "rbind");
    let device = opts.get("device")?;
    (bind && opts.get("type").is_none_or(|t| t == "none")).then(|| device.into())
}

fn volume_labels(project: &str, key: &str, anonymous: bool) -> IndexMap<String, String> {
    let mut l = IndexMap::new();
    l.insert("com.docker.compose.project".into(), project.into());
    l.insert("com.docker.compose.volume".into(), key.into());
    if anonymous {
        l.insert("com.docker.volume.anonymous".into(), String::new());
    }
    l
}

/// Makes the volume `name` if needed and seeds it once from the image at `target`.
fn ensure_volume(
    layout: &Layout,
    name: &str,
    labels: IndexMap<String, String>,
    lowers: &[PathBuf],
    target: &str,
    nocopy: bool,
) -> Result<PathBuf> {
    let store = layout.volumes();
    let (mut info, _) = store.ensure(name, labels)?;
    let data = store.data_dir(name);
    if !info.populated {
        let empty = fs::read_dir(&data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(true);
        if !nocopy && empty {
            copy_up(lowers, Path::new(target), &data)
                .with_context(|| format!("copying the image's {target} into volume {name}"))?;
        }
        info.populated = true;
        store.save(&info)?;
    }
    Ok(data)
}

fn clean_target(t: &str) -> String {
    crate::compose::normalize::clean_path(t)
}

/// Resolves every mount of `svc` for replica `number`.
pub fn service_mounts(
    layout: &Layout,
    project: &Project,
    svc: &ServiceConfig,
    number: u32,
    lowers: &[PathBuf],
    image_volumes: &[String],
    container_dir: &Path,
) -> Result<Mounts> {
    let mut out = Mounts::default();
    let mut targets: BTreeSet<String> = BTreeSet::new();
    let mut image_pins = vec![];
    for (i, v) in svc.volumes.iter().enumerate() {
        let at = || format!("services.{}.volumes[{i}]", svc.name);
        let target = clean_target(&v.target);
        targets.insert(target.clone());
        match v.kind.as_str() {
            "volume" if v.source.is_empty() => {
                anonymous(
                    &mut out,
                    layout,
                    project,
                    svc,
                    number,
                    lowers,
                    target,
                    v.read_only,
                )?;
            }
            "volume" => {
                let cfg = project
                    .volumes
                    .get(&v.source)
                    .ok_or_else(|| anyhow!("{}: undefined volume {:?}", at(), v.source))?;
                let name = if cfg.name.is_empty() {
                    format!("{}_{}", project.name, v.source)
                } else {
                    cfg.name.clone()
                };
                if !cfg.driver.is_empty() && cfg.driver != "local" {
                    bail!("volumes.{}.driver: {:?} is not supported; berth keeps volumes on local disk", v.source, cfg.driver);
                }
                let data = if cfg.external {
                    let store = layout.volumes();
                    if store.get(&name)?.is_none() {
                        bail!("external volume {name:?} not found");
                    }
                    store.data_dir(&name)
                } else {
                    let mut labels = volume_labels(&project.name, &v.source, false);
                    labels.extend(cfg.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                    let nocopy = v.volume.as_ref().is_some_and(|o| o.nocopy);
                    ensure_volume(layout, &name, labels, lowers, &target, nocopy)?
                };
                let data = match bound_device(cfg) {
                    Some(device) => {
                        if !device.is_dir() {
                            bail!(
                                "volumes.{}.driver_opts.device: {} is not a directory",
                                v.source,
                                device.display()
                            );
                        }
                        device
                    }
                    None => data,
                };
                let sub = v.volume.as_ref().map(|o| o.subpath.as_str()).unwrap_or("");
                let source = if sub.is_empty() {
                    data
                } else {
                    safe_join(&data, sub)
                        .ok_or_else(|| anyhow!("{}: subpath {sub:?} leaves the volume", at()))?
                };
                out.volumes.push(name);
                out.specs.push(MountSpec::Bind {
                    source,
                    target,
                    read_only: v.read_only,
                    propagation: None,
                });
            }
            "bind" => {
                let source = PathBuf::from(&v.source);
                let create = v.bind.as_ref().map(|b| b.create_host_path).unwrap_or(true);
                if !source.exists() {
                    if create {
                        // docker creates a missing bind source 0755, under any umask.
                        create_shared_dir(&source)
                            .with_context(|| format!("{}: creating {}", at(), source.display()))?;
                    } else {
                        bail!(
                            "{}: bind source path does not exist: {}",
                            at(),
                            source.display()
                        );
                    }
                }
                let propagation = v
                    .bind
                    .as_ref()
                    .map(|b| b.propagation.clone())
                    .filter(|p| !p.is_empty());
                out.specs.push(MountSpec::Bind {
                    source,
                    target,
                    read_only: v.read_only,
                    propagation,
                });
            }
            "tmpfs" => {
                let t = v.tmpfs.as_ref();
                out.specs.push(MountSpec::Tmpfs {
                    target,
                    size: t.map(|t| t.size.0).filter(|s| *s > 0).map(|s| s as u64),
                    mode: t.map(|t| t.mode).filter(|m| *m != 0),
                });
            }
            "image" => {
                let store = crate::image::Store::open(&layout.root)?;
                let (spec, digest) =
                    super::image_volume::mount_spec(&store, project, svc, i, v, target)?;
                out.specs.push(spec);
                image_pins.push(digest);
            }
            other => bail!(
                "{}: volume type {other:?} is not supported (volume, bind, tmpfs or image)",
                at()
            ),
        }
    }
    for t in &svc.tmpfs {
        let (target, opts) = t.split_once(':').unwrap_or((t, ""));
        let mut size = None;
        let mut mode = None;
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            if let Some(s) = o.strip_prefix("size=") {
                size = parse_bytes(s);
            } else if let Some(m) = o.strip_prefix("mode=") {
                mode = u32::from_str_radix(m, 8).ok();
            }
        }
        targets.insert(clean_target(target));
        out.specs.push(MountSpec::Tmpfs {
            target: clean_target(target),
            size,
            mode,
        });
    }
    if !image_pins.is_empty() {
        // The images of its image volumes stay while the container does.
        let id = crate::state::ContainerDir::new(container_dir).id();
        crate::image::Store::open(&layout.root)?
            .pin_all(&super::image_volume::pin_owner(&id), &image_pins)?;
    }
    // The image's VOLUMEs that nothing covers become anonymous volumes, as docker makes them.
    for target in image_volumes {
        let target = clean_target(target);
        if targets.contains(&target) {
            continue;
        }
        anonymous(
            &mut out, layout, project, svc, number, lowers, target, false,
        )?;
    }
    for (i, s) in svc.secrets.iter().enumerate() {
        let spec = file_object(
            project,
            &project.secrets,
            s,
            "/run/secrets",
            container_dir,
            &format!("services.{}.secrets[{i}]", svc.name),
            "secrets",
        )?;
        out.specs.push(spec);
    }
    for (i, c) in svc.configs.iter().enumerate() {
        let spec = file_object(
            project,
            &project.configs,
            c,
            "/",
            container_dir,
            &format!("services.{}.configs[{i}]", svc.name),
            "configs",
        )?;
        out.specs.push(spec);
    }
    Ok(out)
}

/// Mounts the replica's anonymous volume at `target`, made and seeded on first use.
#[allow(clippy::too_many_arguments)]
fn anonymous(
    out: &mut Mounts,
    layout: &Layout,
    project: &Project,
    svc: &ServiceConfig,
    number: u32,
    lowers: &[PathBuf],
    target: String,
    read_only: bool,
) -> Result<()> {
    let name = anonymous_volume_name(&project.name, &svc.name, number, &target);
    let labels = volume_labels(&project.name, &name, true);
    let data = ensure_volume(layout, &name, labels, lowers, &target, false)?;
    out.volumes.push(name);
    out.specs.push(MountSpec::Bind {
        source: data,
        target,
        read_only,
        propagation: None,
    });
    Ok(())
}

fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let mult = match s[digits.len()..].trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    Some(n * mult)
}

fn safe_join(base: &Path, sub: &str) -> Option<PathBuf> {
    let mut p = base.to_path_buf();
    for c in Path::new(sub).components() {
        match c {
            std::path::Component::Normal(n) => p.push(n),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(p)
}

/// A secret or config: a host file, an environment variable or inline content,
/// mounted read-only at its target.
fn file_object(
    project: &Project,
    defs: &std::collections::BTreeMap<String, FileObjectConfig>,
    r: &FileReferenceConfig,
    base: &str,
    container_dir: &Path,
    at: &str,
    kind: &str,
) -> Result<MountSpec> {
    let def = defs
        .get(&r.source)
        .ok_or_else(|| anyhow!("{at}: undefined {kind} {:?}", r.source))?;
    let target = if r.target.is_empty() {
        format!("{}/{}", base.trim_end_matches('/'), r.source)
    } else if r.target.starts_with('/') {
        r.target.clone()
    } else {
        format!("{}/{}", base.trim_end_matches('/'), r.target)
    };
    let source = if !def.file.is_empty() {
        PathBuf::from(&def.file)
    } else {
        let content = if !def.environment.is_empty() {
            project
                .environment
                .get(&def.environment)
                .cloned()
                .ok_or_else(|| {
                    anyhow!(
                        "{kind}.{}: environment variable {:?} is not set",
                        r.source,
                        def.environment
                    )
                })?
        } else if !def.content.is_empty() {
            def.content.clone()
        } else if def.external {
            bail!(
                "{kind}.{}: external {kind} are a swarm feature berth does not have",
                r.source
            );
        } else {
            bail!("{kind}.{}: needs file, environment or content", r.source);
        };
        let dir = container_dir.join(kind);
        fs::create_dir_all(&dir)?;
        let path = dir.join(&r.source);
        // docker compose copies generated content in with the reference's mode
        // (0444 by default), uid and gid; a file source is bind-mounted as it is.
        let mode = r.mode.map_or(0o444, |m| (m & 0o7777) as u32);
        write_shared(&path, content.as_bytes(), mode)?;
        let id = |s: &str, key: &str| -> Result<Option<u32>> {
            if s.is_empty() {
                return Ok(None);
            }
            s.parse()
                .map(Some)
                .map_err(|_| anyhow!("{at}.{key}: {s:?} is not a number"))
        };
        let (uid, gid) = (id(&r.uid, "uid")?, id(&r.gid, "gid")?);
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&path, uid, gid)
                .with_context(|| format!("{at}: setting the owner of {}", path.display()))?;
        }
        path
    };
    if !source.exists() {
        bail!("{at}: {kind} file {} does not exist", source.display());
    }
    Ok(MountSpec::Bind {
        source,
        target: clean_target(&target),
        read_only: true,
        propagation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_names_are_stable_per_replica() {
        let a = anonymous_volume_name("p", "db", 1, "/data");
        assert_eq!(a, anonymous_volume_name("p", "db", 1, "/data"));
        assert_ne!(a, anonymous_volume_name("p", "db", 2, "/data"));
        assert!(a.starts_with("p_db_1_"));
    }

    #[test]
    fn sizes_and_subpaths() {
        assert_eq!(parse_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_bytes("100"), Some(100));
        assert!(safe_join(Path::new("/v"), "../x").is_none());
        assert_eq!(
            safe_join(Path::new("/v"), "a/b"),
            Some(PathBuf::from("/v/a/b"))
        );
    }
}
