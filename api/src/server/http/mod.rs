//! The HTTP surface: GraphQL (POST/GET `/graphql`, WebSocket
//! `/graphql/ws`), the playground at `/`, the schema at `/schema.graphql`,
//! `/health`, `/metrics`, and the live intake: `POST /ingest` (JSON Lines
//! of the contract) and GA/T 1400 (`/VIID/...`).
//!
//! Intake answers 2xx only for records that are durable; a record that is
//! not stored is never acknowledged.
//!
//! Every GraphQL request and every `/ingest` batch is authenticated here
//! ([`authenticate`]: a bearer token, verified, not revoked, with the
//! holder's grants in force) and rate-limited per token; GraphQL takes
//! queries by GET and POST, mutations only by POST, and POST bodies only as
//! `application/json` holding one operation (no batches). GA/T 1400 devices
//! authenticate by registering; objects from a device that has not
//! registered are refused and logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use graph::WriteOutcome;
use model::Record;
use serde_json::{Value, json};

use super::engine::{Engine, now};
use super::gql::{self, AnjuSchema};
use super::scope::Principal;

#[derive(Clone)]
struct App {
    engine: Arc<Engine>,
    schema: AnjuSchema,
    playground: Arc<String>,
}

/// The server's routes over an engine.
pub fn router(engine: Arc<Engine>) -> Router {
    router_with(engine, None)
}

/// The routes, with a token the playground page sends on every request
/// (`anju serve --playground-token`, loopback only: anyone who loads the
/// page holds it).
pub fn router_with(engine: Arc<Engine>, playground_token: Option<&str>) -> Router {
    let schema = gql::schema(Arc::clone(&engine));
    let cfg = &engine.config.server;
    let playground = Arc::new(playground_page(&engine, playground_token));
    let limit = cfg.body_limit_mb << 20;
    let timeout = Duration::from_secs(cfg.request_timeout_secs.max(1));
    let app = App {
        engine: Arc::clone(&engine),
        schema,
        playground,
    };
    Router::new()
        .route("/", get(playground_handler))
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/schema.graphql", get(sdl))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/ingest", post(ingest))
        .route("/VIID/System/Register", post(viid_register))
        .route("/VIID/System/Keepalive", post(viid_keepalive))
        .route("/VIID/Faces", post(viid_faces))
        .route("/VIID/MotorVehicles", post(viid_vehicles))
        .layer(DefaultBodyLimit::max(limit))
        // a declared length over the limit is refused before any of the body is read
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(app)
}

/// Example queries the playground opens with, on ids of the data served.
fn playground_page(engine: &Engine, token: Option<&str>) -> String {
    let store = engine.store();
    // the first registered person (the scan stops there)
    let mut person = String::from("320902198001011234");
    let _ = store.for_each_base(model::BaseKind::Person, |r| {
        if let model::BaseRecord::Person(p) = r {
            person = p.id.as_str().to_owned();
        }
        Err(graph::Error::Invalid("found".into()))
    });
    let region = engine
        .census()
        .values()
        .next()
        .map(|c| c.region.clone())
        .unwrap_or_else(|| "320902".into());
    let example = format!(
        r#"# Anju (安居) — examples on the data this server holds.
# Run one with the ▶ button (pick it from the menu).

# 全息档案: a person's archive in one query
query PersonArchive {{
  person(id: "{person}") {{
    label
    person {{ name idNumber phone household categories }}
    houses {{ items {{ kind node {{ ref label }} firstSeen historical }} }}
    cohabitants {{ total items {{ kind node {{ ref label }} strength }} }}
    companions(limit: 5) {{ total more items {{ node {{ ref label }} strength lastSeen evidence(limit: 3) {{ event time device }} }} }}
    vehicles {{ items {{ kind node {{ ref }} }} }}
    sightings(first: 5) {{ edges {{ node {{ time device type role }} }} pageInfo {{ hasNextPage endCursor }} }}
    trajectorySummary(days: 30) {{ footholds {{ community nights }} communities {{ community days }} byHour }}
    openAlerts {{ id kind title }}
  }}
}}

# Full-text: names, pinyin (zhangwei, zw), ID suffixes, partial plates (浙B*2345)
query Search {{
  search(query: "张", first: 10) {{
    totalCount
    facets {{ kinds {{ key count }} communities {{ key count }} }}
    edges {{ node {{ score entity {{ ref label }} }} }}
  }}
}}

# Relations: 2-hop neighbourhood for a graph view
query Neighbourhood {{
  subgraph(seeds: ["person:{person}"], hops: 2, maxNodes: 50) {{
    truncated
    nodes {{ hop entity {{ ref kind label }} }}
    edges {{ kind from to strength }}
  }}
}}

# Dashboard for a region
query Dashboard {{
  dashboard(region: "{region}", from: "2026-10-01", to: "2026-12-31") {{
    persons houses vehicles devices events
    personsByHousehold {{ key count }}
    eventsPerDay {{ day type count }}
    alertsByKind {{ key count }}
    falseAlarmRate
    topCommunities {{ community name events }}
  }}
}}

# Alerts: the newest, and the workflow
query Alerts {{
  alerts(first: 10) {{ totalCount edges {{ node {{ id kind status title time subject }} }} }}
}}

# Live: new alerts as they are raised (watch-list hits, device alarms)
subscription LiveAlerts {{
  alerts {{ id kind title region time }}
}}
"#
    );
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql/ws")
        .title("Anju (安居) GraphQL");
    if let Some(b) = &bearer {
        page = page
            .header("Authorization", b)
            .ws_connection_param("Authorization", b);
    }
    let html = page.finish();
    let default = serde_json::to_string(&example).unwrap_or_default();
    html.replacen(
        "React.createElement(GraphiQL, {",
        &format!("React.createElement(GraphiQL, {{\n          defaultQuery: {default},"),
        1,
    )
}

