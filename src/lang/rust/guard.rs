//! The parse, guarded: what `syn::parse_file` does, with a nesting-depth check between lexing
//! (iterative, safe at any depth) and parsing (recursive), so a hostile file is reported, not a
//! stack overflow.

use proc_macro2::{TokenStream, TokenTree};

use super::nesting::nesting_score;
use super::{MAX_NESTING, RustParseError};

/// What `syn::parse_file` does — shebang, tokens, `File` — with the nesting guard between
/// lexing (iterative, safe at any depth) and parsing (recursive). The shebang line is blanked
/// rather than cut off so byte offsets stay those of the file.
pub(super) fn parse_guarded(text: &str) -> Result<syn::File, RustParseError> {
    let syn_err = |e: syn::Error| RustParseError {
        message: format!("not valid Rust, file skipped: {e}"),
        range: e.span().byte_range(),
        timed_out: false,
    };
    let blanked;
    // After a byte-order mark, which the lexer skips (keeping offsets), as syn does.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let text = match shebang_len(&text[bom..]) {
        Some(n) => {
            blanked = format!("{}{}{}", &text[..bom], " ".repeat(n), &text[bom + n..]);
            blanked.as_str()
        }
        None => text,
    };
    let tokens: TokenStream = text.parse().map_err(|e: proc_macro2::LexError| {
        let start = e.span().byte_range().start;
        RustParseError {
            message: "not valid Rust, file skipped: it does not split into Rust tokens (an \
                      unclosed bracket, string or comment, or a character Rust does not allow)"
                .into(),
            range: start..start,
            timed_out: false,
        }
    })?;
    let score = nesting_score(text, MAX_NESTING);
    if score > MAX_NESTING {
        return Err(RustParseError {
            message: format!(
                "nesting (brackets and chained operators) deeper than {MAX_NESTING} levels; file \
                 skipped (too deep to analyse)"
            ),
            range: 0..0,
            timed_out: false,
        });
    }
    syn::parse2::<syn::File>(tokens).or_else(|e| {
        // Rust 2015 code (no `edition` in its manifest) uses `async`, `await` and `try` as
        // names (`reqwest::async::Client`, `try!(…)`), which syn, parsing today's Rust, takes
        // for keywords. Read as raw identifiers (`r#async`, same spans), such a file parses.
        // Tried only when syn stops at one of those words (`found keyword `async``, or `use
        // reqwest::async` where a path segment was expected); if it still fails, syn's first
        // error is the one reported.
        let message = e.to_string();
        let at = text.get(e.span().byte_range()).unwrap_or_default();
        let edition_2015 = EDITION_2018_KEYWORDS
            .iter()
            .any(|k| *k == at || message.contains(&format!("keyword `{k}`")));
        if !edition_2015 {
            return Err(syn_err(e));
        }
        let tokens: TokenStream = text.parse().map_err(|_| syn_err(e.clone()))?;
        syn::parse2::<syn::File>(raw_2018_keywords(tokens)).map_err(|_| syn_err(e))
    })
}

/// Words that became keywords in Rust 2018 and were plain names before (`dyn` aside, which
/// 2015 code already uses as one).
const EDITION_2018_KEYWORDS: &[&str] = &["async", "await", "try"];

/// `tokens` with every identifier in [`EDITION_2018_KEYWORDS`] made raw, spans kept.
fn raw_2018_keywords(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) if EDITION_2018_KEYWORDS.iter().any(|k| i == k) => {
                TokenTree::Ident(proc_macro2::Ident::new_raw(&i.to_string(), i.span()))
            }
            TokenTree::Group(g) => {
                let mut raw = proc_macro2::Group::new(g.delimiter(), raw_2018_keywords(g.stream()));
                raw.set_span(g.span());
                TokenTree::Group(raw)
            }
            other => other,
        })
        .collect()
}

/// Length in bytes of a `#!` first line that is a shebang (not an inner attribute `#![…]`),
/// judged as `syn::parse_file` does.
fn shebang_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("#!")?;
    if skip_whitespace(rest).starts_with('[') {
        return None;
    }
    Some(text.find('\n').unwrap_or(text.len()))
}

