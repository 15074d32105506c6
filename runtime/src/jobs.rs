//! Periodic jobs: menu refresh, the idle-session reaper and the heap trim.
//!
//! Fix for *orphaned-interval*: every job is spawned on the state's
//! `TaskTracker` ([`spawn_all`]) and its loop `select!`s on the shutdown
//! `CancellationToken`, so it stops when shutdown starts and shutdown can
//! wait for it to finish. (The per-session heartbeat ping lives inside each
//! session's own loop and ends with the session.)

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use crate::events::{EventBus, ServerEvent};
use crate::menu::MenuCache;
use crate::metrics::{ErrorKind, Metrics};
use crate::sessions::SessionRegistry;
use crate::state::AppState;

/// Starts all periodic jobs on `state.jobs`.
pub fn spawn_all(state: &AppState) {
    let cfg = &state.config;
    state.jobs.spawn(menu_refresh(
        Arc::clone(&state.menus),
        Arc::clone(&state.events),
        cfg.restaurant.clone(),
        cfg.menu_refresh,
        state.shutdown.clone(),
    ));
    state.jobs.spawn(session_reaper(
        Arc::clone(&state.sessions),
        cfg.idle_timeout,
        cfg.reaper_interval,
        state.shutdown.clone(),
    ));
    state.jobs.spawn(memory_trim(
        Arc::clone(&state.metrics),
        cfg.reaper_interval,
        state.shutdown.clone(),
    ));
}

/// Reloads the menu every `period` and tells live sessions about it.
pub async fn menu_refresh(
    menus: Arc<MenuCache>,
    events: Arc<EventBus>,
    restaurant: String,
    period: Duration,
    cancel: CancellationToken,
) {
    let period = period.max(Duration::from_millis(1));
    let mut tick = interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {
                let menu = menus.refresh(&restaurant).await;
                let told = events.publish(ServerEvent::MenuUpdated {
                    restaurant: restaurant.as_str().into(),
                    version: menu.version,
                });
                tracing::debug!(restaurant, version = menu.version, sessions = told, "menu refreshed");
            }
        }
    }
    tracing::debug!("menu refresh job stopped");
}

/// Every `period`, cancels sessions idle for `idle` (they then remove themselves).
pub async fn session_reaper(
    sessions: Arc<SessionRegistry>,
    idle: Duration,
    period: Duration,
    cancel: CancellationToken,
) {
    let period = period.max(Duration::from_millis(1));
    let mut tick = interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {
                let expired = sessions.expire_idle(Instant::now(), idle);
                if expired > 0 {
                    tracing::info!(expired, "reaper expired idle sessions");
                }
            }
        }
    }
    tracing::debug!("session reaper job stopped");
}

/// When to hand freed heap back to the OS: whenever the load has fallen to
/// half its peak since the last trim. The load is live sessions plus open
/// connections, and at least the sessions opened since the previous check,
/// so a burst that came and went between two checks still counts.
#[derive(Debug, Default)]
pub struct TrimPolicy {
    peak: u64,
}

impl TrimPolicy {
    pub fn should_trim(&mut self, load: u64, opened: u64) -> bool {
        self.peak = self.peak.max(load).max(opened);
        if self.peak > 0 && load.saturating_mul(2) <= self.peak {
            self.peak = load;
            return true;
        }
        false
    }
}

/// Every `period`, trims the heap if load dropped (see [`TrimPolicy`]).
/// glibc keeps the memory a storm of sessions freed mapped in its arenas;
/// without this, RSS would stay at the storm's peak.
pub async fn memory_trim(metrics: Arc<Metrics>, period: Duration, cancel: CancellationToken) {
    let period = period.max(Duration::from_millis(1));
    let mut tick = interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut policy = TrimPolicy::default();
    let opened_total = || {
        metrics
            .sessions_total
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut opened_before = opened_total();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {
                let load = u64::try_from(metrics.sessions.get() + metrics.connections.get()).unwrap_or(0);
                let opened = opened_total();
                let fell = policy.should_trim(load, opened - opened_before);
                opened_before = opened;
                if !fell {
                    continue;
                }
                // malloc_trim walks every arena: off the async workers.
                match tokio::task::spawn_blocking(crate::memory::trim_heap).await {
                    Ok(released) => {
                        metrics.memory_trims_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::debug!(load, released, "heap trimmed");
                    }
                    Err(e) => metrics.record_error(ErrorKind::Shutdown, "heap trim did not run", &e),
                }
            }
        }
    }
    tracing::debug!("memory trim job stopped");
}

#[cfg(test)]
mod tests {
    use super::TrimPolicy;

    #[test]
    fn trims_once_load_halves_from_its_peak() {
        let mut policy = TrimPolicy::default();
        assert!(!policy.should_trim(0, 0), "nothing to give back yet");
        assert!(!policy.should_trim(20, 20));
        assert!(!policy.should_trim(11, 0));
        assert!(policy.should_trim(10, 0));
        assert!(!policy.should_trim(10, 0), "once per drop");
        assert!(policy.should_trim(0, 0));
        assert!(!policy.should_trim(0, 0));
        // 20 sessions came and went between two checks.
        assert!(policy.should_trim(0, 20));
    }
}
