//! The upstream: an OpenAI-compatible endpoint, or the built-in local provider.
//!
//! Fix for *duplicate-client*: [`Upstream::new`] builds the one
//! `reqwest::Client` of the process (one connection pool), called once while
//! building the application state; every handler and session reaches it
//! through that state.

pub mod adapter;
pub mod local;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_util::sync::CancellationToken;

pub use adapter::RealtimeAdapter;

use crate::config::Config;
use crate::metrics::{ErrorKind, Metrics};
use crate::retry::{RetryError, RetryPolicy, with_retry, with_timeout};
use crate::sessions::SessionId;

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("upstream returned HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("upstream transport error: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("upstream websocket error: {0}")]
    WebSocket(#[from] Box<tungstenite::Error>),
    #[error("upstream response larger than {0} bytes")]
    TooLarge(usize),
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("cancelled")]
    Cancelled,
}

impl UpstreamError {
    /// Worth another attempt: transient network trouble or a 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            UpstreamError::Timeout(_)
            | UpstreamError::Transport(_)
            | UpstreamError::WebSocket(_) => true,
            UpstreamError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            UpstreamError::Timeout(_) => ErrorKind::UpstreamTimeout,
            UpstreamError::Status { .. }
            | UpstreamError::Transport(_)
            | UpstreamError::TooLarge(_) => ErrorKind::UpstreamHttp,
            UpstreamError::WebSocket(_) => ErrorKind::UpstreamConnect,
            UpstreamError::Protocol(_) => ErrorKind::UpstreamProtocol,
            UpstreamError::BadRequest(_) => ErrorKind::BadRequest,
            UpstreamError::Cancelled => ErrorKind::Shutdown,
        }
    }

    /// Status a proxied HTTP request answers with.
    pub fn http_status(&self) -> StatusCode {
        match self {
            UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            UpstreamError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UpstreamError::Status { status, .. } if (400..500).contains(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            UpstreamError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    fn from_retry(err: RetryError<UpstreamError>) -> Self {
        match err {
            RetryError::Cancelled => UpstreamError::Cancelled,
            RetryError::Exhausted { last, .. } | RetryError::Permanent(last) => last,
        }
    }
}

#[derive(Debug, Clone)]
struct Remote {
    http_base: String,
    ws_base: String,
}

/// Everything that talks to the upstream, shared by all handlers and sessions.
#[derive(Debug)]
pub struct Upstream {
    http: reqwest::Client,
    remote: Option<Remote>,
    api_key: Option<String>,
    realtime_model: String,
    request_timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    max_body: usize,
    /// Byte bound of each local session's outbound queue.
    outbound_queue_bytes: usize,
    metrics: Arc<Metrics>,
}

impl Upstream {
    /// Builds the process's single HTTP client. Call once, at state construction.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build()?;
        let remote = match config.upstream.as_deref() {
            None | Some("") | Some("local") => None,
            Some(url) => {
                let http_base = url.trim_end_matches('/').to_owned();
                // Built without TLS (keeps the build free of C crypto
                // crates): reach https upstreams through a TLS-terminating
                // proxy or sidecar.
                let ws_base = if let Some(rest) = http_base.strip_prefix("http://") {
                    format!("ws://{rest}")
                } else if http_base.starts_with("https://") {
                    anyhow::bail!(
                        "--upstream {url:?}: this build has no TLS; point it at an http:// endpoint \
                         (e.g. a TLS-terminating proxy in front of the provider)"
                    );
                } else {
                    anyhow::bail!("--upstream must be an http:// URL, got {url:?}");
                };
                Some(Remote { http_base, ws_base })
            }
        };
        Ok(Self {
            http,
            remote,
            api_key: config.api_key.clone(),
            realtime_model: config.realtime_model.clone(),
            request_timeout: config.upstream_timeout,
            connect_timeout: config.connect_timeout,
            retry: RetryPolicy {
                attempts: config.retry_attempts,
                base_backoff: config.retry_backoff,
                max_backoff: Duration::from_secs(5),
            },
            max_body: config.max_body_bytes,
            outbound_queue_bytes: config.outbound_queue_bytes,
            metrics,
        })
    }

    pub fn is_local(&self) -> bool {
        self.remote.is_none()
    }

    /// Proxies a chat completion.
    pub async fn chat(
        &self,
        body: Value,
        cancel: &CancellationToken,
    ) -> Result<Value, UpstreamError> {
        let Some(remote) = &self.remote else {
            return local::chat(&body).map_err(UpstreamError::BadRequest);
        };
        let url = format!("{}/v1/chat/completions", remote.http_base);
        let bytes = self
            .send_with_retry(cancel, "chat completion", || {
                self.http.post(&url).json(&body)
            })
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| UpstreamError::Protocol(format!("chat reply is not JSON: {e}")))
    }

    /// Proxies a transcription of raw audio bytes (sent upstream as multipart).
    pub async fn transcribe(
        &self,
        audio: Bytes,
        model: &str,
        cancel: &CancellationToken,
    ) -> Result<Value, UpstreamError> {
        if audio.is_empty() {
            return Err(UpstreamError::BadRequest("audio body is empty".into()));
        }
        let Some(remote) = &self.remote else {
            return Ok(local::transcribe(&audio));
        };
        let url = format!("{}/v1/audio/transcriptions", remote.http_base);
        let boundary = "unleak-runtime-boundary-7d3f";
        let body = local::multipart_body(boundary, model, &audio);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let bytes = self
            .send_with_retry(cancel, "transcription", || {
                self.http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                    .body(body.clone())
            })
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| UpstreamError::Protocol(format!("transcription reply is not JSON: {e}")))
    }

    /// Proxies text-to-speech; returns the audio as a stream, so an answer
    /// is never held whole (it can be 80 times the input).
    pub async fn speech(
        &self,
        body: Value,
        cancel: &CancellationToken,
    ) -> Result<AudioStream, UpstreamError> {
        let Some(remote) = &self.remote else {
            let input = local::speech_input(&body)
                .map_err(UpstreamError::BadRequest)?
                .to_owned();
            return Ok(Box::pin(local::speech_stream(input).map(Ok)));
        };
        let url = format!("{}/v1/audio/speech", remote.http_base);
        let response = self
            .open_with_retry(cancel, "speech", || self.http.post(&url).json(&body))
            .await?;
        Ok(Box::pin(stream_capped(
            response,
            self.max_body,
            self.request_timeout,
        )))
    }

    /// Opens the realtime adapter of one session (with retries and a deadline per attempt).
    pub async fn connect_realtime(
        &self,
        session: SessionId,
        cancel: &CancellationToken,
    ) -> Result<RealtimeAdapter, UpstreamError> {
        let Some(remote) = &self.remote else {
            return Ok(RealtimeAdapter::local(
                session,
                self.outbound_queue_bytes,
                &self.metrics,
            ));
        };
        let url = format!(
            "{}/v1/realtime?model={}",
            remote.ws_base, self.realtime_model
        );
        let attempt = || async {
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(|e| UpstreamError::Protocol(format!("bad realtime URL {url:?}: {e}")))?;
            if let Some(key) = &self.api_key {
                let value = format!("Bearer {key}").parse().map_err(|e| {
                    UpstreamError::BadRequest(format!("API key is not a valid header: {e}"))
                })?;
                request.headers_mut().insert("authorization", value);
            }
            request.headers_mut().insert(
                "openai-beta",
                axum::http::HeaderValue::from_static("realtime=v1"),
            );
            let config = tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(Some(self.max_body))
                .max_frame_size(Some(self.max_body));
            let connected = with_timeout(
                &self.metrics,
                self.connect_timeout,
                tokio_tungstenite::connect_async_with_config(request, Some(config), true),
            )
            .await
            .map_err(|e| UpstreamError::Timeout(e.0))?;
            let (stream, _response) =
                connected.map_err(|e| UpstreamError::WebSocket(Box::new(e)))?;
            Ok(RealtimeAdapter::remote(session, stream, &self.metrics))
        };
        with_retry(
            self.retry,
            cancel,
            "realtime connect",
            UpstreamError::retryable,
            |_| attempt(),
        )
        .await
        .map_err(UpstreamError::from_retry)
    }

    /// Sends a request (rebuilt per attempt), reads its body under the size
    /// cap, all within the request deadline; retries transient failures.
    async fn send_with_retry(
        &self,
        cancel: &CancellationToken,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Bytes, UpstreamError> {
        let attempt = || async {
            with_timeout(&self.metrics, self.request_timeout, async {
                let response = self.send_checked(build()).await?;
                read_capped(response, self.max_body).await
            })
            .await
            .map_err(|e| UpstreamError::Timeout(e.0))?
        };
        with_retry(self.retry, cancel, what, UpstreamError::retryable, |_| {
            attempt()
        })
        .await
        .map_err(UpstreamError::from_retry)
    }

    /// Like [`Upstream::send_with_retry`], but hands back the successful
    /// response as soon as its head is in; its body is for the caller to
    /// stream (see [`stream_capped`]).
    async fn open_with_retry(
        &self,
        cancel: &CancellationToken,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let attempt = || async {
            with_timeout(
                &self.metrics,
                self.request_timeout,
                self.send_checked(build()),
            )
            .await
            .map_err(|e| UpstreamError::Timeout(e.0))?
        };
        with_retry(self.retry, cancel, what, UpstreamError::retryable, |_| {
            attempt()
        })
        .await
        .map_err(UpstreamError::from_retry)
    }

    /// Sends one attempt; a non-success status becomes an error (with the
    /// start of its body).
    async fn send_checked(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = read_capped(response, 4096)
                .await
                .unwrap_or_else(|e| Bytes::from(format!("<error body unreadable: {e}>")));
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(response)
    }
}

