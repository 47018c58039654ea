//! The viid parser's contract (`ingest::fuzzing::viid`) on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = ingest::fuzzing::viid(data) {
        panic!("{broken}");
    }
});
