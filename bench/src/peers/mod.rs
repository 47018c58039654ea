//! `anju bench-peers`: the workloads of `bench/run.sh`, on Anju and on the
//! systems a user would pick instead, over the same generated data.
//!
//! * `ingest`: durable ingest of the same files into a fresh Anju store and
//!   into PostgreSQL, batch by batch (a batch is acknowledged once synced),
//!   events/s and ack latency.
//! * `load`: the state Anju derives (sightings, relations) copied into
//!   PostgreSQL, with the search columns and indexes, and the relationship
//!   graph into FalkorDB.
//! * `query`: full archive, 7-day trajectory in a polygon, 1/2/3-hop
//!   neighbourhoods and shortest paths, full-text, a 30-day tagging scan —
//!   each on Anju (in process) and its peers.
//! * `http`: the full archive over GraphQL against a running `anju serve`.
//!
//! Every measurement is repeated; each run appends one JSON line per figure
//! to `--out` (`bench/report.py` turns them into the table). Latency is
//! measured one query at a time (p50, p99), throughput with `--workers`
//! clients at once (QPS). Prints; asserts nothing.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use graph::timeline::{self, Area, TrajectoryParams};
use graph::{EdgeFilter, RelationStore, RocksStore};
use model::{BaseKind, BaseRecord, LonLat, NodeRef, Timestamp};
use rand::SeedableRng;
use rand::seq::IndexedRandom;

use crate::relations::{all_persons, path_targets, percentile};
use server::config::Config;
use server::graphs::Backend;
use server::say;

mod falkor;
mod pg;

#[derive(Debug, Subcommand)]
pub enum PeersCmd {
    Ingest(IngestArgs),
    Load(LoadArgs),
    Query(QueryArgs),
    Http(HttpArgs),
}

/// Where figures go and what they are of.
#[derive(Debug, Args)]
pub struct Common {
    /// JSON Lines file the figures are appended to.
    #[arg(long)]
    out: PathBuf,
    /// Name of the dataset (`town`, `large`).
    #[arg(long)]
    size: String,
    /// Runs of each measurement (the report shows their median, min, max).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    common: Common,
    /// The dataset (as written by `anju fixtures`).
    #[arg(long)]
    data: PathBuf,
    /// PostgreSQL connection string.
    #[arg(long)]
    pg: String,
    /// Records per durable batch (the bound on acknowledgement latency).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Scratch directory for the Anju stores of the runs.
    #[arg(long)]
    scratch: PathBuf,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    pg: String,
    #[arg(long)]
    falkor: String,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    pg: String,
    #[arg(long)]
    falkor: String,
    /// A configuration with `graph.backend = "neo4j"` whose database holds
    /// the same graph (`anju graph copy`): the graph workloads run there too.
    #[arg(long)]
    neo4j_config: Option<PathBuf>,
    #[command(flatten)]
    sampling: Sampling,
    /// Only these workloads (archive, trajectory, graph, text, tagging).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    #[command(flatten)]
    common: Common,
    /// The server's GraphQL endpoint.
    #[arg(long)]
    url: String,
    /// A bearer token (admin).
    #[arg(long)]
    token: String,
    /// The server's `auth.audit_sync_ms` (names the rows).
    #[arg(long, default_value_t = 0)]
    audit_sync_ms: u64,
    #[command(flatten)]
    sampling: Sampling,
}

/// Which subjects are queried, and by how many clients at once.
#[derive(Debug, Args)]
pub struct Sampling {
    /// Queries per workload (persons sampled with `--seed`).
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Clients at once for the throughput pass.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(config: &Config, cmd: PeersCmd) -> Result<ExitCode> {
    match cmd {
        PeersCmd::Ingest(a) => ingest(config, a),
        PeersCmd::Load(a) => load(config, a),
        PeersCmd::Query(a) => query(config, a),
        PeersCmd::Http(a) => http(config, a),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Appends figures to the output file.
struct Out<'a> {
    common: &'a Common,
}

impl Out<'_> {
    /// One figure: its runs, and whether higher or lower is better.
    fn figure(
        &self,
        workload: &str,
        system: &str,
        metric: &str,
        runs: &[f64],
        note: &str,
    ) -> Result<()> {
        let better = if metric.ends_with("ms") || metric.ends_with(" s") {
            "lower"
        } else {
            "higher"
        };
        let line = serde_json::json!({
            "size": self.common.size, "workload": workload, "system": system,
            "metric": metric, "better": better, "runs": runs, "note": note,
        });
        let mut sorted = runs.to_vec();
        sorted.sort_by(f64::total_cmp);
        say!(
            "{:<8} {:<34} {:<28} {:<12} median {:>10.3} (min {:.3}, max {:.3}) {note}",
            self.common.size,
            workload,
            system,
            metric,
            percentile(&sorted, 0.5),
            sorted.first().copied().unwrap_or(0.0),
            sorted.last().copied().unwrap_or(0.0),
        );
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.common.out)
            .with_context(|| self.common.out.display().to_string())?;
        writeln!(f, "{line}")?;
        Ok(())
    }

    /// p50, p99 and QPS of a measured workload.
    fn latencies(&self, workload: &str, system: &str, m: &Measured, note: &str) -> Result<()> {
        let note = format!(
            "{note}{}mean answer size {:.1}",
            if note.is_empty() { "" } else { "; " },
            m.size
        );
        self.figure(workload, system, "p50 ms", &m.p50, &note)?;
        self.figure(workload, system, "p99 ms", &m.p99, &note)?;
        self.figure(workload, system, "qps", &m.qps, &note)
    }
}

/// The figures of a workload over its runs.
#[derive(Debug, Default)]
struct Measured {
    p50: Vec<f64>,
    p99: Vec<f64>,
    qps: Vec<f64>,
    /// Mean size of an answer (rows, nodes, points), to check that the
    /// systems answer alike.
    size: f64,
}

