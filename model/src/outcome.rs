//! What a store did with one record: the one outcome type of the ingest
//! pipeline's sink and of the store of record.

/// What the store did with one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored: a new event, or a new or changed base record.
    Accepted,
    /// Already held with the same content; nothing written.
    Duplicate,
    /// An event its source already sent with other content; the first is
    /// kept.
    Conflict,
}
