//! Projections of the store of record: timelines and relations, kept current
//! incrementally and rebuildable with an identical result.
//!
//! A [`Projection`] reads the base log and the event log from its checkpoint
//! and, chunk by chunk, turns each record into derived state:
//!
//! * **Attribution** — an event's subjects: the person id on it, else the
//!   access card's holder; vehicle passes go to the vehicle by plate, e-bike
//!   reads to the bike by tag; a face feature with no id goes through the
//!   [`FaceMatcher`] port (registered faces now, stranger archives with the
//!   search issue), and the answer is recorded in the store of record, so a
//!   rebuild reproduces it. Stranger-archive merges are recorded too and
//!   resolved on projection; history (the archive's own timeline) is kept.
//! * **Timelines** (`tl`): per person, stranger archive, vehicle, house and
//!   device, `(subject, time, event, slot) → sighting`.
//! * **Co-occurrence evidence** (`acc`): `(kind, a, b, day, event, event) →
//!   time` for the event-derived relations; an edge is recomputed from its
//!   pair's evidence whenever the pair gains some, so the result does not
//!   depend on the order or batching of events.
//! * **Registration relations** are recomputed per house from all of its
//!   registrations whenever a residence or the house changes, and the edges
//!   no longer supported are removed.
//!
//! Every step is idempotent: projecting an event twice changes nothing. That
//! makes crash recovery a replay from the checkpoint, and lets an event whose
//! device, card or e-bike was not yet known be projected again when it
//! arrives (they are indexed as unresolved until then).

mod base;
mod events;
mod keys;
mod reads;
mod tx;

pub(crate) use base::{house_registers, is_occupant, unit_doors};
use base::{unit_prefix, within};
use keys::*;
pub use reads::*;
use tx::*;
pub(crate) use tx::{StateRead, Stored};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::Datelike;
use model::{
    BaseKind, BaseRecord, Clock, CommunityId, Device, DeviceKind, Direction, Event, EventBody,
    EventId, EventKind, Feature, NodeRef, PersonId, Plate, RelKind, Residence, ResidenceRole,
    Timestamp,
};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyBuf, KeyReader};
use crate::relation::{Edge, EdgeKey, GraphOp, Node, RelationStore};
use crate::rocks_graph::RocksGraph;
use crate::store::{CF_ACC, CF_ATTR, CF_DSTATE, CF_TL, DERIVED_CFS, decode, encode, event_key};
use crate::{Error, Result, RocksStore};

/// Parameters of the relation rules (`shared/DESIGN.md`'s defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelationParams {
    /// Companion: captured by the same device within this many seconds …
    pub companion_secs: u32,
    /// … on at least this many distinct days …
    pub companion_days: u32,
    /// … within a window of this many days.
    pub companion_window_days: u32,
    /// Inferred cohabitant: entering the same unit door at night on at least
    /// this many distinct nights …
    pub cohabit_nights: u32,
    /// … within a window of this many days.
    pub cohabit_window_days: u32,
    /// Drives (by proximity): passing the vehicle's gate within this many seconds …
    pub drive_secs: u32,
    /// … on at least this many distinct days …
    pub drive_days: u32,
    /// … within a window of this many days.
    pub drive_window_days: u32,
    /// Evidence ids kept on an edge (all of it stays queryable).
    pub max_evidence: usize,
}

impl Default for RelationParams {
    fn default() -> Self {
        Self {
            companion_secs: 30,
            companion_days: 3,
            companion_window_days: 30,
            cohabit_nights: 5,
            cohabit_window_days: 30,
            drive_secs: 10,
            drive_days: 3,
            drive_window_days: 30,
            max_evidence: 20,
        }
    }
}

/// Where a face was captured: the event, the feature's slot in it, when,
/// and the community of the capturing device (when known).
#[derive(Debug, Clone, Copy)]
pub struct Capture<'x> {
    pub event: &'x EventId,
    pub slot: u8,
    pub time: Timestamp,
    pub community: Option<&'x CommunityId>,
}

