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
/// provider's equivalent of TCP backpressure from a remote upstream.
const LOCAL_OUTBOX_HIGH_WATER: usize = LOCAL_OUTBOX_CAP / 2;
// A session that checks `backlogged` before each client event cannot reach
// the hard cap: one client event (plus the tool-call reply an upstream event
// may trigger) queues at most two requests' worth of events.
const _: () =
    assert!(LOCAL_OUTBOX_HIGH_WATER + 2 * super::local::MAX_EVENTS_PER_REQUEST < LOCAL_OUTBOX_CAP);

type RemoteStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug)]
enum Link {
    Remote(Box<RemoteStream>),
    Local {
        echo: LocalRealtime,
        outbox: VecDeque<Value>,
    },
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
    pub(super) fn local(session: SessionId, metrics: &Arc<Metrics>) -> Self {
        Self::with_link(
            Link::Local {
                echo: LocalRealtime::new(),
                outbox: VecDeque::new(),
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
                if outbox.len() >= LOCAL_OUTBOX_CAP {
                    return Err(UpstreamError::Protocol(format!(
                        "local provider backlog full ({LOCAL_OUTBOX_CAP} events)"
                    )));
                }
                outbox.extend(echo.handle(event));
                Ok(())
            }
        }
    }

    /// The upstream has so many unanswered events queued that the session
    /// must forward them before reading more client input. Always `false`
    /// for a remote upstream, where TCP flow control does this job.
    pub fn backlogged(&self) -> bool {
        match &self.link {
            Link::Local { outbox, .. } => outbox.len() >= LOCAL_OUTBOX_HIGH_WATER,
            Link::Remote(_) => false,
        }
    }

    /// Next upstream event; `None` when the upstream closed the connection.
    /// Cancel-safe: it can be raced in `select!` without losing events.
    pub async fn recv(&mut self) -> Option<Result<Value, UpstreamError>> {
        match &mut self.link {
            Link::Local { outbox, .. } => match outbox.pop_front() {
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
