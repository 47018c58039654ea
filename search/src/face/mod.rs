//! The face-feature index: a few representative vectors per archive, found
//! by HNSW ([`usearch`]) over quantised vectors and scored exactly.
//!
//! * An *entity* is an archive (`person:p1`, `stranger:s-…`); it has one or
//!   more *items* (vectors), each with a *scope* (the community it was seen
//!   or registered in) for region-restricted searches.
//! * The **log** (`faces.log`) is the index's durable truth: every added
//!   vector in full (normalised f32), every removal, and commit records
//!   carrying the caller's checkpoint, each record with its CRC-32. An add is
//!   searchable at once and durable at the next [`FaceIndex::commit`], which
//!   appends and syncs. An open replays the log up to its last commit: a torn
//!   tail (a crash mid-append) is dropped, and the checkpoint says where the
//!   caller resumes; a bad record with a valid commit after it is damage
//!   ([`FaceError::Damaged`]).
//! * The **graph** lives in memory, its vectors quantised (int8 by
//!   default, a quarter of f32; f16, half, or f32 by `quantisation`). What the graph
//!   finds (at least [`FaceParams::rerank`] candidates) is scored again
//!   from the exact vectors in the log (read in place through a read-only
//!   mapping of its committed bytes; the OS caches them), so every score
//!   is the true cosine and identity thresholds mean what they say.
//! * A **snapshot** of the graph (`graph-<generation>-<offset>.usearch`,
//!   with its length and CRC-32 in `graph.meta`, renamed into place last) is
//!   written when a tenth of the index is newer than the last one and at a
//!   clean close ([`FaceIndex::seal`]); an open loads it and applies what the
//!   log holds beyond it. A missing, damaged or mismatched snapshot is
//!   rebuilt from the log; a log shorter than a snapshot says it covered is
//!   damage (cut short).
//! * Removals (an archive merged away) are log records too; once removed
//!   vectors are most of the log, it is rewritten with the live ones (a new
//!   *generation*, so an older snapshot is never applied to it).

mod graph;
mod log;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;

use graph::*;
use log::*;
use snapshot::*;
use state::*;

use std::collections::HashMap;

use std::fs::File;

use std::io::{BufReader, Read, Write};

use std::os::unix::fs::FileExt;

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::{Arc, Condvar, Mutex, RwLock};

use roaring::RoaringBitmap;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::{Hit, dot, top_k};

/// Concurrent calls into the graph (usearch keeps a context per caller).
const CONTEXTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("face index: {0}")]
    Hnsw(String),
    #[error(
        "face index at {path} holds {found}-dimensional features, the deployment uses {expected}"
    )]
    Dimension {
        path: String,
        found: usize,
        expected: usize,
    },
    #[error(transparent)]
    Feature(#[from] crate::Error),
    #[error("face index at {0}: {1}")]
    Io(String, std::io::Error),
    /// The index's files are damaged (rebuild it from the store).
    #[error("face index at {path} is damaged: {why}")]
    Damaged { path: String, why: String },
}

impl From<cxx::Exception> for FaceError {
    fn from(e: cxx::Exception) -> Self {
        Self::Hnsw(e.what().to_owned())
    }
}

pub type FaceResult<T> = std::result::Result<T, FaceError>;

/// How the graph keeps its vectors (the log always keeps f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantisation {
    /// One byte per dimension, each vector scaled to its largest component
    /// (cosine over the integers): the least memory and, with the pipelined
    /// prefetch, the fastest search at the same recall (1M vectors, recall
    /// 0.95, medians of two runs: dim 128 1,514 QPS against f16's 1,364;
    /// dim 512 3,161 against 2,652).
    #[default]
    I8,
    /// Half precision (inner product of the unit vectors): twice `I8`'s
    /// memory.
    F16,
    F32,
}

impl Quantisation {
    fn scalar(self) -> ScalarKind {
        match self {
            Self::I8 => ScalarKind::I8,
            Self::F16 => ScalarKind::F16,
            Self::F32 => ScalarKind::F32,
        }
    }

    fn metric(self) -> MetricKind {
        match self {
            // the integers are not unit length
            Self::I8 => MetricKind::Cos,
            // unit vectors: the inner product is the cosine
            Self::F16 | Self::F32 => MetricKind::IP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::F16 => "f16",
            Self::F32 => "f32",
        }
    }
}

impl std::str::FromStr for Quantisation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "i8" => Ok(Self::I8),
            "f16" => Ok(Self::F16),
            "f32" => Ok(Self::F32),
            _ => Err(format!("{s:?} is not a quantisation (i8, f16, f32)")),
        }
    }
}

