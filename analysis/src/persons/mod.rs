//! Behaviour models over sightings: persons and stranger archives, and the
//! same rules applied to vehicles' passes.

use std::collections::{BTreeMap, BTreeSet};

use model::{CommunityId, Direction, NodeRef, PersonId};

use crate::profile::{Day, Profiles, Resident, Seen, Window};
use crate::{Finding, MAX_EVIDENCE, params};

/// How many different days.
pub(crate) fn distinct(days: impl Iterator<Item = Day> + Clone) -> u32 {
    days_where(days.map(|d| (d, false)), |_, _| true)
}

/// The days on which at least `share` of the sightings were at night, for
/// (day, at night).
fn mostly_night_days(seen: impl Iterator<Item = (Day, bool)> + Clone, share: f64) -> u32 {
    days_where(seen, |all, night| {
        f64::from(night) >= share * f64::from(all)
    })
}

/// How many days `keep` holds for, given each day's sightings and how many
/// of them are flagged, for (day, flagged). Sightings come oldest first, so
/// their days come in order and are counted in one pass without
/// allocating; out of order (a zone turning its clocks back over midnight),
/// by sorting.
fn days_where(
    seen: impl Iterator<Item = (Day, bool)> + Clone,
    keep: impl Fn(u32, u32) -> bool,
) -> u32 {
    let (mut days, mut day, mut all, mut flagged) = (0, None, 0u32, 0u32);
    for (d, f) in seen.clone() {
        match day {
            Some(x) if x == d => {}
            Some(x) if d < x => {
                let mut v: Vec<(Day, bool)> = seen.collect();
                v.sort_unstable();
                return v
                    .chunk_by(|a, b| a.0 == b.0)
                    .filter(|g| keep(g.len() as u32, g.iter().filter(|x| x.1).count() as u32))
                    .count() as u32;
            }
            Some(_) => {
                days += u32::from(keep(all, flagged));
                (all, flagged) = (0, 0);
                day = Some(d);
            }
            None => day = Some(d),
        }
        all += 1;
        flagged += u32::from(f);
    }
    days + u32::from(day.is_some() && keep(all, flagged))
}

fn evidence<'a>(seen: impl DoubleEndedIterator<Item = &'a Seen>) -> Vec<String> {
    let mut v: Vec<String> = seen
        .rev()
        .take(MAX_EVIDENCE)
        .map(|s| s.event.as_str().to_owned())
        .collect();
    v.reverse();
    v
}

fn in_window<'a>(
    seen: &'a [Seen],
    w: &'a Window,
) -> impl DoubleEndedIterator<Item = &'a Seen> + Clone {
    seen.iter().filter(move |s| w.contains(s.time))
}

/// 昼伏夜出 (and `vehicle_nocturnal` on a vehicle's passes): days on which
/// at least `night_share` of the sightings were at night.
pub fn nocturnal(
    subject: &NodeRef,
    seen: &[Seen],
    w: &Window,
    p: &params::Nocturnal,
) -> Option<Finding> {
    let days = mostly_night_days(
        in_window(seen, w).map(|s| (w.day_of(s.time), w.is_night(s.time))),
        p.night_share,
    );
    (days >= p.min_days).then(|| {
        let model = if matches!(subject, NodeRef::Vehicle(_)) {
            "vehicle_nocturnal"
        } else {
            "nocturnal"
        };
        Finding::new(
            model,
            subject.clone(),
            w,
            f64::from(days) / f64::from(p.window_days),
            evidence(in_window(seen, w).filter(|s| w.is_night(s.time))),
            format!(
                "mostly seen at night on {days} of the last {} days",
                p.window_days
            ),
        )
    })
}

/// 频繁夜出: out at night on at least `min_nights` nights: seen leaving
/// (direction out) at night, or — for a registered resident, whose `homes`
/// are known — seen at night outside their communities. Coming home late is
/// not going out.
pub fn frequent_night_outs(
    subject: &NodeRef,
    seen: &[Seen],
    homes: &BTreeSet<CommunityId>,
    w: &Window,
    p: &params::FrequentNightOuts,
) -> Option<Finding> {
    let out_at_night = |s: &Seen| {
        w.is_night(s.time)
            && (s.direction == Some(Direction::Out)
                || (!homes.is_empty() && s.community.as_ref().is_some_and(|c| !homes.contains(c))))
    };
    let n = distinct(
        in_window(seen, w)
            .filter(|s| out_at_night(s))
            .filter_map(|s| w.night_of(s.time)),
    );
    (n >= p.min_nights).then(|| {
        Finding::new(
            "frequent_night_outs",
            subject.clone(),
            w,
            f64::from(n) / f64::from(p.window_days),
            evidence(in_window(seen, w).filter(|s| out_at_night(s))),
            format!("out at night on {n} of the last {} nights", p.window_days),
        )
    })
}

