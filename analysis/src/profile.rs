//! What the models read: every sighting in a window, per subject, from the
//! devices' timelines (so a run costs what the window holds, not all
//! history), and the registered residents.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
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
    /// At a unit door.
    pub unit_door: bool,
    /// A vehicle pass's vehicle kind as the gate read it.
    pub vehicle_kind: Option<model::VehicleKind>,
}

/// A window `[from, to)` and the clock that names its days and nights.
///
/// Its days and nights are read by arithmetic when the zone keeps one
/// offset all through the window (the usual case: a zone lookup and a date
/// per sighting were most of a tagging job); across an offset change, by
/// the clock. Build one with [`Window::new`] or [`Window::last_days`]: the
/// offset is found then (its bounds are read, not changed, afterwards).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
    pub clock: Clock,
    /// The zone's offset from UTC (ms) when it is the same all through.
    fixed_offset: Option<i64>,
}

/// A local calendar day as a number: days from the Common Era, as
/// [`NaiveDate::num_days_from_ce`] counts them.
pub type Day = i32;

const MS_PER_DAY: i64 = 86_400_000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAY: i64 = 719_163;

impl Window {
    pub fn new(from: Timestamp, to: Timestamp, clock: Clock) -> Self {
        Self {
            from,
            to,
            clock,
            fixed_offset: fixed_offset(from, to, &clock),
        }
    }

    /// The last `days` local days up to `to`.
    pub fn last_days(to: Timestamp, days: u32, clock: Clock) -> Self {
        Self::new(Timestamp(to.0 - i64::from(days) * MS_PER_DAY), to, clock)
    }

    /// The data (starting at `data_from`) covers the window: they start on
    /// the same local day or the window later. Absence models judge only
    /// covered windows.
    pub fn covered_by(&self, data_from: Timestamp) -> bool {
        self.clock.local_date(self.from) >= self.clock.local_date(data_from)
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.from && t < self.to
    }

    /// The local day of an instant (its calendar date).
    pub fn local_day(&self, t: Timestamp) -> Day {
        match self.local_ms(t) {
            Some(ms) => (ms.div_euclid(MS_PER_DAY) + UNIX_EPOCH_DAY) as Day,
            None => self.clock.local_date(t).num_days_from_ce(),
        }
    }

    /// Whether an instant is in the night window.
    pub fn is_night(&self, t: Timestamp) -> bool {
        match self.local_time(t) {
            Some(time) => self.clock.night.contains(time),
            None => self.clock.is_night(t),
        }
    }

    /// The night an instant belongs to, named by the day it began on
    /// ([`Clock::night_of`]); `None` by day.
    pub fn night_of(&self, t: Timestamp) -> Option<Day> {
        let Some(time) = self.local_time(t) else {
            return self.clock.night_of(t).map(|d| d.num_days_from_ce());
        };
        let night = &self.clock.night;
        if !night.contains(time) {
            return None;
        }
        let day = self.local_day(t);
        Some(if night.start > night.end && time < night.end {
            day - 1
        } else {
            day
        })
    }

    /// The activity day of a sighting: its night (named by the date the
    /// night began) when at night, else its local date.
    pub fn day_of(&self, t: Timestamp) -> Day {
        self.night_of(t).unwrap_or_else(|| self.local_day(t))
    }

    /// Milliseconds of local time since the Unix epoch, when the offset is
    /// fixed and `t` in the window.
    fn local_ms(&self, t: Timestamp) -> Option<i64> {
        let off = self.fixed_offset?;
        self.contains(t).then(|| t.0 + off)
    }

    fn local_time(&self, t: Timestamp) -> Option<chrono::NaiveTime> {
        let ms = self.local_ms(t)?.rem_euclid(MS_PER_DAY);
        chrono::NaiveTime::from_num_seconds_from_midnight_opt(
            (ms / 1000) as u32,
            (ms % 1000) as u32 * 1_000_000,
        )
    }
}

