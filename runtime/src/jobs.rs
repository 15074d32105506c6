//! Periodic jobs: menu refresh and the idle-session reaper.
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
