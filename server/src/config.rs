//! The deployment's configuration: one versioned TOML file, unknown keys
//! refused, validated at start-up and turned into each crate's own settings.

use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use model::{Clock, NightWindow};
use serde::Deserialize;

/// The configuration format this build reads.
pub const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file format's version (absent: this build's).
    #[serde(default = "this_version")]
    pub version: u32,
    #[serde(default)]
    pub deployment: Deployment,
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub ingest: Ingest,
    #[serde(default)]
    pub graph: GraphSection,
    #[serde(default)]
    pub relations: graph::project::RelationParams,
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub search: SearchSection,
    #[serde(default)]
    pub trajectory: TrajectorySection,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub alerts: AlertsSection,
    #[serde(default)]
    pub auth: AuthSection,
    /// The analysis models' parameters (versioned on their own).
    #[serde(default)]
    pub analysis: analysis::Params,
}

/// `anju serve`: where it listens and the limits of its API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: String,
    /// Largest page a connection returns (`first` above it is refused).
    pub max_page_size: usize,
    /// Largest request body (JSON Lines and GA/T 1400 batches included).
    pub body_limit_mb: usize,
    pub request_timeout_secs: u64,
    /// GraphQL introspection (the playground needs it).
    pub introspection: bool,
    /// The GraphiQL playground at `/playground` (in the console).
    pub playground: bool,
    /// The web console at `/` (embedded in the binary).
    pub console: bool,
    /// A raster tile URL of the deployment's own GIS for the console's map
    /// (`http://gis.example/{z}/{x}/{y}.png`); none by default: the map
    /// draws communities and devices from the data alone, and the console
    /// requests nothing from any other origin.
    pub tile_url: Option<String>,
    /// Most nested selection depth and complexity of one GraphQL query.
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Run the analysis job every this many minutes (0: never; the API's
    /// `runAnalysis` starts it on demand).
    pub analysis_every_mins: u64,
    /// Most aliased fields in one request (a cheap amplification otherwise).
    pub max_aliases: usize,
    /// Most fields one operation may select once its fragments are
    /// expanded (counted before anything else walks the document).
    pub max_selections: usize,
    /// The production profile: introspection and the playground off,
    /// whatever the two keys above say.
    pub production: bool,
    /// Seconds a connection may take to send a request's headers (and an
    /// idle kept-alive connection may wait for its next request).
    pub header_timeout_secs: u64,
    /// Connections that have not yet made an authenticated request, at
    /// most; past that a new connection is closed at once.
    pub max_unauthenticated: usize,
    /// Seconds between checks that an open WebSocket's token is still
    /// valid (it is also checked at every operation it starts).
    pub ws_recheck_secs: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_page_size: 200,
            body_limit_mb: 64,
            request_timeout_secs: 30,
            introspection: true,
            playground: true,
            console: true,
            tile_url: None,
            max_depth: 16,
            max_complexity: 20_000,
            analysis_every_mins: 60,
            max_aliases: 32,
            max_selections: 10_000,
            production: false,
            header_timeout_secs: 10,
            max_unauthenticated: 256,
            ws_recheck_secs: 5,
        }
    }
}