async fn playground_handler(State(app): State<App>) -> Response {
    if !app.engine.config.server.playground || app.engine.config.server.production {
        return (StatusCode::NOT_FOUND, "the playground is turned off").into_response();
    }
    Html(app.playground.as_str().to_owned()).into_response()
}

/// The caller of a request: the bearer token's principal with its grants
/// in force, or — only when `auth.required` is off — the local
/// all-regions principal. The error says what a legitimate caller needs.
pub fn authenticate(e: &Engine, headers: &HeaderMap) -> Result<Principal, String> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return if e.config.auth.required {
            Err(
                "a bearer token is required (Authorization: Bearer …, from `anju token create`)"
                    .into(),
            )
        } else {
            Ok(Principal::all_regions())
        };
    };
    let token = v
        .to_str()
        .ok()
        .and_then(|s| {
            s.strip_prefix("Bearer ")
                .or_else(|| s.strip_prefix("bearer "))
        })
        .ok_or("the Authorization header must be `Bearer <token>`")?;
    principal_of_token(e, token.trim())
}

fn principal_of_token(e: &Engine, token: &str) -> Result<Principal, String> {
    let c = e.auth.verify(token).map_err(|err| err.to_string())?;
    let grants = e.grants.active(e.store(), &c.sub, now()).map_err(|err| {
        tracing::error!(error = %err, "reading grants");
        "the server could not read the caller's grants".to_owned()
    })?;
    Ok(Principal::from_claims(&c, grants))
}

/// [`authenticate`], on the request's task: an HMAC check and a short scan
/// of the caller's grants in the store (both usually kept from the
/// caller's previous request), which cost less than a hop to the blocking
/// pool and back (~80 µs here); a refusal is the 401 to send.
fn caller(e: &Engine, headers: &HeaderMap) -> Result<Principal, Box<Response>> {
    authenticate(e, headers).map_err(|msg| Box::new(unauthorized(msg)))
}

fn unauthorized(msg: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(
            json!({"errors": [{"message": msg, "extensions": {"code": "UNAUTHENTICATED"}}]}),
        ),
    )
        .into_response()
}

/// One request of the caller's quota; `Err` when it is used up.
fn rate_check(e: &Engine, p: &Principal) -> Result<(), Box<Response>> {
    match e.take_quota(p) {
        Ok(()) => Ok(()),
        Err(wait) => {
            Err(Box::new((
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
                axum::Json(json!({"errors": [{"message": "too many requests for this token; slow down", "extensions": {"code": "RATE_LIMITED"}}]})),
            )
                .into_response()))
        }
    }
}

