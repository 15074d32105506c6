//! How deeply syn's recursive-descent parser and the lowering walk will recurse on a file,
//! computed without recursion, from the text.
//!
//! The score is defined on the token trees proc-macro2 makes of the file (see
//! [`nesting_score`]), but it is computed on the text with a lexer of its own that yields the
//! same token sequence: walking the `TokenStream` itself would copy it (iterating a stream that
//! the tree still shares clones every token), which cost about 5 % of a Rust run. The text is
//! lexed only after proc-macro2 has accepted it, so this lexer may assume well-formed input; a
//! test checks that both give the same score on every Rust file of the repository.

/// One token, or a group's open or close, as proc-macro2 would produce it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    Open(Delim),
    Close,
    /// A punctuation character and whether the next character is punctuation too.
    Punct(char, bool),
    /// An identifier; `true` for `else` and `as`, which continue an expression after a block.
    Ident(bool),
    Literal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Delim {
    Paren,
    Bracket,
    Brace,
}

/// The state of one open group while scoring.
struct Frame {
    base: usize,
    run: usize,
    angles: usize,
    after_brace: bool,
    joint: Option<char>,
    /// The run before a `#` or `#!`: an attribute (doc comments are attributes) adds nothing
    /// once its `[…]` closes, so consecutive ones do not pile up.
    attr: Option<usize>,
}

impl Frame {
    fn new(base: usize) -> Self {
        Frame {
            base,
            run: 0,
            angles: 0,
            after_brace: false,
            joint: None,
            attr: None,
        }
    }
}

/// Scores a token sequence one token at a time.
pub(super) struct Scorer {
    stack: Vec<Frame>,
    pub(super) max: usize,
}

impl Scorer {
    pub(super) fn new() -> Self {
        Scorer {
            stack: vec![Frame::new(0)],
            max: 0,
        }
    }

    /// Takes one token; returns the deepest score so far.
    #[inline]
    pub(super) fn token(&mut self, tok: Tok) -> usize {
        if tok == Tok::Close {
            if self.stack.len() > 1 {
                self.stack.pop();
            }
            return self.max;
        }
        let top = self
            .stack
            .last_mut()
            .expect("the file's frame is never popped");
        if std::mem::take(&mut top.after_brace) {
            let new_statement = matches!(tok, Tok::Ident(false) | Tok::Punct('#', _));
            if new_statement {
                top.run = 0;
                top.angles = 0;
            }
        }
        let joint = top.joint.take();
        let attr = top.attr.take();
        if let Tok::Punct(ch, is_joint) = tok {
            if is_joint {
                top.joint = Some(ch);
            }
            match (joint, ch) {
                (_, ';') => {
                    top.run = 0;
                    top.angles = 0;
                    return self.max;
                }
                (_, ',') | (Some('='), '>') => {
                    top.run = top.angles;
                    return self.max;
                }
                (Some('-'), '>') => {}
                (_, '<') => top.angles += 1,
                (Some('<'), '=') => top.angles = top.angles.saturating_sub(1),
                (_, '>') => {
                    // Closes a level: the tokens still open do not get deeper.
                    top.angles = top.angles.saturating_sub(1);
                    return self.max;
                }
                _ => {}
            }
            match ch {
                '#' => top.attr = Some(top.run),
                '!' if attr.is_some() => top.attr = attr,
                _ => {}
            }
        }
        top.run += 1;
        let score = top.base + top.run;
        self.max = self.max.max(score);
        if let Tok::Open(delim) = tok {
            top.after_brace = delim == Delim::Brace;
            if let Some(before) = attr
                && delim == Delim::Bracket
            {
                top.run = before;
            }
            self.stack.push(Frame::new(score));
        }
        self.max
    }
}

