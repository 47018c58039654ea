//! Wire formats into validated model records, and the ingest pipeline.
//!
//! `wire` reads one JSON object of the contract (`shared/spec/ingest-format.md`)
//! into a [`model::Record`], reporting every problem of the record (field and
//! why), not just the first. `csv` maps the CSV base files onto the same
//! validator; `gat1400` maps GA/T 1400 (视图库) objects onto the contract.
//! `pipeline` streams files (`.jsonl`, `.jsonl.gz`, CSV) through a
//! parser thread into a [`RecordSink`] in group-committed batches.
//!
//! This crate never touches storage: the sink is a port that the composition
//! root (`api`) wires to the store of record.

mod csv_base;
mod error;
mod fields;
pub mod fuzzing;
pub mod gat1400;
pub mod pipeline;
mod wire;

pub use csv_base::{csv_type_for_file, parse_csv};
pub use error::{Error, FieldProblem, Result};
pub use model::WriteOutcome;
pub use pipeline::{Progress, RecordSink, SinkError, Summary, TypeCounts};
pub use wire::{ParseConfig, parse_line, parse_object};

/// A time as the contract reads one: a local date (midnight), a local date
/// and time (`YYYY-MM-DD HH:MM:SS`, `…T…`, GA/T 1400's `YYYYMMDDhhmmss`) or
/// RFC 3339. The command line and the API read their time arguments with it.
pub fn parse_time(s: &str, clock: &model::Clock) -> std::result::Result<model::Timestamp, String> {
    fields::date_or_time(s, clock)
}

/// A face feature as the contract writes it (a JSON array of numbers or
/// base64 of little-endian `f32`), checked for `dim`.
pub fn parse_feature(
    v: &serde_json::Value,
    dim: usize,
) -> std::result::Result<model::Feature, String> {
    fields::feature(v, dim)
}
