//! unbounded-collection (project-wide): a Map, Set, array or dictionary object that lives for
//! the life of the process (a module binding, a field of a long-lived object), grows in code
//! that runs repeatedly, and never shrinks nor is bounded.

use super::*;
use crate::facts::{CallbackKind, CollectionKind, Event};
use crate::project::resolve_import;
use std::sync::Arc;

use super::inputs::{SizeEvent, SizeKind};

pub struct UnboundedCollection;

static META: RuleMeta = RuleMeta {
    id: "unbounded-collection",
    summary: "Long-lived Maps, Sets, arrays and dictionaries that grow and never shrink",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::Project,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

/// One file scanned for long-lived collections: the project around it, the file, and the
/// rule the findings go under (unbounded-collection, or unbounded-cache when `caches`).
#[derive(Clone, Copy)]
pub(super) struct Scan<'a, 'p> {
    pub(super) ctx: &'a ProjectCtx<'p>,
    pub(super) file: &'a ProjectFile,
    pub(super) facts: &'a FileFacts,
    pub(super) src: &'a str,
    pub(super) meta: &'static RuleMeta,
    caches: bool,
}

/// A collection declaration being judged, and how to recognise its uses in any file.
struct Target<'a, 'p> {
    scan: Scan<'a, 'p>,
    decl: &'a Event,
    kind: CollectionKind,
    place: Place,
    /// For a module binding: its name, to match imports of it in other files.
    export_name: Option<String>,
    /// For a field of a session object of unknown life: the messages it grows on (see
    /// [`super::session_growth`]).
    per_message: Option<String>,
}

impl Rule for UnboundedCollection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reports_from(&self, e: &Event) -> bool {
        reports_from(e)
    }

    fn check_project_file(
        &self,
        ctx: &ProjectCtx,
        file: &ProjectFile,
        facts: &FileFacts,
        src: &crate::source::SourceFile,
    ) -> Vec<Diagnostic> {
        long_lived_collections(ctx, file, facts, &src.text, &META, false)
    }
}

/// A collection whose name says it is a cache or memo table (`menuCache`, `memo`): reported by
/// unbounded-cache instead of here — one finding, not two.
pub(crate) fn is_cache_name(name: &str) -> bool {
    let name = name.rsplit('.').next().unwrap_or(name);
    crate::facts::words(name).any(|w| {
        matches!(
            w.as_str(),
            "cache" | "cached" | "caches" | "memo" | "memos" | "memoized" | "lru"
        )
    })
}

/// What [`long_lived_collections`] reports from: collections, unbounded channels (Rust) and
/// loops piling up task handles (Rust).
pub(crate) fn reports_from(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::Collection { .. }
            | EventKind::UnboundedQueue { .. }
            | EventKind::PiledTasks { .. }
    )
}

