//! House models: unregistered rental, group rental and suspicious gathering
//! point. They judge a house by who comes home to it at night; a unit door
//! does not say which of its unit's houses an entrant goes to, so each
//! entrant of a unit is attributed to at most one of its houses
//! ([`Attribution`]) and an entrant that cannot be attributed counts for
//! none of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use model::{Direction, HouseId, HouseUse, NodeRef, PersonId};

use crate::key::Gathering;
use crate::profile::{Profiles, Resident, UnitKey, Window};
use crate::{Finding, MAX_EVIDENCE, params};

/// Why an entrant is attributed to a house.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Because {
    /// Registered there.
    Registered,
    /// Named by the entrant's latest visitor registration.
    Visitor,
    /// Came home together with its occupants.
    CoEntry,
}

impl Because {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Visitor => "visitor registration",
            Self::CoEntry => "comes home with its occupants",
        }
    }
}

/// A subject entering one unit at night: the nights and the passes.
#[derive(Debug, Default)]
pub struct Entrant<'a> {
    pub nights: BTreeSet<NaiveDate>,
    pub events: Vec<(model::Timestamp, &'a str)>,
}

/// Who enters each unit at night in a window, and to which of its houses
/// each entrant belongs.
#[derive(Debug)]
pub struct Attribution<'a> {
    /// Per unit: entrant → nights and passes.
    pub units: BTreeMap<&'a UnitKey, BTreeMap<&'a NodeRef, Entrant<'a>>>,
    /// The houses of each unit.
    houses_of: HashMap<UnitKey, Vec<&'a model::House>>,
    unit_of: HashMap<&'a HouseId, UnitKey>,
    /// Person → the houses they occupy.
    registered: HashMap<&'a PersonId, Vec<&'a HouseId>>,
    /// House → its occupants.
    occupants: HashMap<&'a HouseId, Vec<&'a PersonId>>,
    /// Visitor → the houses named by their registrations, latest last.
    visited: HashMap<&'a NodeRef, Vec<&'a HouseId>>,
    /// House → when its occupants came through its unit's door at night,
    /// in order.
    home_times: HashMap<&'a HouseId, Vec<model::Timestamp>>,
    regular_nights: usize,
    together_ms: i64,
    clock: model::Clock,
}

impl<'a> Attribution<'a> {
    pub fn new(
        profiles: &'a Profiles,
        residents: &'a [Resident],
        houses: &'a [model::House],
        w: &Window,
        p: &params::NightEntrants,
    ) -> Self {
        let mut units: BTreeMap<&UnitKey, BTreeMap<&NodeRef, Entrant>> = BTreeMap::new();
        for (n, seen) in &profiles.by_subject {
            if !matches!(n, NodeRef::Person(_) | NodeRef::Stranger(_)) {
                continue;
            }
            for s in seen {
                if !s.unit_door || s.direction == Some(Direction::Out) || !w.contains(s.time) {
                    continue;
                }
                let (Some(unit), Some(night)) =
                    (profiles.unit_doors.get(&s.device), w.clock.night_of(s.time))
                else {
                    continue;
                };
                let e = units.entry(unit).or_default().entry(n).or_default();
                e.nights.insert(night);
                e.events.push((s.time, s.event.as_str()));
            }
        }
        let mut houses_of: HashMap<UnitKey, Vec<&model::House>> = HashMap::new();
        let mut unit_of = HashMap::new();
        for h in houses {
            let key = (h.community.clone(), h.building.clone(), h.unit.clone());
            unit_of.insert(&h.id, key.clone());
            houses_of.entry(key).or_default().push(h);
        }
        let mut registered: HashMap<&PersonId, Vec<&HouseId>> = HashMap::new();
        let mut occupants: HashMap<&HouseId, Vec<&PersonId>> = HashMap::new();
        for r in residents {
            registered.entry(&r.person).or_default().push(&r.house);
            occupants.entry(&r.house).or_default().push(&r.person);
        }
        let mut visited: HashMap<&NodeRef, Vec<&HouseId>> = HashMap::new();
        for v in profiles.visits.iter().filter(|v| v.time < w.to) {
            visited.entry(&v.visitor).or_default().push(&v.house);
        }
        let mut home_times = HashMap::new();
        for (h, persons) in &occupants {
            let Some(entrants) = unit_of.get(*h).and_then(|u| units.get(u)) else {
                continue;
            };
            let mut times: Vec<model::Timestamp> = persons
                .iter()
                .filter_map(|p| entrants.get(&NodeRef::Person((*p).clone())))
                .flat_map(|e| e.events.iter().map(|(t, _)| *t))
                .collect();
            times.sort_unstable();
            home_times.insert(*h, times);
        }
        Self {
            units,
            houses_of,
            unit_of,
            registered,
            occupants,
            visited,
            home_times,
            regular_nights: p.regular_nights as usize,
            together_ms: i64::from(p.together_minutes) * 60_000,
            clock: w.clock,
        }
    }

