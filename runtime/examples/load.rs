//! Black-box load client for the `unleak-runtime` binary: starts the binary
//! (local provider, loopback only), drives it like an operator's load test
//! and prints the figures recorded in README.md ("Measured").
//!
//! ```sh
//! cargo build --release -p unleak-runtime --bin unleak-runtime --example load
//! B=target/release/unleak-runtime
//! target/release/examples/load cycles       $B   # 10,000 + 3,000 session cycles in waves of 150: RSS
//! target/release/examples/load sigterm      $B   # 10 runs x 100 streaming clients: close frames at SIGTERM
//! target/release/examples/load silent       $B   # 1,000 silent + 100 half-sent peers: SIGTERM time, exit code
//! target/release/examples/load never-read   $B   # 20 clients that never read: RSS peak and after
//! ```
//!
//! Every loop is bounded and every wait has a timeout.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const WAIT: Duration = Duration::from_secs(10);

struct Server {
    child: Child,
    addr: SocketAddr,
    pid: i32,
}

impl Server {
    async fn start(bin: &str, extra: &[&str]) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--max-sessions", "4096"])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        tokio::time::timeout(WAIT, stdout.read_line(&mut line)).await??;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .parse()?;
        let pid = child.id().ok_or("no pid")? as i32;
        Ok(Self { child, addr, pid })
    }

    /// Resident set size in MiB, from /proc (works on any version of the binary).
    fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(-1.0, |kib| kib / 1024.0)
    }

    /// SIGTERM; returns (exit code, time to exit).
    async fn terminate(mut self) -> Result<(Option<i32>, Duration)> {
        let started = Instant::now();
        // SAFETY: sending a signal to our own child process.
        if unsafe { libc::kill(self.pid, libc::SIGTERM) } != 0 {
            return Err("kill failed".into());
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok((status.code(), started.elapsed()))
    }
}

async fn connect(addr: SocketAddr) -> Result<Client> {
    let (mut client, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/realtime")),
    )
    .await??;
    recv_until(&mut client, "session.created").await?;
    Ok(client)
}

async fn recv_until(client: &mut Client, kind: &str) -> Result<Vec<Value>> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        match tokio::time::timeout(WAIT, client.next()).await? {
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(text.as_str())?;
                let done = event["type"] == kind;
                seen.push(event);
                if done {
                    return Ok(seen);
                }
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(format!("closed before {kind}").into()),
        }
    }
    Err(format!("no {kind} in 10000 frames").into())
}

/// One session cycle: connect, one echoed audio turn, close handshake.
async fn cycle(addr: SocketAddr, audio: &[u8]) -> Result<()> {
    let mut client = connect(addr).await?;
    let append = json!({"type": "input_audio_buffer.append", "audio": B64.encode(audio)});
    for event in [
        append,
        json!({"type": "input_audio_buffer.commit"}),
        json!({"type": "response.create"}),
    ] {
        client.send(Message::text(event.to_string())).await?;
    }
    recv_until(&mut client, "response.done").await?;
    client.close(None).await?;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, client.next()).await {}
    Ok(())
}