fn bad_request(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        axum::Json(
            json!({"errors": [{"message": msg.into(), "extensions": {"code": "BAD_REQUEST"}}]}),
        ),
    )
        .into_response()
}

/// Whether the operation a request would run is a mutation.
fn is_mutation(req: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return false;
    };
    doc.operations.iter().any(|(name, op)| {
        op.node.ty == OperationType::Mutation
            && req
                .operation_name
                .as_deref()
                .is_none_or(|want| name.is_some_and(|n| n.as_str() == want))
    })
}

async fn graphql(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let e = &app.engine;
    e.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let principal = match caller(e, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Err(r) = rate_check(e, &principal) {
        return *r;
    }
    let req = if method == Method::GET {
        match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
            Ok(r) if is_mutation(&r) => {
                return bad_request(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "mutations are accepted only by POST with Content-Type: application/json",
                );
            }
            Ok(r) => r,
            Err(err) => return bad_request(StatusCode::BAD_REQUEST, err.to_string()),
        }
    } else {
        let json_body = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !json_body {
            return bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST a JSON body with Content-Type: application/json",
            );
        }
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return bad_request(
                StatusCode::BAD_REQUEST,
                "batched requests are not accepted; send one operation per request",
            );
        }
        match serde_json::from_slice::<async_graphql::Request>(&body) {
            Ok(r) => r,
            Err(err) => {
                return bad_request(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not a GraphQL request: {err}"),
                );
            }
        }
    };
    let mut resp = app.schema.execute(req.data(principal)).await;
    super::errors::annotate(&mut resp);
    if resp.is_err() {
        e.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    GraphQLResponse::from(resp).into_response()
}

/// Subscriptions over WebSocket: the token comes with the upgrade request
/// (`Authorization`) or in `connection_init`'s payload
/// (`{"Authorization": "Bearer …"}`); without one the connection is refused.
async fn graphql_ws(
    State(app): State<App>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
) -> Response {
    let e = Arc::clone(&app.engine);
    let from_header = if headers.contains_key(header::AUTHORIZATION) {
        match caller(&e, &headers) {
            Ok(p) => Some(p),
            Err(r) => return *r,
        }
    } else {
        None
    };
    let schema = app.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                        .map(|s| s.trim_start_matches("Bearer ").trim().to_owned());
                    let p = match (token, from_header) {
                        (Some(t), _) => {
                            let e2 = Arc::clone(&e);
                            tokio::task::spawn_blocking(move || principal_of_token(&e2, &t))
                                .await
                                .map_err(|err| async_graphql::Error::new(err.to_string()))?
                        }
                        (None, Some(p)) => Ok(p),
                        (None, None) => authenticate(&e, &HeaderMap::new()),
                    }
                    .map_err(async_graphql::Error::new)?;
                    let mut data = async_graphql::Data::default();
                    data.insert(p);
                    Ok(data)
                })
                .serve()
        })
}

async fn sdl(State(app): State<App>) -> impl IntoResponse {
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
    authenticate(e, headers).is_ok_and(|p| p.regions.is_none())
}

/// Liveness for anyone (status, version, uptime); the counts and lag for an
/// all-regions caller.
async fn health(State(app): State<App>, headers: HeaderMap) -> Response {
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
async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    let e = Arc::clone(&app.engine);
    let ok = tokio::task::spawn_blocking(move || operator(&e, &headers))
        .await
        .unwrap_or(false);
    if !ok {
        return unauthorized("metrics need an admin token (Authorization: Bearer …)".into());
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

// ----- intake ----------------------------------------------------------------------

fn outcome_str(o: &WriteOutcome) -> &'static str {
    match o {
        WriteOutcome::Accepted => "accepted",
        WriteOutcome::Duplicate => "duplicate",
        WriteOutcome::Conflict => "conflict",
    }
}

/// Writes records durably in batches; `None` for a batch the store could
/// not write (and everything after it).
async fn store_records(
    engine: &Arc<Engine>,
    records: Vec<Record>,
) -> (Vec<Option<WriteOutcome>>, Option<(StatusCode, String)>) {
    let batch = engine.config.ingest.batch_size.max(1);
    let e = Arc::clone(engine);
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(records.len());
        let mut error = None;
        for chunk in records.chunks(batch) {
            if error.is_some() {
                out.extend(chunk.iter().map(|_| None));
                continue;
            }
            match e.write(chunk) {
                Ok(o) => out.extend(o.into_iter().map(Some)),
                Err(err) => {
                    tracing::error!(error = %err, "intake: store write failed");
                    // a full disk is 507 (send again once space is freed),
                    // anything else 503
                    let status = if err.is_no_space() {
                        StatusCode::INSUFFICIENT_STORAGE
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    error = Some((status, err.to_string()));
                    out.extend(chunk.iter().map(|_| None));
                }
            }
        }
        (out, error)
    })
    .await
    .unwrap_or_else(|err| {
        (
            Vec::new(),
            Some((StatusCode::SERVICE_UNAVAILABLE, err.to_string())),
        )
    })
}

