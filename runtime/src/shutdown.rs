//! Graceful shutdown.
//!
//! Fix for *missing-graceful-shutdown*: [`ShutdownSignal`] resolves on
//! SIGTERM (what orchestrators send; `ctrl_c()` alone does not catch it) or
//! on SIGINT/ctrl-c. [`crate::server::serve`] then stops accepting
//! (`axum::serve(..).with_graceful_shutdown(..)`), cancels the root token
//! (every session sends its client a close frame, every job stops) and waits
//! for sessions and jobs with [`drain`], bounded by the shutdown deadline.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// Listens for SIGTERM and SIGINT. The SIGTERM handler is installed by
/// [`ShutdownSignal::install`], before the server announces itself, so a
/// signal sent right after startup is not lost.
#[derive(Debug)]
pub struct ShutdownSignal {
    terminate: Signal,
}

impl ShutdownSignal {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for SIGTERM or ctrl-c (SIGINT); returns which one came.
    pub async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            result = tokio::signal::ctrl_c() => match result {
                Ok(()) => "SIGINT",
                Err(e) => {
                    // Without a SIGINT handler, SIGTERM still works.
                    tracing::error!(error = %e, "cannot listen for ctrl-c; waiting for SIGTERM only");
                    self.terminate.recv().await;
                    "SIGTERM"
                }
            },
        }
    }
}

/// How a tracker drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every task finished.
    Clean,
    /// The deadline passed with this many tasks still running; they are
    /// abandoned (aborted when the runtime drops).
    TimedOut { remaining: usize },
}

/// Closes `tracker` and waits for its tasks until `deadline`.
pub async fn drain(tracker: &TaskTracker, deadline: Instant) -> Drained {
    tracker.close();
    match tokio::time::timeout_at(deadline, tracker.wait()).await {
        Ok(()) => Drained::Clean,
        Err(_elapsed) => Drained::TimedOut {
            remaining: tracker.len(),
        },
    }
}

impl Drained {
    fn remaining(self) -> usize {
        match self {
            Drained::Clean => 0,
            Drained::TimedOut { remaining } => remaining,
        }
    }
}

/// What shutdown achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    pub reason: &'static str,
    /// HTTP connections with a request in progress (peers that never
    /// finished a request are closed after the close grace, not waited for).
    pub http: Drained,
    pub sessions: Drained,
    pub jobs: Drained,
    pub took: Duration,
}

impl ShutdownReport {
    /// Nothing was abandoned at the deadline.
    pub fn clean(&self) -> bool {
        self.http == Drained::Clean
            && self.sessions == Drained::Clean
            && self.jobs == Drained::Clean
    }

    /// What was abandoned, for the exit log; `None` when clean.
    pub fn abandoned(&self) -> Option<String> {
        (!self.clean()).then(|| {
            format!(
                "{} http connection(s) with a request in progress, {} session task(s), {} job(s)",
                self.http.remaining(),
                self.sessions.remaining(),
                self.jobs.remaining()
            )
        })
    }
}