/// The zone's offset (ms) when it is the same at both ends of `[from, to)`
/// and every six hours between (no zone keeps an offset for less); `None`
/// for a window of more than a year.
fn fixed_offset(from: Timestamp, to: Timestamp, clock: &Clock) -> Option<i64> {
    use chrono::Offset;
    const STEP: i64 = 6 * 3_600_000;
    if to.0 <= from.0 || to.0.saturating_sub(from.0) > 366 * MS_PER_DAY {
        return None;
    }
    let offset = |t: i64| {
        i64::from(
            clock
                .to_local(Timestamp(t))
                .offset()
                .fix()
                .local_minus_utc(),
        ) * 1000
    };
    let first = offset(from.0);
    let mut t = from.0;
    while t < to.0 {
        t = (t + STEP).min(to.0);
        if offset(t) != first {
            return None;
        }
    }
    Some(first)
}

/// Every sighting in the scanned window, per subject, oldest first.
#[derive(Debug, Default)]
pub struct Profiles {
    pub by_subject: BTreeMap<NodeRef, Vec<Seen>>,
    /// Activity inside houses (door sensors and other in-house devices).
    pub house_activity: BTreeMap<model::HouseId, Vec<Timestamp>>,
    /// The categories of the persons seen.
    pub categories: HashMap<PersonId, Vec<String>>,
    /// Device names (for models that look for schools, kindergartens …).
    pub device_names: HashMap<DeviceId, String>,
    /// Visitor registrations: who registered as visiting which house.
    pub visits: Vec<Visit>,
    /// The unit each unit door opens.
    pub unit_doors: HashMap<DeviceId, UnitKey>,
    /// Sightings read (device timeline entries).
    pub read: u64,
}

/// A unit of a building: (community, building, unit).
pub type UnitKey = (CommunityId, String, String);

/// A visitor registration naming the house visited.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub time: Timestamp,
    pub event: EventId,
    pub visitor: NodeRef,
    pub house: model::HouseId,
}

