//! The container's stdin as the supervisor holds it: the write end of its stdin
//! pipe (or its terminal's master), fed from attached clients without ever blocking.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

use super::attached::Input;

/// The running process's input side: where attached clients' stdin goes.
#[derive(Default)]
pub struct ContainerInput {
    /// The stdin pipe's write end, or the terminal's master (with `stdin_open`).
    pub stdin: Option<File>,
    /// The terminal's master, for window sizes.
    pub terminal: Option<File>,
    /// Stdin bytes the container has not taken yet.
    pub pending: Vec<u8>,
    /// A client ended stdin: close it once `pending` is written.
    pub closing: bool,
}

impl ContainerInput {
    /// Takes one client request: stdin bytes are queued, the end of stdin is
    /// noted, a window size is applied to the terminal.
    pub fn apply(&mut self, input: Input) {
        use Input as In;
        match input {
            In::Stdin(b) if self.stdin.is_some() => self.pending.extend_from_slice(&b),
            In::Stdin(_) => {}
            // A terminal has no end of input but the one typed (^D).
            In::CloseStdin if self.terminal.is_none() => self.closing = true,
            In::CloseStdin => {}
            In::Resize(rows, cols) => {
                if let Some(t) = &self.terminal {
                    let _ = berth_runtime::tty::resize(t.as_raw_fd(), rows, cols);
                }
            }
        }
    }

    /// Writes pending stdin without blocking; a container that closed its stdin
    /// just loses it.
    pub fn flush(&mut self) {
        let Some(f) = &mut self.stdin else { return };
        loop {
            if self.pending.is_empty() {
                if self.closing {
                    self.stdin = None;
                }
                return;
            }
            match f.write(&self.pending) {
                Ok(n) if n > 0 => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => {
                    self.pending.clear();
                    if self.terminal.is_none() {
                        self.stdin = None;
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        // SAFETY: pipe2 just returned these two descriptors to us.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        (File::from(r), File::from(w))
    }

    #[test]
    fn the_end_of_stdin_comes_after_what_was_sent_before_it() {
        let (mut r, w) = pipe();
        let mut input = ContainerInput {
            stdin: Some(w),
            ..Default::default()
        };
        input.apply(Input::Stdin(b"last words\n".to_vec()));
        input.apply(Input::CloseStdin);
        input.flush();
        assert!(input.stdin.is_none(), "stdin closed once flushed");
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "last words\n");
    }

    #[test]
    fn a_full_pipe_keeps_the_rest_for_later_and_never_blocks() {
        let (mut r, w) = pipe();
        let mut input = ContainerInput {
            stdin: Some(w),
            ..Default::default()
        };
        input.apply(Input::Stdin(vec![b'x'; 1 << 20]));
        input.flush();
        assert!(!input.pending.is_empty(), "a pipe holds less than 1 MiB");
        let mut total = 0;
        let mut buf = vec![0u8; 1 << 16];
        while total < 1 << 20 {
            match r.read(&mut buf) {
                Ok(n) => total += n,
                Err(_) => input.flush(),
            }
        }
        assert!(input.pending.is_empty());
    }

    #[test]
    fn a_container_that_closed_its_stdin_loses_the_input_only() {
        let (r, w) = pipe();
        drop(r);
        let mut input = ContainerInput {
            stdin: Some(w),
            ..Default::default()
        };
        input.apply(Input::Stdin(b"nobody reads\n".to_vec()));
        input.flush();
        assert!(input.pending.is_empty() && input.stdin.is_none());
    }
}
