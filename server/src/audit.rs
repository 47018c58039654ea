//! The audit log: one entry per request that returns personal data (who,
//! role, when, the operation and its arguments, which records came back),
//! appended durably before the response leaves, hash-chained so that a
//! changed, removed or inserted entry breaks verification, and pruned past
//! the retention from its oldest end (the anchor keeps the chain verifiable
//! from the oldest kept entry).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use graph::RocksStore;
use model::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lock;

const ENTRY: &[u8] = b"audit/e/";
const ANCHOR: &[u8] = b"audit/anchor";
/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Most records named in one entry (the count says how many there were).
pub const MAX_RECORDS: usize = 5_000;

/// One audited request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// Unix ms.
    pub at: i64,
    pub who: String,
    pub role: String,
    pub token: Option<String>,
    /// `query`, `mutation` or `subscription`, and the operation's name.
    pub operation: String,
    /// The root fields run.
    pub fields: Vec<String>,
    /// The request's text and variables.
    pub query: String,
    pub variables: serde_json::Value,
    /// The records returned (archive refs, event and alert ids).
    pub records: Vec<String>,
    pub records_total: usize,
    /// `ok`, or the error codes returned.
    pub outcome: String,
    pub prev: String,
    pub hash: String,
}

/// What a request adds (the log fills in sequence, time and hashes).
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub who: String,
    pub role: String,
    pub token: Option<String>,
    pub operation: String,
    pub fields: Vec<String>,
    pub query: String,
    pub variables: serde_json::Value,
    pub records: Vec<String>,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Anchor {
    seq: u64,
    prev: String,
}

fn key(seq: u64) -> Vec<u8> {
    [ENTRY, format!("{seq:020}").as_bytes()].concat()
}

fn digest(e: &Entry) -> String {
    let mut c = e.clone();
    c.hash.clear();
    let bytes = serde_json::to_vec(&c).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(e.prev.as_bytes());
    h.update(&bytes);
    format!("{:x}", h.finalize())
}

fn corrupt(k: &[u8], why: impl ToString) -> graph::Error {
    graph::Error::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        why: why.to_string(),
    }
}

/// An entry waiting for the next group write, and where its outcome goes.
type Waiting = (
    NewEntry,
    Timestamp,
    Arc<Mutex<Option<Result<Entry, String>>>>,
);

/// The chain's head and the appends waiting for it. Appends are group
/// committed: a caller queues its entry and takes the writer lock; whoever
/// holds it chains everything queued and writes it in one batch, so
/// concurrent requests share an fsync and the chain stays in one order.
///
/// The batch is synced before `append` returns unless the log was opened
/// with a sync interval (`auth.audit_sync_ms`): then it is written to the
/// store's log (it survives a crash of the process) and synced by
/// [`AuditLog::sync`], which the engine runs on that interval and at
/// shutdown — a power loss can take the entries of the last interval.
#[derive(Debug)]
pub struct AuditLog {
    head: Mutex<(u64, String)>,
    queue: Mutex<Vec<Waiting>>,
    writer: Mutex<()>,
    /// Sync each batch (no interval).
    sync_each: bool,
    /// Entries were written since the last [`AuditLog::sync`].
    unsynced: AtomicBool,
}

/// What verification found.
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
pub struct Verification {
    pub ok: bool,
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The first entry that does not verify, and why.
    pub broken_at: Option<u64>,
    pub problem: Option<String>,
}

impl AuditLog {
    /// The log in `store`; `sync_each` false leaves syncing to
    /// [`AuditLog::sync`].
    pub fn open(store: &RocksStore, sync_each: bool) -> graph::Result<Self> {
        let mut head = None;
        store.app_scan(ENTRY, true, None, |k, v| {
            let e: Entry = serde_json::from_slice(v).map_err(|err| corrupt(k, err))?;
            head = Some((e.seq + 1, e.hash));
            Ok(false)
        })?;
        let head = match head {
            Some(h) => h,
            None => match anchor(store)? {
                Some(a) => (a.seq, a.prev),
                None => (0, GENESIS.to_owned()),
            },
        };
        Ok(Self {
            head: Mutex::new(head),
            queue: Mutex::new(Vec::new()),
            writer: Mutex::new(()),
            sync_each,
            unsynced: AtomicBool::new(false),
        })
    }

    /// Each append is synced before it returns.
    pub fn syncs_each(&self) -> bool {
        self.sync_each
    }

