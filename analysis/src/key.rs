//! Key-person models (重点人员) and high-risk origins: the categories and
//! lists come from the registers and the deployment's configuration.

use std::collections::{BTreeMap, BTreeSet};

use model::{DeviceId, Direction, NodeRef, Timestamp};

use crate::profile::{Profiles, Window};
use crate::{Finding, params};

/// A vehicle whose plate starts with a listed prefix, seen in the window.
pub fn high_risk_origin(
    v: &NodeRef,
    seen: &[crate::profile::Seen],
    w: &Window,
    p: &params::HighRiskOrigin,
) -> Option<Finding> {
    let NodeRef::Vehicle(plate) = v else {
        return None;
    };
    let prefix = p
        .prefixes
        .iter()
        .find(|x| plate.as_str().starts_with(x.as_str()))?;
    let last = seen.iter().rfind(|s| w.contains(s.time))?;
    Some(Finding::new(
        "vehicle_high_risk_origin",
        v.clone(),
        w,
        1.0,
        vec![last.event.as_str().to_owned()],
        format!("plate prefix {prefix}"),
    ))
}

/// Persons of one key category together at one unit door.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathering<'a> {
    pub door: &'a DeviceId,
    pub category: &'a str,
    pub start: Timestamp,
    pub persons: BTreeSet<&'a NodeRef>,
    pub events: Vec<&'a str>,
}

/// Every gathering in the window: at least `min_persons` persons of one of
/// the categories at the same unit door within `within_hours`, each group
/// starting at one of its members' passes (doors and times in order).
pub fn gathering_occasions<'a>(
    profiles: &'a Profiles,
    w: &Window,
    p: &'a params::KeyGathering,
) -> Vec<Gathering<'a>> {
    let span = i64::from(p.within_hours) * 3_600_000;
    let mut out = Vec::new();
    for cat in &p.categories {
        // (door → (time, person, event)) for persons of the category
        let mut at_doors: BTreeMap<&DeviceId, Vec<(Timestamp, &NodeRef, &str)>> = BTreeMap::new();
        for (n, seen) in &profiles.by_subject {
            let NodeRef::Person(id) = n else { continue };
            if !profiles.categories.get(id).is_some_and(|c| c.contains(cat)) {
                continue;
            }
            for s in seen.iter().filter(|s| s.unit_door && w.contains(s.time)) {
                at_doors
                    .entry(&s.device)
                    .or_default()
                    .push((s.time, n, s.event.as_str()));
            }
        }
        for (door, visits) in &mut at_doors {
            visits.sort();
            for i in 0..visits.len() {
                let group: Vec<&(Timestamp, &NodeRef, &str)> = visits[i..]
                    .iter()
                    .take_while(|v| v.0.0 - visits[i].0.0 <= span)
                    .collect();
                let persons: BTreeSet<&NodeRef> = group.iter().map(|v| v.1).collect();
                if persons.len() as u32 >= p.min_persons {
                    out.push(Gathering {
                        door,
                        category: cat,
                        start: visits[i].0,
                        persons,
                        events: group.iter().map(|v| v.2).collect(),
                    });
                }
            }
        }
    }
    out
}

/// Persons of one key category together at a unit door: each of them is
/// tagged (and alerted) with the evidence of their first gathering.
pub fn gatherings(profiles: &Profiles, w: &Window, p: &params::KeyGathering) -> Vec<Finding> {
    let mut out: BTreeMap<NodeRef, Finding> = BTreeMap::new();
    for g in gathering_occasions(profiles, w, p) {
        for n in &g.persons {
            out.entry((*n).clone()).or_insert_with(|| {
                Finding::new(
                    "key_gathering",
                    (*n).clone(),
                    w,
                    g.persons.len() as f64,
                    g.events.iter().map(|e| (*e).to_owned()).collect(),
                    format!(
                        "{} {} key persons at one unit door within {} h",
                        g.persons.len(),
                        g.category,
                        p.within_hours
                    ),
                )
                .alerting(true)
            });
        }
    }
    out.into_values().collect()
}

