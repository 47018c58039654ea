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

// ----- keys of the derived state ---------------------------------------------

/// `dstate` sub-spaces.
mod st {
    pub const CHECKPOINT: u8 = 0;
    /// (ref kind, ref key, event key) → (): events waiting for a device, card or tag
    pub const UNRESOLVED: u8 = 1;
    /// e-bike tag → plate
    pub const TAG: u8 = 2;
    /// identity number → person id
    pub const ID_NUMBER: u8 = 3;
    /// (house, residence key) → ()
    pub const RESIDENCE: u8 = 4;
    /// (community, building, unit, person, house) → (): current occupants per unit
    pub const UNIT: u8 = 5;
    /// house → what its registrations produced (edge keys, unit keys)
    pub const HOUSE_OUT: u8 = 6;
    /// (device, night, subject, event id) → time: night entries through a unit door
    pub const NIGHT: u8 = 7;
    /// plate → owner (the owns edge written for it)
    pub const OWNER: u8 = 8;
    /// phone → person id
    pub const PHONE: u8 = 9;
    /// (community, building, unit, device) → (): the unit doors of a unit
    pub const UNIT_DOOR: u8 = 10;
}

const UNRES_DEVICE: u8 = 0;
const UNRES_CARD: u8 = 1;
const UNRES_TAG: u8 = 2;

/// Merges live in `attr` under a prefix no event key can start with
/// (UTF-8 never contains 0xFF).
const MERGE_PREFIX: u8 = 0xFF;

fn checkpoint_key() -> Vec<u8> {
    vec![st::CHECKPOINT]
}

fn tl_prefix(subject: &NodeRef) -> KeyBuf {
    KeyBuf::new().node(subject)
}

fn tl_key(subject: &NodeRef, t: Timestamp, ev: &EventId, slot: u8) -> Vec<u8> {
    tl_prefix(subject)
        .i64(t.0)
        .str(ev.as_str())
        .tag(slot)
        .into_bytes()
}

fn acc_prefix(kind: RelKind, from: &NodeRef, to: &NodeRef) -> Vec<u8> {
    KeyBuf::new().rel(kind).node(from).node(to).into_bytes()
}

/// Evidence for an event-derived relation: the two events, their time, and
/// whether it alone establishes the relation (a face inside the vehicle).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct AccValue {
    time: i64,
    direct: bool,
}

/// What one house's registrations produced last time, to remove what they
/// no longer support.
#[derive(Debug, Default, Serialize, Deserialize)]
struct HouseOut {
    edges: Vec<EdgeKey>,
    units: Vec<Vec<u8>>,
}

// ----- the write transaction -------------------------------------------------

/// Writes of one chunk, visible to later reads of the same chunk.
struct Tx<'s> {
    store: &'s RocksStore,
    writes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    ops: Vec<GraphOp>,
    /// Pairs whose evidence changed: their edge is recomputed at commit.
    dirty: BTreeSet<(RelKind, NodeRef, NodeRef)>,
    /// Units whose registered occupants changed: their night entries are
    /// judged again at commit (inferred cohabitants).
    dirty_units: BTreeSet<(String, String, String)>,
}

impl<'s> Tx<'s> {
    fn new(store: &'s RocksStore) -> Self {
        Self {
            store,
            writes: BTreeMap::new(),
            ops: Vec::new(),
            dirty: BTreeSet::new(),
            dirty_units: BTreeSet::new(),
        }
    }

    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.writes.get(&(cf, key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self
            .store
            .db()
            .get_pinned_cf(self.store.handle(cf), key)?
            .map(|v| v.to_vec()))
    }

    fn put(&mut self, cf: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((cf, key), Some(value));
    }

    fn delete(&mut self, cf: &'static str, key: Vec<u8>) {
        self.writes.insert((cf, key), None);
    }

    /// Entries with `lo <= key < hi`, stored and written, in key order.
    fn range(&self, cf: &'static str, lo: &[u8], hi: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let db = self.store.db();
        for item in db.iterator_cf(
            self.store.handle(cf),
            IteratorMode::From(lo, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if k.as_ref() >= hi {
                break;
            }
            out.insert(k.to_vec(), v.to_vec());
        }
        for ((_, k), v) in self.writes.range((cf, lo.to_vec())..(cf, hi.to_vec())) {
            match v {
                Some(v) => out.insert(k.clone(), v.clone()),
                None => out.remove(k),
            };
        }
        Ok(out.into_iter().collect())
    }

    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.range(cf, prefix, &prefix_end(prefix))
    }
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; 16]
}

