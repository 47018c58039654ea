//! Access control end to end, over the `small` city (region 320902…) and a
//! canary region (330102…) whose every identifying value must never reach
//! a caller scoped to the city: the authorization matrix (every root field
//! × every role × in-scope / out-of-scope / non-existent data), masking,
//! the grant lifecycle, the audit log, region collision against planted
//! cases, and the abuse limits over HTTP.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use server::auth::Role;
use server::config::Config;
use server::scope::Principal;
use server::{Engine, errors, gql, http};

use super::api::{answer_to_head, serve};
use super::{ingest, ok, small_city};

pub(super) const A: &str = "320902";
pub(super) const B: &str = "330102001001";
pub(super) const CANARY_PERSON: &str = "330102199001017775";
const CANARY_KIN: &str = "330102199202027777";

/// Every value of the canary region: none may appear in any response,
/// error or log line seen by a caller scoped to the city.
pub(super) const CANARIES: &[&str] = &[
    CANARY_PERSON,
    CANARY_KIN,
    "甄金丝",
    "甄银丝",
    "13999997777",
    "13999997778",
    "浙A7C777",
    "CANARYC",
    "金丝雀",
    "33010200001310009999",
    "33010200001320009998",
    "33010200001330009997",
    "canary-",
    "cx-b-",
];

fn feature(step: usize, phase: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..128)
        .map(|i| if i % step == phase { 1.0 } else { 0.0 })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// The canary region, and the city person `x` seen at its door with the
/// canary (three evenings).
fn canary_lines(x: &str) -> String {
    let mut l = vec![
        json!({"type":"region","code":"330000","name":"浙江省","level":"province"}),
        json!({"type":"region","code":"330100","name":"杭州市","level":"city","parent":"330000"}),
        json!({"type":"region","code":"330102","name":"上城区","level":"district","parent":"330100"}),
        json!({"type":"region","code":"330102001","name":"上城区第1派出所","level":"station","parent":"330102"}),
        json!({"type":"region","code":B,"name":"金丝雀社区","level":"community","parent":"330102001"}),
        json!({"type":"community","id":"CANARYC","name":"金丝雀小区","region":B,"center":[120.17,30.25]}),
        json!({"type":"house","id":"CANARYC-1-1-101","community":"CANARYC","building":"1","unit":"1","room":"101","use":"self","area_m2":90}),
        json!({"type":"person","id":CANARY_PERSON,"id_number":CANARY_PERSON,"name":"甄金丝","gender":"F","birth_date":"1990-01-01","phone":"13999997777","household":"local","face":feature(7, 3)}),
        json!({"type":"person","id":CANARY_KIN,"id_number":CANARY_KIN,"name":"甄银丝","gender":"M","phone":"13999997778","household":"local"}),
        json!({"type":"residence","person":CANARY_PERSON,"house":"CANARYC-1-1-101","role":"owner"}),
        json!({"type":"residence","person":CANARY_KIN,"house":"CANARYC-1-1-101","role":"family"}),
        json!({"type":"vehicle","plate":"浙A7C777","kind":"car","owner":CANARY_PERSON,"community":"CANARYC"}),
        json!({"type":"device","id":"33010200001310009999","kind":"unit_door","community":"CANARYC","building":"1","unit":"1","location":[120.1701,30.2501],"direction":"both"}),
        json!({"type":"device","id":"33010200001320009998","kind":"vehicle_gate","community":"CANARYC","location":[120.1702,30.2502]}),
        json!({"type":"device","id":"33010200001330009997","kind":"face_camera","community":"CANARYC","location":[120.1703,30.2503]}),
    ];
    for d in 1..=7 {
        for (k, p) in [CANARY_PERSON, CANARY_KIN].iter().enumerate() {
            l.push(json!({"type":"access","id":format!("canary-acc-{d}-{k}"),"device":"33010200001310009999",
                "time":format!("2026-10-0{d}T21:0{k}:00+08:00"),"method":"face","person":p,"direction":"in"}));
        }
        l.push(json!({"type":"vehicle_pass","id":format!("canary-vp-{d}"),"device":"33010200001320009998",
            "time":format!("2026-10-0{d}T08:00:00+08:00"),"plate":"浙A7C777","direction":"out"}));
    }
    for d in 3..=5 {
        l.push(json!({"type":"access","id":format!("cx-b-{d}"),"device":"33010200001310009999",
            "time":format!("2026-10-0{d}T21:00:30+08:00"),"method":"face","person":x,"direction":"in"}));
    }
    l.push(
        json!({"type":"face_capture","id":"canary-face-1","device":"33010200001330009997",
        "time":"2026-10-02T10:00:00+08:00","feature":feature(5, 1)}),
    );
    l.iter().map(|v| format!("{v}\n")).collect()
}

