//! The analysis models over the `small` city (35 days): every implemented
//! model holds precision and recall ≥ 0.95 against the planted truth (but
//! the two whose misses the truth does not plant, below), and running the
//! job again over the same data changes nothing.

/// Models held to recall only, with why: their remaining false alarms are
/// real by DESIGN.md's definition but not planted by the generator.
/// `zombie_vehicle`: vehicles of moved-out households, last seen entering;
/// `unregistered_resident`: residents without a registered face, whose
/// captures form a stranger archive seen daily at their community.
const RECALL_ONLY: [&str; 2] = ["zombie_vehicle", "unregistered_resident"];

/// Judged by the real-time rules inside `anju serve` (the server tests hold
/// them), not by `anju analyze`.
const REALTIME: [&str; 1] = ["ebike_card_mismatch"];

use super::{anju, ingest, ok, small_city};

#[test]
fn models_find_what_was_planted_and_reruns_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_city(dir.path(), 11, 35, "data");
    let store = dir.path().join("store");
    ok(&mut ingest(&store, &[&data]));
    // the deployment the city assumes (its high-risk plate prefixes and
    // sensitive periods), as a real deployment configures them
    let config = data.join("deployment.toml");
    let first = ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&store)
        .arg("analyze"));
    assert!(first.contains("analysis of 3"), "{first}");
    // elderly unseen and a key-theft-record caser raise alerts
    assert!(!first.contains("alerts raised: 0"), "{first}");
    let out = ok(anju()
        .arg("--store")
        .arg(&store)
        .args(["evaluate", "--truth"])
        .arg(data.join("truth.json")));
    let mut judged = 0;
    for line in out.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 5 || cols[1] == "not" || REALTIME.contains(&cols[0]) {
            continue;
        }
        let (planted, precision, recall): (u32, f64, f64) = (
            cols[1].parse().unwrap(),
            cols[3].parse().unwrap(),
            cols[4].parse().unwrap(),
        );
        if planted > 0 {
            judged += 1;
            assert!(recall >= 0.95, "{line}\n{out}");
            if !RECALL_ONLY.contains(&cols[0]) {
                assert!(precision >= 0.95, "{line}\n{out}");
            }
        }
    }
    assert!(judged >= 20, "{out}");
    // a region's job judges only its communities
    let region = std::fs::read_to_string(data.join("base.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "community")
        .map(|v| v["region"].as_str().unwrap().to_owned())
        .unwrap();
    let active = |out: &str| -> u64 {
        out.lines()
            .skip(2)
            .filter(|l| !l.starts_with("alerts") && !l.starts_with("forgot"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    };
    let scratch = dir.path().join("scratch");
    ok(&mut ingest(&scratch, &[&data]));
    let all = ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&scratch)
        .arg("analyze"));
    let one = ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&scratch)
        .args(["analyze", "--afresh", "--region", &region]));
    assert!(
        active(&one) > 0 && active(&one) < active(&all),
        "{all}\n{one}"
    );

    // the same data again: every tag unchanged, nothing new, nothing retired
    let again = ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&store)
        .args(["analyze", "--since", "2026-10-01"]));
    assert!(again.contains("alerts raised: 0"), "{again}");
    for line in again.lines().skip(2) {
        if line.starts_with("alerts raised") {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((cols[2], cols[5]), ("0", "0"), "{again}");
    }
}

/// Daily jobs that keep their sightings (the schedule inside `anju serve`)
/// read far less and leave exactly the tags that daily jobs reading their
/// whole window leave.
#[test]
fn incremental_jobs_read_less_and_tag_alike() {
    use server::{analysis_job, tagbook};
    let dir = tempfile::tempdir().unwrap();
    let data = small_city(dir.path(), 5, 35, "data");
    let path = dir.path().join("store");
    ok(&mut ingest(&path, &[&data]));
    let store = graph::RocksStore::open(&graph::StoreConfig::new(&path)).unwrap();
    let config = server::config::Config::default();
    let clock = config.clock().unwrap();
    let mut params = config.analysis.clone();
    params.high_risk_origin.prefixes = vec!["滇H".into()];
    let (first, last) = analysis::profile::data_span(&store).unwrap().unwrap();
    // every local day end of the data, then its end
    let mut untils = Vec::new();
    let mut day = clock.local_date(first);
    loop {
        day = day.succ_opt().unwrap();
        let end = clock
            .from_local(day.and_time(chrono::NaiveTime::MIN))
            .unwrap();
        if end > last {
            break;
        }
        untils.push(Some(end));
    }
    untils.push(None);
    let everything = |store: &graph::RocksStore| -> Vec<String> {
        analysis::MODELS
            .iter()
            .flat_map(|m| tagbook::tags(store, m, false).unwrap())
            .map(|t| serde_json::to_string(&t).unwrap())
            .collect()
    };
    let models = analysis_job::models(&[]).unwrap();
    let jobs = |cache: Option<&std::sync::Mutex<analysis::Cache>>| -> (u64, Vec<String>) {
        analysis_job::reset(&store).unwrap();
        let mut read = 0;
        for until in &untils {
            let req = analysis_job::Request {
                until: *until,
                cache,
                ..Default::default()
            };
            let r = analysis_job::run(&store, clock, &params, &models, req).unwrap();
            read += r.read;
        }
        (read, everything(&store))
    };
    let (read_whole, whole) = jobs(None);
    let cache = std::sync::Mutex::new(analysis::Cache::default());
    let (read_kept, kept) = jobs(Some(&cache));
    assert!(whole.len() > 40, "{} tags", whole.len());
    assert_eq!(kept, whole);
    assert!(
        read_kept * 5 < read_whole,
        "read {read_kept} sightings incrementally, {read_whole} in whole windows"
    );
}
