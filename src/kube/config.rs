//! ConfigMaps and Secrets: variables from `env_file` → a ConfigMap per
//! service (`envFrom`; `environment` stays inline and wins, as in compose);
//! top-level `secrets`/`configs` → Secrets/ConfigMaps, mounted at their
//! targets with their modes.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, Secret, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::ByteString;

use super::{names, storage, Ctx, KubeError, Object, Warnings};
use crate::compose::model::{FileObjectConfig, FileReferenceConfig, ServiceConfig};

/// Whether the service has a ConfigMap of `env_file` variables.
pub fn has_env_config(ctx: &Ctx, name: &str) -> bool {
    let Some(svc) = ctx.project.services.get(name) else {
        return false;
    };
    ctx.facts.env_file_vars.get(name).is_some_and(|vars| {
        vars.iter()
            .any(|v| svc.environment.get(v).is_some_and(Option::is_some))
    })
}

/// Every ConfigMap and Secret of the selected services.
pub fn objects(ctx: &Ctx, w: &mut Warnings) -> Result<Vec<Object>, KubeError> {
    let mut out = Vec::new();
    for (name, svc) in ctx.services() {
        if !has_env_config(ctx, name) {
            continue;
        }
        let vars = &ctx.facts.env_file_vars[name];
        let data: BTreeMap<String, String> = svc
            .environment
            .iter()
            .filter(|(k, _)| vars.contains(*k))
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        out.push(Object::ConfigMap(ConfigMap {
            metadata: ctx.meta(&names::derived(&ctx.name(name), "env")),
            data: Some(data),
            ..Default::default()
        }));
    }
    out.extend(storage::bind_config_maps(ctx)?);
    for (secret, kind) in [(true, "secret"), (false, "config")] {
        let (defs, kname) = if secret {
            (&ctx.project.secrets, "secrets")
        } else {
            (&ctx.project.configs, "configs")
        };
        let used: std::collections::BTreeSet<&String> = ctx
            .services()
            .flat_map(|(_, s)| if secret { &s.secrets } else { &s.configs })
            .map(|r| &r.source)
            .collect();
        let names = names::assign(kind, used.iter().copied())?;
        for src in used {
            let Some(def) = defs.get(src) else { continue };
            let scope = format!("{kname}.{src}");
            if def.external {
                w.add(
                    &scope,
                    "external",
                    format!(
                        "the manifests refer to an existing {kind} named {:?}",
                        names[src]
                    ),
                );
                continue;
            }
            let bytes = content(ctx, kind, src, def, w)?;
            let key = names::data_key(src);
            let meta = ctx.meta(&names[src]);
            out.push(match (secret, String::from_utf8(bytes)) {
                (true, Ok(s)) => Object::Secret(Secret {
                    metadata: meta,
                    type_: Some("Opaque".into()),
                    string_data: Some(BTreeMap::from([(key, s)])),
                    ..Default::default()
                }),
                (true, Err(e)) => Object::Secret(Secret {
                    metadata: meta,
                    type_: Some("Opaque".into()),
                    data: Some(BTreeMap::from([(key, ByteString(e.into_bytes()))])),
                    ..Default::default()
                }),
                (false, Ok(s)) => Object::ConfigMap(ConfigMap {
                    metadata: meta,
                    data: Some(BTreeMap::from([(key, s)])),
                    ..Default::default()
                }),
                (false, Err(e)) => Object::ConfigMap(ConfigMap {
                    metadata: meta,
                    binary_data: Some(BTreeMap::from([(key, ByteString(e.into_bytes()))])),
                    ..Default::default()
                }),
            });
        }
    }
    Ok(out)
}

/// A secret's or config's bytes: its file, `content` or `environment` variable.
fn content(
    ctx: &Ctx,
    kind: &str,
    src: &str,
    def: &FileObjectConfig,
    w: &mut Warnings,
) -> Result<Vec<u8>, KubeError> {
    if !def.file.is_empty() {
        let path = ctx.project.working_dir.join(&def.file);
        return std::fs::read(&path).map_err(|e| KubeError::Read {
            what: kind.to_string(),
            name: src.to_string(),
            path: path.display().to_string(),
            source: e,
        });
    }
    if !def.environment.is_empty() {
        return Ok(ctx
            .project
            .environment
            .get(&def.environment)
            .cloned()
            .unwrap_or_default()
            .into_bytes());
    }
    if def.content.is_empty() {
        w.add(
            &format!("{kind}s.{src}"),
            "content",
            "empty: the object is created empty",
        );
    }
    Ok(def.content.clone().into_bytes())
}

/// The volumes and mounts of a service's secrets and configs.
pub fn mounts(
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut vols = Vec::new();
    let mut mounts = Vec::new();
    for (secret, refs) in [(true, &svc.secrets), (false, &svc.configs)] {
        for (i, r) in refs.iter().enumerate() {
            let (v, m) = one(name, secret, i, r, w);
            vols.push(v);
            mounts.push(m);
        }
    }
    (vols, mounts)
}

fn one(
    name: &str,
    secret: bool,
    i: usize,
    r: &FileReferenceConfig,
    w: &mut Warnings,
) -> (Volume, VolumeMount) {
    let kind = if secret { "secrets" } else { "configs" };
    let target = if r.target.is_empty() {
        if secret {
            format!("/run/secrets/{}", r.source)
        } else {
            format!("/{}", r.source)
        }
    } else if secret && !r.target.starts_with('/') {
        format!("/run/secrets/{}", r.target)
    } else {
        r.target.clone()
    };
    if !r.uid.is_empty() || !r.gid.is_empty() {
        w.add(
            name,
            &format!("{kind}[{i}].uid"),
            "a mounted file's owner cannot be set per file in Kubernetes (only the pod's fsGroup); left out",
        );
    }
    let key = names::data_key(&r.source);
    let file = Path::new(&target)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| key.clone());
    let obj = names::label(&r.source);
    let vname = names::derived(if secret { "secret" } else { "config" }, &i.to_string());
    let items = Some(vec![KeyToPath {
        key,
        path: file.clone(),
        mode: r.mode.and_then(|m| i32::try_from(m).ok()),
    }]);
    let vol = if secret {
        Volume {
            name: vname.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(obj),
                items,
                ..Default::default()
            }),
            ..Default::default()
        }
    } else {
        Volume {
            name: vname.clone(),
            config_map: Some(ConfigMapVolumeSource {
                name: obj,
                items,
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let mount = VolumeMount {
        name: vname,
        mount_path: target,
        sub_path: Some(file),
        read_only: Some(true),
        ..Default::default()
    };
    (vol, mount)
}
