//! Operations: the schema, the playground's examples, `/health` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::App;
use crate::engine::Engine;

/// The playground's example queries: no personal value in them (the ids
/// come from the caller's own answers, through variables); a test runs
/// every one against the schema.
pub const EXAMPLES: &str = include_str!("examples.graphql");

pub(super) async fn sdl(State(app): State<App>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        app.schema.sdl(),
    )
}

/// What the server holds and how far projection is behind.
pub fn status_json(e: &Engine) -> Value {
    let (lag_base, lag_events) = e.lag().unwrap_or((u64::MAX, u64::MAX));
    let store = e.store();
    json!({
        "status": if e.last_projection_error.lock().map(|g| g.is_none()).unwrap_or(false) { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": e.started.elapsed().as_secs(),
        "events": store.log_len(),
        "base_records": store.base_log_len(),
        "projection_lag": {"base": lag_base, "events": lag_events},
        "graph_backend": e.relations().backend(),
        "text_documents": e.projector.texts.index.num_docs(),
        "alerts_raised": e.metrics.alerts_raised.load(Ordering::Relaxed),
        "last_projection_error": e.last_projection_error.lock().ok().and_then(|g| g.clone()),
    })
}

/// Whether the request is an all-regions caller's (the deployment-wide
/// counts of `/health` and `/metrics` are for operators, not for anyone).
fn operator(e: &Engine, headers: &HeaderMap) -> bool {
    super::authenticate(e, headers).is_ok_and(|p| p.regions.is_none())
}

/// Liveness for anyone (status, version, uptime); the counts and lag for an
/// all-regions caller.
pub(super) async fn health(State(app): State<App>, headers: HeaderMap) -> Response {
    let e = Arc::clone(&app.engine);
    match tokio::task::spawn_blocking(move || {
        let v = status_json(&e);
        if operator(&e, &headers) {
            v
        } else {
            json!({"status": v["status"], "version": v["version"], "uptime_secs": v["uptime_secs"]})
        }
    })
    .await
    {
        Ok(v) => axum::Json(v).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Prometheus metrics, for an all-regions caller (a scraper with an admin
/// token).
pub(super) async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    let e = Arc::clone(&app.engine);
    let ok = tokio::task::spawn_blocking(move || operator(&e, &headers))
        .await
        .unwrap_or(false);
    if !ok {
        return super::unauthorized("metrics need an admin token (Authorization: Bearer …)".into());
    }
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::registry::Registry;
    let e = Arc::clone(&app.engine);
    let (lag, events) = tokio::task::spawn_blocking(move || {
        (e.lag().map(|l| l.1).unwrap_or(0), e.store().log_len())
    })
    .await
    .unwrap_or((0, 0));
    let m = &app.engine.metrics;
    let mut reg = Registry::with_prefix("anju");
    let c = |a: &std::sync::atomic::AtomicU64| ConstCounter::new(a.load(Ordering::Relaxed));
    reg.register(
        "graphql_requests",
        "GraphQL requests",
        c(&m.graphql_requests),
    );
    reg.register(
        "graphql_errors",
        "GraphQL responses with errors",
        c(&m.graphql_errors),
    );
    reg.register("ingest_accepted", "records stored", c(&m.ingest_accepted));
    reg.register(
        "ingest_duplicates",
        "records already stored",
        c(&m.ingest_duplicates),
    );
    reg.register(
        "ingest_conflicts",
        "records conflicting with a stored one",
        c(&m.ingest_conflicts),
    );
    reg.register(
        "ingest_rejected",
        "records refused as invalid",
        c(&m.ingest_rejected),
    );
    reg.register(
        "ingest_failed_batches",
        "batches the store could not write",
        c(&m.ingest_failed_batches),
    );
    reg.register(
        "alerts_raised",
        "alerts raised by the real-time rules",
        c(&m.alerts_raised),
    );
    reg.register(
        "projection_errors",
        "failed projection steps",
        c(&m.projection_errors),
    );
    reg.register(
        "projection_lag_events",
        "events stored but not yet projected",
        ConstGauge::new(lag as i64),
    );
    reg.register(
        "store_events",
        "events in the store",
        ConstGauge::new(events as i64),
    );
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
