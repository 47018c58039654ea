//! `anju search`, `anju faces similar` and `anju merge`: the search indexes
//! and the archive merge from the command line (JSON out).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use graph::RocksStore;
use model::{NodeRef, RegionCode};
use search::{FaceFilter, FaceIndex, FaceParams, TextIndex, TextQuery};
use serde_json::json;

use crate::cli::say;
use crate::config::Config;
use crate::graphs::Projector;
use crate::texts::region_path;

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

#[derive(Debug, Subcommand)]
pub enum FacesCmd {
    /// The registered persons most like an archive's faces (a stranger
    /// archive's suggestions), or the archives most like a person's face.
    Similar {
        node: String,
        #[arg(long, default_value_t = 3)]
        k: usize,
        #[arg(long, default_value_t = 0.0)]
        min_score: f32,
    },
    /// Face index figures.
    Stats,
}

pub fn search(config: &Config, a: SearchArgs) -> Result<ExitCode> {
    let dir = config.search_dir().join("text");
    if !dir.join("meta.json").exists() {
        bail!(
            "no full-text index at {}: ingest or `anju project` first",
            dir.display()
        );
    }
    let idx = TextIndex::open_reader(&dir)?;
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
    say!(
        "{}",
        json!({
            "total": r.total,
            "page": a.page.max(1),
            "hits": r.hits.iter().map(|h| json!({"node": h.key, "score": h.score})).collect::<Vec<_>>(),
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
    let idx = FaceIndex::open(
        &dir,
        config.deployment.face_dim,
        FaceParams {
            ef_search: config.identity.ef_search,
            ..FaceParams::default()
        },
    )?;
    match cmd {
        FacesCmd::Stats => {
            let s = idx.stats();
            say!(
                "{}",
                json!({"archives": s.entities, "vectors": s.vectors, "bytes_on_disk": s.bytes_on_disk, "checkpoint": idx.checkpoint()})
            );
        }
        FacesCmd::Similar { node, k, min_score } => {
            let n = NodeRef::parse(&node).map_err(|e| anyhow::anyhow!("node {node}: {e}"))?;
            let entity = n.to_string();
            let vectors = idx.vectors_of(&entity)?;
            if vectors.is_empty() {
                bail!("{entity} has no face in the index");
            }
            // a stranger archive is compared with registered persons; a
            // person with the archives that may be them
            let kind = match n {
                NodeRef::Stranger(_) => "person",
                _ => "stranger",
            };
            let filter = FaceFilter {
                kind: Some(kind),
                except: Some(&entity),
                ..FaceFilter::default()
            };
            let mut best = std::collections::HashMap::<String, f32>::new();
            for v in &vectors {
                for h in idx.search(v, k, min_score, &filter)? {
                    let b = best.entry(h.entity).or_insert(f32::MIN);
                    *b = b.max(h.score);
                }
            }
            let mut hits: Vec<(String, f32)> = best.into_iter().collect();
            hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            hits.truncate(k);
            say!(
                "{}",
                json!({
                    "node": entity,
                    "representatives": vectors.len(),
                    "similar": hits.iter().map(|(e, s)| json!({"node": e, "score": s})).collect::<Vec<_>>(),
                })
            );
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
    let mut projector = Projector::new(config, &store)?;
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
    let text = std::fs::read_to_string(truth).with_context(|| truth.display().to_string())?;
    let mut rows: Vec<(String, Option<String>)> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',');
        let (Some(event), Some(slot), Some(who)) = (f.next(), f.next(), f.next()) else {
            bail!(
                "{}:{}: expected event_id,slot,identity",
                truth.display(),
                i + 1
            );
        };
        let slot: u8 = slot
            .parse()
            .with_context(|| format!("{}:{}: slot", truth.display(), i + 1))?;
        let got = graph::attributed(&store, event, slot)?.map(|n| n.to_string());
        rows.push((who.to_owned(), got));
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
