//! 10,000 connect/talk/disconnect realtime session cycles against the
//! loopback upstream. Afterwards live sessions, listeners, timers, adapters,
//! buffered audio, tracked session tasks and alive tokio tasks are back at
//! their baseline, and the bytes allocated (counted exactly by this test
//! binary's global allocator) are within a small fixed tolerance of it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use unleak_runtime::RunningServer;

/// Counts live heap bytes exactly.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CYCLES: usize = 10_000;
const WARMUP: usize = 500;
const CONCURRENCY: usize = 32;
/// Fixed allowance for allocator-independent noise (tokio's and the
/// allocator-visible caches settling); a leak of even 16 bytes per cycle
/// (160 KB over the run) would exceed it.
const TOLERANCE_BYTES: isize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    sessions: i64,
    listeners: i64,
    timers: i64,
    adapters: i64,
    audio_bytes: i64,
    recordings: i64,
    session_tasks: usize,
    jobs: usize,
    alive_tasks: usize,
    upstream_live: i64,
}

fn snapshot(server: &RunningServer, upstream: &FakeUpstream) -> Snapshot {
    let m = &server.state.metrics;
    Snapshot {
        sessions: m.sessions.get(),
        listeners: m.listeners.get(),
        timers: m.timers.get(),
        adapters: m.adapters.get(),
        audio_bytes: m.audio_bytes.get(),
        recordings: m.recordings_open.get(),
        session_tasks: server.state.session_tasks.len(),
        jobs: server.state.jobs.len(),
        alive_tasks: tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        upstream_live: upstream.knobs.realtime_live.load(Ordering::SeqCst),
    }
}

async fn cycles(addr: std::net::SocketAddr, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let share = count / CONCURRENCY + usize::from(worker < count % CONCURRENCY);
        tasks.spawn(async move {
            let sent = audio(800, worker as u8);
            for _ in 0..share {
                let mut client = open_session(addr).await;
                assert_eq!(talk(&mut client, &sent).await, sent);
                client.close(None).await.expect("close");
                // Wait for the server's close reply so the cycle is complete.
                assert!(recv_json(&mut client).await.is_none());
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("cycle task failed");
    }
}

/// Waits (bounded) until the process is quiet again and returns its state.
async fn quiesce(
    server: &RunningServer,
    upstream: &FakeUpstream,
    baseline: Option<Snapshot>,
) -> Snapshot {
    let done = wait_for(Duration::from_secs(20), || {
        let now = snapshot(server, upstream);
        now.sessions == 0
            && now.session_tasks == 0
            && now.upstream_live == 0
            && baseline.is_none_or(|b| now.alive_tasks <= b.alive_tasks)
    })
    .await;
    // Let closed sockets and dropped tasks finish freeing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let now = snapshot(server, upstream);
    assert!(done, "did not quiesce: {now:?} (baseline {baseline:?})");
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_session_cycles_leave_no_trace() {
    let upstream = FakeUpstream::start().await;
    let server = RunningServer::start(config(
        Some(&upstream.url),
        // The menu job is proven with the paused clock; here its hourly-at-most refresh keeps a
        // `menu.updated` from landing in a cycle on a slow (loaded CI) machine.
        &["--menu-refresh", "3600s"],
    ))
    .await
    .unwrap();
    let addr = server.addr;

    // Warm-up fills lazily-grown pools (tokio slabs, buffers) once.
    cycles(addr, WARMUP).await;
    let baseline = quiesce(&server, &upstream, None).await;
    let baseline_bytes = LIVE_BYTES.load(Ordering::SeqCst);

    let started = Instant::now();
    cycles(addr, CYCLES).await;
    let elapsed = started.elapsed();
    let after = quiesce(&server, &upstream, Some(baseline)).await;
    let after_bytes = LIVE_BYTES.load(Ordering::SeqCst);

    let total = server.state.metrics.sessions_total.load(Ordering::SeqCst);
    println!(
        "soak: {CYCLES} cycles in {elapsed:?}; baseline {baseline:?} {baseline_bytes} B; after {after:?} {after_bytes} B; delta {} B",
        after_bytes - baseline_bytes
    );
    assert_eq!(total, (WARMUP + CYCLES) as u64);
    assert_eq!(after, baseline, "gauges and task counts back at baseline");
    assert_eq!(
        (
            after.sessions,
            after.listeners,
            after.timers,
            after.adapters
        ),
        (0, 0, 0, 0)
    );
    assert!(
        (after_bytes - baseline_bytes).abs() <= TOLERANCE_BYTES,
        "allocated bytes moved by {} B (tolerance {TOLERANCE_BYTES} B)",
        after_bytes - baseline_bytes
    );
    assert_eq!(server.state.metrics.errors_total(), 0);
    server.shutdown().await.unwrap();
}
