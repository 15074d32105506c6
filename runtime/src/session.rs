//! What every voice session has, whichever front door it came through: its
//! registry handle, its event subscription, its capped audio buffer, its
//! optional recording, its (single) upstream adapter and its order.
//!
//! All of them are owned by [`Session`], so when a session ends — cleanly,
//! by error, by idle expiry, by shutdown or because the client vanished —
//! dropping it releases every one of them. [`Session::close`] is the polite
//! version that also sends close frames and syncs the recording.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

use crate::audio::{AudioBuffer, AudioOverflow, Recording};
use crate::events::Subscription;
use crate::menu::{Order, call_tool, tool_definitions};
use crate::metrics::ErrorKind;
use crate::retry::with_timeout;
use crate::sessions::SessionHandle;
use crate::state::AppState;
use crate::upstream::{RealtimeAdapter, UpstreamError};

/// Reconnects one session may make after its upstream drops.
pub const MAX_RECONNECTS: u32 = 3;
/// Deadline of one send to a client; a client that reads slower is dropped.
pub const CLIENT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes used towards clients.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// One live voice session.
#[derive(Debug)]
pub struct Session {
    pub state: AppState,
    pub handle: SessionHandle,
    pub events: Subscription,
    pub audio: AudioBuffer,
    pub recording: Option<Recording>,
    /// At most one adapter, ever: see [`Session::connect_adapter`].
    pub adapter: Option<RealtimeAdapter>,
    pub order: Order,
    reconnects: u32,
}

impl Session {
    /// Subscribes to shared events, opens the recording (if configured) and
    /// connects the upstream adapter. On error everything acquired so far is
    /// released by drop.
    pub async fn open(state: AppState, handle: SessionHandle) -> Result<Self, UpstreamError> {
        let id = handle.id();
        let events = state.events.subscribe(id);
        let audio = AudioBuffer::new(state.config.audio_buffer_cap, state.metrics.clone());
        let recording = match &state.config.record_dir {
            Some(dir) => match Recording::create(dir, id, &state.metrics).await {
                Ok(recording) => Some(recording),
                Err(e) => {
                    // The call goes on unrecorded rather than failing.
                    state.metrics.record_error(
                        ErrorKind::Recording,
                        "cannot create recording file",
                        &e,
                    );
                    None
                }
            },
            None => None,
        };
        let mut session = Self {
            state,
            handle,
            events,
            audio,
            recording,
            adapter: None,
            order: Order::default(),
            reconnects: 0,
        };
        session.connect_adapter().await?;
        Ok(session)
    }

    pub fn id(&self) -> u64 {
        self.handle.id()
    }

    /// Disposes of the current adapter first (close frame, socket dropped),
    /// then connects a new one: never two adapters for one session.
    pub async fn connect_adapter(&mut self) -> Result<(), UpstreamError> {
        if let Some(old) = self.adapter.take() {
            old.close(self.state.config.close_grace).await;
        }
        let mut adapter = self
            .state
            .upstream
            .connect_realtime(self.id(), self.handle.token())
            .await?;
        adapter
            .send(&json!({
                "type": "session.update",
                "session": {
                    "input_audio_format": "g711_ulaw",
                    "output_audio_format": "g711_ulaw",
                    "tools": tool_definitions(),
                    "tool_choice": "auto",
                }
            }))
            .await?;
        self.adapter = Some(adapter);
        Ok(())
    }

    /// After the upstream dropped or stalled: logs and counts it, then tries
    /// a bounded number of reconnects. `false` means the session must end.
    pub async fn recover(&mut self, cause: &(dyn std::fmt::Display + Sync)) -> bool {
        let id = self.id();
        self.state.metrics.record_error(
            ErrorKind::UpstreamDropped,
            "upstream realtime connection lost",
            &format!("session {id}: {cause}"),
        );
        if self.reconnects >= MAX_RECONNECTS || self.handle.is_cancelled() {
            return false;
        }
        self.reconnects += 1;
        self.state
            .metrics
            .reconnects_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.connect_adapter().await {
            Ok(()) => {
                tracing::info!(
                    session = id,
                    attempt = self.reconnects,
                    "upstream reconnected"
                );
                true
            }
            Err(e) => {
                self.state
                    .metrics
                    .record_error(e.kind(), "upstream reconnect failed", &e);
                false
            }
        }
    }

    /// The upstream's answers are piling up faster than the client takes
    /// them: the session loop must not read more client input until they
    /// drain (backpressure instead of an unbounded or overflowing queue).
    pub fn upstream_backlogged(&self) -> bool {
        self.adapter
            .as_ref()
            .is_some_and(RealtimeAdapter::backlogged)
    }