    /// Entries were written since the last [`AuditLog::sync`] (never with
    /// each append synced).
    pub fn pending_sync(&self) -> bool {
        self.unsynced.load(Ordering::Acquire)
    }

    /// Syncs the entries written unsynced since the last call (none: does
    /// nothing); on failure they stay due for the next call.
    pub fn sync(&self, store: &RocksStore) -> graph::Result<()> {
        if !self.unsynced.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        store.sync_log().inspect_err(|_| {
            self.unsynced.store(true, Ordering::Release);
        })
    }

    /// Appends an entry durably (synced, or written and synced within the
    /// interval: see [`AuditLog`]); the response may leave once this
    /// returns.
    pub fn append(&self, store: &RocksStore, n: NewEntry, at: Timestamp) -> graph::Result<Entry> {
        let cell = Arc::new(Mutex::new(None));
        lock(&self.queue).push((n, at, Arc::clone(&cell)));
        let _writer = lock(&self.writer);
        // a writer before us may have taken our entry along
        if let Some(r) = lock(&cell).take() {
            return r.map_err(graph::Error::Storage);
        }
        let batch = std::mem::take(&mut *lock(&self.queue));
        let mut head = lock(&self.head);
        let (mut seq, mut prev) = head.clone();
        let mut writes = Vec::with_capacity(batch.len());
        let mut made = Vec::with_capacity(batch.len());
        for (n, at, c) in batch {
            let records_total = n.records.len();
            let mut records = n.records;
            records.truncate(MAX_RECORDS);
            let mut e = Entry {
                seq,
                at: at.0,
                who: n.who,
                role: n.role,
                token: n.token,
                operation: n.operation,
                fields: n.fields,
                query: n.query,
                variables: n.variables,
                records,
                records_total,
                outcome: n.outcome,
                prev: prev.clone(),
                hash: String::new(),
            };
            e.hash = digest(&e);
            writes.push((key(seq), Some(serde_json::to_vec(&e).unwrap_or_default())));
            seq += 1;
            prev = e.hash.clone();
            made.push((e, c));
        }
        match store.app_write_with(&writes, self.sync_each) {
            Ok(()) => {
                if !self.sync_each {
                    self.unsynced.store(true, Ordering::Release);
                }
                *head = (seq, prev);
                for (e, c) in made {
                    *lock(&c) = Some(Ok(e));
                }
            }
            Err(err) => {
                let msg = err.to_string();
                for (_, c) in made {
                    *lock(&c) = Some(Err(msg.clone()));
                }
            }
        }
        drop(head);
        let r = lock(&cell).take();
        r.unwrap_or_else(|| Err("the audit entry was not written".into()))
            .map_err(graph::Error::Storage)
    }

    /// The sequence the next entry gets (a log whose last entry is not the
    /// one before it lost its tail).
    pub fn next_seq(&self) -> u64 {
        lock(&self.head).0
    }

    /// Removes entries older than `before` from the oldest end, moving the
    /// anchor to the first kept entry (in the same write).
    pub fn prune(&self, store: &RocksStore, before: Timestamp) -> graph::Result<usize> {
        let _writer = lock(&self.writer);
        let mut doomed = Vec::new();
        let mut next: Option<Anchor> = None;
        store.app_scan(ENTRY, false, None, |k, v| {
            let e: Entry = serde_json::from_slice(v).map_err(|err| corrupt(k, err))?;
            if e.at >= before.0 {
                next = Some(Anchor {
                    seq: e.seq,
                    prev: e.prev,
                });
                return Ok(false);
            }
            doomed.push(k.to_vec());
            next = Some(Anchor {
                seq: e.seq + 1,
                prev: e.hash,
            });
            Ok(doomed.len() < 100_000)
        })?;
        if doomed.is_empty() {
            return Ok(0);
        }
        let Some(a) = next else { return Ok(0) };
        let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            doomed.iter().map(|k| (k.clone(), None)).collect();
        writes.push((
            ANCHOR.to_vec(),
            Some(serde_json::to_vec(&a).unwrap_or_default()),
        ));
        store.app_write(&writes)?;
        Ok(doomed.len())
    }
}

fn anchor(store: &RocksStore) -> graph::Result<Option<Anchor>> {
    store
        .app_get(ANCHOR)?
        .map(|v| serde_json::from_slice(&v).map_err(|e| corrupt(ANCHOR, e)))
        .transpose()
}

