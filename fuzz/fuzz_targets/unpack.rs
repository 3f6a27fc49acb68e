//! Fuzzes the layer unpacker: any byte stream (tar, gzip or zstd) must either unpack
//! inside the layer directory or be refused, never panic, never write outside.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sandbox = tempfile::tempdir().expect("tempdir");
    let outside = sandbox.path().join("outside");
    std::fs::create_dir(&outside).expect("outside dir");
    std::fs::write(outside.join("victim"), b"untouched").expect("victim");
    let layer = sandbox.path().join("layer");
    std::fs::create_dir(&layer).expect("layer dir");
    let _ = berth::image::unpack::unpack_compressed(data, &layer);
    assert_eq!(std::fs::read(outside.join("victim")).expect("victim"), b"untouched");
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 1);
    assert_eq!(std::fs::read_dir(sandbox.path()).expect("sandbox").count(), 2);
});
