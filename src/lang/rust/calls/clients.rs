//! Clients and connections: client constructors (`reqwest::Client::new`, pools, SDK clients),
//! adapters and connections assigned to a slot, their releases (`close`, `shutdown`, …), and
//! values shared behind `Arc::new` (long-lived).

use std::ops::Range;

use syn::Expr;

use super::super::Walker;
use super::last_segment;
use crate::facts::*;

impl Walker {
    /// Connections and adapters assigned somewhere (duplicate-adapter).
    pub(super) fn adapter_call(&mut self, full: &str, span: &Range<usize>, place: &PlaceRef) {
        let last_seg = last_segment(full);
        let type_seg = full.rsplit("::").nth(1).unwrap_or("");
        let adapterish = [
            "Adapter",
            "Connection",
            "Client",
            "Session",
            "Socket",
            "TcpStream",
            "UnixStream",
            "WebSocketStream",
        ]
        .iter()
        .any(|s| type_seg.ends_with(s));
        if (last_seg == "connect_async"
            || (adapterish && matches!(last_seg, "connect" | "new" | "open")))
            && client_ctor(full).is_none()
        {
            self.event(
                EventKind::New {
                    class: full.to_string(),
                    handle: place.clone(),
                    lazy: self.lazy_init > 0,
                    factory: true,
                },
                span.clone(),
            );
        }
    }

    /// A known client constructor (duplicate-client).
    pub(super) fn client_call(&mut self, full: &str, span: &Range<usize>, place: &PlaceRef) {
        if let Some(class) = client_ctor(full) {
            let lazy = self.lazy_init > 0;
            self.event(
                EventKind::New {
                    class,
                    handle: place.clone(),
                    lazy,
                    factory: true,
                },
                span.clone(),
            );
        }
    }

    /// `conn.close()`, `client.shutdown()`: a release of what the receiver holds.
    pub(super) fn release_method(
        &mut self,
        method: &str,
        recv: &PlaceRef,
        known: bool,
        head: &Range<usize>,
    ) {
        if known
            && matches!(
                method,
                "close"
                    | "shutdown"
                    | "abort"
                    | "cancel"
                    | "disconnect"
                    | "stop"
                    | "terminate"
                    | "kill"
                    | "flush_and_close"
            )
        {
            self.event(
                EventKind::Release {
                    place: recv.clone(),
                    method: method.to_string(),
                },
                head.clone(),
            );
        }
    }

    /// `Arc::new(Hub { .. })`, `Arc::new(Hub::new(..))`: a shared, long-lived value.
    pub(super) fn shared_value_call(&mut self, c: &syn::ExprCall, full: &str) {
        if (full == "Arc::new" || full == "std::sync::Arc::new" || full == "Rc::new")
            && let Some(arg) = c.args.first()
        {
            let name = match arg {
                Expr::Struct(s) => s.path.segments.last().map(|s| s.ident.to_string()),
                Expr::Call(inner) => match &*inner.func {
                    Expr::Path(p) if p.path.segments.len() >= 2 => p
                        .path
                        .segments
                        .iter()
                        .rev()
                        .nth(1)
                        .map(|s| s.ident.to_string()),
                    _ => None,
                },
                _ => None,
            };
            if let Some(mut n) = name {
                if n == "Self"
                    && let Some(c) = self.class
                {
                    n = self.facts.classes[c].name.clone().unwrap_or_default();
                }
                self.facts.long_lived_types.push(n);
            }
        }
    }
}

/// The kind of client a constructor path builds, canonically named.
fn client_ctor(full: &str) -> Option<String> {
    let norm = full.trim_start_matches("::");
    Some(
        match norm {
            "reqwest::Client::new" | "reqwest::Client::builder" => "reqwest::Client",
            "reqwest::blocking::Client::new" | "reqwest::blocking::Client::builder" => {
                "reqwest::blocking::Client"
            }
            // reqwest 0.9's async client (`reqwest::r#async`, `reqwest::async` in Rust 2015).
            "reqwest::async::Client::new" | "reqwest::async::Client::builder" => {
                "reqwest::async::Client"
            }
            "hyper_util::client::legacy::Client::builder" => "hyper_util::Client",
            "redis::Client::open" => "redis::Client",
            "async_openai::Client::new" | "async_openai::Client::with_config" => {
                "async_openai::Client"
            }
            "mongodb::Client::with_uri_str" | "mongodb::Client::with_options" => "mongodb::Client",
            "sqlx::PgPool::connect"
            | "sqlx::PgPool::connect_with"
            | "sqlx::Pool::connect"
            | "sqlx::postgres::PgPool::connect"
            | "sqlx::MySqlPool::connect"
            | "sqlx::SqlitePool::connect" => "sqlx::Pool",
            "tonic::transport::Channel::from_static"
            | "tonic::transport::Endpoint::from_static" => "tonic::Channel",
            other => {
                // AWS SDK: `aws_sdk_s3::Client::new(&config)` / `from_conf`.
                if other.starts_with("aws_sdk_")
                    && (other.ends_with("::Client::new") || other.ends_with("::Client::from_conf"))
                {
                    return Some(
                        other
                            .trim_end_matches("::new")
                            .trim_end_matches("::from_conf")
                            .to_string(),
                    );
                }
                return None;
            }
        }
        .to_string(),
    )
}