/// HNSW parameters.
#[derive(Debug, Clone, Copy)]
pub struct FaceParams {
    /// Links per node (M; twice that on the bottom layer).
    pub connectivity: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
    pub quantisation: Quantisation,
    /// Searches over at most this many vectors are answered exactly (a scan
    /// of that many costs about what a graph search does, and exact answers
    /// do not depend on how the graph was built).
    pub exact_below: u64,
    /// Candidates asked of the graph at least, to score exactly.
    pub rerank: usize,
}

impl Default for FaceParams {
    fn default() -> Self {
        Self {
            connectivity: 16,
            ef_construction: 128,
            ef_search: 128,
            quantisation: Quantisation::default(),
            exact_below: 2_048,
            rerank: 16,
        }
    }
}

/// What a search is restricted to.
#[derive(Debug, Clone, Default)]
pub struct FaceFilter<'a> {
    /// Only items whose scope (community) is one of these.
    pub scopes: Option<&'a [String]>,
    /// Only entities of this kind (the text before `:`), e.g. `person`.
    pub kind: Option<&'a str>,
    /// Never this entity (e.g. the archive a suggestion is for).
    pub except: Option<&'a str>,
}

/// The face-feature index of one deployment (see the module docs).
pub struct FaceIndex {
    dir: PathBuf,
    dim: usize,
    params: FaceParams,
    graph: RwLock<Index>,
    contexts: Contexts,
    state: RwLock<State>,
    /// One commit (or snapshot) at a time; searches go on meanwhile.
    committing: Mutex<()>,
    /// This process appended to the log since the open.
    wrote: AtomicBool,
}

impl Drop for FaceIndex {
    fn drop(&mut self) {
        if let Err(e) = self.seal() {
            tracing::warn!(error = %e, "face index: no snapshot at close (the graph is rebuilt from the log at the next open)");
        }
    }
}

impl std::fmt::Debug for FaceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.read();
        f.debug_struct("FaceIndex")
            .field("dim", &self.dim)
            .field("items", &s.items.len())
            .field("entities", &s.by_entity.len())
            .field("staged", &s.staged.len())
            .finish()
    }
}

/// Statistics of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceStats {
    pub entities: usize,
    pub vectors: usize,
    pub staged: usize,
    pub bytes_on_disk: u64,
    /// What the graph holds in memory (quantised vectors and links).
    pub graph_bytes: u64,
}

