//! The full-text index kept current from the store: what each register
//! record contributes (persons, houses, vehicles, communities, devices), a
//! catch-up from the base log with the log position as checkpoint, and a
//! rebuild.
//!
//! The checkpoint (`base/<n>`: the first `n` base records are indexed) is
//! committed with the documents, so after a crash indexing resumes where
//! the last commit ended; a record indexed twice replaces its document.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use graph::RocksStore;
use model::{BaseKind, BaseRecord, CommunityId, NodeRef, Person, RegionCode, Timestamp};
use search::{TextDoc, TextIndex};

/// Base records read per step of a catch-up.
const STEP: usize = 20_000;

#[derive(Debug)]
pub struct Texts {
    pub index: TextIndex,
    /// Records indexed since the index was last merged into one segment.
    unmerged: AtomicU64,
}

/// A region's path from the top (province, city, district, …).
pub fn region_path(code: &RegionCode) -> Vec<String> {
    let mut path = vec![code.as_str().to_owned()];
    let mut at = code.clone();
    while let Some(p) = at.parent() {
        path.push(p.as_str().to_owned());
        at = p;
    }
    path.reverse();
    path
}

fn parse_checkpoint(s: &str) -> Option<u64> {
    s.strip_prefix("base/")?.parse().ok()
}

impl Texts {
    /// Opens the index, checking every file against its checksum; an index
    /// with a damaged file, one written in an earlier layout, or one that
    /// cannot be read at all is derived state: it is removed and rebuilt
    /// from the store of record by the
    /// next catch-up. A lock held by another process is an error, not damage.
    pub fn open(dir: &Path, writer_mb: usize) -> Result<Self> {
        let damage = match TextIndex::open(dir, writer_mb) {
            Ok(index) => match index.corrupt_files() {
                Ok(bad) if bad.is_empty() => return Ok(Self::with(index)),
                Ok(bad) => format!("files that fail their checksums: {bad:?}"),
                Err(e) => e.to_string(),
            },
            Err(search::TextError::Layout(_)) => "written by an earlier version".to_owned(),
            Err(e) if e.to_string().to_lowercase().contains("lock") => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("opening the full-text index at {}", dir.display()));
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(dir = %dir.display(), damage, "the full-text index cannot be used; rebuilding it from the store");
        eprintln!(
            "the full-text index at {} cannot be used ({damage}); rebuilding it from the store",
            dir.display()
        );
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the damaged index at {}", dir.display()))?;
        Ok(Self::with(TextIndex::open(dir, writer_mb).with_context(
            || format!("opening the full-text index at {}", dir.display()),
        )?))
    }

    fn with(index: TextIndex) -> Self {
        Self {
            index,
            unmerged: AtomicU64::new(0),
        }
    }

    /// Indexes the base records after the checkpoint; returns how many.
    pub fn catch_up(&self, store: &RocksStore) -> Result<u64> {
        let len = store.base_log_len();
        let mut from = match self
            .index
            .checkpoint()?
            .as_deref()
            .and_then(parse_checkpoint)
        {
            // the store was replaced behind the index: start afresh
            Some(n) if n > len => {
                self.index.clear()?;
                0
            }
            Some(n) => n,
            None => 0,
        };
        let start = from;
        let now = Timestamp(chrono::Utc::now().timestamp_millis());
        while from < len {
            let batch = store.base_log_from(from, STEP)?;
            let Some(last) = batch.last().map(|(seq, _)| *seq) else {
                break;
            };
            for (_, rec) in &batch {
                self.index_record(store, rec, now)?;
            }
            from = last + 1;
            self.index.commit(&format!("base/{from}"))?;
        }
        // a bulk load (a first ingest, a rebuild) left a segment per step
        let unmerged = self.unmerged.fetch_add(from - start, Ordering::Relaxed) + from - start;
        // and batch by batch: merged each time half the index is new (so
        // merges grow geometrically and cost about one merge in all)
        if from - start >= STEP as u64 || (unmerged > 0 && unmerged * 2 >= self.index.num_docs()) {
            self.merge()?;
        }
        Ok(from - start)
    }

    /// After a load indexed batch by batch (`anju ingest`): the index is
    /// merged into one segment (tantivy's merge policy leaves several, and
    /// every query walks each segment's dictionaries) when anything came in
    /// since the last merge — for an index of more than `SMALL` documents
    /// only when a step's worth of records or half the index did (a small
    /// addition to a large index is left to the merge policy).
    pub fn settle(&self) -> Result<()> {
        const SMALL: u64 = 200_000;
        let n = self.unmerged.load(Ordering::Relaxed);
        let docs = self.index.num_docs();
        if n > 0 && (docs <= SMALL || n >= STEP as u64 || n * 2 >= docs) {
            self.merge()?;
        }
        Ok(())
    }

