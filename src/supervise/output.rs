//! The container's output as its supervisor carries it: from the stdout and
//! stderr pipes (or the terminal's master) into the log and to every attached
//! client, never blocking the loop.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::SystemTime;

use super::attach_proto::Frame;
use super::attached::Clients;
use super::logfile::{LogWriter, Rotation, Stream};
use super::sys::{pollfd, set_nonblocking};

/// One read's worth; the kernel's pipe buffer is 64 KiB, most writes far less.
const CHUNK: usize = 16 * 1024;

/// The open output pipes of the running process, and the log they go to.
pub struct Output {
    log: LogWriter,
    pipes: Vec<(Stream, File)>,
}

impl Output {
    /// Output into the log at `path`.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<Output> {
        Ok(Output {
            log: LogWriter::open(path, rotation)?,
            pipes: vec![],
        })
    }

    /// Carries `file` (the read end of a process's `stream`) from now on.
    pub fn add(&mut self, stream: Stream, file: File) {
        self.pipes.push((stream, file));
    }

    /// Every writer of every pipe has closed it.
    pub fn is_empty(&self) -> bool {
        self.pipes.is_empty()
    }

    /// One pollfd per pipe, in order; `held` polls none of them (output waits in
    /// the pipes for the first attached client).
    pub fn pollfds(&self, held: bool) -> impl Iterator<Item = libc::pollfd> + '_ {
        self.pipes
            .iter()
            .map(move |(_, f)| pollfd(if held { -1 } else { f.as_raw_fd() }))
    }

    /// Handles the poll results of [`Output::pollfds`] (same order): what is
    /// readable goes to the log and the clients; closed pipes are dropped.
    pub fn on_poll(&mut self, polled: &[libc::pollfd], clients: &mut Clients) -> io::Result<()> {
        let mut closed = vec![];
        for (i, (stream, file)) in self.pipes.iter_mut().enumerate() {
            if polled.get(i).is_none_or(|p| p.revents == 0) {
                continue;
            }
            let mut buf = [0u8; CHUNK];
            match file.read(&mut buf) {
                Ok(0) => closed.push(i),
                Ok(n) => carry(&mut self.log, clients, *stream, &buf[..n])?,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(_) => closed.push(i),
            }
        }
        for i in closed.into_iter().rev() {
            self.pipes.remove(i);
        }
        if self.pipes.is_empty() {
            self.log.flush_partial(SystemTime::now())?;
        }
        Ok(())
    }

    /// Carries whatever the pipes still hold, without waiting for more: what a
    /// process wrote before it exited belongs before its exit.
    pub fn drain(&mut self, clients: &mut Clients) -> io::Result<()> {
        for (stream, file) in self.pipes.iter_mut() {
            set_nonblocking(file.as_raw_fd())?;
            let mut buf = [0u8; CHUNK];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => carry(&mut self.log, clients, *stream, &buf[..n])?,
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }
}

fn carry(
    log: &mut LogWriter,
    clients: &mut Clients,
    stream: Stream,
    bytes: &[u8],
) -> io::Result<()> {
    log.write(stream, bytes, SystemTime::now())?;
    if clients.is_empty() {
        return Ok(());
    }
    clients.broadcast(&match stream {
        Stream::Stdout => Frame::Stdout(bytes.to_vec()),
        Stream::Stderr => Frame::Stderr(bytes.to_vec()),
    });
    Ok(())
}