/// Runs `f` over `inputs`, `repeats` times: a warm-up, then one query at a
/// time (latencies), then `workers` clients at once, each with a client of
/// its own from `open` (throughput).
fn measure<I: Sync, C: Send>(
    inputs: &[I],
    workers: usize,
    repeats: usize,
    open: &(dyn Fn() -> Result<C> + Sync),
    f: &(dyn Fn(&mut C, &I) -> Result<usize> + Sync),
) -> Result<Measured> {
    let mut m = Measured::default();
    let mut client = open()?;
    // one untimed pass over every input: each system answers from its
    // caches warmed the same way (a first, cold pass over a store larger
    // than its cache would measure the disk, on one side or the other)
    for i in inputs {
        f(&mut client, i)?;
    }
    for _ in 0..repeats.max(1) {
        let mut ms = Vec::with_capacity(inputs.len());
        let mut total = 0usize;
        for i in inputs {
            let t0 = Instant::now();
            total += f(&mut client, i)?;
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        m.p50.push(percentile(&ms, 0.5));
        m.p99.push(percentile(&ms, 0.99));
        m.size = total as f64 / inputs.len().max(1) as f64;
        let t0 = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let parts: Vec<_> = (0..workers.max(1))
                .map(|w| {
                    s.spawn(move || -> Result<()> {
                        let mut c = open()?;
                        for i in inputs.iter().skip(w).step_by(workers.max(1)) {
                            f(&mut c, i)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for p in parts {
                p.join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??;
            }
            Ok(())
        })?;
        m.qps
            .push(inputs.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9));
    }
    Ok(m)
}

fn ingest(config: &Config, a: IngestArgs) -> Result<()> {
    let out = Out { common: &a.common };
    let files = ingest::pipeline::collect_files(std::slice::from_ref(&a.data))?;
    if files.is_empty() {
        bail!("no ingestible files under {}", a.data.display());
    }
    let now = Timestamp(chrono::Utc::now().timestamp_millis());
    let opts = ingest::pipeline::Options {
        parse: config.parse_config(now)?,
        batch_size: a.batch,
    };
    // the registers first, untimed: the figure is of events
    let (events, base): (Vec<PathBuf>, Vec<PathBuf>) = files.iter().cloned().partition(|f| {
        f.parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "events")
    });
    let (files, base) = if events.is_empty() {
        (base, Vec::new())
    } else {
        (events, base)
    };
    let note = format!(
        "batches of {} events, each synced before it counts; registers loaded first",
        a.batch
    );
    let (mut anju, mut peer) = (Vec::new(), Vec::new());
    let (mut anju_p99, mut peer_p99) = (Vec::new(), Vec::new());
    for r in 0..a.common.repeats.max(1) {
        let dir = a.scratch.join(format!("ingest-{r}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut cfg = config.clone();
        cfg.store.path = dir.clone();
        let mut store = RocksStore::open(&cfg.store_config())?;
        let mut sink = Timed::new(server::adapters::StoreSink {
            store: &mut store,
            failpoints: Default::default(),
            projector: None,
            projection_error: None,
        });
        let (rate, p99) = sink.run(&format!("anju run {r}"), &base, &files, &opts)?;
        anju.push(rate);
        anju_p99.push(p99);
        drop(sink);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);

        let mut client = pg::connect(&a.pg)?;
        pg::create_schema(&mut client)?;
        let mut sink = Timed::new(pg::PgSink::new(client));
        let (rate, p99) = sink.run(&format!("postgresql run {r}"), &base, &files, &opts)?;
        peer.push(rate);
        peer_p99.push(p99);
    }
    let w = "durable ingest, mixed events";
    out.figure(w, "anju (embedded store)", "events/s", &anju, &note)?;
    out.figure(w, "postgresql", "events/s", &peer, &note)?;
    out.figure(w, "anju (embedded store)", "ack p99 ms", &anju_p99, &note)?;
    out.figure(w, "postgresql", "ack p99 ms", &peer_p99, &note)?;
    Ok(())
}

struct NoProgress;
impl ingest::pipeline::Progress for NoProgress {}

/// A sink timed batch by batch: the time of each durable write is its
/// acknowledgement latency (the parser runs ahead in its own thread).
struct Timed<S> {
    inner: S,
    ms: Vec<f64>,
    secs: f64,
    events: u64,
}

impl<S: ingest::RecordSink> Timed<S> {
    /// Loads the registers untimed, then times the events; says and
    /// returns events/s and the p99 ack latency.
    fn run(
        &mut self,
        what: &str,
        base: &[PathBuf],
        files: &[PathBuf],
        opts: &ingest::pipeline::Options,
    ) -> Result<(f64, f64)> {
        ingest::pipeline::run(base, opts, &mut self.inner, &NoProgress)?;
        ingest::pipeline::run(files, opts, self, &NoProgress)?;
        let (rate, p99) = self.figures();
        say!(
            "{what}: {rate:.0} events/s, ack p99 {p99:.1} ms ({} events)",
            self.events
        );
        Ok((rate, p99))
    }
}

impl<S> Timed<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            ms: Vec::new(),
            secs: 0.0,
            events: 0,
        }
    }

    /// Events per second of write time, and the p99 ack latency.
    fn figures(&mut self) -> (f64, f64) {
        self.ms.sort_by(f64::total_cmp);
        (
            self.events as f64 / self.secs.max(1e-9),
            percentile(&self.ms, 0.99),
        )
    }
}

impl<S: ingest::RecordSink> ingest::RecordSink for Timed<S> {
    fn write(
        &mut self,
        batch: &[model::Record],
    ) -> std::result::Result<Vec<model::WriteOutcome>, ingest::SinkError> {
        let t0 = Instant::now();
        let r = self.inner.write(batch)?;
        let s = t0.elapsed().as_secs_f64();
        self.secs += s;
        self.ms.push(s * 1000.0);
        self.events += batch
            .iter()
            .filter(|r| matches!(r, model::Record::Event(_)))
            .count() as u64;
        Ok(r)
    }
}

