//! A full disk: `anju serve` keeps its store on a small filesystem (tmpfs)
//! while the device simulator pushes the small city's events over HTTP.
//! Mid-way the filesystem is filled to the last byte. Then intake answers
//! with an error — 507, nothing acknowledged that is not stored — reads go
//! on, and once the space is freed, intake resumes by itself (no restart):
//! every event is acknowledged in the end, each stored once, and the
//! derived state (timelines, relations, the full-text and face indexes)
//! equals a clean rebuild.
//!
//! Mounting needs root; elsewhere the test says so and passes without
//! running (CI runs as root).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::crashloop::{Batch, Sim, assert_stored_once, batches, derived, prepare, terminate};
use super::small_city;

/// A tmpfs mounted for the test's lifetime.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path, size_mib: u32) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The server, killed if the test fails before it stops it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Appends zeros until the filesystem refuses; the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) => {
                assert_eq!(
                    e.raw_os_error(),
                    Some(28),
                    "filling stopped with {e}, not ENOSPC"
                );
                break;
            }
        }
    }
    // the last bytes, one page at a time
    let page = vec![0u8; 4096];
    while let Ok(k) = f.write(&page) {
        if k == 0 {
            break;
        }
        n += k as u64;
    }
    let _ = f.sync_all();
    n
}

/// A personal query over HTTP (audited).
fn search(sim: &Sim) -> serde_json::Value {
    sim.client
        .post(format!("{}/graphql", sim.base))
        .header("Authorization", format!("Bearer {}", sim.token))
        .json(&serde_json::json!({"query": "{ search(query: \"1\") { totalCount } }"}))
        .send()
        .expect("an answer")
        .json()
        .expect("JSON")
}

#[test]
fn a_full_disk_refuses_intake_loses_nothing_and_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Mount::new(&dir.path().join("fs"), 192) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let data = small_city(dir.path(), 5, 8, "data");
    let store = mount.0.join("store");
    // small memtables, so the store writes tables (and meets the full disk)
    // within the test's few MiB of events
    let (server, token) = prepare(dir.path(), &data, &store, "[store]\nmemtable_mb = 1\n");
    let todo = batches(&data);
    let sent_ids: BTreeSet<String> = todo.iter().flat_map(Batch::ids).collect();
    let sim = Sim::new(&server, token, Duration::from_secs(10));
    let mut child = Running(server.start());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim.up() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    sim.register();

    let mut acked: BTreeSet<String> = BTreeSet::new();
    let third = todo.len() / 6;
    // 1. a disk with room: everything is acknowledged
    for b in &todo[..third] {
        let (status, ids) = sim.send_status(b).expect("an answer");
        assert_eq!(status, 200, "with room on the disk");
        assert_eq!(ids.len(), b.ids().len());
        acked.extend(ids);
    }

    // 2. the disk fills up: intake answers 507 for what it could not store
    let filler = mount.0.join("filler");
    let filled = fill(&filler);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut refused_ids = 0usize;
    // the rest of the city, then what is unacknowledged again, until the
    // full disk has refused three times
    let mut attempts = 0;
    for b in todo[third..].iter().cycle().take(4 * todo.len()) {
        if statuses.get(&507).copied().unwrap_or(0) >= 3 || attempts >= 60 {
            break;
        }
        if b.ids().iter().all(|id| acked.contains(id)) {
            continue;
        }
        attempts += 1;
        // what the store freed meanwhile (a flushed log's preallocated
        // space) is taken again: the disk stays full
        fill(&filler);
        let (status, ids) = sim
            .send_status(b)
            .expect("an answer while the disk is full");
        *statuses.entry(status).or_default() += 1;
        match status {
            200 => assert_eq!(ids.len(), b.ids().len()),
            507 => refused_ids += b.ids().len() - ids.len(),
            s => panic!("status {s} while the disk is full (507 expected)"),
        }
        acked.extend(ids);
    }
    assert!(
        statuses.contains_key(&507),
        "no 507 after filling the disk ({filled} bytes): {statuses:?}"
    );
    // the server stays up; a personal query answers, at worst with a clear
    // error (its audit entry must be durable before the answer leaves)
    assert!(sim.up(), "/health answers while the disk is full");
    let during = search(&sim);
    assert!(
        during["data"]["search"]["totalCount"]
            .as_u64()
            .is_some_and(|n| n > 0)
            || during["errors"][0]["extensions"]["code"] == "UNAVAILABLE",
        "a query while the disk is full: {during}"
    );
    eprintln!(
        "disk full after {filled} bytes of filler: answers {statuses:?}, {refused_ids} events refused"
    );

    // 3. space is freed: intake resumes by itself (no restart)
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let mut resumed_after = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut queue: Vec<&Batch> = todo.iter().collect();
    queue.retain(|b| b.ids().iter().any(|id| !acked.contains(id)));
    for b in queue {
        loop {
            assert!(
                Instant::now() < deadline,
                "intake did not resume within 120 s of freeing space"
            );
            match sim.send_status(b) {
                Some((200, ids)) => {
                    resumed_after.get_or_insert(freed.elapsed());
                    acked.extend(ids);
                    break;
                }
                Some((507 | 503, ids)) => {
                    acked.extend(ids);
                    std::thread::sleep(Duration::from_millis(500));
                }
                Some((s, _)) => panic!("status {s} after freeing space"),
                None => panic!("no answer after freeing space: the server died?"),
            }
        }
    }
    eprintln!(
        "intake resumed {:.1} s after space was freed",
        resumed_after.unwrap_or_default().as_secs_f64()
    );
    assert_eq!(acked, sent_ids, "every event is acknowledged in the end");
    let after = search(&sim);
    assert!(
        after["data"]["search"]["totalCount"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "a query after space was freed: {after}"
    );
    terminate(&mut child.0);

    assert_stored_once(&store, &acked);
    let after = derived(&server.config, &store, false);
    let rebuilt = derived(&server.config, &store, true);
    assert_eq!(
        after, rebuilt,
        "derived state after the full disk differs from a rebuild"
    );
    drop(mount);
}