impl FaceIndex {
    /// Opens (creating if needed) the index in `dir`; a damaged log is
    /// [`FaceError::Damaged`] (see the module docs).
    pub fn open(dir: &Path, dim: usize, params: FaceParams) -> FaceResult<Self> {
        let io = |e| FaceError::Io(dir.display().to_string(), e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let damaged = |why: String| FaceError::Damaged {
            path: dir.display().to_string(),
            why,
        };
        let path = dir.join(LOG_FILE);
        if !path.exists() {
            Self::write_new_log(dir, dim, 1, &[]).map_err(io)?;
        }
        let log = Arc::new(
            File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io)?,
        );
        let len = log.metadata().map_err(io)?.len();
        let mut head = [0u8; LOG_HEADER as usize];
        if len < LOG_HEADER || log.read_exact_at(&mut head, 0).is_err() {
            return Err(damaged(format!("{LOG_FILE} has no header")));
        }
        if &head[..8] != LOG_MAGIC || u32_at(&head, 8) != Some(LOG_VERSION) {
            return Err(damaged(format!("{LOG_FILE} is not a face log")));
        }
        let found = u32_at(&head, 12).unwrap_or(0) as usize;
        if found != dim {
            return Err(FaceError::Dimension {
                path: dir.display().to_string(),
                found,
                expected: dim,
            });
        }
        let generation = u64::from_le_bytes(head[16..24].try_into().unwrap_or_default());

        let mut state = State::new(log.clone(), generation);
        // records since the last commit, applied when a commit follows
        let mut pending: Vec<(u32, Option<Item>)> = Vec::new();
        let mut dels_after: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut reader = BufReader::with_capacity(1 << 20, &*log);
        reader.seek_relative(LOG_HEADER as i64).map_err(io)?;
        let mut recs = Records {
            r: reader,
            pos: LOG_HEADER,
            len,
            head: [0; REC_HEAD as usize],
            body: Vec::new(),
        };
        let mut pending_dels: Vec<u32> = Vec::new();
        loop {
            let at = match recs.next().map_err(io)? {
                Ok(at) => at,
                Err(Stop::End) => break,
                Err(Stop::Bad) => {
                    let at = recs.pos;
                    if commit_after(&log, at, len).map_err(io)? {
                        return Err(damaged(format!(
                            "the record at offset {at} of {LOG_FILE} does not match its checksum"
                        )));
                    }
                    break; // a torn tail: dropped
                }
            };
            let Some(rec) = parse(&recs.body, dim) else {
                return Err(damaged(format!(
                    "the record at offset {at} of {LOG_FILE} does not decode"
                )));
            };
            match rec {
                Rec::Add {
                    slot,
                    entity,
                    scope,
                    vector_at,
                } => pending.push((
                    slot,
                    Some(Item {
                        entity: entity.into(),
                        scope: scope.into(),
                        at: Some(at + REC_HEAD + vector_at as u64),
                    }),
                )),
                Rec::Del { slot } => {
                    pending.push((slot, None));
                    pending_dels.push(slot);
                }
                Rec::Commit { next, checkpoint } => {
                    for (slot, item) in pending.drain(..) {
                        match item {
                            Some(item) => {
                                state.index(slot, item);
                                state.log_items += 1;
                            }
                            None => {
                                if state.unindex(slot).is_some() {
                                    state.log_dead += 1;
                                }
                            }
                        }
                    }
                    state.next = next;
                    state.checkpoint = Some(checkpoint.to_owned());
                    state.log_end = recs.pos;
                    if !pending_dels.is_empty() {
                        dels_after.insert(recs.pos, std::mem::take(&mut pending_dels));
                    }
                }
            }
        }
        let meta = std::fs::read_to_string(dir.join(META_FILE))
            .ok()
            .and_then(|s| Meta::parse(&s));
        if let Some(m) = &meta
            && m.generation == generation
            && m.log_end > state.log_end
        {
            return Err(damaged(format!(
                "{LOG_FILE} ends at {} but its snapshot covered {}: cut short",
                state.log_end, m.log_end
            )));
        }
        state.map = map_log(&log, state.log_end);
        let idx = Self {
            dir: dir.to_owned(),
            dim,
            params,
            graph: RwLock::new(Self::new_graph(dim, &params)?),
            contexts: Contexts::new(CONTEXTS),
            state: RwLock::new(state),
            committing: Mutex::new(()),
            wrote: AtomicBool::new(false),
        };
        idx.fill_graph(meta, &dels_after)?;
        Ok(idx)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, e: std::io::Error) -> FaceError {
        FaceError::Io(self.dir.display().to_string(), e)
    }

    /// The vector of a live item.
    fn vector(&self, s: &State, id: u32) -> FaceResult<Option<Vec<f32>>> {
        if let Some(v) = s.staged.get(&id) {
            return Ok(Some(v.clone()));
        }
        match s.items.get(&id).and_then(|i| i.at) {
            Some(at) => self.read_vector(s, at).map(Some),
            None => Ok(None),
        }
    }