/// An upper bound, in token units, of how deeply syn's recursive-descent parser and the
/// lowering walk will recurse on `text` (which proc-macro2 has lexed without error), computed
/// without recursion. Each group adds one level to what encloses it; inside a group, every
/// token of the current statement or element counts (prefix operators, `else if` chains,
/// generic arguments and operator or method chains all nest in syn's tree), and the count
/// restarts where a new statement or element starts: after `;`, after `,` and `=>` (keeping the
/// open generic `<`s, which a comma does not close), and after a `{ … }` block followed by a
/// word or an attribute (except `else` and `as`, which continue the expression); an attribute
/// (`#[…]`, `#![…]`, doc comments) adds nothing once closed. Stops counting once above `limit`.
pub fn nesting_score(text: &str, limit: usize) -> usize {
    let mut scorer = Scorer::new();
    let mut lexer = Lexer { s: text, i: 0 };
    while let Some(tok) = lexer.next_token(&mut scorer) {
        if scorer.token(tok) > limit {
            break;
        }
    }
    scorer.max
}

/// Punctuation as proc-macro2 recognises it.
fn is_punct(c: char) -> bool {
    matches!(
        c,
        '~' | '!'
            | '@'
            | '#'
            | '$'
            | '%'
            | '^'
            | '&'
            | '*'
            | '-'
            | '='
            | '+'
            | '|'
            | ';'
            | ':'
            | ','
            | '<'
            | '.'
            | '>'
            | '/'
            | '?'
            | '\''
    )
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!c.is_ascii() && !c.is_whitespace())
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace())
}

struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at(&self, prefix: &str) -> bool {
        self.rest().starts_with(prefix)
    }

    /// Advances past identifier characters.
    fn skip_ident(&mut self) {
        let bytes = self.s.as_bytes();
        while self.i < bytes.len()
            && (bytes[self.i] == b'_' || bytes[self.i].is_ascii_alphanumeric())
        {
            self.i += 1;
        }
        if self.i >= bytes.len() || bytes[self.i].is_ascii() {
            return;
        }
        let rest = self.rest();
        let n = rest
            .char_indices()
            .find(|&(_, c)| !is_ident_continue(c))
            .map_or(rest.len(), |(i, _)| i);
        self.i += n;
    }

    /// Advances to the end of the line (not past the newline).
    fn skip_line(&mut self) {
        self.i += self.rest().find('\n').unwrap_or(self.rest().len());
    }

    /// Advances past a (possibly nested) block comment starting at `/*`.
    fn skip_block_comment(&mut self) {
        self.i += block_comment_len(self.rest()).unwrap_or(self.rest().len());
    }

    /// Advances past a cooked string body after its opening `"`, then a suffix.
    fn skip_cooked(&mut self) {
        let bytes = self.s.as_bytes();
        let mut i = self.i;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
        self.i = i.min(bytes.len());
        self.skip_ident();
    }

    /// Advances past a raw string starting after its `r` (at the `#`s or the `"`), then a suffix.
    fn skip_raw(&mut self) {
        let hashes = self.rest().bytes().take_while(|&b| b == b'#').count();
        self.i += hashes + 1; // the hashes and the opening quote
        let close = format!("\"{}", "#".repeat(hashes));
        self.i += self
            .rest()
            .find(&close)
            .map_or(self.rest().len(), |n| n + close.len());
        self.skip_ident();
    }

    /// A character literal starting at `'` (`'x'`, `'\n'`, `'\u{1F600}'`), if it is one; else
    /// the `'` is a lifetime's or label's.
    fn char_literal(&mut self) -> bool {
        let mut chars = self.rest().char_indices().skip(1);
        let Some((_, first)) = chars.next() else {
            return false;
        };
        if first == '\\' {
            // An escape: up to the closing quote (`'\''` has its quote escaped).
            let body = &self.rest()[2..];
            let end = body
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '\'')
                .map_or(body.len(), |(i, _)| i + 1);
            self.i += 2 + end;
            self.skip_ident();
            return true;
        }
        match chars.next() {
            Some((i, '\'')) => {
                self.i += i + 1;
                self.skip_ident();
                true
            }
            _ => false,
        }
    }

    /// A number literal starting at a digit, as proc-macro2 splits it: `1.0e-3f64` is one
    /// token, `1..2` three, `x.0.1` keeps `0.1` whole (as proc-macro2 does).
    fn number(&mut self) {
        let bytes = self.s.as_bytes();
        let mut i = self.i;
        let hex = self.at("0x");
        if hex || self.at("0o") || self.at("0b") {
            i += 2;
        }
        let digit = |b: u8| b.is_ascii_digit() || b == b'_' || (hex && b.is_ascii_hexdigit());
        while i < bytes.len() && digit(bytes[i]) {
            i += 1;
        }
        if !hex && bytes.get(i) == Some(&b'.') {
            // A fraction unless `..` or a method/field (`1.max(2)`), as proc-macro2 decides.
            let next = self.s[i + 1..].chars().next();
            if !next.is_some_and(|c| c == '.' || is_ident_start(c)) {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                    i += 1;
                }
            }
        }
        if !hex && matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let digits_from = j;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
                j += 1;
            }
            if bytes[digits_from..j].iter().any(u8::is_ascii_digit) {
                i = j;
            }
        }
        self.i = i;
        self.skip_ident(); // a suffix (`u8`, `f64`) or `e` without digits
    }

    /// The next token, skipping whitespace and comments; a doc comment is handed to `scorer`
    /// as the attribute tokens proc-macro2 makes of it, and lexing goes on.
    fn next_token(&mut self, scorer: &mut Scorer) -> Option<Tok> {
        loop {
            let bytes = self.s.as_bytes();
            while self.i < bytes.len() && matches!(bytes[self.i], b' ' | b'\n' | b'\t' | b'\r') {
                self.i += 1;
            }
            let c = self.peek()?;
            if c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200e}' | '\u{200f}') {
                self.i += c.len_utf8();
                continue;
            }
            if self.at("//") {
                let doc = (self.at("///") && !self.at("////")) || self.at("//!");
                let inner = self.at("//!");
                self.skip_line();
                if doc {
                    doc_attribute(scorer, inner);
                }
                continue;
            }
            if self.at("/*") {
                let doc =
                    (self.at("/**") && !self.at("/***") && !self.at("/**/")) || self.at("/*!");
                let inner = self.at("/*!");
                self.skip_block_comment();
                if doc {
                    doc_attribute(scorer, inner);
                }
                continue;
            }
            return Some(self.token(c));
        }
    }

    fn token(&mut self, c: char) -> Tok {
        match c {
            '(' | '[' | '{' => {
                self.i += 1;
                return Tok::Open(match c {
                    '(' => Delim::Paren,
                    '[' => Delim::Bracket,
                    _ => Delim::Brace,
                });
            }
            ')' | ']' | '}' => {
                self.i += 1;
                return Tok::Close;
            }
            '"' => {
                self.i += 1;
                self.skip_cooked();
                return Tok::Literal;
            }
            '0'..='9' => {
                self.number();
                return Tok::Literal;
            }
            '\'' if self.char_literal() => return Tok::Literal,
            _ => {}
        }
        // String prefixes: `r"`, `r#"`, `b"`, `b'`, `br"`, `c"`, `cr#"`, ….
        for (prefix, raw) in [("br", true), ("cr", true), ("r", true), ("b", false)] {
            if let Some(after) = self.rest().strip_prefix(prefix) {
                let is_raw_string = raw
                    && (after.starts_with('"')
                        || (after.starts_with('#')
                            && after.trim_start_matches('#').starts_with('"')));
                if is_raw_string {
                    self.i += prefix.len();
                    self.skip_raw();
                    return Tok::Literal;
                }
            }
        }
        if self.at("b\"") || self.at("c\"") {
            self.i += 2;
            self.skip_cooked();
            return Tok::Literal;
        }
        if self.at("b'") {
            self.i += 1;
            if self.char_literal() {
                return Tok::Literal;
            }
            self.i -= 1;
        }
        if is_punct(c) {
            self.i += c.len_utf8();
            let joint = c == '\''
                || (self.peek().is_some_and(is_punct) && !self.at("//") && !self.at("/*"));
            return Tok::Punct(c, joint);
        }
        // An identifier, raw (`r#type`) or not.
        if self.at("r#") {
            self.i += 2;
        }
        let start = self.i;
        self.skip_ident();
        if self.i == start {
            // Not something proc-macro2 would have accepted; step over it.
            self.i += c.len_utf8();
        }
        let word = &self.s[start..self.i];
        Tok::Ident(word == "else" || word == "as")
    }
}

