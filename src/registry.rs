//! The one static list of rules, and lookup by id.

use crate::rules::{self, Rule, RuleMeta};

/// Every rule, in documentation order.
pub static RULES: &[&dyn Rule] = &[
    &rules::orphaned_interval::OrphanedInterval,
    &rules::uncleared_timeout::UnclearedTimeout,
    &rules::unremoved_listener::UnremovedListener,
    &rules::duplicate_client::DuplicateClient,
    &rules::unbounded_collection::UnboundedCollection,
    &rules::unclosed_stream::UnclosedStream,
    &rules::duplicate_adapter::DuplicateAdapter,
    &rules::buffer_concat_in_loop::BufferConcatInLoop,
    &rules::unbounded_cache::UnboundedCache,
    &rules::silent_error::SilentError,
    &rules::missing_graceful_shutdown::MissingGracefulShutdown,
];

pub fn all() -> impl Iterator<Item = &'static RuleMeta> {
    RULES.iter().map(|r| r.meta())
}

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.meta().id == id)
}

/// The user documentation of a rule (`rules/<id>.md`), compiled in.
pub fn doc(id: &str) -> Option<&'static str> {
    Some(match id {
        "orphaned-interval" => include_str!("../rules/orphaned-interval.md"),
        "uncleared-timeout" => include_str!("../rules/uncleared-timeout.md"),
        "unremoved-listener" => include_str!("../rules/unremoved-listener.md"),
        "duplicate-client" => include_str!("../rules/duplicate-client.md"),
        "unbounded-collection" => include_str!("../rules/unbounded-collection.md"),
        "unclosed-stream" => include_str!("../rules/unclosed-stream.md"),
        "duplicate-adapter" => include_str!("../rules/duplicate-adapter.md"),
        "buffer-concat-in-loop" => include_str!("../rules/buffer-concat-in-loop.md"),
        "unbounded-cache" => include_str!("../rules/unbounded-cache.md"),
        "silent-error" => include_str!("../rules/silent-error.md"),
        "missing-graceful-shutdown" => include_str!("../rules/missing-graceful-shutdown.md"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let ids: Vec<&str> = all().map(|m| m.id).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[..i].contains(id), "duplicate id {id}");
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id} is not kebab-case"
            );
            let doc = doc(id).unwrap_or_else(|| panic!("{id} has no rules/{id}.md"));
            assert!(
                doc.starts_with(&format!("# {id}")),
                "{id}.md must start with its title"
            );
            assert!(find(id).is_some());
        }
    }
}
