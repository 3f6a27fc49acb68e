//! resolv.conf and /etc/hosts for containers.

use std::net::IpAddr;

use crate::attach::Attachment;

/// A resolv.conf with `nameservers`, `search` domains and `options` (compose `dns`,
/// `dns_search`, `dns_opt`).
pub fn resolv_conf(nameservers: &[IpAddr], search: &[String], options: &[String]) -> String {
    let mut s = String::new();
    for n in nameservers {
        s += &format!("nameserver {n}\n");
    }
    if !search.is_empty() {
        s += &format!("search {}\n", search.join(" "));
    }
    if !options.is_empty() {
        s += &format!("options {}\n", options.join(" "));
    }
    s
}

/// The resolv.conf of a container: berth's responder on the gateway of each of its
/// networks (first network first). The container's own `dns:` servers are not
/// listed: the responder forwards outside names to them (`AttachRequest::dns`), so
/// service names keep resolving.
pub fn container_resolv_conf(
    attachments: &[Attachment],
    search: &[String],
    options: &[String],
) -> String {
    let mut ns: Vec<IpAddr> = Vec::new();
    for a in attachments {
        if !ns.contains(&a.gateway4) {
            ns.push(a.gateway4);
        }
    }
    // glibc reads at most three nameservers.
    ns.truncate(3);
    resolv_conf(&ns, search, options)
}

/// An /etc/hosts: localhost lines, the container's own addresses under `names`
/// (hostname first), then `extra_hosts`.
pub fn hosts(names: &[String], own: &[IpAddr], extra_hosts: &[(String, IpAddr)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if !names.is_empty() {
        for ip in own {
            s += &format!("{ip}\t{}\n", names.join(" "));
        }
    }
    for (h, ip) in extra_hosts {
        s += &format!("{ip}\t{h}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_and_hosts() {
        let r = resolv_conf(
            &["10.213.1.1".parse().unwrap()],
            &["example.com".into()],
            &["ndots:1".into()],
        );
        assert_eq!(
            r,
            "nameserver 10.213.1.1\nsearch example.com\noptions ndots:1\n"
        );
        let h = hosts(
            &["web".into(), "p-web-1".into()],
            &["10.213.1.2".parse().unwrap()],
            &[("host.docker.internal".into(), "10.213.1.1".parse().unwrap())],
        );
        assert!(h.contains("10.213.1.2\tweb p-web-1\n"));
        assert!(h.ends_with("10.213.1.1\thost.docker.internal\n"));
    }
}
