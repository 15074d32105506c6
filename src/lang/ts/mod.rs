//! TypeScript/JavaScript front end: tree-sitter parse, then one recursive cursor walk that
//! lowers the tree into [`FileFacts`]. The walk keeps the ancestor stack itself, so deciding
//! where a value goes (its placement) never asks tree-sitter for a parent.
//!
//! Here: the entry [`lower`], its errors, the nesting guard [`bracket_depth`], the per-thread
//! parsers and the field ids the walk asks by. The walk itself is split by concern:
//! - `walk`: the `Walker` state, the cursor walk and the dispatch on node kinds;
//! - `flow`: control flow (branches, loops, `try`, exits) and what it marks on events;
//! - `scopes`: bindings, functions, classes and their members;
//! - `places`: where a value goes and what an expression denotes; assignments;
//! - `modules`: imports and exports, ES modules and CommonJS;
//! - `calls/`: calls and constructions, one file per API family;
//! - `text`: node and string helpers (spans, literals, wrappers).

mod calls;
mod es5;
mod flow;
mod latches;
mod modules;
mod places;
mod scopes;
mod text;
mod walk;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tree_sitter::{Node, Parser};

use crate::facts::FileFacts;
use crate::source::Language;
use walk::Walker;

/// Why a file could not be lowered.
#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    #[error("tree-sitter could not load the {0:?} grammar")]
    Grammar(Language),
    #[error(
        "timed out: parsing and analysing took longer than the per-file budget of {0:?}; file \
         skipped"
    )]
    Timeout(Duration),
    #[error("nesting deeper than {0} levels; file skipped")]
    TooDeep(usize),
}

/// Brackets nesting deeper than this (by [`bracket_depth`]) reject a file before parsing.
const PRE_REJECT_DEPTH: usize = 4 * MAX_DEPTH;

/// Deepest nesting the walk follows; deeper files are reported, not walked. A file whose
/// brackets alone nest deeper is rejected before parsing (see [`bracket_depth`]).
pub const MAX_DEPTH: usize = 20_000;

/// The field names the walk asks for, in the order of [`FieldIds`].
const FIELD_NAMES: [&str; 24] = [
    "alias",
    "alternative",
    "argument",
    "arguments",
    "body",
    "condition",
    "consequence",
    "constructor",
    "declaration",
    "finalizer",
    "function",
    "handler",
    "key",
    "left",
    "name",
    "object",
    "operator",
    "parameter",
    "parameters",
    "pattern",
    "property",
    "right",
    "source",
    "value",
];

/// A grammar's id of each name in [`FIELD_NAMES`] (0: the grammar has no such field). Asking
/// tree-sitter by name costs a string comparison against every field name of the grammar, on
/// every call; the walk asks a hundred times per file region, so it asks by id.
type FieldIds = [u16; FIELD_NAMES.len()];

fn field_ids(lang: &tree_sitter::Language) -> FieldIds {
    let mut ids = [0u16; FIELD_NAMES.len()];
    for (i, name) in FIELD_NAMES.iter().enumerate() {
        ids[i] = lang.field_id_for_name(name).map_or(0, |id| id.get());
    }
    ids
}

/// The index of a field name in [`FIELD_NAMES`] (by length first, so most names are told
/// apart by one comparison).
#[inline]
fn field_index(name: &str) -> Option<usize> {
    FIELD_NAMES
        .iter()
        .position(|f| f.len() == name.len() && *f == name)
}

