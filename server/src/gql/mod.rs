//! The GraphQL schema, one module per domain — [`archives`], [`search`],
//! [`trajectory`], [`relations`], [`dashboard`], [`places`], [`alerts`] (with the
//! subscription), [`watch_lists`], [`jobs`], [`access`] (grants,
//! investigations, audit, tokens) — each holding its query and mutation
//! object and its own output types, merged here at the root.
//!
//! Naming: a Rust output type is named as its GraphQL type; a store
//! record it wraps is imported with a `Rec` suffix (`AlertRec`).
//!
//! Every resolver reads through the request's [`Principal`] (the region
//! choke point) and runs storage work off the async threads (`blocking`).
//! Errors map to `extensions.code` in one place (`crate::errors`). Adding
//! a field touches its domain's file and, if it returns personal data,
//! the role table (`crate::scope::FIELDS`).

pub mod access;
pub mod alerts;
pub mod archives;
pub mod dashboard;
pub mod jobs;
pub mod places;
pub mod relations;
pub mod search;
pub mod trajectory;
pub mod watch_lists;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ComplexObject, Context, InputObject, Object, Schema, SimpleObject};
use futures_util::Stream;
use model::{
    BaseKind, BaseRecord, Clock, CommunityId, EventBody, LonLat, NodeRef, RelKind, Timestamp,
};
use tokio::sync::OnceCell;

use crate::alerts::{
    self as book, Alert as AlertRec, AlertStatus, Disposition, WatchFace as WatchFaceRec,
    WatchList as WatchRec,
};
use crate::engine::{Engine, KINDS, now};
use crate::errors::{ApiError, ApiResult};
use crate::scope::Principal;

pub use access::*;
pub use alerts::*;
pub use archives::*;
pub use dashboard::*;
pub use jobs::*;
pub use places::*;
pub use relations::*;
pub use search::*;
pub use trajectory::*;
pub use watch_lists::*;

/// The root query: each domain's fields, in this order.
#[derive(async_graphql::MergedObject, Default, Debug)]
pub struct Query(
    ArchivesQuery,
    SearchQuery,
    TrajectoryQuery,
    RelationsQuery,
    DashboardQuery,
    PlacesQuery,
    AlertsQuery,
    WatchListsQuery,
    JobsQuery,
    AccessQuery,
);

/// The root mutation: each domain's, in this order.
#[derive(async_graphql::MergedObject, Default, Debug)]
pub struct Mutation(
    AlertsMutation,
    WatchListsMutation,
    JobsMutation,
    ArchivesMutation,
    AccessMutation,
);

/// The schema itself: reached only through the guard.
pub(crate) type Inner = Schema<Query, Mutation, Subscription>;

/// The schema behind its guard (roles, masking, audit: `server::guard`).
pub type AnjuSchema = super::guard::Guarded;

/// Builds the schema over an engine, with the configured limits, behind
/// the guard.
pub fn schema(engine: Arc<Engine>) -> AnjuSchema {
    let build = |mode: async_graphql::ValidationMode| {
        let s = &engine.config.server;
        let mut b = Schema::build(Query::default(), Mutation::default(), Subscription)
            .limit_depth(s.max_depth)
            .limit_complexity(s.max_complexity)
            .validation_mode(mode);
        if !s.introspection || s.production {
            b = b.disable_introspection();
        }
        b.data(Arc::clone(&engine)).finish()
    };
    // every rule for a text not yet seen valid; for one seen valid (the
    // guard remembers), only the limits: see `guard`
    let strict = build(async_graphql::ValidationMode::Strict);
    let fast = build(async_graphql::ValidationMode::Fast);
    super::guard::Guarded::new(strict, fast, engine)
}

/// The schema's SDL (`api/schema.graphql`), without an engine.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

/// What every resolver needs from the request context.
pub(crate) trait Ctx {
    fn engine(&self) -> &Arc<Engine>;
    fn principal(&self) -> &Principal;
    fn max_page(&self) -> usize;
    /// `first` checked against the maximum page size (default 20).
    fn page_size(&self, first: Option<i32>) -> ApiResult<usize>;
    /// Notes a record the request read, for its audit entry
    /// ([`super::guard::Trail`]).
    fn note(&self, record: &str);
}

