//! The holes an independent probe found against `anju serve` (issue 30),
//! each closed with a test that failed before: GA/T 1400 intake without a
//! credential, event ids pre-empted by another source, a WebSocket that
//! outlived its token, masking undone (handles decoded anywhere, birth
//! dates, number fragments, numbers in free text), a fragment bomb, nested
//! reads past the role table, an audit entry without what was read, held
//! connections and unread bodies, grants that followed a name, personal
//! values in the playground, and formulas in CSV exports.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use server::auth::Role;
use server::auth::digest::CredentialKind;

use super::access::{A, CANARY_PERSON, World, codes};
use super::api::{answer_to_head, serve};
use super::viid::{Digest, post as viid_post};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn statuses(v: &Value) -> Vec<String> {
    v["ResponseStatusListObject"]["ResponseStatusObject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StatusCode"].as_str().unwrap().to_owned())
        .collect()
}

fn vehicle(id: &str, device: &str) -> Value {
    json!({"MotorVehicleID": id, "DeviceID": device, "PassTime": "20261008083100", "PlateNo": "浙A12345"})
}

fn vehicles(objs: Vec<Value>) -> String {
    json!({"MotorVehicleListObject": {"MotorVehicleObject": objs}}).to_string()
}

/// Another registered device of region A than `not`.
fn other_device_in_a(w: &World, not: &str) -> String {
    let store = w.e.store();
    let mut found = None;
    store
        .for_each_base(model::BaseKind::Device, |r| {
            if let model::BaseRecord::Device(d) = r
                && d.id.as_str() != not
                && d.id.as_str().starts_with(A)
                && found.is_none()
            {
                found = Some(d.id.as_str().to_owned());
            }
            Ok(())
        })
        .unwrap();
    found.unwrap()
}

