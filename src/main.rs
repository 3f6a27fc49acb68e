//! The `berth` command: a thin shell over the `berth` library.

fn main() {
    std::process::exit(berth::cli::main());
}
