//! Bad input at the server: malformed intake gets its specific status and
//! never a 5xx; the GraphQL request path fuzzed with mutated queries and
//! arbitrary bodies answers with coded errors, never an internal one.
//!
//! The fuzz cases: `ANJU_FUZZ_CASES` (default 200); the long run:
//! `ANJU_FUZZ_CASES=20000 cargo nextest run -p api fuzz`.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use server::Engine;
use server::auth::Role;
use server::config::Config;

use super::api::{answer_to_head, serve};
use super::{ingest, ok, small_city};

fn cases() -> u32 {
    std::env::var("ANJU_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn engine(dir: &std::path::Path, tune: impl FnOnce(&mut Config)) -> Arc<Engine> {
    let data = small_city(dir, 5, 3, "data");
    let store = dir.join("store");
    ok(&mut ingest(&store, &[&data]));
    let mut config = Config::default();
    config.store.path = store;
    config.auth.rate_per_minute = 10_000_000;
    config.auth.rate_burst = 1_000_000;
    tune(&mut config);
    Engine::open(config).unwrap()
}

struct Stop(Arc<Engine>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

#[test]
fn malformed_intake_gets_its_specific_status_never_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    // a 1 MB body limit, so the oversize case is cheap
    let e = engine(dir.path(), |c| c.server.body_limit_mb = 1);
    let _stop = Stop(Arc::clone(&e));
    let dev = {
        let store = e.store();
        let mut d = None;
        store
            .for_each_base(model::BaseKind::Device, |r| {
                if let model::BaseRecord::Device(x) = r {
                    d.get_or_insert(x.id.as_str().to_owned());
                }
                Ok(())
            })
            .unwrap();
        d.unwrap()
    };
    let (admin, _) = e
        .auth
        .issue("admin", Role::Admin, vec![], None, Duration::from_secs(600))
        .unwrap();
    let (batch, _) = e
        .auth
        .issue(
            "batch",
            Role::Batch,
            vec!["320902".into()],
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let base = serve(Arc::clone(&e)).await;
        let c = reqwest::Client::new();
        let post = |token: &str, body: Vec<u8>| {
            c.post(format!("{base}/ingest"))
                .header("Authorization", format!("Bearer {token}"))
                .body(body)
                .send()
        };
        let t = "2026-10-02T09:00:00+08:00";
        let line = |v: Value| format!("{v}\n").into_bytes();
        // what, body, token, status, the rejected field if any
        type Case<'a> = (&'a str, Vec<u8>, &'a str, u16, Option<&'a str>);
        let cases: Vec<Case> = vec![
            ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}', b'\n'], &admin, 400, None),
            ("a GBK body", vec![0xd5, 0xc5, 0xc8, 0xfd, b'\n'], &admin, 400, None),
            ("nothing", b"\n \n".to_vec(), &admin, 400, None),
            ("not JSON", b"type=probe\n".to_vec(), &admin, 422, Some("-")),
            ("an array, not an object", b"[1,2,3]\n".to_vec(), &admin, 422, Some("-")),
            ("a number as a string", line(json!({"type":"probe","id":"m-1","device":dev,"time":t,"mac":"AA:BB:CC:DD:EE:01","rssi":"-70"})), &admin, 422, Some("rssi")),
            ("a string as a number", line(json!({"type":"probe","id":12345,"device":dev,"time":t,"mac":"AA:BB:CC:DD:EE:01"})), &admin, 422, Some("id")),
            ("a 20-digit id as a JSON number", format!("{{\"type\":\"probe\",\"id\":\"m-2\",\"device\":{dev},\"time\":\"{t}\",\"mac\":\"AA:BB:CC:DD:EE:01\"}}\n").into_bytes(), &admin, 422, Some("device")),
            ("a time far in the future", line(json!({"type":"probe","id":"m-3","device":dev,"time":"2099-01-01T00:00:00+08:00","mac":"AA:BB:CC:DD:EE:01"})), &admin, 422, Some("time")),
            ("an id of 64 KiB", line(json!({"type":"probe","id":"x".repeat(1 << 16),"device":dev,"time":t,"mac":"AA:BB:CC:DD:EE:01"})), &admin, 422, Some("id")),
            ("a face feature of zeros", line(json!({"type":"face_capture","id":"f-0","device":dev,"time":t,"feature":vec![0.0f32; 128]})), &admin, 422, Some("feature")),
            ("an unknown device for a regional token", line(json!({"type":"probe","id":"m-4","device":"99999999999999999999","time":t,"mac":"AA:BB:CC:DD:EE:01"})), &batch, 422, Some("device")),
            ("deep nesting", format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(), &admin, 422, Some("-")),
            ("one good, one bad", [line(json!({"type":"probe","id":"m-5","device":dev,"time":t,"mac":"AA:BB:CC:DD:EE:01"})), b"{oops\n".to_vec()].concat(), &admin, 207, Some("-")),
        ];
        for (what, body, token, status, field) in cases {
            let r = post(token, body).await.unwrap();
            let got = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            assert_eq!(got, status, "{what}: {text}");
            assert!(got < 500, "{what}: {got}");
            if let Some(f) = field {
                let v: Value = serde_json::from_str(&text).unwrap();
                let fields: Vec<&str> = v["results"].as_array().unwrap().iter()
                    .filter(|r| r["status"] == "rejected")
                    .flat_map(|r| r["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()))
                    .collect();
                assert!(fields.contains(&f), "{what}: rejected fields {fields:?} lack {f}: {text}");
            }
        }
        // oversize: refused on the declared length
        let auth = format!("Authorization: Bearer {admin}\r\n");
        let answer = answer_to_head(&base, "/ingest", &auth, 2 << 20).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        // GA/T 1400 (as the device, with its token): not JSON, the wrong
        // shape, numbers for strings
        let (device_token, _) = e
            .auth
            .issue("camera", Role::Device, vec![], Some(dev.clone()), Duration::from_secs(600))
            .unwrap();
        let viid = |path: &str, body: Vec<u8>| {
            c.post(format!("{base}{path}"))
                .header("Authorization", format!("Bearer {device_token}"))
                .body(body)
                .send()
        };
        for (what, path, body, status) in [
            ("not JSON", "/VIID/Faces", b"{oops".to_vec(), 400u16),
            ("the wrong shape", "/VIID/MotorVehicles", b"[]".to_vec(), 400),
            ("invalid UTF-8", "/VIID/Faces", vec![0xff, 0xfe], 400),
            ("a register without an id", "/VIID/System/Register", b"{\"RegisterObject\": {}}".to_vec(), 400),
        ] {
            let r = viid(path, body).await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{what}");
        }
    });
}

