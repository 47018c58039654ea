//! The GraphQL schema: archives, search, trajectories, relations,
//! dashboards, alerts and watch lists, and the alert subscription.
//!
//! Every resolver reads through the request's [`Principal`] (the region
//! choke point) and runs storage work off the async threads (`blocking`).
//! Errors map to `extensions.code` in one place (`server::errors`).

mod access;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, InputObject, Object, Schema, SimpleObject, Subscription};
use futures_util::Stream;
use model::{BaseKind, BaseRecord, Clock, CommunityId, LonLat, NodeRef, Timestamp};

pub use types::*;

use super::alerts::{self, AlertStatus, Disposition, WatchFace, WatchList as WatchRec};
use super::engine::{Engine, KINDS, now};
use super::errors::{ApiError, ApiResult};
use super::scope::Principal;

pub use access::{AccessMutation, AccessQuery};

/// The root query: archives, search, relations, dashboards, alerts
/// ([`BaseQuery`]) and grants, investigation, audit and tokens
/// ([`AccessQuery`]).
#[derive(async_graphql::MergedObject, Default, Debug)]
pub struct Query(BaseQuery, AccessQuery);

#[derive(async_graphql::MergedObject, Default, Debug)]
pub struct Mutation(BaseMutation, AccessMutation);

/// The schema itself: reached only through the guard.
pub(crate) type Inner = Schema<Query, Mutation, Subscription>;

/// The schema behind its guard (roles, masking, audit: `server::guard`).
pub type AnjuSchema = super::guard::Guarded;

/// Builds the schema over an engine, with the configured limits, behind
/// the guard.
pub fn schema(engine: Arc<Engine>) -> AnjuSchema {
    let build = |mode: async_graphql::ValidationMode| {
        let s = &engine.config.server;
        let mut b = Schema::build(Query::default(), Mutation::default(), Subscription)
            .limit_depth(s.max_depth)
            .limit_complexity(s.max_complexity)
            .validation_mode(mode);
        if !s.introspection || s.production {
            b = b.disable_introspection();
        }
        b.data(Arc::clone(&engine)).finish()
    };
    // every rule for a text not yet seen valid; for one seen valid (the
    // guard remembers), only the limits: see `guard`
    let strict = build(async_graphql::ValidationMode::Strict);
    let fast = build(async_graphql::ValidationMode::Fast);
    super::guard::Guarded::new(strict, fast, engine)
}

/// The schema's SDL (`api/schema.graphql`), without an engine.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

/// What every resolver needs from the request context.
pub(crate) trait Ctx {
    fn engine(&self) -> &Arc<Engine>;
    fn principal(&self) -> &Principal;
    fn max_page(&self) -> usize;
    /// `first` checked against the maximum page size (default 20).
    fn page_size(&self, first: Option<i32>) -> ApiResult<usize>;
    /// Notes a record the request read, for its audit entry
    /// ([`super::guard::Trail`]).
    fn note(&self, record: &str);
}

impl Ctx for Context<'_> {
    fn engine(&self) -> &Arc<Engine> {
        self.data_unchecked::<Arc<Engine>>()
    }

    /// The request's principal; a request without one sees nothing (the
    /// HTTP layer always sets one).
    fn principal(&self) -> &Principal {
        static NOBODY: std::sync::OnceLock<Principal> = std::sync::OnceLock::new();
        self.data_opt::<Principal>()
            .unwrap_or_else(|| NOBODY.get_or_init(Principal::nobody))
    }

    fn max_page(&self) -> usize {
        self.engine().config.server.max_page_size
    }

    fn note(&self, record: &str) {
        if let Some(t) = self.data_opt::<Arc<super::guard::Trail>>() {
            t.note(record);
        }
    }

    fn page_size(&self, first: Option<i32>) -> ApiResult<usize> {
        let max = self.max_page();
        match first {
            None => Ok(20.min(max)),
            Some(n) if n < 0 => Err(ApiError::BadInput("first must not be negative".into())),
            Some(n) if n as usize > max => Err(ApiError::BadInput(format!(
                "first must be at most {max} (the maximum page size)"
            ))),
            Some(n) => Ok(n as usize),
        }
    }
}

/// Runs a bounded read — a few point reads and short scans, served from
/// RocksDB's cache in microseconds — on the calling task: the hop to the
/// blocking pool and back costs more than the read (the full archive made
/// a dozen such hops). With the Neo4j backend a relation read is a network
/// round trip (on its own runtime), so there it goes to the blocking pool
/// as [`blocking`] does — as anything that can run long does.
pub(crate) async fn quick<T: Send + 'static>(
    ctx: &Context<'_>,
    f: impl FnOnce(&Engine) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if ctx.engine().relations().backend() == "neo4j" {
        blocking(ctx, f).await
    } else {
        f(ctx.engine())
    }
}

/// Runs storage work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    ctx: &Context<'_>,
    f: impl FnOnce(&Engine) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let e = Arc::clone(ctx.engine());
    tokio::task::spawn_blocking(move || f(&e))
        .await
        .map_err(|e| ApiError::Internal(format!("task: {e}")))?
}

