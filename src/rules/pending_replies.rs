//! unbounded-collection, per instance: a map of operations waiting for their reply
//! (`this.acks[id] = cb` when a request goes out, `delete this.acks[id]` when its answer comes
//! in) on an object that handles the end of its connection (`onclose()`) without dropping the
//! entries still waiting. Each operation in flight at a disconnect keeps its entry — and the
//! callback's closure — for the life of the instance, which outlives its connections
//! (socket.io-client 4.7.4 kept every pending ack across reconnections; 4.7.5 clears them on
//! disconnect).

use super::*;
use crate::facts::{CallbackKind, ClassId, CollectionKind, Event};

/// The finding for collection `decl` at `place`, or `None` when the shape does not hold.
pub(super) fn pending_replies(
    path: &std::path::Path,
    facts: &FileFacts,
    src: &str,
    decl: &Event,
    kind: CollectionKind,
    place: &Place,
    meta: &'static RuleMeta,
) -> Option<Diagnostic> {
    let Place::Field { class, .. } = place else {
        return None;
    };
    if !matches!(kind, CollectionKind::Map | CollectionKind::Object)
        || per_call_method(facts, decl.scope, *class)
    {
        return None;
    }
    let mut growth = Vec::new();
    let mut removals = Vec::new();
    for e in facts.events_on(place) {
        match &e.kind {
            EventKind::Grow { .. } if per_call_method(facts, e.scope, *class) => {
                // Keyed by an operation's id (`acks[id]`, `reqs.set(req.seq, …)`), not by a
                // name the program chooses (`methods[methodName]`, `subs[channel]`).
                if !keyed_by_id(src.get(e.span.clone()).unwrap_or("")) {
                    return None;
                }
                growth.push(e);
            }
            EventKind::Shrink { .. } => match shrink_kind(src, decl, e) {
                Shrinking::Declaring => {}
                Shrinking::KeyDelete(_) => removals.push(e),
                Shrinking::Reset => return None,
            },
            EventKind::SizeCheck { .. } | EventKind::Escape { .. } => return None,
            EventKind::Collection { .. } if e.span != decl.span => return None,
            _ => {}
        }
    }
    if growth.is_empty() || removals.is_empty() {
        return None;
    }
    // An object that lives through connections: it handles both their opening and their end.
    let end = handler_named(facts, *class, CLOSE_HANDLERS)?;
    handler_named(facts, *class, OPEN_HANDLERS)?;
    // The end of the connection drops the entries, directly or through the methods it calls
    // (`onClose() { this.cancelRequests(err) }`).
    let from_end = reached_methods(facts, *class, end);
    let removing_methods: Vec<ScopeId> = removals
        .iter()
        .filter_map(|r| facts.enclosing_method(r.scope))
        .collect();
    if removing_methods.iter().any(|m| from_end.contains(m)) {
        return None;
    }
    // Every entry has a deadline: the function that adds it then arms a timer whose callback
    // removes it (directly or through a method), with no return in between.
    if growth
        .iter()
        .all(|g| deadline_follows(facts, src, *class, g, &removals, &removing_methods))
    {
        return None;
    }
    let name = place_text(facts, place);
    let end_name = describe_scope(facts, end);
    let mut d = meta
        .report(
            path.to_path_buf(),
            decl.span.clone(),
            format!(
                "entries of `{name}` are added per call and removed only when their reply \
                 arrives, but {end_name} ends the connection without dropping the ones still \
                 waiting: every operation in flight at a disconnect keeps its entry and its \
                 callback for the life of the instance, which outlives its connections"
            ),
        )
        .with_help(format!(
            "in {end_name}, fail the waiting entries (call each callback with an error) and clear \
             `{name}`; or give each entry a deadline that removes it"
        ))
        .with_label(
            facts.scopes[end].span.start..facts.scopes[end].span.start,
            "the connection ends here, and the waiting entries stay",
        );
    for g in &growth {
        d = d.with_label(
            g.span.clone(),
            format!(
                "an entry per call of {}",
                describe_scope(facts, named_owner(facts, g.scope))
            ),
        );
    }
    let clear = match kind {
        CollectionKind::Map => format!("{name}.clear();"),
        _ => format!("for (const id of Object.keys({name})) delete {name}[id];"),
    };
    if let Some(fix) = insert_at_body_start(src, facts.scopes[end].span.clone(), &clear) {
        d.fixes.push(crate::fixes::edits::fix(
            format!("drop the entries still waiting on `{name}` in {end_name}"),
            crate::diagnostic::Applicability::Unsafe,
            vec![fix],
        ));
    }
    Some(d)
}

/// What a shrink event of a collection declared at `decl` is.
pub(super) enum Shrinking<'s> {
    /// The declaring assignment itself (`this.m = new Map()`).
    Declaring,
    /// A deletion by key (`delete this.m[k]`, `this.m.delete(k)`), with its text.
    KeyDelete(&'s str),
    /// A clear or a reset: entries do not outlive it.
    Reset,
}

pub(super) fn shrink_kind<'s>(src: &'s str, decl: &Event, e: &Event) -> Shrinking<'s> {
    if e.span.start <= decl.span.start && decl.span.end <= e.span.end {
        return Shrinking::Declaring;
    }
    let text = src.get(e.span.clone()).unwrap_or("");
    if text.trim_start().starts_with("delete ") || text.contains(".delete(") {
        Shrinking::KeyDelete(text)
    } else {
        Shrinking::Reset
    }
}

