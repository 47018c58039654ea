//! GraphQL output types: archives and their parts, relations, sightings,
//! trajectories, alerts, watch lists.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject};
use model::{BaseKind, BaseRecord, EventBody, NodeRef, RelKind, Timestamp};
use tokio::sync::OnceCell;

use super::{Ctx, blocking, fmt_time, parse_time_opt, quick};
use crate::server::alerts::{self, Alert as AlertRec, WatchList as WatchRec};
use crate::server::engine::Engine;
use crate::server::errors::{ApiError, ApiResult};

/// Sightings an archive's trajectory summary reads on the calling task (a
/// bounded read: ~1 µs each); a subject with more in range is summarised on
/// the blocking pool.
const QUICK_POINTS: usize = 256;

// ----- batch loading of register records --------------------------------------

/// A register record (a profile), read on the calling task: a point read
/// served from RocksDB's cache in microseconds. (A batching loader cost
/// more here than it saved: its wait and task hops were most of an
/// archive's latency, and a page of twenty profiles is twenty cached reads.)
pub async fn load_base(
    ctx: &Context<'_>,
    kind: BaseKind,
    key: &str,
) -> async_graphql::Result<Option<BaseRecord>> {
    Ok(ctx
        .engine()
        .store()
        .base(kind, key)
        .map_err(ApiError::from)?)
}

// ----- entities and relations ----------------------------------------------------

/// A node of the graph as a reference: its `kind:key` and display label.
/// Reading any of it notes the node in the request's audit entry.
#[derive(Debug, Clone)]
pub struct Entity {
    pub r#ref: String,
    pub kind: String,
    pub key: String,
    pub label: String,
}

#[Object]
impl Entity {
    /// `kind:key`, e.g. `person:320902…`, `vehicle:苏J12345`.
    async fn r#ref(&self, ctx: &Context<'_>) -> &str {
        self.read(ctx);
        &self.r#ref
    }

    async fn kind(&self, ctx: &Context<'_>) -> &str {
        self.read(ctx);
        &self.kind
    }

    async fn key(&self, ctx: &Context<'_>) -> &str {
        self.read(ctx);
        &self.key
    }

    async fn label(&self, ctx: &Context<'_>) -> &str {
        self.read(ctx);
        &self.label
    }

    /// The entity's full archive (none when out of the caller's scope).
    async fn archive(&self, ctx: &Context<'_>) -> Option<Archive> {
        let n = NodeRef::parse(&self.r#ref).ok()?;
        super::archive(ctx, n).await.ok()
    }
}

impl Entity {
    /// Notes the node as read (a placeholder names nothing).
    fn read(&self, ctx: &Context<'_>) {
        if self.kind != "hidden" {
            ctx.note(&self.r#ref);
        }
    }

    /// The placeholder of an out-of-scope node (`auth.hidden_nodes =
    /// "placeholder"`): it says something is there, never what.
    pub fn hidden(tag: &str) -> Self {
        Self {
            r#ref: tag.to_owned(),
            kind: "hidden".into(),
            key: String::new(),
            label: "(out of scope)".into(),
        }
    }

    pub fn new(n: &NodeRef, label: impl Into<String>) -> Self {
        Self {
            r#ref: n.to_string(),
            kind: n.kind().as_str().to_owned(),
            key: n.key().to_owned(),
            label: label.into(),
        }
    }
}

/// One piece of evidence for a relation: the events that made it (two for
/// a companion pass, one for a visit) or, for a relation from the registers,
/// the register records.
#[derive(Debug, Clone, SimpleObject)]
pub struct EvidenceItem {
    pub day: Option<String>,
    pub time: Option<String>,
    pub events: Vec<String>,
    pub records: Vec<String>,
}

/// One relation of the archive's subject to another node.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Relation {
    pub kind: String,
    /// What the relation is about when two nodes have several of a kind
    /// (the house of a cohabitation); empty otherwise.
    pub context: String,
    /// `out`: from the subject to the other node; `in`: towards the subject.
    pub direction: String,
    pub node: Entity,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Distinct days, nights, visits or records behind the relation.
    pub strength: u32,
    pub historical: bool,
    pub detail: String,
    pub evidence_count: u32,
    #[graphql(skip)]
    pub key: graph::EdgeKey,
    /// A placeholder for an out-of-scope node: no evidence is served.
    #[graphql(skip)]
    pub hidden: bool,
}

