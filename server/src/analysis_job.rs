//! One analysis job: run the models over the days since the last job (as a
//! daily job would have), keep their findings as tags, raise the alerts of
//! alerting findings once, and move the job's checkpoint. Used by
//! `anju analyze`, by the schedule inside `anju serve` and by the API.

use std::collections::BTreeMap;
use std::time::Instant;

use graph::RocksStore;
use model::{Clock, Timestamp};

use crate::alerts::{self, Alert, NewAlert};
use crate::tagbook;

/// Where the last full job ended (the next one starts there).
const CHECKPOINT: &[u8] = b"analysis/at";

/// Forgets every tag and the job's checkpoint: the next job judges the
/// data from its start (after the parameters changed). Alerts stay.
pub fn reset(store: &RocksStore) -> graph::Result<u64> {
    let n = tagbook::clear(store)?;
    store.app_write(&[(CHECKPOINT.to_vec(), None)])?;
    Ok(n)
}

/// What a job did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Day ends judged.
    pub days: usize,
    /// The last instant judged.
    pub at: Option<Timestamp>,
    pub read: u64,
    pub secs: f64,
    /// Of `secs`: reading sightings and registers, judging, keeping tags
    /// and alerts.
    pub read_secs: f64,
    pub judge_secs: f64,
    /// Per model: tags new, changed, unchanged, retired over the job.
    pub applied: BTreeMap<String, tagbook::Applied>,
    /// Per model: findings at the last instant judged.
    pub active: BTreeMap<&'static str, usize>,
    pub raised: Vec<Alert>,
}

/// The models by name (all when `names` is empty).
pub fn models(names: &[String]) -> Result<Vec<&'static str>, String> {
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
                .ok_or_else(|| {
                    format!(
                        "unknown model {n:?} (this build runs {})",
                        analysis::MODELS.join(", ")
                    )
                })
        })
        .collect()
}

/// What one job judges, and how.
#[derive(Default)]
pub struct Request<'a> {
    /// Default: the last full job's end, else the start of the data.
    pub since: Option<Timestamp>,
    /// Default: the end of the data.
    pub until: Option<Timestamp>,
    /// Only the communities of this region (and below).
    pub region: Option<&'a model::RegionCode>,
    /// The sightings kept between jobs (the schedule inside `anju serve`).
    pub cache: Option<&'a std::sync::Mutex<analysis::Cache>>,
    pub progress: Option<&'a mut dyn FnMut(analysis::Progress)>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("since", &self.since)
            .field("until", &self.until)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Runs `models` over the days of the request. Only a job of all models
