//! An OCI seccomp profile compiled to classic BPF by our own small assembler (no
//! libseccomp): one block per syscall name, argument conditions as 32-bit halves.

pub mod default;
pub mod table;
pub mod table_i386;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use crate::error::{Error, Result};

/// A compiled filter.
pub type Program = Vec<libc::sock_filter>;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A system call ABI the filter knows: each has its own numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// The native 64-bit ABI.
    X86_64,
    /// The 32-bit x86 ABI (`int 0x80`, 32-bit programs).
    I386,
}

impl Abi {
    fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => table::SYSCALLS,
            Abi::I386 => table_i386::SYSCALLS,
        }
    }
}

/// Number of a syscall on x86_64.
pub fn number(name: &str) -> Option<u32> {
    number_in(Abi::X86_64, name)
}

/// Number of a syscall in `abi`'s table.
pub fn number_in(abi: Abi, name: &str) -> Option<u32> {
    abi.table()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, nr)| *nr)
}

fn action(a: LinuxSeccompAction, errno: Option<u32>, default_errno: u32) -> Result<u32> {
    use LinuxSeccompAction as A;
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => 0,
        A::ScmpActKillProcess => 0x8000_0000,
        A::ScmpActTrap => 0x0003_0000,
        A::ScmpActErrno => 0x0005_0000 | (errno.unwrap_or(default_errno) & 0xffff),
        A::ScmpActTrace => 0x7ff0_0000 | (errno.unwrap_or(0) & 0xffff),
        A::ScmpActLog => 0x7ffc_0000,
        A::ScmpActAllow => 0x7fff_0000,
        other => {
            return Err(Error::Spec(format!(
                "seccomp action {other:?} is not supported"
            )))
        }
    })
}

/// Emit code that falls through when the argument condition holds and jumps to the
/// end of the block (`fail`, counted from after this code) otherwise.
fn condition(
    op: LinuxSeccompOperator,
    index: usize,
    value: u64,
    value2: u64,
) -> Result<Vec<(libc::sock_filter, bool)>> {
    use LinuxSeccompOperator as O;
    if index > 5 {
        return Err(Error::Spec(format!("seccomp argument index {index}")));
    }
    let lo_off = 16 + 8 * index as u32;
    let hi_off = lo_off + 4;
    let (vlo, vhi) = (value as u32, (value >> 32) as u32);
    // Each entry: (instruction, jf/jt targets "fail" = patched later). We encode a
    // failing jump as u8::MAX in jt or jf and patch it.
    const F: u8 = u8::MAX;
    let v = |i| (i, false);
    let code = match op {
        O::ScmpCmpEq => vec![
            stmt(LD_W_ABS, hi_off),
            jump(JEQ_K, vhi, 0, F),
            stmt(LD_W_ABS, lo_off),
            jump(JEQ_K, vlo, 0, F),
        ],
        O::ScmpCmpNe => vec![
            stmt(LD_W_ABS, hi_off),
            jump(JEQ_K, vhi, 0, 2),
            stmt(LD_W_ABS, lo_off),
            jump(JEQ_K, vlo, F, 0),
        ],
        O::ScmpCmpMaskedEq => {
            let (mlo, mhi) = (value as u32, (value >> 32) as u32);
            let (elo, ehi) = (value2 as u32, (value2 >> 32) as u32);
            vec![
                stmt(LD_W_ABS, hi_off),
                stmt(AND_K, mhi),
                jump(JEQ_K, ehi, 0, F),
                stmt(LD_W_ABS, lo_off),
                stmt(AND_K, mlo),
                jump(JEQ_K, elo, 0, F),
            ]
        }
        O::ScmpCmpGt | O::ScmpCmpGe => {
            let last = if op == O::ScmpCmpGt { JGT_K } else { JGE_K };
            vec![
                stmt(LD_W_ABS, hi_off),
                jump(JGT_K, vhi, 3, 0),
                jump(JEQ_K, vhi, 0, F),
                stmt(LD_W_ABS, lo_off),
                jump(last, vlo, 0, F),
            ]
        }
        O::ScmpCmpLt | O::ScmpCmpLe => {
            let last = if op == O::ScmpCmpLt { JGE_K } else { JGT_K };
            vec![
                stmt(LD_W_ABS, hi_off),
                jump(JGT_K, vhi, F, 0),
                jump(JEQ_K, vhi, 0, 2),
                stmt(LD_W_ABS, lo_off),
                jump(last, vlo, F, 0),
            ]
        }
    };
    Ok(code.into_iter().map(v).collect())
}

