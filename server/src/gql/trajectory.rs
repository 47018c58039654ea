//! Trajectories: points, stays, footholds, communities, activity by hour.

use super::*;

/// A place for a trajectory: a polygon (`[[lon, lat], …]`) or a circle.
#[derive(Debug, InputObject)]
pub struct AreaInput {
    pub polygon: Option<Vec<Vec<f64>>>,
    /// `[lon, lat]`.
    pub center: Option<Vec<f64>>,
    pub radius_m: Option<f64>,
}

impl AreaInput {
    pub(crate) fn to_area(&self) -> ApiResult<graph::timeline::Area> {
        let pt = |v: &Vec<f64>| match v.as_slice() {
            [lon, lat] => Ok(LonLat {
                lon: *lon,
                lat: *lat,
            }),
            _ => Err(ApiError::BadInput("a point is [lon, lat]".into())),
        };
        match (&self.polygon, &self.center, self.radius_m) {
            (Some(p), None, None) => Ok(graph::timeline::Area::Polygon(
                p.iter().map(pt).collect::<ApiResult<_>>()?,
            )),
            (None, Some(c), Some(r)) => Ok(graph::timeline::Area::Radius {
                center: pt(c)?,
                meters: r,
            }),
            _ => Err(ApiError::BadInput(
                "an area is either a polygon or a center with radiusM".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct TrackPoint {
    pub time: String,
    pub event: String,
    pub device: String,
    pub community: Option<String>,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Stay {
    pub start: String,
    pub end: String,
    pub sightings: u32,
    pub community: Option<String>,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Foothold {
    pub community: String,
    pub nights: u32,
    pub last_night: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Frequented {
    pub community: String,
    pub days: u32,
    pub sightings: u32,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Trajectory {
    pub points: Vec<TrackPoint>,
    pub stays: Vec<Stay>,
    /// Where the subject spends nights, most nights first.
    pub footholds: Vec<Foothold>,
    pub communities: Vec<Frequented>,
    /// Sightings per local hour of day (24 numbers).
    pub by_hour: Vec<u32>,
    /// Sightings whose device has no location.
    pub unplaced: u32,
    pub truncated: bool,
    /// The points and stays as a GeoJSON FeatureCollection.
    pub geojson: async_graphql::Json<serde_json::Value>,
}

/// Footholds, frequented communities and activity by hour, without points.
#[derive(Debug, Clone, SimpleObject)]
pub struct TrajectorySummary {
    pub footholds: Vec<Foothold>,
    pub communities: Vec<Frequented>,
    pub by_hour: Vec<u32>,
    pub sightings: u32,
}

pub fn trajectory_out(clock: &model::Clock, t: graph::timeline::Trajectory) -> Trajectory {
    let geojson = async_graphql::Json(t.geojson(clock));
    Trajectory {
        points: t
            .points
            .into_iter()
            .map(|p| TrackPoint {
                time: fmt_time(clock, p.time),
                event: p.event.as_str().to_owned(),
                device: p.device.as_str().to_owned(),
                community: p.community.map(|c| c.as_str().to_owned()),
                lon: p.lon,
                lat: p.lat,
            })
            .collect(),
        stays: t
            .stays
            .into_iter()
            .map(|s| Stay {
                start: fmt_time(clock, s.start),
                end: fmt_time(clock, s.end),
                sightings: s.n_sightings,
                community: s.community.map(|c| c.as_str().to_owned()),
                lon: s.lon,
                lat: s.lat,
            })
            .collect(),
        footholds: footholds(&t.footholds),
        communities: frequented(&t.communities),
        by_hour: t.by_hour.to_vec(),
        unplaced: t.unplaced,
        truncated: t.truncated,
        geojson,
    }
}

pub(crate) fn footholds(f: &[graph::timeline::Foothold]) -> Vec<Foothold> {
    f.iter()
        .map(|f| Foothold {
            community: f.community.as_str().to_owned(),
            nights: f.nights,
            last_night: f.last_night.to_string(),
        })
        .collect()
}

pub(crate) fn frequented(f: &[graph::timeline::Frequented]) -> Vec<Frequented> {
    f.iter()
        .map(|f| Frequented {
            community: f.community.as_str().to_owned(),
            days: f.days,
            sightings: f.sightings,
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct TrajectoryQuery;

#[Object]
impl TrajectoryQuery {
    /// A trajectory over `[from, to)`, optionally inside an area: points,
    /// stays, footholds, communities, activity by hour, GeoJSON.
    async fn trajectory(
        &self,
        ctx: &Context<'_>,
        subject: String,
        from: String,
        to: String,
        area: Option<AreaInput>,
    ) -> async_graphql::Result<Trajectory> {
        let n = node(&subject)?;
        let clock = ctx.engine().clock;
        let (from, to) = (parse_time(&from, &clock)?, parse_time(&to, &clock)?);
        let area = area.map(|a| a.to_area()).transpose()?;
        archive(ctx, n.clone()).await?;
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let t = graph::timeline::trajectory_where(
                store,
                &n,
                from,
                to,
                area.as_ref(),
                &e.clock,
                &e.config.trajectory_params(),
                &mut |d| principal.sees_at(e, store, d, &[&n]),
            )?;
            Ok(trajectory_out(&e.clock, t))
        })
        .await?)
    }
}
