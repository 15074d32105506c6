//! The built-in local provider: deterministic chat, transcription, speech and
//! a realtime echo, so the runtime works with no network. The test suite's
//! loopback upstream server speaks through the same functions, which keeps
//! the protocol subset in one place.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

/// Most input audio the local realtime echo holds for one turn.
const LOCAL_AUDIO_CAP: usize = 4 * 1024 * 1024;
/// Audio bytes per `response.audio.delta` event.
const DELTA_CHUNK: usize = 4800;
/// Most events [`LocalRealtime::handle`] returns for one client event (a
/// `response.create` answering a full audio buffer).
pub const MAX_EVENTS_PER_REQUEST: usize = LOCAL_AUDIO_CAP.div_ceil(DELTA_CHUNK) + 3;
/// Most bytes those events take serialized: the audio as base64 plus 256
/// bytes of JSON around each event (ids, types), and a margin for the others.
pub const MAX_BYTES_PER_REQUEST: usize =
    LOCAL_AUDIO_CAP.div_ceil(3) * 4 + MAX_EVENTS_PER_REQUEST * 256 + 64 * 1024;

/// `POST /v1/chat/completions`: echoes the last user message.
pub fn chat(request: &Value) -> Result<Value, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be an array")?;
    let last = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .ok_or("no user message with text content")?;
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("local");
    Ok(json!({
        "id": format!("chatcmpl-local-{}", fnv(last.as_bytes())),
        "object": "chat.completion",
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": format!("You said: {last}")},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": last.split_whitespace().count(), "completion_tokens": 3}
    }))
}

/// `POST /v1/audio/transcriptions` on raw audio bytes.
pub fn transcribe(audio: &[u8]) -> Value {
    json!({ "text": format!("[{} bytes of audio, digest {:016x}]", audio.len(), fnv(audio)) })
}

/// Extracts the `file` part of a multipart/form-data body (the subset the
/// runtime sends: one file part, no nested multiparts).
pub fn multipart_file<'a>(content_type: &str, body: &'a [u8]) -> Option<&'a [u8]> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]);
        let content = &rest[header_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
        if headers.contains("name=\"file\"") {
            return Some(&content[..end]);
        }
        rest = &content[end..];
    }
    None
}

/// Audio bytes per character of speech input.
pub const SPEECH_BYTES_PER_CHAR: usize = 80;
/// Characters rendered per chunk of a streamed speech answer (20 KiB of audio).
const SPEECH_CHUNK_CHARS: usize = 256;

/// The `input` of a speech request.
pub fn speech_input(request: &Value) -> Result<&str, String> {
    let input = request
        .get("input")
        .and_then(Value::as_str)
        .ok_or("`input` must be a string")?;
    if input.is_empty() {
        return Err("`input` is empty".into());
    }
    Ok(input)
}

/// Deterministic μ-law audio for `chars`, 80 bytes per character.
fn render_speech(chars: impl Iterator<Item = char>) -> Bytes {
    let mut out = BytesMut::new();
    for ch in chars {
        let level = (u32::from(ch) % 64) as u8;
        out.reserve(SPEECH_BYTES_PER_CHAR);
        for i in 0..SPEECH_BYTES_PER_CHAR as u8 {
            out.extend_from_slice(&[0x80 ^ level ^ (i & 0x0f)]);
        }
    }
    out.freeze()
}

/// `POST /v1/audio/speech`: the whole answer at once (for the tests' fake upstream).
pub fn speech(request: &Value) -> Result<Bytes, String> {
    Ok(render_speech(speech_input(request)?.chars()))
}

/// The same audio as [`speech`], rendered one chunk at a time as it is sent,
/// so an answer never sits in memory whole.
pub fn speech_stream(input: String) -> impl futures_util::Stream<Item = Bytes> + Send + 'static {
    futures_util::stream::unfold(0usize, move |start| {
        let chunk = (start < input.len()).then(|| {
            let rest = &input[start..];
            let end = rest
                .char_indices()
                .nth(SPEECH_CHUNK_CHARS)
                .map_or(rest.len(), |(i, _)| i);
            (render_speech(rest[..end].chars()), start + end)
        });
        std::future::ready(chunk)
    })
}