/// Compile a profile: one section per ABI it covers (x86_64 always; i386 when listed),
/// reached by the audit architecture, each matching the names against that ABI's own
/// numbers: an i386 number is never compared with an x86_64 one. x32 (x86_64's arch
/// value with bit 30 set) gets the default action even when listed: no container needs
/// it and its numbers overlay x86_64's.
pub fn compile(p: &LinuxSeccomp) -> Result<Program> {
    let default_errno = p.default_errno_ret().unwrap_or(libc::EPERM as u32);
    let default = action(p.default_action(), None, default_errno)?;
    let archs = p.architectures().clone().unwrap_or_default();
    if !archs.is_empty() && !archs.contains(&Arch::ScmpArchX86_64) {
        return Err(Error::Spec("seccomp profile does not cover x86_64".into()));
    }
    let mut abis = vec![Abi::X86_64];
    if archs.contains(&Arch::ScmpArchX86) {
        abis.push(Abi::I386);
    }
    let sections = abis
        .iter()
        .map(|abi| section(p, *abi, default, default_errno))
        .collect::<Result<Vec<_>>>()?;
    // Dispatch: [LD arch] then per ABI [JEQ arch, 0, 1] [JA section], then [RET default].
    let dispatch = 1 + 2 * abis.len() + 1;
    let mut prog = vec![stmt(LD_W_ABS, 4)];
    let mut start = dispatch;
    for (abi, sec) in abis.iter().zip(&sections) {
        prog.push(jump(JEQ_K, abi.audit_arch(), 0, 1));
        let next = prog.len() + 1;
        prog.push(stmt(JA, (start - next) as u32));
        start += sec.len();
    }
    // Any other ABI has other numbers: give it the default action.
    prog.push(stmt(RET_K, default));
    for sec in sections {
        prog.extend(sec);
    }
    if prog.len() > 4096 {
        return Err(Error::Spec(format!(
            "seccomp program of {} instructions exceeds 4096",
            prog.len()
        )));
    }
    Ok(prog)
}

/// The instructions for one ABI: every rule whose names that ABI knows, then the
/// default action.
fn section(p: &LinuxSeccomp, abi: Abi, default: u32, default_errno: u32) -> Result<Program> {
    let mut prog = Vec::new();
    if abi == Abi::X86_64 {
        // x32 syscalls share the arch value but set this bit.
        prog.push(stmt(LD_W_ABS, 0));
        prog.push(jump(JSET_K, X32_SYSCALL_BIT, 0, 1));
        prog.push(stmt(RET_K, default));
    }
    // By name, once per section: a default profile names ~350 calls, and a scan of
    // the ~460-entry table for each (per ABI) was a good part of a container's start.
    let numbers: std::collections::HashMap<&str, u32, NameHasher> =
        abi.table().iter().copied().collect();
    for rule in p.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret(), default_errno)?;
        if act == default {
            continue;
        }
        let mut nrs: Vec<u32> = rule
            .names()
            .iter()
            .filter_map(|n| numbers.get(n.as_str()).copied())
            .collect();
        if rule.args().as_ref().is_none_or(|a| a.is_empty()) {
            // Unconditional: contiguous numbers become one range check. The allow list
            // of a default profile collapses from ~350 comparisons to a few dozen, which
            // keeps the filter small to load and fast to run on every system call.
            nrs.sort_unstable();
            nrs.dedup();
            let mut ranges = Vec::new();
            let mut i = 0;
            while i < nrs.len() {
                let mut j = i;
                while j + 1 < nrs.len() && nrs[j + 1] == nrs[j] + 1 {
                    j += 1;
                }
                ranges.push((nrs[i], nrs[j]));
                i = j + 1;
            }
            // Every range of a chunk jumps to one return of the action: the kernel
            // checks, converts and JIT-compiles every instruction of every
            // container's filter, and a return per range was a third of them.
            for chunk in ranges.chunks(RANGES_PER_RETURN) {
                prog.push(stmt(LD_W_ABS, 0));
                prog.extend(ranges_to_return(chunk));
                prog.push(stmt(RET_K, act));
            }
            continue;
        }
        for nr in nrs {
            let mut block: Vec<(libc::sock_filter, bool)> = Vec::new();
            for a in rule.args().iter().flatten() {
                block.extend(condition(
                    a.op(),
                    a.index(),
                    a.value(),
                    a.value_two().unwrap_or(0),
                )?);
            }
            block.push((stmt(RET_K, act), false));
            // Layout: [LD nr] [JEQ nr, 0, skip-block] block...; conditions reload A, so
            // the next block starts by loading nr again.
            let len = block.len();
            if len > 250 {
                return Err(Error::Spec(format!(
                    "seccomp rule for syscall {nr} too long"
                )));
            }
            prog.push(stmt(LD_W_ABS, 0));
            prog.push(jump(JEQ_K, nr, 0, len as u8));
            for (i, (mut ins, _)) in block.into_iter().enumerate() {
                let to_end = (len - i - 1) as u8;
                if ins.jt == u8::MAX {
                    ins.jt = to_end;
                }
                if ins.jf == u8::MAX {
                    ins.jf = to_end;
                }
                prog.push(ins);
            }
        }
    }
    prog.push(stmt(RET_K, default));
    Ok(prog)
}

