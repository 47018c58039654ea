//! `anju bench-graph`: latency of the graph queries an investigator runs, on
//! the configured backend, over the store's own data. Prints figures; asserts
//! nothing (`scripts/bench-graph.sh` runs it for RocksDB and Neo4j).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use graph::timeline::{self, TrajectoryParams};
use graph::{EdgeFilter, RelationStore, RocksStore};
use model::{BaseKind, BaseRecord, NodeRef, Timestamp};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use server::config::Config;
use server::graphs::Backend;
use server::say;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Queries per workload.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Most nodes a 2- or 3-hop neighbourhood may hold.
    #[arg(long, default_value_t = 5000)]
    max_nodes: usize,
    /// Print the figures as one JSON object too.
    #[arg(long)]
    json: bool,
}

/// Latencies of one workload, in milliseconds.
struct Figures {
    name: &'static str,
    ms: Vec<f64>,
    /// Mean size of an answer (nodes, points, path length).
    size: f64,
}

/// The `p` quantile (0–1) of sorted values (0 when there are none).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Figures {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, p)
    }

    fn mean(&self) -> f64 {
        self.ms.iter().sum::<f64>() / self.ms.len().max(1) as f64
    }
}

fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let t0 = Instant::now();
    let v = f()?;
    Ok((t0.elapsed().as_secs_f64() * 1000.0, v))
}

/// Every registered person of the store, in key order.
pub(crate) fn all_persons(store: &RocksStore) -> Result<Vec<NodeRef>> {
    let mut persons = Vec::new();
    store.for_each_base(BaseKind::Person, |r| {
        if let BaseRecord::Person(p) = r {
            persons.push(NodeRef::Person(p.id));
        }
        Ok(())
    })?;
    if persons.is_empty() {
        bail!("the store holds no persons: ingest a city first");
    }
    Ok(persons)
}

/// A path query is about two people who are linked: for each of `sample`,
/// a person 2–4 hops away when there is one, else anyone.
pub(crate) fn path_targets(
    g: &dyn RelationStore,
    sample: &[NodeRef],
    persons: &[NodeRef],
    rng: &mut impl Rng,
) -> Result<Vec<NodeRef>> {
    let any = EdgeFilter::default();
    let mut targets = Vec::new();
    for p in sample {
        let reach = g.subgraph(std::slice::from_ref(p), 4, &any, 2000)?;
        let far: Vec<&NodeRef> = reach
            .nodes
            .iter()
            .filter(|(n, d)| *d >= 2 && matches!(n.node, NodeRef::Person(_)))
            .map(|(n, _)| &n.node)
            .collect();
        targets.push(match far.choose(rng) {
            Some(t) => (*t).clone(),
            None => persons[rng.random_range(0..persons.len())].clone(),
        });
    }
    Ok(targets)
}

pub fn bench_graph(config: &Config, a: BenchArgs) -> Result<ExitCode> {
    let store = RocksStore::open_read_only(&config.store_config())?;
    let backend = Backend::open(config, &store)?;
    let g: &dyn RelationStore = backend.store();
    let persons = all_persons(&store)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let sample: Vec<NodeRef> = (0..a.samples)
        .filter_map(|_| persons.choose(&mut rng).cloned())
        .collect();
    // the last 7 days of data, from the newest event of the log
    let last = store
        .log_from(store.log_len().saturating_sub(1), 1)?
        .first()
        .map(|(_, e)| e.time)
        .unwrap_or(Timestamp(0));
    let week = (
        Timestamp(last.0 - 7 * Timestamp::MS_PER_DAY),
        Timestamp(last.0 + 1),
    );
    let clock = config.clock()?;
    let params = TrajectoryParams {
        max_points: config.trajectory.max_points,
        ..config.trajectory_params()
    };
    let any = EdgeFilter::default();
    let mut out: Vec<Figures> = Vec::new();

    let mut run =
        |name: &'static str, f: &mut dyn FnMut(&NodeRef) -> Result<usize>| -> Result<()> {
            let mut fig = Figures {
                name,
                ms: Vec::new(),
                size: 0.0,
            };
            // a warm-up pass, so that no workload pays for the caches of another
            for p in sample.iter().take(50) {
                f(p)?;
            }
            let mut total = 0usize;
            for p in &sample {
                let (ms, n) = time(|| f(p))?;
                fig.ms.push(ms);
                total += n;
            }
            fig.size = total as f64 / sample.len().max(1) as f64;
            out.push(fig);
            Ok(())
        };
    run("1-hop neighbours", &mut |p| {
        Ok(g.neighbours(p, &any, 100)?.total)
    })?;
    run("2-hop subgraph", &mut |p| {
        Ok(g.subgraph(std::slice::from_ref(p), 2, &any, a.max_nodes)?
            .nodes
            .len())
    })?;
    run("3-hop subgraph", &mut |p| {
        Ok(g.subgraph(std::slice::from_ref(p), 3, &any, a.max_nodes)?
            .nodes
            .len())
    })?;
    let targets = path_targets(g, &sample, &persons, &mut rng)?;
    let mut pairs = sample.iter().cloned().zip(targets);
    run("shortest path (≤ 6 hops)", &mut |_| {
        let (x, y) = pairs
            .next()
            .unwrap_or_else(|| (persons[0].clone(), persons[0].clone()));
        Ok(g.shortest_paths(&x, &y, &any, 6, 1)?
            .first()
            .map_or(0, |p| p.edges.len()))
    })?;
    run("7-day trajectory", &mut |p| {
        Ok(
            timeline::trajectory(&store, p, week.0, week.1, None, &clock, &params)?
                .points
                .len(),
        )
    })?;

    say!(
        "backend {} — {} persons, {} samples per workload",
        g.backend(),
        persons.len(),
        a.samples
    );
    say!(
        "{:<26} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "workload",
        "p50 ms",
        "p99 ms",
        "mean ms",
        "qps",
        "mean size"
    );
    for f in &out {
        say!(
            "{:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.0} {:>10.1}",
            f.name,
            f.pct(0.5),
            f.pct(0.99),
            f.mean(),
            1000.0 / f.mean().max(1e-6),
            f.size
        );
    }
    if a.json {
        let v: Vec<serde_json::Value> = out
            .iter()
            .map(|f| {
                serde_json::json!({"workload": f.name, "p50_ms": f.pct(0.5), "p99_ms": f.pct(0.99),
                                   "mean_ms": f.mean(), "mean_size": f.size})
            })
            .collect();
        say!(
            "{}",
            serde_json::json!({"backend": g.backend(), "figures": v})
        );
    }
    Ok(ExitCode::SUCCESS)
}
