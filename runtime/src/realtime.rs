//! `GET /v1/realtime`: a client WebSocket voice session bridged to the
//! upstream realtime API (OpenAI realtime event subset).
//!
//! Bad input — malformed JSON, unknown event types, binary frames, bad
//! base64 audio — gets an `error` event to that client and a log line, and
//! the session goes on; an oversized frame closes it with 1009. Nothing a
//! client does touches other sessions.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
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
use crate::upstream::local::error_event;

/// Client events forwarded to the upstream as they are.
const FORWARDED: [&str; 6] = [
    "session.update",
    "response.create",
    "response.cancel",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
];

pub async fn handler(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let handle = match state
        .sessions
        .try_register(SessionKind::Realtime, &state.shutdown)
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

/// One session from upgrade to close.
pub async fn run(mut socket: WebSocket, state: AppState, handle: SessionHandle) {
    let id = handle.id();
    let mut session = match Session::open(state.clone(), handle).await {
        Ok(session) => session,
        Err(e) => {
            state
                .metrics
                .record_error(e.kind(), "opening upstream realtime session", &e);
            let event = error_event(
                "upstream_unavailable",
                &format!("upstream realtime API unavailable: {e}"),
            );
            if let Err(gone) = send_json(&state, &mut socket, &event).await {
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
    tracing::debug!(session = id, "realtime session open");
    let created = json!({"type": "session.created", "session": {"id": format!("sess_{id}")}});
    let end = match send_json(&state, &mut socket, &created).await {
        Ok(()) => session_loop(&mut socket, &mut session).await,
        Err(e) => {
            state
                .metrics
                .record_error(ErrorKind::ClientGone, "sending session.created", &e);
            End::ClientGone
        }
    };
    finish_client(&state, &mut socket, &end).await;
    session.close().await;
    tracing::debug!(session = id, ?end, "realtime session closed");
}

async fn session_loop(socket: &mut WebSocket, session: &mut Session) -> End {
    let state = session.state.clone();
    let period = state.config.ping_interval;
    let mut heartbeat = interval_at(Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = session.handle.cancelled() => return End::Cancelled,
            // While the upstream backlog drains (the branch below is ready),
            // client input waits in the socket: backpressure.
            message = socket.recv(), if !session.upstream_backlogged() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(e)) if frame_too_large(&e) => {
                        return refuse_oversized(socket, session, &e.to_string()).await;
                    }
                    Some(Err(e)) => {
                        state.metrics.record_error(ErrorKind::ClientGone, "client websocket failed", &e);
                        return End::ClientGone;
                    }
                    None => return End::ClientGone,
                };
                // Only application messages are use. Every standard client
                // answers our pings, so counting pongs would keep a silent
                // client forever.
                if is_application(&message) {
                    session.handle.touch();
                }
                if let Some(end) = on_client_message(socket, session, message).await {
                    return end;
                }
            }
            event = recv_upstream(&mut session.adapter) => {
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(e)) => {
                        if session.recover(&e).await { continue; }
                        return upstream_lost(&state, socket).await;
                    }
                    None => {
                        if session.recover(&"upstream closed the connection").await { continue; }
                        return upstream_lost(&state, socket).await;
                    }
                };
                if let Err(e) = session.handle_tool_call(&event).await
                    && !session.recover(&e).await
                {
                    return upstream_lost(&state, socket).await;
                }
                if let Err(e) = send_json(&state, socket, &event).await {
                    state.metrics.record_error(ErrorKind::ClientGone, "forwarding upstream event", &e);
                    return End::ClientGone;
                }
            }
            Some(event) = session.events.recv() => {
                let crate::events::ServerEvent::MenuUpdated { restaurant, version } = event;
                let notice = json!({"type": "menu.updated", "restaurant": &*restaurant, "version": version});
                if let Err(e) = send_json(&state, socket, &notice).await {
                    state.metrics.record_error(ErrorKind::ClientGone, "sending menu update", &e);
                    return End::ClientGone;
                }
            }
            _ = heartbeat.tick() => {
                if let Err(e) = send_client(&state, socket, Message::Ping(Default::default())).await {
                    state.metrics.record_error(ErrorKind::ClientGone, "pinging client", &e);
                    return End::ClientGone;
                }
                if let Err(e) = session.heartbeat_upstream().await
                    && !session.recover(&e).await
                {
                    return upstream_lost(&state, socket).await;
                }
            }
        }
    }
}

