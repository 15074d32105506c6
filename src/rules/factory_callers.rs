//! duplicate-client (Rust): a factory in one module (`pub fn make_client() -> Client {
//! Client::new() }`) hands its client to its callers, who decide how often one is made. Its own
//! file cannot say: nothing there calls it. A caller in another file that runs per request
//! (an async handler) or per iteration (`helpers::make_client()` in a loop) builds one client
//! per use through it — the per-request client of issue 18, one call away.
//!
//! Each file records, while its facts are live, the calls of other modules' functions it
//! makes where they run per use ([`file_calls`], kept in the project inputs); the rule joins a
//! factory to them by name and module ([`per_use_callers`]).

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ProjectCtx, ProjectFile, describe_scope, event_lifetime, named_owner};
use crate::facts::{FileFacts, Lifetime, ScopeId, ScopeKind};

/// A call of another module's function that runs per use: the path as written (after `use`
/// expansion), the caller as labels name it ("`handler()`"), how often it calls ("per request",
/// "in a loop", "repeatedly"), the call.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct PerUseCall {
    pub path: String,
    pub caller: String,
    pub how: String,
    pub span: Range<usize>,
}

/// The file's calls of other modules' functions that run per use: in a loop of code that runs
/// more than once, or directly in a function that runs per request (see
/// [`super::duplicate_client::rust_per_request_fn`]). Never in a constructor or a lazy
/// initialiser (those calls are not recorded).
pub fn file_calls(facts: &FileFacts) -> Vec<PerUseCall> {
    facts
        .path_calls
        .iter()
        .filter_map(|c| {
            let owner = named_owner(facts, c.scope);
            if matches!(
                facts.scopes[owner].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            ) {
                return None;
            }
            let per_request = || super::duplicate_client::rust_per_request_fn(facts, c.scope);
            let how = match event_lifetime(facts, c.scope, c.in_loop) {
                Lifetime::Repeated if c.in_loop => "in a loop",
                Lifetime::Repeated => "repeatedly",
                Lifetime::Unknown | Lifetime::PerCall if per_request() => "per request",
                _ => return None,
            };
            Some(PerUseCall {
                path: c.path.clone(),
                caller: describe_scope(facts, owner),
                how: how.into(),
                span: c.span.clone(),
            })
        })
        .collect()
}

/// The module a file is, as paths name it: its stem, or its folder's name for `mod.rs`.
/// `lib.rs` and `main.rs` are the crate root, which no path names by a module segment.
pub(super) fn module_name(path: &Path) -> Option<&str> {
    let stem = path.file_stem()?.to_str()?;
    match stem {
        "lib" | "main" => None,
        "mod" => path.parent()?.file_name()?.to_str(),
        s => Some(s),
    }
}

/// The calls, in other files, that run the free function owning `scope` of `file` per use:
/// by the function's name and its file's module name (`helpers::make_client` for
/// `pub fn make_client` in `helpers.rs`; `crate::net::helpers::make_client` too).
pub(super) fn per_use_callers<'a>(
    ctx: &ProjectCtx<'a>,
    file: &ProjectFile,
    facts: &FileFacts,
    scope: ScopeId,
) -> Vec<(&'a ProjectFile, &'a PerUseCall)> {
    let owner = named_owner(facts, scope);
    let f = &facts.scopes[owner];
    let (ScopeKind::Function, Some(name)) = (&f.kind, f.name.as_deref()) else {
        return Vec::new();
    };
    let Some(module) = module_name(&file.path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for other in ctx.files {
        if !other.is_rust || other.is_test || other.path == file.path {
            continue;
        }
        for c in &other.inputs.per_use_calls {
            let mut segs = c.path.rsplit("::");
            if segs.next() == Some(name) && segs.next() == Some(module) {
                out.push((other, c));
            }
        }
    }
    out
}

/// The finding's message when a factory's callers run it per use (`None` without callers):
/// the factory (owning `scope`), the first caller and how often it calls.
pub(super) fn message(
    kind: &str,
    facts: &FileFacts,
    scope: ScopeId,
    callers: &[(&ProjectFile, &PerUseCall)],
) -> Option<String> {
    let (f, c) = callers.first()?;
    Some(format!(
        "a new `{kind}` client is constructed on every call of {}, which {} in `{}` calls {}{}: \
         each call opens its own connection pool that nothing closes",
        describe_scope(facts, named_owner(facts, scope)),
        c.caller,
        f.path.display(),
        c.how,
        match callers.len() {
            1 => String::new(),
            n => format!(" (and {} more callers)", n - 1),
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_follow_the_file_layout() {
        assert_eq!(module_name(Path::new("src/helpers.rs")), Some("helpers"));
        assert_eq!(module_name(Path::new("src/ai/mod.rs")), Some("ai"));
        assert_eq!(module_name(Path::new("src/lib.rs")), None);
        assert_eq!(module_name(Path::new("src/main.rs")), None);
    }
}
