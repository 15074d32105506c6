//! duplicate-client (project-wide): an SDK or network client constructed at more than one
//! site in the project, or in code that runs per request/message/session/iteration. Each
//! client owns a connection pool (and often timers); several of them multiply sockets and
//! memory, and one per request leaks them.

use super::*;
use std::collections::HashMap;

use crate::facts::Event;

pub struct DuplicateClient;

static META: RuleMeta = RuleMeta {
    id: "duplicate-client",
    summary: "SDK/network clients constructed at several sites or per request",
    severity: Severity::Warning,
    languages: &["typescript", "javascript", "rust"],
    project: true,
};

/// Clients recognised by class name alone: the names are distinctive enough.
const BY_NAME: &[&str] = &[
    "OpenAI",
    "AzureOpenAI",
    "Anthropic",
    "Twilio",
    "PrismaClient",
    "MongoClient",
    "Stripe",
    "Redis",
    "IORedis",
];

/// Default exports of client packages: `import X from 'openai'` is `OpenAI` whatever `X` is called.
fn default_export(source: &str) -> Option<&'static str> {
    Some(match source {
        "openai" => "OpenAI",
        "twilio" => "Twilio",
        "stripe" => "Stripe",
        "ioredis" => "Redis",
        "@anthropic-ai/sdk" => "Anthropic",
        "axios" => "axios",
        _ => return None,
    })
}

/// The client a `new`/factory call constructs, canonically named, if it is one.
pub(crate) fn client_kind(facts: &FileFacts, e: &Event) -> Option<String> {
    let EventKind::New { class, factory, .. } = &e.kind else {
        return None;
    };
    // The Rust front end names known client constructors canonically (`reqwest::Client`).
    if facts.is_rust {
        let known = matches!(
            class.as_str(),
            "reqwest::Client"
                | "reqwest::blocking::Client"
                | "hyper_util::Client"
                | "redis::Client"
                | "async_openai::Client"
                | "mongodb::Client"
                | "sqlx::Pool"
                | "tonic::Channel"
        ) || (class.starts_with("aws_sdk_") && class.ends_with("::Client"));
        return (*factory && known).then(|| class.clone());
    }
    let (head, last) = match class.rsplit_once('.') {
        Some((h, l)) => (Some(h), l),
        None => (None, class.as_str()),
    };
    // What the head or the bare name was imported as.
    let import_of = |name: &str| -> Option<(String, String)> {
        let b = facts.lookup(name, e.scope)?;
        match &facts.bindings[b].kind {
            crate::facts::BindingKind::Import { source, imported } => {
                Some((source.clone(), imported.clone()))
            }
            _ => None,
        }
    };
    if *factory {
        return match class.as_str() {
            "twilio" | "Twilio" => Some("Twilio".into()),
            "axios.create" => Some("axios.create".into()),
            "createClient" | "redis.createClient" => {
                let src = import_of(head.unwrap_or("createClient")).map(|(s, _)| s);
                match src.as_deref() {
                    Some("redis" | "@redis/client") => Some("redis.createClient".into()),
                    _ => None,
                }
            }
            _ => None,
        };
    }
    let imported = match head {
        Some(h) => import_of(h).map(|(s, _)| (s, last.to_string())),
        None => import_of(last),
    };
    match imported {
        Some((source, name)) => {
            let name = if name == "default" || name == "*" {
                default_export(&source)?.to_string()
            } else {
                name
            };
            if source == "pg" && matches!(name.as_str(), "Pool" | "Client") {
                return Some(format!("pg.{name}"));
            }
            if source.starts_with("@aws-sdk/") && name.ends_with("Client") {
                return Some(name);
            }
            if BY_NAME.contains(&name.as_str()) {
                return Some(if name == "IORedis" {
                    "Redis".into()
                } else {
                    name
                });
            }
            None
        }
        None => {
            if BY_NAME.contains(&last) {
                Some(if last == "IORedis" {
                    "Redis".into()
                } else {
                    last.to_string()
                })
            } else {
                None
            }
        }
    }
}

/// Rust: an `async fn` (a handler, by default) that is not `main` nor a constructor runs per
/// request or message.
fn rust_per_request_fn(facts: &FileFacts, scope: crate::facts::ScopeId) -> bool {
    let owner = named_owner(facts, scope);
    let s = &facts.scopes[owner];
    s.is_async
        && !matches!(
            s.kind,
            crate::facts::ScopeKind::Method {
                constructor: true,
                ..
            }
        )
        && s.name.as_deref().is_some_and(|n| {
            n != "main"
                && !matches!(
                    n,
                    "new" | "build" | "init" | "connect" | "run" | "serve" | "start"
                )
                && !n.starts_with("build_")
                && !n.starts_with("create")
                && !n.starts_with("new_")
                && !n.starts_with("init")
                && !n.starts_with("connect")
        })
}