    /// Sends one event upstream.
    pub async fn send_upstream(&mut self, event: &Value) -> Result<(), UpstreamError> {
        match self.adapter.as_mut() {
            Some(adapter) => adapter.send(event).await,
            None => Err(UpstreamError::Protocol("no upstream adapter".into())),
        }
    }

    /// Adds input audio to the current turn (refused whole past the cap).
    pub fn buffer_audio(&mut self, audio: &[u8]) -> Result<(), AudioOverflow> {
        self.audio.append(audio)
    }

    /// Ends the current turn: its audio goes to the recording, the buffer empties.
    pub async fn commit_turn(&mut self) {
        let turn = self.audio.take();
        if let Some(recording) = self.recording.as_mut()
            && let Err(e) = recording.write(&turn).await
        {
            self.state.metrics.record_error(
                ErrorKind::Recording,
                "writing recording; recording stopped",
                &e,
            );
            // Dropping it closes the file now instead of at session end.
            self.recording = None;
        }
    }

    /// Serves a function call of the voice agent found in an upstream event.
    pub async fn handle_tool_call(&mut self, event: &Value) -> Result<(), UpstreamError> {
        if event.get("type").and_then(Value::as_str)
            != Some("response.function_call_arguments.done")
        {
            return Ok(());
        }
        let name = event
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let call_id = event
            .get("call_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let arguments = event
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let restaurant = self.state.config.restaurant.clone();
        let output = match call_tool(
            name,
            arguments,
            &restaurant,
            &self.state.menus,
            &mut self.order,
        )
        .await
        {
            Ok(output) => output,
            Err(e) => {
                self.state.metrics.record_error(
                    ErrorKind::Tool,
                    "tool call failed; the agent is told",
                    &format!("session {}: {name}: {e}", self.id()),
                );
                json!({"error": e.to_string()})
            }
        };
        self.send_upstream(&json!({
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": output.to_string()}
        }))
        .await?;
        self.send_upstream(&json!({"type": "response.create"}))
            .await
    }

    /// Heartbeat towards the upstream: pings it, and reports it stalled when
    /// it has been silent for three ping intervals.
    pub async fn heartbeat_upstream(&mut self) -> Result<(), UpstreamError> {
        let limit = self.state.config.ping_interval * 3;
        match self.adapter.as_mut() {
            Some(adapter) if adapter.silent_for() > limit => Err(UpstreamError::Timeout(limit)),
            Some(adapter) => adapter.ping().await,
            None => Ok(()),
        }
    }

    /// Ends the session politely: closes the adapter, syncs the recording.
    pub async fn close(mut self) {
        if let Some(adapter) = self.adapter.take() {
            adapter.close(self.state.config.close_grace).await;
        }
        self.audio.clear();
        if let Some(recording) = self.recording.take() {
            let path = recording.path().to_owned();
            match recording.finish().await {
                Ok(bytes) => {
                    tracing::debug!(session = self.id(), bytes, path = %path.display(), "recording saved")
                }
                Err(e) => {
                    self.state
                        .metrics
                        .record_error(ErrorKind::Recording, "finishing recording", &e)
                }
            }
        }
    }
}

/// Next event of an optional adapter (pending forever when there is none).
pub async fn recv_upstream(
    adapter: &mut Option<RealtimeAdapter>,
) -> Option<Result<Value, UpstreamError>> {
    match adapter {
        Some(adapter) => adapter.recv().await,
        None => std::future::pending().await,
    }
}

/// The client failed to take a message in time or went away.
#[derive(Debug, thiserror::Error)]
#[error("client unreachable: {0}")]
pub struct ClientGone(String);

/// Sends one message to a client within [`CLIENT_SEND_TIMEOUT`].
pub async fn send_client(
    state: &AppState,
    socket: &mut WebSocket,
    message: Message,
) -> Result<(), ClientGone> {
    match with_timeout(&state.metrics, CLIENT_SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ClientGone(e.to_string())),
        Err(e) => Err(ClientGone(e.to_string())),
    }
}

/// Sends one JSON event to a client.
pub async fn send_json(
    state: &AppState,
    socket: &mut WebSocket,
    event: &Value,
) -> Result<(), ClientGone> {
    send_client(state, socket, Message::Text(event.to_string().into())).await
}