fn parse_config(engine: &Engine) -> Result<ingest::ParseConfig, Box<Response>> {
    engine
        .config
        .parse_config(now())
        .map_err(|e| Box::new((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()))
}

fn json_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": msg.into()}))).into_response()
}

/// `POST /ingest`: JSON Lines of the contract. Answers per record (line,
/// id, `accepted` / `duplicate` / `conflict` / `rejected` with problems);
/// 200 when every record is stored, 207 when some were rejected, 422 when
/// none could be, 503 (with what was stored) when the store failed.
async fn ingest(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let principal = match caller(&app.engine, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if !principal.role.may_ingest() {
        return json_error(
            StatusCode::FORBIDDEN,
            format!("the {} role may not post records", principal.role.as_str()),
        );
    }
    if let Err(r) = rate_check(&app.engine, &principal) {
        return *r;
    }
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => {
            app.engine
                .metrics
                .ingest_rejected
                .fetch_add(1, Ordering::Relaxed);
            let line = body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return json_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "body is not UTF-8 (line {line}, byte {}); send UTF-8 JSON Lines",
                    e.valid_up_to()
                ),
            );
        }
    };
    let cfg = match parse_config(&app.engine) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut results: Vec<Value> = Vec::new();
    let mut records = Vec::new();
    let mut slots = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = ingest::parse_line(line, &cfg).and_then(|r| match r {
            Some(r) => match may_post(&app.engine, &principal, &r) {
                Ok(()) => Ok(Some(r)),
                Err(why) => {
                    tracing::warn!(caller = %principal.name, line = i + 1, why, "intake: record refused");
                    Err(vec![ingest::FieldProblem {
                        field: "device".into(),
                        why,
                    }])
                }
            },
            None => Ok(None),
        });
        match parsed {
            Ok(None) => {}
            Ok(Some(r)) => {
                slots.push(results.len());
                results.push(json!({"line": i + 1, "id": record_id(&r)}));
                records.push(r);
            }
            Err(problems) => {
                app.engine
                    .metrics
                    .ingest_rejected
                    .fetch_add(1, Ordering::Relaxed);
                results.push(json!({
                    "line": i + 1,
                    "status": "rejected",
                    "problems": problems.iter().map(|p| json!({"field": p.field, "why": p.why})).collect::<Vec<_>>(),
                }));
            }
        }
    }
    if results.is_empty() {
        return json_error(StatusCode::BAD_REQUEST, "the body holds no records");
    }
    let (outcomes, error) = store_records(&app.engine, records).await;
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for (slot, o) in slots
        .iter()
        .zip(outcomes.iter().chain(std::iter::repeat(&None)))
    {
        let s = o.as_ref().map_or("not_stored", outcome_str);
        results[*slot]["status"] = json!(s);
    }
    for r in &results {
        *counts
            .entry(match r["status"].as_str() {
                Some("accepted") => "accepted",
                Some("duplicate") => "duplicates",
                Some("conflict") => "conflicts",
                Some("rejected") => "rejected",
                _ => "not_stored",
            })
            .or_default() += 1;
    }
    let stored = counts.get("accepted").copied().unwrap_or(0)
        + counts.get("duplicates").copied().unwrap_or(0)
        + counts.get("conflicts").copied().unwrap_or(0);
    let rejected = counts.get("rejected").copied().unwrap_or(0);
    let status = if let Some((status, _)) = &error {
        *status
    } else if rejected == 0 {
        StatusCode::OK
    } else if stored > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut body = json!({
        "accepted": counts.get("accepted").copied().unwrap_or(0),
        "duplicates": counts.get("duplicates").copied().unwrap_or(0),
        "conflicts": counts.get("conflicts").copied().unwrap_or(0),
        "rejected": rejected,
        "results": results,
    });
    if let Some((_, e)) = error {
        body["error"] = json!(format!(
            "the store could not write: {e}; records marked not_stored were not acknowledged"
        ));
    }
    (status, axum::Json(body)).into_response()
}

