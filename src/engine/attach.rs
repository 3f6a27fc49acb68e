//! `attach`, and the foreground half of `run`: the local stdin, stdout and stderr
//! joined to a container's through its supervisor's attach stream.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use super::terminal::{poll, pollfd, window_size, RawMode, SignalPipe};
use crate::supervise::attach_proto::{Decoder, Frame};
use crate::supervise::control::{self, Request};

/// The keys that detach when none are given: ctrl-p, ctrl-q, as docker.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// How the local side takes part.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Send the local stdin to the container.
    pub stdin: bool,
    /// The container has a terminal: the local one goes raw and its size follows.
    pub tty: bool,
    /// Close the container's stdin when the local one ends (`run`), rather than
    /// only stop sending (`attach`, where others may still write).
    pub close_stdin_at_eof: bool,
    /// The byte sequence that detaches (empty: none).
    pub detach_keys: Vec<u8>,
    /// Forward SIGINT and SIGTERM to the container.
    pub sig_proxy: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The container's process exited with this code.
    Exited(i32),
    /// The detach keys were typed; the container runs on.
    Detached,
    /// The supervisor went away without saying how the process ended.
    Lost,
}

/// Parses docker's `--detach-keys` syntax: comma-separated `ctrl-<key>` or single
/// characters (`ctrl-p,ctrl-q`, `ctrl-a,x`).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>> {
    let mut out = vec![];
    for key in spec.split(',') {
        let lower = key.to_ascii_lowercase();
        match (lower.strip_prefix("ctrl-"), key.as_bytes()) {
            (Some(k), _) if k.len() == 1 => {
                let c = k.as_bytes()[0];
                out.push(match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => bail!("--detach-keys {spec:?}: unknown key {key:?} (ctrl- takes a-z, @, [, \\, ], ^ or _)"),
                });
            }
            (None, [c]) => out.push(*c),
            _ => bail!(
                "--detach-keys {spec:?}: unknown key {key:?} (expected ctrl-<key> or one character)"
            ),
        }
    }
    Ok(out)
}

/// Watches typed bytes for the detach sequence, holding back a partial match
/// until it completes (detach) or breaks (the held bytes go through).
#[derive(Debug, Default)]
pub struct DetachFilter {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachFilter {
    /// A filter for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> DetachFilter {
        DetachFilter { keys, matched: 0 }
    }

    /// The bytes to send on, and whether the sequence was completed.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            out.push(b);
        }
        (out, false)
    }
}

/// Attaches to the supervisor of the container in `dir` until the process exits,
/// the detach keys are typed, or the supervisor goes away.
pub fn session(dir: &Path, opts: &SessionOptions) -> Result<SessionEnd> {
    let sock = control::socket_path(dir);
    let mut stream = control::attach(&sock, opts.stdin)?;
    let mut signals = vec![];
    if opts.tty {
        signals.push(libc::SIGWINCH);
    }
    if opts.sig_proxy {
        signals.extend([libc::SIGINT, libc::SIGTERM]);
    }
    let caught = SignalPipe::install(&signals)?;
    let _raw = match opts.tty && opts.stdin {
        true => RawMode::enter(0),
        false => None,
    };
    if opts.tty {
        if let Some((rows, cols)) = window_size(0) {
            stream.write_all(&Frame::Resize(rows, cols).encode())?;
        }
    }
    let mut filter = DetachFilter::new(opts.detach_keys.clone());
    let mut decoder = Decoder::default();
    let mut stdin_open = opts.stdin;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = [
            pollfd(stream.as_raw_fd()),
            pollfd(if stdin_open { 0 } else { -1 }),
            pollfd(caught.fd()),
        ];
        poll(&mut fds, -1)?;
        if fds[0].revents != 0 {
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                return Ok(SessionEnd::Lost);
            }
            decoder.push(&buf[..n]);
            while let Some(frame) = decoder.next_frame()? {
                match frame {
                    Frame::Stdout(b) => {
                        let mut o = std::io::stdout().lock();
                        o.write_all(&b)?;
                        o.flush()?;
                    }
                    Frame::Stderr(b) => std::io::stderr().write_all(&b)?,
                    Frame::Exit(code) => return Ok(SessionEnd::Exited(code)),
                    _ => {}
                }
            }
        }
        if fds[1].revents != 0 {
            // SAFETY: reading stdin into our buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                stdin_open = false;
                if opts.close_stdin_at_eof {
                    send(&mut stream, &Frame::CloseStdin)?;
                }
            } else {
                let (send, detach) = filter.feed(&buf[..n as usize]);
                if !send.is_empty() && !self::send(&mut stream, &Frame::Stdin(send))? {
                    // The supervisor closed its end: the container is gone and
                    // its exit frame is still to be read.
                    stdin_open = false;
                }
                if detach {
                    return Ok(SessionEnd::Detached);
                }
            }
        }
        if fds[2].revents != 0 {
            for s in caught.take() {
                if s == libc::SIGWINCH {
                    if let Some((rows, cols)) = window_size(0) {
                        send(&mut stream, &Frame::Resize(rows, cols))?;
                    }
                } else {
                    // The supervisor's kill path: the container's processes get it.
                    let req = Request::Kill { signal: s };
                    if let Err(e) = control::call(&sock, &req, Duration::from_secs(5)) {
                        tracing::debug!("forwarding signal {s}: {e}");
                    }
                }
            }
        }
    }
}

/// Writes `frame` to the supervisor; false when it has already closed its end
/// (the container exited between our poll and this write: its output and exit
/// frame are still in the socket for the reader, so that is no error).
fn send(stream: &mut impl Write, frame: &Frame) -> std::io::Result<bool> {
    match stream.write_all(&frame.encode()) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Runs `attach` on a running container; returns the exit code to pass on (0 when
/// detached).
pub fn attach(found: &crate::container::list::Found, opts: &SessionOptions) -> Result<i32> {
    let end =
        session(&found.dir, opts).with_context(|| format!("attaching to {}", found.record.name))?;
    Ok(match end {
        SessionEnd::Exited(code) => code,
        SessionEnd::Detached => 0,
        SessionEnd::Lost => crate::container::list::observed_status(&found.dir)
            .exit_code
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_does() {
        assert_eq!(
            parse_detach_keys(DEFAULT_DETACH_KEYS).unwrap(),
            vec![16, 17]
        );
        assert_eq!(
            parse_detach_keys("ctrl-@,a,ctrl-_").unwrap(),
            vec![0, b'a', 31]
        );
        let e = parse_detach_keys("ctrl-1").unwrap_err().to_string();
        assert!(e.contains("ctrl-1"), "{e}");
        assert!(parse_detach_keys("ab").is_err());
        assert!(parse_detach_keys("").is_err());
    }

    #[test]
    fn the_sequence_detaches_and_a_broken_one_goes_through() {
        let mut f = DetachFilter::new(vec![16, 17]);
        assert_eq!(f.feed(b"ls\x10"), (b"ls".to_vec(), false));
        assert_eq!(f.feed(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(f.feed(b"a\x10\x11b"), (b"a".to_vec(), true));
        let mut none = DetachFilter::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
