//! The GraphQL API and the live intake: every query family in process over
//! the `small` city (snapshots, with the ids and times the platform mints
//! redacted), and over HTTP with a real client against a running server:
//! the playground, the schema, JSON Lines and GA/T 1400 intake, and a
//! subscription receiving an alert raised by a live ingest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::config::Config;
use server::scope::Principal;
use server::{Engine, errors, gql};

use super::{ingest, ok, small_city};

/// A `small` city of 7 days ingested into `dir/store`, opened by a server
/// engine.
fn engine(dir: &Path) -> Arc<Engine> {
    let data = small_city(dir, 5, 7, "data");
    let store = dir.join("store");
    ok(&mut ingest(&store, &[&data]));
    let mut config = Config::default();
    config.store.path = store;
    Engine::open(config).unwrap()
}

/// Stops the engine's projector thread when a test ends (a panic too), so
/// no thread touches the store while the test process exits.
struct Stop(Arc<Engine>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

async fn run(schema: &gql::AnjuSchema, query: &str) -> Value {
    let req = async_graphql::Request::new(query).data(Principal::all_regions());
    let mut resp = schema.execute(req).await;
    errors::annotate(&mut resp);
    serde_json::to_value(&resp).unwrap()
}

async fn data(schema: &gql::AnjuSchema, query: &str) -> Value {
    let v = run(schema, query).await;
    assert!(v.get("errors").is_none(), "{query}\n{v:#}");
    v["data"].clone()
}

/// A node of the given relation kind (the first in key order).
fn node_with(engine: &Engine, kind: model::RelKind) -> String {
    let (_, edges) = engine.relations().export().unwrap();
    let mut e: Vec<_> = edges.into_iter().filter(|e| e.key.kind == kind).collect();
    e.sort_by(|a, b| a.key.cmp(&b.key));
    e[0].key.from.to_string()
}

fn key(r: &str) -> &str {
    r.split_once(':').unwrap().1
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn schema_file_is_current() {
    let committed = include_str!("../../../server/schema.graphql");
    let now = gql::sdl();
    assert!(
        committed.trim() == now.trim(),
        "server/schema.graphql is stale: run `anju schema > server/schema.graphql`"
    );
}

#[test]
fn archives_of_every_kind_in_one_query_each() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let _stop = Stop(Arc::clone(&e));
    let schema = gql::schema(Arc::clone(&e));
    let person = node_with(&e, model::RelKind::Cohabitant);
    let house = {
        let (_, edges) = e.relations().export().unwrap();
        let mut h: Vec<String> = edges
            .into_iter()
            .filter(|x| x.key.kind == model::RelKind::LivesIn)
            .map(|x| x.key.to.to_string())
            .collect();
        h.sort();
        h[0].clone()
    };
    rt().block_on(async {
        let v = data(
            &schema,
            &format!(
                r#"{{ person(id: "{}") {{
                    ref label
                    person {{ name gender idNumber phone household categories hasFace }}
                    houses {{ total items {{ kind direction node {{ ref label }} historical }} }}
                    cohabitants {{ total items {{ kind node {{ ref }} strength evidence(limit: 2) {{ events records }} }} }}
                    kin {{ total }} visitors {{ total }} visited {{ total }} companions {{ total }}
                    vehicles {{ total items {{ kind node {{ ref }} }} }}
                    sightings(first: 3) {{ edges {{ node {{ time device type role }} }} pageInfo {{ hasNextPage }} }}
                    trajectorySummary {{ footholds {{ community nights }} communities {{ community days }} sightings }}
                    openAlerts {{ kind }} watchLists {{ name }}
                }} }}"#,
                key(&person)
            ),
        )
        .await;
        let p = &v["person"];
        assert!(p["cohabitants"]["total"].as_u64().unwrap() >= 1, "{p:#}");
        assert_eq!(p["houses"]["items"][0]["kind"], "lives_in");
        assert_eq!(p["sightings"]["edges"].as_array().unwrap().len(), 3);
        insta::assert_json_snapshot!("person_archive", v);

        // paging: the second page starts after the first one's last cursor
        let q = |after: &str| {
            format!(
                r#"{{ person(id: "{}") {{ sightings(first: 2{after}) {{ edges {{ cursor node {{ event }} }} pageInfo {{ endCursor hasNextPage }} }} }} }}"#,
                key(&person)
            )
        };
        let p1 = data(&schema, &q("")).await;
        let end = p1["person"]["sightings"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let p2 = data(&schema, &q(&format!(", after: \"{end}\""))).await;
        let p3 = data(
            &schema,
            &format!(
                r#"{{ person(id: "{}") {{ sightings(first: 4) {{ edges {{ node {{ event }} }} }} }} }}"#,
                key(&person)
            ),
        )
        .await;
        let events = |v: &Value| -> Vec<String> {
            v["person"]["sightings"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["event"].as_str().unwrap().to_owned())
                .collect()
        };
        let mut two_pages = events(&p1);
        two_pages.extend(events(&p2));
        assert_eq!(two_pages, events(&p3));

        let v = data(
            &schema,
            &format!(
                r#"{{ house(id: "{}") {{ ref label house {{ community building unit room usage }}
                    residents {{ total items {{ kind node {{ ref label }} historical }} }}
                    visitors {{ total }} sightings(first: 2) {{ edges {{ node {{ type role subjects }} }} }}
                    nightEntrants {{ entity {{ ref }} nights registered }} }} }}"#,
                key(&house)
            ),
        )
        .await;
        assert!(v["house"]["residents"]["total"].as_u64().unwrap() >= 1);
        for n in v["house"]["nightEntrants"].as_array().unwrap() {
            assert!(n["nights"].as_u64().unwrap() >= 1);
        }
        insta::assert_json_snapshot!("house_archive", v);

        let v = data(
            &schema,
            r#"{ community(id: "C0001") { ref label community { name region }
                statistics { persons personsByHousehold { key count } houses housesByUse { key count } vehicles devices devicesByKind { key count } }
                devices { id kind } } }"#,
        )
        .await;
        assert!(v["community"]["statistics"]["persons"].as_u64().unwrap() > 0);
        insta::assert_json_snapshot!("community_archive", v);

        let owner = node_with(&e, model::RelKind::Owns);
        let v = data(
            &schema,
            &format!(
                r#"{{ person(id: "{}") {{ vehicles {{ items {{ kind node {{ ref archive {{ vehicle {{ plate owner kind }} occupants {{ items {{ kind node {{ ref }} }} }} }} }} }} }} }} }}"#,
                key(&owner)
            ),
        )
        .await;
        let veh = &v["person"]["vehicles"]["items"][0]["node"]["archive"];
        assert_eq!(veh["vehicle"]["owner"], key(&owner));
        insta::assert_json_snapshot!("vehicle_archive", v);

        // a stranger archive: its sightings and the look-alike suggestions
        let stranger = {
            let (nodes, _) = e.relations().export().unwrap();
            let mut s: Vec<String> = nodes
                .into_iter()
                .map(|n| n.node.to_string())
                .filter(|n| n.starts_with("stranger:"))
                .collect();
            s.sort();
            s.into_iter().next()
        };
        if let Some(s) = stranger {
            let v = data(
                &schema,
                &format!(
                    r#"{{ stranger(id: "{}") {{ kind sightings(first: 1) {{ edges {{ node {{ type }} }} }} similarFaces(k: 3, minScore: 0.0) {{ score entity {{ kind }} }} }} }}"#,
                    key(&s)
                ),
            )
            .await;
            assert_eq!(v["stranger"]["kind"], "stranger");
            assert!(
                v["stranger"]["similarFaces"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["entity"]["kind"] == "person")
            );
        }

        // a device and one of its events
        let v = data(
            &schema,
            r#"{ community(id: "C0001") { devices { id } } }"#,
        )
        .await;
        let dev = v["community"]["devices"][0]["id"].as_str().unwrap().to_owned();
        let v = data(
            &schema,
            &format!(
                r#"{{ device(id: "{dev}") {{ device {{ kind community }} sightings(first: 1) {{ edges {{ node {{ event }} }} }} }} }}"#
            ),
        )
        .await;
        let ev = v["device"]["sightings"]["edges"][0]["node"]["event"]
            .as_str()
            .unwrap()
            .to_owned();
        let v = data(
            &schema,
            &format!(r#"{{ event(id: "{ev}") {{ id type device time detail subjects {{ ref }} }} }}"#),
        )
        .await;
        assert_eq!(v["event"]["device"], dev.as_str());

        // unknown ids are NOT_FOUND, malformed ones BAD_USER_INPUT
        let v = run(&schema, r#"{ person(id: "nobody") { ref } }"#).await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "NOT_FOUND");
        let v = run(&schema, r#"{ archive(ref: "planet:x") { ref } }"#).await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        let v = run(
            &schema,
            &format!(r#"{{ person(id: "{}") {{ sightings(first: 100000) {{ edges {{ cursor }} }} }} }}"#, key(&person)),
        )
        .await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    });
}

