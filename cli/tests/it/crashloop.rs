//! The crash loop: a device simulator that behaves like the field pushes the
//! small city's events over HTTP — JSON Lines to `/ingest`, vehicle passes
//! as GA/T 1400 motor-vehicle objects — while `anju serve` is killed with
//! SIGKILL at random moments and started again. A batch not acknowledged
//! within the timeout (the field's 5 s, scaled down) is sent again; after 3
//! failures in a row the simulator waits for the server, registers again
//! (as the estate's GA/T 1400 gateway: a platform credential, HTTP Digest)
//! and replays everything unacknowledged. Then: every
//! acknowledged event is in the store exactly once, the store checks clean,
//! and the derived state (timelines, relations, the full-text and face
//! indexes) equals a clean rebuild from the store of record.
//!
//! Default: 6 kills. The long run (≥ 50):
//! `ANJU_HTTP_CRASH_CYCLES=50 cargo nextest run -p api http_crash_loop --no-capture`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{anju, ok, small_city};

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) struct Server {
    pub(super) config: PathBuf,
    pub(super) store: PathBuf,
    pub(super) port: u16,
    pub(super) log: PathBuf,
}

impl Server {
    pub(super) fn start(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        anju()
            .arg("--config")
            .arg(&self.config)
            .arg("--store")
            .arg(&self.store)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }
}

/// One unit the simulator sends: JSON Lines or GA/T objects, and the ids
/// they carry.
#[derive(Clone)]
pub(super) enum Batch {
    Lines(Vec<(String, String)>),
    Viid(Vec<(String, Value)>),
}

impl Batch {
    pub(super) fn ids(&self) -> Vec<String> {
        match self {
            Batch::Lines(ls) => ls.iter().map(|x| x.0.clone()).collect(),
            Batch::Viid(os) => os.iter().map(|x| x.0.clone()).collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Batch::Lines(ls) => ls.len(),
            Batch::Viid(os) => os.len(),
        }
    }
}

/// `2026-10-01T07:31:05+08:00` → `20261001073105` (the fixtures' local time).
fn viid_time(t: &str) -> String {
    t[..19].chars().filter(char::is_ascii_digit).collect()
}

pub(super) fn batches(data: &Path) -> Vec<Batch> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut lines, mut viid) = (Vec::new(), Vec::new());
    for f in files {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let id = v["id"].as_str().unwrap().to_owned();
            let plain_pass = v["type"] == "vehicle_pass"
                && v.get("occupant_features").is_none()
                && v["plate"] != "unknown";
            if plain_pass {
                let dev = v["device"].as_str().unwrap().to_owned();
                viid.push((
                    id.clone(),
                    json!({"MotorVehicleID": id, "DeviceID": dev, "PassTime": viid_time(v["time"].as_str().unwrap()), "PlateNo": v["plate"]}),
                ));
            } else {
                lines.push((id, l.to_owned()));
            }
        }
    }
    let mut out: Vec<Batch> = lines
        .chunks(150)
        .map(|c| Batch::Lines(c.to_vec()))
        .collect();
    out.extend(viid.chunks(20).map(|c| Batch::Viid(c.to_vec())));
    // interleave the two kinds, as devices send them
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

/// The estate's GA/T 1400 gateway: a lower platform for the small city's
/// region, with the credential `prepare` made for it.
pub(super) const GATEWAY: &str = "32090200000000000001";
const GATEWAY_SECRET: &str = "gateway secret 1";

pub(super) struct Sim {
    pub(super) base: String,
    pub(super) token: String,
    pub(super) client: reqwest::blocking::Client,
    gateway: super::viid::Digest,
}

impl Sim {
    /// The devices of `server`, answering within `timeout` or not at all.
    pub(super) fn new(server: &Server, token: String, timeout: Duration) -> Self {
        Self {
            base: format!("http://127.0.0.1:{}", server.port),
            token,
            client: reqwest::blocking::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap(),
            gateway: super::viid::Digest::new(GATEWAY, GATEWAY_SECRET),
        }
    }

    /// Sends a batch once; the ids the server acknowledged (stored), or
    /// none when it did not answer.
    fn send(&self, b: &Batch) -> Option<Vec<String>> {
        self.send_status(b).map(|(_, ids)| ids)
    }

