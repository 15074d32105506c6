//! duplicate-client, the re-selection half (TypeScript/JavaScript): a method that runs
//! repeatedly (from a per-event handler, a loop, or such a method) stores a new connection in
//! a field, `this.subscriber = new Redis(…)`, without closing the one the field held. Every
//! run leaves the previous connection open and unreachable.
//!
//! The class constructed is a resource when its summary says so: a project class (imported
//! from a relative module, or declared in the file) with a method that ends an instance's life
//! (`disconnect`, `close`, `destroy`, `quit`). A class whose name already says it is a
//! connection (`…Connection`, `…Client`, `…Socket`) is duplicate-adapter's finding; this half
//! covers what only the summary shows (`new redis_1.default(…)`, `new Broker(…)`). How often the method runs comes from the
//! summaries (`this.m()` callers in the class). Not reported: a release of the same field
//! earlier in the method (`this.subscriber.disconnect()` before the assignment), a lazy
//! assignment (`??=`, `if (!this.x)`), a method that runs once per instance, and a method
//! called only from a close or error handler on that same field (the old instance has ended:
//! `this.adapter.on('close', () => this.reconnect())`).

use super::*;
use crate::facts::{BindingKind, Event};
use crate::summaries::{ClassSummary, ProjectSummaries};

/// `(event, message, help)` for each field of `file` overwritten with a new resource per run.
pub(super) fn check<'f>(
    ctx: &ProjectCtx,
    file: &ProjectFile,
    facts: &'f FileFacts,
) -> Vec<(&'f Event, String, String)> {
    let mut out = Vec::new();
    if facts.is_rust || file.is_test {
        return out;
    }
    let summaries = ctx.summaries();
    {
        for e in &facts.events {
            let EventKind::New {
                class,
                handle:
                    PlaceRef::Field {
                        class: owner_class,
                        name: field,
                    },
                lazy: false,
                factory,
            } = &e.kind
            else {
                continue;
            };
            // A name that says "connection" is duplicate-adapter's finding (one leak, one
            // finding); this half judges what only the class's summary shows.
            if super::duplicate_adapter::disposable(class, *factory).is_some() {
                continue;
            }
            let method = named_owner(facts, e.scope);
            let ms = &facts.scopes[method];
            if !matches!(
                ms.kind,
                ScopeKind::Method {
                    constructor: false,
                    ..
                }
            ) || ms.class != Some(*owner_class)
            {
                continue;
            }
            // The assignment runs directly in the method (not in a callback of it).
            if e.scope != method || e.in_loop {
                continue;
            }
            let Some(resource) = resource_class(summaries, file, facts, e, class) else {
                continue;
            };
            let rhythm = summaries
                .frequency(&file.path, method)
                .unwrap_or(Lifetime::PerCall);
            if rhythm != Lifetime::Repeated {
                continue;
            }
            // Re-created from the old instance's own close/error handler: it is gone already.
            if called_only_after_its_end(facts, method, *owner_class, field) {
                continue;
            }
            let this_field = super::member("this", field);
            if ms
                .early_return_guards
                .iter()
                .any(|g| crate::facts::mentions(g, &this_field))
            {
                continue;
            }
            // Released (any life-ending call) earlier in the method, or the old value moved
            // to somewhere that is released.
            let place = Place::Field {
                class: *owner_class,
                name: field.clone(),
            };
            let released_before = facts.events_on(&place).any(|r| {
                matches!(r.kind, EventKind::Release { .. })
                    && facts.is_within(r.scope, method)
                    && r.span.start < e.span.start
            });
            if released_before {
                continue;
            }
            let cname = facts.classes[*owner_class]
                .name
                .as_deref()
                .unwrap_or("the class");
            let ender = resource.life_enders.first().map_or("close", |s| &**s);
            let message = format!(
                "`{this_field}` gets a new `{}` every time {} runs (repeatedly, from \
                 per-event code of `{cname}`), and nothing calls `{ender}()` on the one it held \
                 first: each run leaves the previous connection open and unreachable",
                resource.name,
                describe_scope(facts, method),
            );
            let help = format!(
                "call `{this_field}.{ender}()` (if set) before assigning the new one, or reuse \
                 the existing instance"
            );
            out.push((e, message, help));
        }
    }
    out
}

/// The summary of the class `new <class>(…)` builds, when it is a project class whose
/// instances must be let go (it has a life-ending method).
fn resource_class<'s>(
    summaries: &'s ProjectSummaries,
    file: &ProjectFile,
    facts: &FileFacts,
    e: &Event,
    class: &str,
) -> Option<&'s ClassSummary> {
    let (head, last) = match class.rsplit_once('.') {
        Some((h, l)) => (h, l),
        None => (class, class),
    };
    let found = match facts.lookup(head, e.scope).map(|b| &facts.bindings[b].kind) {
        // `new Imported(…)`, `new mod.default(…)`, `new mod.Name(…)`.
        Some(BindingKind::Import { source, imported }) => {
            let name = if head == class {
                imported.as_str()
            } else {
                last
            };
            summaries.imported_class(&file.path, source, name)
        }
        Some(BindingKind::Class(_)) if head == class => summaries
            .file(&file.path)?
            .classes
            .iter()
            .find(|c| &*c.name == class),
        _ => None,
    }?;
    (!found.life_enders.is_empty()).then_some(found)
}

/// Every `this.<method>()` call of the class lies in a close-like or error handler registered
/// on `this.<field>` (the instance being replaced has ended when the method runs), or directly
/// in the constructor (the first opening).
fn called_only_after_its_end(
    facts: &FileFacts,
    method: ScopeId,
    class: crate::facts::ClassId,
    field: &str,
) -> bool {
    let Some(name) = facts.scopes[method].name.as_deref() else {
        return false;
    };
    let me = Place::Field {
        class,
        name: name.to_string(),
    };
    let the_field = Place::Field {
        class,
        name: field.to_string(),
    };
    let mut calls = facts
        .events_on(&me)
        .filter(|e| matches!(e.kind, EventKind::Call { .. }))
        .peekable();
    calls.peek().is_some()
        && calls.all(|c| {
            // The first opening, from the constructor itself, replaces nothing.
            let from_constructor = matches!(
                facts.scopes[c.scope].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            );
            from_constructor
                || facts
                    .ancestors(c.scope)
                    .any(|s| match &facts.scopes[s].kind {
                        ScopeKind::Callback(r) => {
                            r.event
                                .as_deref()
                                .is_some_and(|ev| ev == "error" || crate::facts::is_close_event(ev))
                                && r.target
                                    .as_ref()
                                    .is_some_and(|t| facts.resolve(t) == the_field)
                        }
                        _ => false,
                    })
        })
}
