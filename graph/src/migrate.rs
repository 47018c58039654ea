//! Store format 3 → 4: events keyed by (id, source device) instead of by
//! id alone, so one source cannot pre-empt another's ids
//! ([`crate::store::FORMAT`]). Run at a read-write open of a format-3
//! store, in place, before anything else reads it.
//!
//! Every place that names an event by its key is rewritten: the log's
//! entries, pending references made by events, recorded face attributions
//! (`attr`: event key and slot — the decisions themselves are kept), and
//! the events the projection keeps waiting for a device, card or tag;
//! then the events themselves. Each step recognises keys already in the
//! new layout and leaves them, so a migration cut short by a crash is
//! simply run again at the next open (the format stays 3 until all of it
//! is done). The logical content does not change; only key bytes do.

use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::keys::{KeyBuf, KeyReader};
use crate::store::{CF_ATTR, CF_DSTATE, RocksStore, decode};
use crate::{Error, Result};

/// Keys rewritten per batch.
const CHUNK: usize = 8_192;

/// How an old event key (the id alone) is recognised: exactly one encoded
/// string, then `rest_len` more bytes.
fn old_event_key(k: &[u8], rest_len: usize) -> Option<(String, usize)> {
    let mut r = KeyReader::new(k);
    let id = r.str().ok()?;
    let used = k.len() - r.rest().len();
    (r.rest().len() == rest_len).then_some((id, used))
}

/// The new key of the event whose old key is `old` (read from the events
/// family, which still holds it until the last step).
fn new_key(store: &RocksStore, old: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(v) = store.db().get_pinned_cf(store.cf_handle("events"), old)? else {
        return Ok(None);
    };
    let ev: model::Event = decode(old, &v)?;
    Ok(Some(crate::store::event_key(
        ev.id.as_str(),
        ev.device.as_str(),
    )))
}

fn write(store: &RocksStore, batch: WriteBatch) -> Result<()> {
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    store.db().write_opt(batch, &wo)?;
    Ok(())
}

/// Rewrites a format-3 store's event keys (see the module's doc).
pub(crate) fn events_by_source(store: &RocksStore) -> Result<()> {
    tracing::info!(path = %store.path().display(), "store format 3 → 4: keying events by (id, device)");
    let db = store.db();
    // 1. the log: sequence → event key
    let log = store.cf_handle("log");
    let mut batch = WriteBatch::default();
    for item in db.iterator_cf(log, IteratorMode::Start) {
        let (seq, key) = item?;
        if old_event_key(&key, 0).is_none() {
            continue;
        }
        let new = new_key(store, &key)?.ok_or_else(|| Error::Corrupt {
            key: String::from_utf8_lossy(&key).into_owned(),
            why: "the log names a missing event".into(),
        })?;
        batch.put_cf(log, &seq, new);
        if batch.len() >= CHUNK {
            write(store, std::mem::take(&mut batch))?;
        }
    }
    write(store, std::mem::take(&mut batch))?;
    // 2. pending references made by events: (target, b'e' + event key)
    let pending = store.cf_handle("pending");
    for item in db.iterator_cf(pending, IteratorMode::Start) {
        let (k, v) = item?;
        let (target, referrer) = crate::store::split_pending(&k)?;
        let Some(old) = referrer.strip_prefix(b"e") else {
            continue;
        };
        if old_event_key(old, 0).is_none() {
            continue;
        }
        if let Some(new) = new_key(store, old)? {
            let nk = [target, b"e".as_slice(), &new].concat();
            batch.delete_cf(pending, &k);
            batch.put_cf(pending, nk, &v);
        }
        if batch.len() >= CHUNK {
            write(store, std::mem::take(&mut batch))?;
        }
    }
    write(store, std::mem::take(&mut batch))?;
    // 3. recorded attributions: event key + slot (merges, under 0xFF, stay)
    let attr = store.cf_handle(CF_ATTR);
    for item in db.iterator_cf(attr, IteratorMode::Start) {
        let (k, v) = item?;
        if k.first() == Some(&0xFF) {
            continue;
        }
        let Some((_, used)) = old_event_key(&k, 1) else {
            continue;
        };
        if let Some(new) = new_key(store, &k[..used])? {
            batch.delete_cf(attr, &k);
            batch.put_cf(
                attr,
                KeyBuf::new().raw(&new).raw(&k[used..]).into_bytes(),
                &v,
            );
        }
        if batch.len() >= CHUNK {
            write(store, std::mem::take(&mut batch))?;
        }
    }
    write(store, std::mem::take(&mut batch))?;
    // 4. events waiting for a device, card or tag: (1, what, key, event key)
    let dstate = store.cf_handle(CF_DSTATE);
    for item in db.iterator_cf(
        dstate,
        IteratorMode::From(&[1], rocksdb::Direction::Forward),
    ) {
        let (k, v) = item?;
        if k.first() != Some(&1) {
            break;
        }
        let mut r = KeyReader::new(&k);
        let head = r.tag().and_then(|_| r.tag()).and_then(|_| r.str());
        if head.is_err() {
            continue;
        }
        let at = k.len() - r.rest().len();
        if old_event_key(&k[at..], 0).is_none() {
            continue;
        }
        if let Some(new) = new_key(store, &k[at..])? {
            batch.delete_cf(dstate, &k);
            batch.put_cf(dstate, [&k[..at], new.as_slice()].concat(), &v);
        }
        if batch.len() >= CHUNK {
            write(store, std::mem::take(&mut batch))?;
        }
    }
    write(store, std::mem::take(&mut batch))?;
    // 5. the events themselves
    let events = store.cf_handle("events");
    let mut n = 0u64;
    for item in db.iterator_cf(events, IteratorMode::Start) {
        let (k, v) = item?;
        if old_event_key(&k, 0).is_none() {
            continue;
        }
        let ev: model::Event = decode(&k, &v)?;
        batch.delete_cf(events, &k);
        batch.put_cf(
            events,
            crate::store::event_key(ev.id.as_str(), ev.device.as_str()),
            &v,
        );
        n += 1;
        if batch.len() >= CHUNK {
            write(store, std::mem::take(&mut batch))?;
        }
    }
    write(store, batch)?;
    tracing::info!(events = n, "store format 3 → 4 done");
    Ok(())
}
