//! Memory held per client, counted exactly by this test binary's global
//! allocator (live and peak heap bytes): clients that never read their
//! answers cannot make a session hold more than its outbound byte bound, and
//! `/v1/speech` neither accepts unbounded input nor builds its answer in
//! memory. The tests of this binary run one at a time (`SERIAL`), so the
//! counters see only one of them.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use futures_util::SinkExt as _;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use unleak_runtime::RunningServer;
use unleak_runtime::metrics::parse_sample;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: isize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size() as isize);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Never-reading clients flooding the local provider at once.
const FLOODERS: usize = 3;
/// Allowed heap growth per never-reading client: its session's outbound
/// queue bound (256 KiB by default) plus one answer (~260 KB here), its
/// audio buffers and codec buffers; measured ~1.5 MB. Before the byte
/// bound, each held 4 MB in this test (up to ~12 MiB of queued events).
const PER_FLOODER: isize = 2 * 1024 * 1024;

/// A realtime client that never reads: small, fixed socket buffers, and
/// turns of audio (each echoed back in full) sent until the server stops
/// reading it (a send stalls) or 60 turns (11 MB of audio) are out.
async fn flood_without_reading(addr: SocketAddr) -> (Client, usize) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut client, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/v1/realtime"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("connect");
    recv_until(&mut client, "session.created").await;
    let append = Message::text(
        json!({"type": "input_audio_buffer.append", "audio": B64.encode(vec![0x55u8; 32_000])})
            .to_string(),
    );
    let mut turn = vec![append; 6];
    turn.push(Message::text(
        json!({"type": "input_audio_buffer.commit"}).to_string(),
    ));
    turn.push(Message::text(
        json!({"type": "response.create"}).to_string(),
    ));
    let mut turns = 0;
    'flood: while turns < 60 {
        for frame in &turn {
            match tokio::time::timeout(Duration::from_secs(1), client.send(frame.clone())).await {
                Err(_stalled) => break 'flood,
                Ok(sent) => sent.unwrap_or_else(|e| panic!("session ended at turn {turns}: {e}")),
            }
        }
        turns += 1;
    }
    (client, turns)
}

/// Waits until live heap bytes stop moving (bounded), then returns them.
async fn settled_heap() -> isize {
    let mut last = LIVE.load(Ordering::SeqCst);
    let mut since = Instant::now();
    let started = Instant::now();
    while since.elapsed() < Duration::from_millis(500) && started.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = LIVE.load(Ordering::SeqCst);
        if (now - last).abs() > 64 * 1024 {
            (last, since) = (now, Instant::now());
        }
    }
    LIVE.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_hold_at_most_the_outbound_bound() {
    let _serial = SERIAL.lock().await;
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    // Warm-up: one full session so lazily grown pools exist before the baseline.
    let mut warm = open_session(server.addr).await;
    let sent = audio(4800, 1);
    assert_eq!(talk(&mut warm, &sent).await, sent);
    drop(warm);
    assert!(
        wait_for(Duration::from_secs(5), || server
            .state
            .metrics
            .sessions
            .get()
            == 0)
        .await
    );
    let baseline = settled_heap().await;

    let floods: Vec<_> = (0..FLOODERS)
        .map(|_| tokio::spawn(flood_without_reading(server.addr)))
        .collect();
    let mut clients = Vec::new();
    for flood in floods {
        let (client, turns) = flood.await.unwrap();
        println!("a never-reading client sent {turns} turns");
        clients.push(client);
    }
    let held = settled_heap().await - baseline;
    let metrics = server.state.render_metrics().await;
    println!("{FLOODERS} never-reading clients hold {held} B of heap");
    assert_eq!(server.state.metrics.sessions.get(), FLOODERS as i64);
    assert!(
        held < FLOODERS as isize * PER_FLOODER,
        "{FLOODERS} never-reading clients hold {held} B (bound {} B each)\n{metrics}",
        PER_FLOODER
    );
    let queued = parse_sample(&metrics, "unleak_runtime_outbound_queued_bytes")
        .expect("outbound queue gauge");
    assert!(queued > 0.0, "the queues are full, and counted");
    assert!(queued < (FLOODERS as isize * PER_FLOODER) as f64);
    let stalls = parse_sample(&metrics, "unleak_runtime_outbound_backpressure_total")
        .expect("backpressure counter");
    assert!(stalls >= FLOODERS as f64, "every flooder was backpressured");

    drop(clients);
    assert!(
        wait_for(Duration::from_secs(15), || server
            .state
            .metrics
            .sessions
            .get()
            == 0)
        .await
    );
    let metrics = server.state.render_metrics().await;
    assert_eq!(
        parse_sample(&metrics, "unleak_runtime_outbound_queued_bytes"),
        Some(0.0)
    );
    let report = server.shutdown().await.unwrap();
    assert!(report.clean(), "{report:?}");
}

/// Sends one raw HTTP/1.1 request and reads the answer through a fixed
/// 16 KiB buffer (so the test side allocates nothing per byte); returns the
/// head and the body length.
async fn raw_post(addr: SocketAddr, path: &str, body: &str) -> (String, usize) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    let mut total = 0;
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("response within 10 s")
            .unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096)]);
        }
        total += n;
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let head_len = text.find("\r\n\r\n").map_or(total, |i| i + 4);
    (
        text[..head_len.min(text.len())].to_owned(),
        total - head_len,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_input_is_capped_and_the_audio_is_streamed() {
    let _serial = SERIAL.lock().await;
    let server = RunningServer::start(config(None, &[])).await.unwrap();
    // Default cap: 4096 characters.
    let too_long = json!({"input": "a".repeat(4097), "voice": "alloy"}).to_string();
    let (head, _) = raw_post(server.addr, "/v1/speech", &too_long).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let (head, _) = raw_post(
        server.addr,
        "/v1/speech",
        &json!({"input": "ok"}).to_string(),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // The longest accepted input: 4096 characters, 80 bytes of audio each.
    let longest = json!({"input": "é".repeat(4096), "voice": "alloy"}).to_string();
    let expected = 4096 * 80;
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let (head, len) = raw_post(server.addr, "/v1/speech", &longest).await;
    let peak = PEAK.load(Ordering::SeqCst) - before;
    println!("speech: {len} B of audio with a heap peak of {peak} B\n{head}");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(len > expected, "chunked body carries all {expected} B");
    assert!(
        peak < expected as isize * 2 / 3,
        "serving {expected} B of audio peaked at {peak} B of heap: not streamed"
    );
    server.shutdown().await.unwrap();
}
