//! Accepting client connections: a cap on open connections, a header-read
//! timeout, and a shutdown that does not wait for peers that never finish
//! a request.
//!
//! `axum::serve` has none of these: it sets no timer on hyper, so a peer
//! that sends nothing or half a request head keeps its connection (and at
//! shutdown, the process) forever. Here every connection is served by
//! hyper's HTTP/1 connection with `header_read_timeout`, holds a semaphore
//! permit for its whole life (WebSocket upgrades included), and is counted
//! in the `connections` gauge.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service as _;

use crate::metrics::{ErrorKind, GaugeGuard};
use crate::state::AppState;

/// Read and write buffer bound of one HTTP connection.
const HTTP_BUFFER_BYTES: usize = 64 * 1024;

/// Pause after an accept error that is not about one connection (e.g. out
/// of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections until shutdown starts, at most `--max-connections`
/// open at once: at the cap it stops accepting (new peers wait in the listen
/// backlog) until one closes. Each connection runs on `state.connections`.
pub async fn accept_loop(listener: TcpListener, router: Router, state: AppState) {
    let limit = Arc::new(Semaphore::new(state.config.max_connections));
    let shutdown = state.shutdown.clone();
    loop {
        let permit = match Arc::clone(&limit).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                state.metrics.record_error(
                    ErrorKind::ConnectionLimit,
                    "connection cap reached; accepting again when one closes",
                    &state.config.max_connections,
                );
                tokio::select! {
                    permit = Arc::clone(&limit).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // The semaphore is never closed; stop rather than spin.
                        Err(e) => return state.metrics.record_error(ErrorKind::Shutdown, "connection limit closed", &e),
                    },
                    () = shutdown.cancelled() => return,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    state.metrics.record_error(ErrorKind::ClientGone, "accepting a connection", &e);
                    if !is_connection_error(&e) {
                        tokio::select! {
                            () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                            () = shutdown.cancelled() => return,
                        }
                    }
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let open = Connection {
            stream,
            _permit: permit,
            _open: state.metrics.track(|m| &m.connections),
        };
        state
            .connections
            .spawn(serve_connection(open, router.clone(), state.clone()));
    }
}

/// Errors about one connection only (the peer went away during accept).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection. At shutdown hyper closes it at once if the peer
/// has sent nothing, and after the response if a request is in progress; a
/// peer still sending a request head gets the close grace to finish it, and
/// is then cut (nothing was received, so no work is lost).
async fn serve_connection(connection: Connection, router: Router, state: AppState) {
    let busy = Arc::new(AtomicUsize::new(0));
    let service = {
        let busy = Arc::clone(&busy);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let guard = Busy::enter(&busy);
            let mut router = router.clone();
            async move {
                let response = router.call(request.map(Body::new)).await?;
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(BusyBody {
                        body,
                        _guard: guard,
                    })
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout)
        // hyper queues up to ~400 KiB of a streamed response by default
        // before it stops pulling the body; this bounds each connection's
        // outbound buffer (and its request head) to 64 KiB.
        .max_buf_size(HTTP_BUFFER_BYTES);
    let conn = builder
        .serve_connection(TokioIo::new(connection), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => return finished(&state, result),
        () = state.shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    let grace = tokio::time::sleep(state.config.close_grace);
    let mut grace = std::pin::pin!(grace);
    let mut waited = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => return finished(&state, result),
            () = &mut grace, if !waited => {
                waited = true;
                if busy.load(Ordering::SeqCst) == 0 {
                    tracing::debug!("closing a connection with no complete request at shutdown");
                    return;
                }
            }
        }
    }
}

fn finished(state: &AppState, result: Result<(), hyper::Error>) {
    let Err(e) = result else { return };
    let kind = if e.is_timeout() {
        ErrorKind::HeaderTimeout
    } else if e.is_parse() || e.is_parse_status() {
        ErrorKind::BadRequest
    } else {
        ErrorKind::ClientGone
    };
    state
        .metrics
        .record_error(kind, "http connection ended with an error", &e);
}

/// A client TCP connection with its slot under the cap and its gauge count;
/// both are released when the stream is dropped, upgraded or not.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _open: GaugeGuard,
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One request in progress on a connection, from its complete head until
/// its response body is done.
#[derive(Debug)]
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in progress.
struct BusyBody {
    body: Body,
    _guard: Busy,
}

impl http_body::Body for BusyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
