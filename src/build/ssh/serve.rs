//! The agent socket one `RUN --mount=type=ssh` sees: a listener in a private
//! directory of the step's scratch space, bound into the container at the
//! mount's target. Connections are answered by berth's own agent (key files) or
//! forwarded to the user's agent socket. Everything stops and the socket is
//! removed when the guard drops: the step ended, failed, or was cancelled.

use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{Kind, Source};
use crate::build::cancel::Cancel;

/// A served agent socket; stops serving and removes the socket on drop.
pub struct Served {
    /// The socket on the host (bind it into the container).
    pub socket: PathBuf,
    stop: Cancel,
    thread: Option<JoinHandle<()>>,
}

/// Streams still open, shut down when serving stops so their threads end.
type Open = Arc<Mutex<Vec<UnixStream>>>;

/// Serves `source` on a new socket `dir/NAME` (`dir` is created 0700 if needed),
/// owned by `uid:gid` with `mode`, as the mount asks.
pub fn serve(
    source: &Source,
    dir: &Path,
    name: &str,
    mode: u32,
    uid: u32,
    gid: u32,
) -> io::Result<Served> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let socket = dir.join(name);
    let listener = UnixListener::bind(&socket)?;
    std::os::unix::fs::chown(&socket, Some(uid), Some(gid))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    let stop = Cancel::new()?;
    let (kind, stop2) = (source.kind.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("ssh-agent".into())
        .spawn(move || accept_loop(listener, kind, stop2))?;
    Ok(Served {
        socket,
        stop,
        thread: Some(thread),
    })
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Whether `fd` became readable before `stop` fired.
fn readable(fd: i32, stop: &Cancel) -> bool {
    loop {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if fds[1].revents != 0 {
            return false;
        }
        return fds[0].revents != 0;
    }
}

fn accept_loop(listener: UnixListener, kind: Kind, stop: Cancel) {
    let open: Open = Default::default();
    let mut workers: Vec<JoinHandle<()>> = vec![];
    while readable(listener.as_raw_fd(), &stop) {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => continue,
        };
        if conn.set_nonblocking(false).is_err() {
            continue;
        }
        let Ok(w) = spawn_connection(conn, &kind, &open) else {
            continue;
        };
        workers.retain(|w| !w.is_finished());
        workers.push(w);
    }
    // The step is over: whatever a client left open is cut, so every worker ends.
    for s in open.lock().expect("open streams").iter() {
        let _ = s.shutdown(Shutdown::Both);
    }
    for w in workers {
        let _ = w.join();
    }
}

fn track(open: &Open, s: &UnixStream) -> io::Result<()> {
    open.lock().expect("open streams").push(s.try_clone()?);
    Ok(())
}

fn spawn_connection(mut conn: UnixStream, kind: &Kind, open: &Open) -> io::Result<JoinHandle<()>> {
    track(open, &conn)?;
    match kind {
        Kind::Keys(ring) => {
            let ring = ring.clone();
            std::thread::Builder::new()
                .name("ssh-agent-conn".into())
                .spawn(move || {
                    let _ = ring.serve(&mut conn);
                })
        }
        Kind::Socket(path) => {
            // Each client gets its own connection to the user's agent.
            let mut up = match UnixStream::connect(path) {
                Ok(up) => up,
                Err(e) => {
                    tracing::warn!("ssh: connecting to {}: {e}", path.display());
                    return Err(e);
                }
            };
            track(open, &up)?;
            let (mut conn2, mut up2) = (conn.try_clone()?, up.try_clone()?);
            std::thread::Builder::new()
                .name("ssh-forward".into())
                .spawn(move || {
                    let back = std::thread::spawn(move || {
                        let _ = io::copy(&mut up2, &mut conn2);
                        let _ = conn2.shutdown(Shutdown::Both);
                    });
                    let _ = io::copy(&mut conn, &mut up);
                    let _ = up.shutdown(Shutdown::Both);
                    let _ = back.join();
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::agent::{self, Keyring};
    use super::*;
    use std::io::Write;

    fn identities(socket: &Path) -> Vec<u8> {
        let mut c = UnixStream::connect(socket).unwrap();
        c.write_all(&[0, 0, 0, 1, agent::REQUEST_IDENTITIES])
            .unwrap();
        agent::read_message(&mut c).unwrap().unwrap()
    }

    #[test]
    fn serves_and_forwards_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let own = Source {
            id: "k".into(),
            kind: Kind::Keys(Arc::new(Keyring::default())),
        };
        // Owned by whoever runs the test (chown to oneself needs no root).
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata(dir.path()).unwrap();
        let (uid, gid) = (me.uid(), me.gid());
        let served = serve(&own, &dir.path().join("ssh"), "agent.0", 0o600, uid, gid).unwrap();
        let meta = std::fs::metadata(dir.path().join("ssh")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let mode = std::fs::metadata(&served.socket)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // No keys: an empty list.
        assert_eq!(
            identities(&served.socket),
            [agent::IDENTITIES_ANSWER, 0, 0, 0, 0]
        );

        // A forwarded socket answers as the agent behind it, connection after connection.
        let fwd = Source {
            id: "default".into(),
            kind: Kind::Socket(served.socket.clone()),
        };
        let forwarded = serve(&fwd, &dir.path().join("ssh"), "agent.1", 0o600, uid, gid).unwrap();
        for _ in 0..2 {
            assert_eq!(
                identities(&forwarded.socket),
                [agent::IDENTITIES_ANSWER, 0, 0, 0, 0]
            );
        }
        // A client that never hangs up does not keep the step waiting.
        let lingering = UnixStream::connect(&forwarded.socket).unwrap();
        let (a, b) = (served.socket.clone(), forwarded.socket.clone());
        drop(forwarded);
        drop(served);
        assert!(!a.exists() && !b.exists());
        drop(lingering);
    }
}
