//! The Anju server: the engine over the embedded store (projections kept
//! current as data arrives, the real-time rules), the GraphQL API with its
//! guard, region scope, audit and grants, the live intake (JSON Lines and
//! GA/T 1400), the platform's own records (alerts, tags, watch lists), the
//! configuration and the wiring of ports to adapters. The `anju` binary
//! (`cli/`) and the benchmarks (`bench/`) are built on it; it depends on
//! neither. This is the only library crate that reads files and the
//! environment for configuration.
//!
//! * [`engine`]: shared state, the writer lock, the projector thread;
//!   [`rules`]: the real-time rules, one function each;
//! * [`alerts`]: the alert book and watch lists in the store's own records;
//!   [`tagbook`]: the analysis models' findings kept as tags;
//!   [`analysis_job`]: one analysis job;
//! * [`scope`]: principals, the role table and the region choke point
//!   every read goes through; [`guard`]: the wrapper around the schema that
//!   bounds a request, applies the role table at every depth, masks
//!   identifiers and writes the [`audit`] log;
//! * [`auth`]: tokens and GA/T 1400 Digest credentials;
//!   [`grants`]: cross-region grants and saved investigations;
//! * [`gql`]: the schema, one module per domain; [`errors`]: the one
//!   error-code mapping;
//! * [`http`]: routes (GraphQL, intake, GA/T 1400, operations);
//!   [`serve()`]: `anju serve`;
//! * [`adapters`]: the store as ingest sink, the relation backends, the
//!   face matcher, the full-text index;
//! * leaves: [`lock()`], [`term`], [`sysinfo`], [`nodes`].

pub mod adapters;
pub mod alerts;
pub mod analysis_job;
pub mod audit;
pub mod auth;
pub mod bursts;
pub mod census;
pub mod config;
pub mod engine;
pub mod errors;
pub mod fuzzing;
pub mod gql;
pub mod grants;
pub mod guard;
pub mod http;
pub mod lock;
pub mod nodes;
pub mod rules;
pub mod scope;
mod serve;
pub mod sysinfo;
pub mod tagbook;
pub mod term;

pub use adapters::{graphs, identity, texts};
pub use engine::Engine;
pub use lock::lock;
pub use serve::{serve, serve_on};

/// A new store in a temporary directory, and the configuration that opens
/// it again (the unit tests of the server's own records).
#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, crate::config::Config, graph::RocksStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::config::Config::default();
    cfg.store.path = dir.path().join("store");
    let store = graph::RocksStore::open(&cfg.store_config()).unwrap();
    (dir, cfg, store)
}
