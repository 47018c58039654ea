//! End to end through the `anju` binary: generate, ingest, inspect; the same
//! store whatever the order or repetition; bad input reported; and no event
//! lost or duplicated when the ingesting process dies at any point.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rand::{Rng, SeedableRng};

mod access;
mod analysis;
mod api;
mod corruption;
mod crashloop;
mod defects;
mod diskfull;
mod relations;
mod reliability;
mod search;
mod security;
mod viid;

fn anju() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_anju"));
    c.env_remove("ANJU_FAILPOINTS")
        .env_remove("ANJU_CONFIG")
        .env_remove("ANJU_STORE");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run anju");
    if std::env::var_os("ANJU_TEST_VERBOSE").is_some() {
        eprintln!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A small city of `days` days under `dir/data`.
fn city(dir: &Path, days: u32) -> PathBuf {
    small_city(dir, 3, days, "data")
}

/// A small city of seed `seed` and `days` days under `dir/name`.
fn small_city(dir: &Path, seed: u64, days: u32, name: &str) -> PathBuf {
    let data = dir.join(name);
    ok(anju()
        .args(["fixtures", "--preset", "small", "--seed"])
        .arg(seed.to_string())
        .arg("--days")
        .arg(days.to_string())
        .arg("--out")
        .arg(&data));
    data
}

fn ingest(store: &Path, paths: &[&Path]) -> Command {
    let mut c = anju();
    c.arg("--store")
        .arg(store)
        .args(["ingest", "--progress", "none"])
        .args(paths);
    c
}

/// Checks the store's invariants and returns its content digest.
fn checked_digest(store: &Path) -> String {
    let out = ok(anju().arg("--store").arg(store).arg("check"));
    assert!(out.lines().any(|l| l == "ok"), "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("digest "))
        .unwrap()
        .to_owned()
}

fn stats(store: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(anju()
        .arg("--store")
        .arg(store)
        .args(["stats", "--json"])))
    .unwrap()
}

/// Events the store holds, from `stats --json`.
fn n_events(stats: &serde_json::Value) -> u64 {
    stats["events"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

/// Distinct event ids in the generated files (what "exactly once" means).
fn distinct_event_ids(data: &Path) -> usize {
    let mut ids = std::collections::HashSet::new();
    for f in std::fs::read_dir(data.join("events")).unwrap() {
        for line in std::fs::read_to_string(f.unwrap().path()).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.insert(v["id"].as_str().unwrap().to_owned());
        }
    }
    ids.len()
}

#[test]
fn ingest_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 4);
    let store = dir.path().join("store");
    let first = ok(&mut ingest(&store, &[&data]));
    assert!(first.contains("ingested"), "{first}");
    let d1 = checked_digest(&store);
    let s = stats(&store);
    let n = n_events(&s);
    assert_eq!(n as usize, distinct_event_ids(&data));
    assert_eq!(s["pending_references"], 0);
    let second = ok(&mut ingest(&store, &[&data]));
    let total = second.lines().find(|l| l.starts_with("total")).unwrap();
    let cols: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cols[1], "0", "nothing new the second time: {total}");
    assert_eq!(checked_digest(&store), d1);
    let text = ok(anju().arg("--store").arg(&store).arg("stats"));
    assert!(
        text.contains("face_capture") && text.contains("pending references: 0"),
        "{text}"
    );
}

#[test]
fn order_of_files_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 3);
    let a = dir.path().join("a");
    ok(&mut ingest(&a, &[&data]));
    // events first: every event waits for its device, then all resolve
    let b = dir.path().join("b");
    let events = data.join("events");
    ok(&mut ingest(&b, &[&events]));
    assert!(stats(&b)["pending_references"].as_u64().unwrap() > 0);
    let base: Vec<PathBuf> = ["devices.csv", "residences.csv", "houses.csv", "base.jsonl"]
        .iter()
        .map(|f| data.join(f))
        .collect();
    let base: Vec<&Path> = base.iter().map(PathBuf::as_path).collect();
    ok(&mut ingest(&b, &base));
    assert_eq!(stats(&b)["pending_references"], 0);
    assert_eq!(checked_digest(&a), checked_digest(&b));
}

#[test]
fn gzip_and_plain_files_give_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let plain = city(dir.path(), 2);
    let gz = dir.path().join("gz");
    ok(anju()
        .args([
            "fixtures", "--preset", "small", "--seed", "3", "--days", "2", "--gzip", "--out",
        ])
        .arg(&gz));
    assert!(gz.join("events/2026-10-01.jsonl.gz").exists());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&mut ingest(&a, &[&plain]));
    ok(&mut ingest(&b, &[&gz]));
    assert_eq!(checked_digest(&a), checked_digest(&b));
}

