//! Accepting connections: HTTP/1.1 (with upgrades for the WebSocket) with a
//! deadline for each request's headers (`server.header_timeout_secs`: a
//! connection that never finishes its headers, or idles between requests
//! past it, is closed) and a cap on connections that have not yet made an
//! authenticated request (`server.max_unauthenticated`: past it a new
//! connection is closed at once). A connection stops counting against the
//! cap when one of its requests authenticates ([`Gate::authenticated`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

use crate::lock;

/// A connection's place among the unauthenticated, given up when one of
/// its requests authenticates.
#[derive(Debug, Clone)]
pub struct Gate(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Gate {
    /// One of the connection's requests authenticated.
    pub fn authenticated(&self) {
        lock(&self.0).take();
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// open connections finish their requests (at most 10 s longer).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    max_unauthenticated: usize,
    shutdown: impl Future<Output = ()>,
    refusals: Arc<crate::bursts::Bursts>,
) -> std::io::Result<()> {
    let unauthenticated = Arc::new(Semaphore::new(max_unauthenticated.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut open = tokio::task::JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        while open.try_join_next().is_some() {}
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // out of descriptors and the like: wait, do not spin
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&unauthenticated).try_acquire_owned() else {
            if let Some(n) = refusals.note("connections/unauthenticated", 1) {
                tracing::warn!(
                    refused = n,
                    max = max_unauthenticated,
                    "connections closed: too many not yet authenticated"
                );
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let gate = Gate(Arc::new(Mutex::new(Some(permit))));
        let router = router.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(gate.clone());
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = builder
            .serve_connection(TokioIo::new(tcp), svc)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        open.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.changed() => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while open.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
