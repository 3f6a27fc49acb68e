//! `berth-supervisor`: one container's supervisor, and nothing else.
//!
//! One of these runs per container for as long as the container does, so it is
//! its own binary: none of the CLI (parser, async runtime, registry client,
//! builder, YAML) is linked in, which keeps each supervisor's memory small. The
//! CLI starts it from beside its own binary (`supervise::ready::spawn`); its
//! command line is the one `supervise::ready::supervisor_args` makes.

fn main() {
    // First, before any thread exists: the runtime starts container processes
    // (and healthcheck probes) by re-executing this binary, and a small binary
    // is also a fast one to re-execute.
    berth_runtime::maybe_run_init();
    small_heap();
    berth::state::perms::set_umask();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match berth::supervise::main::from_command_line(&args, berth::cli::hidden::dns_tick) {
        Some(code) => std::process::exit(code),
        None => {
            eprintln!(
                "berth-supervisor: started by berth for one container \
                 (--root DIR --run-dir DIR supervise ID); not a command to run by hand"
            );
            std::process::exit(2);
        }
    }
}

/// Keeps the heap at what the supervisor uses. glibc raises its mmap threshold to
/// the largest block freed so far (the runtime's 4 MiB message buffer, once per
/// start and per healthcheck), after which such blocks come from the heap and their
/// pages stay with the process; fixed thresholds keep large blocks in their own
/// mappings, returned on free, and the heap's free top returned too.
#[cfg(target_env = "gnu")]
fn small_heap() {
    // SAFETY: mallopt only sets allocator parameters, before any allocation matters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(target_env = "gnu"))]
fn small_heap() {}
