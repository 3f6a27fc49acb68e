//! Short syntax to long syntax on the raw tree, as compose-go's `transform/`
//! package does before the tree is decoded into the typed model.

use serde_yaml_ng::{Mapping, Value};

use crate::compose::model::cast;
use crate::compose::model::command::split_shell_words;
use crate::compose::model::port::parse_port_spec;
use crate::compose::model::volume_mount::parse_volume_spec;
use crate::compose::yaml::attr_mut;

/// A problem found at a key path of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// Key path such as `services.web.ports[1]`.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

type Res<T> = Result<T, PathError>;

fn err<T>(path: &str, message: impl Into<String>) -> Res<T> {
    Err(PathError {
        path: path.to_string(),
        message: message.into(),
    })
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn key(k: &Value) -> String {
    cast::value_to_string(k).unwrap_or_else(|_| format!("{k:?}"))
}

/// Strips YAML tags (`!reset`/`!override` are the raw loader's business).
fn untag(v: &mut Value) {
    while let Value::Tagged(t) = v {
        let inner = std::mem::take(&mut t.value);
        *v = inner;
    }
}

/// Canonicalizes the whole project tree in place.
pub fn canonicalize(tree: &mut Value) -> Res<()> {
    untag(tree);
    let Value::Mapping(top) = tree else {
        return err(
            "",
            format!(
                "top-level object must be a mapping, found {}",
                cast::kind(tree)
            ),
        );
    };
    if let Some(services) = top.get_mut("services") {
        untag(services);
        match services {
            Value::Null => *services = Value::Mapping(Mapping::new()),
            Value::Mapping(m) => {
                for (name, svc) in m.iter_mut() {
                    let path = format!("services.{}", key(name));
                    untag(svc);
                    if svc.is_null() {
                        *svc = Value::Mapping(Mapping::new());
                    }
                    let Value::Mapping(svc) = svc else {
                        return err(
                            &path,
                            format!("must be a mapping, found {}", cast::kind(svc)),
                        );
                    };
                    service(svc, &path)?;
                }
            }
            other => {
                return err(
                    "services",
                    format!("must be a mapping, found {}", cast::kind(other)),
                )
            }
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs", "models"] {
        let Some(section) = top.get_mut(kind) else {
            continue;
        };
        untag(section);
        match section {
            Value::Null => *section = Value::Mapping(Mapping::new()),
            Value::Mapping(m) => {
                for (k, r) in m.iter_mut() {
                    let path = format!("{kind}.{}", key(k));
                    untag(r);
                    if r.is_null() {
                        *r = Value::Mapping(Mapping::new());
                    }
                    let Value::Mapping(r) = r else {
                        return err(&path, format!("must be a mapping, found {}", cast::kind(r)));
                    };
                    resource(r, &path)?;
                }
            }
            other => {
                return err(
                    kind,
                    format!("must be a mapping, found {}", cast::kind(other)),
                )
            }
        }
    }
    Ok(())
}

fn resource(r: &mut Mapping, path: &str) -> Res<()> {
    if let Some(ext) = r.get_mut("external") {
        untag(ext);
        if let Value::Mapping(m) = ext {
            // Legacy `external: {name: x}` means `name: x` + `external: true`.
            let ext_name = m.get("name").cloned();
            *ext = Value::Bool(true);
            if let Some(ext_name) = ext_name {
                cast::warn(format!(
                    "{path}: external.name is deprecated. Please set name and external: true"
                ));
                if let Some(name) = r.get("name") {
                    if *name != ext_name {
                        return err(path, "name and external.name conflict; only use name");
                    }
                }
                r.insert(s("name"), ext_name);
            }
        }
    }
    for k in ["labels", "driver_opts"] {
        if let Some(v) = r.get_mut(k) {
            *v = string_mapping(v, &format!("{path}.{k}"))?;
        }
    }
    if let Some(Value::Mapping(ipam)) = r.get_mut("ipam") {
        if let Some(Value::Sequence(cfgs)) = ipam.get_mut("config") {
            for (i, c) in cfgs.iter_mut().enumerate() {
                if let Value::Mapping(c) = c {
                    if let Some(a) = c.get_mut("aux_addresses") {
                        *a = string_mapping(a, &format!("{path}.ipam.config[{i}].aux_addresses"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// `K=V` list or mapping → mapping of strings (`K` alone → "").
fn string_mapping(v: &Value, path: &str) -> Res<Value> {
    mapping_of(v, path, false)
}

/// `K=V` list or mapping → mapping where `K` alone → null (environment, args).
fn env_mapping(v: &Value, path: &str) -> Res<Value> {
    mapping_of(v, path, true)
}

fn mapping_of(v: &Value, path: &str, keep_null: bool) -> Res<Value> {
    let mut out = Mapping::new();
    match v {
        Value::Null => {}
        Value::Tagged(t) => return mapping_of(&t.value, path, keep_null),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let text = match cast::value_to_string(item) {
                    Ok(t) => t,
                    Err(e) => return err(&format!("{path}[{i}]"), e),
                };
                match text.split_once('=') {
                    Some((k, v)) => out.insert(s(k), s(v)),
                    None if keep_null => out.insert(s(&text), Value::Null),
                    None => out.insert(s(&text), s("")),
                };
            }
        }
        Value::Mapping(m) => {
            for (k, val) in m {
                let k = key(k);
                let val = match val {
                    Value::Null if keep_null => Value::Null,
                    Value::Null => s(""),
                    other => match cast::value_to_string(other) {
                        Ok(t) => s(&t),
                        Err(e) => return err(&format!("{path}.{k}"), e),
                    },
                };
                out.insert(s(&k), val);
            }
        }
        other => {
            return err(
                path,
                format!(
                    "expected a mapping or a list of KEY=VALUE strings, found {}",
                    cast::kind(other)
                ),
            )
        }
    }
    Ok(Value::Mapping(out))
}

fn string_list(v: &mut Value) {
    untag(v);
    if let Value::String(_) | Value::Number(_) = v {
        let text = cast::value_to_string(v).unwrap_or_default();
        *v = Value::Sequence(vec![s(&text)]);
    }
}

fn command(v: &mut Value, path: &str) -> Res<()> {
    untag(v);
    if let Value::String(text) = v {
        match split_shell_words(text) {
            Ok(words) => *v = Value::Sequence(words.iter().map(|w| s(w)).collect()),
            Err(e) => return err(path, e),
        }
    }
    Ok(())
}

fn hosts(v: &Value, path: &str) -> Res<Value> {
    let mut out = Mapping::new();
    let mut add = |host: String, ip: String, p: &str| -> Res<()> {
        if host.is_empty() || host.contains([':', '=']) {
            return err(p, format!("bad host name '{host}'"));
        }
        let ip = match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
            Some(inner) if ip.len() > 2 => inner.to_string(),
            _ => ip,
        };
        let entry = out
            .entry(s(&host))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(list) = entry {
            list.push(s(&ip));
        }
        Ok(())
    };
    match v {
        Value::Null => {}
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let text = cast::value_to_string(item).or_else(|e| err(&p, e))?;
                let split = text.split_once('=').or_else(|| text.split_once(':'));
                let Some((h, ips)) = split else {
                    return err(&p, format!("invalid additional host, missing IP: {text}"));
                };
                for ip in ips.split(',') {
                    add(h.to_string(), ip.to_string(), &p)?;
                }
            }
        }
        Value::Mapping(m) => {
            for (h, ips) in m {
                let p = format!("{path}.{}", key(h));
                match ips {
                    Value::Sequence(list) => {
                        for ip in list {
                            add(
                                key(h),
                                cast::value_to_string(ip).or_else(|e| err(&p, e))?,
                                &p,
                            )?;
                        }
                    }
                    Value::Null => add(key(h), String::new(), &p)?,
                    other => add(
                        key(h),
                        cast::value_to_string(other).or_else(|e| err(&p, e))?,
                        &p,
                    )?,
                }
            }
        }
        other => {
            return err(
                path,
                format!("expected a list or a mapping, found {}", cast::kind(other)),
            )
        }
    }
    Ok(Value::Mapping(out))
}

fn ser_value<T: serde::Serialize>(t: &T) -> Value {
    serde_yaml_ng::to_value(t).unwrap_or(Value::Null)
}

fn file_refs(v: &mut Value, path: &str, secret: bool) -> Res<()> {
    untag(v);
    let Value::Sequence(items) = v else {
        if v.is_null() {
            return Ok(());
        }
        return err(path, format!("expected a list, found {}", cast::kind(v)));
    };
    for (i, item) in items.iter_mut().enumerate() {
        untag(item);
        match item {
            Value::String(src) => {
                let mut m = Mapping::new();
                m.insert(s("source"), s(src));
                if secret {
                    m.insert(s("target"), s(&format!("/run/secrets/{src}")));
                }
                *item = Value::Mapping(m);
            }
            Value::Mapping(m) => {
                if secret && !m.contains_key("target") {
                    let src = m.get("source").map(key).unwrap_or_default();
                    m.insert(s("target"), s(&format!("/run/secrets/{src}")));
                }
            }
            other => {
                return err(
                    &format!("{path}[{i}]"),
                    format!("expected a name or a mapping, found {}", cast::kind(other)),
                )
            }
        }
    }
    Ok(())
}

fn device_requests(v: &mut Value) {
    if let Value::Sequence(items) = v {
        for item in items {
            if let Value::Mapping(m) = item {
                if !m.contains_key("count") && !m.contains_key("device_ids") {
                    m.insert(s("count"), s("all"));
                }
            }
        }
    }
}

/// Struct-shaped mappings: a `key:` left null means the key is absent.
fn drop_nulls(v: Option<&mut Value>) {
    if let Some(Value::Mapping(m)) = v {
        m.retain(|_, v| !v.is_null());
    }
}

fn build(b: &mut Value, path: &str) -> Res<()> {
    untag(b);
    if let Value::String(ctx) = b {
        let mut m = Mapping::new();
        m.insert(s("context"), s(ctx));
        *b = Value::Mapping(m);
    }
    let Value::Mapping(m) = b else {
        return err(
            path,
            format!("expected a string or a mapping, found {}", cast::kind(b)),
        );
    };
    if !m.contains_key("context") {
        m.insert(s("context"), s("."));
    }
    if let Some(a) = m.get_mut("args") {
        *a = env_mapping(a, &format!("{path}.args"))?;
    }
    for k in ["labels", "additional_contexts"] {
        if let Some(v) = m.get_mut(k) {
            *v = string_mapping(v, &format!("{path}.{k}"))?;
        }
    }
    if let Some(h) = m.get_mut("extra_hosts") {
        *h = hosts(h, &format!("{path}.extra_hosts"))?;
    }
    if let Some(ssh) = m.get_mut("ssh") {
        untag(ssh);
        if let Value::String(_) = ssh {
            string_list(ssh);
        }
        if let Value::Sequence(items) = ssh {
            let mut out = Mapping::new();
            for item in items.iter() {
                let text = key(item);
                match text.split_once('=') {
                    Some((id, p)) => out.insert(s(id), s(p)),
                    None => out.insert(s(&text), s("")),
                };
            }
            *ssh = Value::Mapping(out);
        }
    }
    for k in [
        "cache_from",
        "cache_to",
        "tags",
        "platforms",
        "no_cache_filter",
    ] {
        if let Some(v) = m.get_mut(k) {
            string_list(v);
        }
    }
    if let Some(sec) = m.get_mut("secrets") {
        file_refs(sec, &format!("{path}.secrets"), true)?;
    }
    Ok(())
}

fn hook(h: &mut Value, path: &str) -> Res<()> {
    if let Value::Mapping(m) = h {
        if let Some(c) = m.get_mut("command") {
            command(c, &format!("{path}.command"))?;
        }
        if let Some(e) = m.get_mut("environment") {
            *e = env_mapping(e, &format!("{path}.environment"))?;
        }
    }
    Ok(())
}

fn service(svc: &mut Mapping, path: &str) -> Res<()> {
    for v in svc.values_mut() {
        untag(v);
    }
    // An attribute written as `key:` (null) is the same as leaving it out.
    svc.retain(|_, v| !v.is_null());
    if let Some(b) = attr_mut(svc, "build") {
        build(b, &format!("{path}.build"))?;
    }
    for k in ["command", "entrypoint"] {
        if let Some(c) = attr_mut(svc, k) {
            command(c, &format!("{path}.{k}"))?;
        }
    }
    for k in ["environment"] {
        if let Some(e) = attr_mut(svc, k) {
            *e = env_mapping(e, &format!("{path}.{k}"))?;
        }
    }
    for k in ["labels", "annotations", "sysctls", "log_opt", "storage_opt"] {
        if let Some(e) = attr_mut(svc, k) {
            *e = string_mapping(e, &format!("{path}.{k}"))?;
        }
    }
    if let Some(h) = attr_mut(svc, "extra_hosts") {
        *h = hosts(h, &format!("{path}.extra_hosts"))?;
    }
    for k in [
        "dns",
        "dns_search",
        "tmpfs",
        "env_file",
        "label_file",
        "cap_add",
        "cap_drop",
        "security_opt",
        "dns_opt",
        "profiles",
        "links",
        "external_links",
        "volumes_from",
        "group_add",
        "expose",
        "device_cgroup_rules",
    ] {
        if let Some(v) = attr_mut(svc, k) {
            string_list(v);
        }
    }
    if let Some(Value::Sequence(items)) = attr_mut(svc, "env_file") {
        for item in items.iter_mut() {
            if let Value::String(p) = item {
                let mut m = Mapping::new();
                m.insert(s("path"), s(p));
                *item = Value::Mapping(m);
            }
        }
    }
    if let Some(ports) = attr_mut(svc, "ports") {
        let p = format!("{path}.ports");
        let Value::Sequence(items) = ports else {
            return err(&p, format!("expected a list, found {}", cast::kind(ports)));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter_mut().enumerate() {
            untag(item);
            let ip = format!("{p}[{i}]");
            match item {
                Value::String(_) | Value::Number(_) => {
                    let text = key(item);
                    match parse_port_spec(&text) {
                        Ok(list) => out.extend(list.iter().map(ser_value)),
                        Err(e) => return err(&ip, format!("invalid port {text:?}: {e}")),
                    }
                }
                Value::Mapping(m) => {
                    if let Some(p) = m.get_mut("published") {
                        if let Value::Number(_) = p {
                            *p = s(&key(p));
                        }
                    }
                    if !m.contains_key("protocol") {
                        m.insert(s("protocol"), s("tcp"));
                    }
                    if !m.contains_key("mode") {
                        m.insert(s("mode"), s("ingress"));
                    }
                    out.push(item.clone());
                }
                other => {
                    return err(
                        &ip,
                        format!(
                            "expected a port string or a mapping, found {}",
                            cast::kind(other)
                        ),
                    )
                }
            }
        }
        *ports = Value::Sequence(out);
    }
    if let Some(vols) = attr_mut(svc, "volumes") {
        let p = format!("{path}.volumes");
        let Value::Sequence(items) = vols else {
            return err(&p, format!("expected a list, found {}", cast::kind(vols)));
        };
        for (i, item) in items.iter_mut().enumerate() {
            untag(item);
            if let Value::String(spec) = item {
                match parse_volume_spec(spec) {
                    Ok(v) => *item = ser_value(&v),
                    Err(e) => return err(&format!("{p}[{i}]"), e),
                }
            } else if let Value::Mapping(m) = item {
                if let Some(Value::Mapping(b)) = m.get_mut("bind") {
                    if !b.contains_key("create_host_path") {
                        b.insert(s("create_host_path"), Value::Bool(true));
                    }
                }
            }
        }
    }
    if let Some(dep) = attr_mut(svc, "depends_on") {
        let p = format!("{path}.depends_on");
        let mut out = Mapping::new();
        match dep {
            Value::Sequence(items) => {
                for item in items.iter() {
                    let mut m = Mapping::new();
                    m.insert(s("condition"), s("service_started"));
                    m.insert(s("required"), Value::Bool(true));
                    out.insert(s(&key(item)), Value::Mapping(m));
                }
            }
            Value::Mapping(m) => {
                for (k, v) in m.iter() {
                    let mut v = v.clone();
                    untag(&mut v);
                    if v.is_null() {
                        v = Value::Mapping(Mapping::new());
                    }
                    if let Value::Mapping(vm) = &mut v {
                        if !vm.contains_key("condition") {
                            vm.insert(s("condition"), s("service_started"));
                        }
                    }
                    out.insert(k.clone(), v);
                }
            }
            Value::Null => {}
            other => {
                return err(
                    &p,
                    format!("expected a list or a mapping, found {}", cast::kind(other)),
                )
            }
        }
        *dep = Value::Mapping(out);
    }
    // `models: [llm]` is `models: {llm: null}`, as `networks` is.
    if let Some(models) = attr_mut(svc, "models") {
        if let Value::Sequence(items) = models {
            let out: Mapping = items.iter().map(|i| (s(&key(i)), Value::Null)).collect();
            *models = Value::Mapping(out);
        }
    }
    if let Some(nets) = attr_mut(svc, "networks") {
        if let Value::Sequence(items) = nets {
            let mut out = Mapping::new();
            for item in items.iter() {
                out.insert(s(&key(item)), Value::Null);
            }
            *nets = Value::Mapping(out);
        }
    }
    if let Some(Value::Mapping(hc)) = attr_mut(svc, "healthcheck") {
        if let Some(t) = hc.get_mut("test") {
            untag(t);
            if let Value::String(text) = t {
                *t = Value::Sequence(vec![s("CMD-SHELL"), s(text)]);
            }
        }
    }
    for k in ["secrets", "configs"] {
        if let Some(v) = attr_mut(svc, k) {
            file_refs(v, &format!("{path}.{k}"), k == "secrets")?;
        }
    }
    if let Some(Value::Sequence(devs)) = attr_mut(svc, "devices") {
        for (i, d) in devs.iter_mut().enumerate() {
            if let Value::String(spec) = d {
                let parts: Vec<&str> = spec.split(':').collect();
                let (src, tgt, perm) = match parts.as_slice() {
                    [a] => (*a, *a, "rwm"),
                    [a, b] => (*a, *b, "rwm"),
                    [a, b, c] => (*a, *b, *c),
                    _ => {
                        return err(
                            &format!("{path}.devices[{i}]"),
                            format!("confusing device mapping, please use long syntax: {spec}"),
                        )
                    }
                };
                let mut m = Mapping::new();
                m.insert(s("source"), s(src));
                m.insert(s("target"), s(tgt));
                m.insert(s("permissions"), s(perm));
                *d = Value::Mapping(m);
            }
        }
    }
    if let Some(ext) = attr_mut(svc, "extends") {
        if let Value::String(name) = ext {
            let mut m = Mapping::new();
            m.insert(s("service"), s(name));
            *ext = Value::Mapping(m);
        }
    }
    if let Some(g) = attr_mut(svc, "gpus") {
        if let Value::String(text) = g {
            if text == "all" {
                let mut m = Mapping::new();
                m.insert(s("count"), s("all"));
                *g = Value::Sequence(vec![Value::Mapping(m)]);
            }
        }
        device_requests(g);
    }
    drop_nulls(attr_mut(svc, "healthcheck"));
    drop_nulls(attr_mut(svc, "logging"));
    drop_nulls(attr_mut(svc, "build"));
    if let Some(Value::Mapping(d)) = attr_mut(svc, "deploy") {
        d.retain(|_, v| !v.is_null());
        drop_nulls(d.get_mut("resources"));
        if let Some(Value::Mapping(r)) = d.get_mut("resources") {
            drop_nulls(r.get_mut("limits"));
            drop_nulls(r.get_mut("reservations"));
        }
        drop_nulls(d.get_mut("restart_policy"));
        drop_nulls(d.get_mut("placement"));
    }
    for k in ["ports", "volumes"] {
        if let Some(Value::Sequence(items)) = attr_mut(svc, k) {
            for item in items.iter_mut() {
                drop_nulls(Some(item));
            }
        }
    }
    if let Some(Value::Mapping(d)) = attr_mut(svc, "deploy") {
        if let Some(l) = d.get_mut("labels") {
            *l = string_mapping(l, &format!("{path}.deploy.labels"))?;
        }
        if let Some(Value::Mapping(r)) = d.get_mut("resources") {
            if let Some(Value::Mapping(res)) = r.get_mut("reservations") {
                if let Some(devs) = res.get_mut("devices") {
                    device_requests(devs);
                }
            }
        }
    }
    if let Some(Value::Mapping(l)) = attr_mut(svc, "logging") {
        if let Some(o) = l.get_mut("options") {
            *o = string_mapping(o, &format!("{path}.logging.options"))?;
        }
    }
    if let Some(Value::Mapping(n)) = attr_mut(svc, "networks") {
        for (k, v) in n.iter_mut() {
            if let Value::Mapping(m) = v {
                if let Some(a) = m.get_mut("aliases") {
                    string_list(a);
                }
                if let Some(o) = m.get_mut("driver_opts") {
                    *o = string_mapping(o, &format!("{path}.networks.{}.driver_opts", key(k)))?;
                }
            }
        }
    }
    for k in ["pre_start", "post_start", "pre_stop"] {
        if let Some(Value::Sequence(hooks)) = attr_mut(svc, k) {
            for (i, h) in hooks.iter_mut().enumerate() {
                hook(h, &format!("{path}.{k}[{i}]"))?;
            }
        }
    }
    if let Some(Value::Mapping(dev)) = attr_mut(svc, "develop") {
        if let Some(Value::Sequence(rules)) = dev.get_mut("watch") {
            for (i, r) in rules.iter_mut().enumerate() {
                if let Value::Mapping(rm) = r {
                    if let Some(ig) = rm.get_mut("ignore") {
                        string_list(ig);
                    }
                    if let Some(e) = rm.get_mut("exec") {
                        hook(e, &format!("{path}.develop.watch[{i}].exec"))?;
                    }
                }
            }
        }
    }
    Ok(())
}