/// Times out: RFC 3339 in the deployment's zone.
pub fn fmt_time(clock: &Clock, t: Timestamp) -> String {
    clock
        .to_local(t)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Times in: as the ingest contract reads them (RFC 3339, local
/// `YYYY-MM-DD[ HH:MM:SS]`).
pub fn parse_time(s: &str, clock: &Clock) -> ApiResult<Timestamp> {
    ingest::parse_time(s, clock).map_err(ApiError::BadInput)
}

pub fn parse_time_opt(s: Option<&str>, clock: &Clock) -> ApiResult<Option<Timestamp>> {
    s.map(|s| parse_time(s, clock)).transpose()
}

fn node(s: &str) -> ApiResult<NodeRef> {
    NodeRef::parse(s).map_err(|e| ApiError::BadInput(format!("{s:?}: {e}")))
}

/// The archive of `n` if it exists and the caller may see it; otherwise
/// not found (the two look the same).
pub(crate) async fn archive(ctx: &Context<'_>, n: NodeRef) -> ApiResult<Archive> {
    let principal = ctx.principal().clone();
    let n2 = n.clone();
    let found = quick(ctx, move |e| {
        let store = e.store();
        let exists = crate::nodes::exists(store, e.relations(), &n2)?;
        // the scope check runs whether or not the thing exists, so the two
        // answers take the same path (and about the same time)
        let visible = principal.sees(e, store, &n2)?;
        Ok(exists && visible)
    })
    .await?;
    if found {
        ctx.note(&n.to_string());
        Ok(Archive::new(n))
    } else {
        Err(ApiError::NotFound(n.to_string()))
    }
}

// ----- inputs ------------------------------------------------------------------

/// A place for a trajectory: a polygon (`[[lon, lat], …]`) or a circle.
#[derive(Debug, InputObject)]
pub struct AreaInput {
    pub polygon: Option<Vec<Vec<f64>>>,
    /// `[lon, lat]`.
    pub center: Option<Vec<f64>>,
    pub radius_m: Option<f64>,
}

impl AreaInput {
    fn to_area(&self) -> ApiResult<graph::timeline::Area> {
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

#[derive(Debug, InputObject)]
pub struct WatchListInput {
    pub name: String,
    #[graphql(default)]
    pub reason: String,
    /// Region code watched (empty: all).
    #[graphql(default)]
    pub region: String,
    pub threshold: Option<f32>,
}

#[derive(Debug, InputObject)]
pub struct WatchFaceInput {
    pub label: String,
    /// Base64 of little-endian f32, or a JSON array of numbers.
    pub feature: String,
}

// ----- outputs only used here ---------------------------------------------------------

#[derive(Debug, Clone, SimpleObject)]
pub struct SearchHit {
    pub entity: Entity,
    pub score: f32,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Facets {
    pub kinds: Vec<Count>,
    pub tags: Vec<Count>,
    pub communities: Vec<Count>,
    /// By the regions one level below the region filter.
    pub regions: Vec<Count>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SearchExtra {
    pub total_count: usize,
    pub facets: Facets,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct TotalCount {
    pub total_count: usize,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct GraphEdge {
    pub kind: String,
    pub from: String,
    pub to: String,
    pub context: String,
    pub strength: u32,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub historical: bool,
    pub evidence_count: u32,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct GraphNode {
    pub entity: Entity,
    /// Hops from the nearest seed.
    pub hop: u32,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Subgraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub truncated: bool,
    /// Nodes left out because they are outside the caller's scope.
    pub hidden: usize,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct PathOut {
    pub nodes: Vec<Entity>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Associate {
    pub entity: Entity,
    pub score: u64,
    pub links: Vec<GraphEdge>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct DayCount {
    pub day: String,
    pub r#type: String,
    pub count: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityCount {
    pub community: String,
    pub name: String,
    pub events: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Dashboard {
    pub region: String,
    pub from: String,
    pub to: String,
    pub communities: u64,
    pub persons: u64,
    pub persons_by_household: Vec<Count>,
    pub persons_by_category: Vec<Count>,
    pub houses: u64,
    pub houses_by_use: Vec<Count>,
    pub vehicles: u64,
    pub devices: u64,
    pub events: u64,
    pub events_per_day: Vec<DayCount>,
    pub alerts_by_kind: Vec<Count>,
    pub alerts_by_status: Vec<Count>,
    /// Handled alerts disposed of as false alarms (0 when none is handled).
    pub false_alarm_rate: f64,
    pub top_communities: Vec<CommunityCount>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct ImportProblem {
    pub line: usize,
    pub field: String,
    pub why: String,
}

#[derive(Debug, SimpleObject)]
pub struct ImportResult {
    pub added: usize,
    pub rejected: Vec<ImportProblem>,
    pub list: WatchList,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct ModelReport {
    pub model: String,
    /// Findings as of the last instant judged.
    pub active: usize,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub retired: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct AnalysisReport {
    pub days: usize,
    pub at: Option<String>,
    pub sightings_read: u64,
    pub seconds: f64,
    pub models: Vec<ModelReport>,
    pub alerts_raised: usize,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct MergeResult {
    pub merged: String,
    pub into: String,
    pub events_projected_again: u64,
}

impl std::fmt::Debug for WatchList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WatchList").field(&self.0.id).finish()
    }
}

fn edge_out(clock: &Clock, e: &graph::Edge) -> GraphEdge {
    GraphEdge {
        kind: e.key.kind.as_str().to_owned(),
        from: e.key.from.to_string(),
        to: e.key.to.to_string(),
        context: e.key.ctx.clone(),
        strength: e.strength,
        first_seen: e.first_seen.map(|t| fmt_time(clock, t)),
        last_seen: e.last_seen.map(|t| fmt_time(clock, t)),
        historical: e.historical,
        evidence_count: e.n_evidence,
    }
}

/// An edge whose out-of-scope ends are shown as their placeholders (and its
/// context — a cohabitation's house — left out when one is).
fn edge_hiding(
    clock: &Clock,
    e: &graph::Edge,
    from: Option<String>,
    to: Option<String>,
) -> GraphEdge {
    let mut out = edge_out(clock, e);
    if from.is_some() || to.is_some() {
        out.context = String::new();
    }
    if let Some(f) = from {
        out.from = f;
    }
    if let Some(t) = to {
        out.to = t;
    }
    out
}

fn edge_filter(
    clock: &Clock,
    kinds: &[String],
    from: Option<&str>,
    to: Option<&str>,
    min_strength: u32,
) -> ApiResult<graph::EdgeFilter> {
    Ok(graph::EdgeFilter {
        kinds: parse_kinds(kinds)?,
        from: parse_time_opt(from, clock)?,
        to: parse_time_opt(to, clock)?,
        min_strength,
    })
}

fn feature(s: &str, dim: usize) -> ApiResult<Vec<f32>> {
    let v: serde_json::Value = if s.trim_start().starts_with('[') {
        serde_json::from_str(s).map_err(|e| ApiError::BadInput(format!("feature: {e}")))?
    } else {
        serde_json::Value::String(s.to_owned())
    };
    ingest::parse_feature(&v, dim)
        .map(|f| f.as_slice().to_vec())
        .map_err(|e| ApiError::BadInput(format!("feature: {e}")))
}

// ----- queries -----------------------------------------------------------------------

#[derive(Debug, Default)]
pub struct BaseQuery;

#[Object]
impl BaseQuery {
    /// A registered person's archive.
    async fn person(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::Person(model::PersonId::new(&id)?)).await?)
    }

    /// A stranger archive (faces of someone not registered, clustered).
    async fn stranger(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::Stranger(model::ArchiveId::new(&id)?)).await?)
    }

    async fn house(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::House(model::HouseId::new(&id)?)).await?)
    }

    /// A vehicle by plate (case and separators ignored).
    async fn vehicle(&self, ctx: &Context<'_>, plate: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::Vehicle(model::Plate::new(&plate)?)).await?)
    }

    async fn community(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::Community(CommunityId::new(&id)?)).await?)
    }

    async fn device(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, NodeRef::Device(model::DeviceId::new(&id)?)).await?)
    }

    /// Any archive by `kind:key`.
    async fn archive(&self, ctx: &Context<'_>, r#ref: String) -> async_graphql::Result<Archive> {
        Ok(archive(ctx, node(&r#ref)?).await?)
    }

    /// An event by id (ids are unique per source: `device` picks the
    /// source where two devices used one id; without it, the first the
    /// caller may see).
    async fn event(
        &self,
        ctx: &Context<'_>,
        id: String,
        device: Option<String>,
    ) -> async_graphql::Result<EventOut> {
        let principal = ctx.principal().clone();
        let found = blocking(ctx, move |e| {
            let store = e.store();
            for ev in store.events_with_id(&id)? {
                if device.as_deref().is_some_and(|d| d != ev.device.as_str()) {
                    continue;
                }
                let region = e.device_place(store, &ev.device)?.map(|(_, r)| r);
                if principal.sees_region(region.as_deref()) {
                    return Ok(ev);
                }
            }
            Err(ApiError::NotFound(format!("event {id}")))
        })
        .await?;
        ctx.note(found.id.as_str());
        Ok(EventOut(found))
    }

    /// Full-text search over persons, houses, vehicles, communities and
    /// devices: names (words, characters, pinyin, initials), identity
    /// numbers and phones (full, prefix, last 4, `?`/`*` masks), plates
    /// (partial, wildcards). Ranked, paged, with total and facets.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default)] regions: Vec<String>,
        #[graphql(default)] communities: Vec<String>,
        #[graphql(default)] tags: Vec<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<usize, SearchHit, SearchExtra, EmptyFields>> {
        let first = ctx.page_size(first)?;
        let offset = match after {
            Some(a) => a.parse::<usize>().map(|n| n + 1).map_err(|_| {
                ApiError::BadInput(format!("cursor {a:?} is not one this API returned"))
            })?,
            None => 0,
        };
        let principal = ctx.principal().clone();
        // a role that sees numbers masked may not find them by their digits
        // (a masked number and a few searches would give them back)
        if !principal.see_identifiers && !search::number_terms(&query).is_empty() {
            return Err(ApiError::Forbidden(format!(
                "the {} role may not search by identity, phone or card numbers",
                principal.role.as_str()
            ))
            .into());
        }
        let (res, labels) = blocking(ctx, move |e| {
            // the caller's regions narrow the filter (the choke point), with
            // the regions of its "any subject" grants
            let mut regions: Vec<String> = regions;
            if let Some(own) = &principal.regions {
                let mut scope = own.clone();
                scope.extend(
                    principal
                        .grants
                        .iter()
                        .filter(|g| g.subject.is_none())
                        .flat_map(|g| g.regions.iter().cloned()),
                );
                if regions.is_empty() {
                    regions = scope;
                } else {
                    regions.retain(|r| principal.sees_region_about(Some(r), &[]));
                    if regions.is_empty() {
                        regions = vec!["--none--".into()];
                    }
                }
            }
            let paths: Vec<Vec<String>> = regions
                .iter()
                .map(|r| match model::RegionCode::new(r) {
                    Ok(c) => Ok(crate::texts::region_path(&c)),
                    Err(_) if r == "--none--" => Ok(vec![r.clone()]),
                    Err(e) => Err(ApiError::BadInput(format!("region {r:?}: {e}"))),
                })
                .collect::<ApiResult<_>>()?;
            let q = search::TextQuery {
                text: &query,
                kinds: &kinds,
                regions: &paths,
                communities: &communities,
                tags: &tags,
                offset,
                limit: first,
            };
            let res = e.projector.texts.index.search(&q)?;
            let nodes: Vec<NodeRef> = res
                .hits
                .iter()
                .filter_map(|h| NodeRef::parse(&h.key).ok())
                .collect();
            let labels = e.labels(&nodes)?;
            let labelled: Vec<(NodeRef, String)> = nodes.into_iter().zip(labels).collect();
            Ok((res, labelled))
        })
        .await?;
        let c = |v: &[(String, u64)]| {
            v.iter()
                .map(|(k, n)| Count {
                    key: k.clone(),
                    count: *n,
                })
                .collect()
        };
        let extra = SearchExtra {
            total_count: res.total,
            facets: Facets {
                kinds: c(&res.kinds),
                tags: c(&res.tags),
                communities: c(&res.communities),
                regions: c(&res.regions),
            },
        };
        let mut conn =
            Connection::with_additional_fields(offset > 0, offset + first < res.total, extra);
        conn.edges.extend(
            res.hits
                .iter()
                .zip(labels)
                .enumerate()
                .map(|(i, (h, (n, l)))| {
                    Edge::new(
                        offset + i,
                        SearchHit {
                            entity: Entity::new(&n, l),
                            score: h.score,
                        },
                    )
                }),
        );
        Ok(conn)
    }

    /// Faces most like a feature (base64 of little-endian f32 or a JSON
    /// array): registered persons and stranger archives (`kind`: `person`
    /// or `stranger`, default both), best first.
    async fn face_search(
        &self,
        ctx: &Context<'_>,
        feature: String,
        #[graphql(default = 10)] k: usize,
        #[graphql(default = 0.6)] min_score: f64,
        kind: Option<String>,
        #[graphql(default)] communities: Vec<String>,
    ) -> async_graphql::Result<Vec<FaceHit>> {
        let dim = ctx.engine().config.deployment.face_dim;
        let f = feature_arg(&feature, dim)?;
        let k = k.min(ctx.max_page());
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let cs = (!communities.is_empty()).then_some(communities.as_slice());
            let hits =
                e.projector
                    .matcher
                    .search(&f, k, min_score as f32, kind.as_deref(), cs, None)?;
            face_hits(e, &principal, hits)
        })
        .await?)
    }

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

    /// A node's relations, strongest first, with how many more there are.
    #[allow(clippy::too_many_arguments)]
    async fn neighbours(
        &self,
        ctx: &Context<'_>,
        node: String,
        #[graphql(default)] kinds: Vec<String>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default)] min_strength: u32,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        let n = self::node(&node)?;
        let f = edge_filter(
            &ctx.engine().clock,
            &kinds,
            from.as_deref(),
            to.as_deref(),
            min_strength,
        )?;
        let limit = limit.min(ctx.max_page());
        archive(ctx, n.clone()).await?;
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            // a regional caller's neighbours are filtered before the page is
            // cut, so totals count only what it may see
            let fetch = if principal.regions.is_some() {
                limit.max(2_000)
            } else {
                limit
            };
            let nb = e.relations().neighbours(&n, &f, fetch)?;
            relations_of(e, &principal, &n, nb, limit)
        })
        .await?)
    }

    /// The k-hop neighbourhood of the seeds, ready for a graph view.
    async fn subgraph(
        &self,
        ctx: &Context<'_>,
        seeds: Vec<String>,
        #[graphql(default = 2)] hops: u32,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default)] min_strength: u32,
        #[graphql(default = 200)] max_nodes: usize,
    ) -> async_graphql::Result<Subgraph> {
        if hops > 4 {
            return Err(ApiError::BadInput("hops must be at most 4".into()).into());
        }
        let seeds: Vec<NodeRef> = seeds.iter().map(|s| node(s)).collect::<ApiResult<_>>()?;
        for s in &seeds {
            archive(ctx, s.clone()).await?;
        }
        let f = edge_filter(&ctx.engine().clock, &kinds, None, None, min_strength)?;
        let max_nodes = max_nodes.min(5_000);
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let g = e.relations().subgraph(&seeds, hops, &f, max_nodes)?;
            let store = e.store();
            let placeholders = e.config.auth.placeholders();
            // an out-of-scope node: left out with its edges, or (by policy)
            // a numbered placeholder that says something is there, never what
            let mut hidden: std::collections::BTreeMap<NodeRef, String> = Default::default();
            let mut nodes = Vec::new();
            for (n, hop) in g.nodes {
                let visible = principal.sees(e, store, &n.node)?
                    || seeds
                        .iter()
                        .any(|s| principal.sees_beside(e, store, s, &n.node).unwrap_or(false));
                if visible {
                    let label = e.label_or(&n.node, n.label)?;
                    nodes.push(GraphNode {
                        entity: Entity::new(&n.node, label),
                        hop,
                    });
                } else {
                    let tag = format!("hidden:{}", hidden.len() + 1);
                    if placeholders {
                        nodes.push(GraphNode {
                            entity: Entity::hidden(&tag),
                            hop,
                        });
                    }
                    hidden.insert(n.node, tag);
                }
            }
            let edges = g
                .edges
                .iter()
                .filter_map(|x| {
                    let (hf, ht) = (hidden.get(&x.key.from), hidden.get(&x.key.to));
                    if (hf.is_some() || ht.is_some()) && !placeholders {
                        return None;
                    }
                    Some(edge_hiding(&e.clock, x, hf.cloned(), ht.cloned()))
                })
                .collect();
            Ok(Subgraph {
                nodes,
                edges,
                truncated: g.truncated,
                hidden: hidden.len(),
            })
        })
        .await?)
    }

    /// Shortest paths between two nodes (paths through nodes outside the
    /// caller's scope are left out).
    async fn paths(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default = 4)] max_hops: u32,
        #[graphql(default = 5)] max_paths: usize,
    ) -> async_graphql::Result<Vec<PathOut>> {
        let (a, b) = (node(&from)?, node(&to)?);
        if max_hops > 6 {
            return Err(ApiError::BadInput("maxHops must be at most 6".into()).into());
        }
        archive(ctx, a.clone()).await?;
        archive(ctx, b.clone()).await?;
        let f = edge_filter(&ctx.engine().clock, &kinds, None, None, 0)?;
        let principal = ctx.principal().clone();
        let max_paths = max_paths.min(50);
        Ok(blocking(ctx, move |e| {
            let ps = e
                .relations()
                .shortest_paths(&a, &b, &f, max_hops, max_paths)?;
            let store = e.store();
            let mut out = Vec::new();
            let placeholders = e.config.auth.placeholders();
            'paths: for p in ps {
                let mut hidden = Vec::new();
                for n in &p.nodes {
                    if !principal.sees(e, store, n)? {
                        if !placeholders {
                            continue 'paths;
                        }
                        hidden.push(n.clone());
                    }
                }
                let labels = e.labels(&p.nodes)?;
                let tag = |n: &NodeRef| {
                    hidden
                        .iter()
                        .position(|h| h == n)
                        .map(|i| format!("hidden:{}", i + 1))
                };
                out.push(PathOut {
                    nodes: p
                        .nodes
                        .iter()
                        .zip(labels)
                        .map(|(n, l)| match tag(n) {
                            Some(t) => Entity::hidden(&t),
                            None => Entity::new(n, l),
                        })
                        .collect(),
                    edges: p
                        .edges
                        .iter()
                        .map(|x| edge_hiding(&e.clock, x, tag(&x.key.from), tag(&x.key.to)))
                        .collect(),
                });
            }
            Ok(out)
        })
        .await?)
    }

    /// Nodes linked to every one of `nodes`, ranked by the links' strength.
    async fn common_associates(
        &self,
        ctx: &Context<'_>,
        nodes: Vec<String>,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<Vec<Associate>> {
        let ns: Vec<NodeRef> = nodes.iter().map(|s| node(s)).collect::<ApiResult<_>>()?;
        for n in &ns {
            archive(ctx, n.clone()).await?;
        }
        let f = edge_filter(&ctx.engine().clock, &kinds, None, None, 0)?;
        let limit = limit.min(ctx.max_page());
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let cs = e.relations().common_associates(&ns, &f, limit)?;
            let store = e.store();
            let nodes: Vec<NodeRef> = cs.iter().map(|c| c.node.clone()).collect();
            let labels = e.labels(&nodes)?;
            let mut out = Vec::new();
            for (c, l) in cs.into_iter().zip(labels) {
                if principal.sees(e, store, &c.node)? {
                    out.push(Associate {
                        entity: Entity::new(&c.node, l),
                        score: c.score,
                        links: c.links.iter().map(|x| edge_out(&e.clock, x)).collect(),
                    });
                }
            }
            Ok(out)
        })
        .await?)
    }

    /// The events behind one relation (`kind` between `from` and `to`, with
    /// its context for per-house relations).
    async fn evidence(
        &self,
        ctx: &Context<'_>,
        kind: String,
        from: String,
        to: String,
        #[graphql(default)] context: String,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<Vec<EvidenceItem>> {
        let kind = parse_kinds(&[kind])?[0];
        let (a, b) = (node(&from)?, node(&to)?);
        archive(ctx, a.clone()).await?;
        archive(ctx, b.clone()).await?;
        let key = graph::EdgeKey::new(kind, a, b, context);
        Ok(evidence(ctx, key, limit).await?)
    }

    /// Counts for a region (default: all in scope) over `[from, to)`:
    /// registers, events per type per day, alerts, top communities.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        from: String,
        to: String,
        #[graphql(default = 10)] top: usize,
    ) -> async_graphql::Result<Dashboard> {
        let clock = ctx.engine().clock;
        let (from_t, to_t) = (parse_time(&from, &clock)?, parse_time(&to, &clock)?);
        if to_t.0 - from_t.0 > 366 * 86_400_000 {
            return Err(ApiError::BadInput("a dashboard spans at most 366 days".into()).into());
        }
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            dashboard(e, &principal, region, from_t, to_t, top)
        })
        .await?)
    }

    /// Alerts newest first, filtered by region, kind, status and time.
    #[allow(clippy::too_many_arguments)]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default)] statuses: Vec<AlertStatus>,
        from: Option<String>,
        to: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Alert, TotalCount, EmptyFields>> {
        let first = ctx.page_size(first)?;
        let clock = ctx.engine().clock;
        let from = parse_time_opt(from.as_deref(), &clock)?;
        let to = parse_time_opt(to.as_deref(), &clock)?;
        let principal = ctx.principal().clone();
        let (page, total, more) = blocking(ctx, move |e| {
            let store = e.store();
            let mut page = Vec::new();
            let mut total = 0usize;
            let mut passed_cursor = after.is_none();
            alerts::scan(store, None, |a| {
                if from.is_some_and(|f| a.time < f) {
                    return false;
                }
                let keep = to.is_none_or(|t| a.time < t)
                    && alert_matches(&a, &principal, region.as_deref(), &kinds)
                    && (statuses.is_empty() || statuses.contains(&a.status));
                if keep {
                    total += 1;
                    if passed_cursor && page.len() <= first {
                        page.push(a.clone());
                    }
                }
                if after.as_deref() == Some(a.id.as_str()) {
                    passed_cursor = true;
                }
                true
            })?;
            let more = page.len() > first;
            page.truncate(first);
            Ok((page, total, more))
        })
        .await?;
        let mut conn =
            Connection::with_additional_fields(false, more, TotalCount { total_count: total });
        for a in &page {
            note_alert(ctx, a);
        }
        conn.edges
            .extend(page.into_iter().map(|a| Edge::new(a.id.clone(), Alert(a))));
        Ok(conn)
    }

    async fn alert(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Alert> {
        let principal = ctx.principal().clone();
        let a = blocking(ctx, move |e| match alerts::get(e.store(), &id)? {
            Some(a) if principal.sees_region(a.region.as_deref()) => Ok(a),
            _ => Err(ApiError::NotFound(format!("alert {id}"))),
        })
        .await?;
        note_alert(ctx, &a);
        Ok(Alert(a))
    }

    async fn watch_lists(&self, ctx: &Context<'_>) -> Vec<WatchList> {
        let p = ctx.principal();
        ctx.engine()
            .watch_lists()
            .into_iter()
            .filter(|l| {
                l.region.is_empty() && p.regions.is_none() || p.sees_region(Some(&l.region))
            })
            .map(WatchList)
            .collect()
    }

    async fn watch_list(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<WatchList> {
        Ok(WatchList(visible_list(ctx, &id)?))
    }

    /// What the server holds and how far projection is behind.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Json> {
        let e = Arc::clone(ctx.engine());
        Ok(async_graphql::Json(
            blocking(ctx, move |_| Ok(super::http::status_json(&e))).await?,
        ))
    }
}

