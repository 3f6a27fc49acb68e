//! `user[:group]` → uid, gid and supplementary groups, from the container's own
//! /etc/passwd and /etc/group (read after pivot_root, so the image's files, not the host's).

use crate::error::{Error, Result};

/// A resolved identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Home directory, for HOME when the env has none.
    pub home: Option<String>,
}

/// Resolve `spec` ("name", "uid", "name:group", "uid:gid") against file contents.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<Identity> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u)));
    let (uid, mut gid, name, home) = match (&entry, u.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| Error::Spec(format!("bad uid in /etc/passwd for {u}")))?,
            f[3].parse()
                .map_err(|_| Error::Spec(format!("bad gid in /etc/passwd for {u}")))?,
            Some(f[0]),
            f.get(5).map(|s| s.to_string()),
        ),
        (None, Ok(n)) => (n, 0, None, None),
        (None, Err(_)) => {
            return Err(Error::Spec(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    let groups_of = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3);
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups_of
                .clone()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    Error::Spec(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let mut groups = Vec::new();
    if let Some(name) = name {
        for f in groups_of {
            if f.get(3).is_some_and(|m| m.split(',').any(|x| x == name)) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !groups.contains(&n) {
                        groups.push(n);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:www,bob\naudio:x:29:www\n";

    #[test]
    fn names_and_numbers() {
        let i = resolve("www", PASSWD, GROUP).unwrap();
        assert_eq!((i.uid, i.gid, i.groups.clone()), (33, 33, vec![50, 29]));
        assert_eq!(i.home.as_deref(), Some("/var/www"));
        let i = resolve("www:staff", PASSWD, GROUP).unwrap();
        assert_eq!((i.uid, i.gid), (33, 50));
        let i = resolve("1234:5", PASSWD, GROUP).unwrap();
        assert_eq!((i.uid, i.gid, i.groups.len()), (1234, 5, 0));
        assert!(resolve("nobody", PASSWD, GROUP).is_err());
        assert!(resolve("www:nogroup", PASSWD, GROUP).is_err());
    }
}
