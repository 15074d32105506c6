//! Servers: what creates one (`express()`, `http.createServer(..)`, a `WebSocketServer` on its
//! own port) and `server.listen(..)` — the starts a graceful shutdown must stop.

use tree_sitter::Node;

use super::super::text::{head_span, truncate};
use super::super::walk::Walker;
use super::CallSite;
use crate::facts::*;

/// An expression that creates a server: `express()`, `http.createServer(..)`, `Fastify()`.
fn is_server_factory(text: &str) -> bool {
    let head = text.split('(').next().unwrap_or("").trim();
    matches!(
        head,
        "express" | "fastify" | "Fastify" | "new Koa" | "new Hapi.Server" | "Hapi.server"
    ) || head.ends_with("createServer")
}

impl<'a> Walker<'a> {
    /// `const app = express()`: remembers `name` as holding a server.
    pub(in crate::lang::ts) fn remember_server(&mut self, name: String, value: Node<'a>) {
        if is_server_factory(self.text(value)) {
            self.servers.push(name);
        }
    }

    /// `app.listen(..)`, `http.createServer(..).listen(..)`.
    pub(super) fn server_listen_call(&mut self, s: &CallSite<'a>, o: Node<'a>) {
        if s.method == "listen"
            && (self.servers.iter().any(|x| x == self.text(o))
                || self.text(o).contains("createServer("))
        {
            self.event(
                EventKind::ServerStart {
                    api: format!("{}.listen", truncate(self.text(o), 40)),
                    graceful: false,
                },
                head_span(s.n),
            );
        }
    }

    /// A WebSocket server that listens on its own port (not attached to an HTTP server).
    pub(super) fn ws_server_construction(
        &mut self,
        n: Node<'a>,
        class: &str,
        last: &str,
        keys: &[String],
    ) {
        if (last == "WebSocketServer" || class == "WebSocket.Server" || class == "ws.Server")
            && keys.iter().any(|k| k == "port")
        {
            self.event(
                EventKind::ServerStart {
                    api: format!("new {class}"),
                    graceful: false,
                },
                head_span(n),
            );
        }
    }
}
