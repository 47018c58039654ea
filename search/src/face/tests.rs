//! The face index's tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::{ExactIndex, VectorIndex};

fn random(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

fn feature(v: &[f32]) -> model::Feature {
    model::Feature::new(v.to_vec(), v.len()).unwrap()
}

const ANN: FaceParams = FaceParams {
    connectivity: 16,
    ef_construction: 128,
    ef_search: 128,
    quantisation: Quantisation::I8,
    // the graph answers (no exact scans of small candidate sets)
    exact_below: 0,
    rerank: 40,
};

fn all() -> FaceFilter<'static> {
    FaceFilter::default()
}

/// Every entity and vector the index holds, in order (to compare two).
fn contents(idx: &FaceIndex) -> Vec<(String, Vec<Vec<f32>>)> {
    let s = idx.read();
    let mut es: Vec<String> = s.by_entity.keys().map(|e| e.to_string()).collect();
    drop(s);
    es.sort();
    es.into_iter()
        .map(|e| {
            let v = idx.vectors_of(&e).unwrap();
            (e, v)
        })
        .collect()
}

#[test]
fn staged_and_committed_vectors_answer_alike_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let vs = random(300, 32, 1);
    {
        let idx = FaceIndex::open(dir.path(), 32, ANN).unwrap();
        assert_eq!(idx.checkpoint(), None);
        for (i, v) in vs.iter().enumerate() {
            let kind = if (i / 2) % 3 == 1 {
                "stranger"
            } else {
                "person"
            };
            idx.add(&format!("{kind}:{}", i / 2), &format!("c{}", i % 5), v)
                .unwrap();
        }
        // staged: found at once, scored exactly
        let hit = &idx.search(&vs[7], 1, 0.0, &all()).unwrap()[0];
        assert_eq!(hit.entity, "person:3");
        assert!((hit.score - 1.0).abs() < 1e-5);
        idx.commit("7").unwrap();
        assert_eq!(idx.stats().staged, 0);
        let hit = &idx.search(&vs[7], 1, 0.0, &all()).unwrap()[0];
        assert_eq!(hit.entity, "person:3");
        assert!((hit.score - 1.0).abs() < 1e-5);
        assert_eq!(idx.representatives("person:3"), 2);
        // uncommitted work is lost with the process
        idx.add("person:new", "c1", &vs[0]).unwrap();
    }
    let idx = FaceIndex::open(dir.path(), 32, ANN).unwrap();
    assert_eq!(idx.checkpoint().as_deref(), Some("7"));
    assert_eq!(idx.representatives("person:new"), 0);
    assert_eq!(idx.stats().vectors, 300);
    let back = idx.vectors_of("person:3").unwrap();
    assert_eq!(back.len(), 2);
    let want = crate::normalise_slice(&vs[6], 32).unwrap();
    assert!(back.iter().any(|v| v == &want), "vectors come back exactly");
    // filters: kind, scope, except
    let only_strangers = idx
        .search(
            &vs[7],
            5,
            -1.0,
            &FaceFilter {
                kind: Some("stranger"),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(only_strangers.len(), 5);
    assert!(
        only_strangers
            .iter()
            .all(|h| h.entity.starts_with("stranger:"))
    );
    let scopes = ["c2".to_owned()];
    let in_c2 = idx
        .search(
            &vs[7],
            50,
            -1.0,
            &FaceFilter {
                scopes: Some(&scopes),
                ..Default::default()
            },
        )
        .unwrap();
    // items i with i % 5 == 2 belong to entity i / 2
    let mut want: Vec<String> = (0..300)
        .filter(|i| i % 5 == 2)
        .map(|i| {
            let kind = if (i / 2) % 3 == 1 {
                "stranger"
            } else {
                "person"
            };
            format!("{kind}:{}", i / 2)
        })
        .collect();
    want.sort();
    want.truncate(50);
    assert_eq!(in_c2.len(), 50);
    let not_self = idx
        .search(
            &vs[7],
            1,
            0.0,
            &FaceFilter {
                except: Some("person:3"),
                ..Default::default()
            },
        )
        .unwrap();
    assert_ne!(not_self[0].entity, "person:3");
    // a reopened index refuses another dimension
    drop(idx);
    assert!(matches!(
        FaceIndex::open(dir.path(), 64, FaceParams::default()),
        Err(FaceError::Dimension {
            found: 32,
            expected: 64,
            ..
        })
    ));
}

#[test]
fn deletes_take_effect_at_once_and_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
    let vs = random(50, 16, 2);
    for (i, v) in vs.iter().enumerate() {
        idx.add(&format!("person:{i}"), "c", v).unwrap();
    }
    idx.commit("a").unwrap();
    assert_eq!(idx.remove("person:4"), 1);
    // staged, then removed before any commit
    idx.add("person:x", "c", &vs[5]).unwrap();
    assert_eq!(idx.remove("person:x"), 1);
    let hits = idx.search(&vs[4], 3, -1.0, &all()).unwrap();
    assert!(hits.iter().all(|h| h.entity != "person:4"));
    idx.commit("b").unwrap();
    drop(idx);
    let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
    let hits = idx.search(&vs[4], 3, -1.0, &all()).unwrap();
    assert!(hits.iter().all(|h| h.entity != "person:4"));
    assert_eq!(idx.stats().vectors, 49);
    assert_eq!(idx.representatives("person:x"), 0);
    idx.clear().unwrap();
    assert!(idx.search(&vs[4], 3, -1.0, &all()).unwrap().is_empty());
    drop(idx);
    let idx = FaceIndex::open(dir.path(), 16, ANN).unwrap();
    assert_eq!(idx.stats().vectors, 0);
    assert_eq!(idx.checkpoint(), None);
}