/// Whether the caller may post a record: a device token its own device's
/// events; a regional token events of devices in its regions; registers
/// (base records) only an all-regions caller.
fn may_post(e: &Engine, p: &Principal, r: &Record) -> Result<(), String> {
    match (r, &p.device) {
        (Record::Event(ev), Some(d)) if ev.device.as_str() == d => Ok(()),
        (_, Some(d)) => Err(format!(
            "a device token posts only events of its device {d}"
        )),
        (_, None) if p.regions.is_none() => Ok(()),
        (Record::Event(ev), None) => {
            let region = e
                .device_place(e.store(), &ev.device)
                .map_err(|err| err.to_string())?
                .map(|(_, r)| r);
            if p.sees_region(region.as_deref()) {
                Ok(())
            } else {
                Err(format!(
                    "device {} is not a registered device of the caller's regions",
                    ev.device.as_str()
                ))
            }
        }
        (Record::Base(_), None) => {
            Err("registers (base records) are posted by an all-regions token".into())
        }
    }
}

fn record_id(r: &Record) -> String {
    match r {
        Record::Event(e) => e.id.as_str().to_owned(),
        Record::Base(b) => format!("{}:{}", b.kind().as_str(), b.key()),
    }
}

// ----- GA/T 1400 ---------------------------------------------------------------------

fn viid_time(e: &Engine) -> String {
    e.clock.to_local(now()).format("%Y%m%d%H%M%S").to_string()
}

fn viid_status(e: &Engine, url: &str, id: &str, code: &str, msg: &str) -> Value {
    json!({
        "Id": id,
        "RequestURL": url,
        "StatusCode": code,
        "StatusString": msg,
        "LocalTime": viid_time(e),
    })
}

fn viid_single(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/VIID+JSON;charset=UTF-8")],
        axum::Json(json!({"ResponseStatusObject": v})),
    )
        .into_response()
}

fn viid_list(status: StatusCode, vs: Vec<Value>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/VIID+JSON;charset=UTF-8")],
        axum::Json(json!({"ResponseStatusListObject": {"ResponseStatusObject": vs}})),
    )
        .into_response()
}

async fn viid_register(State(app): State<App>, body: Bytes) -> Response {
    let url = "/VIID/System/Register";
    match ingest::gat1400::parse_device_object(&body, "RegisterObject") {
        Ok(id) => {
            let known = {
                let store = app.engine.store();
                matches!(model::DeviceId::new(&id), Ok(d) if store.base(model::BaseKind::Device, d.as_str()).ok().flatten().is_some())
            };
            if !known {
                tracing::warn!(device = %id, "GA/T 1400: registration of a device not in the device register refused");
                return viid_single(
                    StatusCode::FORBIDDEN,
                    viid_status(
                        &app.engine,
                        url,
                        &id,
                        "4",
                        "device not in the device register",
                    ),
                );
            }
            if let Ok(mut m) = app.engine.viid_devices.lock() {
                m.insert(id.clone(), now());
            }
            viid_single(
                StatusCode::OK,
                viid_status(&app.engine, url, &id, "0", "OK"),
            )
        }
        Err(e) => viid_single(
            StatusCode::BAD_REQUEST,
            viid_status(&app.engine, url, "", e.status_code(), e.message()),
        ),
    }
}

