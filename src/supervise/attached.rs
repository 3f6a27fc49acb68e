//! The supervisor's attached clients: each gets the live output and may send input.
//!
//! The supervisor never waits for a client: writes are non-blocking into a per-client
//! queue, and a client whose queue outgrows [`MAX_QUEUED`] is dropped, so a stuck
//! terminal can stall neither the container nor its log.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::attach_proto::{Decoder, Frame};
use super::control::{encode_response, Response};

/// Output queued for one client beyond which it is dropped.
pub const MAX_QUEUED: usize = 4 << 20;

/// What clients asked of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes for its stdin.
    Stdin(Vec<u8>),
    /// Its terminal's new size: rows, columns.
    Resize(u16, u16),
    /// The end of its stdin.
    CloseStdin,
}

struct Client {
    stream: UnixStream,
    queued: Vec<u8>,
    decoder: Decoder,
    stdin: bool,
}

/// Every client attached to the running process.
#[derive(Default)]
pub struct Clients {
    list: Vec<Client>,
}

impl Clients {
    /// Accepts an attach connection: it is answered `ok`, then streamed to.
    pub fn add(&mut self, stream: UnixStream, stdin: bool) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        let mut c = Client {
            stream,
            queued: encode_response(&Response::Ok),
            decoder: Decoder::default(),
            stdin,
        };
        if flush(&mut c).is_ok() {
            self.list.push(c);
        }
        Ok(())
    }

    /// How many clients are attached.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no client is attached.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Queues `frame` for every client and sends what each will take now.
    pub fn broadcast(&mut self, frame: &Frame) {
        if self.list.is_empty() {
            return;
        }
        let bytes = frame.encode();
        self.list.retain_mut(|c| {
            c.queued.extend_from_slice(&bytes);
            flush(c).is_ok() && c.queued.len() <= MAX_QUEUED
        });
    }

    /// The descriptors to poll: readable always (input, or the hang-up), writable
    /// while output waits. `input` false leaves input in the sockets (back-pressure
    /// while the container's stdin is full).
    pub fn pollfds(&self, input: bool) -> Vec<libc::pollfd> {
        self.list
            .iter()
            .map(|c| libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events: if input { libc::POLLIN } else { 0 }
                    | if c.queued.is_empty() {
                        0
                    } else {
                        libc::POLLOUT
                    },
                revents: 0,
            })
            .collect()
    }

    /// Handles the poll results of [`Clients::pollfds`] (same order): sends queued
    /// output, reads input into `inputs`, and drops clients that hung up or
    /// misbehaved.
    pub fn service(&mut self, polled: &[libc::pollfd], inputs: &mut Vec<Input>) {
        let mut i = 0;
        self.list.retain_mut(|c| {
            let p = polled.get(i).map_or(0, |p| p.revents);
            i += 1;
            if p == 0 {
                return true;
            }
            if p & libc::POLLOUT != 0 && flush(c).is_err() {
                return false;
            }
            if p & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                return read_input(c, inputs);
            }
            true
        });
    }

    /// Sends the exit code to every client, waits briefly for them to take what is
    /// queued, and lets them go.
    pub fn finish(&mut self, code: i32) {
        self.broadcast(&Frame::Exit(code));
        let deadline = Instant::now() + Duration::from_secs(1);
        for mut c in self.list.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || c.stream.set_nonblocking(false).is_err() {
                continue;
            }
            let _ = c.stream.set_write_timeout(Some(left));
            let _ = c.stream.write_all(&c.queued);
        }
    }
}

/// Sends what the socket takes without blocking; an error means the client is gone.
fn flush(c: &mut Client) -> io::Result<()> {
    while !c.queued.is_empty() {
        match c.stream.write(&c.queued) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.queued.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a client's frames; false when it hung up or sent garbage.
fn read_input(c: &mut Client, inputs: &mut Vec<Input>) -> bool {
    let mut buf = [0u8; 16 * 1024];
    let alive = match c.stream.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            c.decoder.push(&buf[..n]);
            true
        }
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    };
    loop {
        match c.decoder.next_frame() {
            Ok(Some(Frame::Stdin(b))) if c.stdin => inputs.push(Input::Stdin(b)),
            Ok(Some(Frame::CloseStdin)) if c.stdin => inputs.push(Input::CloseStdin),
            Ok(Some(Frame::Resize(r, col))) => inputs.push(Input::Resize(r, col)),
            Ok(Some(_)) => {}
            Ok(None) => return alive,
            Err(e) => {
                tracing::debug!("attach client dropped: {e}");
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    fn poll_all(clients: &Clients, input: bool) -> Vec<libc::pollfd> {
        let mut fds = clients.pollfds(input);
        // SAFETY: fds is a valid array of pollfd for its length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
        fds
    }

    #[test]
    fn a_client_gets_ok_then_output_and_its_input_is_collected() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours, true).unwrap();
        clients.broadcast(&Frame::Stdout(b"hello".to_vec()));
        let mut r = BufReader::new(theirs.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(
            line,
            String::from_utf8(encode_response(&Response::Ok)).unwrap()
        );
        let mut frame = [0u8; 10];
        r.read_exact(&mut frame).unwrap();
        assert_eq!(&frame[5..], b"hello");

        let mut w = &theirs;
        w.write_all(&Frame::Stdin(b"ls\n".to_vec()).encode())
            .unwrap();
        w.write_all(&Frame::Resize(3, 4).encode()).unwrap();
        let mut inputs = vec![];
        while inputs.len() < 2 {
            let fds = poll_all(&clients, true);
            clients.service(&fds, &mut inputs);
        }
        assert_eq!(
            inputs,
            vec![Input::Stdin(b"ls\n".to_vec()), Input::Resize(3, 4)]
        );
    }

    #[test]
    fn input_from_a_client_without_stdin_is_ignored() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours, false).unwrap();
        (&theirs)
            .write_all(&Frame::Stdin(b"x".to_vec()).encode())
            .unwrap();
        let mut inputs = vec![];
        let fds = poll_all(&clients, true);
        clients.service(&fds, &mut inputs);
        assert!(inputs.is_empty());
        assert!(!clients.is_empty());
    }

    #[test]
    fn a_client_that_never_reads_is_dropped_not_waited_for() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours, true).unwrap();
        let chunk = Frame::Stdout(vec![b'x'; 64 * 1024]);
        let t0 = Instant::now();
        for _ in 0..200 {
            clients.broadcast(&chunk);
        }
        assert!(clients.is_empty(), "a stuck client must be dropped");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_client_that_hangs_up_is_dropped() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut clients = Clients::default();
        clients.add(ours, true).unwrap();
        drop(theirs);
        let mut inputs = vec![];
        let fds = poll_all(&clients, true);
        clients.service(&fds, &mut inputs);
        assert!(clients.is_empty());
    }
}