fn recall(idx: &FaceIndex, exact: &ExactIndex, queries: &[Vec<f32>]) -> f64 {
    let mut found = 0;
    for q in queries {
        let truth: Vec<String> = exact
            .search(&feature(q), 10, -1.0)
            .unwrap()
            .into_iter()
            .map(|h| h.entity)
            .collect();
        let got = idx.search(q, 10, -1.0, &all()).unwrap();
        found += got.iter().filter(|h| truth.contains(&h.entity)).count();
    }
    found as f64 / (queries.len() * 10) as f64
}

#[test]
fn recall_at_10_against_exact_search_in_every_quantisation() {
    let (n, dim) = (4000, 64);
    let vs = random(n, dim, 3);
    let queries = random(200, dim, 4);
    let mut exact = ExactIndex::new(dim);
    for (i, v) in vs.iter().enumerate() {
        exact.insert(&format!("person:{i}"), &feature(v)).unwrap();
    }
    for quantisation in [Quantisation::I8, Quantisation::F16, Quantisation::F32] {
        let dir = tempfile::tempdir().unwrap();
        let params = FaceParams {
            quantisation,
            ..ANN
        };
        let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
        for (i, v) in vs.iter().enumerate() {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
            // committed in a few increments, as ingest does
            if i % 1500 == 1499 {
                idx.commit(&i.to_string()).unwrap();
            }
        }
        let r = recall(&idx, &exact, &queries);
        assert!(r >= 0.95, "{quantisation:?}: recall@10 {r}");
        // scores are exact whatever the graph keeps
        let hit = &idx.search(&vs[9], 1, 0.0, &all()).unwrap()[0];
        assert_eq!(hit.entity, "person:9");
        assert!((hit.score - 1.0).abs() < 1e-5, "{quantisation:?}");
        idx.commit("all").unwrap();
        drop(idx);
        // below `exact_below` candidates the answer is exact
        let scan = FaceParams {
            exact_below: n as u64,
            ..params
        };
        let idx = FaceIndex::open(dir.path(), dim, scan).unwrap();
        assert_eq!(recall(&idx, &exact, &queries), 1.0);
    }
}

#[test]
fn a_bulk_load_is_the_same_index() {
    let (n, dim) = (3000, 32);
    let vs = random(n, dim, 5);
    let dir = tempfile::tempdir().unwrap();
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("person:{}", i / 2)).collect();
    let items: Vec<(&str, &str, &[f32])> = names
        .iter()
        .zip(&vs)
        .map(|(e, v)| (e.as_str(), "c", v.as_slice()))
        .collect();
    idx.add_many(&items).unwrap();
    idx.commit("bulk").unwrap();
    let mut exact = ExactIndex::new(dim);
    for (e, v) in names.iter().zip(&vs) {
        exact.insert(e, &feature(v)).unwrap();
    }
    assert!(recall(&idx, &exact, &random(100, dim, 6)) >= 0.95);
    assert_eq!(idx.representatives("person:7"), 2);
    let before = contents(&idx);
    drop(idx);
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    assert_eq!(contents(&idx), before);
}

