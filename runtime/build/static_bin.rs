// Shared by the top-level build.rs (`berth-supervisor`) and runtime/build.rs
// (`berth-runtime`), each through `include!`: links one binary of the package
// statically and not position-independent, and leaves the others as they are.
//
// Why: a dynamically linked PIE maps ld.so, libc and libgcc_s into every process
// and relocates its read-only data (`.data.rel.ro`, hundreds of KiB) at start,
// which turns those pages into private memory in every process and costs every
// start the loader's work (about half a millisecond here: a tenth of the runtime's
// whole create-start-wait-delete budget). Linked statically at a fixed address,
// that data stays file-backed and shared, only the parts of libc the binary calls
// are linked, and an exec starts without a dynamic loader.
//
// Cargo can scope link arguments to one binary (`rustc-link-arg-bin`) but not
// `-C target-feature=+crt-static`, so this does what that feature does at link time:
// `-static -no-pie` (the last `-pie`/`-no-pie` wins over rustc's own `-pie`). rustc
// still names its libraries for a dynamic link (`-Bdynamic -lgcc_s -lc ...`): a
// directory searched only for this binary holds, for each, a `lib<name>.so` that is a
// linker script naming the static archive (libgcc_s has none: libgcc_eh and libgcc
// are its static equivalent).

/// Links binary `bin` statically unless `opt_out` is set in the environment (to
/// compare, or on a host without glibc's static archives, libc6-dev's libc.a).
fn link_statically(bin: &str, opt_out: &str) {
    use std::path::PathBuf;
    println!("cargo:rerun-if-env-changed={opt_out}");
    // Only on glibc Linux, where the host's static libc is what we link against.
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os != "linux" || target_env != "gnu" || std::env::var_os(opt_out).is_some() {
        return;
    }
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join(format!("static-{bin}"));
    std::fs::create_dir_all(&dir).expect("creating the static link directory");
    // The linker reads a library that is neither an archive nor an object as a script.
    let scripts = [
        ("gcc_s", "GROUP ( -l:libgcc_eh.a -l:libgcc.a )"),
        ("c", "GROUP ( -l:libc.a -l:libgcc.a -l:libgcc_eh.a )"),
        ("m", "INPUT ( -l:libm.a )"),
        ("rt", "INPUT ( -l:librt.a )"),
        ("dl", "INPUT ( -l:libdl.a )"),
        ("util", "INPUT ( -l:libutil.a )"),
        ("pthread", "INPUT ( -l:libpthread.a )"),
    ];
    for (name, script) in scripts {
        std::fs::write(dir.join(format!("lib{name}.so")), format!("{script}\n"))
            .expect("writing a linker script");
    }
    for arg in ["-static", "-no-pie", &format!("-L{}", dir.display())] {
        println!("cargo:rustc-link-arg-bin={bin}={arg}");
    }
}