/// Builds the multipart body the runtime sends for a transcription.
pub fn multipart_body(boundary: &str, model: &str, audio: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(audio.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.ulaw\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(audio);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body.freeze()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A function call the echo will ask for in its next response.
#[derive(Debug, Clone)]
struct PendingCall {
    name: &'static str,
    arguments: Value,
}

/// The realtime echo: speaks the OpenAI realtime event subset and answers a
/// committed turn by sending the same audio back. A user text message that
/// mentions "menu" or "order" makes it call the menu tools instead.
#[derive(Debug, Default)]
pub struct LocalRealtime {
    pending: BytesMut,
    committed: Bytes,
    call: Option<PendingCall>,
    tool_output: Option<String>,
    seq: u64,
}

impl LocalRealtime {
    pub fn new() -> Self {
        Self::default()
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}_{}", self.seq)
    }

    /// Handles one client→server event, returning the server→client events.
    pub fn handle(&mut self, event: &Value) -> Vec<Value> {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "session.update" => vec![json!({
                "type": "session.updated",
                "session": event.get("session").cloned().unwrap_or(Value::Null),
            })],
            "input_audio_buffer.append" => {
                let audio = event.get("audio").and_then(Value::as_str).unwrap_or("");
                match B64.decode(audio) {
                    Ok(bytes) if self.pending.len() + bytes.len() <= LOCAL_AUDIO_CAP => {
                        self.pending.extend_from_slice(&bytes);
                        Vec::new()
                    }
                    Ok(_) => vec![error_event("buffer_full", "input audio buffer is full")],
                    Err(e) => vec![error_event(
                        "invalid_audio",
                        &format!("audio is not base64: {e}"),
                    )],
                }
            }
            "input_audio_buffer.commit" => {
                self.committed = self.pending.split().freeze();
                let item = self.next_id("item");
                vec![json!({"type": "input_audio_buffer.committed", "item_id": item})]
            }
            "input_audio_buffer.clear" => {
                self.pending.clear();
                vec![json!({"type": "input_audio_buffer.cleared"})]
            }
            "conversation.item.create" => self.item_created(event),
            "response.create" => self.respond(),
            "response.cancel" => vec![json!({"type": "response.cancelled"})],
            other => vec![error_event(
                "unknown_event",
                &format!("unsupported event type {other:?}"),
            )],
        }
    }

    fn item_created(&mut self, event: &Value) -> Vec<Value> {
        let item = event.get("item").cloned().unwrap_or(Value::Null);
        match item.get("type").and_then(Value::as_str) {
            Some("function_call_output") => {
                self.tool_output = item
                    .get("output")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            Some("message") => {
                let text = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase();
                if text.contains("order") {
                    self.call = Some(PendingCall {
                        name: "add_to_order",
                        arguments: json!({"item_id": "burger", "quantity": 2}),
                    });
                } else if text.contains("menu") {
                    self.call = Some(PendingCall {
                        name: "get_menu",
                        arguments: json!({}),
                    });
                }
            }
            other => tracing::trace!(item_type = ?other, "item recorded without action"),
        }
        let id = self.next_id("item");
        vec![json!({"type": "conversation.item.created", "item": {"id": id}})]
    }

    fn respond(&mut self) -> Vec<Value> {
        let response_id = self.next_id("resp");
        let mut out = vec![json!({"type": "response.created", "response": {"id": response_id}})];
        if let Some(call) = self.call.take() {
            let call_id = self.next_id("call");
            out.push(json!({
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "call_id": call_id,
                "name": call.name,
                "arguments": call.arguments.to_string(),
            }));
        } else if let Some(output) = self.tool_output.take() {
            out.push(json!({
                "type": "response.output_text.done",
                "response_id": response_id,
                "text": format!("Tool said: {output}"),
            }));
        } else {
            let audio = std::mem::take(&mut self.committed);
            for chunk in audio.chunks(DELTA_CHUNK) {
                out.push(json!({
                    "type": "response.audio.delta",
                    "response_id": response_id,
                    "delta": B64.encode(chunk),
                }));
            }
            out.push(json!({"type": "response.audio.done", "response_id": response_id}));
        }
        out.push(json!({"type": "response.done", "response": {"id": response_id, "status": "completed"}}));
        out
    }
}

/// An OpenAI-realtime style error event.
pub fn error_event(code: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": "invalid_request_error", "code": code, "message": message}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_returns_committed_audio() {
        let mut rt = LocalRealtime::new();
        let audio = vec![7u8; 6000];
        assert!(
            rt.handle(&json!({"type": "input_audio_buffer.append", "audio": B64.encode(&audio)}))
                .is_empty()
        );
        rt.handle(&json!({"type": "input_audio_buffer.commit"}));
        let out = rt.handle(&json!({"type": "response.create"}));
        let echoed: Vec<u8> = out
            .iter()
            .filter(|e| e["type"] == "response.audio.delta")
            .flat_map(|e| B64.decode(e["delta"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(echoed, audio);
        assert_eq!(out.last().unwrap()["type"], "response.done");
    }

    #[test]
    fn multipart_roundtrip() {
        let body = multipart_body("XyZ", "whisper-1", b"\x00\x01audio\r\n");
        let file = multipart_file("multipart/form-data; boundary=XyZ", &body);
        assert_eq!(file, Some(&b"\x00\x01audio\r\n"[..]));
    }

    #[test]
    fn chat_and_speech_are_deterministic() {
        let reply = chat(&json!({"messages": [{"role": "user", "content": "hi"}]})).unwrap();
        assert_eq!(reply["choices"][0]["message"]["content"], "You said: hi");
        assert_eq!(speech(&json!({"input": "ab"})).unwrap().len(), 160);
        assert!(speech(&json!({})).is_err());
    }

    #[tokio::test]
    async fn streamed_speech_matches_the_whole_answer() {
        use futures_util::StreamExt as _;
        let input = "é".repeat(SPEECH_CHUNK_CHARS * 2 + 7);
        let whole = speech(&json!({ "input": input })).unwrap();
        let chunks: Vec<Bytes> = speech_stream(input).collect().await;
        assert_eq!(chunks.len(), 3);
        assert!(
            chunks
                .iter()
                .all(|c| c.len() <= SPEECH_CHUNK_CHARS * SPEECH_BYTES_PER_CHAR)
        );
        assert_eq!(chunks.concat(), whole.to_vec());
    }
}
