//! Anju's store of record and the relationship graph derived from it.
//!
//! [`RocksStore`] keeps every event exactly once by its id, base records by
//! their key (a later record updates the register), and the references that
//! point at base data not seen yet (pending until it arrives). A batch is
//! written atomically and synced before it is acknowledged. Two logs (events,
//! base records) give the projections a checkpointable order of arrival.
//!
//! [`project::Projection`] turns the logs into timelines and relations,
//! incrementally or by a full rebuild with the same result. Relations live
//! behind the [`RelationStore`] port: [`MemGraph`] (the test oracle),
//! [`RocksGraph`] (embedded, sharing the store's database) and, with the
//! `neo4j` feature, `Neo4jGraph`. Traversals are written once above the port
//! ([`traverse`]); [`timeline`] reads sightings and trajectories. RocksDB and
//! neo4rs types never leave the crate.

mod error;
pub mod keys;
mod mem;
mod migrate;
#[cfg(feature = "neo4j")]
mod neo4j;
pub mod project;
mod relation;
mod rocks_graph;
mod store;
pub mod timeline;
pub mod traverse;

pub use error::{Error, Result};
pub use mem::MemGraph;
#[cfg(feature = "neo4j")]
pub use neo4j::{Neo4jConfig, Neo4jGraph};
pub use project::{attributed, communities_of, derived_digest};
pub use relation::{Edge, EdgeFilter, EdgeKey, GraphOp, Node, RelationStore};
pub use rocks_graph::RocksGraph;
pub use store::{
    BatchOutcome, CheckReport, FORMAT, RocksStore, StoreConfig, StoreStats, WriteOutcome,
};
