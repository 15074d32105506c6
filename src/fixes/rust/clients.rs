//! Fixes for clients built more than once: one process-wide client in a `static` (`LazyLock`),
//! which every construction site clones (clones of these clients share one pool).

use std::ops::Range;

use super::print;

/// A top-level `static` of a file: `[pub] static NAME: TYPE = …;`.
pub struct StaticDecl {
    pub name: String,
    /// The type as written, spaces removed (`LazyLock<reqwest::Client>`).
    pub ty: String,
    /// The whole item, from its first keyword through the `;` that ends it.
    pub range: Range<usize>,
    /// Declared `pub` (any `pub(…)` too): visible to the rest of the crate.
    pub public: bool,
}

/// The top-level (unindented) `static` items of `src`.
pub fn statics(src: &str) -> Vec<StaticDecl> {
    let mut out = Vec::new();
    let mut offset = 0;
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let start = offset;
        offset += line.len();
        let mut rest = *line;
        let mut public = false;
        if let Some(r) = rest.strip_prefix("pub") {
            public = true;
            rest = r.trim_start();
            if rest.starts_with('(') {
                rest = rest.split_once(')').map_or("", |(_, r)| r.trim_start());
            }
        }
        let Some(rest) = rest.strip_prefix("static ") else {
            continue;
        };
        let Some((name, ty)) = rest.split_once(':') else {
            continue;
        };
        // The type runs to the `=` (possibly on the next line); the item to the first line
        // that ends with `;` at no indentation (or this one).
        let mut ty_text = ty.to_string();
        if !ty_text.contains('=') {
            ty_text.push_str(lines.get(i + 1).copied().unwrap_or(""));
        }
        let ty: String = ty_text
            .split('=')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let mut end = offset;
        if !line.trim_end().ends_with(';') {
            let mut o = offset;
            for l in &lines[i + 1..] {
                o += l.len();
                if !l.starts_with([' ', '\t']) && l.trim_end().ends_with(';') {
                    end = o;
                    break;
                }
            }
        }
        out.push(StaticDecl {
            name: name.trim().to_string(),
            ty,
            range: start..end,
            public,
        });
    }
    out
}

/// The type of a `LazyLock<T>` static (`T`, spaces removed), or `None`.
pub fn lazy_inner(ty: &str) -> Option<&str> {
    ty.strip_prefix("std::sync::LazyLock<")
        .or_else(|| ty.strip_prefix("LazyLock<"))?
        .strip_suffix('>')
}

/// `ty` (spaces removed, generics kept) names a client of `kind` (`reqwest::Client`): the
/// same path, or its last segment in a file that names the crate.
pub fn is_kind(ty: &str, kind: &str, src: &str) -> bool {
    let base = ty.split('<').next().unwrap_or(ty);
    if base == kind {
        return true;
    }
    let krate = kind.split("::").next().unwrap_or(kind);
    kind.ends_with(&format!("::{base}")) && src.contains(&format!("{krate}::"))
}

/// The type path of client kind `kind`. reqwest 0.9's `async` module is a keyword since Rust
/// 2018: it is spelled raw (`reqwest::r#async::Client`), which every edition reads.
fn kind_path(kind: &str) -> Option<syn::Path> {
    syn::parse_str(&kind.replace("::async::", "::r#async::")).ok()
}

