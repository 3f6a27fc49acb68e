//! Links `berth-supervisor` (one per running container) statically and not
//! position-independent, and leaves `berth` as it is: see
//! runtime/build/static_bin.rs for why and how.

include!("runtime/build/static_bin.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=runtime/build/static_bin.rs");
    link_statically("berth-supervisor", "BERTH_SUPERVISOR_DYNAMIC");
}
