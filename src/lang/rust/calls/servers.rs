//! Servers and shutdown: `axum::serve` (graceful when `.with_graceful_shutdown(..)` is chained
//! on it) and the signals a process listens for.

use std::ops::Range;

use syn::spanned::Spanned;

use super::super::Walker;
use super::super::spans::{Ranged, span_range};
use super::super::syntax::builder_chain;
use super::last_segment;
use crate::facts::*;

impl Walker {
    /// `axum::serve(…)` starts a server; `SignalKind::terminate()`, `ctrl_c()` listen for signals.
    pub(super) fn server_call(&mut self, c: &syn::ExprCall, full: &str, span: &Range<usize>) {
        if full == "axum::serve"
            || (full == "serve"
                && self
                    .uses
                    .get("serve")
                    .is_some_and(|u| u.starts_with("axum")))
        {
            let idx = self.event(
                EventKind::ServerStart {
                    api: "axum::serve".into(),
                    graceful: false,
                },
                span.clone(),
            );
            // Where `.with_graceful_shutdown(…)` would be chained: after the call.
            self.facts.events[idx].hint = Some(Box::new(FixSite::Call {
                call: span_range(c.span()),
            }));
        }
        if full.ends_with("SignalKind::terminate") {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGTERM".into(),
                },
                span.clone(),
            );
        }
        if last_segment(full) == "ctrl_c" {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGINT".into(),
                },
                span.clone(),
            );
        }
    }

    /// `axum::serve(…).with_graceful_shutdown(…)`: the server started at the chain's root is
    /// graceful.
    pub(super) fn graceful_method(&mut self, m: &syn::ExprMethodCall, method: &str) {
        if method == "with_graceful_shutdown"
            && let Some((root, _)) = builder_chain(m)
        {
            let start = root.range().start;
            for e in self.facts.events.iter_mut().rev() {
                if let EventKind::ServerStart { graceful, .. } = &mut e.kind
                    && e.span.start == start
                {
                    *graceful = true;
                    break;
                }
            }
        }
    }
}