/// The world of these tests: the engine, a principal per role, and the
/// values each matrix row is instantiated with.
pub(super) struct World {
    pub(super) e: Arc<Engine>,
    pub(super) schema: gql::AnjuSchema,
    pub(super) tokens: BTreeMap<&'static str, String>,
    pub(super) ins: BTreeMap<&'static str, String>,
    pub(super) outs: BTreeMap<&'static str, String>,
    pub(super) ghosts: BTreeMap<&'static str, String>,
    pub(super) logs: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn base_records(data: &Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("base.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

impl World {
    pub(super) fn new(dir: &Path, tune: impl FnOnce(&mut Config)) -> World {
        // every log line of the process, for the canary check
        let logs = Arc::new(Mutex::new(Vec::new()));
        let buf = LogBuf(Arc::clone(&logs));
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || buf.clone())
            .try_init();

        let data = small_city(dir, 5, 7, "data");
        let base = base_records(&data);
        let csv_rows = |f: &str| -> Vec<Vec<String>> {
            std::fs::read_to_string(data.join(f))
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| l.split(',').map(String::from).collect())
                .collect()
        };
        // a current resident of the city: the in-scope person, its house
        let res = csv_rows("residences.csv")
            .into_iter()
            .find(|r| r.get(4).is_none_or(|u| u.is_empty()))
            .unwrap();
        let (p, h) = (res[0].clone(), res[1].clone());
        let name = base
            .iter()
            .find(|r| r["type"] == "person" && r["id"] == p.as_str())
            .and_then(|r| r["name"].as_str())
            .unwrap()
            .to_owned();
        let comm = csv_rows("houses.csv")
            .into_iter()
            .find(|r| r[0] == h)
            .unwrap()[1]
            .clone();
        let vehicle = base
            .iter()
            .find(|r| r["type"] == "vehicle" && r["community"] == comm.as_str())
            .unwrap()["plate"]
            .as_str()
            .unwrap()
            .to_owned();
        let device = csv_rows("devices.csv")
            .into_iter()
            .find(|r| r[2] == comm)
            .unwrap()[0]
            .clone();
        let canary = dir.join("canary");
        std::fs::create_dir_all(&canary).unwrap();
        std::fs::write(canary.join("canary.jsonl"), canary_lines(&p)).unwrap();
        let store = dir.join("store");
        ok(&mut ingest(&store, &[&data, &canary]));

        let mut config = Config::default();
        config.store.path = store;
        config.auth.rate_per_minute = 1_000_000;
        config.auth.rate_burst = 100_000;
        tune(&mut config);
        let e = Engine::open(config).unwrap();
        let schema = gql::schema(Arc::clone(&e));
        let mut tokens = BTreeMap::new();
        let ttl = Duration::from_secs(3600);
        for (k, name, role, regions) in [
            ("o", "officer-a", Role::Officer, vec![A]),
            ("a", "analyst-a", Role::Analyst, vec![A]),
            ("c", "commander-a", Role::Commander, vec!["320000"]),
            ("d", "dashboard-a", Role::Dashboard, vec![A]),
            ("b", "batch-a", Role::Batch, vec![A]),
            ("x", "admin", Role::Admin, vec![]),
            ("ob", "officer-b", Role::Officer, vec!["330102"]),
            ("cb", "commander-b", Role::Commander, vec!["330000"]),
        ] {
            let regions = regions.into_iter().map(String::from).collect();
            let (t, _) = e.auth.issue(name, role, regions, None, ttl).unwrap();
            tokens.insert(k, t);
        }
        let (t, _) = e
            .auth
            .issue("gate", Role::Device, vec![], Some(device.clone()), ttl)
            .unwrap();
        tokens.insert("v", t);

        let mut w = World {
            e,
            schema,
            tokens,
            ins: BTreeMap::new(),
            outs: BTreeMap::new(),
            ghosts: BTreeMap::new(),
            logs,
        };
        // live alarms in both regions raise an alert each
        let cfg = w.e.config.parse_config(server::engine::now()).unwrap();
        let rec = |l: Value| ::ingest::parse_line(&l.to_string(), &cfg).unwrap().unwrap();
        w.e.write(&[
            rec(json!({"type":"device_alarm","id":"alarm-a-1","device":device,"time":"2026-10-07T10:00:00+08:00","kind":"smoke"})),
            rec(json!({"type":"device_alarm","id":"canary-alarm-1","device":"33010200001310009999","time":"2026-10-07T10:00:00+08:00","kind":"smoke"})),
        ])
        .unwrap();
        let (mut al_a, mut al_b) = (None, None);
        for _ in 0..200 {
            let v = w.data(
                "x",
                "{ alerts(kinds: [\"device_alarm\"]) { edges { node { id region evidence } } } }",
            );
            for a in v["alerts"]["edges"].as_array().unwrap() {
                let id = a["node"]["id"].as_str().unwrap().to_owned();
                if a["node"]["evidence"] == json!(["alarm-a-1"]) {
                    al_a = Some(id);
                } else if a["node"]["evidence"] == json!(["canary-alarm-1"]) {
                    al_b = Some(id);
                }
            }
            if al_a.is_some() && al_b.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // the stranger the canary camera opened
        let mut stranger_b = None;
        for _ in 0..200 {
            let v = w.data(
                "x",
                r#"{ event(id: "canary-face-1") { subjects { ref } } }"#,
            );
            if let Some(r) = v["event"]["subjects"][0]["ref"].as_str() {
                stranger_b = Some(r.split_once(':').unwrap().1.to_owned());
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let first_event = {
            let v = w.data("x", &format!(r#"{{ device(id: "{device}") {{ sightings(first: 1) {{ edges {{ node {{ event }} }} }} }} }}"#));
            v["device"]["sightings"]["edges"][0]["node"]["event"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        // a tag on the city person whose evidence reaches into the canary
        // region (its evenings there, the canary beside it)
        {
            let store = w.e.store();
            let f = analysis::Finding {
                model: "frequent_night_outs",
                entity: model::NodeRef::parse(&format!("person:{p}")).unwrap(),
                from: model::Timestamp(0),
                to: model::Timestamp(1),
                score: 1.0,
                evidence: vec![
                    "cx-b-3".into(),
                    first_event.clone(),
                    format!("person:{CANARY_PERSON}"),
                ],
                // the model's words name what the evidence holds
                detail: format!("out with person:{CANARY_PERSON} (cx-b-3)"),
                alert: false,
            };
            server::tagbook::apply(
                store,
                &["frequent_night_outs"],
                &[f],
                model::Timestamp(1),
                None,
            )
            .unwrap();
        }
        let wl = |w: &World, region: &str| {
            let v = w.data("x", &format!(r#"mutation {{ createWatchList(input: {{name: "list", region: "{region}"}}) {{ id }} }}"#));
            v["createWatchList"]["id"].as_str().unwrap().to_owned()
        };
        let (wl_a, wl_b) = (wl(&w, "320902001001"), wl(&w, B));
        // the canary region watches the city person: its list stays its own
        w.data("x", &format!(r#"mutation {{ addToWatchList(id: "{wl_b}", persons: ["{p}"], plates: ["浙A7C777"]) {{ id }} }}"#));
        let grant = |w: &World, who: &str, subject: &str, region: &str| {
            let v = w.data(who, &format!(r#"mutation {{ requestGrant(subject: "{subject}", regions: ["{region}"], reason: "matrix case", duration: "1h") {{ id }} }}"#));
            v["requestGrant"]["id"].as_str().unwrap().to_owned()
        };
        let (g_a, g_b) = (
            grant(&w, "o", &format!("person:{p}"), "320902001001"),
            grant(&w, "ob", &format!("person:{CANARY_PERSON}"), B),
        );
        let inv = |w: &World, who: &str, subject: &str| {
            let v = w.data(who, &format!(r#"mutation {{ saveInvestigation(input: {{title: "case", subjects: ["{subject}"]}}) {{ id }} }}"#));
            v["saveInvestigation"]["id"].as_str().unwrap().to_owned()
        };
        let (i_a, i_b) = (
            inv(&w, "o", &format!("person:{p}")),
            inv(&w, "ob", &format!("person:{CANARY_PERSON}")),
        );
        let f = |v: Vec<f32>| format!("{v:?}");
        for (k, i, o, g) in [
            (
                "P",
                p.clone(),
                CANARY_PERSON.to_owned(),
                "110101199001019992".to_owned(),
            ),
            ("H", h, "CANARYC-1-1-101".into(), "GHOSTC-1-1-101".into()),
            ("V", vehicle, "浙A7C777".into(), "京Z9Z999".into()),
            ("C", comm, "CANARYC".into(), "GHOSTC".into()),
            (
                "D",
                device,
                "33010200001310009999".into(),
                "11010100001310009999".into(),
            ),
            (
                "E",
                first_event,
                "canary-acc-2-0".into(),
                "ghost-acc-2-0".into(),
            ),
            (
                "S",
                "S-none".into(),
                stranger_b.expect("a stranger in B"),
                "S0000000000-ghost".into(),
            ),
            (
                "AL",
                al_a.expect("an alert in A"),
                al_b.expect("an alert in B"),
                "A0000000000000-ffffffffff".into(),
            ),
            ("WL", wl_a, wl_b, "W0000000000000-0000".into()),
            ("G", g_a, g_b, "G0000000000000-00000000".into()),
            ("I", i_a, i_b, "I0000000000000-00000000".into()),
            ("R", "320902001001".into(), B.into(), "110101001001".into()),
            ("NAME", name, "甄金丝".into(), "甄不在".into()),
            ("F", f(feature(11, 2)), f(feature(7, 3)), f(feature(13, 4))),
        ] {
            w.ins.insert(k, i);
            w.outs.insert(k, o);
            w.ghosts.insert(k, g);
        }
        w
    }

    pub(super) fn principal(&self, who: &str) -> Principal {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "authorization",
            format!("Bearer {}", self.tokens[who]).parse().unwrap(),
        );
        http::authenticate(&self.e, &h).unwrap()
    }

    pub(super) fn run(&self, who: &str, query: &str) -> Value {
        self.run_with(who, query, json!({}))
    }

    /// A query with variables.
    pub(super) fn run_with(&self, who: &str, query: &str, variables: Value) -> Value {
        let p = self.principal(who);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(p);
        rt.block_on(async {
            let mut r = self.schema.execute(request).await;
            errors::annotate(&mut r);
            serde_json::to_value(&r).unwrap()
        })
    }

    pub(super) fn data(&self, who: &str, query: &str) -> Value {
        let v = self.run(who, query);
        assert!(v.get("errors").is_none(), "{who}: {query}\n{v:#}");
        v["data"].clone()
    }

    pub(super) fn fill(&self, t: &str, vals: &BTreeMap<&'static str, String>) -> String {
        let mut s = t.to_owned();
        // longest keys first ({NAME} before {N…})
        let mut keys: Vec<&&str> = vals.keys().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for k in keys {
            s = s.replace(&format!("{{{k}}}"), &vals[*k]);
        }
        s
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.e.shutdown();
    }
}

/// The matrix: every root field, the roles that may use it (o officer,
/// a analyst, c commander, d dashboard, b batch, x admin; the device role
/// none), and a request using it, filled with in-scope, out-of-scope and
/// non-existent values in turn. Mutations with lasting effects come last.
const MATRIX: &[(&str, &str, &str, &str)] = &[
    (
        "Query",
        "person",
        "oacx",
        r#"{ person(id: "{P}") { ref label person { id idNumber phone name } tags(includeRetired: true) { model evidence detail } openAlerts { id evidence } similarFaces { entity { ref label } } watchLists { id region plates } } }"#,
    ),
    (
        "Query",
        "stranger",
        "oacx",
        r#"{ stranger(id: "{S}") { ref label sightings(first: 3) { edges { node { event device } } } } }"#,
    ),
    (
        "Query",
        "house",
        "oacx",
        r#"{ house(id: "{H}") { ref label house { id community address } residents { total items { node { ref label } } } tenancy { items { node { ref } } } visitors { items { node { ref } } } nightEntrants { entity { ref label } nights } sightings(first: 20) { edges { node { event subjects } } } tags { evidence } } }"#,
    ),
    (
        "Query",
        "vehicle",
        "oacx",
        r#"{ vehicle(plate: "{V}") { ref label vehicle { plate owner community } occupants { items { node { ref label } } } sightings(first: 20) { edges { node { event device } } } trajectorySummary { communities { community } } watchLists { id plates } tags { evidence } } }"#,
    ),
    (
        "Query",
        "community",
        "oacx",
        r#"{ community(id: "{C}") { ref label community { id name region } statistics { persons } devices { id name } sightings(first: 5) { edges { node { event subjects } } } } }"#,
    ),
    (
        "Query",
        "device",
        "oacx",
        r#"{ device(id: "{D}") { ref label device { id community } sightings(first: 20) { edges { node { event subjects } } } } }"#,
    ),
    (
        "Query",
        "archive",
        "oacx",
        r#"{ archive(ref: "person:{P}") { ref sightings(first: 50) { edges { node { event device subjects } } } houses { items { node { ref } } } residents { total } kin { items { node { ref } } } tenancy { items { node { ref } } } visitors { items { node { ref } } } visited { items { node { ref } } } vehicles { items { node { ref } } } cohabitants { total items { node { ref label archive { ref } } } } companions { total items { node { ref } evidence { events } } } relations { total items { kind node { ref } evidence { events records } } } trajectorySummary { communities { community } } } }"#,
    ),
    (
        "Query",
        "event",
        "oacx",
        r#"{ event(id: "{E}") { id device detail subjects { ref } } }"#,
    ),
    (
        "Query",
        "search",
        "oacx",
        r#"{ search(query: "{NAME}") { totalCount facets { kinds { key count } regions { key count } communities { key count } } edges { node { entity { ref label } } } } }"#,
    ),
    (
        "Query",
        "faceSearch",
        "oacx",
        r#"{ faceSearch(feature: "{F}", minScore: 0.9) { score entity { ref label } } }"#,
    ),
    (
        "Query",
        "trajectory",
        "oacx",
        r#"{ trajectory(subject: "person:{P}", from: "2026-10-01", to: "2026-10-09") { points { event device community } communities { community } } }"#,
    ),
    (
        "Query",
        "neighbours",
        "oacx",
        r#"{ neighbours(node: "person:{P}") { total more items { kind node { ref label } } } }"#,
    ),
    (
        "Query",
        "subgraph",
        "oacx",
        r#"{ subgraph(seeds: ["person:{P}"], hops: 2) { nodes { entity { ref label } } edges { from to context } hidden } }"#,
    ),
    (
        "Query",
        "paths",
        "oacx",
        r#"{ paths(from: "person:{P}", to: "house:{H}") { nodes { ref } edges { from to } } }"#,
    ),
    (
        "Query",
        "commonAssociates",
        "oacx",
        r#"{ commonAssociates(nodes: ["person:{P}", "house:{H}"]) { entity { ref } } }"#,
    ),
    (
        "Query",
        "evidence",
        "oacx",
        r#"{ evidence(kind: "lives_in", from: "person:{P}", to: "house:{H}") { events records } }"#,
    ),
    (
        "Query",
        "investigate",
        "oacx",
        r#"{ investigate(subject: "person:{P}", from: "2026-10-01", to: "2026-10-09") { subject { ref } sightings { event device } byRegion { key count } trajectory { points { event } } relations { total items { node { ref label } } } } }"#,
    ),
    (
        "Query",
        "collision",
        "oacx",
        r#"{ collision(conditions: [{community: "{C}", from: "2026-10-01", to: "2026-10-04"}, {community: "{C}", from: "2026-10-04", to: "2026-10-08"}]) { totalCount devicesPerCondition matches { entity { ref label } evidence { event device } } } }"#,
    ),
    (
        "Query",
        "dashboard",
        "oacdbx",
        r#"{ dashboard(region: "{R}", from: "2026-10-01", to: "2026-10-09") { persons houses events communities regionName path { region name } subRegions { region name level persons events alerts } devicesByKind { key count } alertsPerDay { day type count } topCommunities { community name events } alertsByKind { key count } } }"#,
    ),
    (
        "Query",
        "places",
        "oacdbx",
        r#"{ places(region: "{R}") { communities { id name region lon lat boundary } devices { id kind name community lon lat } } }"#,
    ),
    (
        "Query",
        "alerts",
        "oacbx",
        r#"{ alerts(region: "{R}") { totalCount edges { node { id subject region evidence } } } }"#,
    ),
    (
        "Query",
        "alert",
        "oacbx",
        r#"{ alert(id: "{AL}") { id subject region evidence } }"#,
    ),
    (
        "Query",
        "watchLists",
        "oacx",
        r#"{ watchLists { id region persons } }"#,
    ),
    (
        "Query",
        "watchList",
        "oacx",
        r#"{ watchList(id: "{WL}") { id region persons } }"#,
    ),
    (
        "Alert",
        "archive",
        "oacx",
        r#"{ alerts(region: "{R}") { edges { node { id archive { ref person { name birthDate } houses { items { node { ref label } } } sightings(first: 3) { edges { node { event } } } } } } } }"#,
    ),
    (
        "Entity",
        "archive",
        "oacx",
        r#"{ search(query: "{NAME}") { edges { node { entity { ref archive { ref label companions { items { node { ref } } } } } } } } }"#,
    ),
    ("Query", "status", "x", r#"{ status }"#),
    (
        "Query",
        "me",
        "oacdbx",
        r#"{ me { name role regions seesIdentifiers } }"#,
    ),
    (
        "Query",
        "grants",
        "oacx",
        r#"{ grants { id requester subject regions status } }"#,
    ),
    (
        "Query",
        "investigations",
        "oacx",
        r#"{ investigations { id title subjects { ref label } } }"#,
    ),
    (
        "Query",
        "investigation",
        "oacx",
        r#"{ investigation(id: "{I}") { id title exportCsv exportJson } }"#,
    ),
    (
        "Query",
        "auditLog",
        "x",
        r#"{ auditLog(first: 3) { seq who records } }"#,
    ),
    (
        "Query",
        "auditVerify",
        "x",
        r#"{ auditVerify { ok entries } }"#,
    ),
    ("Query", "tokens", "x", r#"{ tokens { id name role } }"#),
    ("Subscription", "alerts", "oacbx", ""),
    (
        "Mutation",
        "signAlert",
        "ocx",
        r#"mutation { signAlert(id: "{AL}") { id status } }"#,
    ),
    (
        "Mutation",
        "handleAlert",
        "ocx",
        r#"mutation { handleAlert(id: "{AL}", disposition: FALSE_ALARM) { id status } }"#,
    ),
    (
        "Mutation",
        "createWatchList",
        "ocx",
        r#"mutation { createWatchList(input: {name: "m", region: "{R}"}) { id region } }"#,
    ),
    (
        "Mutation",
        "updateWatchList",
        "ocx",
        r#"mutation { updateWatchList(id: "{WL}", input: {name: "m2", region: "{R}"}) { id } }"#,
    ),
    (
        "Mutation",
        "addToWatchList",
        "ocx",
        r#"mutation { addToWatchList(id: "{WL}", persons: ["{P}"]) { id persons } }"#,
    ),
    (
        "Mutation",
        "removeFromWatchList",
        "ocx",
        r#"mutation { removeFromWatchList(id: "{WL}", persons: ["{P}"]) { id persons } }"#,
    ),
    (
        "Mutation",
        "importWatchList",
        "ocx",
        r#"mutation { importWatchList(id: "{WL}", csv: "kind,value\nplate,{V}\n") { added } }"#,
    ),
    (
        "Mutation",
        "runAnalysis",
        "cbx",
        r#"mutation { runAnalysis(models: ["nocturnal"]) { days alertsRaised models { model active } } }"#,
    ),
    (
        "Mutation",
        "mergeArchive",
        "cx",
        r#"mutation { mergeArchive(archive: "stranger:{S}", into: "person:{P}") { merged } }"#,
    ),
    (
        "Mutation",
        "requestGrant",
        "oax",
        r#"mutation { requestGrant(subject: "person:{P}", regions: ["{R}"], reason: "matrix test", duration: "1h") { subject regions status } }"#,
    ),
    (
        "Mutation",
        "approveGrant",
        "cx",
        r#"mutation { approveGrant(id: "{G}") { id status } }"#,
    ),
    (
        "Mutation",
        "refuseGrant",
        "cx",
        r#"mutation { refuseGrant(id: "{G}") { id status } }"#,
    ),
    (
        "Mutation",
        "revokeGrant",
        "oacx",
        r#"mutation { revokeGrant(id: "{G}") { id status } }"#,
    ),
    (
        "Mutation",
        "saveInvestigation",
        "oacx",
        r#"mutation { saveInvestigation(input: {title: "t", subjects: ["person:{P}"]}) { title subjects { ref } } }"#,
    ),
    (
        "Mutation",
        "revokeToken",
        "x",
        r#"mutation { revokeToken(id: "no-such-token") }"#,
    ),
    (
        "Mutation",
        "deleteInvestigation",
        "oacx",
        r#"mutation { deleteInvestigation(id: "{I}") }"#,
    ),
    (
        "Mutation",
        "revokeWatchLists",
        "ocx",
        r#"mutation { revokeWatchLists(ids: ["{WL}"]) }"#,
    ),
    (
        "Mutation",
        "deleteWatchList",
        "ocx",
        r#"mutation { deleteWatchList(id: "{WL}") }"#,
    ),
];

/// Root fields of the schema, from its SDL.
fn schema_fields() -> Vec<(String, String)> {
    let sdl = gql::sdl();
    let mut out = Vec::new();
    for root in ["Query", "Mutation", "Subscription"] {
        let start = sdl.find(&format!("type {root} {{")).unwrap();
        let body = &sdl[start..start + sdl[start..].find("\n}").unwrap()];
        let mut depth = 0i32;
        let mut in_desc = false;
        for line in body.lines().skip(1) {
            let t = line.trim();
            if t.starts_with("\"\"\"") {
                // a block description: one line, or until its closing quotes
                if !(t.len() > 3 && t.ends_with("\"\"\"")) {
                    in_desc = !in_desc;
                }
                continue;
            }
            if in_desc {
                continue;
            }
            if depth == 0 && !t.is_empty() && !t.starts_with('"') && !t.starts_with('@') {
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((root.to_owned(), name));
                }
            }
            depth += t.matches('(').count() as i32 - t.matches(')').count() as i32;
        }
    }
    out
}

#[test]
fn every_root_field_has_a_row_in_the_matrix_and_in_the_policy() {
    let fields = schema_fields();
    assert!(fields.len() > 40, "{fields:?}");
    for (root, f) in &fields {
        assert!(
            MATRIX.iter().any(|(r, n, _, _)| r == root && n == f),
            "{root}.{f} has no row in the authorization matrix (tests/it/access.rs)"
        );
        assert!(
            server::scope::access(root, f).is_some(),
            "{root}.{f} has no access policy (server/scope.rs FIELDS)"
        );
    }
    // nested fields: every one that returns an archive has a policy row,
    // and every nested policy row a matrix row
    let types = server::guard::document::Types::from_sdl(&gql::sdl());
    let nested = types.returning("Archive");
    assert!(nested.len() >= 2, "{nested:?}");
    for (parent, f) in nested
        .iter()
        .filter(|(p, _)| !["Query", "Mutation", "Subscription"].contains(&p.as_str()))
    {
        assert!(
            server::scope::access(parent, f).is_some(),
            "{parent}.{f} returns an archive and has no access policy (server/scope.rs FIELDS)"
        );
    }
    for (parent, f, _) in server::scope::FIELDS {
        assert!(
            MATRIX.iter().any(|(r, n, _, _)| r == parent && n == f),
            "{parent}.{f} has a policy row and no row in the authorization matrix"
        );
    }
    for (r, n, _, _) in MATRIX {
        let known =
            fields.iter().any(|(fr, fname)| fr == r && fname == n) || types.field(r, n).is_some();
        assert!(known, "matrix row {r}.{n} names no field of the schema");
    }
}

fn normalize(v: &Value, vals: &BTreeMap<&'static str, String>) -> String {
    let mut s = v.to_string();
    let mut keys: Vec<&String> = vals.values().collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for k in keys {
        s = s.replace(k.as_str(), "<V>");
    }
    let re = regex::Regex::new(
        r"~[A-Za-z0-9_-]{20,}|[GI]\d{13}-[0-9a-f]{8}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
    )
    .unwrap();
    re.replace_all(&s, "<N>").into_owned()
}

pub(super) fn codes(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn authorization_matrix_roles_scope_canaries_and_masking() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let id_number = regex::Regex::new(r"(^|[^0-9A-Za-z])\d{17}[\dXx]($|[^0-9A-Za-z])").unwrap();
    let mobile = regex::Regex::new(r"(^|[^0-9])1[3-9]\d{9}($|[^0-9])").unwrap();
    let mut checked = 0;
    for (root, field, allowed, template) in MATRIX {
        if template.is_empty() {
            continue; // the subscription: see below
        }
        for who in ["o", "a", "c", "d", "b", "x", "v"] {
            let may = allowed.contains(who) && who != "v";
            let mut seen = Vec::new();
            for (variant, vals) in [("in", &w.ins), ("out", &w.outs), ("ghost", &w.ghosts)] {
                let q = w.fill(template, vals);
                let v = w.run(who, &q);
                let forbidden = codes(&v).iter().any(|c| c == "FORBIDDEN");
                assert_eq!(
                    forbidden, !may,
                    "{root}.{field} as {who} ({variant}): forbidden = {forbidden}\n{v:#}"
                );
                let text = v.to_string();
                if who != "x" {
                    // a value the caller typed may come back to it (the
                    // subject of its own grant request); anything else
                    // from the canary region may not — and an echo is
                    // held to "looks like a ghost" below
                    for c in CANARIES.iter().filter(|c| !q.contains(*c)) {
                        assert!(
                            !text.contains(c),
                            "{root}.{field} as {who} ({variant}) leaked canary {c:?}:\n{v:#}"
                        );
                    }
                }
                if matches!(who, "a" | "d" | "b" | "v") {
                    assert!(
                        !id_number.is_match(&text),
                        "{root}.{field} as {who} ({variant}) shows an identity number:\n{v:#}"
                    );
                    assert!(
                        !mobile.is_match(&text),
                        "{root}.{field} as {who} ({variant}) shows a mobile number:\n{v:#}"
                    );
                }
                seen.push((variant, v));
                checked += 1;
            }
            // out of scope looks exactly like not there (regional callers)
            if who != "x" {
                let out = normalize(&seen[1].1, &w.outs);
                let ghost = normalize(&seen[2].1, &w.ghosts);
                assert_eq!(
                    out, ghost,
                    "{root}.{field} as {who}: out-of-scope and non-existent answers differ"
                );
            }
        }
    }
    assert!(checked > 900, "{checked}");
    // the in-scope answers are real: the officer sees the person, the
    // analyst sees it masked, the admin sees the canary
    let p = &w.ins["P"];
    let v = w.data(
        "o",
        &format!(r#"{{ person(id: "{p}") {{ ref person {{ id idNumber }} }} }}"#),
    );
    assert_eq!(v["person"]["ref"], format!("person:{p}"));
    let v = w.data(
        "x",
        &format!(r#"{{ person(id: "{CANARY_PERSON}") {{ person {{ name }} }} }}"#),
    );
    assert_eq!(v["person"]["person"]["name"], "甄金丝");
    // nothing in any log line either
    let logs = String::from_utf8_lossy(&w.logs.lock().unwrap()).into_owned();
    assert!(logs.len() > 100, "the log capture works");
    for c in CANARIES {
        for l in logs.lines() {
            assert!(!l.contains(c), "a log line names canary {c:?}: {l}");
        }
    }
}

#[test]
fn masked_roles_get_handles_that_work_as_ids() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let q = format!(r#"{{ person(id: "{p}") {{ ref key person {{ id idNumber phone }} }} }}"#);
    let officer = w.data("o", &q);
    assert_eq!(officer["person"]["person"]["idNumber"], p.as_str());
    let analyst = w.data("a", &q);
    let handle = analyst["person"]["key"].as_str().unwrap().to_owned();
    assert!(handle.starts_with('~'), "{analyst:#}");
    assert_eq!(analyst["person"]["ref"], format!("person:{handle}"));
    let masked = analyst["person"]["person"]["idNumber"].as_str().unwrap();
    assert_eq!(masked, format!("{}**********{}", &p[..4], &p[14..]));
    let phone = analyst["person"]["person"]["phone"].as_str().unwrap_or("");
    assert!(phone.is_empty() || phone.contains("****"), "{phone}");
    // the handle finds the same archive, in any argument
    let v = w.data(
        "a",
        &format!(r#"{{ archive(ref: "person:{handle}") {{ key }} }}"#),
    );
    assert_eq!(v["archive"]["key"], handle.as_str());
    // a tampered handle finds nothing
    let bad = format!("{}A", &handle[..handle.len() - 1]);
    let bad = if bad == handle {
        format!("{}B", &handle[..handle.len() - 1])
    } else {
        bad
    };
    let v = w.run("a", &format!(r#"{{ person(id: "{bad}") {{ key }} }}"#));
    assert!(!codes(&v).is_empty(), "{v:#}");
    // the dashboard sees counts, never persons
    let v = w.run("d", &q);
    assert_eq!(codes(&v), vec!["FORBIDDEN"]);
}

#[test]
fn grants_are_requested_approved_used_refused_revoked_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let investigate = format!(
        r#"{{ investigate(subject: "person:{p}", from: "2026-10-01", to: "2026-10-09") {{ sightings {{ event }} byRegion {{ key count }} relations {{ items {{ node {{ ref }} }} }} }} }}"#
    );
    let b_sightings = |v: &Value| {
        v["investigate"]["sightings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["event"].as_str().unwrap().starts_with("cx-b-"))
            .count()
    };
    // before: the officer sees the person, not its evenings in region B
    let v = w.data("o", &investigate);
    assert_eq!(b_sightings(&v), 0, "{v:#}");
    // request; a commander of the city may not decide it (B is not theirs),
    // nor may the requester; the commander of B approves
    let v = w.data("o", &format!(r#"mutation {{ requestGrant(subject: "person:{p}", regions: ["{B}"], reason: "series of thefts", duration: "1h") {{ id status }} }}"#));
    let g = v["requestGrant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["requestGrant"]["status"], "REQUESTED");
    assert_eq!(
        codes(&w.run(
            "c",
            &format!(r#"mutation {{ approveGrant(id: "{g}") {{ id }} }}"#)
        )),
        vec!["NOT_FOUND"]
    );
    let v = w.data(
        "cb",
        &format!(
            r#"mutation {{ approveGrant(id: "{g}", note: "ok") {{ status until decidedBy }} }}"#
        ),
    );
    assert_eq!(v["approveGrant"]["status"], "APPROVED");
    assert_eq!(v["approveGrant"]["decidedBy"], "commander-b");
    // use: the evenings in B appear, and the canary beside the subject
    let v = w.data("o", &investigate);
    assert_eq!(b_sightings(&v), 3, "{v:#}");
    assert!(
        v["investigate"]["byRegion"].to_string().contains(B),
        "{v:#}"
    );
    let v2 = w.data("o", &format!(r#"{{ person(id: "{p}") {{ sightings(first: 100) {{ edges {{ node {{ event }} }} }} }} }}"#));
    assert!(v2.to_string().contains("cx-b-3"), "{v2:#}");
    // … but only about that subject: the canary's own archive stays closed
    let v3 = w.run(
        "o",
        &format!(r#"{{ person(id: "{CANARY_PERSON}") {{ ref }} }}"#),
    );
    assert_eq!(codes(&v3), vec!["NOT_FOUND"]);
    let me = w.data("o", "{ me { grants { id status } } }");
    assert_eq!(me["me"]["grants"][0]["id"], g.as_str());
    // revoke: gone at once
    let v = w.data(
        "o",
        &format!(r#"mutation {{ revokeGrant(id: "{g}") {{ status history {{ action by }} }} }}"#),
    );
    assert_eq!(v["revokeGrant"]["status"], "REVOKED");
    let actions: Vec<&str> = v["revokeGrant"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["requested", "approved", "revoked"]);
    assert_eq!(b_sightings(&w.data("o", &investigate)), 0);
    // refuse
    let v = w.data("o", &format!(r#"mutation {{ requestGrant(subject: "person:{p}", regions: ["{B}"], reason: "again", duration: "1h") {{ id }} }}"#));
    let g2 = v["requestGrant"]["id"].as_str().unwrap().to_owned();
    let v = w.data(
        "cb",
        &format!(r#"mutation {{ refuseGrant(id: "{g2}", note: "not enough") {{ status }} }}"#),
    );
    assert_eq!(v["refuseGrant"]["status"], "REFUSED");
    assert_eq!(b_sightings(&w.data("o", &investigate)), 0);
    assert_eq!(
        codes(&w.run(
            "cb",
            &format!(r#"mutation {{ approveGrant(id: "{g2}") {{ id }} }}"#)
        )),
        vec!["CONFLICT"]
    );
    // expire: a two-second grant ends by itself
    let v = w.data("o", &format!(r#"mutation {{ requestGrant(subject: "person:{p}", regions: ["{B}"], reason: "quick look", duration: "2s") {{ id }} }}"#));
    let g3 = v["requestGrant"]["id"].as_str().unwrap().to_owned();
    w.data(
        "cb",
        &format!(r#"mutation {{ approveGrant(id: "{g3}") {{ status }} }}"#),
    );
    assert_eq!(b_sightings(&w.data("o", &investigate)), 3);
    std::thread::sleep(Duration::from_millis(2_200));
    assert_eq!(b_sightings(&w.data("o", &investigate)), 0);
    let v = w.data("o", "{ grants { id status } }");
    let st: BTreeMap<String, String> = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(st[&g], "REVOKED");
    assert_eq!(st[&g2], "REFUSED");
    assert_eq!(st[&g3], "EXPIRED");
    // every step is in the audit log
    let v = w.data("x", r#"{ auditLog(first: 200) { who fields } }"#);
    let steps: Vec<String> = v["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["who"].as_str().unwrap(),
                e["fields"][0].as_str().unwrap_or("")
            )
        })
        .collect();
    for s in [
        "officer-a requestGrant",
        "commander-b approveGrant",
        "commander-b refuseGrant",
        "officer-a revokeGrant",
    ] {
        assert!(steps.iter().any(|x| x == s), "{s} not audited: {steps:?}");
    }
}

/// The guard checks the root fields an operation names before anything
/// runs — through fragments, whichever operation is chosen — and the
/// WebSocket path (the executor's stream) is audited and masked like HTTP.
#[test]
fn root_fields_are_checked_before_the_request_runs() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let dash = r#"dashboard(from: "2026-10-01", to: "2026-10-09") { persons }"#;
    // an allowed field beside a refused one: the whole request is refused
    for q in [
        format!(r#"{{ {dash} person(id: "{p}") {{ ref }} }}"#),
        format!(r#"{{ {dash} ... on Query {{ person(id: "{p}") {{ ref }} }} }}"#),
        format!(r#"{{ ...F }} fragment F on Query {{ person(id: "{p}") {{ ref }} }}"#),
        format!(r#"query A {{ {dash} }} query B {{ person(id: "{p}") {{ ref }} }}"#),
    ] {
        let v = w.run("d", &q);
        assert_eq!(codes(&v), vec!["FORBIDDEN"], "{q}\n{v:#}");
        assert!(v["data"].is_null(), "nothing ran: {v:#}");
    }
    // of two operations, the one chosen by name is what is checked
    let two = format!(r#"query A {{ {dash} }} query B {{ person(id: "{p}") {{ ref }} }}"#);
    let run = |who: &str, q: &str, op: &str| {
        let r = async_graphql::Request::new(q)
            .operation_name(op)
            .data(w.principal(who));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        serde_json::to_value(rt.block_on(w.schema.execute(r))).unwrap()
    };
    assert!(run("d", &two, "A")["data"]["dashboard"]["persons"].is_number());
    assert_eq!(codes(&run("d", &two, "B")), vec!["FORBIDDEN"]);
    // fragments nested past the limit at the root are refused
    let deep = format!(
        "{{ {}{dash}{} }}",
        "... on Query { ".repeat(70),
        " }".repeat(70)
    );
    assert!(!codes(&w.run("x", &deep)).is_empty());
    // introspection (the playground's documentation) is on by default
    let v = w.data("d", "{ __typename __schema { queryType { name } } }");
    assert_eq!(v["__schema"]["queryType"]["name"], "Query", "{v:#}");
    // over the WebSocket (the executor's stream, the principal from the
    // connection): a personal query is audited and masked
    let mut session = async_graphql::Data::default();
    session.insert(w.principal("a"));
    let q = format!(r#"query Ws {{ person(id: "{p}") {{ ref }} }}"#);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        async_graphql::Executor::execute_stream(
            &w.schema,
            async_graphql::Request::new(q),
            Some(Arc::new(session)),
        )
        .next()
        .await
        .unwrap()
    });
    let v = serde_json::to_value(&r).unwrap();
    let shown = v["data"]["person"]["ref"].as_str().unwrap();
    assert!(
        shown.starts_with("person:~"),
        "the analyst sees a handle: {v:#}"
    );
    let log = w.data("x", "{ auditLog(first: 5) { who operation fields } }");
    assert!(
        log["auditLog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["who"] == "analyst-a"
                && e["operation"] == "query Ws"
                && e["fields"] == json!(["person"])),
        "{log:#}"
    );
}

#[test]
fn the_audit_log_records_personal_reads_and_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| c.auth.audit_retention_days = 1);
    let p = w.ins["P"].clone();
    w.data(
        "o",
        &format!(r#"query Look {{ person(id: "{p}") {{ ref }} }}"#),
    );
    w.data(
        "d",
        r#"{ dashboard(from: "2026-10-01", to: "2026-10-09") { persons } }"#,
    );
    let v = w.data(
        "x",
        "{ auditLog(first: 5) { seq who role operation fields query records outcome } }",
    );
    let log = v["auditLog"].as_array().unwrap();
    // the newest is the admin's own read of the log? no: the log is not
    // personal data; the officer's read is there with what it returned
    let e = log
        .iter()
        .find(|e| e["who"] == "officer-a" && e["fields"] == json!(["person"]))
        .expect("the officer's read");
    assert_eq!(e["role"], "officer");
    assert_eq!(e["operation"], "query Look");
    assert_eq!(e["records"], json!([format!("person:{p}")]));
    assert_eq!(e["outcome"], "ok");
    assert!(
        log.iter().all(|e| e["who"] != "dashboard-a"),
        "aggregates are not personal: {log:#?}"
    );
    let v = w.data("x", "{ auditVerify { ok entries } }");
    assert_eq!(v["auditVerify"]["ok"], true, "{v:#}");
    // only admins read it
    assert_eq!(
        codes(&w.run("c", "{ auditLog { seq } }")),
        vec!["FORBIDDEN"]
    );
    // change one entry behind the log's back: verification names it
    let seq = e["seq"].as_u64().unwrap();
    let store = w.e.store();
    let key = format!("audit/e/{seq:020}").into_bytes();
    let raw = store.app_get(&key).unwrap().unwrap();
    let mut entry: Value = serde_json::from_slice(&raw).unwrap();
    entry["who"] = json!("someone else");
    store
        .app_write(&[(key.clone(), Some(serde_json::to_vec(&entry).unwrap()))])
        .unwrap();
    let v = w.data("x", "{ auditVerify { ok brokenAt problem } }");
    assert_eq!(v["auditVerify"]["ok"], false);
    assert_eq!(v["auditVerify"]["brokenAt"], seq);
    // restore it, then drop it: a gap (or a lost tail)
    let store = w.e.store();
    store
        .app_write(&[(key.clone(), Some(raw.clone()))])
        .unwrap();
    store.app_write(&[(key.clone(), None)]).unwrap();
    let v = w.data("x", "{ auditVerify { ok brokenAt problem } }");
    assert_eq!(v["auditVerify"]["ok"], false, "{v:#}");
    let store = w.e.store();
    store.app_write(&[(key, Some(raw))]).unwrap();
    let v = w.data("x", "{ auditVerify { ok } }");
    assert_eq!(v["auditVerify"]["ok"], true, "{v:#}");
    // retention: pruning keeps the chain verifiable from the oldest kept
    let store = w.e.store();
    let later = server::engine::now().0 + 10;
    let fresh = server::audit::AuditLog::open(store, true).unwrap();
    let n = fresh.prune(store, model::Timestamp(later)).unwrap();
    assert!(n > 0);
    w.data("o", &format!(r#"{{ person(id: "{p}") {{ ref }} }}"#));
    let v = w.data("x", "{ auditVerify { ok entries problem } }");
    assert_eq!(v["auditVerify"]["ok"], true, "{v:#}");
}

#[test]
fn audit_entries_synced_on_an_interval_are_recorded_then_synced() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| c.auth.audit_sync_ms = 20);
    assert!(!w.e.audit.syncs_each());
    let p = w.ins["P"].clone();
    w.data(
        "o",
        &format!(r#"query Look {{ person(id: "{p}") {{ ref }} }}"#),
    );
    // in the log when the response came back
    let v = w.data("x", "{ auditLog(first: 5) { who operation records } }");
    let log = v["auditLog"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|e| e["who"] == "officer-a" && e["records"] == json!([format!("person:{p}")])),
        "{log:#?}"
    );
    // and synced by the engine's thread within the interval (give a slow
    // machine a second)
    let t0 = std::time::Instant::now();
    while w.e.audit.pending_sync() && t0.elapsed() < std::time::Duration::from_secs(2) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!w.e.audit.pending_sync(), "not synced after 2 s");
    let v = w.data("x", "{ auditVerify { ok } }");
    assert_eq!(v["auditVerify"]["ok"], true, "{v:#}");
}

#[test]
fn a_query_text_sent_again_is_checked_and_audited_the_same() {
    // the second time, the document comes from the guard's parsed cache
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let q = format!(r#"query Again {{ person(id: "{p}") {{ ref }} }}"#);
    let first = w.data("o", &q);
    assert_eq!(w.data("o", &q), first);
    let v = w.data("x", "{ auditLog(first: 20) { operation who } }");
    let again = v["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "query Again" && e["who"] == "officer-a")
        .count();
    assert_eq!(again, 2, "{v:#}");
    // an alias bomb is refused every time it comes, not only when parsed
    let many: String = (0..40).map(|i| format!("a{i}: status ")).collect();
    for _ in 0..2 {
        let v = w.run("o", &format!("{{ {many} }}"));
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("aliased"),
            "{v:#}"
        );
    }
}

#[test]
fn an_operation_seen_valid_still_has_its_variables_and_fields_checked() {
    // after one valid run the operation skips async-graphql's rules (the
    // guard remembers it): what they caught must still be caught
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let p = w.ins["P"].clone();
    let q = "query Look($id: String!) { person(id: $id) { ref } }";
    let first = w.run_with("o", q, json!({ "id": p }));
    assert!(first.get("errors").is_none(), "{first:#}");
    assert_eq!(first["data"]["person"]["ref"], format!("person:{p}"));
    assert_eq!(w.run_with("o", q, json!({ "id": p })), first);
    // a variable of the wrong type, or missing: an error naming the
    // argument, no data
    for vars in [json!({ "id": 5 }), json!({})] {
        let v = w.run_with("o", q, vars.clone());
        let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("id") || msg.contains("String"),
            "{vars}: {v:#}"
        );
        assert!(v["data"]["person"].is_null(), "{vars}: {v:#}");
    }
    // still answered after the bad ones
    assert_eq!(w.run_with("o", q, json!({ "id": p })), first);
    // a text that never validated is refused by every rule, every time
    for _ in 0..2 {
        let v = w.run("o", &format!(r#"{{ person(id: "{p}") {{ nope }} }}"#));
        let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("Unknown field"), "{v:#}");
    }
}

#[test]
fn region_collision_finds_the_planted_subjects_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    // two incidents: the canary's door on day 3 and on day 5 evenings; the
    // city person x was there both times (cx-b-3, cx-b-5), as were the
    // canary and her kin — seen only by an admin or under an "any" grant
    let q = r#"{ collision(conditions: [{devices: ["33010200001310009999"], from: "2026-10-03T20:00:00", to: "2026-10-03T23:00:00"},
                                    {area: {center: [120.1701, 30.2501], radiusM: 50}, from: "2026-10-05T20:00:00", to: "2026-10-05T23:00:00"},
                                    {community: "CANARYC", from: "2026-10-06T00:00:00", to: "2026-10-06T23:00:00"}], minMatches: 2)
             { totalCount devicesPerCondition matches { entity { ref } matched conditions evidence { condition event } } } }"#.to_owned();
    let v = w.data("x", &q);
    let c = &v["collision"];
    // 50 m around the door holds all three of the canary's devices
    assert_eq!(c["devicesPerCondition"], json!([1, 3, 3]), "{v:#}");
    let by: BTreeMap<String, &Value> = c["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["entity"]["ref"].as_str().unwrap().to_owned(), m))
        .collect();
    let x = format!("person:{}", w.ins["P"]);
    assert_eq!(by[&x]["matched"], 2, "{v:#}");
    assert_eq!(by[&x]["conditions"], json!([0, 1]));
    let ev: Vec<&str> = by[&x]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(ev, ["cx-b-3", "cx-b-5"]);
    // the canary was there all three times: ranked first
    assert_eq!(
        c["matches"][0]["entity"]["ref"],
        format!("person:{CANARY_PERSON}")
    );
    assert_eq!(c["matches"][0]["matched"], 3);
    // all conditions (the default): x drops out
    let all = q.replace(", minMatches: 2", "");
    let v = w.data("x", &all);
    assert!(!v.to_string().contains(&x), "{v:#}");
    // the city officer: the canary's devices are out of scope — nothing
    let v = w.data("o", &q);
    assert_eq!(v["collision"]["devicesPerCondition"], json!([0, 0, 0]));
    assert_eq!(v["collision"]["totalCount"], 0);
    // with an "any subject" grant on B, the officer's collision reaches it
    let g = w.data("o", &format!(r#"mutation {{ requestGrant(regions: ["{B}"], reason: "incident series", duration: "1h") {{ id }} }}"#));
    let g = g["requestGrant"]["id"].as_str().unwrap().to_owned();
    w.data(
        "cb",
        &format!(r#"mutation {{ approveGrant(id: "{g}") {{ id }} }}"#),
    );
    let v = w.data("o", &q);
    assert_eq!(v["collision"]["devicesPerCondition"], json!([1, 3, 3]));
    assert!(v.to_string().contains(&x), "{v:#}");
    // … and its search
    let v = w.data(
        "o",
        r#"{ search(query: "甄金丝") { totalCount edges { node { entity { ref } } } } }"#,
    );
    assert_eq!(v["search"]["totalCount"], 1, "{v:#}");
    // saved and exported
    let v = w.data("o", &format!(r#"mutation {{ saveInvestigation(input: {{title: "door series", subjects: ["{x}"], queries: ["collision"], notes: "two evenings"}}) {{ id exportCsv exportJson }} }}"#));
    let csv = v["saveInvestigation"]["exportCsv"].as_str().unwrap();
    assert!(
        csv.starts_with("ref,kind,key,label\n") && csv.contains(&x),
        "{csv}"
    );
    let j: Value =
        serde_json::from_str(v["saveInvestigation"]["exportJson"].as_str().unwrap()).unwrap();
    assert_eq!(j["notes"], "two evenings");
    assert_eq!(j["subjects"][0]["ref"], x.as_str());
}

#[test]
fn abuse_limits_refuse_quickly_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| {
        c.auth.rate_per_minute = 60;
        c.auth.rate_burst = 40;
        c.server.body_limit_mb = 1;
        c.server.production = true;
        c.server.max_complexity = 60;
        c.server.request_timeout_secs = 1;
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let base = serve(Arc::clone(&w.e)).await;
        let c = reqwest::Client::new();
        let bearer = |who: &str| format!("Bearer {}", w.tokens[who]);
        let post = |who: &str, body: String| {
            c.post(format!("{base}/graphql"))
                .header("Authorization", bearer(who))
                .header("Content-Type", "application/json")
                .body(body)
        };
        let gq = |q: &str| json!({"query": q}).to_string();
        // aliases
        let many: String = (0..40).map(|i| format!("a{i}: status ")).collect();
        let v: Value = post("o", gq(&format!("{{ {many} }}"))).send().await.unwrap().json().await.unwrap();
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("aliased"), "{v:#}");
        // depth
        let deep = "{ person(id: \"x\") { cohabitants { items { node { archive { cohabitants { items { node { archive { cohabitants { items { node { archive { cohabitants { items { node { ref } } } } } } } } } } } } } } } } }";
        let v: Value = post("o", gq(deep)).send().await.unwrap().json().await.unwrap();
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("nested too deep"), "{v:#}");
        // complexity
        let wide: String = (0..12).map(|i| format!("f{i}: search(query: \"张\") {{ totalCount edges {{ node {{ score entity {{ ref label kind key }} }} }} }} ")).collect();
        let v: Value = post("o", gq(&format!("{{ {wide} }}"))).send().await.unwrap().json().await.unwrap();
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{v:#}");
        // page size
        let v: Value = post("o", gq("{ search(query: \"张\", first: 100000) { totalCount } }")).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{v:#}");
        // batches, GET mutations, non-JSON posts, oversize bodies
        let r = post("o", format!("[{},{}]", gq("{ me { name } }"), gq("{ me { name } }"))).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let r = c.get(format!("{base}/graphql")).query(&[("query", "mutation { revokeGrant(id: \"x\") { id } }")])
            .header("Authorization", bearer("o")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        let r = c.get(format!("{base}/graphql")).query(&[("query", "{ me { name } }")])
            .header("Authorization", bearer("o")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = c.post(format!("{base}/graphql")).header("Authorization", bearer("o"))
            .header("Content-Type", "application/x-www-form-urlencoded").body("query=%7B%7D").send().await.unwrap();
        assert_eq!(r.status(), 415);
        // an oversize body: refused on its declared length, before it is read
        let auth = format!("Authorization: {}\r\nContent-Type: application/json\r\n", bearer("o"));
        let answer = answer_to_head(&base, "/graphql", &auth, 2 << 20).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        // introspection off and no playground in the production profile
        let v: Value = post("o", gq("{ __schema { types { name } } }")).send().await.unwrap().json().await.unwrap();
        assert!(v.get("errors").is_some(), "{v:#}");
        assert_eq!(c.get(format!("{base}/playground")).send().await.unwrap().status(), 404);
        // the console itself stays (built into this binary or not)
        let console = c.get(format!("{base}/")).send().await.unwrap().status();
        assert!([200, 503].contains(&console.as_u16()), "{console}");
        // tokens: none, forged, revoked
        let r = c.post(format!("{base}/graphql")).json(&json!({"query": "{ me { name } }"})).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c.post(format!("{base}/graphql")).header("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
            .json(&json!({"query": "{ me { name } }"})).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let (t, claims) = w.e.auth.issue("temp", Role::Officer, vec![A.into()], None, Duration::from_secs(60)).unwrap();
        let me = |t: String| c.post(format!("{base}/graphql")).header("Authorization", format!("Bearer {t}")).json(&json!({"query": "{ me { name } }"})).send();
        assert_eq!(me(t.clone()).await.unwrap().status(), 200);
        let r = post("x", gq(&format!(r#"mutation {{ revokeToken(id: "{}") }}"#, claims.jti))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(me(t).await.unwrap().status(), 401);
        // intake: a device token posts its own device's events only; the
        // dashboard may not post
        let dev = w.ins["D"].clone();
        let line = |id: &str, d: &str| json!({"type": "device_alarm", "id": id, "device": d, "time": "2026-10-08T09:00:00+08:00", "kind": "smoke"}).to_string();
        let r = c.post(format!("{base}/ingest")).header("Authorization", bearer("v"))
            .body(format!("{}\n{}\n", line("dev-own-1", &dev), line("dev-other-1", "33010200001310009999"))).send().await.unwrap();
        assert_eq!(r.status(), 207);
        let out: Value = r.json().await.unwrap();
        assert_eq!(out["results"][0]["status"], "accepted");
        assert_eq!(out["results"][1]["status"], "rejected");
        let r = c.post(format!("{base}/ingest")).header("Authorization", bearer("d")).body(line("d-1", &dev)).send().await.unwrap();
        assert_eq!(r.status(), 403);
        // GA/T 1400 without credentials: challenged (Digest), nothing read
        let r = c.post(format!("{base}/VIID/System/Register")).body(json!({"RegisterObject": {"DeviceID": "99999999999999999999"}}).to_string()).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Digest "));
        let r = c.post(format!("{base}/VIID/MotorVehicles")).body(json!({"MotorVehicleListObject": {"MotorVehicleObject": [
            {"MotorVehicleID": "mv-unreg-1", "DeviceID": dev, "PassTime": "20261008083100", "PlateNo": "浙A00001"}]}}).to_string())
            .send().await.unwrap();
        assert_eq!(r.status(), 401);
        // a request slower than request_timeout_secs (a body that never
        // comes) is cut off with 408
        let answer = answer_to_head(&base, "/graphql", &auth, 100).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        // rate: the burst is spent, then 429 with Retry-After
        let mut limited = false;
        for _ in 0..60 {
            let r = post("a", gq("{ me { name } }")).send().await.unwrap();
            if r.status() == 429 {
                assert!(r.headers().contains_key("retry-after"));
                limited = true;
                break;
            }
        }
        assert!(limited, "no 429 within 60 requests");
    });
}

#[test]
fn the_alert_stream_is_scoped_masked_and_role_checked() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |_| {});
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let q = "subscription { alerts { kind region subject evidence } }";
    let stream = |who: &str| {
        w.schema
            .execute_stream(async_graphql::Request::new(q).data(w.principal(who)))
    };
    rt.block_on(async {
        // each stream polled from the start (a subscription begins when first polled)
        let live = |s: futures_util::stream::BoxStream<'static, async_graphql::Response>| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                let mut s = s;
                while let Some(r) = s.next().await {
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            });
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
        };
        let mut officer = live(stream("o"));
        let mut admin = live(stream("x"));
        let mut dashboard = live(stream("d"));
        // the dashboard may not subscribe: refused at once
        let first = tokio::time::timeout(Duration::from_secs(5), dashboard.next()).await.unwrap().unwrap();
        let v = serde_json::to_value(&first).unwrap();
        assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        // alarms in both regions, the canary's first
        let cfg = w.e.config.parse_config(server::engine::now()).unwrap();
        let rec = move |l: Value| ::ingest::parse_line(&l.to_string(), &cfg).unwrap().unwrap();
        let dev = w.ins["D"].clone();
        let e = Arc::clone(&w.e);
        tokio::task::spawn_blocking(move || {
            e.write(&[rec(json!({"type":"device_alarm","id":"canary-alarm-live","device":"33010200001310009999","time":"2026-10-08T10:00:00+08:00","kind":"fall"}))]).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            e.write(&[rec(json!({"type":"device_alarm","id":"alarm-a-live","device":dev,"time":"2026-10-08T10:00:00+08:00","kind":"fall"}))]).unwrap();
        })
        .await
        .unwrap();
        // the admin gets both; the officer only the city's
        let mut got = Vec::new();
        for _ in 0..2 {
            let r = tokio::time::timeout(Duration::from_secs(10), admin.next()).await.unwrap().unwrap();
            got.push(serde_json::to_value(&r).unwrap()["data"]["alerts"]["evidence"][0].as_str().unwrap().to_owned());
        }
        assert_eq!(got, ["canary-alarm-live", "alarm-a-live"]);
        let r = tokio::time::timeout(Duration::from_secs(10), officer.next()).await.unwrap().unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["data"]["alerts"]["evidence"], json!(["alarm-a-live"]), "{v:#}");
        assert!(tokio::time::timeout(Duration::from_millis(500), officer.next()).await.is_err());
    });
    // the subscriptions are in the audit log
    let v = w.data("x", "{ auditLog(first: 50) { who outcome } }");
    let subs: Vec<&str> = v["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "subscribed")
        .map(|e| e["who"].as_str().unwrap())
        .collect();
    assert!(
        subs.contains(&"officer-a") && subs.contains(&"admin"),
        "{subs:?}"
    );
}

#[test]
fn placeholders_say_something_is_there_never_what() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| c.auth.hidden_nodes = "placeholder".into());
    let p = w.ins["P"].clone();
    // the admin sees the city person's companion in the canary region
    let q = format!(
        r#"{{ subgraph(seeds: ["person:{p}"], hops: 1) {{ nodes {{ entity {{ ref kind label }} }} edges {{ kind from to context }} hidden }} }}"#
    );
    let admin = w.data("x", &q);
    assert!(admin.to_string().contains(CANARY_PERSON), "{admin:#}");
    // the officer sees that something is there, never what
    let v = w.data("o", &q);
    let text = v.to_string();
    for c in CANARIES {
        assert!(!text.contains(c), "{c}: {v:#}");
    }
    assert!(v["subgraph"]["hidden"].as_u64().unwrap() >= 1, "{v:#}");
    let hidden: Vec<&Value> = v["subgraph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["entity"]["kind"] == "hidden")
        .collect();
    assert!(!hidden.is_empty(), "{v:#}");
    assert!(
        v["subgraph"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["to"].as_str().unwrap().starts_with("hidden:")
                || e["from"].as_str().unwrap().starts_with("hidden:"))
    );
    let v = w.data("o", &format!(r#"{{ person(id: "{p}") {{ companions {{ total items {{ node {{ ref kind }} strength evidence {{ events }} }} }} }} }}"#));
    let text = v.to_string();
    for c in CANARIES {
        assert!(!text.contains(c), "{c}: {v:#}");
    }
    assert!(text.contains("hidden:"), "{v:#}");
}

/// A WebSocket is authenticated once: each subscription it starts draws on
/// the token's quota like an HTTP request.
#[test]
fn subscriptions_draw_on_the_token_quota() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path(), |c| {
        c.auth.rate_per_minute = 1;
        c.auth.rate_burst = 2;
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let q = "subscription { alerts { kind } }";
    let first_error = |who: &str| {
        let mut s = w
            .schema
            .execute_stream(async_graphql::Request::new(q).data(w.principal(who)));
        rt.block_on(async {
            // a started subscription waits for alerts: no answer in 200 ms
            tokio::time::timeout(std::time::Duration::from_millis(200), s.next())
                .await
                .ok()
                .flatten()
                .and_then(|r| r.errors.first().cloned())
        })
    };
    assert!(first_error("o").is_none(), "the first starts");
    assert!(first_error("o").is_none(), "the second starts");
    let e = first_error("o").expect("the third is refused");
    assert_eq!(
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|c| c.to_string()),
        Some("\"RATE_LIMITED\"".to_owned()),
        "{e:?}"
    );
    // another token's quota is its own
    assert!(first_error("x").is_none(), "another token starts");
}