/// Who may call: bearer tokens, their lifetimes, the audit log's retention
/// and each token's request rate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Every GraphQL and intake request needs a bearer token (the default).
    /// `false` makes a caller without one the local all-regions
    /// administrator — for a laptop, never for a deployment.
    pub required: bool,
    /// The signing key, the issued-token register and the revocation list.
    /// Default: `auth/` inside the store's directory.
    pub dir: Option<PathBuf>,
    /// A token's lifetime when `anju token create` is not given `--ttl`.
    pub default_ttl: String,
    /// The longest lifetime a token or a cross-region grant may have.
    pub max_ttl: String,
    /// An out-of-scope node next to an in-scope one in a relation list, a
    /// subgraph or a path: `omit` (the default; it looks like no relation)
    /// or `placeholder` (a masked `hidden:N` node says that something is
    /// there, never what).
    pub hidden_nodes: String,
    /// Audit entries older than this are pruned (the chain stays
    /// verifiable from the oldest kept entry).
    pub audit_retention_days: u32,
    /// 0 (the default): each audit entry is synced to disk before its
    /// response leaves. `N` (at most 1000): the entry is written to the
    /// store's log before the response leaves — it survives a crash of the
    /// process — and the log is synced every N ms, so a power loss can take
    /// the entries of the last N ms; for disks whose fsync costs more than
    /// a request should wait.
    pub audit_sync_ms: u64,
    /// Requests per minute per token (anonymous callers: per address).
    pub rate_per_minute: u32,
    /// Requests a token may make at once above the steady rate.
    pub rate_burst: u32,
    /// The HTTP Digest realm GA/T 1400 callers authenticate in (a
    /// credential's secret is bound to it: changing it invalidates every
    /// GA/T 1400 credential).
    pub viid_realm: String,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            required: true,
            dir: None,
            default_ttl: "12h".into(),
            max_ttl: "366d".into(),
            hidden_nodes: "omit".into(),
            audit_retention_days: 190,
            audit_sync_ms: 0,
            rate_per_minute: 600,
            rate_burst: 60,
            viid_realm: "anju".into(),
        }
    }
}

impl AuthSection {
    /// Out-of-scope nodes are shown as `hidden:N` placeholders (else left out).
    pub fn placeholders(&self) -> bool {
        self.hidden_nodes == "placeholder"
    }
}

/// Real-time rules on ingest and the alert book.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSection {
    /// Default cosine similarity for a watch-list face hit (a list may set
    /// its own).
    pub watch_face_threshold: f32,
    /// Device alarms that raise an alert (`fall`, `smoke`, …).
    pub device_alarms: Vec<String>,
    /// Every this many minutes `anju serve` checks the residents living
    /// alone (`analysis.elderly_unseen`) against the data's clock — the
    /// time of the latest event — and raises an alert for a silence (0: off;
    /// the analysis job still judges them).
    pub elderly_check_mins: u64,
}

impl Default for AlertsSection {
    fn default() -> Self {
        Self {
            watch_face_threshold: 0.85,
            device_alarms: [
                "fall",
                "smoke",
                "throwing",
                "gathering",
                "intrusion",
                "fight",
            ]
            .map(String::from)
            .to_vec(),
            elderly_check_mins: 5,
        }
    }
}

/// Where relations live and whether ingest keeps them current.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphSection {
    /// `rocksdb` (embedded, the default) or `neo4j`.
    pub backend: String,
    /// Project every acknowledged batch into timelines and relations during
    /// ingest (off: `anju project` catches up later).
    pub maintain_on_ingest: bool,
    pub neo4j: Neo4jSection,
}

impl Default for GraphSection {
    fn default() -> Self {
        Self {
            backend: "rocksdb".into(),
            maintain_on_ingest: true,
            neo4j: Neo4jSection::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Neo4jSection {
    pub uri: String,
    pub user: String,
    /// Also read from `ANJU_NEO4J_PASSWORD`, which wins.
    pub password: String,
    /// Empty: the server's default database.
    pub database: String,
    /// Node label of this deployment's graph (deployments sharing one
    /// database keep apart by label).
    pub label: String,
    pub timeout_secs: u64,
}

impl Default for Neo4jSection {
    fn default() -> Self {
        Self {
            uri: "127.0.0.1:7687".into(),
            user: "neo4j".into(),
            password: String::new(),
            database: String::new(),
            label: "AnjuNode".into(),
            timeout_secs: 10,
        }
    }
}

/// Attribution of faces that came without a person id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Identity {
    /// Cosine similarity at or above which a face is a registered person's
    /// (and a newly registered face claims a stranger archive).
    pub face_match_threshold: f32,
    /// Cosine similarity at or above which an unregistered face joins a
    /// stranger archive (below: it opens a new one).
    pub stranger_threshold: f32,
    /// Most vectors kept per stranger archive.
    pub representatives: usize,
    /// A capture less similar than this to all of its archive's vectors
    /// becomes one more (while there is room).
    pub representative_below: f32,
    /// HNSW search breadth (higher: better recall, slower).
    pub ef_search: usize,
    /// How the face index's graph keeps its vectors in memory: `i8` (a
    /// quarter of f32, the fastest search), `f16` (half) or `f32`. Scores
    /// are exact in every case (re-ranked from the vectors on disk);
    /// changing it rebuilds the graph at the next start.
    pub quantisation: String,
    /// Attribute faces on the server (the face index, stranger archives).
    /// Off: only captures carrying a person id (matched by the device, as
    /// many face gates do) are sightings, and no face is indexed.
    pub attribute_faces: bool,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            face_match_threshold: 0.8,
            stranger_threshold: 0.7,
            representatives: 4,
            representative_below: 0.9,
            ef_search: 128,
            quantisation: search::Quantisation::default().name().into(),
            attribute_faces: true,
        }
    }
}