impl Profiles {
    /// Reads the devices' timelines over `[from, to)`.
    /// Only the devices of `communities`, when given (a region's job).
    pub fn scan(
        store: &RocksStore,
        from: Timestamp,
        to: Timestamp,
        communities: Option<&std::collections::BTreeSet<CommunityId>>,
    ) -> graph::Result<Self> {
        let mut devices: Vec<model::Device> = Vec::new();
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r
                && communities.is_none_or(|cs| cs.contains(&d.community))
            {
                devices.push(d);
            }
            Ok(())
        })?;
        let mut out = Self::default();
        for d in devices {
            let page = graph::timeline::timeline(
                store,
                &NodeRef::Device(d.id.clone()),
                from,
                to,
                usize::MAX / 2,
                false,
            )?;
            if let Some(h) = &d.house {
                out.house_activity
                    .entry(h.clone())
                    .or_default()
                    .extend(page.items.iter().map(|s| s.time));
            }
            // the vehicle kind a gate read is on the event itself
            let mut kinds: HashMap<EventId, model::VehicleKind> = HashMap::new();
            if d.kind == model::DeviceKind::VehicleGate {
                let ids: Vec<(&str, &str)> = page
                    .items
                    .iter()
                    .filter(|s| s.kind == EventKind::VehiclePass)
                    .map(|s| (s.event.as_str(), d.id.as_str()))
                    .collect();
                for ev in store.events(&ids)?.into_iter().flatten() {
                    if let model::EventBody::VehiclePass {
                        vehicle_kind: Some(k),
                        ..
                    } = ev.body
                    {
                        kinds.insert(ev.id, k);
                    }
                }
            }
            // a visitor registration names the house visited
            let ids: Vec<(&str, &str)> = page
                .items
                .iter()
                .filter(|s| s.kind == EventKind::Visitor)
                .map(|s| (s.event.as_str(), d.id.as_str()))
                .collect();
            if !ids.is_empty() {
                let hosts: HashMap<EventId, model::HouseId> = store
                    .events(&ids)?
                    .into_iter()
                    .flatten()
                    .filter_map(|ev| match ev.body {
                        model::EventBody::Visitor { host_house, .. } => Some((ev.id, host_house)),
                        _ => None,
                    })
                    .collect();
                for s in page.items.iter().filter(|s| s.kind == EventKind::Visitor) {
                    if let Some(h) = hosts.get(&s.event) {
                        out.visits.extend(s.subjects.iter().map(|v| Visit {
                            time: s.time,
                            event: s.event.clone(),
                            visitor: v.clone(),
                            house: h.clone(),
                        }));
                    }
                }
            }
            let unit_door = d.kind == model::DeviceKind::UnitDoor;
            if unit_door && let (Some(b), Some(u)) = (&d.building, &d.unit) {
                out.unit_doors
                    .insert(d.id.clone(), (d.community.clone(), b.clone(), u.clone()));
            }
            if let Some(n) = &d.name {
                out.device_names.insert(d.id.clone(), n.clone());
            }
            for s in page.items {
                out.read += 1;
                for subject in s.subjects {
                    out.by_subject.entry(subject).or_default().push(Seen {
                        time: s.time,
                        event: s.event.clone(),
                        device: d.id.clone(),
                        community: Some(d.community.clone()),
                        kind: s.kind,
                        direction: s.direction,
                        unit_door,
                        vehicle_kind: kinds.get(&s.event).copied(),
                    });
                }
            }
        }
        for v in out.by_subject.values_mut() {
            v.sort_by(|a, b| a.time.cmp(&b.time).then(a.event.cmp(&b.event)));
            v.dedup_by(|a, b| a.event == b.event);
        }
        for v in out.house_activity.values_mut() {
            v.sort();
        }
        out.visits
            .sort_by(|a, b| a.time.cmp(&b.time).then(a.event.cmp(&b.event)));
        out.visits
            .dedup_by(|a, b| a.event == b.event && a.visitor == b.visitor);
        let persons: Vec<&str> = out
            .by_subject
            .keys()
            .filter_map(|n| match n {
                NodeRef::Person(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        let recs = store.bases(BaseKind::Person, &persons)?;
        let mut categories = HashMap::new();
        for r in recs.into_iter().flatten() {
            if let BaseRecord::Person(p) = r
                && !p.categories.is_empty()
            {
                categories.insert(p.id, p.categories);
            }
        }
        out.categories = categories;
        Ok(out)
    }

    /// Adds the sightings of a later read (which may overlap this one: a
    /// sighting is kept once) and forgets those before `keep_from`. The
    /// devices, and the categories of the persons `newer` saw, are
    /// `newer`'s.
    pub fn merge(&mut self, newer: Profiles, keep_from: Timestamp) {
        for (n, mut seen) in newer.by_subject {
            let v = self.by_subject.entry(n).or_default();
            v.append(&mut seen);
            v.sort_by(|a, b| a.time.cmp(&b.time).then(a.event.cmp(&b.event)));
            v.dedup_by(|a, b| a.event == b.event);
        }
        self.by_subject.retain(|_, v| {
            v.retain(|s| s.time >= keep_from);
            !v.is_empty()
        });
        for (h, ts) in newer.house_activity {
            let v = self.house_activity.entry(h).or_default();
            v.extend(ts);
            v.sort();
            v.dedup();
        }
        self.house_activity.retain(|_, v| {
            v.retain(|t| *t >= keep_from);
            !v.is_empty()
        });
        self.categories.extend(newer.categories);
        self.device_names = newer.device_names;
        self.unit_doors = newer.unit_doors;
        self.visits.extend(newer.visits);
        self.visits.retain(|v| v.time >= keep_from);
        self.visits
            .sort_by(|a, b| a.time.cmp(&b.time).then(a.event.cmp(&b.event)));
        self.visits
            .dedup_by(|a, b| a.event == b.event && a.visitor == b.visitor);
        self.read += newer.read;
    }

    /// Every subject's sightings per device, in time order: who else was at
    /// a device around a moment.
    pub fn by_device(&self) -> HashMap<&DeviceId, Vec<(Timestamp, &NodeRef)>> {
        let mut out: HashMap<&DeviceId, Vec<(Timestamp, &NodeRef)>> = HashMap::new();
        for (n, seen) in &self.by_subject {
            for s in seen {
                out.entry(&s.device).or_default().push((s.time, n));
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    pub fn of(&self, n: &NodeRef) -> &[Seen] {
        self.by_subject.get(n).map_or(&[], Vec::as_slice)
    }
}

/// The sightings of one subject over `[from, to)` from its own timeline
/// (for checks of a few subjects; a job reads the devices' timelines).
pub fn sightings_of(
    store: &RocksStore,
    subject: &NodeRef,
    from: Timestamp,
    to: Timestamp,
    devices: &HashMap<DeviceId, model::Device>,
) -> graph::Result<Vec<Seen>> {
    let page = graph::timeline::timeline(store, subject, from, to, usize::MAX / 2, false)?;
    let mut out: Vec<Seen> = page
        .items
        .into_iter()
        .map(|s| {
            let d = devices.get(&s.device);
            Seen {
                time: s.time,
                community: d.map(|d| d.community.clone()),
                unit_door: d.is_some_and(|d| d.kind == model::DeviceKind::UnitDoor),
                event: s.event,
                device: s.device,
                kind: s.kind,
                direction: s.direction,
                vehicle_kind: None,
            }
        })
        .collect();
    out.dedup_by(|a, b| a.event == b.event);
    Ok(out)
}

/// The times of the events of `devices` over `[from, to)`, in order.
pub fn device_times(
    store: &RocksStore,
    devices: &[&DeviceId],
    from: Timestamp,
    to: Timestamp,
) -> graph::Result<Vec<Timestamp>> {
    let mut out = Vec::new();
    for d in devices {
        let node = NodeRef::Device((*d).clone());
        let page = graph::timeline::timeline(store, &node, from, to, usize::MAX / 2, false)?;
        out.extend(page.items.into_iter().map(|s| s.time));
    }
    out.sort();
    Ok(out)
}

/// A person registered at a house at the time of the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resident {
    pub person: PersonId,
    pub house: model::HouseId,
    pub community: CommunityId,
    pub birth_date: Option<NaiveDate>,
    pub categories: Vec<String>,
}

impl Resident {
    /// Age in whole years at `day` (`None` without a birth date).
    pub fn age(&self, day: NaiveDate) -> Option<u32> {
        let b = self.birth_date?;
        day.years_since(b)
    }
}

/// The houses of `communities` (all without a filter).
pub fn houses(
    store: &RocksStore,
    communities: Option<&std::collections::BTreeSet<CommunityId>>,
) -> graph::Result<Vec<model::House>> {
    let mut out = Vec::new();
    store.for_each_base(BaseKind::House, |r| {
        if let BaseRecord::House(h) = r
            && communities.is_none_or(|cs| cs.contains(&h.community))
        {
            out.push(h);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The occupants of houses at `at` (registrations not ended, other than a
/// rented house's landlord), with the house's community and their birth
/// date.
pub fn residents(store: &RocksStore, at: Timestamp) -> graph::Result<Vec<Resident>> {
    residents_where(store, at, |_| true)
}

/// [`residents`], of the persons `keep` holds only (their person records
/// alone are read).
pub fn residents_where(
    store: &RocksStore,
    at: Timestamp,
    keep: impl Fn(&PersonId) -> bool,
) -> graph::Result<Vec<Resident>> {
    let mut house_community = HashMap::new();
    store.for_each_base(BaseKind::House, |r| {
        if let BaseRecord::House(h) = r {
            house_community.insert(h.id, (h.community, h.usage));
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    store.for_each_base(BaseKind::Residence, |r| {
        if let BaseRecord::Residence(r) = r
            && r.since.is_none_or(|s| s <= at)
            && r.until.is_none_or(|u| u > at)
            && keep(&r.person)
            && let Some((c, usage)) = house_community.get(&r.house)
            && r.is_occupant(*usage)
        {
            out.push(Resident {
                person: r.person,
                house: r.house,
                community: c.clone(),
                birth_date: None,
                categories: Vec::new(),
            });
        }
        Ok(())
    })?;
    out.sort();
    out.dedup();
    let ids: Vec<&str> = out.iter().map(|r| r.person.as_str()).collect();
    let persons = store.bases(BaseKind::Person, &ids)?;
    for (r, p) in out.iter_mut().zip(persons) {
        if let Some(BaseRecord::Person(p)) = p {
            r.birth_date = p.birth_date;
            r.categories = p.categories;
        }
    }
    Ok(out)
}

/// Where each registered vehicle belongs.
pub fn vehicle_homes(store: &RocksStore) -> graph::Result<BTreeMap<model::Plate, CommunityId>> {
    let mut out = BTreeMap::new();
    store.for_each_base(BaseKind::Vehicle, |r| {
        if let BaseRecord::Vehicle(v) = r
            && let Some(c) = v.community
        {
            out.insert(v.plate, c);
        }
        Ok(())
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;
    use model::NightWindow;
    use proptest::prelude::*;

    const ZONES: [chrono_tz::Tz; 4] = [
        chrono_tz::Asia::Shanghai,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
    ];

    proptest! {
        /// Days and nights read by arithmetic are the clock's, in zones
        /// with and without offset changes, with windows across them.
        #[test]
        fn a_windows_days_and_nights_are_the_clocks(
            zone in 0..ZONES.len(),
            from in 1_577_836_800_000i64..1_893_456_000_000,
            days in 1u32..60,
            at in 0.0f64..1.0,
            start_min in 0u32..1440,
            end_min in 0u32..1440,
        ) {
            let hm = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            let clock = Clock {
                tz: ZONES[zone],
                night: NightWindow { start: hm(start_min), end: hm(end_min) },
            };
            let to = Timestamp(from + i64::from(days) * MS_PER_DAY);
            let w = Window::last_days(to, days, clock);
            let t = Timestamp(from + ((to.0 - from) as f64 * at) as i64);
            prop_assert_eq!(w.local_day(t), clock.local_date(t).num_days_from_ce());
            prop_assert_eq!(w.is_night(t), clock.is_night(t));
            prop_assert_eq!(w.night_of(t), clock.night_of(t).map(|d| d.num_days_from_ce()));
            let day = clock.night_of(t).unwrap_or_else(|| clock.local_date(t));
            prop_assert_eq!(w.day_of(t), day.num_days_from_ce());
        }
    }

    #[test]
    fn a_window_across_an_offset_change_reads_the_clock() {
        let utc = |s: &str| {
            Timestamp(
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap()
                    .timestamp_millis(),
            )
        };
        let berlin = Clock::new(chrono_tz::Europe::Berlin);
        // summer time began on 2026-03-29
        let across = Window::new(
            utc("2026-03-20T00:00:00Z"),
            utc("2026-04-05T00:00:00Z"),
            berlin,
        );
        assert_eq!(across.fixed_offset, None);
        let summer = Window::new(
            utc("2026-04-01T00:00:00Z"),
            utc("2026-05-01T00:00:00Z"),
            berlin,
        );
        assert_eq!(summer.fixed_offset, Some(7_200_000));
        let shanghai = Window::last_days(utc("2026-12-01T00:00:00Z"), 30, Clock::default());
        assert_eq!(shanghai.fixed_offset, Some(8 * 3_600_000));
        // all history: by the clock
        let all = Window::new(Timestamp(i64::MIN), utc("2026-12-01T00:00:00Z"), berlin);
        assert_eq!(all.fixed_offset, None);
        let then = utc("2020-03-29T01:30:00Z");
        assert_eq!(
            all.local_day(then),
            berlin.local_date(then).num_days_from_ce()
        );
        // 2026-03-29 01:30 UTC is 03:30 summer time, still the night of the 28th
        let t = utc("2026-03-29T01:30:00Z");
        assert_eq!(
            across.night_of(t),
            Some(
                NaiveDate::from_ymd_opt(2026, 3, 28)
                    .unwrap()
                    .num_days_from_ce()
            )
        );
    }
}