impl<S> std::fmt::Debug for Timed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed")
            .field("events", &self.events)
            .finish()
    }
}

/// Every sighting of the store (from the devices' timelines): subject,
/// time, event, device, kind, direction.
fn for_each_sighting(
    store: &RocksStore,
    mut f: impl FnMut(&NodeRef, &timeline::Sighting),
) -> Result<()> {
    let mut devices = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(d) = r {
            devices.push(d.id);
        }
        Ok(())
    })?;
    for d in devices {
        let page = timeline::timeline(
            store,
            &NodeRef::Device(d),
            Timestamp(i64::MIN / 2),
            Timestamp(i64::MAX / 2),
            usize::MAX / 2,
            false,
        )?;
        for s in &page.items {
            for subject in &s.subjects {
                f(subject, s);
            }
        }
    }
    Ok(())
}

fn load(config: &Config, a: LoadArgs) -> Result<()> {
    let out = Out { common: &a.common };
    let store = RocksStore::open_read_only(&config.store_config())?;
    let backend = Backend::open(config, &store)?;
    let (nodes, edges) = backend.store().export()?;
    let mut c = pg::connect(&a.pg)?;
    // the registers and the tables are the timed ingest's
    if !pg::has_table(&mut c, "events")? {
        bail!(
            "PostgreSQL holds no ingested dataset (no `events` table): run `anju bench-peers ingest` on the same data first (bench/run.sh does, unless BENCH_REUSE=1)"
        );
    }
    // no query reads the timed ingest's `events` (16 GB at the large size):
    // emptied, so that the derived rows fit beside it on this disk
    c.batch_execute("TRUNCATE events, sightings, relations; DROP INDEX IF EXISTS sightings_subject_time, relations_a,
        persons_name_trgm, persons_pinyin_trgm, persons_initials, persons_id_trgm, persons_phone_trgm,
        vehicles_plate_trgm")?;
    let t0 = Instant::now();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    let mut n_sightings = 0u64;
    let mut flush = |c: &mut postgres::Client, rows: &mut Vec<Vec<Option<String>>>| -> Result<()> {
        n_sightings += pg::copy_rows(c, "sightings", rows.drain(..))?;
        Ok(())
    };
    let mut failed = None;
    for_each_sighting(&store, |subject, s| {
        rows.push(vec![
            Some(subject.to_string()),
            Some(pg::copy_time(s.time)),
            Some(s.event.to_string()),
            Some(s.device.to_string()),
            Some(s.kind.as_str().to_owned()),
            s.direction.map(|d| d.as_str().to_owned()),
        ]);
        if rows.len() >= 200_000
            && failed.is_none()
            && let Err(e) = flush(&mut c, &mut rows)
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    flush(&mut c, &mut rows)?;
    let time = |t: Option<Timestamp>| t.map(pg::copy_time);
    let n_rel = pg::copy_rows(
        &mut c,
        "relations",
        edges.iter().flat_map(|e| {
            let row = |a: &NodeRef, b: &NodeRef| {
                vec![
                    Some(a.to_string()),
                    Some(b.to_string()),
                    Some(e.key.kind.as_str().to_owned()),
                    Some(e.strength.to_string()),
                    time(e.first_seen),
                    time(e.last_seen),
                    Some(if e.historical { "t" } else { "f" }.to_owned()),
                    Some(e.detail.clone()),
                ]
            };
            [row(&e.key.from, &e.key.to), row(&e.key.to, &e.key.from)]
        }),
    )?;
    let copied = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    c.batch_execute(pg::DERIVED_INDEXES)?;
    let indexed = t1.elapsed().as_secs_f64();
    say!(
        "postgresql: {n_sightings} sightings and {n_rel} relation rows copied in {copied:.1} s, indexed (and analysed) in {indexed:.1} s"
    );
    out.figure(
        "load derived state",
        "postgresql",
        "load s",
        &[copied + indexed],
        &format!(
            "{n_sightings} sightings, {n_rel} relation rows (both directions); COPY then indexes"
        ),
    )?;

    let mut f = falkor::connect(&a.falkor)?;
    let t0 = Instant::now();
    let (n, e) = falkor::load(&mut f, &nodes, &edges)?;
    let secs = t0.elapsed().as_secs_f64();
    say!("falkordb: {n} nodes and {e} relations (each both ways) loaded in {secs:.1} s");
    out.figure(
        "load derived state",
        "falkordb",
        "load s",
        &[secs],
        &format!("{n} nodes, {e} relations (each stored both ways); UNWIND batches of 5,000"),
    )?;
    Ok(())
}

/// The full-archive GraphQL query (`bench/archive.graphql`, which
/// scripts/bench-api.sh sends too), a named operation taking the person as
/// a variable as a dashboard sends it (one text for every person, as
/// PostgreSQL's side runs prepared statements): the request [`archive_request`] makes.
const ARCHIVE_QUERY: &str = include_str!("../../../bench/archive.graphql");

/// The audit log's sync interval of the second GraphQL archive rows
/// (`auth.audit_sync_ms`; the default syncs each entry).
const AUDIT_SYNC_MS: u64 = 100;

/// The archive request's body: [`ARCHIVE_QUERY`] and the person.
fn archive_request(person: &str) -> serde_json::Value {
    serde_json::json!({ "query": ARCHIVE_QUERY, "variables": { "id": person } })
}

/// The newest event's time (the data's "now").
fn data_end(store: &RocksStore) -> Result<Timestamp> {
    Ok(store
        .log_from(store.log_len().saturating_sub(1), 1)?
        .first()
        .map(|(_, e)| Timestamp(e.time.0 + 1))
        .unwrap_or(Timestamp(0)))
}

/// The west half of the devices' extent (the trajectory workloads' area).
fn west_half(store: &RocksStore) -> Result<Vec<LonLat>> {
    let (mut lo, mut hi) = (
        LonLat {
            lon: f64::MAX,
            lat: f64::MAX,
        },
        LonLat {
            lon: f64::MIN,
            lat: f64::MIN,
        },
    );
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(d) = r
            && let Some(l) = d.location
        {
            lo = LonLat {
                lon: lo.lon.min(l.lon),
                lat: lo.lat.min(l.lat),
            };
            hi = LonLat {
                lon: hi.lon.max(l.lon),
                lat: hi.lat.max(l.lat),
            };
        }
        Ok(())
    })?;
    let mid = (lo.lon + hi.lon) / 2.0;
    Ok(vec![
        LonLat {
            lon: lo.lon - 0.01,
            lat: lo.lat - 0.01,
        },
        LonLat {
            lon: mid,
            lat: lo.lat - 0.01,
        },
        LonLat {
            lon: mid,
            lat: hi.lat + 0.01,
        },
        LonLat {
            lon: lo.lon - 0.01,
            lat: hi.lat + 0.01,
        },
    ])
}

fn ewkt(points: &[LonLat]) -> String {
    let mut s: Vec<String> = points
        .iter()
        .map(|p| format!("{} {}", p.lon, p.lat))
        .collect();
    s.push(s[0].clone());
    format!("SRID=4326;POLYGON(({}))", s.join(","))
}

fn ts(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t.0).unwrap_or_default()
}