/// `scope` runs per call of a method of `class` (not its constructor).
pub(super) fn per_call_method(facts: &FileFacts, scope: ScopeId, class: ClassId) -> bool {
    facts.enclosing_method(scope).is_some_and(|m| {
        let sc = &facts.scopes[m];
        sc.class == Some(class)
            && matches!(
                sc.kind,
                ScopeKind::Method {
                    constructor: false,
                    ..
                }
            )
    })
}

/// The key of a growth (`this.acks[id] = …`, `this.pending.set(req.seq, …)`) names an
/// operation's id.
fn keyed_by_id(text: &str) -> bool {
    let key = match (text.find('['), text.find(".set(")) {
        (Some(i), _) => text[i + 1..].split(']').next().unwrap_or(""),
        (None, Some(i)) => text[i + 5..].split(',').next().unwrap_or(""),
        _ => return false,
    };
    crate::facts::words(key).any(|w| {
        matches!(
            w.as_str(),
            "id" | "ids" | "seq" | "sequence" | "ref" | "nonce" | "tag" | "serial" | "counter"
        )
    })
}

/// The timer callback around `scope`, if any.
fn timer_callback(facts: &FileFacts, scope: ScopeId) -> Option<ScopeId> {
    facts.ancestors(scope).find(|&s| {
        matches!(&facts.scopes[s].kind, ScopeKind::Callback(r)
            if matches!(r.kind, CallbackKind::Deferred | CallbackKind::Interval)
                || r.method.starts_with("setTimeout"))
    })
}

/// Growth `g` is followed, in the same function and with no `return` in between, by a timer
/// whose callback removes entries: directly, or by calling a method that does.
fn deadline_follows(
    facts: &FileFacts,
    src: &str,
    class: ClassId,
    g: &Event,
    removals: &[&Event],
    removing_methods: &[ScopeId],
) -> bool {
    let owner = named_owner(facts, g.scope);
    let mut timers: Vec<ScopeId> = removals
        .iter()
        .filter_map(|r| timer_callback(facts, r.scope))
        .collect();
    for m in removing_methods {
        let Some(name) = facts.scopes[*m].name.as_deref() else {
            continue;
        };
        timers.extend(
            facts
                .method_calls(class, name, false)
                .filter_map(|c| timer_callback(facts, c.scope)),
        );
    }
    timers.iter().any(|&t| {
        let start = facts.scopes[t].span.start;
        facts.scopes[t]
            .parent
            .is_some_and(|p| named_owner(facts, p) == owner)
            && start > g.span.end
            && !src
                .get(g.span.end..start)
                .is_some_and(|between| crate::facts::words(between).any(|w| w == "return"))
    })
}

const CLOSE_HANDLERS: &[&str] = &[
    "onclose",
    "ondisconnect",
    "onend",
    "handleclose",
    "handledisconnect",
];
const OPEN_HANDLERS: &[&str] = &[
    "onopen",
    "onconnect",
    "onready",
    "handleopen",
    "handleconnect",
];

/// The method of `class` that handles an event of its connection by name (`onclose()`,
/// `onClose()`, `_onOpen()`, `handleDisconnect()`), among `names` (lower case).
fn handler_named(facts: &FileFacts, class: ClassId, names: &[&str]) -> Option<ScopeId> {
    facts.scopes.iter().position(|sc| {
        sc.class == Some(class)
            && matches!(
                sc.kind,
                ScopeKind::Method {
                    constructor: false,
                    ..
                }
            )
            && sc.name.as_deref().is_some_and(|n| {
                let lower = n.trim_start_matches('_').to_ascii_lowercase();
                names.contains(&lower.as_str())
            })
    })
}

/// The methods of `class` that method `m` calls (`this.x()`), a few calls deep, with `m`.
fn reached_methods(facts: &FileFacts, class: ClassId, m: ScopeId) -> Vec<ScopeId> {
    let mut seen = vec![m];
    let mut frontier = vec![m];
    for _ in 0..3 {
        let mut next = Vec::new();
        for c in &facts.events {
            let EventKind::Call { callee } = &c.kind else {
                continue;
            };
            if !facts
                .enclosing_method(c.scope)
                .is_some_and(|x| frontier.contains(&x))
            {
                continue;
            }
            if let Place::Field { class: k, name } = facts.resolve(callee)
                && k == class
                && let Some(s) = facts.method_named(class, &name)
                && !seen.contains(&s)
            {
                seen.push(s);
                next.push(s);
            }
        }
        frontier = next;
    }
    seen
}

/// An edit that puts `stmt` first in the body of the function spanning `span`.
fn insert_at_body_start(
    src: &str,
    span: std::ops::Range<usize>,
    stmt: &str,
) -> Option<crate::diagnostic::Edit> {
    use crate::fixes::edits::{indent_unit, prepend_to_block};
    let open = span.start + src.get(span.clone())?.find('{')?;
    prepend_to_block(
        src,
        &(open..span.end),
        &[stmt.to_string()],
        &indent_unit(src, 2),
    )
}