/// Long-lived collections of `file` that grow and never shrink, reported under `meta`: the
/// ones named like caches when `caches` is set, the others otherwise.
pub(crate) fn long_lived_collections(
    ctx: &ProjectCtx,
    file: &ProjectFile,
    facts: &FileFacts,
    src: &str,
    meta: &'static RuleMeta,
    caches: bool,
) -> Vec<Diagnostic> {
    let scan = Scan {
        ctx,
        file,
        facts,
        src,
        meta,
        caches,
    };
    if facts.is_rust {
        return check_rust(scan);
    }
    // Classes instantiated at module level (anywhere in the project) live for the process.
    let module_instances = ctx.module_instances();
    let mut message_classes = None;
    let mut out = Vec::new();
    for decl in &facts.events {
        let EventKind::Collection { kind, place } = &decl.kind else {
            continue;
        };
        let place = facts.resolve(place);
        let name = place_text(facts, &place);
        if is_cache_name(&name) != caches {
            continue;
        }
        let (export_name, per_message) = match &place {
            Place::Binding(b) if facts.is_module_binding(*b) => {
                (Some(facts.bindings[*b].name.clone()), None)
            }
            Place::Field { class, .. } => {
                let c = &facts.classes[*class];
                let long_lived = c.singleton
                    || c.name
                        .as_ref()
                        .is_some_and(|n| module_instances.contains(n));
                if long_lived {
                    (None, None)
                } else if caches {
                    continue;
                } else {
                    // An object of unknown life: only the pending-reply shape and growth per
                    // message of its session are judged.
                    let pending = super::pending_replies::pending_replies(
                        &file.path, facts, src, decl, *kind, &place, meta,
                    );
                    if pending.is_some() {
                        out.extend(pending);
                        continue;
                    }
                    let kept = super::kept_keys::kept_keys(
                        &file.path, facts, src, decl, *kind, &place, meta,
                    );
                    if kept.is_some() {
                        out.extend(kept);
                        continue;
                    }
                    let sessions = message_classes
                        .get_or_insert_with(|| super::session_growth::message_classes(facts));
                    if !sessions.contains(class) {
                        continue;
                    }
                    match super::session_growth::per_message(facts, *class, &place) {
                        Some(per) => (None, Some(per)),
                        None => continue,
                    }
                }
            }
            _ => continue,
        };
        let target = Target {
            scan,
            decl,
            kind: *kind,
            place,
            export_name,
            per_message,
        };
        if let Some(d) = judge(&target) {
            out.push(d);
        }
    }
    out
}

fn judge(t: &Target) -> Option<Diagnostic> {
    let Scan { ctx, meta, .. } = t.scan;
    let mut declarations = 0;
    // The places that denote the collection: its own place in its file, and, when the module
    // exports it, every import of it in other files (whose facts are unpacked for this).
    let mut importers: Vec<(&ProjectFile, Arc<FileFacts>, Place)> = Vec::new();
    if let Some(name) = t
        .export_name
        .as_ref()
        .filter(|n| t.scan.facts.is_exported(n))
    {
        for (file, b, source) in ctx.importers(name) {
            if !std::ptr::eq(file, t.scan.file)
                && resolve_import(
                    &file.path,
                    source,
                    ctx.files.iter().map(|f| f.path.as_path()),
                )
                .is_some_and(|p| p == t.scan.file.path)
            {
                importers.push((file, file.facts(), Place::Binding(b)));
            }
        }
    }
    let places = std::iter::once((t.scan.file, t.scan.facts, &t.place))
        .chain(importers.iter().map(|(f, facts, p)| (*f, &**facts, p)));
    let mut growth: Vec<(&ProjectFile, &FileFacts, &Event)> = Vec::new();
    for (file, facts, place) in places {
        for e in facts.events_on(place) {
            match &e.kind {
                EventKind::Grow { .. } if grows_repeatedly(facts, e) => {
                    growth.push((file, facts, e));
                }
                EventKind::Shrink { .. } => {
                    // The declaring assignment itself (`this.m = new Map()`) is no shrink.
                    let own = std::ptr::eq(file, t.scan.file)
                        && e.span.start <= t.decl.span.start
                        && t.decl.span.end <= e.span.end;
                    if !own {
                        return None;
                    }
                }
                EventKind::SizeCheck { .. } | EventKind::Escape { .. } => return None,
                EventKind::Collection { .. } => declarations += 1,
                _ => {}
            }
        }
    }
    // Assigned a fresh collection again somewhere: a reset.
    if declarations > 1 || growth.is_empty() {
        return None;
    }
    // Made afresh by the code that fills it (`this.#common = new Map(); for (…)
    // this.#common.set(…)` in a method run again later): every run starts from empty, so
    // nothing accumulates across runs. Not when it is made at the top level or in a
    // constructor, which run once while the filling code runs on.
    let decl_scope = t.decl.scope;
    let refilled = !t.scan.facts.is_module_scope(decl_scope)
        && !matches!(
            t.scan.facts.scopes[decl_scope].kind,
            ScopeKind::Method {
                constructor: true,
                ..
            }
        )
        && growth.iter().all(|(file, facts, g)| {
            std::ptr::eq(*file, t.scan.file)
                && facts.is_within(g.scope, decl_scope)
                && t.decl.span.end <= g.span.start
                // In the same run: not from a handler that runs on after it (a per-connection
                // map filled per message keeps growing for the connection's life).
                && facts.ancestors(g.scope).take_while(|&s| s != decl_scope).all(|s| {
                    !matches!(&facts.scopes[s].kind, ScopeKind::Callback(r)
                        if matches!(r.kind, CallbackKind::EventHandler | CallbackKind::Route
                            | CallbackKind::Interval | CallbackKind::Deferred))
                })
        });
    if refilled {
        return None;
    }
    // Filled only through a registration API (`registerOption(name, codec)`,
    // `defineFormat(..)`): the program registers its entries while it sets up, so the
    // collection is bounded by the program, not by traffic.
    if growth
        .iter()
        .all(|(_, facts, g)| registration_api(facts, g.scope))
    {
        return None;
    }
    if t.kind == CollectionKind::Set
        && growth
            .iter()
            .all(|(file, facts, g)| warns_once(file, facts, g))
    {
        return None;
    }
    // Keyed by a fixed table: every value stored was just looked up by its key in a table of
    // the code, and a miss throws or returns first.
    if !t.scan.facts.is_rust
        && growth
            .iter()
            .all(|(file, facts, g)| keyed_by_a_table(&file.source().text, facts, g))
    {
        return None;
    }
    let facts = t.scan.facts;
    let mut d = meta.report(t.scan.file.path.clone(), t.decl.span.clone(), message(t))
    .with_help(
        "remove entries when their owner ends (e.g. `map.delete(id)` in the connection's close \
         handler), cap the size (evict the oldest when `size` exceeds a limit), or use a cache with \
         a max size and TTL",
    );
    if !facts.is_rust {
        d.fixes.extend(ts_fix(t, &growth));
    }
    for (file, facts, g) in growth {
        let label = format!("grows here ({})", describe_scope(facts, g.scope));
        if std::ptr::eq(file, t.scan.file) {
            d = d.with_label(g.span.clone(), label);
        } else {
            d = d.with_label_in(file.path.clone(), g.span.clone(), label);
        }
    }
    Some(d)
}