/// At most this many ranges share one return: a range takes two instructions and
/// a jump reaches at most 255 ahead.
const RANGES_PER_RETURN: usize = 120;

/// The tests of `ranges` (inclusive `(first, last)` numbers, ascending, in the
/// accumulator) before the return they share, which comes right after them: a
/// number in a range jumps to it, any other skips it.
fn ranges_to_return(ranges: &[(u32, u32)]) -> Program {
    let total: usize = ranges.iter().map(|(a, b)| if a == b { 1 } else { 2 }).sum();
    let mut code = Vec::with_capacity(total);
    for (k, &(first, last)) in ranges.iter().enumerate() {
        let final_one = k + 1 == ranges.len();
        // From the instruction after the one being emitted to the return.
        let to_return = |at: usize| (total - at - 1) as u8;
        if first == last {
            code.push(if final_one {
                jump(JEQ_K, first, 0, 1)
            } else {
                jump(JEQ_K, first, to_return(code.len()), 0)
            });
        } else {
            // Below the range: on to the next range (past the return after the last).
            code.push(jump(JGE_K, first, 0, if final_one { 2 } else { 1 }));
            // Above it: on to the next range (past the return); within it: the return.
            code.push(jump(
                JGT_K,
                last,
                u8::from(final_one),
                to_return(code.len()),
            ));
        }
    }
    code
}

/// FNV-1a over a syscall name: the table is ours, not attacker-chosen, so the
/// std map's SipHash (a measurable part of the init's own CPU, ~800 names hashed
/// per container) buys nothing here.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type NameHasher = std::hash::BuildHasherDefault<Fnv>;

