//! The GraphQL request path (`api::fuzzing::Graphql`): the first byte picks
//! the caller, then the query, a NUL byte and the variables as JSON. One
//! engine over a small generated city serves the whole run.
#![no_main]

use std::sync::OnceLock;

static HARNESS: OnceLock<api::fuzzing::Graphql> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let h = HARNESS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("anju-fuzz-graphql-{}", std::process::id()));
        api::fuzzing::Graphql::new(&dir).expect("the harness's city")
    });
    if let Err(broken) = h.one(data) {
        panic!("{broken}");
    }
});
