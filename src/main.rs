//! The `berth` command: a thin shell over the `berth` library.

fn main() {
    // Before anything else, and before any thread exists: the runtime starts
    // containers by re-executing this binary, and this is where that copy runs.
    berth_runtime::maybe_run_init();
    std::process::exit(berth::cli::main());
}