/// A new process-wide client of `kind` named `name` (`None` for a kind whose construction
/// needs arguments: a URL, a pool's options).
pub fn shared_static(kind: &str, name: &str) -> Option<String> {
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    let tokens = match kind {
        "reqwest::Client" | "reqwest::blocking::Client" | "reqwest::async::Client" => {
            let ty = kind_path(kind)?;
            quote::quote! {
                /// One client for the whole process: it pools connections, and clones share the pool.
                pub(crate) static #ident: std::sync::LazyLock<#ty> =
                    std::sync::LazyLock::new(#ty::new);
            }
        }
        "async_openai::Client" => quote::quote! {
            /// One client for the whole process: it pools connections, and clones share the pool.
            pub(crate) static #ident: std::sync::LazyLock<
                async_openai::Client<async_openai::config::OpenAIConfig>,
            > = std::sync::LazyLock::new(async_openai::Client::new);
        },
        _ => return None,
    };
    print::items(tokens)
}

/// Like [`shared_static`], but built the way the site builds it (`construction`: the whole
/// construction, a builder chain with its settings): a plain `Client::new()` gives the plain
/// static; a configured one keeps its configuration in the initialiser (a trailing `?`
/// becomes an `.expect(..)`: a static cannot return an error). `None` when the construction
/// reads a local (a parameter, a binding: it differs per call) or `self`, or names a path whose
/// first segment `visible` says the file of the static does not see (`Duration` imported only
/// where the client was built).
pub fn shared_static_from(
    kind: &str,
    name: &str,
    construction: &str,
    visible: impl Fn(&str) -> bool,
) -> Option<String> {
    let plain = format!("{kind}::new()");
    let compact: String = construction.split_whitespace().collect();
    if compact == plain || !kind.starts_with("reqwest::") {
        return (compact == plain)
            .then(|| shared_static(kind, name))
            .flatten();
    }
    let text = construction.trim_end();
    let text = match text.strip_suffix('?') {
        Some(t) => format!("{t}.expect(\"the shared client's settings are valid\")"),
        None => text.to_string(),
    };
    let expr: syn::Expr = print::parse(&text)?;
    struct Locals<F>(bool, F);
    impl<'a, F: Fn(&str) -> bool> syn::visit::Visit<'a> for Locals<F> {
        fn visit_path(&mut self, p: &'a syn::Path) {
            if p.leading_colon.is_none()
                && p.segments.len() > 1
                && !(self.1)(&p.segments[0].ident.to_string())
            {
                self.0 = true;
            }
            syn::visit::visit_path(self, p);
        }
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            syn::visit::visit_expr_path(self, p);
            if p.path.leading_colon.is_none()
                && p.path.segments.len() == 1
                && p.path.segments[0]
                    .ident
                    .to_string()
                    .starts_with(|c: char| c.is_lowercase() || c == '_')
            {
                self.0 = true;
            }
        }
        fn visit_macro(&mut self, _: &'a syn::Macro) {
            // Arguments of a macro (`format!("{x}")`) may name locals too.
            self.0 = true;
        }
    }
    let mut v = Locals(false, visible);
    syn::visit::Visit::visit_expr(&mut v, &expr);
    if v.0 {
        return None;
    }
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    let ty = kind_path(kind)?;
    print::items(quote::quote! {
        /// One client for the whole process, with the settings it was built with: it pools
        /// connections, and clones share the pool.
        pub(crate) static #ident: std::sync::LazyLock<#ty> =
            std::sync::LazyLock::new(|| { #expr });
    })
    // prettyplease breaks before a closure's block; rustfmt keeps `|| {` together.
    .map(|t| t.replace("(||\n{", "(|| {"))
}

/// The whole construction expression whose path spans `path` (`reqwest::Client::new`): its
/// arguments, then a builder's chain through `.build()`, the client's own `.with_…(…)`
/// settings, and an `.expect(…)`/`.unwrap()`/`?` of the result.
pub fn construction_extent(src: &str, path: &Range<usize>) -> Option<Range<usize>> {
    let builder = src.get(path.clone())?.ends_with("builder");
    let mut end = crate::fixes::edits::call_end(src, path.end)?;
    let mut built = !builder;
    loop {
        let rest = &src[end..];
        // Line comments between the links of a chain (`builder() // why`) are skipped.
        let mut trimmed = rest.trim_start();
        while let Some(comment) = trimmed.strip_prefix("//") {
            trimmed = comment.split_once('\n').map_or("", |(_, r)| r).trim_start();
        }
        let ws = rest.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix('?') {
            let _ = after;
            end += ws + 1;
            break;
        }
        let Some(after_dot) = trimmed.strip_prefix('.') else {
            break;
        };
        let name_len = after_dot
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after_dot.len());
        let method = &after_dot[..name_len];
        let takes = if !built {
            true
        } else {
            method.starts_with("with_") || matches!(method, "expect" | "unwrap")
        };
        if !takes || method.is_empty() || rest[..ws].contains("/*") {
            break;
        }
        let Some(next) = crate::fixes::edits::call_end(src, end + ws + 1 + name_len) else {
            break;
        };
        end = next;
        if method == "build" {
            built = true;
        }
        if matches!(method, "expect" | "unwrap") {
            break;
        }
    }
    built.then_some(path.start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statics_and_construction_extents() {
        let src = "use x;\n\nstatic A: LazyLock<reqwest::Client> = LazyLock::new(|| {\n    reqwest::Client::new()\n});\npub(crate) static B: u8 = 1;\n";
        let s = statics(src);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "A");
        assert_eq!(lazy_inner(&s[0].ty), Some("reqwest::Client"));
        assert!(src[s[0].range.clone()].ends_with("});\n"));
        assert!(s[1].public && !s[0].public);
        let src = "let h = reqwest::Client::builder()\n    .timeout(d)\n    .build()\n    .expect(\"client\");\nh.get(u);";
        let p = 8..src.find("()").unwrap();
        let r = construction_extent(src, &p).unwrap();
        assert!(src[r].ends_with(".expect(\"client\")"));
        let src = "let c = Client::with_config(cfg).with_http_client(h.clone()).chat();";
        let p = 8..src.find('(').unwrap();
        let r = construction_extent(src, &p).unwrap();
        assert_eq!(
            &src[r],
            "Client::with_config(cfg).with_http_client(h.clone())"
        );
        let src = "let c = reqwest::Client::new().get(u);";
        let p = 8..src.find('(').unwrap();
        assert_eq!(
            &src[construction_extent(src, &p).unwrap()],
            "reqwest::Client::new()"
        );
    }
}

/// `let http = reqwest::Client::builder()…build()…;` (the statement `stmt`, the construction
/// `extent`) inside the loop spanning `loop_span`, built from nothing the loop binds: build it
/// once, before the loop (its line moves up, configuration and all). `None` when the
/// construction names a binding of the loop (its pattern, an earlier `let` in its body) or the
/// result does not parse. Unsafe: the client (and a failure to build it) now comes before the
/// first iteration, and every iteration shares its pool.
pub fn hoist_out_of_loop(
    src: &str,
    kind: &str,
    stmt: &Range<usize>,
    extent: &Range<usize>,
    loop_span: &Range<usize>,
) -> Option<crate::diagnostic::Fix> {
    use crate::fixes::text::{line_indent, line_start, newline};
    let text = src.get(stmt.clone())?;
    let syn::Stmt::Local(local) = print::parse::<syn::Stmt>(text.trim())? else {
        return None;
    };
    let syn::Pat::Ident(name) = &local.pat else {
        return None;
    };
    if !(text.trim_end().ends_with(';')
        && stmt.start < extent.start
        && extent.end <= stmt.end
        && loop_span.contains(&stmt.start))
    {
        return None;
    }
    // Names the loop binds before the statement: its pattern and earlier `let`s.
    let head = src.get(loop_span.start..stmt.start)?;
    let mut bound = Vec::new();
    for kw in ["for ", "let "] {
        for (i, _) in head.match_indices(kw) {
            let rest = &head[i + kw.len()..];
            let end = rest.find([' ', '=', ':']).map_or(rest.len(), |e| e);
            let pat = if kw == "for " {
                rest.split(" in ").next().unwrap_or("")
            } else {
                rest.split('=').next().unwrap_or(&rest[..end])
            };
            bound.extend(
                pat.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty() && w.starts_with(|c: char| c.is_lowercase()))
                    .map(str::to_string),
            );
        }
    }
    let construction = src.get(extent.clone())?;
    // Words outside string literals.
    let mut code = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for c in construction.chars() {
        match (in_str, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_str = false,
            (true, _, _) => escaped = false,
            (false, _, '"') => in_str = true,
            _ => code.push(c),
        }
    }
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    if bound.iter().any(|b| words.contains(&b.as_str())) || construction.contains("self") {
        return None;
    }
    let nl = newline(src);
    let from = line_start(src, stmt.start);
    if !src[from..stmt.start].trim().is_empty() {
        return None;
    }
    let to = src[stmt.end..]
        .find('\n')
        .map_or(src.len(), |k| stmt.end + k + 1);
    if !src[stmt.end..to].trim().is_empty() && !src[stmt.end..to].trim().starts_with("//") {
        return None;
    }
    let loop_line = line_start(src, loop_span.start);
    let indent = line_indent(src, loop_span.start);
    // Re-indent the statement's lines from the loop body to the loop's own level.
    let old_indent = line_indent(src, stmt.start);
    let moved: Vec<String> = src[stmt.start..to]
        .trim_end()
        .lines()
        .map(|l| {
            l.strip_prefix(old_indent)
                .unwrap_or(l)
                .trim_end()
                .to_string()
        })
        .collect();
    let code = print::indent(&moved.join("\n"), indent, nl);
    let edits = vec![
        super::edit(loop_line..loop_line, format!("{indent}{code}{nl}")),
        super::edit(from..to, ""),
    ];
    if !super::syntax::parses(&super::syntax::apply(src, &edits)?) {
        return None;
    }
    super::fix(
        format!(
            "build the `{kind}` once, before the loop (`{}` is shared by every iteration)",
            name.ident
        ),
        crate::diagnostic::Applicability::Unsafe,
        edits,
    )
}

