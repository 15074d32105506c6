//! Bounding an unbounded channel whose ends leave the function that creates it: the
//! constructor, the types of what holds the ends (struct fields, the function's return type,
//! parameters of this file's functions it is handed to) and every send into it change together.
//! The result is re-parsed before the fix is offered.

use std::ops::Range;

use syn::Expr;

use super::syntax::{self, Outline};
use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Edit, Fix};

/// Which channel library, by what a bounded twin looks like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// `tokio::sync::mpsc`: `channel(N)`, `Sender`/`Receiver`, `send(..).await` or `try_send`.
    Tokio,
    /// `futures::channel::mpsc`: `channel(N)`, `Sender`/`Receiver`.
    Futures,
    /// `std::sync::mpsc`: `sync_channel(N)`, `SyncSender`; `send` blocks when full.
    Std,
    /// `crossbeam_channel`/`flume`: `bounded(N)`, the same types; `send` blocks when full.
    Blocking,
    /// `async_channel`: `bounded(N)`, the same types; `send(..).await` waits when full.
    Async,
}

impl Flavor {
    /// The library of the constructor `name` (with no arguments, `empty`), as the call
    /// (`path_text`) or else the file's imports (`src`) say.
    fn of(name: &str, empty: bool, path_text: &str, src: &str) -> Option<Flavor> {
        if !empty {
            return None;
        }
        let blocking = path_text.contains("crossbeam") || path_text.contains("flume");
        let futures = [
            "futures::channel::mpsc",
            "futures_channel::mpsc",
            "futures::sync::mpsc",
        ];
        Some(match name {
            "unbounded_channel" => Flavor::Tokio,
            "channel" => Flavor::Std,
            "unbounded" if blocking => Flavor::Blocking,
            "unbounded" if path_text.contains("async_channel") => Flavor::Async,
            "unbounded" if futures.iter().any(|m| src.contains(m)) => Flavor::Futures,
            "unbounded"
                if ["crossbeam_channel", "crossbeam::channel", "flume"]
                    .iter()
                    .any(|m| src.contains(m)) =>
            {
                Flavor::Blocking
            }
            "unbounded" if src.contains("async_channel") => Flavor::Async,
            _ => return None,
        })
    }

    /// The bounded twin's constructor.
    fn bounded(self) -> &'static str {
        match self {
            Flavor::Tokio | Flavor::Futures => "channel",
            Flavor::Std => "sync_channel",
            Flavor::Blocking | Flavor::Async => "bounded",
        }
    }
}

const CAP: usize = 1024;

