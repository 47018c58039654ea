//! Search end to end: the full-text index and the face index kept by
//! ingest, queried through `anju search` / `anju faces`, resumed from their
//! checkpoints, rebuilt alike; stranger clustering measured against the
//! fixtures' ground truth.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{anju, ok, small_city};

fn run(store: &Path, args: &[&str]) -> Value {
    let out = ok(anju().arg("--store").arg(store).args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn nodes(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap().to_owned())
        .collect()
}

fn first_of(data: &Path, ty: &str) -> Value {
    std::fs::read_to_string(data.join("base.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == ty)
        .unwrap()
}

/// A small city ingested into a fresh store: (its directory, data, store).
fn ingested_city(seed: u64, days: u32) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = small_city(dir.path(), seed, days, "data");
    let store = dir.path().join("store");
    ok(anju()
        .arg("--store")
        .arg(&store)
        .args(["ingest", "--progress", "none"])
        .arg(&data));
    (dir, data, store)
}

#[test]
fn the_city_is_findable_and_its_faces_are_one_archive_per_person() {
    let (_dir, data, store) = ingested_city(3, 3);
    // indexed batch by batch, then merged: one segment answers
    let text = search::TextIndex::open_reader(&store.join("search").join("text")).unwrap();
    assert_eq!(text.segments(), 1, "the ingest's segments were merged");
    drop(text);

    let p = first_of(&data, "person");
    let (id, name, phone) = (
        p["id"].as_str().unwrap(),
        p["name"].as_str().unwrap(),
        p["phone"].as_str().unwrap(),
    );
    let me = format!("person:{id}");
    let found = |q: &str, extra: &[&str]| {
        let mut args = vec!["search", q, "--per-page", "50"];
        args.extend_from_slice(extra);
        run(&store, &args)
    };
    assert!(nodes(&found(name, &[])).contains(&me), "by name");
    assert!(nodes(&found(id, &[])).contains(&me), "by id number");
    assert_eq!(nodes(&found(id, &[]))[0], me, "a full id ranks first");
    let suffix = &id[id.len() - 4..];
    assert!(
        nodes(&found(suffix, &["--kind", "person"])).contains(&me),
        "by id suffix"
    );
    let masked = format!("{}????{}", &phone[..3], &phone[7..]);
    assert!(nodes(&found(&masked, &[])).contains(&me), "by masked phone");
    // a plate with a wildcard, any case
    let v = first_of(&data, "vehicle");
    let plate = v["plate"].as_str().unwrap();
    let chars: Vec<char> = plate.chars().collect();
    let partial: String = chars[..2]
        .iter()
        .chain(['*'].iter())
        .chain(chars[chars.len() - 3..].iter())
        .collect::<String>()
        .to_lowercase();
    let hits = found(&partial, &["--kind", "vehicle"]);
    assert!(
        nodes(&hits).contains(&format!("vehicle:{plate}")),
        "{partial}"
    );
    assert_eq!(hits["facets"]["kind"][0]["value"], "vehicle");
    // a community by name; regions include those below them
    let c = first_of(&data, "community");
    let cname = c["name"].as_str().unwrap();
    let region = c["region"].as_str().unwrap();
    let r = found(cname, &["--kind", "community"]);
    assert_eq!(
        nodes(&r)[0],
        format!("community:{}", c["id"].as_str().unwrap())
    );
    let province = &format!("{}0000", &region[..2]);
    let within = found(cname, &["--region", province]);
    assert!(within["total"].as_u64().unwrap() > 1);
    assert_eq!(found(cname, &["--region", "110000"])["total"], 0);
    // paging: same total, disjoint pages
    let p1 = run(&store, &["search", cname, "--per-page", "5"]);
    let p2 = run(&store, &["search", cname, "--per-page", "5", "--page", "2"]);
    assert_eq!(p1["total"], p2["total"]);
    assert!(nodes(&p1).iter().all(|n| !nodes(&p2).contains(n)));
    // a clear error for a bad query
    let out = anju()
        .arg("--store")
        .arg(&store)
        .args(["search", "*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wildcard"));

    // caught up: projecting again indexes nothing twice; a rebuild answers alike
    let again = ok(anju().arg("--store").arg(&store).arg("project"));
    assert!(
        again.contains("full-text: 0 base records indexed"),
        "{again}"
    );
    let before = found(name, &[]);
    ok(anju().arg("--store").arg(&store).arg("rebuild"));
    assert_eq!(nodes(&found(name, &[])), nodes(&before));

    // faces: a person's face finds nobody else above the match threshold
    // here, and clustering against the ground truth is exact on this city
    let faces = run(&store, &["faces", "stats"]);
    assert!(faces["archives"].as_u64().unwrap() > 0);
    let similar = run(&store, &["faces", "similar", &me, "--k", "3"]);
    assert!(similar["similar"].is_array());
    // a face search by feature finds its person, within the person's region
    // and not outside it
    let face = p["face"].as_str().expect("the first person has a face");
    let hits = run(&store, &["faces", "search", face, "--k", "3"]);
    assert_eq!(hits["hits"][0]["node"], me.as_str(), "{hits}");
    assert!(hits["hits"][0]["score"].as_f64().unwrap() > 0.99);
    let here = run(&store, &["faces", "search", face, "--region", province]);
    assert_eq!(here["hits"][0]["node"], me.as_str());
    let elsewhere = run(&store, &["faces", "search", face, "--region", "110000"]);
    assert_eq!(elsewhere["hits"].as_array().unwrap().len(), 0);
    let strangers = run(
        &store,
        &[
            "faces",
            "search",
            face,
            "--kind",
            "stranger",
            "--min-score",
            "0.9",
        ],
    );
    assert!(
        strangers["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["node"].as_str().unwrap().starts_with("stranger:"))
    );
    let truth = data.join("faces-truth.csv");
    let m = run(&store, &["evaluate-faces", truth.to_str().unwrap()]);
    assert!(m["captures"].as_u64().unwrap() > 50, "{m}");
    assert!(m["pairwise_precision"].as_f64().unwrap() >= 0.95, "{m}");
    assert!(m["pairwise_recall"].as_f64().unwrap() >= 0.95, "{m}");
    assert!(m["correctly_attributed"].as_f64().unwrap() >= 0.95, "{m}");
}

#[test]
fn an_investigator_merges_a_stranger_archive_into_a_person() {
    let (_dir, data, store) = ingested_city(4, 2);
    // a stranger's archive, from the ground truth's first stranger capture
    let truth = std::fs::read_to_string(data.join("faces-truth.csv")).unwrap();
    let event = truth
        .lines()
        .skip(1)
        .find(|l| l.ends_with(",0,stranger:0") || l.contains(",stranger:"))
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let archive = format!("stranger:s-{event}-0");
    let similar = run(&store, &["faces", "similar", &archive, "--k", "3"]);
    assert_eq!(similar["node"], archive.as_str());
    let p = first_of(&data, "person");
    let person = format!("person:{}", p["id"].as_str().unwrap());
    let merged = run(&store, &["merge", &archive, &person]);
    assert_eq!(merged["into"], person.as_str());
    // the archive's faces now count for the person, and stay so
    let out = anju()
        .arg("--store")
        .arg(&store)
        .args(["faces", "similar", &archive])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the merged archive has no faces left"
    );
    let m = run(
        &store,
        &[
            "evaluate-faces",
            data.join("faces-truth.csv").to_str().unwrap(),
        ],
    );
    assert!(
        m["correctly_attributed"].as_f64().unwrap() < 1.0,
        "the wrong merge shows: {m}"
    );
}

/// With `identity.attribute_faces = false` (faces matched on the devices),
/// captures carrying a person id are still sightings; nothing is indexed and
/// no stranger archive is formed.
#[test]
fn without_server_side_attribution_only_device_matched_captures_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_city(dir.path(), 3, 3, "data");
    let config = dir.path().join("anju.toml");
    std::fs::write(
        &config,
        "version = 1\n[identity]\nattribute_faces = false\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let with_config = |args: &[&str]| {
        ok(anju()
            .arg("--config")
            .arg(&config)
            .arg("--store")
            .arg(&store)
            .args(args))
    };
    with_config(&["ingest", "--progress", "none", data.to_str().unwrap()]);
    let stats: Value = serde_json::from_str(&with_config(&["faces", "stats"])).unwrap();
    assert_eq!(
        (stats["archives"].as_u64(), stats["vectors"].as_u64()),
        (Some(0), Some(0))
    );
    // a capture the device matched is the person's sighting; an unmatched
    // one is nobody's
    let events = std::fs::read_dir(data.join("events"))
        .unwrap()
        .flat_map(|f| {
            std::fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|v| v["type"] == "face_capture")
        .collect::<Vec<_>>();
    let matched = events.iter().find(|v| v["person"].is_string()).unwrap();
    let person = matched["person"].as_str().unwrap();
    let items = |node: String| -> Vec<Value> {
        let out = with_config(&["timeline", &node, "--limit", "100000"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["items"].as_array().unwrap().clone()
    };
    assert!(
        items(format!("person:{person}"))
            .iter()
            .any(|s| s["event"] == matched["id"])
    );
    let unmatched = events.iter().find(|v| v["person"].is_null()).unwrap();
    let at_device = items(format!("device:{}", unmatched["device"].as_str().unwrap()));
    let seen = at_device
        .iter()
        .find(|s| s["event"] == unmatched["id"])
        .unwrap_or_else(|| panic!("{at_device:?}"));
    assert_eq!(seen["subjects"], serde_json::json!([]), "{seen}");
}