#[test]
fn bad_records_are_reported_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.jsonl");
    let mut body = Vec::new();
    body.extend_from_slice(br#"{"type":"door_sensor","id":"s1","device":"D1","time":"2026-11-20T07:31:05+08:00","state":"open"}"#);
    body.extend_from_slice(b"\n{\"type\":\"teleport\",\"id\":\"x\"}\n");
    body.extend_from_slice(b"{\"type\":\"door_sensor\",\"id\":\"s2\",\"device\":\"D\xff1\"}\n");
    body.extend_from_slice(br#"{"type":"face_capture","id":"f1","device":"D1","time":"2026-11-20 07:31:05","feature":[1,2]}"#);
    body.extend_from_slice(b"\n\n");
    body.extend_from_slice(br#"{"type":"door_sensor","id":"s3","device":"D1","time":"20261120073106","state":"close"}"#);
    std::fs::write(&f, body).unwrap();
    let store = dir.path().join("store");
    let out = run(&mut ingest(&store, &[&f]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "rejects make the exit code non-zero"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let name = f.display().to_string();
    assert!(
        err.contains(&format!("{name}:2: type: unknown type \"teleport\"")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:3: -: not valid UTF-8")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{name}:4: feature: invalid feature: dimension 2 (expected 128)"
        )),
        "{err}"
    );
    let s = stats(&store);
    assert_eq!(s["events"]["door_sensor"], 2, "the good records are kept");
    assert_eq!(s["pending_references"], 2, "their device is awaited");
}

#[test]
fn a_locked_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 1);
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let _held = graph::RocksStore::open(&graph::StoreConfig::new(&store)).unwrap();
    let out = run(&mut ingest(&store, &[&data]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked by another process"));
    let missing = run(anju()
        .arg("--store")
        .arg(dir.path().join("none"))
        .arg("stats"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store at"));
}

fn small_batches(dir: &Path) -> PathBuf {
    let cfg = dir.join("anju.toml");
    std::fs::write(&cfg, "version = 1\n[ingest]\nbatch_size = 200\n").unwrap();
    cfg
}

#[test]
fn a_crash_at_each_failpoint_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 3);
    let cfg = small_batches(dir.path());
    let clean = dir.path().join("clean");
    ok(ingest(&clean, &[&data]).arg("--config").arg(&cfg));
    let expected = checked_digest(&clean);
    for (i, fp) in [
        "before_write=1",
        "before_write=4",
        "after_write=1",
        "after_write=5",
    ]
    .iter()
    .enumerate()
    {
        let store = dir.path().join(format!("s{i}"));
        let out = run(ingest(&store, &[&data])
            .arg("--config")
            .arg(&cfg)
            .env("ANJU_FAILPOINTS", fp));
        assert!(!out.status.success(), "{fp} must crash the ingest");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("failpoint"),
            "{fp}"
        );
        ok(ingest(&store, &[&data]).arg("--config").arg(&cfg));
        assert_eq!(checked_digest(&store), expected, "after {fp}");
    }
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let rounds: usize = std::env::var("ANJU_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let seed: u64 = std::env::var("ANJU_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 14);
    let cfg = small_batches(dir.path());
    let clean = dir.path().join("clean");
    ok(ingest(&clean, &[&data]).arg("--config").arg(&cfg));
    let expected = checked_digest(&clean);
    let n_batches = {
        let s = stats(&clean);
        let n = n_events(&s);
        n / 200
    };

    let store = dir.path().join("crashed");
    let mut kills = 0;
    for _ in 0..rounds {
        let mut child = ingest(&store, &[&data])
            .arg("--config")
            .arg(&cfg)
            .args(["--progress", "plain"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // kill after a random number of acknowledged batches, a random few
        // microseconds into the next one
        let after = rng.random_range(1..n_batches.max(2));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = 0;
        while acked < after {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("acked") => acked += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(rng.random_range(0..3000)));
        if child.kill().is_ok() {
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills > 0);
    ok(ingest(&store, &[&data]).arg("--config").arg(&cfg));
    assert_eq!(checked_digest(&store), expected, "after {kills} kills");
    let s = stats(&store);
    let n = n_events(&s);
    assert_eq!(n as usize, distinct_event_ids(&data));
    assert_eq!(
        s["log_length"].as_u64().unwrap(),
        n,
        "each event logged exactly once"
    );
    // timelines and relations, projected batch by batch between the kills,
    // are what a clean ingest gives
    let derived = |store: &Path| {
        let out = ok(anju()
            .arg("--store")
            .arg(store)
            .args(["project", "--digest"]));
        let digest = out
            .lines()
            .find_map(|l| l.strip_prefix("derived digest "))
            .unwrap()
            .to_owned();
        // the search indexes resume from their checkpoints: the same
        // documents, archives and vectors as a clean ingest
        let indexes = out
            .lines()
            .find(|l| l.starts_with("full-text:"))
            .and_then(|l| l.split_once(", "))
            .map(|(_, rest)| rest.to_owned())
            .unwrap();
        (digest, indexes)
    };
    assert_eq!(derived(&store), derived(&clean), "after {kills} kills");
}
