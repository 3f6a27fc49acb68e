//! OCI mount options → mount(2) flags, propagation and fs data.

/// A parsed mount option list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount itself.
    pub flags: u64,
    /// Flags to clear (rw, suid, ...): only meaningful on remount.
    pub cleared: u64,
    /// Propagation flags applied after the mount (MS_PRIVATE, MS_SLAVE, ... | MS_REC).
    pub propagation: u64,
    /// Everything else, comma-joined, for the filesystem.
    pub data: String,
    /// `rbind` or `bind` asked for.
    pub bind: bool,
    /// `rbind`.
    pub recursive: bool,
}

const MS: fn(libc::c_ulong) -> u64 = |f| f as u64;

/// Parse options the way runc does: known flags become flags, the rest is data.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MS(libc::MS_RDONLY), 0),
            "rw" => (0, MS(libc::MS_RDONLY)),
            "nosuid" => (MS(libc::MS_NOSUID), 0),
            "suid" => (0, MS(libc::MS_NOSUID)),
            "nodev" => (MS(libc::MS_NODEV), 0),
            "dev" => (0, MS(libc::MS_NODEV)),
            "noexec" => (MS(libc::MS_NOEXEC), 0),
            "exec" => (0, MS(libc::MS_NOEXEC)),
            "sync" => (MS(libc::MS_SYNCHRONOUS), 0),
            "async" => (0, MS(libc::MS_SYNCHRONOUS)),
            "dirsync" => (MS(libc::MS_DIRSYNC), 0),
            "remount" => (MS(libc::MS_REMOUNT), 0),
            "mand" => (MS(libc::MS_MANDLOCK), 0),
            "nomand" => (0, MS(libc::MS_MANDLOCK)),
            "atime" => (0, MS(libc::MS_NOATIME)),
            "noatime" => (MS(libc::MS_NOATIME), 0),
            "diratime" => (0, MS(libc::MS_NODIRATIME)),
            "nodiratime" => (MS(libc::MS_NODIRATIME), 0),
            "relatime" => (MS(libc::MS_RELATIME), 0),
            "norelatime" => (0, MS(libc::MS_RELATIME)),
            "strictatime" => (MS(libc::MS_STRICTATIME), 0),
            "nostrictatime" => (0, MS(libc::MS_STRICTATIME)),
            "silent" => (MS(libc::MS_SILENT), 0),
            "loud" => (0, MS(libc::MS_SILENT)),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            p => {
                if let Some(f) = propagation(p) {
                    o.propagation |= f;
                } else {
                    data.push(p.to_owned());
                }
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.cleared |= clear;
    }
    o.data = data.join(",");
    o
}

/// Propagation option → flags.
pub fn propagation(p: &str) -> Option<u64> {
    let rec = MS(libc::MS_REC);
    Some(match p {
        "private" => MS(libc::MS_PRIVATE),
        "rprivate" => MS(libc::MS_PRIVATE) | rec,
        "shared" => MS(libc::MS_SHARED),
        "rshared" => MS(libc::MS_SHARED) | rec,
        "slave" => MS(libc::MS_SLAVE),
        "rslave" => MS(libc::MS_SLAVE) | rec,
        "unbindable" => MS(libc::MS_UNBINDABLE),
        "runbindable" => MS(libc::MS_UNBINDABLE) | rec,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_and_data_split() {
        let o = parse(&s(&["nosuid", "noexec", "mode=1777", "size=65536k", "ro"]));
        assert_eq!(
            o.flags,
            MS(libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_RDONLY)
        );
        assert_eq!(o.data, "mode=1777,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn rbind_and_propagation() {
        let o = parse(&s(&["rbind", "rprivate", "rw"]));
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, MS(libc::MS_PRIVATE | libc::MS_REC));
        assert_eq!(o.flags, 0);
    }
}
