//! SIGTERM to the real binary with 100 live sessions and one stuck client:
//! it exits in under 5 seconds, every live session receives a close frame,
//! and the stuck session does not hold shutdown past the deadline. Because
//! shutdown had to abandon that session, the exit status is 2 and the log
//! says what was abandoned. The stuck
//! session is verified live and blocked in a send before SIGTERM is sent.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use futures_util::SinkExt as _;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio_tungstenite::tungstenite::Message;

const SESSIONS: usize = 100;
/// `--shutdown-deadline` of the binary.
const DEADLINE: Duration = Duration::from_secs(2);
/// Timer slack allowed below the deadline.
const EPSILON: Duration = Duration::from_millis(50);
/// Audio per append frame of the stuck client, and appends per turn: small
/// frames, so the server never spends long on one without socket activity.
const APPEND_BYTES: usize = 32_000;
const APPENDS_PER_TURN: usize = 6;
/// Upper bound of the stuck client's turns: 10 MB of echo, far more than
/// the socket buffers between it and the server hold, in 44 events a turn,
/// far fewer than the local provider's backlog limit (2048 before it stops
/// reading the client, 4096 hard).
const STUCK_MAX_TURNS: usize = 40;
/// Socket buffer sizes of the stuck client.
const STUCK_SOCKET_BUFFER: u32 = 16 * 1024;
/// A send of the stuck client this slow means the server stopped reading.
const STALL: Duration = Duration::from_secs(2);
/// The server's end of the stuck connection unchanged this long: blocked.
const SETTLE: Duration = Duration::from_secs(1);

/// `(unsent, unread)` bytes of the TCP socket `local` connected to
/// `remote`, from /proc/net/tcp (its `tx_queue:rx_queue` column).
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("loopback IPv4 only"),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|row| {
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tx, rx) = fields.get(4)?.split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// A realtime client whose socket buffers are small and fixed.
async fn connect_with_small_buffers(addr: SocketAddr) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(STUCK_SOCKET_BUFFER).unwrap();
    socket.set_send_buffer_size(STUCK_SOCKET_BUFFER).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (client, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(
            format!("ws://{addr}/v1/realtime"),
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        ),
    )
    .await
    .expect("connect timed out")
    .expect("connect failed");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_session_and_exits_zero_within_deadline() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_unleak-runtime"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--shutdown-deadline",
            format!("{}ms", DEADLINE.as_millis()).as_str(),
            "--max-frame-bytes",
            "1048576",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn unleak-runtime");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), stdout.read_line(&mut line))
        .await
        .expect("binary did not announce its address")
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    // Drain stderr so logging can never block the child.
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.map(|_| text)
    });

    let mut clients = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let mut client = open_session(addr).await;
        let sent = audio(400, i as u8);
        assert_eq!(talk(&mut client, &sent).await, sent);
        clients.push(client);
    }

    // The stuck client: once its session is established it asks for far
    // more echoed audio than the socket buffers between us hold (its own are
    // small and fixed) and never reads again. It stops sending after
    // STUCK_MAX_TURNS or once the server stops reading it, which stays far
    // below the local provider's backlog limits, so nothing can drop the
    // session. Its session then ends up blocked in a send to it, which only
    // times out after 10 s.
    let mut stuck = connect_with_small_buffers(addr).await;
    recv_until(&mut stuck, "session.created").await;
    let append = Message::text(
        json!({"type": "input_audio_buffer.append", "audio": B64.encode(vec![0x55u8; APPEND_BYTES])})
            .to_string(),
    );
    let commit = Message::text(json!({"type": "input_audio_buffer.commit"}).to_string());
    let create = Message::text(json!({"type": "response.create"}).to_string());
    let mut turn = vec![append; APPENDS_PER_TURN];
    turn.extend([commit, create]);
    let flooding = Instant::now();
    let mut turns = 0;
    'flood: while turns < STUCK_MAX_TURNS {
        for frame in &turn {
            match tokio::time::timeout(STALL, stuck.send(frame.clone())).await {
                // The server stopped reading us.
                Err(_) => break 'flood,
                Ok(sent) => sent.unwrap_or_else(|e| {
                    panic!("the stuck session ended before SIGTERM (turn {turns}): {e}")
                }),
            }
        }
        turns += 1;
    }
    // Wait until the server has written all it can to the stuck client: its
    // end of the connection holds unsent data (the client's window is
    // closed) and neither sends nor reads anything more. The session is
    // then blocked in a send.
    let client_addr = match stuck.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap(),
        _ => unreachable!("plain TCP"),
    };
    let settling = Instant::now();
    let (mut queues, mut since) = (None, Instant::now());
    loop {
        let now = tcp_queues(addr, client_addr).expect("server end of the stuck connection");
        if queues != Some(now) {
            (queues, since) = (Some(now), Instant::now());
        } else if now.0 > 0 && since.elapsed() >= SETTLE {
            break;
        }
        assert!(
            settling.elapsed() < Duration::from_secs(30),
            "the stuck session never settled; queues {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "stuck client sent {turns} turns in {:?}; server blocked with (unsent, unread) bytes {queues:?}",
        flooding.elapsed()
    );

    // Right before SIGTERM: all 100 sessions and the stuck one are live.
    let metrics = http_client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let live: usize = metrics
        .lines()
        .find_map(|line| line.strip_prefix("unleak_runtime_sessions "))
        .unwrap_or_else(|| panic!("no sessions gauge in\n{metrics}"))
        .trim()
        .parse()
        .expect("sessions gauge is a number");
    assert_eq!(live, SESSIONS + 1, "live sessions right before SIGTERM");

    let pid = child.id().expect("child pid") as libc::pid_t;
    let started = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("binary did not exit within 10 s")
        .unwrap();
    let took = started.elapsed();
    println!("shutdown took {took:?}");
    let logs = logs.await.unwrap().unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "abandoning a session exits 2: {status:?}\n{logs}"
    );
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?}\n{logs}"
    );
    assert!(
        took >= DEADLINE - EPSILON,
        "the stuck session should have held shutdown until the deadline; took {took:?}\n{logs}"
    );
    assert!(
        logs.contains("shutdown abandoned work")
            && logs.contains("1 session task(s)")
            && logs.contains("sessions: TimedOut { remaining: 1 }"),
        "exactly the stuck session should have hit the deadline; took {took:?}\n{logs}"
    );
    assert!(
        !logs.contains("upstream realtime connection lost"),
        "no session may lose its upstream; took {took:?}\n{logs}"
    );

    let mut closed = 0;
    for client in &mut clients {
        if recv_close(client).await == Some(1001) {
            closed += 1;
        }
    }
    assert_eq!(
        closed, SESSIONS,
        "every live session gets a close frame (1001)"
    );
    drop(stuck);
}
