//! `GET /twilio/media`: a Twilio Media Streams WebSocket bridged to a
//! realtime session.
//!
//! Twilio sends `connected`, `start`, `media` (base64 8 kHz μ-law),
//! `mark` and `stop` events. Caller audio is buffered (capped) and forwarded
//! upstream; every `--twilio-commit-bytes` of audio ends a turn (commit +
//! response), so the bridge works with or without server-side turn
//! detection. Upstream audio goes back as `media` events, each finished
//! response followed by a `mark`.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use crate::http::registry_refusal;
use crate::metrics::ErrorKind;
use crate::session::{
    End, Session, close_code, finish_client, frame_too_large, is_application, limit_upgrade,
    recv_upstream, send_client, send_json,
};
use crate::sessions::{SessionHandle, SessionKind};
use crate::state::AppState;

const KNOWN_EVENTS: [&str; 6] = ["connected", "start", "media", "mark", "stop", "dtmf"];

#[derive(Debug, Deserialize)]
struct StartEvent {
    start: StartMeta,
}

#[derive(Debug, Deserialize)]
struct StartMeta {
    #[serde(rename = "streamSid")]
    stream_sid: String,
    #[serde(rename = "callSid", default)]
    call_sid: String,
}

#[derive(Debug, Deserialize)]
struct MediaEvent {
    media: MediaMeta,
}

#[derive(Debug, Deserialize)]
struct MediaMeta {
    payload: String,
}

pub async fn handler(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let handle = match state
        .sessions
        .try_register(SessionKind::Twilio, &state.shutdown)
    {
        Ok(handle) => handle,
        Err(e) => return registry_refusal(&state, &e),
    };
    let tasks = state.session_tasks.clone();
    let metrics = state.metrics.clone();
    limit_upgrade(upgrade, &state.config)
        .on_failed_upgrade(move |e| {
            metrics.record_error(ErrorKind::ClientGone, "websocket upgrade failed", &e)
        })
        .on_upgrade(move |socket| tasks.track_future(run(socket, state, handle)))
        .into_response()
}

/// A Twilio-side error notice (Twilio ignores unknown events; it is for logs and tests).
fn error_notice(code: &str, message: &str) -> Value {
    json!({"event": "error", "error": {"code": code, "message": message}})
}

/// A parsed, valid Twilio frame.
enum Inbound {
    Start(StartMeta),
    Media(Vec<u8>),
    Mark(String),
    Stop,
    Ignore,
}

/// Parses one frame; `Err((kind, code, message))` for bad input.
fn parse(
    max: usize,
    message: Message,
) -> Result<Option<Inbound>, (ErrorKind, &'static str, String)> {
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return Err((
                ErrorKind::MalformedFrame,
                "binary_not_supported",
                "send JSON text frames".into(),
            ));
        }
        Message::Close(_) => return Ok(None),
        Message::Ping(_) | Message::Pong(_) => return Ok(Some(Inbound::Ignore)),
    };
    if text.len() > max {
        return Err((
            ErrorKind::OversizedFrame,
            "frame_too_large",
            format!("frame of {} bytes exceeds the limit of {max}", text.len()),
        ));
    }
    let value: Value = serde_json::from_str(text.as_str()).map_err(|e| {
        (
            ErrorKind::MalformedFrame,
            "malformed_json",
            format!("frame is not valid JSON: {e}"),
        )
    })?;
    let event = value
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let bad = |e: serde_json::Error| {
        (
            ErrorKind::MalformedFrame,
            "malformed_event",
            format!("bad {event:?} event: {e}"),
        )
    };
    match event.as_str() {
        "start" => Ok(Some(Inbound::Start(
            StartEvent::deserialize(&value).map_err(bad)?.start,
        ))),
        "media" => {
            let media = MediaEvent::deserialize(&value).map_err(bad)?;
            let audio = B64.decode(media.media.payload.as_bytes()).map_err(|e| {
                (
                    ErrorKind::MalformedFrame,
                    "invalid_audio",
                    format!("payload is not base64: {e}"),
                )
            })?;
            Ok(Some(Inbound::Media(audio)))
        }
        "mark" => {
            let name = value
                .pointer("/mark/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(Some(Inbound::Mark(name)))
        }
        "stop" => Ok(Some(Inbound::Stop)),
        known if KNOWN_EVENTS.contains(&known) => Ok(Some(Inbound::Ignore)),
        other => Err((
            ErrorKind::UnknownEvent,
            "unknown_event",
            format!("unknown event {other:?}"),
        )),
    }
}