/// Valid queries the mutations start from.
const QUERIES: &[&str] = &[
    r#"{ search(query: "张", first: 3) { totalCount facets { kinds { key count } } edges { node { score entity { ref label } } } } }"#,
    r#"{ community(id: "C0001") { ref label statistics { persons } devices { id } sightings(first: 2) { edges { node { event } } } } }"#,
    r#"{ subgraph(seeds: ["community:C0001"], hops: 1, maxNodes: 20) { nodes { hop entity { ref } } edges { kind from to } } }"#,
    r#"{ dashboard(from: "2026-10-01", to: "2026-10-04") { persons events eventsPerDay { day type count } } }"#,
    r#"{ alerts(first: 5) { totalCount edges { node { id kind subject } } } }"#,
    r#"{ trajectory(subject: "community:C0001", from: "2026-10-01", to: "2026-10-04", area: {center: [120.1, 33.3], radiusM: 500}) { points { event } } }"#,
    r#"{ collision(conditions: [{community: "C0001", from: "2026-10-01", to: "2026-10-02"}, {community: "C0002", from: "2026-10-02", to: "2026-10-03"}], minMatches: 1) { totalCount matches { entity { ref } } } }"#,
    r#"query Q($n: String!) { archive(ref: $n) { ref label } }"#,
    r#"mutation { createWatchList(input: {name: "x", region: "320902"}) { id } }"#,
    r#"{ faceSearch(feature: "[0.1, 0.2]", k: 3) { score } }"#,
];