#[ComplexObject]
impl Relation {
    /// The events behind the relation, newest first.
    async fn evidence(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<Vec<EvidenceItem>> {
        if self.hidden {
            return Ok(Vec::new());
        }
        let key = self.key.clone();
        Ok(evidence(ctx, key, limit).await?)
    }
}

pub async fn evidence(
    ctx: &Context<'_>,
    key: graph::EdgeKey,
    limit: usize,
) -> ApiResult<Vec<EvidenceItem>> {
    let limit = limit.min(ctx.max_page());
    let principal = ctx.principal().clone();
    blocking(ctx, move |e| {
        let store = e.store();
        // evidence at devices outside the caller's scope (and not under a
        // grant on either end) is left out
        let ends = [&key.from, &key.to];
        let mut kept = Vec::new();
        for ev in graph::project::evidence(store, &key, limit)? {
            let mut visible = true;
            for id in &ev.events {
                // every source that used the id (usually one)
                for x in store.events_with_id(id.as_str())? {
                    visible &= principal.sees_at(e, store, &x.device, &ends)?;
                }
            }
            if visible {
                kept.push(ev);
            }
        }
        let mut out: Vec<EvidenceItem> = kept
            .into_iter()
            .map(|ev| EvidenceItem {
                day: Some(ev.day.to_string()),
                time: Some(fmt_time(&e.clock, ev.time)),
                events: if ev.events[0] == ev.events[1] {
                    vec![ev.events[0].clone()]
                } else {
                    ev.events.to_vec()
                },
                records: Vec::new(),
            })
            .collect();
        if out.is_empty()
            && let Some(edge) = e.relations().edge(&key)?
        {
            out.push(EvidenceItem {
                day: None,
                time: edge.first_seen.map(|t| fmt_time(&e.clock, t)),
                events: Vec::new(),
                records: edge.evidence.into_iter().take(limit).collect(),
            });
        }
        Ok(out)
    })
    .await
}

#[derive(Debug, Clone, SimpleObject)]
pub struct RelationList {
    pub items: Vec<Relation>,
    /// All relations the filter allows (`items` is at most `limit` of them).
    pub total: usize,
    /// How many more there are than shown.
    pub more: usize,
}

/// Turns neighbours into relations, with labels read in one batch, leaving
/// out nodes outside the caller's scope.
pub fn relations_of(
    e: &crate::server::engine::Engine,
    principal: &crate::server::scope::Principal,
    subject: &NodeRef,
    n: graph::traverse::Neighbours,
    limit: usize,
) -> ApiResult<RelationList> {
    let store = e.store();
    let nodes: Vec<NodeRef> = n.items.iter().map(|i| i.node.clone()).collect();
    let labels = e.labels(&nodes)?;
    let placeholders = e.config.auth.placeholders();
    let mut items = Vec::new();
    let mut hidden = 0;
    // a symmetric relation registered both ways (a spouse of b, b of a) is
    // one relation to the reader
    let mut twins = 0;
    let mut seen = std::collections::HashSet::new();
    for (i, label) in n.items.into_iter().zip(labels) {
        if !seen.insert((i.edge.key.kind, i.node.clone(), i.edge.key.ctx.clone())) {
            twins += 1;
            continue;
        }
        if !principal.sees_beside(e, store, subject, &i.node)? {
            hidden += 1;
            if placeholders {
                items.push(Relation {
                    kind: i.edge.key.kind.as_str().to_owned(),
                    context: String::new(),
                    direction: if i.outgoing { "out" } else { "in" }.into(),
                    node: Entity::hidden(&format!("hidden:{hidden}")),
                    first_seen: None,
                    last_seen: None,
                    strength: 0,
                    historical: i.edge.historical,
                    detail: String::new(),
                    evidence_count: 0,
                    key: i.edge.key,
                    hidden: true,
                });
            }
            continue;
        }
        items.push(Relation {
            kind: i.edge.key.kind.as_str().to_owned(),
            context: i.edge.key.ctx.clone(),
            direction: if i.outgoing { "out" } else { "in" }.into(),
            node: Entity::new(&i.node, label),
            first_seen: i.edge.first_seen.map(|t| fmt_time(&e.clock, t)),
            last_seen: i.edge.last_seen.map(|t| fmt_time(&e.clock, t)),
            strength: i.edge.strength,
            historical: i.edge.historical,
            detail: i.edge.detail.clone(),
            evidence_count: i.edge.n_evidence,
            key: i.edge.key,
            hidden: false,
        });
    }
    // out-of-scope relations are not counted (when left out): the totals
    // are those of a graph without them
    let total = if placeholders {
        n.total - twins
    } else {
        n.total - hidden - twins
    };
    items.truncate(limit);
    Ok(RelationList {
        more: total.saturating_sub(items.len()),
        items,
        total,
    })
}

// ----- profiles ------------------------------------------------------------------

#[derive(Debug, Clone, SimpleObject)]
pub struct PersonProfile {
    pub id: String,
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    /// Masked (`3209**********1234`) unless the caller may see it.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub ethnicity: Option<String>,
    /// `local`, `floating`, `foreign`.
    pub household: Option<String>,
    pub categories: Vec<String>,
    pub photo_url: Option<String>,
    pub has_face: bool,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct HouseProfile {
    pub id: String,
    pub community: String,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub address: Option<String>,
    pub area_m2: Option<f64>,
    /// `self`, `rent`, `vacant`, …
    pub usage: Option<String>,
    pub floor: Option<i32>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct VehicleProfile {
    pub plate: String,
    pub color: Option<String>,
    pub brand: Option<String>,
    pub kind: Option<String>,
    pub owner: Option<String>,
    pub community: Option<String>,
    pub rfid: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityProfile {
    pub id: String,
    pub name: String,
    pub region: String,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct DeviceProfile {
    pub id: String,
    pub kind: String,
    pub community: String,
    pub name: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub house: Option<String>,
    pub direction: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

pub fn counts(m: &std::collections::BTreeMap<String, u64>) -> Vec<Count> {
    m.iter()
        .map(|(k, v)| Count {
            key: k.clone(),
            count: *v,
        })
        .collect()
}

/// A community's registers at a glance.
#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityStatistics {
    pub persons: u64,
    pub persons_by_household: Vec<Count>,
    pub persons_by_category: Vec<Count>,
    pub houses: u64,
    pub houses_by_use: Vec<Count>,
    pub vehicles: u64,
    pub devices: u64,
    pub devices_by_kind: Vec<Count>,
}

// ----- sightings and trajectories ---------------------------------------------------

#[derive(Debug, Clone, SimpleObject)]
pub struct Sighting {
    pub time: String,
    pub event: String,
    pub slot: u8,
    pub device: String,
    pub r#type: String,
    pub direction: Option<String>,
    /// How the subject appears: `face`, `pass`, `driver`, `visitor`, …
    pub role: String,
    /// On device and house timelines: who the event was attributed to.
    pub subjects: Vec<String>,
}

impl Sighting {
    pub fn new(clock: &model::Clock, s: graph::timeline::Sighting) -> Self {
        Self {
            time: fmt_time(clock, s.time),
            event: s.event.as_str().to_owned(),
            slot: s.slot,
            device: s.device.as_str().to_owned(),
            r#type: s.kind.as_str().to_owned(),
            direction: s.direction.map(|d| d.as_str().to_owned()),
            role: s.role.as_str().to_owned(),
            subjects: s.subjects.iter().map(ToString::to_string).collect(),
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
    pub geojson: Json<serde_json::Value>,
}

/// An analysis model's tag on the subject.
#[derive(Debug, Clone, SimpleObject)]
pub struct TagOut {
    pub model: String,
    /// False once the model no longer finds it (kept with its history).
    pub active: bool,
    /// The window the latest finding looked at.
    pub from: String,
    pub to: String,
    pub score: f64,
    /// The model's words; withheld when part of the evidence is outside
    /// the caller's regions (they describe all of it).
    pub detail: String,
    /// Event ids that made it true.
    pub evidence: Vec<String>,
    /// When it was tagged and retired (`until` empty while active).
    pub history: Vec<TagEpisode>,
    /// For a suspected unregistered resident's stranger archive: the
    /// registered persons with the most similar faces (`analysis.
    /// unregistered_resident.suggestions` of them).
    pub suggestions: Vec<FaceHit>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct TagEpisode {
    pub since: String,
    pub until: Option<String>,
}

/// Someone who entered a house's unit at night.
#[derive(Debug, Clone, SimpleObject)]
pub struct NightEntrant {
    pub entity: Entity,
    /// Distinct nights with an entry through the unit's doors.
    pub nights: u32,
    pub last_seen: String,
    /// Registered at the house now.
    pub registered: bool,
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
    let geojson = Json(t.geojson(clock));
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

fn footholds(f: &[graph::timeline::Foothold]) -> Vec<Foothold> {
    f.iter()
        .map(|f| Foothold {
            community: f.community.as_str().to_owned(),
            nights: f.nights,
            last_night: f.last_night.to_string(),
        })
        .collect()
}

fn frequented(f: &[graph::timeline::Frequented]) -> Vec<Frequented> {
    f.iter()
        .map(|f| Frequented {
            community: f.community.as_str().to_owned(),
            days: f.days,
            sightings: f.sightings,
        })
        .collect()
}

// ----- the archive -----------------------------------------------------------------

/// Everything about one subject in one query (全息档案): its profile, its
/// relations grouped as an investigator reads them, recent sightings, a
/// trajectory summary, open alerts and watch-list memberships.
pub struct Archive {
    pub node: NodeRef,
    /// All relations of the subject, read once for every group below.
    relations: OnceCell<Arc<graph::traverse::Neighbours>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Archive").field(&self.node).finish()
    }
}

impl Archive {
    pub fn new(node: NodeRef) -> Self {
        Self {
            node,
            relations: OnceCell::new(),
        }
    }

    async fn all_relations(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Arc<graph::traverse::Neighbours>> {
        self.relations
            .get_or_try_init(|| async {
                let n = self.node.clone();
                quick(ctx, move |e| {
                    Ok(Arc::new(e.relations().neighbours(
                        &n,
                        &graph::EdgeFilter::default(),
                        usize::MAX,
                    )?))
                })
                .await
            })
            .await
            .cloned()
    }

    /// The relations of some kinds (and direction), strongest first.
    async fn group(
        &self,
        ctx: &Context<'_>,
        kinds: &[RelKind],
        direction: Option<bool>,
        limit: usize,
    ) -> ApiResult<RelationList> {
        let all = self.all_relations(ctx).await?;
        let limit = limit.min(ctx.max_page());
        let picked: Vec<graph::traverse::Neighbour> = all
            .items
            .iter()
            .filter(|i| kinds.contains(&i.edge.key.kind))
            .filter(|i| direction.is_none_or(|d| d == i.outgoing))
            .cloned()
            .collect();
        let total = picked.len();
        let principal = ctx.principal().clone();
        // a regional caller's list is filtered whole, so its total counts
        // only what it may see
        let take = if principal.regions.is_some() {
            total
        } else {
            limit
        };
        let n = graph::traverse::Neighbours {
            items: picked.into_iter().take(take).collect(),
            more: total.saturating_sub(take),
            total,
        };
        let node = self.node.clone();
        quick(ctx, move |e| relations_of(e, &principal, &node, n, limit)).await
    }
}

#[Object]
impl Archive {
    /// `kind:key`.
    async fn r#ref(&self) -> String {
        self.node.to_string()
    }

    async fn kind(&self) -> &str {
        self.node.kind().as_str()
    }

    async fn key(&self) -> &str {
        self.node.key()
    }

    /// The display label (a person's name, a community's name, a plate).
    async fn label(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let n = self.node.clone();
        Ok(quick(ctx, move |e| {
            Ok(e.labels(std::slice::from_ref(&n))?.remove(0))
        })
        .await?)
    }

    /// A registered person's profile (identifiers masked per role).
    async fn person(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PersonProfile>> {
        let NodeRef::Person(p) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Person(p)) = load_base(ctx, BaseKind::Person, p.as_str()).await?
        else {
            return Ok(None);
        };
        let who = ctx.principal();
        Ok(Some(PersonProfile {
            id: p.id.as_str().to_owned(),
            name: p.name,
            gender: p.gender.map(|g| g.as_str().to_owned()),
            birth_date: p.birth_date.map(|d| who.mask_birth_date(d)),
            id_number: p.id_number.map(|n| who.mask_id_number(n.as_str())),
            phone: p.phone.map(|n| who.mask_phone(&n)),
            ethnicity: p.ethnicity,
            household: p.household.map(|h| h.as_str().to_owned()),
            categories: p.categories,
            photo_url: p.photo_url,
            has_face: p.face.is_some(),
        }))
    }

    async fn house(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<HouseProfile>> {
        let NodeRef::House(h) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::House(h)) = load_base(ctx, BaseKind::House, h.as_str()).await? else {
            return Ok(None);
        };
        Ok(Some(HouseProfile {
            id: h.id.as_str().to_owned(),
            community: h.community.as_str().to_owned(),
            building: h.building,
            unit: h.unit,
            room: h.room,
            address: h.address,
            area_m2: h.area_m2,
            usage: h.usage.map(|u| u.as_str().to_owned()),
            floor: h.floor,
        }))
    }

    async fn vehicle(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VehicleProfile>> {
        let NodeRef::Vehicle(v) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Vehicle(v)) = load_base(ctx, BaseKind::Vehicle, v.as_str()).await?
        else {
            return Ok(Some(VehicleProfile {
                plate: v.as_str().to_owned(),
                color: None,
                brand: None,
                kind: None,
                owner: None,
                community: None,
                rfid: None,
            }));
        };
        Ok(Some(VehicleProfile {
            plate: v.plate.as_str().to_owned(),
            color: v.color,
            brand: v.brand,
            kind: v.kind.map(|k| k.as_str().to_owned()),
            owner: v.owner.map(|o| o.as_str().to_owned()),
            community: v.community.map(|c| c.as_str().to_owned()),
            rfid: v.rfid.map(|r| r.as_str().to_owned()),
        }))
    }

    async fn community(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<CommunityProfile>> {
        let NodeRef::Community(c) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Community(c)) =
            load_base(ctx, BaseKind::Community, c.as_str()).await?
        else {
            return Ok(None);
        };
        Ok(Some(CommunityProfile {
            id: c.id.as_str().to_owned(),
            name: c.name,
            region: c.region.as_str().to_owned(),
            address: c.address,
            lon: c.center.map(|p| p.lon),
            lat: c.center.map(|p| p.lat),
            kind: c.kind.map(|k| k.as_str().to_owned()),
        }))
    }

    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DeviceProfile>> {
        let NodeRef::Device(d) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Device(d)) = load_base(ctx, BaseKind::Device, d.as_str()).await?
        else {
            return Ok(None);
        };
        Ok(Some(device_profile(d)))
    }

    /// A community's registers (persons by household and category, houses
    /// by use, vehicles, devices by kind).
    async fn statistics(&self, ctx: &Context<'_>) -> Option<CommunityStatistics> {
        let NodeRef::Community(c) = &self.node else {
            return None;
        };
        let census = ctx.engine().census();
        let cc = census.get(c)?;
        Some(CommunityStatistics {
            persons: cc.persons,
            persons_by_household: counts(&cc.by_household),
            persons_by_category: counts(&cc.by_category),
            houses: cc.houses,
            houses_by_use: counts(&cc.houses_by_use),
            vehicles: cc.vehicles,
            devices: cc.devices,
            devices_by_kind: counts(&cc.devices_by_kind),
        })
    }

    /// A community's devices.
    async fn devices(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DeviceProfile>> {
        let NodeRef::Community(c) = &self.node else {
            return Ok(Vec::new());
        };
        let c = c.clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let mut out = Vec::new();
            store.for_each_base(BaseKind::Device, |r| {
                if let BaseRecord::Device(d) = r
                    && d.community == c
                {
                    out.push(device_profile(d));
                }
                Ok(())
            })?;
            Ok(out)
        })
        .await?)
    }

    /// Any relations, filtered by kind (empty: all), strongest first.
    async fn relations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        let kinds = parse_kinds(&kinds)?;
        let kinds = if kinds.is_empty() {
            RelKind::ALL.to_vec()
        } else {
            kinds
        };
        Ok(self.group(ctx, &kinds, None, limit).await?)
    }

    /// A person's houses (current: `lives_in`, historical: `lived_in`).
    async fn houses(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::LivesIn, RelKind::LivedIn],
                Some(true),
                limit,
            )
            .await?)
    }

