//! Realtime WebSocket sessions against a loopback upstream: audio round
//! trips, listener and adapter cleanup, bad input, upstream faults, limits,
//! menu tools, recordings.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use futures_util::SinkExt as _;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use unleak_runtime::RunningServer;
use unleak_runtime::metrics::ErrorKind;

fn settled(server: &RunningServer) -> bool {
    let m = &server.state.metrics;
    m.sessions.get() == 0
        && m.listeners.get() == 0
        && m.adapters.get() == 0
        && m.audio_bytes.get() == 0
        && m.timers.get() == 0
        && server.state.session_tasks.is_empty()
}

#[tokio::test]
async fn audio_round_trip_and_listener_removed_on_disconnect() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(Some(&upstream.url), &[]))
        .await
        .unwrap();
    let mut client = open_session(server.addr).await;

    let sent = audio(10_000, 1);
    assert_eq!(talk(&mut client, &sent).await, sent);
    assert_eq!(talk(&mut client, &sent[..777]).await, &sent[..777]);

    let state = &server.state;
    assert_eq!(state.metrics.sessions.get(), 1);
    assert_eq!(state.metrics.adapters.get(), 1);
    assert_eq!(state.events.total_listeners(), 1);
    let session_id = 1; // the first session of this server
    assert_eq!(state.events.listener_count(session_id), 1);

    client.close(None).await.unwrap();
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    assert_eq!(state.events.listener_count(session_id), 0);
    assert_eq!(state.events.receiver_count(), 0);
    assert!(
        wait_for(Duration::from_secs(5), || upstream
            .knobs
            .realtime_live
            .load(Ordering::SeqCst)
            == 0)
        .await
    );
    let report = server.shutdown().await.unwrap();
    assert!(report.clean(), "{report:?}");
}

