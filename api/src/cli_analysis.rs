//! `anju analyze` (run the models, keep their findings as tags) and
//! `anju evaluate` (the tags against a ground truth).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use graph::RocksStore;

use crate::cli::say;
use crate::config::Config;
use crate::{sysinfo, tagbook};

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Models to run (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Judge each day from this time on, as a daily job would have
    /// (default: where the last run ended, or the start of the data).
    #[arg(long)]
    pub since: Option<String>,
    /// Judge up to this time (default: the end of the data).
    #[arg(long)]
    pub until: Option<String>,
}

/// Where the last analysis pass ended (the next one starts there).
const CHECKPOINT: &[u8] = b"analysis/at";

fn models(names: &[String]) -> Result<Vec<&'static str>> {
    if names.is_empty() {
        return Ok(analysis::MODELS.to_vec());
    }
    names
        .iter()
        .map(|n| {
            analysis::MODELS
                .iter()
                .copied()
                .find(|m| m == n)
                .with_context(|| {
                    format!(
                        "unknown model {n:?} (this build runs {})",
                        analysis::MODELS.join(", ")
                    )
                })
        })
        .collect()
}

pub fn analyze(config: &Config, a: AnalyzeArgs) -> Result<ExitCode> {
    let models = models(&a.models)?;
    let clock = config.clock()?;
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(|s| crate::cli_graph::parse_time(s, &clock))
            .transpose()
    };
    let (since, until) = (time(&a.since)?, time(&a.until)?);
    let store = RocksStore::open(&config.store_config())?;
    let since = match since {
        Some(s) => Some(s),
        None => store.app_get(CHECKPOINT)?.and_then(|v| {
            v.try_into()
                .ok()
                .map(|b| model::Timestamp(i64::from_le_bytes(b)))
        }),
    };
    let t0 = Instant::now();
    let pass = analysis::analyze(&store, clock, &config.analysis, since, until)?;
    let judged = t0.elapsed().as_secs_f64();
    let mut applied: BTreeMap<String, tagbook::Applied> = BTreeMap::new();
    for run in &pass.runs {
        for (m, ap) in tagbook::apply(&store, &models, &run.findings, run.at)? {
            let t = applied.entry(m).or_default();
            t.new += ap.new;
            t.changed += ap.changed;
            t.unchanged += ap.unchanged;
            t.retired += ap.retired;
        }
    }
    let raised = raise_alerts(&store, &pass, &models)?;
    let Some(last) = pass.runs.last() else {
        say!("the store holds no sightings: nothing to analyse");
        return Ok(ExitCode::SUCCESS);
    };
    if a.models.is_empty() {
        store.app_write(&[(CHECKPOINT.to_vec(), Some(last.at.0.to_le_bytes().to_vec()))])?;
    }
    let found: BTreeMap<&str, usize> = last.findings.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.model).or_default() += 1;
        m
    });
    say!(
        "analysis of {} day(s) up to {} ({} sightings read, {judged:.2} s: {:.0} sightings/s; peak RSS {:.0} MiB)",
        pass.runs.len(),
        clock.to_local(last.at).to_rfc3339(),
        pass.read,
        pass.read as f64 / judged.max(1e-6),
        sysinfo::peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64
    );
    say!(
        "{:<24} {:>8} {:>6} {:>8} {:>10} {:>8}",
        "model",
        "active",
        "new",
        "changed",
        "unchanged",
        "retired"
    );
    for m in &models {
        let ap = applied.get(*m).cloned().unwrap_or_default();
        say!(
            "{m:<24} {:>8} {:>6} {:>8} {:>10} {:>8}",
            found.get(m).copied().unwrap_or(0),
            ap.new,
            ap.changed,
            ap.unchanged,
            ap.retired
        );
    }
    say!("alerts raised: {raised}");
    Ok(ExitCode::SUCCESS)
}

/// Raises an alert for every alerting finding of the pass — once per
/// situation (model, entity, the first evidence event or the window's start).
fn raise_alerts(store: &RocksStore, pass: &analysis::Pass, models: &[&str]) -> Result<usize> {
    let mut new = Vec::new();
    for run in &pass.runs {
        for f in run
            .findings
            .iter()
            .filter(|f| f.alert && models.contains(&f.model))
        {
            let situation = f
                .evidence
                .first()
                .cloned()
                .unwrap_or_else(|| f.from.0.to_string());
            let (mut community, mut region, mut device, mut time) = (None, None, None, f.to);
            if let Some(ev) = f
                .evidence
                .last()
                .map(|e| store.event(e))
                .transpose()?
                .flatten()
            {
                time = ev.time;
                device = Some(ev.device.as_str().to_owned());
                if let Some(model::BaseRecord::Device(d)) =
                    store.base(model::BaseKind::Device, ev.device.as_str())?
                {
                    if let Some(model::BaseRecord::Community(c)) =
                        store.base(model::BaseKind::Community, d.community.as_str())?
                    {
                        region = Some(c.region.as_str().to_owned());
                    }
                    community = Some(d.community.as_str().to_owned());
                }
            }
            new.push(crate::server::alerts::NewAlert {
                dedup: format!("{}/{}/{situation}", f.model, f.entity),
                kind: f.model.to_owned(),
                subject: Some(f.entity.to_string()),
                community,
                region,
                device,
                time,
                title: format!("{}: {} — {}", f.model, f.entity, f.detail),
                score: Some(f.score as f32),
                evidence: f.evidence.clone(),
                watch_list: None,
            });
        }
    }
    let now = model::Timestamp(chrono::Utc::now().timestamp_millis());
    let (writes, raised) = crate::server::alerts::raise_writes(store, new, now)?;
    if !writes.is_empty() {
        store.app_write(&writes)?;
    }
    Ok(raised.len())
}