    /// A house's residents (current and historical).
    async fn residents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::LivesIn, RelKind::LivedIn],
                Some(false),
                limit,
            )
            .await?)
    }

    /// Registered household members and inferred cohabitants.
    async fn cohabitants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Cohabitant, RelKind::CohabitantInferred],
                None,
                limit,
            )
            .await?)
    }

    async fn kin(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::Kin], None, limit).await?)
    }

    /// Tenancy: landlords of a tenant, tenants of a landlord.
    async fn tenancy(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::TenantOf], None, limit).await?)
    }

    /// Who visited the subject (a host person or house).
    async fn visitors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(ctx, &[RelKind::Visitor], Some(false), limit)
            .await?)
    }

    /// Whom and which houses the subject visited.
    async fn visited(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(ctx, &[RelKind::Visitor], Some(true), limit)
            .await?)
    }

    /// Persons repeatedly seen with the subject (count, last seen, evidence).
    async fn companions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::Companion], None, limit).await?)
    }

    /// A person's vehicles: owned, driven, ridden.
    async fn vehicles(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Owns, RelKind::Drives, RelKind::Rides],
                Some(true),
                limit,
            )
            .await?)
    }

    /// A vehicle's people: its owner, drivers and riders.
    async fn occupants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Owns, RelKind::Drives, RelKind::Rides],
                Some(false),
                limit,
            )
            .await?)
    }

    /// Sightings newest first (a device's or house's: its passes), paged.
    async fn sightings(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Sighting>> {
        let first = ctx.page_size(first)?;
        let clock = ctx.engine().clock;
        let from = parse_time_opt(from.as_deref(), &clock)?.unwrap_or(Timestamp(i64::MIN));
        let mut to = parse_time_opt(to.as_deref(), &clock)?.unwrap_or(Timestamp(i64::MAX));
        let cursor = after.as_deref().map(parse_cursor).transpose()?;
        if let Some((t, _, _)) = &cursor {
            to = to.min(Timestamp(t.saturating_add(1)));
        }
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        // a caller who sees everything reads one page of exactly what it
        // shows (bounded: on the calling task); a regional caller's pages
        // are filtered, read with room for what the filter drops, and may
        // take many reads (on the blocking pool)
        let sees_all = principal.regions.is_none();
        let page_size = if sees_all { first + 1 } else { first + 64 };
        let read = move |e: &crate::server::engine::Engine| {
            let store = e.store();
            // sightings at devices out of the caller's scope (and not under
            // a grant on this subject) are left out, page by page
            let (mut to, mut cursor) = (to, cursor);
            let mut out = Vec::new();
            for _round in 0..64 {
                let mut page = graph::timeline::timeline(store, &node, from, to, page_size, true)?;
                if let Some((t, ev, slot)) = &cursor {
                    page.items.retain(|s| {
                        (s.time.0, s.event.as_str(), s.slot) < (*t, ev.as_str(), *slot)
                    });
                }
                let exhausted = !page.more;
                let last = page
                    .items
                    .last()
                    .map(|s| (s.time.0, s.event.as_str().to_owned(), s.slot));
                for s in page.items {
                    if principal.sees_at(e, store, &s.device, &[&node])? {
                        out.push(s);
                        if out.len() > first {
                            break;
                        }
                    }
                }
                if out.len() > first || exhausted {
                    break;
                }
                match last {
                    Some(l) => {
                        to = Timestamp(l.0.saturating_add(1));
                        cursor = Some(l);
                    }
                    None => break,
                }
            }
            let more = out.len() > first;
            out.truncate(first);
            Ok((out, more))
        };
        let (items, more) = if sees_all {
            quick(ctx, read).await?
        } else {
            blocking(ctx, read).await?
        };
        let mut conn = Connection::new(cursor_present(&after), more);
        conn.edges.extend(items.into_iter().map(|s| {
            ctx.note(s.event.as_str());
            let c = format!("{}|{}|{}", s.time.0, s.event.as_str(), s.slot);
            Edge::new(c, Sighting::new(&clock, s))
        }));
        Ok(conn)
    }

    /// Footholds, frequented communities and activity by hour over the last
    /// `days` days (up to now, or to the subject's latest sighting).
    async fn trajectory_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: i64,
    ) -> async_graphql::Result<TrajectorySummary> {
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        // most subjects have a few sightings a day: their summary is read
        // on the calling task, at most QUICK_POINTS sightings; a subject
        // with more is summarised (again, in full) on the blocking pool
        let summary = move |e: &Engine, most: Option<usize>| -> ApiResult<_> {
            let store = e.store();
            let mut params = e.config.trajectory_params();
            if let Some(most) = most {
                params.max_points = params.max_points.min(most);
            }
            let t = graph::timeline::recent(
                store,
                &node,
                days,
                crate::server::engine::now(),
                &e.clock,
                &params,
                &mut |d| principal.sees_at(e, store, d, &[&node]),
            )?;
            if most.is_some() && t.truncated {
                return Ok(None);
            }
            Ok(Some(TrajectorySummary {
                footholds: footholds(&t.footholds),
                communities: frequented(&t.communities),
                by_hour: t.by_hour.to_vec(),
                sightings: t.by_hour.iter().sum(),
            }))
        };
        let first = summary.clone();
        if let Some(s) = quick(ctx, move |e| first(e, Some(QUICK_POINTS))).await? {
            return Ok(s);
        }
        let s = blocking(ctx, move |e| summary(e, None)).await?;
        Ok(s.ok_or_else(|| ApiError::Internal("trajectory summary".into()))?)
    }

    /// A house's night entrants: who passed its unit's doors at night over
    /// the last `days` days (to its latest pass), most nights first.
    async fn night_entrants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: i64,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<Vec<NightEntrant>> {
        let NodeRef::House(h) = &self.node else {
            return Ok(Vec::new());
        };
        let (h, limit) = (h.clone(), limit.min(ctx.max_page()));
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let Some(BaseRecord::House(house)) = store.base(BaseKind::House, h.as_str())? else {
                return Ok(Vec::new());
            };
            let mut doors = Vec::new();
            store.for_each_base(BaseKind::Device, |r| {
                if let BaseRecord::Device(d) = r
                    && d.community == house.community
                    && d.kind == model::DeviceKind::UnitDoor
                    && d.building.as_deref() == Some(house.building.as_str())
                    && d.unit.as_deref() == Some(house.unit.as_str())
                {
                    doors.push(NodeRef::Device(d.id));
                }
                Ok(())
            })?;
            let all = (Timestamp(i64::MIN), Timestamp(i64::MAX));
            let mut latest = Timestamp(i64::MIN);
            for d in &doors {
                if let Some(s) = graph::timeline::timeline(store, d, all.0, all.1, 1, true)?
                    .items
                    .first()
                {
                    latest = latest.max(s.time);
                }
            }
            let to = Timestamp(latest.0.saturating_add(1));
            let from = Timestamp(to.0.saturating_sub(days.clamp(1, 366) * 86_400_000));
            let mut per: std::collections::BTreeMap<
                NodeRef,
                (std::collections::BTreeSet<chrono::NaiveDate>, Timestamp),
            > = Default::default();
            for d in &doors {
                let page = graph::timeline::timeline(store, d, from, to, 200_000, false)?;
                for s in page.items {
                    let Some(night) = e.clock.night_of(s.time) else {
                        continue;
                    };
                    for subj in s.subjects {
                        let entry = per
                            .entry(subj)
                            .or_insert_with(|| (Default::default(), Timestamp(i64::MIN)));
                        entry.0.insert(night);
                        entry.1 = entry.1.max(s.time);
                    }
                }
            }
            let residents: std::collections::BTreeSet<NodeRef> = e
                .relations()
                .neighbours(
                    &NodeRef::House(h.clone()),
                    &graph::EdgeFilter::kinds(&[RelKind::LivesIn]),
                    usize::MAX,
                )?
                .items
                .into_iter()
                .map(|n| n.node)
                .collect();
            let mut rows: Vec<(NodeRef, u32, Timestamp)> = per
                .into_iter()
                .map(|(n, (nights, last))| (n, nights.len() as u32, last))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
            let mut out = Vec::new();
            for (n, nights, last) in rows {
                if out.len() == limit {
                    break;
                }
                if !principal.sees(e, store, &n)? {
                    continue;
                }
                let label = e.labels(std::slice::from_ref(&n))?.remove(0);
                out.push(NightEntrant {
                    registered: residents.contains(&n),
                    entity: Entity::new(&n, label),
                    nights,
                    last_seen: fmt_time(&e.clock, last),
                });
            }
            Ok(out)
        })
        .await?)
    }

    /// The analysis models' tags on the subject (retired ones too when
    /// `includeRetired`).
    async fn tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_retired: bool,
    ) -> async_graphql::Result<Vec<TagOut>> {
        let me = self.node.to_string();
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let mut tags = crate::tagbook::tags_of(store, &me)?;
            // evidence the caller may not see is left out: events at devices
            // out of scope, related archives out of scope; and then the
            // model's detail too, which describes all of the evidence
            if principal.regions.is_some() {
                for t in &mut tags {
                    let mut kept = Vec::new();
                    let all = t.evidence.len();
                    for ev in std::mem::take(&mut t.evidence) {
                        let events = store.events_with_id(&ev)?;
                        let visible = if !events.is_empty() {
                            let mut all = true;
                            for x in &events {
                                all &= principal.sees_at(e, store, &x.device, &[&node])?;
                            }
                            all
                        } else if let Ok(n) = NodeRef::parse(&ev) {
                            principal.sees_beside(e, store, &node, &n)?
                        } else {
                            true
                        };
                        if visible {
                            kept.push(ev);
                        }
                    }
                    if kept.len() < all {
                        t.detail = "withheld: part of the evidence is outside your regions".into();
                    }
                    t.evidence = kept;
                }
            }
            let suggest = tags
                .iter()
                .any(|t| t.model == "unregistered_resident" && t.active)
                && matches!(node, NodeRef::Stranger(_));
            let suggestions = if suggest {
                let k = e.config.analysis.unregistered_resident.suggestions as usize;
                let hits = e
                    .projector
                    .matcher
                    .similar(&node, k, 0.0, None)?
                    .unwrap_or_default();
                face_hits(e, &principal, hits)?
            } else {
                Vec::new()
            };
            Ok(tags
                .into_iter()
                .filter(|t| t.active || include_retired)
                .map(|t| TagOut {
                    suggestions: if t.model == "unregistered_resident" {
                        suggestions.clone()
                    } else {
                        Vec::new()
                    },
                    model: t.model,
                    active: t.active,
                    from: fmt_time(&e.clock, t.from),
                    to: fmt_time(&e.clock, t.to),
                    score: t.score,
                    detail: t.detail,
                    evidence: t.evidence,
                    history: t
                        .history
                        .into_iter()
                        .map(|h| TagEpisode {
                            since: fmt_time(&e.clock, h.since),
                            until: h.until.map(|u| fmt_time(&e.clock, u)),
                        })
                        .collect(),
                })
                .collect())
        })
        .await?)
    }

    /// Alerts about the subject that are not handled yet.
    async fn open_alerts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Alert>> {
        let me = self.node.to_string();
        let principal = ctx.principal().clone();
        Ok(quick(ctx, move |e| {
            let store = e.store();
            let mut out = Vec::new();
            alerts::of_subject(store, &me, |a| {
                if a.status != alerts::AlertStatus::Handled
                    && principal.sees_region(a.region.as_deref())
                {
                    out.push(Alert(a));
                }
                out.len() < 100
            })?;
            Ok(out)
        })
        .await?)
    }

    /// The watch lists the subject is on.
    async fn watch_lists(&self, ctx: &Context<'_>) -> Vec<WatchList> {
        let me = self.node.to_string();
        let plate = match &self.node {
            NodeRef::Vehicle(p) => Some(p.as_str().to_owned()),
            _ => None,
        };
        let p = ctx.principal();
        ctx.engine()
            .watch_lists()
            .into_iter()
            .filter(|l| {
                l.persons.contains(&me) || plate.as_ref().is_some_and(|p| l.plates.contains(p))
            })
            // the lists of the caller's regions only (a list of all regions:
            // an all-regions caller's)
            .filter(|l| p.regions.is_none() || p.sees_region(Some(&l.region)))
            .map(WatchList)
            .collect()
    }

    /// For a stranger archive: the registered persons with the most similar
    /// faces (suggestions to merge); for a person: the most similar stranger
    /// archives.
    async fn similar_faces(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 3)] k: usize,
        #[graphql(default = 0.5)] min_score: f64,
    ) -> async_graphql::Result<Vec<FaceHit>> {
        let node = self.node.clone();
        let k = k.min(ctx.max_page());
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let hits = e
                .projector
                .matcher
                .similar(&node, k, min_score as f32, None)?
                .unwrap_or_default();
            face_hits(e, &principal, hits)
        })
        .await?)
    }
}