/// Each grammar's node kind names by kind id, made once per process: `Node::kind` measures the
/// grammar's C string and checks it is UTF-8 on every call, and the walk asks for kinds
/// millions of times (5 % of a run's time before this table).
fn kind_names(language: Language, lang: &tree_sitter::Language) -> &'static [&'static str] {
    static LANGS: [std::sync::OnceLock<tree_sitter::Language>; 3] =
        [const { std::sync::OnceLock::new() }; 3];
    static TABLES: [std::sync::OnceLock<Box<[&'static str]>>; 3] =
        [const { std::sync::OnceLock::new() }; 3];
    let slot = match language {
        Language::TypeScript => 0,
        Language::Tsx => 1,
        _ => 2,
    };
    let lang: &'static tree_sitter::Language = LANGS[slot].get_or_init(|| lang.clone());
    TABLES[slot].get_or_init(|| {
        (0..lang.node_kind_count())
            .map(|id| {
                u16::try_from(id)
                    .ok()
                    .and_then(|id| lang.node_kind_for_id(id))
                    .unwrap_or("")
            })
            .collect()
    })
}

/// A worker's parser for one grammar, with that grammar's field ids and kind names.
type GrammarParser = (Language, Parser, FieldIds, &'static [&'static str]);

thread_local! {
    /// The field ids of the grammar being walked on this thread (set by [`lower`]).
    static FIELDS: std::cell::Cell<FieldIds> = const { std::cell::Cell::new([0; FIELD_NAMES.len()]) };
    /// The node kind names of the grammar being walked on this thread (set by [`lower`]).
    static KINDS: std::cell::Cell<&'static [&'static str]> = const { std::cell::Cell::new(&[]) };
    /// One parser per grammar per worker thread, reused from file to file.
    static PARSERS: std::cell::RefCell<Vec<GrammarParser>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `child_by_field_name` through the current grammar's field ids.
trait NodeExt<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>>;
    /// The node's kind, as `Node::kind`, from the grammar's table (see [`kind_names`]).
    fn kind_name(&self) -> &'t str;
}

impl<'t> NodeExt<'t> for Node<'t> {
    #[inline]
    fn kind_name(&self) -> &'t str {
        let id = usize::from(self.kind_id());
        KINDS
            .with(|k| k.get().get(id).copied())
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| Node::kind(self))
    }

    #[inline]
    fn field(&self, name: &str) -> Option<Node<'t>> {
        let id = field_index(name).map_or(0, |i| FIELDS.with(|f| f.get()[i]));
        match std::num::NonZeroU16::new(id) {
            Some(id) => self.child_by_field_id(id.get()),
            None => self.child_by_field_name(name),
        }
    }
}

/// Deepest bracket nesting of a JS/TS text, by a quick lexical scan: comments, strings,
/// template literals (with their `${…}` holes) and regular-expression literals (a `/` where an
/// operand may start) are skipped. JSX text is not recognised, so a bracket in it counts: an
/// over-estimate only, which [`lower_with`] confirms on the tree before calling a file too
/// deep. Stops once above `limit`.
pub fn bracket_depth(text: &str, limit: usize) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    // Where the last significant token ended: a `/` after an operand divides, anywhere else it
    // starts a regular expression.
    let mut after_operand = false;
    // For each open `${` hole: the depth at which its `}` goes back into the template.
    let mut holes: Vec<usize> = Vec::new();
    // Scans template text from `i`; returns where code resumes (after the closing backtick or
    // after a `${`, which then counts as an open bracket).
    let template = |mut i: usize, depth: &mut usize, holes: &mut Vec<usize>| -> usize {
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'`' => return i + 1,
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    *depth += 1;
                    holes.push(*depth);
                    return i + 2;
                }
                _ => i += 1,
            }
        }
        i
    };
    while i < b.len() {
        let c = b[i];
        let operand_before = after_operand;
        if !c.is_ascii_whitespace() {
            after_operand = false;
        }
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
                after_operand = operand_before;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                after_operand = operand_before;
            }
            b'/' if !operand_before => {
                i = skip_regex(b, i + 1);
                after_operand = true;
            }
            b'_' | b'$' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | 0x80.. => {
                let start = i;
                while i < b.len()
                    && matches!(b[i], b'_' | b'$' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | 0x80..)
                {
                    i += 1;
                }
                // After a keyword such as `return` an operand (a regex) may follow.
                after_operand = !REGEX_AFTER.contains(&&text[start..i]);
                continue;
            }
            q @ (b'\'' | b'"') => {
                // A string ends at its quote or, unterminated, at the end of the line.
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                after_operand = true;
            }
            b'`' => {
                i = template(i + 1, &mut depth, &mut holes);
                max = max.max(depth);
                after_operand = true;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                i += 1;
            }
            b'}' if holes.last() == Some(&depth) => {
                holes.pop();
                depth -= 1;
                i = template(i + 1, &mut depth, &mut holes);
                max = max.max(depth);
                after_operand = true;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                after_operand = true;
            }
            _ => i += 1,
        }
        if max > limit {
            break;
        }
    }
    max
}

/// Words after which a `/` starts a regular expression rather than dividing.
const REGEX_AFTER: &[&str] = &[
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "yield",
    "await",
    "instanceof",
];

