//! Application state, built once at startup and shared by every handler,
//! session and job.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use tokio::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::events::EventBus;
use crate::menu::MenuCache;
use crate::metrics::{Metrics, Sampled, resident_bytes};
use crate::sessions::SessionRegistry;
use crate::upstream::Upstream;

/// How many menu updates a slow session may fall behind before it lags.
const EVENT_BUS_CAPACITY: usize = 16;

/// Shared state (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    /// The one upstream client of the process.
    pub upstream: Upstream,
    pub sessions: Arc<SessionRegistry>,
    pub events: Arc<EventBus>,
    pub menus: Arc<MenuCache>,
    /// Cancelled once, when shutdown starts; every session token is a child.
    pub shutdown: CancellationToken,
    /// Every WebSocket session task, so shutdown can wait for them.
    pub session_tasks: TaskTracker,
    /// Every periodic job.
    pub jobs: TaskTracker,
    /// Every HTTP connection task (until it is upgraded or closed).
    pub connections: TaskTracker,
    /// Set once, when shutdown starts: sessions close their clients by then.
    pub shutdown_deadline: OnceLock<Instant>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let upstream = Upstream::new(&config, Arc::clone(&metrics))?;
        Ok(Self(Arc::new(Inner {
            sessions: SessionRegistry::new(config.max_sessions, Arc::clone(&metrics)),
            events: EventBus::new(EVENT_BUS_CAPACITY, Arc::clone(&metrics)),
            menus: Arc::new(MenuCache::new(config.cache_max_entries, config.cache_ttl)),
            upstream,
            metrics,
            config,
            shutdown: CancellationToken::new(),
            session_tasks: TaskTracker::new(),
            jobs: TaskTracker::new(),
            connections: TaskTracker::new(),
            shutdown_deadline: OnceLock::new(),
        })))
    }

    /// Samples the values kept outside [`Metrics`].
    pub async fn sample(&self) -> Sampled {
        Sampled {
            alive_tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            session_tasks: self.session_tasks.len(),
            jobs: self.jobs.len(),
            cache_entries: self.menus.entry_count().await,
            resident_bytes: resident_bytes(),
        }
    }

    pub async fn render_metrics(&self) -> String {
        let sampled = self.sample().await;
        self.metrics.render(&sampled)
    }
}
