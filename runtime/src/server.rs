//! The router and the serve-until-shutdown sequence.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::config::Config;
use crate::metrics::ErrorKind;
use crate::shutdown::{ShutdownReport, drain};
use crate::state::AppState;
use crate::{http, jobs, realtime, twilio};

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(http::healthz))
        .route("/metrics", get(http::metrics))
        .route("/v1/chat", post(http::chat))
        .route("/v1/transcribe", post(http::transcribe))
        .route("/v1/speech", post(http::speech))
        .route("/v1/realtime", get(realtime::handler))
        .route("/twilio/media", get(twilio::handler))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until `signal` resolves or `state.shutdown` is cancelled, then
/// shuts down gracefully within `config.shutdown_deadline`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = &'static str>,
) -> anyhow::Result<ShutdownReport> {
    jobs::spawn_all(&state);
    let token = state.shutdown.clone();
    let server = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(token.clone().cancelled_owned())
        .into_future();
    let mut server = std::pin::pin!(server);
    // `stopped`: the server future has completed and must not be polled again.
    let (reason, stopped) = tokio::select! {
        result = &mut server => {
            // Returns before shutdown only if accepting failed for good, or
            // when the token was cancelled and there was nothing to drain.
            result?;
            let reason = if token.is_cancelled() { "cancelled" } else { "server stopped" };
            (reason, true)
        }
        reason = signal => (reason, false),
        _ = token.cancelled() => ("cancelled", false),
    };
    let started = Instant::now();
    let deadline = started + state.config.shutdown_deadline;
    tracing::info!(reason, deadline = ?state.config.shutdown_deadline, "graceful shutdown started");
    // Stops accepting, tells every session (close frames) and job to stop.
    token.cancel();
    let drained = if stopped {
        Ok(Ok(()))
    } else {
        tokio::time::timeout_at(deadline, &mut server).await
    };
    let http_drained = match drained {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            state.metrics.record_error(
                ErrorKind::Shutdown,
                "http server failed while draining",
                &e,
            );
            false
        }
        Err(e) => {
            state.metrics.record_error(
                ErrorKind::Shutdown,
                "in-flight http requests outlived the deadline",
                &e,
            );
            false
        }
    };
    let sessions = drain(&state.session_tasks, deadline).await;
    let jobs = drain(&state.jobs, deadline).await;
    let report = ShutdownReport {
        reason,
        http_drained,
        sessions,
        jobs,
        took: started.elapsed(),
    };
    if report.clean() {
        tracing::info!(?report, "shutdown complete");
    } else {
        state.metrics.record_error(
            ErrorKind::Shutdown,
            "shutdown deadline passed; abandoning stuck tasks",
            &format!("{report:?}"),
        );
    }
    Ok(report)
}

/// A server running in-process (used by tests and embedders).
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: tokio::task::JoinHandle<anyhow::Result<ShutdownReport>>,
}

impl RunningServer {
    /// Binds `config.listen` and serves until [`RunningServer::shutdown`].
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(config)?;
        let token = state.shutdown.clone();
        let task = tokio::spawn(serve(listener, state.clone(), async move {
            token.cancelled().await;
            "shutdown requested"
        }));
        Ok(Self { addr, state, task })
    }

    /// Shuts down gracefully and returns the report.
    pub async fn shutdown(self) -> anyhow::Result<ShutdownReport> {
        self.state.shutdown.cancel();
        self.task.await?
    }
}
