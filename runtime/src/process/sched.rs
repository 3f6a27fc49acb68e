//! `process.scheduler` → sched_setattr(2): policy, nice, priority, flags and the
//! deadline parameters, for the calling process. A spec that names a scheduler gets
//! exactly it, whatever the process that started the runtime had (a caller under
//! `nice -n 7` must not pass its nice value on).

use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

use crate::error::{Error, Result};

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER0, 48 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    use LinuxSchedulerPolicy as P;
    match p {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    use LinuxSchedulerFlag as F;
    match f {
        F::SchedResetOnFork => 0x01,
        F::SchedFlagReclaim => 0x02,
        F::SchedFlagDLOverrun => 0x04,
        F::SchedFlagKeepPolicy => 0x08,
        F::SchedFlagKeepParams => 0x10,
        F::SchedFlagUtilClampMin => 0x20,
        F::SchedFlagUtilClampMax => 0x40,
    }
}

/// The attribute block for `s`; refuses a nice value out of range rather than
/// letting the kernel clamp it silently.
pub fn attr(s: &Scheduler) -> Result<SchedAttr> {
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::Spec(format!(
            "process.scheduler.nice {nice} is outside -20..19"
        )));
    }
    let priority = s.priority().unwrap_or(0);
    if priority < 0 {
        return Err(Error::Spec(format!(
            "process.scheduler.priority {priority} is negative"
        )));
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy_number(*s.policy()),
        flags: s.flags().iter().flatten().map(|f| flag_bit(*f)).sum(),
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    })
}

/// Apply `s` to the calling process (before capabilities are dropped: lowering the
/// nice value needs CAP_SYS_NICE).
pub fn apply(s: &Scheduler) -> Result<()> {
    let a = attr(s)?;
    // SAFETY: a valid, fully initialised sched_attr of the size it declares; pid 0 is
    // the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0u32) };
    if r < 0 {
        return Err(Error::sys("sched_setattr"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_and_policy_reach_the_attr() {
        let s: Scheduler =
            serde_json::from_value(serde_json::json!({"policy": "SCHED_BATCH", "nice": 5,
                "flags": ["SCHED_RESET_ON_FORK"]}))
            .unwrap();
        let a = attr(&s).unwrap();
        assert_eq!((a.policy, a.nice, a.flags, a.size), (3, 5, 1, 48));
        let bad: Scheduler =
            serde_json::from_value(serde_json::json!({"policy": "SCHED_OTHER", "nice": 40}))
                .unwrap();
        assert!(attr(&bad).unwrap_err().to_string().contains("nice 40"));
    }
}