/// Attributes a face feature that came without a person id: to a registered
/// person, else a stranger archive (一人一档). The composition root wires the
/// face index here.
///
/// The matcher's own state (which archives exist, their representative
/// vectors) is a function of the attributions the projection records: the
/// projection tells it every attribution it projects ([`observe`]), recorded
/// or fresh, in log order, so replaying the logs rebuilds it. Its durable
/// state carries the projection checkpoint it reflects ([`commit`]); the
/// projection replays the gap on open.
///
/// [`observe`]: FaceMatcher::observe
/// [`commit`]: FaceMatcher::commit
pub trait FaceMatcher: Send + Sync + std::fmt::Debug {
    /// A registered person's face arrived or changed (or where they live:
    /// `community` is that of a current registration, for scoped searches).
    fn register(&self, person: &PersonId, face: &Feature, community: Option<&CommunityId>);
    /// Who this feature belongs to. With `strangers`, a face that matches no
    /// registered person joins the nearest stranger archive or opens one;
    /// without, only a registered person is an answer.
    fn identify(
        &self,
        feature: &Feature,
        capture: &Capture<'_>,
        strangers: bool,
    ) -> Option<NodeRef>;
    /// A feature was attributed to `who` (merges followed).
    fn observe(&self, _who: &NodeRef, _feature: &Feature, _capture: &Capture<'_>) {}
    /// Stranger archives that are this newly registered face (to be merged).
    fn claims(&self, _person: &PersonId, _face: &Feature) -> Vec<NodeRef> {
        Vec::new()
    }
    /// A stranger archive was merged into `into`.
    fn merged(&self, _archive: &NodeRef, _into: &NodeRef) {}
    /// The projection checkpoint the matcher's durable state reflects.
    fn checkpoint(&self) -> Option<Checkpoint> {
        None
    }
    /// Makes the state durable as of `ck` (`end`: the run is over; otherwise
    /// the matcher may defer).
    fn commit(&self, _ck: &Checkpoint, _end: bool) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Forgets everything (before a rebuild or replay from the start).
    fn clear(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A matcher that recognises nobody.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFaceMatcher;

impl FaceMatcher for NoFaceMatcher {
    fn register(&self, _: &PersonId, _: &Feature, _: Option<&CommunityId>) {}
    fn identify(&self, _: &Feature, _: &Capture<'_>, _: bool) -> Option<NodeRef> {
        None
    }
}

/// How a subject appears in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SightingRole {
    /// A person or vehicle passing or captured.
    Pass,
    /// The first face seen inside a vehicle.
    Driver,
    /// Another face seen inside a vehicle.
    Passenger,
    /// The rider of an e-bike read by its tag.
    Rider,
    /// A registered visitor (on the host house's timeline: a visit).
    Visitor,
    /// A device's own record of the event (device and house timelines).
    Device,
}

impl SightingRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Driver => "driver",
            Self::Passenger => "passenger",
            Self::Rider => "rider",
            Self::Visitor => "visitor",
            Self::Device => "device",
        }
    }

    /// Counts as a sighting of a person for the companion rule.
    fn moves_with_others(self) -> bool {
        matches!(
            self,
            Self::Pass | Self::Driver | Self::Passenger | Self::Rider
        )
    }
}

/// The stored part of a timeline entry (time, event and slot are in the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TlValue {
    pub device: model::DeviceId,
    pub kind: EventKind,
    pub direction: Option<Direction>,
    pub role: SightingRole,
    /// On device and house timelines: who the event was attributed to.
    pub subjects: Vec<NodeRef>,
}

/// Where projection has got to in each log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub events: u64,
    pub base: u64,
}

/// What a projection run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectStats {
    pub base_records: u64,
    pub events: u64,
    /// Events projected again because their device, card or bike arrived.
    pub reprojected: u64,
    pub graph_ops: u64,
}

/// Where the relation edges go.
#[derive(Debug, Clone, Copy)]
pub enum GraphTarget<'a> {
    /// The store of record's own database, in the projection's write batch.
    Embedded,
    /// Another backend (Neo4j): written before the checkpoint moves, so a
    /// crash replays them (upserts of whole edges are idempotent).
    External(&'a dyn RelationStore),
}

/// One projection run over a store (see the module docs).
#[derive(Debug)]
pub struct Projection<'a> {
    store: &'a RocksStore,
    target: GraphTarget<'a>,
    params: RelationParams,
    clock: Clock,
    matcher: &'a dyn FaceMatcher,
    /// "Now", for deciding which registrations have ended.
    now: Timestamp,
    /// Records per commit.
    pub chunk: usize,
    devices: Mutex<HashMap<String, Option<Device>>>,
}

/// An event as evidence: its id and time.
type Ev<'x> = (&'x EventId, Timestamp);

struct Subject {
    /// Who the event is about now (merges followed).
    node: NodeRef,
    /// Who it was attributed to, when a merge has since moved it: its
    /// timeline keeps the sighting (history is not rewritten).
    archived: Option<NodeRef>,
    slot: u8,
    role: SightingRole,
}

impl<'a> Projection<'a> {
    pub fn new(
        store: &'a RocksStore,
        target: GraphTarget<'a>,
        params: RelationParams,
        clock: Clock,
        matcher: &'a dyn FaceMatcher,
        now: Timestamp,
    ) -> Self {
        Self {
            store,
            target,
            params,
            clock,
            matcher,
            now,
            chunk: 4096,
            devices: Mutex::new(HashMap::new()),
        }
    }

    pub fn checkpoint(&self) -> Result<Checkpoint> {
        checkpoint(self.store)
    }