/// The finding's message for collection `t`: what it is, where, how it grows, and what would
/// shrink it.
fn message(t: &Target) -> String {
    let where_ = describe_place(t.scan.facts, &t.place);
    let verbs = match t.kind {
        CollectionKind::Map => "`delete`/`clear`",
        CollectionKind::Set => "`delete`/`clear`",
        CollectionKind::Array => "`splice`/`shift`/`pop`/`length = …`",
        CollectionKind::Object => "`delete obj[key]`",
    };
    let cache_note = if t.scan.caches {
        " — a cache without a size limit or expiry is a memory leak with a hit rate"
    } else {
        ""
    };
    let what = match t.kind {
        CollectionKind::Object => "dictionary object".to_string(),
        k => k.as_str().to_string(),
    };
    let life = match &t.per_message {
        Some(per) => format!("grows on {per} for the whole life of its session"),
        None => "lives for the life of the process and grows on every use".to_string(),
    };
    format!(
        "{what} in {where_} {life}, but nothing ever removes entries ({verbs}) or bounds its \
         size{cache_note}"
    )
}

/// Words of a call that emits a warning for people to read (`process.emitWarning(msg)`,
/// `console.warn(msg)`, `logger.warn(msg)`, `util.deprecate`).
const WARNING_CALLS: &[&str] = &["emitWarning(", "console.warn(", ".warn(", "deprecate("];

