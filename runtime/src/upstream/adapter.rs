//! One session's connection to the upstream realtime API.
//!
//! Fix for *duplicate-adapter*: a session owns at most one
//! [`RealtimeAdapter`] (`Option<RealtimeAdapter>` in
//! [`crate::session::Session`]); a reconnect first takes the old one out and
//! awaits [`RealtimeAdapter::close`] before connecting the new one. The
//! adapters gauge counts live adapters through a guard inside the adapter.
//!
//! Fix for *unclosed-stream*: `close` sends a close frame under a deadline,
//! and dropping the adapter on any other path drops the socket.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::UpstreamError;
use super::local::LocalRealtime;
use crate::metrics::{ErrorKind, GaugeGuard, Metrics};
use crate::retry::with_timeout;
use crate::sessions::SessionId;

/// Most events the local echo holds unread for one session.
const LOCAL_OUTBOX_CAP: usize = 4096;
/// From this many unread local events on, the session stops reading its
/// client (see [`RealtimeAdapter::backlogged`]) until they drain: the local
/// provider's equivalent of TCP backpressure from a remote upstream. The
/// byte bound (`--outbound-queue-bytes`) usually applies long before.
const LOCAL_OUTBOX_HIGH_WATER: usize = LOCAL_OUTBOX_CAP / 2;
// A session that checks `backlogged` before each client event cannot reach
// the hard cap: one client event (plus the tool-call reply an upstream event
// may trigger) queues at most two requests' worth of events.
const _: () =
    assert!(LOCAL_OUTBOX_HIGH_WATER + 2 * super::local::MAX_EVENTS_PER_REQUEST < LOCAL_OUTBOX_CAP);

type RemoteStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Events of the local echo not yet taken by the session, bounded in bytes
/// as well as in events. Its bytes are in the `outbound_bytes` gauge for as
/// long as they are queued, whichever way the outbox goes.
#[derive(Debug)]
struct Outbox {
    events: VecDeque<(Value, usize)>,
    bytes: usize,
    /// Backpressure starts at this many queued bytes.
    high_water: usize,
    metrics: Arc<Metrics>,
}

impl Outbox {
    fn new(high_water: usize, metrics: &Arc<Metrics>) -> Self {
        Self {
            events: VecDeque::new(),
            bytes: 0,
            high_water,
            metrics: Arc::clone(metrics),
        }
    }

    /// Hard bound in bytes: the backpressure bound plus the largest answer
    /// to two requests (see the event bound above).
    fn byte_cap(&self) -> usize {
        self.high_water + 2 * super::local::MAX_BYTES_PER_REQUEST
    }

    fn full(&self) -> bool {
        self.events.len() >= LOCAL_OUTBOX_CAP || self.bytes >= self.byte_cap()
    }

    fn backlogged(&self) -> bool {
        self.events.len() >= LOCAL_OUTBOX_HIGH_WATER || self.bytes >= self.high_water
    }

