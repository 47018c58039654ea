//! Cross-region grants (跨区域研判授权) and saved investigations, in the
//! store's own records.
//!
//! A grant is asked for by an officer or analyst (subject or any, target
//! regions, reason, duration), approved or refused by a commander whose
//! regions cover every target, and ends by itself when its time is up (or
//! when revoked). Every step is kept in the grant's history; the audit log
//! holds the requests made under it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use graph::RocksStore;
use model::{NodeRef, Timestamp};
use serde::{Deserialize, Serialize};

use super::alerts::{json, parse};
use super::lock;

const GRANT: &[u8] = b"grant/";
const INVESTIGATION: &[u8] = b"investigation/";
/// `grant-holder/<holder>\0<id>` → (): a caller's grants without a scan
/// of all (read for every request of a regional caller).
const BY_HOLDER: &[u8] = b"grant-holder/";
/// Present once every grant is in the holder index.
const BY_HOLDER_DONE: &[u8] = b"grant-meta/by-holder";

fn holder_prefix(holder: &str) -> Vec<u8> {
    [BY_HOLDER, holder.as_bytes(), b"\0"].concat()
}

fn holder_key(g: &Grant) -> Vec<u8> {
    [holder_prefix(&g.holder).as_slice(), g.id.as_bytes()].concat()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Requested,
    Approved,
    Refused,
    Revoked,
    /// Approved, and its time is up (computed, never stored).
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub at: Timestamp,
    pub action: String,
    pub by: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    /// The requester's name (as shown).
    pub requester: String,
    /// The requester's identity: the grant is theirs alone (a grant
    /// written before holders existed has none and is nobody's).
    #[serde(default)]
    pub holder: String,
    pub requester_role: String,
    /// A `kind:key` ref, or none for "any subject".
    pub subject: Option<String>,
    pub regions: Vec<String>,
    pub reason: String,
    /// Requested duration, seconds (counted from approval).
    pub duration_secs: u64,
    pub status: GrantStatus,
    pub requested: Timestamp,
    pub decided_by: Option<String>,
    pub until: Option<Timestamp>,
    pub history: Vec<Step>,
}

impl Grant {
    /// The status at `now` (an approved grant past its time is expired).
    pub fn status_at(&self, now: Timestamp) -> GrantStatus {
        match (self.status, self.until) {
            (GrantStatus::Approved, Some(u)) if u <= now => GrantStatus::Expired,
            (s, _) => s,
        }
    }
}

/// A new time-ordered id with a prefix letter.
pub fn new_id(prefix: char, now: Timestamp) -> String {
    format!("{prefix}{:013}-{:08x}", now.0.max(0), rand::random::<u32>())
}

/// Writes a grant (only through [`Kept::put`], which forgets what it kept).
fn put(store: &RocksStore, g: &Grant) -> graph::Result<()> {
    store.app_write(&[
        ([GRANT, g.id.as_bytes()].concat(), Some(json(g))),
        (holder_key(g), Some(Vec::new())),
    ])
}

/// Holders whose grants are kept at most (then all are forgotten).
const KEPT_HOLDERS: usize = 4096;

/// Each holder's grants as read since a grant was last written: every
/// request reads its caller's grants in force, which from the store is an
/// iterator over the holder index and a read per grant (~10% of an
/// archive request's CPU over HTTP). Every grant is written through
/// [`Kept::put`] (the store is this process's alone), which forgets them all;
/// whether a kept grant is in force is decided at each request.
#[derive(Debug, Default)]
pub struct Kept(Mutex<KeptGrants>);

#[derive(Debug, Default)]
struct KeptGrants {
    /// Grants written so far (a read that began before one is not kept).
    writes: u64,
    by_holder: HashMap<String, Arc<Vec<Grant>>>,
}

impl Kept {
    /// Writes a grant; the next request of any caller reads its grants
    /// from the store again.
    pub fn put(&self, store: &RocksStore, g: &Grant) -> graph::Result<()> {
        let written = put(store, g);
        let mut k = lock(&self.0);
        k.writes += 1;
        k.by_holder.clear();
        written
    }

    /// The grants in force for holder `who` at `now`.
    pub fn active(
        &self,
        store: &RocksStore,
        who: &str,
        now: Timestamp,
    ) -> graph::Result<Vec<ActiveGrant>> {
        let seen = {
            let k = lock(&self.0);
            if let Some(mine) = k.by_holder.get(who) {
                return Ok(in_force(mine, who, now));
            }
            k.writes
        };
        let mine = Arc::new(of_holder(store, who)?);
        let mut k = lock(&self.0);
        // a grant written since the read began may be missing from it
        if k.writes == seen {
            if k.by_holder.len() >= KEPT_HOLDERS {
                k.by_holder.clear();
            }
            k.by_holder.insert(who.to_owned(), Arc::clone(&mine));
        }
        Ok(in_force(&mine, who, now))
    }
}

/// Builds the holder index for grants written before it existed (once).
pub fn index_holders(store: &RocksStore) -> graph::Result<u64> {
    super::alerts::build_index_once(store, BY_HOLDER_DONE, || {
        Ok(all(store)?
            .iter()
            .map(|g| (holder_key(g), Some(Vec::new())))
            .collect())
    })
}