fn wanted(only: &[String], w: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o == w)
}

fn query(config: &Config, a: QueryArgs) -> Result<()> {
    let out = Out { common: &a.common };
    let (repeats, workers) = (a.common.repeats, a.sampling.workers);
    let store = RocksStore::open_read_only(&config.store_config())?;
    let persons = all_persons(&store)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.sampling.seed);
    let sample: Vec<NodeRef> = (0..a.sampling.samples)
        .filter_map(|_| persons.choose(&mut rng).cloned())
        .collect();
    let end = data_end(&store)?;
    let week = (Timestamp(end.0 - 7 * Timestamp::MS_PER_DAY), end);
    let month = (Timestamp(end.0 - 30 * Timestamp::MS_PER_DAY), end);
    let pg_open = || -> Result<postgres::Client> { pg::connect(&a.pg) };
    same_dataset(&mut pg_open()?, &sample)?;

    if wanted(&a.only, "trajectory") {
        let clock = config.clock()?;
        let params = TrajectoryParams {
            max_points: config.trajectory.max_points,
            ..config.trajectory_params()
        };
        let polygon = west_half(&store)?;
        let area = Area::Polygon(polygon.clone());
        let m = measure(&sample, workers, repeats, &|| Ok(()), &|_, p| {
            Ok(
                timeline::trajectory(&store, p, week.0, week.1, Some(&area), &clock, &params)?
                    .points
                    .len(),
            )
        })?;
        let w = "7-day trajectory, time + polygon";
        let note = "sightings placed at their devices, inside the west half of the city";
        out.latencies(
            w,
            "anju",
            &m,
            &format!("{note}; with stays, footholds, communities"),
        )?;
        let wkt = ewkt(&polygon);
        let m = measure(
            &sample,
            workers,
            repeats,
            &|| {
                let mut c = pg_open()?;
                let st = c.prepare(pg::TRAJECTORY)?;
                Ok((c, st))
            },
            &|(c, st), p| {
                Ok(
                    c.query(&*st, &[&p.to_string(), &ts(week.0), &ts(week.1), &wkt])?
                        .len(),
                )
            },
        )?;
        out.latencies(
            w,
            "postgresql + postgis",
            &m,
            &format!("{note}; ST_Within over a GiST index, (subject, time) index"),
        )?;
    }

    if wanted(&a.only, "graph") {
        let backend = Backend::open(config, &store)?;
        let g: &dyn RelationStore = backend.store();
        let targets = path_targets(g, &sample, &persons, &mut rng)?;
        let pairs: Vec<(NodeRef, NodeRef)> = sample.iter().cloned().zip(targets).collect();
        let neo = match &a.neo4j_config {
            Some(p) => Some(Config::load(Some(p))?),
            None => None,
        };
        let neo_backend = neo.as_ref().map(|c| Backend::open(c, &store)).transpose()?;
        let mut anju: Vec<(&str, &dyn RelationStore)> = vec![("anju (rocksdb)", g)];
        if let Some(b) = &neo_backend {
            anju.push(("anju (neo4j backend on arcadedb)", b.store()));
        }
        let any = EdgeFilter::default();
        const MAX_NODES: usize = 5000;
        for (name, g) in &anju {
            let m = measure(&sample, workers, repeats, &|| Ok(()), &|_, p| {
                Ok(g.neighbours(p, &any, 100)?.total)
            })?;
            out.latencies("1-hop neighbours", name, &m, "")?;
            for hops in [2, 3] {
                let m = measure(&sample, workers, repeats, &|| Ok(()), &|_, p| {
                    Ok(g.within(std::slice::from_ref(p), hops, &any, MAX_NODES)?
                        .0
                        .len())
                })?;
                out.latencies(
                    &format!("{hops}-hop neighbourhood"),
                    name,
                    &m,
                    "distinct nodes",
                )?;
                // what the API's subgraph serves: the nodes, their records and
                // the edges among them (one more level expanded); no peer row
                let m = measure(&sample, workers, repeats, &|| Ok(()), &|_, p| {
                    Ok(g.subgraph(std::slice::from_ref(p), hops, &any, MAX_NODES)?
                        .nodes
                        .len())
                })?;
                out.latencies(
                    &format!("subgraph of {hops} hops"),
                    name,
                    &m,
                    "nodes with their records and the edges among them",
                )?;
            }
            let m = measure(&pairs, workers, repeats, &|| Ok(()), &|_, (x, y)| {
                Ok(g.shortest_paths(x, y, &any, 6, 1)?
                    .first()
                    .map_or(0, |p| p.edges.len()))
            })?;
            out.latencies("shortest path (≤ 6 hops)", name, &m, "")?;
        }
        let open = || falkor::connect(&a.falkor);
        let key = |p: &NodeRef| p.to_string();
        let m = measure(&sample, workers, repeats, &open, &|c, p| {
            falkor::neighbours(c, &key(p), 100)
        })?;
        out.latencies("1-hop neighbours", "falkordb", &m, "")?;
        for hops in [2, 3] {
            let m = measure(&sample, workers, repeats, &open, &|c, p| {
                falkor::neighbourhood(c, &key(p), hops, MAX_NODES)
            })?;
            out.latencies(
                &format!("{hops}-hop neighbourhood"),
                "falkordb",
                &m,
                "distinct nodes",
            )?;
        }
        let m = measure(&pairs, workers, repeats, &open, &|c, (x, y)| {
            falkor::shortest_path(c, &key(x), &key(y), 6)
        })?;
        out.latencies("shortest path (≤ 6 hops)", "falkordb", &m, "")?;
    }

    if wanted(&a.only, "text") {
        text(
            config, &store, &out, &sample, workers, repeats, &pg_open, &mut rng,
        )?;
    }
    if wanted(&a.only, "tagging") {
        tagging(config, &store, &out, end, repeats, &pg_open)?;
    }
    drop(store);

    if wanted(&a.only, "archive") {
        let mut cfg = config.clone();
        cfg.server.analysis_every_mins = 0;
        let engine = server::Engine::open(cfg.clone())?;
        let _stop = Stop(Arc::clone(&engine));
        let schema = server::gql::schema(Arc::clone(&engine));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let ids: Vec<String> = sample.iter().map(node_key).collect();
        let w = "full person archive";
        let note =
            "profile, houses, 8 relation groups, 20 recent sightings, 30-day trajectory summary";
        let m = measure(&ids, workers, repeats, &|| Ok(()), &|_, id| {
            archive_direct(&engine, id).map(|n| n.min(1))
        })?;
        out.latencies(
            w,
            "anju (in process, Rust API)",
            &m,
            &format!("{note}; open alerts, watch lists; the reads of the GraphQL query, no audit"),
        )?;
        let graphql = |schema: &server::gql::AnjuSchema| {
            measure(&ids, workers, repeats, &|| Ok(()), &|_, id| {
                let req: async_graphql::Request = serde_json::from_value(archive_request(id))?;
                let req = req.data(server::scope::Principal::all_regions());
                let resp = rt.block_on(schema.execute(req));
                if !resp.errors.is_empty() {
                    bail!("archive of {id}: {:?}", resp.errors);
                }
                Ok(1)
            })
        };
        out.latencies(
            w,
            "anju (in process, GraphQL)",
            &graphql(&schema)?,
            &format!("{note}; each request audited, synced before the answer"),
        )?;
        // the same with the audit log synced on an interval: the answer
        // waits for the entry's write, not for the disk
        drop((schema, _stop, engine));
        let mut cfg = cfg.clone();
        cfg.auth.audit_sync_ms = AUDIT_SYNC_MS;
        let engine = server::Engine::open(cfg)?;
        let _stop = Stop(Arc::clone(&engine));
        let schema = server::gql::schema(Arc::clone(&engine));
        out.latencies(
            w,
            &format!("anju (in process, GraphQL, audit synced every {AUDIT_SYNC_MS} ms)"),
            &graphql(&schema)?,
            &format!(
                "{note}; each request audited, written before the answer, synced within {AUDIT_SYNC_MS} ms (auth.audit_sync_ms)"
            ),
        )?;
        drop((schema, _stop, engine));
        drop(rt);
        // PostgreSQL as the GraphQL rows run: the same reads, and then (its
        // audited rows) the request recorded in an append-only table, the
        // commit synced (or, as `auth.audit_sync_ms`, flushed by the WAL
        // writer shortly after: `synchronous_commit = off`)
        let mut c = pg_open()?;
        c.batch_execute(pg::AUDIT_TABLE)?;
        drop(c);
        for audit in [None, Some(true), Some(false)] {
            let m = measure(
                &ids,
                workers,
                repeats,
                &|| {
                    let mut c = pg_open()?;
                    if audit == Some(false) {
                        c.batch_execute("SET synchronous_commit = off")?;
                    }
                    let st = pg::ARCHIVE
                        .iter()
                        .chain([&pg::AUDIT_INSERT])
                        .map(|q| c.prepare(q))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((c, st))
                },
                &|(c, st), id| {
                    let node = format!("person:{id}");
                    let window = [
                        &node as &(dyn postgres::types::ToSql + Sync),
                        &ts(month.0),
                        &ts(month.1),
                    ];
                    let person = c.query(&st[0], &[id])?;
                    let houses = c.query(&st[1], &[id])?;
                    let related = c.query(&st[2], &[&node])?;
                    let mut n = person.len() + houses.len() + related.len();
                    n += c.query(&st[3], &[&node])?.len();
                    n += c.query(&st[4], &window)?.len();
                    n += c.query(&st[5], &window)?.len();
                    n += c.query(&st[6], &window)?.len();
                    if audit.is_some() {
                        let mut records = vec![node.clone()];
                        for r in &houses {
                            records.push(r.try_get::<_, String>(3)?);
                        }
                        for r in &related {
                            records.push(r.try_get::<_, String>(1)?);
                        }
                        let variables = serde_json::json!({ "id": id });
                        c.execute(
                            &st[7],
                            &[
                                &"bench",
                                &"admin",
                                &"query Archive",
                                &ARCHIVE_QUERY,
                                &variables,
                                &records,
                            ],
                        )?;
                    }
                    Ok(n.min(1))
                },
            )?;
            let (system, how) = match audit {
                None => ("postgresql", ""),
                Some(true) => (
                    "postgresql (audited, synchronous_commit on)",
                    "; then the request, its variables and the records returned inserted into an append-only table, the commit synced",
                ),
                Some(false) => (
                    "postgresql (audited, synchronous_commit off)",
                    "; then the request, its variables and the records returned inserted into an append-only table, the commit flushed by the WAL writer (every wal_writer_delay, 200 ms; at worst three of them)",
                ),
            };
            out.latencies(
                w,
                system,
                &m,
                &format!("{note}; 7 prepared statements{how}"),
            )?;
        }
    }
    Ok(())
}