    fn push_all(&mut self, events: Vec<Value>) {
        let was_backlogged = self.backlogged();
        for event in events {
            let size = json_size(&event);
            self.bytes += size;
            self.metrics.outbound_bytes.add(to_i64(size));
            self.events.push_back((event, size));
        }
        if !was_backlogged && self.backlogged() {
            self.metrics
                .outbound_backpressure_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn pop(&mut self) -> Option<Value> {
        let (event, size) = self.events.pop_front()?;
        self.bytes -= size;
        self.metrics.outbound_bytes.sub(to_i64(size));
        Some(event)
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.metrics.outbound_bytes.sub(to_i64(self.bytes));
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Bytes `value` takes serialized (exact for the strings that dominate audio
/// events, close enough for the rest), without serializing it.
fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
        }
    }
}

#[derive(Debug)]
enum Link {
    Remote(Box<RemoteStream>),
    Local { echo: LocalRealtime, outbox: Outbox },
}

/// The upstream side of one realtime session.
#[derive(Debug)]
pub struct RealtimeAdapter {
    link: Link,
    session: SessionId,
    last_seen: Instant,
    metrics: Arc<Metrics>,
    _live: GaugeGuard,
}

impl RealtimeAdapter {
    pub(super) fn local(session: SessionId, queue_bytes: usize, metrics: &Arc<Metrics>) -> Self {
        Self::with_link(
            Link::Local {
                echo: LocalRealtime::new(),
                outbox: Outbox::new(queue_bytes, metrics),
            },
            session,
            metrics,
        )
    }

    pub(super) fn remote(session: SessionId, stream: RemoteStream, metrics: &Arc<Metrics>) -> Self {
        Self::with_link(Link::Remote(Box::new(stream)), session, metrics)
    }

    fn with_link(link: Link, session: SessionId, metrics: &Arc<Metrics>) -> Self {
        Self {
            link,
            session,
            last_seen: Instant::now(),
            metrics: Arc::clone(metrics),
            _live: metrics.track(|m| &m.adapters),
        }
    }

    /// Sends one client event upstream.
    pub async fn send(&mut self, event: &Value) -> Result<(), UpstreamError> {
        match &mut self.link {
            Link::Remote(ws) => ws
                .send(Message::text(event.to_string()))
                .await
                .map_err(|e| UpstreamError::WebSocket(Box::new(e))),
            Link::Local { echo, outbox } => {
                // Bounded like a socket buffer. Sessions stop reading their
                // client while `backlogged`, so this is only a safety net
                // against a caller that ignores it.
                if outbox.full() {
                    self.metrics.record_error(
                        ErrorKind::OutboundOverflow,
                        "local provider backlog full; dropping it",
                        &format!(
                            "session {}: {} events, {} bytes",
                            self.session,
                            outbox.events.len(),
                            outbox.bytes
                        ),
                    );
                    return Err(UpstreamError::Protocol(
                        "local provider backlog full".into(),
                    ));
                }
                outbox.push_all(echo.handle(event));
                Ok(())
            }
        }
    }

    /// The upstream has so many unanswered events queued that the session
    /// must forward them before reading more client input. Always `false`
    /// for a remote upstream, where TCP flow control does this job.
    pub fn backlogged(&self) -> bool {
        match &self.link {
            Link::Local { outbox, .. } => outbox.backlogged(),
            Link::Remote(_) => false,
        }
    }

    /// Next upstream event; `None` when the upstream closed the connection.
    /// Cancel-safe: it can be raced in `select!` without losing events.
    pub async fn recv(&mut self) -> Option<Result<Value, UpstreamError>> {
        match &mut self.link {
            Link::Local { outbox, .. } => match outbox.pop() {
                Some(event) => Some(Ok(event)),
                // Nothing queued: the echo only speaks when spoken to, and
                // `send` is never concurrent with this future.
                None => std::future::pending().await,
            },
            Link::Remote(ws) => loop {
                let message = match ws.next().await? {
                    Ok(message) => message,
                    Err(e) => return Some(Err(UpstreamError::WebSocket(Box::new(e)))),
                };
                self.last_seen = Instant::now();
                match message {
                    Message::Text(text) => {
                        return Some(serde_json::from_str(text.as_str()).map_err(|e| {
                            UpstreamError::Protocol(format!("upstream sent malformed JSON: {e}"))
                        }));
                    }
                    Message::Close(_) => return None,
                    // Pongs (and pings, answered by tungstenite) only prove liveness.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {
                        tracing::trace!(session = self.session, "upstream heartbeat");
                    }
                    Message::Binary(bytes) => {
                        self.metrics.record_error(
                            ErrorKind::UpstreamProtocol,
                            "ignoring binary frame from upstream",
                            &format!("session {} got {} bytes", self.session, bytes.len()),
                        );
                    }
                }
            },
        }
    }

    /// Heartbeat: pings the upstream so a stalled connection is detected.
    pub async fn ping(&mut self) -> Result<(), UpstreamError> {
        match &mut self.link {
            Link::Remote(ws) => ws
                .send(Message::Ping(Default::default()))
                .await
                .map_err(|e| UpstreamError::WebSocket(Box::new(e))),
            Link::Local { .. } => {
                self.last_seen = Instant::now();
                Ok(())
            }
        }
    }

    /// Time since the upstream last sent anything (pongs included).
    pub fn silent_for(&self) -> Duration {
        self.last_seen.elapsed()
    }

    /// Sends a close frame (bounded by `grace`) and drops the connection.
    pub async fn close(self, grace: Duration) {
        let Self {
            link,
            session,
            metrics,
            ..
        } = self;
        if let Link::Remote(mut ws) = link {
            let frame = CloseFrame {
                code: CloseCode::Normal,
                reason: "session ended".into(),
            };
            match with_timeout(
                &metrics,
                grace,
                WebSocketStream::close(&mut *ws, Some(frame)),
            )
            .await
            {
                Ok(Ok(())) => tracing::debug!(session, "upstream adapter closed"),
                // The upstream already went away: nothing left to close.
                Ok(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed))
                | Ok(Err(tokio_tungstenite::tungstenite::Error::AlreadyClosed)) => {
                    tracing::debug!(session, "upstream connection was already closed");
                }
                Ok(Err(e)) => {
                    metrics.record_error(ErrorKind::UpstreamDropped, "closing upstream adapter", &e)
                }
                Err(e) => {
                    metrics.record_error(ErrorKind::UpstreamTimeout, "closing upstream adapter", &e)
                }
            }
        }
    }
}
