//! The store of record: exactly-once events, base updates, pending references
//! resolved in any order, locking and format checks. The relation backends'
//! conformance suite and their equivalence, and the projections' rules, are
//! in the modules below.

mod conformance;
mod derive;

use graph::{Error, RocksStore, StoreConfig, WriteOutcome};
use model::*;
use proptest::prelude::*;

pub(crate) fn open(dir: &std::path::Path) -> RocksStore {
    let mut cfg = StoreConfig::new(dir);
    cfg.sync = false; // durability is the crash tests' subject, not these
    cfg.cache_mb = 8;
    RocksStore::open(&cfg).unwrap()
}

fn device(id: &str) -> Record {
    Record::Base(BaseRecord::Device(Device {
        id: DeviceId::new(id).unwrap(),
        kind: DeviceKind::UnitDoor,
        community: CommunityId::new("C1").unwrap(),
        name: None,
        location: None,
        building: None,
        unit: None,
        house: None,
        direction: None,
    }))
}

fn community(id: &str) -> Record {
    Record::Base(BaseRecord::Community(Community {
        id: CommunityId::new(id).unwrap(),
        name: "万户新村".into(),
        region: RegionCode::new("320902001003").unwrap(),
        address: None,
        center: None,
        boundary: None,
        kind: None,
    }))
}

fn region(code: &str) -> Record {
    let code = RegionCode::new(code).unwrap();
    Record::Base(BaseRecord::Region(Region {
        name: code.to_string(),
        level: code.level(),
        parent: code.parent(),
        code,
    }))
}

fn door(id: &str, dev: &str, t: i64, state: DoorState) -> Record {
    Record::Event(Event {
        id: EventId::new(id).unwrap(),
        device: DeviceId::new(dev).unwrap(),
        time: Timestamp(t),
        body: EventBody::DoorSensor { state },
    })
}

#[test]
fn events_are_stored_once_and_conflicts_keep_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let out = s
        .write(&[
            door("e1", "D1", 1, DoorState::Open),
            door("e1", "D1", 1, DoorState::Open),
            door("e2", "D1", 2, DoorState::Open),
        ])
        .unwrap();
    assert_eq!(
        out,
        [
            WriteOutcome::Accepted,
            WriteOutcome::Duplicate,
            WriteOutcome::Accepted
        ]
    );
    let out = s
        .write(&[
            door("e1", "D1", 1, DoorState::Open),
            door("e2", "D1", 2, DoorState::Close),
        ])
        .unwrap();
    assert_eq!(out, [WriteOutcome::Duplicate, WriteOutcome::Conflict]);
    let Some(Event {
        body: EventBody::DoorSensor { state },
        ..
    }) = s.event("e2", "D1").unwrap()
    else {
        panic!()
    };
    assert_eq!(state, DoorState::Open, "the first arrival is kept");
    let stats = s.stats().unwrap();
    assert_eq!(stats.events["door_sensor"], 2);
    assert_eq!(stats.log_length, 2);
    assert_eq!(s.log_from(1, 10).unwrap().len(), 1);
    assert!(s.check().unwrap().problems.is_empty());
}

#[test]
fn an_event_id_is_unique_per_source_not_across_sources() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // another device used the id first: the real device's event is its own
    let out = s
        .write(&[
            door("e1", "SQUAT", 1, DoorState::Open),
            door("e1", "D1", 5, DoorState::Close),
            door("e1", "D1", 5, DoorState::Close),
        ])
        .unwrap();
    assert_eq!(
        out,
        [
            WriteOutcome::Accepted,
            WriteOutcome::Accepted,
            WriteOutcome::Duplicate
        ]
    );
    let mine = s.event("e1", "D1").unwrap().unwrap();
    assert_eq!(mine.time, Timestamp(5));
    let all: Vec<String> = s
        .events_with_id("e1")
        .unwrap()
        .into_iter()
        .map(|e| e.device.as_str().to_owned())
        .collect();
    assert_eq!(all, ["D1", "SQUAT"]);
    assert!(
        s.events_with_id("e").unwrap().is_empty(),
        "a prefix of an id is not the id"
    );
    assert_eq!(s.log_len(), 2);
    assert!(s.check().unwrap().problems.is_empty());
}