fn mutated_query() -> impl Strategy<Value = String> {
    (
        0..QUERIES.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..4), 0..5),
    )
        .prop_map(|(i, edits)| {
            let mut q: Vec<char> = QUERIES[i].chars().collect();
            for (at, ch, how) in edits {
                if q.is_empty() {
                    break;
                }
                let p = at.index(q.len());
                match how {
                    0 => q[p] = ch,
                    1 => {
                        q.remove(p);
                    }
                    2 => q.insert(p, ch),
                    // a structural character where it hurts
                    _ => q.insert(
                        p,
                        ['{', '}', '(', ')', '"', '[', ']', ':', '$', '!', '@'][p % 11],
                    ),
                }
            }
            q.into_iter().collect()
        })
}

/// The fuzz target's harness (`server::fuzzing`), fed mutated queries and
/// variables as each of its callers.
#[test]
fn fuzz_graphql_requests_answer_with_coded_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = server::fuzzing::Graphql::new(dir.path()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases())
    });
    let vars = prop_oneof![
        Just(json!({"n": "community:C0001"})),
        Just(json!({"n": 5})),
        Just(json!({})),
        Just(json!({"n": "person:~AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})),
        "\\PC{0,30}".prop_map(|s| json!({"n": s})),
    ];
    runner
        .run(&(any::<u8>(), mutated_query(), vars), |(who, q, v)| {
            let input = [&[who], q.as_bytes(), b"\0", v.to_string().as_bytes()].concat();
            let r = h.one(&input);
            prop_assert!(r.is_ok(), "{r:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_http_bodies_never_get_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), |_| {});
    let _stop = Stop(Arc::clone(&e));
    let (admin, _) = e
        .auth
        .issue("admin", Role::Admin, vec![], None, Duration::from_secs(600))
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(serve(Arc::clone(&e)));
    let c = reqwest::Client::new();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases())
    });
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        "\\PC{0,200}".prop_map(String::into_bytes),
        mutated_query().prop_map(|q| json!({"query": q}).to_string().into_bytes()),
    ];
    let path = prop::sample::select(vec![
        "/graphql",
        "/ingest",
        "/VIID/Faces",
        "/VIID/MotorVehicles",
        "/VIID/System/Register",
        "/VIID/System/Keepalive",
    ]);
    let ctype = prop::sample::select(vec![
        "application/json",
        "text/plain",
        "application/VIID+JSON",
        "",
    ]);
    // GA/T 1400 as a device (its token), the rest as an administrator
    let (device, _) = e
        .auth
        .issue(
            "camera",
            Role::Device,
            vec![],
            Some("32090200001310000012".into()),
            Duration::from_secs(600),
        )
        .unwrap();
    runner
        .run(&(path, body, ctype), |(path, body, ctype)| {
            let status = rt.block_on(async {
                let token = if path.starts_with("/VIID") {
                    &device
                } else {
                    &admin
                };
                let mut r = c
                    .post(format!("{base}{path}"))
                    .header("Authorization", format!("Bearer {token}"))
                    .body(body.clone());
                if !ctype.is_empty() {
                    r = r.header("Content-Type", ctype);
                }
                r.send().await.unwrap().status().as_u16()
            });
            prop_assert!(
                status < 500,
                "{path} {ctype}: {status} for {:?}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
        .unwrap();
}

/// What the coverage-guided fuzzer found (`fuzz/regressions/<target>/`)
/// and its seeds, through the same harnesses, in every test run.
#[test]
fn fuzz_regressions_and_seeds_hold() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let inputs = |target: &str| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        ["regressions", "seeds"]
            .iter()
            .filter_map(|d| std::fs::read_dir(root.join(d).join(target)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect()
    };
    for (target, run) in [
        (
            "jsonl",
            ingest::fuzzing::jsonl as fn(&[u8]) -> Result<(), String>,
        ),
        ("csv", ingest::fuzzing::csv),
        ("viid", ingest::fuzzing::viid),
    ] {
        let all = inputs(target);
        assert!(!all.is_empty(), "{target}: no seeds");
        for (p, b) in all {
            assert_eq!(run(&b), Ok(()), "{}", p.display());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let h = server::fuzzing::Graphql::new(dir.path()).unwrap();
    let all = inputs("graphql");
    assert!(!all.is_empty(), "graphql: no seeds");
    for (p, b) in all {
        assert_eq!(h.one(&b), Ok(()), "{}", p.display());
    }
}