#[test]
fn gat1400_needs_a_credential_and_binds_every_object_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let dev = w.ins["D"].clone();
    let other = other_device_in_a(&w, &dev);
    let canary_dev = w.outs["D"].clone();
    let creds = w.e.auth.viid();
    creds
        .put(&dev, CredentialKind::Device, vec![], "device secret 1")
        .unwrap();
    let platform = "32090299999999999999";
    creds
        .put(
            platform,
            CredentialKind::Platform,
            vec![A.into()],
            "platform secret 1",
        )
        .unwrap();
    let stored = |id: &str| !w.e.store().events_with_id(id).unwrap().is_empty();
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let c = reqwest::Client::new();
        // no credential: challenged, nothing stored
        let r = c
            .post(format!("{base}/VIID/System/Register"))
            .body(json!({"RegisterObject": {"DeviceID": dev}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let ch = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(ch.starts_with("Digest ") && ch.contains("nonce="), "{ch}");
        let r = c
            .post(format!("{base}/VIID/MotorVehicles"))
            .body(vehicles(vec![vehicle("sec-anon-1", &dev)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(!stored("sec-anon-1"));
        // a wrong secret: challenged again
        let wrong = Digest::new(&dev, "not the secret");
        let (s, _) = viid_post(
            &c,
            &base,
            "/VIID/System/Register",
            &json!({"RegisterObject": {"DeviceID": dev}}).to_string(),
            &wrong,
        )
        .await;
        assert_eq!(s, 401);
        // the device's own credential: it registers as itself, and posts
        // its own objects only
        let d = Digest::new(&dev, "device secret 1");
        let (s, v) = viid_post(
            &c,
            &base,
            "/VIID/System/Register",
            &json!({"RegisterObject": {"DeviceID": other}}).to_string(),
            &d,
        )
        .await;
        assert_eq!(
            (s, v["ResponseStatusObject"]["StatusCode"].as_str()),
            (403, Some("4"))
        );
        let (s, v) = viid_post(
            &c,
            &base,
            "/VIID/System/Register",
            &json!({"RegisterObject": {"DeviceID": dev}}).to_string(),
            &d,
        )
        .await;
        assert_eq!(
            (s, v["ResponseStatusObject"]["StatusCode"].as_str()),
            (200, Some("0"))
        );
        let (s, v) = viid_post(
            &c,
            &base,
            "/VIID/MotorVehicles",
            &vehicles(vec![
                vehicle("sec-own-1", &dev),
                vehicle("sec-other-1", &other),
                vehicle("sec-canary-1", &canary_dev),
            ]),
            &d,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(statuses(&v), ["0", "4", "4"], "{v:#}");
        assert!(stored("sec-own-1"));
        assert!(!stored("sec-other-1") && !stored("sec-canary-1"));
        // a platform of region A: objects of its region's devices only
        let p = Digest::new(platform, "platform secret 1");
        let (s, _) = viid_post(
            &c,
            &base,
            "/VIID/System/Register",
            &json!({"RegisterObject": {"DeviceID": platform}}).to_string(),
            &p,
        )
        .await;
        assert_eq!(s, 200);
        let (_, v) = viid_post(
            &c,
            &base,
            "/VIID/MotorVehicles",
            &vehicles(vec![
                vehicle("sec-pf-1", &other),
                vehicle("sec-pf-2", &canary_dev),
            ]),
            &p,
        )
        .await;
        assert_eq!(statuses(&v), ["0", "4"], "{v:#}");
        // a removed credential is refused at once
        assert!(w.e.auth.viid().remove(platform).unwrap());
        let (s, _) = viid_post(
            &c,
            &base,
            "/VIID/MotorVehicles",
            &vehicles(vec![vehicle("sec-pf-3", &other)]),
            &p,
        )
        .await;
        assert_eq!(s, 401);
        // a device token is the alternative: its own device only
        let bearer = format!("Bearer {}", w.tokens["v"]);
        let r = c
            .post(format!("{base}/VIID/System/Register"))
            .header("Authorization", &bearer)
            .body(json!({"RegisterObject": {"DeviceID": dev}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = c
            .post(format!("{base}/VIID/MotorVehicles"))
            .header("Authorization", &bearer)
            .body(vehicles(vec![
                vehicle("sec-tok-1", &dev),
                vehicle("sec-tok-2", &other),
            ]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(statuses(&v), ["0", "4"]);
        // another role's token is not a GA/T 1400 credential
        let r = c
            .post(format!("{base}/VIID/System/Register"))
            .header("Authorization", format!("Bearer {}", w.tokens["x"]))
            .body(json!({"RegisterObject": {"DeviceID": dev}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // ten thousand refused objects make a line, not ten thousand
        let before = log_lines(&w, "GA/T 1400: objects refused");
        for chunk in 0..10 {
            let objs = (0..1000)
                .map(|i| vehicle(&format!("sec-burst-{chunk}-{i}"), &other))
                .collect();
            let (s, _) = viid_post(&c, &base, "/VIID/MotorVehicles", &vehicles(objs), &d).await;
            assert_eq!(s, 200);
        }
        let lines = log_lines(&w, "GA/T 1400: objects refused") - before;
        assert!(lines <= 2, "{lines} log lines for 10,000 refusals");
        assert!(
            log_lines(&w, "GA/T 1400: objects refused") >= 1,
            "refusals are logged"
        );
    });
}

fn log_lines(w: &World, what: &str) -> usize {
    String::from_utf8_lossy(&w.logs.lock().unwrap())
        .lines()
        .filter(|l| l.contains(what))
        .count()
}

#[test]
fn an_event_id_is_its_sources_own() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let dev = w.ins["D"].clone();
    let other = other_device_in_a(&w, &dev);
    let line = |id: &str, d: &str, kind: &str| {
        json!({"type": "device_alarm", "id": id, "device": d, "time": "2026-10-08T09:00:00+08:00", "kind": kind}).to_string() + "\n"
    };
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let c = reqwest::Client::new();
        let post = |who: &str, body: String| {
            c.post(format!("{base}/ingest"))
                .header("Authorization", format!("Bearer {}", w.tokens[who]))
                .body(body)
                .send()
        };
        // a device posts an id first; the real source's event with that id
        // is its own, not a conflict, and both are kept
        let v: Value = post("v", line("sq-1", &dev, "smoke"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["results"][0]["status"], "accepted");
        let v: Value = post("x", line("sq-1", &other, "fall"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["results"][0]["status"], "accepted", "{v:#}");
        let kept: Vec<String> =
            w.e.store()
                .events_with_id("sq-1")
                .unwrap()
                .iter()
                .map(|e| e.device.as_str().to_owned())
                .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        let q = format!(r#"{{ event(id: "sq-1", device: "{other}") {{ device detail }} }}"#);
        let v = tokio::task::block_in_place(|| w.data("x", &q));
        assert_eq!(v["event"]["device"], other.as_str());
        assert!(
            v["event"]["detail"]
                .to_string()
                .to_lowercase()
                .contains("fall"),
            "{v:#}"
        );
        // a source's own id sent again with other content is its own conflict
        let v: Value = post("v", line("sq-1", &dev, "fall"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["results"][0]["status"], "conflict");
        // a regional caller learns nothing of ids in other regions: an id
        // the canary region used is simply accepted for its own device
        let v: Value = post("b", line("canary-alarm-1", &dev, "smoke"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["results"][0]["status"], "accepted", "{v:#}");
    });
}

/// A graphql-transport-ws client: connected and acknowledged.
async fn ws_connect(
    base: &str,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})
            .to_string(),
    ))
    .await
    .unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    ws
}

/// The next message of a WebSocket: its JSON, or the close code.
async fn ws_next(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<Value, u16> {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "ping" || v["type"] == "pong" {
                    continue;
                }
                return Ok(v);
            }
            Ok(Some(Ok(Message::Close(f)))) => return Err(f.map_or(0, |f| f.code.into())),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no message: {other:?}"),
        }
    }
}

#[test]
fn a_websocket_is_checked_at_every_operation_and_closed_when_its_token_ends() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| {
        c.server.ws_recheck_secs = 1;
        c.auth.rate_per_minute = 60;
        c.auth.rate_burst = 8;
    });
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let sub = |id: &str, q: &str| {
            Message::text(
                json!({"id": id, "type": "subscribe", "payload": {"query": q}}).to_string(),
            )
        };
        // revoked: the next operation is refused and the connection closed
        let (t, claims) =
            w.e.auth
                .issue(
                    "ws-officer",
                    Role::Officer,
                    vec![A.into()],
                    None,
                    Duration::from_secs(3600),
                )
                .unwrap();
        let mut ws = ws_connect(&base, &t).await;
        ws.send(sub("1", "{ me { name } }")).await.unwrap();
        let v = ws_next(&mut ws).await.unwrap();
        assert_eq!(v["payload"]["data"]["me"]["name"], "ws-officer", "{v:#}");
        // errors over the WebSocket carry their code
        ws.send(sub("e", r#"{ person(id: "110101199001019992") { ref } }"#))
            .await
            .unwrap();
        loop {
            let v = ws_next(&mut ws).await.unwrap();
            if v["id"] == "e" && v["type"] == "next" {
                assert_eq!(
                    v["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
                    "{v:#}"
                );
                break;
            }
        }
        assert!(w.e.auth.revoke(&claims.jti).unwrap());
        ws.send(sub("2", "{ me { name } }")).await.unwrap();
        let mut refused = false;
        let code = loop {
            match ws_next(&mut ws).await {
                Ok(v) if v["id"] == "2" && v["type"] == "next" => {
                    assert!(v["payload"]["data"].is_null(), "{v:#}");
                    assert_eq!(
                        v["payload"]["errors"][0]["extensions"]["code"],
                        "UNAUTHENTICATED"
                    );
                    refused = true;
                }
                Ok(_) => {}
                Err(code) => break code,
            }
        };
        assert!(refused);
        assert_eq!(code, 4403);
        // expired: a live subscription is closed by the periodic check
        let (t, _) =
            w.e.auth
                .issue(
                    "ws-short",
                    Role::Officer,
                    vec![A.into()],
                    None,
                    Duration::from_secs(2),
                )
                .unwrap();
        let mut ws = ws_connect(&base, &t).await;
        ws.send(sub("s", "subscription { alerts { id } }"))
            .await
            .unwrap();
        let code = loop {
            if let Err(code) = ws_next(&mut ws).await {
                break code;
            }
        };
        assert_eq!(code, 4403);
        // each operation draws on the token's rate limit
        let (t, _) =
            w.e.auth
                .issue(
                    "ws-busy",
                    Role::Officer,
                    vec![A.into()],
                    None,
                    Duration::from_secs(3600),
                )
                .unwrap();
        let mut ws = ws_connect(&base, &t).await;
        for i in 0..30 {
            ws.send(sub(&format!("q{i}"), "{ me { name } }"))
                .await
                .unwrap();
        }
        let mut limited = 0;
        let mut answered = 0;
        while answered < 30 {
            let v = ws_next(&mut ws).await.unwrap();
            if v["type"] == "next" {
                answered += 1;
                if v["payload"]["errors"][0]["extensions"]["code"] == "RATE_LIMITED" {
                    limited += 1;
                }
            }
        }
        assert!(limited >= 20, "{limited} of 30 rate-limited");
    });
}

#[test]
fn masking_cannot_be_undone_by_the_roles_it_protects_against() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let h = w.e.auth.handle(&p);
    // handles are decoded only where an id is expected, as a whole value
    let v = w.data(
        "a",
        &format!(r#"mutation {{ saveInvestigation(input: {{title: "ID{h}", subjects: ["person:{h}"]}}) {{ title subjects {{ ref }} }} }}"#),
    );
    assert_eq!(v["saveInvestigation"]["title"], format!("ID{h}"), "{v:#}");
    assert_eq!(
        v["saveInvestigation"]["subjects"][0]["ref"],
        format!("person:{h}")
    );
    let v = w.run(
        "a",
        &format!(r#"{{ trajectory(subject: "person:{h}", from: "x{h}", to: "2026-10-09") {{ points {{ event }} }} }}"#),
    );
    assert!(!v.to_string().contains(&p), "{v:#}");
    assert!(!codes(&v).is_empty());
    let v = w.run(
        "b",
        &format!(r#"mutation {{ runAnalysis(models: ["x{h}"]) {{ days }} }}"#),
    );
    assert!(!v.to_string().contains(&p), "{v:#}");
    // variables: decoded in an id position, not elsewhere
    let v = w.run_with(
        "a",
        "mutation($t: String!, $s: [String!]!) { saveInvestigation(input: {title: $t, subjects: $s}) { title subjects { ref } } }",
        json!({"t": h, "s": [format!("person:{h}")]}),
    );
    assert_eq!(v["data"]["saveInvestigation"]["title"], h.as_str(), "{v:#}");
    // a birth date shows only its year to a masked role
    let q = format!(r#"{{ person(id: "{p}") {{ person {{ birthDate }} }} }}"#);
    let full = w.data("o", &q)["person"]["person"]["birthDate"]
        .as_str()
        .unwrap()
        .to_owned();
    let masked = w.data("a", &q)["person"]["person"]["birthDate"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(full.len(), 10, "{full}");
    assert_eq!(masked, full[..4]);
    // number fragments are not searched for a masked role
    for q in [&p[14..], "139????7777", &format!("{}*", &p[..6])] {
        let v = w.run(
            "a",
            &format!(r#"{{ search(query: "{q}") {{ totalCount }} }}"#),
        );
        assert_eq!(codes(&v), vec!["FORBIDDEN"], "{q}: {v:#}");
        let v = w.run(
            "o",
            &format!(r#"{{ search(query: "{q}") {{ totalCount }} }}"#),
        );
        assert!(codes(&v).is_empty(), "{q}: {v:#}");
    }
    // numbers in free text, in every shape, masked in every string
    let dev = w.ins["D"].clone();
    let house = w.ins["H"].clone();
    let cfg = w.e.config.parse_config(server::engine::now()).unwrap();
    let rec = |l: Value| ::ingest::parse_line(&l.to_string(), &cfg).unwrap().unwrap();
    let shapes = [format!(
        "+86 139 9999 7777 / 139-9999-7777 / tel13999997777 / 0086-13999997777 / ID{CANARY_PERSON}.jpg / idcard{CANARY_PERSON} / 330102 19900101 7775"
    )];
    w.e.write(&[
        rec(json!({"type":"device_alarm","id":"free-text-1","device":dev,"time":"2026-10-07T11:00:00+08:00","kind":"intrusion","note":shapes[0],"image_url":format!("http://img/ID{CANARY_PERSON}.jpg")})),
        rec(json!({"type":"visitor","id":"free-text-2","device":dev,"time":"2026-10-07T11:05:00+08:00","host_house":house,"visitor":{"name":"访客+86 13999997777","phone":"13999997777"},"purpose":format!("见 idcard{CANARY_PERSON}")})),
    ])
    .unwrap();
    let digits = |v: &Value| -> String {
        v.to_string()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '+'))
            .collect()
    };
    for who in ["a", "d", "b"] {
        for q in [
            r#"{ event(id: "free-text-1") { detail } }"#,
            r#"{ event(id: "free-text-2") { detail } }"#,
        ] {
            let v = w.run(who, q);
            let flat = digits(&v);
            assert!(!flat.contains("13999997777"), "{who}: {v:#}");
            assert!(!flat.contains(CANARY_PERSON), "{who}: {v:#}");
        }
    }
    // the officer, who may see numbers, sees them
    let v = w.data("o", r#"{ event(id: "free-text-1") { detail } }"#);
    assert!(v.to_string().contains("13999997777"), "{v:#}");
}

/// Each fragment spreads the next twice: 2^n fields once expanded.
fn fragment_bomb(n: usize) -> String {
    let mut q = String::from("query Bomb { ...F0 }\n");
    for i in 0..n {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    q.push_str(&format!("fragment F{n} on Query {{ me {{ name }} }}\n"));
    q
}

#[test]
fn a_fragment_bomb_is_refused_before_it_is_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let bomb = fragment_bomb(30);
    assert!(bomb.len() < 2_000, "{}", bomb.len());
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let c = reqwest::Client::new();
        let send = || {
            c.post(format!("{base}/graphql"))
                .header("Authorization", format!("Bearer {}", w.tokens["o"]))
                .json(&json!({"query": bomb}))
                .send()
        };
        // two at once, and /health beside them
        let (a, b, health) = tokio::join!(send(), send(), c.get(format!("{base}/health")).send());
        assert_eq!(health.unwrap().status(), 200);
        for r in [a, b] {
            let v: Value = r.unwrap().json().await.unwrap();
            assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v:#}");
            assert!(
                v["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("fragments are expanded"),
                "{v:#}"
            );
        }
    });
    // in process too, and through the WebSocket path
    let v = w.run("o", &bomb);
    assert_eq!(codes(&v), vec!["BAD_REQUEST"]);
}

#[test]
fn nested_fields_follow_the_role_table() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    // the batch job reads alerts, not the archives behind them
    for q in [
        "{ alerts { edges { node { id archive { ref person { name birthDate } } } } } }",
        "{ alerts { edges { node { ...A } } } } fragment A on Alert { archive { houses { items { node { ref label } } } } }",
        "{ alerts { edges { node { ... on Alert { archive { sightings { edges { node { event } } } } } } } } }",
    ] {
        let v = w.run("b", q);
        assert_eq!(codes(&v), vec!["FORBIDDEN"], "{q}\n{v:#}");
        assert!(v["data"].is_null(), "nothing ran: {v:#}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Alert.archive"),
            "{v:#}"
        );
    }
    // its own alerts it reads
    let v = w.data("b", "{ alerts { totalCount edges { node { id kind } } } }");
    assert!(v["alerts"]["totalCount"].as_u64().unwrap() >= 1, "{v:#}");
    // an officer reads through
    let v = w.run("o", "{ alerts { edges { node { archive { ref } } } } }");
    assert!(codes(&v).is_empty(), "{v:#}");
}

#[test]
fn the_audit_records_what_was_read_and_how_it_ended() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let h = w.ins["H"].clone();
    // no id-shaped field selected: the residents read are recorded all the same
    let v = w.data(
        "o",
        &format!(r#"query Labels {{ house(id: "{h}") {{ residents {{ items {{ node {{ label }} }} }} }} }}"#),
    );
    let n = v["house"]["residents"]["items"].as_array().unwrap().len();
    assert!(n >= 1, "{v:#}");
    w.run(
        "o",
        r#"query Ghost { person(id: "110101199001019992") { ref } }"#,
    );
    let log = w.data("x", "{ auditLog(first: 10) { operation records outcome } }");
    let entries = log["auditLog"].as_array().unwrap();
    let labels = entries
        .iter()
        .find(|e| e["operation"] == "query Labels")
        .unwrap();
    let persons = labels["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.as_str().unwrap().starts_with("person:"))
        .count();
    assert_eq!(persons, n, "{labels:#}");
    assert!(
        labels["records"]
            .to_string()
            .contains(&format!("house:{h}"))
    );
    let ghost = entries
        .iter()
        .find(|e| e["operation"] == "query Ghost")
        .unwrap();
    assert_eq!(ghost["outcome"], "errors: NOT_FOUND", "{ghost:#}");
}

#[test]
fn connections_are_bounded_before_they_authenticate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| {
        c.server.header_timeout_secs = 2;
        c.server.max_unauthenticated = 6;
    });
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let addr = base.trim_start_matches("http://").to_owned();
        // headers that never finish: the connection is closed
        let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
        slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buf))
            .await
            .expect("closed within the header deadline")
            .unwrap_or(0);
        assert!(
            n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        // a big body without a token: refused on its headers, unread
        let answer = answer_to_head(
            &base,
            "/graphql",
            "Content-Type: application/json\r\n",
            8 << 20,
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        let answer = answer_to_head(&base, "/ingest", "", 8 << 20).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        // at most six connections not yet authenticated: a seventh is closed
        let mut idle = Vec::new();
        for _ in 0..6 {
            idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let n = tokio::time::timeout(Duration::from_secs(10), extra.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
        // an authenticated connection leaves the count
        drop(idle);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{base}/graphql"))
            .header("Authorization", format!("Bearer {}", w.tokens["o"]))
            .json(&json!({"query": "{ me { name } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

#[test]
fn grants_belong_to_their_holder_not_to_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let v = w.data("o", &format!(r#"mutation {{ requestGrant(subject: "person:{p}", regions: ["{}"], reason: "case", duration: "1h") {{ id }} }}"#, super::access::B));
    let g = v["requestGrant"]["id"].as_str().unwrap().to_owned();
    w.data(
        "cb",
        &format!(r#"mutation {{ approveGrant(id: "{g}") {{ status }} }}"#),
    );
    let grants =
        |p: &server::scope::Principal| p.grants.iter().map(|g| g.id.clone()).collect::<Vec<_>>();
    assert_eq!(grants(&w.principal("o")), std::slice::from_ref(&g));
    // a token issued under the same name is another holder: no grant
    let ttl = Duration::from_secs(600);
    let (twin, _) =
        w.e.auth
            .issue("officer-a", Role::Officer, vec![A.into()], None, ttl)
            .unwrap();
    let twin = w.e.principal_of_token(&twin).unwrap();
    assert!(grants(&twin).is_empty(), "{:?}", twin.grants);
    // a renewal the issuer makes for the holder keeps it
    let holder = w.principal("o").holder;
    let (renewed, _) =
        w.e.auth
            .issue_for(
                Some(&holder),
                "officer-a",
                Role::Officer,
                vec![A.into()],
                None,
                ttl,
            )
            .unwrap();
    assert_eq!(grants(&w.e.principal_of_token(&renewed).unwrap()), [g]);
}

#[test]
fn the_playground_serves_no_personal_value_and_every_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    rt().block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        // the console's page (the playground is one of its screens) is the
        // same for everyone: no token, no value from the store
        let page = reqwest::get(format!("{base}/playground"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let id_number = regex::Regex::new(r"\d{17}[\dXx]").unwrap();
        let mobile = regex::Regex::new(r"1[3-9]\d{9}").unwrap();
        assert!(!id_number.is_match(&page), "an identity number in the page");
        assert!(!mobile.is_match(&page), "a mobile number in the page");
        assert!(!page.contains(&w.ins["P"]));
        assert!(
            !page.to_lowercase().contains("bearer"),
            "a token in the page"
        );
    });
    // the examples it opens on carry no personal value either
    let id_number = regex::Regex::new(r"\d{17}[\dXx]").unwrap();
    assert!(!id_number.is_match(server::http::EXAMPLES));
    assert!(server::http::EXAMPLES.contains("query Search"));
    // every example runs against the schema it is served with
    let doc = async_graphql::parser::parse_query(server::http::EXAMPLES).unwrap();
    let hit = w.data("x", r#"{ search(query: "张", kinds: ["person"], first: 1) { edges { node { entity { ref } } } } }"#);
    let person = hit["search"]["edges"][0]["node"]["entity"]["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let vars = json!({"ref": person, "region": A, "from": "2026-10-01", "to": "2026-10-09"});
    let mut ran = 0;
    for (name, op) in doc.operations.iter() {
        let name = name.unwrap().to_string();
        if op.node.ty == async_graphql::parser::types::OperationType::Subscription {
            continue;
        }
        let r = async_graphql::Request::new(server::http::EXAMPLES)
            .operation_name(&name)
            .variables(async_graphql::Variables::from_json(vars.clone()))
            .data(w.principal("x"));
        let v = serde_json::to_value(rt().block_on(w.schema.execute(r))).unwrap();
        assert!(v.get("errors").is_none(), "example {name}: {v:#}");
        ran += 1;
    }
    assert!(ran >= 5, "{ran}");
    // a relation example has relations to show
    let r = async_graphql::Request::new(server::http::EXAMPLES)
        .operation_name("Neighbourhood")
        .variables(async_graphql::Variables::from_json(vars))
        .data(w.principal("x"));
    let v = serde_json::to_value(rt().block_on(w.schema.execute(r))).unwrap();
    assert!(
        v["data"]["subgraph"]["nodes"].as_array().unwrap().len() >= 2,
        "{v:#}"
    );
}

#[test]
fn csv_exports_do_not_run_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let h = w.ins["H"].clone();
    let cfg = w.e.config.parse_config(server::engine::now()).unwrap();
    let rec = |l: Value| ::ingest::parse_line(&l.to_string(), &cfg).unwrap().unwrap();
    w.e.write(&[
        rec(json!({"type":"person","id":"csv-1","name":"=HYPERLINK(\"http://x\",\"y\")","household":"local"})),
        rec(json!({"type":"residence","person":"csv-1","house":h,"role":"resident"})),
    ])
    .unwrap();
    let mut csv = String::new();
    for _ in 0..200 {
        let v = w.data("o", r#"mutation { saveInvestigation(input: {title: "t", subjects: ["person:csv-1"]}) { id } }"#);
        let id = v["saveInvestigation"]["id"].as_str().unwrap().to_owned();
        csv = w.data(
            "o",
            &format!(r#"{{ investigation(id: "{id}") {{ exportCsv }} }}"#),
        )["investigation"]["exportCsv"]
            .as_str()
            .unwrap()
            .to_owned();
        if csv.contains("HYPERLINK") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(
        !csv.contains(",=HYPERLINK") && !csv.contains("\"=HYPERLINK"),
        "{csv}"
    );
}