/// A mental-health key person leaving alone, or seen at a sensitive place.
pub fn mental(profiles: &Profiles, w: &Window, p: &params::KeyMental) -> Vec<Finding> {
    let any = profiles
        .categories
        .values()
        .any(|c| c.contains(&p.category));
    if !any {
        return Vec::new();
    }
    let by_device = profiles.by_device();
    let alone = i64::from(p.alone_secs) * 1000;
    let mut out = Vec::new();
    for (n, seen) in &profiles.by_subject {
        let NodeRef::Person(id) = n else { continue };
        if !profiles
            .categories
            .get(id)
            .is_some_and(|c| c.contains(&p.category))
        {
            continue;
        }
        for s in seen.iter().filter(|s| w.contains(s.time)) {
            let sensitive = profiles
                .device_names
                .get(&s.device)
                .is_some_and(|name| p.sensitive_words.iter().any(|x| name.contains(x.as_str())));
            let left_alone = s.direction == Some(Direction::Out)
                && !s.unit_door
                && by_device.get(&s.device).is_some_and(|v| {
                    !v.iter()
                        .any(|(t, other)| *other != n && (t.0 - s.time.0).abs() <= alone)
                });
            if sensitive || left_alone {
                out.push(
                    Finding::new(
                        "key_mental",
                        n.clone(),
                        w,
                        1.0,
                        vec![s.event.as_str().to_owned()],
                        if sensitive {
                            format!("seen at a sensitive place (device {})", s.device.as_str())
                        } else {
                            "went out alone".to_owned()
                        },
                    )
                    .alerting(true),
                );
                break;
            }
        }
    }
    out
}