/// The end of a regular-expression literal whose body starts at `i`: after its closing `/` (a
/// `/` inside a `[…]` class or escaped does not close it) and its flags; an unterminated one
/// ends at the line's end.
fn skip_regex(b: &[u8], mut i: usize) -> usize {
    let mut class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b'[' => {
                class = true;
                i += 1;
            }
            b']' => {
                class = false;
                i += 1;
            }
            b'/' if !class => {
                i += 1;
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return i;
            }
            _ => i += 1,
        }
    }
    i
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

/// Parses and lowers one file.
pub fn lower(text: &str, language: Language, budget: Duration) -> Result<FileFacts, LowerError> {
    PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        let at = match parsers.iter().position(|(l, ..)| *l == language) {
            Some(at) => at,
            None => {
                let lang: tree_sitter::Language = match language {
                    Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                    Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
                    Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
                    Language::Rust => return Err(LowerError::Grammar(language)),
                };
                let mut parser = Parser::new();
                parser
                    .set_language(&lang)
                    .map_err(|_| LowerError::Grammar(language))?;
                let kinds = kind_names(language, &lang);
                parsers.push((language, parser, field_ids(&lang), kinds));
                parsers.len() - 1
            }
        };
        let (_, parser, ids, kinds) = &mut parsers[at];
        FIELDS.with(|f| f.set(*ids));
        KINDS.with(|k| k.set(kinds));
        lower_with(parser, text, language, budget)
    })
}

