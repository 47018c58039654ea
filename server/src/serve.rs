//! `anju serve`: binds the port, opens the engine, starts the periodic
//! jobs (analysis, elderly check, audit retention) and serves HTTP until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::{Engine, engine, http};

/// Serves until Ctrl-C or SIGTERM, then stops the projector and flushes.
pub fn serve(config: Config, listen: Option<String>) -> Result<()> {
    let addr: SocketAddr = listen
        .as_deref()
        .unwrap_or(&config.server.listen)
        .parse()
        .context("--listen must be address:port")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // the port first: a clash is told at once, not after the projections
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("binding {addr}"))?;
    eprintln!(
        "opening {} and bringing projections up to date…",
        config.store.path.display()
    );
    let engine = Engine::open(config)?;
    rt.block_on(async {
        let local = listener.local_addr()?;
        every(
            &engine,
            engine.config.server.analysis_every_mins,
            "analysis job",
            |e| {
                let r = e.run_analysis(analysis::MODELS)?;
                tracing::info!(
                    days = r.days,
                    alerts = r.raised.len(),
                    secs = r.secs,
                    "analysis job"
                );
                Ok(())
            },
        );
        every(
            &engine,
            engine.config.alerts.elderly_check_mins,
            "elderly check",
            |e| {
                let started = std::time::Instant::now();
                let raised = e.check_elderly()?;
                tracing::info!(
                    alerts = raised.len(),
                    secs = started.elapsed().as_secs_f64(),
                    "elderly check"
                );
                Ok(())
            },
        );
        every(&engine, 60, "audit retention", |e| {
            let keep = i64::from(e.config.auth.audit_retention_days) * 86_400_000;
            let pruned = e
                .audit
                .prune(e.store(), model::Timestamp(engine::now().0 - keep))?;
            if pruned > 0 {
                tracing::info!(entries = pruned, "audit entries past retention pruned");
            }
            Ok(())
        });
        crate::say!(
            "serving on http://{local}/  (console at /, GraphQL at /graphql, playground at /playground, health at /health)"
        );
        serve_on(Arc::clone(&engine), listener, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    engine.shutdown();
    engine.store().flush()?;
    Ok(())
}

/// Serves the API on a bound listener until `shutdown` completes (the
/// connection limits of `[server]` applied: [`http::conn`]).
pub async fn serve_on(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let s = &engine.config.server;
    http::conn::serve(
        listener,
        http::router(Arc::clone(&engine)),
        std::time::Duration::from_secs(s.header_timeout_secs.max(1)),
        s.max_unauthenticated,
        shutdown,
        Arc::clone(&engine.refusals),
    )
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs `job` on the blocking pool every `mins` minutes (never with 0),
/// logging failures as `what`.
fn every(
    engine: &Arc<Engine>,
    mins: u64,
    what: &'static str,
    job: fn(&Engine) -> graph::Result<()>,
) {
    if mins == 0 {
        return;
    }
    let e = Arc::clone(engine);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(mins * 60));
        loop {
            tick.tick().await;
            let e = Arc::clone(&e);
            match tokio::task::spawn_blocking(move || job(&e)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "{what} failed"),
                Err(err) => tracing::warn!(error = %err, "{what} panicked"),
            }
        }
    });
}
