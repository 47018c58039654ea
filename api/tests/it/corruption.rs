//! Damage on disk: a flipped byte in the write-ahead log refuses the open
//! with a clear error (acknowledged batches are never dropped silently); a
//! damaged full-text index is refused by the read-only search and rebuilt
//! from the store of record by the next projection; so is a damaged face
//! index (checked against the seal of its last clean close, or for length
//! after a crash). No panic anywhere.

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
    let stats = || run(anju().arg("--store").arg(&store).args(["faces", "stats"]));
    let json = |out: &std::process::Output| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        serde_json::json!({"archives": v["archives"], "vectors": v["vectors"]})
    };
    let before = json(&stats());
    assert!(before["vectors"].as_u64().unwrap() > 100, "{before}");
    assert!(faces.join("SEAL").exists(), "a clean close seals the index");

    type Damage<'a> = (&'a str, &'a dyn Fn(&Path));
    let damages: [Damage; 3] = [
        ("a flipped byte", &|f| {
            let len = std::fs::metadata(f).unwrap().len() as usize;
            flip(f, len / 2);
        }),
        ("cut short", &|f| {
            let len = std::fs::metadata(f).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)
                .unwrap()
                .set_len(len / 2)
                .unwrap();
        }),
        ("cut short after a crash (no seal)", &|f| {
            std::fs::remove_file(f.with_file_name("SEAL")).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)
                .unwrap()
                .set_len(16 * 1024)
                .unwrap();
        }),
    ];
    for (what, damage) in damages {
        damage(&faces.join("data.mdb"));
        let out = stats();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: a damaged index answered");
        assert!(
            err.contains("damaged") && !err.contains("panicked"),
            "{what}: {err}"
        );
        // the projection notices and rebuilds it from the store of record
        let out = run(anju().arg("--store").arg(&store).arg("project"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {err}");
        assert!(err.contains("rebuilding"), "{what}: {err}");
        let after = stats();
        assert!(after.status.success(), "{what}");
        assert_eq!(json(&after), before, "{what}: rebuilt");
    }
}