type Json = async_graphql::Json<serde_json::Value>;

/// Notes an alert read, and whom it is about, for the audit entry.
pub(crate) fn note_alert(ctx: &Context<'_>, a: &alerts::Alert) {
    ctx.note(&a.id);
    if let Some(s) = &a.subject {
        ctx.note(s);
    }
}

fn feature_arg(s: &str, dim: usize) -> ApiResult<Vec<f32>> {
    feature(s, dim)
}

/// An alert the caller may see, in `region` (and below) if given, of one of
/// `kinds` if any (`device_alarm` also matches `device_alarm:smoke`).
fn alert_matches(
    a: &alerts::Alert,
    principal: &Principal,
    region: Option<&str>,
    kinds: &[String],
) -> bool {
    principal.sees_region(a.region.as_deref())
        && region.is_none_or(|r| {
            a.region
                .as_deref()
                .is_some_and(|ar| crate::server::engine::region_within(ar, r))
        })
        && (kinds.is_empty()
            || kinds
                .iter()
                .any(|k| a.kind == *k || a.kind.starts_with(&format!("{k}:"))))
}

fn visible_list(ctx: &Context<'_>, id: &str) -> ApiResult<WatchRec> {
    let p = ctx.principal();
    ctx.engine()
        .watch_lists()
        .into_iter()
        .find(|l| l.id == id && (p.regions.is_none() || p.sees_region(Some(&l.region))))
        .ok_or_else(|| ApiError::NotFound(format!("watch list {id}")))
}

