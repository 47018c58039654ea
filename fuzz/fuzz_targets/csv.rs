//! The csv parser's contract (`ingest::fuzzing::csv`) on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = ingest::fuzzing::csv(data) {
        panic!("{broken}");
    }
});