/// The graph's own copies of the vectors stay each vector's through
/// the graph's growth, a snapshot's load and growth after it.
#[test]
fn the_graphs_vectors_follow_it_as_it_grows_and_reloads() {
    let (n, dim) = (2600, 16);
    let vs = random(n, dim, 21);
    let dir = tempfile::tempdir().unwrap();
    let params = FaceParams {
        quantisation: Quantisation::F32,
        ..ANN
    };
    let check = |idx: &FaceIndex, ids: &[u32]| {
        let g = idx.graph_read();
        let mut out = vec![0f32; dim];
        for (id, v) in ids.iter().zip(&vs) {
            assert_eq!(g.get(u64::from(*id), &mut out).unwrap(), 1, "vector {id}");
            let want = crate::normalise_slice(v, dim).unwrap();
            assert!(
                out.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
                "vector {id}: {out:?} against {want:?}"
            );
        }
    };
    let mut ids = Vec::new();
    let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
    // past the first reservation (1,024)
    for (i, v) in vs.iter().enumerate().take(1500) {
        ids.push(idx.add(&format!("person:{i}"), "c", v).unwrap());
    }
    idx.commit("1500").unwrap();
    check(&idx, &ids);
    idx.seal().unwrap();
    drop(idx);
    // loaded from the snapshot, then grown past 2,048
    let idx = FaceIndex::open(dir.path(), dim, params).unwrap();
    check(&idx, &ids);
    for (i, v) in vs.iter().enumerate().skip(1500) {
        ids.push(idx.add(&format!("person:{i}"), "c", v).unwrap());
    }
    idx.commit("2600").unwrap();
    check(&idx, &ids);
    let hit = &idx.search(&vs[2599], 1, 0.0, &all()).unwrap()[0];
    assert_eq!(hit.entity, "person:2599");
}

/// Opens with the graph rebuilt from the log, loaded from a snapshot,
/// and a snapshot plus the log beyond it all answer alike.
#[test]
fn snapshots_are_used_when_whole_and_rebuilt_when_not() {
    let (n, dim) = (2500, 32);
    let vs = random(n, dim, 7);
    let queries = random(50, dim, 8);
    let dir = tempfile::tempdir().unwrap();
    let answers = |idx: &FaceIndex| -> Vec<Vec<Hit>> {
        queries
            .iter()
            .map(|q| idx.search(q, 10, -1.0, &all()).unwrap())
            .collect()
    };
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    for (i, v) in vs.iter().enumerate().take(2000) {
        idx.add(&format!("person:{i}"), "c", v).unwrap();
    }
    idx.commit("2000").unwrap();
    idx.seal().unwrap();
    let meta = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
    let meta = Meta::parse(&meta).unwrap();
    assert!(dir.path().join(&meta.file).exists());
    // more after the snapshot, and a removal of a vector it holds
    for (i, v) in vs.iter().enumerate().skip(2000) {
        idx.add(&format!("person:{i}"), "c", v).unwrap();
    }
    assert_eq!(idx.remove("person:3"), 1);
    idx.commit("2500").unwrap();
    let want = answers(&idx);
    let held = contents(&idx);
    // dropped without a new snapshot: the old one plus the log's tail
    std::mem::forget(idx);
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    assert_eq!(
        idx.read().snapshot_end,
        meta.log_end,
        "the snapshot was used"
    );
    assert_eq!(contents(&idx), held);
    assert_eq!(answers(&idx), want);
    assert!(
        !answers(&idx)
            .iter()
            .flatten()
            .any(|h| h.entity == "person:3")
    );
    drop(idx);
    // a damaged snapshot: the graph is rebuilt from the log
    let meta = Meta::parse(&std::fs::read_to_string(dir.path().join(META_FILE)).unwrap()).unwrap();
    let snap = dir.path().join(&meta.file);
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&snap, &bytes).unwrap();
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    assert_eq!(
        idx.read().snapshot_end,
        0,
        "the damaged snapshot was not used"
    );
    assert_eq!(contents(&idx), held);
    let r: f64 = {
        let mut exact = ExactIndex::new(dim);
        for (e, vs) in &held {
            for v in vs {
                exact.insert(e, &feature(v)).unwrap();
            }
        }
        recall(&idx, &exact, &queries)
    };
    assert!(r >= 0.95, "{r}");
    drop(idx);
    // another quantisation: the snapshot does not fit, the log does
    let f32s = FaceParams {
        quantisation: Quantisation::F32,
        ..ANN
    };
    let idx = FaceIndex::open(dir.path(), dim, f32s).unwrap();
    assert_eq!(idx.read().snapshot_end, 0);
    assert_eq!(contents(&idx), held);
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).unwrap().len()
}

