//! Tags: the analysis models' findings kept in the store's own records.
//!
//! A tag is one model's judgement about one entity: active while the model
//! keeps finding it, retired (with its history kept) when a run no longer
//! does. Applying the same run twice changes nothing: a finding equal to the
//! stored one is not written again.

use std::collections::{BTreeMap, BTreeSet};

use graph::RocksStore;
use model::Timestamp;
use serde::{Deserialize, Serialize};

const TAG: &[u8] = b"tag/";

/// One period a tag was active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub since: Timestamp,
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub model: String,
    /// `kind:key`.
    pub entity: String,
    pub active: bool,
    /// The latest finding's window, score, evidence and explanation.
    pub from: Timestamp,
    pub to: Timestamp,
    pub score: f64,
    pub evidence: Vec<String>,
    pub detail: String,
    pub history: Vec<Episode>,
    /// The time of the latest run applied: an older run (a replay) does not
    /// change the tag.
    #[serde(default = "epoch")]
    pub judged: Timestamp,
}

fn epoch() -> Timestamp {
    Timestamp(i64::MIN)
}

fn key(model: &str, entity: &str) -> Vec<u8> {
    [TAG, model.as_bytes(), b"/", entity.as_bytes()].concat()
}

fn model_prefix(model: &str) -> Vec<u8> {
    [TAG, model.as_bytes(), b"/"].concat()
}

/// An entity's tags, one per model that ever tagged it.
pub fn tags_of(store: &RocksStore, entity: &str) -> graph::Result<Vec<Tag>> {
    let mut out = Vec::new();
    for m in analysis::MODELS {
        let k = key(m, entity);
        if let Some(v) = store.app_get(&k)? {
            out.push(
                serde_json::from_slice(&v).map_err(|e| graph::Error::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    why: e.to_string(),
                })?,
            );
        }
    }
    Ok(out)
}

/// Deletes every tag (a job run afresh after its parameters changed).
pub fn clear(store: &RocksStore) -> graph::Result<u64> {
    let mut keys = Vec::new();
    store.app_scan(TAG, false, None, |k, _| {
        keys.push((k.to_vec(), None));
        Ok(true)
    })?;
    let n = keys.len() as u64;
    for chunk in keys.chunks(10_000) {
        store.app_write(chunk)?;
    }
    Ok(n)
}

/// What applying a run did, per model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub retired: u64,
}

/// Tags of a model (all, or only the active ones).
pub fn tags(store: &RocksStore, model: &str, active_only: bool) -> graph::Result<Vec<Tag>> {
    let mut out = Vec::new();
    store.app_scan(&model_prefix(model), false, None, |k, v| {
        let t: Tag = serde_json::from_slice(v).map_err(|e| graph::Error::Corrupt {
            key: String::from_utf8_lossy(k).into_owned(),
            why: e.to_string(),
        })?;
        if t.active || !active_only {
            out.push(t);
        }
        Ok(true)
    })?;
    Ok(out)
}

/// Keeps a run's findings for `models` (the models that ran): new findings
/// become active tags, changed ones are updated, active tags no longer found
/// are retired (with a `scope`, only tags of entities in it). Tags already judged by a run at or after `now` are left
/// as they are, so replaying a span changes nothing. One durable batch.
pub fn apply(
    store: &RocksStore,
    models: &[&str],
    findings: &[analysis::Finding],
    now: Timestamp,
    scope: Option<&BTreeSet<model::NodeRef>>,
) -> graph::Result<BTreeMap<String, Applied>> {
    let in_scope = |entity: &str| {
        scope.is_none_or(|sc| model::NodeRef::parse(entity).is_ok_and(|n| sc.contains(&n)))
    };
    let mut out: BTreeMap<String, Applied> = BTreeMap::new();
    let mut writes = Vec::new();
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    for f in findings.iter().filter(|f| models.contains(&f.model)) {
        let entity = f.entity.to_string();
        found.insert((f.model.to_owned(), entity.clone()));
        let k = key(f.model, &entity);
        let old: Option<Tag> = store
            .app_get(&k)?
            .and_then(|v| serde_json::from_slice(&v).ok());
        let a = out.entry(f.model.to_owned()).or_default();
        let mut tag = match old {
            Some(t) if t.judged >= now => {
                a.unchanged += 1;
                continue;
            }
            Some(t)
                if t.active
                    && t.from == f.from
                    && t.to == f.to
                    && t.evidence == f.evidence
                    && t.detail == f.detail =>
            {
                a.unchanged += 1;
                continue;
            }
            Some(t) => {
                if t.active {
                    a.changed += 1;
                } else {
                    a.new += 1;
                }
                t
            }
            None => {
                a.new += 1;
                Tag {
                    model: f.model.to_owned(),
                    entity: entity.clone(),
                    active: false,
                    from: f.from,
                    to: f.to,
                    score: f.score,
                    evidence: Vec::new(),
                    detail: String::new(),
                    history: Vec::new(),
                    judged: now,
                }
            }
        };
        if !tag.active {
            tag.history.push(Episode {
                since: now,
                until: None,
            });
        }
        tag.active = true;
        tag.from = f.from;
        tag.to = f.to;
        tag.score = f.score;
        tag.evidence = f.evidence.clone();
        tag.detail = f.detail.clone();
        tag.judged = now;
        writes.push((k, Some(serde_json::to_vec(&tag).unwrap_or_default())));
    }
    for m in models {
        for mut t in tags(store, m, true)? {
            if t.judged >= now
                || !in_scope(&t.entity)
                || found.contains(&(t.model.clone(), t.entity.clone()))
            {
                continue;
            }
            t.active = false;
            t.judged = now;
            if let Some(last) = t.history.last_mut() {
                last.until = Some(now);
            }
            out.entry(t.model.clone()).or_default().retired += 1;
            writes.push((
                key(&t.model, &t.entity),
                Some(serde_json::to_vec(&t).unwrap_or_default()),
            ));
        }
    }
    if !writes.is_empty() {
        store.app_write(&writes)?;
    }
    Ok(out)
}
