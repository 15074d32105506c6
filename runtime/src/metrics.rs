//! Process metrics rendered as Prometheus text: a gauge for every resource a
//! leak vector could grow, plus errors counted by kind.
//!
//! Gauges are moved by RAII guards ([`GaugeGuard`]) wherever possible, so a
//! resource cannot disappear without its gauge going down with it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What went wrong, as counted in `unleak_runtime_errors_total{kind=...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    MalformedFrame,
    UnknownEvent,
    OversizedFrame,
    AudioOverflow,
    ClientGone,
    SessionLimit,
    UpstreamConnect,
    UpstreamTimeout,
    UpstreamHttp,
    UpstreamProtocol,
    UpstreamDropped,
    Recording,
    Tool,
    EventLagged,
    BadRequest,
    Shutdown,
    HeaderTimeout,
    ConnectionLimit,
    OutboundOverflow,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::MalformedFrame,
        ErrorKind::UnknownEvent,
        ErrorKind::OversizedFrame,
        ErrorKind::AudioOverflow,
        ErrorKind::ClientGone,
        ErrorKind::SessionLimit,
        ErrorKind::UpstreamConnect,
        ErrorKind::UpstreamTimeout,
        ErrorKind::UpstreamHttp,
        ErrorKind::UpstreamProtocol,
        ErrorKind::UpstreamDropped,
        ErrorKind::Recording,
        ErrorKind::Tool,
        ErrorKind::EventLagged,
        ErrorKind::BadRequest,
        ErrorKind::Shutdown,
        ErrorKind::HeaderTimeout,
        ErrorKind::ConnectionLimit,
        ErrorKind::OutboundOverflow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedFrame => "malformed_frame",
            ErrorKind::UnknownEvent => "unknown_event",
            ErrorKind::OversizedFrame => "oversized_frame",
            ErrorKind::AudioOverflow => "audio_overflow",
            ErrorKind::ClientGone => "client_gone",
            ErrorKind::SessionLimit => "session_limit",
            ErrorKind::UpstreamConnect => "upstream_connect",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamHttp => "upstream_http",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
            ErrorKind::UpstreamDropped => "upstream_dropped",
            ErrorKind::Recording => "recording",
            ErrorKind::Tool => "tool",
            ErrorKind::EventLagged => "event_lagged",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Shutdown => "shutdown",
            ErrorKind::HeaderTimeout => "header_timeout",
            ErrorKind::ConnectionLimit => "connection_limit",
            ErrorKind::OutboundOverflow => "outbound_overflow",
        }
    }

    fn index(self) -> usize {
        ErrorKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default()
    }
}

/// A signed gauge (signed so that a bug shows as a negative value instead of wrapping).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn sub(&self, n: i64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Selects one gauge of [`Metrics`]; used by [`GaugeGuard`].
pub type GaugeSel = fn(&Metrics) -> &Gauge;

/// Holds +1 on a gauge for as long as it lives.
#[derive(Debug)]
pub struct GaugeGuard {
    metrics: Arc<Metrics>,
    select: GaugeSel,
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        (self.select)(&self.metrics).sub(1);
    }
}

/// All counters and gauges of the process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Live sessions in the registry.
    pub sessions: Gauge,
    /// Registered per-session event subscriptions.
    pub listeners: Gauge,
    /// Deadlines currently armed through [`crate::retry::with_timeout`].
    pub timers: Gauge,
    /// Live upstream realtime adapters (at most one per session).
    pub adapters: Gauge,
    /// Input audio bytes buffered across all sessions.
    pub audio_bytes: Gauge,
    /// Recording files currently open.
    pub recordings_open: Gauge,
    /// Open client TCP connections (HTTP and upgraded WebSocket).
    pub connections: Gauge,
    /// Bytes of events queued towards clients across all sessions.
    pub outbound_bytes: Gauge,
    /// Times a session's outbound queue reached its byte bound and the
    /// session stopped reading its client until it drained.
    pub outbound_backpressure_total: AtomicU64,
    /// Times freed heap memory was handed back to the OS.
    pub memory_trims_total: AtomicU64,
    /// Sessions ever opened.
    pub sessions_total: AtomicU64,
    /// Upstream reconnects performed.
    pub reconnects_total: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
}

