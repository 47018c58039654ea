//! The RocksDB store of record.
//!
//! Column families:
//! * `meta`    — format version, counters, the next log sequence number
//! * `base`    — (kind tag, key) → base record
//! * `events`  — event id → event (stored once: first arrival wins)
//! * `log`     — sequence (u64 BE) → event id, the order of arrival
//! * `pending` — (target kind, target key, referrer) → (): references to base
//!   data not seen yet; removed when the target arrives
//! * `blog`    — sequence (u64 BE) → base key: the order in which base records
//!   were accepted (new or changed), the projections' checkpoint order for
//!   base data
//! * `attr`    — (event key, slot) → node: who a face feature was attributed
//!   to when no id named the person (kept across rebuilds, so a rebuild
//!   reproduces what was decided), and stranger-archive merges
//!
//! Derived state (cleared and recomputed by a rebuild): `tl` (timelines),
//! `acc` (co-occurrence evidence), `dstate` (indexes, checkpoints) — see
//! [`crate::project`] — and `gnode`/`gedge`, the embedded relation store
//! ([`crate::RocksGraph`]).
//!
//! Invariants (checked by [`RocksStore::check`]):
//! * every event is in `events` once and in `log` once;
//! * a pending entry exists exactly when its target is not in `base`;
//! * the counters equal what the column families hold.
//!
//! One batch of records is one RocksDB `WriteBatch`, written with `sync` before
//! the call returns: a batch is durable and whole, or absent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use model::{BaseKind, BaseRecord, BaseRef, Event, EventKind, Record};
use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType,
    Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use sha2::{Digest, Sha256};

use crate::keys::{KeyBuf, KeyReader};
use crate::{Error, Result};

/// The on-disk format this build reads and writes.
/// 3: unmatched faces are attributed to stranger archives (recorded
/// attributions of format 2 say "nobody").
pub const FORMAT: &str = "anju-store/4";
/// The format before events were keyed by (id, device); opened read-write,
/// such a store is rewritten in place ([`crate::migrate`]).
pub(crate) const FORMAT_3: &str = "anju-store/3";

const CF_META: &str = "meta";
const CF_BASE: &str = "base";
const CF_EVENTS: &str = "events";
const CF_LOG: &str = "log";
const CF_PENDING: &str = "pending";
const CF_BLOG: &str = "blog";
pub(crate) const CF_ATTR: &str = "attr";
pub(crate) const CF_TL: &str = "tl";
pub(crate) const CF_ACC: &str = "acc";
pub(crate) const CF_DSTATE: &str = "dstate";
pub(crate) const CF_GNODE: &str = "gnode";
pub(crate) const CF_GEDGE: &str = "gedge";
/// Records the platform itself keeps (alerts and their workflow, watch
/// lists, checkpoints of the real-time rules): store of record, not derived.
const CF_APP: &str = "app";
const ALL_CFS: [&str; 13] = [
    CF_META, CF_BASE, CF_EVENTS, CF_LOG, CF_PENDING, CF_BLOG, CF_ATTR, CF_TL, CF_ACC, CF_DSTATE,
    CF_GNODE, CF_GEDGE, CF_APP,
];
/// What a rebuild clears: everything derived from the store of record.
pub(crate) const DERIVED_CFS: [&str; 5] = [CF_TL, CF_ACC, CF_DSTATE, CF_GNODE, CF_GEDGE];

const META_FORMAT: &[u8] = b"format";
const META_SEQ: &[u8] = b"seq";
const META_BSEQ: &[u8] = b"bseq";
const COUNTER_PREFIX: &str = "c/";
const PENDING_COUNTER: &str = "pending";

/// Base kinds that other records refer to; their keys are kept in memory so
/// that resolving a reference costs no read.
const REFERENCED: [BaseKind; 6] = [
    BaseKind::Region,
    BaseKind::Community,
    BaseKind::House,
    BaseKind::Person,
    BaseKind::Device,
    BaseKind::Card,
];

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Sync every batch to disk before acknowledging it. Only benchmarks of
    /// the write path without fsync turn this off.
    pub sync: bool,
    /// Block cache size in MiB.
    pub cache_mb: usize,
    /// Memtable size per column family in MiB. After a full disk, writes
    /// resume once this much space is free again.
    pub memtable_mb: usize,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sync: true,
            cache_mb: 256,
            memtable_mb: 64,
        }
    }
}

pub use model::WriteOutcome;

/// Outcomes of one batch, in record order.
pub type BatchOutcome = Vec<WriteOutcome>;

/// What the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub format: String,
    pub base: BTreeMap<String, u64>,
    pub events: BTreeMap<String, u64>,
    /// References waiting for their base record.
    pub pending_references: u64,
    /// Distinct missing base records, per kind.
    pub missing_targets: BTreeMap<String, u64>,
    pub log_length: u64,
    pub disk_bytes: u64,
}

impl StoreStats {
    pub fn n_events(&self) -> u64 {
        self.events.values().sum()
    }
}

