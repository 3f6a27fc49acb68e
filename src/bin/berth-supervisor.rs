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
