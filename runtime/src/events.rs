//! Shared server events (menu updates) fanned out to sessions.
//!
//! Fix for *unremoved-listener*: a session subscribes through
//! [`EventBus::subscribe`] and gets a [`Subscription`] guard. Dropping the
//! guard — on every exit path of the session, panics included — removes the
//! listener, so nothing accumulates per session. The channel is a bounded
//! `broadcast`, so a slow session lags (and is told so) instead of growing a queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::metrics::{ErrorKind, Metrics};
use crate::sessions::SessionId;

/// An event every live session may care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The menu of `restaurant` was reloaded and is now at `version`.
    MenuUpdated { restaurant: Arc<str>, version: u64 },
}

/// Fan-out of [`ServerEvent`]s with per-session listener accounting.
#[derive(Debug)]
pub struct EventBus {
    tx: broadcast::Sender<ServerEvent>,
    per_session: Mutex<HashMap<SessionId, usize>>,
    metrics: Arc<Metrics>,
}

impl EventBus {
    /// `capacity` bounds how many events a slow listener may fall behind.
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Arc::new(Self {
            tx,
            per_session: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Publishes to every current listener; returns how many received it.
    pub fn publish(&self, event: ServerEvent) -> usize {
        // `send` only fails when nobody listens, which is a normal state.
        self.tx.send(event).unwrap_or(0)
    }

    /// Registers a listener for `session`; it is removed when the guard drops.
    pub fn subscribe(self: &Arc<Self>, session: SessionId) -> Subscription {
        *lock(&self.per_session).entry(session).or_insert(0) += 1;
        self.metrics.listeners.add(1);
        Subscription {
            rx: self.tx.subscribe(),
            bus: Arc::clone(self),
            session,
        }
    }

    /// Listeners registered by `session` (0 once it has disconnected).
    pub fn listener_count(&self, session: SessionId) -> usize {
        lock(&self.per_session).get(&session).copied().unwrap_or(0)
    }

    /// Listeners registered by all sessions.
    pub fn total_listeners(&self) -> usize {
        lock(&self.per_session).values().sum()
    }

    /// Receivers attached to the underlying channel (must equal `total_listeners`).
    pub fn receiver_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-update of a
    // plain counter map; the data is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One session's subscription; dropping it unregisters the listener.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<ServerEvent>,
    bus: Arc<EventBus>,
    session: SessionId,
}

impl Subscription {
    /// Next event. A lagging listener skips what it missed (logged and
    /// counted); `None` only if the bus itself is gone.
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    self.bus.metrics.record_error(
                        ErrorKind::EventLagged,
                        "session fell behind the event bus",
                        &format!("session {} missed {missed} events", self.session),
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = lock(&self.bus.per_session);
        if let Some(count) = map.get_mut(&self.session) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.session);
            }
        }
        self.bus.metrics.listeners.sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_subscription_removes_listener() {
        let metrics = Metrics::new();
        let bus = EventBus::new(4, Arc::clone(&metrics));
        let mut sub = bus.subscribe(7);
        assert_eq!(bus.listener_count(7), 1);
        assert_eq!(bus.receiver_count(), 1);
        let event = ServerEvent::MenuUpdated {
            restaurant: "r".into(),
            version: 1,
        };
        assert_eq!(bus.publish(event.clone()), 1);
        assert_eq!(sub.recv().await, Some(event));
        drop(sub);
        assert_eq!(bus.listener_count(7), 0);
        assert_eq!(bus.total_listeners(), 0);
        assert_eq!(bus.receiver_count(), 0);
        assert_eq!(metrics.listeners.get(), 0);
    }

    #[tokio::test]
    async fn lagging_listener_skips_and_counts() {
        let metrics = Metrics::new();
        let bus = EventBus::new(2, Arc::clone(&metrics));
        let mut sub = bus.subscribe(1);
        for version in 0..5 {
            bus.publish(ServerEvent::MenuUpdated {
                restaurant: "r".into(),
                version,
            });
        }
        let got = sub.recv().await;
        assert_eq!(
            got,
            Some(ServerEvent::MenuUpdated {
                restaurant: "r".into(),
                version: 3
            })
        );
        assert_eq!(metrics.errors(ErrorKind::EventLagged), 1);
    }
}