/// 多地频现: a stranger archive seen in at least `min_communities`
/// communities.
pub fn many_communities(
    subject: &NodeRef,
    seen: &[Seen],
    w: &Window,
    p: &params::ManyCommunities,
) -> Option<Finding> {
    if !matches!(subject, NodeRef::Stranger(_)) {
        return None;
    }
    let mut first: BTreeMap<&CommunityId, &Seen> = BTreeMap::new();
    for s in in_window(seen, w) {
        if let Some(c) = &s.community {
            first.entry(c).or_insert(s);
        }
    }
    let n = first.len() as u32;
    (n >= p.min_communities).then(|| {
        let mut ev: Vec<&Seen> = first.values().copied().collect();
        ev.sort_by_key(|s| s.time);
        Finding::new(
            "many_communities",
            subject.clone(),
            w,
            f64::from(n),
            evidence(ev.into_iter()),
            format!(
                "seen in {} in {} days",
                crate::count_of(n as u64, "community", "communities"),
                p.window_days
            ),
        )
    })
}

/// 深居简出: a registered resident seen on at most `max_days` local days.
/// Judged only when the data covers the whole window (`covered`).
pub fn reclusive(
    person: &PersonId,
    seen: &[Seen],
    w: &Window,
    p: &params::Reclusive,
) -> Option<Finding> {
    let n = distinct(in_window(seen, w).map(|s| w.local_day(s.time)));
    (n <= p.max_days).then(|| {
        Finding::new(
            "reclusive",
            NodeRef::Person(person.clone()),
            w,
            1.0 - f64::from(n) / f64::from(p.window_days),
            evidence(in_window(seen, w)),
            format!("seen on {n} of the last {} days", p.window_days),
        )
    })
}

/// 疑似搬离: a registered resident not seen at all in the window (of
/// `min_days`).
pub fn moved_out(
    person: &PersonId,
    seen: &[Seen],
    w: &Window,
    p: &params::MovedOut,
) -> Option<Finding> {
    if in_window(seen, w).next().is_some() {
        return None;
    }
    let last = seen.iter().rfind(|s| s.time < w.from);
    Some(Finding::new(
        "moved_out",
        NodeRef::Person(person.clone()),
        w,
        1.0,
        last.map(|s| vec![s.event.as_str().to_owned()])
            .unwrap_or_default(),
        format!("not seen for {} days", p.min_days),
    ))
}

/// 盗窃踩点: at `min_unit_doors` different unit doors, or in
/// `min_communities` communities, within `within_hours`, none of them where
/// the subject lives.
pub fn theft_casing(
    subject: &NodeRef,
    seen: &[Seen],
    homes: &BTreeSet<CommunityId>,
    categories: &[String],
    w: &Window,
    p: &params::TheftCasing,
) -> Option<Finding> {
    let away: Vec<&Seen> = in_window(seen, w)
        .filter(|s| s.community.as_ref().is_none_or(|c| !homes.contains(c)))
        .collect();
    let span = i64::from(p.within_hours) * 3_600_000;
    let mut best: Option<(u32, u32, usize, usize)> = None;
    let mut j = 0;
    for i in 0..away.len() {
        j = j.max(i);
        while j + 1 < away.len() && away[j + 1].time.0 - away[i].time.0 <= span {
            j += 1;
        }
        let part = &away[i..=j];
        let doors: BTreeSet<&model::DeviceId> = part
            .iter()
            .filter(|s| s.unit_door)
            .map(|s| &s.device)
            .collect();
        let comms: BTreeSet<&CommunityId> =
            part.iter().filter_map(|s| s.community.as_ref()).collect();
        let (d, c) = (doors.len() as u32, comms.len() as u32);
        if (d >= p.min_unit_doors || c >= p.min_communities)
            && best.is_none_or(|b| (d, c) > (b.0, b.1))
        {
            best = Some((d, c, i, j));
        }
    }
    let (doors, comms, i, j) = best?;
    let alert = categories.iter().any(|c| p.alert_categories.contains(c));
    Some(
        Finding::new(
            "theft_casing",
            subject.clone(),
            w,
            f64::from(doors.max(comms)),
            evidence(away[i..=j].iter().copied()),
            format!(
                "{} and {} within {} h",
                crate::count_of(doors as u64, "unit door", "unit doors"),
                crate::count_of(comms as u64, "community", "communities"),
                p.within_hours
            ),
        )
        .alerting(alert),
    )
}

