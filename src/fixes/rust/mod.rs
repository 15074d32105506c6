//! Fixes for Rust events, built from the facts and the source text: the front end records where
//! a fix goes ([`FixSite`]: the call, the tick statement, the arm, the assignment) and which
//! logger the code uses; the builders here write the code with `quote` and print it with
//! `prettyplease` ([`print`]). Rules call [`event_fix`] (and [`log_error`] for swallowed errors).

mod collections;
mod errors;
pub mod print;
mod servers;
mod tasks;

use crate::diagnostic::{Applicability, Edit, Fix};
use crate::facts::{Event, EventKind, FileFacts, FixSite};

pub use errors::log_error;

/// The fix for `e` that its site allows, as a rule offers it: abort a deadline task on drop,
/// select on a cancellation next to a tick, shut a server down gracefully, bound a channel or
/// an LRU cache, append in place. `None` for events without a recorded site (every event of a
/// TypeScript file) or whose code does not have the shape the fix needs.
pub fn event_fix(facts: &FileFacts, src: &str, e: &Event) -> Option<Fix> {
    match (&e.kind, e.hint.as_deref()?) {
        (EventKind::Timer { .. }, FixSite::Tick { stmt }) => tasks::cancellable_tick(src, stmt),
        (EventKind::Timer { .. }, FixSite::Call { call }) => tasks::abort_on_drop(src, e, call),
        (EventKind::ServerStart { .. }, FixSite::Call { call }) => {
            servers::graceful_shutdown(facts, src, e, call)
        }
        (EventKind::UnboundedQueue { .. }, FixSite::Call { call }) => {
            collections::bounded_channel(src, call)
        }
        (EventKind::CacheCtor { .. }, FixSite::Call { call }) => {
            collections::bounded_lru(src, call)
        }
        (EventKind::Reconcat { .. }, FixSite::Assign { assign }) => {
            collections::append_in_place(src, assign)
        }
        _ => None,
    }
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
