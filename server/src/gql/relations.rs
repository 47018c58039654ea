//! Relations: neighbours, subgraphs, paths, common associates and the
//! evidence behind an edge; entities as results name them.

use super::*;

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
pub struct Path {
    pub nodes: Vec<Entity>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Associate {
    pub entity: Entity,
    pub score: u64,
    pub links: Vec<GraphEdge>,
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
    /// The events themselves: when, where and what (one per source of
    /// each event id).
    pub details: Vec<EvidenceEvent>,
}

/// One event behind a relation, placed: time, device and community.
#[derive(Debug, Clone, SimpleObject)]
pub struct EvidenceEvent {
    pub event: String,
    pub time: String,
    pub r#type: String,
    pub device: String,
    pub device_label: String,
    pub community: Option<String>,
    pub community_label: Option<String>,
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
    e: &crate::engine::Engine,
    principal: &crate::scope::Principal,
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
    // a relation registered both ways (a spouse of b, b of a; kin as parent
    // one way and child the other) is one relation to the reader: kin is
    // one relation between two persons whatever each register calls it
    let mut twins = 0;
    let mut seen = std::collections::HashSet::new();
    for (i, label) in n.items.into_iter().zip(labels) {
        let ctx = if i.edge.key.kind == RelKind::Kin {
            String::new()
        } else {
            i.edge.key.ctx.clone()
        };
        if !seen.insert((i.edge.key.kind, i.node.clone(), ctx)) {
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

#[derive(Debug, Default)]
pub struct RelationsQuery;

#[Object]
impl RelationsQuery {
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
    ) -> async_graphql::Result<Vec<Path>> {
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
                out.push(Path {
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
}
