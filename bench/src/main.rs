//! `anju-bench`: the benchmarks — relation query latency on the configured
//! backend, the face and full-text indexes, and (feature `peers`) the steps
//! of `bench/run.sh` against PostgreSQL/PostGIS, FalkorDB and the Neo4j
//! backend. Built on the server crate; nothing depends on it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use server::config::Config;

mod indexes;
#[cfg(feature = "peers")]
mod peers;
mod relations;

/// mimalloc, as the `anju` binary allocates (the figures are its).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "anju-bench", version, about = "Anju's benchmarks")]
struct Cli {
    /// Configuration file (TOML, `version = 1`); defaults apply without one.
    #[arg(long, global = true, env = "ANJU_CONFIG")]
    config: Option<PathBuf>,
    /// Store directory (overrides `store.path`).
    #[arg(long, global = true, env = "ANJU_STORE")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Latency of graph queries on the configured backend.
    Graph(relations::BenchArgs),
    /// Face index build rate, recall@10 against QPS, size.
    Faces(indexes::FaceBenchArgs),
    /// Full-text indexing rate and query latency.
    Text(indexes::TextBenchArgs),
    /// Against PostgreSQL/PostGIS, FalkorDB (and the Neo4j backend): the
    /// steps `bench/run.sh` runs.
    #[cfg(feature = "peers")]
    #[command(subcommand)]
    Peers(peers::PeersCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::term::run_main(|| run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load_with_store(cli.config.as_deref(), cli.store)?;
    match cli.command {
        Command::Graph(a) => relations::bench_graph(&config, a),
        Command::Faces(a) => indexes::bench_faces(a),
        Command::Text(a) => indexes::bench_text(a),
        #[cfg(feature = "peers")]
        Command::Peers(c) => peers::run(&config, c),
    }
}