/// and regions moves the checkpoint; such a job reads incrementally with a
/// `cache`.
pub fn run(
    store: &RocksStore,
    clock: Clock,
    params: &analysis::Params,
    models: &[&'static str],
    req: Request<'_>,
) -> graph::Result<Report> {
    let Request {
        since,
        until,
        region,
        cache,
        mut progress,
    } = req;
    let whole = models.len() == analysis::MODELS.len() && region.is_none();
    // a region's job reads only its communities' devices and residents
    let communities = match region {
        None => None,
        Some(r) => {
            let mut cs = std::collections::BTreeSet::new();
            store.for_each_base(model::BaseKind::Community, |rec| {
                if let model::BaseRecord::Community(c) = rec
                    && c.region.is_within(r)
                {
                    cs.insert(c.id);
                }
                Ok(())
            })?;
            Some(cs)
        }
    };
    let since = match since {
        Some(s) => Some(s),
        None => store
            .app_get(CHECKPOINT)?
            .and_then(|v| v.try_into().ok().map(|b| Timestamp(i64::from_le_bytes(b)))),
    };
    let t0 = Instant::now();
    let mut guard = match cache {
        Some(c) if whole => Some(c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
        _ => None,
    };
    let tagged = match guard {
        Some(_) => active_entities(store)?,
        None => Default::default(),
    };
    let incremental = guard.as_deref_mut().map(|cache| analysis::Incremental {
        cache,
        tagged: &tagged,
    });
    let pass = analysis::analyze(
        store,
        clock,
        params,
        analysis::Job {
            since,
            until,
            communities: communities.as_ref(),
            incremental,
            progress: progress
                .as_mut()
                .map(|p| &mut **p as &mut dyn FnMut(analysis::Progress)),
        },
    )?;
    drop(guard);
    let mut report = Report {
        days: pass.runs.len(),
        read: pass.read,
        read_secs: pass.read_secs,
        judge_secs: pass.judge_secs,
        ..Report::default()
    };
    for run in &pass.runs {
        for (m, ap) in tagbook::apply(store, models, &run.findings, run.at, pass.scope.as_ref())? {
            let t = report.applied.entry(m).or_default();
            t.new += ap.new;
            t.changed += ap.changed;
            t.unchanged += ap.unchanged;
            t.retired += ap.retired;
        }
    }
    report.raised = raise_alerts(store, &pass, models)?;
    if let Some(last) = pass.runs.last() {
        report.at = Some(last.at);
        for f in &last.findings {
            *report.active.entry(f.model).or_default() += 1;
        }
        if whole {
            store.app_write(&[(CHECKPOINT.to_vec(), Some(last.at.0.to_le_bytes().to_vec()))])?;
        }
    }
    report.secs = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// The entities with an active tag of any model.
fn active_entities(
    store: &RocksStore,
) -> graph::Result<std::collections::BTreeSet<model::NodeRef>> {
    let mut out = std::collections::BTreeSet::new();
    for m in analysis::MODELS {
        for t in tagbook::tags(store, m, true)? {
            if let Ok(n) = model::NodeRef::parse(&t.entity) {
                out.insert(n);
            }
        }
    }
    Ok(out)
}

/// Raises an alert for every alerting finding of the pass.
fn raise_alerts(
    store: &RocksStore,
    pass: &analysis::Pass,
    models: &[&str],
) -> graph::Result<Vec<Alert>> {
    raise(
        store,
        pass.runs
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| models.contains(&f.model)),
    )
}

/// Raises an alert for every alerting finding — once per situation (model,
/// entity, the first evidence event or the window's start); findings of one
/// model with the same evidence (the persons of one gathering) are one
/// situation, one alert; and while an alert of a model about a subject is
/// open, a new finding about it is an occurrence of that alert
/// ([`alerts::NewAlert::recurs`]). The community and region responsible are
/// the subject's from the registers (where it lives; a vehicle's or house's
/// community), else where the last evidence was seen: an alert is never
/// out of every officer's reach because the subject was last active at home.
pub fn raise<'a>(
    store: &RocksStore,
    findings: impl IntoIterator<Item = &'a analysis::Finding>,
) -> graph::Result<Vec<Alert>> {
    let mut groups: Vec<(&analysis::Finding, Vec<&model::NodeRef>)> = Vec::new();
    for f in findings.into_iter().filter(|f| f.alert) {
        match groups
            .iter_mut()
            .find(|(g, _)| g.model == f.model && !f.evidence.is_empty() && g.evidence == f.evidence)
        {
            Some((_, entities)) => entities.push(&f.entity),
            None => groups.push((f, vec![&f.entity])),
        }
    }
    let mut new = Vec::new();
    for (f, entities) in groups {
        let situation = f
            .evidence
            .first()
            .cloned()
            .unwrap_or_else(|| f.from.0.to_string());
        let (mut community, mut device, mut time) = (None, None, f.to);
        if let Some(ev) = f
            .evidence
            .last()
            .map(|e| store.events_with_id(e))
            .transpose()?
            .and_then(|evs| evs.into_iter().next())
        {
            time = ev.time;
            device = Some(ev.device.as_str().to_owned());
            if let Some(model::BaseRecord::Device(d)) =
                store.base(model::BaseKind::Device, ev.device.as_str())?
            {
                community = Some(d.community);
            }
        }
        // where the subject is registered comes first
        if let Some(c) = registered_community(store, &f.entity, time)? {
            community = Some(c);
        }
        let region = match &community {
            Some(c) => match store.base(model::BaseKind::Community, c.as_str())? {
                Some(model::BaseRecord::Community(c)) => Some(c.region.as_str().to_owned()),
                _ => None,
            },
            None => None,
        };
        let mut names = Vec::new();
        for e in &entities {
            names.push(crate::nodes::registered_label(store, e)?);
        }
        let who = match names.len() {
            1 => names.remove(0),
            n => format!("{n} persons ({})", names.join(", ")),
        };
        new.push(NewAlert {
            dedup: if entities.len() > 1 {
                format!("{}/{situation}", f.model)
            } else {
                format!("{}/{}/{situation}", f.model, f.entity)
            },
            kind: f.model.to_owned(),
            subject: Some(f.entity.to_string()),
            community: community.map(|c| c.as_str().to_owned()),
            region,
            device,
            time,
            title: format!("{}: {who} — {}", f.model, f.detail),
            score: Some(f.score as f32),
            evidence: f.evidence.clone(),
            watch_list: None,
            recurs: true,
        });
    }
    let now = Timestamp(chrono::Utc::now().timestamp_millis());
    let (writes, raised) = alerts::raise_writes(store, new, now)?;
    if !writes.is_empty() {
        store.app_write(&writes)?;
    }
    Ok(raised)
}

/// The community a subject belongs to by the registers: where a person
/// lives (at `at`), a house's, a registered vehicle's.
fn registered_community(
    store: &RocksStore,
    n: &model::NodeRef,
    at: Timestamp,
) -> graph::Result<Option<model::CommunityId>> {
    Ok(match n {
        model::NodeRef::Person(p) => {
            graph::communities_of(store, p, at)?
                .into_iter()
                .next()
                .or(graph::communities_of(store, p, Timestamp(i64::MAX))?
                    .into_iter()
                    .next())
        }
        model::NodeRef::House(h) => match store.base(model::BaseKind::House, h.as_str())? {
            Some(model::BaseRecord::House(h)) => Some(h.community),
            _ => None,
        },
        model::NodeRef::Vehicle(v) => match store.base(model::BaseKind::Vehicle, v.as_str())? {
            Some(model::BaseRecord::Vehicle(v)) => v.community,
            _ => None,
        },
        model::NodeRef::Community(c) => Some(c.clone()),
        _ => None,
    })
}
