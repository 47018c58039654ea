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
//! * The **graph** lives in memory, its vectors quantised (f16 by default,
//!   half of f32; int8, a quarter, when memory is short). What the graph
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

const LOG_FILE: &str = "faces.log";
const META_FILE: &str = "graph.meta";
const LOG_MAGIC: &[u8; 8] = b"ANJUFLOG";
const LOG_VERSION: u32 = 1;
/// Magic, version, dimension, generation.
const LOG_HEADER: u64 = 24;
const REC_MAGIC: u32 = 0x4543_4146; // "FACE" little-endian
/// Magic, body length, CRC-32 of the body.
const REC_HEAD: u64 = 12;
const MAX_BODY: u32 = 1 << 24;
const TAG_ADD: u8 = 1;
const TAG_DEL: u8 = 2;
const TAG_COMMIT: u8 = 3;
const META_MAGIC: &str = "anju-face-graph 1";
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

#[derive(Debug, Clone)]
struct Item {
    entity: Arc<str>,
    scope: Arc<str>,
    /// Offset of the vector in the log; `None` while staged.
    at: Option<u64>,
}

impl Item {
    fn kind(&self) -> &str {
        self.entity.split(':').next().unwrap_or("")
    }
}

#[derive(Debug)]
struct State {
    /// The log (every vector read goes through the state's lock, so a
    /// rewrite can swap the file).
    log: Arc<File>,
    /// The log's committed bytes mapped for reading vectors (re-made at
    /// each commit; a vector beyond it, or without a map, is read by
    /// offset).
    map: Option<memmap2::Mmap>,
    items: HashMap<u32, Item>,
    by_entity: HashMap<Arc<str>, Vec<u32>>,
    by_scope: HashMap<Arc<str>, RoaringBitmap>,
    by_kind: HashMap<String, RoaringBitmap>,
    /// Every item present (staged or logged).
    live: RoaringBitmap,
    /// Added since the last commit: normalised vectors.
    staged: HashMap<u32, Vec<f32>>,
    /// Logged items removed since the last commit.
    deleted: RoaringBitmap,
    next: u32,
    checkpoint: Option<String>,
    /// Where the next record goes (the end of the last commit).
    log_end: u64,
    generation: u64,
    /// Vectors in the log, and how many of them are removed since.
    log_items: u64,
    log_dead: u64,
    /// Log offset the last snapshot covers (0: none).
    snapshot_end: u64,
    /// The graph changed since the last snapshot.
    graph_dirty: bool,
}

impl State {
    fn new(log: Arc<File>, generation: u64) -> Self {
        Self {
            log,
            map: None,
            items: HashMap::new(),
            by_entity: HashMap::new(),
            by_scope: HashMap::new(),
            by_kind: HashMap::new(),
            live: RoaringBitmap::new(),
            staged: HashMap::new(),
            deleted: RoaringBitmap::new(),
            next: 0,
            checkpoint: None,
            log_end: LOG_HEADER,
            generation,
            log_items: 0,
            log_dead: 0,
            snapshot_end: 0,
            graph_dirty: false,
        }
    }

    fn index(&mut self, id: u32, item: Item) {
        self.by_entity
            .entry(item.entity.clone())
            .or_default()
            .push(id);
        self.by_scope
            .entry(item.scope.clone())
            .or_default()
            .insert(id);
        self.by_kind
            .entry(item.kind().to_owned())
            .or_default()
            .insert(id);
        self.live.insert(id);
        self.items.insert(id, item);
    }

    /// Forgets an item; returns it.
    fn unindex(&mut self, id: u32) -> Option<Item> {
        let item = self.items.remove(&id)?;
        self.live.remove(id);
        if let Some(b) = self.by_scope.get_mut(&item.scope) {
            b.remove(id);
        }
        if let Some(b) = self.by_kind.get_mut(item.kind()) {
            b.remove(id);
        }
        if let Some(ids) = self.by_entity.get_mut(&item.entity) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_entity.remove(&item.entity);
            }
        }
        Some(item)
    }

    /// The items a filter allows (`None`: all).
    fn allowed(&self, filter: &FaceFilter<'_>) -> Option<RoaringBitmap> {
        let mut set: Option<RoaringBitmap> = None;
        if let Some(scopes) = filter.scopes {
            let mut u = RoaringBitmap::new();
            for s in scopes {
                if let Some(b) = self.by_scope.get(s.as_str()) {
                    u |= b;
                }
            }
            set = Some(u);
        }
        if let Some(kind) = filter.kind {
            let k = self.by_kind.get(kind).cloned().unwrap_or_default();
            set = Some(match set {
                Some(s) => s & k,
                None => k,
            });
        }
        if let Some(e) = filter.except
            && let Some(ids) = self.by_entity.get(e)
        {
            let mut s = set.unwrap_or_else(|| self.live.clone());
            for id in ids {
                s.remove(*id);
            }
            set = Some(s);
        }
        set
    }
}

/// A counting semaphore over the graph's caller contexts.
#[derive(Debug)]
struct Contexts {
    free: Mutex<usize>,
    freed: Condvar,
}

struct ContextGuard<'a>(&'a Contexts);

impl Contexts {
    fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> ContextGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        ContextGuard(self)
    }
}

impl Drop for ContextGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
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

/// One record read from the log.
enum Rec<'a> {
    Add {
        slot: u32,
        entity: &'a str,
        scope: &'a str,
        /// Offset of the vector within the body.
        vector_at: usize,
    },
    Del {
        slot: u32,
    },
    Commit {
        next: u32,
        checkpoint: &'a str,
    },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn str_at(b: &[u8], at: usize, len: usize) -> Option<&str> {
    std::str::from_utf8(b.get(at..at + len)?).ok()
}

