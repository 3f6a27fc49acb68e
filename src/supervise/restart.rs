//! Restart policies with docker's timing: 100 ms doubling to one minute, reset
//! after ten seconds up, and a manual stop that suspends `always`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The first delay before a restart.
pub const INITIAL_DELAY: Duration = Duration::from_millis(100);
/// The longest delay between restarts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// When a supervisor brings a container back after its process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (`restart: "no"`).
    #[default]
    No,
    /// Always, unless stopped by hand (`restart: always`).
    Always,
    /// Always, and a manual stop survives a restart of the host (`unless-stopped`).
    UnlessStopped,
    /// Only after a non-zero exit, at most `max_retries` times (0: no limit).
    OnFailure {
        /// `on-failure:N`; 0 means unlimited.
        max_retries: u32,
    },
}

/// A `restart:` value that is none of docker's policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid restart policy {0:?}: expected \"no\", \"always\", \"unless-stopped\" or \"on-failure[:max-retries]\"")]
pub struct InvalidPolicy(pub String);

impl FromStr for RestartPolicy {
    type Err = InvalidPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidPolicy(s.to_string());
        match s.split_once(':') {
            None => match s {
                "" | "no" => Ok(RestartPolicy::No),
                "always" => Ok(RestartPolicy::Always),
                "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
                "on-failure" => Ok(RestartPolicy::OnFailure { max_retries: 0 }),
                _ => Err(bad()),
            },
            Some(("on-failure", n)) => n
                .parse()
                .map(|max_retries| RestartPolicy::OnFailure { max_retries })
                .map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
            RestartPolicy::OnFailure { max_retries: 0 } => f.write_str("on-failure"),
            RestartPolicy::OnFailure { max_retries } => write!(f, "on-failure:{max_retries}"),
        }
    }
}

impl RestartPolicy {
    /// The policy for `deploy.restart_policy`, which docker compose prefers over
    /// `restart:` when both are set (`condition: none|on-failure|any`).
    pub fn from_deploy(condition: Option<&str>, max_attempts: Option<u32>) -> Option<Self> {
        match condition? {
            "none" => Some(RestartPolicy::No),
            "on-failure" => Some(RestartPolicy::OnFailure {
                max_retries: max_attempts.unwrap_or(0),
            }),
            "any" => Some(RestartPolicy::Always),
            _ => None,
        }
    }
}

/// How one run of the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (128 + signal when killed by a signal).
    pub code: i32,
    /// How long the process ran.
    pub ran_for: Duration,
    /// Whether a user asked for the stop (`berth stop`, `down`, `kill`).
    pub stopped_by_user: bool,
}

/// What the supervisor does after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start the process again after this delay.
    RestartAfter(Duration),
    /// Leave the container exited.
    Stay,
}

/// The restart bookkeeping of one container, kept by its supervisor.
#[derive(Debug, Clone, Default)]
pub struct RestartState {
    /// Restarts so far (docker's `RestartCount`).
    pub count: u32,
    delay: Option<Duration>,
}

impl RestartState {
    /// Carries on counting from `count` restarts (a new supervisor after `start`).
    pub fn resume(count: u32) -> RestartState {
        RestartState { count, delay: None }
    }

    /// Decides, under `policy`, what follows `exit`, and advances the backoff.
    pub fn decide(&mut self, policy: RestartPolicy, exit: Exit) -> Decision {
        if exit.stopped_by_user {
            return Decision::Stay;
        }
        let wanted = match policy {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit.code != 0 && (max_retries == 0 || self.count < max_retries)
            }
        };
        if !wanted {
            return Decision::Stay;
        }
        let delay = match self.delay {
            _ if exit.ran_for >= RESET_AFTER => INITIAL_DELAY,
            None => INITIAL_DELAY,
            Some(d) => (d * 2).min(MAX_DELAY),
        };
        self.delay = Some(delay);
        self.count += 1;
        Decision::RestartAfter(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, secs: u64) -> Exit {
        Exit {
            code,
            ran_for: Duration::from_secs(secs),
            stopped_by_user: false,
        }
    }

    #[test]
    fn parses_docker_forms() {
        assert_eq!("no".parse(), Ok(RestartPolicy::No));
        assert_eq!("always".parse(), Ok(RestartPolicy::Always));
        assert_eq!("unless-stopped".parse(), Ok(RestartPolicy::UnlessStopped));
        assert_eq!(
            "on-failure:2".parse(),
            Ok(RestartPolicy::OnFailure { max_retries: 2 })
        );
        assert_eq!(
            "on-failure".parse(),
            Ok(RestartPolicy::OnFailure { max_retries: 0 })
        );
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
        assert_eq!(
            RestartPolicy::OnFailure { max_retries: 2 }.to_string(),
            "on-failure:2"
        );
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets_after_ten_seconds() {
        let mut s = RestartState::default();
        let mut delays = vec![];
        for _ in 0..12 {
            match s.decide(RestartPolicy::Always, exit(1, 0)) {
                Decision::RestartAfter(d) => delays.push(d.as_millis()),
                Decision::Stay => panic!("always must restart"),
            }
        }
        assert_eq!(&delays[..4], &[100, 200, 400, 800]);
        assert_eq!(*delays.last().unwrap(), 60_000);
        assert_eq!(
            s.decide(RestartPolicy::Always, exit(1, 10)),
            Decision::RestartAfter(INITIAL_DELAY)
        );
    }

    #[test]
    fn on_failure_gives_up_after_max_retries_and_ignores_success() {
        let p = RestartPolicy::OnFailure { max_retries: 2 };
        let mut s = RestartState::default();
        assert_eq!(s.decide(p, exit(0, 0)), Decision::Stay);
        assert!(matches!(s.decide(p, exit(3, 0)), Decision::RestartAfter(_)));
        assert!(matches!(s.decide(p, exit(3, 0)), Decision::RestartAfter(_)));
        assert_eq!(s.decide(p, exit(3, 0)), Decision::Stay);
        assert_eq!(s.count, 2);
    }

    #[test]
    fn a_manual_stop_is_never_restarted() {
        let mut s = RestartState::default();
        let e = Exit {
            stopped_by_user: true,
            ..exit(137, 0)
        };
        assert_eq!(s.decide(RestartPolicy::Always, e), Decision::Stay);
    }

    #[test]
    fn deploy_policy_maps_like_docker_compose() {
        assert_eq!(
            RestartPolicy::from_deploy(Some("any"), None),
            Some(RestartPolicy::Always)
        );
        assert_eq!(
            RestartPolicy::from_deploy(Some("on-failure"), Some(3)),
            Some(RestartPolicy::OnFailure { max_retries: 3 })
        );
        assert_eq!(RestartPolicy::from_deploy(None, Some(3)), None);
    }
}
