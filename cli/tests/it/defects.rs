//! The defects a new user met on the demo city (`scripts/demo.sh`: the
//! small preset, seed 42, analysed with its `deployment.toml`), each held
//! here so it stays fixed: alerts every officer can reach, one per
//! situation, named and counted right; visitors and hidden nodes as a
//! regional officer sees them; a label on every node; validation before
//! the role table; local times; CLI mistakes that are errors; the README's
//! configuration example.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use server::auth::Role;
use server::config::Config;
use server::scope::Principal;
use server::{Engine, errors, gql};

use super::{anju, ingest, ok, run, small_city};

struct City {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    e: Arc<Engine>,
    schema: gql::AnjuSchema,
    rt: tokio::runtime::Runtime,
}

impl Drop for City {
    fn drop(&mut self) {
        self.e.shutdown();
    }
}

impl City {
    /// The demo's city: 14 days of the small preset, seed 42, ingested and
    /// analysed as `scripts/demo.sh` does.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = small_city(dir.path(), 42, 14, "data");
        let store = dir.path().join("store");
        ok(&mut ingest(&store, &[&data]));
        let deployment = data.join("deployment.toml");
        ok(anju()
            .arg("--config")
            .arg(&deployment)
            .arg("--store")
            .arg(&store)
            .arg("analyze"));
        let mut config = Config::load(Some(&deployment)).unwrap();
        config.store.path = store.clone();
        let e = Engine::open(config).unwrap();
        let schema = gql::schema(Arc::clone(&e));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Self {
            _dir: dir,
            store,
            e,
            schema,
            rt,
        }
    }

    fn run_as(&self, p: &Principal, query: &str) -> Value {
        let req = async_graphql::Request::new(query).data(p.clone());
        let mut resp = self.rt.block_on(self.schema.execute(req));
        errors::annotate(&mut resp);
        serde_json::to_value(&resp).unwrap()
    }

    fn data_as(&self, p: &Principal, query: &str) -> Value {
        let v = self.run_as(p, query);
        assert!(v.get("errors").is_none(), "{query}\n{v:#}");
        v["data"].clone()
    }
}

/// A community officer of `region`: identifiers unmasked, no grants.
fn officer(region: &str) -> Principal {
    Principal {
        name: format!("officer of {region}"),
        holder: format!("h-{region}"),
        role: Role::Officer,
        regions: Some(vec![region.to_owned()]),
        see_identifiers: true,
        token: None,
        device: None,
        grants: Vec::new(),
    }
}

fn admin() -> Principal {
    Principal::all_regions()
}

fn alerts(c: &City, p: &Principal, filter: &str) -> Vec<Value> {
    let v = c.data_as(
        p,
        &format!(
            "{{ alerts({filter} first: 200) {{ totalCount edges {{ node {{ id kind subject region community title evidence occurrences time }} }} }} }}"
        ),
    );
    let nodes: Vec<Value> = v["alerts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        nodes.len() as u64,
        v["alerts"]["totalCount"].as_u64().unwrap(),
        "more than a page"
    );
    nodes
}