/// Refuses a PostgreSQL that holds another dataset than the store (a
/// previous run's at another size, or none): its answers would be empty and
/// its figures those of index misses.
fn same_dataset(c: &mut postgres::Client, sample: &[NodeRef]) -> Result<()> {
    let ids: Vec<String> = sample.iter().map(node_key).collect();
    let found: i64 = if pg::has_table(c, "persons")? {
        c.query_one(
            "SELECT count(DISTINCT id) FROM persons WHERE id = ANY($1)",
            &[&ids],
        )?
        .get(0)
    } else {
        0
    };
    let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
    if usize::try_from(found).unwrap_or(0) < distinct {
        bail!(
            "PostgreSQL holds another dataset than the store ({found} of {distinct} sampled persons found): run `anju bench-peers ingest` and `load` on this data first (bench/run.sh does, unless BENCH_REUSE=1)"
        );
    }
    Ok(())
}

/// The full archive read through the Rust API, as an in-process caller
/// (a batch job) reads it: the same reads the GraphQL query makes — the
/// label, the profile, every relation once (grouped as the archive groups
/// them, labels of the shown nodes), the 20 newest sightings, the 30-day
/// trajectory summary, open alerts and watch lists — without the API's
/// parsing, per-field resolution and audit entry. Returns the records
/// read.
fn archive_direct(e: &server::Engine, id: &str) -> Result<usize> {
    use model::RelKind as K;
    let node = NodeRef::Person(model::PersonId::new(id)?);
    let (store, g) = (e.store(), e.relations());
    let mut n = usize::from(g.node(&node)?.is_some());
    n += usize::from(store.base(BaseKind::Person, id)?.is_some());
    let all = g.neighbours(&node, &EdgeFilter::default(), usize::MAX)?;
    let groups: [(&[K], Option<bool>, usize); 7] = [
        (&[K::LivesIn, K::LivedIn], Some(true), 20),
        (&[K::Cohabitant, K::CohabitantInferred], None, 50),
        (&[K::Kin], None, 50),
        (&[K::Visitor], Some(false), 50),
        (&[K::Visitor], Some(true), 50),
        (&[K::Companion], None, 10),
        (&[K::Owns, K::Drives, K::Rides], Some(true), 50),
    ];
    for (kinds, out, limit) in groups {
        let shown: Vec<NodeRef> = all
            .items
            .iter()
            .filter(|i| kinds.contains(&i.edge.key.kind) && out.is_none_or(|o| o == i.outgoing))
            .take(limit)
            .map(|i| i.node.clone())
            .collect();
        n += g.nodes(&shown)?.into_iter().flatten().count();
    }
    let (min, max) = (Timestamp(i64::MIN), Timestamp(i64::MAX));
    n += timeline::timeline(store, &node, min, max, 21, true)?
        .items
        .len();
    let t = timeline::recent(
        store,
        &node,
        30,
        Timestamp(0),
        &e.clock,
        &e.config.trajectory_params(),
        &mut |_| Ok(true),
    )?;
    n += t.footholds.len() + t.communities.len();
    let me = node.to_string();
    server::alerts::of_subject(store, &me, |a| {
        n += usize::from(a.status != server::alerts::AlertStatus::Handled);
        true
    })?;
    n += e
        .watch_lists()
        .iter()
        .filter(|l| l.persons.contains(&me))
        .count();
    Ok(n)
}