#[test]
fn a_torn_tail_is_dropped_and_damage_before_a_commit_is_refused() {
    let dim = 16;
    let vs = random(40, dim, 9);
    let dir = tempfile::tempdir().unwrap();
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    for (i, v) in vs.iter().enumerate().take(20) {
        idx.add(&format!("person:{i}"), "c", v).unwrap();
    }
    idx.commit("first").unwrap();
    let first_end = log_len(dir.path());
    for (i, v) in vs.iter().enumerate().skip(20) {
        idx.add(&format!("person:{i}"), "c", v).unwrap();
    }
    idx.commit("second").unwrap();
    let full = log_len(dir.path());
    std::mem::forget(idx);
    let log = dir.path().join(LOG_FILE);
    let bytes = std::fs::read(&log).unwrap();
    // cut anywhere inside the second commit: the first one stands
    for cut in [first_end + 1, first_end + 200, full - 1] {
        std::fs::write(&log, &bytes[..cut as usize]).unwrap();
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        assert_eq!(idx.checkpoint().as_deref(), Some("first"), "cut at {cut}");
        assert_eq!(idx.stats().vectors, 20);
        std::mem::forget(idx);
    }
    // resuming after a torn tail appends after the last commit
    std::fs::write(&log, &bytes[..(first_end + 100) as usize]).unwrap();
    {
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        idx.add("person:again", "c", &vs[30]).unwrap();
        idx.commit("third").unwrap();
    }
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    assert_eq!(idx.checkpoint().as_deref(), Some("third"));
    assert_eq!(idx.stats().vectors, 21);
    drop(idx);
    // a flipped byte in the first commit, with a commit after it
    let mut bad = bytes.clone();
    bad[(first_end / 2) as usize] ^= 0x01;
    std::fs::write(&log, &bad).unwrap();
    let _ = std::fs::remove_file(dir.path().join(META_FILE));
    match FaceIndex::open(dir.path(), dim, ANN) {
        Err(FaceError::Damaged { why, .. }) => assert!(why.contains("checksum"), "{why}"),
        other => panic!("a damaged log opened: {other:?}"),
    }
    // not a face log at all
    std::fs::write(&log, b"hello").unwrap();
    assert!(matches!(
        FaceIndex::open(dir.path(), dim, ANN),
        Err(FaceError::Damaged { .. })
    ));
}

#[test]
fn a_log_cut_short_of_its_snapshot_is_damage() {
    let dim = 16;
    let vs = random(30, dim, 10);
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
        for (i, v) in vs.iter().enumerate() {
            idx.add(&format!("person:{i}"), "c", v).unwrap();
            if i % 10 == 9 {
                idx.commit(&i.to_string()).unwrap();
            }
        }
    } // closed cleanly: a snapshot covers the whole log
    let log = dir.path().join(LOG_FILE);
    let len = log_len(dir.path());
    let f = File::options().write(true).open(&log).unwrap();
    f.set_len(len - 30).unwrap();
    match FaceIndex::open(dir.path(), dim, ANN) {
        Err(FaceError::Damaged { why, .. }) => assert!(why.contains("cut short"), "{why}"),
        other => panic!("a cut log opened: {other:?}"),
    }
}