    /// Sends a batch once: the answer's status and the ids acknowledged.
    pub(super) fn send_status(&self, b: &Batch) -> Option<(u16, Vec<String>)> {
        match b {
            Batch::Lines(ls) => {
                let body: String = ls.iter().map(|(_, l)| format!("{l}\n")).collect();
                let r = self
                    .client
                    .post(format!("{}/ingest", self.base))
                    .header("Authorization", format!("Bearer {}", self.token))
                    .body(body)
                    .send()
                    .ok()?;
                let status = r.status().as_u16();
                let v: Value = r.json().ok()?;
                assert!(status != 422 && status != 400, "refused: {v}");
                Some((
                    status,
                    v["results"]
                        .as_array()?
                        .iter()
                        .filter(|x| matches!(x["status"].as_str(), Some("accepted" | "duplicate")))
                        .map(|x| x["id"].as_str().unwrap().to_owned())
                        .collect(),
                ))
            }
            Batch::Viid(objs) => {
                let body = json!({"MotorVehicleListObject": {"MotorVehicleObject": objs.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>()}});
                let (status, v) = super::viid::post_blocking(
                    &self.client,
                    &self.base,
                    "/VIID/MotorVehicles",
                    &body.to_string(),
                    &self.gateway,
                )?;
                Some((
                    status,
                    v["ResponseStatusListObject"]["ResponseStatusObject"]
                        .as_array()?
                        .iter()
                        .filter(|x| x["StatusCode"] == "0")
                        .map(|x| x["Id"].as_str().unwrap().to_owned())
                        .collect(),
                ))
            }
        }
    }

    pub(super) fn up(&self) -> bool {
        self.client
            .get(format!("{}/health", self.base))
            .send()
            .is_ok_and(|r| r.status().is_success())
    }

    /// The field's registration: the gateway registers (again).
    pub(super) fn register(&self) {
        let _ = super::viid::post_blocking(
            &self.client,
            &self.base,
            "/VIID/System/Register",
            &json!({"RegisterObject": {"DeviceID": GATEWAY}}).to_string(),
            &self.gateway,
        );
    }
}

fn json_out(cmd: &mut std::process::Command) -> Value {
    serde_json::from_str(ok(cmd).trim()).unwrap()
}

pub(super) fn derived(config: &Path, store: &Path, rebuild: bool) -> (String, Value, u64) {
    let out = ok(anju()
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(store)
        .arg(if rebuild { "rebuild" } else { "project" })
        .arg("--digest"));
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("derived digest "))
        .unwrap()
        .to_owned();
    let faces = json_out(
        anju()
            .arg("--config")
            .arg(config)
            .arg("--store")
            .arg(store)
            .args(["faces", "stats"]),
    );
    let text = search::TextIndex::open_reader(&store.join("search").join("text"))
        .unwrap()
        .num_docs();
    (
        digest,
        json!({"archives": faces["archives"], "vectors": faces["vectors"]}),
        text,
    )
}

