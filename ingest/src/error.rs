//! Errors of the ingest crate: problems with a record (user errors) and
//! failures of the pipeline itself (IO, the sink).

use std::fmt;
use std::path::PathBuf;

/// One problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's path, e.g. `time`, `visitor.feature`, `occupant_features[1]`;
    /// `-` when the problem is with the line as a whole.
    pub field: String,
    pub why: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            why: why.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not an ingestible file (expected .jsonl, .jsonl.gz or one of the CSV base files)"
    )]
    UnknownFile { path: PathBuf },
    /// The message is the store's own (not also its source: an error
    /// chain printed whole would say it twice).
    #[error("store failed: {0}")]
    Sink(crate::pipeline::SinkError),
}

impl From<crate::pipeline::SinkError> for Error {
    fn from(e: crate::pipeline::SinkError) -> Self {
        Self::Sink(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
