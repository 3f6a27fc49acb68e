//! What the supervisor does for each request on its control socket
//! ([`super::control`]): stop, kill, pause, attach, start, ping.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::control::{encode_response, parse_request, Request, Response};
use super::supervisor::{Phase, Supervisor};
use crate::container::ContainerState;
use crate::events::Action;

/// How long a client has to send its one request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

fn reply(mut conn: &UnixStream, r: Response) {
    let _ = conn.write_all(&encode_response(&r));
}

impl Supervisor<'_> {
    /// Reads one request from `conn` and acts on it; the answer goes back on
    /// `conn` now, or (for `stop`) once the process has exited.
    pub(super) fn on_request(&mut self, conn: UnixStream) -> io::Result<()> {
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            return Ok(());
        }
        let req = match parse_request(&line) {
            Ok(r) => r,
            Err(e) => {
                reply(&conn, Response::Error(format!("bad request: {e}")));
                return Ok(());
            }
        };
        // Signals wait in a frozen cgroup: stop and kill thaw it first, as docker does.
        if matches!(req, Request::Stop { .. } | Request::Kill { .. })
            && self.status.state == ContainerState::Paused
        {
            if let Err(e) = self.launcher.freeze(false) {
                tracing::debug!("thaw before signal: {e}");
            }
            self.status.state = ContainerState::Running;
            self.save()?;
        }
        let running = matches!(self.phase, Phase::Running { .. });
        match req {
            Request::Ping => reply(&conn, Response::Ok),
            Request::Pause | Request::Unpause => {
                let r = self.freeze(req == Request::Pause)?;
                reply(&conn, r);
            }
            Request::Stop { signal, timeout_ms } => self.stop(conn, signal, timeout_ms)?,
            Request::Kill { signal } => {
                if matches!(signal, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
                    self.status.stopped_by_user = true;
                    self.save()?;
                }
                let r = match running {
                    true => match self.launcher.signal(signal, true) {
                        Ok(()) => {
                            self.emit(Action::Kill { signal });
                            Response::Ok
                        }
                        Err(e) => Response::Error(e.to_string()),
                    },
                    false => Response::Error("container is not running".into()),
                };
                reply(&conn, r);
            }
            Request::Attach { stdin } => match running {
                true => {
                    self.clients.add(conn, stdin)?;
                    self.emit(Action::Attach);
                }
                false => reply(&conn, Response::Error("container is not running".into())),
            },
            Request::Start => reply(
                &conn,
                match running {
                    true => Response::Ok,
                    false => Response::Error(
                        "container is stopping; start it again when it has exited".into(),
                    ),
                },
            ),
        }
        Ok(())
    }

    /// `pause` (`frozen`) or `unpause`.
    fn freeze(&mut self, frozen: bool) -> io::Result<Response> {
        if !matches!(self.phase, Phase::Running { .. }) {
            return Ok(Response::Error("container is not running".into()));
        }
        Ok(match self.launcher.freeze(frozen) {
            Ok(()) => {
                self.status.state = if frozen {
                    ContainerState::Paused
                } else {
                    ContainerState::Running
                };
                self.save()?;
                Response::Ok
            }
            Err(e) => Response::Error(e.to_string()),
        })
    }

    /// `stop`: the stop signal now, SIGKILL after `timeout_ms`, and no restart;
    /// `conn` is answered once the process has exited.
    fn stop(&mut self, conn: UnixStream, signal: i32, timeout_ms: u64) -> io::Result<()> {
        self.status.stopped_by_user = true;
        self.save()?;
        match &mut self.phase {
            Phase::Running { kill_at, .. } => {
                let at = Instant::now() + Duration::from_millis(timeout_ms);
                *kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
                if let Err(e) = self.launcher.signal(signal, false) {
                    tracing::debug!("stop signal: {e}");
                }
                self.emit(Action::Kill { signal });
                self.waiters.push(conn);
            }
            Phase::Waiting { .. } => {
                self.status.state = ContainerState::Exited;
                self.phase = Phase::Done;
                self.save()?;
                reply(&conn, Response::Ok);
            }
            Phase::Done => reply(&conn, Response::Ok),
        }
        Ok(())
    }
}