/// Values that live outside [`Metrics`] and are sampled at render time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampled {
    pub alive_tasks: usize,
    pub session_tasks: usize,
    pub jobs: usize,
    pub cache_entries: u64,
    pub resident_bytes: Option<u64>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Increments the selected gauge until the returned guard is dropped.
    pub fn track(self: &Arc<Self>, select: GaugeSel) -> GaugeGuard {
        select(self).add(1);
        GaugeGuard {
            metrics: Arc::clone(self),
            select,
        }
    }

    /// Logs an error with its context and counts it; the one place errors go,
    /// so that none is swallowed silently.
    pub fn record_error(&self, kind: ErrorKind, context: &str, error: &dyn fmt::Display) {
        self.errors[kind.index()].fetch_add(1, Ordering::Relaxed);
        tracing::warn!(kind = kind.as_str(), %error, "{context}");
    }

    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()].load(Ordering::Relaxed)
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.iter().map(|e| e.load(Ordering::Relaxed)).sum()
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self, sampled: &Sampled) -> String {
        let mut out = String::with_capacity(4096);
        let gauges: [(&str, &str, i64); 13] = [
            (
                "unleak_runtime_sessions",
                "Live sessions.",
                self.sessions.get(),
            ),
            (
                "unleak_runtime_alive_tasks",
                "Alive tokio tasks.",
                to_i64(sampled.alive_tasks),
            ),
            (
                "unleak_runtime_session_tasks",
                "Session tasks tracked for shutdown.",
                to_i64(sampled.session_tasks),
            ),
            (
                "unleak_runtime_jobs",
                "Periodic jobs running.",
                to_i64(sampled.jobs),
            ),
            (
                "unleak_runtime_timers",
                "Armed deadlines.",
                self.timers.get(),
            ),
            (
                "unleak_runtime_listeners",
                "Registered event listeners.",
                self.listeners.get(),
            ),
            (
                "unleak_runtime_upstream_adapters",
                "Live upstream realtime adapters.",
                self.adapters.get(),
            ),
            (
                "unleak_runtime_cache_entries",
                "Menu cache entries.",
                i64::try_from(sampled.cache_entries).unwrap_or(i64::MAX),
            ),
            (
                "unleak_runtime_audio_buffered_bytes",
                "Buffered input audio bytes.",
                self.audio_bytes.get(),
            ),
            (
                "unleak_runtime_recordings_open",
                "Open recording files.",
                self.recordings_open.get(),
            ),
            (
                "unleak_runtime_connections",
                "Open client TCP connections.",
                self.connections.get(),
            ),
            (
                "unleak_runtime_outbound_queued_bytes",
                "Bytes queued towards clients.",
                self.outbound_bytes.get(),
            ),
            (
                "unleak_runtime_resident_memory_bytes",
                "Resident set size.",
                sampled
                    .resident_bytes
                    .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            ),
        ];
        for (name, help, value) in gauges {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        let counters = [
            (
                "unleak_runtime_sessions_total",
                "Sessions opened.",
                self.sessions_total.load(Ordering::Relaxed),
            ),
            (
                "unleak_runtime_reconnects_total",
                "Upstream reconnects.",
                self.reconnects_total.load(Ordering::Relaxed),
            ),
            (
                "unleak_runtime_outbound_backpressure_total",
                "Sessions that hit their outbound byte bound and stopped reading.",
                self.outbound_backpressure_total.load(Ordering::Relaxed),
            ),
            (
                "unleak_runtime_memory_trims_total",
                "Freed heap handed back to the OS.",
                self.memory_trims_total.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        }
        out.push_str("# HELP unleak_runtime_errors_total Errors by kind.\n# TYPE unleak_runtime_errors_total counter\n");
        for kind in ErrorKind::ALL {
            out.push_str(&format!(
                "unleak_runtime_errors_total{{kind=\"{}\"}} {}\n",
                kind.as_str(),
                self.errors(kind)
            ));
        }
        out
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Resident set size of this process, from `/proc/self/status` (Linux only).
/// `None` (rendered as -1) where it cannot be read, e.g. off Linux.
pub fn resident_bytes() -> Option<u64> {
    let status = match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => status,
        Err(e) => {
            // Expected off Linux; debug level so scrapes do not flood logs.
            tracing::debug!(error = %e, "resident memory unavailable");
            return None;
        }
    };
    let field = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim();
    match field.parse::<u64>() {
        Ok(kib) => Some(kib * 1024),
        Err(e) => {
            tracing::debug!(error = %e, field, "unexpected VmRSS format");
            None
        }
    }
}

/// Reads one unlabelled sample from Prometheus text (used by tests and tools).
pub fn parse_sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (metric, value) = l.rsplit_once(' ')?;
        (metric == name).then(|| value.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_restore_gauges_and_render_parses() {
        let m = Metrics::new();
        {
            let _a = m.track(|m| &m.listeners);
            let _b = m.track(|m| &m.listeners);
            assert_eq!(m.listeners.get(), 2);
        }
        assert_eq!(m.listeners.get(), 0);
        m.record_error(ErrorKind::Tool, "test", &"boom");
        let text = m.render(&Sampled {
            cache_entries: 3,
            ..Sampled::default()
        });
        assert_eq!(
            parse_sample(&text, "unleak_runtime_cache_entries"),
            Some(3.0)
        );
        assert_eq!(parse_sample(&text, "unleak_runtime_listeners"), Some(0.0));
        assert_eq!(
            parse_sample(&text, "unleak_runtime_errors_total{kind=\"tool\"}"),
            Some(1.0)
        );
        assert_eq!(m.errors_total(), 1);
    }
}
