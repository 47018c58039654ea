//! The alert book and the watch lists (布控), kept in the store's own records.
//!
//! An alert asks an officer to act: it carries its kind, the subject and the
//! region responsible, the evidence (event ids) and a workflow
//! new → signed → handled (with a disposition). It is raised at most once per
//! situation: its dedup key (rule, list, entry, event) names it, and a second
//! raise of the same key is a no-op. An alert of a model that recurs (the
//! analysis models: a key person going out alone day after day, an elderly
//! resident's silence judged again) is one alert while it is open: a new
//! finding about the same subject counts as an occurrence of it
//! (`occurrences`, `last`, its evidence added) instead of a new alert. Ids
//! sort by the time of the situation, so the newest come first by a
//! reverse scan.
//!
//! Watch lists hold persons, plates and faces (features); the real-time rules
//! compare every arriving event with them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use graph::RocksStore;
use model::Timestamp;

const ALERT: &[u8] = b"alert/id/";
const ALERT_KEY: &[u8] = b"alert/key/";
/// `alert/subject/<subject>\0<id>` → (): a subject's alerts without a scan
/// of the book.
const BY_SUBJECT: &[u8] = b"alert/subject/";
/// Present once every alert is in the subject index (stores written before
/// it are indexed at the next open).
const BY_SUBJECT_DONE: &[u8] = b"alert-meta/by-subject";
const WATCH: &[u8] = b"watch/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    New,
    Signed,
    Handled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Confirmed,
    FalseAlarm,
    Registered,
    MovedOut,
}

/// One step of an alert's workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertAction {
    pub at: Timestamp,
    pub action: String,
    pub by: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    /// `watchlist_face`, `watchlist_person`, `watchlist_plate`,
    /// `device_alarm:<kind>`, and the analysis models' kinds.
    pub kind: String,
    pub status: AlertStatus,
    pub disposition: Option<Disposition>,
    /// The person, stranger archive, vehicle, house or device concerned.
    pub subject: Option<String>,
    pub community: Option<String>,
    /// The region responsible (the community's).
    pub region: Option<String>,
    pub device: Option<String>,
    /// When the situation happened.
    pub time: Timestamp,
    /// When the platform raised it.
    pub raised: Timestamp,
    pub title: String,
    pub score: Option<f32>,
    pub evidence: Vec<String>,
    pub watch_list: Option<String>,
    pub history: Vec<AlertAction>,
    /// Findings of the situation while it was open (1: raised once).
    #[serde(default = "one")]
    pub occurrences: u32,
    /// When the latest of them happened (none: only the first).
    #[serde(default)]
    pub last: Option<Timestamp>,
}

fn one() -> u32 {
    1
}

/// Evidence kept on a recurring alert, at most (the newest dropped).
const MAX_EVIDENCE: usize = 64;

/// An alert to raise: everything but the id, status and history.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub dedup: String,
    pub kind: String,
    pub subject: Option<String>,
    pub community: Option<String>,
    pub region: Option<String>,
    pub device: Option<String>,
    pub time: Timestamp,
    pub title: String,
    pub score: Option<f32>,
    pub evidence: Vec<String>,
    pub watch_list: Option<String>,
    /// While an alert of this kind about this subject is open, this
    /// situation is another occurrence of it, not an alert of its own.
    pub recurs: bool,
}

/// Writes (`Some`) and deletes (`None`) of the store's own records.
pub type AppWrites = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn alert_key(id: &str) -> Vec<u8> {
    [ALERT, id.as_bytes()].concat()
}

fn dedup_key(dedup: &str) -> Vec<u8> {
    [ALERT_KEY, dedup.as_bytes()].concat()
}

/// Ids sort by situation time (ms, zero-padded), then a digest of the dedup
/// key, so the same situation always gets the same id.
fn subject_prefix(subject: &str) -> Vec<u8> {
    [BY_SUBJECT, subject.as_bytes(), b"\0"].concat()
}

fn subject_key(subject: &str, id: &str) -> Vec<u8> {
    [subject_prefix(subject).as_slice(), id.as_bytes()].concat()
}

fn alert_id(time: Timestamp, dedup: &str) -> String {
    let h = Sha256::digest(dedup.as_bytes());
    format!(
        "A{:013}-{:02x}{:02x}{:02x}{:02x}{:02x}",
        time.0.max(0),
        h[0],
        h[1],
        h[2],
        h[3],
        h[4]
    )
}

