//! Timelines and trajectories.
//!
//! A timeline is the time-ordered sightings of one subject (person, stranger
//! archive, vehicle, house or device), read by time range straight from the
//! subject's key range in `tl`: no unrelated data is scanned. A trajectory
//! places the sightings at their device's coordinates (else the community's
//! centre), optionally keeps only those inside a polygon or a radius, and
//! derives stays (consecutive sightings at one place), footholds (where the
//! subject spends its nights), the communities it frequents and its activity
//! by hour of day.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use geo::{Contains, Distance, Haversine, LineString, Point, Polygon};
use model::{
    BaseKind, BaseRecord, Clock, CommunityId, DeviceId, Direction, EventId, EventKind, LonLat,
    NodeRef, Timestamp,
};
use serde::Serialize;

use crate::keys::{KeyBuf, KeyReader};
use crate::project::{self, SightingRole, TlValue};
use crate::store::{CF_TL, decode};
use crate::{Error, Result, RocksStore};

/// One sighting of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    pub time: Timestamp,
    pub event: EventId,
    /// Which subject of the event (0, or the occupant's position + 1).
    pub slot: u8,
    pub device: DeviceId,
    pub kind: EventKind,
    pub direction: Option<Direction>,
    pub role: SightingRole,
    /// On device and house timelines: who the event was attributed to.
    pub subjects: Vec<NodeRef>,
}

/// A page of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelinePage {
    pub items: Vec<Sighting>,
    /// There are more sightings in the range after the last item.
    pub more: bool,
}

/// The sightings of `subject` in `[from, to)`, oldest first (newest first
/// with `newest_first`), at most `limit`.
///
/// A house's timeline is what its devices recorded and its visits, plus its
/// occupants' passes at their unit's doors while they were registered there
/// (joined when read, so it follows the registers as they are now).
pub fn timeline(
    store: &RocksStore,
    subject: &NodeRef,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
    newest_first: bool,
) -> Result<TimelinePage> {
    let NodeRef::House(house) = subject else {
        return stored(store, subject, from, to, limit, newest_first);
    };
    let mut page = stored(store, subject, from, to, limit, newest_first)?;
    let (h, regs) = project::house_registers(&project::Stored(store), house)?;
    let Some(h) = h else {
        return Ok(page);
    };
    let doors = project::unit_doors(
        &project::Stored(store),
        h.community.as_str(),
        &h.building,
        &h.unit,
    )?;
    if doors.is_empty() {
        return Ok(page);
    }
    let mut more = page.more;
    for r in regs.iter().filter(|r| project::is_occupant(r, Some(&h))) {
        let lo = r.since.map_or(from, |s| s.max(from));
        let hi = r.until.map_or(to, |u| u.min(to));
        if lo >= hi {
            continue;
        }
        let person = NodeRef::Person(r.person.clone());
        let passes = stored(store, &person, lo, hi, RESIDENT_SCAN, newest_first)?;
        more |= passes.more;
        page.items.extend(
            passes
                .items
                .into_iter()
                .filter(|s| doors.contains(&s.device))
                .map(|mut s| {
                    s.subjects = vec![person.clone()];
                    s
                }),
        );
    }
    page.items.sort_by(|a, b| {
        let o = (a.time, &a.event, a.slot).cmp(&(b.time, &b.event, b.slot));
        if newest_first { o.reverse() } else { o }
    });
    page.items
        .dedup_by(|a, b| a.time == b.time && a.event == b.event && a.slot == b.slot);
    page.more = more || page.items.len() > limit;
    page.items.truncate(limit);
    Ok(page)
}

/// Most sightings of one resident read for a house's timeline.
const RESIDENT_SCAN: usize = 100_000;

