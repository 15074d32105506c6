//! Plain HTTP routes: health, metrics and the proxied chat, transcription
//! and speech endpoints.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::metrics::ErrorKind;
use crate::sessions::RegistryError;
use crate::state::AppState;
use crate::upstream::UpstreamError;

/// An OpenAI-style JSON error body.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "code": code}})),
    )
        .into_response()
}

/// Answer to a session the registry refused (limit or shutdown).
pub fn registry_refusal(state: &AppState, error: &RegistryError) -> Response {
    state
        .metrics
        .record_error(ErrorKind::SessionLimit, "refusing new session", error);
    let code = match error {
        RegistryError::Full { .. } => "session_limit",
        RegistryError::ShuttingDown => "shutting_down",
    };
    error_response(StatusCode::SERVICE_UNAVAILABLE, code, &error.to_string())
}

fn upstream_failure(state: &AppState, what: &str, error: &UpstreamError) -> Response {
    state.metrics.record_error(error.kind(), what, error);
    error_response(
        error.http_status(),
        error.kind().as_str(),
        &error.to_string(),
    )
}

fn bad_json(state: &AppState, error: &serde_json::Error) -> Response {
    state
        .metrics
        .record_error(ErrorKind::BadRequest, "request body is not JSON", error);
    error_response(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        &format!("body is not valid JSON: {error}"),
    )
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    (StatusCode::OK, "ok\n").into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.render_metrics().await,
    )
        .into_response()
}

pub async fn chat(State(state): State<AppState>, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_json(&state, &e),
    };
    match state.upstream.chat(request, &state.shutdown).await {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => upstream_failure(&state, "chat completion failed", &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct TranscribeQuery {
    #[serde(default = "default_transcribe_model")]
    model: String,
}

fn default_transcribe_model() -> String {
    "whisper-1".to_owned()
}

/// Body: raw audio bytes. Forwarded upstream as multipart/form-data.
pub async fn transcribe(
    State(state): State<AppState>,
    Query(query): Query<TranscribeQuery>,
    body: Bytes,
) -> Response {
    match state
        .upstream
        .transcribe(body, &query.model, &state.shutdown)
        .await
    {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => upstream_failure(&state, "transcription failed", &e),
    }
}

pub async fn speech(State(state): State<AppState>, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_json(&state, &e),
    };
    // Checked before anything is rendered or sent upstream: the answer is
    // about 80 bytes of audio per character.
    let max = state.config.max_speech_chars;
    if let Some(input) = request.get("input").and_then(Value::as_str)
        && input.chars().count() > max
    {
        let message = format!(
            "`input` has {} characters; the limit is {max}",
            input.chars().count()
        );
        state
            .metrics
            .record_error(ErrorKind::BadRequest, "speech input too long", &message);
        return error_response(StatusCode::BAD_REQUEST, "input_too_long", &message);
    }
    match state.upstream.speech(request, &state.shutdown).await {
        Ok(audio) => {
            let metrics = state.metrics.clone();
            // A failure mid-stream cuts the response short; it is counted here.
            let audio = audio.inspect(move |chunk| {
                if let Err(e) = chunk {
                    metrics.record_error(e.kind(), "streaming speech audio", e);
                }
            });
            (
                [(header::CONTENT_TYPE, "audio/basic")],
                Body::from_stream(audio),
            )
                .into_response()
        }
        Err(e) => upstream_failure(&state, "speech synthesis failed", &e),
    }
}
