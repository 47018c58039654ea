//! `anju search`, `anju faces similar` and `anju merge`: the search indexes
//! and the archive merge from the command line (JSON out).

use server::say;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use graph::RocksStore;
use model::{BaseKind, BaseRecord, NodeRef, RegionCode};
use search::{TextIndex, TextQuery};
use serde_json::json;

use server::config::Config;
use server::graphs::Projector;
use server::identity::Identities;
use server::texts::region_path;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What an officer types: names, pinyin, id numbers (or their ends),
    /// phones, plates with `*` wildcards, addresses, tags.
    query: String,
    /// Only these kinds (person, house, vehicle, community, device).
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Only within these regions (and all regions below them).
    #[arg(long, value_delimiter = ',')]
    region: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    community: Vec<String>,
    /// With all of these tags.
    #[arg(long, value_delimiter = ',')]
    tag: Vec<String>,
    #[arg(long, default_value_t = 1)]
    page: usize,
    #[arg(long, default_value_t = 20)]
    per_page: usize,
}

/// Where a face search looks: communities, or regions (all communities
/// within them); nothing: everywhere.
#[derive(Debug, Args)]
pub struct Scope {
    #[arg(long, value_delimiter = ',')]
    region: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    community: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum FacesCmd {
    /// The registered persons most like an archive's faces (a stranger
    /// archive's suggestions), or the archives most like a person's face.
    Similar {
        node: String,
        #[arg(long, default_value_t = 3)]
        k: usize,
        /// Cosine at or above which a face is similar (0.5: below it two
        /// faces are as alike as strangers' are).
        #[arg(long, default_value_t = 0.5)]
        min_score: f32,
        #[command(flatten)]
        scope: Scope,
    },
    /// The faces most like a feature (a JSON array or base64 of
    /// little-endian f32, as in the ingest format).
    Search {
        feature: String,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, default_value_t = 0.5)]
        min_score: f32,
        /// `person` or `stranger` (default: both).
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Face index figures.
    Stats,
}

/// The communities a scope names (regions resolved from the store's
/// community register); None: no restriction.
fn communities_in(config: &Config, scope: &Scope) -> Result<Option<Vec<String>>> {
    if scope.region.is_empty() && scope.community.is_empty() {
        return Ok(None);
    }
    let mut out = scope.community.clone();
    if !scope.region.is_empty() {
        let codes = scope
            .region
            .iter()
            .map(|r| RegionCode::new(r).with_context(|| format!("--region {r}")))
            .collect::<Result<Vec<_>>>()?;
        let store = RocksStore::open_read_only(&config.store_config())?;
        store.for_each_base(BaseKind::Community, |rec| {
            if let BaseRecord::Community(c) = rec
                && codes.iter().any(|code| c.region.is_within(code))
            {
                out.push(c.id.as_str().to_owned());
            }
            Ok(())
        })?;
    }
    Ok(Some(out))
}

fn hits_json(hits: &[search::Hit]) -> serde_json::Value {
    hits.iter()
        .map(|h| json!({"node": h.entity, "score": h.score}))
        .collect()
}

/// The kinds a search may be narrowed to.
const KINDS: [&str; 5] = ["person", "house", "vehicle", "community", "device"];

