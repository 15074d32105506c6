//! The router and the serve-until-shutdown sequence.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::config::Config;
use crate::listener::accept_loop;
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
    let mut accepting = Box::pin(accept_loop(listener, router(state.clone()), state.clone()));
    let reason = tokio::select! {
        // Only ends once shutdown has started.
        () = &mut accepting => "cancelled",
        reason = signal => reason,
        () = token.cancelled() => "cancelled",
    };
    let started = Instant::now();
    let deadline = started + state.config.shutdown_deadline;
    tracing::info!(reason, deadline = ?state.config.shutdown_deadline, "graceful shutdown started");
    // Sessions read the deadline when they close their clients.
    if state.shutdown_deadline.set(deadline).is_err() {
        tracing::debug!("shutdown deadline was already set");
    }
    // Tells connections (graceful HTTP shutdown), sessions (close frames)
    // and jobs to stop; dropping the accept loop closes the listener.
    token.cancel();
    drop(accepting);
    let http = drain(&state.connections, deadline).await;
    let sessions = drain(&state.session_tasks, deadline).await;
    let jobs = drain(&state.jobs, deadline).await;
    let report = ShutdownReport {
        reason,
        http,
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