#[test]
fn a_mostly_removed_log_is_rewritten_with_the_live_vectors() {
    let dim = 8;
    let n = 12_000;
    let vs = random(n, dim, 11);
    let dir = tempfile::tempdir().unwrap();
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("stranger:{i}")).collect();
    let items: Vec<(&str, &str, &[f32])> = names
        .iter()
        .zip(&vs)
        .map(|(e, v)| (e.as_str(), "c", v.as_slice()))
        .collect();
    idx.add_many(&items).unwrap();
    idx.commit("added").unwrap();
    let big = log_len(dir.path());
    for name in names.iter().take(n * 2 / 3) {
        idx.remove(name);
    }
    idx.commit("merged").unwrap();
    assert!(log_len(dir.path()) < big / 2, "the log was rewritten");
    let held = contents(&idx);
    assert_eq!(held.len(), n - n * 2 / 3);
    let q = &vs[n - 1];
    assert_eq!(
        idx.search(q, 1, 0.0, &all()).unwrap()[0].entity,
        names[n - 1]
    );
    // removals and adds after the rewrite, then a crash (no seal)
    idx.remove(&names[n - 1]);
    idx.add("person:late", "c", &vs[0]).unwrap();
    idx.commit("after").unwrap();
    let held = contents(&idx);
    std::mem::forget(idx);
    let idx = FaceIndex::open(dir.path(), dim, ANN).unwrap();
    assert_eq!(idx.checkpoint().as_deref(), Some("after"));
    assert_eq!(contents(&idx), held);
    assert_eq!(
        idx.search(&vs[0], 1, 0.0, &all()).unwrap()[0].entity,
        "person:late"
    );
    assert!(
        idx.search(q, 5, -1.0, &all())
            .unwrap()
            .iter()
            .all(|h| h.entity != names[n - 1])
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Any sequence of adds, removals, commits, crashes (drop without
    /// a snapshot) and clean closes leaves the index holding exactly
    /// what a model of committed state holds.
    #[test]
    fn reopening_after_any_history_holds_what_was_committed(
        ops in proptest::collection::vec((0u8..5, 0u8..12, 0usize..40), 1..60)
    ) {
        let dim = 8;
        let vs = random(40, dim, 12);
        let dir = tempfile::tempdir().unwrap();
        let mut idx = Some(FaceIndex::open(dir.path(), dim, ANN).unwrap());
        // model: entity → vectors, the current one and the committed one
        let mut now: HashMap<String, Vec<usize>> = HashMap::new();
        let mut committed = now.clone();
        let mut ck = None;
        for (n, (op, e, v)) in ops.into_iter().enumerate() {
            let name = format!("person:{e}");
            let i = idx.as_ref().unwrap();
            match op {
                0 | 1 => {
                    i.add(&name, "c", &vs[v]).unwrap();
                    now.entry(name).or_default().push(v);
                }
                2 => {
                    let want = now.remove(&name).map_or(0, |x| x.len());
                    proptest::prop_assert_eq!(i.remove(&name), want);
                }
                3 => {
                    i.commit(&n.to_string()).unwrap();
                    committed = now.clone();
                    ck = Some(n.to_string());
                }
                _ => {
                    let i = idx.take().unwrap();
                    if e % 2 == 0 {
                        drop(i); // a clean close
                    } else {
                        std::mem::forget(i); // a crash
                    }
                    idx = Some(FaceIndex::open(dir.path(), dim, ANN).unwrap());
                    now = committed.clone();
                    proptest::prop_assert_eq!(idx.as_ref().unwrap().checkpoint(), ck.clone());
                }
            }
            let i = idx.as_ref().unwrap();
            for (name, want) in &now {
                let mut got: Vec<Vec<f32>> = i.vectors_of(name).unwrap();
                let mut want: Vec<Vec<f32>> = want
                    .iter()
                    .map(|v| crate::normalise_slice(&vs[*v], dim).unwrap())
                    .collect();
                got.sort_by(|a, b| a.partial_cmp(b).unwrap());
                want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                proptest::prop_assert_eq!(got, want);
            }
            proptest::prop_assert_eq!(i.stats().vectors, now.values().map(Vec::len).sum::<usize>());
            proptest::prop_assert_eq!(i.graph_read().size(), i.stats().vectors);
        }
    }
}