/// Stops an engine's projector when the workload ends.
struct Stop(Arc<server::Engine>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The four full-text workloads, with queries made from the data: sampled
/// persons' names, their pinyin, partial plates of vehicles (`苏J*345`),
/// identity-number suffixes (last 4).
#[allow(clippy::too_many_arguments)]
fn text(
    config: &Config,
    store: &RocksStore,
    out: &Out<'_>,
    sample: &[NodeRef],
    workers: usize,
    repeats: usize,
    pg_open: &(dyn Fn() -> Result<postgres::Client> + Sync),
    rng: &mut impl rand::Rng,
) -> Result<()> {
    let keys: Vec<String> = sample.iter().map(node_key).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut names = Vec::new();
    let mut ids = Vec::new();
    for p in store.bases(BaseKind::Person, &keys)?.into_iter().flatten() {
        if let BaseRecord::Person(p) = p {
            if let Some(n) = p.name {
                names.push(n);
            }
            if let Some(i) = p.id_number {
                ids.push(i.as_str()[14..].to_owned());
            }
        }
    }
    let mut plates = Vec::new();
    store.for_each_base(BaseKind::Vehicle, |r| {
        if let BaseRecord::Vehicle(v) = r {
            plates.push(v.plate.to_string());
        }
        Ok(())
    })?;
    let plates: Vec<String> = (0..sample.len())
        .filter_map(|_| plates.choose(rng))
        .map(|p| crate::indexes::partial_plate(p))
        .collect();
    let pinyins: Vec<String> = names.iter().map(|n| pg::pinyin_of(n).0).collect();
    let dir = config.search_dir().join("text");
    let idx = search::TextIndex::open_reader(&dir)?;
    let workloads: [(&str, &str, &[String]); 4] = [
        ("name", "full-text: Chinese name", &names),
        ("pinyin", "full-text: pinyin", &pinyins),
        ("plate", "full-text: partial plate", &plates),
        ("id", "full-text: ID suffix (last 4)", &ids),
    ];
    for (kind, w, qs) in workloads {
        let m = measure(qs, workers, repeats, &|| Ok(()), &|_, q| {
            Ok(idx
                .search(&search::TextQuery {
                    text: q,
                    limit: 20,
                    ..Default::default()
                })?
                .total)
        })?;
        out.latencies(w, "anju (tantivy)", &m, "20 best, total and facets")?;
        let sql = pg::text_sql(kind);
        let m = measure(
            qs,
            workers,
            repeats,
            &|| {
                let mut c = pg_open()?;
                let st = c.prepare(sql)?;
                Ok((c, st))
            },
            &|(c, st), q| {
                let q = if kind == "plate" {
                    q.replace('*', "%")
                } else {
                    q.clone()
                };
                let rows = c.query(&*st, &[&q])?;
                Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as usize))
            },
        )?;
        out.latencies(
            w,
            "postgresql (pg_trgm)",
            &m,
            "20 best and total; GIN trigram indexes",
        )?;
    }
    Ok(())
}

