//! The real-time rules, run by the projector thread over what it has just
//! projected (one function per rule), and the elderly-unseen timer.
//! Alerts and the rules' checkpoint are written in one batch, so a crash
//! neither loses nor repeats an alert.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Result;
use graph::RocksStore;
use model::{BaseKind, BaseRecord, DeviceId, Event, EventBody, NodeRef, Timestamp};

use crate::alerts::{self, Alert, NewAlert, WatchList};
use crate::engine::{Engine, now, region_within};
use crate::lock;

const RULES_CHECKPOINT: &[u8] = b"rules/checkpoint";

impl Engine {
    /// The elderly-unseen timer: each resident of the
    /// `analysis.elderly_unseen` category is judged now — by the data's
    /// clock, the time of the latest event, so a pause of intake raises
    /// nothing — from their own timeline and their home's devices; a silence
    /// raises one alert (the analysis job would raise the same one once).
    pub fn check_elderly(&self) -> graph::Result<Vec<Alert>> {
        let p = &self.config.analysis.elderly_unseen;
        let store = self.store();
        let Some(last) = self.data_clock()? else {
            return Ok(Vec::new());
        };
        let now = Timestamp(last.0.saturating_add(1));
        let persons = self.elderly_persons(&p.category)?;
        if persons.is_empty() {
            return Ok(Vec::new());
        }
        let elderly: Vec<analysis::profile::Resident> =
            analysis::profile::residents_where(store, now, |id| persons.contains(id))?
                .into_iter()
                .filter(|r| r.categories.contains(&p.category))
                .collect();
        if elderly.is_empty() {
            return Ok(Vec::new());
        }
        let mut devices = HashMap::new();
        let mut in_house: HashMap<model::HouseId, Vec<DeviceId>> = HashMap::new();
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r {
                if let Some(h) = &d.house {
                    in_house.entry(h.clone()).or_default().push(d.id.clone());
                }
                devices.insert(d.id.clone(), d);
            }
            Ok(())
        })?;
        let w = analysis::profile::Window::last_days(now, p.window_days, self.clock);
        // the silence may have begun before the window
        let from = Timestamp(w.from.0 - i64::from(p.window_days) * 86_400_000);
        let mut findings = Vec::new();
        let mut done = BTreeSet::new();
        for r in &elderly {
            if !done.insert(&r.person) {
                continue;
            }
            let node = NodeRef::Person(r.person.clone());
            let seen = analysis::profile::sightings_of(store, &node, from, now, &devices)?;
            let home: Vec<&DeviceId> = in_house.get(&r.house).into_iter().flatten().collect();
            let home = analysis::profile::device_times(store, &home, from, now)?;
            findings.extend(analysis::persons::elderly_unseen(
                &r.person, &seen, &home, &w, p,
            ));
        }
        let raised = crate::analysis_job::raise(store, &findings)?;
        self.metrics
            .alerts_raised
            .fetch_add(raised.len() as u64, Ordering::Relaxed);
        for a in &raised {
            let _ = self.alerts_tx.send(a.clone());
        }
        Ok(raised)
    }

    /// The data's clock: the latest event time in the store (`None`
    /// without events). The first call reads every device's newest
    /// sighting; later ones only the events logged since (a time is never
    /// taken back: events are not removed).
    pub fn data_clock(&self) -> graph::Result<Option<Timestamp>> {
        let store = self.store();
        let len = store.log_len();
        let kept = *lock(&self.latest_event);
        let latest = match kept {
            Some((at, t)) if at <= len => {
                let (mut t, mut from) = (t, at);
                while from < len {
                    let batch = store.log_from(from, 4096)?;
                    let Some((last, _)) = batch.last() else { break };
                    from = last + 1;
                    t = batch.iter().fold(t, |t, (_, e)| t.max(e.time));
                }
                Some(t)
            }
            _ => analysis::profile::data_span(store)?.map(|(_, last)| last),
        };
        if let Some(t) = latest {
            *lock(&self.latest_event) = Some((len, t));
        }
        Ok(latest)
    }

    /// The persons whose register names `category`, kept until the base
    /// log grows (a record read during the scan leaves the length read
    /// before it: the next check reads again).
    fn elderly_persons(&self, category: &str) -> graph::Result<Arc<HashSet<model::PersonId>>> {
        let store = self.store();
        let len = store.base_log_len();
        if let Some((at, set)) = &*lock(&self.elderly_persons)
            && *at == len
        {
            return Ok(Arc::clone(set));
        }
        let mut set = HashSet::new();
        store.for_each_base(BaseKind::Person, |r| {
            if let BaseRecord::Person(p) = r
                && p.categories.iter().any(|c| c == category)
            {
                set.insert(p.id);
            }
            Ok(())
        })?;
        let set = Arc::new(set);
        *lock(&self.elderly_persons) = Some((len, Arc::clone(&set)));
        Ok(set)
    }

    /// Runs the real-time rules over the events projected since the rules'
    /// checkpoint; alerts and the new checkpoint are written in one batch, so
    /// a crash neither loses nor repeats an alert.
    pub(crate) fn run_rules(&self, store: &RocksStore, upto: u64) -> Result<()> {
        let mut ck = store
            .app_get(RULES_CHECKPOINT)?
            .and_then(|v| v.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let lists = self.watch_lists();
        let today = self.clock.local_date(now());
        while ck < upto {
            let chunk = store.log_from(ck, 4096)?;
            let Some(last) = chunk.last().map(|(s, _)| *s) else {
                break;
            };
            let mut raise = Vec::new();
            for (seq, ev) in &chunk {
                if *seq >= upto {
                    break;
                }
                let day = self.clock.local_date(ev.time);
                if day < today {
                    lock(&self.day_counts).remove(&(ev.device.clone(), day));
                }
                self.rules_for(store, ev, &lists, &mut raise)?;
            }
            let next = (last + 1).min(upto);
            let (mut writes, raised) = alerts::raise_writes(store, raise, now())?;
            writes.push((RULES_CHECKPOINT.to_vec(), Some(next.to_le_bytes().to_vec())));
            store.app_write(&writes)?;
            self.metrics
                .alerts_raised
                .fetch_add(raised.len() as u64, Ordering::Relaxed);
            for a in raised {
                let _ = self.alerts_tx.send(a);
            }
            ck = next;
        }
        Ok(())
    }

    /// Every rule on one event, in order: device alarms, the e-bike
    /// anti-theft rule, then the watch lists.
    fn rules_for(
        &self,
        store: &RocksStore,
        ev: &Event,
        lists: &[WatchList],
        out: &mut Vec<NewAlert>,
    ) -> Result<()> {
        let place = self.device_place(store, &ev.device)?;
        let seen = Seen {
            ev,
            // the event as its source names it (ids are unique per device)
            src: format!("{}@{}", ev.id.as_str(), ev.device.as_str()),
            community: place.as_ref().map(|(c, _)| c.as_str().to_owned()),
            region: place.map(|(_, r)| r),
        };
        self.device_alarm(&seen, out);
        self.ebike_card_mismatch(store, &seen, out)?;
        if !lists.is_empty() {
            self.watch_lists_on(store, &seen, lists, out)?;
        }
        Ok(())
    }

    /// A device alarm of a kind `alerts.device_alarms` names.
    fn device_alarm(&self, seen: &Seen<'_>, out: &mut Vec<NewAlert>) {
        let ev = seen.ev;
        if let EventBody::DeviceAlarm { kind, note, .. } = &ev.body
            && self
                .config
                .alerts
                .device_alarms
                .iter()
                .any(|a| a == kind.as_str())
        {
            let mut a = seen.alert(
                format!("device_alarm/{}", seen.src),
                format!("device_alarm:{}", kind.as_str()),
                format!(
                    "{} alarm at device {}{}",
                    kind.as_str(),
                    ev.device.as_str(),
                    note.as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
            );
            a.subject = Some(NodeRef::Device(ev.device.clone()).to_string());
            out.push(a);
        }
    }

    /// E-bike anti-theft: a tag read with a card that is not its owner's.
    fn ebike_card_mismatch(
        &self,
        store: &RocksStore,
        seen: &Seen<'_>,
        out: &mut Vec<NewAlert>,
    ) -> Result<()> {
        let ev = seen.ev;
        let EventBody::Rfid {
            tag,
            card_no: Some(card),
            ..
        } = &ev.body
        else {
            return Ok(());
        };
        let bike = self
            .ebikes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tag.as_str())
            .cloned();
        if let Some((plate, Some(owner))) = bike
            && let Some(BaseRecord::Card(c)) = store.base(BaseKind::Card, card.as_str())?
            && c.person != owner
        {
            let mut a = seen.alert(
                format!(
                    "ebike_card_mismatch/{}/{}",
                    plate.as_str(),
                    c.person.as_str()
                ),
                "ebike_card_mismatch".into(),
                format!(
                    "e-bike {} (owner {}) ridden with {}'s card at device {}",
                    plate.as_str(),
                    owner.as_str(),
                    c.person.as_str(),
                    ev.device.as_str()
                ),
            );
            a.subject = Some(NodeRef::Vehicle(plate).to_string());
            out.push(a);
        }
        Ok(())
    }

    /// The watch lists of the event's region: a watched face (and, inside
    /// a vehicle, the vehicle too), a watched plate, a watched person.
    fn watch_lists_on(
        &self,
        store: &RocksStore,
        seen: &Seen<'_>,
        lists: &[WatchList],
        out: &mut Vec<NewAlert>,
    ) -> Result<()> {
        let ev = seen.ev;
        let (features, plates, named) = watchables(ev);
        let mut subjects: Option<Vec<NodeRef>> = None;
        for list in lists {
            if !list.region.is_empty()
                && !seen
                    .region
                    .as_deref()
                    .is_some_and(|r| region_within(r, &list.region))
            {
                continue;
            }
            let threshold = list
                .threshold
                .unwrap_or(self.config.alerts.watch_face_threshold);
            for (slot, f) in &features {
                watched_faces(store, seen, list, *slot, f, threshold, out)?;
            }
            for p in &plates {
                if list.plates.iter().any(|x| x == p.as_str()) {
                    let mut a = seen.alert(
                        format!("watch_plate/{}/{}/{}", list.id, p.as_str(), seen.src),
                        "watchlist_plate".into(),
                        format!(
                            "watch list {:?}: vehicle {} passed device {}",
                            list.name,
                            p.as_str(),
                            ev.device.as_str()
                        ),
                    );
                    a.watch_list = Some(list.id.clone());
                    a.subject = Some(NodeRef::Vehicle(p.clone()).to_string());
                    out.push(a);
                }
            }
            if list.persons.is_empty() {
                continue;
            }
            if subjects.is_none() {
                subjects = Some(subjects_of(store, ev, &named)?);
            }
            for s in subjects.iter().flatten() {
                let key = s.to_string();
                if list.persons.contains(&key) {
                    let mut a = seen.alert(
                        format!("watch_person/{}/{key}/{}", list.id, seen.src),
                        "watchlist_person".into(),
                        format!(
                            "watch list {:?}: {key} seen at device {}",
                            list.name,
                            ev.device.as_str()
                        ),
                    );
                    a.watch_list = Some(list.id.clone());
                    a.subject = Some(key);
                    out.push(a);
                }
            }
        }
        Ok(())
    }
}

