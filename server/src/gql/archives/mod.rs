//! Archives (全息档案): a person, stranger archive, house, vehicle,
//! community or device in one query, an event, and merging a stranger
//! archive into a person.

mod events;
mod object;
mod profiles;

pub use events::*;
pub use profiles::*;

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct MergeResult {
    pub merged: String,
    pub into: String,
    pub events_projected_again: u64,
}

/// Sightings an archive's trajectory summary reads on the calling task (a
/// bounded read: ~1 µs each); a subject with more in range is summarised on
/// the blocking pool.
const QUICK_POINTS: usize = 256;

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
            let mut sources = Vec::new();
            let ids: &[String] = if ev.events[0] == ev.events[1] {
                &ev.events[..1]
            } else {
                &ev.events[..]
            };
            for id in ids {
                // every source that used the id (usually one)
                for x in store.events_with_id(id.as_str())? {
                    visible &= principal.sees_at(e, store, &x.device, &ends)?;
                    sources.push(x);
                }
            }
            if visible {
                kept.push((ev, sources));
            }
        }
        let mut out = Vec::with_capacity(kept.len());
        for (ev, sources) in kept {
            let mut details = Vec::with_capacity(sources.len());
            for x in sources {
                let community = e.device_place(store, &x.device)?.map(|(c, _)| c);
                let mut nodes = vec![NodeRef::Device(x.device.clone())];
                nodes.extend(community.clone().map(NodeRef::Community));
                let mut labels = e.labels(&nodes)?.into_iter();
                details.push(EvidenceEvent {
                    event: x.id.as_str().to_owned(),
                    time: fmt_time(&e.clock, x.time),
                    r#type: x.kind().as_str().to_owned(),
                    device: x.device.as_str().to_owned(),
                    device_label: labels.next().unwrap_or_default(),
                    community: community.map(|c| c.as_str().to_owned()),
                    community_label: labels.next(),
                });
            }
            out.push(EvidenceItem {
                day: Some(ev.day.to_string()),
                time: Some(fmt_time(&e.clock, ev.time)),
                events: if ev.events[0] == ev.events[1] {
                    vec![ev.events[0].clone()]
                } else {
                    ev.events.to_vec()
                },
                records: Vec::new(),
                details,
            });
        }
        if out.is_empty()
            && let Some(edge) = e.relations().edge(&key)?
        {
            out.push(EvidenceItem {
                day: None,
                time: edge.first_seen.map(|t| fmt_time(&e.clock, t)),
                events: Vec::new(),
                records: edge.evidence.into_iter().take(limit).collect(),
                details: Vec::new(),
            });
        }
        Ok(out)
    })
    .await
}

/// An analysis model's tag on the subject.
#[derive(Debug, Clone, SimpleObject)]
pub struct Tag {
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

#[derive(Debug, Default)]
pub struct ArchivesQuery;

#[Object]
impl ArchivesQuery {
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
    ) -> async_graphql::Result<Event> {
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
        Ok(Event(found))
    }
}

#[derive(Debug, Default)]
pub struct ArchivesMutation;

#[Object]
impl ArchivesMutation {
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