/// SQL of the four tagging models at `$1` (the day end), over the same
/// windows and thresholds as Anju's defaults.
fn tagging_sql(p: &analysis::Params, tz: &str) -> [(&'static str, String); 4] {
    let night = "(extract(hour FROM lt) >= 22 OR extract(hour FROM lt) < 5)";
    let day = "(CASE WHEN extract(hour FROM lt) < 5 THEN lt::date - 1 ELSE lt::date END)";
    let residents =
        "SELECT DISTINCT 'person:' || r.person AS subject, h.community FROM residences r
        JOIN houses h ON h.id = r.house
        WHERE (r.since IS NULL OR r.since <= $1::timestamptz) AND (r.until IS NULL OR r.until > $1::timestamptz)
          AND NOT (r.role = 'owner' AND h.usage IS NOT DISTINCT FROM 'rent')";
    [
        ("nocturnal", format!(
            "WITH s AS (SELECT subject, time AT TIME ZONE '{tz}' AS lt FROM sightings
                 WHERE time >= $1::timestamptz - interval '{} days' AND time < $1::timestamptz
                   AND NOT (subject LIKE 'vehicle:%' AND kind <> 'vehicle_pass')),
             d AS (SELECT subject, {day} AS day, count(*) AS n, count(*) FILTER (WHERE {night}) AS night
                 FROM s GROUP BY 1, 2)
             SELECT subject FROM d WHERE night >= {} * n GROUP BY subject HAVING count(*) >= {}",
            p.nocturnal.window_days, p.nocturnal.night_share, p.nocturnal.min_days)),
        ("frequent_night_outs", format!(
            "WITH homes AS ({residents}),
             n AS (SELECT s.subject, s.direction, d.community, {day} AS night
                 FROM (SELECT *, time AT TIME ZONE '{tz}' AS lt FROM sightings
                       WHERE time >= $1::timestamptz - interval '{} days' AND time < $1::timestamptz
                         AND (subject LIKE 'person:%' OR subject LIKE 'stranger:%')) s
                 LEFT JOIN devices d ON d.id = s.device WHERE {night})
             SELECT subject FROM n
             WHERE direction = 'out'
                OR (community IS NOT NULL AND EXISTS (SELECT 1 FROM homes h WHERE h.subject = n.subject)
                    AND NOT EXISTS (SELECT 1 FROM homes h WHERE h.subject = n.subject AND h.community = n.community))
             GROUP BY subject HAVING count(DISTINCT night) >= {}",
            p.frequent_night_outs.window_days, p.frequent_night_outs.min_nights)),
        ("many_communities", format!(
            "SELECT s.subject FROM sightings s JOIN devices d ON d.id = s.device
             WHERE s.subject LIKE 'stranger:%' AND s.time >= $1::timestamptz - interval '{} days' AND s.time < $1::timestamptz
             GROUP BY s.subject HAVING count(DISTINCT d.community) >= {}",
            p.many_communities.window_days, p.many_communities.min_communities)),
        ("reclusive", format!(
            "WITH res AS (SELECT DISTINCT subject FROM ({residents}) r),
             seen AS (SELECT subject, count(DISTINCT (time AT TIME ZONE '{tz}')::date) AS days
                 FROM sightings WHERE subject LIKE 'person:%'
                   AND time >= $1::timestamptz - interval '{} days' AND time < $1::timestamptz GROUP BY subject)
             SELECT res.subject FROM res LEFT JOIN seen USING (subject)
             WHERE coalesce(seen.days, 0) <= {}",
            p.reclusive.window_days, p.reclusive.max_days)),
    ]
}