async fn viid_keepalive(State(app): State<App>, body: Bytes) -> Response {
    let url = "/VIID/System/Keepalive";
    match ingest::gat1400::parse_device_object(&body, "KeepaliveObject") {
        Ok(id) => {
            let known = app
                .engine
                .viid_devices
                .lock()
                .map(|mut m| match m.get_mut(&id) {
                    Some(t) => {
                        *t = now();
                        true
                    }
                    None => false,
                })
                .unwrap_or(false);
            if known {
                viid_single(
                    StatusCode::OK,
                    viid_status(&app.engine, url, &id, "0", "OK"),
                )
            } else {
                viid_single(
                    StatusCode::OK,
                    viid_status(
                        &app.engine,
                        url,
                        &id,
                        "4",
                        "device not registered; register first",
                    ),
                )
            }
        }
        Err(e) => viid_single(
            StatusCode::BAD_REQUEST,
            viid_status(&app.engine, url, "", e.status_code(), e.message()),
        ),
    }
}

async fn viid_faces(State(app): State<App>, body: Bytes) -> Response {
    viid_objects(app, body, "/VIID/Faces", ingest::gat1400::parse_faces).await
}

async fn viid_vehicles(State(app): State<App>, body: Bytes) -> Response {
    viid_objects(
        app,
        body,
        "/VIID/MotorVehicles",
        ingest::gat1400::parse_motor_vehicles,
    )
    .await
}

type ViidParser = fn(
    &[u8],
    &ingest::ParseConfig,
) -> Result<Vec<ingest::gat1400::ViidObject>, ingest::gat1400::ViidError>;

async fn viid_objects(app: App, body: Bytes, url: &str, parse: ViidParser) -> Response {
    let cfg = match parse_config(&app.engine) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let objs = match parse(&body, &cfg) {
        Ok(o) => o,
        Err(e) => {
            return viid_list(
                StatusCode::BAD_REQUEST,
                vec![viid_status(
                    &app.engine,
                    url,
                    "",
                    e.status_code(),
                    e.message(),
                )],
            );
        }
    };
    let mut statuses: Vec<Value> = Vec::with_capacity(objs.len());
    let mut records = Vec::new();
    let mut slots = Vec::new();
    // the registrations are read under their lock, which ends before the write
    {
        let registered = app
            .engine
            .viid_devices
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for o in objs {
            let from = match &o.record {
                Ok(Record::Event(ev)) => Some(ev.device.as_str()),
                _ => None,
            };
            if let Some(d) = from.filter(|d| !registered.contains_key(*d)) {
                tracing::warn!(device = %d, object = %o.id, "GA/T 1400: object from an unregistered device refused");
                app.engine
                    .metrics
                    .ingest_rejected
                    .fetch_add(1, Ordering::Relaxed);
                statuses.push(viid_status(
                    &app.engine,
                    url,
                    &o.id,
                    "4",
                    "device not registered; register first",
                ));
                continue;
            }
            match o.record {
                Ok(r) => {
                    slots.push(statuses.len());
                    records.push(r);
                    statuses.push(viid_status(&app.engine, url, &o.id, "0", "OK"));
                }
                Err(problems) => {
                    app.engine
                        .metrics
                        .ingest_rejected
                        .fetch_add(1, Ordering::Relaxed);
                    let msg = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.field, p.why))
                        .collect::<Vec<_>>()
                        .join("; ");
                    statuses.push(viid_status(&app.engine, url, &o.id, "8", &msg));
                }
            }
        }
    }
    let (outcomes, error) = store_records(&app.engine, records).await;
    for (slot, o) in slots
        .iter()
        .zip(outcomes.iter().chain(std::iter::repeat(&None)))
    {
        match o {
            Some(WriteOutcome::Accepted) => {}
            Some(WriteOutcome::Duplicate) => {
                statuses[*slot]["StatusString"] = json!("OK (already received)")
            }
            Some(WriteOutcome::Conflict) => {
                statuses[*slot]["StatusCode"] = json!("8");
                statuses[*slot]["StatusString"] =
                    json!("an object with this id and different content was received before");
            }
            None => {
                statuses[*slot]["StatusCode"] = json!("1");
                statuses[*slot]["StatusString"] = json!("not stored; send again");
            }
        }
    }
    let status = error.map_or(StatusCode::OK, |(status, _)| status);
    viid_list(status, statuses)
}