/// An archive's trajectory summary is read on the calling task up to a
/// bound and on the blocking pool beyond it: both give the whole summary.
#[test]
fn trajectory_summaries_of_quiet_and_busy_subjects_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let _stop = Stop(Arc::clone(&e));
    let schema = gql::schema(Arc::clone(&e));
    let store = e.store();
    let mut per_device: std::collections::HashMap<String, usize> = Default::default();
    for (_, ev) in store.log_from(0, usize::MAX).unwrap() {
        *per_device.entry(ev.device.to_string()).or_default() += 1;
    }
    let busiest = per_device
        .iter()
        .max_by_key(|(_, n)| **n)
        .unwrap()
        .0
        .clone();
    let person = node_with(&e, model::RelKind::Cohabitant);
    let mut sizes = Vec::new();
    for node in [format!("device:{busiest}"), person] {
        let expected: u32 = graph::timeline::recent(
            store,
            &model::NodeRef::parse(&node).unwrap(),
            30,
            server::engine::now(),
            &e.clock,
            &e.config.trajectory_params(),
            &mut |_| Ok(true),
        )
        .unwrap()
        .by_hour
        .iter()
        .sum();
        let q = format!(r#"{{ archive(ref: "{node}") {{ trajectorySummary {{ sightings }} }} }}"#);
        let v = rt().block_on(data(&schema, &q));
        assert_eq!(
            v["archive"]["trajectorySummary"]["sightings"], expected,
            "{node}"
        );
        sizes.push(expected);
    }
    // one summary beyond the calling task's bound, one within it
    assert!(sizes[0] > 256 && sizes[1] <= 256, "{sizes:?}");
}