/// A record of the store's own, as stored.
pub(crate) fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// A stored record of the store's own (an unreadable one is corruption,
/// named by its key).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(key: &[u8], v: &[u8]) -> graph::Result<T> {
    serde_json::from_slice(v).map_err(|e| graph::Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        why: e.to_string(),
    })
}

/// The writes that raise `alerts` (those not raised before), and the alerts
/// themselves; nothing is written here, so a caller can add its checkpoint
/// to the same batch.
pub fn raise_writes(
    store: &RocksStore,
    alerts: Vec<NewAlert>,
    now: Timestamp,
) -> graph::Result<(AppWrites, Vec<Alert>)> {
    let mut writes = Vec::new();
    let mut raised: Vec<Alert> = Vec::new();
    // open alerts updated by an occurrence in this batch, by id
    let mut updated: std::collections::BTreeMap<String, Alert> = Default::default();
    let mut seen = std::collections::HashSet::new();
    for a in alerts {
        if !seen.insert(a.dedup.clone()) || store.app_get(&dedup_key(&a.dedup))?.is_some() {
            continue;
        }
        if a.recurs
            && let Some(s) = &a.subject
        {
            let open = |x: &Alert| {
                x.kind == a.kind
                    && x.status != AlertStatus::Handled
                    && x.subject.as_ref() == Some(s)
            };
            // the open alert: raised in this batch, updated in it, or stored
            let mut stored = None;
            if !raised.iter().any(open) && !updated.values().any(open) {
                of_subject(store, s, |x| {
                    if open(&x) {
                        stored = Some(x);
                        false
                    } else {
                        true
                    }
                })?;
            }
            if let Some(x) = stored {
                updated.insert(x.id.clone(), x);
            }
            let target = match raised.iter_mut().find(|x| open(x)) {
                Some(x) => Some(x),
                None => updated.values_mut().find(|x| open(x)),
            };
            if let Some(x) = target {
                x.occurrences += 1;
                x.last = Some(x.last.map_or(a.time, |l| l.max(a.time)));
                for e in a.evidence {
                    if x.evidence.len() < MAX_EVIDENCE && !x.evidence.contains(&e) {
                        x.evidence.push(e);
                    }
                }
                writes.push((dedup_key(&a.dedup), Some(x.id.clone().into_bytes())));
                continue;
            }
        }
        let id = alert_id(a.time, &a.dedup);
        let alert = Alert {
            id: id.clone(),
            kind: a.kind,
            status: AlertStatus::New,
            disposition: None,
            subject: a.subject,
            community: a.community,
            region: a.region,
            device: a.device,
            time: a.time,
            raised: now,
            title: a.title,
            score: a.score,
            evidence: a.evidence,
            watch_list: a.watch_list,
            history: vec![AlertAction {
                at: now,
                action: "raised".into(),
                by: "anju".into(),
                note: None,
            }],
            occurrences: 1,
            last: None,
        };
        writes.push((dedup_key(&a.dedup), Some(id.clone().into_bytes())));
        if let Some(s) = &alert.subject {
            writes.push((subject_key(s, &id), Some(Vec::new())));
        }
        raised.push(alert);
    }
    for a in raised.iter().chain(updated.values()) {
        writes.push((alert_key(&a.id), Some(json(a))));
    }
    Ok((writes, raised))
}

pub fn get(store: &RocksStore, id: &str) -> graph::Result<Option<Alert>> {
    let k = alert_key(id);
    store.app_get(&k)?.map(|v| parse(&k, &v)).transpose()
}

/// Alerts newest first (by situation time), after the id `after`, while
/// `f` returns true.
pub fn scan(
    store: &RocksStore,
    after: Option<&str>,
    mut f: impl FnMut(Alert) -> bool,
) -> graph::Result<()> {
    let after = after.map(alert_key);
    store.app_scan(ALERT, true, after.as_deref(), |k, v| Ok(f(parse(k, v)?)))
}

/// The alerts about `subject`, newest first, while `f` returns true.
pub fn of_subject(
    store: &RocksStore,
    subject: &str,
    mut f: impl FnMut(Alert) -> bool,
) -> graph::Result<()> {
    let prefix = subject_prefix(subject);
    store.app_scan(&prefix, true, None, |k, _| {
        let id = String::from_utf8_lossy(&k[prefix.len()..]);
        Ok(match get(store, &id)? {
            Some(a) => f(a),
            None => true,
        })
    })
}

