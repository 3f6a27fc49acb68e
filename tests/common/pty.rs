//! A real pseudo-terminal for the interactive commands (`exec`, `run`, `attach`):
//! berth started on its slave side, the test typing and reading on the master.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::World;

/// A pseudo-terminal of `rows` x `cols`: (master, slave).
pub fn open_pty(rows: u16, cols: u16) -> (File, OwnedFd) {
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty fills two descriptors.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0);
    // SAFETY: openpty just gave us these.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    set_size(master.as_raw_fd(), rows, cols);
    (File::from(master), slave)
}

/// Sets the terminal's window size (what a terminal emulator does on a resize).
pub fn set_size(fd: i32, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a winsize we own.
    assert_eq!(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }, 0);
}

/// Starts berth with a 24x80 terminal as its stdin, stdout, stderr and controlling tty.
pub fn berth_on_pty(w: &World, dir: &Path, args: &[&str]) -> (Child, File) {
    let (master, slave) = open_pty(24, 80);
    let mut cmd = w.berth_command(dir, args);
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop(slave);
    (child, master)
}

/// Reads from the master until `want` shows up in `seen` within `within`; on a match
/// drops what `seen` holds up to its end, so the next wait looks only past it.
pub fn try_read_until(master: &mut File, seen: &mut String, want: &str, within: Duration) -> bool {
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        let left = within.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return false;
        }
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own.
        if unsafe { libc::poll(&mut p, 1, left.as_millis().min(200) as i32) } <= 0 {
            continue;
        }
        match master.read(&mut buf) {
            // EIO once the slave side is gone: nothing more will come.
            Ok(0) | Err(_) => return seen.contains(want),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let at = seen.find(want).unwrap() + want.len();
    seen.drain(..at);
    true
}

/// [`try_read_until`] that fails the test after `secs`.
pub fn read_until(master: &mut File, seen: &mut String, want: &str, secs: u64) {
    assert!(
        try_read_until(master, seen, want, Duration::from_secs(secs)),
        "no {want:?} in {seen:?}"
    );
}

/// Types `line` until the terminal shows `want` (a resize is observed by asking again).
pub fn ask_until(master: &mut File, line: &str, want: &str) {
    let t0 = Instant::now();
    let mut seen = String::new();
    loop {
        master.write_all(line.as_bytes()).unwrap();
        if try_read_until(master, &mut seen, want, Duration::from_secs(1)) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "never saw {want:?} after {line:?}: {seen:?}"
        );
    }
}

/// Waits for berth to exit, draining its terminal so that it never blocks on output.
pub fn wait_draining(child: &mut Child, master: &mut File, seen: &mut String) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        let mut buf = [0u8; 4096];
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own.
        if unsafe { libc::poll(&mut p, 1, 100) } > 0 {
            if let Ok(n) = master.read(&mut buf) {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "berth did not end: {seen:?}"
        );
    }
}
