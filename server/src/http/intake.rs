//! `POST /ingest`: JSON Lines of the contract from a batch job, an
//! administrator or a device token — the same validation and idempotency
//! as `anju ingest`, each record answered, 2xx only for what is durable.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use graph::WriteOutcome;
use model::Record;
use serde_json::{Value, json};

use super::App;
use crate::engine::{Engine, now};
use crate::scope::Principal;

pub(super) fn outcome_str(o: &WriteOutcome) -> &'static str {
    match o {
        WriteOutcome::Accepted => "accepted",
        WriteOutcome::Duplicate => "duplicate",
        WriteOutcome::Conflict => "conflict",
    }
}

/// Writes records durably in batches; `None` for a batch the store could
/// not write (and everything after it).
pub(super) async fn store_records(
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

pub(super) fn parse_config(engine: &Engine) -> Result<ingest::ParseConfig, Box<Response>> {
    engine
        .config
        .parse_config(now())
        .map_err(|e| Box::new((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()))
}

pub(super) fn json_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": msg.into()}))).into_response()
}

/// `POST /ingest`: JSON Lines of the contract. Answers per record (line,
/// id, `accepted` / `duplicate` / `conflict` / `rejected` with problems);
/// 200 when every record is stored, 207 when some were rejected, 422 when
/// none could be, 503 (with what was stored) when the store failed. The
/// caller was authenticated (and rate-limited) before the body was read.
pub(super) async fn ingest(
    State(app): State<App>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Response {
    if !principal.role.may_ingest() {
        return json_error(
            StatusCode::FORBIDDEN,
            format!("the {} role may not post records", principal.role.as_str()),
        );
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
    let mut refused = 0u64;
    for (i, line) in text.lines().enumerate() {
        let parsed = ingest::parse_line(line, &cfg).and_then(|r| match r {
            Some(r) => match may_post(&app.engine, &principal, &r) {
                Ok(()) => Ok(Some(r)),
                Err(why) => {
                    refused += 1;
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
    if refused > 0
        && let Some(n) = app
            .engine
            .refusals
            .note(&format!("ingest/{}", principal.holder), refused)
    {
        tracing::warn!(caller = %principal.name, refused = n, "intake: records of devices outside the caller's reach refused");
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
