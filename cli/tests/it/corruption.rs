//! Damage on disk: a flipped byte in the write-ahead log refuses the open
//! with a clear error (acknowledged batches are never dropped silently); a
//! damaged full-text index is refused by the read-only search and rebuilt
//! from the store of record by the next projection; so is a damaged face
//! index (its log's records carry checksums; a log shorter than its graph
//! snapshot covered is cut short), while a damaged graph snapshot is only
//! rebuilt from the log. No panic anywhere.

use std::path::{Path, PathBuf};

use super::{anju, city, ingest, ok, run};

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    v
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x5a;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_damaged_write_ahead_log_refuses_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 3);
    let store = dir.path().join("store");
    // the process dies after its 4th durable batch: the log holds them
    let cfg = dir.path().join("small.toml");
    std::fs::write(&cfg, "version = 1\n[ingest]\nbatch_size = 300\n").unwrap();
    let out = run(ingest(&store, &[&data])
        .arg("--config")
        .arg(&cfg)
        .env("ANJU_FAILPOINTS", "after_write=4"));
    assert!(!out.status.success());
    let log = files(&store, "log")
        .into_iter()
        .next()
        .expect("a write-ahead log");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    assert!(len > 10_000, "{len}");
    flip(&log, len / 3);
    for args in [vec!["stats"], vec!["check"]] {
        let out = run(anju().arg("--store").arg(&store).args(&args));
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!out.status.success(), "{args:?} opened a damaged log");
        assert!(err.contains("corrupt"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_damaged_text_index_is_refused_then_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 2);
    let store = dir.path().join("store");
    ok(&mut ingest(&store, &[&data]));
    let name = std::fs::read_to_string(data.join("base.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            (v["type"] == "person")
                .then(|| v["name"].as_str().map(str::to_owned))
                .flatten()
        })
        .unwrap();
    let search = || {
        run(anju()
            .arg("--store")
            .arg(&store)
            .args(["search", &name, "--per-page", "1"]))
    };
    let before: serde_json::Value = serde_json::from_slice(&search().stdout).unwrap();
    assert!(before["total"].as_u64().unwrap() >= 1, "{before}");
    // damage the largest file of the index
    let text = store.join("search").join("text");
    let victim = std::fs::read_dir(&text)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.') && p.is_file())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let len = std::fs::metadata(&victim).unwrap().len() as usize;
    flip(&victim, len / 2);
    let out = search();
    assert!(!out.status.success(), "a damaged index answered");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("damaged") && !err.contains("panicked"),
        "{err}"
    );
    // the projection notices and rebuilds it from the store of record
    let out = run(anju().arg("--store").arg(&store).arg("project"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rebuilding"));
    let after: serde_json::Value = serde_json::from_slice(&search().stdout).unwrap();
    assert_eq!(after["total"], before["total"]);
    assert_eq!(after["hits"][0], before["hits"][0]);
}

#[test]
fn a_damaged_face_index_is_refused_then_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path(), 2);
    let store = dir.path().join("store");
    ok(&mut ingest(&store, &[&data]));
    let faces = store.join("search").join("faces");
    let log = faces.join("faces.log");
    let stats = || run(anju().arg("--store").arg(&store).args(["faces", "stats"]));
    let json = |out: &std::process::Output| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        serde_json::json!({"archives": v["archives"], "vectors": v["vectors"]})
    };
    let before = json(&stats());
    assert!(before["vectors"].as_u64().unwrap() > 100, "{before}");
    assert!(
        faces.join("graph.meta").exists(),
        "a clean close snapshots the graph"
    );
    let cut = |f: &Path, len: u64| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(f)
            .unwrap()
            .set_len(len)
            .unwrap();
    };
    let project = |what: &str, rebuilt: bool| {
        let out = run(anju().arg("--store").arg(&store).arg("project"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {err}");
        assert_eq!(err.contains("rebuilding"), rebuilt, "{what}: {err}");
        let after = stats();
        assert!(after.status.success(), "{what}");
        assert_eq!(json(&after), before, "{what}: rebuilt");
    };

    // damage to the log: refused, then rebuilt from the store of record
    type Damage<'a> = (&'a str, &'a dyn Fn(&Path));
    let damages: [Damage; 2] = [
        ("a flipped byte", &|f| {
            let len = std::fs::metadata(f).unwrap().len() as usize;
            flip(f, len / 2);
        }),
        ("cut short", &|f| {
            let len = std::fs::metadata(f).unwrap().len();
            cut(f, len / 2);
        }),
    ];
    for (what, damage) in damages {
        damage(&log);
        let out = stats();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: a damaged index answered");
        assert!(
            err.contains("damaged") && !err.contains("panicked"),
            "{what}: {err}"
        );
        project(what, true);
    }

    // after a crash (no snapshot), a log cut short is a torn tail: the
    // index opens at its last whole commit and the projection replays the
    // rest from the store
    std::fs::remove_file(faces.join("graph.meta")).unwrap();
    cut(&log, std::fs::metadata(&log).unwrap().len() * 2 / 3);
    let torn = stats();
    assert!(torn.status.success());
    assert!(json(&torn)["vectors"].as_u64() < before["vectors"].as_u64());
    project("a torn tail", false);

    // a damaged snapshot of the graph: the graph is rebuilt from the log,
    // nothing else changes
    let snapshot = std::fs::read_dir(&faces)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "usearch"))
        .expect("a snapshot");
    flip(
        &snapshot,
        std::fs::metadata(&snapshot).unwrap().len() as usize / 2,
    );
    let out = stats();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out), before);
}
