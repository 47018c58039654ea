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
    /// A caller's request cannot be answered as asked (a user error).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The graph database (Neo4j backend) failed or did not answer in time.
    #[error("graph database: {0}")]
    GraphDb(String),
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Storage(e.into_string())
    }
}

impl Error {
    /// The disk (or the store's space limit) is full: the write can succeed
    /// once space is freed.
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Storage(m) => {
                m.contains("No space left on device")
                    || m.contains("NoSpace")
                    || m.contains("Max allowed space was reached")
            }
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
