//! The stdio transport: `Content-Length` framed JSON-RPC over stdin/stdout, like
//! `lsp_server::Connection::stdio`, except that a malformed message does not end the session:
//! one that is not JSON, or not a JSON-RPC message, is answered with an error when it carries
//! a request id and is skipped otherwise, and broken framing is resynchronised on the next
//! `Content-Length` header. Nothing but protocol messages is ever written to stdout.

use std::io::{self, BufRead, Write};
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

/// Reads messages until end of input or `exit`; malformed ones are answered or skipped.
pub fn read_all(mut input: impl BufRead, incoming: Sender<Message>, errors: Sender<Message>) {
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
                let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                let id = value.as_ref().and_then(|v| v.get("id")).and_then(|id| {
                    serde_json::from_value::<lsp_server::RequestId>(id.clone()).ok()
                });
                eprintln!("unleak lsp: ignoring a message that is not valid JSON-RPC: {e}");
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

/// One framed message body; `Ok(None)` at end of input; `InvalidData` for a frame that is
/// broken (its body, if any, is skipped).
fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut length: Option<usize> = None;
    let mut saw_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // stray blank lines between messages
        }
        saw_header = true;
        let Some((name, value)) = text.split_once(':') else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a header: {text:?}"),
            ));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok();
        }
    }
    let Some(length) = length else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a message without a valid Content-Length",
        ));
    };
    // Messages are small; refuse absurd lengths rather than allocate them.
    const MAX: usize = 256 * 1024 * 1024;
    if length > MAX {
        return Err(io::Error::other(format!(
            "a message of {length} bytes is larger than {MAX}"
        )));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
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
}