fn dashboard(
    e: &Engine,
    principal: &Principal,
    region: Option<String>,
    from: Timestamp,
    to: Timestamp,
    top: usize,
) -> ApiResult<Dashboard> {
    if let Some(r) = &region {
        model::RegionCode::new(r)
            .map_err(|err| ApiError::BadInput(format!("region {r:?}: {err}")))?;
    }
    let in_scope = |r: &str| {
        principal.sees_region(Some(r))
            && region
                .as_deref()
                .is_none_or(|want| crate::server::engine::region_within(r, want))
    };
    let census = e.census();
    let picked: BTreeMap<&CommunityId, &super::engine::CommunityCensus> =
        census.iter().filter(|(_, c)| in_scope(&c.region)).collect();
    let mut d = Dashboard {
        region: region.clone().unwrap_or_default(),
        from: fmt_time(&e.clock, from),
        to: fmt_time(&e.clock, to),
        communities: picked.len() as u64,
        persons: 0,
        persons_by_household: vec![],
        persons_by_category: vec![],
        houses: 0,
        houses_by_use: vec![],
        vehicles: 0,
        devices: 0,
        events: 0,
        events_per_day: vec![],
        alerts_by_kind: vec![],
        alerts_by_status: vec![],
        false_alarm_rate: 0.0,
        top_communities: vec![],
    };
    let (mut hh, mut cat, mut uses) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for c in picked.values() {
        d.persons += c.persons;
        d.houses += c.houses;
        d.vehicles += c.vehicles;
        d.devices += c.devices;
        for (k, v) in &c.by_household {
            *hh.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.by_category {
            *cat.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.houses_by_use {
            *uses.entry(k.clone()).or_default() += v;
        }
    }
    d.persons_by_household = counts(&hh);
    d.persons_by_category = counts(&cat);
    d.houses_by_use = counts(&uses);

    // events per type per day, from the devices of the communities in scope
    let store = e.store();
    let mut devices: Vec<(model::DeviceId, CommunityId)> = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(dv) = r
            && picked.contains_key(&dv.community)
        {
            devices.push((dv.id, dv.community));
        }
        Ok(())
    })?;
    let first_day = e.clock.local_date(from);
    let last_day = e.clock.local_date(Timestamp(to.0 - 1));
    let mut per_day: BTreeMap<(chrono::NaiveDate, usize), u64> = BTreeMap::new();
    let mut per_community: BTreeMap<&CommunityId, u64> = BTreeMap::new();
    let mut day = first_day;
    while day <= last_day {
        for (dev, c) in &devices {
            let counts = e.day_counts(store, dev, day)?;
            for (i, n) in counts.iter().enumerate() {
                if *n > 0 {
                    *per_day.entry((day, i)).or_default() += n;
                    *per_community.entry(c).or_default() += n;
                    d.events += n;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    d.events_per_day = per_day
        .into_iter()
        .map(|((day, i), n)| DayCount {
            day: day.to_string(),
            r#type: KINDS[i].as_str().to_owned(),
            count: n,
        })
        .collect();
    let mut tops: Vec<(&CommunityId, u64)> = per_community.into_iter().collect();
    tops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    d.top_communities = tops
        .into_iter()
        .take(top.min(100))
        .map(|(c, n)| CommunityCount {
            community: c.as_str().to_owned(),
            name: census.get(c).map(|c| c.name.clone()).unwrap_or_default(),
            events: n,
        })
        .collect();

    // alerts in the window
    let (mut by_kind, mut by_status) = (BTreeMap::new(), BTreeMap::new());
    let (mut handled, mut false_alarms) = (0u64, 0u64);
    alerts::scan(store, None, |a| {
        if a.time < from {
            return false;
        }
        if a.time < to && a.region.as_deref().is_some_and(&in_scope) {
            let kind = a.kind.split(':').next().unwrap_or_default().to_owned();
            *by_kind.entry(kind).or_default() += 1;
            let st = serde_json::to_value(a.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *by_status.entry(st).or_default() += 1;
            if a.status == AlertStatus::Handled {
                handled += 1;
                if a.disposition == Some(Disposition::FalseAlarm) {
                    false_alarms += 1;
                }
            }
        }
        true
    })?;
    d.alerts_by_kind = counts(&by_kind);
    d.alerts_by_status = counts(&by_status);
    d.false_alarm_rate = if handled == 0 {
        0.0
    } else {
        false_alarms as f64 / handled as f64
    };
    Ok(d)
}

// ----- mutations -------------------------------------------------------------------

#[derive(Debug, Default)]
pub struct BaseMutation;

#[Object]
impl BaseMutation {
    /// Signs an alert (new → signed): an officer has taken it.
    async fn sign_alert(
        &self,
        ctx: &Context<'_>,
        id: String,
        note: Option<String>,
    ) -> async_graphql::Result<Alert> {
        Ok(Alert(
            transition(ctx, id, AlertStatus::Signed, None, note).await?,
        ))
    }

    /// Handles an alert with a disposition (new or signed → handled).
    async fn handle_alert(
        &self,
        ctx: &Context<'_>,
        id: String,
        disposition: Disposition,
        note: Option<String>,
    ) -> async_graphql::Result<Alert> {
        Ok(Alert(
            transition(ctx, id, AlertStatus::Handled, Some(disposition), note).await?,
        ))
    }

    async fn create_watch_list(
        &self,
        ctx: &Context<'_>,
        input: WatchListInput,
    ) -> async_graphql::Result<WatchList> {
        let t = now();
        let list = WatchRec {
            id: alerts::new_watch_id(t),
            name: input.name,
            reason: input.reason,
            region: input.region,
            threshold: input.threshold,
            created: t,
            updated: t,
            persons: vec![],
            plates: vec![],
            faces: vec![],
        };
        check_list(ctx, &list)?;
        Ok(WatchList(save_list(ctx, list).await?))
    }

    async fn update_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: WatchListInput,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        list.name = input.name;
        list.reason = input.reason;
        list.region = input.region;
        list.threshold = input.threshold;
        check_list(ctx, &list)?;
        Ok(WatchList(save_list(ctx, list).await?))
    }

    async fn delete_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<bool> {
        visible_list(ctx, &id)?;
        Ok(blocking(ctx, move |e| Ok(e.delete_watch_list(&id)?)).await?)
    }

    /// Revokes several lists at once (bulk 撤控); returns how many were.
    async fn revoke_watch_lists(
        &self,
        ctx: &Context<'_>,
        ids: Vec<String>,
    ) -> async_graphql::Result<usize> {
        for id in &ids {
            visible_list(ctx, id)?;
        }
        Ok(blocking(ctx, move |e| {
            let mut n = 0;
            for id in &ids {
                n += usize::from(e.delete_watch_list(id)?);
            }
            Ok(n)
        })
        .await?)
    }

    /// Adds persons (`person:…`/`stranger:…` refs or person ids), plates
    /// and faces to a list.
    async fn add_to_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] persons: Vec<String>,
        #[graphql(default)] plates: Vec<String>,
        #[graphql(default)] faces: Vec<WatchFaceInput>,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        let dim = ctx.engine().config.deployment.face_dim;
        for p in persons {
            add_person(&mut list, &p)?;
        }
        for p in plates {
            add_plate(&mut list, &p)?;
        }
        for f in faces {
            add_face(&mut list, f.label, &f.feature, dim)?;
        }
        list.updated = now();
        Ok(WatchList(save_list(ctx, list).await?))
    }

    /// Removes persons, plates and faces (by face id) from a list.
    async fn remove_from_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] persons: Vec<String>,
        #[graphql(default)] plates: Vec<String>,
        #[graphql(default)] faces: Vec<String>,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        let persons: Vec<String> = persons
            .iter()
            .map(|p| person_ref(p))
            .collect::<ApiResult<_>>()?;
        let plates: Vec<String> = plates
            .iter()
            .map(|p| model::Plate::new(p).map(|p| p.as_str().to_owned()))
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)?;
        list.persons.retain(|p| !persons.contains(p));
        list.plates.retain(|p| !plates.contains(p));
        list.faces.retain(|f| !faces.contains(&f.id));
        list.updated = now();
        Ok(WatchList(save_list(ctx, list).await?))
    }

    /// Bulk import into a list from CSV lines `type,value[,label]` (type:
    /// `person`, `plate` or `face`; a face's value is its base64 feature).
    /// Good lines are added; bad ones are reported by line and field.
    async fn import_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        csv: String,
    ) -> async_graphql::Result<ImportResult> {
        let mut list = visible_list(ctx, &id)?;
        let dim = ctx.engine().config.deployment.face_dim;
        let mut rejected = Vec::new();
        let mut added = 0;
        for (i, line) in csv.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("type,")) {
                continue;
            }
            let cols: Vec<&str> = line.splitn(3, ',').map(str::trim).collect();
            let value = cols.get(1).copied().unwrap_or_default();
            let res = match cols[0] {
                "person" => add_person(&mut list, value),
                "plate" => add_plate(&mut list, value),
                "face" => add_face(
                    &mut list,
                    cols.get(2).copied().unwrap_or_default().to_owned(),
                    value,
                    dim,
                ),
                other => Err(ApiError::BadInput(format!(
                    "type {other:?} is not person, plate or face"
                ))),
            };
            match res {
                Ok(()) => added += 1,
                Err(err) => rejected.push(ImportProblem {
                    line: line_no,
                    field: if matches!(cols[0], "person" | "plate" | "face") {
                        "value".into()
                    } else {
                        "type".into()
                    },
                    why: err.to_string(),
                }),
            }
        }
        list.updated = now();
        let list = save_list(ctx, list).await?;
        Ok(ImportResult {
            added,
            rejected,
            list: WatchList(list),
        })
    }

    /// Runs the analysis job now (the models given, default all) over the
    /// days since the last job: tags kept, alerts raised.
    async fn run_analysis(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] models: Vec<String>,
    ) -> async_graphql::Result<AnalysisReport> {
        let models = crate::analysis_job::models(&models).map_err(ApiError::BadInput)?;
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let r = e.run_analysis(&models)?;
            // the job is the deployment's; a regional caller learns only
            // what it raised in its regions (no deployment-wide counts)
            if principal.regions.is_some() {
                return Ok(AnalysisReport {
                    days: r.days,
                    at: r.at.map(|t| fmt_time(&e.clock, t)),
                    sightings_read: 0,
                    seconds: r.secs,
                    models: Vec::new(),
                    alerts_raised: r
                        .raised
                        .iter()
                        .filter(|a| principal.sees_region(a.region.as_deref()))
                        .count(),
                });
            }
            Ok(AnalysisReport {
                days: r.days,
                at: r.at.map(|t| fmt_time(&e.clock, t)),
                sightings_read: r.read,
                seconds: r.secs,
                models: models
                    .iter()
                    .map(|m| {
                        let ap = r.applied.get(*m).cloned().unwrap_or_default();
                        ModelReport {
                            model: (*m).to_owned(),
                            active: r.active.get(m).copied().unwrap_or(0),
                            new: ap.new,
                            changed: ap.changed,
                            unchanged: ap.unchanged,
                            retired: ap.retired,
                        }
                    })
                    .collect(),
                alerts_raised: r.raised.len(),
            })
        })
        .await?)
    }

    /// Merges a stranger archive into a registered person (or another
    /// archive): its history moves with it; the merge is recorded.
    async fn merge_archive(
        &self,
        ctx: &Context<'_>,
        archive: String,
        into: String,
    ) -> async_graphql::Result<MergeResult> {
        let (a, b) = (node(&archive)?, node(&into)?);
        self::archive(ctx, a.clone()).await?;
        self::archive(ctx, b.clone()).await?;
        Ok(blocking(ctx, move |e| {
            let stats = e.merge(&a, &b)?;
            Ok(MergeResult {
                merged: a.to_string(),
                into: b.to_string(),
                events_projected_again: stats.reprojected,
            })
        })
        .await?)
    }
}