/// Why no frame was received.
enum Received {
    /// Refused by the codec from its header (past twice `--max-frame-bytes`).
    TooLarge(String),
    Failed(axum::Error),
    Gone,
}

fn receive(message: Option<Result<Message, axum::Error>>) -> Result<Message, Received> {
    match message {
        Some(Ok(message)) => Ok(message),
        Some(Err(e)) if frame_too_large(&e) => Err(Received::TooLarge(e.to_string())),
        Some(Err(e)) => Err(Received::Failed(e)),
        None => Err(Received::Gone),
    }
}

/// Reports bad input; `Some` when the call must end.
async fn reject(
    state: &AppState,
    socket: &mut WebSocket,
    kind: ErrorKind,
    code: &str,
    message: &str,
) -> Option<End> {
    state
        .metrics
        .record_error(kind, "rejected Twilio frame", &message);
    if let Err(e) = send_json(state, socket, &error_notice(code, message)).await {
        state
            .metrics
            .record_error(ErrorKind::ClientGone, "sending error notice", &e);
        return Some(End::ClientGone);
    }
    (kind == ErrorKind::OversizedFrame)
        .then(|| End::Close(close_code::TOO_BIG, "frame too large".into()))
}

pub async fn run(mut socket: WebSocket, state: AppState, handle: SessionHandle) {
    let id = handle.id();
    // Phase 1: wait for `start` (bounded by idle expiry and shutdown).
    let start = loop {
        tokio::select! {
            _ = handle.cancelled() => {
                finish_client(&state, &mut socket, &End::Cancelled).await;
                return;
            }
            message = socket.recv() => {
                let message = match receive(message) {
                    Ok(message) => message,
                    Err(Received::TooLarge(e)) => {
                        if let Some(end) = reject(&state, &mut socket, ErrorKind::OversizedFrame, "frame_too_large", &e).await {
                            finish_client(&state, &mut socket, &end).await;
                        }
                        return;
                    }
                    Err(Received::Failed(e)) => {
                        state.metrics.record_error(ErrorKind::ClientGone, "twilio websocket failed", &e);
                        return;
                    }
                    Err(Received::Gone) => return,
                };
                // Pongs (which Twilio and every standard client send) are not use.
                if is_application(&message) {
                    handle.touch();
                }
                match parse(state.config.max_frame_bytes, message) {
                    Ok(None) => {
                        finish_client(&state, &mut socket, &End::ClientClosed).await;
                        return;
                    }
                    Ok(Some(Inbound::Stop)) => return,
                    Ok(Some(Inbound::Start(start))) => break start,
                    Ok(Some(Inbound::Media(_))) => {
                        if let Some(end) = reject(&state, &mut socket, ErrorKind::MalformedFrame, "media_before_start", "media before start").await {
                            finish_client(&state, &mut socket, &end).await;
                            return;
                        }
                    }
                    Ok(Some(Inbound::Mark(_) | Inbound::Ignore)) => continue,
                    Err((kind, code, message)) => {
                        if let Some(end) = reject(&state, &mut socket, kind, code, &message).await {
                            finish_client(&state, &mut socket, &end).await;
                            return;
                        }
                    }
                }
            }
        }
    };
    tracing::info!(
        session = id,
        stream = start.stream_sid,
        call = start.call_sid,
        "twilio stream started"
    );
    let mut session = match Session::open(state.clone(), handle).await {
        Ok(session) => session,
        Err(e) => {
            state
                .metrics
                .record_error(e.kind(), "opening upstream for twilio stream", &e);
            if let Err(gone) = send_json(
                &state,
                &mut socket,
                &error_notice("upstream_unavailable", &e.to_string()),
            )
            .await
            {
                state.metrics.record_error(
                    ErrorKind::ClientGone,
                    "reporting upstream failure",
                    &gone,
                );
            }
            finish_client(
                &state,
                &mut socket,
                &End::Close(close_code::TRY_AGAIN_LATER, "upstream unavailable".into()),
            )
            .await;
            return;
        }
    };
    let end = bridge(&mut socket, &mut session, &start.stream_sid).await;
    finish_client(&state, &mut socket, &end).await;
    session.close().await;
    tracing::info!(session = id, ?end, "twilio stream ended");
}