#[test]
fn http_crash_loop_keeps_every_acknowledged_event_once() {
    let cycles: usize = std::env::var("ANJU_HTTP_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let data = small_city(dir.path(), 9, (cycles as u32 / 3).clamp(3, 30), "data");
    let store = dir.path().join("store");
    let (server, token) = prepare(dir.path(), &data, &store, "");
    let todo = batches(&data);
    let sent_ids: BTreeSet<String> = todo.iter().flat_map(Batch::ids).collect();
    let sim = Sim::new(&server, token, Duration::from_millis(1500));

    let child = Arc::new(Mutex::new(Some(server.start())));
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (child, done, kills) = (Arc::clone(&child), Arc::clone(&done), Arc::clone(&kills));
        std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            while kills.load(Ordering::SeqCst) < cycles && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.random_range(400..1400)));
                let mut g = child.lock().unwrap();
                if let Some(mut c) = g.take() {
                    let _ = c.kill(); // SIGKILL
                    let _ = c.wait();
                    kills.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
                *g = Some(server.start());
            }
            server
        })
    };

    // the simulator
    let started = Instant::now();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let (mut resent, mut replays) = (0usize, 0usize);
    for _ in 0..600 {
        if sim.up() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sim.register();
    let all = todo.clone();
    let mut queue: std::collections::VecDeque<Batch> = todo.into();
    let mut failures = 0;
    while let Some(b) = queue.pop_front() {
        match sim.send(&b) {
            Some(ids) => {
                let n = ids.len();
                acked.extend(ids);
                if n < b.len() {
                    // some not stored (or an unregistered device): again
                    resent += 1;
                    failures += 1;
                    queue.push_front(b);
                } else {
                    failures = 0;
                }
            }
            None => {
                resent += 1;
                failures += 1;
                queue.push_front(b);
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        if failures >= 3 {
            // wait for the server, register again, replay what is unacknowledged
            replays += 1;
            for _ in 0..600 {
                if sim.up() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            sim.register();
            failures = 0;
        }
        // until the killer has done its cycles, the devices replay what they
        // hold (all of it again: duplicates, stored once)
        if queue.is_empty() && kills.load(Ordering::SeqCst) < cycles {
            queue.extend(all.iter().cloned());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let server = killer.join().unwrap();
    // a clean stop
    if let Some(mut c) = child.lock().unwrap().take() {
        terminate(&mut c);
    }
    let n_kills = kills.load(Ordering::SeqCst);
    eprintln!(
        "http crash loop: {n_kills} kills, {} events acknowledged of {} in {secs:.1} s ({:.0} events/s held), {resent} batches sent again, {replays} replays",
        acked.len(),
        sent_ids.len(),
        acked.len() as f64 / secs
    );
    assert!(n_kills >= cycles, "{n_kills} kills");
    assert_eq!(acked, sent_ids, "every event is acknowledged in the end");

    assert_stored_once(&store, &acked);
    // derived state after the crashes = a clean rebuild
    let after = derived(&server.config, &store, false);
    let rebuilt = derived(&server.config, &store, true);
    assert_eq!(
        after, rebuilt,
        "derived state after crashes differs from a rebuild"
    );
}

/// A store under `store` holding the city's registers (ingested by file;
/// the events come from the devices), a config for `anju serve` (with
/// `extra` appended) and an admin token for the simulator.
pub(super) fn prepare(dir: &Path, data: &Path, store: &Path, extra: &str) -> (Server, String) {
    let mut base: Vec<PathBuf> = vec![data.join("base.jsonl")];
    base.extend(
        std::fs::read_dir(data)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| ingest::csv_type_for_file(p).is_some()),
    );
    ok(anju()
        .arg("--store")
        .arg(store)
        .args(["ingest", "--progress", "none"])
        .args(&base));
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!("version = 1\n[server]\nanalysis_every_mins = 0\n[alerts]\nelderly_check_mins = 0\n[auth]\nrate_per_minute = 100000000\nrate_burst = 1000000\n{extra}"),
    )
    .unwrap();
    ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(store)
        .args([
            "viid", "add", GATEWAY, "--kind", "platform", "--region", "320902",
        ])
        .args(["--secret", GATEWAY_SECRET]));
    let token = ok(anju()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(store)
        .args([
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "simulator",
            "--quiet",
        ]))
    .trim()
    .to_owned();
    let server = Server {
        config,
        store: store.to_owned(),
        port: free_port(),
        log: dir.join("serve.log"),
    };
    (server, token)
}

/// Every acknowledged event is in the store exactly once, and the store
/// checks clean.
pub(super) fn assert_stored_once(store: &Path, acked: &BTreeSet<String>) {
    ok(anju().arg("--store").arg(store).arg("check"));
    let mut cfg = server::config::Config::default();
    cfg.store.path = store.to_owned();
    {
        let s = graph::RocksStore::open_read_only(&cfg.store_config()).unwrap();
        let mut missing = Vec::new();
        for id in acked {
            if s.events_with_id(id).unwrap().is_empty() {
                missing.push(id.clone());
            }
        }
        assert!(
            missing.is_empty(),
            "acknowledged but not stored: {missing:?}"
        );
        let stats = s.stats().unwrap();
        assert_eq!(
            stats.n_events(),
            acked.len() as u64,
            "events stored once each"
        );
        assert_eq!(
            s.log_len(),
            acked.len() as u64,
            "the event log holds each once"
        );
    }
}

/// SIGTERM and wait (a graceful stop: the server flushes and exits).
pub(super) fn terminate(c: &mut Child) {
    let pid = c.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
}