/// Entries newest first, before sequence `before` when given, while `f`
/// returns true.
pub fn scan(
    store: &RocksStore,
    before: Option<u64>,
    mut f: impl FnMut(Entry) -> bool,
) -> graph::Result<()> {
    let after = before.map(key);
    store.app_scan(ENTRY, true, after.as_deref(), |k, v| {
        let e: Entry = serde_json::from_slice(v).map_err(|err| corrupt(k, err))?;
        Ok(f(e))
    })
}

/// Walks the chain from the anchor: every entry's hash, its link to the
/// one before and the sequence without gaps.
pub fn verify(store: &RocksStore) -> graph::Result<Verification> {
    let (mut want_seq, mut want_prev) = match anchor(store)? {
        Some(a) => (a.seq, a.prev),
        None => (0, GENESIS.to_owned()),
    };
    let mut v = Verification {
        ok: true,
        entries: 0,
        first_seq: None,
        last_seq: None,
        broken_at: None,
        problem: None,
    };
    store.app_scan(ENTRY, false, None, |k, raw| {
        let seq_of_key = std::str::from_utf8(&k[ENTRY.len()..])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let fail = |v: &mut Verification, seq: u64, why: String| {
            v.ok = false;
            v.broken_at = Some(seq);
            v.problem = Some(why);
        };
        let e: Entry = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(err) => {
                fail(
                    &mut v,
                    seq_of_key.unwrap_or(want_seq),
                    format!("unreadable: {err}"),
                );
                return Ok(false);
            }
        };
        v.first_seq.get_or_insert(e.seq);
        v.last_seq = Some(e.seq);
        v.entries += 1;
        if Some(e.seq) != seq_of_key || e.seq != want_seq {
            fail(
                &mut v,
                e.seq,
                format!("expected entry {want_seq}, found {}", e.seq),
            );
            return Ok(false);
        }
        if e.prev != want_prev {
            fail(
                &mut v,
                e.seq,
                "its link to the entry before does not match".into(),
            );
            return Ok(false);
        }
        if digest(&e) != e.hash {
            fail(&mut v, e.seq, "its content does not match its hash".into());
            return Ok(false);
        }
        want_seq = e.seq + 1;
        want_prev = e.hash;
        Ok(true)
    })?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_appends_form_one_chain() {
        let (_dir, _, store) = crate::temp_store();
        let log = AuditLog::open(&store, true).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let (log, store) = (&log, &store);
                s.spawn(move || {
                    for i in 0..40 {
                        let n = NewEntry {
                            who: format!("t{t}"),
                            records: vec![format!("person:{i}")],
                            ..NewEntry::default()
                        };
                        let e = log.append(store, n, Timestamp(i)).unwrap();
                        assert_eq!(e.who, format!("t{t}"));
                    }
                });
            }
        });
        let v = verify(&store).unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!((v.entries, v.last_seq), (320, Some(319)));
        assert_eq!(log.next_seq(), 320);
        // reopened, the chain goes on
        let log = AuditLog::open(&store, true).unwrap();
        log.append(&store, NewEntry::default(), Timestamp(1))
            .unwrap();
        assert!(verify(&store).unwrap().ok);
    }

    #[test]
    fn entries_synced_later_are_written_at_once_and_synced_on_demand() {
        let (_dir, cfg, store) = crate::temp_store();
        let log = AuditLog::open(&store, false).unwrap();
        assert!(!log.syncs_each() && !log.pending_sync());
        for i in 0..3 {
            let n = NewEntry {
                who: format!("w{i}"),
                ..NewEntry::default()
            };
            log.append(&store, n, Timestamp(i)).unwrap();
        }
        // readable (and chained) before any sync
        assert!(log.pending_sync());
        let v = verify(&store).unwrap();
        assert_eq!((v.ok, v.entries), (true, 3), "{v:?}");
        log.sync(&store).unwrap();
        assert!(!log.pending_sync());
        // nothing new: nothing to do
        log.sync(&store).unwrap();
        // the store reopened (its log replayed) has them all
        drop(store);
        let store = RocksStore::open(&cfg.store_config()).unwrap();
        let log = AuditLog::open(&store, true).unwrap();
        assert_eq!(log.next_seq(), 3);
        let mut who = Vec::new();
        scan(&store, None, |e| {
            who.push(e.who);
            true
        })
        .unwrap();
        assert_eq!(who, ["w2", "w1", "w0"]);
        // a synced log never has any pending
        log.append(&store, NewEntry::default(), Timestamp(9))
            .unwrap();
        assert!(!log.pending_sync());
    }
}
