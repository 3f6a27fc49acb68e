//! The supervisor's control socket: the CLI asks it to stop or kill its container.
//!
//! One JSON request line, one JSON response line, over a unix stream socket in the
//! container's directory; a supervisor that is gone is simply not listening.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the CLI can ask of a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Send `signal`, wait up to `timeout_ms`, then SIGKILL; no restart follows.
    Stop {
        /// The stop signal (`stop_signal`, SIGTERM by default).
        signal: i32,
        /// The grace period (`-t`, `stop_grace_period`, 10 s by default).
        timeout_ms: u64,
    },
    /// Send `signal` to the container's processes; no restart follows.
    Kill {
        /// The signal (`kill -s`, SIGKILL by default).
        signal: i32,
    },
    /// Start the container's process again (after `stop`, for `start`/`restart`).
    Start,
    /// Freeze the container's processes (`pause`).
    Pause,
    /// Thaw them (`unpause`).
    Unpause,
    /// Are you there?
    Ping,
    /// Stream the running process's output on this connection, and take its input
    /// (with `stdin`) as [`super::attach_proto`] frames.
    Attach {
        /// The client sends stdin bytes.
        stdin: bool,
    },
}

/// A supervisor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Done (for `stop`: the process has exited).
    Ok,
    /// It could not be done, and why.
    Error(String),
}

/// Failure to talk to a supervisor.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nobody listens on the socket, or the exchange broke.
    #[error("supervisor at {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The supervisor declined, and why.
    #[error("{0}")]
    Refused(String),
    /// The answer was not a response.
    #[error("supervisor at {path} answered garbage: {source}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// The control socket of a container directory.
pub fn socket_path(container_dir: &Path) -> PathBuf {
    crate::state::ContainerDir::new(container_dir).supervisor_sock()
}

/// A unix socket address is at most 108 bytes; state roots can be deeper than
/// that. Past the limit the socket is reached through its directory's descriptor
/// (`/proc/self/fd/N/name`), which is short whatever the real path; the returned
/// file keeps that descriptor open while the path is used.
pub fn addressable(socket: &Path) -> std::io::Result<(Option<std::fs::File>, PathBuf)> {
    use std::os::fd::AsRawFd;
    if socket.as_os_str().len() < 100 {
        return Ok((None, socket.to_path_buf()));
    }
    let dir = socket.parent().unwrap_or(Path::new("."));
    let name = socket.file_name().unwrap_or_default();
    let f = std::fs::File::open(dir)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())).join(name);
    Ok((Some(f), short))
}

/// Sends one request and waits up to `timeout` for the answer.
pub fn call(socket: &Path, req: &Request, timeout: Duration) -> Result<Response, ControlError> {
    let io = |source| ControlError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let (_dir, addr) = addressable(socket).map_err(io)?;
    let mut stream = UnixStream::connect(&addr).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(req).expect("requests always encode");
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).map_err(io)?;
    serde_json::from_str(&answer).map_err(|source| ControlError::Protocol {
        path: socket.to_path_buf(),
        source,
    })
}

/// Opens an attach stream: sends the request and reads the answer byte by byte, so
/// that no frame after it is consumed; returns the connection carrying the frames.
pub fn attach(socket: &Path, stdin: bool) -> Result<UnixStream, ControlError> {
    use std::io::Read;
    let io = |source| ControlError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let (_dir, addr) = addressable(socket).map_err(io)?;
    let mut stream = UnixStream::connect(&addr).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut line = serde_json::to_vec(&Request::Attach { stdin }).expect("requests always encode");
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut answer = vec![];
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        match stream.read(&mut byte).map_err(io)? {
            0 => return Err(io(std::io::ErrorKind::UnexpectedEof.into())),
            _ => answer.push(byte[0]),
        }
    }
    stream.set_read_timeout(None).map_err(io)?;
    match serde_json::from_slice(&answer) {
        Ok(Response::Ok) => Ok(stream),
        Ok(Response::Error(e)) => Err(ControlError::Refused(e)),
        Err(source) => Err(ControlError::Protocol {
            path: socket.to_path_buf(),
            source,
        }),
    }
}

/// Decodes one request line as the supervisor receives it.
pub fn parse_request(line: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(line.trim_end())
}

/// Encodes a response line as the supervisor sends it.
pub fn encode_response(resp: &Response) -> Vec<u8> {
    let mut line = serde_json::to_vec(resp).expect("responses always encode");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn round_trip_over_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(dir.path());
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            let req = parse_request(&line).unwrap();
            s.write_all(&encode_response(&Response::Ok)).unwrap();
            req
        });
        let req = Request::Stop {
            signal: 15,
            timeout_ms: 10_000,
        };
        assert_eq!(
            call(&path, &req, Duration::from_secs(5)).unwrap(),
            Response::Ok
        );
        assert_eq!(server.join().unwrap(), req);
    }

    #[test]
    fn a_missing_supervisor_is_an_error_naming_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(dir.path());
        let err = call(&path, &Request::Ping, Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("supervisor.sock"), "{err}");
    }
}
