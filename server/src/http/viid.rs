//! GA/T 1400 intake (视图库): `Register`, `Keepalive`, `Faces`,
//! `MotorVehicles`.
//!
//! Every request is authenticated before its body is read (`viid_caller`):
//! HTTP Digest with a credential an administrator made (`anju viid add`), as
//! the standard's platforms do — a device's own, or a lower platform's —
//! or a device token (`Authorization: Bearer`). Anything else is
//! challenged (`401`, `WWW-Authenticate: Digest …`). Every object is bound
//! to the authenticated caller: a device's credential or token posts only
//! objects whose `DeviceID` is its own, a platform's only those of
//! registered devices in its regions; the rest are refused object by
//! object (`StatusCode` `4`) and counted in one log line per burst.
//! A caller registers (`Register`, with its own id) before it posts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use graph::WriteOutcome;
use model::Record;
use serde_json::{Value, json};

use super::App;
use super::conn::Gate;
use super::intake::{parse_config, store_records};
use crate::auth::Role;
use crate::auth::digest::{Credential, CredentialKind, Refusal};
use crate::engine::{Engine, now};

/// Who is calling, as GA/T 1400 authenticated them.
#[derive(Debug, Clone)]
pub enum ViidCaller {
    /// Digest with a device's or a platform's credential.
    Credential(Credential),
    /// A device token's device.
    Device(String),
}

impl ViidCaller {
    /// The id it registers and keeps alive with.
    pub fn id(&self) -> &str {
        match self {
            Self::Credential(c) => &c.id,
            Self::Device(d) => d,
        }
    }

    /// Whether it may post an object of `device`; why not.
    fn may_post(&self, e: &Engine, device: &str) -> Result<(), &'static str> {
        match self {
            Self::Device(d) if d == device => Ok(()),
            Self::Credential(c) if c.kind == CredentialKind::Device && c.id == device => Ok(()),
            Self::Credential(c) if c.kind == CredentialKind::Platform => {
                let region = model::DeviceId::new(device)
                    .ok()
                    .and_then(|d| e.device_place(e.store(), &d).ok().flatten())
                    .map(|(_, r)| r);
                match region {
                    Some(r)
                        if c.regions
                            .iter()
                            .any(|x| crate::engine::region_within(&r, x)) =>
                    {
                        Ok(())
                    }
                    _ => Err("device not registered in this platform's regions"),
                }
            }
            _ => Err("device is not the one this credential is for"),
        }
    }
}

fn viid_time(e: &Engine) -> String {
    e.clock.to_local(now()).format("%Y%m%d%H%M%S").to_string()
}

fn status(e: &Engine, url: &str, id: &str, code: &str, msg: &str) -> Value {
    json!({
        "Id": id,
        "RequestURL": url,
        "StatusCode": code,
        "StatusString": msg,
        "LocalTime": viid_time(e),
    })
}

fn single(code: StatusCode, v: Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/VIID+JSON;charset=UTF-8")],
        axum::Json(json!({"ResponseStatusObject": v})),
    )
        .into_response()
}

fn list(code: StatusCode, vs: Vec<Value>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/VIID+JSON;charset=UTF-8")],
        axum::Json(json!({"ResponseStatusListObject": {"ResponseStatusObject": vs}})),
    )
        .into_response()
}

