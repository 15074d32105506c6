//! Fixes for Rust events, built from the facts and the source text: the front end records where
//! a fix goes ([`FixSite`]: the call, the tick statement, the arm, the assignment) and which
//! logger the code uses; the builders here write the code with `quote` and print it with
//! `prettyplease` ([`print`]). Rules call [`event_fix`] (and [`log_error`] for swallowed errors).

pub mod caps;
mod channels;
pub mod clients;
pub mod collections;
mod errors;
mod handles;
pub mod print;
mod servers;
pub mod syntax;
mod tasks;

use crate::diagnostic::{Applicability, Edit, Fix};
use crate::facts::{Event, EventKind, FileFacts, FixSite};

pub use errors::{log_error, log_if_let};
pub use servers::sigterm_with_ctrl_c;
pub use tasks::{abort_in_drop, deadline_suggestion};

/// The fix for `e` that its site allows, as a rule offers it: abort a deadline task on drop,
/// select on a cancellation next to a tick, shut a server down gracefully, bound a channel or
/// an LRU cache, append in place. `None` for events without a recorded site (every event of a
/// TypeScript file) or whose code does not have the shape the fix needs.
pub fn event_fix(facts: &FileFacts, src: &str, e: &Event) -> Option<Fix> {
    match (&e.kind, e.hint.as_deref()?) {
        (EventKind::Timer { .. }, FixSite::Tick { stmt }) => {
            tasks::cancellable_tick(facts, src, stmt)
        }
        (EventKind::Timer { .. }, FixSite::Call { call }) => {
            // Guards earlier in the same function get their own type names: two fixes applied
            // in one pass must not declare the same struct twice in one block.
            let earlier = facts
                .events
                .iter()
                .filter(|x| x.scope == e.scope && x.span.start < e.span.start)
                .filter(|x| {
                    matches!(x.kind, EventKind::Timer { .. })
                        && matches!(x.hint.as_deref(), Some(FixSite::Call { .. }))
                })
                .count();
            // The guard aborts the task when the function returns: right only when the
            // function goes on to wait for the work the deadline guards. A function that
            // spawns and returns (arming a watchdog for its caller) would abort it at once.
            let owner = &facts.scopes[facts.named_owner(e.scope)];
            let body = owner.body.clone().unwrap_or(owner.span.clone());
            let rest = src.get(e.stmt.end..body.end.max(e.stmt.end))?;
            // (Or reads the flag the deadline sets: `if gave_up.load(..)`.)
            if !owner.is_async
                || !(rest.contains(".await") || rest.contains("select!") || rest.contains(".load("))
            {
                return None;
            }
            tasks::abort_on_drop(src, e, call, earlier, "deadline task")
        }
        (EventKind::ServerStart { .. }, FixSite::Call { call }) => {
            servers::graceful_shutdown(facts, src, e, call)
        }
        (EventKind::UnboundedQueue { .. }, FixSite::Call { call }) => {
            let func = &facts.scopes[facts.named_owner(e.scope)].span;
            collections::bounded_channel_try_send(src, &e.stmt, call, func)
                .or_else(|| channels::bound_everywhere(src, &e.stmt, call))
                .or_else(|| collections::bounded_channel(src, call))
        }
        (EventKind::CacheCtor { .. }, FixSite::Call { call }) => {
            collections::bounded_lru(src, call)
        }
        (EventKind::Timer { .. }, FixSite::ClosedRecv { at, exit }) => {
            tasks::break_when_closed(src, at, *exit)
        }
        (EventKind::Reconcat { .. }, FixSite::Assign { assign }) => {
            collections::append_in_place(src, assign)
        }
        _ => None,
    }
}

/// A task spawned (`e`) in an async function that goes on to await something: abort it when the
/// function returns (a drop guard), as [`event_fix`] does for a deadline task. For a task that
/// may never end on its own (it awaits a signal that can be `pending()`). Unsafe: the task now
/// ends with the function.
pub fn abort_on_return(facts: &FileFacts, src: &str, e: &Event) -> Option<Fix> {
    let text = src.get(e.span.clone())?;
    let call = if text.trim_end().ends_with(')') {
        e.span.clone()
    } else {
        e.span.start..crate::fixes::edits::call_end(src, e.span.end)?
    };
    let owner = &facts.scopes[facts.named_owner(e.scope)];
    let body = owner.body.clone().unwrap_or(owner.span.clone());
    let rest = src.get(e.stmt.end..body.end.max(e.stmt.end))?;
    if !owner.is_async || !(rest.contains(".await") || rest.contains("select!")) {
        return None;
    }
    let before = src.get(body.start..e.stmt.start)?;
    let earlier = before.matches("struct AbortOnDrop").count();
    tasks::abort_on_drop(src, e, &call, earlier, "task")
}

/// A fix of edits in the event's own file.
fn fix(title: impl Into<String>, applicability: Applicability, edits: Vec<Edit>) -> Option<Fix> {
    Some(Fix {
        title: title.into(),
        applicability,
        edits,
    })
}

/// Replaces `range` with `content`.
fn edit(range: std::ops::Range<usize>, content: impl Into<String>) -> Edit {
    Edit {
        file: None,
        range,
        content: content.into(),
    }
}

/// Where a new item goes: after the last top-level `use` item (the line after it), else the
/// start of the file.
pub fn item_insertion_point(src: &str) -> usize {
    let mut offset = 0;
    let mut after = 0;
    let mut in_use = false;
    for line in src.split_inclusive('\n') {
        if in_use || line.starts_with("use ") || line.starts_with("pub use ") {
            in_use = !line.trim_end().ends_with(';');
            after = offset + line.len();
        }
        offset += line.len();
    }
    after
}

/// The name of a top-level `static NAME: <ty> = …` of `src` whose type reads `ty` (spaces
/// ignored), as an earlier fix declared it.
pub fn existing_static(src: &str, ty: &str) -> Option<String> {
    let want: String = ty.split_whitespace().collect();
    let mut lines = src.lines().peekable();
    while let Some(l) = lines.next() {
        let mut rest = l;
        for vis in ["pub(crate) ", "pub "] {
            rest = rest.strip_prefix(vis).unwrap_or(rest);
        }
        let Some(rest) = rest.strip_prefix("static ") else {
            continue;
        };
        let Some((name, ty)) = rest.split_once(':') else {
            continue;
        };
        // The type may run on to the next line (`=` there).
        let mut ty = ty.to_string();
        if !ty.contains('=') {
            ty.push_str(lines.peek().copied().unwrap_or(""));
        }
        let ty: String = ty.split('=').next()?.split_whitespace().collect();
        if ty == want {
            return Some(name.trim().to_string());
        }
    }
    None
}