#[test]
fn the_demo_city_as_its_users_meet_it() {
    let c = City::new();
    let all = alerts(&c, &admin(), "");
    assert!(!all.is_empty(), "the demo city raises alerts");

    // 1. every alert carries its community and region, and the officer of
    // that region sees it; the dashboard counts what the list shows
    let mut by_region: BTreeMap<String, usize> = BTreeMap::new();
    for a in &all {
        let region = a["region"]
            .as_str()
            .unwrap_or_else(|| panic!("no region: {a:#}"));
        assert!(
            a["community"].is_string() || a["kind"].as_str().unwrap().starts_with("device_alarm"),
            "no community: {a:#}"
        );
        *by_region.entry(region.to_owned()).or_default() += 1;
    }
    for (region, n) in &by_region {
        let seen = alerts(&c, &officer(region), "");
        assert_eq!(
            seen.len(),
            *n,
            "the officer of {region} misses alerts of their region"
        );
    }
    let elderly = alerts(&c, &admin(), r#"kinds: ["elderly_unseen"]"#);
    for a in &elderly {
        let mine = alerts(
            &c,
            &officer(a["region"].as_str().unwrap()),
            r#"kinds: ["elderly_unseen"]"#,
        );
        assert!(mine.iter().any(|m| m["id"] == a["id"]), "{a:#}");
    }
    let dash = c.data_as(
        &admin(),
        r#"{ dashboard(from: "2026-06-01", to: "2027-05-31") { alertsByKind { key count } } }"#,
    );
    let counted: u64 = dash["dashboard"]["alertsByKind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted,
        all.len() as u64,
        "the dashboard and the list disagree"
    );

    // 1 and 6. one situation, one alert: no two alerts of a kind and
    // subject share their evidence; a recurring finding is counted
    let mut situations = BTreeMap::new();
    for a in &all {
        let key = (
            a["kind"].to_string(),
            a["subject"].to_string(),
            a["evidence"].to_string(),
        );
        assert!(
            situations.insert(key, a["id"].clone()).is_none(),
            "raised twice: {a:#}"
        );
        assert!(a["occurrences"].as_u64().unwrap() >= 1);
    }
    // 6. titles name people, not raw ids, with their plurals right
    let one_plural =
        regex::Regex::new(r"\b1 (communities|nights|days|persons|times|devices|houses)\b").unwrap();
    for a in &all {
        let t = a["title"].as_str().unwrap();
        assert!(
            !t.contains("person:") && !t.contains("stranger:"),
            "a raw id in {t:?}"
        );
        assert!(!one_plural.is_match(t), "a wrong plural in {t:?}");
    }

    // 3. visitors of a house in the officer's community are in scope, and a
    // subgraph counts what it hid
    let (_, edges) = c.e.relations().export().unwrap();
    let mut visited: Vec<String> = edges
        .iter()
        .filter(|e| e.key.kind == model::RelKind::Visitor)
        .map(|e| e.key.to.to_string())
        .collect();
    visited.sort();
    visited.dedup();
    let mut checked = 0;
    for r in &visited {
        let q = format!(
            r#"{{ archive(ref: "{r}") {{ house {{ community }} community {{ region }} visitors {{ total }} }} }}"#
        );
        let a = c.data_as(&admin(), &q);
        if a["archive"]["visitors"]["total"].as_u64().unwrap_or(0) == 0 {
            continue;
        }
        let cid = a["archive"]["house"]["community"].as_str().unwrap();
        let region = c.data_as(
            &admin(),
            &format!(r#"{{ community(id: "{cid}") {{ community {{ region }} }} }}"#),
        )["community"]["community"]["region"]
            .as_str()
            .unwrap()
            .to_owned();
        let mine = c.data_as(&officer(&region), &q);
        assert_eq!(
            mine["archive"]["visitors"]["total"], a["archive"]["visitors"]["total"],
            "{r}"
        );
        let sg = |p: &Principal| {
            c.data_as(p, &format!(r#"{{ subgraph(seeds: ["{r}"], hops: 2, maxNodes: 1000) {{ nodes {{ entity {{ ref label }} }} hidden truncated }} }}"#))["subgraph"].clone()
        };
        let (full, part) = (sg(&admin()), sg(&officer(&region)));
        let n = |v: &Value| v["nodes"].as_array().unwrap().len() as u64;
        assert_eq!(
            n(&part) + part["hidden"].as_u64().unwrap(),
            n(&full),
            "{r}: hidden counts what was hidden"
        );
        // 5. every node has a label
        for node in full["nodes"].as_array().unwrap() {
            assert!(
                !node["entity"]["label"].as_str().unwrap().is_empty(),
                "a blank label: {node}"
            );
        }
        checked += 1;
        if checked == 3 {
            break;
        }
    }
    assert!(checked > 0, "the demo city has houses with visitors");

    // 5. communities, devices and stranger archives are named, in their
    // archives and as search hits
    for kind in [
        model::BaseKind::Community,
        model::BaseKind::Device,
        model::BaseKind::Person,
    ] {
        let mut refs = Vec::new();
        c.e.store()
            .for_each_base(kind, |r| {
                if refs.len() < 3 {
                    refs.push(r);
                }
                Ok(())
            })
            .unwrap();
        for r in refs {
            let (node, name) = match &r {
                model::BaseRecord::Community(x) => {
                    (format!("community:{}", x.id.as_str()), x.name.clone())
                }
                model::BaseRecord::Device(x) => {
                    (format!("device:{}", x.id.as_str()), String::new())
                }
                model::BaseRecord::Person(x) => (
                    format!("person:{}", x.id.as_str()),
                    x.name.clone().unwrap_or_default(),
                ),
                _ => unreachable!(),
            };
            let a = c.data_as(
                &admin(),
                &format!(r#"{{ archive(ref: "{node}") {{ label }} }}"#),
            );
            assert!(
                !a["archive"]["label"].as_str().unwrap().is_empty(),
                "{node}"
            );
            if !name.is_empty() {
                let hits = c.data_as(
                    &admin(),
                    &format!(r#"{{ search(query: "{name}", first: 5) {{ edges {{ node {{ entity {{ ref label }} }} }} }} }}"#),
                );
                for h in hits["search"]["edges"].as_array().unwrap() {
                    assert!(
                        !h["node"]["entity"]["label"].as_str().unwrap().is_empty(),
                        "{h}"
                    );
                }
            }
        }
    }
    if let Some(s) = edges
        .iter()
        .flat_map(|e| [&e.key.from, &e.key.to])
        .find(|n| matches!(n, model::NodeRef::Stranger(_)))
    {
        let a = c.data_as(
            &admin(),
            &format!(r#"{{ archive(ref: "{s}") {{ label }} }}"#),
        );
        assert!(!a["archive"]["label"].as_str().unwrap().is_empty(), "{s}");
    }

    // 10. kin once between two persons
    let mut kin = std::collections::BTreeSet::new();
    for e in edges.iter().filter(|e| e.key.kind == model::RelKind::Kin) {
        let (a, b) = (e.key.from.to_string(), e.key.to.to_string());
        let pair = if a < b { (a, b) } else { (b, a) };
        let q = format!(
            r#"{{ archive(ref: "{}") {{ kin {{ items {{ node {{ ref }} }} }} }} }}"#,
            pair.0
        );
        if kin.insert(pair.clone()) {
            let v = c.data_as(&admin(), &q);
            let n = v["archive"]["kin"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["node"]["ref"] == pair.1.as_str())
                .count();
            assert_eq!(n, 1, "kin twice between {pair:?}");
        }
    }

    // 8. a typo in a root field is a validation error, not a permission one
    let v = c.run_as(&officer("320902"), r#"{ persn(id: "1") { label } }"#);
    let err = &v["errors"][0];
    assert_ne!(err["extensions"]["code"], "FORBIDDEN", "{v:#}");
    assert!(err["message"].as_str().unwrap().contains("persn"), "{v:#}");

    // 9. times a person reads are local, with their offset
    for a in &all {
        assert!(a["time"].as_str().unwrap().ends_with("+08:00"), "{a:#}");
    }
    let person = edges
        .iter()
        .map(|e| &e.key.from)
        .find(|n| matches!(n, model::NodeRef::Person(_)))
        .unwrap()
        .to_string();
    let tl = ok(anju()
        .arg("--store")
        .arg(&c.store)
        .args(["timeline", &person, "--limit", "3"]));
    assert!(tl.contains("+08:00") && !tl.contains(".000Z"), "{tl}");

    // 7. mistakes that look like success are errors
    for args in [
        vec!["graph", "neighbours", "person:000000000000000000"],
        vec!["timeline", "person:doesnotexist"],
        vec!["search", "张", "--kind", "bogus"],
    ] {
        let out = run(anju().arg("--store").arg(&c.store).args(&args));
        assert!(
            !out.status.success(),
            "{args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // 2. no token is ever put into the served page
    let help = ok(anju().args(["serve", "--help"]));
    assert!(!help.contains("token"), "{help}");
    // 11. a missing store is named
    let missing = c.store.with_file_name("nowhere");
    let out = run(anju().arg("--store").arg(&missing).args(["search", "张"]));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("no store at"),
        "{text}"
    );
}

/// Item 10: the README's configuration example is the configuration: it
/// parses, and what it shows is the default.
#[test]
fn the_readme_configuration_is_the_default() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block in README");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anju.toml");
    std::fs::write(&path, block).unwrap();
    let parsed =
        Config::load(Some(&path)).unwrap_or_else(|e| panic!("README's configuration: {e}"));
    let mut want = Config::default();
    // the example names paths the defaults leave to the store directory
    want.store.path = parsed.store.path.clone();
    want.search.path = parsed.search.path.clone();
    want.auth.dir = parsed.auth.dir.clone();
    assert_eq!(format!("{parsed:?}"), format!("{want:?}"));
}