/// An event as the rules see it: where it happened, and its name as its
/// source gives it.
struct Seen<'e> {
    ev: &'e Event,
    src: String,
    community: Option<String>,
    region: Option<String>,
}

impl Seen<'_> {
    /// An alert about this event (the rule fills in its subject).
    fn alert(&self, dedup: String, kind: String, title: String) -> NewAlert {
        NewAlert {
            dedup,
            kind,
            subject: None,
            community: self.community.clone(),
            region: self.region.clone(),
            device: Some(self.ev.device.as_str().to_owned()),
            time: self.ev.time,
            title,
            score: None,
            evidence: vec![self.ev.id.as_str().to_owned()],
            watch_list: None,
            recurs: false,
        }
    }
}

/// A face of the event (attribution `slot`) against a list's faces.
fn watched_faces(
    store: &RocksStore,
    seen: &Seen<'_>,
    list: &WatchList,
    slot: u8,
    f: &[f32],
    threshold: f32,
    out: &mut Vec<NewAlert>,
) -> Result<()> {
    let ev = seen.ev;
    for face in &list.faces {
        if face.feature.len() != f.len() {
            continue;
        }
        let score = cosine(f, &face.feature);
        if score < threshold {
            continue;
        }
        let mut a = seen.alert(
            format!("watch_face/{}/{}/{}/{slot}", list.id, face.id, seen.src),
            "watchlist_face".into(),
            format!(
                "watch list {:?}: face {:?} seen at device {} ({score:.2})",
                list.name,
                face.label,
                ev.device.as_str()
            ),
        );
        a.score = Some(score);
        a.watch_list = Some(list.id.clone());
        a.subject = graph::attributed(store, ev.id.as_str(), ev.device.as_str(), slot)?
            .map(|n| n.to_string());
        // a watched face inside a vehicle: the vehicle too
        if let EventBody::VehiclePass {
            plate: Some(plate), ..
        } = &ev.body
            && slot > 0
        {
            let mut v = a.clone();
            v.dedup = format!("vehicle_watchlist_occupant/{}/{}", list.id, seen.src);
            v.kind = "vehicle_watchlist_occupant".into();
            v.title = format!(
                "watch list {:?}: face {:?} inside vehicle {} at device {} ({score:.2})",
                list.name,
                face.label,
                plate.as_str(),
                ev.device.as_str()
            );
            v.subject = Some(NodeRef::Vehicle(plate.clone()).to_string());
            out.push(v);
        }
        out.push(a);
    }
    Ok(())
}