/// A store of format 3 (events keyed by id alone) is rewritten in place at
/// its first read-write open: the same content as a store written by this
/// version, event for event.
#[test]
fn a_format_3_store_is_migrated_in_place() {
    type Kv = (Box<[u8]>, Box<[u8]>);
    use graph::keys::{KeyBuf, KeyReader};
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let s = open(dir.path());
        s.write(&[
            door("e1", "D1", 1, DoorState::Open),
            door("e2", "D2", 2, DoorState::Close),
            device("D1"),
        ])
        .unwrap();
        // e2 waits for D2, and D1 for its community
        assert_eq!(s.stats().unwrap().pending_references, 2);
        s.digest().unwrap()
    };
    // write it back in the old layout: the id alone, wherever an event is named
    {
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), cfs).unwrap();
        let old = |k: &[u8]| {
            KeyBuf::new()
                .str(&KeyReader::new(k).str().unwrap())
                .into_bytes()
        };
        let cf = |n: &str| db.cf_handle(n).unwrap();
        let events: Vec<Kv> = db
            .iterator_cf(cf("events"), rocksdb::IteratorMode::Start)
            .map(Result::unwrap)
            .collect();
        for (k, v) in events {
            db.delete_cf(cf("events"), &k).unwrap();
            db.put_cf(cf("events"), old(&k), v).unwrap();
        }
        let log: Vec<Kv> = db
            .iterator_cf(cf("log"), rocksdb::IteratorMode::Start)
            .map(Result::unwrap)
            .collect();
        for (k, v) in log {
            db.put_cf(cf("log"), &k, old(&v)).unwrap();
        }
        let pending: Vec<Kv> = db
            .iterator_cf(cf("pending"), rocksdb::IteratorMode::Start)
            .map(Result::unwrap)
            .collect();
        for (k, v) in pending {
            let mut r = KeyReader::new(&k);
            r.tag().unwrap();
            r.str().unwrap();
            let at = k.len() - r.rest().len();
            let referrer = &k[at..];
            if let Some(ev) = referrer.strip_prefix(b"e") {
                db.delete_cf(cf("pending"), &k).unwrap();
                let nk = [&k[..at], b"e".as_slice(), &old(ev)].concat();
                db.put_cf(cf("pending"), nk, v).unwrap();
            }
        }
        // a recorded attribution under the old event key
        let ak = KeyBuf::new().str("e1").tag(0).into_bytes();
        db.put_cf(cf("attr"), ak, b"x").unwrap();
        db.put_cf(cf("meta"), b"format", b"anju-store/3").unwrap();
    }
    // read-only, an old store is refused as it is
    let err = RocksStore::open_read_only(&StoreConfig::new(dir.path())).unwrap_err();
    assert!(err.to_string().contains("anju-store/3"), "{err}");
    let s = open(dir.path());
    assert_eq!(s.digest().unwrap(), want);
    assert!(s.event("e1", "D1").unwrap().is_some());
    assert!(
        s.check().unwrap().problems.is_empty(),
        "{:?}",
        s.check().unwrap().problems
    );
    // the attribution moved with its event
    drop(s);
    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), cfs).unwrap();
    let attr = db.cf_handle("attr").unwrap();
    let nk = KeyBuf::new().str("e1").str("D1").tag(0).into_bytes();
    assert_eq!(
        db.get_cf(attr, nk).unwrap().as_deref(),
        Some(b"x".as_slice())
    );
}

