//! Wrapping the rest of a block in `try { … } finally { … }`: the release that must run however
//! the code after an acquisition ends (an early `return`, a `throw`, a rejected `await`), for
//! TypeScript/JavaScript fixes.

use std::ops::Range;

use super::edits::{is_braced, replace};
use super::text::{line_indent, line_start, newline};
use crate::diagnostic::Edit;

/// Wraps the statements after `stmt` up to the end of `block` (braces included; `stmt` must be
/// a statement directly in it) in `try { … } finally { <cleanup> }`, re-indented one `unit`
/// deeper. One edit, from the line after `stmt` to the line of the block's closing brace.
/// `None` when the shape is not plain enough to re-indent safely: `stmt` nested deeper than
/// the block, nothing after it, the closing brace not on a line of its own, or a multi-line
/// template literal (re-indenting would change its text).
pub fn wrap_rest_in_finally(
    src: &str,
    stmt: &Range<usize>,
    block: &Range<usize>,
    cleanup: &[String],
    unit: &str,
) -> Option<Edit> {
    if !(is_braced(src, block) && block.start < stmt.start && stmt.end < block.end) {
        return None;
    }
    if depth(src.get(block.start + 1..stmt.start)?)? != 0 {
        return None;
    }
    let nl = newline(src);
    // The rest starts on the line after the statement (a trailing comment stays with it).
    let after = src.get(stmt.end..block.end)?;
    let rest_start = stmt.end + after.find('\n')? + 1;
    let close = block.end - 1;
    let close_line = line_start(src, close);
    if !src.get(close_line..close)?.trim().is_empty() || rest_start > close_line {
        return None;
    }
    let rest = src.get(rest_start..close_line)?;
    if rest.trim().is_empty() || depth(rest)? != 0 || multiline_template(rest) {
        return None;
    }
    let indent = line_indent(src, stmt.start);
    let mut text = format!("{indent}try {{{nl}");
    for line in rest.split_inclusive('\n') {
        if !line.trim().is_empty() {
            text.push_str(unit);
        }
        text.push_str(line);
    }
    if !text.ends_with('\n') {
        text.push_str(nl);
    }
    text.push_str(&format!("{indent}}} finally {{{nl}"));
    for line in cleanup {
        text.push_str(&format!("{indent}{unit}{line}{nl}"));
    }
    text.push_str(&format!("{indent}}}{nl}"));
    Some(replace(rest_start..close_line, text))
}

/// The brace depth at the end of `code` (outside strings and comments), or `None` when it
/// dips below zero.
fn depth(code: &str) -> Option<i32> {
    let b = code.as_bytes();
    let (mut i, mut d) = (0, 0i32);
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i += code[i..].find('\n').unwrap_or(code.len() - i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += code[i..].find("*/").map_or(code.len() - i, |e| e + 2);
            }
            q @ (b'\'' | b'"' | b'`') => {
                let mut j = i + 1;
                while j < b.len() && b[j] != q {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                i = j + 1;
            }
            b'{' => {
                d += 1;
                i += 1;
            }
            b'}' => {
                d -= 1;
                if d < 0 {
                    return None;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Some(d)
}

/// `code` holds a template literal that spans lines.
fn multiline_template(code: &str) -> bool {
    let mut parts = code.split('`');
    parts.next();
    parts.step_by(2).any(|inside| inside.contains('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(src: &str, e: &Edit) -> String {
        format!(
            "{}{}{}",
            &src[..e.range.start],
            e.content,
            &src[e.range.end..]
        )
    }

    #[test]
    fn the_rest_of_the_block_is_wrapped_and_reindented() {
        let src = "async function f(p) {\n  const h = await open(p); // note\n  if (!h) return;\n  await h.read();\n}\n";
        let stmt_start = src.find("const").unwrap();
        let stmt = stmt_start..src.find(" // note").unwrap();
        let block = src.find('{').unwrap()..src.rfind('}').unwrap() + 1;
        let e =
            wrap_rest_in_finally(src, &stmt, &block, &["await h.close();".into()], "  ").unwrap();
        assert_eq!(
            apply(src, &e),
            "async function f(p) {\n  const h = await open(p); // note\n  try {\n    if (!h) return;\n    await h.read();\n  } finally {\n    await h.close();\n  }\n}\n"
        );
    }

    #[test]
    fn nested_statements_and_multiline_templates_are_left_alone() {
        let src = "function f() {\n  if (x) {\n    const h = open();\n    use(h);\n  }\n}\n";
        let stmt = src.find("const").unwrap()..src.find(";\n    use").unwrap() + 1;
        let block = src.find('{').unwrap()..src.rfind('}').unwrap() + 1;
        assert!(wrap_rest_in_finally(src, &stmt, &block, &["h.end();".into()], "  ").is_none());
        let src = "function f() {\n  const h = open();\n  h.write(`a\nb`);\n}\n";
        let stmt = src.find("const").unwrap()..src.find(";\n  h.write").unwrap() + 1;
        let block = src.find('{').unwrap()..src.rfind('}').unwrap() + 1;
        assert!(wrap_rest_in_finally(src, &stmt, &block, &["h.end();".into()], "  ").is_none());
        // Braces in strings and comments do not count.
        assert_eq!(depth("a('{'); // }\n b(\"}\");"), Some(0));
    }
}
