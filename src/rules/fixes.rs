//! The fixes that need a rule's judgment — which teardown of a class or module ends the life of
//! what leaked — built on the edit helpers of [`crate::fixes::edits`], re-exported here for the
//! rules.

pub use crate::fixes::edits::*;
pub use crate::fixes::wrap::wrap_rest_in_finally;

use std::ops::Range;

/// In TypeScript, a `private <decl>` field declaration at the top of `class`'s body (nothing
/// in JavaScript, or for a class with no body of its own); `None` when it cannot be placed.
pub fn private_field(
    ctx: &super::FileCtx,
    class: crate::facts::ClassId,
    decl: &str,
) -> Option<Vec<crate::diagnostic::Edit>> {
    let body = ctx.facts.classes[class].body.clone();
    if !is_typescript(ctx.path) || body.is_empty() {
        return Some(Vec::new());
    }
    let unit = indent_unit(ctx.source, 2);
    Some(vec![prepend_to_block(
        ctx.source,
        &body,
        &[format!("private {decl};")],
        &unit,
    )?])
}

/// `return () => <call>;` at the end of the body of a function that returns nothing, its
/// `: void` return type (if any) becoming `: () => void`.
pub(super) fn return_closure(
    src: &str,
    r: &super::listener_scopes::ReturnsNothing,
    call: &str,
) -> Option<Vec<crate::diagnostic::Edit>> {
    let mut edits = Vec::new();
    if let Some(at) = r.void_type {
        edits.push(replace(at..at + 4, "() => void"));
    }
    let unit = indent_unit(src, 2);
    edits.push(append_to_block(
        src,
        &r.body,
        &[format!("return () => {call};")],
        &unit,
    )?);
    Some(edits)
}

/// Adds `lines` at the end of `scope`'s body `body` — before its closing `return`/`throw` when
/// the body ends in one (`close() { …; return Promise.all(…); }`), where code after it would
/// never run.
pub fn append_to_body(
    facts: &crate::facts::FileFacts,
    src: &str,
    scope: crate::facts::ScopeId,
    body: &Range<usize>,
    lines: &[String],
    unit: &str,
) -> Option<crate::diagnostic::Edit> {
    let last_exit = facts
        .events
        .iter()
        .filter(|e| {
            e.scope == scope
                && matches!(e.kind, crate::facts::EventKind::Exit { conditional: false })
                && body.start < e.span.start
                && e.span.end <= body.end
        })
        .max_by_key(|e| e.span.start);
    match last_exit {
        Some(e) => Some(insert_before_statement(src, e.span.start, lines)),
        None => append_to_block(src, body, lines, unit),
    }
}

/// Adds `lines` (cleanup statements using `this`) to the first teardown method of `class`
/// (`close`, `dispose`, …), or to a new `dispose()` method at the end of the class.
pub fn cleanup_in_class(
    ctx: &super::FileCtx,
    class: crate::facts::ClassId,
    lines: &[String],
) -> Option<Cleanup> {
    let facts = ctx.facts;
    let src = ctx.source;
    let unit = indent_unit(src, 2);
    let teardown = super::class_teardowns(facts, class, ctx.options)
        .into_iter()
        .find(|&t| facts.scopes[t].body.is_some());
    if let Some(t) = teardown {
        let body = facts.scopes[t].body.clone()?;
        let name = facts.scopes[t].name.as_deref().unwrap_or("teardown");
        return Some(Cleanup {
            where_: format!("in `{name}()`"),
            edits: vec![append_to_body(facts, src, t, &body, lines, &unit)?],
        });
    }
    let body = facts.classes[class].body.clone();
    let name = unique_name("dispose", |n| {
        facts
            .scopes
            .iter()
            .any(|s| s.class == Some(class) && s.name.as_deref() == Some(n))
            || facts.classes[class].fields.iter().any(|f| f.name == n)
    });
    if body.is_empty() {
        return es5_dispose(ctx, class, &name, lines);
    }
    if !src.get(body.clone()).is_some_and(|b| b.ends_with('}')) {
        return None;
    }
    let ret = if is_typescript(ctx.path) {
        ": void"
    } else {
        ""
    };
    let mut code = vec![String::new(), format!("{name}(){ret} {{")];
    code.extend(lines.iter().map(|l| format!("{unit}{l}")));
    code.push("}".into());
    Some(Cleanup {
        where_: format!("in a new `{name}()` method (call it when the instance is done)"),
        edits: vec![append_to_block(src, &body, &code, &unit)?],
    })
}

