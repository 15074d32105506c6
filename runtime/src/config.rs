//! Runtime configuration from command-line flags and environment variables.
//!
//! Every limit that bounds a long-lived resource (sessions, caches, audio
//! buffers, frame sizes, deadlines) is a setting here, so nothing in the
//! service grows without a configured ceiling.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Parses a duration such as `250ms`, `5s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "invalid duration {text:?}: must be a non-negative number"
        ));
    }
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// All settings of the runtime. Durations accept `ms`, `s`, `m` and `h` suffixes.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "unleak-runtime",
    version,
    about = "Leak-free reference AI voice service (the clean target of unleak)"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "UNLEAK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Base URL of an OpenAI-compatible upstream (plain http, e.g. http://127.0.0.1:9000).
    /// Without it the built-in local provider answers.
    #[arg(long, env = "UNLEAK_UPSTREAM")]
    pub upstream: Option<String>,

    /// Bearer token sent to the upstream.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Realtime model requested from the upstream.
    #[arg(long, env = "UNLEAK_REALTIME_MODEL", default_value = "gpt-realtime")]
    pub realtime_model: String,

    /// Maximum number of live sessions (realtime + Twilio); more are refused with 503.
    #[arg(long, env = "UNLEAK_MAX_SESSIONS", default_value_t = 1024)]
    pub max_sessions: usize,

    /// A session with no client activity for this long is closed by the reaper.
    #[arg(long, env = "UNLEAK_IDLE_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// How often the session reaper looks for idle sessions.
    #[arg(long, env = "UNLEAK_REAPER_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub reaper_interval: Duration,

    /// Interval of WebSocket pings to clients and to the upstream.
    #[arg(long, env = "UNLEAK_PING_INTERVAL", default_value = "20s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// Maximum number of menus held in the cache.
    #[arg(long, env = "UNLEAK_CACHE_MAX_ENTRIES", default_value_t = 256)]
    pub cache_max_entries: u64,

    /// Time to live of a cached menu.
    #[arg(long, env = "UNLEAK_CACHE_TTL", default_value = "300s", value_parser = parse_duration)]
    pub cache_ttl: Duration,

    /// How often the menu refresh job reloads the default restaurant's menu.
    #[arg(long, env = "UNLEAK_MENU_REFRESH", default_value = "60s", value_parser = parse_duration)]
    pub menu_refresh: Duration,

    /// Restaurant whose menu the voice agent uses.
    #[arg(long, env = "UNLEAK_RESTAURANT", default_value = "default")]
    pub restaurant: String,

    /// Cap of one session's buffered input audio, in bytes.
    #[arg(long, env = "UNLEAK_AUDIO_BUFFER_CAP", default_value_t = 1024 * 1024)]
    pub audio_buffer_cap: usize,

    /// Largest accepted WebSocket message from a client, in bytes.
    #[arg(long, env = "UNLEAK_MAX_FRAME_BYTES", default_value_t = 256 * 1024)]
    pub max_frame_bytes: usize,

    /// Bytes of events one session may queue towards its client; past it the
    /// session stops reading the client until the queue drains.
    #[arg(long, env = "UNLEAK_OUTBOUND_QUEUE_BYTES", default_value_t = 256 * 1024)]
    pub outbound_queue_bytes: usize,

    /// Most characters of `input` accepted by `/v1/speech`.
    #[arg(long, env = "UNLEAK_MAX_SPEECH_CHARS", default_value_t = 4096)]
    pub max_speech_chars: usize,

    /// Most open client connections (HTTP and WebSocket); past it new
    /// connections wait in the listen backlog until one closes.
    #[arg(long, env = "UNLEAK_MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,

    /// A connection must deliver a complete request head within this time
    /// (from connect, or from the previous response on keep-alive).
    #[arg(long, env = "UNLEAK_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Largest accepted HTTP request body and upstream response body, in bytes.
    #[arg(long, env = "UNLEAK_MAX_BODY_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Bytes of Twilio μ-law audio (8000 per second) per committed turn.
    #[arg(long, env = "UNLEAK_TWILIO_COMMIT_BYTES", default_value_t = 8000)]
    pub twilio_commit_bytes: usize,

    /// Deadline of one upstream HTTP request (including reading the body).
    #[arg(long, env = "UNLEAK_UPSTREAM_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// Deadline of connecting the upstream realtime WebSocket.
    #[arg(long, env = "UNLEAK_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Attempts per upstream operation (first try included) before giving up.
    #[arg(long, env = "UNLEAK_RETRY_ATTEMPTS", default_value_t = 3)]
    pub retry_attempts: u32,

    /// First retry backoff; doubles on each attempt.
    #[arg(long, env = "UNLEAK_RETRY_BACKOFF", default_value = "200ms", value_parser = parse_duration)]
    pub retry_backoff: Duration,

    /// Directory where each session's input audio is recorded (off when unset).
    #[arg(long, env = "UNLEAK_RECORD_DIR")]
    pub record_dir: Option<PathBuf>,

    /// How long shutdown waits for sessions and jobs before exiting anyway.
    #[arg(long, env = "UNLEAK_SHUTDOWN_DEADLINE", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_deadline: Duration,

    /// How long closing one client may take: sending the close frame, then
    /// draining its frames until it answers. At shutdown, also how long a
    /// connection may take to finish sending a request head.
    #[arg(long, env = "UNLEAK_CLOSE_GRACE", default_value = "1s", value_parser = parse_duration)]
    pub close_grace: Duration,
}

impl Config {
    /// The defaults, as if the binary were started without flags (environment
    /// variables still apply).
    pub fn from_defaults() -> Self {
        Self::parse_from(["unleak-runtime"])
    }

    /// Parses flags given as strings after the program name.
    pub fn from_args<I, S>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        let all = std::iter::once(std::ffi::OsString::from("unleak-runtime"))
            .chain(args.into_iter().map(Into::into));
        Self::try_parse_from(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn flags_override_defaults() {
        let cfg = Config::from_args([
            "--listen",
            "127.0.0.1:0",
            "--max-sessions",
            "7",
            "--idle-timeout",
            "1500ms",
        ])
        .expect("valid flags");
        assert_eq!(cfg.max_sessions, 7);
        assert_eq!(cfg.idle_timeout, Duration::from_millis(1500));
        assert_eq!(cfg.listen.port(), 0);
    }
}
