//! The fixes that need a rule's judgment — which teardown of a class or module ends the life of
//! what leaked — built on the edit helpers of [`crate::fixes::edits`], re-exported here for the
//! rules.

pub use crate::fixes::edits::*;
pub use crate::fixes::wrap::wrap_rest_in_finally;

use std::ops::Range;

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
            edits: vec![append_to_block(src, &body, lines, &unit)?],
        });
    }
    let body = facts.classes[class].body.clone();
    if body.is_empty() || !src.get(body.clone()).is_some_and(|b| b.ends_with('}')) {
        return None;
    }
    let name = unique_name("dispose", |n| {
        facts
            .scopes
            .iter()
            .any(|s| s.class == Some(class) && s.name.as_deref() == Some(n))
            || facts.classes[class].fields.iter().any(|f| f.name == n)
    });
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
