//! Deliberate leaks and drops: `mem::forget`/`Box::leak`/`ManuallyDrop::new` of a value that owns
//! an OS resource, and `drop(…)` of a value (a detached task's handle thrown away).

use std::ops::Range;

use super::super::Walker;
use super::super::syntax::compact;
use crate::facts::*;

/// Words in a forgotten value's name that say it owns an OS resource.
const RESOURCE_WORDS: &[&str] = &[
    "file",
    "socket",
    "sock",
    "stream",
    "conn",
    "connection",
    "child",
    "process",
    "listener",
    "tcp",
    "udp",
    "pipe",
    "recording",
    "writer",
];

/// Words in a type's name that make it a lock/once primitive, which forgets its own guards on
/// purpose.
const PRIMITIVE_WORDS: &[&str] = &[
    "Guard",
    "Lock",
    "Mutex",
    "Permit",
    "Semaphore",
    "Once",
    "Lazy",
    "Cell",
];

impl Walker {
    /// `mem::forget(file)`, `Box::leak(..)`, `ManuallyDrop::new(conn)`: a resource never freed.
    pub(super) fn forget_call(
        &mut self,
        c: &syn::ExprCall,
        full: &str,
        span: &Range<usize>,
        place: &PlaceRef,
    ) {
        if !(matches!(
            full,
            "std::mem::forget"
                | "mem::forget"
                | "core::mem::forget"
                | "Box::leak"
                | "ManuallyDrop::new"
                | "std::mem::ManuallyDrop::new"
        ) || (full == "forget" && self.uses.get("forget").is_some_and(|u| u.contains("mem"))))
        {
            return;
        }
        // Only what owns an OS resource (a file, socket, child, guard, permit) by its name,
        // and not inside `unsafe` code, where forgetting is an ownership technique.
        // `Box::leak` leaks by definition; `forget`/`ManuallyDrop` only matter for values that
        // own an OS resource, judged by name, outside the lock/once primitives that forget
        // their own guards on purpose.
        let arg = c.args.first().map(compact).unwrap_or_default();
        let resource = full.ends_with("Box::leak")
            || crate::facts::words(&arg.replace(['.', '(', ')', '&', ':', '?'], "_"))
                .any(|w| RESOURCE_WORDS.contains(&w.as_str()));
        let primitive = self
            .class
            .and_then(|c| self.facts.classes[c].name.as_deref())
            .is_some_and(|n| PRIMITIVE_WORDS.iter().any(|w| n.contains(w)));
        // Not: a borrowed descriptor (`from_raw_fd`), a defused drop guard (`forget(guard)`
        // is the idiom), nor `Box::leak` handed straight on (`NonNull::from(Box::leak(..))`).
        let borrowed = arg.contains("from_raw") || arg.contains("unsafe");
        let handed_on = full.ends_with("Box::leak") && matches!(place, PlaceRef::Argument);
        if resource && !primitive && !borrowed && !handed_on && self.unsafe_depth == 0 {
            self.event(
                EventKind::Forget {
                    api: full.to_string(),
                },
                span.clone(),
            );
        }
    }

    /// `drop(tokio::spawn(..))`: the value is thrown away (a task's handle: the task is
    /// detached). Walked here (`true`).
    pub(super) fn drop_call(&mut self, c: &syn::ExprCall, full: &str) -> bool {
        if matches!(full, "drop" | "std::mem::drop" | "std::mem::forget")
            && let Some(arg) = c.args.first()
        {
            self.value(arg, PlaceRef::Discarded);
            return true;
        }
        false
    }
}