    /// The houses of a unit.
    pub fn houses(&self, unit: &UnitKey) -> &[&'a model::House] {
        self.houses_of.get(unit).map_or(&[], Vec::as_slice)
    }

    /// The occupants of a house.
    pub fn occupants(&self, h: &HouseId) -> &[&'a PersonId] {
        self.occupants.get(h).map_or(&[], Vec::as_slice)
    }

    /// Whether the subject is registered at the house.
    pub fn is_registered(&self, who: &NodeRef, h: &HouseId) -> bool {
        matches!(who, NodeRef::Person(p) if self.registered.get(p).is_some_and(|hs| hs.contains(&h)))
    }

    /// The house of `unit` the subject belongs to: where registered, else
    /// the one named by their latest visitor registration there, else the
    /// house whose occupants they came home with — entering within
    /// `together_minutes` of one of them on at least `regular_nights`
    /// nights, more than with any other house's.
    pub fn house_of(&self, unit: &UnitKey, who: &NodeRef) -> Option<(&'a HouseId, Because)> {
        if let NodeRef::Person(p) = who
            && let Some(h) = self
                .registered
                .get(p)
                .and_then(|hs| hs.iter().find(|h| self.unit_of.get(**h) == Some(unit)))
        {
            return Some((h, Because::Registered));
        }
        if let Some(h) = self.visited.get(who).and_then(|hs| {
            hs.iter()
                .rev()
                .find(|h| self.unit_of.get(**h) == Some(unit))
        }) {
            return Some((h, Because::Visitor));
        }
        let entrants = self.units.get(unit)?;
        let mine = &entrants.get(who)?.events;
        let mut best: Vec<(usize, &HouseId)> = self
            .houses(unit)
            .iter()
            .map(|h| {
                let theirs = self.home_times.get(&h.id).map_or(&[][..], Vec::as_slice);
                let together: BTreeSet<NaiveDate> = mine
                    .iter()
                    .filter(|(t, _)| {
                        let i = theirs.partition_point(|o| o.0 < t.0 - self.together_ms);
                        theirs.get(i).is_some_and(|o| o.0 <= t.0 + self.together_ms)
                    })
                    .filter_map(|(t, _)| self.clock.night_of(*t))
                    .collect();
                (together.len(), &h.id)
            })
            .filter(|(nights, _)| *nights >= self.regular_nights)
            .collect();
        best.sort_by_key(|b| std::cmp::Reverse(b.0));
        match best.as_slice() {
            [(_, h)] => Some((h, Because::CoEntry)),
            [(a, h), (b, _), ..] if a > b => Some((h, Because::CoEntry)),
            _ => None,
        }
    }

    /// Each house's regular night entrants (at least `regular_nights`
    /// nights), with why each is attributed to it.
    pub fn regular_entrants(
        &self,
    ) -> BTreeMap<&'a HouseId, Vec<(&'a NodeRef, &Entrant<'a>, Because)>> {
        let mut out: BTreeMap<&HouseId, Vec<(&NodeRef, &Entrant, Because)>> = BTreeMap::new();
        for (unit, entrants) in &self.units {
            for (who, e) in entrants {
                if e.nights.len() < self.regular_nights {
                    continue;
                }
                if let Some((h, why)) = self.house_of(unit, who) {
                    out.entry(h).or_default().push((who, e, why));
                }
            }
        }
        out
    }
}

