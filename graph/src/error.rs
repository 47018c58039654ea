//! The graph crate's error type; RocksDB's errors are wrapped, never leaked.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "store at {path} is locked by another process{} (only one process may open it read-write)",
        holder.as_deref().map(|h| format!(": {h}")).unwrap_or_default()
    )]
    Locked {
        path: PathBuf,
        /// Who opened it last, as it recorded itself (`pid 1234: anju serve`).
        holder: Option<String>,
    },
    #[error(
        "store at {path} has format {found:?}, this build reads {expected:?}; re-ingest into a new store"
    )]
    Incompatible {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("no store at {path}")]
    Missing { path: PathBuf },
    #[error("store is read-only")]
    ReadOnly,
    #[error("corrupt record under key {key}: {why}")]
    Corrupt { key: String, why: String },
    #[error("storage error: {0}")]
    Storage(String),
    /// The disk (or the store's space limit) is full: the write can succeed
    /// once space is freed.
    #[error("storage error: no space: {0}")]
    NoSpace(String),
    /// A caller's request cannot be answered as asked (a user error).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The graph database (Neo4j backend) failed or did not answer in time.
    #[error("graph database: {0}")]
    GraphDb(String),
}

/// RocksDB's errors, classified once here: its Rust binding gives a kind
/// (`IOError`) but not the status's subcode, so a full disk is told by the
/// status text at this one boundary and is a variant of its own from here
/// on.
impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        let m = e.into_string();
        let no_space = m.contains("No space left on device")
            || m.contains("NoSpace")
            || m.contains("Max allowed space was reached");
        if no_space {
            Error::NoSpace(m)
        } else {
            Error::Storage(m)
        }
    }
}

impl Error {
    /// The disk (or the store's space limit) is full: the write can succeed
    /// once space is freed.
    pub fn is_no_space(&self) -> bool {
        matches!(self, Error::NoSpace(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