/// Where the search indexes (full-text, faces) live. Both are derived from
/// the store and rebuilt by `anju rebuild`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSection {
    /// Default: `search/` inside the store's directory (one directory is
    /// one deployment; RocksDB leaves a directory it does not know alone).
    pub path: Option<PathBuf>,
    /// Writer memory of the full-text index.
    pub text_writer_mb: usize,
}

impl Default for SearchSection {
    fn default() -> Self {
        Self {
            path: None,
            text_writer_mb: 128,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrajectorySection {
    /// Consecutive sightings within this many meters form one stay.
    pub stay_radius_m: f64,
    /// Most sightings read for one trajectory.
    pub max_points: usize,
}

impl Default for TrajectorySection {
    fn default() -> Self {
        let d = graph::timeline::TrajectoryParams::default();
        Self {
            stay_radius_m: d.stay_radius_m,
            max_points: d.max_points,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deployment {
    /// IANA zone for offset-less times and "local night".
    pub time_zone: String,
    /// Dimension of every face feature.
    pub face_dim: usize,
    /// Night window, local `HH:MM`.
    pub night_start: String,
    pub night_end: String,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            time_zone: "Asia/Shanghai".into(),
            face_dim: 128,
            night_start: "22:00".into(),
            night_end: "05:00".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub path: PathBuf,
    pub cache_mb: usize,
    /// Memtable size per column family, MiB: also how much free space the
    /// store waits for before it resumes writing after a full disk.
    pub memtable_mb: usize,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/store"),
            cache_mb: 256,
            memtable_mb: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    /// Records per durable write (group commit).
    pub batch_size: usize,
    /// Events stamped later than now plus this many seconds are refused.
    pub max_future_secs: i64,
}

impl Default for Ingest {
    fn default() -> Self {
        Self {
            batch_size: 4096,
            max_future_secs: 86_400,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            deployment: Deployment::default(),
            store: Store::default(),
            ingest: Ingest::default(),
            graph: GraphSection::default(),
            relations: graph::project::RelationParams::default(),
            identity: Identity::default(),
            search: SearchSection::default(),
            trajectory: TrajectorySection::default(),
            server: ServerSection::default(),
            alerts: AlertsSection::default(),
            auth: AuthSection::default(),
            analysis: analysis::Params::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

fn this_version() -> u32 {
    CONFIG_VERSION
}

impl Config {
    /// Where the search indexes live.
    pub fn search_dir(&self) -> PathBuf {
        self.search
            .path
            .clone()
            .unwrap_or_else(|| self.store.path.join("search"))
    }

    /// Where the signing key and token registers live.
    pub fn auth_dir(&self) -> PathBuf {
        self.auth
            .dir
            .clone()
            .unwrap_or_else(|| self.store.path.join("auth"))
    }

    /// Reads and validates a config file; without one, the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let cfg = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_owned(),
                    message: e.to_string(),
                })?
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`Config::load`], then `store` (the command line's `--store`) in
    /// place of `store.path`.
    pub fn load_with_store(
        path: Option<&Path>,
        store: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let mut cfg = Self::load(path)?;
        if let Some(s) = store {
            cfg.store.path = s;
        }
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != CONFIG_VERSION {
            return Err(ConfigError::Invalid(format!(
                "version {} is not supported (this build reads {CONFIG_VERSION})",
                self.version
            )));
        }
        self.clock()?;
        if self.deployment.face_dim == 0 || self.deployment.face_dim > 4096 {
            return Err(ConfigError::Invalid(
                "deployment.face_dim must be 1..=4096".into(),
            ));
        }
        if let Some(url) = &self.server.tile_url {
            tile_origin(url).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "server.tile_url {url:?} must be an http(s) URL with {{z}}, {{x}} and {{y}}, without quotes or spaces"
                ))
            })?;
        }
        if !matches!(self.graph.backend.as_str(), "rocksdb" | "neo4j") {
            return Err(ConfigError::Invalid(format!(
                "graph.backend {:?} is not rocksdb or neo4j",
                self.graph.backend
            )));
        }
        let r = &self.relations;
        for (name, v) in [
            ("companion_days", r.companion_days),
            ("companion_window_days", r.companion_window_days),
            ("cohabit_nights", r.cohabit_nights),
            ("cohabit_window_days", r.cohabit_window_days),
            ("drive_days", r.drive_days),
            ("drive_window_days", r.drive_window_days),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "relations.{name} must be at least 1"
                )));
            }
        }
        let label = &self.graph.neo4j.label;
        if label.is_empty()
            || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || label.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(ConfigError::Invalid(format!(
                "graph.neo4j.label {label:?} must be letters, digits and _ (not starting with a digit)"
            )));
        }
        for (name, v) in [
            ("face_match_threshold", self.identity.face_match_threshold),
            ("stranger_threshold", self.identity.stranger_threshold),
            ("representative_below", self.identity.representative_below),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::Invalid(format!(
                    "identity.{name} must be between 0 and 1"
                )));
            }
        }
        for (name, v) in [
            ("default_ttl", &self.auth.default_ttl),
            ("max_ttl", &self.auth.max_ttl),
        ] {
            humantime::parse_duration(v).map_err(|e| {
                ConfigError::Invalid(format!("auth.{name} {v:?}: {e} (e.g. \"12h\", \"30d\")"))
            })?;
        }
        if !matches!(self.auth.hidden_nodes.as_str(), "omit" | "placeholder") {
            return Err(ConfigError::Invalid(format!(
                "auth.hidden_nodes {:?} is not omit or placeholder",
                self.auth.hidden_nodes
            )));
        }
        if self.auth.audit_retention_days < 1 || self.auth.rate_per_minute < 1 {
            return Err(ConfigError::Invalid(
                "auth.audit_retention_days and auth.rate_per_minute must be at least 1".into(),
            ));
        }
        if self.auth.audit_sync_ms > 1000 {
            return Err(ConfigError::Invalid(format!(
                "auth.audit_sync_ms {} is more than 1000 (0 syncs each entry)",
                self.auth.audit_sync_ms
            )));
        }
        if let Some(p) = self.analysis.problems().into_iter().next() {
            return Err(ConfigError::Invalid(p));
        }
        if !(0.0..=1.0).contains(&self.alerts.watch_face_threshold) {
            return Err(ConfigError::Invalid(
                "alerts.watch_face_threshold must be between 0 and 1".into(),
            ));
        }
        for a in &self.alerts.device_alarms {
            if model::AlarmKind::parse(a).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "alerts.device_alarms: {a:?} is not one of {}",
                    model::AlarmKind::expected()
                )));
            }
        }
        if self.server.max_page_size == 0 || self.server.body_limit_mb == 0 {
            return Err(ConfigError::Invalid(
                "server.max_page_size and server.body_limit_mb must be at least 1".into(),
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "server.listen {:?} is not an address:port",
                self.server.listen
            )));
        }
        if self.identity.representatives == 0 || self.identity.ef_search == 0 {
            return Err(ConfigError::Invalid(
                "identity.representatives and identity.ef_search must be at least 1".into(),
            ));
        }
        if let Err(e) = self.identity.quantisation.parse::<search::Quantisation>() {
            return Err(ConfigError::Invalid(format!("identity.quantisation: {e}")));
        }
        if self.trajectory.stay_radius_m.is_nan()
            || self.trajectory.stay_radius_m <= 0.0
            || self.trajectory.max_points == 0
        {
            return Err(ConfigError::Invalid(
                "trajectory.stay_radius_m and max_points must be positive".into(),
            ));
        }
        if self.ingest.batch_size == 0 {
            return Err(ConfigError::Invalid(
                "ingest.batch_size must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The deployment's clock (time zone and night window).
    pub fn clock(&self) -> Result<Clock, ConfigError> {
        let tz = self.deployment.time_zone.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "deployment.time_zone {:?} is not an IANA zone",
                self.deployment.time_zone
            ))
        })?;
        let hm = |s: &str, what: &str| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| ConfigError::Invalid(format!("deployment.{what} {s:?} is not HH:MM")))
        };
        let night = NightWindow {
            start: hm(&self.deployment.night_start, "night_start")?,
            end: hm(&self.deployment.night_end, "night_end")?,
        };
        Ok(Clock { tz, night })
    }

    pub fn store_config(&self) -> graph::StoreConfig {
        let mut s = graph::StoreConfig::new(&self.store.path);
        s.cache_mb = self.store.cache_mb;
        s.memtable_mb = self.store.memtable_mb.max(1);
        s
    }

    pub fn trajectory_params(&self) -> graph::timeline::TrajectoryParams {
        graph::timeline::TrajectoryParams {
            stay_radius_m: self.trajectory.stay_radius_m,
            max_points: self.trajectory.max_points,
        }
    }

    /// Parse settings; `now` bounds how far in the future an event may be.
    pub fn parse_config(&self, now: model::Timestamp) -> Result<ingest::ParseConfig, ConfigError> {
        Ok(ingest::ParseConfig {
            clock: self.clock()?,
            face_dim: self.deployment.face_dim,
            not_after: Some(model::Timestamp(now.0 + self.ingest.max_future_secs * 1000)),
        })
    }
}