#[tokio::test]
async fn bad_input_gets_errors_and_does_not_disturb_other_sessions() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(
        Some(&upstream.url),
        &["--max-frame-bytes", "4096", "--audio-buffer-cap", "8000"],
    ))
    .await
    .unwrap();
    let mut bystander = open_session(server.addr).await;
    let mut client = open_session(server.addr).await;

    let cases: [(Message, &str); 6] = [
        (Message::text("{not json"), "malformed_json"),
        (Message::text(r#"{"no_type": 1}"#), "missing_type"),
        (
            Message::text(r#"{"type": "launch.rockets"}"#),
            "unknown_event",
        ),
        (Message::binary(vec![1, 2, 3]), "binary_not_supported"),
        (
            Message::text(r#"{"type": "input_audio_buffer.append", "audio": "!!!"}"#),
            "invalid_audio",
        ),
        (
            Message::text(
                json!({"type": "input_audio_buffer.append", "audio": base64_of(&[0; 3000])})
                    .to_string(),
            ),
            "",
        ),
    ];
    for (message, code) in cases {
        client.send(message).await.unwrap();
        if !code.is_empty() {
            let event = recv_until(&mut client, "error").await.pop().unwrap();
            assert_eq!(event["error"]["code"], code, "{event}");
        }
    }
    // 3000 buffered; 6000 more would pass the 8000 cap.
    send_json(
        &mut client,
        &json!({"type": "input_audio_buffer.append", "audio": base64_of(&[0; 3000])}),
    )
    .await;
    send_json(
        &mut client,
        &json!({"type": "input_audio_buffer.append", "audio": base64_of(&[0; 2100])}),
    )
    .await;
    let event = recv_json(&mut client).await.unwrap();
    assert_eq!(event["error"]["code"], "buffer_full", "{event}");
    send_json(&mut client, &json!({"type": "input_audio_buffer.clear"})).await;
    recv_until(&mut client, "input_audio_buffer.cleared").await;

    // Still usable after all that, and so is the bystander.
    let sent = audio(2000, 9);
    assert_eq!(talk(&mut client, &sent).await, sent);
    assert_eq!(talk(&mut bystander, &sent).await, sent);

    // An oversized frame ends only that session, with 1009.
    let big = json!({"type": "input_audio_buffer.append", "audio": base64_of(&[0; 4000])});
    send_json(&mut client, &big).await;
    let event = recv_json(&mut client).await.unwrap();
    assert_eq!(event["error"]["code"], "frame_too_large");
    assert_eq!(recv_close(&mut client).await, Some(1009));
    assert_eq!(talk(&mut bystander, &sent).await, sent);

    let m = &server.state.metrics;
    assert_eq!(m.errors(ErrorKind::MalformedFrame), 4);
    assert_eq!(m.errors(ErrorKind::UnknownEvent), 1);
    assert_eq!(m.errors(ErrorKind::AudioOverflow), 1);
    assert_eq!(m.errors(ErrorKind::OversizedFrame), 1);
    drop(bystander);
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn upstream_drop_reconnects_with_a_single_adapter() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(Some(&upstream.url), &["--retry-backoff", "10ms"]))
        .await
        .unwrap();
    let mut client = open_session(server.addr).await;
    let sent = audio(3200, 3);
    assert_eq!(talk(&mut client, &sent).await, sent);

    // The upstream vanishes on the next frame it receives.
    upstream
        .knobs
        .drop_realtime_once
        .store(true, Ordering::SeqCst);
    send_json(&mut client, &json!({"type": "input_audio_buffer.clear"})).await;
    assert!(
        wait_for(Duration::from_secs(5), || upstream
            .knobs
            .realtime_connects
            .load(Ordering::SeqCst)
            == 2)
        .await,
        "no reconnect"
    );
    assert!(
        wait_for(Duration::from_secs(5), || server
            .state
            .metrics
            .reconnects_total
            .load(Ordering::SeqCst)
            == 1)
        .await
    );
    // The old adapter was disposed of before the new one: one live on each side.
    assert_eq!(server.state.metrics.adapters.get(), 1);
    assert!(
        wait_for(Duration::from_secs(5), || upstream
            .knobs
            .realtime_live
            .load(Ordering::SeqCst)
            == 1)
        .await
    );
    assert_eq!(talk(&mut client, &sent).await, sent);
    // The drop itself, plus possibly a failed close frame on the dead socket.
    assert!((1..=2).contains(&server.state.metrics.errors(ErrorKind::UpstreamDropped)));

    drop(client);
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unreachable_upstream_is_reported_and_cleaned_up() {
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let server = RunningServer::start(config(
        Some(&format!("http://{closed}")),
        &["--retry-attempts", "2", "--retry-backoff", "10ms"],
    ))
    .await
    .unwrap();
    let mut client = connect(server.addr, "/v1/realtime").await;
    let event = recv_json(&mut client).await.unwrap();
    assert_eq!(event["error"]["code"], "upstream_unavailable");
    assert_eq!(recv_close(&mut client).await, Some(1013));
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    assert_eq!(server.state.metrics.errors(ErrorKind::UpstreamConnect), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn session_limit_refuses_with_503_and_frees_slots() {
    let server = RunningServer::start(config(None, &["--max-sessions", "2"]))
        .await
        .unwrap();
    let a = open_session(server.addr).await;
    let _b = open_session(server.addr).await;
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/v1/realtime", server.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503, got {other:?}"),
    }
    drop(a);
    assert!(
        wait_for(Duration::from_secs(5), || server
            .state
            .metrics
            .sessions
            .get()
            == 1)
        .await
    );
    let _c = open_session(server.addr).await;
    assert_eq!(server.state.metrics.errors(ErrorKind::SessionLimit), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn menu_tools_answer_function_calls_and_updates_reach_sessions() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(Some(&upstream.url), &["--menu-refresh", "50ms"]))
        .await
        .unwrap();
    let mut client = open_session(server.addr).await;

    let ask = |text: &str| {
        json!({"type": "conversation.item.create",
               "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    };
    send_json(&mut client, &ask("What is on the menu?")).await;
    send_json(&mut client, &json!({"type": "response.create"})).await;
    let events = recv_until(&mut client, "response.output_text.done").await;
    assert!(
        events.iter().any(
            |e| e["type"] == "response.function_call_arguments.done" && e["name"] == "get_menu"
        )
    );
    let text = events.last().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Classic Burger"), "{text}");

    send_json(&mut client, &ask("I'd like to order")).await;
    send_json(&mut client, &json!({"type": "response.create"})).await;
    let events = recv_until(&mut client, "response.output_text.done").await;
    let text = events.last().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("\"total_cents\":2300"), "{text}");

    // The refresh job's updates arrive through the session's subscription.
    let update = recv_until(&mut client, "menu.updated").await;
    assert!(update.last().unwrap()["version"].as_u64().unwrap() >= 1);
    assert!(server.state.menus.entry_count().await >= 1);
    drop(client);
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn recordings_are_closed_on_clean_and_abrupt_ends() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().to_str().unwrap().to_owned();
    let server = RunningServer::start(config(None, &["--record-dir", &record]))
        .await
        .unwrap();

    let mut clean = open_session(server.addr).await;
    let sent = audio(5000, 4);
    assert_eq!(talk(&mut clean, &sent).await, sent);
    assert_eq!(server.state.metrics.recordings_open.get(), 1);
    clean.close(None).await.unwrap();

    let mut abrupt = open_session(server.addr).await;
    assert_eq!(talk(&mut abrupt, &sent[..1000]).await, &sent[..1000]);
    // Vanish mid-session: drop the TCP connection without a close handshake.
    drop(abrupt);

    assert!(
        wait_for(Duration::from_secs(5), || settled(&server)
            && server.state.metrics.recordings_open.get() == 0)
        .await
    );
    assert_eq!(
        std::fs::read(dir.path().join("session-1.ulaw")).unwrap(),
        sent
    );
    assert_eq!(
        std::fs::read(dir.path().join("session-2.ulaw")).unwrap(),
        &sent[..1000]
    );
    assert!(
        server.state.metrics.errors_total() <= 1,
        "at most the vanished client is counted"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_sends_close_frames_to_live_sessions() {
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(open_session(server.addr).await);
    }
    let state = server.state.clone();
    let report = server.shutdown().await.unwrap();
    assert!(report.clean(), "{report:?}");
    for client in &mut clients {
        assert_eq!(recv_close(client).await, Some(1001));
    }
    assert_eq!(state.metrics.sessions.get(), 0);
    assert!(state.jobs.is_empty());
}

#[tokio::test]
async fn idle_sessions_are_expired_and_removed() {
    let server = RunningServer::start(config(
        None,
        &["--idle-timeout", "200ms", "--reaper-interval", "50ms"],
    ))
    .await
    .unwrap();
    let mut idle = open_session(server.addr).await;
    assert_eq!(recv_close(&mut idle).await, Some(1000));
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

/// A client that pipelines many requests without waiting for the answers
/// (it reads them concurrently) gets every answer from the built-in local
/// provider: the session stops reading the client while the provider's
/// backlog is high, instead of overflowing it, dropping the provider and
/// losing the queued responses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_provider_backpressures_pipelined_requests() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use futures_util::StreamExt as _;

    // Audio turns of 20 deltas each, then a burst of bare `response.create`
    // (3 events each, but tiny, so they arrive far faster than the answers
    // drain): well over the provider's hard backlog cap of 4096 events.
    const TURNS: usize = 50;
    const TURN_BYTES: usize = 96_000;
    const BURST: usize = 4000;
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    let (mut tx, mut rx) = open_session(server.addr).await.split();
    let writer = tokio::spawn(async move {
        let append =
            json!({"type": "input_audio_buffer.append", "audio": B64.encode(audio(TURN_BYTES, 3))})
                .to_string();
        let commit = json!({"type": "input_audio_buffer.commit"}).to_string();
        let create = json!({"type": "response.create"}).to_string();
        for _ in 0..TURNS {
            for frame in [&append, &commit, &create] {
                tx.send(Message::text(frame.clone())).await.unwrap();
            }
        }
        for _ in 0..BURST {
            tx.send(Message::text(create.clone())).await.unwrap();
        }
        tx
    });
    let mut done = 0;
    let mut echoed = 0;
    while done < TURNS + BURST {
        let message = tokio::time::timeout(Duration::from_secs(10), rx.next())
            .await
            .unwrap_or_else(|_| panic!("stalled after {done} responses"))
            .unwrap_or_else(|| panic!("closed after {done} responses"))
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        match event["type"].as_str() {
            Some("response.audio.delta") => {
                echoed += B64.decode(event["delta"].as_str().unwrap()).unwrap().len();
            }
            Some("response.done") => done += 1,
            Some("error") => panic!("error after {done} responses: {event}"),
            _ => {}
        }
    }
    assert_eq!(echoed, TURNS * TURN_BYTES);
    let tx = writer.await.unwrap();
    let m = &server.state.metrics;
    assert_eq!(m.errors(ErrorKind::UpstreamDropped), 0);
    assert_eq!(m.reconnects_total.load(Ordering::Relaxed), 0);
    drop((tx, rx));
    let report = server.shutdown().await.unwrap();
    assert!(report.clean(), "{report:?}");
}

/// Shutdown with nothing to drain: the HTTP server may finish in the same
/// poll as the shutdown signal, and must not be polled again after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_right_after_the_last_session_is_clean() {
    for _ in 0..50 {
        let server = RunningServer::start(config(None, &[])).await.unwrap();
        let mut client = open_session(server.addr).await;
        client.close(None).await.unwrap();
        // Reads up to the server's close reply (`session.updated` may come first).
        recv_close(&mut client).await;
        drop(client);
        let report = server.shutdown().await.unwrap();
        assert!(report.clean(), "{report:?}");
    }
}

/// Pongs prove liveness, not use: a client that answers the server's pings
/// but sends nothing else is still expired (ping interval shorter than the
/// idle timeout), while a client that sends application events is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_that_answer_pings_are_still_expired() {
    let server = RunningServer::start(config(
        None,
        &[
            "--ping-interval",
            "50ms",
            "--idle-timeout",
            "500ms",
            "--reaper-interval",
            "50ms",
        ],
    ))
    .await
    .unwrap();
    let mut active = open_session(server.addr).await;
    let busy = tokio::spawn(async move {
        // 2 s of application events, one every 100 ms, all answered.
        for _ in 0..20 {
            send_json(&mut active, &json!({"type": "input_audio_buffer.clear"})).await;
            recv_until(&mut active, "input_audio_buffer.cleared").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        active
    });
    let mut idle = open_session(server.addr).await;
    let started = std::time::Instant::now();
    let (code, pings) = answer_pings_until_close(&mut idle, Duration::from_secs(3)).await;
    assert_eq!(code, Some(1000), "idle expiry closes with 1000");
    assert!(pings >= 3, "only {pings} pings were answered before expiry");
    assert!(started.elapsed() >= Duration::from_millis(450));
    let mut active = busy.await.unwrap();
    // The active session outlived four idle timeouts and still works.
    let sent = audio(1600, 5);
    assert_eq!(talk(&mut active, &sent).await, sent);
    drop((idle, active));
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

/// A frame larger than twice `--max-frame-bytes` is refused by the codec
/// from its header; the client still gets `frame_too_large` and close 1009,
/// like for a frame just over the limit.
#[tokio::test]
async fn frames_past_the_codec_limit_get_frame_too_large_and_1009() {
    let server = RunningServer::start(config(None, &["--max-frame-bytes", "4096"]))
        .await
        .unwrap();
    let mut bystander = open_session(server.addr).await;
    for size in [6_000, 20_000] {
        let mut client = open_session(server.addr).await;
        client.send(Message::text("x".repeat(size))).await.unwrap();
        // `session.updated` (the answer to the session's own setup) may come first.
        let event = recv_until(&mut client, "error").await.pop().unwrap();
        assert_eq!(
            event["error"]["code"], "frame_too_large",
            "{size} B: {event}"
        );
        assert_eq!(recv_close(&mut client).await, Some(1009), "{size} B frame");
    }
    let m = &server.state.metrics;
    assert_eq!(m.errors(ErrorKind::OversizedFrame), 2);
    assert_eq!(m.errors(ErrorKind::ClientGone), 0);
    let sent = audio(800, 2);
    assert_eq!(talk(&mut bystander, &sent).await, sent);
    drop(bystander);
    assert!(wait_for(Duration::from_secs(5), || settled(&server)).await);
    server.shutdown().await.unwrap();
}

/// Clients still streaming audio when shutdown starts get their close frame
/// (1001): the server drains their frames until they answer the close,
/// instead of dropping a socket with unread data (which the kernel answers
/// with a reset that destroys the close frame).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_close_frames_reach_clients_that_are_still_sending() {
    use futures_util::StreamExt as _;
    const CLIENTS: usize = 100;
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    let append = Message::text(
        json!({"type": "input_audio_buffer.append", "audio": base64_of(&[0x55; 3200])}).to_string(),
    );
    let commit = Message::text(json!({"type": "input_audio_buffer.commit"}).to_string());
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        let (mut tx, mut rx) = open_session(server.addr).await.split();
        let (append, commit) = (append.clone(), commit.clone());
        // Streams until the connection refuses more (bounded: 60 s of frames at most).
        tokio::spawn(async move {
            for i in 0..1_000_000u32 {
                let frame = if i % 8 == 7 { &commit } else { &append };
                if tx.send(frame.clone()).await.is_err() {
                    break;
                }
            }
        });
        readers.push(tokio::spawn(async move {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
                    Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(_)) | None) | Err(_) => return None,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = server.shutdown().await.unwrap();
    let mut closed = 0;
    for reader in readers {
        if reader.await.unwrap() == Some(1001) {
            closed += 1;
        }
    }
    assert_eq!(closed, CLIENTS, "close frames delivered; {report:?}");
    assert!(report.clean(), "{report:?}");
}