/// The stored timeline of a subject.
fn stored(
    store: &RocksStore,
    subject: &NodeRef,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
    newest_first: bool,
) -> Result<TimelinePage> {
    let prefix = KeyBuf::new().node(subject).into_bytes();
    let lo = KeyBuf::new().node(subject).i64(from.0).into_bytes();
    let hi = KeyBuf::new().node(subject).i64(to.0).into_bytes();
    let db = store.db();
    let cf = store.handle(CF_TL);
    let mut ro = rocksdb::ReadOptions::default();
    ro.set_iterate_lower_bound(lo.clone());
    ro.set_iterate_upper_bound(hi.clone());
    let mode = if newest_first {
        rocksdb::IteratorMode::End
    } else {
        rocksdb::IteratorMode::Start
    };
    // sized for a page up front (growing a vector of sightings by doubling
    // was a tenth of reading a month of them)
    let mut items = Vec::with_capacity(limit.min(256));
    let mut more = false;
    for item in db.iterator_cf_opt(cf, ro, mode) {
        let (k, v) = item?;
        if items.len() == limit {
            more = true;
            break;
        }
        let corrupt = |why: String| Error::Corrupt {
            key: format!("{k:02x?}"),
            why,
        };
        let mut r = KeyReader::new(&k[prefix.len()..]);
        let time = r.i64().map_err(|e| corrupt(e.to_string()))?;
        let event = r.str().map_err(|e| corrupt(e.to_string()))?;
        let slot = r.tag().map_err(|e| corrupt(e.to_string()))?;
        let val: TlValue = decode(&k, &v)?;
        items.push(Sighting {
            time: Timestamp(time),
            event: EventId::new(&event).map_err(|e| corrupt(e.to_string()))?,
            slot,
            device: val.device,
            kind: val.kind,
            direction: val.direction,
            role: val.role,
            subjects: val.subjects,
        });
    }
    Ok(TimelinePage { items, more })
}

/// Where a trajectory may be: inside a polygon, or within a radius of a point.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    Polygon(Vec<LonLat>),
    Radius { center: LonLat, meters: f64 },
}

impl Area {
    /// Whether the area holds `p` (an invalid area is an error).
    pub fn holds(&self, p: LonLat) -> Result<bool> {
        Ok(self.matcher()?.contains(Point::new(p.lon, p.lat)))
    }

    fn matcher(&self) -> Result<AreaMatcher> {
        match self {
            Area::Polygon(ring) => {
                if ring.len() < 3 {
                    return Err(Error::Invalid(
                        "a polygon needs at least three points".into(),
                    ));
                }
                let ls: LineString<f64> = ring.iter().map(|p| (p.lon, p.lat)).collect();
                Ok(AreaMatcher::Polygon(Polygon::new(ls, vec![])))
            }
            Area::Radius { center, meters } => {
                if !meters.is_finite() || *meters <= 0.0 {
                    return Err(Error::Invalid(
                        "a radius must be a positive number of meters".into(),
                    ));
                }
                Ok(AreaMatcher::Radius(
                    Point::new(center.lon, center.lat),
                    *meters,
                ))
            }
        }
    }
}

enum AreaMatcher {
    Polygon(Polygon<f64>),
    Radius(Point<f64>, f64),
}

impl AreaMatcher {
    fn contains(&self, p: Point<f64>) -> bool {
        match self {
            Self::Polygon(poly) => poly.contains(&p),
            Self::Radius(c, m) => Haversine.distance(*c, p) <= *m,
        }
    }
}

/// Trajectory parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajectoryParams {
    /// Consecutive sightings within this distance of a stay's first point
    /// belong to that stay.
    pub stay_radius_m: f64,
    /// Most sightings read for one trajectory (the oldest are kept).
    pub max_points: usize,
}

impl Default for TrajectoryParams {
    fn default() -> Self {
        Self {
            stay_radius_m: 150.0,
            max_points: 100_000,
        }
    }
}

/// A sighting placed on the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackPoint {
    pub time: Timestamp,
    pub event: EventId,
    pub device: DeviceId,
    pub community: Option<CommunityId>,
    pub lon: f64,
    pub lat: f64,
}

/// Consecutive sightings at one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stay {
    pub start: Timestamp,
    pub end: Timestamp,
    pub n_sightings: u32,
    pub community: Option<CommunityId>,
    pub lon: f64,
    pub lat: f64,
}

/// A community where the subject spent nights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foothold {
    pub community: CommunityId,
    pub nights: u32,
    /// The last such night (local date).
    pub last_night: chrono::NaiveDate,
}