/// A warn-once set: the growth `seen.add(key)` sits in a function that tests `seen.has(..)`
/// and emits a warning — deduplicating deprecation and misuse warnings by their message. The
/// keys are the program's own warning texts, a fixed set, however long the process runs.
fn warns_once(file: &ProjectFile, facts: &FileFacts, g: &Event) -> bool {
    let source = file.source();
    let src = source.text.as_str();
    let Some(receiver) = src
        .get(g.span.clone())
        .and_then(|t| t.split_once(".add("))
        .map(|(r, _)| r.trim())
        .filter(|r| !r.is_empty())
    else {
        return false;
    };
    let Some(body) = facts.scopes[g.scope]
        .body
        .as_ref()
        .and_then(|b| src.get(b.clone()))
    else {
        return false;
    };
    body.contains(&format!("{receiver}.has(")) && WARNING_CALLS.iter().any(|w| body.contains(w))
}

/// Entries of a class's map or set removed in its per-entry teardown (`end(id)` reads
/// `this.sessions.get(id)`: it deletes `id` too); otherwise a size cap at every growth site
/// (the oldest entry goes). Unsafe: entries now leave.
fn ts_fix(
    t: &Target,
    growth: &[(&ProjectFile, &FileFacts, &Event)],
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    const CAP: &str = "10_000";
    let ctx = t.scan.ctx;
    let file = t.scan.file;
    let src = t.scan.src;
    let facts = t.scan.facts;
    let x = place_text(facts, &t.place);
    let unit = indent_unit(src, 2);
    let map_like = matches!(t.kind, CollectionKind::Map | CollectionKind::Set);
    if map_like && let Place::Field { class, .. } = &t.place {
        let per_entry = (0..facts.scopes.len()).find_map(|s| {
            let sc = &facts.scopes[s];
            let name = sc.name.as_deref()?;
            let is_end = ctx.options.is_teardown(name)
                || crate::facts::words(name)
                    .any(|w| matches!(w.as_str(), "end" | "remove" | "evict" | "expire" | "drop"));
            if sc.class != Some(*class) || !is_end {
                return None;
            }
            let key = sc.params.first()?;
            let body = sc.body.clone()?;
            let text = &src[body.clone()];
            let reads = [format!("{x}.get({key})"), format!("{x}.has({key})")];
            reads
                .iter()
                .any(|r| text.contains(r.as_str()))
                .then(|| (s, name.to_string(), key.clone(), body))
        });
        if let Some((scope, method, key, body)) = per_entry {
            return Some(fix(
                format!("delete the entry in `{method}()`, which ends it"),
                crate::diagnostic::Applicability::Unsafe,
                vec![append_to_body(
                    facts,
                    src,
                    scope,
                    &body,
                    &[format!("{x}.delete({key});")],
                    &unit,
                )?],
            ));
        }
    }
    // A cap at each growth site in this file, as its own statement.
    let ts = is_typescript(&file.path);
    let bang = if ts { "!" } else { "" };
    let mut edits = Vec::new();
    for (f, _, g) in growth {
        if t.kind == CollectionKind::Object && std::ptr::eq(*f, file) {
            edits.push(dictionary_cap(src, &x, &g.stmt, CAP, bang)?);
            continue;
        }
        if !std::ptr::eq(*f, file) || !src[g.stmt.clone()].starts_with(&format!("{x}.")) {
            return None;
        }
        let method = src[g.stmt.start + x.len() + 1..]
            .split('(')
            .next()
            .unwrap_or("");
        let edit = match (t.kind, method) {
            (CollectionKind::Array, "push") => insert_after_statement(
                src,
                g.stmt.start,
                g.stmt.end,
                &[format!("if ({x}.length > {CAP}) {x}.shift();")],
            ),
            (CollectionKind::Array, "unshift") => insert_after_statement(
                src,
                g.stmt.start,
                g.stmt.end,
                &[format!("if ({x}.length > {CAP}) {x}.pop();")],
            ),
            (CollectionKind::Map, "set") => insert_before_statement(
                src,
                g.stmt.start,
                &[format!(
                    "if ({x}.size >= {CAP}) {x}.delete({x}.keys().next().value{bang});"
                )],
            ),
            (CollectionKind::Set, "add") => insert_before_statement(
                src,
                g.stmt.start,
                &[format!(
                    "if ({x}.size >= {CAP}) {x}.delete({x}.values().next().value{bang});"
                )],
            ),
            _ => return None,
        };
        edits.push(edit);
    }
    if edits.is_empty() {
        return None;
    }
    Some(fix(
        format!("cap `{x}` at {CAP} entries, dropping the oldest"),
        crate::diagnostic::Applicability::Unsafe,
        edits,
    ))
}