/// An ES5 class (a constructor function with `X.prototype.m = function` methods) with no
/// teardown: a new `X.prototype.dispose = function () { … };` after the last top-level
/// statement of the class — its constructor, its prototype methods, an `inherits(X, …)` call
/// (which may replace the prototype).
fn es5_dispose(
    ctx: &super::FileCtx,
    class: crate::facts::ClassId,
    method: &str,
    lines: &[String],
) -> Option<Cleanup> {
    let facts = ctx.facts;
    let src = ctx.source;
    let c = &facts.classes[class];
    let cname = c
        .name
        .as_deref()
        .filter(|n| super::listener_fixes::is_identifier(n))?;
    if is_typescript(ctx.path) {
        return None;
    }
    // Where each top-level statement of the class ends: the end of the line its code ends on,
    // when nothing but `;` follows there and it starts at column 0.
    let statement_end = |start: usize, end: usize| -> Option<usize> {
        if !line_indent(src, start).is_empty() {
            return None;
        }
        let rest_end = src[end..].find('\n').map_or(src.len(), |i| end + i);
        let rest = src[end..rest_end].trim_end_matches('\r');
        matches!(rest.trim(), "" | ";" | ");").then_some(rest_end)
    };
    let mut last = statement_end(line_start(src, c.span.start), c.span.end)?;
    for s in facts.scopes.iter().filter(|s| s.class == Some(class)) {
        if matches!(s.kind, crate::facts::ScopeKind::Method { .. })
            && facts.scopes[s.parent?].kind == crate::facts::ScopeKind::Module
        {
            last = last.max(statement_end(line_start(src, s.span.start), s.span.end)?);
        }
    }
    for (i, _) in src.match_indices(&format!("inherits({cname},")) {
        let end = src[i..].find('\n').map_or(src.len(), |k| i + k);
        last = last.max(end);
    }
    let nl = newline(src);
    let unit = indent_unit(src, 2);
    let mut text = format!("{nl}{nl}{cname}.prototype.{method} = function () {{{nl}");
    for l in lines {
        text.push_str(&format!("{unit}{l}{nl}"));
    }
    text.push_str("};");
    Some(Cleanup {
        where_: format!(
            "in a new `{cname}.prototype.{method}()` (call it when the instance is done)"
        ),
        edits: vec![insert(last, text)],
    })
}

/// Adds `lines` (cleanup statements for module-level state) to the module's shutdown handler
/// (`process.on('SIGTERM', …)`), or to a new exported `stop…()` function placed after the
/// statement `after` (`module.exports.stop… = …` in a CommonJS file).
pub fn cleanup_in_module(
    ctx: &super::FileCtx,
    after: &Range<usize>,
    lines: &[String],
    stop_base: &str,
) -> Option<Cleanup> {
    let facts = ctx.facts;
    let src = ctx.source;
    let unit = indent_unit(src, 2);
    if let Some(h) = facts.module_signal_handlers().first().copied() {
        let body = facts.scopes[h].body.clone()?;
        let signal = match &facts.scopes[h].kind {
            crate::facts::ScopeKind::Callback(r) => r.event.clone().unwrap_or_default(),
            _ => String::new(),
        };
        return Some(Cleanup {
            where_: format!("in the {signal} handler"),
            edits: vec![prepend_to_block(src, &body, lines, &unit)?],
        });
    }
    let name = unique_name(&camel(&["stop", stop_base]), |n| name_in_use(facts, src, n));
    let commonjs = !facts.has_word(src, "import")
        && !facts.has_word(src, "export")
        && (facts.has_word(src, "require")
            || (facts.has_word(src, "module") && facts.has_word(src, "exports")));
    let ret = if is_typescript(ctx.path) {
        ": void"
    } else {
        ""
    };
    let mut code = vec![
        String::new(),
        "/** Stops what this module started; call it from the shutdown path (SIGTERM). */"
            .to_string(),
        format!(
            "{}function {name}(){ret} {{",
            if commonjs { "" } else { "export " }
        ),
    ];
    code.extend(lines.iter().map(|l| format!("{unit}{l}")));
    code.push("}".into());
    if commonjs {
        code.push(format!("module.exports.{name} = {name};"));
    }
    Some(Cleanup {
        where_: format!("in a new exported `{name}()` (call it on shutdown)"),
        edits: vec![insert_after_statement(src, after.start, after.end, &code)],
    })
}

/// The suggestion for a finding no builder could fix safely: a display-only fix whose title
/// is the finding's help — what to do — and names the flagged code and its line, and whose
/// edit puts the same advice in a comment above that line (never applied by `--fix`).
pub fn help_suggestion(
    src: &str,
    d: &crate::diagnostic::Diagnostic,
) -> Option<crate::diagnostic::Fix> {
    let help = d
        .help
        .as_deref()?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let at = d.range.start.min(src.len());
    let line = src.get(..at)?.matches('\n').count() + 1;
    let flagged: String = src
        .get(d.range.clone())?
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(40)
        .collect();
    let title = if flagged.is_empty() {
        format!("on line {line}: {help}")
    } else {
        format!("for `{flagged}` on line {line}: {help}")
    };
    let indent = line_indent(src, at);
    let comment = format!("{indent}// unleak({}): {help}{}", d.rule, newline(src));
    Some(fix(
        title,
        crate::diagnostic::Applicability::DisplayOnly,
        vec![insert(line_start(src, at), comment)],
    ))
}

/// [`help_suggestion`] for each finding of a file rule that has no fix.
pub fn with_suggestions(
    ctx: &super::FileCtx,
    out: Vec<crate::diagnostic::Diagnostic>,
) -> Vec<crate::diagnostic::Diagnostic> {
    with_suggestions_in(ctx.source, out)
}

/// [`help_suggestion`] for each finding in the file whose text is `src` that has no fix.
pub fn with_suggestions_in(
    src: &str,
    mut out: Vec<crate::diagnostic::Diagnostic>,
) -> Vec<crate::diagnostic::Diagnostic> {
    for d in out.iter_mut().filter(|d| d.fixes.is_empty()) {
        d.fixes.extend(help_suggestion(src, d));
    }
    out
}

/// [`help_suggestion`] for each finding of a project rule that has no fix, in its own file.
pub fn with_suggestions_in_project(
    ctx: &super::ProjectCtx,
    mut out: Vec<crate::diagnostic::Diagnostic>,
) -> Vec<crate::diagnostic::Diagnostic> {
    for d in out.iter_mut().filter(|d| d.fixes.is_empty()) {
        let Some(file) = ctx.file(&d.file) else {
            continue;
        };
        d.fixes.extend(help_suggestion(&file.source().text, d));
    }
    out
}