pub fn device_profile(d: model::Device) -> DeviceProfile {
    DeviceProfile {
        id: d.id.as_str().to_owned(),
        kind: d.kind.as_str().to_owned(),
        community: d.community.as_str().to_owned(),
        name: d.name,
        lon: d.location.map(|p| p.lon),
        lat: d.location.map(|p| p.lat),
        building: d.building,
        unit: d.unit,
        house: d.house.map(|h| h.as_str().to_owned()),
        direction: d.direction.map(|d| d.as_str().to_owned()),
    }
}

pub fn parse_kinds(kinds: &[String]) -> ApiResult<Vec<RelKind>> {
    kinds
        .iter()
        .map(|k| {
            RelKind::parse_lenient(k).ok_or_else(|| {
                ApiError::BadInput(format!(
                    "unknown relation kind {k:?} (expected one of {})",
                    RelKind::expected()
                ))
            })
        })
        .collect()
}

fn parse_cursor(s: &str) -> ApiResult<(i64, String, u8)> {
    let bad = || ApiError::BadInput(format!("cursor {s:?} is not one this API returned"));
    let mut it = s.splitn(3, '|');
    let t = it.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    let ev = it.next().ok_or_else(bad)?.to_owned();
    let slot = it.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    Ok((t, ev, slot))
}