fn check_list(ctx: &Context<'_>, l: &WatchRec) -> ApiResult<()> {
    if l.name.trim().is_empty() {
        return Err(ApiError::BadInput("name: must not be empty".into()));
    }
    if !l.region.is_empty() {
        model::RegionCode::new(&l.region)
            .map_err(|e| ApiError::BadInput(format!("region: {e}")))?;
    }
    if l.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::BadInput(
            "threshold: must be between 0 and 1".into(),
        ));
    }
    let p = ctx.principal();
    if p.regions.is_some() && (l.region.is_empty() || !p.sees_region(Some(&l.region))) {
        return Err(ApiError::BadInput(
            "region: must be within the caller's regions".into(),
        ));
    }
    Ok(())
}

async fn save_list(ctx: &Context<'_>, list: WatchRec) -> ApiResult<WatchRec> {
    blocking(ctx, move |e| {
        e.put_watch_list(list.clone())?;
        Ok(list)
    })
    .await
}

fn person_ref(p: &str) -> ApiResult<String> {
    let n = if p.contains(':') {
        node(p)?
    } else {
        NodeRef::Person(model::PersonId::new(p)?)
    };
    if !n.is_individual() {
        return Err(ApiError::BadInput(format!(
            "{p:?} is not a person or stranger archive"
        )));
    }
    Ok(n.to_string())
}