/// A community the subject was seen in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frequented {
    pub community: CommunityId,
    pub days: u32,
    pub sightings: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trajectory {
    pub points: Vec<TrackPoint>,
    pub stays: Vec<Stay>,
    /// Most nights first.
    pub footholds: Vec<Foothold>,
    /// Most days first.
    pub communities: Vec<Frequented>,
    /// Sightings per local hour of day, 0–23.
    pub by_hour: [u32; 24],
    /// Sightings without a known place (device or community unknown).
    pub unplaced: u32,
    /// More sightings were in range than `max_points`.
    pub truncated: bool,
}

impl Trajectory {
    /// The points as a GeoJSON FeatureCollection: a LineString of the path
    /// and a Point per stay.
    /// The trajectory as GeoJSON, times in the deployment's local time with
    /// its offset (as every time a person reads).
    pub fn geojson(&self, clock: &model::Clock) -> serde_json::Value {
        let local = |t: Timestamp| {
            clock
                .to_local(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        };
        let line: Vec<[f64; 2]> = self.points.iter().map(|p| [p.lon, p.lat]).collect();
        let mut features = vec![serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {"kind": "path", "n_points": self.points.len()},
        })];
        for s in &self.stays {
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {"kind": "stay", "start": local(s.start), "end": local(s.end),
                               "n_sightings": s.n_sightings, "community": s.community.as_ref().map(|c| c.as_str())},
            }));
        }
        serde_json::json!({"type": "FeatureCollection", "features": features})
    }
}

/// A device's community and coordinates (`None`: device unknown).
type Place = Option<(Option<CommunityId>, Option<LonLat>)>;

/// Places devices, caching their records and their communities' centres.
struct Places<'a> {
    store: &'a RocksStore,
    cache: HashMap<DeviceId, Place>,
}

impl Places<'_> {
    fn place(&mut self, d: &DeviceId) -> Result<Place> {
        if let Some(p) = self.cache.get(d) {
            return Ok(p.clone());
        }
        let p = match self.store.base(BaseKind::Device, d.as_str())? {
            Some(BaseRecord::Device(dev)) => {
                let loc = match dev.location {
                    Some(l) => Some(l),
                    None => match self
                        .store
                        .base(BaseKind::Community, dev.community.as_str())?
                    {
                        Some(BaseRecord::Community(c)) => c.center,
                        _ => None,
                    },
                };
                Some((Some(dev.community), loc))
            }
            _ => None,
        };
        self.cache.insert(d.clone(), p.clone());
        Ok(p)
    }
}

/// The trajectory of `subject` over `[from, to)`, optionally inside `area`.
pub fn trajectory(
    store: &RocksStore,
    subject: &NodeRef,
    from: Timestamp,
    to: Timestamp,
    area: Option<&Area>,
    clock: &Clock,
    params: &TrajectoryParams,
) -> Result<Trajectory> {
    trajectory_where(store, subject, from, to, area, clock, params, &mut |_| {
        Ok(true)
    })
}

/// [`trajectory`] over the sightings at devices `keep` accepts (the API
/// keeps those in the caller's scope).
/// The trajectory of the last `days` days of a subject's sightings that
/// `keep` keeps, up to its latest sighting (or `now` when it has none):
/// an archive's summary (footholds, frequented communities, activity by
/// hour) describes where the subject was last seen, not an empty recent
/// month.
#[allow(clippy::too_many_arguments)]
pub fn recent(
    store: &RocksStore,
    subject: &NodeRef,
    days: i64,
    now: Timestamp,
    clock: &Clock,
    params: &TrajectoryParams,
    keep: &mut dyn FnMut(&DeviceId) -> Result<bool>,
) -> Result<Trajectory> {
    let all = (Timestamp(i64::MIN), Timestamp(i64::MAX));
    let latest = timeline(store, subject, all.0, all.1, 1, true)?
        .items
        .first()
        .map(|s| s.time);
    let to = latest.map_or(now, |t| Timestamp(t.0 + 1));
    let from = Timestamp(to.0 - days.clamp(1, 366) * Timestamp::MS_PER_DAY);
    trajectory_where(store, subject, from, to, None, clock, params, keep)
}