fn cursor_present(after: &Option<String>) -> bool {
    after.is_some()
}

// ----- face hits ----------------------------------------------------------------------

#[derive(Debug, Clone, SimpleObject)]
pub struct FaceHit {
    pub score: f32,
    pub entity: Entity,
}

pub fn face_hits(
    e: &crate::server::engine::Engine,
    principal: &crate::server::scope::Principal,
    hits: Vec<search::Hit>,
) -> ApiResult<Vec<FaceHit>> {
    let store = e.store();
    let nodes: Vec<NodeRef> = hits
        .iter()
        .filter_map(|h| NodeRef::parse(&h.entity).ok())
        .collect();
    let labels = e.labels(&nodes)?;
    let mut out = Vec::new();
    for ((n, l), h) in nodes.iter().zip(labels).zip(&hits) {
        if principal.sees(e, store, n)? {
            out.push(FaceHit {
                score: h.score,
                entity: Entity::new(n, l),
            });
        }
    }
    Ok(out)
}

// ----- alerts and watch lists ------------------------------------------------------------

#[derive(Debug)]
pub struct Alert(pub AlertRec);

#[derive(Debug, Clone, SimpleObject)]
pub struct AlertStep {
    pub at: String,
    pub action: String,
    pub by: String,
    pub note: Option<String>,
}