/// Authenticates a GA/T 1400 request from its headers alone (the body is
/// not read for a caller refused here).
pub(super) async fn viid_caller(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let e = Arc::clone(&app.engine);
    let url = req.uri().path().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| url.clone(), |p| p.as_str().to_owned());
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().as_str().to_owned();
    let bearer = authorization.as_deref().and_then(super::bearer);
    let verdict = tokio::task::spawn_blocking({
        let e = Arc::clone(&e);
        move || match bearer {
            Some(t) => match e.principal_of_token(&t) {
                Ok(p) if p.role == Role::Device => p
                    .device
                    .map(ViidCaller::Device)
                    .ok_or(Refusal::Bad("a device token without a device")),
                Ok(_) => Err(Refusal::Bad("GA/T 1400 takes a device token or Digest")),
                Err(_) => Err(Refusal::Bad("the token is not valid")),
            },
            None => e
                .auth
                .viid()
                .verify(authorization.as_deref(), &method, &target)
                .map(ViidCaller::Credential),
        }
    })
    .await
    .unwrap_or(Err(Refusal::Bad("internal")));
    match verdict {
        Ok(caller) => {
            if let Some(g) = req.extensions().get::<Gate>() {
                g.authenticated();
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(why) => {
            let stale = why == Refusal::Stale;
            if let Refusal::Bad(reason) = &why
                && let Some(n) = e.refusals.note(&format!("viid-auth/{reason}"), 1)
            {
                tracing::warn!(
                    reason,
                    refused = n,
                    "GA/T 1400: requests refused (not authenticated)"
                );
            }
            let mut r = single(
                StatusCode::UNAUTHORIZED,
                status(
                    &e,
                    &url,
                    "",
                    "4",
                    "authentication required (HTTP Digest with this platform's credential, or a device token)",
                ),
            );
            if let Ok(v) = e.auth.viid().challenge(stale).parse() {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
    }
}

pub(super) async fn register(
    State(app): State<App>,
    Extension(caller): Extension<ViidCaller>,
    body: Bytes,
) -> Response {
    let url = "/VIID/System/Register";
    let e = &app.engine;
    let id = match ingest::gat1400::parse_device_object(&body, "RegisterObject") {
        Ok(id) => id,
        Err(err) => {
            return single(
                StatusCode::BAD_REQUEST,
                status(e, url, "", err.status_code(), err.message()),
            );
        }
    };
    if id != caller.id() {
        return single(
            StatusCode::FORBIDDEN,
            status(e, url, &id, "4", "a caller registers with its own id"),
        );
    }
    // a device is one of the register's; a platform is its credential
    let is_platform =
        matches!(&caller, ViidCaller::Credential(c) if c.kind == CredentialKind::Platform);
    let known = is_platform
        || {
            let store = e.store();
            matches!(model::DeviceId::new(&id), Ok(d) if store.base(model::BaseKind::Device, d.as_str()).ok().flatten().is_some())
        };
    if !known {
        tracing::warn!(device = %id, "GA/T 1400: registration of a device not in the device register refused");
        return single(
            StatusCode::FORBIDDEN,
            status(e, url, &id, "4", "device not in the device register"),
        );
    }
    crate::lock(&e.viid_devices).insert(id.clone(), now());
    single(StatusCode::OK, status(e, url, &id, "0", "OK"))
}

pub(super) async fn keepalive(
    State(app): State<App>,
    Extension(caller): Extension<ViidCaller>,
    body: Bytes,
) -> Response {
    let url = "/VIID/System/Keepalive";
    let e = &app.engine;
    match ingest::gat1400::parse_device_object(&body, "KeepaliveObject") {
        Ok(id) => {
            let known = id == caller.id()
                && match crate::lock(&e.viid_devices).get_mut(&id) {
                    Some(t) => {
                        *t = now();
                        true
                    }
                    None => false,
                };
            if known {
                single(StatusCode::OK, status(e, url, &id, "0", "OK"))
            } else {
                single(
                    StatusCode::OK,
                    status(e, url, &id, "4", "not registered; register first"),
                )
            }
        }
        Err(err) => single(
            StatusCode::BAD_REQUEST,
            status(e, url, "", err.status_code(), err.message()),
        ),
    }
}

pub(super) async fn faces(
    State(app): State<App>,
    Extension(caller): Extension<ViidCaller>,
    body: Bytes,
) -> Response {
    objects(
        app,
        caller,
        body,
        "/VIID/Faces",
        ingest::gat1400::parse_faces,
    )
    .await
}

pub(super) async fn vehicles(
    State(app): State<App>,
    Extension(caller): Extension<ViidCaller>,
    body: Bytes,
) -> Response {
    objects(
        app,
        caller,
        body,
        "/VIID/MotorVehicles",
        ingest::gat1400::parse_motor_vehicles,
    )
    .await
}

type Parser = fn(
    &[u8],
    &ingest::ParseConfig,
) -> Result<Vec<ingest::gat1400::ViidObject>, ingest::gat1400::ViidError>;

async fn objects(app: App, caller: ViidCaller, body: Bytes, url: &str, parse: Parser) -> Response {
    let e = Arc::clone(&app.engine);
    let cfg = match parse_config(&e) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let objs = match parse(&body, &cfg) {
        Ok(o) => o,
        Err(err) => {
            return list(
                StatusCode::BAD_REQUEST,
                vec![status(&e, url, "", err.status_code(), err.message())],
            );
        }
    };
    let registered = crate::lock(&e.viid_devices).contains_key(caller.id());
    let mut statuses: Vec<Value> = Vec::with_capacity(objs.len());
    let mut records = Vec::new();
    let mut slots = Vec::new();
    let mut refused: Vec<(&'static str, u64)> = Vec::new();
    for o in objs {
        let verdict = match &o.record {
            _ if !registered => Err("not registered; register first"),
            Ok(Record::Event(ev)) => caller.may_post(&e, ev.device.as_str()),
            _ => Ok(()),
        };
        if let Err(why) = verdict {
            e.metrics.ingest_rejected.fetch_add(1, Ordering::Relaxed);
            match refused.iter_mut().find(|(w, _)| *w == why) {
                Some((_, n)) => *n += 1,
                None => refused.push((why, 1)),
            }
            statuses.push(status(&e, url, &o.id, "4", why));
            continue;
        }
        match o.record {
            Ok(r) => {
                slots.push(statuses.len());
                records.push(r);
                statuses.push(status(&e, url, &o.id, "0", "OK"));
            }
            Err(problems) => {
                e.metrics.ingest_rejected.fetch_add(1, Ordering::Relaxed);
                let msg = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.why))
                    .collect::<Vec<_>>()
                    .join("; ");
                statuses.push(status(&e, url, &o.id, "8", &msg));
            }
        }
    }
    for (why, n) in refused {
        if let Some(total) = e.refusals.note(&format!("viid/{}/{why}", caller.id()), n) {
            tracing::warn!(caller = %caller.id(), reason = why, refused = total, "GA/T 1400: objects refused");
        }
    }
    let (outcomes, error) = store_records(&e, records).await;
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
    let code = error.map_or(StatusCode::OK, |(s, _)| s);
    list(code, statuses)
}