#[test]
fn search_trajectory_relations_and_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let _stop = Stop(Arc::clone(&e));
    let schema = gql::schema(Arc::clone(&e));
    let person = node_with(&e, model::RelKind::Cohabitant);
    rt().block_on(async {
        let v = data(
            &schema,
            r#"{ search(query: "张", kinds: ["person"], first: 3) { totalCount
                facets { kinds { key count } communities { key count } regions { key count } }
                edges { cursor node { entity { ref kind label } } } pageInfo { hasNextPage } } }"#,
        )
        .await;
        let s = &v["search"];
        assert!(s["totalCount"].as_u64().unwrap() > 3);
        assert_eq!(s["pageInfo"]["hasNextPage"], true);
        assert!(
            s["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["entity"]["label"].as_str().unwrap().contains('张'))
        );
        insta::assert_json_snapshot!("search", v, { ".search.edges[].node.score" => "[score]" });

        // trajectory over the week, then inside a small circle around a stay
        let q = format!(
            r#"{{ trajectory(subject: "{person}", from: "2026-10-01", to: "2026-10-08") {{
                points {{ time device lon lat }} stays {{ start end sightings community lon lat }}
                footholds {{ community nights }} communities {{ community days }} byHour truncated geojson }} }}"#
        );
        let v = data(&schema, &q).await;
        let t = &v["trajectory"];
        let n_points = t["points"].as_array().unwrap().len();
        assert!(n_points > 0);
        assert_eq!(t["geojson"]["type"], "FeatureCollection");
        let stay = &t["stays"][0];
        let (lon, lat) = (stay["lon"].as_f64().unwrap(), stay["lat"].as_f64().unwrap());
        let v = data(
            &schema,
            &format!(
                r#"{{ trajectory(subject: "{person}", from: "2026-10-01", to: "2026-10-08", area: {{center: [{lon}, {lat}], radiusM: 1}}) {{ points {{ lon lat }} }} }}"#
            ),
        )
        .await;
        let inside = v["trajectory"]["points"].as_array().unwrap();
        assert!(!inside.is_empty() && inside.len() <= n_points);
        let v = run(
            &schema,
            &format!(r#"{{ trajectory(subject: "{person}", from: "2026-10-01", to: "2026-10-08", area: {{polygon: [[1, 1]]}}) {{ truncated }} }}"#),
        )
        .await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        // relations
        let v = data(
            &schema,
            &format!(
                r#"{{ neighbours(node: "{person}", limit: 1) {{ total more items {{ kind context node {{ ref }} }} }}
                   subgraph(seeds: ["{person}"], hops: 2, maxNodes: 30) {{ truncated nodes {{ hop entity {{ ref }} }} edges {{ kind from to }} }} }}"#
            ),
        )
        .await;
        let nb = &v["neighbours"];
        assert_eq!(
            nb["more"].as_u64().unwrap(),
            nb["total"].as_u64().unwrap() - 1
        );
        let sub = &v["subgraph"];
        let refs: Vec<&str> = sub["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["entity"]["ref"].as_str().unwrap())
            .collect();
        for edge in sub["edges"].as_array().unwrap() {
            assert!(refs.contains(&edge["from"].as_str().unwrap()));
            assert!(refs.contains(&edge["to"].as_str().unwrap()));
        }
        let other = nb["items"][0]["node"]["ref"].as_str().unwrap().to_owned();
        let v = data(
            &schema,
            &format!(
                r#"{{ paths(from: "{person}", to: "{other}") {{ nodes {{ ref }} edges {{ kind }} }} }}"#
            ),
        )
        .await;
        assert_eq!(v["paths"][0]["nodes"].as_array().unwrap().len(), 2);
        insta::assert_json_snapshot!("relations", json!({"neighbours": nb, "subgraph": sub, "paths": v}));

        // face search: a registered face finds its person first
        let face = {
            let store = e.store();
            let mut found = None;
            store
                .for_each_base(model::BaseKind::Person, |r| {
                    if let model::BaseRecord::Person(p) = r
                        && let Some(f) = p.face
                        && found.is_none()
                    {
                        found = Some((p.id.as_str().to_owned(), f.as_slice().to_vec()));
                    }
                    Ok(())
                })
                .unwrap();
            found.unwrap()
        };
        let v = data(
            &schema,
            &format!(
                r#"{{ faceSearch(feature: "{:?}", k: 3, minScore: 0.5) {{ score entity {{ ref archive {{ kind }} }} }} }}"#,
                face.1
            ),
        )
        .await;
        let hits = v["faceSearch"].as_array().unwrap();
        assert_eq!(hits[0]["entity"]["ref"], format!("person:{}", face.0));
        assert!(hits[0]["score"].as_f64().unwrap() > 0.99);

        // common associates of two cohabitants, and the evidence of a relation
        let v = data(
            &schema,
            &format!(
                r#"{{ commonAssociates(nodes: ["{person}", "{other}"]) {{ entity {{ ref }} score links {{ kind }} }}
                   evidence(kind: "{}", from: "{person}", to: "{other}", context: "{}") {{ events records
                     details {{ event time type device deviceLabel community communityLabel }} }} }}"#,
                nb["items"][0]["kind"].as_str().unwrap(),
                nb["items"][0]["context"].as_str().unwrap()
            ),
        )
        .await;
        assert!(!v["evidence"].as_array().unwrap().is_empty(), "{v:#}");
        // each event of the evidence, placed: its device and community named
        for item in v["evidence"].as_array().unwrap() {
            let events = item["events"].as_array().unwrap();
            let details = item["details"].as_array().unwrap();
            assert_eq!(details.len(), events.len(), "{item:#}");
            for (ev, d) in events.iter().zip(details) {
                assert_eq!(&d["event"], ev);
                assert!(!d["deviceLabel"].as_str().unwrap().is_empty(), "{d:#}");
                assert!(d["community"].is_string() && d["communityLabel"].is_string(), "{d:#}");
                assert!(d["time"].as_str().unwrap().starts_with("2026-"), "{d:#}");
            }
        }
        for a in v["commonAssociates"].as_array().unwrap() {
            assert!(a["links"].as_array().unwrap().len() >= 2);
        }

        // dashboard: counts agree with the community statistics
        let v = data(
            &schema,
            r#"{ dashboard(from: "2026-10-01", to: "2026-10-08") { communities persons houses vehicles devices events
                personsByHousehold { key count } housesByUse { key count } eventsPerDay { day type count }
                alertsByKind { key count } alertsByStatus { key count } falseAlarmRate topCommunities { community name events } } }"#,
        )
        .await;
        let d = &v["dashboard"];
        let per_day: u64 = d["eventsPerDay"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum();
        assert_eq!(per_day, d["events"].as_u64().unwrap());
        let stored = e.store().stats().unwrap().n_events();
        assert!(per_day <= stored && per_day * 10 >= stored * 9, "{per_day} of {stored}");
        insta::assert_json_snapshot!("dashboard", v, { ".dashboard.from" => "[time]", ".dashboard.to" => "[time]" });
        // a narrower region sees fewer communities
        let region = e.census().values().next().unwrap().region.clone();
        let v = data(
            &schema,
            &format!(r#"{{ dashboard(region: "{region}", from: "2026-10-01", to: "2026-10-08") {{ communities events }} }}"#),
        )
        .await;
        assert!(v["dashboard"]["communities"].as_u64().unwrap() < d["communities"].as_u64().unwrap());

        // drill-down: from all regions to the top region, then each level
        // below; the sub-regions of a level add up to it
        let dash = |region: Option<&str>| {
            let arg = region.map(|r| format!(r#"region: "{r}", "#)).unwrap_or_default();
            format!(
                r#"{{ dashboard({arg}from: "2026-10-01", to: "2026-10-08") {{ region regionName path {{ region name }}
                    communities persons houses events devices devicesByKind {{ key count }} alertsPerDay {{ day type count }}
                    alertsByStatus {{ key count }}
                    subRegions {{ region name level communities persons houses events alerts }} }} }}"#
            )
        };
        let mut level = data(&schema, &dash(None)).await["dashboard"].clone();
        let mut depth = 0;
        while let Some(first) = level["subRegions"].as_array().unwrap().first().cloned() {
            let subs = level["subRegions"].as_array().unwrap();
            for key in ["communities", "persons", "houses", "events"] {
                let sum: u64 = subs.iter().map(|s| s[key].as_u64().unwrap()).sum();
                assert_eq!(sum, level[key].as_u64().unwrap(), "{key} at {}: {subs:#?}", level["region"]);
            }
            assert!(!first["name"].as_str().unwrap().is_empty(), "{first:#}");
            let code = first["region"].as_str().unwrap().to_owned();
            level = data(&schema, &dash(Some(&code))).await["dashboard"].clone();
            assert_eq!(level["regionName"], first["name"]);
            assert_eq!(level["path"].as_array().unwrap().last().unwrap()["region"], code.as_str());
            assert_eq!(level["path"].as_array().unwrap().len(), depth + 1, "{:#}", level["path"]);
            assert_eq!(level["persons"], first["persons"]);
            depth += 1;
        }
        assert_eq!(depth, 5, "province, city, district, station, community");
        // a community region (社区) may hold several estates (小区)
        assert!(level["communities"].as_u64().unwrap() >= 1);
        let kinds: u64 = level["devicesByKind"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
        assert_eq!(kinds, level["devices"].as_u64().unwrap());
        let top = data(&schema, &dash(None)).await["dashboard"].clone();
        let per_day: u64 = top["alertsPerDay"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
        let by_status: u64 = top["alertsByStatus"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
        assert_eq!(per_day, by_status);

        // the map's base layers: every community with a position, every device
        let v = data(
            &schema,
            r#"{ places { communities { id name lon lat boundary } devices { id kind community lon lat } } }"#,
        )
        .await;
        let communities = v["places"]["communities"].as_array().unwrap();
        assert_eq!(communities.len() as u64, d["communities"].as_u64().unwrap());
        assert!(communities.iter().all(|c| c["lon"].is_f64() && c["lat"].is_f64()), "{communities:#?}");
        let devices = v["places"]["devices"].as_array().unwrap();
        assert_eq!(devices.len() as u64, d["devices"].as_u64().unwrap());
        assert!(devices.iter().all(|x| x["lon"].is_f64()));
    });
}

