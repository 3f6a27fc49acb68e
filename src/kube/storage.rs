//! Storage: one PersistentVolumeClaim per named volume, shared by every
//! service that mounts it (compose bridge makes one per service, so two
//! services stop sharing data); anonymous volumes and `tmpfs` → emptyDir;
//! bind mounts → the user's choice (skip, hostPath, ConfigMap), with a
//! warning per mount. Size and storage class come from the volume's
//! `x-berth: {size, storage_class}` or its labels `berth.kube/size` and
//! `berth.kube/storage-class`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::ByteString;

use super::{names, BindMounts, Ctx, KubeError, Object, Warnings};
use crate::compose::model::ServiceConfig;

/// A claim's size when the compose file names none.
pub const DEFAULT_SIZE: &str = "1Gi";

/// The volume's setting from `x-berth.<key>` or the label `berth.kube/<label>`.
fn setting(ctx: &Ctx, volume: &str, key: &str, label: &str) -> Option<String> {
    let v = ctx.project.volumes.get(volume)?;
    if let Some(s) = v
        .extensions
        .get("x-berth")
        .and_then(|x| x.get(key))
        .and_then(|s| s.as_str())
    {
        return Some(s.to_string());
    }
    v.labels.get(&format!("berth.kube/{label}")).cloned()
}