/// A client built by a factory function of this file (`func`, spanning `factory`) that a loop
/// calls with arguments the loop does not bind (`let s3 = s3_for(&config);`): build it once,
/// before that loop, as [`hoist_out_of_loop`] does. `None` when no such call site exists.
pub fn hoist_factory_call(
    src: &str,
    kind: &str,
    func: &str,
    factory: &Range<usize>,
) -> Option<crate::diagnostic::Fix> {
    let outline = super::syntax::Outline::of(src)?;
    outline.fn_calls.iter().find_map(|(path, call)| {
        if path != func || factory.contains(&call.start) {
            return None;
        }
        let l = outline
            .loops
            .iter()
            .filter(|l| l.contains(&call.start))
            .min_by_key(|l| l.len())?;
        // The statement `let x = func(..);` around the call, on lines of its own.
        let start = crate::fixes::text::line_start(src, call.start);
        let first = src[start..].trim_start();
        if !first.starts_with("let ") {
            return None;
        }
        let stmt_start = start + (src[start..].len() - first.len());
        let stmt_end = call.end + src[call.end..].find(';')? + 1;
        if !src[call.end..stmt_end - 1].trim().is_empty() {
            return None;
        }
        hoist_out_of_loop(src, kind, &(stmt_start..stmt_end), call, l)
    })
}