fn lower_with(
    parser: &mut Parser,
    text: &str,
    language: Language,
    budget: Duration,
) -> Result<FileFacts, LowerError> {
    // A parse abandoned at the budget would otherwise resume on the next file.
    parser.reset();
    // Far deeper brackets than any real code are rejected at once, without parsing — in
    // TypeScript, where the scan cannot over-count. Where JSX text may hold brackets (`.tsx`,
    // JavaScript) the scan over-counts, so the tree decides: the walk's own guard stops at
    // `MAX_DEPTH` (tree-sitter's parser does not recurse).
    if language == Language::TypeScript && bracket_depth(text, PRE_REJECT_DEPTH) > PRE_REJECT_DEPTH
    {
        return Err(LowerError::TooDeep(MAX_DEPTH));
    }
    let start = Instant::now();
    let bytes = text.as_bytes();
    let mut progress = |_: &tree_sitter::ParseState| {
        if start.elapsed() > budget {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser
        .parse_with_options(
            &mut |i, _| if i < bytes.len() { &bytes[i..] } else { &[] },
            None,
            Some(options),
        )
        .ok_or(LowerError::Timeout(budget))?;
    let mut w = Walker::new(text);
    w.deadline = start.checked_add(budget);
    w.find_es5_classes(tree.root_node());
    w.visit(tree.root_node());
    drop(w.cursors);
    if w.too_deep {
        return Err(LowerError::TooDeep(MAX_DEPTH));
    }
    if w.timed_out {
        return Err(LowerError::Timeout(budget));
    }
    let mut facts = w.facts;
    facts.finish();
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;

    #[test]
    fn mentions_whole_identifiers() {
        assert!(mentions("!client", "client"));
        assert!(mentions("!this.client", "this.client"));
        assert!(!mentions("!clientId", "client"));
        assert!(!mentions("!this.client", "client"));
        assert!(mentions("() => reject(new Error())", "reject("));
    }

    fn lower_ts(src: &str) -> FileFacts {
        lower(src, Language::TypeScript, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn a_callee_broken_over_lines_is_named_on_one() {
        let f = lower_ts("target\n    .on('newListener', (name) => {\n  go(name);\n});\n");
        let callees: Vec<&str> = f
            .scopes
            .iter()
            .filter_map(|s| match &s.kind {
                ScopeKind::Callback(r) => Some(r.callee.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(callees, ["target.on"]);
    }

    #[test]
    fn timer_handles_are_placed() {
        let f = lower_ts(
            "const a = setInterval(f, 1);\nsetInterval(g, 2).unref();\nclass C { t?: any; start() { this.t = setInterval(h, 3); } }\n",
        );
        let timers: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer(t) => Some((f.resolve(&t.handle), t.unref)),
                _ => None,
            })
            .collect();
        assert!(matches!(timers[0], (Place::Binding(_), false)));
        assert_eq!(timers[1], (Place::Discarded, true));
        assert!(matches!(&timers[2].0, Place::Field { name, .. } if name == "t"));
    }

    #[test]
    fn deadline_from_race_and_sleep_is_not_one() {
        let f = lower_ts(
            "async function a(p) { await Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('t')), 10))]); }\nasync function s() { await new Promise(r => setTimeout(r, 5)); }\n",
        );
        let d: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer(t) => Some(t.deadline.clone()),
                _ => None,
            })
            .collect();
        assert!(d[0].as_ref().is_some_and(|d| d.in_race));
        let sleep = d[1].as_ref().unwrap();
        assert!(!sleep.in_race && !sleep.manual_race && !sleep.timeout_helper);
    }

    #[test]
    fn error_regions_are_skipped_and_the_rest_is_lowered() {
        let f = lower_ts("const x = ;;; }}}\nsetInterval(tick, 1000);\n");
        assert!(!f.syntax_errors.is_empty());
        assert!(
            f.events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Timer(_)))
        );
    }

    #[test]
    fn lifetimes_follow_callers() {
        let f = lower_ts(
            "function main() { helper(); }\nfunction helper() {}\nwss.on('connection', onConn);\nfunction onConn(ws) {}\nmain();\n",
        );
        let by_name = |n: &str| {
            f.scopes
                .iter()
                .position(|s| s.name.as_deref() == Some(n))
                .unwrap()
        };
        assert_eq!(f.lifetime(by_name("main")), Lifetime::Once);
        assert_eq!(f.lifetime(by_name("helper")), Lifetime::Once);
        assert_eq!(f.lifetime(by_name("onConn")), Lifetime::Repeated);
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn bracket_depth_skips_strings_comments_and_template_text() {
        assert_eq!(bracket_depth("f([{}])", usize::MAX), 3);
        assert_eq!(
            bracket_depth("'((((' \"[[[[\" // {{{{\n /* (((( */ x", usize::MAX),
            0
        );
        assert_eq!(bracket_depth("`(((( ${ a[0] } ))))` + (1)", usize::MAX), 2);
        assert_eq!(bracket_depth("`${`${ (x) }`}`", usize::MAX), 3);
        // An unterminated string stops at the end of its line.
        assert_eq!(bracket_depth("'((((\n(x)", usize::MAX), 1);
        // Stops counting once past the limit.
        assert_eq!(bracket_depth(&"[".repeat(1_000_000), 10), 11);
        // Regular expressions hold brackets that are not nesting; a `/` after an operand
        // divides.
        assert_eq!(bracket_depth("s.replace(/\\(/g, '')", usize::MAX), 1);
        assert_eq!(
            bracket_depth("x = /[(/]+/.test(y) && (a / b)", usize::MAX),
            1
        );
        assert_eq!(bracket_depth("return /((/.exec(s)", usize::MAX), 1);
        assert_eq!(bracket_depth("f(a) / (b / (c))", usize::MAX), 2);
    }

    #[test]
    fn too_deep_files_are_rejected() {
        // TypeScript: far too deep brackets are rejected by the scan, before parsing.
        let deep = format!("x = {};", "[".repeat(PRE_REJECT_DEPTH + 1));
        let err = lower(&deep, Language::TypeScript, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, LowerError::TooDeep(_)));
        // JavaScript (JSX text may hold brackets): the tree decides, and a tree nested past
        // the limit is too deep.
        // (The walk recurses: on a worker's big stack, as the engine runs it.)
        let n = MAX_DEPTH + 10;
        let nested = format!("x = {}{};", "[".repeat(n), "]".repeat(n));
        let err = crate::engine::on_big_stack(|| {
            lower(&nested, Language::JavaScript, Duration::from_secs(10)).unwrap_err()
        })
        .unwrap();
        assert!(matches!(err, LowerError::TooDeep(_)));
    }

    #[test]
    fn a_slow_parse_times_out() {
        let src =
            "function a(b,c){var d=b.map(function(e){return e*c});return{k:d}}".repeat(20_000);
        let err = lower(&src, Language::JavaScript, Duration::from_millis(5)).unwrap_err();
        assert!(matches!(err, LowerError::Timeout(_)));
        assert!(err.to_string().starts_with("timed out"));
    }
}