    /// How far behind the logs the projection is (base records, events).
    pub fn lag(&self) -> Result<(u64, u64)> {
        let c = self.checkpoint()?;
        Ok((
            self.store.base_log_len().saturating_sub(c.base),
            self.store.log_len().saturating_sub(c.events),
        ))
    }

    /// Projects everything the logs hold beyond the checkpoint: base records
    /// first, then events. `progress` sees the running totals after each commit.
    pub fn catch_up(&self, mut progress: impl FnMut(&ProjectStats)) -> Result<ProjectStats> {
        if self.store.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let mut stats = ProjectStats::default();
        self.sync_matcher()?;
        let mut ck = self.checkpoint()?;
        loop {
            let mut tx = Tx::new(self.store);
            if ck.base < self.store.base_log_len() {
                let chunk = self.store.base_log_from(ck.base, self.chunk)?;
                let Some(last) = chunk.last().map(|(s, _)| *s) else {
                    break;
                };
                for (_, rec) in &chunk {
                    stats.reprojected += self.project_base(&mut tx, rec)?;
                }
                stats.base_records += chunk.len() as u64;
                ck.base = last + 1;
            } else if ck.events < self.store.log_len() {
                let chunk = self.store.log_from(ck.events, self.chunk)?;
                let Some(last) = chunk.last().map(|(s, _)| *s) else {
                    break;
                };
                for (_, ev) in &chunk {
                    self.project_event(&mut tx, ev)?;
                }
                stats.events += chunk.len() as u64;
                ck.events = last + 1;
            } else {
                break;
            }
            stats.graph_ops += self.commit(tx, ck)?;
            self.commit_matcher(&ck, false)?;
            progress(&stats);
        }
        self.commit_matcher(&ck, true)?;
        Ok(stats)
    }

    fn commit_matcher(&self, ck: &Checkpoint, end: bool) -> Result<()> {
        self.matcher
            .commit(ck, end)
            .map_err(|e| Error::Storage(format!("face index: {e}")))
    }

    /// Brings the face matcher up to the projection checkpoint: it replays
    /// the recorded attributions its durable state does not reflect (all of
    /// them when it is ahead of the projection or has none). Nothing is
    /// identified anew: every attribution in the gap is recorded.
    pub fn sync_matcher(&self) -> Result<u64> {
        let ck = self.checkpoint()?;
        let from = match self.matcher.checkpoint() {
            Some(m) if m == ck => return Ok(0),
            Some(m) if m.base <= ck.base && m.events <= ck.events => m,
            _ => {
                self.matcher
                    .clear()
                    .map_err(|e| Error::Storage(format!("face index: {e}")))?;
                Checkpoint::default()
            }
        };
        let mut replayed = 0u64;
        let mut at = from;
        while at.base < ck.base {
            let chunk = self.store.base_log_from(at.base, self.chunk)?;
            let Some(last) = chunk.last().map(|(s, _)| *s) else {
                break;
            };
            for (seq, rec) in &chunk {
                if *seq >= ck.base {
                    break;
                }
                self.register_face(rec)?;
                replayed += 1;
            }
            at.base = (last + 1).min(ck.base);
        }
        while at.events < ck.events {
            let chunk = self.store.log_from(at.events, self.chunk)?;
            let Some(last) = chunk.last().map(|(s, _)| *s) else {
                break;
            };
            // a read-only view: attributions in the gap are all recorded
            let mut tx = Tx::new(self.store);
            for (seq, ev) in &chunk {
                if *seq >= ck.events {
                    break;
                }
                self.subjects(&mut tx, ev)?;
                replayed += 1;
            }
            at.events = (last + 1).min(ck.events);
        }
        self.commit_matcher(&ck, true)?;
        Ok(replayed)
    }

