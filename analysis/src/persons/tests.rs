//! Tests of `persons`.

use super::*;
use crate::params::Params;
use chrono::{NaiveDate, NaiveDateTime};
use model::{Clock, EventId, EventKind, Timestamp};

fn clock() -> Clock {
    Clock::new(chrono_tz::Asia::Shanghai)
}

proptest::proptest! {
    /// One pass over days in order counts as sorting does, and days
    /// out of order are counted right too.
    #[test]
    fn day_counts_are_those_of_sorting(
        mut v in proptest::collection::vec((0i32..6, proptest::bool::ANY), 0..30),
        sorted in proptest::bool::ANY,
    ) {
        if sorted {
            v.sort_by_key(|x| x.0);
        }
        let days: BTreeSet<Day> = v.iter().map(|x| x.0).collect();
        proptest::prop_assert_eq!(distinct(v.iter().map(|x| x.0)), days.len() as u32);
        let mut per: BTreeMap<Day, (u32, u32)> = BTreeMap::new();
        for (d, n) in &v {
            let e = per.entry(*d).or_default();
            e.0 += 1;
            e.1 += u32::from(*n);
        }
        let want = per.values().filter(|(a, n)| f64::from(*n) >= 0.5 * f64::from(*a)).count();
        proptest::prop_assert_eq!(mostly_night_days(v.iter().copied(), 0.5), want as u32);
    }
}

/// A sighting on local `day` (of October 2026) at `hh:mm`.
fn at(day: u32, hh: u32, mm: u32, community: &str, dir: Option<Direction>) -> Seen {
    let n = NaiveDateTime::new(
        NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        chrono::NaiveTime::from_hms_opt(hh, mm, 0).unwrap(),
    );
    Seen {
        time: clock().from_local(n).unwrap(),
        event: EventId::new(&format!("e-{day}-{hh}-{mm}-{community}")).unwrap(),
        device: model::DeviceId::new("D1").unwrap(),
        community: Some(CommunityId::new(community).unwrap()),
        kind: EventKind::FaceCapture,
        direction: dir,
        unit_door: false,
        vehicle_kind: None,
    }
}

/// The end of local October `day`.
fn end_of(day: u32) -> Timestamp {
    let n = (NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
        + chrono::Duration::days(i64::from(day)))
    .and_hms_opt(0, 0, 0)
    .unwrap();
    clock().from_local(n).unwrap()
}

fn person(id: &str) -> NodeRef {
    NodeRef::Person(PersonId::new(id).unwrap())
}

/// `days` days each with `night` of `all` sightings at night.
fn days_with(days: u32, night: u32, all: u32) -> Vec<Seen> {
    let mut v = Vec::new();
    for d in 1..=days {
        for i in 0..all {
            v.push(if i < night {
                at(d, 23, i, "C1", None)
            } else {
                at(d, 10, i, "C1", None)
            });
        }
    }
    v
}

#[test]
fn nocturnal_at_and_around_its_thresholds() {
    let p = Params::default().nocturnal;
    let w = Window::last_days(end_of(14), p.window_days, clock());
    let me = person("P1");
    // 7 of 10 at night is 70%: five such days make it, four do not
    assert!(nocturnal(&me, &days_with(5, 7, 10), &w, &p).is_some());
    assert!(nocturnal(&me, &days_with(4, 7, 10), &w, &p).is_none());
    // 6 of 10 is below the share
    assert!(nocturnal(&me, &days_with(9, 6, 10), &w, &p).is_none());
    // days before the window do not count
    let w_late = Window::last_days(end_of(30), p.window_days, clock());
    assert!(nocturnal(&me, &days_with(5, 7, 10), &w_late, &p).is_none());
    let f = nocturnal(
        &NodeRef::Vehicle(model::Plate::new("苏J12345").unwrap()),
        &days_with(5, 10, 10),
        &w,
        &p,
    )
    .unwrap();
    assert_eq!(f.model, "vehicle_nocturnal");
    assert!(!f.evidence.is_empty() && f.evidence.len() <= MAX_EVIDENCE);
}

