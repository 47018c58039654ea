//! The on-disk face-feature index: HNSW over LMDB ([`hannoy`], the index
//! Meilisearch uses), a few representative vectors per archive.
//!
//! * An *entity* is an archive (`person:p1`, `stranger:s-…`); it has one or
//!   more *items* (vectors), each with a *scope* (the community it was seen
//!   or registered in) for region-restricted searches.
//! * Writes are staged: an added vector is searchable at once (exhaustively,
//!   from memory) and enters the HNSW graph at the next [`FaceIndex::commit`],
//!   which writes the vectors, the item table and the caller's checkpoint in
//!   one LMDB transaction. A crash loses only what was staged, and the
//!   checkpoint says where to resume.
//! * Deletes (an archive merged away) take effect at once for searches and
//!   are written at the next commit.
//!
//! * Damage: LMDB keeps no checksums, so a clean close *seals* the index —
//!   the length and CRC-32 of its data file in `SEAL` — and an open checks
//!   the seal (a sealed index with a flipped byte or cut short is
//!   [`FaceError::Damaged`]). The first write after an open removes the seal
//!   (durably, before it writes). After a crash there is no seal; LMDB's
//!   copy-on-write commits keep the file whole, and the open checks only
//!   that it is as long as its last page says. The index is derived: the
//!   projection rebuilds a damaged one from the store of record.
//!
//! Vectors are kept as f32 on the memory map (the OS pages them); hannoy's
//! only quantisation is 1-bit, which loses too much recall on 128-d face
//! features to decide identity with.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hannoy::distances::Cosine;
use hannoy::{Reader, Writer};
use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U32};
use heed::{CommitOrAbort, Env, EnvOpenOptions};
use rand10::SeedableRng;
use roaring::RoaringBitmap;

use crate::{Hit, dot, top_k};

type VectorDb = hannoy::Database<'static, Cosine>;
type ItemDb = heed::Database<'static, U32<BigEndian>, Bytes>;
type MetaDb = heed::Database<'static, Str, Bytes>;

const M: usize = 16;
const M0: usize = 32;
const CHECKPOINT: &str = "checkpoint";
const NEXT_ITEM: &str = "next-item";
const DIMENSION: &str = "dimension";
const DATA_FILE: &str = "data.mdb";
const SEAL_FILE: &str = "SEAL";
const SEAL_MAGIC: &str = "anju-face-seal 1";
/// LMDB's pages are the OS page size, at least this.
const PAGE_MIN: u64 = 4096;

/// Length and CRC-32 of a file, read in 1 MiB pieces.
fn file_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
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
    std::fs::File::open(dir)?.sync_all()
}

fn damaged_lmdb(dir: &Path, e: heed::Error) -> FaceError {
    FaceError::Damaged {
        path: dir.display().to_string(),
        why: e.to_string(),
    }
}