/// A cross-region grant in force: `subject` (or anything, when `None`) in
/// `regions`, until `until`.
#[derive(Debug, Clone)]
pub struct ActiveGrant {
    pub id: String,
    pub subject: Option<model::NodeRef>,
    pub regions: Vec<String>,
    pub until: model::Timestamp,
}

pub fn get(store: &RocksStore, id: &str) -> graph::Result<Option<Grant>> {
    let k = [GRANT, id.as_bytes()].concat();
    store.app_get(&k)?.map(|v| parse(&k, &v)).transpose()
}

/// Every grant, oldest first.
pub fn all(store: &RocksStore) -> graph::Result<Vec<Grant>> {
    let mut out = Vec::new();
    store.app_scan(GRANT, false, None, |k, v| {
        out.push(parse(k, v)?);
        Ok(true)
    })?;
    Ok(out)
}

/// Every grant `holder` asked for (read by the holder index).
fn of_holder(store: &RocksStore, holder: &str) -> graph::Result<Vec<Grant>> {
    let prefix = holder_prefix(holder);
    let mut mine = Vec::new();
    store.app_scan(&prefix, false, None, |k, _| {
        if let Some(g) = get(store, &String::from_utf8_lossy(&k[prefix.len()..]))? {
            mine.push(g);
        }
        Ok(true)
    })?;
    Ok(mine)
}

/// Of `holder`'s grants, those in force at `now`.
fn in_force(mine: &[Grant], holder: &str, now: Timestamp) -> Vec<ActiveGrant> {
    mine.iter()
        .filter(|g| {
            !holder.is_empty() && g.holder == holder && g.status_at(now) == GrantStatus::Approved
        })
        .filter_map(|g| {
            let subject = match &g.subject {
                None => None,
                Some(s) => Some(NodeRef::parse(s).ok()?),
            };
            Some(ActiveGrant {
                id: g.id.clone(),
                subject,
                regions: g.regions.clone(),
                until: g.until?,
            })
        })
        .collect()
}

/// A saved investigation: subjects, the queries that found them, notes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Investigation {
    pub id: String,
    /// The owner's name (as shown).
    pub owner: String,
    /// The owner's identity (see [`Grant::holder`]).
    #[serde(default)]
    pub holder: String,
    pub title: String,
    pub subjects: Vec<String>,
    pub queries: Vec<String>,
    pub notes: String,
    pub created: Timestamp,
    pub updated: Timestamp,
}

pub fn put_investigation(store: &RocksStore, i: &Investigation) -> graph::Result<()> {
    store.app_write(&[([INVESTIGATION, i.id.as_bytes()].concat(), Some(json(i)))])
}

pub fn delete_investigation(store: &RocksStore, id: &str) -> graph::Result<()> {
    store.app_write(&[([INVESTIGATION, id.as_bytes()].concat(), None)])
}

pub fn investigations(store: &RocksStore) -> graph::Result<Vec<Investigation>> {
    let mut out = Vec::new();
    store.app_scan(INVESTIGATION, true, None, |k, v| {
        out.push(parse(k, v)?);
        Ok(true)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, who: &str, status: GrantStatus, until: Option<i64>) -> Grant {
        Grant {
            id: id.into(),
            requester: who.into(),
            holder: who.into(),
            requester_role: "officer".into(),
            subject: None,
            regions: vec!["320902".into()],
            reason: "test".into(),
            duration_secs: 3600,
            status,
            requested: Timestamp(0),
            decided_by: None,
            until: until.map(Timestamp),
            history: Vec::new(),
        }
    }

    #[test]
    fn kept_grants_follow_every_write_and_expire_on_time() {
        let (_dir, _, store) = crate::temp_store();
        let kept = Kept::default();
        let ids = |v: Vec<ActiveGrant>| v.into_iter().map(|g| g.id).collect::<Vec<_>>();
        // nothing yet, and that is kept
        assert!(kept.active(&store, "a", Timestamp(10)).unwrap().is_empty());
        kept.put(&store, &grant("G1", "a", GrantStatus::Requested, None))
            .unwrap();
        assert!(kept.active(&store, "a", Timestamp(10)).unwrap().is_empty());
        // approved: seen at the next request, not the kept empty list
        kept.put(&store, &grant("G1", "a", GrantStatus::Approved, Some(100)))
            .unwrap();
        assert_eq!(
            ids(kept.active(&store, "a", Timestamp(10)).unwrap()),
            ["G1"]
        );
        assert!(kept.active(&store, "b", Timestamp(10)).unwrap().is_empty());
        // kept, yet out of force once its time is up
        assert!(kept.active(&store, "a", Timestamp(100)).unwrap().is_empty());
        // a grant written behind the cache's back is not seen until the next
        // write through it (every write goes through `Kept::put`)
        put(&store, &grant("G2", "a", GrantStatus::Approved, Some(200))).unwrap();
        assert_eq!(
            ids(kept.active(&store, "a", Timestamp(10)).unwrap()),
            ["G1"]
        );
        kept.put(&store, &grant("G1", "a", GrantStatus::Revoked, Some(100)))
            .unwrap();
        assert_eq!(
            ids(kept.active(&store, "a", Timestamp(10)).unwrap()),
            ["G2"]
        );
    }
}
