//! Healthchecks as docker runs them: probes every `interval` (every
//! `start_interval` inside `start_period`), failures inside the start period do not
//! count, `retries` failures in a row make the container unhealthy, one success
//! makes it healthy.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::container::Health;

/// Docker's defaults when the file and the image leave a value out.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default probe timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default probe interval inside the start period.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// Default number of failures in a row before unhealthy.
pub const DEFAULT_RETRIES: u32 = 3;
/// Docker keeps this many probe results.
pub const LOG_LEN: usize = 5;

/// A resolved healthcheck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// The command to run inside the container, already in exec form
    /// (`CMD-SHELL x` becomes `/bin/sh -c x`).
    pub command: Vec<String>,
    /// Time between probes.
    pub interval: Duration,
    /// How long one probe may take.
    pub timeout: Duration,
    /// Failures in a row before unhealthy.
    pub retries: u32,
    /// Failures in this period after start do not count.
    pub start_period: Duration,
    /// Time between probes inside the start period.
    pub start_interval: Duration,
}

/// Turns a compose/OCI `test` into the command a probe runs; `None` means no
/// healthcheck (`NONE`, or nothing to run).
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

impl HealthConfig {
    /// Fills in docker's defaults where a duration is zero or retries is zero.
    pub fn with_defaults(mut self) -> HealthConfig {
        if self.interval.is_zero() {
            self.interval = DEFAULT_INTERVAL;
        }
        if self.timeout.is_zero() {
            self.timeout = DEFAULT_TIMEOUT;
        }
        if self.start_interval.is_zero() {
            self.start_interval = DEFAULT_START_INTERVAL;
        }
        if self.retries == 0 {
            self.retries = DEFAULT_RETRIES;
        }
        self
    }
}

/// One probe's result, as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The exit code (-1 when it timed out or could not run).
    pub exit_code: i32,
    /// What it printed, cut to 4 KiB as docker does.
    pub output: String,
}

/// The running verdict of one container's healthcheck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: Health,
    /// Failures in a row.
    pub failing_streak: u32,
    /// The last few results, oldest first.
    pub log: VecDeque<ProbeResult>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            status: Health::Starting,
            failing_streak: 0,
            log: VecDeque::new(),
        }
    }
}

impl HealthState {
    /// How long after the previous probe (or the start) the next one runs.
    pub fn next_delay(&self, cfg: &HealthConfig, since_start: Duration) -> Duration {
        if self.status == Health::Starting && since_start < cfg.start_period {
            cfg.start_interval
        } else {
            cfg.interval
        }
    }

    /// Takes a probe's result; returns the new verdict if it changed.
    pub fn record(
        &mut self,
        cfg: &HealthConfig,
        result: ProbeResult,
        since_start: Duration,
    ) -> Option<Health> {
        let before = self.status;
        let ok = result.exit_code == 0;
        self.log.push_back(result);
        while self.log.len() > LOG_LEN {
            self.log.pop_front();
        }
        if ok {
            self.failing_streak = 0;
            self.status = Health::Healthy;
        } else if !(self.status == Health::Starting && since_start < cfg.start_period) {
            self.failing_streak += 1;
            if self.failing_streak >= cfg.retries {
                self.status = Health::Unhealthy;
            }
        }
        (self.status != before).then_some(self.status)
    }
}

/// Cuts probe output to docker's limit.
pub fn clip_output(bytes: &[u8]) -> String {
    const MAX: usize = 4096;
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthConfig {
        HealthConfig {
            command: vec!["true".into()],
            interval: Duration::from_secs(10),
            timeout: Duration::ZERO,
            retries: 2,
            start_period: Duration::from_secs(30),
            start_interval: Duration::from_secs(1),
        }
        .with_defaults()
    }

    fn res(code: i32) -> ProbeResult {
        ProbeResult {
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn test_forms_become_commands() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            probe_command(&s(&["CMD", "nc", "-z", "x"])),
            Some(s(&["nc", "-z", "x"]))
        );
        assert_eq!(
            probe_command(&s(&["CMD-SHELL", "curl -f x || exit 1"])),
            Some(s(&["/bin/sh", "-c", "curl -f x || exit 1"]))
        );
        assert_eq!(probe_command(&s(&["NONE"])), None);
        assert_eq!(probe_command(&[]), None);
        assert_eq!(cfg().timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let c = cfg();
        let mut h = HealthState::default();
        let early = Duration::from_secs(5);
        assert_eq!(h.next_delay(&c, early), Duration::from_secs(1));
        for _ in 0..5 {
            assert_eq!(h.record(&c, res(1), early), None);
        }
        assert_eq!(h.status, Health::Starting);
        assert_eq!(h.log.len(), LOG_LEN);
        assert_eq!(h.record(&c, res(0), early), Some(Health::Healthy));
        assert_eq!(h.next_delay(&c, early), Duration::from_secs(10));
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_and_a_success_heals() {
        let c = cfg();
        let mut h = HealthState::default();
        let late = Duration::from_secs(60);
        assert_eq!(h.record(&c, res(0), late), Some(Health::Healthy));
        assert_eq!(h.record(&c, res(1), late), None);
        assert_eq!(h.record(&c, res(1), late), Some(Health::Unhealthy));
        assert_eq!(h.failing_streak, 2);
        assert_eq!(h.record(&c, res(0), late), Some(Health::Healthy));
        assert_eq!(h.failing_streak, 0);
    }
}
