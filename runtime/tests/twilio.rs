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
