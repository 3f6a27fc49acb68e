//! Lets go of the memory a supervisor touched to start its container and does not
//! need while it waits on it.
//!
//! Starting a container runs the runtime's whole parent side (spec parsing, cgroup
//! and seccomp setup, the helper protocol): megabytes of code that the kernel maps
//! into the supervisor 64 KiB at a time (fault-around) and leaves mapped for the
//! process's life, although the poll loop that follows touches a small part of it.
//! Those pages are clean file pages of the binary: unmapping them frees nothing the
//! process could lose (the next touch maps the page-cache copy again), and what the
//! supervisor holds resident is then what its loop uses, as with conmon.
//!
//! Only pages of a file mapping that is not writable are dropped, and of those only
//! the file's own pages: a page that was written (relocations in the read-only-after-
//! relocation data, `.data`) is a private copy that must stay; `/proc/self/pagemap`
//! tells the file's pages from the copies. The mappings come from
//! `/proc/self/maps`, not `smaps`: smaps walks every page table of the process to
//! count, which cost more than the shedding saves. The dead part of the stack
//! below the current frame goes too.

use std::io::Read;

/// How much of the stack below the caller's frame stays mapped: the x86-64 red
/// zone and the frames of the calls this function makes.
const STACK_KEEP: usize = 16 * 1024;

/// Drops the supervisor's clean, resident pages of code and read-only data, and
/// its stack below the caller. Best effort: a failure leaves memory mapped, no more.
pub fn shed_startup_pages() {
    let mut maps = Vec::with_capacity(8 * 1024);
    if std::fs::File::open("/proc/self/maps")
        .and_then(|mut f| f.read_to_end(&mut maps))
        .is_err()
    {
        return;
    }
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let (read_only, dead_stack) = sheddable(&String::from_utf8_lossy(&maps), sp);
    let mut ranges = Vec::with_capacity(64);
    if let Ok(pagemap) = std::fs::File::open("/proc/self/pagemap") {
        for (start, end) in read_only {
            ranges.extend(file_pages(&pagemap, start, end));
        }
    }
    ranges.extend(dead_stack);
    // Freed and trimmed first: after the last madvise, as little code as
    // possible runs before the caller's wait (each page it runs is mapped again).
    drop(maps);
    super::sys::release_free_memory();
    for (start, end) in ranges {
        // SAFETY: the range is pages the kernel reports as the unmodified file's
        // own in a read-only file mapping (the kernel maps the file's page again on
        // the next touch: no content can change), or stack below every live frame
        // of this single thread.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// Address ranges, `(start, end)`.
type Ranges = Vec<(usize, usize)>;

/// From `maps` (this process's, its stack pointer `sp`): the read-only file
/// mappings, whose pages are to be sorted one by one, and the stack's pages below
/// `sp` less [`STACK_KEEP`].
fn sheddable(maps: &str, sp: usize) -> (Ranges, Option<(usize, usize)>) {
    let mut read_only = vec![];
    let mut stack = None;
    for line in maps.lines() {
        let Some((range, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(s), Ok(e)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let perms = fields.next().unwrap_or("");
        let path = fields.nth(3).unwrap_or("");
        if path == "[stack]" && (s..e).contains(&sp) {
            let top = (sp.saturating_sub(STACK_KEEP)) & !(page_size() - 1);
            if top > s {
                stack = Some((s, top));
            }
        }
        if path.starts_with('/') && !perms.contains('w') {
            read_only.push((s, e));
        }
    }
    (read_only, stack)
}

/// The runs of pages in `start..end` that are present and the file's own (pagemap
/// bits 63 and 61, from `pagemap`): never a private copy, and never a swapped-out one.
fn file_pages(pagemap: &std::fs::File, start: usize, end: usize) -> Ranges {
    use std::os::unix::fs::FileExt;
    const PRESENT: u64 = 1 << 63;
    const FILE: u64 = 1 << 61;
    let page = page_size();
    let n = (end - start) / page;
    let mut raw = vec![0u8; n * 8];
    if pagemap
        .read_exact_at(&mut raw, (start / page * 8) as u64)
        .is_err()
    {
        return vec![];
    }
    let clean = |i: usize| {
        let e = u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        e & PRESENT != 0 && e & FILE != 0
    };
    runs((0..n).map(clean))
        .into_iter()
        .map(|(a, b)| (start + a * page, start + b * page))
        .collect()
}

/// The index ranges where `flags` is true, as `(first, past_last)`.
fn runs(flags: impl Iterator<Item = bool>) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut open: Option<usize> = None;
    let mut n = 0;
    for (i, f) in flags.enumerate() {
        match (f, open) {
            (true, None) => open = Some(i),
            (false, Some(a)) => {
                out.push((a, i));
                open = None;
            }
            _ => {}
        }
        n = i + 1;
    }
    if let Some(a) = open {
        out.push((a, n));
    }
    out
}

fn page_size() -> usize {
    // SAFETY: sysconf with a valid name.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
00200000-003f2000 r--p 00000000 fe:00 10017665                           /usr/bin/berth-supervisor
003f2000-0088c000 r-xp 001f1000 fe:00 10017665                           /usr/bin/berth-supervisor
0088c000-008e7000 r--p 0068a000 fe:00 10017665                           /usr/bin/berth-supervisor
008e7000-008eb000 rw-p 006e4000 fe:00 10017665                           /usr/bin/berth-supervisor
1ff52000-1ff75000 rw-p 00000000 00:00 0                                  [heap]
7f0000000000-7f0000001000 r--p 00000000 00:00 0 
7fff4894c000-7fff4896d000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn only_read_only_file_mappings_and_dead_stack_are_candidates() {
        let sp = 0x7fff4896c100;
        let (read_only, stack) = sheddable(MAPS, sp);
        assert_eq!(
            read_only,
            vec![
                (0x200000, 0x3f2000),
                (0x3f2000, 0x88c000),
                (0x88c000, 0x8e7000)
            ]
        );
        assert_eq!(stack, Some((0x7fff4894c000, (sp - STACK_KEEP) & !0xfff)));
    }

    #[test]
    fn runs_are_the_stretches_of_true() {
        let f = |v: &[u8]| runs(v.iter().map(|&b| b == 1));
        assert_eq!(f(&[1, 1, 0, 1, 0, 0, 1]), vec![(0, 2), (3, 4), (6, 7)]);
        assert_eq!(f(&[0, 0]), vec![]);
        assert_eq!(f(&[1]), vec![(0, 1)]);
    }

    #[test]
    fn shedding_keeps_the_process_working() {
        shed_startup_pages();
        // Code, read-only data and the stack are all still there.
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