/// Result of a full consistency check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub n_events: u64,
    pub n_base: u64,
    pub n_pending: u64,
    pub problems: Vec<String>,
}

/// Base-kind tag in keys: the kind's position in [`BaseKind::ALL`].
fn kind_tag(kind: BaseKind) -> u8 {
    BaseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

fn kind_of_tag(tag: u8) -> Option<BaseKind> {
    BaseKind::ALL.get(tag as usize).copied()
}

pub(crate) fn base_key(kind: BaseKind, key: &str) -> Vec<u8> {
    KeyBuf::new().tag(kind_tag(kind)).str(key).into_bytes()
}

/// An event's key: its id, then its source device. Ids are unique per
/// source (the contract), so one source cannot pre-empt another's ids, and
/// the id leads so that every event of an id is one prefix.
pub(crate) fn event_key(id: &str, device: &str) -> Vec<u8> {
    KeyBuf::new().str(id).str(device).into_bytes()
}

/// The prefix of the keys of every event with this id.
fn event_id_prefix(id: &str) -> Vec<u8> {
    KeyBuf::new().str(id).into_bytes()
}

fn pending_prefix(target: &BaseRef) -> Vec<u8> {
    KeyBuf::new()
        .tag(kind_tag(target.kind))
        .str(&target.key)
        .into_bytes()
}

/// A pending entry: the target, then which record refers to it
/// (`b` + base key or `e` + event key).
fn pending_key(target: &BaseRef, referrer: &[u8]) -> Vec<u8> {
    KeyBuf::new()
        .tag(kind_tag(target.kind))
        .str(&target.key)
        .raw(referrer)
        .into_bytes()
}

/// A pending entry's key split into its target part and its referrer.
pub(crate) fn split_pending(key: &[u8]) -> Result<(&[u8], &[u8])> {
    let mut r = KeyReader::new(key);
    r.tag().and_then(|_| r.str()).map_err(|e| Error::Corrupt {
        key: format!("{key:02x?}"),
        why: e.to_string(),
    })?;
    let at = key.len() - r.rest().len();
    Ok(key.split_at(at))
}

fn decode_pending(key: &[u8]) -> Result<(BaseRef, Vec<u8>)> {
    let corrupt = |why: String| Error::Corrupt {
        key: format!("{key:02x?}"),
        why,
    };
    let mut r = KeyReader::new(key);
    let tag = r.tag().map_err(|e| corrupt(e.to_string()))?;
    let kind = kind_of_tag(tag).ok_or_else(|| corrupt(format!("unknown kind tag {tag}")))?;
    let target = r.str().map_err(|e| corrupt(e.to_string()))?;
    Ok((BaseRef::new(kind, target), r.rest().to_vec()))
}

fn counter_name_base(kind: BaseKind) -> String {
    format!("base/{}", kind.as_str())
}

fn counter_name_event(kind: EventKind) -> String {
    format!("event/{}", kind.as_str())
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| Error::Storage(format!("encode: {e}")))
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        why: e.to_string(),
    })
}

/// The store of record on RocksDB. One process opens it read-write (RocksDB's
/// lock file enforces it); any number may open it read-only.
pub struct RocksStore {
    db: Arc<DB>,
    path: PathBuf,
    read_only: bool,
    sync: bool,
    /// What writes keep in memory, behind one lock: a write holds it from
    /// building its batch to the synced commit, so readers never see
    /// counters or log lengths ahead of the disk — and readers need no lock
    /// on the store itself (`write` takes `&self`).
    state: Mutex<WriteState>,
}

/// The in-memory state of the write path.
#[derive(Debug, Default)]
struct WriteState {
    poisoned: bool,
    counters: BTreeMap<String, u64>,
    next_seq: u64,
    next_bseq: u64,
    known: HashMap<BaseKind, HashSet<Box<str>>>,
    pending_targets: HashMap<BaseRef, u64>,
}

impl WriteState {
    fn is_known(&self, r: &BaseRef) -> bool {
        self.known
            .get(&r.kind)
            .is_some_and(|s| s.contains(r.key.as_str()))
    }

    fn add_pending(&mut self, tx: &mut Tx, target: BaseRef, referrer: &[u8]) {
        let k = pending_key(&target, referrer);
        tx.pending.insert(k, true);
        *self.counters.entry(PENDING_COUNTER.into()).or_default() += 1;
        tx.counters_dirty = true;
        *self.pending_targets.entry(target).or_default() += 1;
    }

    fn remove_pending(&mut self, tx: &mut Tx, target: &BaseRef, referrer: &[u8]) {
        tx.pending.insert(pending_key(target, referrer), false);
        self.dec_pending(target, 1);
        tx.counters_dirty = true;
    }

    fn dec_pending(&mut self, target: &BaseRef, n: u64) {
        let c = self.counters.entry(PENDING_COUNTER.into()).or_default();
        *c = c.saturating_sub(n);
        if let Some(t) = self.pending_targets.get_mut(target) {
            *t = t.saturating_sub(n);
            if *t == 0 {
                self.pending_targets.remove(target);
            }
        }
    }
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish()
    }
}

