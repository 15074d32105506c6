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

/// A new process-wide client of `kind` named `name` (`None` for a kind whose construction
/// needs arguments: a URL, a pool's options).
pub fn shared_static(kind: &str, name: &str) -> Option<String> {
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    let tokens = match kind {
        "reqwest::Client" | "reqwest::blocking::Client" => {
            let ty: syn::Path = syn::parse_str(kind).ok()?;
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

/// The whole construction expression whose path spans `path` (`reqwest::Client::new`): its
/// arguments, then a builder's chain through `.build()`, the client's own `.with_…(…)`
/// settings, and an `.expect(…)`/`.unwrap()`/`?` of the result.
pub fn construction_extent(src: &str, path: &Range<usize>) -> Option<Range<usize>> {
    let builder = src.get(path.clone())?.ends_with("builder");
    let mut end = crate::fixes::edits::call_end(src, path.end)?;
    let mut built = !builder;
    loop {
        let rest = &src[end..];
        let trimmed = rest.trim_start();
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
        if !takes || method.is_empty() {
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
