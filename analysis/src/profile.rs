//! What the models read: every sighting in a window, per subject, from the
//! devices' timelines (so a run costs what the window holds, not all
//! history), and the registered residents.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use graph::RocksStore;
use model::{
    BaseKind, BaseRecord, Clock, CommunityId, DeviceId, EventId, EventKind, NodeRef, PersonId,
    Timestamp,
};

/// One sighting of a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub time: Timestamp,
    pub event: EventId,
    pub device: DeviceId,
    pub community: Option<CommunityId>,
    pub kind: EventKind,
    pub direction: Option<model::Direction>,
}

/// A window `[from, to)` and the clock that names its days and nights.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
    pub clock: Clock,
}

impl Window {
    /// The last `days` local days up to `to`.
    pub fn last_days(to: Timestamp, days: u32, clock: Clock) -> Self {
        Self {
            from: Timestamp(to.0 - i64::from(days) * 86_400_000),
            to,
            clock,
        }
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.from && t < self.to
    }

    /// The activity day of a sighting: its night (named by the date the
    /// night began) when at night, else its local date.
    pub fn day_of(&self, t: Timestamp) -> NaiveDate {
        self.clock
            .night_of(t)
            .unwrap_or_else(|| self.clock.local_date(t))
    }
}

/// Every sighting in the scanned window, per subject, oldest first.
#[derive(Debug, Default)]
pub struct Profiles {
    pub by_subject: BTreeMap<NodeRef, Vec<Seen>>,
    /// Sightings read (device timeline entries).
    pub read: u64,
}

impl Profiles {
    /// Reads the devices' timelines over `[from, to)`.
    pub fn scan(store: &RocksStore, from: Timestamp, to: Timestamp) -> graph::Result<Self> {
        let mut devices: Vec<(DeviceId, CommunityId)> = Vec::new();
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r {
                devices.push((d.id, d.community));
            }
            Ok(())
        })?;
        let mut out = Self::default();
        for (d, c) in devices {
            let page = graph::timeline::timeline(
                store,
                &NodeRef::Device(d.clone()),
                from,
                to,
                usize::MAX / 2,
                false,
            )?;
            for s in page.items {
                out.read += 1;
                for subject in s.subjects {
                    out.by_subject.entry(subject).or_default().push(Seen {
                        time: s.time,
                        event: s.event.clone(),
                        device: d.clone(),
                        community: Some(c.clone()),
                        kind: s.kind,
                        direction: s.direction,
                    });
                }
            }
        }
        for v in out.by_subject.values_mut() {
            v.sort_by(|a, b| a.time.cmp(&b.time).then(a.event.cmp(&b.event)));
            v.dedup_by(|a, b| a.event == b.event);
        }
        Ok(out)
    }

    pub fn of(&self, n: &NodeRef) -> &[Seen] {
        self.by_subject.get(n).map_or(&[], Vec::as_slice)
    }
}

/// A person registered at a house at the time of the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resident {
    pub person: PersonId,
    pub house: model::HouseId,
    pub community: CommunityId,
    pub birth_date: Option<NaiveDate>,
}

impl Resident {
    /// Age in whole years at `day` (`None` without a birth date).
    pub fn age(&self, day: NaiveDate) -> Option<u32> {
        let b = self.birth_date?;
        day.years_since(b)
    }
}

/// Persons registered at a house at `at` (not ended), with the house's
/// community and their birth date.
pub fn residents(store: &RocksStore, at: Timestamp) -> graph::Result<Vec<Resident>> {
    let mut house_community = HashMap::new();
    store.for_each_base(BaseKind::House, |r| {
        if let BaseRecord::House(h) = r {
            house_community.insert(h.id, h.community);
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    store.for_each_base(BaseKind::Residence, |r| {
        if let BaseRecord::Residence(r) = r
            && r.since.is_none_or(|s| s <= at)
            && r.until.is_none_or(|u| u > at)
            && let Some(c) = house_community.get(&r.house)
        {
            out.push(Resident {
                person: r.person,
                house: r.house,
                community: c.clone(),
                birth_date: None,
            });
        }
        Ok(())
    })?;
    out.sort();
    out.dedup();
    let ids: Vec<&str> = out.iter().map(|r| r.person.as_str()).collect();
    let persons = store.bases(BaseKind::Person, &ids)?;
    let births: Vec<Option<NaiveDate>> = persons
        .into_iter()
        .map(|p| match p {
            Some(BaseRecord::Person(p)) => p.birth_date,
            _ => None,
        })
        .collect();
    for (r, b) in out.iter_mut().zip(births) {
        r.birth_date = b;
    }
    Ok(out)
}

/// The span of the data: the earliest and latest event time in the store
/// (read from the devices' timelines' ends).
pub fn data_span(store: &RocksStore) -> graph::Result<Option<(Timestamp, Timestamp)>> {
    let mut span: Option<(Timestamp, Timestamp)> = None;
    let mut devices = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(d) = r {
            devices.push(d.id);
        }
        Ok(())
    })?;
    let all = (Timestamp(i64::MIN), Timestamp(i64::MAX));
    for d in devices {
        let n = NodeRef::Device(d);
        let first = graph::timeline::timeline(store, &n, all.0, all.1, 1, false)?;
        let last = graph::timeline::timeline(store, &n, all.0, all.1, 1, true)?;
        if let (Some(a), Some(b)) = (first.items.first(), last.items.first()) {
            span = Some(match span {
                None => (a.time, b.time),
                Some((lo, hi)) => (lo.min(a.time), hi.max(b.time)),
            });
        }
    }
    Ok(span)
}