/// `dict[key] = …;` capped: a new key first drops the oldest entry when `cap` are held
/// (`Object.keys` only runs for a key not yet present). Only for a plain key (a name, a member
/// path or a literal: it is read twice). `bang` asserts the oldest key is there (TypeScript).
fn dictionary_cap(
    src: &str,
    x: &str,
    stmt: &std::ops::Range<usize>,
    cap: &str,
    bang: &str,
) -> Option<crate::diagnostic::Edit> {
    let text = src.get(stmt.clone())?;
    let rest = text.strip_prefix(x)?.strip_prefix('[')?;
    let key = &rest[..rest.find(']')?];
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_$.'\"".contains(c))
        && rest[key.len() + 1..].trim_start().starts_with('=')
        && !rest[key.len() + 1..].trim_start().starts_with("==");
    if !plain {
        return None;
    }
    Some(super::fixes::insert_before_statement(
        src,
        stmt.start,
        &[format!(
            "if (!({key} in {x}) && Object.keys({x}).length >= {cap}) delete {x}[Object.keys({x})[0]{bang}];"
        )],
    ))
}

/// Rust: unbounded channels (always), and collections in statics or fields of long-lived
/// structs that grow and never shrink anywhere in the workspace (matched by field name, through
/// [`ProjectCtx::size_events`]).
fn check_rust(scan: Scan) -> Vec<Diagnostic> {
    let Scan {
        ctx,
        file,
        facts,
        src,
        meta,
        caches,
    } = scan;
    // Senders handed to another file's function whose sends there are reply-paced.
    let paced_params = ctx.paced_sender_params();
    // The sender went to a function (in any file) whose every send waits for a reply.
    // Or went into a struct's field whose every send, project-wide, waits for a reply.
    let paced_elsewhere = |start: usize| {
        facts
            .queue_handoffs
            .iter()
            .any(|(s, arg)| *s == start && paced_params.contains(arg))
            || {
                let mut kept = facts
                    .queue_field_handoffs
                    .iter()
                    .filter(|(s, _)| *s == start)
                    .peekable();
                kept.peek().is_some()
                    && kept.all(|(_, f)| ctx.field_sends_replied(&f.owner, &f.field))
            }
    };
    let mut out = Vec::new();
    if file.is_test {
        return out;
    }
    for e in &facts.events {
        match &e.kind {
            EventKind::UnboundedQueue { api, paced: None }
                if !caches && !paced_elsewhere(e.span.start) =>
            {
                out.push(
                meta.report(file.path.clone(),
                    e.span.clone(),
                    format!(
                        "`{api}` creates a channel with no bound: when consumers fall behind, every \
                         message piles up in memory and nothing pushes back on the producers"
                    ),
                )
                .with_help(
                    "use a bounded channel (`tokio::sync::mpsc::channel(N)`, \
                     `crossbeam_channel::bounded(N)`) and decide what happens when it is full: wait \
                     (`send().await`), drop (`try_send`), or disconnect the slow consumer",
                )
                .with_fixes(rust_fixes::event_fix(facts, src, e)),
                );
            }
            EventKind::PiledTasks { collection } if !caches => {
                out.push(
                    meta.report(
                        file.path.clone(),
                        e.span.clone(),
                        format!(
                            "every turn of this loop adds a spawned task's handle to `{collection}`, \
                             but nothing in the loop polls or drains it: the handles (and the \
                             finished tasks' outputs) pile up for as long as the loop runs"
                        ),
                    )
                    .with_help(
                        "poll the collection in the loop (`select!` on `next()`/`join_next()`), \
                         detach tasks you do not wait for, or track in-flight work with a counter \
                         or a channel instead of keeping every handle",
                    )
                    .with_fixes(crate::fixes::rust::caps::reap_piled(
                        src,
                        collection,
                        &e.stmt,
                    )),
                );
            }
            EventKind::Collection { kind, place } => {
                out.extend(rust_collection(scan, e, kind, place));
            }
            _ => {}
        }
    }
    out
}

