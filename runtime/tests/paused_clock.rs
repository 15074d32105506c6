//! Time-dependent behaviour on tokio's paused clock: periodic jobs, idle
//! expiry, cache TTL, retry backoff, deadlines and the shutdown drain.
//! Nothing here sleeps in real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::{Instant, advance};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use unleak_runtime::events::{EventBus, ServerEvent};
use unleak_runtime::jobs::{menu_refresh, session_reaper};
use unleak_runtime::menu::MenuCache;
use unleak_runtime::metrics::Metrics;
use unleak_runtime::retry::{RetryError, RetryPolicy, with_retry, with_timeout};
use unleak_runtime::sessions::{SessionKind, SessionRegistry};
use unleak_runtime::shutdown::{Drained, drain};

/// Lets spawned tasks run without moving the clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn menu_refresh_ticks_on_schedule_and_stops_on_cancel() {
    let metrics = Metrics::new();
    let menus = Arc::new(MenuCache::new(8, Duration::from_secs(3600)));
    let bus = EventBus::new(16, metrics.clone());
    let mut sub = bus.subscribe(1);
    let cancel = CancellationToken::new();
    let jobs = TaskTracker::new();
    jobs.spawn(menu_refresh(
        menus.clone(),
        bus.clone(),
        "r".into(),
        Duration::from_secs(60),
        cancel.clone(),
    ));
    settle().await;

    advance(Duration::from_secs(59)).await;
    settle().await;
    assert_eq!(menus.loads(), 0, "no refresh before the first period");
    advance(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(menus.loads(), 1);
    assert_eq!(
        sub.recv().await,
        Some(ServerEvent::MenuUpdated {
            restaurant: "r".into(),
            version: 1
        })
    );
    for _ in 0..2 {
        advance(Duration::from_secs(60)).await;
        settle().await;
    }
    assert_eq!(menus.loads(), 3);

    cancel.cancel();
    assert_eq!(
        drain(&jobs, Instant::now() + Duration::from_secs(1)).await,
        Drained::Clean
    );
    advance(Duration::from_secs(600)).await;
    settle().await;
    assert_eq!(menus.loads(), 3, "no refresh after cancellation");
}

#[tokio::test(start_paused = true)]
async fn reaper_expires_idle_sessions_only() {
    let metrics = Metrics::new();
    let registry = SessionRegistry::new(10, metrics.clone());
    let root = CancellationToken::new();
    let idle = registry.try_register(SessionKind::Realtime, &root).unwrap();
    let busy = registry.try_register(SessionKind::Twilio, &root).unwrap();
    let jobs = TaskTracker::new();
    jobs.spawn(session_reaper(
        registry.clone(),
        Duration::from_secs(30),
        Duration::from_secs(5),
        root.clone(),
    ));
    settle().await;

    for _ in 0..5 {
        advance(Duration::from_secs(5)).await;
        busy.touch();
        settle().await;
    }
    assert!(!idle.is_cancelled(), "25 s idle is below the 30 s timeout");
    advance(Duration::from_secs(5)).await;
    busy.touch();
    settle().await;
    assert!(idle.is_cancelled(), "30 s idle expires");
    assert!(!busy.is_cancelled(), "an active session stays");
    drop(idle); // the session ends and leaves the registry
    assert_eq!(registry.len(), 1);
    assert_eq!(metrics.sessions.get(), 1);

    root.cancel();
    assert_eq!(
        drain(&jobs, Instant::now() + Duration::from_secs(1)).await,
        Drained::Clean
    );
    assert!(busy.is_cancelled(), "shutdown reaches every session");
}

#[tokio::test(start_paused = true)]
async fn cache_entries_expire_after_ttl() {
    let menus = MenuCache::new(2, Duration::from_secs(300));
    assert_eq!(menus.get("a").await.version, 1);
    advance(Duration::from_secs(299)).await;
    assert_eq!(menus.get("a").await.version, 1, "still fresh");
    assert_eq!(menus.loads(), 1);
    advance(Duration::from_secs(1)).await;
    assert_eq!(menus.get("a").await.version, 2, "reloaded after the TTL");
    assert_eq!(menus.loads(), 2);
    // Size bound: three restaurants into a cache of two.
    menus.get("b").await;
    menus.get("c").await;
    menus.get("d").await;
    assert!(menus.entry_count().await <= 2);
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_and_stop_on_cancellation() {
    let policy = RetryPolicy {
        attempts: 5,
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
    };
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let calls = AtomicU32::new(0);
    let result: Result<(), RetryError<String>> = with_retry(
        policy,
        &cancel,
        "test op",
        |_| true,
        |attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Err(format!("failure {attempt}")) }
        },
    )
    .await;
    assert!(matches!(
        result,
        Err(RetryError::Exhausted { attempts: 5, .. })
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // 1 + 2 + 4 + 8 seconds of backoff on the paused clock.
    assert_eq!(started.elapsed(), Duration::from_secs(15));

    // Cancelled during the first backoff: stops at once, no more attempts.
    let canceller = cancel.clone();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let (result, ()) = tokio::join!(
        with_retry(
            policy,
            &cancel,
            "test op",
            |_| true,
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>("down".to_owned()) }
            }
        ),
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            canceller.cancel();
        }
    );
    assert!(matches!(result, Err(RetryError::Cancelled)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn deadlines_disarm_with_their_future() {
    let metrics = Metrics::new();
    let fast = with_timeout(&metrics, Duration::from_secs(10), async { 7 }).await;
    assert_eq!(fast, Ok(7));
    assert_eq!(metrics.timers.get(), 0);
    let started = Instant::now();
    let slow = with_timeout(
        &metrics,
        Duration::from_secs(2),
        std::future::pending::<()>(),
    )
    .await;
    assert!(slow.is_err());
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(metrics.timers.get(), 0);
    // A deadline whose future is dropped early disarms too.
    let armed = with_timeout(
        &metrics,
        Duration::from_secs(100),
        std::future::pending::<()>(),
    );
    let raced = tokio::time::timeout(Duration::from_secs(1), armed).await;
    assert!(raced.is_err());
    assert_eq!(metrics.timers.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn drain_gives_up_on_a_stuck_task_at_the_deadline() {
    let tracker = TaskTracker::new();
    let cancel = CancellationToken::new();
    // A well-behaved task and one that ignores cancellation.
    let token = cancel.clone();
    tracker.spawn(async move { token.cancelled().await });
    tracker.spawn(std::future::pending::<()>());
    cancel.cancel();
    let started = Instant::now();
    let drained = drain(&tracker, started + Duration::from_secs(5)).await;
    assert_eq!(drained, Drained::TimedOut { remaining: 1 });
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}