/// Applies the frame limits and the write buffer bound to a client upgrade.
/// Frames up to twice `--max-frame-bytes` are read so they can be refused
/// with a clear error; larger ones are refused by the codec from their
/// header (see [`frame_too_large`]). Every send is flushed before the next,
/// so the write buffer holds at most one message; its bound makes that a
/// byte bound too.
pub fn limit_upgrade(
    upgrade: WebSocketUpgrade,
    config: &crate::config::Config,
) -> WebSocketUpgrade {
    const WRITE_BUFFER: usize = 128 * 1024;
    let limit = config.max_frame_bytes.saturating_mul(2);
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(WRITE_BUFFER + limit + 64 * 1024)
}

/// A message the client's application sent (text or binary), as opposed to
/// control frames: pongs answer our pings and only prove liveness, so they
/// must not postpone idle expiry.
pub fn is_application(message: &Message) -> bool {
    matches!(message, Message::Text(_) | Message::Binary(_))
}

/// The codec refused a frame from its header because it is larger than the
/// hard limit (twice `--max-frame-bytes`); the payload was never read.
pub fn frame_too_large(error: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(error) = source {
        if let Some(tungstenite::Error::Capacity(_)) = error.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Time left to close one client politely: the close grace, but never past
/// the shutdown deadline (less a margin, so the session ends before the
/// drain gives up on it).
fn close_budget(state: &AppState) -> Duration {
    const MARGIN: Duration = Duration::from_millis(100);
    let grace = state.config.close_grace;
    match state.shutdown_deadline.get() {
        Some(deadline) => grace.min(
            deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(MARGIN),
        ),
        None => grace,
    }
}

/// Sends a close frame, then reads and discards what the client still sends
/// until it answers with its own close (or goes), all by `until`. Dropping a
/// socket with unread data makes the kernel answer with a reset, which
/// destroys the close frame still on its way to a client that is sending.
/// Failure is only logged: the connection is being dropped anyway.
async fn close_politely(state: &AppState, socket: &mut WebSocket, code: u16, reason: &str) {
    let budget = close_budget(state);
    let until = Instant::now() + budget;
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    match with_timeout(&state.metrics, budget, socket.send(frame)).await {
        Ok(Ok(())) => tracing::debug!(code, reason, "close frame sent"),
        Ok(Err(e)) => {
            return state
                .metrics
                .record_error(ErrorKind::ClientGone, "sending close frame", &e);
        }
        Err(e) => {
            return state
                .metrics
                .record_error(ErrorKind::ClientGone, "sending close frame", &e);
        }
    }
    let drain = async {
        let mut discarded = 0usize;
        while let Some(Ok(message)) = socket.recv().await {
            if let Message::Close(_) = message {
                break;
            }
            discarded += 1;
        }
        discarded
    };
    let left = until.saturating_duration_since(Instant::now());
    match with_timeout(&state.metrics, left, drain).await {
        Ok(discarded) => tracing::debug!(code, discarded, "client answered the close"),
        // It kept sending (or never answered): a reset cannot be avoided.
        Err(e) => tracing::debug!(code, error = %e, "client did not answer the close in time"),
    }
}

/// Why a session loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The client sent a close frame: only our reply is left to send.
    ClientClosed,
    /// The client vanished: nothing more to send it.
    ClientGone,
    /// Server shutdown or idle expiry.
    Cancelled,
    /// The session decided to close with this code and reason.
    Close(u16, String),
}

/// Sends the close frame an [`End`] calls for, and drains the client until it
/// answers (see [`close_politely`]).
pub async fn finish_client(state: &AppState, socket: &mut WebSocket, end: &End) {
    match end {
        End::ClientClosed => {
            // tungstenite queued the close reply while reading; flush it.
            let flushed = with_timeout(
                &state.metrics,
                close_budget(state),
                futures_util::SinkExt::flush(socket),
            )
            .await;
            match flushed {
                Ok(Ok(())) => tracing::debug!("client closed; close reply sent"),
                // The client already dropped the connection.
                Ok(Err(e)) => tracing::debug!(error = %e, "client closed; no close reply"),
                Err(e) => {
                    state
                        .metrics
                        .record_error(ErrorKind::ClientGone, "sending close reply", &e)
                }
            }
        }
        End::ClientGone => tracing::debug!("client gone; no close frame to send"),
        End::Cancelled if state.shutdown.is_cancelled() => {
            close_politely(
                state,
                socket,
                close_code::GOING_AWAY,
                "server shutting down",
            )
            .await;
        }
        End::Cancelled => close_politely(state, socket, close_code::NORMAL, "idle timeout").await,
        End::Close(code, reason) => close_politely(state, socket, *code, reason).await,
    }
}
