//! Vehicle models over passes: night returns, zombie vehicles, muck and
//! hazmat vehicles entering (nocturnal is the person rule, in `persons`).

use model::{Direction, NodeRef};

use crate::profile::{Seen, Window};
use crate::{Finding, MAX_EVIDENCE, params};

/// Entering at night on at least `min_nights` nights.
pub fn night_return(
    v: &NodeRef,
    seen: &[Seen],
    w: &Window,
    p: &params::VehicleNightReturn,
) -> Option<Finding> {
    let returns: Vec<&Seen> = seen
        .iter()
        .filter(|s| w.contains(s.time) && s.direction == Some(Direction::In))
        .filter(|s| w.is_night(s.time))
        .collect();
    let n = crate::persons::distinct(returns.iter().filter_map(|s| w.night_of(s.time)));
    (n >= p.min_nights).then(|| {
        Finding::new(
            "vehicle_frequent_night_return",
            v.clone(),
            w,
            f64::from(n) / f64::from(p.window_days),
            tail(&returns),
            format!(
                "entered at night on {n} of the last {} nights",
                p.window_days
            ),
        )
    })
}

/// 僵尸车: the last pass (in the data read) was an entry at least
/// `min_days` before the end of `w`, and nothing since.
pub fn zombie(
    v: &NodeRef,
    seen: &[Seen],
    w: &Window,
    p: &params::ZombieVehicle,
) -> Option<Finding> {
    let last = seen.iter().rfind(|s| s.time < w.to)?;
    let quiet = Window::last_days(w.to, p.min_days, w.clock);
    (last.direction == Some(Direction::In) && last.time < quiet.from).then(|| {
        Finding::new(
            "zombie_vehicle",
            v.clone(),
            &quiet,
            1.0,
            vec![last.event.as_str().to_owned()],
            format!("entered and not seen for at least {} days", p.min_days),
        )
    })
}

/// A muck or hazmat vehicle entering.
pub fn muck(v: &NodeRef, seen: &[Seen], w: &Window, p: &params::VehicleMuck) -> Option<Finding> {
    let entries: Vec<&Seen> = seen
        .iter()
        .filter(|s| w.contains(s.time) && s.direction != Some(Direction::Out))
        .filter(|s| {
            s.vehicle_kind
                .is_some_and(|k| p.kinds.iter().any(|x| x == k.as_str()))
        })
        .collect();
    let kind = entries.first()?.vehicle_kind?;
    Some(Finding::new(
        "vehicle_muck",
        v.clone(),
        w,
        entries.len() as f64,
        tail(&entries),
        format!(
            "{} vehicle entering ({} times)",
            kind.as_str(),
            entries.len()
        ),
    ))
}

fn tail(seen: &[&Seen]) -> Vec<String> {
    seen.iter()
        .rev()
        .take(MAX_EVIDENCE)
        .rev()
        .map(|s| s.event.as_str().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use chrono::NaiveDate;
    use model::{Clock, EventId, EventKind, Timestamp};

    fn clock() -> Clock {
        Clock::new(chrono_tz::Asia::Shanghai)
    }

    fn at(day: i64, hh: u32, dir: Direction, kind: Option<model::VehicleKind>) -> Seen {
        let n = (NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + chrono::Duration::days(day))
            .and_hms_opt(hh, 0, 0)
            .unwrap();
        Seen {
            time: clock().from_local(n).unwrap(),
            event: EventId::new(&format!("v-{day}-{hh}")).unwrap(),
            device: model::DeviceId::new("G1").unwrap(),
            community: None,
            kind: EventKind::VehiclePass,
            direction: Some(dir),
            unit_door: false,
            vehicle_kind: kind,
        }
    }

    fn end_of(day: i64) -> Timestamp {
        let n = (NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + chrono::Duration::days(day + 1))
            .and_hms_opt(0, 0, 0)
            .unwrap();
        clock().from_local(n).unwrap()
    }

    fn car() -> NodeRef {
        NodeRef::Vehicle(model::Plate::new("苏J12345").unwrap())
    }

    #[test]
    fn night_returns_count_entries_at_night() {
        let p = Params::default().vehicle_night_return;
        let w = Window::last_days(end_of(13), p.window_days, clock());
        let six: Vec<Seen> = (0..6).map(|d| at(d, 23, Direction::In, None)).collect();
        assert!(night_return(&car(), &six, &w, &p).is_some());
        assert!(night_return(&car(), &six[..5], &w, &p).is_none());
        let leaving: Vec<Seen> = (0..10).map(|d| at(d, 23, Direction::Out, None)).collect();
        assert!(night_return(&car(), &leaving, &w, &p).is_none());
    }

    #[test]
    fn a_zombie_entered_and_stayed() {
        let p = Params::default().zombie_vehicle;
        let passes = vec![
            at(0, 9, Direction::Out, None),
            at(2, 18, Direction::In, None),
        ];
        // 15 full days after the entry: a zombie; 14: not yet
        let w = Window::last_days(end_of(17), 30, clock());
        assert!(zombie(&car(), &passes, &w, &p).is_some());
        let w = Window::last_days(end_of(16), 30, clock());
        assert!(zombie(&car(), &passes, &w, &p).is_none());
        // it left: not a zombie
        let left = vec![
            at(2, 18, Direction::In, None),
            at(3, 8, Direction::Out, None),
        ];
        let w = Window::last_days(end_of(25), 30, clock());
        assert!(zombie(&car(), &left, &w, &p).is_none());
    }

    #[test]
    fn muck_vehicles_entering() {
        let p = Params::default().vehicle_muck;
        let w = Window::last_days(end_of(3), p.window_days, clock());
        let muck_in = vec![at(3, 10, Direction::In, Some(model::VehicleKind::Muck))];
        assert!(muck(&car(), &muck_in, &w, &p).is_some());
        let car_in = vec![at(3, 10, Direction::In, Some(model::VehicleKind::Car))];
        assert!(muck(&car(), &car_in, &w, &p).is_none());
        let yesterday = vec![at(2, 10, Direction::In, Some(model::VehicleKind::Hazmat))];
        assert!(muck(&car(), &yesterday, &w, &p).is_none());
    }
}