/// A Rust collection declared as a field of a long-lived struct or as a `static` (`e`, its
/// declaration) that grows repeatedly somewhere in the workspace and never shrinks: the finding,
/// at the declaration, with the growth labelled.
fn rust_collection(
    scan: Scan,
    e: &Event,
    kind: &CollectionKind,
    place: &PlaceRef,
) -> Option<Diagnostic> {
    let Scan {
        ctx,
        file,
        facts,
        src,
        meta,
        caches,
    } = scan;
    let long_lived = ctx.long_lived_types();
    let place = facts.resolve(place);
    // The struct whose field this is (None for a static).
    let struct_name = match &place {
        Place::Field { class, .. } => facts.classes[*class].name.clone(),
        _ => None,
    };
    let (name, owner) = match &place {
        Place::Field { class, name } => {
            let c = &facts.classes[*class];
            let cname = c.name.clone()?;
            if !long_lived.contains(&cname) {
                // A value of unknown life: only a removal that keeps the key is judged (under
                // unbounded-collection, whatever the map's name).
                if caches {
                    return None;
                }
                return super::kept_keys::rust_kept_keys(scan, e, *kind, *class, name);
            }
            // A field without interior mutability cannot grow once the struct is
            // shared. (Registries of callbacks and senders: see below.)
            let ty = c
                .fields
                .iter()
                .find(|f| f.name == *name)
                .and_then(|f| f.ty.clone());
            if ty.as_deref().is_none_or(|t| {
                !crate::facts::is_interior_mutable(t) || crate::facts::keyed_by_static_names(t)
            }) {
                return None;
            }
            (
                name.clone(),
                format!("field `{name}` of `{cname}`, which lives for the whole process"),
            )
        }
        Place::Binding(b) => {
            let binding = &facts.bindings[*b];
            if binding.ty.as_deref().is_none_or(|t| {
                !crate::facts::is_interior_mutable(t) || crate::facts::keyed_by_static_names(t)
            }) {
                return None;
            }
            let n = binding.name.clone();
            (n.clone(), format!("static `{n}`"))
        }
        _ => return None,
    };
    if is_cache_name(&name) != caches {
        return None;
    }
    let mut growth = Vec::new();
    let mut bounded = false;
    for (f, g) in ctx.size_events(&name) {
        match g.kind {
            SizeKind::Grow => {
                // Growth by field name counts in files that deal with the struct
                // (its impl, or code holding it in an `Arc`); shrinking anywhere
                // counts, to stay on the safe side.
                let relevant = struct_name
                    .as_deref()
                    .is_none_or(|s| f.inputs.rust_types.iter().any(|t| t == s));
                if relevant && g.repeated {
                    growth.push((f, g));
                }
            }
            _ => bounded = true,
        }
    }
    // A registry of callbacks or senders that a subscribe method fills is
    // unremoved-listener's finding; one filled elsewhere (`join(id, tx)` per
    // connection) is a collection that only grows.
    let ty = match &place {
        Place::Field { class, name } => facts.classes[*class]
            .fields
            .iter()
            .find(|f| f.name == *name)
            .and_then(|f| f.ty.as_deref()),
        Place::Binding(b) => facts.bindings[*b].ty.as_deref(),
        _ => None,
    };
    let registry = ty.is_some_and(crate::facts::is_registry_type);
    if bounded
        || growth.is_empty()
        || (registry && ctx.size_events(&name).any(|(_, g)| g.subscribes))
    {
        return None;
    }
    let mut d = meta
        .report(
            file.path.clone(),
            e.span.clone(),
            format!(
                "{} in {owner} grows on every use, but nothing in the workspace ever removes \
                 entries (`remove`, `retain`, `clear`, `drain`, `truncate`, `pop`) or checks \
                 its `len()`",
                match kind {
                    CollectionKind::Map => "map",
                    CollectionKind::Set => "set",
                    _ => "vector",
                }
            ),
        )
        .with_help(
            "remove entries when their owner ends (e.g. on disconnect, or from a guard's \
             `Drop`), expire them by age with `retain`, or cap the size; for caches use a \
             bounded cache with a TTL (moka)",
        );
    d.fixes.extend(rust_collection_fix(
        file, facts, src, &place, *kind, &growth,
    ));
    for (f, g) in growth.into_iter().take(MAX_LABELS) {
        let label = format!("grows here ({})", g.scope);
        if std::ptr::eq(f, file) {
            d = d.with_label(g.span.clone(), label);
        } else {
            d = d.with_label_in(f.path.clone(), g.span.clone(), label);
        }
    }
    Some(d)
}

