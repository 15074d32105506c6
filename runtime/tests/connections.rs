//! TCP connections that never finish a request: a header-read timeout closes
//! them, a cap bounds how many are open at once (with a gauge), and shutdown
//! does not wait for them.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use unleak_runtime::RunningServer;
use unleak_runtime::metrics::parse_sample;

/// Waits (bounded by `within`) until the server closes `stream`; returns
/// whether it did. Any answer bytes are skipped.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// One `GET path` over a raw connection; the status line, or `None` when
/// nothing came back within `within`.
async fn get_status(stream: &mut TcpStream, path: &str, within: Duration) -> Option<String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    read.ok()?.ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    Some(text.lines().next().unwrap_or_default().to_owned())
}

async fn metrics_text(addr: SocketAddr) -> String {
    http_client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body")
}

#[tokio::test]
async fn silent_and_half_sent_requests_are_timed_out() {
    let server = RunningServer::start(config(None, &["--header-read-timeout", "300ms"]))
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut silent, Duration::from_secs(3)).await);
    assert!(closed_by_server(&mut half, Duration::from_secs(3)).await);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A prompt request on a fresh connection is served as usual.
    let mut prompt = TcpStream::connect(server.addr).await.unwrap();
    let status = get_status(&mut prompt, "/healthz", Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    let timeouts = parse_sample(
        &metrics_text(server.addr).await,
        "unleak_runtime_errors_total{kind=\"header_timeout\"}",
    );
    assert!(
        timeouts >= Some(2.0),
        "header timeouts counted: {timeouts:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn open_connections_are_capped_and_counted() {
    let server = RunningServer::start(config(None, &["--max-connections", "4"]))
        .await
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The kernel completes the handshake, but the server does not take the
    // connection until a slot is free.
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    let status = get_status(&mut waiting, "/healthz", Duration::from_millis(500)).await;
    assert_eq!(
        status, None,
        "a fifth connection was served past the cap of 4"
    );
    drop(idle.pop());
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), waiting.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "served once a slot was free");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    drop(idle);
    // With the silent ones gone, the gauge shows the one scrape connection.
    let mut open = None;
    for _ in 0..50 {
        open = parse_sample(
            &metrics_text(server.addr).await,
            "unleak_runtime_connections",
        );
        if open == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open, Some(1.0), "open connections gauge");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_silent_or_half_sent_peers() {
    // A long header timeout: only shutdown can end these peers in time.
    let server = RunningServer::start(config(
        None,
        &[
            "--header-read-timeout",
            "30s",
            "--shutdown-deadline",
            "3s",
            "--close-grace",
            "300ms",
        ],
    ))
    .await
    .unwrap();
    let mut peers = Vec::new();
    for i in 0..40 {
        let mut peer = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 1 {
            peer.write_all(b"POST /v1/chat HTTP/1.1\r\nHost: t")
                .await
                .unwrap();
        }
        peers.push(peer);
    }
    let mut session = open_session(server.addr).await;
    // Let the server take every connection (41, plus the scrape's own).
    for _ in 0..100 {
        let text = metrics_text(server.addr).await;
        if parse_sample(&text, "unleak_runtime_connections") >= Some(41.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let report = server.shutdown().await.unwrap();
    let took = started.elapsed();
    println!("shutdown with 40 silent/half-sent peers took {took:?}: {report:?}");
    assert!(report.clean(), "{report:?}");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_eq!(recv_close(&mut session).await, Some(1001));
    for peer in &mut peers {
        assert!(closed_by_server(peer, Duration::from_secs(2)).await);
    }
}