/// Skips whitespace and (non-doc) comments, as syn does before deciding on a shebang.
fn skip_whitespace(mut s: &str) -> &str {
    loop {
        if s.starts_with("//")
            && (!s.starts_with("///") || s.starts_with("////"))
            && !s.starts_with("//!")
        {
            match s.find('\n') {
                Some(i) => s = &s[i + 1..],
                None => return "",
            }
        } else if s.starts_with("/**/") {
            s = &s[4..];
        } else if s.starts_with("/*")
            && (!s.starts_with("/**") || s.starts_with("/***"))
            && !s.starts_with("/*!")
        {
            // Nested block comments: to the matching `*/`.
            match super::nesting::block_comment_len(s) {
                Some(e) => s = &s[e..],
                None => return s,
            }
        } else {
            match s.chars().next() {
                Some(c) if c.is_whitespace() || c == '\u{200e}' || c == '\u{200f}' => {
                    s = &s[c.len_utf8()..];
                }
                _ => return s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::rust::{lower, lower_within};
    use std::time::Duration;

    fn score(src: &str) -> usize {
        nesting_score(src, usize::MAX)
    }

    #[test]
    fn brackets_chains_and_generics_nest() {
        assert_eq!(score("{{{}}}"), 3);
        assert!(score(&format!("type T = {}u8;", "& ".repeat(100))) > 100);
        assert!(score(&format!("fn f() {{ a{}; }}", ".b()".repeat(100))) > 300);
        assert!(
            score(&format!(
                "fn f() {{ if a {{}} {} }}",
                "else if a {} ".repeat(100)
            )) > 400
        );
        // `A<B, C<D, …>>`: a comma does not close the open `<`s.
        let generic = format!("type T = {}u8{};", "A<B, ".repeat(200), ">".repeat(200));
        assert!(score(&generic) > 200, "{}", score(&generic));
    }

    #[test]
    fn statements_items_elements_and_attributes_do_not_pile_up() {
        let items = "/// docs\n#[inline]\nfn f() { let x = a.b().c(); if x {} else {} }\n";
        assert!(
            score(&items.repeat(500)) < 20,
            "{}",
            score(&items.repeat(500))
        );
        let docs = format!("{}fn f() {{}}", "//! crate docs\n".repeat(2_000));
        assert!(score(&docs) < 10, "{}", score(&docs));
        let list = format!("const A: [i32; 3000] = [{}];", "-1, ".repeat(3_000));
        assert!(score(&list) < 10, "{}", score(&list));
        let arms = format!("fn f() {{ match x {{ {} }} }}", "A => {} ".repeat(2_000));
        assert!(score(&arms) < 10, "{}", score(&arms));
        // Closing `>`s do not count: `Vec<Vec<…>>` scores its opening half.
        let nested = format!("type T = {}u8{};", "Vec<".repeat(100), ">".repeat(100));
        assert!((200..210).contains(&score(&nested)), "{}", score(&nested));
    }

    #[test]
    fn too_deep_is_an_error_and_a_shebang_keeps_offsets() {
        let deep = format!("type T = {}u8;", "& ".repeat(MAX_NESTING + 1));
        let err = lower(&deep).unwrap_err();
        assert!(err.message.contains("too deep"), "{}", err.message);
        // syn cuts a shebang line off (shifting every offset); it is blanked instead.
        let src = "#!/usr/bin/env run-cargo-script\nfn f() {}\n";
        let facts = lower(src).unwrap();
        let f = facts
            .scopes
            .iter()
            .find(|s| s.name.as_deref() == Some("f"))
            .unwrap();
        assert_eq!(&src[f.span.start..f.span.start + 2], "fn");
        // `#![…]` is an inner attribute, not a shebang.
        assert_eq!(shebang_len("#![allow(x)]\nfn f() {}"), None);
        assert_eq!(shebang_len("#! // c\n[allow(x)]"), None);
        assert_eq!(shebang_len("#!/bin/x\nfn f() {}"), Some(8));
        let bom = "\u{feff}#!/bin/x\nfn f() {}\n";
        let facts = lower(bom).unwrap();
        let f = facts
            .scopes
            .iter()
            .find(|s| s.name.as_deref() == Some("f"))
            .unwrap();
        assert_eq!(&bom[f.span.start..f.span.start + 2], "fn");
    }

    #[test]
    fn rust_2015_names_parse_and_other_errors_stay_syn_s() {
        let old = "use reqwest::async::Client;\nfn f() -> Result<(), E> { let c = reqwest::async::Client::new(); try!(g(c)); Ok(()) }\n";
        assert!(parse_guarded(old).is_ok());
        // A file that fails for another reason keeps syn's own error, even with the words in it.
        let broken = "async fn f() { let x = ; }\nfn g() { try!(h()); }\n";
        let Err(err) = parse_guarded(broken) else {
            panic!("parsed")
        };
        assert!(
            err.message.contains("expected an expression"),
            "{}",
            err.message
        );
        // A 2018 file that uses `async` as a keyword and has an error at a name is not rescued.
        let modern = "async fn f() {}\nuse a::async::b;\n";
        let Err(err) = parse_guarded(modern) else {
            panic!("parsed")
        };
        assert!(err.message.starts_with("not valid Rust"), "{}", err.message);
    }

    #[test]
    fn a_slow_walk_times_out() {
        let chain = format!("    a{};\n", ".b()".repeat(900));
        let src = format!("fn f() {{\n{}}}\n", chain.repeat(30));
        let err = lower_within(&src, Duration::from_millis(20)).unwrap_err();
        assert!(err.message.starts_with("timed out"), "{}", err.message);
    }
}