fn add_person(list: &mut WatchRec, p: &str) -> ApiResult<()> {
    let r = person_ref(p)?;
    if !list.persons.contains(&r) {
        list.persons.push(r);
    }
    Ok(())
}

fn add_plate(list: &mut WatchRec, p: &str) -> ApiResult<()> {
    let p = model::Plate::new(p)?.as_str().to_owned();
    if !list.plates.contains(&p) {
        list.plates.push(p);
    }
    Ok(())
}

fn add_face(list: &mut WatchRec, label: String, f: &str, dim: usize) -> ApiResult<()> {
    let feature = feature(f, dim)?;
    let n = list.faces.len();
    list.faces.push(WatchFace {
        id: format!("{}-f{n}", list.id),
        label,
        feature,
    });
    Ok(())
}

async fn transition(
    ctx: &Context<'_>,
    id: String,
    to: AlertStatus,
    disposition: Option<Disposition>,
    note: Option<String>,
) -> ApiResult<alerts::Alert> {
    let principal = ctx.principal().clone();
    blocking(ctx, move |e| {
        let store = e.store();
        match alerts::get(store, &id)? {
            Some(a) if principal.sees_region(a.region.as_deref()) => {}
            _ => return Err(ApiError::NotFound(format!("alert {id}"))),
        }
        alerts::transition(store, &id, to, disposition, &principal.name, note, now()).map_err(
            |err| match err {
                alerts::TransitionError::NotFound => ApiError::NotFound(format!("alert {id}")),
                alerts::TransitionError::Invalid(m) => ApiError::Conflict(m),
                alerts::TransitionError::Store(s) => s.into(),
            },
        )
    })
    .await
}

