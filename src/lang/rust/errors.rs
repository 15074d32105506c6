//! Swallowed errors: `Err(_) => {}` arms and empty `if let Err(_) = …` bodies, with where a fix
//! that logs the error would go.

use syn::Expr;
use syn::spanned::Spanned;

use super::Walker;
use super::spans::{Ranged, span_range};
use super::syntax::{is_err_wild, is_unit_body};
use crate::facts::*;

impl Walker {
    /// `Err(_) => {}`: the error is dropped without a trace.
    pub(super) fn swallowed_arm(&mut self, arm: &syn::Arm) {
        if !(is_err_wild(&arm.pat) && is_unit_body(&arm.body)) {
            return;
        }
        let braces = match &*arm.body {
            Expr::Block(b) => Some(
                span_range(b.block.brace_token.span.open()).start
                    ..span_range(b.block.brace_token.span.close()).start,
            ),
            _ => None,
        };
        let site = FixSite::ErrArm {
            body: span_range(arm.body.span()),
            braces,
            logger: self.logger(),
        };
        let idx = self.event(
            EventKind::SwallowedError {
                what: "an `Err(_) => {}` arm".into(),
                fix: None,
                work: None,
            },
            span_range(arm.pat.span()),
        );
        self.facts.events[idx].hint = Some(Box::new(site));
    }

    /// `if let Err(_) = … {}`: the error is dropped without a trace.
    pub(super) fn swallowed_if_let(&mut self, i: &syn::ExprIf) {
        if let Expr::Let(l) = &*i.cond
            && is_err_wild(&l.pat)
            && i.then_branch.stmts.is_empty()
            && i.else_branch.is_none()
        {
            self.event(
                EventKind::SwallowedError {
                    what: "an empty `if let Err(_) = …` body".into(),
                    fix: None,
                    work: None,
                },
                i.range(),
            );
        }
    }

    /// The logger the code here uses: `tracing` or `log` when the file names it (in a path or a
    /// `use` seen so far), else none (standard error).
    fn logger(&self) -> Logger {
        if self.mentions_tracing || self.uses.contains_key("tracing") {
            Logger::Tracing
        } else if self.mentions_log || self.uses.contains_key("log") {
            Logger::Log
        } else {
            Logger::Stderr
        }
    }
}
