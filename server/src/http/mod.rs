//! The HTTP surface: the web console at `/` ([`console`]: every other GET
//! path is its page), GraphQL (POST/GET `/graphql`, WebSocket
//! `/graphql/ws`), the schema at `/schema.graphql`,
//! `/health`, `/metrics` ([`ops`]), and the live intake: `POST /ingest`
//! ([`intake`]: JSON Lines of the contract) and GA/T 1400 ([`viid`]).
//!
//! Intake answers 2xx only for records that are durable; a record that is
//! not stored is never acknowledged.
//!
//! Every GraphQL request and every `/ingest` batch is authenticated from
//! its headers before its body is read (`require_caller`: a bearer
//! token, verified, not revoked, with the holder's grants in force) and
//! rate-limited per token; GraphQL takes queries by GET and POST,
//! mutations only by POST, and POST bodies only as `application/json`
//! holding one operation (no batches). A WebSocket is authenticated at
//! its start and again at every operation and every
//! `server.ws_recheck_secs`; once its token is revoked or expired it is
//! closed with `4403`. GA/T 1400 callers authenticate with HTTP Digest or
//! a device token ([`viid`]). Connections are accepted by [`conn`].

pub mod conn;
pub mod console;
pub mod intake;
pub mod ops;
pub mod viid;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_graphql::http::WebSocketProtocols;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WsMessage};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;

pub use ops::{EXAMPLES, status_json};

use super::engine::Engine;
use super::gql::{self, AnjuSchema};
use super::guard::WsSession;
use super::scope::Principal;

#[derive(Clone)]
struct App {
    engine: Arc<Engine>,
    schema: AnjuSchema,
}

/// The server's routes over an engine.
pub fn router(engine: Arc<Engine>) -> Router {
    let schema = gql::schema(Arc::clone(&engine));
    let cfg = &engine.config.server;
    let limit = cfg.body_limit_mb << 20;
    let timeout = Duration::from_secs(cfg.request_timeout_secs.max(1));
    let app = App {
        engine: Arc::clone(&engine),
        schema,
    };
    let caller = from_fn_with_state(app.clone(), require_caller);
    let viid = from_fn_with_state(app.clone(), viid::viid_caller);
    Router::new()
        .route(
            "/graphql",
            get(graphql).post(graphql).route_layer(caller.clone()),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/schema.graphql", get(ops::sdl))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/ingest", post(intake::ingest).route_layer(caller))
        .route(
            "/VIID/System/Register",
            post(viid::register).route_layer(viid.clone()),
        )
        .route(
            "/VIID/System/Keepalive",
            post(viid::keepalive).route_layer(viid.clone()),
        )
        .route("/VIID/Faces", post(viid::faces).route_layer(viid.clone()))
        .route(
            "/VIID/MotorVehicles",
            post(viid::vehicles).route_layer(viid),
        )
        .fallback(get(console::console))
        .layer(DefaultBodyLimit::max(limit))
        // a declared length over the limit is refused before any of the body is read
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(app)
}

/// The token of an `Authorization: Bearer …` value.
fn bearer(v: &str) -> Option<String> {
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(|t| t.trim().to_owned())
}

/// The caller of a request: the bearer token's principal with its grants
/// in force, or — only when `auth.required` is off — the local
/// all-regions principal. The error says what a legitimate caller needs.
pub fn authenticate(e: &Engine, headers: &HeaderMap) -> Result<Principal, String> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return e.anonymous_principal();
    };
    let token = v
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or("the Authorization header must be `Bearer <token>`")?;
    e.principal_of_token(&token)
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

fn rate_limited(wait: Duration) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
        axum::Json(json!({"errors": [{"message": "too many requests for this token; slow down", "extensions": {"code": "RATE_LIMITED"}}]})),
    )
        .into_response()
}