    /// The cosine of `q` (unit length) and a live item's exact vector:
    /// staged in memory, or logged (decoded into `buf`'s vector, read into
    /// its bytes when not mapped; no allocation per candidate).
    fn exact_score(
        &self,
        s: &State,
        id: u32,
        item: &Item,
        q: &[f32],
        buf: &mut (Vec<u8>, Vec<f32>),
    ) -> FaceResult<Option<f32>> {
        if let Some(v) = s.staged.get(&id) {
            return Ok(Some(dot(q, v)));
        }
        let Some(at) = item.at else {
            return Ok(None);
        };
        let (bytes, v) = buf;
        for (x, c) in v.iter_mut().zip(self.logged(s, at, bytes)?.chunks_exact(4)) {
            *x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(Some(dot(q, v)))
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Changes the search breadth (recall against speed) from now on.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef.max(1);
        self.graph_read()
            .change_expansion_search(self.params.ef_search);
    }

    /// The checkpoint recorded by the last commit.
    pub fn checkpoint(&self) -> Option<String> {
        self.read().checkpoint.clone()
    }

    /// Stages a representative vector of `entity`, seen in `scope`.
    /// Searchable at once; durable at the next commit.
    pub fn add(&self, entity: &str, scope: &str, vector: &[f32]) -> FaceResult<u32> {
        let v = crate::normalise_slice(vector, self.dim)?;
        let mut s = self.write();
        let id = s.next;
        self.graph_add(id, &v)?;
        s.next += 1;
        s.index(
            id,
            Item {
                entity: entity.into(),
                scope: scope.into(),
                at: None,
            },
        );
        s.staged.insert(id, v);
        s.graph_dirty = true;
        Ok(id)
    }

    /// Stages many vectors at once, linking them into the graph on every
    /// core (a bulk load; [`Self::add`] one at a time is the same index).
    pub fn add_many(&self, items: &[(&str, &str, &[f32])]) -> FaceResult<()> {
        let vs: Vec<Vec<f32>> = items
            .iter()
            .map(|(_, _, v)| crate::normalise_slice(v, self.dim))
            .collect::<Result<_, _>>()?;
        let mut s = self.write();
        let first = s.next;
        {
            let g = self.graph_write();
            let need = g.size() + vs.len();
            if need > g.capacity() {
                g.reserve_capacity_and_threads(need.next_power_of_two(), CONTEXTS)?;
            }
        }
        let g = self.graph_read();
        self.add_parallel(&g, vs.len(), cores(), |i| {
            Ok((first + i as u32, vs[i].as_slice()))
        })?;
        drop(g);
        for (i, ((entity, scope, _), v)) in items.iter().zip(vs).enumerate() {
            let id = first + i as u32;
            s.index(
                id,
                Item {
                    entity: (*entity).into(),
                    scope: (*scope).into(),
                    at: None,
                },
            );
            s.staged.insert(id, v);
        }
        s.next = first + items.len() as u32;
        s.graph_dirty = true;
        Ok(())
    }

    /// Deletes every vector of `entity`; returns how many.
    pub fn remove(&self, entity: &str) -> usize {
        let mut s = self.write();
        let Some(ids) = s.by_entity.get(entity).cloned() else {
            return 0;
        };
        let g = self.graph_read();
        for id in &ids {
            s.unindex(*id);
            if s.staged.remove(id).is_none() {
                s.deleted.insert(*id);
            }
            if let Err(e) = g.remove(u64::from(*id)) {
                tracing::warn!(error = %e.what(), "face index: graph removal failed");
            }
        }
        s.graph_dirty = true;
        ids.len()
    }

    /// How many vectors represent `entity`.
    pub fn representatives(&self, entity: &str) -> usize {
        self.read().by_entity.get(entity).map_or(0, Vec::len)
    }

    /// The vectors of `entity` (normalised).
    pub fn vectors_of(&self, entity: &str) -> FaceResult<Vec<Vec<f32>>> {
        let s = self.read();
        let mut out = Vec::new();
        for id in s.by_entity.get(entity).into_iter().flatten() {
            if let Some(v) = self.vector(&s, *id)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The similarity of `query` to the closest vector of `entity`.
    pub fn similarity(&self, entity: &str, query: &[f32]) -> FaceResult<Option<f32>> {
        let q = crate::normalise_slice(query, self.dim)?;
        Ok(self
            .vectors_of(entity)?
            .iter()
            .map(|v| dot(&q, v))
            .reduce(f32::max))
    }

    /// The `k` entities most similar to `query` (best vector per entity),
    /// scored by cosine similarity, at least `min_score`, best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        filter: &FaceFilter<'_>,
    ) -> FaceResult<Vec<Hit>> {
        let q = crate::normalise_slice(query, self.dim)?;
        let s = self.read();
        let allowed = s.allowed(filter);
        let candidates: Vec<u32> = match &allowed {
            Some(a) if a.len() <= self.params.exact_below => a.iter().collect(),
            None if s.live.len() <= self.params.exact_below => s.live.iter().collect(),
            _ => {
                // an entity may own several vectors: ask for as many more
                // as entities own on average (a person one, a stranger
                // archive up to its representatives)
                let per_entity = (s.live.len() as usize).div_ceil(s.by_entity.len().max(1));
                let want = (k * per_entity.clamp(1, 4)).max(self.params.rerank);
                let g = self.graph_read();
                let _ctx = self.contexts.take();
                let found = match (self.params.quantisation, &allowed) {
                    (Quantisation::I8, None) => g.search(&quantise_i8(&q), want)?,
                    (Quantisation::I8, Some(a)) => {
                        g.filtered_search(&quantise_i8(&q), want, |key| a.contains(key as u32))?
                    }
                    (_, None) => g.search(&q, want)?,
                    (_, Some(a)) => g.filtered_search(&q, want, |key| a.contains(key as u32))?,
                };
                found.keys.iter().map(|k| *k as u32).collect()
            }
        };
        let mut best: HashMap<Arc<str>, f32> = HashMap::new();
        let mut buf = (vec![0u8; self.dim * 4], vec![0f32; self.dim]);
        for id in candidates {
            let Some(item) = s.items.get(&id) else {
                continue;
            };
            let Some(score) = self.exact_score(&s, id, item, &q, &mut buf)? else {
                continue;
            };
            if score >= min_score {
                let b = best.entry(item.entity.clone()).or_insert(f32::MIN);
                *b = b.max(score);
            }
        }
        Ok(top_k(
            best.into_iter().map(|(e, s)| (e.to_string(), s)).collect(),
            k,
        ))
    }

    /// Appends what is staged (vectors, removals) and `checkpoint` to the
    /// log, synced; then, when due, rewrites a mostly-removed log or writes a
    /// snapshot of the graph.
    pub fn commit(&self, checkpoint: &str) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        let (buf, adds, dels, log_end, log) = {
            let s = self.read();
            let mut buf = Vec::new();
            let dels: Vec<u32> = s.deleted.iter().collect();
            for id in &dels {
                put_del(&mut buf, *id);
            }
            let mut staged: Vec<u32> = s.staged.keys().copied().collect();
            staged.sort_unstable();
            let mut adds = Vec::with_capacity(staged.len());
            for id in staged {
                if let (Some(item), Some(v)) = (s.items.get(&id), s.staged.get(&id)) {
                    let at = put_add(&mut buf, id, item, v);
                    adds.push((id, s.log_end + at as u64));
                }
            }
            put_commit(&mut buf, s.next, checkpoint);
            (buf, adds, dels, s.log_end, s.log.clone())
        };
        self.wrote.store(true, Ordering::SeqCst);
        // a failed earlier append may have left bytes past the end
        log.set_len(log_end).map_err(|e| self.io(e))?;
        log.write_all_at(&buf, log_end)
            .and_then(|()| log.sync_data())
            .map_err(|e| self.io(e))?;
        let (compact, snapshot) = {
            let mut s = self.write();
            for (id, at) in &adds {
                if s.staged.remove(id).is_some() {
                    if let Some(item) = s.items.get_mut(id) {
                        item.at = Some(*at);
                    }
                } else {
                    // removed while this commit was written: next time
                    s.deleted.insert(*id);
                }
            }
            for id in &dels {
                s.deleted.remove(*id);
            }
            s.log_items += adds.len() as u64;
            s.log_dead += dels.len() as u64;
            s.log_end = log_end + buf.len() as u64;
            s.map = map_log(&s.log, s.log_end);
            s.checkpoint = Some(checkpoint.to_owned());
            let settled = s.staged.is_empty() && s.deleted.is_empty();
            let compact = settled && s.log_dead > 4096 && s.log_dead * 2 > s.log_items;
            let newer = s.log_end - s.snapshot_end.min(s.log_end);
            let snapshot = settled && s.graph_dirty && newer > (s.log_end / 10).max(32 << 20);
            (compact, snapshot)
        };
        if compact {
            self.compact(checkpoint)?;
        }
        if compact || snapshot {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the graph if it changed since the last one, so
    /// the next open need not rebuild it: call when no more writes follow;
    /// closing does it too. What is staged is not committed.
    pub fn seal(&self) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        if !self.wrote.load(Ordering::SeqCst) && !self.read().graph_dirty {
            return Ok(());
        }
        self.snapshot()
    }

    /// Deletes everything (for a rebuild); durable at once.
    pub fn clear(&self) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = self.write();
        let mut g = self.graph_write();
        let _ = std::fs::remove_file(self.dir.join(META_FILE));
        let generation = s.generation + 1;
        Self::write_new_log(&self.dir, self.dim, generation, &[]).map_err(|e| self.io(e))?;
        let log = File::options()
            .read(true)
            .write(true)
            .open(self.dir.join(LOG_FILE))
            .map_err(|e| self.io(e))?;
        *g = Self::new_graph(self.dim, &self.params)?;
        *s = State::new(Arc::new(log), generation);
        self.wrote.store(true, Ordering::SeqCst);
        Ok(())
    }

    pub fn stats(&self) -> FaceStats {
        let s = self.read();
        let bytes_on_disk = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        FaceStats {
            entities: s.by_entity.len(),
            vectors: s.items.len(),
            staged: s.staged.len(),
            bytes_on_disk,
            graph_bytes: self.graph_read().memory_usage() as u64,
        }
    }
}