/// A sealed index must match its seal (module docs). A seal that vanishes
/// while the file is read was removed by a writer in another process: not
/// damage.
fn check_seal(dir: &Path) -> FaceResult<()> {
    let seal_path = dir.join(SEAL_FILE);
    let Ok(seal) = std::fs::read_to_string(&seal_path) else {
        return Ok(());
    };
    let damaged = |why: String| FaceError::Damaged {
        path: dir.display().to_string(),
        why,
    };
    let mut lines = seal.lines();
    let (Some(SEAL_MAGIC), Some(len), Some(crc)) = (lines.next(), lines.next(), lines.next())
    else {
        return Err(damaged(format!("{SEAL_FILE} is not a seal")));
    };
    let (Ok(len), Ok(crc)) = (len.parse::<u64>(), u32::from_str_radix(crc, 16)) else {
        return Err(damaged(format!("{SEAL_FILE} is not a seal")));
    };
    let found = file_crc(&dir.join(DATA_FILE));
    if !seal_path.exists() {
        return Ok(());
    }
    match found {
        Ok((l, c)) if l == len && c == crc => Ok(()),
        Ok((l, _)) if l != len => Err(damaged(format!(
            "{DATA_FILE} is {l} bytes, it was sealed at {len}"
        ))),
        Ok(_) => Err(damaged(format!("{DATA_FILE} does not match its checksum"))),
        Err(e) => Err(damaged(format!("{DATA_FILE}: {e}"))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("face index storage: {0}")]
    Storage(#[from] heed::Error),
    #[error("face index: {0}")]
    Hnsw(#[from] hannoy::Error),
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

pub type FaceResult<T> = std::result::Result<T, FaceError>;

/// HNSW parameters (M is fixed at 16, 32 on layer 0).
#[derive(Debug, Clone, Copy)]
pub struct FaceParams {
    pub ef_construction: usize,
    pub ef_search: usize,
    /// Neighbour pruning slack (DiskANN's α): 1.0 is plain HNSW, which on
    /// hannoy lost recall as the index grew (0.42 recall@10 at 20k vectors
    /// of dim 64, against 0.95 with 1.2).
    pub alpha: f32,
    /// Size of the LMDB memory map (virtual; the file grows as needed).
    pub map_size: usize,
    /// Searches over at most this many built vectors are answered exactly
    /// (a scan of that many LMDB reads costs about what a graph search does,
    /// and exact answers do not depend on how the graph was built).
    pub exact_below: u64,
}

impl Default for FaceParams {
    fn default() -> Self {
        Self {
            ef_construction: 128,
            ef_search: 128,
            alpha: 1.2,
            map_size: 256 << 30,
            exact_below: 2_048,
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
struct ItemInfo {
    entity: Arc<str>,
    scope: Arc<str>,
}

impl ItemInfo {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.entity.len() + self.scope.len() + 1);
        b.extend_from_slice(self.scope.as_bytes());
        b.push(0);
        b.extend_from_slice(self.entity.as_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let i = b.iter().position(|&c| c == 0)?;
        Some(Self {
            scope: std::str::from_utf8(&b[..i]).ok()?.into(),
            entity: std::str::from_utf8(&b[i + 1..]).ok()?.into(),
        })
    }

    fn kind(&self) -> &str {
        self.entity.split(':').next().unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct State {
    items: HashMap<u32, ItemInfo>,
    by_entity: HashMap<Arc<str>, Vec<u32>>,
    by_scope: HashMap<Arc<str>, RoaringBitmap>,
    by_kind: HashMap<String, RoaringBitmap>,
    /// Items in the HNSW graph on disk (and not deleted since).
    built: RoaringBitmap,
    /// Added since the last commit: id and normalised vector.
    staged: Vec<(u32, Vec<f32>)>,
    /// Built items deleted since the last commit.
    deleted: RoaringBitmap,
    next: u32,
    checkpoint: Option<String>,
}

impl State {
    fn index(&mut self, id: u32, info: ItemInfo) {
        self.by_entity
            .entry(info.entity.clone())
            .or_default()
            .push(id);
        self.by_scope
            .entry(info.scope.clone())
            .or_default()
            .insert(id);
        self.by_kind
            .entry(info.kind().to_owned())
            .or_default()
            .insert(id);
        self.items.insert(id, info);
    }

    fn unindex(&mut self, id: u32) {
        if let Some(info) = self.items.remove(&id) {
            if let Some(b) = self.by_scope.get_mut(&info.scope) {
                b.remove(id);
            }
            if let Some(b) = self.by_kind.get_mut(info.kind()) {
                b.remove(id);
            }
        }
    }

    /// The items a filter allows (among all known ones).
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
            let mut s = set.unwrap_or_else(|| self.built.clone() | self.staged_ids());
            for id in ids {
                s.remove(*id);
            }
            set = Some(s);
        }
        set
    }

    fn staged_ids(&self) -> RoaringBitmap {
        self.staged.iter().map(|(id, _)| *id).collect()
    }
}

/// The face-feature index of one deployment (see the module docs).
pub struct FaceIndex {
    env: Env,
    vectors: VectorDb,
    items: ItemDb,
    meta: MetaDb,
    dim: usize,
    params: FaceParams,
    state: RwLock<State>,
    /// One commit at a time; searches go on meanwhile.
    committing: Mutex<()>,
    dir: std::path::PathBuf,
    /// This process wrote since the open (or the last seal): seal on close.
    dirty: AtomicBool,
}

impl Drop for FaceIndex {
    fn drop(&mut self) {
        if let Err(e) = self.seal() {
            tracing::warn!(error = %e, "face index: not sealed at close (checked for length only at the next open)");
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
}

impl FaceIndex {
    /// Opens (creating if needed) the index in `dir`; a damaged index is
    /// [`FaceError::Damaged`] (see the module docs).
    pub fn open(dir: &Path, dim: usize, params: FaceParams) -> FaceResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| FaceError::Io(dir.display().to_string(), e))?;
        let damaged = |why: String| FaceError::Damaged {
            path: dir.display().to_string(),
            why,
        };
        check_seal(dir)?;
        let existed = dir.join(DATA_FILE).exists();
        let mut opts = EnvOpenOptions::new();
        opts.map_size(params.map_size).max_dbs(4);
        // SAFETY: LMDB requires that the file is not opened twice in one
        // process nor modified behind its back; heed refuses a second open
        // of the same path, and the directory is this index's own.
        #[allow(unsafe_code)]
        let env = match unsafe { opts.open(dir) } {
            Ok(env) => env,
            Err(heed::Error::Mdb(
                e @ (heed::MdbError::Invalid
                | heed::MdbError::Corrupted
                | heed::MdbError::PageNotFound
                | heed::MdbError::VersionMismatch),
            )) if existed => return Err(damaged(e.to_string())),
            Err(e) => return Err(e.into()),
        };
        // cut short: pages past the end would fault when mapped
        let len = std::fs::metadata(dir.join(DATA_FILE))
            .map_err(|e| FaceError::Io(dir.display().to_string(), e))?
            .len();
        let last_page = env.info().last_page_number as u64;
        if len < (last_page + 1) * PAGE_MIN {
            return Err(damaged(format!(
                "{DATA_FILE} is {len} bytes, its last page ({last_page}) ends past that"
            )));
        }
        let wtxn = env.write_txn()?;
        let (vectors, items, meta) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                let v: hannoy::Database<'_, Cosine> = dbo.create_database(wtxn, Some("vectors"))?;
                let i: heed::Database<'_, U32<BigEndian>, Bytes> =
                    dbo.create_database(wtxn, Some("items"))?;
                let m: heed::Database<'_, Str, Bytes> = dbo.create_database(wtxn, Some("meta"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((v, i, m)))
            })?
            .unwrap_commit();
        let mut state = State::default();
        {
            let rtxn = env.read_txn()?;
            if let Some(b) = meta.get(&rtxn, DIMENSION)?
                && let Ok(a) = <[u8; 8]>::try_from(b)
                && u64::from_be_bytes(a) as usize != dim
            {
                return Err(FaceError::Dimension {
                    path: dir.display().to_string(),
                    found: u64::from_be_bytes(a) as usize,
                    expected: dim,
                });
            }
            for row in items.iter(&rtxn).map_err(|e| damaged_lmdb(dir, e))? {
                let (id, info) = row.map_err(|e| damaged_lmdb(dir, e))?;
                let info = ItemInfo::decode(info)
                    .ok_or_else(|| damaged(format!("item {id} does not decode")))?;
                state.index(id, info);
                state.built.insert(id);
            }
            state.next = match meta.get(&rtxn, NEXT_ITEM)? {
                Some(b) => <[u8; 4]>::try_from(b).map(u32::from_be_bytes).unwrap_or(0),
                None => 0,
            };
            state.checkpoint = meta
                .get(&rtxn, CHECKPOINT)?
                .map(|b| String::from_utf8_lossy(b).into_owned());
        }
        Ok(Self {
            env,
            vectors,
            items,
            meta,
            dim,
            params,
            state: RwLock::new(state),
            committing: Mutex::new(()),
            dir: dir.to_owned(),
            dirty: AtomicBool::new(false),
        })
    }

    /// Before the first write since the open: the seal goes, durably.
    fn unseal(&self) -> FaceResult<()> {
        if !self.dirty.swap(true, Ordering::SeqCst) {
            let io = |e| FaceError::Io(self.dir.display().to_string(), e);
            match std::fs::remove_file(self.dir.join(SEAL_FILE)) {
                Ok(()) => sync_dir(&self.dir).map_err(io)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.dirty.store(false, Ordering::SeqCst);
                    return Err(io(e));
                }
            }
        }
        Ok(())
    }

    /// Seals the index if this process wrote to it (see the module docs):
    /// call when no more writes follow; closing does it too. Reads the
    /// whole data file once.
    pub fn seal(&self) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        if !self.dirty.load(Ordering::SeqCst) {
            return Ok(());
        }
        let io = |e| FaceError::Io(self.dir.display().to_string(), e);
        self.env.force_sync()?;
        let (len, crc) = file_crc(&self.dir.join(DATA_FILE)).map_err(io)?;
        let tmp = self.dir.join(format!("{SEAL_FILE}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            writeln!(f, "{SEAL_MAGIC}\n{len}\n{crc:08x}").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, self.dir.join(SEAL_FILE)).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        self.dirty.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Changes the search breadth (recall against speed) from now on.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef.max(1);
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
        s.next += 1;
        s.index(
            id,
            ItemInfo {
                entity: entity.into(),
                scope: scope.into(),
            },
        );
        s.staged.push((id, v));
        Ok(id)
    }

    /// Deletes every vector of `entity`; returns how many.
    pub fn remove(&self, entity: &str) -> usize {
        let mut s = self.write();
        let Some(ids) = s.by_entity.remove(entity) else {
            return 0;
        };
        for id in &ids {
            s.unindex(*id);
            if s.built.remove(*id) {
                s.deleted.insert(*id);
            }
        }
        s.staged.retain(|(id, _)| !ids.contains(id));
        ids.len()
    }

    /// How many vectors represent `entity`.
    pub fn representatives(&self, entity: &str) -> usize {
        self.read().by_entity.get(entity).map_or(0, Vec::len)
    }

    /// The vectors of `entity` (normalised).
    pub fn vectors_of(&self, entity: &str) -> FaceResult<Vec<Vec<f32>>> {
        let (ids, staged): (Vec<u32>, Vec<Vec<f32>>) = {
            let s = self.read();
            let ids = s.by_entity.get(entity).cloned().unwrap_or_default();
            let staged = s
                .staged
                .iter()
                .filter(|(id, _)| ids.contains(id))
                .map(|(_, v)| v.clone())
                .collect();
            (ids, staged)
        };
        let mut out = staged;
        let rtxn = self.env.read_txn()?;
        if let Ok(reader) = Reader::open(&rtxn, 0, self.vectors) {
            for id in ids {
                if let Some(v) = reader.item_vector(&rtxn, id)? {
                    out.push(v);
                }
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
        let mut best: HashMap<Arc<str>, f32> = HashMap::new();
        let mut note = |e: &Arc<str>, score: f32| {
            if score >= min_score {
                let b = best.entry(e.clone()).or_insert(f32::MIN);
                *b = b.max(score);
            }
        };
        // snapshot what the graph may return, then search without the lock
        let candidates = {
            let s = self.read();
            let allowed = s.allowed(filter);
            for (id, v) in &s.staged {
                if allowed.as_ref().is_none_or(|a| a.contains(*id))
                    && let Some(info) = s.items.get(id)
                {
                    note(&info.entity, dot(&q, v));
                }
            }
            let mut c = s.built.clone();
            if let Some(a) = &allowed {
                c &= a;
            }
            c
        };
        if !candidates.is_empty() {
            let rtxn = self.env.read_txn()?;
            match Reader::open(&rtxn, 0, self.vectors) {
                Ok(reader) if candidates.len() <= self.params.exact_below => {
                    let scored: Vec<(u32, f32)> = candidates
                        .iter()
                        .filter_map(|id| match reader.item_vector(&rtxn, id) {
                            Ok(Some(v)) => Some(Ok((id, dot(&q, &v)))),
                            Ok(None) => None,
                            Err(e) => Some(Err(e)),
                        })
                        .collect::<Result<_, _>>()?;
                    let s = self.read();
                    for (id, score) in scored {
                        if let Some(info) = s.items.get(&id) {
                            note(&info.entity, score);
                        }
                    }
                }
                Ok(reader) => {
                    // an entity may own several vectors: ask for more
                    let want = (k * 4).max(16);
                    let mut nns = reader.nns(want);
                    nns.ef_search(self.params.ef_search.max(want))
                        .candidates(&candidates);
                    let found = nns.by_vector(&rtxn, &q)?.into_nns();
                    let s = self.read();
                    for (id, d) in found {
                        if let Some(info) = s.items.get(&id) {
                            // hannoy's cosine distance is (1 − cos) / 2
                            note(&info.entity, 1.0 - 2.0 * d);
                        }
                    }
                }
                Err(hannoy::Error::MissingMetadata { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(top_k(
            best.into_iter().map(|(e, s)| (e.to_string(), s)).collect(),
            k,
        ))
    }

    /// Writes what is staged (vectors, deletes), links the new vectors into
    /// the HNSW graph and records `checkpoint`, in one transaction.
    pub fn commit(&self, checkpoint: &str) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        let (staged, deleted, next, infos) = {
            let s = self.read();
            let infos: Vec<(u32, Vec<u8>)> = s
                .staged
                .iter()
                .filter_map(|(id, _)| s.items.get(id).map(|i| (*id, i.encode())))
                .collect();
            (s.staged.clone(), s.deleted.clone(), s.next, infos)
        };
        self.unseal()?;
        let mut wtxn = self.env.write_txn()?;
        let writer = Writer::new(self.vectors, 0, self.dim);
        for id in &deleted {
            writer.del_item(&mut wtxn, id)?;
            self.items.delete(&mut wtxn, &id)?;
        }
        for (id, v) in &staged {
            writer.add_item(&mut wtxn, *id, v)?;
        }
        for (id, info) in &infos {
            self.items.put(&mut wtxn, id, info)?;
        }
        self.meta.put(&mut wtxn, NEXT_ITEM, &next.to_be_bytes())?;
        self.meta
            .put(&mut wtxn, DIMENSION, &(self.dim as u64).to_be_bytes())?;
        self.meta
            .put(&mut wtxn, CHECKPOINT, checkpoint.as_bytes())?;
        if writer.need_build(&wtxn)? {
            let mut rng = rand10::rngs::StdRng::seed_from_u64(0x616e6a75);
            writer
                .builder(&mut rng)
                .ef_construction(self.params.ef_construction)
                .alpha(self.params.alpha)
                .build::<M, M0>(&mut wtxn)?;
        }
        wtxn.commit()?;
        let mut s = self.write();
        let done: RoaringBitmap = staged.iter().map(|(id, _)| *id).collect();
        // an item deleted while the commit ran is in `deleted` again
        s.staged.retain(|(id, _)| !done.contains(*id));
        for id in &done {
            if s.items.contains_key(&id) {
                s.built.insert(id);
            } else {
                s.deleted.insert(id);
            }
        }
        s.deleted -= &deleted;
        s.checkpoint = Some(checkpoint.to_owned());
        Ok(())
    }

    /// Deletes everything (for a rebuild); committed at once.
    pub fn clear(&self) -> FaceResult<()> {
        let _one = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        self.unseal()?;
        let mut wtxn = self.env.write_txn()?;
        Writer::new(self.vectors, 0, self.dim).clear(&mut wtxn)?;
        self.items.clear(&mut wtxn)?;
        self.meta.clear(&mut wtxn)?;
        wtxn.commit()?;
        *self.write() = State::default();
        Ok(())
    }

    pub fn stats(&self) -> FaceStats {
        let s = self.read();
        let bytes_on_disk = self.env.real_disk_size().unwrap_or(0);
        FaceStats {
            entities: s.by_entity.len(),
            vectors: s.items.len(),
            staged: s.staged.len(),
            bytes_on_disk,
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

    #[test]
    fn staged_and_committed_vectors_answer_alike_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let vs = random(300, 32, 1);
        let ann = FaceParams {
            exact_below: 0,
            ..FaceParams::default()
        };
        {
            let idx = FaceIndex::open(dir.path(), 32, ann).unwrap();
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
            // staged: found exhaustively
            let hit = &idx.search(&vs[7], 1, 0.0, &FaceFilter::default()).unwrap()[0];
            assert_eq!(hit.entity, "person:3");
            assert!((hit.score - 1.0).abs() < 1e-5);
            idx.commit("7").unwrap();
            assert_eq!(idx.stats().staged, 0);
            let hit = &idx.search(&vs[7], 1, 0.0, &FaceFilter::default()).unwrap()[0];
            assert_eq!(hit.entity, "person:3");
            assert_eq!(idx.representatives("person:3"), 2);
            // uncommitted work is lost with the process
            idx.add("person:new", "c1", &vs[0]).unwrap();
        }
        let idx = FaceIndex::open(dir.path(), 32, ann).unwrap();
        assert_eq!(idx.checkpoint().as_deref(), Some("7"));
        assert_eq!(idx.representatives("person:new"), 0);
        assert_eq!(idx.stats().vectors, 300);
        assert_eq!(idx.vectors_of("person:3").unwrap().len(), 2);
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
        assert!(!in_c2.is_empty());
        assert!(
            in_c2
                .iter()
                .all(|h| h.entity != "person:3" || vs[6..8].len() == 2)
        );
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
        let idx = FaceIndex::open(dir.path(), 16, FaceParams::default()).unwrap();
        let vs = random(50, 16, 2);
        for (i, v) in vs.iter().enumerate() {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
        }
        idx.commit("a").unwrap();
        assert_eq!(idx.remove("person:4"), 1);
        let hits = idx.search(&vs[4], 3, -1.0, &FaceFilter::default()).unwrap();
        assert!(hits.iter().all(|h| h.entity != "person:4"));
        idx.commit("b").unwrap();
        drop(idx);
        let idx = FaceIndex::open(dir.path(), 16, FaceParams::default()).unwrap();
        let hits = idx.search(&vs[4], 3, -1.0, &FaceFilter::default()).unwrap();
        assert!(hits.iter().all(|h| h.entity != "person:4"));
        assert_eq!(idx.stats().vectors, 49);
        idx.clear().unwrap();
        assert!(
            idx.search(&vs[4], 3, -1.0, &FaceFilter::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn recall_at_10_against_exact_search() {
        let (n, dim) = (4000, 64);
        let dir = tempfile::tempdir().unwrap();
        // the graph answers (no exact scans of small candidate sets)
        let ann = FaceParams {
            exact_below: 0,
            ..FaceParams::default()
        };
        let idx = FaceIndex::open(dir.path(), dim, ann).unwrap();
        let mut exact = ExactIndex::new(dim);
        let vs = random(n, dim, 3);
        for (i, v) in vs.iter().enumerate() {
            let e = format!("person:{i}");
            idx.add(&e, "c", v).unwrap();
            exact.insert(&e, &feature(v)).unwrap();
            // committed in a few increments, as ingest does
            if i % 1500 == 1499 {
                idx.commit(&i.to_string()).unwrap();
            }
        }
        let queries = random(200, dim, 4);
        let recall = |idx: &FaceIndex| {
            let mut found = 0;
            for q in &queries {
                let truth: Vec<String> = exact
                    .search(&feature(q), 10, -1.0)
                    .unwrap()
                    .into_iter()
                    .map(|h| h.entity)
                    .collect();
                let got = idx.search(q, 10, -1.0, &FaceFilter::default()).unwrap();
                found += got.iter().filter(|h| truth.contains(&h.entity)).count();
            }
            found as f64 / (queries.len() * 10) as f64
        };
        let r = recall(&idx);
        assert!(r >= 0.95, "recall@10 {r}");
        // below `exact_below` candidates the answer is exact
        idx.commit("all").unwrap();
        drop(idx);
        let scan = FaceParams {
            exact_below: n as u64,
            ..FaceParams::default()
        };
        let idx = FaceIndex::open(dir.path(), dim, scan).unwrap();
        assert_eq!(recall(&idx), 1.0);
    }
}
