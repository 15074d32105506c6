//! Task loops that spin once their channel closes: an endless `loop` whose turn receives from a
//! channel (`rx.recv().await`, `rx.recv_async().await`, `stream.next().await`, a blocking
//! `rx.recv()`) and handles the closed case without leaving the loop — `Err(e) => warn!(..)`,
//! `None => {}`, `if let Some(m) = rx.recv().await { .. }` without `else`. Once every sender is
//! dropped the receive returns at once on every turn, so the task burns a core for the life of
//! the runtime with everything it holds (volo's load balancer before 0.11). The loop state
//! keeps where a `break` would go; the spawn's shape turns it into a finding.

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Pat};

use super::Walker;
use super::spans::{Ranged, span_range};
use super::syntax::{compact, flat_tokens};
use crate::facts::{ClosedExit, FixSite};

impl Walker {
    /// `match <receive> { .. }` in a loop: no closed arm leaves it.
    pub(super) fn closed_recv_match(&mut self, m: &syn::ExprMatch) {
        let Some(recv) = receive(&m.expr) else { return };
        if self.loops.is_empty() {
            return;
        }
        let closed: Vec<&syn::Arm> = m.arms.iter().filter(|a| is_closed_pat(&a.pat)).collect();
        let Some(first) = closed.first() else { return };
        if closed.iter().any(|a| leaves(&a.body)) {
            return;
        }
        let is_err = matches!(&first.pat, Pat::TupleStruct(t)
                if t.path.segments.last().is_some_and(|s| s.ident == "Err"));
        let broadcast = match &*recv.receiver {
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|n| self.broadcast_rx.contains(&n.to_string())),
            _ => false,
        };
        let site = if is_err && !broadcast && self.names_broadcast {
            // Perhaps a broadcast receiver, whose `Err` may be a lag: no fix can tell.
            FixSite::ClosedRecv {
                at: first.body.range(),
                exit: ClosedExit::Unsure,
            }
        } else if is_err && broadcast {
            FixSite::ClosedRecv {
                at: span_range(first.pat.span()).start..first.body.range().end,
                exit: ClosedExit::BroadcastArm,
            }
        } else {
            FixSite::ClosedRecv {
                at: first.body.range(),
                exit: ClosedExit::Arm,
            }
        };
        self.note_spin(site);
    }

    /// `if let Some(m) = <receive> { .. }` in a loop, with no `else` or one that stays.
    pub(super) fn closed_recv_if(&mut self, i: &syn::ExprIf) {
        let Expr::Let(l) = &*i.cond else { return };
        if self.loops.is_empty() || receive(&l.expr).is_none() || is_closed_pat(&l.pat) {
            return;
        }
        match &i.else_branch {
            None => self.note_spin(FixSite::ClosedRecv {
                at: span_range(i.then_branch.span()),
                exit: ClosedExit::NoElse,
            }),
            Some((_, e)) if !leaves(e) => {
                if let Expr::Block(b) = &**e {
                    self.note_spin(FixSite::ClosedRecv {
                        at: b.range(),
                        exit: ClosedExit::Arm,
                    });
                }
            }
            _ => {}
        }
    }

    /// Remembers which names are broadcast receivers, whose `Err` may be a lag: a parameter
    /// typed `broadcast::Receiver<..>` (`ty`), a local from `tx.subscribe()` (`init`). Any other
    /// binding of the name forgets it.
    pub(super) fn note_receiver(
        &mut self,
        name: &str,
        ty: Option<&syn::Type>,
        init: Option<&Expr>,
    ) {
        let broadcast = ty.is_some_and(|t| compact(t).contains("broadcast::Receiver"))
            || init.is_some_and(
                |e| matches!(e, Expr::MethodCall(m) if m.method == "subscribe" && m.args.is_empty()),
            );
        if broadcast {
            self.broadcast_rx.insert(name.to_string());
        } else {
            self.broadcast_rx.remove(name);
        }
    }

    fn note_spin(&mut self, site: FixSite) {
        if let Some(l) = self.loops.last_mut()
            && l.spin.is_none()
        {
            l.spin = Some(site);
        }
    }
}

/// A receive from a channel or stream — `x.recv()` (blocking or awaited),
/// `x.recv_async().await`, `x.next().await` — as its method call.
fn receive(e: &Expr) -> Option<&syn::ExprMethodCall> {
    let (inner, awaited) = match e {
        Expr::Await(a) => (&*a.base, true),
        other => (other, false),
    };
    let Expr::MethodCall(m) = inner else {
        return None;
    };
    let receives = match m.method.to_string().as_str() {
        "recv" => true,
        "recv_async" | "next" => awaited,
        _ => false,
    };
    (receives && m.args.is_empty()).then_some(m)
}

/// A pattern for the closed case: `Err(..)`, `None`, `_`.
fn is_closed_pat(p: &Pat) -> bool {
    match p {
        Pat::Wild(_) => true,
        Pat::Ident(i) => i.ident == "None" && i.subpat.is_none(),
        Pat::Path(p) => p.path.is_ident("None"),
        Pat::TupleStruct(t) => t.path.segments.last().is_some_and(|s| s.ident == "Err"),
        Pat::Or(o) => o.cases.iter().any(is_closed_pat),
        _ => false,
    }
}

/// The expression leaves the loop or the task on some path: `break`, `return`, `?`, a panic,
/// `process::exit`. Closures and async blocks inside are not the loop's.
fn leaves(e: &Expr) -> bool {
    struct Leaves(bool);
    impl<'a> Visit<'a> for Leaves {
        fn visit_expr(&mut self, e: &'a Expr) {
            match e {
                Expr::Break(_) | Expr::Return(_) | Expr::Try(_) => self.0 = true,
                Expr::Closure(_) | Expr::Async(_) => {}
                Expr::Call(c)
                    if matches!(&*c.func, Expr::Path(p)
                        if p.path.segments.last().is_some_and(|s| s.ident == "exit")) =>
                {
                    self.0 = true;
                }
                _ => visit::visit_expr(self, e),
            }
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            let name = m.path.segments.last().map(|s| s.ident.to_string());
            if matches!(
                name.as_deref(),
                Some("panic" | "unreachable" | "todo" | "unimplemented")
            ) {
                self.0 = true;
            }
            // `select!`/`if_chain!` bodies are tokens: a `break` or `return` among them counts.
            if flat_tokens(m.tokens.clone())
                .iter()
                .any(|t| t == "break" || t == "return")
            {
                self.0 = true;
            }
        }
    }
    let mut v = Leaves(false);
    v.visit_expr(e);
    v.0
}
