//! The GraphQL request path (`server::fuzzing::Graphql`): the first byte picks
//! the caller, then the query, a NUL byte and the variables as JSON. One
//! engine over a small generated city serves the whole run; it is built in
//! `init`, before the fuzzer times any input.
#![no_main]

use std::sync::OnceLock;

static HARNESS: OnceLock<server::fuzzing::Graphql> = OnceLock::new();

libfuzzer_sys::fuzz_target!(
    init: {
        let dir = std::env::temp_dir().join(format!("anju-fuzz-graphql-{}", std::process::id()));
        let h = server::fuzzing::Graphql::new(&dir).expect("the harness's city");
        let _ = HARNESS.set(h);
    },
    |data: &[u8]| {
        let h = HARNESS.get().expect("built in init");
        if let Err(broken) = h.one(data) {
            panic!("{broken}");
        }
    }
);
