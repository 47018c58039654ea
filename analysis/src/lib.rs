//! Analysis: the judgement models (研判模型) that turn sightings and
//! registers into findings — a tag on a person, stranger archive, house or
//! vehicle, with its window, score and evidence — and their measurement
//! against a dataset's ground truth.
//!
//! * [`params`]: every model's parameters (`[analysis]`, DESIGN.md's defaults);
//! * [`profile`]: what the models read — every sighting of a window per
//!   subject, from the devices' timelines, so a run costs what the window
//!   holds; the registered residents;
//! * [`persons`]: the sighting models (nocturnal, frequent night outs, many
//!   communities, reclusive, moved out; nocturnal on vehicles);
//! * [`houses`]: who comes home to a house at night (unit-door entrants
//!   attributed to one house of the unit) — unregistered and group rentals,
//!   gathering points;
//! * [`evaluate`]: per model, precision, recall, the misses and the false
//!   alarms by id against `truth.json` ([`model::truth::Truth`]).
//!
//! Models never write: the composition root keeps the findings as tags.

pub mod houses;
pub mod key;
pub mod params;
pub mod persons;
pub mod profile;
pub mod vehicles;

use std::collections::{BTreeMap, BTreeSet};

use model::truth::Truth;
use model::{Clock, NodeRef, Timestamp};
use serde::Serialize;

pub use params::Params;

/// The models this build runs (the names `truth.json` uses).
pub const MODELS: &[&str] = &[
    "nocturnal",
    "frequent_night_outs",
    "many_communities",
    "reclusive",
    "moved_out",
    "vacant",
    "theft_casing",
    "unregistered_resident",
    "elderly_unseen",
    "not_home_overnight",
    "vehicle_nocturnal",
    "vehicle_not_home_overnight",
    "vehicle_frequent_night_return",
    "zombie_vehicle",
    "vehicle_muck",
    "vehicle_high_risk_origin",
    "key_gathering",
    "key_mental",
    "key_petitioner",
    "unregistered_rental",
    "group_rental",
    "gathering_point",
];

/// Most event ids kept as a finding's evidence (the latest).
pub const MAX_EVIDENCE: usize = 20;

/// A model's judgement about one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub model: &'static str,
    pub entity: NodeRef,
    /// The window the model looked at.
    pub from: Timestamp,
    pub to: Timestamp,
    pub score: f64,
    /// Event ids that made it true (for absence models: the last sighting).
    pub evidence: Vec<String>,
    pub detail: String,
    /// The model asks an officer to act: an alert is raised for it (once).
    pub alert: bool,
}

impl Finding {
    pub fn new(
        model: &'static str,
        entity: NodeRef,
        w: &profile::Window,
        score: f64,
        evidence: Vec<String>,
        detail: String,
    ) -> Self {
        Self {
            model,
            entity,
            from: w.from,
            to: w.to,
            score,
            evidence,
            detail,
            alert: false,
        }
    }

    pub fn alerting(mut self, alert: bool) -> Self {
        self.alert = alert;
        self
    }

    /// The id `truth.json` uses for the entity (a plate, a person id, …).
    pub fn truth_id(&self) -> &str {
        self.entity.key()
    }
}

/// The findings of the models as of one instant.
#[derive(Debug, Clone)]
pub struct Run {
    pub at: Timestamp,
    pub findings: Vec<Finding>,
}

/// What an analysis pass judged: one [`Run`] per day end from `since` (the
/// models as a daily job would have run them) up to the end of the data.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    pub runs: Vec<Run>,
    /// With a community filter: the entities judged (the subjects seen
    /// there, its residents and their houses); a tag outside is left alone.
    pub scope: Option<BTreeSet<NodeRef>>,
    /// Sightings read (each once, whatever the number of runs).
    pub read: u64,
    /// Seconds spent reading the sightings and registers, and judging.
    pub read_secs: f64,
    pub judge_secs: f64,
}

/// The sightings a scheduled job keeps for the next one (see
/// [`params::Incremental`]).
#[derive(Debug, Default)]
pub struct Cache {
    profiles: Option<profile::Profiles>,
    /// The span the profiles hold: `[from, to)`.
    span: Option<(Timestamp, Timestamp)>,
    full_read: Option<std::time::Instant>,
}

