//! The user's subordinate id ranges (`/etc/subuid`, `/etc/subgid`): the ids the
//! user may map into a user namespace through `newuidmap`/`newgidmap`.

use std::path::Path;

use super::RootlessError;

/// One `name:start:count` line that belongs to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first host id.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

/// The ids a container needs to run images whose files belong to many users (a
/// Debian image uses up to 65534 `nobody`): what useradd gives by default.
pub const WANTED: u32 = 65536;

/// The user's ranges in the text of a subid file, matched by name or by uid as
/// shadow's newuidmap does.
pub fn parse(text: &str, user: &str, uid: u32) -> Vec<Range> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let mut f = l.split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != user && who != uid {
                return None;
            }
            Some(Range {
                start: start.trim().parse().ok()?,
                count: count.trim().parse().ok()?,
            })
        })
        .filter(|r| r.count > 0)
        .collect()
}

/// The user's ranges from `file`; a missing file is no range.
pub fn read(file: &Path, user: &str, uid: u32) -> Result<Vec<Range>, RootlessError> {
    match std::fs::read_to_string(file) {
        Ok(t) => Ok(parse(&t, user, uid)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RootlessError::Io {
            path: file.to_path_buf(),
            source: e,
        }),
    }
}

/// The id map arguments for newuidmap/newgidmap (`inside outside count` triples):
/// the user's own id is root inside, the subordinate ranges follow from 1 on.
/// With `keep_id` the user's id stays itself inside (a bind-mounted source keeps
/// its owner), ids below it come from the subordinate ranges, and 0 is the first
/// subordinate id.
pub fn map_args(own: u32, ranges: &[Range], keep_id: bool) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    if !keep_id {
        out.push((0, own, 1));
        let mut next = 1u32;
        for r in ranges {
            out.push((next, r.start, r.count));
            next = next.saturating_add(r.count);
        }
        return out;
    }
    // keep-id: inside ids 0..own-1 and own+1.. from the ranges, own -> own.
    let mut next = 0u32;
    let mut placed_own = false;
    for r in ranges {
        let (mut start, mut count) = (r.start, r.count);
        while count > 0 {
            if !placed_own && next == own {
                out.push((own, own, 1));
                next += 1;
                placed_own = true;
                continue;
            }
            let room = if placed_own {
                count
            } else {
                (own - next).min(count)
            };
            out.push((next, start, room));
            next = next.saturating_add(room);
            start = start.saturating_add(room);
            count -= room;
        }
    }
    if !placed_own {
        out.push((own, own, 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_users_lines_by_name_or_uid() {
        let t = "# comment\nann:100000:65536\nbob:165536:65536\n1001:300000:10\nbad:x:1\n";
        assert_eq!(
            parse(t, "ann", 1001),
            vec![
                Range {
                    start: 100000,
                    count: 65536
                },
                Range {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert!(parse(t, "carl", 1002).is_empty());
    }

    #[test]
    fn the_user_is_root_inside_and_subids_follow() {
        let r = [Range {
            start: 100000,
            count: 65536,
        }];
        assert_eq!(
            map_args(1001, &r, false),
            vec![(0, 1001, 1), (1, 100000, 65536)]
        );
    }

    #[test]
    fn keep_id_keeps_the_users_own_id() {
        let r = [Range {
            start: 100000,
            count: 65536,
        }];
        assert_eq!(
            map_args(1001, &r, true),
            vec![(0, 100000, 1001), (1001, 1001, 1), (1002, 101001, 64535)]
        );
    }
}