#[cfg(test)]
mod hoist_tests {
    #[test]
    fn a_client_built_in_a_loop_moves_before_it() {
        let src = "fn f(feeds: Vec<String>) {\n    for feed in feeds {\n        let http = reqwest::Client::builder() // note\n            .user_agent(\"feed-poller\")\n            .build()\n            .expect(\"client\");\n        go(&http, &feed);\n    }\n}\n";
        let stmt_start = src.find("let http").unwrap();
        let stmt_end = src.find("\");\n        go").unwrap() + 3;
        let path = src.find("reqwest").unwrap();
        let extent =
            super::construction_extent(src, &(path..path + "reqwest::Client::builder".len()))
                .unwrap();
        let l = src.find("for feed").unwrap();
        let f = super::hoist_out_of_loop(
            src,
            "reqwest::Client",
            &(stmt_start..stmt_end),
            &extent,
            &(l..src.len() - 2),
        )
        .unwrap();
        let fixed = super::super::syntax::apply(src, &f.edits).unwrap();
        assert_eq!(
            fixed,
            "fn f(feeds: Vec<String>) {\n    let http = reqwest::Client::builder() // note\n        .user_agent(\"feed-poller\")\n        .build()\n        .expect(\"client\");\n    for feed in feeds {\n        go(&http, &feed);\n    }\n}\n"
        );
    }
}