impl Cache {
    /// Forget what is kept (the next job reads its window in full).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// An incremental job: the sightings kept since the last job, and the
/// entities with an active tag (judged whether seen again or not).
#[derive(Debug)]
pub struct Incremental<'a> {
    pub cache: &'a mut Cache,
    pub tagged: &'a BTreeSet<NodeRef>,
}

/// How far a pass is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The sightings are read; `days` day ends are to be judged.
    Read { sightings: u64, days: usize },
    /// `done` of the day ends are judged.
    Judged { done: usize, days: usize },
}

/// What a pass judges, and how.
#[derive(Default)]
pub struct Job<'a> {
    /// Judge each local day end after this (default: the start of the data).
    pub since: Option<Timestamp>,
    /// …and this instant (default: the end of the data).
    pub until: Option<Timestamp>,
    /// Only these communities' devices and residents.
    pub communities: Option<&'a BTreeSet<model::CommunityId>>,
    /// Read only what arrived since the last job (all communities only).
    pub incremental: Option<Incremental<'a>>,
    pub progress: Option<&'a mut dyn FnMut(Progress)>,
}

impl std::fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("since", &self.since)
            .field("until", &self.until)
            .field("communities", &self.communities)
            .field("incremental", &self.incremental)
            .finish_non_exhaustive()
    }
}

/// Runs every model at each local day end after `since` (default: the
/// start of the data) and at `until` (default: the end of the data),
/// reading the sightings of the span once — or, for an incremental job of
/// all communities, only those that arrived since the last job.
/// `n` things, in the number they are (`1 community`, `3 communities`).
pub fn count_of(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn analyze(
    store: &graph::RocksStore,
    clock: Clock,
    params: &Params,
    job: Job<'_>,
) -> graph::Result<Pass> {
    let Job {
        since,
        until,
        communities,
        incremental,
        mut progress,
    } = job;
    let Some((first, last)) = profile::data_span(store)? else {
        return Ok(Pass::default());
    };
    let until = until.unwrap_or(Timestamp(last.0 + 1));
    let since = since.unwrap_or(first).max(first).min(until);
    let mut ats = Vec::new();
    let mut day = clock.local_date(since);
    while let Some(next) = day.succ_opt() {
        let Ok(end) = clock.from_local(next.and_time(chrono::NaiveTime::MIN)) else {
            break;
        };
        if end >= until {
            break;
        }
        if end > since {
            ats.push(end);
        }
        day = next;
    }
    ats.push(until);
    let t0 = std::time::Instant::now();
    let window = i64::from(params.longest_window_days()) * 86_400_000;
    let from = Timestamp(ats[0].0 - window);
    let local;
    let mut focus = None;
    let read;
    let profiles: &profile::Profiles = match incremental {
        Some(inc) if communities.is_none() => {
            let c = inc.cache;
            let full_every = std::time::Duration::from_secs(
                u64::from(params.incremental.full_read_hours) * 3600,
            );
            let late = i64::from(params.incremental.late_hours) * 3_600_000;
            let kept_to = c
                .span
                .filter(|(f, t)| *f <= from && *t >= from && *t <= until)
                .map(|(_, t)| t);
            let fresh = c.full_read.is_some_and(|t| t.elapsed() < full_every);
            match (c.profiles.as_mut(), kept_to) {
                (Some(kept), Some(kept_to)) if fresh => {
                    let newer = profile::Profiles::scan(
                        store,
                        Timestamp((kept_to.0 - late).max(from.0)),
                        until,
                        None,
                    )?;
                    read = newer.read;
                    let mut seen: BTreeSet<NodeRef> = newer.by_subject.keys().cloned().collect();
                    seen.extend(inc.tagged.iter().cloned());
                    focus = Some(seen);
                    kept.merge(newer, from);
                }
                _ => {
                    let p = profile::Profiles::scan(store, from, until, None)?;
                    read = p.read;
                    c.profiles = Some(p);
                    c.full_read = Some(std::time::Instant::now());
                }
            }
            c.span = Some((from, until));
            &*c.profiles.get_or_insert_with(profile::Profiles::default)
        }
        _ => {
            local = profile::Profiles::scan(store, from, until, communities)?;
            read = local.read;
            &local
        }
    };
    let vehicle_homes = profile::vehicle_homes(store)?;
    let houses = profile::houses(store, communities)?;
    let mut read_secs = t0.elapsed().as_secs_f64();
    let mut judge_secs = 0.0;
    let days = ats.len();
    if let Some(p) = progress.as_mut() {
        p(Progress::Read {
            sightings: read,
            days,
        });
    }
    let mut runs = Vec::with_capacity(ats.len());
    let mut scope: Option<BTreeSet<NodeRef>> =
        communities.map(|_| profiles.by_subject.keys().cloned().collect());
    for at in ats {
        let t = std::time::Instant::now();
        let mut residents = profile::residents(store, at)?;
        read_secs += t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        if let Some(cs) = communities {
            residents.retain(|r| cs.contains(&r.community));
        }
        if let Some(sc) = scope.as_mut() {
            for r in &residents {
                sc.insert(NodeRef::Person(r.person.clone()));
                sc.insert(NodeRef::House(r.house.clone()));
            }
        }
        let mut findings = persons::run(
            profiles,
            &residents,
            &vehicle_homes,
            at,
            first,
            clock,
            params,
            focus.as_ref(),
        );
        findings.extend(houses::run(
            profiles, &residents, &houses, at, clock, params,
        ));
        runs.push(Run { at, findings });
        judge_secs += t.elapsed().as_secs_f64();
        if let Some(p) = progress.as_mut() {
            p(Progress::Judged {
                done: runs.len(),
                days,
            });
        }
    }
    Ok(Pass {
        runs,
        scope,
        read,
        read_secs,
        judge_secs,
    })
}

/// How one model did against the truth.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelScore {
    pub true_positives: usize,
    /// Planted but not produced.
    pub misses: Vec<String>,
    /// Produced but not planted.
    pub false_alarms: Vec<String>,
}