/// Audio of a speech answer, delivered as it arrives or is rendered.
pub type AudioStream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

/// A response body as a stream of chunks, ended with an error past `cap`
/// bytes or past `timeout` from now; the response (and its connection) goes
/// with the stream.
fn stream_capped(
    response: reqwest::Response,
    cap: usize,
    timeout: Duration,
) -> impl Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static {
    let deadline = tokio::time::Instant::now() + timeout;
    futures_util::stream::unfold(Some((response, 0usize)), move |state| async move {
        let (mut response, received) = state?;
        let next = match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_elapsed) => Err(UpstreamError::Timeout(timeout)),
            Ok(Err(e)) => Err(UpstreamError::Transport(e)),
            Ok(Ok(None)) => return None,
            Ok(Ok(Some(chunk))) if received + chunk.len() > cap => {
                Err(UpstreamError::TooLarge(cap))
            }
            Ok(Ok(Some(chunk))) => {
                let received = received + chunk.len();
                return Some((Ok(chunk), Some((response, received))));
            }
        };
        Some((next, None))
    })
}

/// Reads a response body chunk by chunk into one capped buffer; the response
/// (and its connection) is released on every return path.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Bytes, UpstreamError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Err(UpstreamError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: Option<&str>) -> anyhow::Result<Upstream> {
        let mut config = Config::from_defaults();
        config.upstream = url.map(str::to_owned);
        Upstream::new(&config, Metrics::new())
    }

    #[test]
    fn upstream_url_selects_provider() {
        assert!(upstream(None).unwrap().is_local());
        assert!(upstream(Some("local")).unwrap().is_local());
        let remote = upstream(Some("http://127.0.0.1:9/")).unwrap();
        assert!(!remote.is_local());
        assert_eq!(remote.remote.unwrap().ws_base, "ws://127.0.0.1:9");
        let https = upstream(Some("https://api.example.invalid")).unwrap_err();
        assert!(https.to_string().contains("no TLS"), "{https}");
        assert!(upstream(Some("ftp://x")).is_err());
    }
}
