//! The Twilio media-stream bridge: connected/start/media/mark/stop.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};
use unleak_runtime::RunningServer;
use unleak_runtime::metrics::ErrorKind;

async fn next_event(client: &mut Client) -> Value {
    recv_json(client).await.expect("twilio event")
}

fn media(payload: &[u8]) -> Value {
    json!({"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": B64.encode(payload)}})
}

#[tokio::test]
async fn call_audio_is_bridged_and_echoed_back() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(
        Some(&upstream.url),
        &["--twilio-commit-bytes", "1600"],
    ))
    .await
    .unwrap();
    let mut twilio = connect(server.addr, "/twilio/media").await;
    send_json(
        &mut twilio,
        &json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )
    .await;
    // Media before start is refused, the call goes on.
    send_json(&mut twilio, &media(&[1; 160])).await;
    assert_eq!(
        next_event(&mut twilio).await["error"]["code"],
        "media_before_start"
    );
    send_json(
        &mut twilio,
        &json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                "start": {"streamSid": "MZ1", "callSid": "CA1", "accountSid": "AC1", "tracks": ["inbound"],
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
    )
    .await;
    let sent = audio(3200, 7);
    for chunk in sent.chunks(160) {
        send_json(&mut twilio, &media(chunk)).await;
    }
    // Two turns of 1600 bytes: their audio comes back as media, each followed by a mark.
    let mut echoed = Vec::new();
    let mut marks = Vec::new();
    while marks.len() < 2 {
        let event = next_event(&mut twilio).await;
        match event["event"].as_str() {
            Some("media") => {
                assert_eq!(event["streamSid"], "MZ1");
                echoed.extend(
                    B64.decode(event["media"]["payload"].as_str().unwrap())
                        .unwrap(),
                );
            }
            Some("mark") => marks.push(event["mark"]["name"].as_str().unwrap().to_owned()),
            other => panic!("unexpected {other:?}: {event}"),
        }
        assert!(echoed.len() <= sent.len());
    }
    assert_eq!(echoed, sent);
    assert_eq!(marks, ["response-1", "response-2"]);

    send_json(
        &mut twilio,
        &json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "response-1"}}),
    )
    .await;
    send_json(&mut twilio, &json!({"event": "dance"})).await;
    assert_eq!(
        next_event(&mut twilio).await["error"]["code"],
        "unknown_event"
    );
    send_json(
        &mut twilio,
        &json!({"event": "media", "media": {"payload": "%%%"}}),
    )
    .await;
    assert_eq!(
        next_event(&mut twilio).await["error"]["code"],
        "invalid_audio"
    );
    send_json(&mut twilio, &json!({"event": "stop", "streamSid": "MZ1"})).await;
    assert_eq!(recv_close(&mut twilio).await, Some(1000));

    let m = &server.state.metrics;
    assert!(
        wait_for(Duration::from_secs(5), || m.sessions.get() == 0
            && m.adapters.get() == 0
            && m.listeners.get() == 0)
        .await
    );
    assert_eq!(m.errors(ErrorKind::UnknownEvent), 1);
    assert_eq!(m.errors(ErrorKind::MalformedFrame), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn vanished_twilio_peer_releases_everything() {
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    let mut twilio = connect(server.addr, "/twilio/media").await;
    send_json(
        &mut twilio,
        &json!({"event": "start", "start": {"streamSid": "MZ2", "callSid": "CA2"}}),
    )
    .await;
    send_json(&mut twilio, &media(&[3; 800])).await;
    let m = server.state.metrics.clone();
    assert!(
        wait_for(Duration::from_secs(5), || m.adapters.get() == 1
            && m.audio_bytes.get() == 800)
        .await
    );
    drop(twilio);
    assert!(
        wait_for(Duration::from_secs(5), || m.sessions.get() == 0
            && m.adapters.get() == 0
            && m.audio_bytes.get() == 0
            && m.listeners.get() == 0)
        .await
    );
    server.shutdown().await.unwrap();
}

fn start_event() -> Value {
    json!({"event": "start", "start": {"streamSid": "MZ3", "callSid": "CA3"}})
}

/// A Twilio peer that answers pings but sends no media is expired, both
/// before `start` and during the call: pongs are not activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_peers_that_only_answer_pings_are_expired() {
    let server = RunningServer::start(config(
        None,
        &[
            "--ping-interval",
            "50ms",
            "--idle-timeout",
            "400ms",
            "--reaper-interval",
            "50ms",
        ],
    ))
    .await
    .unwrap();
    let mut before_start = connect(server.addr, "/twilio/media").await;
    let mut in_call = connect(server.addr, "/twilio/media").await;
    send_json(&mut in_call, &start_event()).await;
    send_json(&mut in_call, &media(&[3; 160])).await;
    for client in [&mut before_start, &mut in_call] {
        let (code, _pings) = answer_pings_until_close(client, Duration::from_secs(3)).await;
        assert_eq!(code, Some(1000));
    }
    let m = server.state.metrics.clone();
    assert!(wait_for(Duration::from_secs(5), || m.sessions.get() == 0).await);
    server.shutdown().await.unwrap();
}

/// Frames past twice the limit (refused by the codec from their header) get
/// the same `frame_too_large` notice and close 1009 as frames just over it.
#[tokio::test]
async fn oversized_twilio_frames_get_frame_too_large_and_1009() {
    let server = RunningServer::start(config(None, &["--max-frame-bytes", "2048"]))
        .await
        .unwrap();
    for size in [3_000, 10_000] {
        let mut twilio = connect(server.addr, "/twilio/media").await;
        send_json(&mut twilio, &start_event()).await;
        send_json(&mut twilio, &media(&vec![1; size])).await;
        assert_eq!(
            next_event(&mut twilio).await["error"]["code"],
            "frame_too_large",
            "{size} B of audio"
        );
        assert_eq!(
            recv_close(&mut twilio).await,
            Some(1009),
            "{size} B of audio"
        );
    }
    assert_eq!(server.state.metrics.errors(ErrorKind::OversizedFrame), 2);
    server.shutdown().await.unwrap();
}
