//! unbounded-cache (project-wide): caches built without a bound — `new NodeCache()` without
//! `stdTTL`/`maxKeys`, `lru-cache` without `max`/`maxSize`/`ttl`, unbounded memoizers,
//! `LruCache::unbounded()`, moka builders without capacity or expiry, bare `#[cached]` — and
//! long-lived maps named like caches that only grow (reported here instead of under
//! unbounded-collection).

use super::*;

pub struct UnboundedCache;

static META: RuleMeta = RuleMeta {
    id: "unbounded-cache",
    summary: "Caches and memoizers with no size limit or expiry",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::Project,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

/// Whether a cache constructor's options bound it, and what would.
fn bounded(api: &str, options: &[String]) -> (bool, &'static str) {
    let has = |keys: &[&str]| options.iter().any(|o| keys.contains(&o.as_str()));
    match api {
        "NodeCache" => (has(&["stdTTL", "maxKeys"]), "`stdTTL` and/or `maxKeys`"),
        "LRUCache" | "LRU" => (
            has(&["max", "maxSize", "ttl", "maxAge"]),
            "`max` (or `maxSize`) and a `ttl`",
        ),
        "memoizee" => (has(&["max", "maxAge"]), "`max` and/or `maxAge`"),
        "moize" => (has(&["maxSize", "maxAge"]), "`maxSize` and/or `maxAge`"),
        // `len-checked`: the code compares the cache's `len()` (and evicts) itself.
        "LruCache::unbounded" => (has(&["len-checked"]), "a capacity (`LruCache::new(cap)`)"),
        "moka::Cache::builder" => (
            has(&[
                "max_capacity",
                "time_to_live",
                "time_to_idle",
                "expire_after",
            ]),
            "`.max_capacity(n)` and a `.time_to_live(..)`/`.time_to_idle(..)`",
        ),
        "#[cached]" | "#[io_cached]" => (
            has(&["size", "time", "ttl", "max_size"]),
            "`size = N` and/or `time = SECS`",
        ),
        "#[once]" => (true, ""),
        // lodash `memoize` and friends: never bounded.
        _ => (
            false,
            "a bounded memoizer (e.g. memoizee with `max`/`maxAge`)",
        ),
    }
}

/// A bare `#[cached]` (the event spans the attribute): `#[cached(size = 10_000)]`, the
/// `cached` crate's bounded (least recently used) store. Unsafe: entries are now evicted.
fn cached_size_fix(src: &str, e: &crate::facts::Event) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let text = src.get(e.span.clone())?;
    let attr: String = text.split_whitespace().collect();
    if attr != "#[cached]" && attr != "#[cached::proc_macro::cached]" {
        return None;
    }
    let path = &attr[2..attr.len() - 1];
    Some(fix(
        "keep at most 10,000 results, least recently used evicted (`#[cached(size = 10_000)]`)",
        crate::diagnostic::Applicability::Unsafe,
        vec![replace(e.span.clone(), format!("#[{path}(size = 10_000)]"))],
    ))
}