#[test]
fn alerts_workflow_and_watch_lists() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let _stop = Stop(Arc::clone(&e));
    let schema = gql::schema(Arc::clone(&e));
    rt().block_on(async {
        // e-bike anti-theft: the planted bike ridden with another's card, and
        // nothing else
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("data/truth.json")).unwrap(),
        )
        .unwrap();
        let planted: Vec<String> = truth["models"]["ebike_card_mismatch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("vehicle:{}", p["id"].as_str().unwrap()))
            .collect();
        let v = data(
            &schema,
            r#"{ alerts(kinds: ["ebike_card_mismatch"], first: 50) { edges { node { subject title } } } }"#,
        )
        .await;
        let mut got: Vec<String> = v["alerts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["subject"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        got.dedup();
        assert_eq!(got, planted, "{v:#}");

        // the fixtures' device alarms were raised when the engine opened
        let v = data(
            &schema,
            r#"{ alerts(kinds: ["device_alarm"], first: 50) { totalCount edges { node { id kind status subject region evidence } } } }"#,
        )
        .await;
        let total = v["alerts"]["totalCount"].as_u64().unwrap();
        assert!(total > 0);
        let id = v["alerts"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
        let subject = v["alerts"]["edges"][0]["node"]["subject"]
            .as_str()
            .unwrap()
            .to_owned();
        // the subject's archive lists it among its open alerts (by the
        // subject index), until it is handled
        let open = |schema: &gql::AnjuSchema| {
            let q = format!(r#"{{ archive(ref: "{subject}") {{ openAlerts {{ id }} }} }}"#);
            let schema = schema.clone();
            async move {
                let v = data(&schema, &q).await;
                v["archive"]["openAlerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["id"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        assert!(open(&schema).await.contains(&id), "{subject}");
        let v = data(
            &schema,
            &format!(r#"mutation {{ signAlert(id: "{id}", note: "on my way") {{ status history {{ action note }} }} }}"#),
        )
        .await;
        assert_eq!(v["signAlert"]["status"], "SIGNED");
        let v = run(
            &schema,
            &format!(r#"mutation {{ signAlert(id: "{id}") {{ status }} }}"#),
        )
        .await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "CONFLICT");
        let v = data(
            &schema,
            &format!(r#"mutation {{ handleAlert(id: "{id}", disposition: FALSE_ALARM) {{ status disposition history {{ action }} }} }}"#),
        )
        .await;
        assert_eq!(v["handleAlert"]["disposition"], "FALSE_ALARM");
        insta::assert_json_snapshot!("alert_workflow", v);
        assert!(!open(&schema).await.contains(&id), "handled: no longer open");
        let v = data(
            &schema,
            r#"{ dashboard(from: "2026-01-01", to: "2026-12-31") { falseAlarmRate alertsByStatus { key count } } }"#,
        )
        .await;
        assert!(v["dashboard"]["falseAlarmRate"].as_f64().unwrap() > 0.0);
        let v = data(
            &schema,
            r#"{ alerts(statuses: [HANDLED]) { totalCount } }"#,
        )
        .await;
        assert_eq!(v["alerts"]["totalCount"], 1);

        // watch lists: create, add, import (bad lines reported), remove, revoke
        let v = data(
            &schema,
            r#"mutation { createWatchList(input: {name: "盗窃前科", reason: "case 12"}) { id name } }"#,
        )
        .await;
        let wl = v["createWatchList"]["id"].as_str().unwrap().to_owned();
        let feature = format!("[{}]", vec!["0.1"; 128].join(","));
        let v = data(
            &schema,
            &format!(
                r#"mutation {{ addToWatchList(id: "{wl}", persons: ["320902199001011234"], plates: ["浙b·12345"], faces: [{{label: "suspect", feature: "{feature}"}}]) {{ persons plates faces {{ label dim }} }} }}"#
            ),
        )
        .await;
        assert_eq!(v["addToWatchList"]["plates"][0], "浙B12345");
        assert_eq!(v["addToWatchList"]["faces"][0]["dim"], 128);
        let csv = "type,value,label\\nplate,苏J99999\\nperson,\\nplanet,x\\nplate,苏J88888";
        let v = data(
            &schema,
            &format!(r#"mutation {{ importWatchList(id: "{wl}", csv: "{csv}") {{ added rejected {{ line field why }} list {{ plates }} }} }}"#),
        )
        .await;
        let imp = &v["importWatchList"];
        assert_eq!(imp["added"], 2);
        let bad: Vec<(u64, &str)> = imp["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
            .collect();
        assert_eq!(bad, [(3, "value"), (4, "type")]);
        let v = data(
            &schema,
            &format!(r#"mutation {{ removeFromWatchList(id: "{wl}", plates: ["苏J99999"]) {{ plates }} }}"#),
        )
        .await;
        assert_eq!(v["removeFromWatchList"]["plates"], json!(["浙B12345", "苏J88888"]));
        let v = run(
            &schema,
            r#"mutation { createWatchList(input: {name: " ", threshold: 2}) { id } }"#,
        )
        .await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        let v = data(
            &schema,
            &format!(r#"mutation {{ revokeWatchLists(ids: ["{wl}"]) }}"#),
        )
        .await;
        assert_eq!(v["revokeWatchLists"], 1);
        let v = data(&schema, "{ watchLists { id } }").await;
        assert_eq!(v["watchLists"], json!([]));
    });
    // the analysis job through the API: tags on the archives
    rt().block_on(async {
        let v = data(
            &schema,
            "mutation { runAnalysis { days sightingsRead alertsRaised models { model active new } } }",
        )
        .await;
        assert!(v["runAnalysis"]["days"].as_u64().unwrap() >= 7, "{v:#}");
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/truth.json")).unwrap())
                .unwrap();
        let nocturnal = truth["models"]["nocturnal"][0]["id"].as_str().unwrap();
        let v = data(
            &schema,
            &format!(r#"{{ person(id: "{nocturnal}") {{ tags {{ model active evidence }} }} }}"#),
        )
        .await;
        let tags = v["person"]["tags"].as_array().unwrap();
        assert!(
            tags.iter().any(|t| t["model"] == "nocturnal" && t["active"] == true),
            "{v:#}"
        );
        // again: nothing new
        let v = data(&schema, "mutation { runAnalysis { models { new retired } } }").await;
        for m in v["runAnalysis"]["models"].as_array().unwrap() {
            assert_eq!((m["new"].as_u64(), m["retired"].as_u64()), (Some(0), Some(0)), "{v:#}");
        }
    });
    // the lists live in the store: a reopened engine has what was saved
    drop(schema);
    e.shutdown();
}

/// Starts the HTTP server on a free port; returns its base URL.
pub(crate) async fn serve(e: Arc<Engine>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        server::serve_on(e, listener, std::future::pending())
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

/// Sends a request's head and the body's first bytes alone, and returns
/// the first bytes of the answer: how a client that declared more than it
/// sends (or more than is allowed) is answered. A whole oversize body sent
/// by a client races the server's answer and close, so it is not sent.
pub(crate) async fn answer_to_head(base: &str, path: &str, headers: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {length}\r\n\r\n{{"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn over_http_playground_schema_intake_and_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let _stop = Stop(Arc::clone(&e));
    rt().block_on(async {
        let base = serve(Arc::clone(&e)).await;
        // without a token: refused, for queries and intake alike
        let anon = reqwest::Client::new();
        let r = anon.post(format!("{base}/graphql")).json(&json!({"query": "{ status }"})).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = anon.post(format!("{base}/ingest")).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let (token, _) = e
            .auth
            .issue("test admin", server::auth::Role::Admin, vec![], None, Duration::from_secs(600))
            .unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("Authorization", format!("Bearer {token}").parse().unwrap());
        let c = reqwest::Client::builder().default_headers(headers).build().unwrap();

        // the console: its page at `/` and at every path it routes, under a
        // policy that lets it reach this origin only; a missing asset is 404
        let script = regex::Regex::new(r#"src="(/assets/[^"]+\.js)""#).unwrap();
        for path in ["/", "/search", "/archive/person%3A1", "/playground"] {
            let page = c.get(format!("{base}{path}")).send().await.unwrap();
            if !server::http::console::built() {
                assert!(std::env::var_os("ANJU_EXPECT_CONSOLE").is_none(), "the console is not embedded");
                assert_eq!(page.status(), 503, "{path}");
                continue;
            }
            assert_eq!(page.status(), 200, "{path}");
            let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
            assert!(csp.contains("default-src 'self'") && !csp.contains("http"), "{csp}");
            let html = page.text().await.unwrap();
            assert!(html.contains("<div id=\"root\">"), "{html}");
            let asset = &script.captures(&html).expect("a script")[1];
            let js = c.get(format!("{base}{asset}")).send().await.unwrap();
            assert_eq!(js.status(), 200);
            assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
            assert!(js.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        }
        let missing = c.get(format!("{base}/assets/none-such.js")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        let sdl = c.get(format!("{base}/schema.graphql")).send().await.unwrap().text().await.unwrap();
        assert_eq!(sdl.trim(), gql::sdl().trim());
        let health: Value = c.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "ok");
        let metrics = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("anju_store_events"));

        // a subscription to alerts, then a live device alarm
        let ws_url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
        let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        use tokio_tungstenite::tungstenite::Message;
        ws.send(Message::text(
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}).to_string(),
        ))
        .await
        .unwrap();
        let ack = ws.next().await.unwrap().unwrap();
        assert!(ack.to_text().unwrap().contains("connection_ack"));
        ws.send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { alerts(kinds: [\"device_alarm\"]) { kind subject title evidence } }"}}).to_string(),
        ))
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;

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
        let body = format!(
            "{}\n{}\n",
            json!({"type": "device_alarm", "id": "live-alarm-1", "device": dev, "time": "2026-10-08T09:00:00+08:00", "kind": "smoke"}),
            json!({"type": "device_alarm", "id": "live-alarm-2", "device": dev, "time": "2026-10-08T09:00:00+08:00"}),
        );
        let r = c.post(format!("{base}/ingest")).body(body.clone()).send().await.unwrap();
        assert_eq!(r.status(), 207);
        let out: Value = r.json().await.unwrap();
        assert_eq!(out["results"][0]["status"], "accepted");
        assert_eq!(out["results"][1]["status"], "rejected");
        assert_eq!(out["results"][1]["problems"][0]["field"], "kind");
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an alert within 10 s")
            .unwrap()
            .unwrap();
        let msg: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(msg["type"], "next");
        assert_eq!(msg["payload"]["data"]["alerts"]["kind"], "device_alarm:smoke");
        assert_eq!(msg["payload"]["data"]["alerts"]["evidence"], json!(["live-alarm-1"]));
        // the same line again: a duplicate, and no second alert
        let r = c.post(format!("{base}/ingest")).body(body.lines().next().unwrap().to_owned()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let out: Value = r.json().await.unwrap();
        assert_eq!(out["results"][0]["status"], "duplicate");
        assert!(tokio::time::timeout(Duration::from_millis(1500), ws.next()).await.is_err());

        // bad bodies: not UTF-8 (GBK), nothing in it
        let gbk: Vec<u8> = vec![0xd5, 0xc5, 0xc8, 0xfd, b'\n'];
        let r = c.post(format!("{base}/ingest")).body(gbk).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let r = c.post(format!("{base}/ingest")).body("\n\n").send().await.unwrap();
        assert_eq!(r.status(), 400);

        // GA/T 1400: register, keepalive, a face with a large image and a
        // feature, a bad object; a motor vehicle on a watch list
        let gql = |q: String| {
            let c = c.clone();
            let base = base.clone();
            async move {
                let v: Value = c
                    .post(format!("{base}/graphql"))
                    .json(&json!({"query": q}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(v.get("errors").is_none(), "{v:#}");
                v["data"].clone()
            }
        };
        let v = gql(r#"mutation { createWatchList(input: {name: "plates"}) { id } }"#.into()).await;
        let wl = v["createWatchList"]["id"].as_str().unwrap().to_owned();
        let watched: Vec<f32> = (0..128).map(|i| (i as f32) / 128.0).collect();
        gql(format!(
            r#"mutation {{ addToWatchList(id: "{wl}", plates: ["浙A00001"], faces: [{{label: "suspect", feature: "{watched:?}"}}]) {{ id }} }}"#
        ))
        .await;

        // the camera's GA/T 1400 credential (an administrator's `anju viid add`)
        let cam = "32090200011000000001";
        e.auth
            .viid()
            .put(cam, server::auth::digest::CredentialKind::Device, vec![], "camera secret 1")
            .unwrap();
        let digest = super::viid::Digest::new(cam, "camera secret 1");
        let viid = |path: &'static str, body: Value| {
            let c = c.clone();
            let base = base.clone();
            let digest = &digest;
            async move { super::viid::post(&c, &base, path, &body.to_string(), digest).await }
        };
        let (s, v) = viid("/VIID/System/Keepalive", json!({"KeepaliveObject": {"DeviceID": cam}})).await;
        assert_eq!((s, v["ResponseStatusObject"]["StatusCode"].as_str()), (200, Some("4")));
        let (s, v) = viid("/VIID/System/Register", json!({"RegisterObject": {"DeviceID": cam}})).await;
        assert_eq!((s, v["ResponseStatusObject"]["StatusCode"].as_str()), (200, Some("0")));
        let (_, v) = viid("/VIID/System/Keepalive", json!({"KeepaliveObject": {"DeviceID": cam}})).await;
        assert_eq!(v["ResponseStatusObject"]["StatusCode"], "0");
        let feature: Vec<u8> = watched.iter().flat_map(|x| x.to_le_bytes()).collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let face_id = format!("{cam}02{}", "0".repeat(26));
        let (s, v) = viid(
            "/VIID/Faces",
            json!({"FaceListObject": {"FaceObject": [
                {"FaceID": face_id, "DeviceID": cam, "FaceAppearTime": "20261008083000", "LeftTopX": null, "InfoKind": 1,
                 "SubImageList": {"SubImageInfoObject": [{"Type": "11", "ShotTime": "20261008083000", "Data": b64.encode(vec![7u8; 400_000]),
                    "FeatureInfoObject": {"FeatureData": b64.encode(&feature)}}]}},
                {"FaceID": "bad-1", "DeviceID": cam, "FaceAppearTime": ""}
            ]}}),
        )
        .await;
        assert_eq!(s, 200);
        let st = &v["ResponseStatusListObject"]["ResponseStatusObject"];
        assert_eq!(st[0]["Id"], face_id.as_str());
        assert_eq!(st[0]["StatusCode"], "0");
        assert_eq!(st[1]["StatusCode"], "8");
        assert!(st[1]["StatusString"].as_str().unwrap().contains("FaceObject[1]"));
        let (s, v) = viid(
            "/VIID/MotorVehicles",
            json!({"MotorVehicleListObject": {"MotorVehicleObject": [
                {"MotorVehicleID": "mv-1", "DeviceID": cam, "PassTime": "20261008083100", "PlateNo": "浙A00001", "PlateColor": "2"}]}}),
        )
        .await;
        assert_eq!((s, v["ResponseStatusListObject"]["ResponseStatusObject"][0]["StatusCode"].as_str()), (200, Some("0")));
        let (s, v) = viid("/VIID/Faces", json!("not an object")).await;
        assert_eq!((s, v["ResponseStatusListObject"]["ResponseStatusObject"][0]["StatusCode"].as_str()), (400, Some("8")));
        let (s, v) = super::viid::post(&c, &base, "/VIID/Faces", "{oops", &digest).await;
        assert_eq!(s, 400);
        assert_eq!(v["ResponseStatusListObject"]["ResponseStatusObject"][0]["StatusCode"], "7");

        // the live captures reach the archives and the watch list within moments
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let v = gql(format!(
                r#"{{ event(id: "{face_id}") {{ type subjects {{ ref }} }} alerts(kinds: ["watchlist_plate"]) {{ totalCount edges {{ node {{ subject }} }} }}
                   faces: alerts(kinds: ["watchlist_face"]) {{ totalCount edges {{ node {{ score evidence }} }} }} }}"#
            ))
            .await;
            if v["alerts"]["totalCount"] == 1
                && v["faces"]["totalCount"] == 1
                && !v["event"]["subjects"].as_array().unwrap().is_empty()
            {
                assert_eq!(v["faces"]["edges"][0]["node"]["evidence"], json!([face_id]));
                assert_eq!(v["event"]["type"], "face_capture");
                assert_eq!(v["alerts"]["edges"][0]["node"]["subject"], "vehicle:浙A00001");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "live intake not projected: {v:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // a watched face inside a car at a vehicle gate: the face and the car
        let occupant = json!({"type": "vehicle_pass", "id": "live-occ-1", "device": dev,
            "time": "2026-10-08T09:30:00+08:00", "plate": "苏J77777", "direction": "in",
            "occupant_features": [watched]});
        let r = c.post(format!("{base}/ingest")).body(occupant.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let v = gql(r#"{ alerts(kinds: ["vehicle_watchlist_occupant"]) { totalCount edges { node { subject evidence } } } }"#.into()).await;
            if v["alerts"]["totalCount"] == 1 {
                assert_eq!(v["alerts"]["edges"][0]["node"]["subject"], "vehicle:苏J77777");
                assert_eq!(v["alerts"]["edges"][0]["node"]["evidence"], json!(["live-occ-1"]));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no occupant alert: {v:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let v = gql(r#"{ vehicle(plate: "浙A00001") { sightings(first: 1) { edges { node { event } } } } }"#.into()).await;
        assert_eq!(v["vehicle"]["sightings"]["edges"][0]["node"]["event"], "mv-1");
    });
}

#[test]
fn unregistered_residents_come_with_registered_look_alikes() {
    let dir = tempfile::tempdir().unwrap();
    let city = small_city(dir.path(), 5, 35, "data");
    let store = dir.path().join("store");
    ok(&mut ingest(&store, &[&city]));
    let mut config = Config::default();
    config.store.path = store.clone();
    let e = Engine::open(config).unwrap();
    let _stop = Stop(Arc::clone(&e));
    let schema = gql::schema(Arc::clone(&e));
    rt().block_on(async {
        data(&schema, "mutation { runAnalysis { days } }").await;
        let strangers: Vec<String> = {
            let store = e.store();
            server::tagbook::tags(store, "unregistered_resident", true)
                .unwrap()
                .into_iter()
                .map(|t| t.entity)
                .filter(|n| n.starts_with("stranger:"))
                .collect()
        };
        assert!(!strangers.is_empty());
        for s in strangers {
            let v = data(
                &schema,
                &format!(
                    r#"{{ archive(ref: "{s}") {{ tags {{ model suggestions {{ score entity {{ kind }} }} }} }} }}"#
                ),
            )
            .await;
            let tag = v["archive"]["tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["model"] == "unregistered_resident")
                .unwrap()
                .clone();
            let sugg = tag["suggestions"].as_array().unwrap();
            assert!(!sugg.is_empty() && sugg.len() <= 3, "{v:#}");
            assert!(sugg.iter().all(|h| h["entity"]["kind"] == "person"));
            let scores: Vec<f64> = sugg.iter().map(|h| h["score"].as_f64().unwrap()).collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        }
    });
}

/// The elderly-unseen timer judges residents living alone by the data's
/// clock: a day-time silence of 12 h raises one alert, a shorter one (or one
/// broken by the door sensor at home) none, and checking again raises
/// nothing new.
#[test]
fn the_elderly_timer_raises_one_alert_per_silence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("city.jsonl");
    let (gate, sensor, cars) = (
        "32090200001310000001",
        "32090200001310000002",
        "32090200001310000003",
    );
    let lines = [
        json!({"type":"region","code":"320902","name":"亭湖区","level":"district"}),
        json!({"type":"community","id":"C1","name":"幸福小区","region":"320902"}),
        json!({"type":"house","id":"C1-1-1-101","community":"C1","building":"1","unit":"1","room":"101"}),
        json!({"type":"house","id":"C1-1-1-102","community":"C1","building":"1","unit":"1","room":"102"}),
        json!({"type":"person","id":"E1","name":"王秀英","categories":["elderly_alone"]}),
        json!({"type":"person","id":"E2","name":"李建国","categories":["elderly_alone"]}),
        json!({"type":"residence","person":"E1","house":"C1-1-1-101","role":"owner"}),
        json!({"type":"residence","person":"E2","house":"C1-1-1-102","role":"owner"}),
        json!({"type":"device","id":gate,"kind":"face_gate","community":"C1"}),
        json!({"type":"device","id":sensor,"kind":"door_sensor","community":"C1","house":"C1-1-1-102"}),
        json!({"type":"device","id":cars,"kind":"vehicle_gate","community":"C1"}),
        json!({"type":"access","id":"a1","device":gate,"time":"2026-10-05T09:00:00+08:00","method":"face","person":"E1"}),
        json!({"type":"access","id":"a2","device":gate,"time":"2026-10-05T08:00:00+08:00","method":"face","person":"E2"}),
        json!({"type":"door_sensor","id":"d1","device":sensor,"time":"2026-10-05T10:00:00+08:00","state":"open"}),
        // the latest event: the data's clock reads 21:30
        json!({"type":"vehicle_pass","id":"v1","device":cars,"time":"2026-10-05T21:30:00+08:00","plate":"苏J12345"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let store = dir.path().join("store");
    ok(&mut ingest(&store, &[&file]));
    let mut config = Config::default();
    config.store.path = store;
    let e = Engine::open(config).unwrap();
    let _stop = Stop(Arc::clone(&e));
    let raised = e.check_elderly().unwrap();
    let subjects: Vec<Option<String>> = raised.iter().map(|a| a.subject.clone()).collect();
    assert_eq!(subjects, [Some("person:E1".to_owned())], "{raised:#?}");
    assert_eq!(raised[0].kind, "elderly_unseen");
    assert_eq!(raised[0].evidence, ["a1"]);
    assert!(e.check_elderly().unwrap().is_empty(), "raised twice");
    // a resident registered later in the category is judged at the next
    // check (the category's persons are read again once the registers grow)
    let cfg = ingest::ParseConfig::default();
    let later: Vec<_> = [
        json!({"type":"house","id":"C1-1-1-103","community":"C1","building":"1","unit":"1","room":"103"}),
        json!({"type":"person","id":"E3","name":"赵桂兰","categories":["elderly_alone"]}),
        json!({"type":"residence","person":"E3","house":"C1-1-1-103","role":"owner"}),
        json!({"type":"access","id":"a3","device":gate,"time":"2026-10-05T08:30:00+08:00","method":"face","person":"E3"}),
    ]
    .iter()
    .map(|l| ingest::parse_line(&l.to_string(), &cfg).unwrap().unwrap())
    .collect();
    e.write(&later).unwrap();
    e.settle().unwrap();
    let raised = e.check_elderly().unwrap();
    let subjects: Vec<Option<String>> = raised.iter().map(|a| a.subject.clone()).collect();
    assert_eq!(subjects, [Some("person:E3".to_owned())], "{raised:#?}");
    // the check's clock follows the events logged since it was read, as a
    // scan of every device's newest sighting finds it
    let next = json!({"type":"access","id":"a4","device":gate,"time":"2026-10-09T08:30:00+08:00","method":"face","person":"E3"});
    e.write(&[ingest::parse_line(&next.to_string(), &cfg)
        .unwrap()
        .unwrap()])
        .unwrap();
    e.settle().unwrap();
    let span = analysis::profile::data_span(e.store()).unwrap().unwrap();
    assert_eq!(e.data_clock().unwrap(), Some(span.1));
    let a4 = chrono::DateTime::parse_from_rfc3339("2026-10-09T08:30:00+08:00").unwrap();
    assert_eq!(span.1, model::Timestamp(a4.timestamp_millis()));
}