impl ModelScore {
    /// Of what was produced, the share that was planted (1 when nothing was produced).
    pub fn precision(&self) -> f64 {
        let produced = self.true_positives + self.false_alarms.len();
        if produced == 0 {
            1.0
        } else {
            self.true_positives as f64 / produced as f64
        }
    }

    /// Of what was planted, the share that was produced (1 when nothing was planted).
    pub fn recall(&self) -> f64 {
        let planted = self.true_positives + self.misses.len();
        if planted == 0 {
            1.0
        } else {
            self.true_positives as f64 / planted as f64
        }
    }
}

/// Scores `produced` (model name → entity ids) against the truth, for every
/// model named by either side; models the truth marks as not planted are
/// left out.
pub fn evaluate(
    truth: &Truth,
    produced: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, ModelScore> {
    let empty = BTreeSet::new();
    let models: BTreeSet<&String> = truth.models.keys().chain(produced.keys()).collect();
    models
        .into_iter()
        .filter(|m| !truth.not_planted.contains_key(*m))
        .map(|m| {
            let planted: BTreeSet<&str> = truth
                .models
                .get(m)
                .into_iter()
                .flatten()
                .map(|p| p.id.as_str())
                .collect();
            let got: BTreeSet<&str> = produced
                .get(m)
                .unwrap_or(&empty)
                .iter()
                .map(String::as_str)
                .collect();
            let score = ModelScore {
                true_positives: planted.intersection(&got).count(),
                misses: planted.difference(&got).map(|s| (*s).to_owned()).collect(),
                false_alarms: got.difference(&planted).map(|s| (*s).to_owned()).collect(),
            };
            (m.clone(), score)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_misses_and_false_alarms() {
        let mut truth = Truth {
            version: Truth::VERSION,
            ..Default::default()
        };
        for id in ["p1", "p2", "p3", "p4"] {
            truth.plant("nocturnal", id, "");
        }
        truth.plant("vacant", "h1", "");
        truth
            .not_planted
            .insert("moved_out".into(), "too short".into());
        let produced = BTreeMap::from([
            (
                "nocturnal".to_owned(),
                BTreeSet::from([
                    "p1".to_owned(),
                    "p2".to_owned(),
                    "p3".to_owned(),
                    "x".to_owned(),
                ]),
            ),
            ("moved_out".to_owned(), BTreeSet::from(["p9".to_owned()])),
        ]);
        let scores = evaluate(&truth, &produced);
        let n = &scores["nocturnal"];
        assert_eq!(
            (n.true_positives, n.misses.clone(), n.false_alarms.clone()),
            (3, vec!["p4".into()], vec!["x".into()])
        );
        assert!((n.precision() - 0.75).abs() < 1e-9 && (n.recall() - 0.75).abs() < 1e-9);
        assert_eq!(scores["vacant"].recall(), 0.0);
        assert_eq!(scores["vacant"].precision(), 1.0);
        assert!(!scores.contains_key("moved_out"));
    }
}