pub fn search(config: &Config, a: SearchArgs) -> Result<ExitCode> {
    for k in &a.kind {
        if !KINDS.contains(&k.as_str()) {
            bail!("--kind {k:?} is not one of {}", KINDS.join(", "));
        }
    }
    if !config.store.path.join("CURRENT").exists() {
        bail!("no store at {}", config.store.path.display());
    }
    let dir = config.search_dir().join("text");
    if !dir.join("meta.json").exists() {
        bail!(
            "no full-text index at {}: ingest or `anju project` first",
            dir.display()
        );
    }
    let idx = TextIndex::open_reader(&dir)?;
    let damaged = idx.corrupt_files()?;
    if !damaged.is_empty() {
        bail!(
            "the full-text index at {} is damaged ({damaged:?}); `anju project` rebuilds it from the store",
            dir.display()
        );
    }
    let regions = a
        .region
        .iter()
        .map(|r| {
            RegionCode::new(r)
                .map(|c| region_path(&c))
                .with_context(|| format!("--region {r}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let per_page = a.per_page.clamp(1, 1000);
    let r = idx.search(&TextQuery {
        text: &a.query,
        kinds: &a.kind,
        regions: &regions,
        communities: &a.community,
        tags: &a.tag,
        offset: a.page.max(1).saturating_sub(1) * per_page,
        limit: per_page,
    })?;
    let counts = |v: &[(String, u64)]| -> serde_json::Value {
        v.iter()
            .map(|(k, n)| json!({"value": k, "count": n}))
            .collect()
    };
    // each hit with its name (the store opens read-only beside a writer)
    let store = RocksStore::open_read_only(&config.store_config())?;
    let mut hits = Vec::new();
    for h in &r.hits {
        let label = match NodeRef::parse(&h.key) {
            Ok(n) => server::nodes::registered_label(&store, &n)?,
            Err(_) => String::new(),
        };
        hits.push(json!({"node": h.key, "label": label, "score": h.score}));
    }
    say!(
        "{}",
        json!({
            "total": r.total,
            "page": a.page.max(1),
            "hits": hits,
            "facets": {
                "kind": counts(&r.kinds),
                "tag": counts(&r.tags),
                "community": counts(&r.communities),
                "region": counts(&r.regions),
            }
        })
    );
    Ok(ExitCode::SUCCESS)
}

pub fn faces(config: &Config, cmd: FacesCmd) -> Result<ExitCode> {
    let dir = config.search_dir().join("faces");
    let ids = Identities::open(&dir, config.deployment.face_dim, config.identity.clone())
        .with_context(|| format!("opening the face index at {}", dir.display()))?;
    match cmd {
        FacesCmd::Stats => {
            let s = ids.index.stats();
            say!(
                "{}",
                json!({"archives": s.entities, "vectors": s.vectors, "bytes_on_disk": s.bytes_on_disk, "checkpoint": ids.index.checkpoint()})
            );
        }
        FacesCmd::Similar {
            node,
            k,
            min_score,
            scope,
        } => {
            let n = NodeRef::parse(&node).map_err(|e| anyhow::anyhow!("node {node}: {e}"))?;
            let within = communities_in(config, &scope)?;
            let Some(hits) = ids.similar(&n, k, min_score, within.as_deref())? else {
                bail!("{n} has no face in the index");
            };
            say!(
                "{}",
                json!({
                    "node": n.to_string(),
                    "representatives": ids.index.representatives(&n.to_string()),
                    "similar": hits_json(&hits),
                })
            );
        }
        FacesCmd::Search {
            feature,
            k,
            min_score,
            kind,
            scope,
        } => {
            let value = serde_json::from_str::<serde_json::Value>(&feature)
                .unwrap_or(serde_json::Value::String(feature));
            let f = ingest::parse_feature(&value, config.deployment.face_dim)
                .map_err(|e| anyhow::anyhow!("feature: {e}"))?;
            if let Some(k) = kind.as_deref()
                && !matches!(k, "person" | "stranger")
            {
                bail!("--kind {k}: expected person or stranger");
            }
            let within = communities_in(config, &scope)?;
            let hits = ids.search(
                f.as_slice(),
                k,
                min_score,
                kind.as_deref(),
                within.as_deref(),
                None,
            )?;
            say!("{}", json!({"hits": hits_json(&hits)}));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `anju merge <archive> <into>`: an investigator's decision that a
/// stranger archive is a person (or another archive).
pub fn merge(config: &Config, archive: &str, into: &str) -> Result<ExitCode> {
    let parse = |s: &str| NodeRef::parse(s).map_err(|e| anyhow::anyhow!("node {s}: {e}"));
    let (archive, into) = (parse(archive)?, parse(into)?);
    let store = RocksStore::open(&config.store_config())?;
    let projector = Projector::new(config, &store)?;
    let p = projector.projection(&store)?;
    p.catch_up(|_| {})?;
    let stats = p.merge(&archive, &into)?;
    drop(p);
    store.flush()?;
    say!(
        "{}",
        json!({"merged": archive.to_string(), "into": into.to_string(), "events_projected_again": stats.reprojected, "graph_changes": stats.graph_ops})
    );
    Ok(ExitCode::SUCCESS)
}

/// The rows of a face ground truth (`faces-truth.csv`: a header, then
/// `event_id,slot,identity`).
pub(crate) fn read_faces_truth(path: &std::path::Path) -> Result<Vec<(String, u8, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',');
        let (Some(event), Some(slot), Some(who)) = (f.next(), f.next(), f.next()) else {
            bail!(
                "{}:{}: expected event_id,slot,identity",
                path.display(),
                i + 1
            );
        };
        let slot: u8 = slot
            .parse()
            .with_context(|| format!("{}:{}: slot", path.display(), i + 1))?;
        rows.push((event.to_owned(), slot, who.to_owned()));
    }
    Ok(rows)
}

/// `anju evaluate-faces <faces-truth.csv>`: one archive per person measured
/// against a ground truth (`event_id,slot,identity`; identity
/// `person:<id>` for a registered face, anything else for a face the
/// platform cannot know). Prints pairwise precision and recall of the
/// clustering (two captures of one identity in one archive, and of two in
/// two), the share attributed correctly (a registered face to its person;
/// another to the archive that holds most of its identity's captures and to
/// no person), and how many archives each identity is split over.
pub fn evaluate_faces(config: &Config, truth: &std::path::Path) -> Result<ExitCode> {
    use std::collections::HashMap;
    let store = RocksStore::open_read_only(&config.store_config())?;
    let mut rows: Vec<(String, Option<String>)> = Vec::new();
    for (event, slot, who) in read_faces_truth(truth)? {
        // the truth names events by id; the event of that id (the
        // fixtures' ids are unique)
        let got = match store.events_with_id(&event)?.first() {
            Some(ev) => {
                graph::attributed(&store, &event, ev.device.as_str(), slot)?.map(|n| n.to_string())
            }
            None => None,
        };
        rows.push((who, got));
    }
    if rows.is_empty() {
        bail!("{} holds no captures", truth.display());
    }
    // contingency counts: identity × archive
    let mut cell: HashMap<(&str, &str), u64> = HashMap::new();
    let mut by_truth: HashMap<&str, u64> = HashMap::new();
    let mut by_archive: HashMap<&str, u64> = HashMap::new();
    let mut unattributed = 0u64;
    for (who, got) in &rows {
        *by_truth.entry(who).or_default() += 1;
        match got {
            Some(g) => {
                *cell.entry((who, g)).or_default() += 1;
                *by_archive.entry(g).or_default() += 1;
            }
            None => unattributed += 1,
        }
    }
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let tp: u64 = cell.values().map(|&n| pairs(n)).sum();
    let predicted: u64 = by_archive.values().map(|&n| pairs(n)).sum();
    let actual: u64 = by_truth.values().map(|&n| pairs(n)).sum();
    // the archive holding most of each identity's captures
    let mut home: HashMap<&str, (&str, u64)> = HashMap::new();
    for (&(who, got), &n) in &cell {
        let e = home.entry(who).or_insert((got, 0));
        if n > e.1 || (n == e.1 && got < e.0) {
            *e = (got, n);
        }
    }
    let mut correct = 0u64;
    let mut registered = (0u64, 0u64);
    for (who, got) in &rows {
        let Some(g) = got else { continue };
        let ok = if who.starts_with("person:") {
            registered.0 += 1;
            let ok = g == who;
            registered.1 += u64::from(ok);
            ok
        } else {
            !g.starts_with("person:") && home.get(who.as_str()).is_some_and(|h| h.0 == g)
        };
        correct += u64::from(ok);
    }
    let split: f64 = {
        let mut per: HashMap<&str, u64> = HashMap::new();
        for &(who, _) in cell.keys() {
            *per.entry(who).or_default() += 1;
        }
        per.values().sum::<u64>() as f64 / per.len().max(1) as f64
    };
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    say!(
        "{}",
        json!({
            "captures": rows.len(),
            "identities": by_truth.len(),
            "archives": by_archive.len(),
            "unattributed": unattributed,
            "pairwise_precision": ratio(tp, predicted),
            "pairwise_recall": ratio(tp, actual),
            "correctly_attributed": ratio(correct, rows.len() as u64),
            "registered_faces_to_their_person": ratio(registered.1, registered.0),
            "archives_per_identity": split,
        })
    );
    Ok(ExitCode::SUCCESS)
}
