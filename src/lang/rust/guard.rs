//! The parse, guarded: what `syn::parse_file` does, with a nesting-depth check between lexing
//! (iterative, safe at any depth) and parsing (recursive), so a hostile file is reported, not a
//! stack overflow.

use proc_macro2::{TokenStream, TokenTree};

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
    let score = nesting_score(&tokens, MAX_NESTING);
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
    syn::parse2::<syn::File>(tokens).map_err(syn_err)
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
            // Nested block comments: find the matching `*/`.
            let bytes = s.as_bytes();
            let (mut depth, mut i) = (0usize, 0usize);
            let mut end = None;
            while i + 1 < bytes.len() {
                if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                    depth += 1;
                    i += 1;
                } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 2);
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            match end {
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

/// An upper bound, in token units, of how deeply syn's recursive-descent parser and the
/// lowering walk will recurse on `tokens`, computed without recursion. Each group adds one
/// level to what encloses it; inside a group, every token of the current statement or element
/// counts (prefix operators, `else if` chains, generic arguments and operator or method chains
/// all nest in syn's tree), and the count restarts where a new statement or element starts: after
/// `;`, after `,` and `=>` (keeping the open generic `<`s, which a comma does not close), and
/// after a `{ … }` block followed by a word or an attribute (except `else` and `as`, which
/// continue the expression); an attribute (`#[…]`, `#![…]`, doc comments) adds nothing once
/// closed. Stops counting once above `limit`.
pub fn nesting_score(tokens: &TokenStream, limit: usize) -> usize {
    struct Frame {
        iter: proc_macro2::token_stream::IntoIter,
        base: usize,
        run: usize,
        angles: usize,
        after_brace: bool,
        joint: Option<char>,
        /// The run before a `#` or `#!`: an attribute (doc comments are attributes) adds
        /// nothing once its `[…]` closes, so consecutive ones do not pile up.
        attr: Option<usize>,
    }
    let frame = |iter, base| Frame {
        iter,
        base,
        run: 0,
        angles: 0,
        after_brace: false,
        joint: None,
        attr: None,
    };
    let mut stack = vec![frame(tokens.clone().into_iter(), 0)];
    let mut max = 0;
    while let Some(top) = stack.last_mut() {
        let Some(tt) = top.iter.next() else {
            stack.pop();
            continue;
        };
        if std::mem::take(&mut top.after_brace) {
            let new_statement = match &tt {
                TokenTree::Ident(i) => i != "else" && i != "as",
                TokenTree::Punct(p) => p.as_char() == '#',
                _ => false,
            };
            if new_statement {
                top.run = 0;
                top.angles = 0;
            }
        }
        let joint = top.joint.take();
        let attr = top.attr.take();
        match &tt {
            TokenTree::Punct(p) => {
                if p.spacing() == proc_macro2::Spacing::Joint {
                    top.joint = Some(p.as_char());
                }
                match (joint, p.as_char()) {
                    (_, ';') => {
                        top.run = 0;
                        top.angles = 0;
                        continue;
                    }
                    (_, ',') => {
                        top.run = top.angles;
                        continue;
                    }
                    (Some('='), '>') => {
                        top.run = top.angles;
                        continue;
                    }
                    (Some('-'), '>') => {}
                    (_, '<') => top.angles += 1,
                    (Some('<'), '=') => top.angles = top.angles.saturating_sub(1),
                    (_, '>') => {
                        // Closes a level: the tokens still open do not get deeper.
                        top.angles = top.angles.saturating_sub(1);
                        continue;
                    }
                    _ => {}
                }
            }
            TokenTree::Group(_) | TokenTree::Ident(_) | TokenTree::Literal(_) => {}
        }
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '#' => top.attr = Some(top.run),
            TokenTree::Punct(p) if p.as_char() == '!' && attr.is_some() => top.attr = attr,
            _ => {}
        }
        top.run += 1;
        let score = top.base + top.run;
        max = max.max(score);
        if max > limit {
            return max;
        }
        if let TokenTree::Group(g) = tt {
            top.after_brace = g.delimiter() == proc_macro2::Delimiter::Brace;
            if let Some(before) = attr
                && g.delimiter() == proc_macro2::Delimiter::Bracket
            {
                top.run = before;
            }
            stack.push(frame(g.stream().into_iter(), score));
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::rust::{lower, lower_within};
    use std::time::Duration;

    fn score(src: &str) -> usize {
        nesting_score(&src.parse().unwrap(), usize::MAX)
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
    fn a_slow_walk_times_out() {
        let chain = format!("    a{};\n", ".b()".repeat(900));
        let src = format!("fn f() {{\n{}}}\n", chain.repeat(30));
        let err = lower_within(&src, Duration::from_millis(20)).unwrap_err();
        assert!(err.message.starts_with("timed out"), "{}", err.message);
    }
}
