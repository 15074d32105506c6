//! Node and string helpers of the TypeScript front end: the span to report, the wrappers to
//! see through, string literals and identifier paths. No facts are made here.

use std::ops::Range;

use tree_sitter::Node;

use super::NodeExt;

/// The shortest useful span of a call or `new`: from its start to the end of the callee
/// (`setInterval`, `bus.on`, `new OpenAI`), so multi-line arguments are not underlined.
pub(super) fn head_span(n: Node) -> Range<usize> {
    let callee = n.field("function").or_else(|| n.field("constructor"));
    match callee {
        Some(c) => n.start_byte()..c.end_byte(),
        None => n.byte_range(),
    }
}

/// Strips parentheses and TS-only wrappers around an expression.
pub(super) fn strip(mut n: Node) -> Node {
    loop {
        let next = match n.kind_name() {
            "parenthesized_expression"
            | "non_null_expression"
            | "as_expression"
            | "satisfies_expression"
            | "await_expression" => n.named_child(0),
            // `(0, utils_1.send)(…)`: how TypeScript and Babel compile a call of an imported
            // function (so it runs without `this`); the callee is the last operand.
            "sequence_expression"
                if n.named_child(0).is_some_and(|c| c.kind_name() == "number")
                    && n.named_child_count() == 2 =>
            {
                n.named_child(1)
            }
            _ => None,
        };
        match next {
            Some(c) => n = c,
            None => return n,
        }
    }
}

pub(super) fn is_function(n: Node) -> bool {
    matches!(
        n.kind_name(),
        "arrow_function" | "function_expression" | "function"
    )
}

/// A block with no statements (comments only count as nothing).
pub(super) fn is_empty_block(b: Node) -> bool {
    b.kind_name() == "statement_block" && {
        let mut c = b.walk();
        b.named_children(&mut c).all(|s| s.kind_name() == "comment")
    }
}

pub(super) fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

/// The value of a string literal (or a template without substitutions).
pub(super) fn string_value(text: &str, kind: &str) -> Option<String> {
    match kind {
        "string" => Some(unquote(text)),
        "template_string" if !text.contains("${") => Some(unquote(text)),
        _ => None,
    }
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