/// 疑似未登记居住: seen in a community where the subject is not registered
/// on `min_days` days, `min_nights` of them at night.
pub fn unregistered_resident(
    subject: &NodeRef,
    seen: &[Seen],
    homes: &BTreeSet<CommunityId>,
    w: &Window,
    p: &params::UnregisteredResident,
) -> Option<Finding> {
    let mut per: BTreeMap<&CommunityId, (BTreeSet<Day>, BTreeSet<Day>)> = BTreeMap::new();
    for s in in_window(seen, w) {
        let Some(c) = s.community.as_ref().filter(|c| !homes.contains(*c)) else {
            continue;
        };
        let e = per.entry(c).or_default();
        // a night belongs to the day it began: out at 23:00, back at 01:00
        // is one day
        e.0.insert(w.day_of(s.time));
        if let Some(n) = w.night_of(s.time) {
            e.1.insert(n);
        }
    }
    let (c, (days, nights)) = per
        .into_iter()
        .filter(|(_, (d, n))| d.len() as u32 >= p.min_days && n.len() as u32 >= p.min_nights)
        .max_by_key(|(c, (d, n))| (d.len() + n.len(), std::cmp::Reverse((*c).clone())))?;
    Some(Finding::new(
        "unregistered_resident",
        subject.clone(),
        w,
        days.len() as f64 / f64::from(p.window_days),
        evidence(
            in_window(seen, w).filter(|s| s.community.as_ref() == Some(c) && w.is_night(s.time)),
        ),
        format!(
            "seen in {} on {} days, {} nights, not registered there",
            c.as_str(),
            days.len(),
            nights.len()
        ),
    ))
}

/// Hours of `[a, b)` outside the night window (15-minute steps).
fn day_hours(a: model::Timestamp, b: model::Timestamp, clock: &model::Clock) -> f64 {
    const STEP: i64 = 15 * 60_000;
    let mut t = a.0;
    let mut n = 0u32;
    while t < b.0 {
        if !clock.is_night(model::Timestamp(t)) {
            n += 1;
        }
        t += STEP;
    }
    f64::from(n) / 4.0
}

/// 独居老人: no sighting and no activity at home for `silent_hours` of day
/// time (the night window, when no activity is expected, does not count).
pub fn elderly_unseen(
    person: &PersonId,
    seen: &[Seen],
    home: &[model::Timestamp],
    w: &Window,
    p: &params::ElderlyUnseen,
) -> Option<Finding> {
    let mut acts: Vec<(model::Timestamp, Option<&Seen>)> = seen
        .iter()
        .filter(|s| s.time < w.to)
        .map(|s| (s.time, Some(s)))
        .collect();
    acts.extend(home.iter().filter(|t| **t < w.to).map(|t| (*t, None)));
    acts.sort_by_key(|a| a.0);
    // the last activity before the window starts the first gap
    let first = acts.iter().rposition(|a| a.0 < w.from).unwrap_or(0);
    let acts = &acts[first..];
    let mut worst: Option<(f64, usize)> = None;
    for i in 0..acts.len() {
        let end = acts.get(i + 1).map_or(w.to, |a| a.0);
        if end <= w.from {
            continue;
        }
        let h = day_hours(acts[i].0, end, &w.clock);
        if h >= f64::from(p.silent_hours) && worst.is_none_or(|(x, _)| h > x) {
            worst = Some((h, i));
        }
    }
    let (hours, i) = worst?;
    let ev = acts[..=i]
        .iter()
        .rev()
        .find_map(|a| a.1)
        .map(|s| vec![s.event.as_str().to_owned()])
        .unwrap_or_default();
    let mut f = Finding::new(
        "elderly_unseen",
        NodeRef::Person(person.clone()),
        w,
        hours,
        ev,
        format!("no sighting and no activity at home for {hours:.1} h of day time"),
    )
    .alerting(true);
    // the silence is the situation: it began at the last activity
    f.from = acts[i].0;
    Some(f)
}