#[test]
fn frequent_night_outs_counts_going_out_not_coming_home() {
    let p = Params::default().frequent_night_outs;
    let w = Window::last_days(end_of(14), p.window_days, clock());
    let me = person("P1");
    let homes: BTreeSet<CommunityId> = [CommunityId::new("C1").unwrap()].into();
    let outs = |n: u32, dir: Option<Direction>, c: &str| -> Vec<Seen> {
        (1..=n).map(|d| at(d, 23, 10, c, dir)).collect()
    };
    assert!(
        frequent_night_outs(&me, &outs(6, Some(Direction::Out), "C1"), &homes, &w, &p).is_some()
    );
    assert!(
        frequent_night_outs(&me, &outs(5, Some(Direction::Out), "C1"), &homes, &w, &p).is_none()
    );
    // coming home late every night is not going out
    assert!(
        frequent_night_outs(&me, &outs(14, Some(Direction::In), "C1"), &homes, &w, &p).is_none()
    );
    // a resident seen at night away from home is out
    assert!(frequent_night_outs(&me, &outs(6, None, "C9"), &homes, &w, &p).is_some());
    // 02:00 belongs to the night before: six sightings on three nights
    let split: Vec<Seen> = (1..=3)
        .flat_map(|d| {
            [
                at(d, 23, 0, "C1", Some(Direction::Out)),
                at(d + 1, 2, 0, "C1", Some(Direction::Out)),
            ]
        })
        .collect();
    assert!(frequent_night_outs(&me, &split, &homes, &w, &p).is_none());
}

#[test]
fn many_communities_is_for_stranger_archives() {
    let p = Params::default().many_communities;
    let w = Window::last_days(end_of(7), p.window_days, clock());
    let s = NodeRef::Stranger(model::ArchiveId::new("s-1").unwrap());
    let three = vec![
        at(1, 10, 0, "C1", None),
        at(3, 10, 0, "C2", None),
        at(5, 10, 0, "C3", None),
    ];
    let f = many_communities(&s, &three, &w, &p).unwrap();
    assert_eq!(f.evidence.len(), 3);
    assert!(many_communities(&s, &three[..2], &w, &p).is_none());
    assert!(many_communities(&person("P1"), &three, &w, &p).is_none());
    // the same three visits spread over more than 7 days
    let spread = vec![
        at(1, 10, 0, "C1", None),
        at(5, 10, 0, "C2", None),
        at(9, 10, 0, "C3", None),
    ];
    let w9 = Window::last_days(end_of(9), p.window_days, clock());
    assert!(many_communities(&s, &spread, &w9, &p).is_none());
}

fn resident(id: &str, house: &str, born: i32) -> Resident {
    Resident {
        person: PersonId::new(id).unwrap(),
        house: model::HouseId::new(house).unwrap(),
        community: CommunityId::new("C1").unwrap(),
        birth_date: NaiveDate::from_ymd_opt(born, 1, 1),
        categories: Vec::new(),
    }
}

