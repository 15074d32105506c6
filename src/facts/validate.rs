//! Checking facts that come from outside this run (a cache entry, which anyone who can write the
//! cache folder can forge with a recomputed checksum): every index in range, every span inside
//! the file, scopes nested only outwards. Facts that fail are not used; the rules can then
//! index what they are given without checking.

use std::ops::Range;

use super::*;

/// The sizes indices and spans must stay within.
struct Limits {
    len: usize,
    scopes: usize,
    classes: usize,
}

impl Limits {
    fn range(&self, r: &Range<usize>) -> bool {
        r.start <= r.end && r.end <= self.len
    }

    fn scope(&self, s: ScopeId) -> bool {
        s < self.scopes
    }

    fn class(&self, c: ClassId) -> bool {
        c < self.classes
    }

    fn place_ref(&self, p: &PlaceRef, depth: usize) -> bool {
        match p {
            _ if depth > 64 => false,
            PlaceRef::Name { scope, .. } => self.scope(*scope),
            PlaceRef::Field { class, .. } => self.class(*class),
            PlaceRef::This { class } => class.is_none_or(|c| self.class(c)),
            PlaceRef::Member { base, .. } => self.place_ref(base, depth + 1),
            PlaceRef::Returned(s) => self.scope(*s),
            PlaceRef::Argument | PlaceRef::Discarded | PlaceRef::Unknown => true,
        }
    }

    fn handler(&self, h: &Handler) -> bool {
        match h {
            Handler::Named(p) => self.place_ref(p, 0),
            Handler::Inline(s) => self.scope(*s),
            Handler::Bound | Handler::Other => true,
        }
    }

    fn registrar(&self, r: &Registrar) -> bool {
        r.target.as_ref().is_none_or(|t| self.place_ref(t, 0))
    }

    fn event(&self, e: &Event) -> bool {
        self.scope(e.scope)
            && self.range(&e.span)
            && self.range(&e.stmt)
            && e.loop_span.as_ref().is_none_or(|r| self.range(r))
            && e.hint.as_deref().is_none_or(|h| self.fix_site(h))
            && self.kind(&e.kind)
    }

    fn fix_site(&self, h: &FixSite) -> bool {
        match h {
            FixSite::Call { call } => self.range(call),
            FixSite::Tick { stmt } => self.range(stmt),
            FixSite::ErrArm { body, braces, .. } => {
                self.range(body) && braces.as_ref().is_none_or(|b| self.range(b))
            }
            FixSite::Assign { assign } => self.range(assign),
            FixSite::ClosedRecv { at, .. } => self.range(at),
        }
    }

    fn kind(&self, k: &EventKind) -> bool {
        let p = |p: &PlaceRef| self.place_ref(p, 0);
        match k {
            EventKind::Timer(t) => {
                let TimerFacts {
                    handle,
                    reschedules,
                    deadline,
                    callback,
                    ..
                } = &**t;
                p(handle)
                    && reschedules.is_none_or(|s| self.scope(s))
                    && callback.is_none_or(|s| self.scope(s))
                    && deadline.as_ref().is_none_or(|d| {
                        d.promise.as_ref().is_none_or(p)
                            && [&d.race_call, &d.executor].iter().all(|r| {
                                r.as_ref()
                                    .is_none_or(|(a, b)| self.range(a) && self.range(b))
                            })
                    })
            }
            EventKind::StuckTask { handle, .. } => p(handle),
            EventKind::NeverEndingTask(t) => p(&t.handle),
            EventKind::Listen(l) => {
                let ListenFacts {
                    target,
                    handler,
                    handler_span,
                    signal,
                    ..
                } = &**l;
                p(target)
                    && self.handler(handler)
                    && handler_span.as_ref().is_none_or(|r| self.range(r))
                    && signal.as_ref().is_none_or(p)
            }
            EventKind::Unlisten(u) => p(&u.target) && self.handler(&u.handler),
            EventKind::Flow { from, to } | EventKind::Pipe { from, to, .. } => p(from) && p(to),
            EventKind::CacheCtor { at, .. } => at.is_none_or(|a| a <= self.len),
            EventKind::SwallowedError { fix, .. } => {
                fix.as_ref().is_none_or(|f| self.range(&f.range))
            }
            EventKind::Raced { place, call } => p(place) && self.range(call),
            EventKind::PassedAsCallback { func, registrar } => p(func) && self.registrar(registrar),
            EventKind::Construct { args, .. } => args.iter().all(p),
            // Every other kind holds at most its one place.
            other => other.place().is_none_or(p),
        }
    }
}

impl FileFacts {
    /// Whether these facts can describe a file of `len` bytes: see the module docs.
    pub fn is_consistent(&self, len: usize) -> bool {
        let limits = Limits {
            len,
            scopes: self.scopes.len(),
            classes: self.classes.len(),
        };
        let scopes_ok = self.scopes.iter().enumerate().all(|(i, s)| {
            // A parent comes before its child: the scope tree has no cycle.
            s.parent.is_none_or(|p| p < i)
                && s.class.is_none_or(|c| limits.class(c))
                && limits.range(&s.span)
                && s.body.as_ref().is_none_or(|b| limits.range(b))
                && match &s.kind {
                    ScopeKind::Callback(r) => limits.registrar(r),
                    _ => true,
                }
        });
        let bindings_ok = self.bindings.iter().all(|b| {
            limits.scope(b.scope)
                && limits.range(&b.span)
                && match &b.kind {
                    BindingKind::Function(s) => limits.scope(*s),
                    BindingKind::Class(c) => limits.class(*c),
                    _ => true,
                }
        });
        let classes_ok = self.classes.iter().all(|c| {
            limits.scope(c.scope)
                && limits.range(&c.span)
                && limits.range(&c.body)
                && c.fields.iter().all(|f| limits.range(&f.span))
        });
        scopes_ok
            && bindings_ok
            && classes_ok
            && self.events.iter().all(|e| limits.event(e))
            && self.syntax_errors.iter().all(|r| limits.range(r))
            && self.suppression_lookalikes.iter().all(|r| limits.range(r))
            && self
                .path_calls
                .iter()
                .all(|c| limits.scope(c.scope) && limits.range(&c.span))
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::FileFacts;

    fn facts(src: &str) -> FileFacts {
        crate::lang::lower(
            crate::source::Language::TypeScript,
            src,
            std::time::Duration::from_secs(10),
        )
        .unwrap()
    }

    #[test]
    fn real_facts_are_consistent_and_forged_ones_are_not() {
        let src = "class A { t = setInterval(() => this.f(), 5); f() {} }\nconst m = new Map();\n";
        let f = facts(src);
        assert!(f.is_consistent(src.len()));
        assert!(!f.is_consistent(10), "spans past the end");
        let mut forged = f.clone();
        forged.events[0].scope = 9_999;
        assert!(!forged.is_consistent(src.len()));
        let mut forged = f.clone();
        forged.scopes[0].parent = Some(forged.scopes.len() - 1);
        assert!(
            !forged.is_consistent(src.len()),
            "a cycle in the scope tree"
        );
        let mut forged = f;
        forged.bindings[0].scope = usize::MAX;
        assert!(!forged.is_consistent(src.len()));
    }
}