/// Install the filter on the calling thread.
pub fn load(prog: &Program) -> Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const _ as libc::c_ulong,
            0,
            0,
        )
    };
    if r < 0 {
        return Err(Error::sys("load seccomp filter"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_knows_common_calls() {
        assert_eq!(number("read"), Some(0));
        assert_eq!(number("execve"), Some(59));
        assert_eq!(number("openat2"), Some(437));
    }

    #[test]
    fn compiles_allowlist_with_args() {
        let p: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .unwrap();
        let prog = compile(&p).unwrap();
        // dispatch (LD, JEQ, JA, RET) + x32 check (3) + [LD, range read..write (2), RET]
        // + personality (2+4+1) + clone (2+6+1) + default.
        assert_eq!(prog.len(), 4 + 3 + 4 + 7 + 9 + 1);
        assert_eq!(prog.last().unwrap().k, 0x0005_0000 | libc::EPERM as u32);
        check_against_meaning(&p);
    }

    /// A tiny classic-BPF interpreter for the instructions `compile` emits.
    fn run(prog: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                LD_W_ABS => {
                    acc = u32::from_le_bytes(
                        data[ins.k as usize..ins.k as usize + 4].try_into().unwrap(),
                    )
                }
                AND_K => acc &= ins.k,
                RET_K => return ins.k,
                JA => pc += ins.k as usize,
                JEQ_K | JGT_K | JGE_K | JSET_K => {
                    let t = match ins.code {
                        JEQ_K => acc == ins.k,
                        JGT_K => acc > ins.k,
                        JGE_K => acc >= ins.k,
                        _ => acc & ins.k != 0,
                    };
                    pc += if t { ins.jt } else { ins.jf } as usize;
                }
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn docker_profile_behaves() {
        let caps = crate::capabilities::Sets {
            bounding: 0xa80425fb,
            ..Default::default()
        };
        let prog = compile(&default::profile(&caps)).unwrap();
        // Two ABIs, docker's explicit allow lists: about 220 instructions each.
        assert!(prog.len() < 600, "{} instructions", prog.len());
        let allow = 0x7fff_0000;
        let eperm = 0x0005_0000 | libc::EPERM as u32;
        let a = AUDIT_ARCH_X86_64;
        let nr = |n: &str| number(n).unwrap();
        for n in [
            "read",
            "write",
            "openat",
            "execve",
            "exit_group",
            "futex",
            "futex_waitv",
        ] {
            assert_eq!(run(&prog, a, nr(n), [0; 6]), allow, "{n}");
        }
        for n in [
            "mount",
            "kexec_load",
            "init_module",
            "unshare",
            "setns",
            "keyctl",
            "bpf",
            "reboot",
        ] {
            assert_eq!(run(&prog, a, nr(n), [0; 6]), eperm, "{n}");
        }
        // clone: plain fork allowed, namespace flags refused; clone3 reports ENOSYS.
        assert_eq!(
            run(&prog, a, nr("clone"), [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
            allow
        );
        assert_eq!(
            run(
                &prog,
                a,
                nr("clone"),
                [libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]
            ),
            eperm
        );
        assert_eq!(
            run(&prog, a, nr("clone3"), [0; 6]),
            0x0005_0000 | libc::ENOSYS as u32
        );
        // personality: only the listed values; socket: all but AF_VSOCK.
        assert_eq!(run(&prog, a, nr("personality"), [8, 0, 0, 0, 0, 0]), allow);
        assert_eq!(
            run(&prog, a, nr("personality"), [0x0040_0000, 0, 0, 0, 0, 0]),
            eperm
        );
        assert_eq!(
            run(
                &prog,
                a,
                nr("socket"),
                [libc::AF_INET as u64, 0, 0, 0, 0, 0]
            ),
            allow
        );
        assert_eq!(run(&prog, a, nr("socket"), [40, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(
            run(&prog, a, nr("socket"), [40 | 1 << 32, 0, 0, 0, 0, 0]),
            allow,
            "64-bit compare"
        );
        assert_eq!(
            run(&prog, a, nr("socket"), [38, 0, 0, 0, 0, 0]),
            eperm,
            "AF_ALG"
        );
        // adjtimex reads the clock through a pointer: allowed whatever the argument.
        assert_eq!(
            run(&prog, a, nr("adjtimex"), [0x7fff_1234_5678, 0, 0, 0, 0, 0]),
            allow
        );
        assert_eq!(run(&prog, a, nr("move_pages"), [0; 6]), eperm);
        // The i386 ABI, matched against its own numbers (getpid is 20 there, 39 here).
        let i = AUDIT_ARCH_I386;
        let nr32 = |n: &str| number_in(Abi::I386, n).unwrap();
        assert_eq!(nr32("getpid"), 20);
        for n in [
            "getpid",
            "write",
            "exit",
            "getuid32",
            "mmap2",
            "socketcall",
            "_llseek",
        ] {
            assert_eq!(run(&prog, i, nr32(n), [0; 6]), allow, "i386 {n}");
        }
        for n in ["keyctl", "unshare", "mount", "kexec_load"] {
            assert_eq!(run(&prog, i, nr32(n), [0; 6]), eperm, "i386 {n}");
        }
        // x86_64's numbers mean nothing there: 39 (getpid) is umask on i386 (allowed), 165
        // (mount) is getresuid (allowed), 272 (unshare) is fadvise64_64 (allowed), 250
        // (keyctl on x86_64) is fadvise64 (allowed); i386's 26 is ptrace, x86_64's msync.
        assert_eq!(
            run(&prog, i, nr32("socket"), [40, 0, 0, 0, 0, 0]),
            eperm,
            "AF_VSOCK"
        );
        assert_eq!(run(&prog, i, nr32("socket"), [2, 0, 0, 0, 0, 0]), allow);
        assert_eq!(
            run(
                &prog,
                i,
                nr32("clone"),
                [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]
            ),
            eperm
        );
        // Other ABIs and x32 get the default action; unknown numbers too.
        assert_eq!(run(&prog, 0xC000_00B7, nr("read"), [0; 6]), eperm);
        assert_eq!(run(&prog, a, nr("read") | X32_SYSCALL_BIT, [0; 6]), eperm);
        assert_eq!(run(&prog, a, 999, [0; 6]), eperm);
        assert_eq!(run(&prog, i, 999, [0; 6]), eperm);
    }

    /// A rule as [`meaning`] reads it: its action, its numbers in one ABI, its conditions.
    type Rule = (u32, Vec<u32>, Vec<oci_spec::runtime::LinuxSeccompArg>);

    /// What a profile means, rule by rule (the first rule listing the number whose
    /// conditions all hold; rules with the default action left out), for `compile`'s
    /// output to be checked against.
    fn meaning(rules: &[Rule], default: u32, nr: u32, args: [u64; 6]) -> u32 {
        use LinuxSeccompOperator as O;
        for (act, nrs, conds) in rules {
            if *act == default || !nrs.contains(&nr) {
                continue;
            }
            let holds = conds.iter().all(|a| {
                let (x, v) = (args[a.index()], a.value());
                match a.op() {
                    O::ScmpCmpEq => x == v,
                    O::ScmpCmpNe => x != v,
                    O::ScmpCmpLt => x < v,
                    O::ScmpCmpLe => x <= v,
                    O::ScmpCmpGt => x > v,
                    O::ScmpCmpGe => x >= v,
                    O::ScmpCmpMaskedEq => x & v == a.value_two().unwrap_or(0),
                }
            });
            if holds {
                return *act;
            }
        }
        default
    }

    /// Every number of both ABIs (and some beyond), with argument values at and
    /// around every value the rules compare with, against [`meaning`].
    fn check_against_meaning(p: &LinuxSeccomp) {
        let prog = compile(p).unwrap();
        let errno = p.default_errno_ret().unwrap_or(libc::EPERM as u32);
        let default = action(p.default_action(), None, errno).unwrap();
        let mut vectors = vec![[0u64; 6]];
        for a in p
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.args().iter().flatten())
        {
            let v = a.value();
            for x in [
                v,
                v.wrapping_add(1),
                v.wrapping_sub(1),
                v ^ 1 << 32,
                a.value_two().unwrap_or(0),
                u64::MAX,
            ] {
                let mut args = [0u64; 6];
                args[a.index()] = x;
                if !vectors.contains(&args) {
                    vectors.push(args);
                }
            }
        }
        let archs = p.architectures().clone().unwrap_or_default();
        for (abi, arch) in [
            (Abi::X86_64, AUDIT_ARCH_X86_64),
            (Abi::I386, AUDIT_ARCH_I386),
        ] {
            let rules: Vec<Rule> = p
                .syscalls()
                .iter()
                .flatten()
                .map(|r| {
                    (
                        action(r.action(), r.errno_ret(), errno).unwrap(),
                        r.names().iter().filter_map(|n| number_in(abi, n)).collect(),
                        r.args().clone().unwrap_or_default(),
                    )
                })
                .collect();
            let covered = abi == Abi::X86_64 || archs.contains(&Arch::ScmpArchX86);
            let max = abi.table().iter().map(|(_, nr)| *nr).max().unwrap();
            for nr in (0..=max + 5).chain([0x3fff_ffff, u32::MAX]) {
                for args in &vectors {
                    let want = if covered {
                        meaning(&rules, default, nr, *args)
                    } else {
                        default
                    };
                    assert_eq!(run(&prog, arch, nr, *args), want, "{abi:?} {nr} {args:?}");
                }
            }
        }
    }

    #[test]
    fn filters_mean_what_the_profiles_say() {
        let caps = crate::capabilities::Sets {
            bounding: 0xa80425fb,
            ..Default::default()
        };
        check_against_meaning(&default::profile(&caps));
        let all = crate::capabilities::Sets {
            bounding: u64::MAX >> 23,
            ..Default::default()
        };
        check_against_meaning(&default::profile(&all));
        // Every other call and a few runs of neighbours, a rule repeated with
        // arguments after it allowed them all, another action for some, and a
        // conditional rule over many numbers: many ranges over several chunks.
        let names = |f: &dyn Fn(u32) -> bool| -> Vec<&str> {
            table::SYSCALLS
                .iter()
                .filter(|(_, nr)| f(*nr))
                .map(|(n, _)| *n)
                .collect()
        };
        let p: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": names(&|nr| nr % 3 == 0 && nr < 200), "action": "SCMP_ACT_ERRNO",
                 "errnoRet": 38,
                 "args": [{"index": 2, "value": 7, "op": "SCMP_CMP_GE"}]},
                {"names": names(&|nr| nr % 2 == 0 || (100..110).contains(&nr) || nr > 300),
                 "action": "SCMP_ACT_ALLOW"},
                {"names": ["read", "personality"], "action": "SCMP_ACT_TRAP",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": names(&|nr| nr % 5 == 1), "action": "SCMP_ACT_LOG"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO"}
            ]
        }))
        .unwrap();
        check_against_meaning(&p);
    }

    #[test]
    fn ranges_share_returns_in_chunks() {
        // Every other call and a few runs of neighbours: single numbers and ranges,
        // more than one chunk of them.
        let mut allowed: Vec<(&str, u32)> = table::SYSCALLS
            .iter()
            .copied()
            .filter(|(_, nr)| nr % 2 == 0 || (100..110).contains(nr) || *nr > 300)
            .collect();
        allowed.sort_by_key(|(_, nr)| *nr);
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let p: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        let prog = compile(&p).unwrap();
        let max = table::SYSCALLS.iter().map(|(_, nr)| *nr).max().unwrap();
        for nr in 0..=max + 5 {
            let want = allowed.iter().any(|(_, n)| *n == nr);
            let got = run(&prog, AUDIT_ARCH_X86_64, nr, [0; 6]) == 0x7fff_0000;
            assert_eq!(got, want, "syscall {nr}");
        }
        let starts = allowed
            .iter()
            .filter(|(_, n)| *n == 0 || !allowed.iter().any(|(_, m)| *m == n - 1))
            .count();
        assert!(
            starts > RANGES_PER_RETURN,
            "{starts} ranges: one chunk only"
        );
    }

    #[test]
    fn range_comparisons() {
        use LinuxSeccompOperator as O;
        for (op, v, yes, no) in [
            (O::ScmpCmpGt, 5u64 << 32 | 7, 5u64 << 32 | 8, 5u64 << 32 | 7),
            (O::ScmpCmpGe, 5u64 << 32 | 7, 5u64 << 32 | 7, 4u64 << 32 | 9),
            (O::ScmpCmpLt, 5u64 << 32 | 7, 4u64 << 32 | 9, 5u64 << 32 | 7),
            (O::ScmpCmpLe, 5u64 << 32 | 7, 5u64 << 32 | 7, 6u64 << 32),
            (O::ScmpCmpNe, 3, 4, 3),
        ] {
            let p: LinuxSeccomp = serde_json::from_value(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 1, "value": v, "op": op}]}]
            }))
            .unwrap();
            let prog = compile(&p).unwrap();
            assert_eq!(
                run(&prog, AUDIT_ARCH_X86_64, 0, [0, yes, 0, 0, 0, 0]),
                0x7fff_0000,
                "{op:?} {yes:#x}"
            );
            assert_ne!(
                run(&prog, AUDIT_ARCH_X86_64, 0, [0, no, 0, 0, 0, 0]),
                0x7fff_0000,
                "{op:?} {no:#x}"
            );
        }
    }
}