/// The origin (`scheme://host[:port]`) of a tile URL template, when it is
/// one the console can use: http(s), with `{z}`, `{x}` and `{y}`, and
/// nothing that could break out of an HTML attribute or a CSP header.
pub fn tile_origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let ok = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p))
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | ';' | ',')
        });
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    ok.then(|| &url[..url.len() - rest.len() + host.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("version = 1\n[store]\npth = \"x\"").is_err());
        let cfg: Config =
            toml::from_str("version = 1\n[deployment]\ntime_zone = \"Mars/Base\"").unwrap();
        assert!(cfg.validate().is_err());
        let cfg: Config = toml::from_str("version = 2").unwrap();
        assert!(cfg.validate().is_err());
        let cfg: Config = toml::from_str("version = 1\n[auth]\naudit_sync_ms = 5000").unwrap();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("auth.audit_sync_ms 5000"), "{e}");
        let cfg: Config = toml::from_str(
            "version = 1\n[deployment]\ntime_zone = \"Europe/Berlin\"\nnight_start = \"23:30\"",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.clock().unwrap().night.start,
            NaiveTime::from_hms_opt(23, 30, 0).unwrap()
        );
    }

    /// The README's configuration block is the defaults it says it is
    /// (paths aside, which it writes as placeholders).
    #[test]
    fn the_readme_shows_the_defaults() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\nversion = 1\n").expect("config block") + 8;
        let block = &readme[start..start + readme[start..].find("```").unwrap()];
        let documented: Config = toml::from_str(block).unwrap_or_else(|e| panic!("{e}"));
        let defaults = Config::default();
        assert_eq!(documented.analysis, defaults.analysis);
        assert_eq!(documented.identity, defaults.identity);
        assert_eq!(documented.alerts, defaults.alerts);
        assert_eq!(documented.server, defaults.server);
        assert_eq!(documented.deployment, defaults.deployment);
        assert_eq!(documented.relations, defaults.relations);
        // `dir` shows where the default puts it
        let auth = AuthSection {
            dir: None,
            ..documented.auth.clone()
        };
        assert_eq!(auth, defaults.auth);
        // the sensitive periods as the README's comment writes them
        let line = readme
            .lines()
            .find(|l| l.starts_with("key_petitioner = "))
            .unwrap();
        let example = &line[line.find("periods = [{").unwrap()..line.find("}]").unwrap() + 2];
        let cfg: Config = toml::from_str(&format!(
            "version = 1\n[analysis]\nkey_petitioner = {{ {example} }}"
        ))
        .unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(cfg.analysis.key_petitioner.periods.len(), 1);
    }
}
