//! The server's shared state: the store of record behind a read/write lock
//! (one writer, many readers), the projector thread that keeps timelines,
//! relations, the search indexes and the real-time rules current with what
//! arrives, the watch lists, the census behind the dashboards, and metrics.
//!
//! Intake writes a batch durably and returns (the 2xx is sent only then);
//! the projector is woken and projects it within moments. Readers never wait
//! for projection except while a batch is being written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use graph::{RocksStore, WriteOutcome};
use model::{
    BaseKind, BaseRecord, Clock, CommunityId, DeviceId, Event, EventBody, EventKind, NodeRef,
    Record, Timestamp,
};
use tokio::sync::broadcast;

use super::alerts::{self, Alert, NewAlert, WatchList};
use super::lock;
use super::scope::Principal;
use crate::config::Config;
use crate::graphs::Projector;

const RULES_CHECKPOINT: &[u8] = b"rules/checkpoint";

pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

/// A community's place and its register counts (persons by household type
/// and category, houses by use, vehicles, devices by kind).
#[derive(Debug, Clone, Default)]
pub struct CommunityCensus {
    pub name: String,
    pub region: String,
    pub persons: u64,
    pub by_household: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub houses: u64,
    pub houses_by_use: BTreeMap<String, u64>,
    pub vehicles: u64,
    pub devices: u64,
    pub devices_by_kind: BTreeMap<String, u64>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub graphql_requests: AtomicU64,
    pub graphql_errors: AtomicU64,
    pub ingest_accepted: AtomicU64,
    pub ingest_duplicates: AtomicU64,
    pub ingest_conflicts: AtomicU64,
    pub ingest_rejected: AtomicU64,
    pub ingest_failed_batches: AtomicU64,
    pub alerts_raised: AtomicU64,
    pub projection_errors: AtomicU64,
}

#[derive(Debug)]
pub struct Engine {
    pub config: Config,
    pub clock: Clock,
    /// The store of record; writes serialise inside it, reads run beside them.
    store: RocksStore,
    pub projector: Projector,
    project_lock: Mutex<()>,
    analysis_lock: Mutex<()>,
    /// The sightings the scheduled job keeps between runs.
    analysis_cache: Mutex<analysis::Cache>,
    /// An archive was merged since the cache was filled (it names the old
    /// archive): the next job reads afresh. A flag, so a merge never waits
    /// for a running job.
    analysis_cache_stale: AtomicBool,
    wake: (Mutex<bool>, Condvar),
    stop: AtomicBool,
    /// The projector thread, joined by [`Engine::shutdown`].
    projector_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub alerts_tx: broadcast::Sender<Alert>,
    watch: RwLock<Vec<WatchList>>,
    census: RwLock<BTreeMap<CommunityId, CommunityCensus>>,
    devices: RwLock<HashMap<DeviceId, Option<(CommunityId, String)>>>,
    /// E-bike tags → (plate, owner), for the anti-theft rule.
    ebikes: RwLock<HashMap<String, (model::Plate, Option<model::PersonId>)>>,
    day_counts: Mutex<HashMap<(DeviceId, NaiveDate), [u64; 8]>>,
    /// GA/T 1400 callers registered (their ids) and their last keepalive.
    pub viid_devices: Mutex<HashMap<String, Timestamp>>,
    /// Refusals counted for the log (one line per burst).
    pub refusals: Arc<super::bursts::Bursts>,
    pub metrics: Metrics,
    /// Token keys and registers, and the handle codec.
    pub auth: crate::auth::Auth,
    /// The audit log's head.
    pub audit: super::audit::AuditLog,
    /// The grants read per requester (forgotten when one is written).
    pub grants: super::grants::Kept,
    /// Requests per token per minute.
    pub limiter: governor::DefaultKeyedRateLimiter<String>,
    pub started: Instant,
    pub last_projection_error: Mutex<Option<String>>,
    /// The persons of the elderly-unseen category, as of the base log's
    /// length then: read again only when the registers change (reading
    /// every person record took ~1 s of each check at a million persons).
    elderly_persons: Mutex<Option<(u64, Arc<HashSet<model::PersonId>>)>>,
    /// The latest event time, with the event log's length it was read at
    /// (the elderly check's clock: finding it from every device's newest
    /// sighting was ~40% of a check at a million persons).
    latest_event: Mutex<Option<(u64, Timestamp)>>,
}

