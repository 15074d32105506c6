//! The stdio transport: `Content-Length` framed JSON-RPC over stdin/stdout, like
//! `lsp_server::Connection::stdio`, except that a malformed message does not end the session:
//! one that is not JSON, or not a JSON-RPC message, is answered with an error when it carries
//! a request id and is skipped otherwise, and broken framing is resynchronised on the next
//! `Content-Length` header. Nothing but protocol messages is ever written to stdout.

use std::io::{self, BufRead, Read, Write};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Response};

/// The transport's threads.
pub struct IoThreads {
    writer: thread::JoinHandle<io::Result<()>>,
}

impl IoThreads {
    /// Waits until every message sent has been written (the reader is not waited for: stdin
    /// may stay open after `exit`).
    pub fn join(self) -> io::Result<()> {
        self.writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")))
    }
}

/// Messages in flight each way before the sender waits (the reader then stops reading stdin,
/// the server waits for stdout): back-pressure instead of an unbounded backlog.
const IN_FLIGHT: usize = 64;

/// A connection over this process's stdin and stdout.
pub fn stdio() -> io::Result<(Connection, IoThreads)> {
    let (to_client, outgoing) = crossbeam_channel::bounded::<Message>(IN_FLIGHT);
    let (incoming, from_client) = crossbeam_channel::bounded::<Message>(IN_FLIGHT);
    let writer = thread::Builder::new()
        .name("unleak-lsp-writer".into())
        .spawn(move || write_all(outgoing, io::stdout().lock()))?;
    let errors = to_client.clone();
    thread::Builder::new()
        .name("unleak-lsp-reader".into())
        .spawn(move || read_all(io::stdin().lock(), incoming, errors))?;
    Ok((
        Connection {
            sender: to_client,
            receiver: from_client,
        },
        IoThreads { writer },
    ))
}

fn write_all(outgoing: Receiver<Message>, mut out: impl Write) -> io::Result<()> {
    for msg in outgoing {
        msg.write(&mut out)?;
        out.flush()?;
    }
    Ok(())
}

/// Input with bytes pushed back in front of it: what a wrongly framed body swallowed of the
/// messages after it is read again.
struct Resync<R> {
    pending: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: io::Read> io::Read for Resync<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.pending.len() {
            let n = out.len().min(self.pending.len() - self.at);
            out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(out)
    }
}

impl<R: BufRead> BufRead for Resync<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.pending.len() {
            return Ok(&self.pending[self.at..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.pending.len() {
            self.at += n;
        } else {
            self.inner.consume(n);
        }
    }
}

impl<R> Resync<R> {
    /// Reads `bytes` again before the rest of the input.
    fn push_back(&mut self, bytes: &[u8]) {
        let mut pending = bytes.to_vec();
        pending.extend_from_slice(&self.pending[self.at..]);
        self.pending = pending;
        self.at = 0;
    }
}

/// Where a header starts inside a body that is not a message (its `Content-Length` was wrong).
fn header_inside(body: &[u8]) -> Option<usize> {
    body.windows(15)
        .skip(1)
        .position(|w| w.eq_ignore_ascii_case(b"content-length:"))
        .map(|i| i + 1)
}

/// Reads messages until end of input or `exit`; malformed ones are answered or skipped, and
/// the framing is resynchronised on the next `Content-Length` header.
pub fn read_all(input: impl BufRead, incoming: Sender<Message>, errors: Sender<Message>) {
    let mut input = Resync {
        pending: Vec::new(),
        at: 0,
        inner: input,
    };
    loop {
        let body = match read_frame(&mut input) {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                eprintln!("unleak lsp: skipping a malformed message: {e}");
                continue;
            }
            Err(e) => {
                eprintln!("unleak lsp: cannot read from the client: {e}");
                return;
            }
        };
        match serde_json::from_slice::<Message>(&body) {
            Ok(msg) => {
                let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
                if incoming.send(msg).is_err() || exit {
                    return;
                }
            }
            Err(e) => {
                // A body that runs into the next message: read that message again.
                if let Some(at) = header_inside(&body) {
                    eprintln!(
                        "unleak lsp: skipping a message whose Content-Length was wrong: {}",
                        shorten(&String::from_utf8_lossy(&body[..at]))
                    );
                    input.push_back(&body[at..]);
                    continue;
                }
                let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                let id = value.as_ref().and_then(|v| v.get("id")).and_then(|id| {
                    serde_json::from_value::<lsp_server::RequestId>(id.clone()).ok()
                });
                eprintln!(
                    "unleak lsp: ignoring a message that is not valid JSON-RPC: {}",
                    shorten(&e.to_string())
                );
                if let Some(id) = id {
                    let (code, what) = if value.is_some() {
                        (ErrorCode::InvalidRequest, "not a valid JSON-RPC request")
                    } else {
                        (ErrorCode::ParseError, "not valid JSON")
                    };
                    let _ = errors.send(Message::Response(Response::new_err(
                        id,
                        code as i32,
                        format!("{what}: {e}"),
                    )));
                }
            }
        }
    }
}

/// The longest header line kept: a longer one (garbage, or a body sent without its header) is
/// read through without being stored, keeping only its tail, where a header that follows the
/// garbage on the same line would be.
const MAX_LINE: usize = 64 * 1024;

/// The largest message body accepted; a larger `Content-Length` is refused (and its body read
/// through as garbage until the next header), never allocated.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One line (through its `\n`), at most [`MAX_LINE`] bytes of it kept (the last ones);
/// `None` at end of input.
fn read_line_capped(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(line));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        line.extend_from_slice(chunk);
        if line.len() > MAX_LINE {
            line.drain(..line.len() - MAX_LINE);
        }
        let n = chunk.len();
        input.consume(n);
        if done {
            return Ok(Some(line));
        }
    }
}