#[test]
fn absences_judge_adults_and_children_with_their_household() {
    let p = Params::default();
    let to = end_of(31);
    let data_from = end_of(0);
    let mut profiles = Profiles::default();
    // house H1: two adults seen on two days each (reclusive), a child never
    for (id, days) in [("A1", [3, 20]), ("A2", [4, 21])] {
        profiles.by_subject.insert(
            person(id),
            days.iter().map(|d| at(*d, 10, 0, "C1", None)).collect(),
        );
    }
    // house H2: an adult seen on three days, a child never seen
    profiles.by_subject.insert(
        person("B1"),
        [5, 6, 7]
            .iter()
            .map(|d| at(*d, 10, 0, "C1", None))
            .collect(),
    );
    let residents = vec![
        resident("A1", "H1", 1980),
        resident("A2", "H1", 1982),
        resident("A3", "H1", 2021),
        resident("B1", "H2", 1980),
        resident("B2", "H2", 2022),
        resident("C1", "H3", 1950),
    ];
    let found = absences(&profiles, &residents, to, data_from, clock(), &p);
    let of = |m: &str| -> Vec<String> {
        let mut v: Vec<String> = found
            .iter()
            .filter(|f| f.model == m)
            .map(|f| f.entity.key().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(of("reclusive"), ["A1", "A2", "A3", "C1"]);
    assert_eq!(of("moved_out"), ["C1"]);
    // windows reaching before the data are not judged
    assert!(absences(&profiles, &residents, to, end_of(10), clock(), &p).is_empty());
}

fn door(day: u32, hh: u32, mm: u32, community: &str, n: u32) -> Seen {
    let mut s = at(day, hh, mm, community, Some(Direction::In));
    s.device = model::DeviceId::new(&format!("U{community}-{n}")).unwrap();
    s.event = EventId::new(&format!("u-{day}-{hh}-{mm}-{n}")).unwrap();
    s.unit_door = true;
    s
}

#[test]
fn theft_casing_at_and_around_its_thresholds() {
    let p = Params::default().theft_casing;
    let w = Window::last_days(end_of(2), 2, clock());
    let me = person("P1");
    let none = BTreeSet::new();
    let four: Vec<Seen> = (0..4).map(|k| door(2, 13, k * 15, "C1", k)).collect();
    let f = theft_casing(&me, &four, &none, &[], &w, &p).unwrap();
    assert!(!f.alert);
    assert!(theft_casing(&me, &four[..3], &none, &[], &w, &p).is_none());
    // the same door four times is one door
    let same: Vec<Seen> = (0..4).map(|k| door(2, 13, k * 15, "C1", 0)).collect();
    assert!(theft_casing(&me, &same, &none, &[], &w, &p).is_none());
    // where one lives, doors do not count
    let home: BTreeSet<CommunityId> = [CommunityId::new("C1").unwrap()].into();
    assert!(theft_casing(&me, &four, &home, &[], &w, &p).is_none());
    // four doors over more than 24 h do not make it
    let spread: Vec<Seen> = (0..4)
        .map(|k| door(1 + (k / 2), if k % 2 == 0 { 1 } else { 23 }, 0, "C1", k))
        .collect();
    assert!(theft_casing(&me, &spread, &none, &[], &w, &p).is_none());
    // three communities within 24 h, by a key theft record: an alert
    let comms = vec![
        at(2, 9, 0, "C1", None),
        at(2, 12, 0, "C2", None),
        at(2, 15, 0, "C3", None),
    ];
    let f = theft_casing(&me, &comms, &none, &["key_theft_record".into()], &w, &p).unwrap();
    assert!(f.alert);
}

#[test]
fn unregistered_resident_needs_days_and_nights_where_not_registered() {
    let p = Params::default().unregistered_resident;
    let w = Window::last_days(end_of(30), p.window_days, clock());
    let me = NodeRef::Stranger(model::ArchiveId::new("s-9").unwrap());
    let none = BTreeSet::new();
    // 10 days, 5 of them with a night sighting
    let mut seen: Vec<Seen> = (1..=10).map(|d| at(d, 8, 0, "C1", None)).collect();
    seen.extend((1..=5).map(|d| at(d, 22, 30, "C1", None)));
    seen.sort_by_key(|s| s.time);
    assert!(unregistered_resident(&me, &seen, &none, &w, &p).is_some());
    let four_nights: Vec<Seen> = seen
        .iter()
        .filter(|s| s.time != at(5, 22, 30, "C1", None).time)
        .cloned()
        .collect();
    assert!(unregistered_resident(&me, &four_nights, &none, &w, &p).is_none());
    // registered there: not an unregistered resident
    let home: BTreeSet<CommunityId> = [CommunityId::new("C1").unwrap()].into();
    assert!(unregistered_resident(&me, &seen, &home, &w, &p).is_none());
    // out at 23:00 and back at 01:00 is one day, not two
    let mut split: Vec<Seen> = Vec::new();
    for d in 1..=5 {
        split.push(at(d, 23, 0, "C1", None));
        split.push(at(d + 1, 1, 0, "C1", None));
    }
    assert!(unregistered_resident(&me, &split, &none, &w, &p).is_none());
}

#[test]
fn elderly_unseen_counts_day_time_silence() {
    let p = Params::default().elderly_unseen;
    let w = Window::last_days(end_of(3), p.window_days, clock());
    let me = PersonId::new("E1").unwrap();
    let t = |d: u32, h: u32| at(d, h, 0, "C1", None).time;
    // a normal evening to morning: 18:30 → 07:00 has 5.5 h of day time
    let normal = vec![t(2, 7), t(2, 12), t(2, 18), t(3, 7), t(3, 12), t(3, 18)];
    assert!(elderly_unseen(&me, &[], &normal, &w, &p).is_none());
    // silent from 08:00 to the next day's 14:00: an alert
    let silent = vec![t(2, 7), t(2, 8), t(3, 14), t(3, 18)];
    let f = elderly_unseen(&me, &[], &silent, &w, &p).unwrap();
    assert!(f.alert && f.score >= 12.0);
    // 08:00 → 20:00 is exactly 12 h of day time
    let twelve = vec![t(3, 8), t(3, 20), t(3, 21)];
    assert!(elderly_unseen(&me, &[], &twelve, &w, &p).is_some());
    let eleven = vec![t(3, 8), t(3, 19), t(3, 21)];
    assert!(elderly_unseen(&me, &[], &eleven, &w, &p).is_none());
}

#[test]
fn a_house_is_vacant_when_no_registered_occupant_is_seen() {
    let p = Params::default();
    let mut profiles = Profiles::default();
    profiles
        .by_subject
        .insert(person("B1"), vec![at(20, 10, 0, "C1", None)]);
    let residents = vec![
        resident("A1", "H1", 1980),
        resident("A2", "H1", 2020),
        resident("B1", "H2", 1980),
        resident("B2", "H2", 1980),
    ];
    let found = absences(&profiles, &residents, end_of(31), end_of(0), clock(), &p);
    let vacant: Vec<&str> = found
        .iter()
        .filter(|f| f.model == "vacant")
        .map(|f| f.entity.key())
        .collect();
    assert_eq!(vacant, ["H1"]);
}

#[test]
fn not_home_overnight_after_regular_presence_and_leaving() {
    let p = Params::default().not_home_overnight;
    let me = person("W1");
    let homes: BTreeSet<CommunityId> = [CommunityId::new("C1").unwrap()].into();
    // a worker: out at 08:00, back at 19:00, every day but `away`
    let worker = |away: &[u32]| -> Vec<Seen> {
        let mut v = Vec::new();
        for d in 1..=20 {
            if away.contains(&d) {
                continue;
            }
            v.push(at(d, 8, 0, "C1", Some(Direction::Out)));
            if !away.contains(&(d + 1)) || d == 20 {
                v.push(at(d, 19, 0, "C1", Some(Direction::In)));
            }
        }
        v
    };
    let to = end_of(21);
    // left on the 14th's morning, away the nights of days 14–16
    let f = not_home_overnight(
        "not_home_overnight",
        &me,
        &worker(&[15, 16]),
        &homes,
        to,
        clock(),
        &p,
    );
    assert!(f.is_some());
    // two nights (14 and 15) are not enough
    assert!(
        not_home_overnight(
            "not_home_overnight",
            &me,
            &worker(&[15]),
            &homes,
            to,
            clock(),
            &p
        )
        .is_none()
    );
    // not seen for three nights, but last seen coming in: staying in
    let mut stay = worker(&[]);
    stay.retain(|s| {
        !(s.time >= at(14, 0, 0, "C1", None).time && s.time < at(17, 0, 0, "C1", None).time)
    });
    assert!(
        not_home_overnight("not_home_overnight", &me, &stay, &homes, to, clock(), &p).is_none()
    );
    // a quiet weekend (days 12–13: no passes) and then away from the
    // Monday morning: the absence starts on the Monday
    let mut weekend = Vec::new();
    for d in 5..=20 {
        match d {
            12 | 13 | 15 | 16 => {}
            14 => weekend.push(at(d, 8, 0, "C1", Some(Direction::Out))),
            _ => {
                weekend.push(at(d, 8, 0, "C1", Some(Direction::Out)));
                weekend.push(at(d, 19, 0, "C1", Some(Direction::In)));
            }
        }
    }
    let f = not_home_overnight("not_home_overnight", &me, &weekend, &homes, to, clock(), &p)
        .expect("away after a weekend");
    assert_eq!(f.score, 3.0);
    // never regular: not judged
    let rare: Vec<Seen> = worker(&[])
        .into_iter()
        .filter(|s| s.time < at(3, 0, 0, "C1", None).time)
        .collect();
    assert!(
        not_home_overnight("not_home_overnight", &me, &rare, &homes, to, clock(), &p).is_none()
    );
}
