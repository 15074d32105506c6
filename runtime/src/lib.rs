//! unleak-runtime: the fixed reference AI voice service checked by unleak.
//!
//! It does what the leaky legacy Node service did — chat, transcription and
//! speech proxied to an OpenAI-compatible upstream, realtime voice sessions
//! over WebSocket, a Twilio media-stream bridge and menu tools for a voice
//! ordering agent — with each of its leak vectors fixed the idiomatic tokio
//! way. `README.md` maps every fix to its rule, file and function.

pub mod audio;
pub mod config;
pub mod events;
pub mod http;
pub mod jobs;
pub mod listener;
pub mod memory;
pub mod menu;
pub mod metrics;
pub mod realtime;
pub mod retry;
pub mod server;
pub mod session;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod twilio;
pub mod upstream;

pub use config::Config;
pub use server::{RunningServer, router, serve};
pub use state::AppState;