/// The latest passes of the entrants, at most [`MAX_EVIDENCE`], in order.
fn evidence(entrants: &[&(&NodeRef, &Entrant, Because)]) -> Vec<String> {
    let per = (MAX_EVIDENCE / entrants.len().max(1)).max(1);
    let mut v: Vec<(model::Timestamp, &str)> = entrants
        .iter()
        .flat_map(|(_, e, _)| e.events.iter().rev().take(per).copied())
        .collect();
    v.sort_unstable();
    v.drain(..v.len().saturating_sub(MAX_EVIDENCE));
    v.into_iter().map(|(_, e)| e.to_owned()).collect()
}

fn describe(entrants: &[&(&NodeRef, &Entrant, Because)]) -> String {
    entrants
        .iter()
        .map(|(n, e, why)| format!("{n} ({} nights, {})", e.nights.len(), why.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 疑似出租屋 and 群租房 over the houses' regular night entrants and their
/// registrations.
pub fn rentals(
    at: &Attribution<'_>,
    houses: &[model::House],
    w: &Window,
    p: &params::Params,
) -> Vec<Finding> {
    let entrants = at.regular_entrants();
    let mut out = Vec::new();
    for h in houses {
        let regular = entrants.get(&h.id).map_or(&[][..], Vec::as_slice);
        let unregistered: Vec<&(&NodeRef, &Entrant, Because)> = regular
            .iter()
            .filter(|(n, _, _)| !at.is_registered(n, &h.id))
            .collect();
        let self_occupied = matches!(h.usage, None | Some(HouseUse::SelfOccupied));
        if self_occupied && unregistered.len() as u32 >= p.unregistered_rental.min_persons {
            out.push(Finding::new(
                "unregistered_rental",
                NodeRef::House(h.id.clone()),
                w,
                unregistered.len() as f64,
                evidence(&unregistered),
                format!(
                    "registered as self-occupied; {} unregistered regular night entrants: {}",
                    unregistered.len(),
                    describe(&unregistered)
                ),
            ));
        }
        let occupants = at.occupants(&h.id).len();
        let crowded = h
            .area_m2
            .filter(|a| *a > 0.0)
            .filter(|a| occupants as f64 > a / p.group_rental.m2_per_person);
        let all: Vec<&(&NodeRef, &Entrant, Because)> = regular.iter().collect();
        if let Some(area) = crowded {
            out.push(Finding::new(
                "group_rental",
                NodeRef::House(h.id.clone()),
                w,
                occupants as f64 * p.group_rental.m2_per_person / area,
                evidence(&all),
                format!(
                    "{occupants} registered occupants in {area} m² (more than one per {} m²)",
                    p.group_rental.m2_per_person
                ),
            ));
        } else if all.len() as u32 >= p.group_rental.min_night_entrants {
            out.push(Finding::new(
                "group_rental",
                NodeRef::House(h.id.clone()),
                w,
                all.len() as f64 / f64::from(p.group_rental.min_night_entrants),
                evidence(&all),
                format!("{} regular night entrants: {}", all.len(), describe(&all)),
            ));
        }
    }
    out
}

/// 可疑聚集点: houses where key gatherings took place on `min_days`
/// different days; a gathering belongs to the house most of its persons are
/// attributed to.
pub fn gathering_points(
    at: &Attribution<'_>,
    profiles: &Profiles,
    gatherings: &[Gathering<'_>],
    w: &Window,
    p: &params::GatheringPoint,
) -> Vec<Finding> {
    /// The days, passes and persons of a house's gatherings.
    type Seen<'a> = (
        BTreeSet<crate::profile::Day>,
        BTreeSet<&'a str>,
        BTreeSet<&'a NodeRef>,
    );
    let mut per: BTreeMap<&HouseId, Seen<'_>> = BTreeMap::new();
    for g in gatherings.iter().filter(|g| w.contains(g.start)) {
        let Some(unit) = profiles.unit_doors.get(g.door) else {
            continue;
        };
        let mut votes: BTreeMap<&HouseId, usize> = BTreeMap::new();
        for n in &g.persons {
            if let Some((h, _)) = at.house_of(unit, n) {
                *votes.entry(h).or_default() += 1;
            }
        }
        let mut ranked: Vec<(usize, &HouseId)> = votes.into_iter().map(|(h, c)| (c, h)).collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let house = match ranked.as_slice() {
            [(_, h)] => h,
            [(a, h), (b, _), ..] if a > b => h,
            _ => continue,
        };
        let e = per.entry(house).or_default();
        e.0.insert(w.day_of(g.start));
        e.1.extend(g.events.iter().copied());
        e.2.extend(g.persons.iter().copied());
    }
    per.into_iter()
        .filter(|(_, (days, _, _))| days.len() as u32 >= p.min_days)
        .map(|(h, (days, events, persons))| {
            let mut ev: Vec<String> = events.into_iter().map(str::to_owned).collect();
            ev.drain(..ev.len().saturating_sub(MAX_EVIDENCE));
            Finding::new(
                "gathering_point",
                NodeRef::House(h.clone()),
                w,
                days.len() as f64,
                ev,
                format!(
                    "key persons gathered on {} days ({} persons: {})",
                    days.len(),
                    persons.len(),
                    persons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
        .collect()
}

/// Every house model as of the end of `w`.
pub fn run(
    profiles: &Profiles,
    residents: &[Resident],
    houses: &[model::House],
    to: model::Timestamp,
    clock: model::Clock,
    p: &params::Params,
) -> Vec<Finding> {
    let w = Window::last_days(to, p.night_entrants.window_days, clock);
    let at = Attribution::new(profiles, residents, houses, &w, &p.night_entrants);
    let mut out = rentals(&at, houses, &w, p);
    let gw = Window::last_days(to, p.gathering_point.window_days, clock);
    let gatherings = crate::key::gathering_occasions(profiles, &gw, &p.key_gathering);
    if !gatherings.is_empty() {
        let at = if gw.from == w.from {
            at
        } else {
            Attribution::new(profiles, residents, houses, &gw, &p.night_entrants)
        };
        out.extend(gathering_points(
            &at,
            profiles,
            &gatherings,
            &gw,
            &p.gathering_point,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Seen, Visit};
    use chrono::NaiveDate;
    use model::{ArchiveId, Clock, CommunityId, DeviceId, EventId, EventKind, Timestamp};

    fn clock() -> Clock {
        Clock::new(chrono_tz::Asia::Shanghai)
    }

    fn time(day: u32, h: u32, m: u32) -> Timestamp {
        let n = NaiveDate::from_ymd_opt(2026, 10, day)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap();
        clock().from_local(n).unwrap()
    }

    /// The 30 days up to the end of October 30th.
    fn window() -> Window {
        Window::last_days(time(31, 0, 0), 30, clock())
    }

    fn house(room: &str, usage: HouseUse, area: f64) -> model::House {
        model::House {
            id: HouseId::new(&format!("C1-1-1-{room}")).unwrap(),
            community: CommunityId::new("C1").unwrap(),
            building: "1".into(),
            unit: "1".into(),
            room: room.into(),
            address: None,
            area_m2: Some(area),
            usage: Some(usage),
            floor: None,
        }
    }

    fn resident(person: &str, h: &model::House) -> Resident {
        Resident {
            person: PersonId::new(person).unwrap(),
            house: h.id.clone(),
            community: h.community.clone(),
            birth_date: None,
            categories: Vec::new(),
        }
    }

    fn person(id: &str) -> NodeRef {
        NodeRef::Person(PersonId::new(id).unwrap())
    }

    fn stranger(id: &str) -> NodeRef {
        NodeRef::Stranger(ArchiveId::new(id).unwrap())
    }

    /// Profiles with one unit door `U1` of unit C1/1/1.
    fn profiles() -> Profiles {
        let mut p = Profiles::default();
        p.unit_doors.insert(
            DeviceId::new("U1").unwrap(),
            (CommunityId::new("C1").unwrap(), "1".into(), "1".into()),
        );
        p
    }

    /// `who` enters the unit at `h:m` on each of `days`.
    fn enters(
        p: &mut Profiles,
        who: &NodeRef,
        days: impl IntoIterator<Item = u32>,
        h: u32,
        m: u32,
    ) {
        let seen = p.by_subject.entry(who.clone()).or_default();
        for d in days {
            seen.push(Seen {
                time: time(d, h, m),
                event: EventId::new(&format!("{}-{d}-{h}-{m}", who.key())).unwrap(),
                device: DeviceId::new("U1").unwrap(),
                community: Some(CommunityId::new("C1").unwrap()),
                kind: EventKind::Access,
                direction: Some(Direction::In),
                unit_door: true,
                vehicle_kind: None,
            });
        }
        seen.sort_by_key(|s| s.time);
    }

    fn visits(p: &mut Profiles, who: &NodeRef, h: &model::House) {
        p.visits.push(Visit {
            time: time(2, 21, 0),
            event: EventId::new(&format!("v-{}", who.key())).unwrap(),
            visitor: who.clone(),
            house: h.id.clone(),
        });
    }

    fn judge(
        p: &Profiles,
        residents: &[Resident],
        houses: &[model::House],
        params: &params::Params,
    ) -> Vec<(String, String)> {
        let w = window();
        let at = Attribution::new(p, residents, houses, &w, &params.night_entrants);
        let mut out: Vec<(String, String)> = rentals(&at, houses, &w, params)
            .into_iter()
            .map(|f| (f.model.to_owned(), f.entity.key().to_owned()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn unregistered_rental_at_three_regular_unregistered_entrants() {
        let params = params::Params::default();
        let own = house("101", HouseUse::SelfOccupied, 89.0);
        let houses = vec![own.clone(), house("102", HouseUse::SelfOccupied, 89.0)];
        let residents = vec![resident("P1", &own)];
        let mut p = profiles();
        enters(&mut p, &person("P1"), 1..=20, 19, 0);
        for s in ["S1", "S2"] {
            enters(&mut p, &stranger(s), 1..=8, 23, 0);
            visits(&mut p, &stranger(s), &own);
        }
        // the third on 7 nights (one short of regular): not yet
        enters(&mut p, &stranger("S3"), 1..=7, 23, 0);
        visits(&mut p, &stranger("S3"), &own);
        assert!(judge(&p, &residents, &houses, &params).is_empty());
        enters(&mut p, &stranger("S3"), [20], 23, 30);
        let found = judge(&p, &residents, &houses, &params);
        assert_eq!(found, [("unregistered_rental".into(), "C1-1-1-101".into())]);
        // passes at 21:59 are not at night; leaving is not entering
        let mut q = profiles();
        enters(&mut q, &person("P1"), 1..=20, 19, 0);
        for s in ["S1", "S2", "S3"] {
            enters(&mut q, &stranger(s), 1..=10, 21, 59);
            visits(&mut q, &stranger(s), &own);
        }
        assert!(judge(&q, &residents, &houses, &params).is_empty());
        // a house registered for rent is not an unregistered rental
        let rented = vec![house("101", HouseUse::Rent, 89.0), houses[1].clone()];
        assert!(judge(&p, &residents, &rented, &params).is_empty());
        // without a visitor registration, nor anyone to come home with, the
        // entrants belong to no house
        p.visits.clear();
        assert!(judge(&p, &residents, &houses, &params).is_empty());
    }

    #[test]
    fn entrants_attributed_by_coming_home_with_the_occupants_when_one_house_leads() {
        let params = params::Params::default();
        let a = house("101", HouseUse::SelfOccupied, 89.0);
        let b = house("102", HouseUse::SelfOccupied, 89.0);
        let houses = vec![a.clone(), b.clone()];
        let residents = vec![resident("PA", &a), resident("PB", &b)];
        let mut p = profiles();
        // the strangers come home 10 minutes after PA on 10 nights, 11
        // minutes after PB on 10 nights (not together)
        enters(&mut p, &person("PA"), 1..=10, 22, 30);
        enters(&mut p, &person("PB"), 1..=10, 22, 29);
        for s in ["S1", "S2", "S3"] {
            enters(&mut p, &stranger(s), 1..=10, 22, 40);
        }
        let w = window();
        let at = Attribution::new(&p, &residents, &houses, &w, &params.night_entrants);
        let unit = &p.unit_doors.values().next().unwrap().clone();
        assert_eq!(
            at.house_of(unit, &stranger("S1")),
            Some((&a.id, Because::CoEntry))
        );
        assert_eq!(
            at.house_of(unit, &person("PB")),
            Some((&b.id, Because::Registered))
        );
        assert_eq!(
            judge(&p, &residents, &houses, &params),
            [("unregistered_rental".into(), "C1-1-1-101".into())]
        );
        // on 7 of those nights PB comes home with them too: still PA's
        enters(&mut p, &person("PB"), 1..=7, 22, 45);
        let at = Attribution::new(&p, &residents, &houses, &w, &params.night_entrants);
        assert_eq!(
            at.house_of(unit, &stranger("S1")),
            Some((&a.id, Because::CoEntry))
        );
        // on all 10: no house leads
        enters(&mut p, &person("PB"), 8..=10, 22, 45);
        let at = Attribution::new(&p, &residents, &houses, &w, &params.night_entrants);
        assert_eq!(at.house_of(unit, &stranger("S1")), None);
        assert!(judge(&p, &residents, &houses, &params).is_empty());
        // a visitor registration names the house whatever the nights
        visits(&mut p, &stranger("S1"), &b);
        let at = Attribution::new(&p, &residents, &houses, &w, &params.night_entrants);
        assert_eq!(
            at.house_of(unit, &stranger("S1")),
            Some((&b.id, Because::Visitor))
        );
    }

    #[test]
    fn group_rental_by_registrations_per_area_or_by_night_entrants() {
        let params = params::Params::default();
        let flat = house("101", HouseUse::Rent, 40.0);
        let houses = vec![flat.clone()];
        // 4 occupants in 40 m² is one per 10 m²: not more
        let mut residents: Vec<Resident> =
            (1..=4).map(|i| resident(&format!("T{i}"), &flat)).collect();
        let p = profiles();
        assert!(judge(&p, &residents, &houses, &params).is_empty());
        residents.push(resident("T5", &flat));
        assert_eq!(
            judge(&p, &residents, &houses, &params),
            [("group_rental".into(), "C1-1-1-101".into())]
        );
        // two registered tenants home at night, and unregistered entrants
        // with them: 6 regular night entrants make a group rental, 5 do not
        let residents = vec![resident("T1", &flat), resident("T2", &flat)];
        let big = vec![house("101", HouseUse::Rent, 120.0)];
        let mut p = profiles();
        enters(&mut p, &person("T1"), 1..=25, 22, 40);
        enters(&mut p, &person("T2"), 1..=25, 23, 10);
        for s in ["S1", "S2", "S3"] {
            enters(&mut p, &stranger(s), 1..=20, 23, 0);
        }
        assert!(judge(&p, &residents, &big, &params).is_empty());
        // one more, coming home with T2 (through the door 5 minutes before)
        enters(&mut p, &stranger("S4"), 3..=22, 23, 5);
        assert_eq!(
            judge(&p, &residents, &big, &params),
            [("group_rental".into(), "C1-1-1-101".into())]
        );
    }

    #[test]
    fn gathering_point_on_two_days() {
        let params = params::Params::default();
        let home = house("101", HouseUse::SelfOccupied, 89.0);
        let houses = vec![home.clone(), house("102", HouseUse::SelfOccupied, 89.0)];
        let residents = vec![resident("K1", &home)];
        let mut p = profiles();
        for k in ["K1", "K2", "K3"] {
            p.categories.insert(
                PersonId::new(k).unwrap(),
                vec![model::category::KEY_DRUG.into()],
            );
        }
        let gather = |p: &mut Profiles, day: u32| {
            enters(p, &person("K1"), [day], 20, 0);
            enters(p, &person("K2"), [day], 20, 30);
            enters(p, &person("K3"), [day], 21, 50);
        };
        gather(&mut p, 5);
        let w = window();
        let found = |p: &Profiles| {
            let at = Attribution::new(p, &residents, &houses, &w, &params.night_entrants);
            let g = crate::key::gathering_occasions(p, &w, &params.key_gathering);
            gathering_points(&at, p, &g, &w, &params.gathering_point)
                .into_iter()
                .map(|f| f.entity.key().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(found(&p).is_empty(), "once is not repeatedly");
        // the second time, the third arrives 2 h 10 min after the first: no gathering
        enters(&mut p, &person("K1"), [9], 20, 0);
        enters(&mut p, &person("K2"), [9], 20, 30);
        enters(&mut p, &person("K3"), [9], 22, 10);
        assert!(found(&p).is_empty());
        gather(&mut p, 12);
        assert_eq!(found(&p), ["C1-1-1-101"]);
    }
}
