//! Anju's store of record: base records and events, durable and deduplicated.
//!
//! [`RocksStore`] keeps every event exactly once by its id, base records by
//! their key (a later record updates the register), and the references that
//! point at base data not seen yet (pending until it arrives). A batch is
//! written atomically and synced before it is acknowledged. An event log
//! (sequence → event) gives later projections (relations, timelines, indexes)
//! a checkpointable order of arrival.
//!
//! Relations, timelines and the other backends (in-memory, Neo4j) build on
//! this crate in later work; RocksDB types never leave it.

mod error;
pub mod keys;
mod store;

pub use error::{Error, Result};
pub use store::{
    BatchOutcome, CheckReport, FORMAT, RocksStore, StoreConfig, StoreStats, WriteOutcome,
};