#[test]
fn references_wait_for_their_base_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.write(&[
        door("e1", "D1", 1, DoorState::Open),
        door("e2", "D1", 2, DoorState::Close),
        door("e3", "D2", 3, DoorState::Open),
    ])
    .unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.pending_references, 3);
    assert_eq!(st.missing_targets["device"], 2);
    // the device arrives (itself waiting for its community); D1's events resolve
    s.write(&[device("D1")]).unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.pending_references, 2, "{st:?}");
    assert_eq!(st.missing_targets.get("community"), Some(&1));
    // base records that wait for each other inside one batch
    s.write(&[
        community("C1"),
        region("320902001003"),
        region("320902001"),
        region("320902"),
        region("320900"),
        region("320000"),
        device("D2"),
    ])
    .unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.pending_references, 0, "{st:?}");
    let report = s.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_base_update_replaces_the_references_of_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let vehicle = |owner: &str| {
        Record::Base(BaseRecord::Vehicle(Vehicle {
            plate: Plate::new("苏J12345").unwrap(),
            color: None,
            brand: None,
            kind: Some(VehicleKind::Car),
            owner: Some(PersonId::new(owner).unwrap()),
            community: None,
            rfid: None,
        }))
    };
    assert_eq!(s.write(&[vehicle("p1")]).unwrap(), [WriteOutcome::Accepted]);
    assert_eq!(
        s.write(&[vehicle("p1")]).unwrap(),
        [WriteOutcome::Duplicate]
    );
    assert_eq!(s.write(&[vehicle("p2")]).unwrap(), [WriteOutcome::Accepted]);
    let st = s.stats().unwrap();
    assert_eq!(st.base["vehicle"], 1);
    assert_eq!(st.pending_references, 1, "only the new owner is awaited");
    assert!(s.check().unwrap().problems.is_empty());
}

#[test]
fn one_writer_many_readers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.write(&[door("e1", "D1", 1, DoorState::Open)]).unwrap();
    let err = RocksStore::open(&StoreConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked"));
    let ro = RocksStore::open_read_only(&StoreConfig::new(dir.path())).unwrap();
    assert_eq!(ro.stats().unwrap().n_events(), 1);
    let ro = ro;
    assert!(matches!(ro.write(&[]), Err(Error::ReadOnly)));
}

#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    {
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), cfs).unwrap();
        db.put_cf(db.cf_handle("meta").unwrap(), b"format", b"anju-store/0")
            .unwrap();
    }
    let err = RocksStore::open(&StoreConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(err.to_string().contains("anju-store/0"));
    let missing =
        RocksStore::open_read_only(&StoreConfig::new(dir.path().join("nope"))).unwrap_err();
    assert!(matches!(missing, Error::Missing { .. }));
}

/// A small world of records whose content is a function of the id, so that
/// duplicates are identical (as re-sent events are).
fn record(i: u8) -> Record {
    match i % 8 {
        0 => device(&format!("D{}", i % 3)),
        1 => community("C1"),
        2 => region("320902001003"),
        3 => region("320902001"),
        _ => door(
            &format!("e{i}"),
            &format!("D{}", i % 3),
            i64::from(i),
            DoorState::Open,
        ),
    }
}

fn digest_of(batches: &[Vec<u8>]) -> (String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for b in batches {
        let records: Vec<Record> = b.iter().map(|&i| record(i)).collect();
        s.write(&records).unwrap();
    }
    let report = s.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    (s.digest().unwrap(), s.stats().unwrap().pending_references)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any order, any batching, any repetition of the same records gives the
    /// same store.
    #[test]
    fn order_and_batching_do_not_matter(ids in prop::collection::vec(0u8..40, 1..60), split in 1usize..7, seed in any::<u64>()) {
        let batches: Vec<Vec<u8>> = ids.chunks(split).map(<[u8]>::to_vec).collect();
        let mut shuffled = ids.clone();
        // a deterministic permutation from the seed
        let n = shuffled.len();
        for k in (1..n).rev() {
            let j = (seed.wrapping_mul(k as u64 + 7) >> 7) as usize % (k + 1);
            shuffled.swap(k, j);
        }
        shuffled.extend_from_slice(&ids[..n / 2]);
        let other: Vec<Vec<u8>> = shuffled.chunks(split.max(2) - 1).map(<[u8]>::to_vec).collect();
        prop_assert_eq!(digest_of(&batches), digest_of(&other));
    }
}

#[test]
fn app_records_scan_by_prefix_both_ways_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        let put = |k: &str| (k.as_bytes().to_vec(), Some(k.as_bytes().to_vec()));
        s.app_write(&[put("a/1"), put("a/2"), put("a/3"), put("b/1"), put("a")])
            .unwrap();
        s.app_write(&[(b"a/2".to_vec(), None)]).unwrap();
    }
    let s = open(dir.path());
    let scan = |reverse: bool, after: Option<&str>| {
        let mut out = Vec::new();
        s.app_scan(b"a/", reverse, after.map(str::as_bytes), |k, _| {
            out.push(String::from_utf8(k.to_vec()).unwrap());
            Ok(out.len() < 10)
        })
        .unwrap();
        out
    };
    assert_eq!(scan(false, None), ["a/1", "a/3"]);
    assert_eq!(scan(true, None), ["a/3", "a/1"]);
    assert_eq!(scan(false, Some("a/1")), ["a/3"]);
    assert_eq!(scan(true, Some("a/3")), ["a/1"]);
    assert_eq!(s.app_get(b"b/1").unwrap().as_deref(), Some(&b"b/1"[..]));
    assert_eq!(s.app_get(b"a/2").unwrap(), None);
}

