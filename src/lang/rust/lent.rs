//! Growth through a mutable loan: `record(&mut log, line)` where this file's
//! `fn record(log: &mut Vec<String>, line: String) { log.push(line) }` grows what it is lent.
//! The call then grows the lender's collection — the field or static behind a guard
//! (`let mut log = state.log.lock().unwrap()`) — as often as the call runs.
//!
//! The walk records each `&mut` argument of a call of a plain function name as an
//! `EventKind::Arg` right after the call's `EventKind::Call`; once the file's facts are
//! indexed, the arguments lent to a parameter that its function grows (see
//! [`crate::facts::lent_params`]) become `Grow` events of
//! the lent place, at the call (its scope, loop and statement) — or a size check, when the
//! function also shrinks or measures what it is lent (it bounds it itself).

use crate::facts::{EventKind, FileFacts, PlaceRef};

/// Turns the `&mut` arguments of calls into growth where the callee grows that parameter;
/// whether anything changed (the caller indexes the facts again).
pub(super) fn grow(facts: &mut FileFacts) -> bool {
    if !facts
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Arg { .. }))
    {
        return false;
    }
    let (grown, bounded) = crate::facts::lent_params(facts);
    if grown.is_empty() {
        return false;
    }
    let mut changed = false;
    // The call an argument belongs to: the `Call` event just before it, starting where it does.
    let mut callee: Option<(String, std::ops::Range<usize>)> = None;
    for e in facts.events.iter_mut() {
        match &e.kind {
            EventKind::Call {
                callee: PlaceRef::Name { name, .. },
            } => callee = Some((name.clone(), e.span.clone())),
            EventKind::Arg { index, place } => {
                let Some((name, span)) = &callee else {
                    continue;
                };
                let key = (name.clone(), usize::from(*index));
                if span.start != e.span.start || !grown.contains(&key) {
                    continue;
                }
                let place = place.clone();
                e.kind = if bounded.contains(&key) {
                    EventKind::SizeCheck { place }
                } else {
                    EventKind::Grow { place }
                };
                changed = true;
            }
            _ => callee = None,
        }
    }
    changed
}
