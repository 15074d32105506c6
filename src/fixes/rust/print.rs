//! Rust replacement code for fixes: built as syntax with `quote`/`parse_quote`, printed with
//! `prettyplease`, and re-indented to the place it goes. Never assembled from strings, so a
//! fix cannot produce unbalanced delimiters or a mistyped token.
//!
//! Builders that need the structure of existing code re-parse its text with [`parse`]: the
//! front end keeps no syntax tree, only the spans it recorded.

use proc_macro2::TokenStream;

/// Items (functions, statics, `use`s) printed as a file would hold them.
pub fn items(tokens: TokenStream) -> Option<String> {
    let file: syn::File = syn::parse2(tokens).ok()?;
    Some(one_arm_per_line(&prettyplease::unparse(&file)))
}

/// prettyplease prints a macro's tokens as they come, so a `select! { a => x, b => y }` body
/// lands on one line; put each `_ = …` arm on its own line as rustfmt would leave it.
fn one_arm_per_line(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let in_select = out
            .last()
            .is_some_and(|l| l.trim_end().ends_with("select! {"));
        if in_select && line.trim_start().starts_with("_ = ") && line.contains(", _ = ") {
            let indent = &line[..line.len() - line.trim_start().len()];
            for (i, arm) in line.trim().split(", _ = ").enumerate() {
                let arm = arm.trim_end_matches(',');
                let arm = if i == 0 {
                    arm.to_string()
                } else {
                    format!("_ = {arm}")
                };
                out.push(format!("{indent}{arm},"));
            }
        } else {
            out.push(line.to_string());
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Statements (or one expression), printed as the body of a function would hold them, without
/// indentation: the caller re-indents with [`indent`].
pub fn stmts(tokens: TokenStream) -> Option<String> {
    let file: syn::File = syn::parse2(quote::quote! { fn __unleak() { #tokens } }).ok()?;
    let text = prettyplease::unparse(&file);
    let body: Vec<&str> = text.lines().collect();
    // `fn __unleak() {` … `}`; prettyplease indents the body by four spaces.
    let inner = body.get(1..body.len().checked_sub(1)?)?;
    Some(one_arm_per_line(
        &inner
            .iter()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// An expression, printed on as few lines as prettyplease allows.
pub fn expr(e: &syn::Expr) -> Option<String> {
    stmts(quote::quote! { #e })
}

/// `text` (a snippet of the file: an expression, a pattern) parsed as `T`, or `None`.
pub fn parse<T: syn::parse::Parse>(text: &str) -> Option<T> {
    syn::parse_str(text).ok()
}

/// Indents every line after the first with `indent` (the first goes where the old code began),
/// and uses the file's line ending.
pub fn indent(text: &str, indent: &str, newline: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str(newline);
            if !line.is_empty() {
                out.push_str(indent);
            }
        }
        out.push_str(line);
    }
    out
}

/// The two names a `let (tx, rx) = …;` statement at `stmt` binds: a channel's ends.
pub fn tuple_pair(src: &str, stmt: &std::ops::Range<usize>) -> Option<(String, String)> {
    let syn::Stmt::Local(local) = parse::<syn::Stmt>(src.get(stmt.clone())?.trim())? else {
        return None;
    };
    // Through a type ascription: `let (tx, rx): (Sender<T>, Receiver<T>) = …`.
    let pat = match &local.pat {
        syn::Pat::Type(t) => &*t.pat,
        p => p,
    };
    let syn::Pat::Tuple(t) = pat else {
        return None;
    };
    let ident = |p: &syn::Pat| match p {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        _ => None,
    };
    Some((ident(t.elems.first()?)?, ident(t.elems.iter().nth(1)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_pair_is_read_through_a_type_ascription() {
        let src = "let (tx, mut rx): (Sender<u8>, Receiver<u8>) = channel();";
        assert_eq!(
            tuple_pair(src, &(0..src.len())),
            Some(("tx".to_string(), "rx".to_string()))
        );
        let plain = "let (a, b) = unbounded_channel();";
        assert_eq!(
            tuple_pair(plain, &(0..plain.len())),
            Some(("a".to_string(), "b".to_string()))
        );
    }

    #[test]
    fn prints_expressions_statements_and_items() {
        let e: syn::Expr = syn::parse_quote!(tokio::time::timeout(d, work).await);
        assert_eq!(expr(&e).unwrap(), "tokio::time::timeout(d, work).await");
        let s = stmts(quote::quote! { let a = 1; if a > 0 { go(a); } }).unwrap();
        assert_eq!(s, "let a = 1;\nif a > 0 {\n    go(a);\n}");
        assert_eq!(
            indent(&s, "    ", "\n"),
            "let a = 1;\n    if a > 0 {\n        go(a);\n    }"
        );
        let f = items(quote::quote! { async fn shutdown() { wait().await; } }).unwrap();
        assert_eq!(f, "async fn shutdown() {\n    wait().await;\n}\n");
        let s = stmts(
            quote::quote! { tokio::select! { _ = a.cancelled() => break, _ = t.tick() => {} } },
        )
        .unwrap();
        assert_eq!(
            s,
            "tokio::select! {\n    _ = a.cancelled() => break,\n    _ = t.tick() => {},\n}"
        );
    }
}