fn db_options(cfg: &StoreConfig) -> (Options, Options) {
    let mut db = Options::default();
    db.create_if_missing(true);
    db.create_missing_column_families(true);
    db.increase_parallelism(2);
    db.set_max_background_jobs(2);
    db.set_keep_log_file_num(3);
    // `meta` is written by every batch but holds a few keys, so its memtable
    // never fills: without a cap, it would pin every write-ahead log file.
    db.set_max_total_wal_size(128 << 20);
    // a record torn by a crash at the log's end was never acknowledged and is
    // dropped; damage anywhere before it refuses the open (the default,
    // point-in-time recovery, would silently drop acknowledged batches)
    db.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
    db.set_paranoid_checks(true);
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(&Cache::new_lru_cache(cfg.cache_mb << 20));
    table.set_cache_index_and_filter_blocks(true);
    // filters and indexes in 4 KiB partitions under a pinned top level: a
    // whole-file filter of a 64 MiB table is megabytes, and once the cache
    // evicts it every point lookup read and checksummed it again (perf: 75%
    // of projecting a million-person register went to that)
    table.set_partition_filters(true);
    table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_metadata_block_size(4096);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    table.set_pin_top_level_index_and_filter(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut cf = Options::default();
    cf.set_block_based_table_factory(&table);
    cf.set_compression_type(DBCompressionType::Lz4);
    cf.set_bottommost_compression_type(DBCompressionType::Zstd);
    cf.set_write_buffer_size(cfg.memtable_mb.max(1) << 20);
    cf.set_level_compaction_dynamic_level_bytes(true);
    (db, cf)
}

/// A column family's options: the common ones, and for events their values
/// apart from the keys. Event ids lead with the device, so each batch lands
/// all over the key space and compactions rewrite the family again and
/// again (perf: half the CPU of a 24M-event ingest, most of it compressing);
/// with the values (a face event's feature is most of its bytes) in blob
/// files written once, compactions move keys and references only.
fn cf_options(name: &str, common: &Options) -> Options {
    let mut cf = common.clone();
    if name == CF_EVENTS {
        cf.set_enable_blob_files(true);
        cf.set_min_blob_size(256);
        cf.set_blob_file_size(256 << 20);
        cf.set_blob_compression_type(DBCompressionType::Lz4);
        // events are written once and never overwritten: nothing to collect
        cf.set_enable_blob_gc(false);
    }
    cf
}

/// Where a read-write open records who holds the store (read when another
/// open finds it locked).
const HOLDER_FILE: &str = "HOLDER";

fn classify_open_error(path: &Path, e: rocksdb::Error) -> Error {
    let msg = e.into_string();
    if msg.contains("lock file") || msg.contains("LOCK") {
        Error::Locked {
            path: path.to_owned(),
            holder: std::fs::read_to_string(path.join(HOLDER_FILE))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        }
    } else {
        Error::Storage(msg)
    }
}

impl RocksStore {
    /// Opens (creating if needed) the store read-write.
    pub fn open(cfg: &StoreConfig) -> Result<Self> {
        let (db_opts, cf_opts) = db_options(cfg);
        let cfs = ALL_CFS.map(|n| ColumnFamilyDescriptor::new(n, cf_options(n, &cf_opts)));
        let db = DB::open_cf_descriptors(&db_opts, &cfg.path, cfs)
            .map_err(|e| classify_open_error(&cfg.path, e))?;
        // who holds it, for the next process that finds it locked
        let me = format!(
            "pid {}: {}",
            std::process::id(),
            std::env::args()
                .map(|a| {
                    std::path::Path::new(&a)
                        .file_name()
                        .map_or(a.clone(), |f| f.to_string_lossy().into_owned())
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let _ = std::fs::write(cfg.path.join(HOLDER_FILE), me);
        let mut store = Self::new(db, cfg, false);
        store.check_format(true)?;
        store.load_state()?;
        Ok(store)
    }

    /// Opens an existing store read-only (works while another process holds it
    /// read-write; sees what was durable when it opened).
    pub fn open_read_only(cfg: &StoreConfig) -> Result<Self> {
        if !cfg.path.join("CURRENT").exists() {
            return Err(Error::Missing {
                path: cfg.path.clone(),
            });
        }
        let (db_opts, cf_opts) = db_options(cfg);
        // a store written by an older build may lack a family added since
        let existing = DB::list_cf(&db_opts, &cfg.path).unwrap_or_default();
        let cfs = ALL_CFS
            .iter()
            .filter(|n| existing.is_empty() || existing.iter().any(|e| e == *n))
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n, &cf_opts)));
        let db = DB::open_cf_descriptors_read_only(&db_opts, &cfg.path, cfs, false)
            .map_err(|e| classify_open_error(&cfg.path, e))?;
        let mut store = Self::new(db, cfg, true);
        store.check_format(false)?;
        store.load_counters()?;
        Ok(store)
    }

    fn new(db: DB, cfg: &StoreConfig, read_only: bool) -> Self {
        Self {
            db: Arc::new(db),
            path: cfg.path.clone(),
            read_only,
            sync: cfg.sync,
            state: Mutex::new(WriteState::default()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn cf_handle(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.cf(name)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // every family is created at open
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn check_format(&mut self, writable: bool) -> Result<()> {
        match self.db.get_cf(self.cf(CF_META), META_FORMAT)? {
            Some(v) if v == FORMAT.as_bytes() => Ok(()),
            Some(v) if v == FORMAT_3.as_bytes() && writable => {
                crate::migrate::events_by_source(self)?;
                let mut wo = WriteOptions::default();
                wo.set_sync(true);
                self.db
                    .put_cf_opt(self.cf(CF_META), META_FORMAT, FORMAT, &wo)?;
                Ok(())
            }
            Some(v) => Err(Error::Incompatible {
                path: self.path.clone(),
                found: String::from_utf8_lossy(&v).into_owned(),
                expected: FORMAT,
            }),
            None => {
                let empty = ALL_CFS.iter().all(|cf| {
                    self.db
                        .iterator_cf(self.cf(cf), IteratorMode::Start)
                        .next()
                        .is_none()
                });
                if !empty {
                    return Err(Error::Incompatible {
                        path: self.path.clone(),
                        found: "(no format)".into(),
                        expected: FORMAT,
                    });
                }
                if writable {
                    let mut wo = WriteOptions::default();
                    wo.set_sync(true);
                    self.db
                        .put_cf_opt(self.cf(CF_META), META_FORMAT, FORMAT, &wo)?;
                }
                Ok(())
            }
        }
    }

    /// Counters and log sequences as the disk has them.
    fn read_counters(&self) -> Result<(BTreeMap<String, u64>, u64, u64)> {
        let meta = self.cf(CF_META);
        let mut counters = BTreeMap::new();
        for item in self.db.prefix_iterator_cf(meta, COUNTER_PREFIX) {
            let (k, v) = item?;
            let Some(name) = k.strip_prefix(COUNTER_PREFIX.as_bytes()) else {
                break;
            };
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                why: "counter is not 8 bytes".into(),
            })?;
            counters.insert(
                String::from_utf8_lossy(name).into_owned(),
                u64::from_le_bytes(bytes),
            );
        }
        let read_seq = |key: &[u8]| -> Result<u64> {
            Ok(match self.db.get_cf(meta, key)? {
                Some(v) => u64::from_le_bytes(v.as_slice().try_into().unwrap_or([0; 8])),
                None => 0,
            })
        };
        Ok((counters, read_seq(META_SEQ)?, read_seq(META_BSEQ)?))
    }

    fn load_counters(&mut self) -> Result<()> {
        let (counters, seq, bseq) = self.read_counters()?;
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        st.counters = counters;
        st.next_seq = seq;
        st.next_bseq = bseq;
        Ok(())
    }

    /// The write path's state as the disk has it: counters, the keys of
    /// referenced base kinds and the pending targets.
    fn read_state(&self) -> Result<WriteState> {
        let (counters, next_seq, next_bseq) = self.read_counters()?;
        let mut known: HashMap<BaseKind, HashSet<Box<str>>> =
            REFERENCED.iter().map(|k| (*k, HashSet::new())).collect();
        for kind in REFERENCED {
            let prefix = [kind_tag(kind)];
            for item in self.db.prefix_iterator_cf(self.cf(CF_BASE), prefix) {
                let (k, _) = item?;
                if k.first() != Some(&prefix[0]) {
                    break;
                }
                let mut r = KeyReader::new(&k[1..]);
                let key = r.str().map_err(|e| Error::Corrupt {
                    key: format!("{k:02x?}"),
                    why: e.to_string(),
                })?;
                known.entry(kind).or_default().insert(key.into_boxed_str());
            }
        }
        let mut pending_targets: HashMap<BaseRef, u64> = HashMap::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_PENDING), IteratorMode::Start)
        {
            let (k, _) = item?;
            let (target, _) = decode_pending(&k)?;
            *pending_targets.entry(target).or_default() += 1;
        }
        Ok(WriteState {
            poisoned: false,
            counters,
            next_seq,
            next_bseq,
            known,
            pending_targets,
        })
    }

    fn load_state(&mut self) -> Result<()> {
        let st = self.read_state()?;
        *self.state.get_mut().unwrap_or_else(|p| p.into_inner()) = st;
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriteState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a batch atomically and durably; returns one outcome per record.
    pub fn write(&self, records: &[Record]) -> Result<BatchOutcome> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let mut st = self.state();
        if st.poisoned {
            // The last write failed (a full disk, say) after the in-memory
            // state was updated for it: read the state again from what the
            // disk holds. A batch is atomic in RocksDB, so the disk holds
            // all of the failed batch or none of it.
            *st = self.read_state()?;
        }
        st.poisoned = true;
        let outcomes = self.write_inner(&mut st, records)?;
        st.poisoned = false;
        Ok(outcomes)
    }

    fn write_inner(&self, st: &mut WriteState, records: &[Record]) -> Result<BatchOutcome> {
        let mut tx = Tx::default();
        // One multi-get for every event of the batch: is it already stored?
        let event_keys: Vec<Vec<u8>> = records
            .iter()
            .filter_map(|r| {
                if let Record::Event(e) = r {
                    Some(event_key(e.id.as_str(), e.device.as_str()))
                } else {
                    None
                }
            })
            .collect();
        let stored: Vec<Option<Vec<u8>>> = self
            .db
            .batched_multi_get_cf(self.cf(CF_EVENTS), &event_keys, false)
            .into_iter()
            .map(|r| r.map(|o| o.map(|s| s.to_vec())))
            .collect::<Result<_, _>>()?;
        let mut stored = event_keys.into_iter().zip(stored);

        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            let outcome = match record {
                Record::Event(e) => {
                    let (key, prior) = stored.next().expect("one prefetched key per event");
                    self.write_event(st, &mut tx, e, key, prior)?
                }
                Record::Base(b) => self.write_base(st, &mut tx, b)?,
            };
            outcomes.push(outcome);
        }
        self.commit(st, tx)?;
        Ok(outcomes)
    }

    fn write_event(
        &self,
        st: &mut WriteState,
        tx: &mut Tx,
        e: &Event,
        key: Vec<u8>,
        prior: Option<Vec<u8>>,
    ) -> Result<WriteOutcome> {
        let value = encode(e)?;
        if let Some(old) = tx.events.get(&key).or(prior.as_ref()) {
            return Ok(if *old == value {
                WriteOutcome::Duplicate
            } else {
                WriteOutcome::Conflict
            });
        }
        tx.batch.put_cf(self.cf(CF_EVENTS), &key, &value);
        tx.batch
            .put_cf(self.cf(CF_LOG), st.next_seq.to_be_bytes(), &key);
        st.next_seq += 1;
        *st.counters.entry(counter_name_event(e.kind())).or_default() += 1;
        tx.counters_dirty = true;
        let referrer = [b"e".as_slice(), &key].concat();
        for r in e.references() {
            if !st.is_known(&r) {
                st.add_pending(tx, r, &referrer);
            }
        }
        tx.events.insert(key, value);
        Ok(WriteOutcome::Accepted)
    }

    fn write_base(&self, st: &mut WriteState, tx: &mut Tx, b: &BaseRecord) -> Result<WriteOutcome> {
        let kind = b.kind();
        let record_key = b.key();
        let key = base_key(kind, &record_key);
        let old: Option<BaseRecord> = match tx.base.get(&key) {
            Some(r) => Some(r.clone()),
            None => match self.db.get_cf(self.cf(CF_BASE), &key)? {
                Some(bytes) => Some(decode(&key, &bytes)?),
                None => None,
            },
        };
        if old.as_ref() == Some(b) {
            return Ok(WriteOutcome::Duplicate);
        }
        let referrer = [b"b".as_slice(), &key].concat();
        match &old {
            Some(old) => {
                for r in old.references() {
                    if !st.is_known(&r) {
                        st.remove_pending(tx, &r, &referrer);
                    }
                }
            }
            None => {
                *st.counters.entry(counter_name_base(kind)).or_default() += 1;
                tx.counters_dirty = true;
            }
        }
        tx.batch.put_cf(self.cf(CF_BASE), &key, encode(b)?);
        tx.batch
            .put_cf(self.cf(CF_BLOG), st.next_bseq.to_be_bytes(), &key);
        st.next_bseq += 1;
        tx.counters_dirty = true;
        for r in b.references() {
            if !st.is_known(&r) {
                st.add_pending(tx, r, &referrer);
            }
        }
        if old.is_none()
            && let Some(set) = st.known.get_mut(&kind)
        {
            set.insert(record_key.clone().into_boxed_str());
            self.resolve(st, tx, &BaseRef::new(kind, record_key))?;
        }
        tx.base.insert(key, b.clone());
        Ok(WriteOutcome::Accepted)
    }

    /// A base record arrived: every reference waiting for it is resolved.
    fn resolve(&self, st: &mut WriteState, tx: &mut Tx, target: &BaseRef) -> Result<()> {
        if !st.pending_targets.contains_key(target) {
            return Ok(());
        }
        let prefix = pending_prefix(target);
        let mut keys = BTreeSet::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_PENDING),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if tx.pending.get(k.as_ref()) != Some(&false) {
                keys.insert(k.to_vec());
            }
        }
        for (k, present) in tx.pending.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            if *present {
                keys.insert(k.clone());
            }
        }
        let n = keys.len() as u64;
        for k in keys {
            tx.pending.insert(k, false);
        }
        st.dec_pending(target, n);
        st.pending_targets.remove(target);
        tx.counters_dirty = true;
        Ok(())
    }

    fn commit(&self, st: &WriteState, mut tx: Tx) -> Result<()> {
        let pending_cf = self.cf(CF_PENDING);
        for (k, present) in &tx.pending {
            if *present {
                tx.batch.put_cf(pending_cf, k, []);
            } else {
                tx.batch.delete_cf(pending_cf, k);
            }
        }
        if tx.counters_dirty {
            let meta = self.cf(CF_META);
            for (name, n) in &st.counters {
                tx.batch
                    .put_cf(meta, format!("{COUNTER_PREFIX}{name}"), n.to_le_bytes());
            }
            tx.batch.put_cf(meta, META_SEQ, st.next_seq.to_le_bytes());
            tx.batch.put_cf(meta, META_BSEQ, st.next_bseq.to_le_bytes());
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(tx.batch, &wo)?;
        Ok(())
    }

    /// Flushes the memtables to table files, so the write-ahead log can be
    /// dropped and the next open does not replay it. Not needed for
    /// durability (every batch is synced to the log).
    pub fn flush(&self) -> Result<()> {
        let cfs: Vec<_> = ALL_CFS.iter().map(|n| self.cf(n)).collect();
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())?;
        Ok(())
    }

    /// The event `id` of `device`.
    pub fn event(&self, id: &str, device: &str) -> Result<Option<Event>> {
        let key = event_key(id, device);
        match self.db.get_pinned_cf(self.cf(CF_EVENTS), &key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every event with this id (one per source that used it; usually
    /// one), in the order of their devices.
    pub fn events_with_id(&self, id: &str) -> Result<Vec<Event>> {
        let prefix = event_id_prefix(id);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_EVENTS),
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    /// Looks up a base record by kind and key (see [`BaseRecord::key`]).
    pub fn base(&self, kind: BaseKind, key: &str) -> Result<Option<BaseRecord>> {
        let k = base_key(kind, key);
        match self.db.get_pinned_cf(self.cf(CF_BASE), &k)? {
            Some(v) => Ok(Some(decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// Several base records of one kind in one batched read, in the order of
    /// `keys` (`None` where there is none).
    pub fn bases(&self, kind: BaseKind, keys: &[&str]) -> Result<Vec<Option<BaseRecord>>> {
        let ks: Vec<Vec<u8>> = keys.iter().map(|k| base_key(kind, k)).collect();
        self.multi_get(CF_BASE, &ks)
    }

    /// Several events by (id, device) in one batched read, in the order
    /// of `refs`.
    pub fn events(&self, refs: &[(&str, &str)]) -> Result<Vec<Option<Event>>> {
        let ks: Vec<Vec<u8>> = refs.iter().map(|(id, d)| event_key(id, d)).collect();
        self.multi_get(CF_EVENTS, &ks)
    }

    fn multi_get<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<T>>> {
        self.db
            .batched_multi_get_cf(self.cf(cf), keys, false)
            .into_iter()
            .zip(keys)
            .map(|(r, k)| match r? {
                Some(v) => Ok(Some(decode(k, &v)?)),
                None => Ok(None),
            })
            .collect()
    }

    /// Events in order of arrival from sequence `from`, at most `limit`;
    /// projections resume from a recorded sequence with this.
    pub fn log_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, Event)>> {
        self.read_log(CF_LOG, CF_EVENTS, from, limit)
    }

    /// A log (sequence → key) from `from`, at most `limit` entries, each with
    /// the record its key names in `target`.
    fn read_log<T: serde::de::DeserializeOwned>(
        &self,
        log: &str,
        target: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, T)>> {
        let start = from.to_be_bytes();
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(log), IteratorMode::From(&start, Direction::Forward))
            .take(limit)
        {
            let (k, key) = item?;
            let seq = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| Error::Corrupt {
                key: format!("{k:02x?}"),
                why: format!("{log} key is not 8 bytes"),
            })?);
            let v = self
                .db
                .get_pinned_cf(self.cf(target), &key)?
                .ok_or_else(|| Error::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    why: format!("{log} names a missing record"),
                })?;
            out.push((seq, decode(&key, &v)?));
        }
        Ok(out)
    }

    /// What the store holds, from its counters (cheap).
    pub fn stats(&self) -> Result<StoreStats> {
        let st = self.state();
        let mut stats = StoreStats {
            format: FORMAT.to_owned(),
            log_length: st.next_seq,
            ..Default::default()
        };
        for (name, n) in &st.counters {
            if let Some(k) = name.strip_prefix("base/") {
                stats.base.insert(k.to_owned(), *n);
            } else if let Some(k) = name.strip_prefix("event/") {
                stats.events.insert(k.to_owned(), *n);
            } else if name == PENDING_COUNTER {
                stats.pending_references = *n;
            }
        }
        let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_PENDING), IteratorMode::Start)
        {
            let (k, _) = item?;
            let (t, _) = decode_pending(&k)?;
            targets
                .entry(t.kind.as_str().to_owned())
                .or_default()
                .insert(t.key);
        }
        stats.missing_targets = targets
            .into_iter()
            .map(|(k, s)| (k, s.len() as u64))
            .collect();
        stats.disk_bytes = dir_size(&self.path);
        Ok(stats)
    }

    /// Walks every column family and checks the invariants. Costs a full scan.
    pub fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut per_event_kind: BTreeMap<String, u64> = BTreeMap::new();
        for item in self.db.iterator_cf(self.cf(CF_EVENTS), IteratorMode::Start) {
            let (k, v) = item?;
            match decode::<Event>(&k, &v) {
                Ok(e) => {
                    *per_event_kind
                        .entry(e.kind().as_str().to_owned())
                        .or_default() += 1
                }
                Err(e) => report.problems.push(e.to_string()),
            }
            report.n_events += 1;
        }
        let mut logged: HashSet<Vec<u8>> = HashSet::new();
        let mut n_log = 0u64;
        for item in self.db.iterator_cf(self.cf(CF_LOG), IteratorMode::Start) {
            let (_, id_key) = item?;
            n_log += 1;
            if !logged.insert(id_key.to_vec()) {
                report.problems.push(format!(
                    "event {} is logged twice",
                    String::from_utf8_lossy(&id_key)
                ));
            }
            if self
                .db
                .get_pinned_cf(self.cf(CF_EVENTS), &id_key)?
                .is_none()
            {
                report.problems.push(format!(
                    "log names missing event {}",
                    String::from_utf8_lossy(&id_key)
                ));
            }
        }
        if n_log != report.n_events {
            report.problems.push(format!(
                "log has {n_log} entries for {} events",
                report.n_events
            ));
        }
        let (next_seq, next_bseq) = {
            let st = self.state();
            (st.next_seq, st.next_bseq)
        };
        if n_log != next_seq {
            report.problems.push(format!(
                "log has {n_log} entries, next sequence is {next_seq}"
            ));
        }
        let mut n_blog = 0u64;
        for item in self.db.iterator_cf(self.cf(CF_BLOG), IteratorMode::Start) {
            let (_, base) = item?;
            n_blog += 1;
            if self.db.get_pinned_cf(self.cf(CF_BASE), &base)?.is_none() {
                report
                    .problems
                    .push(format!("base log names a missing record {base:02x?}"));
            }
        }
        if n_blog != next_bseq {
            report.problems.push(format!(
                "base log has {n_blog} entries, next sequence is {next_bseq}"
            ));
        }
        let mut per_base_kind: BTreeMap<String, u64> = BTreeMap::new();
        for item in self.db.iterator_cf(self.cf(CF_BASE), IteratorMode::Start) {
            let (k, v) = item?;
            match decode::<BaseRecord>(&k, &v) {
                Ok(b) => {
                    *per_base_kind
                        .entry(b.kind().as_str().to_owned())
                        .or_default() += 1
                }
                Err(e) => report.problems.push(e.to_string()),
            }
            report.n_base += 1;
        }
        for item in self
            .db
            .iterator_cf(self.cf(CF_PENDING), IteratorMode::Start)
        {
            let (k, _) = item?;
            let (target, referrer) = decode_pending(&k)?;
            report.n_pending += 1;
            if self
                .db
                .get_pinned_cf(self.cf(CF_BASE), base_key(target.kind, &target.key))?
                .is_some()
            {
                report.problems.push(format!(
                    "pending reference to {} {} which is present",
                    target.kind.as_str(),
                    target.key
                ));
            }
            let (cf, rk) = match referrer.split_first() {
                Some((b'e', rk)) => (CF_EVENTS, rk),
                Some((b'b', rk)) => (CF_BASE, rk),
                _ => {
                    report
                        .problems
                        .push("pending entry with a malformed referrer".into());
                    continue;
                }
            };
            if self.db.get_pinned_cf(self.cf(cf), rk)?.is_none() {
                report
                    .problems
                    .push(format!("pending entry from a missing record in {cf}"));
            }
        }
        let stats = self.stats()?;
        if stats.events != per_event_kind {
            report.problems.push(format!(
                "event counters {:?} differ from contents {per_event_kind:?}",
                stats.events
            ));
        }
        if stats.base != per_base_kind {
            report.problems.push(format!(
                "base counters {:?} differ from contents {per_base_kind:?}",
                stats.base
            ));
        }
        if stats.pending_references != report.n_pending {
            report.problems.push(format!(
                "pending counter {} differs from {} entries",
                stats.pending_references, report.n_pending
            ));
        }
        Ok(report)
    }

    /// A digest of the logical content (base records, events, pending
    /// references), independent of arrival order: two stores fed the same
    /// records in any order have the same digest.
    pub fn digest(&self) -> Result<String> {
        let mut h = Sha256::new();
        for cf in [CF_BASE, CF_EVENTS, CF_PENDING] {
            h.update(cf.as_bytes());
            for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (k, v) = item?;
                h.update((k.len() as u64).to_le_bytes());
                h.update(&k);
                h.update((v.len() as u64).to_le_bytes());
                h.update(&v);
            }
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The pieces of one batch: the write batch and what it will have written,
/// so later records of the batch see earlier ones.
#[derive(Default)]
struct Tx {
    batch: WriteBatch,
    events: HashMap<Vec<u8>, Vec<u8>>,
    base: HashMap<Vec<u8>, BaseRecord>,
    /// Pending entries put (`true`) or deleted (`false`) by this batch.
    pending: BTreeMap<Vec<u8>, bool>,
    counters_dirty: bool,
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The platform's own records (alerts, watch lists, rule checkpoints):
/// opaque values under caller-chosen keys, written atomically and synced
/// like every acknowledged batch.
impl RocksStore {
    fn app(&self) -> Option<&rocksdb::ColumnFamily> {
        self.db.cf_handle(CF_APP)
    }

    /// Writes (`Some`) and deletes (`None`) in one durable batch.
    pub fn app_write(&self, changes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        self.app_write_with(changes, true)
    }

    /// [`RocksStore::app_write`], synced only when `sync` is true (and the
    /// store syncs at all): an unsynced batch is in the log, in the
    /// operating system's hands, when this returns — it survives a crash of
    /// the process, and a power loss once the next synced write or
    /// [`RocksStore::sync_log`] has run.
    pub fn app_write_with(&self, changes: &[(Vec<u8>, Option<Vec<u8>>)], sync: bool) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let cf = self.app().ok_or(Error::ReadOnly)?;
        let mut batch = WriteBatch::default();
        for (k, v) in changes {
            match v {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync && sync);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Syncs the write-ahead log: every write made so far survives a power
    /// loss once this returns.
    pub fn sync_log(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        self.db.flush_wal(true)?;
        Ok(())
    }

    pub fn app_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.app() {
            Some(cf) => Ok(self.db.get_cf(cf, key)?),
            None => Ok(None),
        }
    }

    /// Entries whose key starts with `prefix`, in key order (or reverse),
    /// starting after `after` when given, while `f` returns true.
    pub fn app_scan(
        &self,
        prefix: &[u8],
        reverse: bool,
        after: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let Some(cf) = self.app() else {
            return Ok(());
        };
        let end = prefix_successor(prefix);
        let mode = match (reverse, after, &end) {
            (false, Some(a), _) => IteratorMode::From(a, Direction::Forward),
            (false, None, _) => IteratorMode::From(prefix, Direction::Forward),
            (true, Some(a), _) => IteratorMode::From(a, Direction::Reverse),
            (true, None, Some(e)) => IteratorMode::From(e, Direction::Reverse),
            (true, None, None) => IteratorMode::End,
        };
        for item in self.db.iterator_cf(cf, mode) {
            let (k, v) = item?;
            if after.is_some_and(|a| *k == *a) || (reverse && end.as_deref() == Some(&*k)) {
                continue;
            }
            if !k.starts_with(prefix) {
                if reverse && k.as_ref() > prefix {
                    continue;
                }
                break;
            }
            if !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`:
/// there is none, the prefix is all 0xFF).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xFF {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// Access for the projections (timelines, relations) that live beside the
/// store of record in the same database.
impl RocksStore {
    pub(crate) fn db(&self) -> &Arc<DB> {
        &self.db
    }

    pub(crate) fn handle(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.cf(name)
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Length of the event log (the next event sequence number).
    pub fn log_len(&self) -> u64 {
        self.state().next_seq
    }

    /// Length of the base log (the next base sequence number).
    pub fn base_log_len(&self) -> u64 {
        self.state().next_bseq
    }

    /// Base records in the order they were accepted (new or changed) from
    /// sequence `from`, at most `limit`: (sequence, the record as it is now).
    pub fn base_log_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, BaseRecord)>> {
        self.read_log(CF_BLOG, CF_BASE, from, limit)
    }

    /// Calls `f` with every base record of a kind, in key order.
    pub fn for_each_base(
        &self,
        kind: BaseKind,
        f: impl FnMut(BaseRecord) -> Result<()>,
    ) -> Result<()> {
        self.for_each_base_with(kind, "", f)
    }

    /// Calls `f` with every base record of a kind whose key starts with
    /// `key_prefix` (e.g. a person's residences: `person` + `\u{1f}`).
    pub fn for_each_base_with(
        &self,
        kind: BaseKind,
        key_prefix: &str,
        mut f: impl FnMut(BaseRecord) -> Result<()>,
    ) -> Result<()> {
        // an escaped string is a byte prefix of any longer one it begins
        let mut prefix = base_key(kind, key_prefix);
        prefix.truncate(prefix.len() - 2);
        for item in self.db.prefix_iterator_cf(self.cf(CF_BASE), &prefix) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            f(decode(&k, &v)?)?;
        }
        Ok(())
    }
}
