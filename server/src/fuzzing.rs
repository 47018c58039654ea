//! The GraphQL request path's harness, shared by the coverage-guided fuzz
//! target (`fuzz/`, run by `scripts/fuzz.sh`) and the property tests: a
//! request in, and an `Err` naming the broken contract when the answer is
//! wrong — every error carries a code, none is internal. (The parsers'
//! harnesses are `ingest::fuzzing`.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::scope::Principal;
use crate::{Engine, errors, gql};

/// An engine over a small generated city, and the GraphQL schema over it.
pub struct Graphql {
    engine: Arc<Engine>,
    schema: gql::AnjuSchema,
    rt: tokio::runtime::Runtime,
    principals: Vec<Principal>,
    dir: PathBuf,
}

impl std::fmt::Debug for Graphql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graphql").field("dir", &self.dir).finish()
    }
}

struct Quiet;
impl ingest::Progress for Quiet {}

impl Graphql {
    /// Generates the small city (2 days) under `dir` (emptied first),
    /// ingests it and opens the engine.
    pub fn new(dir: &Path) -> Result<Self> {
        let _ = std::fs::remove_dir_all(dir);
        let data = dir.join("data");
        let mut fc = fixtures::FixtureConfig::new(fixtures::Preset::Small, 5, &data);
        fc.days = 2;
        fixtures::generate(&fc, |_, _| {}).context("generating the city")?;
        let mut config = Config::default();
        config.store.path = dir.join("store");
        config.store.cache_mb = 32;
        config.server.analysis_every_mins = 0;
        config.alerts.elderly_check_mins = 0;
        config.auth.rate_per_minute = u32::MAX;
        config.auth.rate_burst = u32::MAX;
        // ingested as `anju ingest` does; the engine projects it at open
        {
            let mut store = graph::RocksStore::open(&config.store_config())?;
            let files = ingest::pipeline::collect_files(&[data])?;
            let opts = ingest::pipeline::Options {
                parse: config.parse_config(crate::engine::now())?,
                ..Default::default()
            };
            let mut sink = crate::adapters::StoreSink {
                store: &mut store,
                failpoints: crate::adapters::FailPoints::default(),
                projector: None,
                projection_error: None,
            };
            ingest::pipeline::run(&files, &opts, &mut sink, &Quiet)?;
        }
        let engine = Engine::open(config)?;
        let region = engine
            .census()
            .values()
            .next()
            .map(|c| c.region.clone())
            .unwrap_or_default();
        let regional = |role| Principal {
            name: format!("fuzz-{role:?}"),
            holder: format!("fuzz-{role:?}"),
            role,
            regions: Some(vec![region.clone()]),
            see_identifiers: role.sees_identifiers(),
            token: Some("fuzz".into()),
            device: None,
            grants: Vec::new(),
        };
        use crate::auth::Role;
        let principals = vec![
            Principal::all_regions(),
            regional(Role::Officer),
            regional(Role::Analyst),
            regional(Role::Dashboard),
        ];
        let schema = gql::schema(Arc::clone(&engine));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            engine,
            schema,
            rt,
            principals,
            dir: dir.to_owned(),
        })
    }

    /// One request: the first byte picks the caller (admin, a regional
    /// officer, analyst or dashboard), the rest is the query, then after a
    /// NUL byte the variables as JSON.
    pub fn one(&self, data: &[u8]) -> Result<(), String> {
        let Some((&first, rest)) = data.split_first() else {
            return Ok(());
        };
        let Ok(text) = std::str::from_utf8(rest) else {
            return Ok(());
        };
        let (query, vars) = text.split_once('\0').unwrap_or((text, ""));
        let vars = serde_json::from_str(vars).unwrap_or(serde_json::Value::Null);
        let who = &self.principals[first as usize % self.principals.len()];
        self.request(query, vars, who.clone())
    }

    /// A request as `who`: every error carries a code, none is internal.
    pub fn request(
        &self,
        query: &str,
        vars: serde_json::Value,
        who: Principal,
    ) -> Result<(), String> {
        let resp = self.rt.block_on(async {
            let req = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(vars))
                .data(who);
            let mut r = self.schema.execute(req).await;
            errors::annotate(&mut r);
            r
        });
        for err in &resp.errors {
            let code = err
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|c| c.to_string())
                .unwrap_or_default();
            if code.is_empty() {
                return Err(format!("{query}: an error without a code: {err:?}"));
            }
            if code.contains("INTERNAL") {
                return Err(format!("{query}: an internal error: {err:?}"));
            }
        }
        Ok(())
    }
}

impl Drop for Graphql {
    fn drop(&mut self) {
        self.engine.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