// ----- subscriptions -----------------------------------------------------------------

#[derive(Debug, Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New alerts as they are raised, for a region (default: all in scope)
    /// and kinds (default: all).
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        #[graphql(default)] kinds: Vec<String>,
    ) -> async_graphql::Result<impl Stream<Item = Alert> + use<>> {
        use futures_util::StreamExt as _;
        // the guard has checked the role, taken the quota and masks the
        // stream (`server::guard`)
        let principal = ctx.principal().clone();
        // the subscription is a personal read: recorded before it starts
        let entry = super::audit::NewEntry {
            who: principal.name.clone(),
            role: principal.role.as_str().to_owned(),
            token: principal.token.clone(),
            operation: "subscription".into(),
            fields: vec!["alerts".into()],
            query: "subscription alerts".into(),
            variables: serde_json::json!({"region": region, "kinds": kinds}),
            records: vec![],
            outcome: "subscribed".into(),
        };
        ctx.engine().record(entry).await.map_err(|err| {
            tracing::error!(error = %err, "audit log write failed; subscription refused");
            ApiError::Unavailable("the request could not be recorded; try again".into())
        })?;
        let rx = ctx.engine().alerts_tx.subscribe();
        Ok(
            tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |a| {
                let keep = a
                    .ok()
                    .filter(|a| alert_matches(a, &principal, region.as_deref(), &kinds))
                    .map(Alert);
                std::future::ready(keep)
            }),
        )
    }
}
