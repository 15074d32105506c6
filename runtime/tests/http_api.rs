//! HTTP endpoints: health, metrics, and chat/transcribe/speech proxied to a
//! loopback upstream through the single shared client.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use unleak_runtime::RunningServer;
use unleak_runtime::metrics::{ErrorKind, parse_sample};

async fn post(
    client: &reqwest::Client,
    url: String,
    body: impl Into<reqwest::Body>,
) -> (u16, bytes::Bytes) {
    let response = client.post(url).body(body).send().await.unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap())
}

#[tokio::test]
async fn health_and_metrics() {
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    let http = http_client();
    let base = format!("http://{}", server.addr);
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let _session = open_session(server.addr).await;
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "unleak_runtime_sessions",
        "unleak_runtime_alive_tasks",
        "unleak_runtime_jobs",
        "unleak_runtime_timers",
        "unleak_runtime_listeners",
        "unleak_runtime_cache_entries",
        "unleak_runtime_audio_buffered_bytes",
        "unleak_runtime_resident_memory_bytes",
        "unleak_runtime_connections",
        "unleak_runtime_outbound_queued_bytes",
        "unleak_runtime_outbound_backpressure_total",
        "unleak_runtime_memory_trims_total",
    ] {
        assert!(
            parse_sample(&text, name).is_some(),
            "missing {name} in\n{text}"
        );
    }
    assert_eq!(parse_sample(&text, "unleak_runtime_sessions"), Some(1.0));
    assert_eq!(parse_sample(&text, "unleak_runtime_listeners"), Some(1.0));
    // Menu refresh, session reaper, heap trim.
    assert_eq!(parse_sample(&text, "unleak_runtime_jobs"), Some(3.0));
    // The session's upgraded connection and this scrape's.
    assert_eq!(parse_sample(&text, "unleak_runtime_connections"), Some(2.0));
    assert!(parse_sample(&text, "unleak_runtime_resident_memory_bytes").unwrap() > 0.0);
    assert!(text.contains("unleak_runtime_errors_total{kind=\"malformed_frame\"} 0"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn proxies_share_one_pooled_upstream_connection() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(Some(&upstream.url), &[]))
        .await
        .unwrap();
    let http = http_client();
    let base = format!("http://{}", server.addr);

    for i in 0..10 {
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": format!("hello {i}")}]});
        let (status, reply) = post(&http, format!("{base}/v1/chat"), body.to_string()).await;
        assert_eq!(status, 200);
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["served_by"], "fake-upstream");
        assert_eq!(
            reply["choices"][0]["message"]["content"],
            format!("You said: hello {i}")
        );
    }
    let (status, reply) = post(&http, format!("{base}/v1/transcribe"), vec![5u8; 1234]).await;
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("[1234 bytes of audio"),
        "{reply}"
    );
    let (status, audio) = post(
        &http,
        format!("{base}/v1/speech"),
        json!({"input": "hey"}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(audio.len(), 240);

    // Sequential requests reused one pooled connection of the one client.
    assert_eq!(upstream.knobs.http_requests.load(Ordering::SeqCst), 12);
    assert_eq!(upstream.knobs.peers.lock().unwrap().len(), 1);
    assert_eq!(server.state.metrics.errors_total(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn upstream_faults_are_retried_timed_out_and_counted() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(
        Some(&upstream.url),
        &[
            "--upstream-timeout",
            "300ms",
            "--retry-attempts",
            "2",
            "--retry-backoff",
            "10ms",
        ],
    ))
    .await
    .unwrap();
    let http = http_client();
    let base = format!("http://{}", server.addr);
    let chat = json!({"messages": [{"role": "user", "content": "x"}]}).to_string();

    // One 503, then success: retried transparently.
    upstream.knobs.fail_next_http.store(1, Ordering::SeqCst);
    let (status, _) = post(&http, format!("{base}/v1/chat"), chat.clone()).await;
    assert_eq!(status, 200);

    // Two 503s exhaust the two attempts.
    upstream.knobs.fail_next_http.store(2, Ordering::SeqCst);
    let (status, body) = post(&http, format!("{base}/v1/chat"), chat.clone()).await;
    assert_eq!(status, 502, "{body:?}");

    // A stalled upstream: 504 after two 300 ms attempts, not 30 s.
    upstream.knobs.stall_http.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let (status, body) = post(&http, format!("{base}/v1/chat"), chat.clone()).await;
    assert_eq!(status, 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "upstream_timeout");
    let m = &server.state.metrics;
    assert_eq!(m.errors(ErrorKind::UpstreamTimeout), 1);
    assert_eq!(m.errors(ErrorKind::UpstreamHttp), 1);
    // The timers of the abandoned attempts are gone with their futures.
    assert_eq!(m.timers.get(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_rejected_with_clear_errors() {
    let server = RunningServer::start(config(None, &["--max-body-bytes", "1000"]))
        .await
        .unwrap();
    let http = http_client();
    let base = format!("http://{}", server.addr);
    let (status, body) = post(&http, format!("{base}/v1/chat"), "{oops").await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");
    let (status, _) = post(
        &http,
        format!("{base}/v1/chat"),
        json!({"messages": 3}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(&http, format!("{base}/v1/transcribe"), Vec::<u8>::new()).await;
    assert_eq!(status, 400);
    let (status, _) = post(&http, format!("{base}/v1/transcribe"), vec![0u8; 5000]).await;
    assert_eq!(status, 413);
    // The local provider answers without any network.
    let (status, body) = post(
        &http,
        format!("{base}/v1/chat"),
        json!({"messages": [{"role": "user", "content": "offline"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "You said: offline"
    );
    assert_eq!(server.state.metrics.errors(ErrorKind::BadRequest), 3);
    server.shutdown().await.unwrap();
}
