//! `--platform` (of `berth build` and of `FROM`): berth runs every RUN natively,
//! so the host's platform is the only one a build can target. The predefined
//! `BUILD*`/`TARGET*` args describe it.

use crate::image::oci::Platform;

/// Checks that `spec` (`linux/amd64`, `linux/arm64/v8`, `amd64`, `x86_64`…)
/// names the host's platform; the error says which one berth builds for.
pub fn check(spec: &str) -> Result<Platform, String> {
    let host = Platform::host();
    let wanted = parse(spec).ok_or_else(|| {
        format!("invalid platform {spec:?}: expected os/arch[/variant], e.g. {host}")
    })?;
    if host.score(&wanted).is_some() && wanted.os == host.os {
        return Ok(host);
    }
    Err(format!(
        "platform {wanted} is not supported: berth builds for the host's platform {host} only \
         (no emulation)"
    ))
}

/// Several comma-separated platforms (compose `platforms:`, `--platform a,b`).
pub fn check_list(spec: &str) -> Result<Platform, String> {
    let mut last = None;
    for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        last = Some(check(p)?);
    }
    Ok(last.unwrap_or_else(Platform::host))
}

fn arch_alias(a: &str) -> (&str, Option<&str>) {
    match a {
        "x86_64" | "x86-64" | "amd64" => ("amd64", None),
        "aarch64" | "arm64" => ("arm64", None),
        "armhf" | "armel" | "arm" => ("arm", None),
        "i386" | "i686" | "386" => ("386", None),
        other => (other, None),
    }
}

/// containerd's normalisation, enough for the host's names.
fn parse(spec: &str) -> Option<Platform> {
    let spec = spec.trim().to_ascii_lowercase();
    let parts: Vec<&str> = spec.split('/').collect();
    let (os, arch, variant) = match parts.as_slice() {
        [one] if *one == "linux" => ("linux", Platform::host().architecture, None),
        [one] => ("linux", arch_alias(one).0.to_string(), None),
        [os, arch] => (*os, arch_alias(arch).0.to_string(), None),
        [os, arch, v] => (*os, arch_alias(arch).0.to_string(), Some(v.to_string())),
        _ => return None,
    };
    if os.is_empty() || arch.is_empty() {
        return None;
    }
    // arm64's only variant is v8: "linux/arm64/v8" and "linux/arm64" are the same.
    let variant = variant.filter(|v| !(arch == "arm64" && v == "v8"));
    Some(Platform {
        architecture: arch,
        os: os.to_string(),
        variant,
        os_version: None,
    })
}

/// The value of a predefined platform arg (`BUILDPLATFORM`, `TARGETARCH`…),
/// both the host's since berth does not cross-build.
pub fn predefined(name: &str) -> Option<String> {
    let h = Platform::host();
    let which = name
        .strip_prefix("BUILD")
        .or_else(|| name.strip_prefix("TARGET"))?;
    Some(match which {
        "PLATFORM" => h.to_string(),
        "OS" => h.os,
        "ARCH" => h.architecture,
        "VARIANT" => h.variant.unwrap_or_default(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_accepted_in_its_spellings() {
        let h = Platform::host();
        assert!(check(&h.to_string()).is_ok());
        assert!(check(&format!("{}/{}", h.os, h.architecture)).is_ok());
        assert!(check(&h.architecture).is_ok());
        if h.architecture == "amd64" {
            assert!(check("linux/x86_64").is_ok());
            assert!(check("x86_64").is_ok());
        }
    }

    #[test]
    fn others_are_refused_naming_the_host() {
        let other = if Platform::host().architecture == "s390x" {
            "linux/ppc64le"
        } else {
            "linux/s390x"
        };
        let e = check(other).unwrap_err();
        assert!(e.contains("is not supported"), "{e}");
        assert!(e.contains(&Platform::host().to_string()), "{e}");
        assert!(check("windows/amd64").is_err());
        assert!(check("a/b/c/d").is_err());
        assert!(check_list(&format!("{},{other}", Platform::host())).is_err());
    }

    #[test]
    fn predefined_args_describe_the_host() {
        let h = Platform::host();
        assert_eq!(predefined("TARGETPLATFORM").unwrap(), h.to_string());
        assert_eq!(predefined("BUILDARCH").unwrap(), h.architecture);
        assert_eq!(predefined("TARGETOS").unwrap(), "linux");
        assert!(predefined("TARGETFOO").is_none());
        assert!(predefined("PATH").is_none());
    }
}
