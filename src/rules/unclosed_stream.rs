//! unclosed-stream: a file stream, file handle or compression stream that is not closed on
//! every path (errors and early returns included), nor handed to `pipeline`, nor handed on;
//! a read stream piped into an HTTP response that is not destroyed when the client goes away.
//! Rust: `mem::forget`, `Box::leak`, `ManuallyDrop::new` outside run-once code.

use super::*;
use crate::facts::{CallbackKind, Event, PathKind, ScopeKind};

pub struct UnclosedStream;

static META: RuleMeta = RuleMeta {
    id: "unclosed-stream",
    summary: "Streams and file handles not closed on every path; leaked RAII values",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

const RESPONSE_NAMES: &[&str] = &["res", "response", "reply", "ctx.res", "c.res"];

impl Rule for UnclosedStream {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        let facts = ctx.facts;
        let mut out = Vec::new();
        for e in &facts.events {
            if ctx.out_of_time() {
                break; // the engine reports the time-out
            }
            match &e.kind {
                EventKind::RawFdLeak { api, exit } => {
                    if event_lifetime(facts, e.scope, e.in_loop) == Lifetime::Once {
                        continue;
                    }
                    out.push(
                        META.report(
                            ctx.path.to_path_buf(),
                            e.span.clone(),
                            format!(
                                "the file descriptor made by `{api}` is a raw integer with no \
                                 `Drop`, and a later `?` returns early before anything owns or \
                                 closes it: on that error path the descriptor stays open for the \
                                 life of the process"
                            ),
                        )
                        .with_label(exit.clone(), "returns here with the descriptor still open")
                        .with_fixes(own_raw_fd_fix(ctx, e))
                        .with_help(
                            "wrap the descriptor in its owner right after creating it \
                             (`OwnedFd::from_raw_fd(fd)`, `UnixListener::from_raw_fd(fd)`) so every \
                             early return closes it, or close it before returning the error",
                        ),
                    );
                }
                EventKind::Forget { api } => {
                    if event_lifetime(facts, e.scope, e.in_loop) == Lifetime::Once {
                        continue;
                    }
                    out.push(
                        META.report(ctx.path.to_path_buf(),
                            e.span.clone(),
                            format!(
                                "`{api}` in code that runs more than once: the value is never dropped, \
                                 so the file, socket, child process or guard it owns stays open for the \
                                 life of the process — once per call"
                            ),
                        )
                        .with_help(
                            "let the value drop (RAII closes it), or keep it in the owner that should \
                             hold it; leak only in run-once start-up code",
                        )
                        .with_fixes(drop_instead_of_forget(ctx.source, e)),
                    );
                }
                EventKind::Stream {
                    api,
                    handle,
                    file_handle,
                } => {
                    if api.ends_with("createReadStream") && closes_itself(ctx, e, handle) {
                        continue;
                    }
                    if let Some(why) = judge(facts, e, handle, *file_handle)
                        .filter(|_| !(*file_handle && closed_next(ctx, e, handle)))
                    {
                        out.push(
                            META.report(ctx.path.to_path_buf(),
                                e.span.clone(),
                                format!("`{api}(..)` {why}"),
                            )
                            .with_help(
                                "hand the streams to `pipeline(...)` from 'node:stream/promises' (it \
                                 destroys every stream on error or early close), or close it in a \
                                 `finally` (`await handle.close()`, `stream.destroy()`)",
                            )
                            .with_fixes(
                                destroy_on_close_fix(ctx, e, handle)
                                    .or_else(|| close_in_finally_fix(ctx, e, handle, *file_handle)),
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// `mem::forget(value)` → `drop(value)`: the value is dropped (and what it owns closed) where
/// it used to be leaked. Unsafe: the drop runs now (a file is flushed and closed there).
fn drop_instead_of_forget(src: &str, e: &crate::facts::Event) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let path = src.get(e.span.clone())?;
    let last = path.rsplit("::").next()?.trim();
    if !src[e.span.end..].starts_with('(') {
        return None;
    }
    let end = call_end(src, e.span.end)?;
    let inner = src.get(e.span.end + 1..end - 1)?.trim();
    if path.ends_with("ManuallyDrop::new") {
        // `ManuallyDrop<T>` derefs to `T`: the value itself works where the wrapper did,
        // unless the code reaches into the wrapper or names its type.
        let stmt = src.get(e.stmt.clone()).unwrap_or("");
        if [
            "ManuallyDrop::into_inner",
            "ManuallyDrop::drop",
            "ManuallyDrop::take",
        ]
        .iter()
        .any(|m| src.contains(m))
            || stmt.contains("ManuallyDrop<")
        {
            return None;
        }
        return Some(fix(
            format!("let the value drop (and close) at the end of its scope: `{inner}`"),
            crate::diagnostic::Applicability::Unsafe,
            vec![replace(e.span.start..end, inner)],
        ));
    }
    if last == "leak" {
        // `Box::leak(x.into_boxed_str())` for a `&'static str`: an owned value changes the
        // type the caller sees, so a reviewer applies it by hand.
        let owned = inner
            .strip_suffix(".into_boxed_str()")
            .or_else(|| inner.strip_suffix(".into_boxed_slice()"))
            .unwrap_or(inner);
        return Some(fix(
            format!(
                "keep an owned value (`{owned}`, or an `Arc<str>` to share it) instead of leaking                  one per call, and change the `&'static` type that needed the leak"
            ),
            crate::diagnostic::Applicability::DisplayOnly,
            vec![replace(e.span.start..end, owned)],
        ));
    }
    if last != "forget" {
        return None;
    }
    Some(fix(
        "drop the value instead of leaking it: `drop(..)`",
        crate::diagnostic::Applicability::Unsafe,
        vec![replace(e.span.clone(), "drop")],
    ))
}

/// A stream piped into a response: destroy it when the response closes (the client went away
/// or the transfer ended). `createReadStream(f).pipe(res);` is split to name the stream first.
/// Unsafe: an aborted download now closes the file.
fn destroy_on_close_fix(
    ctx: &FileCtx,
    e: &Event,
    handle: &PlaceRef,
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let title = |dest: &str| format!("destroy the stream when `{dest}` closes");
    match facts.resolve(handle) {
        Place::Binding(b) if !facts.is_module_binding(b) => {
            let name = &facts.bindings[b].name;
            let pipe = facts
                .events_on(&Place::Binding(b))
                .find_map(|p| match &p.kind {
                    EventKind::Pipe { to, .. } => {
                        let to = facts.resolve(to);
                        is_response(facts, &to).then(|| (p, place_text(facts, &to)))
                    }
                    _ => None,
                })?;
            let (p, dest) = pipe;
            Some(fix(
                title(&dest),
                crate::diagnostic::Applicability::Unsafe,
                vec![insert_after_statement(
                    src,
                    p.stmt.start,
                    p.stmt.end,
                    &[format!("{dest}.on('close', () => {name}.destroy());")],
                )],
            ))
        }
        Place::Discarded | Place::Unknown => {
            // `SOURCE.pipe(DEST);` as a statement of its own.
            if e.stmt.start != e.span.start {
                return None;
            }
            let source_end = call_end(src, e.span.end)?;
            let stmt = src[e.stmt.clone()].trim_end();
            // (In broken code the call can run past its statement: no fix then.)
            let rest = src.get(source_end..e.stmt.start + stmt.len())?.trim_start();
            let dest = rest
                .strip_prefix(".pipe(")?
                .trim_end_matches(';')
                .trim_end()
                .strip_suffix(')')?
                .trim();
            if dest.is_empty()
                || !dest
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                return None;
            }
            let name = unique_name("stream", |n| name_taken_near(facts, e.scope, n));
            let source = &src[e.span.start..source_end];
            Some(fix(
                title(dest),
                crate::diagnostic::Applicability::Unsafe,
                vec![replace(
                    e.stmt.start..e.stmt.start + stmt.len(),
                    [
                        format!("const {name} = {source};"),
                        format!("{dest}.on('close', () => {name}.destroy());"),
                        format!("{name}.pipe({dest});"),
                    ]
                    .join(&format!(
                        "{}{}",
                        newline(src),
                        line_indent(src, e.stmt.start)
                    )),
                )],
            ))
        }
        _ => None,
    }
}

fn is_response(facts: &FileFacts, p: &Place) -> bool {
    RESPONSE_NAMES.contains(&place_text(facts, p).as_str())
}

/// Why the stream opened at `e` leaks, or `None` when every path closes or hands it on.
/// A file read stream consumed to its end by this code — a `'data'` listener on it, or piped
/// into something other than an HTTP response — with Node's default `autoClose`: it closes its
/// descriptor itself on `'end'` or `'error'` (mariadb's LOCAL INFILE reader). A read stream
/// nothing consumes, `autoClose: false`, or one piped into a response (which can stop reading
/// when the client goes away) is judged as before.
fn closes_itself(ctx: &FileCtx, e: &Event, handle: &PlaceRef) -> bool {
    let facts = ctx.facts;
    if ctx
        .source
        .get(e.stmt.clone())
        .is_none_or(|t| t.contains("autoClose"))
    {
        return false;
    }
    let place = facts.resolve(handle);
    if !matches!(place, Place::Binding(_)) {
        return false;
    }
    facts.events_on(&place).any(|x| match &x.kind {
        EventKind::Listen(l) => l.event.as_deref() == Some("data"),
        EventKind::Pipe { to, .. } => !is_response(facts, &facts.resolve(to)),
        _ => false,
    })
}

/// `const fd = await open(path, 'r'); await fd.close();`: the statement right after the one
/// that opens the handle closes it, so nothing can fail in between (a probe that the file can
/// be opened). A `finally` adds nothing there.
fn closed_next(ctx: &FileCtx, e: &Event, handle: &PlaceRef) -> bool {
    let place = ctx.facts.resolve(handle);
    ctx.facts.events_on(&place).any(|r| {
        matches!(&r.kind, EventKind::Release { method, .. } if method == "close")
            && r.scope == e.scope
            && e.stmt.end <= r.span.start
            && ctx
                .source
                .get(e.stmt.end..r.span.start)
                .is_some_and(|between| matches!(between.trim(), "" | "await" | ";"))
    })
}

fn judge(facts: &FileFacts, e: &Event, handle: &PlaceRef, file_handle: bool) -> Option<String> {
    let place = facts.resolve(handle);
    // `createReadStream(f).pipe(res)` without a variable.
    let chained_pipe = facts.events.iter().find_map(|p| match &p.kind {
        EventKind::Pipe {
            to, source_start, ..
        } if *source_start == e.span.start => Some(facts.resolve(to)),
        _ => None,
    });
    match &place {
        Place::Discarded | Place::Unknown if chained_pipe.is_some() => {
            let to = chained_pipe?;
            is_response(facts, &to).then(|| {
                format!(
                    "is piped into `{}` and never destroyed: when the client goes away mid-transfer \
                     `.pipe()` does not close the source, and the file descriptor stays open",
                    place_text(facts, &to)
                )
            })
        }
        Place::Discarded => {
            Some("is opened and its stream thrown away: nothing can ever close it".into())
        }
        Place::Binding(b) if !facts.is_module_binding(*b) => {
            if escapes(facts, &place) || flow_closure(facts, &place).len() > 1 {
                return None;
            }
            let binding = &facts.bindings[*b];
            let releases: Vec<&Event> = facts
                .events_on(&place)
                .filter(|r| {
                    matches!(&r.kind, EventKind::Release { method, .. }
                        if matches!(method.as_str(), "end" | "close" | "destroy"))
                })
                .collect();
            // Piped into a response: destroyed when the response closes?
            for p in facts.events_on(&place) {
                if let EventKind::Pipe { to, .. } = &p.kind {
                    let to = facts.resolve(to);
                    if is_response(facts, &to) {
                        let on_close = releases.iter().any(|r| in_close_handler(facts, r.scope));
                        if !on_close {
                            return Some(format!(
                                "is piped into `{}` but not destroyed when the client goes away \
                                 (`.pipe()` does not close the source): the descriptor leaks on \
                                 every aborted download",
                                place_text(facts, &to)
                            ));
                        }
                        return None;
                    }
                }
            }
            if releases.iter().any(|r| r.path == PathKind::Finally) {
                return None;
            }
            if releases.is_empty() {
                return Some(format!(
                    "is kept in `{}` and never ended, closed or destroyed: the file descriptor \
                     stays open",
                    binding.name
                ));
            }
            if file_handle {
                return Some(format!(
                    "returns a FileHandle kept in `{}` that is closed only on the success path; an \
                     error before `close()` leaks the descriptor (close it in `finally`)",
                    binding.name
                ));
            }
            // An early exit between opening and the first close skips it.
            let first_release = releases.iter().map(|r| r.span.start).min()?;
            let owner = named_owner(facts, e.scope);
            let early = facts.events.iter().find(|x| {
                matches!(x.kind, EventKind::Exit { conditional: true })
                    && named_owner(facts, x.scope) == owner
                    && e.span.end <= x.span.start
                    && x.span.start < first_release
                    && !matches!(facts.scopes[x.scope].kind, ScopeKind::Callback(_))
            });
            early.map(|_| {
                format!(
                    "is kept in `{}`, but an early `return`/`throw` after opening it skips the \
                     `end()`/`close()`: that path leaks the file descriptor",
                    binding.name
                )
            })
        }
        // Stored in a field or module binding, returned, passed on: its owner closes it.
        _ => None,
    }
}

/// A raw descriptor `let fd = make()?;` handed to its owner later (`X::from_raw_fd(fd)`, once):
/// own it in an `OwnedFd` guard right after creating it, so every early `?` closes it, and
/// hand the guard's descriptor over at the end (`from_raw_fd(IntoRawFd::into_raw_fd(guard))`,
/// the same number). Safe: nothing else changes — the success path hands over the same fd.
fn own_raw_fd_fix(ctx: &FileCtx, e: &Event) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let src = ctx.source;
    let facts = ctx.facts;
    // The acquisition is the whole `let` statement, or the expression it initialises.
    let line = line_start(src, e.span.start);
    let begin = if src.get(e.span.clone())?.starts_with("let ") {
        e.span.start
    } else {
        let rest = src.get(line..)?;
        line + (rest.len() - rest.trim_start().len())
    };
    let text = src.get(begin..)?;
    let decl = text.strip_prefix("let ")?.trim_start();
    let decl = decl.strip_prefix("mut ").unwrap_or(decl);
    let (name, _) = decl.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let semi = e.span.start.max(begin) + src.get(e.span.start.max(begin)..)?.find(';')?;
    if src[begin..semi].contains('{') {
        return None;
    }
    let owner = &facts.scopes[facts.named_owner(e.scope)];
    let body_end = owner.body.as_ref().map_or(owner.span.end, |b| b.end);
    let rest = src.get(semi..body_end)?;
    let handoff = format!("from_raw_fd({name})");
    let mut hits = rest.match_indices(&handoff);
    let (at, _) = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    let guard = unique_name(&format!("{name}_guard"), |n| name_in_use(facts, src, n));
    let arg = semi + at + "from_raw_fd(".len();
    Some(fix(
        format!("own `{name}` in an `OwnedFd` until it is handed over, so every `?` closes it"),
        crate::diagnostic::Applicability::Safe,
        vec![
            insert_after_statement(
                src,
                begin,
                semi + 1,
                &[format!(
                    "let {guard} = unsafe {{ <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd({name}) }};"
                )],
            ),
            replace(
                arg..arg + name.len(),
                format!("std::os::fd::IntoRawFd::into_raw_fd({guard})"),
            ),
        ],
    ))
}

/// A stream or FileHandle in a local that an early exit or an error can skip closing: the rest
/// of its function goes in a `try` whose `finally` closes it — `await h.close()` for a
/// FileHandle, else the release the code already uses (`end()`, `close()`, `destroy()`),
/// `end()` when there is none. Unsafe: the stream is now closed on every way out, also when
/// the code meant to hand it on after an error (it should not).
fn close_in_finally_fix(
    ctx: &FileCtx,
    e: &Event,
    handle: &PlaceRef,
    file_handle: bool,
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let place = facts.resolve(handle);
    let src = ctx.source;
    if place == Place::Discarded {
        // `fs.createWriteStream(p);` on its own: end it right there (the file is created and
        // closed), or destroy a read stream nobody reads.
        let stmt = src.get(e.stmt.clone())?;
        let method = if stmt.contains("createWriteStream(") {
            "end"
        } else if stmt.contains("createReadStream(") {
            "destroy"
        } else {
            return None;
        };
        let semi = stmt.trim_end().strip_suffix(';')?;
        if e.stmt.start != e.span.start || !semi.ends_with(')') {
            return None;
        }
        return Some(fix(
            format!("{method} the stream right away (`.{method}()`)"),
            crate::diagnostic::Applicability::Unsafe,
            vec![insert(e.stmt.start + semi.len(), format!(".{method}()"))],
        ));
    }
    let Place::Binding(b) = place else {
        return None;
    };
    let name = facts.bindings[b].name.clone();
    // Read by listeners or a pipe after the function returns: a `finally` would close it
    // before it is read. Destroy it once it has been read to the end, or has failed.
    let read_later = facts
        .events_on(&place)
        .any(|x| matches!(x.kind, EventKind::Listen(_) | EventKind::Pipe { .. }));
    if read_later && !file_handle {
        return Some(fix(
            format!("destroy `{name}` once it has been read to the end or has failed"),
            crate::diagnostic::Applicability::Unsafe,
            vec![insert_after_statement(
                src,
                e.stmt.start,
                e.stmt.end,
                &[
                    format!("{name}.once('end', () => {name}.destroy());"),
                    format!("{name}.once('error', () => {name}.destroy());"),
                ],
            )],
        ));
    }
    let release = facts.events_on(&place).find_map(|r| match &r.kind {
        EventKind::Release { method, .. }
            if matches!(method.as_str(), "end" | "close" | "destroy") =>
        {
            Some(method.clone())
        }
        _ => None,
    });
    let line = if file_handle {
        // The handle was awaited where it was opened, so the function can await its close.
        if !ctx.source.get(e.stmt.clone())?.contains("await ") {
            return None;
        }
        format!("await {name}.close();")
    } else {
        format!("{name}.{}();", release.as_deref().unwrap_or("end"))
    };
    let body = facts.scopes[e.scope].body.as_ref()?;
    let edit = wrap_rest_in_finally(
        ctx.source,
        &e.stmt,
        body,
        &[line],
        &indent_unit(ctx.source, 2),
    )?;
    Some(fix(
        format!("close `{name}` in a `finally` around the rest of the function"),
        crate::diagnostic::Applicability::Unsafe,
        vec![edit],
    ))
}

/// Inside a handler of a close-like event (`res.on('close', …)`).
fn in_close_handler(facts: &FileFacts, scope: crate::facts::ScopeId) -> bool {
    facts.ancestors(scope).any(|s| {
        matches!(&facts.scopes[s].kind, ScopeKind::Callback(r)
            if matches!(r.kind, CallbackKind::EventHandler | CallbackKind::OnceHandler)
                && r.event.as_deref().is_some_and(|ev| matches!(ev, "close" | "aborted" | "error" | "finish")))
    })
}
