//! `user:` resolved as docker resolves it, against the image's /etc/passwd and
//! /etc/group: `name`, `uid`, `name:group`, `uid:gid`; supplementary groups from
//! /etc/group membership, then `group_add`.

/// A user spec that names nobody the image knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// No such user in the image's /etc/passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    /// No such group in the image's /etc/group.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

/// The resolved identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary gids.
    pub additional_gids: Vec<u32>,
    /// The home directory (for `HOME`), `/` if unknown.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6).then_some(())?;
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4).then_some(())?;
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolves `user` (empty means root) against the image's files and adds `group_add`.
pub fn resolve(
    user: &str,
    passwd: &str,
    group: &str,
    group_add: &[String],
) -> Result<Identity, UserError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd_entries(passwd).find(|e| e.name == u || u.parse() == Ok(e.uid));
    let (uid, mut gid, home, name) = match (&entry, u.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name)),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => return Err(UserError::NoUser(u.to_string())),
    };
    if let Some(g) = g {
        gid = match group_entries(group).find(|(n, id, _)| *n == g || g.parse() == Ok(*id)) {
            Some((_, id, _)) => id,
            None => g.parse().map_err(|_| UserError::NoGroup(g.to_string()))?,
        };
    }
    let mut additional = vec![];
    if let Some(name) = name {
        for (_, id, members) in group_entries(group) {
            if members.contains(&name) && id != gid && !additional.contains(&id) {
                additional.push(id);
            }
        }
    }
    for extra in group_add {
        let id = match group_entries(group).find(|(n, _, _)| n == extra) {
            Some((_, id, _)) => id,
            None => extra
                .parse()
                .map_err(|_| UserError::NoGroup(extra.clone()))?,
        };
        if !additional.contains(&id) {
            additional.push(id);
        }
    }
    Ok(Identity {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:www,other\naudio:x:29:\n";

    #[test]
    fn resolves_docker_forms() {
        let r = resolve("", PASSWD, GROUP, &[]).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let r = resolve("www", PASSWD, GROUP, &[]).unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone()),
            (33, 33, vec![50])
        );
        let r = resolve("1000:audio", PASSWD, GROUP, &["staff".into(), "7".into()]).unwrap();
        assert_eq!((r.uid, r.gid, r.additional_gids), (1000, 29, vec![50, 7]));
        assert_eq!(r.home, "/");
        assert!(matches!(
            resolve("nobody", PASSWD, GROUP, &[]),
            Err(UserError::NoUser(_))
        ));
        assert!(matches!(
            resolve("www:nogroup", PASSWD, GROUP, &[]),
            Err(UserError::NoGroup(_))
        ));
    }
}
