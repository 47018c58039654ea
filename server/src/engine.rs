//! The server's shared state and its lifecycle: the store of record (one
//! writer, many readers), the projector thread that keeps timelines,
//! relations, the search indexes and the real-time rules ([`crate::rules`])
//! current with what arrives, the watch lists, labels, principals and
//! quotas, and metrics. The census behind the dashboards is
//! [`crate::census`].
//!
//! Intake writes a batch durably and returns (the 2xx is sent only then);
//! the projector is woken and projects it within moments. Readers never wait
//! for projection except while a batch is being written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use graph::{RocksStore, WriteOutcome};
use model::{Clock, CommunityId, DeviceId, EventKind, NodeRef, Record, Timestamp};
use tokio::sync::broadcast;

use super::alerts::{self, Alert, WatchList};
use super::lock;
pub use crate::census::CommunityCensus;
use crate::config::Config;
use crate::graphs::Projector;
pub use crate::rules::cosine;

pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
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
    pub(crate) store: RocksStore,
    pub projector: Projector,
    pub(crate) project_lock: Mutex<()>,
    pub(crate) analysis_lock: Mutex<()>,
    /// The sightings the scheduled job keeps between runs.
    pub(crate) analysis_cache: Mutex<analysis::Cache>,
    /// An archive was merged since the cache was filled (it names the old
    /// archive): the next job reads afresh. A flag, so a merge never waits
    /// for a running job.
    pub(crate) analysis_cache_stale: AtomicBool,
    pub(crate) wake: (Mutex<bool>, Condvar),
    pub(crate) stop: AtomicBool,
    /// The projector thread, joined by [`Engine::shutdown`].
    pub(crate) projector_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub alerts_tx: broadcast::Sender<Alert>,
    pub(crate) watch: RwLock<Vec<WatchList>>,
    pub(crate) census: RwLock<BTreeMap<CommunityId, CommunityCensus>>,
    pub(crate) devices: RwLock<HashMap<DeviceId, Option<(CommunityId, String)>>>,
    /// E-bike tags → (plate, owner), for the anti-theft rule.
    pub(crate) ebikes: RwLock<HashMap<String, (model::Plate, Option<model::PersonId>)>>,
    pub(crate) day_counts: Mutex<HashMap<(DeviceId, NaiveDate), [u64; 8]>>,
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
    pub(crate) elderly_persons: Mutex<Option<(u64, Arc<HashSet<model::PersonId>>)>>,
    /// The latest event time, with the event log's length it was read at
    /// (the elderly check's clock: finding it from every device's newest
    /// sighting was ~40% of a check at a million persons).
    pub(crate) latest_event: Mutex<Option<(u64, Timestamp)>>,
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

    /// How far projection is behind the store (base records, events).
    pub fn lag(&self) -> Result<(u64, u64)> {
        let store = self.store();
        let ck = graph::project::checkpoint(store)?;
        Ok((
            store.base_log_len().saturating_sub(ck.base),
            store.log_len().saturating_sub(ck.events),
        ))
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