// ----- the projection --------------------------------------------------------

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

    // ----- base records ------------------------------------------------------

    /// Projects a base record; returns how many waiting events it released.
    fn project_base(&self, tx: &mut Tx<'_>, rec: &BaseRecord) -> Result<u64> {
        match rec {
            BaseRecord::Person(p) => {
                let node = NodeRef::Person(p.id.clone());
                tx.ops.push(GraphOp::Node(Node {
                    node: node.clone(),
                    label: p.name.clone().unwrap_or_default(),
                }));
                if let Some(n) = &p.id_number {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new()
                            .tag(st::ID_NUMBER)
                            .str(n.as_str())
                            .into_bytes(),
                        p.id.as_str().as_bytes().to_vec(),
                    );
                }
                if let Some(phone) = &p.phone {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new().tag(st::PHONE).str(phone).into_bytes(),
                        p.id.as_str().as_bytes().to_vec(),
                    );
                }
                let mut moved = 0;
                if let Some(f) = &p.face {
                    self.register_face(rec)?;
                    // stranger archives this face shows to be the person
                    for archive in self.matcher.claims(&p.id, f) {
                        if self.resolve(tx, archive.clone())? == archive {
                            moved += self.merge_in(tx, &archive, &node)?;
                        }
                    }
                }
                Ok(moved)
            }
            BaseRecord::House(h) => {
                tx.ops.push(GraphOp::Node(Node {
                    node: NodeRef::House(h.id.clone()),
                    label: h.address.clone().unwrap_or_else(|| {
                        format!("{} {}-{}-{}", h.community, h.building, h.unit, h.room)
                    }),
                }));
                self.house_registrations(tx, &h.id)?;
                Ok(0)
            }
            BaseRecord::Residence(r) => {
                tx.put(
                    CF_DSTATE,
                    KeyBuf::new()
                        .tag(st::RESIDENCE)
                        .str(r.house.as_str())
                        .str(&rec.key())
                        .into_bytes(),
                    Vec::new(),
                );
                self.house_registrations(tx, &r.house)?;
                // where the person lives scopes their face for searches
                self.register_face(rec)?;
                Ok(0)
            }
            BaseRecord::Vehicle(v) => {
                let node = NodeRef::Vehicle(v.plate.clone());
                let label = [
                    Some(v.plate.as_str()),
                    v.brand.as_deref(),
                    v.color.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                tx.ops.push(GraphOp::Node(Node {
                    node: node.clone(),
                    label,
                }));
                let owner_key = KeyBuf::new()
                    .tag(st::OWNER)
                    .str(v.plate.as_str())
                    .into_bytes();
                let old: Option<PersonId> = match tx.get(CF_DSTATE, &owner_key)? {
                    Some(b) => Some(decode(&owner_key, &b)?),
                    None => None,
                };
                if old != v.owner {
                    if let Some(o) = &old {
                        tx.ops.push(GraphOp::Remove(EdgeKey::new(
                            RelKind::Owns,
                            NodeRef::Person(o.clone()),
                            node.clone(),
                            "",
                        )));
                    }
                    match &v.owner {
                        Some(o) => tx.put(CF_DSTATE, owner_key, encode(o)?),
                        None => tx.delete(CF_DSTATE, owner_key),
                    }
                }
                if let Some(o) = &v.owner {
                    tx.ops.push(GraphOp::Upsert(Edge {
                        key: EdgeKey::new(RelKind::Owns, NodeRef::Person(o.clone()), node, ""),
                        first_seen: None,
                        last_seen: None,
                        strength: 1,
                        historical: false,
                        detail: v.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                        evidence: vec![format!("vehicle:{}", v.plate)],
                        n_evidence: 1,
                    }));
                }
                let mut n = 0;
                if let Some(tag) = &v.rfid {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new().tag(st::TAG).str(tag.as_str()).into_bytes(),
                        v.plate.as_str().as_bytes().to_vec(),
                    );
                    n += self.release(tx, UNRES_TAG, tag.as_str())?;
                }
                Ok(n)
            }
            BaseRecord::Kin(k) => {
                tx.ops.push(GraphOp::Upsert(Edge {
                    key: EdgeKey::new(
                        RelKind::Kin,
                        NodeRef::Person(k.a.clone()),
                        NodeRef::Person(k.b.clone()),
                        k.relation.as_str(),
                    ),
                    first_seen: None,
                    last_seen: None,
                    strength: 1,
                    historical: false,
                    detail: k.relation.as_str().to_owned(),
                    evidence: vec![format!("kin:{}", rec.key().replace('\u{1f}', "|"))],
                    n_evidence: 1,
                }));
                Ok(0)
            }
            BaseRecord::Card(c) => self.release(tx, UNRES_CARD, c.card_no.as_str()),
            BaseRecord::Device(d) => {
                self.devices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(d.id.to_string(), Some(d.clone()));
                if d.kind == DeviceKind::UnitDoor
                    && let (Some(b), Some(u)) = (&d.building, &d.unit)
                {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new()
                            .tag(st::UNIT_DOOR)
                            .str(d.community.as_str())
                            .str(b)
                            .str(u)
                            .str(d.id.as_str())
                            .into_bytes(),
                        Vec::new(),
                    );
                    tx.dirty_units
                        .insert((d.community.to_string(), b.clone(), u.clone()));
                }
                self.release(tx, UNRES_DEVICE, d.id.as_str())
            }
            BaseRecord::Region(_) | BaseRecord::Community(_) => Ok(0),
        }
    }

    /// Projects again the events that waited for a base record.
    fn release(&self, tx: &mut Tx<'_>, what: u8, key: &str) -> Result<u64> {
        let prefix = KeyBuf::new()
            .tag(st::UNRESOLVED)
            .tag(what)
            .str(key)
            .into_bytes();
        let waiting = tx.prefix(CF_DSTATE, &prefix)?;
        let mut n = 0;
        for (k, _) in waiting {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (id, device) =
                r.str()
                    .and_then(|id| Ok((id, r.str()?)))
                    .map_err(|e| Error::Corrupt {
                        key: format!("{k:02x?}"),
                        why: e.to_string(),
                    })?;
            tx.delete(CF_DSTATE, k.clone());
            if let Some(ev) = self.store.event(&id, &device)? {
                self.project_event(tx, &ev)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn wait_for(&self, tx: &mut Tx<'_>, what: u8, key: &str, ev: &Event) {
        tx.put(
            CF_DSTATE,
            KeyBuf::new()
                .tag(st::UNRESOLVED)
                .tag(what)
                .str(key)
                .raw(&event_key(ev.id.as_str(), ev.device.as_str()))
                .into_bytes(),
            Vec::new(),
        );
    }

    /// Recomputes everything a house's registrations imply: lives_in /
    /// lived_in, registered cohabitants, tenant_of, and the unit's occupant
    /// index; removes what they no longer support.
    fn house_registrations(&self, tx: &mut Tx<'_>, house: &model::HouseId) -> Result<()> {
        let hnode = NodeRef::House(house.clone());
        let (h, regs) = house_registers(&*tx, house)?;
        let ended = |t: Option<Timestamp>| t.is_some_and(|t| t <= self.now);
        let evidence =
            |r: &Residence| format!("residence:{}|{}|{}", r.person, r.house, r.role.as_str());
        let occupants: Vec<&Residence> =
            regs.iter().filter(|r| is_occupant(r, h.as_ref())).collect();
        let mut edges: BTreeMap<EdgeKey, Edge> = BTreeMap::new();

        // lives_in / lived_in: one edge per occupant, over all their roles
        let mut per_person: BTreeMap<&PersonId, Vec<&Residence>> = BTreeMap::new();
        for r in &occupants {
            per_person.entry(&r.person).or_default().push(r);
        }
        for (p, rs) in &per_person {
            let historical = rs.iter().all(|r| ended(r.until));
            let kind = if historical {
                RelKind::LivedIn
            } else {
                RelKind::LivesIn
            };
            let open = rs.iter().any(|r| r.until.is_none());
            let mut roles: Vec<&str> = rs.iter().map(|r| r.role.as_str()).collect();
            roles.sort();
            roles.dedup();
            let mut ev: Vec<String> = rs.iter().map(|r| evidence(r)).collect();
            ev.sort();
            let e = Edge {
                key: EdgeKey::new(kind, NodeRef::Person((*p).clone()), hnode.clone(), ""),
                first_seen: rs.iter().filter_map(|r| r.since).min(),
                last_seen: if open {
                    None
                } else {
                    rs.iter().filter_map(|r| r.until).max()
                },
                strength: rs.len() as u32,
                historical,
                detail: roles.join(";"),
                n_evidence: ev.len() as u32,
                evidence: ev,
            };
            edges.insert(e.key.clone(), e);
        }

        // cohabitants: occupants whose registrations overlap in time
        for (i, a) in occupants.iter().enumerate() {
            for b in &occupants[i + 1..] {
                if a.person == b.person {
                    continue;
                }
                let start = a.since.max(b.since);
                let end = match (a.until, b.until) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                if let (Some(s), Some(e)) = (start, end)
                    && e <= s
                {
                    continue;
                }
                let key = EdgeKey::new(
                    RelKind::Cohabitant,
                    NodeRef::Person(a.person.clone()),
                    NodeRef::Person(b.person.clone()),
                    house.as_str(),
                );
                let mut ev = vec![evidence(a), evidence(b)];
                let entry = edges.entry(key.clone()).or_insert_with(|| Edge {
                    key,
                    first_seen: start,
                    last_seen: end,
                    strength: 0,
                    historical: true,
                    detail: String::new(),
                    evidence: Vec::new(),
                    n_evidence: 0,
                });
                entry.first_seen = entry.first_seen.min(start).or(start);
                entry.last_seen = match (entry.last_seen, end) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
                entry.historical &= ended(end);
                entry.strength += 1;
                entry.evidence.append(&mut ev);
                entry.evidence.sort();
                entry.evidence.dedup();
                entry.n_evidence = entry.evidence.len() as u32;
            }
        }

        // tenant_of: a tenant of a house whose owner is the other person
        for t in regs.iter().filter(|r| r.role == ResidenceRole::Tenant) {
            for o in regs.iter().filter(|r| r.role == ResidenceRole::Owner) {
                if t.person == o.person {
                    continue;
                }
                let historical = ended(t.until) || ended(o.until);
                let key = EdgeKey::new(
                    RelKind::TenantOf,
                    NodeRef::Person(t.person.clone()),
                    NodeRef::Person(o.person.clone()),
                    house.as_str(),
                );
                let mut ev = vec![evidence(t), evidence(o)];
                ev.sort();
                edges.insert(
                    key.clone(),
                    Edge {
                        key,
                        first_seen: t.since,
                        last_seen: t.until,
                        strength: 1,
                        historical,
                        detail: String::new(),
                        n_evidence: 2,
                        evidence: ev,
                    },
                );
            }
        }

        // the unit's current occupants (for the inferred-cohabitant rule)
        let mut units = Vec::new();
        if let Some(h) = &h {
            for (p, rs) in &per_person {
                if rs.iter().any(|r| !ended(r.until)) {
                    units.push(
                        unit_prefix(h.community.as_str(), &h.building, &h.unit)
                            .str(p.as_str())
                            .str(house.as_str())
                            .into_bytes(),
                    );
                }
            }
        }

        let out_key = KeyBuf::new()
            .tag(st::HOUSE_OUT)
            .str(house.as_str())
            .into_bytes();
        let old: HouseOut = match tx.get(CF_DSTATE, &out_key)? {
            Some(b) => decode(&out_key, &b)?,
            None => HouseOut::default(),
        };
        for k in &old.edges {
            if !edges.contains_key(k) {
                tx.ops.push(GraphOp::Remove(k.clone()));
            }
        }
        for k in &old.units {
            if !units.contains(k) {
                tx.delete(CF_DSTATE, k.clone());
            }
        }
        if old.units != units {
            for k in old.units.iter().chain(&units) {
                let mut r = KeyReader::new(&k[1..]);
                if let (Ok(c), Ok(b), Ok(u)) = (r.str(), r.str(), r.str()) {
                    tx.dirty_units.insert((c, b, u));
                }
            }
        }
        for k in &units {
            tx.put(CF_DSTATE, k.clone(), Vec::new());
        }
        let new = HouseOut {
            edges: edges.keys().cloned().collect(),
            units,
        };
        for (_, mut e) in edges {
            e.evidence.truncate(self.params.max_evidence);
            tx.ops.push(GraphOp::Upsert(e));
        }
        tx.put(CF_DSTATE, out_key, encode(&new)?);
        Ok(())
    }

    // ----- events ------------------------------------------------------------

    fn device(&self, id: &model::DeviceId) -> Result<Option<Device>> {
        let mut cache = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(id.as_str()) {
            return Ok(d.clone());
        }
        let d = match self.store.base(BaseKind::Device, id.as_str())? {
            Some(BaseRecord::Device(d)) => Some(d),
            _ => None,
        };
        if d.is_some() {
            cache.insert(id.to_string(), d.clone());
        }
        Ok(d)
    }

    /// Follows recorded merges from a stranger archive to whom it now is.
    fn resolve(&self, tx: &Tx<'_>, n: NodeRef) -> Result<NodeRef> {
        let mut n = n;
        for _ in 0..16 {
            if !matches!(n, NodeRef::Stranger(_)) {
                break;
            }
            let k = KeyBuf::new().tag(MERGE_PREFIX).node(&n).into_bytes();
            match tx.get(CF_ATTR, &k)? {
                Some(b) => n = decode(&k, &b)?,
                None => break,
            }
        }
        Ok(n)
    }

    /// Who a face feature belongs to: the recorded answer, else the matcher's
    /// (recorded now). With `strangers`, an unregistered face gets a stranger
    /// archive. The matcher observes the answer (merges followed) either way.
    fn identify(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        slot: u8,
        f: &Feature,
        strangers: bool,
    ) -> Result<Option<NodeRef>> {
        let k = KeyBuf::new()
            .raw(&event_key(ev.id.as_str(), ev.device.as_str()))
            .tag(slot)
            .into_bytes();
        let device = self.device(&ev.device)?;
        let capture = Capture {
            event: &ev.id,
            slot,
            time: ev.time,
            community: device.as_ref().map(|d| &d.community),
        };
        let who = match tx.get(CF_ATTR, &k)? {
            Some(b) => decode(&k, &b)?,
            None => {
                let who = self.matcher.identify(f, &capture, strangers);
                tx.put(CF_ATTR, k, encode(&who)?);
                who
            }
        };
        if let Some(w) = &who {
            let now = self.resolve(tx, w.clone())?;
            self.matcher.observe(&now, f, &capture);
        }
        Ok(who)
    }

    /// Who a registered visitor is: the person with that identity number,
    /// else the face's match, else the person with that phone. A visitor
    /// known only by an unregistered identity number or phone becomes a
    /// person node keyed by it (`tel:` + phone), labelled with the name given.
    fn visitor(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        visitor: &model::VisitorInfo,
    ) -> Result<Option<NodeRef>> {
        let lookup = |tx: &Tx<'_>, space: u8, key: &str| -> Result<Option<String>> {
            let k = KeyBuf::new().tag(space).str(key).into_bytes();
            Ok(tx
                .get(CF_DSTATE, &k)?
                .map(|p| String::from_utf8_lossy(&p).into_owned()))
        };
        let mut fallback = None;
        if let Some(n) = &visitor.id_number {
            match lookup(tx, st::ID_NUMBER, n.as_str())? {
                Some(p) => return Ok(PersonId::new(&p).ok().map(NodeRef::Person)),
                None => fallback = Some(n.as_str().to_owned()),
            }
        }
        if let Some(f) = &visitor.feature
            && let Some(who) = self.identify(tx, ev, 0, f, false)?
        {
            return Ok(Some(who));
        }
        if let Some(phone) = visitor
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match lookup(tx, st::PHONE, phone)? {
                Some(p) => return Ok(PersonId::new(&p).ok().map(NodeRef::Person)),
                None => fallback = fallback.or_else(|| Some(format!("tel:{phone}"))),
            }
        }
        let Some(key) = fallback else {
            return Ok(None);
        };
        let Ok(pid) = PersonId::new(&key) else {
            return Ok(None);
        };
        if self.store.base(BaseKind::Person, pid.as_str())?.is_none()
            && let Some(name) = &visitor.name
        {
            tx.ops.push(GraphOp::Node(Node {
                node: NodeRef::Person(pid.clone()),
                label: name.clone(),
            }));
        }
        Ok(Some(NodeRef::Person(pid)))
    }

    fn card_holder(
        &self,
        tx: &mut Tx<'_>,
        card: &model::CardNo,
        ev: &Event,
    ) -> Result<Option<NodeRef>> {
        match self.store.base(BaseKind::Card, card.as_str())? {
            Some(BaseRecord::Card(c)) => Ok(Some(NodeRef::Person(c.person))),
            _ => {
                self.wait_for(tx, UNRES_CARD, card.as_str(), ev);
                Ok(None)
            }
        }
    }

    fn subjects(&self, tx: &mut Tx<'_>, ev: &Event) -> Result<Vec<Subject>> {
        let mut out = Vec::new();
        let id = ev;
        let mut push = |node: Option<NodeRef>, slot: u8, role: SightingRole| {
            if let Some(node) = node {
                out.push(Subject {
                    node,
                    archived: None,
                    slot,
                    role,
                });
            }
        };
        match &ev.body {
            EventBody::FaceCapture {
                person, feature, ..
            } => {
                let who = match (person, feature) {
                    (Some(p), _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(f)) => self.identify(tx, ev, 0, f, true)?,
                    (None, None) => None,
                };
                push(who, 0, SightingRole::Pass);
            }
            EventBody::Access {
                person,
                card_no,
                feature,
                ..
            } => {
                let who = match (person, card_no, feature) {
                    (Some(p), _, _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(c), _) => self.card_holder(tx, c, id)?,
                    (None, None, Some(f)) => self.identify(tx, ev, 0, f, true)?,
                    _ => None,
                };
                push(who, 0, SightingRole::Pass);
            }
            EventBody::Rfid {
                tag,
                card_no,
                person,
                ..
            } => {
                let tag_key = KeyBuf::new().tag(st::TAG).str(tag.as_str()).into_bytes();
                let bike = match tx.get(CF_DSTATE, &tag_key)? {
                    Some(p) => Some(NodeRef::Vehicle(
                        Plate::new(&String::from_utf8_lossy(&p)).map_err(|e| Error::Corrupt {
                            key: format!("tag {tag}"),
                            why: e.to_string(),
                        })?,
                    )),
                    None => {
                        self.wait_for(tx, UNRES_TAG, tag.as_str(), id);
                        None
                    }
                };
                let rider = match (person, card_no) {
                    (Some(p), _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(c)) => self.card_holder(tx, c, id)?,
                    _ => None,
                };
                push(bike, 0, SightingRole::Pass);
                push(rider, 1, SightingRole::Rider);
            }
            EventBody::VehiclePass {
                plate,
                occupant_features,
                ..
            } => {
                push(plate.clone().map(NodeRef::Vehicle), 0, SightingRole::Pass);
                for (i, f) in occupant_features.iter().enumerate().take(250) {
                    let slot = i as u8 + 1;
                    let who = self.identify(tx, ev, slot, f, true)?;
                    let role = if i == 0 {
                        SightingRole::Driver
                    } else {
                        SightingRole::Passenger
                    };
                    push(who, slot, role);
                }
            }
            EventBody::Visitor { visitor, .. } => {
                let who = self.visitor(tx, ev, visitor)?;
                push(who, 0, SightingRole::Visitor);
            }
            EventBody::Probe { .. }
            | EventBody::DoorSensor { .. }
            | EventBody::DeviceAlarm { .. } => {}
        }
        for s in &mut out {
            let now = self.resolve(tx, s.node.clone())?;
            if now != s.node {
                s.archived = Some(std::mem::replace(&mut s.node, now));
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_tl(
        &self,
        tx: &mut Tx<'_>,
        subject: &NodeRef,
        ev: &Event,
        slot: u8,
        role: SightingRole,
        subjects: Vec<NodeRef>,
        direction: Option<Direction>,
    ) -> Result<()> {
        let v = TlValue {
            device: ev.device.clone(),
            kind: ev.kind(),
            direction,
            role,
            subjects,
        };
        tx.put(CF_TL, tl_key(subject, ev.time, &ev.id, slot), encode(&v)?);
        Ok(())
    }

    fn project_event(&self, tx: &mut Tx<'_>, ev: &Event) -> Result<()> {
        let device = self.device(&ev.device)?;
        if device.is_none() {
            self.wait_for(tx, UNRES_DEVICE, ev.device.as_str(), ev);
        }
        let direction = match &ev.body {
            EventBody::FaceCapture { direction, .. }
            | EventBody::Access { direction, .. }
            | EventBody::VehiclePass { direction, .. }
            | EventBody::Rfid { direction, .. } => *direction,
            _ => None,
        }
        .or(device.as_ref().and_then(|d| d.direction));
        let subjects = self.subjects(tx, ev)?;
        let me: Ev = (&ev.id, ev.time);
        let all: Vec<NodeRef> = subjects.iter().map(|s| s.node.clone()).collect();

        // timelines: the device, each subject, and the houses concerned
        let dnode = NodeRef::Device(ev.device.clone());
        self.put_tl(
            tx,
            &dnode,
            ev,
            0,
            SightingRole::Device,
            all.clone(),
            direction,
        )?;
        for s in &subjects {
            self.put_tl(tx, &s.node, ev, s.slot, s.role, Vec::new(), direction)?;
            if let Some(a) = &s.archived {
                self.put_tl(tx, a, ev, s.slot, s.role, Vec::new(), direction)?;
            }
        }
        if let Some(h) = device.as_ref().and_then(|d| d.house.clone()) {
            self.put_tl(
                tx,
                &NodeRef::House(h),
                ev,
                0,
                SightingRole::Device,
                all.clone(),
                direction,
            )?;
        }
        if let EventBody::Visitor {
            host_house,
            host_person,
            ..
        } = &ev.body
        {
            self.put_tl(
                tx,
                &NodeRef::House(host_house.clone()),
                ev,
                0,
                SightingRole::Visitor,
                all.clone(),
                direction,
            )?;
            for s in &subjects {
                self.contribute(
                    tx,
                    RelKind::Visitor,
                    &s.node,
                    &NodeRef::House(host_house.clone()),
                    me,
                    me,
                    true,
                )?;
                if let Some(hp) = host_person {
                    self.contribute(
                        tx,
                        RelKind::Visitor,
                        &s.node,
                        &NodeRef::Person(hp.clone()),
                        me,
                        me,
                        true,
                    )?;
                }
            }
        }
        let unit_door = device
            .as_ref()
            .filter(|d| d.kind == DeviceKind::UnitDoor)
            .and_then(|d| Some((d, d.building.as_deref()?, d.unit.as_deref()?)));
        if let Some((d, building, unit)) = unit_door {
            for s in subjects.iter().filter(|s| s.node.is_individual()) {
                if direction != Some(Direction::Out) {
                    self.night_entry(tx, d, building, unit, &s.node, ev)?;
                }
            }
        }

        // vehicles and their drivers and riders
        let vehicle = subjects
            .iter()
            .find(|s| matches!(s.node, NodeRef::Vehicle(_)))
            .map(|s| s.node.clone());
        if let Some(v) = &vehicle {
            for s in &subjects {
                match s.role {
                    SightingRole::Driver => {
                        self.contribute(tx, RelKind::Drives, &s.node, v, me, me, true)?
                    }
                    SightingRole::Passenger | SightingRole::Rider => {
                        self.contribute(tx, RelKind::Rides, &s.node, v, me, me, true)?
                    }
                    _ => {}
                }
            }
        }

        // co-occurrence at the same device: companions, and drivers by proximity
        let secs = i64::from(self.params.companion_secs.max(self.params.drive_secs));
        let movers: Vec<&Subject> = subjects
            .iter()
            .filter(|s| s.node.is_individual() && s.role.moves_with_others())
            .collect();
        let passing_vehicle = matches!(ev.body, EventBody::VehiclePass { .. })
            .then_some(vehicle.as_ref())
            .flatten();
        if movers.is_empty() && passing_vehicle.is_none() {
            return Ok(());
        }
        let lo = tl_prefix(&dnode).i64(ev.time.0 - secs * 1000).into_bytes();
        let hi = tl_prefix(&dnode)
            .i64(ev.time.0 + secs * 1000 + 1)
            .into_bytes();
        let plen = tl_prefix(&dnode).into_bytes().len();
        for (k, v) in tx.range(CF_TL, &lo, &hi)? {
            let mut r = KeyReader::new(&k[plen..]);
            let (Ok(t), Ok(other_id)) = (r.i64(), r.str()) else {
                continue;
            };
            let near: TlValue = decode(&k, &v)?;
            let dt = (t - ev.time.0).abs();
            let Ok(other_id) = EventId::new(&other_id) else {
                continue;
            };
            let other: Ev = (&other_id, Timestamp(t));
            for s in &movers {
                if dt <= i64::from(self.params.companion_secs) * 1000 {
                    for o in near
                        .subjects
                        .iter()
                        .filter(|o| o.is_individual() && **o != s.node)
                    {
                        if *other.0 == ev.id && !movers.iter().any(|m| &m.node == o) {
                            continue;
                        }
                        self.contribute(tx, RelKind::Companion, &s.node, o, me, other, false)?;
                    }
                }
                if dt <= i64::from(self.params.drive_secs) * 1000
                    && near.kind == EventKind::VehiclePass
                    && *other.0 != ev.id
                    && s.role == SightingRole::Pass
                {
                    for o in near
                        .subjects
                        .iter()
                        .filter(|o| matches!(o, NodeRef::Vehicle(_)))
                    {
                        self.contribute(tx, RelKind::Drives, &s.node, o, me, other, false)?;
                    }
                }
            }
            if let Some(veh) = passing_vehicle
                && *other.0 != ev.id
                && dt <= i64::from(self.params.drive_secs) * 1000
                && near.kind != EventKind::VehiclePass
                && near.role == SightingRole::Device
            {
                // the person's own entry tells its role; only passers drive by proximity
                for o in near.subjects.iter().filter(|o| o.is_individual()) {
                    if self.passed(tx, o, other)? {
                        self.contribute(tx, RelKind::Drives, o, veh, other, me, false)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `who` appears in `ev` as a plain pass (not an occupant or rider).
    fn passed(&self, tx: &Tx<'_>, who: &NodeRef, ev: Ev<'_>) -> Result<bool> {
        let k = tl_key(who, ev.1, ev.0, 0);
        Ok(match tx.get(CF_TL, &k)? {
            Some(v) => decode::<TlValue>(&k, &v)?.role == SightingRole::Pass,
            None => false,
        })
    }

    /// A night entry through a unit door: pairs the entrant with the other
    /// entrants of that night when exactly one of the two is registered in
    /// the unit.
    fn night_entry(
        &self,
        tx: &mut Tx<'_>,
        d: &Device,
        building: &str,
        unit: &str,
        who: &NodeRef,
        ev: &Event,
    ) -> Result<()> {
        let Some(night) = self.clock.night_of(ev.time) else {
            return Ok(());
        };
        let night = i64::from(night.num_days_from_ce());
        let prefix = KeyBuf::new()
            .tag(st::NIGHT)
            .str(d.id.as_str())
            .i64(night)
            .into_bytes();
        // every entry is kept, so the pairs found do not depend on which of a
        // night's entries was projected first
        let mine = KeyBuf::new()
            .raw(&prefix)
            .node(who)
            .str(ev.id.as_str())
            .into_bytes();
        tx.put(CF_DSTATE, mine, encode(&ev.time.0)?);
        let registered = |tx: &Tx<'_>, n: &NodeRef| -> Result<bool> {
            if !matches!(n, NodeRef::Person(_)) {
                return Ok(false);
            }
            let p = unit_prefix(d.community.as_str(), building, unit)
                .str(n.key())
                .into_bytes();
            Ok(!tx.prefix(CF_DSTATE, &p)?.is_empty())
        };
        let me_registered = registered(tx, who)?;
        for (k, v) in tx.prefix(CF_DSTATE, &prefix)? {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (Ok(other), Ok(oid)) = (r.node(), r.str()) else {
                continue;
            };
            if &other == who || registered(tx, &other)? == me_registered {
                continue;
            }
            let Ok(oid) = EventId::new(&oid) else {
                continue;
            };
            let ot: i64 = decode(&k, &v)?;
            let me: Ev = (&ev.id, ev.time);
            self.put_acc(
                tx,
                RelKind::CohabitantInferred,
                who,
                &other,
                me,
                (&oid, Timestamp(ot)),
                night,
                false,
            )?;
        }
        Ok(())
    }

    /// Judges every night entry through a unit's doors again against who is
    /// registered there now: pairs that qualify get their evidence, pairs
    /// that no longer do lose it. Runs when the unit's occupants change, so
    /// inferred cohabitants never depend on whether the registers or the
    /// events arrived first.
    fn judge_unit(
        &self,
        tx: &mut Tx<'_>,
        community: &str,
        building: &str,
        unit: &str,
    ) -> Result<()> {
        let doors = unit_doors(&*tx, community, building, unit)?;
        let mut registered: HashMap<NodeRef, bool> = HashMap::new();
        for door in doors {
            let prefix = KeyBuf::new().tag(st::NIGHT).str(door.as_str()).into_bytes();
            // (night) → entries (who, event id, time)
            let mut nights: BTreeMap<i64, Vec<(NodeRef, String, i64)>> = BTreeMap::new();
            for (k, v) in tx.prefix(CF_DSTATE, &prefix)? {
                let mut r = KeyReader::new(&k[prefix.len()..]);
                let (Ok(night), Ok(who), Ok(id)) = (r.i64(), r.node(), r.str()) else {
                    continue;
                };
                let t: i64 = decode(&k, &v)?;
                nights.entry(night).or_default().push((who, id, t));
            }
            for (night, entries) in nights {
                for (i, (x, xid, xt)) in entries.iter().enumerate() {
                    for (y, yid, yt) in &entries[i + 1..] {
                        if x == y {
                            continue;
                        }
                        let rx = self.registered_cached(
                            tx,
                            &mut registered,
                            x,
                            community,
                            building,
                            unit,
                        )?;
                        let ry = self.registered_cached(
                            tx,
                            &mut registered,
                            y,
                            community,
                            building,
                            unit,
                        )?;
                        let (xid, yid) = (EventId::new(xid), EventId::new(yid));
                        let (Ok(xid), Ok(yid)) = (xid, yid) else {
                            continue;
                        };
                        let (ex, ey): (Ev, Ev) = ((&xid, Timestamp(*xt)), (&yid, Timestamp(*yt)));
                        let (k, key) = acc_key(RelKind::CohabitantInferred, x, y, ex, ey, night);
                        let present = tx.get(CF_ACC, &k)?.is_some();
                        if rx != ry && !present {
                            self.put_acc(
                                tx,
                                RelKind::CohabitantInferred,
                                x,
                                y,
                                ex,
                                ey,
                                night,
                                false,
                            )?;
                        } else if rx == ry && present {
                            tx.delete(CF_ACC, k);
                            tx.dirty.insert((key.kind, key.from, key.to));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a person is currently registered in a house of the unit.
    #[allow(clippy::too_many_arguments)]
    fn registered_cached(
        &self,
        tx: &Tx<'_>,
        cache: &mut HashMap<NodeRef, bool>,
        who: &NodeRef,
        community: &str,
        building: &str,
        unit: &str,
    ) -> Result<bool> {
        if let Some(r) = cache.get(who) {
            return Ok(*r);
        }
        let r = matches!(who, NodeRef::Person(_))
            && !tx
                .prefix(
                    CF_DSTATE,
                    &unit_prefix(community, building, unit)
                        .str(who.key())
                        .into_bytes(),
                )?
                .is_empty();
        cache.insert(who.clone(), r);
        Ok(r)
    }

    /// Adds evidence for an event-derived relation, the day being the local
    /// day of the earlier event.
    #[allow(clippy::too_many_arguments)]
    fn contribute(
        &self,
        tx: &mut Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
        ea: Ev<'_>,
        eb: Ev<'_>,
        direct: bool,
    ) -> Result<()> {
        let t = ea.1.min(eb.1);
        let day = i64::from(self.clock.local_date(t).num_days_from_ce());
        self.put_acc(tx, kind, a, b, ea, eb, day, direct)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_acc(
        &self,
        tx: &mut Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
        ea: Ev<'_>,
        eb: Ev<'_>,
        day: i64,
        direct: bool,
    ) -> Result<()> {
        if a == b {
            return Ok(());
        }
        let (k, key) = acc_key(kind, a, b, ea, eb, day);
        let v = AccValue {
            time: ea.1.min(eb.1).0,
            direct,
        };
        let end = ea.1.max(eb.1).0;
        tx.put(CF_ACC, k, encode(&(v, end))?);
        tx.dirty.insert((kind, key.from, key.to));
        Ok(())
    }

    /// The edge a pair's evidence supports, if it meets the kind's rule.
    fn pair_edge(
        &self,
        tx: &Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
    ) -> Result<Option<Edge>> {
        let prefix = acc_prefix(kind, a, b);
        let mut days = BTreeSet::new();
        let mut direct = false;
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let mut evidence: BTreeSet<(i64, String)> = BTreeSet::new();
        let mut n_rows = 0u32;
        for (k, v) in tx.prefix(CF_ACC, &prefix)? {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (Ok(day), Ok(e1), Ok(e2)) = (r.i64(), r.str(), r.str()) else {
                continue;
            };
            let (val, end): (AccValue, i64) = decode(&k, &v)?;
            days.insert(day);
            direct |= val.direct;
            first = first.min(val.time);
            last = last.max(end);
            evidence.insert((val.time, e1));
            evidence.insert((end, e2));
            n_rows += 1;
        }
        if n_rows == 0 {
            return Ok(None);
        }
        let p = &self.params;
        let holds = match kind {
            RelKind::Companion => within(&days, p.companion_days, p.companion_window_days),
            RelKind::CohabitantInferred => within(&days, p.cohabit_nights, p.cohabit_window_days),
            RelKind::Drives => direct || within(&days, p.drive_days, p.drive_window_days),
            _ => true,
        };
        if !holds {
            return Ok(None);
        }
        let mut ids: Vec<String> = Vec::new();
        for (_, id) in &evidence {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let n_evidence = ids.len() as u32;
        ids.truncate(p.max_evidence);
        let strength = match kind {
            RelKind::Visitor => n_rows,
            _ => days.len() as u32,
        };
        Ok(Some(Edge {
            key: EdgeKey::new(kind, a.clone(), b.clone(), ""),
            first_seen: Some(Timestamp(first)),
            last_seen: Some(Timestamp(last)),
            strength,
            historical: false,
            detail: String::new(),
            evidence: ids,
            n_evidence,
        }))
    }
}

/// The evidence row for two events of a pair, and the pair's edge key.
/// Evidence ids follow the edge's orientation, so either processing order
/// gives the same row.
fn acc_key(
    kind: RelKind,
    a: &NodeRef,
    b: &NodeRef,
    ea: Ev<'_>,
    eb: Ev<'_>,
    day: i64,
) -> (Vec<u8>, EdgeKey) {
    let key = EdgeKey::new(kind, a.clone(), b.clone(), "");
    let (first, second) = if &key.from == a { (ea, eb) } else { (eb, ea) };
    let k = KeyBuf::new()
        .raw(&acc_prefix(kind, &key.from, &key.to))
        .i64(day)
        .str(first.0.as_str())
        .str(second.0.as_str())
        .into_bytes();
    (k, key)
}

/// Reads of derived state: through a chunk's pending writes (`Tx`) while
/// projecting, or the store as it is when answering a query (`Stored`).
pub(crate) trait StateRead {
    fn store(&self) -> &RocksStore;
    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The first string part after `prefix` of each key under it.
    fn keys_under(&self, prefix: &[u8]) -> Result<Vec<String>> {
        self.prefix(CF_DSTATE, prefix)?
            .into_iter()
            .map(|(k, _)| {
                KeyReader::new(&k[prefix.len()..])
                    .str()
                    .map_err(|e| Error::Corrupt {
                        key: format!("{k:02x?}"),
                        why: e.to_string(),
                    })
            })
            .collect()
    }
}

impl StateRead for Tx<'_> {
    fn store(&self) -> &RocksStore {
        self.store
    }

    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Tx::prefix(self, cf, prefix)
    }
}

/// The store's derived state as it is.
pub(crate) struct Stored<'a>(pub &'a RocksStore);

impl StateRead for Stored<'_> {
    fn store(&self) -> &RocksStore {
        self.0
    }

    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.0.db().iterator_cf(
            self.0.handle(cf),
            IteratorMode::From(prefix, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}

/// A house and its registrations (from the house → residences index).
pub(crate) fn house_registers(
    r: &dyn StateRead,
    house: &model::HouseId,
) -> Result<(Option<model::House>, Vec<Residence>)> {
    let store = r.store();
    let h = match store.base(BaseKind::House, house.as_str())? {
        Some(BaseRecord::House(h)) => Some(h),
        _ => None,
    };
    let prefix = KeyBuf::new()
        .tag(st::RESIDENCE)
        .str(house.as_str())
        .into_bytes();
    let mut regs = Vec::new();
    for rkey in r.keys_under(&prefix)? {
        if let Some(BaseRecord::Residence(res)) = store.base(BaseKind::Residence, &rkey)? {
            regs.push(res);
        }
    }
    Ok((h, regs))
}

/// Occupants of a house are its registrations other than the owner of a
/// rented house (the landlord).
pub(crate) fn is_occupant(r: &Residence, house: Option<&model::House>) -> bool {
    r.is_occupant(house.and_then(|h| h.usage))
}

/// The unit doors of a unit.
pub(crate) fn unit_doors(
    r: &dyn StateRead,
    community: &str,
    building: &str,
    unit: &str,
) -> Result<Vec<model::DeviceId>> {
    let prefix = KeyBuf::new()
        .tag(st::UNIT_DOOR)
        .str(community)
        .str(building)
        .str(unit)
        .into_bytes();
    Ok(r.keys_under(&prefix)?
        .iter()
        .filter_map(|d| model::DeviceId::new(d).ok())
        .collect())
}

/// Whether some window of `window` days holds at least `need` of `days`.
fn within(days: &BTreeSet<i64>, need: u32, window: u32) -> bool {
    let need = need.max(1) as usize;
    let d: Vec<i64> = days.iter().copied().collect();
    d.windows(need)
        .any(|w| w[need - 1] - w[0] < i64::from(window.max(1)))
        || (need == 1 && !d.is_empty())
}

fn unit_prefix(community: &str, building: &str, unit: &str) -> KeyBuf {
    KeyBuf::new()
        .tag(st::UNIT)
        .str(community)
        .str(building)
        .str(unit)
}

/// Where the projection has got to in the store's logs.
pub fn checkpoint(store: &RocksStore) -> Result<Checkpoint> {
    match store
        .db()
        .get_cf(store.handle(CF_DSTATE), checkpoint_key())?
    {
        Some(v) => decode(b"checkpoint", &v),
        None => Ok(Checkpoint::default()),
    }
}

/// One piece of evidence for an event-derived relation: the two events (the
/// same one for a visit or a face seen in a vehicle) and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub day: chrono::NaiveDate,
    pub time: Timestamp,
    pub events: [String; 2],
}

/// All the evidence behind an event-derived relation, oldest first, at most
/// `limit` (the edge itself keeps only the first few ids). Registration,
/// kin and ownership edges carry all of theirs on the edge.
pub fn evidence(store: &RocksStore, key: &EdgeKey, limit: usize) -> Result<Vec<Evidence>> {
    let prefix = acc_prefix(key.kind, &key.from, &key.to);
    let mut out = Vec::new();
    for (k, v) in Stored(store).prefix(CF_ACC, &prefix)? {
        let mut r = KeyReader::new(&k[prefix.len()..]);
        let (Ok(day), Ok(e1), Ok(e2)) = (r.i64(), r.str(), r.str()) else {
            continue;
        };
        let (val, _): (AccValue, i64) = decode(&k, &v)?;
        out.push(Evidence {
            day: chrono::NaiveDate::from_num_days_from_ce_opt(day as i32).unwrap_or_default(),
            time: Timestamp(val.time),
            events: [e1, e2],
        });
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then(a.events.cmp(&b.events)));
    out.truncate(limit);
    Ok(out)
}

/// The communities of a person's registrations current at `now`, in the
/// order of the registrations (repeats removed).
pub fn communities_of(
    store: &RocksStore,
    person: &PersonId,
    now: Timestamp,
) -> Result<Vec<CommunityId>> {
    let mut houses = Vec::new();
    store.for_each_base_with(BaseKind::Residence, &format!("{person}\u{1f}"), |rec| {
        if let BaseRecord::Residence(r) = rec
            && r.until.is_none_or(|u| u > now)
        {
            houses.push(r.house);
        }
        Ok(())
    })?;
    let mut out: Vec<CommunityId> = Vec::new();
    for h in houses {
        if let Some(BaseRecord::House(h)) = store.base(BaseKind::House, h.as_str())?
            && !out.contains(&h.community)
        {
            out.push(h.community);
        }
    }
    Ok(out)
}

/// Whom the face in `slot` of `event` was attributed to, merges followed
/// (None: not attributed yet, or to nobody).
pub fn attributed(
    store: &RocksStore,
    event: &str,
    device: &str,
    slot: u8,
) -> Result<Option<NodeRef>> {
    let tx = Tx::new(store);
    let k = KeyBuf::new()
        .raw(&event_key(event, device))
        .tag(slot)
        .into_bytes();
    let Some(b) = tx.get(CF_ATTR, &k)? else {
        return Ok(None);
    };
    let mut who: Option<NodeRef> = decode(&k, &b)?;
    for _ in 0..16 {
        let Some(n @ NodeRef::Stranger(_)) = &who else {
            break;
        };
        let mk = KeyBuf::new().tag(MERGE_PREFIX).node(n).into_bytes();
        match tx.get(CF_ATTR, &mk)? {
            Some(b) => who = Some(decode(&mk, &b)?),
            None => break,
        }
    }
    Ok(who)
}

/// A digest of what the projections produced and users can see: every
/// timeline entry and the graph's nodes and edges. Equal digests mean an
/// incremental projection and a rebuild agree. (Working state — evidence
/// rows, indexes — is left out.)
pub fn derived_digest(store: &RocksStore, graph: &dyn RelationStore) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CF_TL.as_bytes());
    for item in store
        .db()
        .iterator_cf(store.handle(CF_TL), IteratorMode::Start)
    {
        let (k, v) = item?;
        h.update((k.len() as u64).to_le_bytes());
        h.update(&k);
        h.update((v.len() as u64).to_le_bytes());
        h.update(&v);
    }
    let (nodes, edges) = graph.export()?;
    h.update(encode(&nodes)?);
    h.update(encode(&edges)?);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