/// A petitioner who left during a sensitive period and has not come back
/// for `away_hours` (by the end of the window).
pub fn petitioners(profiles: &Profiles, w: &Window, p: &params::KeyPetitioner) -> Vec<Finding> {
    let away = i64::from(p.away_hours) * 3_600_000;
    let in_period = |t: Timestamp| {
        let d = w.clock.local_date(t);
        p.periods.iter().any(|x| x.from <= d && d <= x.to)
    };
    let mut out = Vec::new();
    if p.periods.is_empty() {
        return out;
    }
    for (n, seen) in &profiles.by_subject {
        let NodeRef::Person(id) = n else { continue };
        if !profiles
            .categories
            .get(id)
            .is_some_and(|c| c.contains(&p.category))
        {
            continue;
        }
        let Some(last) = seen.iter().rfind(|s| s.time < w.to) else {
            continue;
        };
        // leaving through a unit door counts: not seen at a gate after it,
        // they left without passing a camera (a car without a read face, an
        // open estate)
        if last.direction == Some(Direction::Out)
            && in_period(last.time)
            && w.to.0 - last.time.0 >= away
            && last.time.0 + away > w.from.0
        {
            out.push(
                Finding::new(
                    "key_petitioner",
                    n.clone(),
                    w,
                    ((w.to.0 - last.time.0) / 3_600_000) as f64,
                    vec![last.event.as_str().to_owned()],
                    format!(
                        "left during a sensitive period, not back for {} h",
                        (w.to.0 - last.time.0) / 3_600_000
                    ),
                )
                .alerting(true),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::profile::Seen;
    use chrono::NaiveDate;
    use model::{Clock, CommunityId, EventId, EventKind, PersonId};

    fn clock() -> Clock {
        Clock::new(chrono_tz::Asia::Shanghai)
    }

    fn at(h: u32, m: u32, device: &str, dir: Direction, door: bool, tag: &str) -> Seen {
        let n = NaiveDate::from_ymd_opt(2026, 10, 5)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap();
        Seen {
            time: clock().from_local(n).unwrap(),
            event: EventId::new(&format!("{tag}-{h}-{m}")).unwrap(),
            device: DeviceId::new(device).unwrap(),
            community: Some(CommunityId::new("C1").unwrap()),
            kind: EventKind::FaceCapture,
            direction: Some(dir),
            unit_door: door,
            vehicle_kind: None,
        }
    }

    fn window() -> Window {
        let end = NaiveDate::from_ymd_opt(2026, 10, 6)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        Window::last_days(clock().from_local(end).unwrap(), 1, clock())
    }

    fn person(p: &mut Profiles, id: &str, cats: &[&str], seen: Vec<Seen>) {
        let pid = PersonId::new(id).unwrap();
        p.categories
            .insert(pid.clone(), cats.iter().map(|c| (*c).to_owned()).collect());
        p.by_subject.insert(NodeRef::Person(pid), seen);
    }

    #[test]
    fn three_key_persons_of_a_category_at_one_door_within_two_hours() {
        let p = Params::default().key_gathering;
        let mut prof = Profiles::default();
        person(
            &mut prof,
            "D1",
            &["key_drug"],
            vec![at(20, 0, "U1", Direction::In, true, "a")],
        );
        person(
            &mut prof,
            "D2",
            &["key_drug"],
            vec![at(20, 50, "U1", Direction::In, true, "b")],
        );
        person(
            &mut prof,
            "D3",
            &["key_drug"],
            vec![at(21, 55, "U1", Direction::In, true, "c")],
        );
        let found = gatherings(&prof, &window(), &p);
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|f| f.alert && f.evidence.len() == 3));
        // the third one 2 h 10 min after the first: no gathering
        person(
            &mut prof,
            "D3",
            &["key_drug"],
            vec![at(22, 10, "U1", Direction::In, true, "c")],
        );
        assert!(gatherings(&prof, &window(), &p).is_empty());
        // three persons but of different categories: none
        person(
            &mut prof,
            "D3",
            &["key_gambling"],
            vec![at(21, 0, "U1", Direction::In, true, "c")],
        );
        assert!(gatherings(&prof, &window(), &p).is_empty());
    }

    #[test]
    fn mental_health_persons_out_alone_or_near_a_school() {
        let p = Params::default().key_mental;
        let mut prof = Profiles::default();
        person(
            &mut prof,
            "M1",
            &["key_mental"],
            vec![at(9, 0, "G1", Direction::Out, false, "m")],
        );
        person(
            &mut prof,
            "F1",
            &[],
            vec![at(9, 0, "G1", Direction::Out, false, "f")],
        );
        assert!(
            mental(&prof, &window(), &p).is_empty(),
            "with a family member"
        );
        person(
            &mut prof,
            "F1",
            &[],
            vec![at(9, 5, "G1", Direction::Out, false, "f")],
        );
        assert_eq!(mental(&prof, &window(), &p).len(), 1, "alone");
        person(
            &mut prof,
            "M1",
            &["key_mental"],
            vec![at(9, 0, "S1", Direction::In, false, "m")],
        );
        prof.device_names
            .insert(DeviceId::new("S1").unwrap(), "实验小学门口".into());
        assert!(mental(&prof, &window(), &p).is_empty(), "no sensitive word");
        prof.device_names
            .insert(DeviceId::new("S1").unwrap(), "阳光幼儿园门口".into());
        assert_eq!(mental(&prof, &window(), &p).len(), 1);
    }

    #[test]
    fn petitioners_leaving_in_a_sensitive_period() {
        let mut p = Params::default().key_petitioner;
        let mut prof = Profiles::default();
        person(
            &mut prof,
            "P1",
            &["key_petitioner"],
            vec![at(8, 0, "G1", Direction::Out, false, "p")],
        );
        // no period configured: nothing
        assert!(petitioners(&prof, &window(), &p).is_empty());
        p.periods = vec![params::Period {
            from: NaiveDate::from_ymd_opt(2026, 10, 5).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 10, 7).unwrap(),
        }];
        // left at 08:00, window ends at midnight: 16 h away
        assert_eq!(petitioners(&prof, &window(), &p).len(), 1);
        // back (last seen coming in): nothing
        person(
            &mut prof,
            "P1",
            &["key_petitioner"],
            vec![
                at(8, 0, "G1", Direction::Out, false, "p"),
                at(15, 0, "G1", Direction::In, false, "q"),
            ],
        );
        assert!(petitioners(&prof, &window(), &p).is_empty());
        // left at 13:00: only 11 h by midnight
        person(
            &mut prof,
            "P1",
            &["key_petitioner"],
            vec![at(13, 0, "G1", Direction::Out, false, "p")],
        );
        assert!(petitioners(&prof, &window(), &p).is_empty());
        // out of the unit door at 12:00 and not seen since: 12 h
        person(
            &mut prof,
            "P1",
            &["key_petitioner"],
            vec![at(12, 0, "U1", Direction::Out, true, "p")],
        );
        assert_eq!(petitioners(&prof, &window(), &p).len(), 1);
        // …but outside the sensitive period, nothing
        p.periods[0].from = NaiveDate::from_ymd_opt(2026, 10, 6).unwrap();
        assert!(petitioners(&prof, &window(), &p).is_empty());
    }

    #[test]
    fn high_risk_origin_needs_the_deployments_list() {
        let mut p = Params::default().high_risk_origin;
        let v = NodeRef::Vehicle(model::Plate::new("滇H1L4P8").unwrap());
        let seen = vec![at(10, 0, "V1", Direction::In, false, "v")];
        assert!(high_risk_origin(&v, &seen, &window(), &p).is_none());
        p.prefixes = vec!["滇H".into()];
        assert!(high_risk_origin(&v, &seen, &window(), &p).is_some());
        let other = NodeRef::Vehicle(model::Plate::new("苏J12345").unwrap());
        assert!(high_risk_origin(&other, &seen, &window(), &p).is_none());
    }
}
