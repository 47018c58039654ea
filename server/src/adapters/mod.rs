//! Ports wired to adapters, in one place: the ingest pipeline's sink is
//! the store of record followed by the projection of each acknowledged
//! batch (here); the relation backend and the projection ([`graphs`]); the
//! face matcher behind the attribution port ([`identity`]); what each
//! register record gives the full-text index ([`texts`]).

pub mod graphs;
pub mod identity;
pub mod texts;

use std::collections::HashMap;

use graph::RocksStore;

use crate::graphs::Projector;
use ingest::{RecordSink, SinkError};
use model::Record;
use model::WriteOutcome;

/// Named failure points of the write path, for crash tests: the process
/// aborts (no destructors, no flush) the N-th time a point is reached.
/// Configured from `ANJU_FAILPOINTS`, e.g. `after_write=3,before_write=5`.
#[derive(Debug, Default, Clone)]
pub struct FailPoints {
    remaining: HashMap<String, u64>,
}

impl FailPoints {
    /// Points the write path knows.
    pub const NAMES: [&'static str; 2] = ["before_write", "after_write"];

    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut remaining = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, n) = part
                .split_once('=')
                .ok_or_else(|| format!("failpoint {part:?} is not name=N"))?;
            if !Self::NAMES.contains(&name) {
                return Err(format!(
                    "unknown failpoint {name:?} (known: {})",
                    Self::NAMES.join(", ")
                ));
            }
            let n: u64 = n
                .parse()
                .map_err(|_| format!("failpoint {name}: {n:?} is not a count"))?;
            remaining.insert(name.to_owned(), n.max(1));
        }
        Ok(Self { remaining })
    }

    fn hit(&mut self, name: &str) {
        if let Some(n) = self.remaining.get_mut(name) {
            *n -= 1;
            if *n == 0 {
                eprintln!("failpoint {name}: aborting");
                std::process::abort();
            }
        }
    }
}

/// The store as the ingest pipeline's sink. With a projector, each
/// acknowledged batch is projected into timelines and relations right away;
/// if that fails (a graph database down), ingest goes on and the error is
/// kept: the projection catches up later from its checkpoint.
#[derive(Debug)]
pub struct StoreSink<'a> {
    pub store: &'a mut RocksStore,
    pub failpoints: FailPoints,
    pub projector: Option<&'a mut Projector>,
    pub projection_error: Option<String>,
}

impl RecordSink for StoreSink<'_> {
    fn write(&mut self, batch: &[Record]) -> Result<Vec<WriteOutcome>, SinkError> {
        self.failpoints.hit("before_write");
        let outcomes = self.store.write(batch).map_err(SinkError::new)?;
        self.failpoints.hit("after_write");
        if let Some(p) = self.projector.as_deref_mut() {
            let done = p
                .projection(self.store)
                .and_then(|proj| Ok(proj.catch_up(|_| {})?))
                .and_then(|_| p.texts.catch_up(self.store));
            if let Err(e) = done {
                tracing::warn!(error = %e, "projection stopped; ingest continues");
                self.projection_error = Some(format!("{e:#}"));
                self.projector = None;
            }
        }
        Ok(outcomes)
    }
}