/// 夜不归宿: see [`params::NotHomeOvernight`]; the subject must have been
/// last seen leaving before the absent nights (someone who stays in is not
/// seen either, but is home). `model` names the person or vehicle variant.
pub fn not_home_overnight(
    model: &'static str,
    subject: &NodeRef,
    seen: &[Seen],
    homes: &BTreeSet<CommunityId>,
    to: model::Timestamp,
    clock: model::Clock,
    p: &params::NotHomeOvernight,
) -> Option<Finding> {
    if homes.is_empty() {
        return None;
    }
    // the last complete night ends at the night window's end before `to`
    let mut last = clock.local_date(to);
    let night_end = |d: chrono::NaiveDate| {
        clock
            .from_local((d + chrono::Duration::days(1)).and_time(clock.night.end))
            .ok()
    };
    while night_end(last).is_none_or(|e| e > to) {
        last = last.pred_opt()?;
    }
    let n_all = p.window_days + p.regular_window;
    let nights: Vec<chrono::NaiveDate> = (0..n_all)
        .rev()
        .filter_map(|k| last.checked_sub_days(chrono::Days::new(u64::from(k))))
        .collect();
    let present: Vec<bool> = nights
        .iter()
        .map(|d| {
            let from = clock
                .from_local(d.and_hms_opt(12, 0, 0).unwrap_or_default())
                .ok();
            let until = night_end(*d);
            match (from, until) {
                (Some(a), Some(b)) => seen.iter().any(|s| {
                    s.time >= a
                        && s.time < b
                        && s.community.as_ref().is_some_and(|c| homes.contains(c))
                }),
                _ => true,
            }
        })
        .collect();
    // seen anywhere between a night's end and the next noon: an absence
    // does not run on across it (out on the morning after a quiet weekend
    // starts a new one)
    let seen_next_morning: Vec<bool> = nights
        .iter()
        .map(|d| {
            let a = night_end(*d);
            let b = clock
                .from_local(
                    (*d + chrono::Duration::days(1))
                        .and_hms_opt(12, 0, 0)
                        .unwrap_or_default(),
                )
                .ok();
            match (a, b) {
                (Some(a), Some(b)) => seen.iter().any(|s| s.time >= a && s.time < b),
                _ => false,
            }
        })
        .collect();
    // a run of absent nights inside the judged window, after regular presence
    let first_judged = p.regular_window as usize;
    let mut i = first_judged;
    while i < present.len() {
        if present[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < present.len() && !present[i] {
            i += 1;
            if seen_next_morning[i - 1] {
                break;
            }
        }
        let run = (i - start) as u32;
        let before = &present[start.saturating_sub(p.regular_window as usize)..start];
        let regular = before.iter().filter(|x| **x).count() as u32;
        // away, not staying in: last seen leaving before the absent nights
        let gone_from = clock
            .from_local(nights[start].and_hms_opt(12, 0, 0).unwrap_or_default())
            .ok()?;
        let left = seen
            .iter()
            .rfind(|s| s.time < gone_from)
            .is_some_and(|s| s.direction == Some(Direction::Out));
        if run >= p.min_nights && regular >= p.regular_nights && left {
            let w = Window::new(
                clock
                    .from_local(nights[start].and_hms_opt(12, 0, 0).unwrap_or_default())
                    .ok()?,
                night_end(nights[i - 1])?,
                clock,
            );
            let last_seen = seen.iter().rfind(|s| s.time < w.from);
            return Some(Finding::new(
                model,
                subject.clone(),
                &w,
                f64::from(run),
                last_seen
                    .map(|s| vec![s.event.as_str().to_owned()])
                    .unwrap_or_default(),
                format!(
                    "not home on {run} consecutive nights from {} (there on {regular} of the {} nights before)",
                    nights[start], p.regular_window
                ),
            ));
        }
    }
    None
}

/// Runs the sighting models over `profiles` as of `to`; the absence models
/// (reclusive, moved out) only when the data reaches back over their whole
/// window (`data_from`). With a `focus`, the models that only a new
/// sighting can make true judge only the subjects in it.
#[allow(clippy::too_many_arguments)]
pub fn run(
    profiles: &Profiles,
    residents: &[Resident],
    vehicle_homes: &BTreeMap<model::Plate, CommunityId>,
    to: model::Timestamp,
    data_from: model::Timestamp,
    clock: model::Clock,
    p: &params::Params,
    focus: Option<&BTreeSet<NodeRef>>,
) -> Vec<Finding> {
    let mut homes: BTreeMap<&PersonId, BTreeSet<CommunityId>> = BTreeMap::new();
    for r in residents {
        homes
            .entry(&r.person)
            .or_default()
            .insert(r.community.clone());
    }
    let none = BTreeSet::new();
    let mut out = Vec::new();
    let noct = Window::last_days(to, p.nocturnal.window_days, clock);
    let outs = Window::last_days(to, p.frequent_night_outs.window_days, clock);
    let many = Window::last_days(to, p.many_communities.window_days, clock);
    let casing = Window::last_days(to, 1 + p.theft_casing.within_hours.div_ceil(24), clock);
    let unreg = Window::last_days(to, p.unregistered_resident.window_days, clock);
    let night_ret = Window::last_days(to, p.vehicle_night_return.window_days, clock);
    let muck = Window::last_days(to, p.vehicle_muck.window_days, clock);
    let all = Window::new(model::Timestamp(i64::MIN), to, clock);
    let origin = Window::last_days(to, p.high_risk_origin.window_days, clock);
    let no_categories = Vec::new();
    for (subject, seen) in &profiles.by_subject {
        // a subject not seen since the last job, without an active tag, was
        // not nocturnal (…) then and cannot have become so since
        let presence = focus.is_none_or(|f| f.contains(subject));
        match subject {
            NodeRef::Person(_) | NodeRef::Stranger(_) => {
                let home = match subject {
                    NodeRef::Person(id) => homes.get(id).unwrap_or(&none),
                    _ => &none,
                };
                if let NodeRef::Person(_) = subject {
                    out.extend(not_home_overnight(
                        "not_home_overnight",
                        subject,
                        seen,
                        home,
                        to,
                        clock,
                        &p.not_home_overnight,
                    ));
                }
                if !presence {
                    continue;
                }
                out.extend(nocturnal(subject, seen, &noct, &p.nocturnal));
                out.extend(frequent_night_outs(
                    subject,
                    seen,
                    home,
                    &outs,
                    &p.frequent_night_outs,
                ));
                out.extend(many_communities(subject, seen, &many, &p.many_communities));
                let categories = match subject {
                    NodeRef::Person(id) => profiles.categories.get(id).unwrap_or(&no_categories),
                    _ => &no_categories,
                };
                out.extend(theft_casing(
                    subject,
                    seen,
                    home,
                    categories,
                    &casing,
                    &p.theft_casing,
                ));
                if unreg.covered_by(data_from) {
                    out.extend(unregistered_resident(
                        subject,
                        seen,
                        home,
                        &unreg,
                        &p.unregistered_resident,
                    ));
                }
            }
            NodeRef::Vehicle(_) => {
                // the vehicle rules read plate passes at vehicle gates; an
                // e-bike's tag reads are the anti-theft rule's
                let passes: Vec<Seen> = seen
                    .iter()
                    .filter(|s| s.kind == model::EventKind::VehiclePass)
                    .cloned()
                    .collect();
                let seen = &passes;
                out.extend(crate::vehicles::zombie(
                    subject,
                    seen,
                    &all,
                    &p.zombie_vehicle,
                ));
                if let NodeRef::Vehicle(plate) = subject
                    && let Some(c) = vehicle_homes.get(plate)
                {
                    let home: BTreeSet<CommunityId> = [c.clone()].into();
                    out.extend(not_home_overnight(
                        "vehicle_not_home_overnight",
                        subject,
                        seen,
                        &home,
                        to,
                        clock,
                        &p.not_home_overnight,
                    ));
                }
                if !presence {
                    continue;
                }
                out.extend(nocturnal(subject, seen, &noct, &p.nocturnal));
                out.extend(crate::vehicles::night_return(
                    subject,
                    seen,
                    &night_ret,
                    &p.vehicle_night_return,
                ));
                out.extend(crate::vehicles::muck(subject, seen, &muck, &p.vehicle_muck));
                out.extend(crate::key::high_risk_origin(
                    subject,
                    seen,
                    &origin,
                    &p.high_risk_origin,
                ));
            }
            _ => {}
        }
    }
    out.extend(absences(profiles, residents, to, data_from, clock, p));
    out.extend(crate::key::gatherings(
        profiles,
        &Window::last_days(to, p.key_gathering.window_days, clock),
        &p.key_gathering,
    ));
    out.extend(crate::key::petitioners(
        profiles,
        &Window::last_days(to, 1, clock),
        &p.key_petitioner,
    ));
    out.extend(crate::key::mental(
        profiles,
        &Window::last_days(to, p.key_mental.window_days, clock),
        &p.key_mental,
    ));
    let elderly = Window::last_days(to, p.elderly_unseen.window_days, clock);
    let mut done = BTreeSet::new();
    for r in residents {
        if r.categories.contains(&p.elderly_unseen.category) && done.insert(&r.person) {
            let seen = profiles.of(&NodeRef::Person(r.person.clone()));
            let home = profiles
                .house_activity
                .get(&r.house)
                .map_or(&[][..], Vec::as_slice);
            out.extend(elderly_unseen(
                &r.person,
                seen,
                home,
                &elderly,
                &p.elderly_unseen,
            ));
        }
    }
    out
}

/// Reclusive and moved out, judged per person for residents of at least
/// `households.min_age` (or of unknown age), and for younger ones with their
/// household: a child is reclusive (moved out) when every older resident of
/// the house is.
fn absences(
    profiles: &Profiles,
    residents: &[Resident],
    to: model::Timestamp,
    data_from: model::Timestamp,
    clock: model::Clock,
    p: &params::Params,
) -> Vec<Finding> {
    let recl = Window::last_days(to, p.reclusive.window_days, clock);
    let gone = Window::last_days(to, p.moved_out.min_days, clock);
    let (judge_recl, judge_gone) = (recl.covered_by(data_from), gone.covered_by(data_from));
    let empty = Window::last_days(to, p.vacant.window_days, clock);
    let judge_empty = empty.covered_by(data_from);
    let today = clock.local_date(to);
    let mut by_house: BTreeMap<&model::HouseId, Vec<&Resident>> = BTreeMap::new();
    for r in residents {
        by_house.entry(&r.house).or_default().push(r);
    }
    let mut out: BTreeMap<(&'static str, PersonId), Finding> = BTreeMap::new();
    let mut houses = Vec::new();
    for (house, members) in &by_house {
        if judge_empty
            && members.iter().all(|r| {
                in_window(profiles.of(&NodeRef::Person(r.person.clone())), &empty)
                    .next()
                    .is_none()
            })
        {
            houses.push(Finding::new(
                "vacant",
                NodeRef::House((*house).clone()),
                &empty,
                1.0,
                Vec::new(),
                format!(
                    "none of its {} registered occupants seen for {} days",
                    members.len(),
                    p.vacant.window_days
                ),
            ));
        }
        let observed = |r: &&Resident| r.age(today).is_none_or(|a| a >= p.households.min_age);
        let adults: Vec<&Resident> = members.iter().copied().filter(observed).collect();
        let judged: Vec<&Resident> = if adults.is_empty() {
            members.clone()
        } else {
            adults
        };
        let mut recl_all = true;
        let mut gone_all = true;
        let mut recl_f = Vec::new();
        let mut gone_f = Vec::new();
        for r in &judged {
            let seen = profiles.of(&NodeRef::Person(r.person.clone()));
            match judge_recl
                .then(|| reclusive(&r.person, seen, &recl, &p.reclusive))
                .flatten()
            {
                Some(f) => recl_f.push(f),
                None => recl_all = false,
            }
            match judge_gone
                .then(|| moved_out(&r.person, seen, &gone, &p.moved_out))
                .flatten()
            {
                Some(f) => gone_f.push(f),
                None => gone_all = false,
            }
        }
        let children: Vec<&&Resident> = members.iter().filter(|r| !judged.contains(r)).collect();
        for (all, found, model) in [
            (recl_all, &recl_f, "reclusive"),
            (gone_all, &gone_f, "moved_out"),
        ] {
            if all && !found.is_empty() {
                for c in &children {
                    let mut f = found[0].clone();
                    f.entity = NodeRef::Person(c.person.clone());
                    f.detail = format!("with the household: {}", f.detail);
                    out.insert((model, c.person.clone()), f);
                }
            }
        }
        for f in recl_f.into_iter().chain(gone_f) {
            if let NodeRef::Person(id) = &f.entity {
                out.insert((f.model, id.clone()), f);
            }
        }
    }
    out.into_values().chain(houses).collect()
}

#[cfg(test)]
mod tests;