/// Rust: a map entry removed in the method of its struct that ends it (`end(&self, id)`), or a
/// list capped after each growth (`drain` of the oldest beyond 10,000); else a cap of 10,000
/// checked before each growth (statics too). Growth in this file only.
fn rust_collection_fix(
    file: &ProjectFile,
    facts: &FileFacts,
    src: &str,
    place: &Place,
    kind: CollectionKind,
    growth: &[(&ProjectFile, &SizeEvent)],
) -> Option<crate::diagnostic::Fix> {
    use crate::fixes::rust::{caps, collections};
    if growth.iter().any(|(f, _)| !std::ptr::eq(*f, file)) {
        return None;
    }
    let sites: Vec<_> = growth
        .iter()
        .map(|(_, g)| (g.span.clone(), g.stmt.clone()))
        .collect();
    let (name, ty) = match place {
        Place::Field { class, name } => (
            name,
            facts.classes[*class]
                .fields
                .iter()
                .find(|f| f.name == *name)
                .and_then(|f| f.ty.clone())?,
        ),
        Place::Binding(b) => (&facts.bindings[*b].name, facts.bindings[*b].ty.clone()?),
        _ => return None,
    };
    let specific = match (kind, place) {
        (CollectionKind::Map, Place::Field { class, .. }) => {
            let (_, g) = growth.first()?;
            facts.scopes.iter().find_map(|sc| {
                let method = sc.name.as_deref()?;
                let ends = crate::facts::words(method).any(|w| {
                    crate::facts::TEARDOWN_WORDS.contains(&w.as_str())
                        || matches!(w.as_str(), "end" | "remove" | "evict" | "expire" | "drop")
                });
                if sc.class != Some(*class) || !ends {
                    return None;
                }
                let (m, e) = collections::remove_in_method(src, name, &g.span, &sc.span)?;
                Some(crate::rules::fixes::fix(
                    format!("remove the entry in `{m}()`, which ends it"),
                    crate::diagnostic::Applicability::Unsafe,
                    vec![e],
                ))
            })
        }
        (_, Place::Field { .. }) if ty.contains("Vec") => collections::cap_list(src, name, &sites),
        _ => None,
    };
    specific.or_else(|| caps::cap_before_growth(src, name, caps::Shape::of(&ty)?, &sites))
}

