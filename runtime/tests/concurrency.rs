//! 120 concurrent realtime sessions, each exchanging audio with the loopback
//! upstream; all must succeed and leave nothing behind.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use unleak_runtime::RunningServer;

const SESSIONS: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions_all_succeed() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(Some(&upstream.url), &[]))
        .await
        .unwrap();
    let addr = server.addr;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(SESSIONS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..SESSIONS {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let mut client = open_session(addr).await;
            // Everyone is connected at once before talking.
            barrier.wait().await;
            for turn in 0..3u8 {
                let sent = audio(1600 + i * 10, turn.wrapping_add(i as u8));
                let got = talk(&mut client, &sent).await;
                assert_eq!(got, sent, "session {i} turn {turn}");
            }
            client.close(None).await.unwrap();
        });
    }
    let mut ok = 0;
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(result) = tasks.join_next().await {
            result.expect("session task failed");
            ok += 1;
        }
    })
    .await;
    assert!(
        all.is_ok(),
        "only {ok} of {SESSIONS} sessions finished in time"
    );
    assert_eq!(ok, SESSIONS);

    let state = server.state.clone();
    assert_eq!(
        state.metrics.sessions_total.load(Ordering::SeqCst),
        SESSIONS as u64
    );
    assert!(
        wait_for(Duration::from_secs(10), || state.metrics.sessions.get()
            == 0
            && state.metrics.adapters.get() == 0
            && state.metrics.listeners.get() == 0
            && state.session_tasks.is_empty())
        .await
    );
    assert!(
        wait_for(Duration::from_secs(10), || upstream
            .knobs
            .realtime_live
            .load(Ordering::SeqCst)
            == 0)
        .await
    );
    assert_eq!(
        upstream.knobs.realtime_connects.load(Ordering::SeqCst),
        SESSIONS
    );
    assert_eq!(state.metrics.errors_total(), 0);
    server.shutdown().await.unwrap();
}