/// `let (tx, rx) = mpsc::unbounded_channel();` (the statement `stmt`, the call `call`):
/// bounded at 1,024 messages. Tokio: sends in async code wait for room (`send(..).await`),
/// sends in sync code (a `Drop`, a callback) drop the message when the channel is full
/// (`try_send`); std, crossbeam, flume: `send` blocks while the channel is full. The types of
/// the struct fields the ends are stored in, of the function's return type and of this file's
/// functions the ends are handed to change with it. `None` when an end goes somewhere this
/// cannot follow. Unsafe: producers now wait (or drop) instead of the queue growing.
pub(super) fn bound_everywhere(src: &str, stmt: &Range<usize>, call: &Range<usize>) -> Option<Fix> {
    let Expr::Call(c) = print::parse::<Expr>(src.get(call.clone())?)? else {
        return None;
    };
    let Expr::Path(p) = &*c.func else {
        return None;
    };
    let mut path = p.path.clone();
    let path_text = src.get(call.clone())?;
    let last = path.segments.last_mut()?;
    let flavor = Flavor::of(&last.ident.to_string(), c.args.is_empty(), path_text, src)?;
    let bounded = flavor.bounded();
    last.ident = syn::Ident::new(bounded, last.ident.span());
    let cap = syn::LitInt::new(&CAP.to_string(), proc_macro2::Span::call_site());
    let new_call = print::expr(&syn::parse_quote!(#path(#cap)))?;
    if matches!(flavor, Flavor::Blocking | Flavor::Async) {
        return same_types(src, call, &new_call, flavor);
    }

    let outline = Outline::of(src)?;
    let func = outline.fn_at(call.start)?.clone();
    let (tx, rx) = print::tuple_pair(src, stmt)?;
    let body = src.get(func.body.clone())?;
    let senders = clones_of(body, &tx);
    let ends: Vec<String> = senders.iter().cloned().chain([rx.clone()]).collect();
    if !ends.iter().all(|e| moves_followed(body, e)) {
        return None;
    }

    let mut edits = vec![edit(call.clone(), new_call.clone())];
    // Type ranges to retype, and the places sends go through (`self.tx`, a parameter).
    let mut types: Vec<Range<usize>> = Vec::new();
    types.push(stmt.start..call.start);
    let mut sends: Vec<(Range<usize>, String)> = senders
        .iter()
        .map(|s| (func.span.clone(), s.clone()))
        .collect();
    if let Some(out) = &func.output {
        types.push(out.clone());
    }
    // Struct literals and tuple-struct calls in the function that take an end.
    for (name, fields) in constructions(src, &func.body, &ends, func.impl_ty.as_deref()) {
        let s = outline.struct_named(&name)?;
        for (field, is_sender) in fields {
            let (_, ty) = s.fields.iter().find(|(f, _)| *f == field)?;
            types.push(ty.clone());
            if !is_sender {
                continue;
            }
            let place = format!("self.{field}");
            for (ty_name, r) in &outline.impls {
                if *ty_name != name {
                    continue;
                }
                // The field may only be sent through (or asked whether it is closed).
                let text = src.get(r.clone())?;
                for (i, _) in text.match_indices(&format!(".{field}")) {
                    let after = &text[i + field.len() + 1..];
                    if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    if !(after.starts_with(".send(")
                        || after.starts_with(".try_send(")
                        || after.starts_with(".is_closed()"))
                    {
                        return None;
                    }
                }
                sends.push((r.clone(), place.clone()));
            }
        }
    }
    // Ends handed to a function of this file: its parameter's type, and its sends.
    for (callee, index, end) in handoffs(body, &ends) {
        let Some(f) = outline
            .fns
            .iter()
            .find(|f| f.name == callee && f.impl_ty.is_none())
        else {
            if matches!(callee.as_str(), "drop" | "Some" | "Ok") {
                continue;
            }
            return None;
        };
        let (param, ty) = f.params.get(index)?;
        types.push(ty.clone());
        if senders.contains(&end) && param != "_" {
            sends.push((f.span.clone(), param.clone()));
        }
    }
    for r in types {
        edits.extend(retype(src, &r, flavor));
    }
    let (mut waits, mut drops) = (0, 0);
    for (within, via) in &sends {
        for m in &outline.calls {
            if !within.contains(&m.call.start) || m.receiver != *via {
                continue;
            }
            match (flavor, m.method.as_str()) {
                (Flavor::Futures, "unbounded_send") => return None,
                (Flavor::Tokio, "send") => {}
                _ => continue,
            }
            if src[m.call.end..].trim_start().starts_with(".await") {
                continue;
            }
            if outline.is_async_at(m.name.start) {
                edits.push(edit(m.call.end..m.call.end, ".await"));
                waits += 1;
            } else {
                edits.push(edit(m.name.clone(), "try_send"));
                if src[m.call.end..].starts_with(".is_err()") {
                    let e = m.call.end;
                    edits.push(edit(
                        e..e + ".is_err()".len(),
                        ".is_err_and(|e| matches!(e, tokio::sync::mpsc::error::TrySendError::Closed(_)))",
                    ));
                }
                drops += 1;
            }
        }
    }
    edits.sort_by_key(|e| e.range.start);
    edits.dedup_by(|a, b| a.range == b.range);
    let fixed = syntax::apply(src, &edits)?;
    if !syntax::parses(&fixed) {
        return None;
    }
    let what = match flavor {
        Flavor::Tokio => match (waits, drops) {
            (0, 0) => String::new(),
            (_, 0) => ": its sends wait for room (`send(..).await`)".into(),
            (0, _) => ": its sends are in sync code and drop a message when it is full \
                       (`try_send`)"
                .into(),
            _ => ": sends in async code wait for room (`send(..).await`), sends in sync code \
                  drop a message when it is full (`try_send`)"
                .into(),
        },
        Flavor::Futures => String::new(),
        Flavor::Std | Flavor::Blocking | Flavor::Async => {
            ": `send` blocks while 1,024 messages wait (make sure the receiver runs meanwhile)"
                .into()
        }
    };
    fix(
        format!(
            "bound the channel of `{}()` at 1,024 messages (`{new_call}`){what}",
            func.name
        ),
        Applicability::Unsafe,
        edits,
    )
}

/// crossbeam, flume and async-channel: the bounded constructor returns the same `Sender` and
/// `Receiver` types, so wherever the ends go (fields, other files, other crates) the code
/// compiles unchanged and only the constructor changes. A full channel then makes `send` wait
/// (block, or `.await` for async-channel) — the backpressure. `try_send` would start failing
/// with `Full` where it never did, and what its error path does (drop, retry, panic) is not
/// known here: with a `try_send` in the file, no machine fix.
fn same_types(src: &str, call: &Range<usize>, new_call: &str, flavor: Flavor) -> Option<Fix> {
    if src.contains(".try_send(") {
        return None;
    }
    let what = if flavor == Flavor::Async {
        "`send(..).await` waits while 1,024 messages wait"
    } else {
        "`send` blocks while 1,024 messages wait (make sure the receiver runs meanwhile)"
    };
    fix(
        format!("bound the channel at 1,024 messages (`{new_call}`, the same types): {what}"),
        Applicability::Unsafe,
        vec![edit(call.clone(), new_call)],
    )
}

/// Whether every use of the end `name` in `body` is one this fix follows: a method of the
/// channel API, a field of a struct literal or an argument of a tuple struct or of a plain
/// function (both checked by the caller), `drop(..)`, a tuple, or the function's value. An end
/// stored (`x = tx`), pushed (`v.push(tx)`) or wrapped (`Arc::new(tx)`) goes where its type
/// cannot be followed.
fn moves_followed(body: &str, name: &str) -> bool {
    const API: &[&str] = &[
        ".send(",
        ".try_send(",
        ".clone()",
        ".is_closed()",
        ".recv(",
        ".try_recv(",
        ".iter()",
        ".try_iter()",
        ".recv_timeout(",
        ".blocking_recv(",
        ".close()",
        ".into_iter()",
        ".unbounded_send(",
        ".len()",
        ".is_empty()",
    ];
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    for (i, _) in body.match_indices(name) {
        let after = &body[i + name.len()..];
        if word(body[..i].chars().next_back()) || word(after.chars().next()) {
            continue;
        }
        if API.iter().any(|a| after.starts_with(a)) {
            continue;
        }
        let head = body[..i].trim_end();
        // The `let (tx, rx)` pattern, or a clone's binding.
        if head.ends_with("let")
            || head.ends_with("let mut")
            || head.ends_with("(") && {
                let h = head[..head.len() - 1].trim_end();
                h.ends_with("let") || h.ends_with("let mut")
            }
        {
            continue;
        }
        if head.ends_with('=') || head.ends_with('[') || head.ends_with('&') {
            return false;
        }
        // The innermost open bracket before the use.
        let mut depth = 0i32;
        let mut open = None;
        for (k, c) in body[..i].char_indices().rev() {
            match c {
                ')' | '}' | ']' => depth += 1,
                '(' | '{' | '[' if depth > 0 => depth -= 1,
                '(' | '{' | '[' => {
                    open = Some((k, c));
                    break;
                }
                _ => {}
            }
        }
        let Some((k, c)) = open else {
            return false;
        };
        let before = body[..k].trim_end();
        let callee_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |j| j + 1);
        let callee = &before[callee_start..];
        let dotted = before[..callee_start].ends_with('.');
        match c {
            '[' => return false,
            '(' if dotted => return false,
            '(' if callee.contains("::") && !matches!(callee, "std::mem::drop" | "mem::drop") => {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// `name` and the locals cloned from it (`let t2 = tx.clone();`), to a fixpoint.
fn clones_of(body: &str, name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    loop {
        let before = out.len();
        for s in out.clone() {
            for (i, _) in body.match_indices(&format!("{s}.clone()")) {
                let Some(h) = body[..i].trim_end().strip_suffix('=') else {
                    continue;
                };
                let line = &h[h.rfind('\n').map_or(0, |n| n + 1)..];
                if let Some(n) = line.trim().strip_prefix("let ") {
                    let n = n.trim().trim_start_matches("mut ").trim().to_string();
                    if !n.is_empty() && is_ident(&n) && !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

fn is_ident(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The structs built in `body` from an end: each struct's name and the fields (tuple fields by
/// index) an end goes in, with whether it is a sender (the first end of `ends` and its clones
/// come before the receiver, the last).
fn constructions(
    src: &str,
    body: &Range<usize>,
    ends: &[String],
    self_ty: Option<&str>,
) -> Vec<(String, Vec<(String, bool)>)> {
    let Some(text) = src.get(body.clone()) else {
        return Vec::new();
    };
    let rx = ends.last().cloned().unwrap_or_default();
    let mut out: Vec<(String, Vec<(String, bool)>)> = Vec::new();
    let mut record = |name: String, field: String, end: &str| {
        let sender = end != rx;
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, fs)) => fs.push((field, sender)),
            None => out.push((name, vec![(field, sender)])),
        }
    };
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if !(c == '{' || c == '(') || i == 0 {
            continue;
        }
        let head = text[..i].trim_end();
        let word_start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |k| k + 1);
        let name = &head[word_start..];
        if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let Some(end) = matching(bytes, i) else {
            continue;
        };
        let Some(expr) = print::parse::<Expr>(&text[word_start..=end]) else {
            continue;
        };
        let name = match (name, self_ty) {
            ("Self", Some(t)) => t.to_string(),
            _ => name.to_string(),
        };
        let end_of = |e: &Expr| {
            match e {
                Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                _ => None,
            }
            .filter(|n| ends.contains(n))
        };
        match expr {
            Expr::Struct(s) => {
                for f in &s.fields {
                    let syn::Member::Named(m) = &f.member else {
                        continue;
                    };
                    if let Some(e) = end_of(&f.expr) {
                        record(name.clone(), m.to_string(), &e);
                    }
                }
            }
            Expr::Call(c) => {
                for (k, a) in c.args.iter().enumerate() {
                    if let Some(e) = end_of(a) {
                        record(name.clone(), k.to_string(), &e);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `body`'s calls `f(.., end, ..)` of a plain function: the callee, the argument's index, the end.
fn handoffs(body: &str, ends: &[String]) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    for (i, c) in body.char_indices() {
        if c != '(' || i == 0 {
            continue;
        }
        let head = &body[..i];
        let word_start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |k| k + 1);
        let name = &head[word_start..];
        let before = head[..word_start].trim_end();
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            || before.ends_with('.')
            || before.ends_with("::")
            || before.ends_with("fn")
            || before.ends_with('!')
        {
            continue;
        }
        let Some(end) = matching(bytes, i) else {
            continue;
        };
        let Some(Expr::Call(call)) = print::parse::<Expr>(&body[word_start..=end]) else {
            continue;
        };
        for (k, a) in call.args.iter().enumerate() {
            if let Expr::Path(p) = a
                && let Some(id) = p.path.get_ident()
                && ends.contains(&id.to_string())
            {
                out.push((name.to_string(), k, id.to_string()));
            }
        }
    }
    out
}

/// The index of the bracket closing the one at `open`.
fn matching(bytes: &[u8], open: usize) -> Option<usize> {
    let (o, c) = match bytes[open] {
        b'{' => (b'{', b'}'),
        b'(' => (b'(', b')'),
        _ => return None,
    };
    let mut depth = 0usize;
    for (k, &b) in bytes.iter().enumerate().skip(open) {
        if b == o {
            depth += 1;
        } else if b == c {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// Edits renaming the unbounded end types inside `r` to their bounded twins.
fn retype(src: &str, r: &Range<usize>, flavor: Flavor) -> Vec<Edit> {
    let renames: &[(&str, &str)] = match flavor {
        Flavor::Tokio | Flavor::Futures => &[
            ("UnboundedSender", "Sender"),
            ("UnboundedReceiver", "Receiver"),
        ],
        Flavor::Std => &[("Sender", "SyncSender")],
        Flavor::Blocking | Flavor::Async => &[],
    };
    let Some(text) = src.get(r.clone()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (from, to) in renames {
        for (i, _) in text.match_indices(from) {
            let before = text[..i].chars().next_back();
            let after = text[i + from.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word(before) || word(after) {
                continue;
            }
            out.push(edit(r.start + i..r.start + i + from.len(), *to));
        }
    }
    out
}