/// Adds a size limit and an expiry where the constructor takes its options. Unsafe: entries
/// are now evicted; the figures (10,000 entries, 10 minutes) are a starting point to tune.
fn bound_fix(src: &str, api: &str, at: usize) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let (keys, title) = match api {
        // Not `maxKeys`: a full NodeCache throws on `set` instead of evicting.
        "NodeCache" => ("stdTTL: 600", "expire entries after 10 minutes (`stdTTL`)"),
        "LRUCache" | "LRU" => (
            "max: 10_000, ttl: 600_000",
            "keep at most 10,000 entries for at most 10 minutes (`max`, `ttl`)",
        ),
        "memoizee" | "moize" => {
            let keys = if api == "moize" {
                "maxSize: 10_000, maxAge: 600_000"
            } else {
                "max: 10_000, maxAge: 600_000"
            };
            let title = format!(
                "keep at most 10,000 results for at most 10 minutes (`{}`, `maxAge`)",
                if api == "moize" { "maxSize" } else { "max" }
            );
            // After the function (no options yet), or first in the options object.
            let edit = if src.get(at..)?.trim_start().starts_with(')') {
                insert(at, format!(", {{ {keys} }}"))
            } else if src[..at].ends_with('{') {
                let empty = src[at..].trim_start().starts_with('}');
                insert(
                    at,
                    if empty {
                        format!(" {keys} ")
                    } else {
                        format!(" {keys},")
                    },
                )
            } else {
                return None;
            };
            return Some(fix(
                title,
                crate::diagnostic::Applicability::Unsafe,
                vec![edit],
            ));
        }
        "moka::Cache::builder" => {
            // With a weigher, the capacity is in the weigher's unit (bytes, usually).
            let weighed = src[..at]
                .rfind("builder()")
                .is_some_and(|b| src[b..at].contains(".weigher("));
            let (cap, what) = if weighed {
                ("64 * 1024 * 1024", "64 MiB of weight")
            } else {
                ("10_000", "10,000 entries")
            };
            let edit = insert(
                at,
                format!(".max_capacity({cap}).time_to_live(std::time::Duration::from_secs(600))"),
            );
            return Some(fix(
                format!(
                    "keep at most {what} for at most 10 minutes (`max_capacity`, `time_to_live`)"
                ),
                crate::diagnostic::Applicability::Unsafe,
                vec![edit],
            ));
        }
        _ => return None,
    };
    let before = src[..at].chars().next_back();
    let edit = match before {
        // Inside `{ … }`: the new keys first.
        Some('{') => {
            let empty = src[at..].trim_start().starts_with('}');
            insert(
                at,
                if empty {
                    format!(" {keys} ")
                } else {
                    format!(" {keys},")
                },
            )
        }
        // Inside `()`.
        Some('(') => insert(at, format!("{{ {keys} }}")),
        // `new NodeCache` without parentheses.
        _ => insert(at, format!("({{ {keys} }})")),
    };
    Some(fix(
        title,
        crate::diagnostic::Applicability::Unsafe,
        vec![edit],
    ))
}

impl Rule for UnboundedCache {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Cache constructors, and the collections unbounded-collection judges.
    fn reports_from(&self, e: &crate::facts::Event) -> bool {
        matches!(e.kind, EventKind::CacheCtor { .. })
            || super::unbounded_collection::reports_from(e)
    }

    fn check_project_file(
        &self,
        ctx: &ProjectCtx,
        file: &ProjectFile,
        facts: &FileFacts,
        src: &crate::source::SourceFile,
    ) -> Vec<Diagnostic> {
        findings(ctx, file, facts, &src.text)
    }
}

fn findings(ctx: &ProjectCtx, file: &ProjectFile, facts: &FileFacts, src: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    {
        for e in &facts.events {
            let EventKind::CacheCtor { api, options, at } = &e.kind else {
                continue;
            };
            // `memoize` counts only from lodash-like packages (or `_.memoize`).
            let api_norm = match api.as_str() {
                "lodash" | "lodash.memoize" | "lodash-es" | "_.memoize" => "memoize",
                other => other,
            };
            if matches!(api_norm, "memoize" | "memoizee" | "moize")
                && !matches!(
                    api.as_str(),
                    "lodash" | "lodash.memoize" | "lodash-es" | "_.memoize" | "memoizee" | "moize"
                )
            {
                continue;
            }
            let (ok, what) = bounded(api_norm, options);
            if ok {
                continue;
            }
            out.push(
                META.report(
                    file.path.clone(),
                    e.span.clone(),
                    format!(
                        "cache built with `{api}` has no size limit and no expiry: every distinct \
                             key stays in memory for the life of the process"
                    ),
                )
                .with_help(format!(
                    "bound it with {what}, sized for the working set; a cache without eviction \
                         is an unbounded map"
                ))
                .with_fixes(at.and_then(|at| bound_fix(src, api_norm, at)))
                .with_fixes(rust_fixes::event_fix(facts, src, e))
                .with_fixes(cached_size_fix(src, e)),
            );
        }
    }
    out.extend(super::unbounded_collection::long_lived_collections(
        ctx, file, facts, src, &META, true,
    ));
    out
}