/// The length of the (possibly nested) block comment `s` starts with (at `/*`), or `None` when
/// it is not closed.
pub(super) fn block_comment_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The tokens proc-macro2 makes of a doc comment: `#`, `!` if inner, `[doc = "…"]`.
fn doc_attribute(scorer: &mut Scorer, inner: bool) {
    scorer.token(Tok::Punct('#', false));
    if inner {
        scorer.token(Tok::Punct('!', false));
    }
    for tok in [
        Tok::Open(Delim::Bracket),
        Tok::Ident(false),
        Tok::Punct('=', false),
        Tok::Literal,
        Tok::Close,
    ] {
        scorer.token(tok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

    /// The same score computed from proc-macro2's tokens: the definition the text lexer must
    /// agree with.
    fn token_score(tokens: TokenStream) -> usize {
        fn feed(scorer: &mut Scorer, tokens: TokenStream) {
            for tt in tokens {
                match tt {
                    TokenTree::Group(g) => {
                        scorer.token(Tok::Open(match g.delimiter() {
                            Delimiter::Parenthesis => Delim::Paren,
                            Delimiter::Bracket => Delim::Bracket,
                            Delimiter::Brace => Delim::Brace,
                            Delimiter::None => unreachable!("the lexer makes no None groups"),
                        }));
                        feed(scorer, g.stream());
                        scorer.token(Tok::Close);
                    }
                    TokenTree::Punct(p) => {
                        scorer.token(Tok::Punct(p.as_char(), p.spacing() == Spacing::Joint));
                    }
                    TokenTree::Ident(i) => {
                        scorer.token(Tok::Ident(i == "else" || i == "as"));
                    }
                    TokenTree::Literal(_) => {
                        scorer.token(Tok::Literal);
                    }
                }
            }
        }
        let mut scorer = Scorer::new();
        feed(&mut scorer, tokens);
        scorer.max
    }

    fn both(src: &str) -> (usize, usize) {
        (
            nesting_score(src, usize::MAX),
            token_score(src.parse().unwrap()),
        )
    }

    #[test]
    fn the_text_lexer_agrees_with_proc_macro2_on_tricky_tokens() {
        for src in [
            "fn f<'a>(x: &'a str) -> &'a str { 'outer: loop { break 'outer; } x }",
            "const C: [char; 4] = ['a', '\\'', '\\u{1F600}', b'x' as char]; let s = \"a;{\\\"\";",
            "let r = r#\"raw \"{ ; \"#; let b = br##\"x\"# ;\"##; let c = c\"c\"; let k = cr#\"k\"#;",
            "let n = 1.0e-3f64 + 0x1F_u8 as f64 + 1..2 + x.0.1 + 1.max(2) + 2e10 + 3E+4_f32;",
            "/// doc\n//! inner\n/** block doc */ /*! inner block */ /* plain /* nested */ */\n\
             /**/ /*** not doc */ //// not doc\nfn f() {}",
            "let r#type = 1; let y = a<=b && c>>=d || e=>f -> g; x::<Vec<u8>>()?;",
            "match x { A => {} B => if y { 1 } else { 2 }, _ => 3 as u8 }",
            "let s = \"multi\nline { ( [\"; let t = 'x';\nfn g() {}",
            "let é = \"ü\"; fn ƒ() {}",
        ] {
            let (text, tokens) = both(src);
            assert_eq!(text, tokens, "{src}");
        }
    }

    /// Every Rust file of the repository (sources, fixtures, runtime, tests) scores the same
    /// from the text as from proc-macro2's tokens.
    #[test]
    fn the_text_lexer_agrees_with_proc_macro2_on_the_repository() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for entry in ignore::WalkBuilder::new(root)
            .hidden(false)
            .build()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs") || path.starts_with(root.join("target")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let Ok(tokens) = text.parse::<TokenStream>() else {
                continue; // fixtures that are not valid Rust on purpose
            };
            assert_eq!(
                nesting_score(&text, usize::MAX),
                token_score(tokens),
                "{}",
                path.display()
            );
            checked += 1;
        }
        assert!(checked > 100, "only {checked} files checked");
    }
}