async fn upstream_lost(state: &AppState, socket: &mut WebSocket) -> End {
    let event = error_event(
        "upstream_unavailable",
        "the upstream realtime connection was lost",
    );
    if let Err(e) = send_json(state, socket, &event).await {
        state
            .metrics
            .record_error(ErrorKind::ClientGone, "reporting upstream loss", &e);
        return End::ClientGone;
    }
    End::Close(close_code::INTERNAL, "upstream unavailable".into())
}

/// Reports bad input to the client; `Some` when the session must end.
async fn reject(
    socket: &mut WebSocket,
    session: &Session,
    kind: ErrorKind,
    code: &str,
    message: &str,
) -> Option<End> {
    let state = &session.state;
    state.metrics.record_error(
        kind,
        "rejected client frame",
        &format!("session {}: {message}", session.id()),
    );
    match send_json(state, socket, &error_event(code, message)).await {
        Ok(()) => None,
        Err(e) => {
            state
                .metrics
                .record_error(ErrorKind::ClientGone, "sending error event", &e);
            Some(End::ClientGone)
        }
    }
}

/// Refuses a frame over `--max-frame-bytes`, whether it was read (up to
/// twice the limit) or refused by the codec from its header: the client gets
/// `frame_too_large`, then close 1009.
async fn refuse_oversized(socket: &mut WebSocket, session: &Session, message: &str) -> End {
    match reject(
        socket,
        session,
        ErrorKind::OversizedFrame,
        "frame_too_large",
        message,
    )
    .await
    {
        Some(end) => end,
        None => End::Close(close_code::TOO_BIG, "frame too large".into()),
    }
}

async fn on_client_message(
    socket: &mut WebSocket,
    session: &mut Session,
    message: Message,
) -> Option<End> {
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return reject(
                socket,
                session,
                ErrorKind::MalformedFrame,
                "binary_not_supported",
                "send JSON text frames",
            )
            .await;
        }
        Message::Close(_) => return Some(End::ClientClosed),
        // Pings are answered by axum; pongs only prove liveness, not use.
        Message::Ping(_) | Message::Pong(_) => return None,
    };
    let max = session.state.config.max_frame_bytes;
    if text.len() > max {
        let message = format!("frame of {} bytes exceeds the limit of {max}", text.len());
        return Some(refuse_oversized(socket, session, &message).await);
    }
    let event: Value = match serde_json::from_str(text.as_str()) {
        Ok(event) => event,
        Err(e) => {
            let message = format!("frame is not valid JSON: {e}");
            return reject(
                socket,
                session,
                ErrorKind::MalformedFrame,
                "malformed_json",
                &message,
            )
            .await;
        }
    };
    let Some(kind) = event.get("type").and_then(Value::as_str) else {
        return reject(
            socket,
            session,
            ErrorKind::MalformedFrame,
            "missing_type",
            "event has no string `type`",
        )
        .await;
    };
    match kind {
        "input_audio_buffer.append" => {
            let audio = match event
                .get("audio")
                .and_then(Value::as_str)
                .map(|a| B64.decode(a))
            {
                Some(Ok(audio)) => audio,
                Some(Err(e)) => {
                    let message = format!("`audio` is not base64: {e}");
                    return reject(
                        socket,
                        session,
                        ErrorKind::MalformedFrame,
                        "invalid_audio",
                        &message,
                    )
                    .await;
                }
                None => {
                    return reject(
                        socket,
                        session,
                        ErrorKind::MalformedFrame,
                        "invalid_audio",
                        "`audio` must be a string",
                    )
                    .await;
                }
            };
            if let Err(e) = session.buffer_audio(&audio) {
                return reject(
                    socket,
                    session,
                    ErrorKind::AudioOverflow,
                    "buffer_full",
                    &e.to_string(),
                )
                .await;
            }
        }
        "input_audio_buffer.commit" => {
            session.commit_turn().await;
        }
        "input_audio_buffer.clear" => {
            session.audio.clear();
        }
        other if FORWARDED.contains(&other) => {
            tracing::trace!(session = session.id(), kind = other, "forwarding")
        }
        other => {
            let message = format!("unknown event type {other:?}");
            return reject(
                socket,
                session,
                ErrorKind::UnknownEvent,
                "unknown_event",
                &message,
            )
            .await;
        }
    };
    if let Err(e) = session.send_upstream(&event).await
        && !session.recover(&e).await
    {
        return Some(upstream_lost(&session.state, socket).await);
    }
    None
}