impl Ctx for Context<'_> {
    fn engine(&self) -> &Arc<Engine> {
        self.data_unchecked::<Arc<Engine>>()
    }

    /// The request's principal; a request without one sees nothing (the
    /// HTTP layer always sets one).
    fn principal(&self) -> &Principal {
        static NOBODY: std::sync::OnceLock<Principal> = std::sync::OnceLock::new();
        self.data_opt::<Principal>()
            .unwrap_or_else(|| NOBODY.get_or_init(Principal::nobody))
    }

    fn max_page(&self) -> usize {
        self.engine().config.server.max_page_size
    }

    fn note(&self, record: &str) {
        if let Some(t) = self.data_opt::<Arc<super::guard::Trail>>() {
            t.note(record);
        }
    }

    fn page_size(&self, first: Option<i32>) -> ApiResult<usize> {
        let max = self.max_page();
        match first {
            None => Ok(20.min(max)),
            Some(n) if n < 0 => Err(ApiError::BadInput("first must not be negative".into())),
            Some(n) if n as usize > max => Err(ApiError::BadInput(format!(
                "first must be at most {max} (the maximum page size)"
            ))),
            Some(n) => Ok(n as usize),
        }
    }
}

/// Runs a bounded read — a few point reads and short scans, served from
/// RocksDB's cache in microseconds — on the calling task: the hop to the
/// blocking pool and back costs more than the read (the full archive made
/// a dozen such hops). With the Neo4j backend a relation read is a network
/// round trip (on its own runtime), so there it goes to the blocking pool
/// as [`blocking`] does — as anything that can run long does.
pub(crate) async fn quick<T: Send + 'static>(
    ctx: &Context<'_>,
    f: impl FnOnce(&Engine) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if ctx.engine().relations().backend() == "neo4j" {
        blocking(ctx, f).await
    } else {
        f(ctx.engine())
    }
}

/// Runs storage work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    ctx: &Context<'_>,
    f: impl FnOnce(&Engine) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let e = Arc::clone(ctx.engine());
    tokio::task::spawn_blocking(move || f(&e))
        .await
        .map_err(|e| ApiError::Internal(format!("task: {e}")))?
}

/// Times out: RFC 3339 in the deployment's zone.
pub fn fmt_time(clock: &Clock, t: Timestamp) -> String {
    clock
        .to_local(t)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Times in: as the ingest contract reads them (RFC 3339, local
/// `YYYY-MM-DD[ HH:MM:SS]`).
pub fn parse_time(s: &str, clock: &Clock) -> ApiResult<Timestamp> {
    ingest::parse_time(s, clock).map_err(ApiError::BadInput)
}

pub fn parse_time_opt(s: Option<&str>, clock: &Clock) -> ApiResult<Option<Timestamp>> {
    s.map(|s| parse_time(s, clock)).transpose()
}

fn node(s: &str) -> ApiResult<NodeRef> {
    NodeRef::parse(s).map_err(|e| ApiError::BadInput(format!("{s:?}: {e}")))
}

/// The archive of `n` if it exists and the caller may see it; otherwise
/// not found (the two look the same).
pub(crate) async fn archive(ctx: &Context<'_>, n: NodeRef) -> ApiResult<Archive> {
    let principal = ctx.principal().clone();
    let n2 = n.clone();
    let found = quick(ctx, move |e| {
        let store = e.store();
        let exists = crate::nodes::exists(store, e.relations(), &n2)?;
        // the scope check runs whether or not the thing exists, so the two
        // answers take the same path (and about the same time)
        let visible = principal.sees(e, store, &n2)?;
        Ok(exists && visible)
    })
    .await?;
    if found {
        ctx.note(&n.to_string());
        Ok(Archive::new(n))
    } else {
        Err(ApiError::NotFound(n.to_string()))
    }
}

type Json = async_graphql::Json<serde_json::Value>;
