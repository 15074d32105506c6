//! Helpers by name: which named functions run something, directly or through the named
//! functions they call — `finish()` → `cleanup()` → `clearTimeout(t)`, `connect()` →
//! `this.disposeSocket()` → `this.socket.close()`. Calls are matched by name
//! ([`Event::called_name`]), as a file's own helpers are written.

use super::{Event, FileFacts, ScopeId};

impl Event {
    /// The name a call names when it is a plain function or a method of `this`
    /// (`cleanup()`, `this.disposeSocket()`): how helpers are matched to their definitions.
    pub fn called_name(&self) -> Option<&str> {
        match &self.kind {
            super::EventKind::Call {
                callee: super::PlaceRef::Name { name, .. } | super::PlaceRef::Field { name, .. },
            } => Some(name.as_str()),
            _ => None,
        }
    }
}

impl FileFacts {
    /// `seeds`, and to a fixpoint (`rounds` calls deep) the names `names_of` gives for the
    /// scope of every call of a name already found: the helpers through which something runs.
    pub fn helpers_reaching<'a>(
        &'a self,
        seeds: impl IntoIterator<Item = &'a str>,
        names_of: impl Fn(ScopeId) -> Vec<&'a str>,
        rounds: usize,
    ) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for n in seeds {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for _ in 0..rounds {
            let more: Vec<&'a str> = self
                .events
                .iter()
                .filter(|c| c.called_name().is_some_and(|n| names.contains(&n)))
                .flat_map(|c| names_of(c.scope))
                .collect();
            let before = names.len();
            for n in more {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            if names.len() == before {
                break;
            }
        }
        names
    }

    /// The calls of method `name` of `class` through `this` (or a `self` alias): `this.name()`,
    /// and, with `passed`, the method handed on as a callback (`setTimeout(this.name, ms)`).
    pub fn method_calls<'a>(
        &'a self,
        class: super::ClassId,
        name: &'a str,
        passed: bool,
    ) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |c| {
            let p = match &c.kind {
                super::EventKind::Call { callee } => callee,
                super::EventKind::PassedAsCallback { func, .. } if passed => func,
                _ => return false,
            };
            // Only a `this.name`/`alias.name` written with that name resolves to the field:
            // compared before the (costlier) resolution.
            p.surface_name() == Some(name)
                && matches!(self.resolve(p), super::Place::Field { class: k, name: n } if k == class && n == name)
        })
    }

    /// The scope of method `name` of `class`.
    pub fn method_named(&self, class: super::ClassId, name: &str) -> Option<ScopeId> {
        self.scopes.iter().position(|sc| {
            sc.class == Some(class)
                && matches!(sc.kind, super::ScopeKind::Method { .. })
                && sc.name.as_deref() == Some(name)
        })
    }
}

impl super::PlaceRef {
    /// The name the place is written with: an identifier's, or a member's (`this.name`,
    /// `base.name`). A place resolves to a binding or field of that name only.
    pub fn surface_name(&self) -> Option<&str> {
        match self {
            super::PlaceRef::Name { name, .. }
            | super::PlaceRef::Field { name, .. }
            | super::PlaceRef::Member { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl super::CallbackKind {
    /// The callback runs once per event, request, tick or item (not once with its registrar).
    pub fn repeats(self) -> bool {
        matches!(
            self,
            super::CallbackKind::EventHandler
                | super::CallbackKind::Route
                | super::CallbackKind::Interval
                | super::CallbackKind::Iteration
        )
    }
}