async fn bridge(socket: &mut WebSocket, session: &mut Session, stream_sid: &str) -> End {
    let state = session.state.clone();
    let period = state.config.ping_interval;
    let mut heartbeat = interval_at(Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut responses: u64 = 0;
    loop {
        tokio::select! {
            _ = session.handle.cancelled() => return End::Cancelled,
            // While the upstream backlog drains (the branch below is ready),
            // client input waits in the socket: backpressure.
            message = socket.recv(), if !session.upstream_backlogged() => {
                let message = match receive(message) {
                    Ok(message) => message,
                    Err(Received::TooLarge(e)) => {
                        return reject(&state, socket, ErrorKind::OversizedFrame, "frame_too_large", &e)
                            .await
                            .unwrap_or(End::ClientGone);
                    }
                    Err(Received::Failed(e)) => {
                        state.metrics.record_error(ErrorKind::ClientGone, "twilio websocket failed", &e);
                        return End::ClientGone;
                    }
                    Err(Received::Gone) => return End::ClientGone,
                };
                // Only media, marks and other events are use; pongs prove liveness only.
                if is_application(&message) {
                    session.handle.touch();
                }
                match parse(state.config.max_frame_bytes, message) {
                    Ok(None) => return End::ClientClosed,
                    Ok(Some(Inbound::Stop)) => {
                        session.commit_turn().await;
                        return End::Close(close_code::NORMAL, "stream stopped".into());
                    }
                    Ok(Some(Inbound::Media(audio))) => {
                        if let Err(e) = session.buffer_audio(&audio) {
                            if let Some(end) = reject(&state, socket, ErrorKind::AudioOverflow, "buffer_full", &e.to_string()).await {
                                return end;
                            }
                            continue;
                        }
                        let mut events = vec![json!({"type": "input_audio_buffer.append", "audio": B64.encode(&audio)})];
                        if session.audio.len() >= state.config.twilio_commit_bytes {
                            session.commit_turn().await;
                            events.push(json!({"type": "input_audio_buffer.commit"}));
                            events.push(json!({"type": "response.create"}));
                        }
                        for event in &events {
                            if let Err(e) = session.send_upstream(event).await
                                && !session.recover(&e).await
                            {
                                return End::Close(close_code::INTERNAL, "upstream unavailable".into());
                            }
                        }
                    }
                    Ok(Some(Inbound::Mark(name))) => tracing::debug!(session = session.id(), name, "twilio played mark"),
                    Ok(Some(Inbound::Start(_))) => {
                        if let Some(end) = reject(&state, socket, ErrorKind::MalformedFrame, "duplicate_start", "stream already started").await {
                            return end;
                        }
                    }
                    Ok(Some(Inbound::Ignore)) => tracing::trace!("ignored twilio event"),
                    Err((kind, code, message)) => {
                        if let Some(end) = reject(&state, socket, kind, code, &message).await {
                            return end;
                        }
                    }
                }
            }
            event = recv_upstream(&mut session.adapter) => {
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(e)) => {
                        if session.recover(&e).await { continue; }
                        return End::Close(close_code::INTERNAL, "upstream unavailable".into());
                    }
                    None => {
                        if session.recover(&"upstream closed the connection").await { continue; }
                        return End::Close(close_code::INTERNAL, "upstream unavailable".into());
                    }
                };
                if let Err(e) = session.handle_tool_call(&event).await
                    && !session.recover(&e).await
                {
                    return End::Close(close_code::INTERNAL, "upstream unavailable".into());
                }
                let outbound = match event.get("type").and_then(Value::as_str) {
                    Some("response.audio.delta") => event.get("delta").and_then(Value::as_str).map(|payload| {
                        json!({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})
                    }),
                    Some("response.done") => {
                        responses += 1;
                        Some(json!({"event": "mark", "streamSid": stream_sid, "mark": {"name": format!("response-{responses}")}}))
                    }
                    Some("error") => {
                        state.metrics.record_error(ErrorKind::UpstreamProtocol, "upstream reported an error", &event);
                        None
                    }
                    _ => None,
                };
                if let Some(outbound) = outbound
                    && let Err(e) = send_json(&state, socket, &outbound).await
                {
                    state.metrics.record_error(ErrorKind::ClientGone, "sending audio to twilio", &e);
                    return End::ClientGone;
                }
            }
            Some(crate::events::ServerEvent::MenuUpdated { version, .. }) = session.events.recv() => {
                tracing::debug!(session = session.id(), version, "menu updated during call");
            }
            _ = heartbeat.tick() => {
                if let Err(e) = send_client(&state, socket, Message::Ping(Default::default())).await {
                    state.metrics.record_error(ErrorKind::ClientGone, "pinging twilio", &e);
                    return End::ClientGone;
                }
                if let Err(e) = session.heartbeat_upstream().await
                    && !session.recover(&e).await
                {
                    return End::Close(close_code::INTERNAL, "upstream unavailable".into());
                }
            }
        }
    }
}