/// Builds the subject index for alerts raised before it existed (once).
pub fn index_subjects(store: &RocksStore) -> graph::Result<u64> {
    build_index_once(store, BY_SUBJECT_DONE, || {
        let mut writes: AppWrites = Vec::new();
        scan(store, None, |a| {
            if let Some(s) = &a.subject {
                writes.push((subject_key(s, &a.id), Some(Vec::new())));
            }
            true
        })?;
        Ok(writes)
    })
}

/// Writes an index's entries for the records written before the index
/// existed, once: `done` marks it built (written after the entries, so an
/// interrupted build runs again). Returns the entries written.
pub(crate) fn build_index_once(
    store: &RocksStore,
    done: &[u8],
    entries: impl FnOnce() -> graph::Result<AppWrites>,
) -> graph::Result<u64> {
    if store.app_get(done)?.is_some() {
        return Ok(0);
    }
    let writes = entries()?;
    for chunk in writes.chunks(10_000) {
        store.app_write(chunk)?;
    }
    store.app_write(&[(done.to_vec(), Some(Vec::new()))])?;
    Ok(writes.len() as u64)
}

/// Moves an alert along its workflow: `sign` (new → signed) or `handle`
/// (new or signed → handled, with a disposition).
pub fn transition(
    store: &RocksStore,
    id: &str,
    to: AlertStatus,
    disposition: Option<Disposition>,
    by: &str,
    note: Option<String>,
    now: Timestamp,
) -> Result<Alert, TransitionError> {
    let mut a = get(store, id)?.ok_or(TransitionError::NotFound)?;
    match (a.status, to) {
        (AlertStatus::New, AlertStatus::Signed) => {}
        (AlertStatus::New | AlertStatus::Signed, AlertStatus::Handled) => {
            if disposition.is_none() {
                return Err(TransitionError::Invalid(
                    "handling an alert needs a disposition".into(),
                ));
            }
        }
        (from, to) => {
            return Err(TransitionError::Invalid(format!(
                "an alert that is {from:?} cannot become {to:?}"
            )));
        }
    }
    a.status = to;
    if to == AlertStatus::Handled {
        a.disposition = disposition;
    }
    a.history.push(AlertAction {
        at: now,
        action: match to {
            AlertStatus::Signed => "signed".into(),
            AlertStatus::Handled => format!(
                "handled:{}",
                serde_json::to_value(disposition)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            AlertStatus::New => "reopened".into(),
        },
        by: by.to_owned(),
        note,
    });
    store.app_write(&[(alert_key(id), Some(json(&a)))])?;
    Ok(a)
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no such alert")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] graph::Error),
}

// ----- watch lists -----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchFace {
    pub id: String,
    pub label: String,
    pub feature: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchList {
    pub id: String,
    pub name: String,
    pub reason: String,
    /// The region the list watches (its hits' alerts go there); empty: all
    /// regions in the owner's scope.
    pub region: String,
    /// Face similarity for a hit (`None`: the deployment's default).
    pub threshold: Option<f32>,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub persons: Vec<String>,
    pub plates: Vec<String>,
    pub faces: Vec<WatchFace>,
}

fn watch_key(id: &str) -> Vec<u8> {
    [WATCH, id.as_bytes()].concat()
}

pub fn watch_lists(store: &RocksStore) -> graph::Result<Vec<WatchList>> {
    let mut out = Vec::new();
    store.app_scan(WATCH, false, None, |k, v| {
        out.push(parse(k, v)?);
        Ok(true)
    })?;
    Ok(out)
}

pub fn put_watch_list(store: &RocksStore, list: &WatchList) -> graph::Result<()> {
    store.app_write(&[(watch_key(&list.id), Some(json(list)))])
}

pub fn delete_watch_list(store: &RocksStore, id: &str) -> graph::Result<()> {
    store.app_write(&[(watch_key(id), None)])
}

/// A new list id: time-ordered and unique within the process.
pub fn new_watch_id(now: Timestamp) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "W{:013}-{:04}",
        now.0,
        N.fetch_add(1, Ordering::Relaxed) % 10_000
    )
}