/// Which selected services mount each named volume.
fn users(ctx: &Ctx) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, svc) in ctx.services() {
        for m in &svc.volumes {
            if m.kind == "volume" && !m.source.is_empty() {
                out.entry(m.source.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    out
}

/// Whether a named volume needs ReadWriteMany: more than one pod mounts it.
fn shared(ctx: &Ctx, users: &BTreeSet<String>) -> bool {
    users.len() > 1
        || users.iter().any(|u| {
            let s = &ctx.project.services[u];
            s.get_scale() > 1 || s.deploy.as_ref().is_some_and(|d| d.mode == "global")
        })
}

/// The PVCs: one per named volume that a selected service mounts.
pub fn claims(ctx: &Ctx, w: &mut Warnings) -> Vec<Object> {
    let mut out = Vec::new();
    for (vol, users) in users(ctx) {
        let scope = format!("volumes.{vol}");
        if ctx.project.volumes.get(&vol).is_some_and(|v| v.external) {
            w.add(
                &scope,
                "external",
                format!(
                    "the manifests use an existing claim named {:?} and create none",
                    claim_name(ctx, &vol)
                ),
            );
            continue;
        }
        let many = shared(ctx, &users);
        if many {
            w.add(
                &scope,
                "access",
                format!(
                    "mounted by {} pods at once ({}): the claim is ReadWriteMany, which needs a storage class that offers it",
                    if users.len() > 1 { "several services'" } else { "several" },
                    users.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        let size = setting(ctx, &vol, "size", "size").unwrap_or_else(|| DEFAULT_SIZE.to_string());
        out.push(Object::Pvc(PersistentVolumeClaim {
            metadata: ctx.meta(&claim_name(ctx, &vol)),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec![if many {
                    "ReadWriteMany"
                } else {
                    "ReadWriteOnce"
                }
                .into()]),
                storage_class_name: setting(ctx, &vol, "storage_class", "storage-class"),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    out
}

/// The claim's name: the volume's `name:` for an external volume, else its key.
fn claim_name(ctx: &Ctx, vol: &str) -> String {
    match ctx.project.volumes.get(vol) {
        Some(v) if v.external && !v.name.is_empty() => names::label(&v.name),
        _ => ctx
            .volumes
            .get(vol)
            .cloned()
            .unwrap_or_else(|| names::label(vol)),
    }
}

/// A service's volumes and mounts, and whether one is a ReadWriteOnce claim.
pub fn mounts(
    ctx: &Ctx,
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> Result<(Vec<Volume>, Vec<VolumeMount>, bool), KubeError> {
    let users = users(ctx);
    let mut vols: Vec<Volume> = Vec::new();
    let mut mounts = Vec::new();
    let mut rwo = false;
    let add = |vols: &mut Vec<Volume>, v: Volume| {
        if !vols.iter().any(|x| x.name == v.name) {
            vols.push(v);
        }
    };
    for (i, m) in svc.volumes.iter().enumerate() {
        let key = format!("volumes[{i}]");
        let vname = names::derived("vol", &i.to_string());
        let mut mount = VolumeMount {
            name: vname.clone(),
            mount_path: m.target.clone(),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        };
        match m.kind.as_str() {
            "volume" if !m.source.is_empty() => {
                let claim = claim_name(ctx, &m.source);
                let ext = ctx
                    .project
                    .volumes
                    .get(&m.source)
                    .is_some_and(|v| v.external);
                if !ext && !users.get(&m.source).is_some_and(|u| shared(ctx, u)) {
                    rwo = true;
                }
                mount.name = claim.clone();
                if let Some(sp) = m
                    .volume
                    .as_ref()
                    .map(|v| v.subpath.clone())
                    .filter(|s| !s.is_empty())
                {
                    mount.sub_path = Some(sp);
                }
                add(
                    &mut vols,
                    Volume {
                        name: claim.clone(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: claim,
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                );
            }
            "volume" => add(
                &mut vols,
                Volume {
                    name: vname,
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
            ),
            "tmpfs" => {
                let size = m.tmpfs.as_ref().map(|t| t.size.0).filter(|s| *s > 0);
                add(&mut vols, memory_dir(&vname, size));
            }
            "bind" => match bind(ctx, name, svc, i, &m.source, &vname, &mut mount, w)? {
                Some(v) => add(&mut vols, v),
                None => continue,
            },
            other => {
                w.add(
                    name,
                    &key,
                    format!("a {other:?} mount has no Kubernetes mapping; left out"),
                );
                continue;
            }
        }
        mounts.push(mount);
    }
    for (i, t) in svc.tmpfs.iter().enumerate() {
        let vname = names::derived("tmpfs", &i.to_string());
        let path = t.split(':').next().unwrap_or(t).to_string();
        add(&mut vols, memory_dir(&vname, None));
        mounts.push(VolumeMount {
            name: vname,
            mount_path: path,
            ..Default::default()
        });
    }
    if svc.shm_size.0 > 0 {
        add(&mut vols, memory_dir("shm", Some(svc.shm_size.0)));
        mounts.push(VolumeMount {
            name: "shm".into(),
            mount_path: "/dev/shm".into(),
            ..Default::default()
        });
    }
    Ok((vols, mounts, rwo))
}

fn memory_dir(name: &str, size: Option<i64>) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: size.map(super::resources::bytes),
        }),
        ..Default::default()
    }
}

/// One bind mount, as `--bind-mounts` chooses; `None` when it is left out.
#[allow(clippy::too_many_arguments)]
fn bind(
    ctx: &Ctx,
    name: &str,
    svc: &ServiceConfig,
    i: usize,
    source: &str,
    vname: &str,
    mount: &mut VolumeMount,
    w: &mut Warnings,
) -> Result<Option<Volume>, KubeError> {
    let key = format!("volumes[{i}]");
    let choices = "choose with --bind-mounts skip|hostpath|configmap";
    match ctx.opts.bind_mounts {
        BindMounts::Skip => {
            w.add(
                name,
                &key,
                format!(
                    "bind mount {source} -> {} has no meaning in a cluster; left out ({choices})",
                    mount.mount_path
                ),
            );
            Ok(None)
        }
        BindMounts::HostPath => {
            w.add(
                name,
                &key,
                format!("bind mount {source} -> {} is a hostPath: the path must exist on every node that may run the pod ({choices})", mount.mount_path),
            );
            Ok(Some(Volume {
                name: vname.to_string(),
                host_path: Some(HostPathVolumeSource {
                    path: source.to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        }
        BindMounts::ConfigMap => {
            let path = Path::new(source);
            if !path.is_file() {
                w.add(
                    name,
                    &key,
                    format!("bind mount {source} -> {} is not a file, so no ConfigMap can hold it; left out ({choices})", mount.mount_path),
                );
                return Ok(None);
            }
            w.add(
                name,
                &key,
                format!("bind mount {source} -> {} is a read-only ConfigMap of the file as it is now ({choices})", mount.mount_path),
            );
            let _ = svc;
            let fname = path
                .file_name()
                .map(|f| names::data_key(&f.to_string_lossy()))
                .unwrap_or_else(|| "file".into());
            mount.sub_path = Some(fname.clone());
            mount.read_only = Some(true);
            let cm_name = names::derived(&ctx.name(name), &format!("bind-{i}"));
            Ok(Some(Volume {
                name: vname.to_string(),
                config_map: Some(ConfigMapVolumeSource {
                    name: cm_name,
                    items: Some(vec![KeyToPath {
                        key: fname.clone(),
                        path: fname,
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        }
    }
}

/// The ConfigMaps holding bind-mounted files (`--bind-mounts configmap`).
pub fn bind_config_maps(ctx: &Ctx) -> Result<Vec<Object>, KubeError> {
    let mut out = Vec::new();
    if ctx.opts.bind_mounts != BindMounts::ConfigMap {
        return Ok(out);
    }
    for (name, svc) in ctx.services() {
        for (i, m) in svc.volumes.iter().enumerate() {
            let path = Path::new(&m.source);
            if m.kind != "bind" || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(path).map_err(|e| KubeError::Read {
                what: "bind mount".into(),
                name: format!("{name} volumes[{i}]"),
                path: m.source.clone(),
                source: e,
            })?;
            let key = path
                .file_name()
                .map(|f| names::data_key(&f.to_string_lossy()))
                .unwrap_or_else(|| "file".into());
            let mut cm = ConfigMap {
                metadata: ctx.meta(&names::derived(&ctx.name(name), &format!("bind-{i}"))),
                ..Default::default()
            };
            match String::from_utf8(bytes) {
                Ok(s) => cm.data = Some(BTreeMap::from([(key, s)])),
                Err(e) => {
                    cm.binary_data = Some(BTreeMap::from([(key, ByteString(e.into_bytes()))]))
                }
            }
            out.push(Object::ConfigMap(cm));
        }
    }
    Ok(out)
}
