//! Linux security module labels from the spec: `process.apparmorProfile`,
//! `process.selinuxLabel` and `linux.mountLabel`. Applied when the host runs that
//! module, refused with an error naming the key when it does not (runc refuses too):
//! a label is never silently dropped.

use std::path::Path;

use oci_spec::runtime::{Process, Spec};

use crate::error::{Error, Result};
use crate::syscall::raw;

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on this host (selinuxfs mounted).
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// The labels a process asks for, checked against the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessLabels {
    apparmor: Option<String>,
    selinux: Option<String>,
}

/// Read and check the process's labels: an error names the key the host cannot honour.
pub fn process_labels(p: &Process) -> Result<ProcessLabels> {
    check_process(p, apparmor_enabled(), selinux_enabled())
}

fn check_process(p: &Process, apparmor: bool, selinux: bool) -> Result<ProcessLabels> {
    let aa = p.apparmor_profile().clone().filter(|s| !s.is_empty());
    let se = p.selinux_label().clone().filter(|s| !s.is_empty());
    if aa.is_some() && !apparmor {
        return Err(Error::Spec(
            "process.apparmorProfile: AppArmor is not enabled on this host".into(),
        ));
    }
    if se.is_some() && !selinux {
        return Err(Error::Spec(
            "process.selinuxLabel: SELinux is not enabled on this host".into(),
        ));
    }
    Ok(ProcessLabels {
        apparmor: aa,
        selinux: se,
    })
}

/// Check `linux.mountLabel` against the host; the label to put on mounts, if any.
pub fn mount_label(spec: &Spec) -> Result<Option<String>> {
    check_mount_label(spec, selinux_enabled())
}

fn check_mount_label(spec: &Spec, selinux: bool) -> Result<Option<String>> {
    let l = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().clone())
        .filter(|s| !s.is_empty());
    if l.is_some() && !selinux {
        return Err(Error::Spec(
            "linux.mountLabel: SELinux is not enabled on this host".into(),
        ));
    }
    Ok(l)
}

/// Mount data with the SELinux context added (runc's label.FormatMountLabel).
pub fn with_context(data: &str, label: &str) -> String {
    if data.is_empty() {
        format!("context=\"{label}\"")
    } else {
        format!("{data},context=\"{label}\"")
    }
}

/// Ask for the labels at the next execve (this process's /proc must be mounted).
pub fn apply_on_exec(l: &ProcessLabels) -> Result<()> {
    if let Some(p) = &l.apparmor {
        // The per-module file where the kernel has it (5.8+), the shared one before.
        let f = Path::new("/proc/self/attr/apparmor/exec");
        let f = if f.exists() {
            f
        } else {
            Path::new("/proc/self/attr/exec")
        };
        raw::write_file(f, &format!("exec {p}"))?;
    }
    if let Some(s) = &l.selinux {
        raw::write_file(Path::new("/proc/self/attr/exec"), s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(v: serde_json::Value) -> Process {
        let mut p = serde_json::to_value(
            crate::spec::default_spec(&["true"])
                .process()
                .clone()
                .unwrap(),
        )
        .unwrap();
        for (k, x) in v.as_object().unwrap() {
            p[k] = x.clone();
        }
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn labels_need_their_module() {
        let p = process(serde_json::json!({"apparmorProfile": "acme"}));
        let e = check_process(&p, false, true).unwrap_err().to_string();
        assert!(e.contains("process.apparmorProfile"), "{e}");
        assert_eq!(
            check_process(&p, true, false).unwrap().apparmor.as_deref(),
            Some("acme")
        );
        let p =
            process(serde_json::json!({"selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0"}));
        assert!(check_process(&p, true, false)
            .unwrap_err()
            .to_string()
            .contains("process.selinuxLabel"));
        // Nothing asked, nothing needed.
        assert_eq!(
            check_process(&process(serde_json::json!({})), false, false).unwrap(),
            ProcessLabels::default()
        );
    }

    #[test]
    fn mount_label_needs_selinux_and_goes_into_the_data() {
        let mut s = crate::spec::default_spec(&["true"]);
        let mut l = s.linux().clone().unwrap();
        l.set_mount_label(Some("system_u:object_r:svirt_sandbox_file_t:s0".into()));
        s.set_linux(Some(l));
        assert!(check_mount_label(&s, false)
            .unwrap_err()
            .to_string()
            .contains("linux.mountLabel"));
        let label = check_mount_label(&s, true).unwrap().unwrap();
        assert_eq!(
            with_context("mode=755", &label),
            "mode=755,context=\"system_u:object_r:svirt_sandbox_file_t:s0\""
        );
        assert_eq!(with_context("", "x"), "context=\"x\"");
    }
}