/// The active tags of every model, by the ids `truth.json` uses. A stranger
/// archive is named by the identity most of its captures belong to, when a
/// face ground truth (`faces-truth.csv` rows `event_id,slot,identity`) is given.
pub fn produced(
    store: &RocksStore,
    faces: Option<&BTreeMap<(String, u8), String>>,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut name = |entity: &str| -> Result<String> {
        if let Some(n) = names.get(entity) {
            return Ok(n.clone());
        }
        let node = model::NodeRef::parse(entity)?;
        let mut n = node.key().to_owned();
        if let (model::NodeRef::Stranger(_), Some(faces)) = (&node, faces) {
            let page = graph::timeline::timeline(
                store,
                &node,
                model::Timestamp(i64::MIN),
                model::Timestamp(i64::MAX),
                100_000,
                false,
            )?;
            let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
            for s in &page.items {
                if let Some(id) = faces.get(&(s.event.as_str().to_owned(), s.slot)) {
                    *votes.entry(id.as_str()).or_default() += 1;
                }
            }
            if let Some((id, _)) = votes
                .into_iter()
                .max_by_key(|(id, c)| (*c, std::cmp::Reverse(*id)))
            {
                n = match id.split_once(':') {
                    Some(("stranger", _)) => id.to_owned(),
                    Some((_, key)) => key.to_owned(),
                    None => id.to_owned(),
                };
            }
        }
        names.insert(entity.to_owned(), n.clone());
        Ok(n)
    };
    let mut out = BTreeMap::new();
    for m in analysis::MODELS {
        let mut ids = BTreeSet::new();
        // every entity tagged at some point of the data (active or retired)
        for t in tagbook::tags(store, m, false)? {
            ids.insert(name(&t.entity)?);
        }
        out.insert((*m).to_owned(), ids);
    }
    Ok(out)
}

fn read_faces_truth(path: &Path) -> Result<BTreeMap<(String, u8), String>> {
    let mut out = BTreeMap::new();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for (i, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let [event, slot, identity] = cols.as_slice() else {
            bail!(
                "{}:{}: expected event_id,slot,identity",
                path.display(),
                i + 1
            );
        };
        let slot: u8 = slot
            .parse()
            .with_context(|| format!("{}:{}: slot", path.display(), i + 1))?;
        out.insert(((*event).to_owned(), slot), (*identity).to_owned());
    }
    Ok(out)
}

pub fn evaluate(config: &Config, truth: &Path) -> Result<ExitCode> {
    let truth_path = truth;
    let text =
        std::fs::read_to_string(truth).with_context(|| format!("reading {}", truth.display()))?;
    let truth: model::truth::Truth =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", truth.display()))?;
    if truth.version != model::truth::Truth::VERSION {
        bail!(
            "truth file version {} is not {}",
            truth.version,
            model::truth::Truth::VERSION
        );
    }
    let faces_path = truth_path.with_file_name("faces-truth.csv");
    let faces = faces_path
        .exists()
        .then(|| read_faces_truth(&faces_path))
        .transpose()?;
    let store = RocksStore::open_read_only(&config.store_config())?;
    let produced = produced(&store, faces.as_ref())?;
    // only the models this build runs are judged
    let mut truth = truth;
    truth
        .models
        .retain(|m, _| analysis::MODELS.contains(&m.as_str()));
    let scores = analysis::evaluate(&truth, &produced);
    say!(
        "{:<24} {:>8} {:>8} {:>10} {:>8}  misses / false alarms",
        "model",
        "planted",
        "produced",
        "precision",
        "recall"
    );
    for (m, s) in &scores {
        let planted = s.true_positives + s.misses.len();
        let made = s.true_positives + s.false_alarms.len();
        let list = |v: &[String]| {
            let mut t = v.iter().take(5).cloned().collect::<Vec<_>>().join(" ");
            if v.len() > 5 {
                t.push_str(&format!(" …(+{})", v.len() - 5));
            }
            t
        };
        say!(
            "{m:<24} {planted:>8} {made:>8} {:>10.3} {:>8.3}  [{}] / [{}]",
            s.precision(),
            s.recall(),
            list(&s.misses),
            list(&s.false_alarms)
        );
    }
    for (m, why) in &truth.not_planted {
        say!("{m:<24} not planted: {why}");
    }
    Ok(ExitCode::SUCCESS)
}
