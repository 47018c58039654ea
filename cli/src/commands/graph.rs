//! The `anju` commands over the relationship graph: project, rebuild,
//! neighbours / subgraph / paths / common associates, timelines and
//! trajectories. Answers are printed as JSON.

use server::say;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use graph::timeline::{self, Area};
use graph::{Edge, EdgeFilter, RelationStore, RocksStore};
use model::{Clock, LonLat, NodeRef, RelKind, Timestamp};
use serde_json::{Value, json};

use server::config::Config;
use server::graphs::{Backend, Projector};

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Relation kinds, comma-separated (default: all), e.g. `companion,kin`.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Only relations seen at or after this time (RFC 3339 or YYYY-MM-DD, local).
    #[arg(long)]
    from: Option<String>,
    /// Only relations seen before this time (a date alone: to the end of
    /// that day).
    #[arg(long)]
    to: Option<String>,
    /// Minimum strength (distinct days, nights, visits or records).
    #[arg(long, default_value_t = 0)]
    min_strength: u32,
}

#[derive(Debug, Subcommand)]
pub enum GraphCmd {
    /// Neighbours of a node (`person:ID`, `vehicle:PLATE`, `house:ID`, `stranger:ID`).
    Neighbours {
        node: String,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The k-hop subgraph around one or more nodes.
    Subgraph {
        #[arg(required = true)]
        nodes: Vec<String>,
        #[arg(long, default_value_t = 2)]
        hops: u32,
        #[arg(long, default_value_t = 200)]
        max_nodes: usize,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Shortest paths between two nodes.
    Path {
        a: String,
        b: String,
        #[arg(long, default_value_t = 6)]
        max_hops: u32,
        #[arg(long, default_value_t = 5)]
        max_paths: usize,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// All the evidence behind one relation (events, with times).
    Evidence {
        /// Relation kind, e.g. `companion`.
        kind: String,
        from: String,
        to: String,
        /// The context of a per-house relation (the house id).
        #[arg(long, default_value = "")]
        ctx: String,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Copy the graph from the configured backend into the one another
    /// config names (moving a deployment from the embedded store to Neo4j):
    /// the target is cleared first. Switch the config afterwards; the
    /// projection goes on from its checkpoint.
    Copy {
        /// The config whose `[graph]` section names the target.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Operations per write batch.
        #[arg(long, default_value_t = 5000)]
        batch: usize,
    },
    /// Nodes linked to all of the given nodes.
    Common {
        #[arg(required = true, num_args = 2..)]
        nodes: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    node: String,
    /// From (inclusive; RFC 3339 or local YYYY-MM-DD); default: the beginning.
    #[arg(long)]
    from: Option<String>,
    /// To (exclusive; a date alone is the whole of that day); default: now.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[arg(long)]
    newest_first: bool,
}

#[derive(Debug, Args)]
pub struct TrajectoryArgs {
    node: String,
    /// From (inclusive); default: the beginning.
    #[arg(long)]
    from: Option<String>,
    /// To (exclusive; a date alone is the whole of that day); default: now.
    #[arg(long)]
    to: Option<String>,
    /// Keep points inside a polygon: `lon,lat;lon,lat;…` (open or closed).
    #[arg(long, conflicts_with = "radius")]
    polygon: Option<String>,
    /// Keep points within a radius: `lon,lat,meters`.
    #[arg(long)]
    radius: Option<String>,
    /// Print the trajectory as GeoJSON instead.
    #[arg(long)]
    geojson: bool,
}

fn say_json(v: &Value) {
    say!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A time argument (as the ingest contract reads times).
pub(crate) fn parse_time(s: &str, clock: &Clock) -> Result<Timestamp> {
    ingest::parse_time(s, clock).map_err(anyhow::Error::msg)
}

/// The end of a range: a date alone (`2026-10-31`) is the whole of that
/// day, so the range ends at the next local midnight.
pub(crate) fn parse_end(s: &str, clock: &Clock) -> Result<Timestamp> {
    let t = parse_time(s, clock)?;
    match chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => match d.succ_opt() {
            Some(next) => parse_time(&next.to_string(), clock),
            None => Ok(t),
        },
        Err(_) => Ok(t),
    }
}

/// A time as a person reads it: the deployment's local time with its offset.
pub(crate) fn local(clock: &Clock, t: Timestamp) -> String {
    clock
        .to_local(t)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

fn range(
    from: &Option<String>,
    to: &Option<String>,
    clock: &Clock,
) -> Result<(Timestamp, Timestamp)> {
    let from = from.as_deref().map(|s| parse_time(s, clock)).transpose()?;
    let to = to.as_deref().map(|s| parse_end(s, clock)).transpose()?;
    let now = Timestamp(chrono::Utc::now().timestamp_millis() + 1);
    Ok((from.unwrap_or(Timestamp(0)), to.unwrap_or(now)))
}

fn node(s: &str) -> Result<NodeRef> {
    NodeRef::parse(s).with_context(|| format!("node {s:?}"))
}

/// A node that exists (an unknown id is an error, not an empty answer).
fn known(store: &RocksStore, g: &dyn RelationStore, s: &str) -> Result<NodeRef> {
    let n = node(s)?;
    if !server::nodes::exists(store, g, &n)? {
        bail!("no {} {:?} in the store", n.kind().as_str(), n.key());
    }
    Ok(n)
}

fn filter(f: &FilterArgs, clock: &Clock) -> Result<EdgeFilter> {
    let mut kinds = Vec::new();
    for k in &f.kinds {
        match RelKind::parse_lenient(k.trim()) {
            Some(k) => kinds.push(k),
            None => bail!(
                "unknown relation kind {k:?} (expected one of {})",
                RelKind::expected()
            ),
        }
    }
    Ok(EdgeFilter {
        kinds,
        from: f
            .from
            .as_deref()
            .map(|s| parse_time(s, clock))
            .transpose()?,
        to: f.to.as_deref().map(|s| parse_end(s, clock)).transpose()?,
        min_strength: f.min_strength,
    })
}

fn edge_json(clock: &Clock, e: &Edge) -> Value {
    let ts = |t: Option<Timestamp>| t.map_or(Value::Null, |t| json!(local(clock, t)));
    json!({
        "kind": e.key.kind.as_str(),
        "from": e.key.from.to_string(),
        "to": e.key.to.to_string(),
        "context": e.key.ctx,
        "first_seen": ts(e.first_seen),
        "last_seen": ts(e.last_seen),
        "strength": e.strength,
        "historical": e.historical,
        "detail": e.detail,
        "evidence": e.evidence,
        "n_evidence": e.n_evidence,
    })
}

/// A node's label: the graph's, else the registers' (never empty).
fn label(store: &RocksStore, g: &dyn RelationStore, n: &NodeRef) -> Result<String> {
    match g.node(n)?.map(|n| n.label).filter(|l| !l.is_empty()) {
        Some(l) => Ok(l),
        None => Ok(server::nodes::registered_label(store, n)?),
    }
}

fn open_read(config: &Config) -> Result<RocksStore> {
    Ok(RocksStore::open_read_only(&config.store_config())?)
}

/// `anju project` and `anju rebuild`.
pub fn project(config: &Config, rebuild: bool, digest: bool) -> Result<ExitCode> {
    let store = RocksStore::open(&config.store_config())?;
    let projector = Projector::new(config, &store)?;
    let started = Instant::now();
    let p = projector.projection(&store)?;
    let (base_lag, event_lag) = p.lag()?;
    let total = if rebuild {
        store.base_log_len() + store.log_len()
    } else {
        base_lag + event_lag
    };
    let bar = server::term::bar_for(
        std::io::stderr().is_terminal(),
        total,
        "{bar:30} {pos}/{len} records {elapsed} {msg}",
    );
    let show = |s: &graph::project::ProjectStats| {
        bar.set_position(s.base_records + s.events);
        bar.set_message(format!("{} graph changes", s.graph_ops));
    };
    let stats = if rebuild {
        p.rebuild(show)?
    } else {
        p.catch_up(show)?
    };
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    drop(p);
    let texts = if rebuild {
        projector.texts.rebuild(&store)?
    } else {
        projector.texts.catch_up(&store)?
    };
    store.flush()?;
    say!(
        "{} {} base records and {} events ({} projected again) in {elapsed:.1} s: {:.0} events/s, {} graph changes{}",
        if rebuild { "rebuilt from" } else { "projected" },
        stats.base_records,
        stats.events,
        stats.reprojected,
        stats.events as f64 / elapsed.max(1e-3),
        stats.graph_ops,
        if rebuild {
            String::new()
        } else {
            format!(" (was behind by {base_lag} base records, {event_lag} events)")
        }
    );
    say!(
        "full-text: {texts} base records indexed, {} documents; faces: {} archives, {} vectors",
        projector.texts.index.num_docs(),
        projector.matcher.index.stats().entities,
        projector.matcher.index.stats().vectors,
    );
    let g = projector.backend.store();
    let (nodes, per_kind) = g.counts()?;
    let per_kind: std::collections::BTreeMap<&str, u64> =
        per_kind.into_iter().map(|(k, n)| (k.as_str(), n)).collect();
    say!(
        "graph ({}): {nodes} nodes, {} relations {per_kind:?}",
        g.backend(),
        per_kind.values().sum::<u64>()
    );
    if digest {
        say!("derived digest {}", graph::derived_digest(&store, g)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn graph(config: &Config, cmd: GraphCmd) -> Result<ExitCode> {
    if let GraphCmd::Copy { to, batch } = &cmd {
        return copy(config, to, *batch);
    }
    let store = open_read(config)?;
    let backend = Backend::open(config, &store)?;
    let g = backend.store();
    let clock = config.clock()?;
    let out = match cmd {
        GraphCmd::Neighbours {
            node: n,
            filter: f,
            limit,
        } => {
            let n = known(&store, g, &n)?;
            let r = g.neighbours(&n, &filter(&f, &clock)?, limit)?;
            let items = r
                .items
                .iter()
                .map(|i| {
                    Ok(json!({
                        "node": i.node.to_string(),
                        "label": label(&store, g, &i.node)?,
                        "outgoing": i.outgoing,
                        "relation": edge_json(&clock, &i.edge),
                    }))
                })
                .collect::<Result<Vec<_>>>()?;
            json!({"node": n.to_string(), "label": label(&store, g, &n)?, "total": r.total, "more": r.more, "items": items})
        }
        GraphCmd::Subgraph {
            nodes,
            hops,
            max_nodes,
            filter: f,
        } => {
            let seeds = nodes
                .iter()
                .map(|s| known(&store, g, s))
                .collect::<Result<Vec<_>>>()?;
            let s = g.subgraph(&seeds, hops, &filter(&f, &clock)?, max_nodes)?;
            let mut ns = Vec::new();
            for (n, d) in &s.nodes {
                let l = if n.label.is_empty() {
                    server::nodes::registered_label(&store, &n.node)?
                } else {
                    n.label.clone()
                };
                ns.push(json!({"id": n.node.to_string(), "kind": n.node.kind().as_str(), "label": l, "hops": d}));
            }
            json!({
                "nodes": ns,
                "edges": s.edges.iter().map(|e| edge_json(&clock, e)).collect::<Vec<_>>(),
                "truncated": s.truncated,
            })
        }
        GraphCmd::Path {
            a,
            b,
            max_hops,
            max_paths,
            filter: f,
        } => {
            let paths = g.shortest_paths(
                &known(&store, g, &a)?,
                &known(&store, g, &b)?,
                &filter(&f, &clock)?,
                max_hops,
                max_paths,
            )?;
            json!({"paths": paths.iter().map(|p| json!({
                "length": p.edges.len(),
                "nodes": p.nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                "edges": p.edges.iter().map(|e| edge_json(&clock, e)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()})
        }
        GraphCmd::Evidence {
            kind,
            from,
            to,
            ctx,
            limit,
        } => {
            let Some(kind) = RelKind::parse_lenient(&kind) else {
                bail!(
                    "unknown relation kind {kind:?} (expected one of {})",
                    RelKind::expected()
                );
            };
            let (a, b) = (known(&store, g, &from)?, known(&store, g, &to)?);
            // landlord_of is tenant_of read from the landlord
            let key = graph::EdgeKey::new(kind, a, b, ctx);
            let edge = g.edge(&key)?;
            let items = graph::project::evidence(&store, &key, limit)?;
            json!({
                "relation": edge.as_ref().map(|e| edge_json(&clock, e)),
                "evidence": items.iter().map(|e| json!({
                    "day": e.day.to_string(), "time": local(&clock, e.time), "events": e.events,
                })).collect::<Vec<_>>(),
            })
        }
        GraphCmd::Copy { .. } => unreachable!("handled above"),
        GraphCmd::Common {
            nodes,
            limit,
            filter: f,
        } => {
            let ns = nodes
                .iter()
                .map(|s| known(&store, g, s))
                .collect::<Result<Vec<_>>>()?;
            let common = g.common_associates(&ns, &filter(&f, &clock)?, limit)?;
            json!({"common": common.iter().map(|c| Ok(json!({
                "node": c.node.to_string(),
                "label": label(&store, g, &c.node)?,
                "score": c.score,
                "links": c.links.iter().map(|e| edge_json(&clock, e)).collect::<Vec<_>>(),
            }))).collect::<Result<Vec<_>>>()?})
        }
    };
    say_json(&out);
    Ok(ExitCode::SUCCESS)
}

/// `anju graph copy --to CONFIG`.
fn copy(config: &Config, to: &std::path::Path, batch: usize) -> Result<ExitCode> {
    let store = open_read(config)?;
    let source = Backend::open(config, &store)?;
    let mut target_config = Config::load(Some(to))?;
    target_config.store.path = config.store.path.clone();
    let target = Backend::open(&target_config, &store)?;
    let (src, dst) = (source.store(), target.store());
    if src.backend() == dst.backend() && src.backend() == "rocksdb" {
        bail!("source and target are the same embedded graph");
    }
    let started = Instant::now();
    let (nodes, edges) = src.export()?;
    let read = started.elapsed().as_secs_f64();
    dst.clear()?;
    let ops: Vec<graph::GraphOp> = nodes
        .into_iter()
        .map(graph::GraphOp::Node)
        .chain(edges.into_iter().map(graph::GraphOp::Upsert))
        .collect();
    let bar = server::term::bar_for(
        std::io::stderr().is_terminal(),
        ops.len() as u64,
        "{bar:30} {pos}/{len} {elapsed}",
    );
    let t0 = Instant::now();
    for chunk in ops.chunks(batch.max(1)) {
        dst.apply(chunk)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let written = t0.elapsed().as_secs_f64();
    let (n, per) = dst.counts()?;
    say!(
        "copied {} nodes and {} relations from {} to {} in {:.1} s (read {read:.1} s, wrote {written:.1} s: {:.0} operations/s)",
        n,
        per.values().sum::<u64>(),
        src.backend(),
        dst.backend(),
        started.elapsed().as_secs_f64(),
        ops.len() as f64 / written.max(1e-3)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn timeline(config: &Config, a: TimelineArgs) -> Result<ExitCode> {
    let store = open_read(config)?;
    let backend = Backend::open(config, &store)?;
    let clock = config.clock()?;
    let (from, to) = range(&a.from, &a.to, &clock)?;
    let n = known(&store, backend.store(), &a.node)?;
    let page = timeline::timeline(&store, &n, from, to, a.limit, a.newest_first)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|s| {
            json!({
                "time": local(&clock, s.time),
                "event": s.event.as_str(),
                "kind": s.kind.as_str(),
                "device": s.device.as_str(),
                "direction": s.direction.map(|d| d.as_str()),
                "role": s.role.as_str(),
                "subjects": s.subjects.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    say_json(&json!({"node": a.node, "items": items, "more": page.more}));
    Ok(ExitCode::SUCCESS)
}

fn parse_area(a: &TrajectoryArgs) -> Result<Option<Area>> {
    let num = |s: &str| -> Result<f64> {
        s.trim()
            .parse::<f64>()
            .with_context(|| format!("{s:?} is not a number"))
    };
    if let Some(p) = &a.polygon {
        let ring = p
            .split(';')
            .map(|pt| {
                let (lon, lat) = pt
                    .split_once(',')
                    .with_context(|| format!("polygon point {pt:?} is not lon,lat"))?;
                Ok(LonLat {
                    lon: num(lon)?,
                    lat: num(lat)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(Some(Area::Polygon(ring)));
    }
    if let Some(r) = &a.radius {
        let parts: Vec<&str> = r.split(',').collect();
        let [lon, lat, m] = parts.as_slice() else {
            bail!("radius {r:?} is not lon,lat,meters");
        };
        return Ok(Some(Area::Radius {
            center: LonLat {
                lon: num(lon)?,
                lat: num(lat)?,
            },
            meters: num(m)?,
        }));
    }
    Ok(None)
}

pub fn trajectory(config: &Config, a: TrajectoryArgs) -> Result<ExitCode> {
    let store = open_read(config)?;
    let backend = Backend::open(config, &store)?;
    let clock = config.clock()?;
    let (from, to) = range(&a.from, &a.to, &clock)?;
    let area = parse_area(&a)?;
    let n = known(&store, backend.store(), &a.node)?;
    let t = timeline::trajectory(
        &store,
        &n,
        from,
        to,
        area.as_ref(),
        &clock,
        &config.trajectory_params(),
    )?;
    if a.geojson {
        say_json(&t.geojson(&clock));
        return Ok(ExitCode::SUCCESS);
    }
    say_json(&json!({
        "node": a.node,
        "n_points": t.points.len(),
        "points": t.points.iter().map(|p| json!({
            "time": local(&clock, p.time), "event": p.event.as_str(), "device": p.device.as_str(),
            "community": p.community.as_ref().map(|c| c.as_str()), "lon": p.lon, "lat": p.lat,
        })).collect::<Vec<_>>(),
        "unplaced": t.unplaced,
        "truncated": t.truncated,
        "stays": t.stays.iter().map(|s| json!({
            "start": local(&clock, s.start), "end": local(&clock, s.end), "n_sightings": s.n_sightings,
            "community": s.community.as_ref().map(|c| c.as_str()), "lon": s.lon, "lat": s.lat,
        })).collect::<Vec<_>>(),
        "footholds": t.footholds.iter().map(|f| json!({
            "community": f.community.as_str(), "nights": f.nights, "last_night": f.last_night.to_string(),
        })).collect::<Vec<_>>(),
        "communities": t.communities.iter().map(|c| json!({
            "community": c.community.as_str(), "days": c.days, "sightings": c.sightings,
        })).collect::<Vec<_>>(),
        "by_hour": t.by_hour,
    }));
    Ok(ExitCode::SUCCESS)
}