/// Authenticates a GraphQL or intake request from its headers and takes
/// one request of the token's quota — before the body is read, so a
/// caller without a valid token costs no more than its headers. The
/// principal goes on to the handler as an extension. (An HMAC check and
/// a short read of the caller's grants, both usually kept from its
/// previous request: cheaper than a hop to the blocking pool.)
async fn require_caller(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let e = &app.engine;
    if req.uri().path() == "/graphql" {
        e.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    }
    let p = match authenticate(e, req.headers()) {
        Ok(p) => p,
        Err(msg) => return unauthorized(msg),
    };
    if let Some(g) = req.extensions().get::<conn::Gate>() {
        g.authenticated();
    }
    if let Err(wait) = e.take_quota(&p) {
        return rate_limited(wait);
    }
    req.extensions_mut().insert(p);
    next.run(req).await
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
    Extension(principal): Extension<Principal>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let e = &app.engine;
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
    let resp = app.schema.execute(req.data(principal)).await;
    if resp.is_err() {
        e.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    GraphQLResponse::from(resp).into_response()
}

/// The close code for a connection whose token is no longer good
/// (`graphql-transport-ws`: forbidden).
const CLOSE_FORBIDDEN: u16 = 4403;

/// Subscriptions (and queries, mutations) over a WebSocket: the token
/// comes with the upgrade request (`Authorization`) or in
/// `connection_init`'s payload (`{"Authorization": "Bearer …"}`); without
/// a good one the connection is closed (`4403`). It is checked again at
/// every operation and every `server.ws_recheck_secs`.
async fn graphql_ws(
    State(app): State<App>,
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    gate: Option<Extension<conn::Gate>>,
) -> Response {
    let Some(protocol) = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|ps| {
            ps.split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        })
    else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must name graphql-transport-ws or graphql-ws",
        )
            .into_response();
    };
    let from_header = match headers.get(header::AUTHORIZATION) {
        Some(v) => match v.to_str().ok().and_then(bearer) {
            Some(t) => match app.engine.principal_of_token(&t) {
                Ok(_) => Some(t),
                Err(msg) => return unauthorized(msg),
            },
            None => {
                return unauthorized("the Authorization header must be `Bearer <token>`".into());
            }
        },
        None => None,
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_ws(app, socket, protocol, from_header, gate.map(|g| g.0)))
}

async fn serve_ws(
    app: App,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    from_header: Option<String>,
    gate: Option<conn::Gate>,
) {
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_str().to_owned()),
                Ok(Message::Binary(b)) => String::from_utf8(b.to_vec()).ok(),
                _ => None,
            })
        });
    let session: Arc<std::sync::OnceLock<Arc<WsSession>>> = Arc::default();
    let e = Arc::clone(&app.engine);
    let slot = Arc::clone(&session);
    let ws = async_graphql::http::WebSocket::new(app.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let token = ["Authorization", "authorization"]
                .iter()
                .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                .map(|s| bearer(s).unwrap_or_else(|| s.trim().to_owned()))
                .or(from_header);
            let s = WsSession::new(token);
            let p = {
                let (e, s) = (Arc::clone(&e), Arc::clone(&s));
                tokio::task::spawn_blocking(move || s.principal(&e))
                    .await
                    .map_err(|err| async_graphql::Error::new(err.to_string()))?
            };
            // the slot holds the session, good or not: a refused one closes
            let _ = slot.set(Arc::clone(&s));
            p.map_err(async_graphql::Error::new)?;
            if let Some(g) = &gate {
                g.authenticated();
            }
            let mut data = async_graphql::Data::default();
            data.insert(s);
            Ok(data)
        })
        .keepalive_timeout(None);
    let mut ws = std::pin::pin!(ws);
    let every = Duration::from_secs(app.engine.config.server.ws_recheck_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let close = |why: String| {
        Message::Close(Some(CloseFrame {
            code: CLOSE_FORBIDDEN,
            reason: why.chars().take(120).collect::<String>().into(),
        }))
    };
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(WsMessage::Text(t)) => {
                    if sink.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // a refused connection_init closes as forbidden
                    let refused = session.get().is_some_and(|s| s.ended_now().is_some());
                    let frame = if refused {
                        close(reason)
                    } else {
                        Message::Close(Some(CloseFrame { code, reason: reason.into() }))
                    };
                    let _ = sink.send(frame).await;
                    break;
                }
                None => break,
            },
            _ = tick.tick() => {
                if let Some(s) = session.get() {
                    let (e, s) = (Arc::clone(&app.engine), Arc::clone(s));
                    let _ = tokio::task::spawn_blocking(move || s.principal(&e)).await;
                }
            }
        }
        // an operation or the timer found the token no longer good
        if let Some(s) = session.get()
            && let Some(why) = s.ended_now()
        {
            let _ = sink.send(close(why)).await;
            break;
        }
    }
}