impl Engine {
    /// Opens the store read-write, brings every projection up to date, and
    /// starts the projector thread.
    pub fn open(config: Config) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.store.path)
            .with_context(|| format!("creating {}", config.store.path.display()))?;
        let store = RocksStore::open(&config.store_config())?;
        let projector = Projector::new(&config, &store)?;
        let (tx, _) = broadcast::channel(1024);
        let auth = crate::auth::Auth::open(&config.auth_dir())?.with_realm(&config.auth.viid_realm);
        let audit = super::audit::AuditLog::open(&store, config.auth.audit_sync_ms == 0)?;
        let quota = governor::Quota::per_minute(
            std::num::NonZeroU32::new(config.auth.rate_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        )
        .allow_burst(
            std::num::NonZeroU32::new(config.auth.rate_burst).unwrap_or(std::num::NonZeroU32::MIN),
        );
        let engine = Arc::new(Self {
            auth,
            audit,
            grants: Default::default(),
            limiter: governor::RateLimiter::keyed(quota),
            clock: config.clock()?,
            config,
            store,
            projector,
            project_lock: Mutex::new(()),
            analysis_lock: Mutex::new(()),
            analysis_cache: Mutex::new(analysis::Cache::default()),
            analysis_cache_stale: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
            stop: AtomicBool::new(false),
            projector_thread: Mutex::new(None),
            alerts_tx: tx,
            watch: RwLock::new(Vec::new()),
            census: RwLock::new(BTreeMap::new()),
            devices: RwLock::new(HashMap::new()),
            ebikes: RwLock::new(HashMap::new()),
            day_counts: Mutex::new(HashMap::new()),
            viid_devices: Mutex::new(HashMap::new()),
            refusals: Arc::default(),
            metrics: Metrics::default(),
            started: Instant::now(),
            last_projection_error: Mutex::new(None),
            elderly_persons: Mutex::new(None),
            latest_event: Mutex::new(None),
        });
        {
            let store = engine.store();
            *engine.watch.write().unwrap_or_else(|p| p.into_inner()) = alerts::watch_lists(store)?;
            alerts::index_subjects(store)?;
            super::grants::index_holders(store)?;
        }
        // the census (and the e-bike tags the rules read) before the rules run
        engine.refresh_census()?;
        engine.settle()?;
        // the thread holds the engine weakly: dropping the last handle (or
        // `shutdown`) ends it
        let weak = Arc::downgrade(&engine);
        let handle = std::thread::Builder::new()
            .name("anju-projector".into())
            .spawn(move || Self::projector_loop(&weak))?;
        *lock(&engine.projector_thread) = Some(handle);
        if !engine.audit.syncs_each() {
            let weak = Arc::downgrade(&engine);
            let every = Duration::from_millis(engine.config.auth.audit_sync_ms);
            std::thread::Builder::new()
                .name("anju-audit-sync".into())
                .spawn(move || Self::audit_sync_loop(&weak, every))?;
        }
        Ok(engine)
    }

    /// Appends an audit entry for a request. A synced append waits on the
    /// disk: from a task it goes to the blocking pool (blocking the worker
    /// in place instead answered each request ~4% sooner but served 10–25%
    /// fewer at four clients at once: the worker's hand-over of its core
    /// costs more than the hop); outside any task — a caller blocking on
    /// the request from its own thread, as the benchmark and in-process
    /// tools do — it writes inline. An append synced later only writes the
    /// log, and always runs inline.
    pub async fn record(
        self: &Arc<Self>,
        entry: super::audit::NewEntry,
    ) -> Result<super::audit::Entry, String> {
        let append = {
            let e = Arc::clone(self);
            move || e.audit.append(e.store(), entry, now())
        };
        let written = if self.audit.syncs_each() && tokio::task::try_id().is_some() {
            tokio::task::spawn_blocking(append)
                .await
                .map_err(|err| err.to_string())?
        } else {
            append()
        };
        written.map_err(|err| err.to_string())
    }

    /// The store for reading.
    pub fn store(&self) -> &RocksStore {
        &self.store
    }

    pub fn relations(&self) -> &dyn graph::RelationStore {
        self.projector.backend.store()
    }

    /// Writes a batch durably (synced before this returns) and wakes the
    /// projector.
    pub fn write(&self, records: &[Record]) -> graph::Result<Vec<WriteOutcome>> {
        // a write serialises on the store's own write state; readers (every
        // query) go on meanwhile
        let out = self.store().write(records);
        match &out {
            Ok(outcomes) => {
                for o in outcomes {
                    let c = match o {
                        WriteOutcome::Accepted => &self.metrics.ingest_accepted,
                        WriteOutcome::Duplicate => &self.metrics.ingest_duplicates,
                        WriteOutcome::Conflict => &self.metrics.ingest_conflicts,
                    };
                    c.fetch_add(1, Ordering::Relaxed);
                }
                self.wake();
            }
            Err(_) => {
                self.metrics
                    .ingest_failed_batches
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        out
    }

    fn wake(&self) {
        *lock(&self.wake.0) = true;
        self.wake.1.notify_one();
    }

    /// Stops the projector thread and waits for it (its current step
    /// finishes first), so nothing touches the store after this returns.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake();
        let handle = lock(&self.projector_thread).take();
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        if let Err(e) = self.audit.sync(self.store()) {
            tracing::error!(error = %e, "audit log not synced at shutdown");
        }
        // nothing writes the face index any more: snapshot its graph, so
        // the next open loads it instead of rebuilding it from the log
        if let Err(e) = self.projector.matcher.index.seal() {
            tracing::warn!(error = %e, "face index graph not snapshotted");
        }
    }

    /// Syncs the audit entries written since the last turn, every `every`,
    /// until the engine stops (shutdown syncs too; this thread's last turn
    /// takes what requests still finishing wrote after it).
    fn audit_sync_loop(weak: &std::sync::Weak<Self>, every: Duration) {
        loop {
            std::thread::sleep(every);
            let Some(engine) = weak.upgrade() else { return };
            if let Err(e) = engine.audit.sync(engine.store()) {
                tracing::error!(error = %e, "audit log sync failed; retrying");
            }
            if engine.stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    fn projector_loop(weak: &std::sync::Weak<Self>) {
        loop {
            let Some(engine) = weak.upgrade() else { return };
            if !engine.projector_step() {
                return;
            }
        }
    }

    /// Waits for a wake-up (or 5 s), then projects; false once stopped.
    fn projector_step(&self) -> bool {
        {
            let g = lock(&self.wake.0);
            let (mut g, _) = self
                .wake
                .1
                .wait_timeout_while(g, Duration::from_secs(5), |woken| !*woken)
                .unwrap_or_else(|p| p.into_inner());
            *g = false;
        }
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        {
            match self.settle() {
                Ok(()) => *lock(&self.last_projection_error) = None,
                Err(e) => {
                    self.metrics
                        .projection_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %format!("{e:#}"), "projection step failed; retrying");
                    *lock(&self.last_projection_error) = Some(format!("{e:#}"));
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        true
    }

    /// Projects everything written so far: timelines and relations, the
    /// search indexes, then the real-time rules over the new events. Runs on
    /// the projector thread; tests call it to wait for a write's effects.
    pub fn settle(&self) -> Result<()> {
        let _g = lock(&self.project_lock);
        let store = self.store();
        let before = graph::project::checkpoint(store)?;
        self.projector.projection(store)?.catch_up(|_| {})?;
        self.projector.texts.catch_up(store)?;
        let after = graph::project::checkpoint(store)?;
        if after.base != before.base {
            self.devices
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            self.refresh_census()?;
        }
        self.run_rules(self.store(), after.events)?;
        Ok(())
    }

    /// Merges a stranger archive into a person (or another archive).
    pub fn merge(
        &self,
        a: &NodeRef,
        into: &NodeRef,
    ) -> graph::Result<graph::project::ProjectStats> {
        let _g = lock(&self.project_lock);
        let store = self.store();
        let p = self
            .projector
            .projection(store)
            .map_err(|e| graph::Error::Storage(format!("{e:#}")))?;
        let stats = p.merge(a, into)?;
        // the kept sightings name the merged archive: read them afresh
        self.analysis_cache_stale.store(true, Ordering::SeqCst);
        Ok(stats)
    }

    /// Runs the analysis job (one at a time): tags kept, alerts raised and
    /// streamed to subscribers.
    pub fn run_analysis(
        &self,
        models: &[&'static str],
    ) -> graph::Result<crate::analysis_job::Report> {
        let _g = lock(&self.analysis_lock);
        if self.analysis_cache_stale.swap(false, Ordering::SeqCst) {
            lock(&self.analysis_cache).clear();
        }
        let store = self.store();
        let r = crate::analysis_job::run(
            store,
            self.clock,
            &self.config.analysis,
            models,
            crate::analysis_job::Request {
                cache: Some(&self.analysis_cache),
                ..Default::default()
            },
        )?;
        self.metrics
            .alerts_raised
            .fetch_add(r.raised.len() as u64, Ordering::Relaxed);
        for a in &r.raised {
            let _ = self.alerts_tx.send(a.clone());
        }
        Ok(r)
    }

    /// The elderly-unseen timer: each resident of the
    /// `analysis.elderly_unseen` category is judged now — by the data's
    /// clock, the time of the latest event, so a pause of intake raises
    /// nothing — from their own timeline and their home's devices; a silence
    /// raises one alert (the analysis job would raise the same one once).
    pub fn check_elderly(&self) -> graph::Result<Vec<Alert>> {
        let p = &self.config.analysis.elderly_unseen;
        let store = self.store();
        let Some(last) = self.data_clock()? else {
            return Ok(Vec::new());
        };
        let now = Timestamp(last.0.saturating_add(1));
        let persons = self.elderly_persons(&p.category)?;
        if persons.is_empty() {
            return Ok(Vec::new());
        }
        let elderly: Vec<analysis::profile::Resident> =
            analysis::profile::residents_where(store, now, |id| persons.contains(id))?
                .into_iter()
                .filter(|r| r.categories.contains(&p.category))
                .collect();
        if elderly.is_empty() {
            return Ok(Vec::new());
        }
        let mut devices = HashMap::new();
        let mut in_house: HashMap<model::HouseId, Vec<DeviceId>> = HashMap::new();
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r {
                if let Some(h) = &d.house {
                    in_house.entry(h.clone()).or_default().push(d.id.clone());
                }
                devices.insert(d.id.clone(), d);
            }
            Ok(())
        })?;
        let w = analysis::profile::Window::last_days(now, p.window_days, self.clock);
        // the silence may have begun before the window
        let from = Timestamp(w.from.0 - i64::from(p.window_days) * 86_400_000);
        let mut findings = Vec::new();
        let mut done = BTreeSet::new();
        for r in &elderly {
            if !done.insert(&r.person) {
                continue;
            }
            let node = NodeRef::Person(r.person.clone());
            let seen = analysis::profile::sightings_of(store, &node, from, now, &devices)?;
            let home: Vec<&DeviceId> = in_house.get(&r.house).into_iter().flatten().collect();
            let home = analysis::profile::device_times(store, &home, from, now)?;
            findings.extend(analysis::persons::elderly_unseen(
                &r.person, &seen, &home, &w, p,
            ));
        }
        let raised = crate::analysis_job::raise(store, &findings)?;
        self.metrics
            .alerts_raised
            .fetch_add(raised.len() as u64, Ordering::Relaxed);
        for a in &raised {
            let _ = self.alerts_tx.send(a.clone());
        }
        Ok(raised)
    }

    /// The data's clock: the latest event time in the store (`None`
    /// without events). The first call reads every device's newest
    /// sighting; later ones only the events logged since (a time is never
    /// taken back: events are not removed).
    pub fn data_clock(&self) -> graph::Result<Option<Timestamp>> {
        let store = self.store();
        let len = store.log_len();
        let kept = *lock(&self.latest_event);
        let latest = match kept {
            Some((at, t)) if at <= len => {
                let (mut t, mut from) = (t, at);
                while from < len {
                    let batch = store.log_from(from, 4096)?;
                    let Some((last, _)) = batch.last() else { break };
                    from = last + 1;
                    t = batch.iter().fold(t, |t, (_, e)| t.max(e.time));
                }
                Some(t)
            }
            _ => analysis::profile::data_span(store)?.map(|(_, last)| last),
        };
        if let Some(t) = latest {
            *lock(&self.latest_event) = Some((len, t));
        }
        Ok(latest)
    }

    /// The persons whose register names `category`, kept until the base
    /// log grows (a record read during the scan leaves the length read
    /// before it: the next check reads again).
    fn elderly_persons(&self, category: &str) -> graph::Result<Arc<HashSet<model::PersonId>>> {
        let store = self.store();
        let len = store.base_log_len();
        if let Some((at, set)) = &*lock(&self.elderly_persons)
            && *at == len
        {
            return Ok(Arc::clone(set));
        }
        let mut set = HashSet::new();
        store.for_each_base(BaseKind::Person, |r| {
            if let BaseRecord::Person(p) = r
                && p.categories.iter().any(|c| c == category)
            {
                set.insert(p.id);
            }
            Ok(())
        })?;
        let set = Arc::new(set);
        *lock(&self.elderly_persons) = Some((len, Arc::clone(&set)));
        Ok(set)
    }

    /// The labels of nodes as a person reads them: the graph's (a person's
    /// name, a plate), else what the registers say
    /// ([`crate::nodes::registered_label`]): no node is shown nameless.
    pub fn labels(&self, nodes: &[model::NodeRef]) -> graph::Result<Vec<String>> {
        let got = self.relations().nodes(nodes)?;
        nodes
            .iter()
            .zip(got)
            .map(|(n, l)| self.label_or(n, l.map(|l| l.label).unwrap_or_default()))
            .collect()
    }

    /// `label`, or when it is empty the node's name from the registers.
    pub fn label_or(&self, n: &model::NodeRef, label: String) -> graph::Result<String> {
        if label.is_empty() {
            crate::nodes::registered_label(self.store(), n)
        } else {
            Ok(label)
        }
    }

    /// A bearer token's principal with its holder's grants in force; `Err`
    /// says why not (forged, expired, revoked), as a legitimate caller
    /// needs to hear it.
    pub fn principal_of_token(&self, token: &str) -> std::result::Result<Principal, String> {
        let c = self.auth.verify(token).map_err(|err| err.to_string())?;
        let grants = self
            .grants
            .active(self.store(), &c.holder(), now())
            .map_err(|err| {
                tracing::error!(error = %err, "reading grants");
                "the server could not read the caller's grants".to_owned()
            })?;
        Ok(Principal::from_claims(&c, grants))
    }

    /// The caller without a token: the local all-regions principal when
    /// `auth.required` is off, else `Err`.
    pub fn anonymous_principal(&self) -> std::result::Result<Principal, String> {
        if self.config.auth.required {
            Err(
                "a bearer token is required (Authorization: Bearer …, from `anju token create`)"
                    .into(),
            )
        } else {
            Ok(Principal::all_regions())
        }
    }

    /// Takes one request from the caller's quota (`auth.rate_per_minute`,
    /// per token): `Err` with the wait when it is used up. HTTP requests
    /// and every operation over a WebSocket draw on the same quota.
    pub fn take_quota(&self, p: &super::scope::Principal) -> Result<(), Duration> {
        let key = p
            .token
            .clone()
            .unwrap_or_else(|| format!("anonymous:{}", p.name));
        self.limiter.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }

    /// How far projection is behind the store (base records, events).
    pub fn lag(&self) -> Result<(u64, u64)> {
        let store = self.store();
        let ck = graph::project::checkpoint(store)?;
        Ok((
            store.base_log_len().saturating_sub(ck.base),
            store.log_len().saturating_sub(ck.events),
        ))
    }

    // ----- places ------------------------------------------------------------

    /// A device's community and that community's region code.
    pub fn device_place(
        &self,
        store: &RocksStore,
        d: &DeviceId,
    ) -> graph::Result<Option<(CommunityId, String)>> {
        if let Some(p) = self
            .devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(d)
        {
            return Ok(p.clone());
        }
        let place = match store.base(BaseKind::Device, d.as_str())? {
            Some(BaseRecord::Device(dev)) => {
                let region = self.community_region(store, &dev.community)?;
                Some((dev.community, region.unwrap_or_default()))
            }
            _ => None,
        };
        self.devices
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(d.clone(), place.clone());
        Ok(place)
    }

    pub fn community_region(
        &self,
        store: &RocksStore,
        c: &CommunityId,
    ) -> graph::Result<Option<String>> {
        if let Some(cc) = self.census.read().unwrap_or_else(|p| p.into_inner()).get(c) {
            return Ok(Some(cc.region.clone()));
        }
        Ok(match store.base(BaseKind::Community, c.as_str())? {
            Some(BaseRecord::Community(c)) => Some(c.region.as_str().to_owned()),
            _ => None,
        })
    }

    pub fn census(&self) -> BTreeMap<CommunityId, CommunityCensus> {
        self.census
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Recounts the registers per community (after base data changed).
    fn refresh_census(&self) -> Result<()> {
        let store = self.store();
        let t = now();
        let mut out: BTreeMap<CommunityId, CommunityCensus> = BTreeMap::new();
        store.for_each_base(BaseKind::Community, |r| {
            if let BaseRecord::Community(c) = r {
                out.insert(
                    c.id.clone(),
                    CommunityCensus {
                        name: c.name,
                        region: c.region.as_str().to_owned(),
                        ..CommunityCensus::default()
                    },
                );
            }
            Ok(())
        })?;
        let mut house_community = HashMap::new();
        store.for_each_base(BaseKind::House, |r| {
            if let BaseRecord::House(h) = r {
                if let Some(c) = out.get_mut(&h.community) {
                    c.houses += 1;
                    let u = h.usage.map_or("unknown", |u| u.as_str());
                    *c.houses_by_use.entry(u.to_owned()).or_default() += 1;
                }
                house_community.insert(h.id, h.community);
            }
            Ok(())
        })?;
        let mut residents: BTreeSet<(CommunityId, model::PersonId)> = BTreeSet::new();
        store.for_each_base(BaseKind::Residence, |r| {
            if let BaseRecord::Residence(r) = r
                && r.until.is_none_or(|u| u > t)
                && let Some(c) = house_community.get(&r.house)
            {
                residents.insert((c.clone(), r.person));
            }
            Ok(())
        })?;
        let ids: Vec<&str> = residents.iter().map(|(_, p)| p.as_str()).collect();
        let persons = store.bases(BaseKind::Person, &ids)?;
        for ((c, _), p) in residents.iter().zip(persons) {
            let Some(cc) = out.get_mut(c) else { continue };
            cc.persons += 1;
            if let Some(BaseRecord::Person(p)) = p {
                let h = p.household.map_or("unknown", |h| h.as_str());
                *cc.by_household.entry(h.to_owned()).or_default() += 1;
                for cat in &p.categories {
                    *cc.by_category.entry(cat.clone()).or_default() += 1;
                }
            }
        }
        let mut ebikes = HashMap::new();
        store.for_each_base(BaseKind::Vehicle, |r| {
            if let BaseRecord::Vehicle(v) = r {
                if let Some(tag) = &v.rfid {
                    ebikes.insert(tag.as_str().to_owned(), (v.plate.clone(), v.owner.clone()));
                }
                if let Some(c) = v.community.as_ref().and_then(|c| out.get_mut(c)) {
                    c.vehicles += 1;
                }
            }
            Ok(())
        })?;
        *self.ebikes.write().unwrap_or_else(|p| p.into_inner()) = ebikes;
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r
                && let Some(c) = out.get_mut(&d.community)
            {
                c.devices += 1;
                *c.devices_by_kind
                    .entry(d.kind.as_str().to_owned())
                    .or_default() += 1;
            }
            Ok(())
        })?;
        *self.census.write().unwrap_or_else(|p| p.into_inner()) = out;
        Ok(())
    }

    /// Events per kind seen by `device` on local `day` (from its timeline;
    /// past days are cached until an event of theirs arrives late).
    pub fn day_counts(
        &self,
        store: &RocksStore,
        device: &DeviceId,
        day: NaiveDate,
    ) -> graph::Result<[u64; 8]> {
        let today = self.clock.local_date(now());
        if day < today
            && let Some(c) = lock(&self.day_counts).get(&(device.clone(), day))
        {
            return Ok(*c);
        }
        let from = self
            .clock
            .from_local(day.and_time(chrono::NaiveTime::MIN))
            .map_err(|e| graph::Error::Invalid(e.to_string()))?;
        let to = self
            .clock
            .from_local((day + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN))
            .map_err(|e| graph::Error::Invalid(e.to_string()))?;
        let page = graph::timeline::timeline(
            store,
            &NodeRef::Device(device.clone()),
            from,
            to,
            usize::MAX / 2,
            false,
        )?;
        let mut counts = [0u64; 8];
        let mut last: Option<(&model::EventId, u8)> = None;
        for s in &page.items {
            if last == Some((&s.event, s.slot)) {
                continue;
            }
            last = Some((&s.event, s.slot));
            counts[kind_index(s.kind)] += 1;
        }
        if day < today {
            lock(&self.day_counts).insert((device.clone(), day), counts);
        }
        Ok(counts)
    }

    // ----- watch lists ---------------------------------------------------------

    pub fn watch_lists(&self) -> Vec<WatchList> {
        self.watch.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stores a list (new or changed) and makes it live for the rules.
    pub fn put_watch_list(&self, list: WatchList) -> graph::Result<()> {
        alerts::put_watch_list(self.store(), &list)?;
        let mut w = self.watch.write().unwrap_or_else(|p| p.into_inner());
        match w.iter_mut().find(|l| l.id == list.id) {
            Some(l) => *l = list,
            None => w.push(list),
        }
        Ok(())
    }

    pub fn delete_watch_list(&self, id: &str) -> graph::Result<bool> {
        alerts::delete_watch_list(self.store(), id)?;
        let mut w = self.watch.write().unwrap_or_else(|p| p.into_inner());
        let before = w.len();
        w.retain(|l| l.id != id);
        Ok(w.len() != before)
    }

    // ----- real-time rules -------------------------------------------------------

    /// Runs the real-time rules over the events projected since the rules'
    /// checkpoint; alerts and the new checkpoint are written in one batch, so
    /// a crash neither loses nor repeats an alert.
    fn run_rules(&self, store: &RocksStore, upto: u64) -> Result<()> {
        let mut ck = store
            .app_get(RULES_CHECKPOINT)?
            .and_then(|v| v.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let lists = self.watch_lists();
        let today = self.clock.local_date(now());
        while ck < upto {
            let chunk = store.log_from(ck, 4096)?;
            let Some(last) = chunk.last().map(|(s, _)| *s) else {
                break;
            };
            let mut raise = Vec::new();
            for (seq, ev) in &chunk {
                if *seq >= upto {
                    break;
                }
                let day = self.clock.local_date(ev.time);
                if day < today {
                    lock(&self.day_counts).remove(&(ev.device.clone(), day));
                }
                self.rules_for(store, ev, &lists, &mut raise)?;
            }
            let next = (last + 1).min(upto);
            let (mut writes, raised) = alerts::raise_writes(store, raise, now())?;
            writes.push((RULES_CHECKPOINT.to_vec(), Some(next.to_le_bytes().to_vec())));
            store.app_write(&writes)?;
            self.metrics
                .alerts_raised
                .fetch_add(raised.len() as u64, Ordering::Relaxed);
            for a in raised {
                let _ = self.alerts_tx.send(a);
            }
            ck = next;
        }
        Ok(())
    }

    fn rules_for(
        &self,
        store: &RocksStore,
        ev: &Event,
        lists: &[WatchList],
        out: &mut Vec<NewAlert>,
    ) -> Result<()> {
        let place = self.device_place(store, &ev.device)?;
        // the event as its source names it (ids are unique per device)
        let src = format!("{}@{}", ev.id.as_str(), ev.device.as_str());
        let (community, region) = match &place {
            Some((c, r)) => (Some(c.as_str().to_owned()), Some(r.clone())),
            None => (None, None),
        };
        let base = |dedup: String, kind: String, title: String| NewAlert {
            dedup,
            kind,
            subject: None,
            community: community.clone(),
            region: region.clone(),
            device: Some(ev.device.as_str().to_owned()),
            time: ev.time,
            title,
            score: None,
            evidence: vec![ev.id.as_str().to_owned()],
            watch_list: None,
            recurs: false,
        };
        if let EventBody::DeviceAlarm { kind, note, .. } = &ev.body
            && self
                .config
                .alerts
                .device_alarms
                .iter()
                .any(|a| a == kind.as_str())
        {
            let mut a = base(
                format!("device_alarm/{src}"),
                format!("device_alarm:{}", kind.as_str()),
                format!(
                    "{} alarm at device {}{}",
                    kind.as_str(),
                    ev.device.as_str(),
                    note.as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
            );
            a.subject = Some(NodeRef::Device(ev.device.clone()).to_string());
            out.push(a);
        }
        // e-bike anti-theft: a tag read with a card that is not its owner's
        if let EventBody::Rfid {
            tag,
            card_no: Some(card),
            ..
        } = &ev.body
        {
            let bike = self
                .ebikes
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(tag.as_str())
                .cloned();
            if let Some((plate, Some(owner))) = bike
                && let Some(BaseRecord::Card(c)) = store.base(BaseKind::Card, card.as_str())?
                && c.person != owner
            {
                let mut a = base(
                    format!(
                        "ebike_card_mismatch/{}/{}",
                        plate.as_str(),
                        c.person.as_str()
                    ),
                    "ebike_card_mismatch".into(),
                    format!(
                        "e-bike {} (owner {}) ridden with {}'s card at device {}",
                        plate.as_str(),
                        owner.as_str(),
                        c.person.as_str(),
                        ev.device.as_str()
                    ),
                );
                a.subject = Some(NodeRef::Vehicle(plate).to_string());
                out.push(a);
            }
        }
        if lists.is_empty() {
            return Ok(());
        }
        let (features, plates, named) = watchables(ev);
        let mut subjects: Option<Vec<NodeRef>> = None;
        let mut subjects_of = |store: &RocksStore| -> graph::Result<Vec<NodeRef>> {
            if let Some(s) = &subjects {
                return Ok(s.clone());
            }
            let page = graph::timeline::timeline(
                store,
                &NodeRef::Device(ev.device.clone()),
                ev.time,
                Timestamp(ev.time.0 + 1),
                256,
                false,
            )?;
            let mut s: Vec<NodeRef> = page
                .items
                .into_iter()
                .filter(|s| s.event == ev.id)
                .flat_map(|s| s.subjects)
                .chain(named.iter().cloned())
                .collect();
            s.sort();
            s.dedup();
            subjects = Some(s.clone());
            Ok(s)
        };
        for list in lists {
            if !list.region.is_empty()
                && !region
                    .as_deref()
                    .is_some_and(|r| region_within(r, &list.region))
            {
                continue;
            }
            let threshold = list
                .threshold
                .unwrap_or(self.config.alerts.watch_face_threshold);
            for (slot, f) in &features {
                for face in &list.faces {
                    if face.feature.len() != f.len() {
                        continue;
                    }
                    let score = cosine(f, &face.feature);
                    if score >= threshold {
                        let mut a = base(
                            format!("watch_face/{}/{}/{src}/{slot}", list.id, face.id),
                            "watchlist_face".into(),
                            format!(
                                "watch list {:?}: face {:?} seen at device {} ({score:.2})",
                                list.name,
                                face.label,
                                ev.device.as_str()
                            ),
                        );
                        a.score = Some(score);
                        a.watch_list = Some(list.id.clone());
                        a.subject =
                            graph::attributed(store, ev.id.as_str(), ev.device.as_str(), *slot)?
                                .map(|n| n.to_string());
                        // a watched face inside a vehicle: the vehicle too
                        if let EventBody::VehiclePass {
                            plate: Some(plate), ..
                        } = &ev.body
                            && *slot > 0
                        {
                            let mut v = a.clone();
                            v.dedup = format!("vehicle_watchlist_occupant/{}/{src}", list.id);
                            v.kind = "vehicle_watchlist_occupant".into();
                            v.title = format!(
                                "watch list {:?}: face {:?} inside vehicle {} at device {} ({score:.2})",
                                list.name,
                                face.label,
                                plate.as_str(),
                                ev.device.as_str()
                            );
                            v.subject = Some(NodeRef::Vehicle(plate.clone()).to_string());
                            out.push(v);
                        }
                        out.push(a);
                    }
                }
            }
            for p in &plates {
                if list.plates.iter().any(|x| x == p.as_str()) {
                    let mut a = base(
                        format!("watch_plate/{}/{}/{src}", list.id, p.as_str()),
                        "watchlist_plate".into(),
                        format!(
                            "watch list {:?}: vehicle {} passed device {}",
                            list.name,
                            p.as_str(),
                            ev.device.as_str()
                        ),
                    );
                    a.watch_list = Some(list.id.clone());
                    a.subject = Some(NodeRef::Vehicle(p.clone()).to_string());
                    out.push(a);
                }
            }
            if !list.persons.is_empty() {
                for s in subjects_of(store)? {
                    let key = s.to_string();
                    if list.persons.contains(&key) {
                        let mut a = base(
                            format!("watch_person/{}/{key}/{src}", list.id),
                            "watchlist_person".into(),
                            format!(
                                "watch list {:?}: {key} seen at device {}",
                                list.name,
                                ev.device.as_str()
                            ),
                        );
                        a.watch_list = Some(list.id.clone());
                        a.subject = Some(key);
                        out.push(a);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What of an event a watch list can match: face features (with their
/// attribution slot), plates, and persons the event names.
type Watchables<'e> = (Vec<(u8, &'e [f32])>, Vec<model::Plate>, Vec<NodeRef>);

fn watchables(ev: &Event) -> Watchables<'_> {
    let mut features = Vec::new();
    let mut plates = Vec::new();
    let mut named = Vec::new();
    match &ev.body {
        EventBody::FaceCapture {
            feature, person, ..
        } => {
            if let Some(f) = feature {
                features.push((0, f.as_slice()));
            }
            named.extend(person.clone().map(NodeRef::Person));
        }
        EventBody::Access {
            feature, person, ..
        } => {
            if let Some(f) = feature {
                features.push((0, f.as_slice()));
            }
            named.extend(person.clone().map(NodeRef::Person));
        }
        EventBody::VehiclePass {
            plate,
            occupant_features,
            ..
        } => {
            plates.extend(plate.clone());
            for (i, f) in occupant_features.iter().enumerate() {
                features.push((u8::try_from(i + 1).unwrap_or(u8::MAX), f.as_slice()));
            }
        }
        EventBody::Visitor { visitor, .. } => {
            if let Some(f) = &visitor.feature {
                features.push((0, f.as_slice()));
            }
            plates.extend(visitor.plate.clone());
        }
        EventBody::Rfid { person, .. } => named.extend(person.clone().map(NodeRef::Person)),
        _ => {}
    }
    (features, plates, named)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// Region `code` lies within `scope` (the same region or below it).
pub fn region_within(code: &str, scope: &str) -> bool {
    match (model::RegionCode::new(code), model::RegionCode::new(scope)) {
        (Ok(c), Ok(s)) => c.is_within(&s),
        _ => code == scope,
    }
}

/// Index of an event kind in per-kind counters.
pub fn kind_index(k: EventKind) -> usize {
    match k {
        EventKind::FaceCapture => 0,
        EventKind::Access => 1,
        EventKind::VehiclePass => 2,
        EventKind::Visitor => 3,
        EventKind::Probe => 4,
        EventKind::Rfid => 5,
        EventKind::DoorSensor => 6,
        EventKind::DeviceAlarm => 7,
    }
}

pub const KINDS: [EventKind; 8] = [
    EventKind::FaceCapture,
    EventKind::Access,
    EventKind::VehiclePass,
    EventKind::Visitor,
    EventKind::Probe,
    EventKind::Rfid,
    EventKind::DoorSensor,
    EventKind::DeviceAlarm,
];
