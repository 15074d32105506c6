//! The bounded session registry.
//!
//! Fix for *unbounded-collection*: the map of live sessions has a hard
//! ceiling (`--max-sessions`), every entry is removed by its
//! [`SessionHandle`]'s `Drop` when the session ends for any reason, and the
//! reaper job ([`SessionRegistry::expire_idle`]) cancels sessions idle longer
//! than `--idle-timeout`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::metrics::Metrics;

pub type SessionId = u64;

/// Which front door a session came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Realtime,
    Twilio,
}

#[derive(Debug)]
struct Entry {
    kind: SessionKind,
    last_active: Instant,
    cancel: CancellationToken,
    expired: bool,
}

/// The registry refused a new session.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("session limit reached ({max} live sessions)")]
    Full { max: usize },
    #[error("server is shutting down")]
    ShuttingDown,
}

/// All live sessions, bounded in number.
#[derive(Debug)]
pub struct SessionRegistry {
    entries: Mutex<HashMap<SessionId, Entry>>,
    max: usize,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

impl SessionRegistry {
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::new(HashMap::new()),
            max,
            next_id: AtomicU64::new(1),
            metrics,
        })
    }

    /// Admits a session if there is room. Its cancellation token is a child
    /// of `shutdown`, so server shutdown reaches every session.
    pub fn try_register(
        self: &Arc<Self>,
        kind: SessionKind,
        shutdown: &CancellationToken,
    ) -> Result<SessionHandle, RegistryError> {
        if shutdown.is_cancelled() {
            return Err(RegistryError::ShuttingDown);
        }
        let mut entries = self.lock();
        if entries.len() >= self.max {
            return Err(RegistryError::Full { max: self.max });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cancel = shutdown.child_token();
        entries.insert(
            id,
            Entry {
                kind,
                last_active: Instant::now(),
                cancel: cancel.clone(),
                expired: false,
            },
        );
        drop(entries);
        self.metrics.sessions.add(1);
        self.metrics.sessions_total.fetch_add(1, Ordering::Relaxed);
        Ok(SessionHandle {
            id,
            cancel,
            registry: Arc::clone(self),
        })
    }

    /// Cancels every session idle for at least `idle`; returns how many.
    /// The sessions then close themselves and their handles remove them.
    pub fn expire_idle(&self, now: Instant, idle: Duration) -> usize {
        let mut expired = 0;
        for (id, entry) in self.lock().iter_mut() {
            if !entry.expired && now.saturating_duration_since(entry.last_active) >= idle {
                entry.expired = true;
                entry.cancel.cancel();
                expired += 1;
                tracing::info!(session = id, kind = ?entry.kind, "expiring idle session");
            }
        }
        expired
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn contains(&self, id: SessionId) -> bool {
        self.lock().contains_key(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        // Entries stay consistent even if a holder panicked: every update is
        // a single insert/remove/field write.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A live session's membership; dropping it removes the registry entry.
#[derive(Debug)]
pub struct SessionHandle {
    id: SessionId,
    cancel: CancellationToken,
    registry: Arc<SessionRegistry>,
}

impl SessionHandle {
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Records client activity (postpones idle expiry).
    pub fn touch(&self) {
        if let Some(entry) = self.registry.lock().get_mut(&self.id) {
            entry.last_active = Instant::now();
        }
    }

    /// Resolves when the session must end (idle expiry or server shutdown).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.cancel
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        if self.registry.lock().remove(&self.id).is_some() {
            self.registry.metrics.sessions.sub(1);
        }
        // Also releases the child token's registration in the parent.
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registry_is_bounded_and_handles_remove_entries() {
        let metrics = Metrics::new();
        let reg = SessionRegistry::new(2, Arc::clone(&metrics));
        let root = CancellationToken::new();
        let a = reg.try_register(SessionKind::Realtime, &root).unwrap();
        let b = reg.try_register(SessionKind::Twilio, &root).unwrap();
        assert_eq!(
            reg.try_register(SessionKind::Realtime, &root).unwrap_err(),
            RegistryError::Full { max: 2 }
        );
        assert_eq!(metrics.sessions.get(), 2);
        drop(a);
        assert_eq!(reg.len(), 1);
        let c = reg.try_register(SessionKind::Realtime, &root).unwrap();
        root.cancel();
        assert!(b.is_cancelled() && c.is_cancelled());
        assert_eq!(
            reg.try_register(SessionKind::Realtime, &root).unwrap_err(),
            RegistryError::ShuttingDown
        );
        drop((b, c));
        assert!(reg.is_empty());
        assert_eq!(metrics.sessions.get(), 0);
    }
}