    /// Tells the matcher about a registered face (a person record, or a
    /// residence that moves where the person is registered).
    fn register_face(&self, rec: &BaseRecord) -> Result<()> {
        let person = match rec {
            BaseRecord::Person(p) => Some(p.clone()),
            BaseRecord::Residence(r) => {
                match self.store.base(BaseKind::Person, r.person.as_str())? {
                    Some(BaseRecord::Person(p)) => Some(p),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(p) = person
            && let Some(f) = &p.face
        {
            let community = self.community_of(&p.id)?;
            self.matcher.register(&p.id, f, community.as_ref());
        }
        Ok(())
    }

    /// The community of a person's current registration (the first, if several).
    fn community_of(&self, person: &PersonId) -> Result<Option<CommunityId>> {
        Ok(communities_of(self.store, person, self.now)?
            .into_iter()
            .next())
    }

    /// Clears every derived state (timelines, evidence, indexes, the graph)
    /// and projects the logs again from the start. Recorded attributions and
    /// merges are kept, so the result equals the incremental one.
    pub fn rebuild(&self, progress: impl FnMut(&ProjectStats)) -> Result<ProjectStats> {
        if self.store.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let db = self.store.db();
        for cf in DERIVED_CFS {
            let h = self.store.handle(cf);
            db.delete_range_cf(h, [0u8].as_slice(), [0xFFu8; 16].as_slice())?;
            // drop the deleted data now rather than reading past it later
            db.compact_range_cf(h, None::<&[u8]>, None::<&[u8]>);
        }
        if let GraphTarget::External(g) = self.target {
            g.clear()?;
        }
        self.matcher
            .clear()
            .map_err(|e| Error::Storage(format!("face index: {e}")))?;
        self.devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.catch_up(progress)
    }

    /// Records that a stranger archive is the registered person (or another
    /// archive) and moves its relations and timeline over: its events are
    /// projected again under the person. The archive's own timeline stays.
    pub fn merge(&self, archive: &NodeRef, into: &NodeRef) -> Result<ProjectStats> {
        if !matches!(archive, NodeRef::Stranger(_)) || !into.is_individual() || archive == into {
            return Err(Error::Invalid(format!(
                "cannot merge {archive} into {into}: only a stranger archive merges into a person or another archive"
            )));
        }
        let mut tx = Tx::new(self.store);
        let reprojected = self.merge_in(&mut tx, archive, into)?;
        let ck = self.checkpoint()?;
        let graph_ops = self.commit(tx, ck)?;
        self.commit_matcher(&ck, true)?;
        Ok(ProjectStats {
            reprojected,
            graph_ops,
            ..ProjectStats::default()
        })
    }

    /// A merge inside a running transaction; returns how many events were
    /// projected again.
    fn merge_in(&self, tx: &mut Tx<'_>, archive: &NodeRef, into: &NodeRef) -> Result<u64> {
        tx.put(
            CF_ATTR,
            KeyBuf::new().tag(MERGE_PREFIX).node(archive).into_bytes(),
            encode(into)?,
        );
        self.matcher.merged(archive, into);
        // the merge must be visible to the re-projection below
        let prefix = tl_prefix(archive).into_bytes();
        let mut ids = BTreeSet::new();
        for (k, v) in tx.prefix(CF_TL, &prefix)? {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (_, id) = (r.i64(), r.str());
            if let Ok(id) = id {
                let tv: TlValue = decode(&k, &v)?;
                ids.insert((id, tv.device));
            }
        }
        let mut n = 0;
        for (id, device) in ids {
            if let Some(ev) = self.store.event(&id, device.as_str())? {
                self.project_event(tx, &ev)?;
                n += 1;
            }
        }
        tx.ops.push(GraphOp::RemoveNode(archive.clone()));
        Ok(n)
    }

    fn commit(&self, mut tx: Tx<'_>, ck: Checkpoint) -> Result<u64> {
        for (community, building, unit) in std::mem::take(&mut tx.dirty_units) {
            self.judge_unit(&mut tx, &community, &building, &unit)?;
        }
        let dirty = std::mem::take(&mut tx.dirty);
        for (kind, a, b) in dirty {
            match self.pair_edge(&tx, kind, &a, &b)? {
                Some(edge) => tx.ops.push(GraphOp::Upsert(edge)),
                // evidence withdrawn (a registration changed who lives there)
                None => tx.ops.push(GraphOp::Remove(EdgeKey::new(kind, a, b, ""))),
            }
        }
        let mut batch = WriteBatch::default();
        for ((cf, k), v) in &tx.writes {
            let h = self.store.handle(cf);
            match v {
                Some(v) => batch.put_cf(h, k, v),
                None => batch.delete_cf(h, k),
            }
        }
        batch.put_cf(self.store.handle(CF_DSTATE), checkpoint_key(), encode(&ck)?);
        match self.target {
            GraphTarget::Embedded => RocksGraph::new(self.store).write_ops(&mut batch, &tx.ops)?,
            GraphTarget::External(g) => g.apply(&tx.ops)?,
        }
        // derived state need not be synced: after a crash it is replayed from
        // the checkpoint, which is written in the same batch
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.store.db().write_opt(batch, &wo)?;
        Ok(tx.ops.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rule() {
        let s = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
        assert!(within(&s(&[1, 2, 3]), 3, 30));
        assert!(!within(&s(&[1, 2]), 3, 30));
        assert!(within(&s(&[1, 15, 30]), 3, 30));
        assert!(!within(&s(&[1, 15, 31]), 3, 30));
        assert!(within(&s(&[1, 40, 50, 60]), 3, 30));
        assert!(within(&s(&[7]), 1, 30));
        assert!(!within(&s(&[]), 1, 30));
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(&[1, 2]), vec![1, 3]);
        assert_eq!(prefix_end(&[1, 0xFF]), vec![2]);
    }
}
