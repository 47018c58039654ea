//! The map's base layers (一张图): the communities and devices in the
//! caller's scope, with their positions — what the console draws when no
//! tile server is configured.

use super::*;

/// A community on the map: its centre and, when registered, its boundary
/// (a closed ring of `[lon, lat]`).
#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityPlace {
    pub id: String,
    pub name: String,
    pub region: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub boundary: Option<Vec<Vec<f64>>>,
}

/// A device on the map (its community's centre when it has no position).
#[derive(Debug, Clone, SimpleObject)]
pub struct DevicePlace {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub community: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Places {
    pub communities: Vec<CommunityPlace>,
    pub devices: Vec<DevicePlace>,
}

fn places(e: &Engine, principal: &Principal, region: Option<String>) -> ApiResult<Places> {
    if let Some(r) = &region {
        model::RegionCode::new(r)
            .map_err(|err| ApiError::BadInput(format!("region {r:?}: {err}")))?;
    }
    let store = e.store();
    let mut communities = Vec::new();
    let mut centres: BTreeMap<CommunityId, Option<LonLat>> = BTreeMap::new();
    store.for_each_base(BaseKind::Community, |r| {
        if let BaseRecord::Community(c) = r
            && principal.sees_region(Some(c.region.as_str()))
            && region
                .as_deref()
                .is_none_or(|want| crate::engine::region_within(c.region.as_str(), want))
        {
            let centre = c.center.or_else(|| {
                // the boundary's mean when no centre is registered
                let ring = c.boundary.as_ref().filter(|b| !b.is_empty())?;
                let n = ring.len() as f64;
                Some(LonLat {
                    lon: ring.iter().map(|p| p.lon).sum::<f64>() / n,
                    lat: ring.iter().map(|p| p.lat).sum::<f64>() / n,
                })
            });
            centres.insert(c.id.clone(), centre);
            communities.push(CommunityPlace {
                id: c.id.as_str().to_owned(),
                name: c.name,
                region: c.region.as_str().to_owned(),
                lon: centre.map(|p| p.lon),
                lat: centre.map(|p| p.lat),
                boundary: c
                    .boundary
                    .map(|b| b.iter().map(|p| vec![p.lon, p.lat]).collect()),
            });
        }
        Ok(())
    })?;
    let mut devices = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(d) = r
            && let Some(centre) = centres.get(&d.community)
        {
            let at = d.location.or(*centre);
            devices.push(DevicePlace {
                id: d.id.as_str().to_owned(),
                kind: d.kind.as_str().to_owned(),
                name: d.name.unwrap_or_default(),
                community: d.community.as_str().to_owned(),
                lon: at.map(|p| p.lon),
                lat: at.map(|p| p.lat),
            });
        }
        Ok(())
    })?;
    Ok(Places {
        communities,
        devices,
    })
}

#[derive(Debug, Default)]
pub struct PlacesQuery;

#[Object]
impl PlacesQuery {
    /// The communities and devices in scope (within `region` when given),
    /// with their positions: the map's base layers.
    async fn places(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
    ) -> async_graphql::Result<Places> {
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| places(e, &principal, region)).await?)
    }
}