/// One step of the idempotency state machine: a batch of (event, version)
/// writes, or a restart of the store.
#[derive(Debug, Clone)]
enum Step {
    Write(Vec<(u8, bool)>),
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((0u8..12, any::<bool>()), 1..8).prop_map(Step::Write),
        1 => Just(Step::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Duplicates, replays, conflicting versions and restarts against a
    /// simple model (the first version of each id wins; the same content
    /// again is a duplicate; other content a conflict): every outcome, the
    /// log length and every stored event agree with the model.
    #[test]
    fn idempotency_matches_a_model_across_restarts(steps in prop::collection::vec(step(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Some(open(dir.path()));
        let mut model: std::collections::BTreeMap<u8, bool> = Default::default();
        let ev = |id: u8, v: bool| door(&format!("e{id}"), "D1", i64::from(id), if v { DoorState::Close } else { DoorState::Open });
        for st in steps {
            match st {
                Step::Restart => {
                    drop(s.take());
                    s = Some(open(dir.path()));
                }
                Step::Write(batch) => {
                    let records: Vec<Record> = batch.iter().map(|&(id, v)| ev(id, v)).collect();
                    let out = s.as_mut().unwrap().write(&records).unwrap();
                    for ((id, v), o) in batch.iter().zip(out) {
                        let want = match model.get(id) {
                            None => {
                                model.insert(*id, *v);
                                WriteOutcome::Accepted
                            }
                            Some(first) if first == v => WriteOutcome::Duplicate,
                            Some(_) => WriteOutcome::Conflict,
                        };
                        prop_assert_eq!(o, want, "event e{} version {}", id, v);
                    }
                }
            }
        }
        let s = s.unwrap();
        prop_assert_eq!(s.log_len(), model.len() as u64);
        for (id, v) in &model {
            let stored = s.event(&format!("e{id}"), "D1").unwrap().unwrap();
            let want = match ev(*id, *v) { Record::Event(e) => e, _ => unreachable!() };
            prop_assert_eq!(stored, want);
        }
        let report = s.check().unwrap();
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}

/// The largest table file of a store.
fn largest_sst(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a table file")
}

fn store_with_tables(dir: &std::path::Path) {
    let s = open(dir);
    let records: Vec<Record> = (0..3_000)
        .map(|i| door(&format!("e{i}"), "D1", i, DoorState::Open))
        .collect();
    for c in records.chunks(500) {
        s.write(c).unwrap();
    }
    s.flush().unwrap();
}

/// A flipped byte in a table file is detected — by the full check, and by
/// any read of the damaged block — never served as data, never a panic.
#[test]
fn a_flipped_byte_in_a_table_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    store_with_tables(dir.path());
    let sst = largest_sst(dir.path());
    let mut bytes = std::fs::read(&sst).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x5a;
    std::fs::write(&sst, bytes).unwrap();
    let detected = match RocksStore::open(&StoreConfig::new(dir.path())) {
        Err(e) => e.to_string(),
        Ok(s) => match s.check() {
            Err(e) => e.to_string(),
            Ok(r) => r.problems.join("; "),
        },
    };
    assert!(
        detected.to_lowercase().contains("corrupt") || detected.to_lowercase().contains("checksum"),
        "{detected:?}"
    );
}

/// A truncated table file refuses the open.
#[test]
fn a_truncated_table_file_refuses_the_open() {
    let dir = tempfile::tempdir().unwrap();
    store_with_tables(dir.path());
    let sst = largest_sst(dir.path());
    let len = std::fs::metadata(&sst).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&sst)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = RocksStore::open(&StoreConfig::new(dir.path()))
        .and_then(|s| s.check().map(|_| ()))
        .expect_err("a truncated table is noticed");
    assert!(!e.to_string().is_empty());
}