/// Parses a record body whose checksum matched; `None` if it does not
/// decode (damage).
fn parse(body: &[u8], dim: usize) -> Option<Rec<'_>> {
    match *body.first()? {
        TAG_ADD => {
            let slot = u32_at(body, 1)?;
            let el = u16_at(body, 5)? as usize;
            let entity = str_at(body, 7, el)?;
            let sl = u16_at(body, 7 + el)? as usize;
            let scope = str_at(body, 9 + el, sl)?;
            let vector_at = 9 + el + sl;
            (body.len() == vector_at + dim * 4).then_some(Rec::Add {
                slot,
                entity,
                scope,
                vector_at,
            })
        }
        TAG_DEL => (body.len() == 5).then(|| Rec::Del {
            slot: u32_at(body, 1).unwrap_or(0),
        }),
        TAG_COMMIT => Some(Rec::Commit {
            next: u32_at(body, 1)?,
            checkpoint: std::str::from_utf8(body.get(5..)?).ok()?,
        }),
        _ => None,
    }
}

/// Appends one record (head and body) to `out`.
fn put_record(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&REC_MAGIC.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// Appends an add record; returns the offset of its vector within `out`.
fn put_add(out: &mut Vec<u8>, slot: u32, item: &Item, v: &[f32]) -> usize {
    let (e, s) = (item.entity.as_bytes(), item.scope.as_bytes());
    let mut body = Vec::with_capacity(9 + e.len() + s.len() + v.len() * 4);
    body.push(TAG_ADD);
    body.extend_from_slice(&slot.to_le_bytes());
    body.extend_from_slice(&(e.len() as u16).to_le_bytes());
    body.extend_from_slice(e);
    body.extend_from_slice(&(s.len() as u16).to_le_bytes());
    body.extend_from_slice(s);
    let vector_at = out.len() + REC_HEAD as usize + body.len();
    for x in v {
        body.extend_from_slice(&x.to_le_bytes());
    }
    put_record(out, &body);
    vector_at
}

fn put_del(out: &mut Vec<u8>, slot: u32) {
    let mut body = vec![TAG_DEL];
    body.extend_from_slice(&slot.to_le_bytes());
    put_record(out, &body);
}

fn put_commit(out: &mut Vec<u8>, next: u32, checkpoint: &str) {
    let mut body = vec![TAG_COMMIT];
    body.extend_from_slice(&next.to_le_bytes());
    body.extend_from_slice(checkpoint.as_bytes());
    put_record(out, &body);
}

fn log_header(dim: usize, generation: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(LOG_HEADER as usize);
    h.extend_from_slice(LOG_MAGIC);
    h.extend_from_slice(&LOG_VERSION.to_le_bytes());
    h.extend_from_slice(&(dim as u32).to_le_bytes());
    h.extend_from_slice(&generation.to_le_bytes());
    h
}

/// Reads records one after another from a position.
struct Records<R> {
    r: R,
    pos: u64,
    len: u64,
    head: [u8; REC_HEAD as usize],
    body: Vec<u8>,
}

/// Why reading stopped.
enum Stop {
    /// The end of the file, at a record boundary.
    End,
    /// A record that is cut short or does not match its checksum, at `pos`.
    Bad,
}

impl<R: Read> Records<R> {
    /// The next record's body (in `self.body`) and its offset, or why not.
    fn next(&mut self) -> std::io::Result<Result<u64, Stop>> {
        let at = self.pos;
        if at == self.len {
            return Ok(Err(Stop::End));
        }
        if at + REC_HEAD > self.len {
            return Ok(Err(Stop::Bad));
        }
        self.r.read_exact(&mut self.head)?;
        let magic = u32_at(&self.head, 0).unwrap_or(0);
        let n = u32_at(&self.head, 4).unwrap_or(u32::MAX);
        let crc = u32_at(&self.head, 8).unwrap_or(0);
        if magic != REC_MAGIC || n > MAX_BODY || at + REC_HEAD + n as u64 > self.len {
            return Ok(Err(Stop::Bad));
        }
        self.body.resize(n as usize, 0);
        self.r.read_exact(&mut self.body)?;
        if crc32fast::hash(&self.body) != crc {
            return Ok(Err(Stop::Bad));
        }
        self.pos = at + REC_HEAD + n as u64;
        Ok(Ok(at))
    }
}

/// Is there a whole commit record anywhere after `from`? (Then a bad record
/// at `from` was written before acknowledged data: damage, not a torn tail.)
fn commit_after(f: &File, from: u64, len: u64) -> std::io::Result<bool> {
    const WINDOW: u64 = 4 << 20;
    let magic = REC_MAGIC.to_le_bytes();
    let mut at = from + 1;
    let mut buf = vec![0u8; WINDOW as usize];
    while at + REC_HEAD < len {
        let n = WINDOW.min(len - at) as usize;
        f.read_exact_at(&mut buf[..n], at)?;
        for i in 0..n.saturating_sub(3) {
            if buf[i..i + 4] != magic {
                continue;
            }
            let pos = at + i as u64;
            let mut head = [0u8; REC_HEAD as usize];
            if pos + REC_HEAD > len {
                break;
            }
            f.read_exact_at(&mut head, pos)?;
            let body_len = u32_at(&head, 4).unwrap_or(u32::MAX);
            if body_len > MAX_BODY || pos + REC_HEAD + body_len as u64 > len {
                continue;
            }
            let mut body = vec![0u8; body_len as usize];
            f.read_exact_at(&mut body, pos + REC_HEAD)?;
            if crc32fast::hash(&body) == u32_at(&head, 8).unwrap_or(0)
                && body.first() == Some(&TAG_COMMIT)
            {
                return Ok(true);
            }
        }
        // a record head may straddle the window's end
        at += (n as u64).saturating_sub(3).max(1);
    }
    Ok(false)
}

/// Length and CRC-32 of a file, read in 1 MiB pieces.
fn file_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((len, h.finalize()));
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What `graph.meta` says of the snapshot.
#[derive(Debug, PartialEq)]
struct Meta {
    file: String,
    generation: u64,
    log_end: u64,
    len: u64,
    crc: u32,
    quantisation: String,
    connectivity: usize,
}

impl Meta {
    fn render(&self) -> String {
        format!(
            "{META_MAGIC}\n{}\n{}\n{}\n{}\n{:08x}\n{}\n{}\n",
            self.file,
            self.generation,
            self.log_end,
            self.len,
            self.crc,
            self.quantisation,
            self.connectivity
        )
    }

    fn parse(s: &str) -> Option<Self> {
        let mut l = s.lines();
        if l.next()? != META_MAGIC {
            return None;
        }
        Some(Self {
            file: l.next()?.to_owned(),
            generation: l.next()?.parse().ok()?,
            log_end: l.next()?.parse().ok()?,
            len: l.next()?.parse().ok()?,
            crc: u32::from_str_radix(l.next()?, 16).ok()?,
            quantisation: l.next()?.to_owned(),
            connectivity: l.next()?.parse().ok()?,
        })
    }
}

/// Maps the first `len` bytes of the log for reading.
///
/// SAFETY: a mapping is undefined behaviour if the mapped bytes change or
/// go away while it lives. The index only ever appends to its log past
/// `log_end` and maps no further than `log_end` (the end of the last
/// commit): a commit's `set_len(log_end)` only drops bytes of a failed
/// append beyond every mapping; a rewrite writes a new file and renames it
/// over the log, leaving a live mapping on the old one; `clear` drops the
/// mapping with the state. Another process writing the index's files
/// would break this, as it would break tantivy's and RocksDB's mappings.
#[allow(unsafe_code)]
fn map_log(log: &File, len: u64) -> Option<memmap2::Mmap> {
    let len = usize::try_from(len).ok()?;
    // SAFETY: see above
    unsafe { memmap2::MmapOptions::new().len(len).map(log) }.ok()
}

/// A vector scaled to its largest component and rounded to int8.
fn quantise_i8(v: &[f32]) -> Vec<i8> {
    let m = v.iter().fold(0f32, |a, x| a.max(x.abs()));
    if m == 0.0 {
        return vec![0; v.len()];
    }
    v.iter().map(|x| (x * 127.0 / m).round() as i8).collect()
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

    fn new_graph(dim: usize, p: &FaceParams) -> FaceResult<Index> {
        let g = Index::new(&IndexOptions {
            dimensions: dim,
            metric: p.quantisation.metric(),
            quantization: p.quantisation.scalar(),
            connectivity: p.connectivity,
            expansion_add: p.ef_construction,
            expansion_search: p.ef_search,
            multi: false,
        })?;
        g.reserve_capacity_and_threads(1024, CONTEXTS)?;
        Ok(g)
    }

    /// Brings the graph to the log's state: from the snapshot when it is
    /// whole and matches, plus what the log holds beyond it; else from the
    /// whole log.
    fn fill_graph(
        &self,
        meta: Option<Meta>,
        dels_after: &HashMap<u64, Vec<u32>>,
    ) -> FaceResult<()> {
        let mut s = self.write();
        let mut g = self.graph_write();
        let mut from = 0;
        if let Some(m) = meta
            && m.generation == s.generation
            && m.quantisation == self.params.quantisation.name()
            && m.connectivity == self.params.connectivity
        {
            match self.load_snapshot(&m, &mut g, &s, dels_after) {
                Ok(()) => from = m.log_end,
                Err(why) => {
                    tracing::warn!(%why, "face index: snapshot not used; rebuilding the graph from the log");
                    *g = Self::new_graph(self.dim, &self.params)?;
                }
            }
        }
        let todo: Vec<(u32, u64)> = s
            .items
            .iter()
            .filter_map(|(id, it)| it.at.filter(|at| *at >= from).map(|at| (*id, at)))
            .collect();
        let need = g.size() + todo.len();
        if need > g.capacity() {
            g.reserve_capacity_and_threads(need.next_power_of_two(), CONTEXTS)?;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if todo.len() < 10_000 { 1 } else { threads };
        let chunk = todo.len().div_ceil(threads).max(1);
        let g: &Index = &g;
        let st: &State = &s;
        std::thread::scope(|sc| -> FaceResult<()> {
            let parts: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    sc.spawn(move || -> FaceResult<()> {
                        for (id, at) in part {
                            let v = self.read_vector(st, *at)?;
                            self.graph_add_to(g, *id, &v)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for p in parts {
                p.join()
                    .map_err(|_| FaceError::Hnsw("a graph builder panicked".into()))??;
            }
            Ok(())
        })?;
        if g.size() != s.live.len() as usize {
            return Err(FaceError::Hnsw(format!(
                "the graph holds {} vectors, the log {}",
                g.size(),
                s.live.len()
            )));
        }
        s.snapshot_end = from;
        s.graph_dirty = !todo.is_empty() || from == 0 && !s.live.is_empty();
        Ok(())
    }

    /// Loads a snapshot and removes what the log removed after it.
    fn load_snapshot(
        &self,
        m: &Meta,
        g: &mut Index,
        s: &State,
        dels_after: &HashMap<u64, Vec<u32>>,
    ) -> Result<(), String> {
        let path = self.dir.join(&m.file);
        match file_crc(&path) {
            Ok((len, crc)) if len == m.len && crc == m.crc => {}
            Ok(_) => return Err(format!("{} does not match its checksum", m.file)),
            Err(e) => return Err(format!("{}: {e}", m.file)),
        }
        let p = path.to_str().ok_or("snapshot path is not UTF-8")?;
        g.load(p).map_err(|e| e.what().to_owned())?;
        g.reserve_capacity_and_threads(g.size().max(1024), CONTEXTS)
            .map_err(|e| e.what().to_owned())?;
        g.change_expansion_search(self.params.ef_search);
        g.change_expansion_add(self.params.ef_construction);
        for (end, slots) in dels_after {
            if *end > m.log_end {
                for slot in slots {
                    if !s.live.contains(*slot) {
                        g.remove(u64::from(*slot))
                            .map_err(|e| e.what().to_owned())?;
                    }
                }
            }
        }
        // what a snapshot holds must be live (a slot removed before the
        // snapshot but whose removal is in the torn tail is live again)
        Ok(())
    }

    fn write_new_log(dir: &Path, dim: usize, generation: u64, body: &[u8]) -> std::io::Result<()> {
        let tmp = dir.join(format!("{LOG_FILE}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&log_header(dim, generation))?;
            f.write_all(body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(LOG_FILE))?;
        sync_dir(dir)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn graph_read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.graph.read().unwrap_or_else(|p| p.into_inner())
    }

    fn graph_write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.graph.write().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, e: std::io::Error) -> FaceError {
        FaceError::Io(self.dir.display().to_string(), e)
    }

    /// The bytes of the logged vector at `at`: from the mapping when it
    /// covers them, else read into `buf`.
    fn logged<'a>(&self, s: &'a State, at: u64, buf: &'a mut [u8]) -> FaceResult<&'a [u8]> {
        let n = buf.len();
        if let Some(b) = s.map.as_ref().and_then(|m| {
            let at = usize::try_from(at).ok()?;
            m.get(at..at.checked_add(n)?)
        }) {
            return Ok(b);
        }
        s.log.read_exact_at(buf, at).map_err(|e| self.io(e))?;
        Ok(buf)
    }

    /// A logged vector, read back by its offset.
    fn read_vector(&self, s: &State, at: u64) -> FaceResult<Vec<f32>> {
        let mut b = vec![0u8; self.dim * 4];
        Ok(self
            .logged(s, at, &mut b)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
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

    /// Adds to a graph whose capacity is reserved.
    fn graph_add_to(&self, g: &Index, id: u32, v: &[f32]) -> FaceResult<()> {
        let _ctx = self.contexts.take();
        match self.params.quantisation {
            Quantisation::I8 => g.add(u64::from(id), &quantise_i8(v))?,
            Quantisation::F16 | Quantisation::F32 => g.add(u64::from(id), v)?,
        }
        Ok(())
    }

    fn graph_add(&self, id: u32, v: &[f32]) -> FaceResult<()> {
        {
            let g = self.graph_read();
            if g.size() < g.capacity() {
                return self.graph_add_to(&g, id, v);
            }
        }
        let g = self.graph_write();
        if g.size() >= g.capacity() {
            g.reserve_capacity_and_threads((g.capacity() * 2).max(1024), CONTEXTS)?;
        }
        self.graph_add_to(&g, id, v)
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
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = vs.len().div_ceil(threads).max(1);
        std::thread::scope(|sc| -> FaceResult<()> {
            let parts: Vec<_> = vs
                .chunks(chunk)
                .enumerate()
                .map(|(c, part)| {
                    let g: &Index = &g;
                    sc.spawn(move || -> FaceResult<()> {
                        for (i, v) in part.iter().enumerate() {
                            let id = first + (c * chunk + i) as u32;
                            self.graph_add_to(g, id, v)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for p in parts {
                p.join()
                    .map_err(|_| FaceError::Hnsw("a graph builder panicked".into()))??;
            }
            Ok(())
        })?;
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

    /// Rewrites the log with the live vectors only (a new generation).
    fn compact(&self, checkpoint: &str) -> FaceResult<()> {
        let s = self.read();
        let mut body = Vec::new();
        let mut ids: Vec<u32> = s.live.iter().collect();
        ids.sort_unstable();
        let mut moved = Vec::with_capacity(ids.len());
        for id in ids {
            let (Some(item), Some(v)) = (s.items.get(&id), self.vector(&s, id)?) else {
                continue;
            };
            let at = put_add(&mut body, id, item, &v);
            moved.push((id, LOG_HEADER + at as u64));
        }
        put_commit(&mut body, s.next, checkpoint);
        let generation = s.generation + 1;
        drop(s);
        Self::write_new_log(&self.dir, self.dim, generation, &body).map_err(|e| self.io(e))?;
        let log = File::options()
            .read(true)
            .write(true)
            .open(self.dir.join(LOG_FILE))
            .map_err(|e| self.io(e))?;
        let mut s = self.write();
        s.log = Arc::new(log);
        for (id, at) in moved {
            if let Some(item) = s.items.get_mut(&id) {
                item.at = Some(at);
            }
        }
        s.generation = generation;
        s.log_end = LOG_HEADER + body.len() as u64;
        // the old mapping is of the replaced file: the moved offsets are in this one
        s.map = map_log(&s.log, s.log_end);

        s.log_items = s.live.len();
        s.log_dead = 0;
        s.snapshot_end = 0;
        s.graph_dirty = true;
        Ok(())
    }

    /// Writes a snapshot of the graph covering the log so far (only when
    /// nothing is staged: a snapshot must be of committed state).
    fn snapshot(&self) -> FaceResult<()> {
        let s = self.read();
        if !s.staged.is_empty() || !s.deleted.is_empty() || !s.graph_dirty {
            return Ok(());
        }
        let io = |e| FaceError::Io(self.dir.display().to_string(), e);
        let file = format!("graph-{}-{}.usearch", s.generation, s.log_end);
        let path = self.dir.join(&file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| FaceError::Hnsw("snapshot path is not UTF-8".into()))?;
        self.graph_read().save(tmp_str)?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        let (len, crc) = file_crc(&path).map_err(io)?;
        let meta = Meta {
            file: file.clone(),
            generation: s.generation,
            log_end: s.log_end,
            len,
            crc,
            quantisation: self.params.quantisation.name().to_owned(),
            connectivity: self.params.connectivity,
        };
        let mtmp = self.dir.join(format!("{META_FILE}.tmp"));
        {
            let mut f = File::create(&mtmp).map_err(io)?;
            f.write_all(meta.render().as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&mtmp, self.dir.join(META_FILE)).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        // older snapshots are no longer named by the meta
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("graph-") && name != file {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        drop(s);
        let mut s = self.write();
        s.snapshot_end = meta.log_end;
        s.graph_dirty = s.log_end != meta.log_end;
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::{ExactIndex, VectorIndex};

    fn random(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
            .collect()
    }

    fn feature(v: &[f32]) -> model::Feature {
        model::Feature::new(v.to_vec(), v.len()).unwrap()
    }

    const ANN: FaceParams = FaceParams {
        connectivity: 16,
        ef_construction: 128,
        ef_search: 128,
        quantisation: Quantisation::I8,
        // the graph answers (no exact scans of small candidate sets)
        exact_below: 0,
        rerank: 40,
    };

    fn all() -> FaceFilter<'static> {
        FaceFilter::default()
    }

    /// Every entity and vector the index holds, in order (to compare two).
    fn contents(idx: &FaceIndex) -> Vec<(String, Vec<Vec<f32>>)> {
        let s = idx.read();
        let mut es: Vec<String> = s.by_entity.keys().map(|e| e.to_string()).collect();
        drop(s);
        es.sort();
        es.into_iter()
            .map(|e| {
                let v = idx.vectors_of(&e).unwrap();
                (e, v)
            })
            .collect()
    }

    #[test]
    fn staged_and_committed_vectors_answer_alike_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let vs = random(300, 32, 1);
        {
            let idx = FaceIndex::open(dir.path(), 32, ANN).unwrap();
            assert_eq!(idx.checkpoint(), None);
            for (i, v) in vs.iter().enumerate() {
                let kind = if (i / 2) % 3 == 1 {
                    "stranger"
                } else {
                    "person"
                };
                idx.add(&format!("{kind}:{}", i / 2), &format!("c{}", i % 5), v)
                    .unwrap();
            }
            // staged: found at once, scored exactly
            let hit = &idx.search(&vs[7], 1, 0.0, &all()).unwrap()[0];
            assert_eq!(hit.entity, "person:3");
            assert!((hit.score - 1.0).abs() < 1e-5);
            idx.commit("7").unwrap();
            assert_eq!(idx.stats().staged, 0);
            let hit = &idx.search(&vs[7], 1, 0.0, &all()).unwrap()[0];
            assert_eq!(hit.entity, "person:3");
            assert!((hit.score - 1.0).abs() < 1e-5);
            assert_eq!(idx.representatives("person:3"), 2);
            // uncommitted work is lost with the process
            idx.add("person:new", "c1", &vs[0]).unwrap();
        }
        let idx = FaceIndex::open(dir.path(), 32, ANN).unwrap();
        assert_eq!(idx.checkpoint().as_deref(), Some("7"));
        assert_eq!(idx.representatives("person:new"), 0);
        assert_eq!(idx.stats().vectors, 300);
        let back = idx.vectors_of("person:3").unwrap();
        assert_eq!(back.len(), 2);
        let want = crate::normalise_slice(&vs[6], 32).unwrap();
        assert!(back.iter().any(|v| v == &want), "vectors come back exactly");
        // filters: kind, scope, except
        let only_strangers = idx
            .search(
                &vs[7],
                5,
                -1.0,
                &FaceFilter {
                    kind: Some("stranger"),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(only_strangers.len(), 5);
        assert!(
            only_strangers
                .iter()
                .all(|h| h.entity.starts_with("stranger:"))
        );
        let scopes = ["c2".to_owned()];
        let in_c2 = idx
            .search(
                &vs[7],
                50,
                -1.0,
                &FaceFilter {
                    scopes: Some(&scopes),
                    ..Default::default()
                },
            )
            .unwrap();
        // items i with i % 5 == 2 belong to entity i / 2
        let mut want: Vec<String> = (0..300)
            .filter(|i| i % 5 == 2)
            .map(|i| {
                let kind = if (i / 2) % 3 == 1 {
                    "stranger"
                } else {
                    "person"
                };
                format!("{kind}:{}", i / 2)
            })
            .collect();
        want.sort();
        want.truncate(50);
        assert_eq!(in_c2.len(), 50);
        let not_self = idx
            .search(
                &vs[7],
                1,
                0.0,
                &FaceFilter {
                    except: Some("person:3"),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_ne!(not_self[0].entity, "person:3");
        // a reopened index refuses another dimension
        drop(idx);
        assert!(matches!(
            FaceIndex::open(dir.path(), 64, FaceParams::default()),
            Err(FaceError::Dimension {
                found: 32,
                expected: 64,
                ..
            })
        ));
    }

    #[test]
    fn deletes_take_effect_at_once_and_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
        let vs = random(50, 16, 2);
        for (i, v) in vs.iter().enumerate() {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        idx.commit("a").unwrap();
        assert_eq!(idx.remove("person:4"), 1);
        // staged, then removed before any commit
        idx.add("person:x", "c", &vs[5]).unwrap();
        assert_eq!(idx.remove("person:x"), 1);
        let hits = idx.search(&vs[4], 3, -1.0, &all()).unwrap();
        assert!(hits.iter().all(|h| h.entity != "person:4"));
        idx.commit("b").unwrap();
        drop(idx);
        let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
        let hits = idx.search(&vs[4], 3, -1.0, &all()).unwrap();
        assert!(hits.iter().all(|h| h.entity != "person:4"));
        assert_eq!(idx.stats().vectors, 49);
        assert_eq!(idx.representatives("person:x"), 0);
        idx.clear().unwrap();
        assert!(idx.search(&vs[4], 3, -1.0, &all()).unwrap().is_empty());
        drop(idx);
        let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
        assert_eq!(idx.stats().vectors, 0);
        assert_eq!(idx.checkpoint(), None);
    }

    fn recall(idx: &FaceIndex, exact: &ExactIndex, queries: &[Vec<f32>]) -> f64 {
        let mut found = 0;
        for q in queries {
            let truth: Vec<String> = exact
                .search(&feature(q), 10, -1.0)
                .unwrap()
                .into_iter()
                .map(|h| h.entity)
                .collect();
            let got = idx.search(q, 10, -1.0, &all()).unwrap();
            found += got.iter().filter(|h| truth.contains(&h.entity)).count();
        }
        found as f64 / (queries.len() * 10) as f64
    }

    #[test]
    fn recall_at_10_against_exact_search_in_every_quantisation() {
        let (n, dim) = (4000, 64);
        let vs = random(n, dim, 3);
        let queries = random(200, dim, 4);
        let mut exact = ExactIndex::new(dim);
        for (i, v) in vs.iter().enumerate() {
            exact.insert(&format!("person:{i}"), &feature(v)).unwrap();
        }
        for quantisation in [Quantisation::I8, Quantisation::F16, Quantisation::F32] {
            let dir = tempfile::tempdir().unwrap();
            let params = FaceParams {
                quantisation,
                ..ANN
            };
            let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
            for (i, v) in vs.iter().enumerate() {
                idx.add(&format!("person:{i}"), "c", v).unwrap();
                // committed in a few increments, as ingest does
                if i % 1500 == 1499 {
                    idx.commit(&i.to_string()).unwrap();
                }
            }
            let r = recall(&idx, &exact, &queries);
            assert!(r >= 0.95, "{quantisation:?}: recall@10 {r}");
            // scores are exact whatever the graph keeps
            let hit = &idx.search(&vs[9], 1, 0.0, &all()).unwrap()[0];
            assert_eq!(hit.entity, "person:9");
            assert!((hit.score - 1.0).abs() < 1e-5, "{quantisation:?}");
            idx.commit("all").unwrap();
            drop(idx);
            // below `exact_below` candidates the answer is exact
            let scan = FaceParams {
                exact_below: n as u64,
                ..params
            };
            let idx = FaceIndex::open(dir.path(), dim, scan).unwrap();
            assert_eq!(recall(&idx, &exact, &queries), 1.0);
        }
    }

    #[test]
    fn a_bulk_load_is_the_same_index() {
        let (n, dim) = (3000, 32);
        let vs = random(n, dim, 5);
        let dir = tempfile::tempdir().unwrap();
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        let names: Vec<String> = (0..n).map(|i| format!("person:{}", i / 2)).collect();
        let items: Vec<(&str, &str, &[f32])> = names
            .iter()
            .zip(&vs)
            .map(|(e, v)| (e.as_str(), "c", v.as_slice()))
            .collect();
        idx.add_many(&items).unwrap();
        idx.commit("bulk").unwrap();
        let mut exact = ExactIndex::new(dim);
        for (e, v) in names.iter().zip(&vs) {
            exact.insert(e, &feature(v)).unwrap();
        }
        assert!(recall(&idx, &exact, &random(100, dim, 6)) >= 0.95);
        assert_eq!(idx.representatives("person:7"), 2);
        let before = contents(&idx);
        drop(idx);
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(contents(&idx), before);
    }

    /// The graph's own copies of the vectors stay each vector's through
    /// the graph's growth, a snapshot's load and growth after it.
    #[test]
    fn the_graphs_vectors_follow_it_as_it_grows_and_reloads() {
        let (n, dim) = (2600, 16);
        let vs = random(n, dim, 21);
        let dir = tempfile::tempdir().unwrap();
        let params = FaceParams {
            quantisation: Quantisation::F32,
            ..ANN
        };
        let check = |idx: &FaceIndex, ids: &[u32]| {
            let g = idx.graph_read();
            let mut out = vec![0f32; dim];
            for (id, v) in ids.iter().zip(&vs) {
                assert_eq!(g.get(u64::from(*id), &mut out).unwrap(), 1, "vector {id}");
                let want = crate::normalise_slice(v, dim).unwrap();
                assert!(
                    out.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
                    "vector {id}: {out:?} against {want:?}"
                );
            }
        };
        let mut ids = Vec::new();
        let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
        // past the first reservation (1,024)
        for (i, v) in vs.iter().enumerate().take(1500) {
            ids.push(idx.add(&format!("person:{i}"), "c", v).unwrap());
        }
        idx.commit("1500").unwrap();
        check(&idx, &ids);
        idx.seal().unwrap();
        drop(idx);
        // loaded from the snapshot, then grown past 2,048
        let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
        check(&idx, &ids);
        for (i, v) in vs.iter().enumerate().skip(1500) {
            ids.push(idx.add(&format!("person:{i}"), "c", v).unwrap());
        }
        idx.commit("2600").unwrap();
        check(&idx, &ids);
        let hit = &idx.search(&vs[2599], 1, 0.0, &all()).unwrap()[0];
        assert_eq!(hit.entity, "person:2599");
    }

    /// Opens with the graph rebuilt from the log, loaded from a snapshot,
    /// and a snapshot plus the log beyond it all answer alike.
    #[test]
    fn snapshots_are_used_when_whole_and_rebuilt_when_not() {
        let (n, dim) = (2500, 32);
        let vs = random(n, dim, 7);
        let queries = random(50, dim, 8);
        let dir = tempfile::tempdir().unwrap();
        let answers = |idx: &FaceIndex| -> Vec<Vec<Hit>> {
            queries
                .iter()
                .map(|q| idx.search(q, 10, -1.0, &all()).unwrap())
                .collect()
        };
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        for (i, v) in vs.iter().enumerate().take(2000) {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        idx.commit("2000").unwrap();
        idx.seal().unwrap();
        let meta = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
        let meta = Meta::parse(&meta).unwrap();
        assert!(dir.path().join(&meta.file).exists());
        // more after the snapshot, and a removal of a vector it holds
        for (i, v) in vs.iter().enumerate().skip(2000) {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        assert_eq!(idx.remove("person:3"), 1);
        idx.commit("2500").unwrap();
        let want = answers(&idx);
        let held = contents(&idx);
        // dropped without a new snapshot: the old one plus the log's tail
        std::mem::forget(idx);
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(
            idx.read().snapshot_end,
            meta.log_end,
            "the snapshot was used"
        );
        assert_eq!(contents(&idx), held);
        assert_eq!(answers(&idx), want);
        assert!(
            !answers(&idx)
                .iter()
                .flatten()
                .any(|h| h.entity == "person:3")
        );
        drop(idx);
        // a damaged snapshot: the graph is rebuilt from the log
        let meta =
            Meta::parse(&std::fs::read_to_string(dir.path().join(META_FILE)).unwrap()).unwrap();
        let snap = dir.path().join(&meta.file);
        let mut bytes = std::fs::read(&snap).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&snap, &bytes).unwrap();
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(
            idx.read().snapshot_end,
            0,
            "the damaged snapshot was not used"
        );
        assert_eq!(contents(&idx), held);
        let r: f64 = {
            let mut exact = ExactIndex::new(dim);
            for (e, vs) in &held {
                for v in vs {
                    exact.insert(e, &feature(v)).unwrap();
                }
            }
            recall(&idx, &exact, &queries)
        };
        assert!(r >= 0.95, "{r}");
        drop(idx);
        // another quantisation: the snapshot does not fit, the log does
        let f32s = FaceParams {
            quantisation: Quantisation::F32,
            ..ANN
        };
        let idx = FaceIndex::open(dir.path(), dim, f32s).unwrap();
        assert_eq!(idx.read().snapshot_end, 0);
        assert_eq!(contents(&idx), held);
    }

    fn log_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(LOG_FILE)).unwrap().len()
    }

    #[test]
    fn a_torn_tail_is_dropped_and_damage_before_a_commit_is_refused() {
        let dim = 16;
        let vs = random(40, dim, 9);
        let dir = tempfile::tempdir().unwrap();
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        for (i, v) in vs.iter().enumerate().take(20) {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        idx.commit("first").unwrap();
        let first_end = log_len(dir.path());
        for (i, v) in vs.iter().enumerate().skip(20) {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        idx.commit("second").unwrap();
        let full = log_len(dir.path());
        std::mem::forget(idx);
        let log = dir.path().join(LOG_FILE);
        let bytes = std::fs::read(&log).unwrap();
        // cut anywhere inside the second commit: the first one stands
        for cut in [first_end + 1, first_end + 200, full - 1] {
            std::fs::write(&log, &bytes[..cut as usize]).unwrap();
            let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
            assert_eq!(idx.checkpoint().as_deref(), Some("first"), "cut at {cut}");
            assert_eq!(idx.stats().vectors, 20);
            std::mem::forget(idx);
        }
        // resuming after a torn tail appends after the last commit
        std::fs::write(&log, &bytes[..(first_end + 100) as usize]).unwrap();
        {
            let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
            idx.add("person:again", "c", &vs[30]).unwrap();
            idx.commit("third").unwrap();
        }
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(idx.checkpoint().as_deref(), Some("third"));
        assert_eq!(idx.stats().vectors, 21);
        drop(idx);
        // a flipped byte in the first commit, with a commit after it
        let mut bad = bytes.clone();
        bad[(first_end / 2) as usize] ^= 0x01;
        std::fs::write(&log, &bad).unwrap();
        let _ = std::fs::remove_file(dir.path().join(META_FILE));
        match FaceIndex::open(dir.path(), dim, ANN) {
            Err(FaceError::Damaged { why, .. }) => assert!(why.contains("checksum"), "{why}"),
            other => panic!("a damaged log opened: {other:?}"),
        }
        // not a face log at all
        std::fs::write(&log, b"hello").unwrap();
        assert!(matches!(
            FaceIndex::open(dir.path(), dim, ANN),
            Err(FaceError::Damaged { .. })
        ));
    }

    #[test]
    fn a_log_cut_short_of_its_snapshot_is_damage() {
        let dim = 16;
        let vs = random(30, dim, 10);
        let dir = tempfile::tempdir().unwrap();
        {
            let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
            for (i, v) in vs.iter().enumerate() {
                idx.add(&format!("person:{i}"), "c", v).unwrap();
                if i % 10 == 9 {
                    idx.commit(&i.to_string()).unwrap();
                }
            }
        } // closed cleanly: a snapshot covers the whole log
        let log = dir.path().join(LOG_FILE);
        let len = log_len(dir.path());
        let f = File::options().write(true).open(&log).unwrap();
        f.set_len(len - 30).unwrap();
        match FaceIndex::open(dir.path(), dim, ANN) {
            Err(FaceError::Damaged { why, .. }) => assert!(why.contains("cut short"), "{why}"),
            other => panic!("a cut log opened: {other:?}"),
        }
    }

    #[test]
    fn a_mostly_removed_log_is_rewritten_with_the_live_vectors() {
        let dim = 8;
        let n = 12_000;
        let vs = random(n, dim, 11);
        let dir = tempfile::tempdir().unwrap();
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        let names: Vec<String> = (0..n).map(|i| format!("stranger:{i}")).collect();
        let items: Vec<(&str, &str, &[f32])> = names
            .iter()
            .zip(&vs)
            .map(|(e, v)| (e.as_str(), "c", v.as_slice()))
            .collect();
        idx.add_many(&items).unwrap();
        idx.commit("added").unwrap();
        let big = log_len(dir.path());
        for name in names.iter().take(n * 2 / 3) {
            idx.remove(name);
        }
        idx.commit("merged").unwrap();
        assert!(log_len(dir.path()) < big / 2, "the log was rewritten");
        let held = contents(&idx);
        assert_eq!(held.len(), n - n * 2 / 3);
        let q = &vs[n - 1];
        assert_eq!(
            idx.search(q, 1, 0.0, &all()).unwrap()[0].entity,
            names[n - 1]
        );
        // removals and adds after the rewrite, then a crash (no seal)
        idx.remove(&names[n - 1]);
        idx.add("person:late", "c", &vs[0]).unwrap();
        idx.commit("after").unwrap();
        let held = contents(&idx);
        std::mem::forget(idx);
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(idx.checkpoint().as_deref(), Some("after"));
        assert_eq!(contents(&idx), held);
        assert_eq!(
            idx.search(&vs[0], 1, 0.0, &all()).unwrap()[0].entity,
            "person:late"
        );
        assert!(
            idx.search(q, 5, -1.0, &all())
                .unwrap()
                .iter()
                .all(|h| h.entity != names[n - 1])
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any sequence of adds, removals, commits, crashes (drop without
        /// a snapshot) and clean closes leaves the index holding exactly
        /// what a model of committed state holds.
        #[test]
        fn reopening_after_any_history_holds_what_was_committed(
            ops in proptest::collection::vec((0u8..5, 0u8..12, 0usize..40), 1..60)
        ) {
            let dim = 8;
            let vs = random(40, dim, 12);
            let dir = tempfile::tempdir().unwrap();
            let mut idx = Some(FaceIndex::open(dir.path(), dim, ANN).unwrap());
            // model: entity → vectors, the current one and the committed one
            let mut now: HashMap<String, Vec<usize>> = HashMap::new();
            let mut committed = now.clone();
            let mut ck = None;
            for (n, (op, e, v)) in ops.into_iter().enumerate() {
                let name = format!("person:{e}");
                let i = idx.as_ref().unwrap();
                match op {
                    0 | 1 => {
                        i.add(&name, "c", &vs[v]).unwrap();
                        now.entry(name).or_default().push(v);
                    }
                    2 => {
                        let want = now.remove(&name).map_or(0, |x| x.len());
                        proptest::prop_assert_eq!(i.remove(&name), want);
                    }
                    3 => {
                        i.commit(&n.to_string()).unwrap();
                        committed = now.clone();
                        ck = Some(n.to_string());
                    }
                    _ => {
                        let i = idx.take().unwrap();
                        if e % 2 == 0 {
                            drop(i); // a clean close
                        } else {
                            std::mem::forget(i); // a crash
                        }
                        idx = Some(FaceIndex::open(dir.path(), dim, ANN).unwrap());
                        now = committed.clone();
                        proptest::prop_assert_eq!(idx.as_ref().unwrap().checkpoint(), ck.clone());
                    }
                }
                let i = idx.as_ref().unwrap();
                for (name, want) in &now {
                    let mut got: Vec<Vec<f32>> = i.vectors_of(name).unwrap();
                    let mut want: Vec<Vec<f32>> = want
                        .iter()
                        .map(|v| crate::normalise_slice(&vs[*v], dim).unwrap())
                        .collect();
                    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    proptest::prop_assert_eq!(got, want);
                }
                proptest::prop_assert_eq!(i.stats().vectors, now.values().map(Vec::len).sum::<usize>());
                proptest::prop_assert_eq!(i.graph_read().size(), i.stats().vectors);
            }
        }
    }
}