#[allow(clippy::too_many_arguments)]
pub fn trajectory_where(
    store: &RocksStore,
    subject: &NodeRef,
    from: Timestamp,
    to: Timestamp,
    area: Option<&Area>,
    clock: &Clock,
    params: &TrajectoryParams,
    keep: &mut dyn FnMut(&DeviceId) -> Result<bool>,
) -> Result<Trajectory> {
    let mut page = timeline(store, subject, from, to, params.max_points, false)?;
    let mut kept = Vec::with_capacity(page.items.len());
    for s in std::mem::take(&mut page.items) {
        if keep(&s.device)? {
            kept.push(s);
        }
    }
    page.items = kept;
    trajectory_of(store, page, area, clock, params)
}

/// The trajectory made of sightings already read (oldest first, as
/// [`timeline`] gives them with `newest_first = false`).
pub fn trajectory_of(
    store: &RocksStore,
    page: TimelinePage,
    area: Option<&Area>,
    clock: &Clock,
    params: &TrajectoryParams,
) -> Result<Trajectory> {
    let area = area.map(Area::matcher).transpose()?;
    let mut places = Places {
        store,
        cache: HashMap::new(),
    };
    let mut points = Vec::new();
    let mut unplaced = 0;
    for s in page.items {
        let Some((community, Some(loc))) = places.place(&s.device)? else {
            unplaced += 1;
            continue;
        };
        let p = Point::new(loc.lon, loc.lat);
        if area.as_ref().is_some_and(|a| !a.contains(p)) {
            continue;
        }
        points.push(TrackPoint {
            time: s.time,
            event: s.event,
            device: s.device,
            community,
            lon: loc.lon,
            lat: loc.lat,
        });
    }

    let mut stays: Vec<Stay> = Vec::new();
    for p in &points {
        let here = Point::new(p.lon, p.lat);
        match stays.last_mut() {
            Some(s)
                if Haversine.distance(Point::new(s.lon, s.lat), here) <= params.stay_radius_m =>
            {
                s.end = p.time;
                s.n_sightings += 1;
            }
            _ => stays.push(Stay {
                start: p.time,
                end: p.time,
                n_sightings: 1,
                community: p.community.clone(),
                lon: p.lon,
                lat: p.lat,
            }),
        }
    }

    // a night's foothold: where the subject was last seen between noon and
    // the end of that night
    let mut last_of_night: BTreeMap<chrono::NaiveDate, &TrackPoint> = BTreeMap::new();
    let mut by_hour = [0u32; 24];
    let mut days: BTreeMap<&CommunityId, (BTreeSet<chrono::NaiveDate>, u32)> = BTreeMap::new();
    for p in &points {
        let local = clock.to_local(p.time);
        by_hour[clock.local_hour(p.time) as usize % 24] += 1;
        if let Some(c) = &p.community {
            let e = days.entry(c).or_default();
            e.0.insert(local.date_naive());
            e.1 += 1;
        }
        let night = clock.night_of(p.time).or_else(|| {
            use chrono::Timelike;
            (local.hour() >= 12).then(|| local.date_naive())
        });
        if let Some(n) = night {
            last_of_night.insert(n, p);
        }
    }
    let mut nights: BTreeMap<&CommunityId, (u32, chrono::NaiveDate)> = BTreeMap::new();
    for (n, p) in &last_of_night {
        if let Some(c) = &p.community {
            let e = nights.entry(c).or_insert((0, *n));
            e.0 += 1;
            e.1 = e.1.max(*n);
        }
    }
    let mut footholds: Vec<Foothold> = nights
        .into_iter()
        .map(|(c, (n, last))| Foothold {
            community: c.clone(),
            nights: n,
            last_night: last,
        })
        .collect();
    footholds.sort_by(|a, b| b.nights.cmp(&a.nights).then(a.community.cmp(&b.community)));
    let mut communities: Vec<Frequented> = days
        .into_iter()
        .map(|(c, (d, n))| Frequented {
            community: c.clone(),
            days: d.len() as u32,
            sightings: n,
        })
        .collect();
    communities.sort_by(|a, b| {
        b.days
            .cmp(&a.days)
            .then(b.sightings.cmp(&a.sightings))
            .then(a.community.cmp(&b.community))
    });
    Ok(Trajectory {
        points,
        stays,
        footholds,
        communities,
        by_hour,
        unplaced,
        truncated: page.more,
    })
}
