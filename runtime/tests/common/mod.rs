//! Shared test support: a loopback OpenAI-compatible upstream (speaking the
//! protocol subset through the runtime's own local provider functions, plus
//! fault knobs) and WebSocket client helpers. Every wait is bounded.
#![allow(dead_code)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use unleak_runtime::Config;
use unleak_runtime::upstream::local;

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Fault knobs and counters of the fake upstream.
#[derive(Debug, Default)]
pub struct Knobs {
    /// HTTP endpoints never answer (until the test ends).
    pub stall_http: AtomicBool,
    /// The next N HTTP requests get a 503.
    pub fail_next_http: AtomicUsize,
    /// The next realtime frame received makes that connection vanish (no close frame). One-shot.
    pub drop_realtime_once: AtomicBool,
    pub http_requests: AtomicUsize,
    pub realtime_connects: AtomicUsize,
    pub realtime_live: AtomicI64,
    pub peers: Mutex<HashSet<SocketAddr>>,
}

pub struct FakeUpstream {
    pub url: String,
    pub knobs: Arc<Knobs>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    pub async fn start() -> Self {
        let knobs = Arc::new(Knobs::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(fake_chat))
            .route("/v1/audio/transcriptions", post(fake_transcribe))
            .route("/v1/audio/speech", post(fake_speech))
            .route("/v1/realtime", get(fake_realtime))
            .with_state(Arc::clone(&knobs));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            url: format!("http://{addr}"),
            knobs,
            task,
        }
    }
}

async fn http_gate(knobs: &Knobs, peer: SocketAddr) -> Option<Response> {
    knobs.http_requests.fetch_add(1, Ordering::SeqCst);
    knobs.peers.lock().unwrap().insert(peer);
    if knobs.stall_http.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let failing = knobs
        .fail_next_http
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    failing.then(|| (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response())
}

async fn fake_chat(
    State(k): State<Arc<Knobs>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(r) = http_gate(&k, peer).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match local::chat(&request) {
        Ok(mut reply) => {
            reply["served_by"] = json!("fake-upstream");
            axum::Json(reply).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn fake_transcribe(
    State(k): State<Arc<Knobs>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = http_gate(&k, peer).await {
        return r;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match local::multipart_file(content_type, &body) {
        Some(file) => axum::Json(local::transcribe(file)).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            "expected multipart with a file part",
        )
            .into_response(),
    }
}

async fn fake_speech(
    State(k): State<Arc<Knobs>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(r) = http_gate(&k, peer).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match local::speech(&request) {
        Ok(audio) => audio.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn fake_realtime(State(k): State<Arc<Knobs>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| realtime_peer(socket, k))
}

struct Live(Arc<Knobs>);
impl Drop for Live {
    fn drop(&mut self) {
        self.0.realtime_live.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn realtime_peer(mut socket: WebSocket, knobs: Arc<Knobs>) {
    knobs.realtime_connects.fetch_add(1, Ordering::SeqCst);
    knobs.realtime_live.fetch_add(1, Ordering::SeqCst);
    let _live = Live(Arc::clone(&knobs));
    let mut echo = local::LocalRealtime::new();
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            AxMessage::Text(text) => text,
            AxMessage::Close(_) => break,
            _ => continue,
        };
        if knobs.drop_realtime_once.swap(false, Ordering::SeqCst) {
            // Vanish without a close frame.
            return;
        }
        let event: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        for reply in echo.handle(&event) {
            if socket
                .send(AxMessage::Text(reply.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// The test's one HTTP client (one per test runtime: pooled connections
/// belong to the runtime that opened them).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// Runtime config for tests: loopback listener plus `extra` flags.
pub fn config(upstream: Option<&str>, extra: &[&str]) -> Config {
    let mut args = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
    if let Some(url) = upstream {
        args.push("--upstream".into());
        args.push(url.into());
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Config::from_args(args).expect("valid test config")
}

pub async fn connect(addr: SocketAddr, path: &str) -> Client {
    let (client, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{addr}{path}")),
    )
    .await
    .expect("connect timed out")
    .expect("connect failed");
    client
}

pub async fn send_json(client: &mut Client, event: &Value) {
    client
        .send(Message::text(event.to_string()))
        .await
        .expect("send");
}

/// Next JSON event (pings skipped); panics after 10 s. `None` on close.
pub async fn recv_json(client: &mut Client) -> Option<Value> {
    for _ in 0..1000 {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("no message within 10 s")?;
        match message {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(text.as_str()).expect("server sent JSON"));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
    panic!("no JSON among 1000 frames");
}

/// Reads events until one of type `kind`; returns all read (bounded).
pub async fn recv_until(client: &mut Client, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let event = recv_json(client)
            .await
            .unwrap_or_else(|| panic!("closed before {kind}; saw {seen:?}"));
        let done = event["type"] == kind;
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("no {kind} within 10000 events");
}

/// The close frame the server sends (code), skipping other frames; bounded.
pub async fn recv_close(client: &mut Client) -> Option<u16> {
    for _ in 0..10_000 {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) | Err(_) => return None,
        }
    }
    None
}

/// One turn: sends `audio` (in chunks), commits, asks for a response and
/// returns the audio the upstream sent back.
pub async fn talk(client: &mut Client, audio: &[u8]) -> Vec<u8> {
    for chunk in audio.chunks(3200) {
        send_json(
            client,
            &json!({"type": "input_audio_buffer.append", "audio": B64.encode(chunk)}),
        )
        .await;
    }
    send_json(client, &json!({"type": "input_audio_buffer.commit"})).await;
    send_json(client, &json!({"type": "response.create"})).await;
    let events = recv_until(client, "response.done").await;
    events
        .iter()
        .filter(|e| e["type"] == "response.audio.delta")
        .flat_map(|e| B64.decode(e["delta"].as_str().unwrap()).unwrap())
        .collect()
}

/// Opens a realtime session and waits for `session.created`.
pub async fn open_session(addr: SocketAddr) -> Client {
    let mut client = connect(addr, "/v1/realtime").await;
    recv_until(&mut client, "session.created").await;
    client
}

/// Polls `cond` every 10 ms for at most `within`.
pub async fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Deterministic test audio.
pub fn audio(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Reads until the server closes, answering its pings (tungstenite queues a
/// pong for every ping and writes it on the next read, as browsers and the
/// Python and Node clients do). Returns the close code and the pings seen;
/// panics if nothing closes the session within `within`.
pub async fn answer_pings_until_close(
    client: &mut Client,
    within: Duration,
) -> (Option<u16>, usize) {
    let deadline = tokio::time::Instant::now() + within;
    let mut pings = 0;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return (frame.map(|f| u16::from(f.code)), pings);
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("connection failed after {pings} pings: {e}"),
            Ok(None) => panic!("connection ended without a close frame after {pings} pings"),
            Err(_) => panic!("still open after {within:?} and {pings} answered pings"),
        }
    }
}
