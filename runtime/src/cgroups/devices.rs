//! The device allow list on cgroup v2: an eBPF program of type CGROUP_DEVICE attached
//! to the container's cgroup (v2 has no devices.allow file). Rules are checked last to
//! first and the first match decides, which gives the v1 list semantics (a later rule
//! overrides an earlier one); nothing matching means deny.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};
use crate::syscall::raw;

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const EXIT: u8 = 0x95;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

fn access_mask(s: Option<&str>) -> i32 {
    let s = s.unwrap_or("rwm");
    let mut m = 0;
    for c in s.chars() {
        m |= match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        };
    }
    m
}

/// The rules a container always gets after its own, as runc appends them
/// (libcontainer/specconv AllowedDevices): `mknod` of any device (so creating the
/// container's /dev never depends on when the init joins the devices cgroup), and
/// read/write of the standard devices the runtime creates, /dev/pts and /dev/net/tun.
pub const DEFAULT_ALLOWED: [(char, Option<i64>, Option<i64>, &str); 11] = [
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),    // null
    ('c', Some(1), Some(8), "rwm"),    // random
    ('c', Some(1), Some(7), "rwm"),    // full
    ('c', Some(5), Some(0), "rwm"),    // tty
    ('c', Some(1), Some(5), "rwm"),    // zero
    ('c', Some(1), Some(9), "rwm"),    // urandom
    ('c', Some(136), None, "rwm"),     // pts/*
    ('c', Some(5), Some(2), "rwm"),    // ptmx
    ('c', Some(10), Some(200), "rwm"), // net/tun
];

/// The list the kernel gets: deny everything, then the spec's rules in order (a
/// privileged spec's `allow a` re-opens everything), then [`DEFAULT_ALLOWED`].
pub fn effective_rules(spec: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
    let rule = |allow: bool, typ: LinuxDeviceType, major, minor, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    let mut out = vec![rule(false, LinuxDeviceType::A, None, None, "rwm")];
    out.extend(spec.iter().cloned());
    for (t, major, minor, access) in DEFAULT_ALLOWED {
        let typ = if t == 'b' {
            LinuxDeviceType::B
        } else {
            LinuxDeviceType::C
        };
        out.push(rule(true, typ, major, minor, access));
    }
    without_repeats(out)
}

/// The rules less those that repeat one since the last rule of the other kind (an
/// allow after the same allow with no deny in between): they change nothing, in the
/// v1 list as in the v2 program, and a spec that lists the standard devices (berth's
/// does) repeats most of [`DEFAULT_ALLOWED`], a write each into devices.allow.
fn without_repeats(rules: Vec<LinuxDeviceCgroup>) -> Vec<LinuxDeviceCgroup> {
    // No type is every type, as `a`.
    let key = |r: &LinuxDeviceCgroup| {
        let mut k = r.clone();
        k.set_typ(Some(r.typ().unwrap_or(LinuxDeviceType::A)));
        k
    };
    let mut out: Vec<LinuxDeviceCgroup> = Vec::with_capacity(rules.len());
    for r in rules {
        let k = key(&r);
        let repeat = out
            .iter()
            .rev()
            .take_while(|o| o.allow() == r.allow())
            .any(|o| key(o) == k);
        if !repeat {
            out.push(r);
        }
    }
    out
}

/// Compile the OCI device rules.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor (ctx: access_type, major, minor).
    let mut p = vec![
        ins(LDX_W, 2, 1, 0, 0),
        ins(MOV64_X, 3, 2, 0, 0),
        ins(AND64_K, 2, 0, 0, 0xffff),
        ins(RSH64_K, 3, 0, 0, 16),
        ins(LDX_W, 4, 1, 4, 0),
        ins(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block = Vec::new();
        match r.typ() {
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => {
                block.push(ins(JNE_K, 2, 0, i16::MAX, DEV_CHAR))
            }
            Some(LinuxDeviceType::B) => block.push(ins(JNE_K, 2, 0, i16::MAX, DEV_BLOCK)),
            _ => {}
        }
        let mask = access_mask(r.access().as_deref());
        if mask != 7 {
            // The requested access must be a subset of the rule's.
            block.push(ins(MOV64_X, 6, 3, 0, 0));
            block.push(ins(AND64_K, 6, 0, 0, !mask & 7));
            block.push(ins(JNE_K, 6, 0, i16::MAX, 0));
        }
        if let Some(maj) = r.major().filter(|m| *m >= 0) {
            block.push(ins(JNE_K, 4, 0, i16::MAX, maj as i32));
        }
        if let Some(min) = r.minor().filter(|m| *m >= 0) {
            block.push(ins(JNE_K, 5, 0, i16::MAX, min as i32));
        }
        let unconditional = block.is_empty();
        block.push(ins(MOV64_K, 0, 0, 0, r.allow() as i32));
        block.push(ins(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, mut b) in block.into_iter().enumerate() {
            if b.off == i16::MAX {
                // Jump to the next rule's block.
                b.off = (len - i - 1) as i16;
            }
            p.push(b);
        }
        // A rule matching everything decides for all that follows; the verifier refuses
        // unreachable instructions.
        if unconditional {
            return p;
        }
    }
    p.push(ins(MOV64_K, 0, 0, 0, 0));
    p.push(ins(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

/// Load the program and attach it to the cgroup2 directory `dir`.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = program(rules);
    let license = c"Apache";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(prog.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        // Load again with the verifier's log, for the error message.
        let mut log = vec![0u8; 16 << 10];
        attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
        attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
        attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
        unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) };
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        let last = text.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        return Err(Error::Init(format!(
            "load device cgroup program: {err}: {last}"
        )));
    }
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = raw::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog_fd.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    if unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_ATTACH, attr.as_ptr(), attr.len()) } < 0 {
        return Err(Error::last("attach device cgroup program", dir));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interpret the program for one request.
    fn run(p: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i64 {
        let ctx = [((access << 16) | typ) as u32, major as u32, minor as u32];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[d] = ctx[(i.off / 4) as usize] as i64,
                MOV64_X => r[d] = r[s],
                MOV64_K => r[d] = i.imm as i64,
                AND64_K => r[d] &= i.imm as i64,
                RSH64_K => r[d] = ((r[d] as u64) >> i.imm) as i64,
                JNE_K => {
                    if r[d] != i.imm as i64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn docker_rules() {
        let spec = crate::spec::default_spec(&["x"]);
        let rules = spec
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        let p = program(&rules);
        let (rw, m) = (2 | 4, 1);
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, rw, 136, 7), 1, "pts");
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 11), 0, "kmsg");
        assert_eq!(run(&p, DEV_BLOCK, 2, 8, 0), 0, "sda");
        assert_eq!(run(&p, DEV_BLOCK, m, 8, 0), 1, "mknod allowed");
        assert_eq!(
            run(&p, DEV_CHAR, m | 2, 1, 11),
            0,
            "mknod+read is not mknod"
        );
    }
}