struct Site<'a> {
    file: &'a ProjectFile,
    event: &'a Event,
    kind: String,
    lazy: bool,
}

impl Rule for DuplicateClient {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_project(&self, ctx: &ProjectCtx) -> Vec<Diagnostic> {
        let mut sites: Vec<Site> = Vec::new();
        for file in ctx.files {
            for e in &file.facts.events {
                // Configured extra constructors (`[options] client-constructors`).
                let extra = || match &e.kind {
                    EventKind::New { class, .. } => {
                        let last = class.rsplit(['.', ':']).next().unwrap_or(class);
                        ctx.options
                            .extra_clients
                            .iter()
                            .any(|c| c == last || c == class)
                            .then(|| last.to_string())
                    }
                    _ => None,
                };
                if let Some(kind) = client_kind(&file.facts, e).or_else(extra) {
                    // The client library itself: `new Redis()` inside the file that defines
                    // `class Redis` is a factory, not a use.
                    if file
                        .facts
                        .classes
                        .iter()
                        .any(|c| c.name.as_deref() == Some(kind.as_str()))
                    {
                        continue;
                    }
                    let lazy = matches!(&e.kind, EventKind::New { lazy: true, .. });
                    sites.push(Site {
                        file,
                        event: e,
                        kind,
                        lazy,
                    });
                }
            }
        }
        // The non-test sites of each kind, grouped once (not searched per site).
        let mut by_kind: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, site) in sites.iter().enumerate() {
            if !is_test_file(&site.file.path) {
                by_kind.entry(site.kind.as_str()).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for (i, site) in sites.iter().enumerate() {
            let facts = &site.file.facts;
            let test = is_test_file(&site.file.path);
            // How many other sites there are, and the first few of them as labels.
            let (other_count, others): (usize, Vec<&Site>) = if test {
                (0, Vec::new())
            } else {
                let group = &by_kind[site.kind.as_str()];
                let others = group.iter().filter(|&&j| j != i);
                (
                    group.len() - 1,
                    others.take(MAX_LABELS).map(|&j| &sites[j]).collect(),
                )
            };
            let lifetime = event_lifetime(facts, site.event.scope, site.event.in_loop);
            // A factory that returns the client hands it to its caller, who decides how often.
            let returned = matches!(
                site.event.kind,
                EventKind::New {
                    handle: PlaceRef::Returned(_),
                    ..
                }
            );
            // Returned from a method whose callers are unknown: the caller decides. A factory
            // that this file calls per request or per iteration is still per use.
            let per_use = !site.lazy
                && (lifetime == Lifetime::Repeated
                    || (!returned && lifetime == Lifetime::PerCall)
                    || (!returned
                        && facts.is_rust
                        && lifetime == Lifetime::Unknown
                        && rust_per_request_fn(facts, site.event.scope)));
            if other_count == 0 && !per_use {
                continue;
            }
            let kind = &site.kind;
            let message = if per_use {
                let when = match lifetime {
                    Lifetime::Repeated => format!(
                        "in code that runs repeatedly ({})",
                        describe_scope(facts, site.event.scope)
                    ),
                    _ => format!(
                        "on every call of {}",
                        describe_scope(facts, named_owner(facts, site.event.scope))
                    ),
                };
                let also = if other_count == 0 {
                    String::new()
                } else {
                    format!(" (and {other_count} other construction site(s) exist)")
                };
                format!(
                    "a new `{kind}` client is constructed {when}{also}: each one opens its own \
                     connection pool that nothing closes"
                )
            } else {
                format!(
                    "`{kind}` client constructed at {} sites in the project: each holds its own \
                     connection pool, sockets and retry state for the life of the process",
                    other_count + 1
                )
            };
            let mut d = Diagnostic::new(
                META.id,
                META.severity,
                site.file.path.clone(),
                site.event.span.clone(),
                message,
            )
            .with_help(if facts.is_rust {
                format!(
                    "build one `{kind}` once (in `main`, a constructor or a `LazyLock`) and share it \
                     through application state: clients are cheap to clone and share their pool"
                )
            } else {
                format!(
                    "construct one `{kind}` client once, at module level in a shared module (or \
                     lazily: `client ??= new …`), export it, and import it everywhere"
                )
            });
            for o in others {
                d = d.with_label_in(
                    o.file.path.clone(),
                    o.event.span.clone(),
                    format!("another `{kind}` client is constructed here"),
                );
            }
            out.push(d);
        }
        out
    }
}