    fn merge(&self) -> Result<()> {
        self.index.merge_all()?;
        self.unmerged.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets everything and indexes the store again.
    pub fn rebuild(&self, store: &RocksStore) -> Result<u64> {
        self.index.clear()?;
        self.catch_up(store)
    }

    fn index_record(&self, store: &RocksStore, rec: &BaseRecord, now: Timestamp) -> Result<()> {
        let doc = match rec {
            BaseRecord::Person(p) => person_doc(store, p, now)?,
            BaseRecord::Residence(r) => match store.base(BaseKind::Person, r.person.as_str())? {
                Some(BaseRecord::Person(p)) => person_doc(store, &p, now)?,
                _ => return Ok(()),
            },
            BaseRecord::Community(c) => TextDoc {
                key: NodeRef::Community(c.id.clone()).to_string(),
                kind: "community".into(),
                names: vec![c.name.clone()],
                text: c
                    .address
                    .iter()
                    .cloned()
                    .chain(c.kind.map(|k| k.as_str().to_owned()))
                    .collect(),
                idents: vec![c.id.as_str().to_owned()],
                communities: vec![c.id.as_str().to_owned()],
                regions: vec![region_path(&c.region)],
                ..TextDoc::default()
            },
            BaseRecord::House(h) => TextDoc {
                key: NodeRef::House(h.id.clone()).to_string(),
                kind: "house".into(),
                text: vec![
                    h.address
                        .clone()
                        .unwrap_or_else(|| format!("{}幢{}单元{}室", h.building, h.unit, h.room)),
                    h.usage.map(|u| u.as_str().to_owned()).unwrap_or_default(),
                ],
                idents: vec![h.id.as_str().to_owned()],
                ..placed(store, std::slice::from_ref(&h.community))?
            },
            BaseRecord::Vehicle(v) => TextDoc {
                key: NodeRef::Vehicle(v.plate.clone()).to_string(),
                kind: "vehicle".into(),
                text: [&v.color, &v.brand]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .chain(v.kind.map(|k| k.as_str().to_owned()))
                    .collect(),
                idents: std::iter::once(v.plate.as_str().to_owned())
                    .chain(v.rfid.as_ref().map(|r| r.as_str().to_owned()))
                    .collect(),
                ..placed(store, v.community.as_slice())?
            },
            BaseRecord::Device(d) => TextDoc {
                key: NodeRef::Device(d.id.clone()).to_string(),
                kind: "device".into(),
                names: d.name.iter().cloned().collect(),
                text: [&d.building, &d.unit]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .chain([d.kind.as_str().to_owned()])
                    .collect(),
                idents: vec![d.id.as_str().to_owned()],
                ..placed(store, std::slice::from_ref(&d.community))?
            },
            BaseRecord::Region(_) | BaseRecord::Card(_) | BaseRecord::Kin(_) => return Ok(()),
        };
        self.index.put(&doc)?;
        Ok(())
    }
}

/// A document's place: its communities and their region paths.
fn placed(store: &RocksStore, communities: &[CommunityId]) -> Result<TextDoc> {
    let mut doc = TextDoc::default();
    for c in communities {
        doc.communities.push(c.as_str().to_owned());
        if let Some(BaseRecord::Community(c)) = store.base(BaseKind::Community, c.as_str())? {
            doc.regions.push(region_path(&c.region));
        }
    }
    Ok(doc)
}

/// A person: name, identity number, phone, categories (as tags), placed in
/// the communities of their current registrations.
fn person_doc(store: &RocksStore, p: &Person, now: Timestamp) -> Result<TextDoc> {
    let communities = graph::communities_of(store, &p.id, now)?;
    Ok(TextDoc {
        key: NodeRef::Person(p.id.clone()).to_string(),
        kind: "person".into(),
        names: p.name.iter().cloned().collect(),
        idents: std::iter::once(p.id.as_str().to_owned())
            .chain(p.id_number.as_ref().map(|n| n.as_str().to_owned()))
            .chain(p.phone.clone())
            .collect(),
        tags: p.categories.clone(),
        ..placed(store, &communities)?
    })
}
