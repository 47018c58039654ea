//! `anju analyze` (run the models, keep their findings as tags) and
//! `anju evaluate` (the tags against a ground truth).

use server::say;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use graph::RocksStore;

use server::config::Config;
use server::{sysinfo, tagbook};

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
    /// Judge only this region's communities (and those below it); tags
    /// elsewhere are left alone.
    #[arg(long)]
    pub region: Option<String>,
    /// Forget every tag and judge the data from its start again (after the
    /// parameters changed); alerts already raised stay.
    #[arg(long)]
    pub afresh: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: crate::ProgressMode,
}

pub fn analyze(config: &Config, a: AnalyzeArgs) -> Result<ExitCode> {
    let models = server::analysis_job::models(&a.models).map_err(anyhow::Error::msg)?;
    let clock = config.clock()?;
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(|s| crate::commands::graph::parse_time(s, &clock))
            .transpose()
    };
    let (since, until) = (time(&a.since)?, time(&a.until)?);
    let store = RocksStore::open(&config.store_config())?;
    if a.afresh {
        let n = server::analysis_job::reset(&store)?;
        say!("forgot {n} tags");
    }
    let region = a
        .region
        .as_deref()
        .map(model::RegionCode::new)
        .transpose()?;
    let mode = a.progress;
    let bar = server::term::bar_for(
        mode.shows_bar(),
        0,
        "{spinner} {msg} [{bar:30}] {pos}/{len} days judged, {elapsed}",
    );
    bar.set_message("reading sightings");
    let mut progress = |p: analysis::Progress| match p {
        analysis::Progress::Read { sightings, days } => {
            bar.set_length(days as u64);
            bar.set_message(format!("{sightings} sightings read"));
            if matches!(mode, crate::ProgressMode::Plain) {
                say!("read sightings={sightings}");
            }
        }
        analysis::Progress::Judged { done, days } => {
            bar.set_position(done as u64);
            if matches!(mode, crate::ProgressMode::Plain) {
                say!("judged days={done}/{days}");
            }
        }
    };
    let r = server::analysis_job::run(
        &store,
        clock,
        &config.analysis,
        &models,
        server::analysis_job::Request {
            since,
            until,
            region: region.as_ref(),
            progress: Some(&mut progress),
            ..Default::default()
        },
    )?;
    bar.finish_and_clear();
    let Some(at) = r.at else {
        say!("the store holds no sightings: nothing to analyse");
        return Ok(ExitCode::SUCCESS);
    };
    say!(
        "analysis of {} day(s) up to {} ({} sightings read, {:.2} s: {:.0} sightings/s — reading {:.2} s, judging {:.2} s, keeping tags {:.2} s; peak RSS {:.0} MiB)",
        r.days,
        clock.to_local(at).to_rfc3339(),
        r.read,
        r.secs,
        r.read as f64 / r.secs.max(1e-6),
        r.read_secs,
        r.judge_secs,
        (r.secs - r.read_secs - r.judge_secs).max(0.0),
        sysinfo::peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64
    );
    say!(
        "{:<30} {:>7} {:>6} {:>8} {:>10} {:>8}",
        "model",
        "active",
        "new",
        "changed",
        "unchanged",
        "retired"
    );
    for m in &models {
        let ap = r.applied.get(*m).cloned().unwrap_or_default();
        say!(
            "{m:<30} {:>7} {:>6} {:>8} {:>10} {:>8}",
            r.active.get(m).copied().unwrap_or(0),
            ap.new,
            ap.changed,
            ap.unchanged,
            ap.retired
        );
    }
    say!("alerts raised: {}", r.raised.len());
    Ok(ExitCode::SUCCESS)
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
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // real-time rules judge as data arrives: their alerts are what they produced
    let mut alerted = Vec::new();
    server::alerts::scan(store, None, |a| {
        if let Some(s) = a.subject.clone() {
            alerted.push((a.kind.clone(), s));
        }
        true
    })?;
    for (kind, subject) in alerted {
        if REALTIME_MODELS.contains(&kind.as_str()) {
            let id = name(&subject)?;
            out.entry(kind).or_default().insert(id);
        }
    }
    for m in analysis::MODELS {
        let mut ids = BTreeSet::new();
        // every entity tagged at some point of the data (active or retired)
        for t in tagbook::tags(store, m, false)? {
            ids.insert(name(&t.entity)?);
        }
        out.entry((*m).to_owned()).or_default().extend(ids);
    }
    Ok(out)
}

/// Models judged by the real-time rules (their alerts are their findings).
const REALTIME_MODELS: [&str; 2] = ["ebike_card_mismatch", "vehicle_watchlist_occupant"];

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
        .then(|| crate::commands::search::read_faces_truth(&faces_path))
        .transpose()?
        .map(|rows| {
            rows.into_iter()
                .map(|(event, slot, who)| ((event, slot), who))
                .collect::<BTreeMap<_, _>>()
        });
    let store = RocksStore::open_read_only(&config.store_config())?;
    let produced = produced(&store, faces.as_ref())?;
    // only the models this build runs are judged
    let mut truth = truth;
    truth.models.retain(|m, _| {
        analysis::MODELS.contains(&m.as_str()) || REALTIME_MODELS.contains(&m.as_str())
    });
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
