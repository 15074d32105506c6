//! SIGTERM to the real binary with 100 live sessions and one stuck client:
//! it exits 0 in under 5 seconds, every live session receives a close frame,
//! and the stuck session does not hold shutdown past the deadline.

mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_session_and_exits_zero_within_deadline() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_unleak-runtime"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--shutdown-deadline",
            "2s",
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
    let addr: std::net::SocketAddr = line
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

    // The stuck client asks for far more echoed audio than socket buffers
    // hold and never reads, so its session blocks in a send.
    let mut stuck = connect(addr, "/v1/realtime").await;
    let turn = B64.encode(vec![0x55u8; 190_000]);
    let flooder = tokio::spawn(async move {
        for _ in 0..120 {
            let frames = [
                json!({"type": "input_audio_buffer.append", "audio": turn}),
                json!({"type": "input_audio_buffer.commit"}),
                json!({"type": "response.create"}),
            ];
            for frame in frames {
                let send = stuck.send(Message::text(frame.to_string()));
                if tokio::time::timeout(Duration::from_secs(1), send)
                    .await
                    .is_err()
                {
                    // The server stopped reading us: it is blocked writing.
                    return stuck;
                }
            }
        }
        stuck
    });
    let stuck = tokio::time::timeout(Duration::from_secs(60), flooder)
        .await
        .expect("flooding is bounded")
        .unwrap();

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
    assert_eq!(status.code(), Some(0), "exit status {status:?}\n{logs}");
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?}\n{logs}"
    );
    assert!(
        logs.contains("shutdown deadline passed"),
        "the stuck session should have hit the deadline; took {took:?}\n{logs}"
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