/// A 30-day tagging scan at the data's last day end: the sightings of the
/// window read once, four models judged (Anju: the analysis crate's own
/// functions; PostgreSQL: their SQL). Figures: sightings/s over the whole
/// job, and for Anju over judging alone (the window cached in memory).
fn tagging(
    config: &Config,
    store: &RocksStore,
    out: &Out<'_>,
    end: Timestamp,
    repeats: usize,
    pg_open: &(dyn Fn() -> Result<postgres::Client> + Sync),
) -> Result<()> {
    use analysis::persons;
    use analysis::profile::{Profiles, Window, residents};
    let p = &config.analysis;
    let clock = config.clock()?;
    let at = clock
        .from_local(clock.local_date(end).and_time(chrono::NaiveTime::MIN))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let window = Timestamp(at.0 - 30 * Timestamp::MS_PER_DAY);
    let (mut whole, mut judging, mut peer) = (Vec::new(), Vec::new(), Vec::new());
    let mut read = 0u64;
    let mut anju_found = std::collections::BTreeMap::new();
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        let profiles = Profiles::scan(store, window, at, None)?;
        let res = residents(store, at)?;
        let t1 = Instant::now();
        let mut homes: std::collections::BTreeMap<
            &model::PersonId,
            std::collections::BTreeSet<model::CommunityId>,
        > = Default::default();
        for r in &res {
            homes
                .entry(&r.person)
                .or_default()
                .insert(r.community.clone());
        }
        let none = Default::default();
        let noct = Window::last_days(at, p.nocturnal.window_days, clock);
        let outs = Window::last_days(at, p.frequent_night_outs.window_days, clock);
        let many = Window::last_days(at, p.many_communities.window_days, clock);
        let recl = Window::last_days(at, p.reclusive.window_days, clock);
        let mut found: std::collections::BTreeMap<&str, u64> = Default::default();
        let mut count = |f: Option<analysis::Finding>, m: &'static str| {
            if f.is_some() {
                *found.entry(m).or_default() += 1;
            }
        };
        for (subject, seen) in &profiles.by_subject {
            let passes: Vec<analysis::profile::Seen>;
            let seen_for_nocturnal = if matches!(subject, NodeRef::Vehicle(_))
                && seen.iter().any(|s| s.kind != model::EventKind::VehiclePass)
            {
                passes = seen
                    .iter()
                    .filter(|s| s.kind == model::EventKind::VehiclePass)
                    .cloned()
                    .collect();
                &passes
            } else {
                seen
            };
            count(
                persons::nocturnal(subject, seen_for_nocturnal, &noct, &p.nocturnal),
                "nocturnal",
            );
            if matches!(subject, NodeRef::Person(_) | NodeRef::Stranger(_)) {
                let home = match subject {
                    NodeRef::Person(id) => homes.get(id).unwrap_or(&none),
                    _ => &none,
                };
                count(
                    persons::frequent_night_outs(
                        subject,
                        seen,
                        home,
                        &outs,
                        &p.frequent_night_outs,
                    ),
                    "frequent_night_outs",
                );
                count(
                    persons::many_communities(subject, seen, &many, &p.many_communities),
                    "many_communities",
                );
            }
        }
        for person in homes.keys() {
            let seen = profiles.of(&NodeRef::Person((*person).clone()));
            count(
                persons::reclusive(person, seen, &recl, &p.reclusive),
                "reclusive",
            );
        }
        let t2 = Instant::now();
        // the subjects' sightings of the window (what PostgreSQL's table
        // holds too); a device timeline entry may name several subjects
        read = profiles.by_subject.values().map(|v| v.len() as u64).sum();
        whole.push(read as f64 / (t2 - t0).as_secs_f64());
        judging.push(read as f64 / (t2 - t1).as_secs_f64());
        anju_found = found.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    }
    let sql = tagging_sql(p, &config.deployment.time_zone);
    let mut c = pg_open()?;
    let in_window: i64 = c
        .query_one(
            "SELECT count(*) FROM sightings WHERE time >= $1 AND time < $2",
            &[&ts(window), &ts(at)],
        )?
        .get(0);
    let mut peer_found = std::collections::BTreeMap::new();
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        for (m, q) in &sql {
            let n = c.query(q.as_str(), &[&ts(at)])?.len() as u64;
            peer_found.insert(m.to_string(), n);
        }
        peer.push(in_window as f64 / t0.elapsed().as_secs_f64());
    }
    let note = format!(
        "nocturnal, frequent night outs, many communities, reclusive at one day end over 30 days; findings anju {anju_found:?}, postgresql {peer_found:?}"
    );
    let w = "30-day tagging job";
    out.figure(
        w,
        "anju (scan + judge)",
        "sightings/s",
        &whole,
        &format!("{read} sightings in the window; {note}"),
    )?;
    out.figure(
        w,
        "anju (judge, window cached)",
        "sightings/s",
        &judging,
        "one core",
    )?;
    out.figure(
        w,
        "postgresql",
        "sightings/s",
        &peer,
        &format!("{in_window} sightings in the window; the four models' SQL"),
    )?;
    Ok(())
}

fn http(config: &Config, a: HttpArgs) -> Result<()> {
    let out = Out { common: &a.common };
    // the same persons as the in-process archive workload, read from the
    // store the server has open: a read-only open can meet a file its
    // compaction just removed, and then tries again
    let persons = {
        let mut tries = 0;
        loop {
            let read = RocksStore::open_read_only(&config.store_config())
                .map_err(anyhow::Error::from)
                .and_then(|s| all_persons(&s));
            match read {
                Ok(p) => break p,
                Err(e) if tries < 5 => {
                    tries += 1;
                    eprintln!("reading the persons beside the server: {e}; again");
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.sampling.seed);
    let ids: Vec<String> = (0..a.sampling.samples)
        .filter_map(|_| persons.choose(&mut rng))
        .map(node_key)
        .collect();
    let open = || -> Result<reqwest::blocking::Client> { Ok(reqwest::blocking::Client::new()) };
    let m = measure(
        &ids,
        a.sampling.workers,
        a.common.repeats,
        &open,
        &|c, id| {
            let resp = c
                .post(&a.url)
                .bearer_auth(&a.token)
                .json(&archive_request(id))
                .send()?;
            let v: serde_json::Value = resp.json()?;
            if v.get("errors").is_some() {
                bail!("archive of {id}: {v}");
            }
            Ok(1)
        },
    )?;
    let (system, audit) = match a.audit_sync_ms {
        0 => (
            "anju (GraphQL over HTTP)".to_owned(),
            "audited, synced before the answer".to_owned(),
        ),
        ms => (
            format!("anju (GraphQL over HTTP, audit synced every {ms} ms)"),
            format!(
                "audited, written before the answer, synced within {ms} ms (auth.audit_sync_ms)"
            ),
        ),
    };
    out.latencies(
        "full person archive",
        &system,
        &m,
        &format!("profile, houses, 8 relation groups, 20 recent sightings, 30-day trajectory summary; token checked, {audit}"),
    )?;
    Ok(())
}

/// A node's key without its kind (`person:p1` → `p1`).
fn node_key(n: &NodeRef) -> String {
    let s = n.to_string();
    s.split_once(':').map_or(s.clone(), |(_, k)| k.to_owned())
}