async fn cycles(bin: &str) -> Result<()> {
    const WAVE: usize = 150;
    const TOTAL: usize = 13_000;
    let server = Server::start(bin, &[]).await?;
    let audio = vec![0x55u8; 1600];
    println!("cycles: RSS at start {:.1} MiB", server.rss_mib());
    let mut done = 0;
    let started = Instant::now();
    while done < TOTAL {
        let wave: Vec<_> = (0..WAVE)
            .map(|_| {
                let audio = audio.clone();
                tokio::spawn(async move { cycle(server.addr, &audio).await })
            })
            .collect();
        for task in wave {
            task.await??;
        }
        done += WAVE;
        if done % 1050 == 0 || done >= TOTAL {
            println!(
                "cycles: {done:>6} done in {:>6.1?}  RSS {:.1} MiB",
                started.elapsed(),
                server.rss_mib()
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    println!(
        "cycles: 6 s after the last wave RSS {:.1} MiB",
        server.rss_mib()
    );
    let (code, took) = server.terminate().await?;
    println!("cycles: SIGTERM → exit {code:?} in {took:?}");
    Ok(())
}

/// k clients that stream audio until the server closes them, SIGTERM in the
/// middle of it; counts close frames (1001) received.
async fn sigterm(bin: &str) -> Result<()> {
    const RUNS: usize = 10;
    const CLIENTS: usize = 100;
    let mut total = 0;
    for run in 0..RUNS {
        let server = Server::start(bin, &[]).await?;
        let append = Message::text(
            json!({"type": "input_audio_buffer.append", "audio": B64.encode([0x55u8; 3200])})
                .to_string(),
        );
        let commit = Message::text(json!({"type": "input_audio_buffer.commit"}).to_string());
        let mut readers = Vec::new();
        for _ in 0..CLIENTS {
            let (mut tx, mut rx) = connect(server.addr).await?.split();
            let (append, commit) = (append.clone(), commit.clone());
            tokio::spawn(async move {
                for i in 0..1_000_000u32 {
                    let frame = if i % 8 == 7 { &commit } else { &append };
                    if tx.send(frame.clone()).await.is_err() {
                        break;
                    }
                }
            });
            readers.push(tokio::spawn(async move {
                loop {
                    match tokio::time::timeout(WAIT, rx.next()).await {
                        Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
                        Ok(Some(Ok(_))) => continue,
                        _ => return None,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (code, took) = server.terminate().await?;
        let mut closed = 0;
        for reader in readers {
            closed += usize::from(reader.await? == Some(1001));
        }
        total += closed;
        println!("sigterm run {run}: {closed}/{CLIENTS} close frames, exit {code:?} in {took:?}");
    }
    println!("sigterm: {total}/{} close frames delivered", RUNS * CLIENTS);
    Ok(())
}

/// 1,000 silent and 100 half-sent connections plus 100 live sessions, then
/// SIGTERM: how long the exit takes, and its code.
async fn silent(bin: &str) -> Result<()> {
    let server = Server::start(bin, &[]).await?;
    let mut peers = Vec::new();
    for i in 0..1_100 {
        let mut peer = TcpStream::connect(server.addr).await?;
        if i >= 1_000 {
            peer.write_all(b"POST /v1/chat HTTP/1.1\r\nHost: load\r\nContent-Le")
                .await?;
        }
        peers.push(peer);
    }
    let mut sessions = Vec::new();
    for _ in 0..100 {
        sessions.push(connect(server.addr).await?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = peers
        .iter()
        .filter(|p| {
            let mut buf = [0u8; 1];
            // Non-blocking peek: WouldBlock means still open.
            matches!(p.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    println!("silent: {open}/1100 silent or half-sent peers open after 1 s");
    let (code, took) = server.terminate().await?;
    println!("silent: SIGTERM → exit {code:?} in {took:?}");
    drop(sessions);
    Ok(())
}

/// The named samples of `/metrics` (empty where the binary has none).
async fn scrape(addr: SocketAddr, names: &[&str]) -> String {
    let text = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n")
            .await?;
        let mut body = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut body).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&body).into_owned())
    };
    let text = match tokio::time::timeout(WAIT, text).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && names.iter().any(|n| l.contains(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 20 clients that pipeline audio turns and never read the echo.
async fn never_read(bin: &str) -> Result<()> {
    const CLIENTS: usize = 20;
    let server = Server::start(bin, &[]).await?;
    let baseline = server.rss_mib();
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
    let floods: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let turn = turn.clone();
            let addr = server.addr;
            tokio::spawn(async move {
                let mut client = connect(addr).await?;
                'flood: for _ in 0..200 {
                    for frame in &turn {
                        match tokio::time::timeout(
                            Duration::from_secs(2),
                            client.send(frame.clone()),
                        )
                        .await
                        {
                            Err(_stalled) => break 'flood,
                            Ok(sent) => {
                                if sent.is_err() {
                                    break 'flood;
                                }
                            }
                        }
                    }
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(client)
            })
        })
        .collect();
    let mut clients = Vec::new();
    for flood in floods {
        clients.push(flood.await??);
    }
    let peak = server.rss_mib();
    println!(
        "never-read: RSS {baseline:.1} MiB before, {peak:.1} MiB with {CLIENTS} stalled clients"
    );
    drop(clients);
    // Sessions end on their own; the server gets a moment to hand memory back.
    tokio::time::sleep(Duration::from_secs(15)).await;
    println!(
        "never-read: RSS {:.1} MiB 15 s after the clients left; {}",
        server.rss_mib(),
        scrape(
            server.addr,
            &["sessions ", "outbound_queued_bytes", "memory_trims_total"]
        )
        .await
    );
    let (code, took) = server.terminate().await?;
    println!("never-read: SIGTERM → exit {code:?} in {took:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(bin)) = (args.get(1), args.get(2)) else {
        return Err("usage: load cycles|sigterm|silent|never-read PATH_TO_BINARY".into());
    };
    match mode.as_str() {
        "cycles" => cycles(bin).await,
        "sigterm" => sigterm(bin).await,
        "silent" => silent(bin).await,
        "never-read" => never_read(bin).await,
        other => Err(format!("unknown mode {other:?}").into()),
    }
}