/// `m.set(key, value)` at `g` stores only what the same function just looked up by `key` in a
/// table (`value = SQL_MIGRATIONS[key]`, `= tables.codecs[key]`) after a miss there throws or
/// returns (`if (value === undefined) throw …`, `if (!value) return`): the map holds at most one
/// entry per row of that table (bullmq's SQL-by-file-name caches).
fn keyed_by_a_table(src: &str, facts: &FileFacts, g: &Event) -> bool {
    let Some(call) = src.get(g.span.clone()) else {
        return false;
    };
    let Some((key, value)) = call
        .split_once(".set(")
        .and_then(|(_, args)| args.rsplit_once(')'))
        .and_then(|(args, _)| args.split_once(','))
        .map(|(k, v)| (k.trim(), v.trim()))
    else {
        return false;
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    if !word(key) || !word(value) {
        return false;
    }
    let owner = &facts.scopes[named_owner(facts, g.scope)];
    let Some(before) = src.get(owner.span.start..g.span.start) else {
        return false;
    };
    let lookup = format!("{value} = ");
    before.match_indices(&lookup).any(|(i, _)| {
        let rhs = before[i + lookup.len()..]
            .split([';', '\n'])
            .next()
            .unwrap_or("")
            .trim();
        // `TABLE[key]`, or a subscript made from the key (`TABLE[`${key}.sql`]`).
        let Some(table) = rhs
            .strip_suffix(']')
            .and_then(|r| r.split_once('['))
            .filter(|(_, index)| crate::facts::mentions(index, key))
            .map(|(table, _)| table)
        else {
            return false;
        };
        let after = &before[i..];
        word(table.split('.').next().unwrap_or(""))
            && table.split('.').all(word)
            && [
                format!("if ({value} === undefined)"),
                format!("if (!{value})"),
                format!("if ({value} == null)"),
            ]
            .iter()
            .any(|test| {
                after.split_once(test.as_str()).is_some_and(|(_, rest)| {
                    let rest = rest.trim_start().trim_start_matches('{').trim_start();
                    rest.starts_with("throw") || rest.starts_with("return")
                })
            })
    })
}

/// `scope` is (inside) a function named for registering something — its first word is
/// `register`, `define`, `declare` or `install` — outside any handler or loop of its own.
fn registration_api(facts: &FileFacts, scope: crate::facts::ScopeId) -> bool {
    let owner = named_owner(facts, scope);
    let direct = facts
        .ancestors(scope)
        .take_while(|&s| s != owner)
        .all(|s| !matches!(facts.scopes[s].kind, crate::facts::ScopeKind::Callback(_)));
    direct
        && facts.scopes[owner].name.as_deref().is_some_and(|n| {
            crate::facts::words(n).next().is_some_and(|w| {
                matches!(w.as_str(), "register" | "define" | "declare" | "install")
            })
        })
}

/// Growth that happens more than once per owner: not at start-up, not while a constructor
/// fills a fresh instance (a long-lived object is constructed once).
pub(crate) fn grows_repeatedly(facts: &FileFacts, e: &Event) -> bool {
    !matches!(
        event_lifetime(facts, e.scope, e.in_loop),
        Lifetime::Once | Lifetime::PerInstance
    ) && !fills_in_constructor(facts, e)
}

/// `e` runs while a constructor fills its fresh instance: in the constructor's body, in a loop
/// there, or in a `.forEach`/`.map` callback over a table (`Object.keys(defaults).forEach(k =>
/// this.table[k] = …)`) — a finite pass per instance, not growth with use.
fn fills_in_constructor(facts: &FileFacts, e: &Event) -> bool {
    for s in facts.ancestors(e.scope) {
        match &facts.scopes[s].kind {
            ScopeKind::Method {
                constructor: true, ..
            } => return true,
            ScopeKind::Callback(r) if r.kind == CallbackKind::Iteration => {}
            _ => return false,
        }
    }
    false
}