#[Object]
impl Alert {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn status(&self) -> alerts::AlertStatus {
        self.0.status
    }
    async fn disposition(&self) -> Option<alerts::Disposition> {
        self.0.disposition
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// `kind:key` of the subject.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    async fn community(&self) -> Option<&str> {
        self.0.community.as_deref()
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    async fn device(&self) -> Option<&str> {
        self.0.device.as_deref()
    }
    async fn time(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.time)
    }
    async fn raised(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.raised)
    }
    async fn score(&self) -> Option<f32> {
        self.0.score
    }
    /// Event ids.
    async fn evidence(&self) -> &[String] {
        &self.0.evidence
    }
    async fn watch_list(&self) -> Option<&str> {
        self.0.watch_list.as_deref()
    }
    /// Findings of this situation while the alert was open (1: raised
    /// once; a key person going out alone day after day is one alert).
    async fn occurrences(&self) -> u32 {
        self.0.occurrences
    }
    /// When the latest occurrence happened (none: only the first).
    async fn last_time(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.last.map(|t| fmt_time(&ctx.engine().clock, t))
    }
    async fn history(&self, ctx: &Context<'_>) -> Vec<AlertStep> {
        let clock = ctx.engine().clock;
        self.0
            .history
            .iter()
            .map(|h| AlertStep {
                at: fmt_time(&clock, h.at),
                action: h.action.clone(),
                by: h.by.clone(),
                note: h.note.clone(),
            })
            .collect()
    }
    /// The subject's archive (none when out of the caller's scope).
    async fn archive(&self, ctx: &Context<'_>) -> Option<Archive> {
        let n = NodeRef::parse(self.0.subject.as_deref()?).ok()?;
        super::archive(ctx, n).await.ok()
    }
}

