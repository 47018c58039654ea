//! The jsonl parser's contract (`ingest::fuzzing::jsonl`) on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = ingest::fuzzing::jsonl(data) {
        panic!("{broken}");
    }
});
