//! Fixes for swallowed errors: name the error and log it.

use super::{edit, print};
use crate::diagnostic::Edit;
use crate::facts::{Event, FileFacts, FixSite, Logger};
use crate::fixes::text::{line_indent, newline};

/// `Err(_) => {}` (the event spans the pattern): name the error and log it with the function's
/// name for context, through the logger the code uses (`tracing`, `log`, else `eprintln!`).
pub fn log_error(facts: &FileFacts, src: &str, e: &Event) -> Option<Edit> {
    let Some(FixSite::ErrArm {
        body,
        braces,
        logger,
    }) = e.hint.as_deref()
    else {
        return None;
    };
    let context = facts.scopes[facts.named_owner(e.scope)]
        .name
        .clone()
        .unwrap_or_else(|| "operation".into());
    let msg = format!("{context} failed: {{error}}");
    let log: syn::Expr = match logger {
        Logger::Tracing => syn::parse_quote!(tracing::warn!(#msg)),
        Logger::Log => syn::parse_quote!(log::warn!(#msg)),
        Logger::Stderr => syn::parse_quote!(eprintln!(#msg)),
    };
    let log = print::expr(&log)?;
    let pat: syn::Pat =
        syn::parse::Parser::parse_str(syn::Pat::parse_single, src.get(e.span.clone())?).ok()?;
    let pat: syn::Pat = match &pat {
        syn::Pat::TupleStruct(t) => {
            let path = &t.path;
            syn::parse_quote!(#path(error))
        }
        _ => return None,
    };
    let pat = print::stmts(quote::quote! { let #pat = x; })?;
    let pat = pat.strip_prefix("let ")?.strip_suffix(" = x;")?.to_string();
    let start = e.span.start;
    // A block body may hold comments (why the error is ignored): keep them, and log first.
    if let Some(braces) = braces {
        let (open, close) = (braces.start, braces.end);
        let inner = src.get(open + 1..close).unwrap_or("");
        if inner.contains('\n') && !inner.trim().is_empty() {
            // Log on a line of its own, at the indentation of what the block holds.
            let first = inner.trim_start_matches([' ', '\t', '\r', '\n']);
            let indent = line_indent(src, close - inner.len() + (inner.len() - first.len()));
            return Some(edit(
                start..open + 1,
                format!("{pat} => {{{}{indent}{log};", newline(src)),
            ));
        }
    }
    Some(edit(start..body.end, format!("{pat} => {{ {log}; }}")))
}

/// `if let Err(_) = op() {}` (the event spans the whole `if`): name the error and log it, as
/// [`log_error`] does for an arm; the logger is the one the file names (`tracing`, `log`),
/// else standard error.
pub fn log_if_let(facts: &FileFacts, src: &str, e: &Event) -> Option<Edit> {
    let syn::Expr::If(i) = print::parse::<syn::Expr>(src.get(e.span.clone())?)? else {
        return None;
    };
    let syn::Expr::Let(l) = &*i.cond else {
        return None;
    };
    if !i.then_branch.stmts.is_empty() || i.else_branch.is_some() {
        return None;
    }
    let syn::Pat::TupleStruct(t) = &*l.pat else {
        return None;
    };
    let path = &t.path;
    let scrutinee = &l.expr;
    let context = facts.scopes[facts.named_owner(e.scope)]
        .name
        .clone()
        .unwrap_or_else(|| "operation".into());
    let msg = format!("{context} failed: {{error}}");
    let uses =
        |name: &str| src.contains(&format!("{name}::")) || src.contains(&format!("use {name}"));
    let log: syn::Expr = if uses("tracing") {
        syn::parse_quote!(tracing::warn!(#msg))
    } else if uses("log") {
        syn::parse_quote!(log::warn!(#msg))
    } else {
        syn::parse_quote!(eprintln!(#msg))
    };
    let code = print::stmts(quote::quote! {
        if let #path(error) = #scrutinee {
            #log;
        }
    })?;
    let indent = line_indent(src, e.span.start);
    Some(edit(
        e.span.clone(),
        print::indent(&code, indent, newline(src)),
    ))
}