pub struct WatchList(pub WatchRec);

#[derive(Debug, Clone, SimpleObject)]
pub struct WatchFaceOut {
    pub id: String,
    pub label: String,
    pub dim: usize,
}

#[Object]
impl WatchList {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn region(&self) -> &str {
        &self.0.region
    }
    async fn threshold(&self) -> Option<f32> {
        self.0.threshold
    }
    async fn created(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.created)
    }
    async fn updated(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.updated)
    }
    /// `person:…` / `stranger:…` refs.
    async fn persons(&self) -> &[String] {
        &self.0.persons
    }
    async fn plates(&self) -> &[String] {
        &self.0.plates
    }
    async fn faces(&self) -> Vec<WatchFaceOut> {
        self.0
            .faces
            .iter()
            .map(|f| WatchFaceOut {
                id: f.id.clone(),
                label: f.label.clone(),
                dim: f.feature.len(),
            })
            .collect()
    }
}

/// An event with what it is about.
#[derive(Debug)]
pub struct EventOut(pub model::Event);

#[Object]
impl EventOut {
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    async fn r#type(&self) -> &str {
        self.0.kind().as_str()
    }
    async fn device(&self) -> &str {
        self.0.device.as_str()
    }
    async fn time(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.time)
    }
    /// The type-specific fields (features left out).
    async fn detail(&self) -> Json<serde_json::Value> {
        let mut v = serde_json::to_value(&self.0.body).unwrap_or_default();
        strip_features(&mut v);
        Json(v)
    }
    /// Who the event was attributed to, per slot.
    async fn subjects(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Entity>> {
        let ev = self.0.clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let slots = match &ev.body {
                EventBody::VehiclePass {
                    occupant_features, ..
                } => occupant_features.len() + 1,
                _ => 1,
            };
            let mut out = Vec::new();
            for slot in 0..slots {
                if let Some(n) =
                    graph::attributed(store, ev.id.as_str(), ev.device.as_str(), slot as u8)?
                {
                    let label = e.labels(std::slice::from_ref(&n))?.remove(0);
                    out.push(Entity::new(&n, label));
                }
            }
            Ok(out)
        })
        .await?)
    }
}

fn strip_features(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("feature");
            m.remove("occupant_features");
            for (_, x) in m.iter_mut() {
                strip_features(x);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_features),
        _ => {}
    }
}