/// The subjects the event was projected to (from its device's timeline)
/// and the persons it names.
fn subjects_of(store: &RocksStore, ev: &Event, named: &[NodeRef]) -> graph::Result<Vec<NodeRef>> {
    let page = graph::timeline::timeline(
        store,
        &NodeRef::Device(ev.device.clone()),
        ev.time,
        Timestamp(ev.time.0 + 1),
        256,
        false,
    )?;
    let mut s: Vec<NodeRef> = page
        .items
        .into_iter()
        .filter(|s| s.event == ev.id)
        .flat_map(|s| s.subjects)
        .chain(named.iter().cloned())
        .collect();
    s.sort();
    s.dedup();
    Ok(s)
}

/// What of an event a watch list can match: face features (with their
/// attribution slot), plates, and persons the event names.
type Watchables<'e> = (Vec<(u8, &'e [f32])>, Vec<model::Plate>, Vec<NodeRef>);

fn watchables(ev: &Event) -> Watchables<'_> {
    let mut features = Vec::new();
    let mut plates = Vec::new();
    let mut named = Vec::new();
    match &ev.body {
        EventBody::FaceCapture {
            feature, person, ..
        } => {
            if let Some(f) = feature {
                features.push((0, f.as_slice()));
            }
            named.extend(person.clone().map(NodeRef::Person));
        }
        EventBody::Access {
            feature, person, ..
        } => {
            if let Some(f) = feature {
                features.push((0, f.as_slice()));
            }
            named.extend(person.clone().map(NodeRef::Person));
        }
        EventBody::VehiclePass {
            plate,
            occupant_features,
            ..
        } => {
            plates.extend(plate.clone());
            for (i, f) in occupant_features.iter().enumerate() {
                features.push((u8::try_from(i + 1).unwrap_or(u8::MAX), f.as_slice()));
            }
        }
        EventBody::Visitor { visitor, .. } => {
            if let Some(f) = &visitor.feature {
                features.push((0, f.as_slice()));
            }
            plates.extend(visitor.plate.clone());
        }
        EventBody::Rfid { person, .. } => named.extend(person.clone().map(NodeRef::Person)),
        _ => {}
    }
    (features, plates, named)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}
