//! Links the `berth-runtime` command statically and not position-independent (its
//! every create, start and delete is a fresh exec): see build/static_bin.rs.

include!("build/static_bin.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/static_bin.rs");
    link_statically("berth-runtime", "BERTH_RUNTIME_DYNAMIC");
}
