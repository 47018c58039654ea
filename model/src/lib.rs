//! Anju's domain model: ids, regions, base records, events, times and masking.
//!
//! This crate is the leaf of the workspace: plain data and the rules that need no
//! IO (validation of identity numbers, plate normalisation, "is this region inside
//! that one", local night). It knows nothing about JSON, RocksDB or GraphQL; wire
//! formats live in `ingest`, storage in `graph`.

mod base;
mod error;
mod event;
mod feature;
mod identity;
mod ids;
mod node;
mod outcome;
mod region;
mod time;
pub mod truth;

pub use base::*;
pub use error::{Error, Result};
pub use event::*;
pub use feature::Feature;
pub use identity::{IdNumber, mask_phone};
pub use ids::*;
pub use node::{ArchiveId, NodeKind, NodeRef, RelKind};
pub use outcome::WriteOutcome;
pub use region::{Region, RegionCode, RegionLevel, RegionTree};
pub use time::{Clock, NightWindow, Timestamp};

/// A record of the ingest contract after validation: base data or an event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Record {
    Base(BaseRecord),
    Event(Event),
}

impl Record {
    /// The contract's `type` name of this record.
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::Base(b) => b.kind().type_name(),
            Record::Event(e) => e.kind().type_name(),
        }
    }
}
