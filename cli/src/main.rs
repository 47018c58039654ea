//! The `anju` binary: the command line over the server crate — fixtures,
//! ingest, store checks, projections, relation and search queries, the
//! analysis job, tokens and GA/T 1400 credentials, and `anju serve`.
//! Benchmarks are `anju-bench` (`bench/`).

mod commands;

/// mimalloc: a GraphQL request makes thousands of small allocations across
/// the runtime's threads, and glibc's allocator was a quarter of the
/// request's CPU outside the reads (`perf`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use ingest::pipeline::{self, Options};
use ingest::{FieldProblem, Progress, Summary};

use server::adapters::{FailPoints, StoreSink};
use server::config::Config;
use server::term::bar_for;
use server::{say, sysinfo};

#[derive(Debug, Parser)]
#[command(
    name = "anju",
    version,
    about = "Anju (安居): graph-and-search platform for safe residential communities"
)]
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ProgressMode {
    /// A bar on a terminal, nothing otherwise.
    Auto,
    Bar,
    /// One line on stdout per step (`acked records=N` per durable batch of
    /// an ingest, `judged days=N/M` per day of an analysis).
    Plain,
    None,
}

impl ProgressMode {
    /// Whether a bar is drawn (`auto`: when stderr is a terminal).
    pub(crate) fn shows_bar(self) -> bool {
        match self {
            Self::Auto => std::io::stderr().is_terminal(),
            Self::Bar => true,
            Self::Plain | Self::None => false,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a synthetic city in the ingest contract format.
    Fixtures {
        #[arg(long, default_value = "small")]
        preset: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Days of events (default: the preset's).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long)]
        out: PathBuf,
        /// First local day of events (YYYY-MM-DD).
        #[arg(long, default_value = "2026-10-01")]
        start: chrono::NaiveDate,
        /// Write `.jsonl.gz` event files.
        #[arg(long)]
        gzip: bool,
    },
    /// Ingest files or directories (`.jsonl`, `.jsonl.gz`, the CSV base files).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "auto")]
        progress: ProgressMode,
    },
    /// Print what the store holds.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Check the store's invariants (full scan) and print its content digest.
    Check,
    /// Bring timelines and relations up to date with the store (from the
    /// projection's checkpoint).
    Project {
        /// Also print a digest of timelines and graph (reads them all).
        #[arg(long)]
        digest: bool,
    },
    /// Clear timelines and relations and derive them again from the store of
    /// record.
    Rebuild {
        /// Also print a digest of timelines and graph (reads them all).
        #[arg(long)]
        digest: bool,
    },
    /// Relation queries: neighbours, subgraph, paths, common associates.
    #[command(subcommand)]
    Graph(crate::commands::graph::GraphCmd),
    /// The sightings of a person, stranger archive, vehicle, house or device.
    Timeline(crate::commands::graph::TimelineArgs),
    /// A trajectory: points, stays, footholds, communities, activity by hour.
    Trajectory(crate::commands::graph::TrajectoryArgs),
    /// Full-text search over persons, houses, vehicles, communities and
    /// devices (JSON: hits, total, facets).
    Search(crate::commands::search::SearchArgs),
    /// The face index: similar faces, figures.
    #[command(subcommand)]
    Faces(crate::commands::search::FacesCmd),
    /// Merges a stranger archive into a person (or another archive).
    Merge { archive: String, into: String },
    /// Measures stranger clustering and face attribution against a ground
    /// truth (`faces-truth.csv` of `anju fixtures`).
    EvaluateFaces { truth: PathBuf },
    /// Serves the web console, the GraphQL API and the live intake
    /// (JSON Lines and GA/T 1400) until Ctrl-C.
    Serve {
        /// Address to listen on (overrides `server.listen`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Prints the GraphQL schema (SDL).
    Schema,
    /// Bearer tokens: create, list, revoke (works while `anju serve` runs).
    #[command(subcommand)]
    Token(TokenCmd),
    /// GA/T 1400 credentials (HTTP Digest) of devices and lower platforms:
    /// add, list, remove (works while `anju serve` runs).
    #[command(subcommand)]
    Viid(ViidCmd),
    /// Runs the analysis models over the store and keeps their findings as
    /// tags (new, changed, retired); prints counts and the scan rate.
    Analyze(crate::commands::analysis::AnalyzeArgs),
    /// Compares the active tags with a ground truth (`truth.json`):
    /// precision, recall, misses and false alarms per model.
    Evaluate {
        #[arg(long)]
        truth: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::term::run_main(|| run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load_with_store(cli.config.as_deref(), cli.store)?;
    match cli.command {
        Command::Fixtures {
            preset,
            seed,
            days,
            out,
            start,
            gzip,
        } => fixtures(&config, &preset, seed, days, out, start, gzip),
        Command::Ingest { paths, progress } => ingest_cmd(&config, &paths, progress),
        Command::Stats { json } => stats(&config, json),
        Command::Check => check(&config),
        Command::Project { digest } => crate::commands::graph::project(&config, false, digest),
        Command::Rebuild { digest } => crate::commands::graph::project(&config, true, digest),
        Command::Graph(cmd) => crate::commands::graph::graph(&config, cmd),
        Command::Timeline(a) => crate::commands::graph::timeline(&config, a),
        Command::Trajectory(a) => crate::commands::graph::trajectory(&config, a),
        Command::Search(a) => crate::commands::search::search(&config, a),
        Command::Faces(c) => crate::commands::search::faces(&config, c),
        Command::Merge { archive, into } => {
            crate::commands::search::merge(&config, &archive, &into)
        }
        Command::EvaluateFaces { truth } => {
            crate::commands::search::evaluate_faces(&config, &truth)
        }
        Command::Serve { listen } => {
            server::serve(config, listen)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze(a) => crate::commands::analysis::analyze(&config, a),
        Command::Evaluate { truth } => crate::commands::analysis::evaluate(&config, &truth),
        Command::Schema => {
            say!("{}", server::gql::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(c) => token(&config, c),
        Command::Viid(c) => viid(&config, c),
    }
}

#[derive(Debug, Subcommand)]
enum ViidCmd {
    /// Adds (or replaces) the credential of a device or a lower platform
    /// and prints its secret once (the store keeps only its digests).
    Add {
        /// The user name: the device's (or platform's) 20-digit id.
        id: String,
        #[arg(long, value_enum, default_value = "device")]
        kind: server::auth::digest::CredentialKind,
        /// A platform's region codes (repeat for several).
        #[arg(long = "region")]
        regions: Vec<String>,
        /// The secret (at least 12 characters; default: a new random one).
        #[arg(long, env = "ANJU_VIID_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// Lists the credentials (ids, kinds, regions; never secrets).
    List,
    /// Removes a credential; the server refuses it from the next request.
    Remove { id: String },
}

fn viid(config: &Config, cmd: ViidCmd) -> Result<ExitCode> {
    let auth = server::auth::Auth::open(&config.auth_dir())?.with_realm(&config.auth.viid_realm);
    let creds = auth.viid();
    match cmd {
        ViidCmd::Add {
            id,
            kind,
            regions,
            secret,
        } => {
            let secret = secret.unwrap_or_else(|| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
            });
            let c = creds.put(&id, kind, regions, &secret)?;
            say!(
                "GA/T 1400 credential {} ({:?}{}), realm {:?}; its secret (shown once):",
                c.id,
                c.kind,
                if c.regions.is_empty() {
                    String::new()
                } else {
                    format!(", regions {}", c.regions.join(","))
                },
                creds.realm()
            );
            say!("{secret}");
        }
        ViidCmd::List => {
            for c in creds.list()? {
                let at = chrono::DateTime::from_timestamp(c.created, 0).unwrap_or_default();
                say!(
                    "{:<22} {:<9} {:<24} since {at}",
                    c.id,
                    format!("{:?}", c.kind).to_lowercase(),
                    c.regions.join(",")
                );
            }
        }
        ViidCmd::Remove { id } => {
            if !creds.remove(&id)? {
                bail!("no GA/T 1400 credential {id} (see `anju viid list`)");
            }
            say!("removed {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Signs a new token and prints it (only once; it is not stored).
    Create {
        #[arg(long, value_enum)]
        role: server::auth::Role,
        /// Region code in scope (repeat for several; none for admin).
        #[arg(long = "region")]
        regions: Vec<String>,
        /// Who holds it, as the audit log will show (default: role@region).
        #[arg(long)]
        name: Option<String>,
        /// A device token's device id.
        #[arg(long)]
        device: Option<String>,
        /// The holder (as `anju token list` shows it) a new token is for —
        /// a renewal: grants and saved investigations are the holder's.
        /// Default: a new holder, whatever the name.
        #[arg(long)]
        holder: Option<String>,
        /// Lifetime (`8h`, `30d`; default `auth.default_ttl`).
        #[arg(long)]
        ttl: Option<String>,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Lists issued tokens (ids, holders, roles, expiry, revocation).
    List,
    /// Revokes a token by id; the server refuses it from the next request.
    Revoke { id: String },
}

fn token(config: &Config, cmd: TokenCmd) -> Result<ExitCode> {
    let auth = server::auth::Auth::open(&config.auth_dir())?;
    match cmd {
        TokenCmd::Create {
            role,
            regions,
            name,
            device,
            holder,
            ttl,
            quiet,
        } => {
            let ttl = server::auth::parse_ttl(
                ttl.as_deref().unwrap_or(&config.auth.default_ttl),
                &config.auth.max_ttl,
            )?;
            let name = name.unwrap_or_else(|| {
                let place = device.clone().or_else(|| regions.first().cloned());
                match place {
                    Some(p) => format!("{}@{p}", role.as_str()),
                    None => role.as_str().to_owned(),
                }
            });
            let (t, c) = auth.issue_for(holder.as_deref(), &name, role, regions, device, ttl)?;
            if quiet {
                say!("{t}");
            } else {
                let exp = chrono::DateTime::from_timestamp(c.exp, 0).unwrap_or_default();
                say!(
                    "token {} for {} (holder {}, {}), expires {exp}:",
                    c.jti,
                    c.sub,
                    c.holder(),
                    role.as_str()
                );
                say!("{t}");
                say!("use it as:  Authorization: Bearer <token>");
            }
        }
        TokenCmd::List => {
            for (c, revoked) in auth.issued()? {
                let exp = chrono::DateTime::from_timestamp(c.exp, 0).unwrap_or_default();
                say!(
                    "{}  {:<24} {:<20} {:<9} {:<24} expires {exp}{}",
                    c.jti,
                    c.sub,
                    c.holder(),
                    c.role.as_str(),
                    c.device.clone().unwrap_or_else(|| c.regions.join(",")),
                    if revoked { "  REVOKED" } else { "" }
                );
            }
        }
        TokenCmd::Revoke { id } => {
            if !auth.revoke(&id)? {
                bail!("no token {id} was issued here (see `anju token list`)");
            }
            say!("revoked {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fixtures(
    config: &Config,
    preset: &str,
    seed: u64,
    days: Option<u32>,
    out: PathBuf,
    start: chrono::NaiveDate,
    gzip: bool,
) -> Result<ExitCode> {
    let Some(p) = fixtures::Preset::parse(preset) else {
        bail!("unknown preset {preset:?} (expected small, town, city, metro or province)")
    };
    let mut cfg = fixtures::FixtureConfig::new(p, seed, &out);
    cfg.days = days.unwrap_or(p.default_days());
    cfg.start = start;
    cfg.gzip = gzip;
    cfg.face_dim = config.deployment.face_dim;
    cfg.clock = config.clock()?;
    let t0 = Instant::now();
    let bar = bar_for(
        std::io::stderr().is_terminal(),
        u64::from(cfg.days),
        "{bar:30} day {pos}/{len} {msg}",
    );
    let g = fixtures::generate(&cfg, |_, n| {
        bar.inc(1);
        bar.set_message(format!("{n} events"));
    })?;
    bar.finish_and_clear();
    say!(
        "wrote {} persons, {} events ({} lines with re-sent duplicates) in {} files to {} in {:.1} s",
        g.n_persons,
        g.n_events,
        g.n_event_lines,
        g.files.len() + 1,
        out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reports rejects as `file:line: field: why` and shows progress.
struct IngestProgress {
    bar: indicatif::ProgressBar,
    plain: bool,
    started: Instant,
}

impl Progress for IngestProgress {
    fn rejected(&self, source: &Path, line: u64, problems: &[FieldProblem]) {
        self.bar.suspend(|| {
            for p in problems {
                eprintln!("{}:{line}: {}: {}", source.display(), p.field, p.why);
            }
        });
    }

    fn acknowledged(&self, s: &Summary) {
        let t = s.total();
        let done = t.acknowledged();
        if self.plain {
            say!("acked records={done}");
        }
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_position(s.bytes_read);
        self.bar.set_message(format!(
            "{done} records, {rate:.0}/s, {} rejected",
            t.rejected
        ));
    }
}

fn ingest_cmd(config: &Config, paths: &[PathBuf], mode: ProgressMode) -> Result<ExitCode> {
    let files = pipeline::collect_files(paths)?;
    if files.is_empty() {
        bail!("no ingestible files under {paths:?}");
    }
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let failpoints = match std::env::var("ANJU_FAILPOINTS") {
        Ok(spec) => FailPoints::parse(&spec).map_err(anyhow::Error::msg)?,
        Err(_) => FailPoints::default(),
    };
    let now = model::Timestamp(chrono::Utc::now().timestamp_millis());
    let opts = Options {
        parse: config.parse_config(now)?,
        batch_size: config.ingest.batch_size,
    };
    std::fs::create_dir_all(&config.store.path)
        .with_context(|| format!("creating {}", config.store.path.display()))?;
    let mut store = graph::RocksStore::open(&config.store_config())?;
    let started = Instant::now();
    let progress = IngestProgress {
        bar: bar_for(
            mode.shows_bar(),
            total_bytes,
            "{bar:30} {bytes}/{total_bytes} {elapsed} {msg}",
        ),
        plain: matches!(mode, ProgressMode::Plain),
        started,
    };
    // the graph backend being down must not stop intake: the records are
    // stored and acknowledged, and the projection catches up later
    let mut projection_error = None;
    let mut projector = if config.graph.maintain_on_ingest {
        let opened = server::graphs::Projector::new(config, &store).and_then(|p| {
            // a crash may have left the projection behind the store
            p.projection(&store)?.catch_up(|_| {})?;
            p.texts.catch_up(&store)?;
            Ok(p)
        });
        match opened {
            Ok(p) => Some(p),
            Err(e) => {
                projection_error = Some(format!("{e:#}"));
                None
            }
        }
    } else {
        None
    };
    let mut sink = StoreSink {
        store: &mut store,
        failpoints,
        projector: projector.as_mut(),
        projection_error: None,
    };
    let summary = pipeline::run(&files, &opts, &mut sink, &progress)?;
    let projection_error = sink.projection_error.take().or(projection_error);
    if let Some(p) = &projector {
        // the batches left several segments behind
        p.texts.settle()?;
    }
    progress.bar.finish_and_clear();
    store.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    print_summary(&summary);
    let t = summary.total();
    let events: u64 = summary
        .by_type
        .iter()
        .filter(|(k, _)| model::EventKind::parse(k).is_some())
        .map(|(_, c)| c.acknowledged())
        .sum();
    let stats = store.stats()?;
    say!(
        "ingested {} records ({events} events) from {} files ({:.1} MiB) in {elapsed:.1} s: {:.0} records/s, {:.0} events/s; peak RSS {:.0} MiB; store {:.1} MiB holding {} events",
        t.acknowledged(),
        summary.files,
        summary.bytes_read as f64 / (1 << 20) as f64,
        t.acknowledged() as f64 / elapsed.max(1e-3),
        events as f64 / elapsed.max(1e-3),
        sysinfo::peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64,
        stats.disk_bytes as f64 / (1 << 20) as f64,
        stats.n_events(),
    );
    if let Some(e) = projection_error {
        eprintln!(
            "warning: timelines and relations are behind the store ({e}); run `anju project`"
        );
    }
    if stats.pending_references > 0 {
        say!(
            "{} references wait for base records not seen yet: {:?}",
            stats.pending_references,
            stats.missing_targets
        );
    }
    if t.rejected > 0 {
        eprintln!("{} records rejected (see above)", t.rejected);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary) {
    say!(
        "{:<16} {:>12} {:>11} {:>10} {:>9}",
        "type",
        "accepted",
        "duplicates",
        "conflicts",
        "rejected"
    );
    for (ty, c) in &s.by_type {
        say!(
            "{ty:<16} {:>12} {:>11} {:>10} {:>9}",
            c.accepted,
            c.duplicates,
            c.conflicts,
            c.rejected
        );
    }
    let t = s.total();
    say!(
        "{:<16} {:>12} {:>11} {:>10} {:>9}",
        "total",
        t.accepted,
        t.duplicates,
        t.conflicts,
        t.rejected
    );
}

fn stats(config: &Config, json: bool) -> Result<ExitCode> {
    let store = graph::RocksStore::open_read_only(&config.store_config())?;
    let s = store.stats()?;
    if json {
        say!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "store {} ({}), {:.1} MiB on disk",
        config.store.path.display(),
        s.format,
        s.disk_bytes as f64 / (1 << 20) as f64
    );
    say!("base records:");
    for (k, n) in &s.base {
        say!("  {k:<14} {n:>12}");
    }
    say!(
        "events ({} in all, log length {}):",
        s.n_events(),
        s.log_length
    );
    for (k, n) in &s.events {
        say!("  {k:<14} {n:>12}");
    }
    say!("pending references: {}", s.pending_references);
    let ck = graph::project::checkpoint(&store)?;
    say!(
        "projected: {} of {} base records, {} of {} events",
        ck.base,
        store.base_log_len(),
        ck.events,
        store.log_len()
    );
    for (k, n) in &s.missing_targets {
        say!("  missing {k:<8} {n:>8}");
    }
    Ok(ExitCode::SUCCESS)
}

fn check(config: &Config) -> Result<ExitCode> {
    let store = graph::RocksStore::open_read_only(&config.store_config())?;
    let report = store.check()?;
    say!(
        "events {} base {} pending {}",
        report.n_events,
        report.n_base,
        report.n_pending
    );
    say!("digest {}", store.digest()?);
    if report.problems.is_empty() {
        say!("ok");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &report.problems {
            say!("problem: {p}");
        }
        Ok(ExitCode::from(1))
    }
}