/// `text` shortened for a log line.
fn shorten(text: &str) -> String {
    const KEEP: usize = 80;
    if text.chars().count() <= KEEP {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(KEEP).collect();
    format!("{head:?}… ({} bytes)", text.len())
}

/// One framed message body; `Ok(None)` at end of input; `InvalidData` for a frame that is
/// broken. Broken framing — a `Content-Length` that is wrong, negative or missing, a body with
/// no header, garbage — is resynchronised on the next `Content-Length:` header, also one that
/// follows garbage on the same line (a body cut short runs into the next header).
fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut length: Option<usize> = None;
    let mut saw_header = false;
    let mut skipped: Option<String> = None;
    loop {
        let Some(line) = read_line_capped(input)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&line);
        let mut text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // stray blank lines between messages
        }
        // Resynchronise on a header that follows garbage on the same line.
        let lower = text.to_ascii_lowercase();
        if let Some(at) = lower.find("content-length:").filter(|&at| at > 0) {
            skipped.get_or_insert_with(|| shorten(&text[..at]));
            text = &text[at..];
            length = None;
        }
        let header = text.split_once(':').filter(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        let Some((name, value)) = header else {
            skipped.get_or_insert_with(|| shorten(text));
            saw_header = false;
            length = None;
            continue;
        };
        saw_header = true;
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok();
            if length.is_none() {
                skipped.get_or_insert_with(|| shorten(text));
            }
        }
    }
    if let Some(what) = skipped {
        eprintln!("unleak lsp: skipped input that is not a message: {what}");
    }
    let Some(length) = length else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a message without a valid Content-Length",
        ));
    };
    if length > MAX_BODY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message of {length} bytes is larger than {MAX_BODY}; refused"),
        ));
    }
    // At most `length` bytes: input that ends sooner gives a short body (scanned for the next
    // header like any broken one), not an error that would end the session.
    let mut body = Vec::with_capacity(length.min(1 << 20));
    input.by_ref().take(length as u64).read_to_end(&mut body)?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn malformed_messages_are_skipped_or_answered() {
        let input = [
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{}}"#),
            frame("{not json"),
            "garbage line\r\n\r\n".to_string(),
            frame(r#"{"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1}}"#),
            frame(r#"{"jsonrpc":"2.0","id":2,"nomethod":true}"#),
            frame(r#"{"jsonrpc":"2.0","method":"exit"}"#),
            frame(r#"{"jsonrpc":"2.0","id":3,"method":"after-exit"}"#),
        ]
        .concat();
        let (in_tx, in_rx) = crossbeam_channel::bounded(16);
        let (err_tx, err_rx) = crossbeam_channel::bounded(16);
        read_all(io::Cursor::new(input.into_bytes()), in_tx, err_tx);
        let got: Vec<String> = in_rx
            .try_iter()
            .map(|m| match m {
                Message::Request(r) => r.method,
                Message::Notification(n) => n.method,
                Message::Response(r) => format!("response {}", r.id),
            })
            .collect();
        assert_eq!(got[0], "a");
        assert_eq!(got.last().map(String::as_str), Some("exit"));
        assert!(!got.iter().any(|m| m == "after-exit"));
        let errors: Vec<Response> = err_rx
            .try_iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some(r),
                _ => None,
            })
            .collect();
        assert!(
            errors.iter().any(|r| r.id == 2.into()
                && r.response_result
                    .as_ref()
                    .is_err_and(|e| e.code == ErrorCode::InvalidRequest as i32)),
            "{errors:?}"
        );
    }

    /// Every way a frame can be wrong, each followed by a request that must still arrive.
    #[test]
    fn broken_framing_is_resynchronised_on_the_next_header() {
        let req = |id: u32| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m{id}"}}"#);
        let r1 = req(1);
        let input = [
            // Shorter than the body: the rest runs into the next header.
            format!("Content-Length: {}\r\n\r\n{r1}", r1.len() - 5),
            frame(&req(2)),
            // Negative, then missing.
            format!("Content-Length: -1\r\n\r\n{}", req(3)),
            frame(&req(4)),
            format!("Content-Type: x\r\n\r\n{}", req(5)),
            frame(&req(6)),
            // Longer than the body: it swallows the start of the next message.
            format!("Content-Length: {}\r\n\r\n{}", req(7).len() + 30, req(7)),
            frame(&req(8)),
            frame(&req(9)),
            // Absurdly long, and a megabyte of garbage with no line break.
            format!("Content-Length: 99999999999\r\n\r\n{}", "x".repeat(1 << 20)),
            frame(&req(10)),
            frame(r#"{"jsonrpc":"2.0","id":11,"method":"shutdown"}"#),
        ]
        .concat();
        let (in_tx, in_rx) = crossbeam_channel::unbounded();
        let (err_tx, _err_rx) = crossbeam_channel::unbounded();
        read_all(io::Cursor::new(input.into_bytes()), in_tx, err_tx);
        let got: Vec<String> = in_rx
            .try_iter()
            .filter_map(|m| match m {
                Message::Request(r) => Some(r.method),
                _ => None,
            })
            .collect();
        for expected in ["m2", "m4", "m6", "m9", "m10", "shutdown"] {
            assert!(
                got.iter().any(|m| m == expected),
                "{expected} lost: {got:?}"
            );
        }
    }
}
