//! Edit helpers every fix builder uses: fixes and edits, statements inserted with the file's own
//! layout (indentation unit, line endings) so a fixed file looks hand-edited, free names, import
//! places. Every helper returns plain [`Edit`]s; a rule gathers them into one [`Fix`] whose edits
//! go in together or not at all (the applier re-parses the result and refuses a fix that breaks
//! it).

use std::ops::Range;

use crate::diagnostic::{Applicability, Edit, Fix};
use crate::facts::{FileFacts, ScopeId};
pub use crate::fixes::text::{indent_unit, line_indent, line_start, newline};

/// A fix of edits in the diagnostic's own file.
pub fn fix(title: impl Into<String>, applicability: Applicability, edits: Vec<Edit>) -> Fix {
    Fix {
        title: title.into(),
        applicability,
        edits,
    }
}

/// Replaces `range` with `content`.
pub fn replace(range: Range<usize>, content: impl Into<String>) -> Edit {
    Edit {
        file: None,
        range,
        content: content.into(),
    }
}

/// Inserts `content` at `at`.
pub fn insert(at: usize, content: impl Into<String>) -> Edit {
    replace(at..at, content)
}

/// Inserts the lines of `code` (each a statement, without indentation) before the statement
/// starting at `stmt_start`, at that statement's indentation.
pub fn insert_before_statement(src: &str, stmt_start: usize, code: &[String]) -> Edit {
    let nl = newline(src);
    let indent = line_indent(src, stmt_start);
    let mut text = String::new();
    for line in code {
        text.push_str(line);
        text.push_str(nl);
        text.push_str(indent);
    }
    insert(stmt_start, text)
}

/// Inserts the lines of `code` after the statement ending at `stmt_end`, on new lines at the
/// indentation of the line where that statement starts (`stmt_start`) — after a `//` comment
/// that ends the statement's line, which stays with the statement.
pub fn insert_after_statement(
    src: &str,
    stmt_start: usize,
    stmt_end: usize,
    code: &[String],
) -> Edit {
    let nl = newline(src);
    let indent = line_indent(src, stmt_start);
    let mut text = String::new();
    for line in code {
        text.push_str(nl);
        if !line.is_empty() {
            text.push_str(indent);
        }
        text.push_str(line);
    }
    let rest = src.get(stmt_end..).unwrap_or("");
    let eol = rest.find('\n').unwrap_or(rest.len());
    let tail = rest[..eol].trim_end_matches('\r');
    let at = if tail.trim_start().starts_with("//") {
        stmt_end + tail.len()
    } else {
        stmt_end
    };
    insert(at, text)
}

/// `block` spans `{ … }` in `src`: tree-sitter's error recovery can give a body without its
/// closing brace (ending on any character), and no edit is placed inside such a body.
pub(crate) fn is_braced(src: &str, block: &Range<usize>) -> bool {
    src.get(block.clone())
        .is_some_and(|b| b.len() >= 2 && b.starts_with('{') && b.ends_with('}'))
}

/// Inserts the lines of `code` as the last statements of the block `block` (braces included),
/// one indentation step deeper than the line holding its closing brace; `None` when `block` is
/// not a braced block of `src`.
pub fn append_to_block(
    src: &str,
    block: &Range<usize>,
    code: &[String],
    unit: &str,
) -> Option<Edit> {
    if !is_braced(src, block) {
        return None;
    }
    let nl = newline(src);
    let close = block.end - 1;
    let before = &src[block.start + 1..close];
    let indent = format!("{}{unit}", line_indent(src, close));
    if before.trim().is_empty() || !src[line_start(src, close)..close].trim().is_empty() {
        // An empty or one-line block: put the statements on their own lines.
        let mut text = String::new();
        let trimmed_end = block.start + 1 + before.trim_end().len();
        for line in code {
            text.push_str(nl);
            if !line.is_empty() {
                text.push_str(&indent);
            }
            text.push_str(line);
        }
        text.push_str(nl);
        text.push_str(line_indent(src, block.start));
        return Some(replace(trimmed_end..close, text));
    }
    // The closing brace is on its own line: insert full lines just above it.
    let at = line_start(src, close);
    let mut text = String::new();
    for line in code {
        if !line.is_empty() {
            text.push_str(&indent);
        }
        text.push_str(line);
        text.push_str(nl);
    }
    Some(insert(at, text))
}

/// Inserts the lines of `code` as the first statements of the block `block` (braces included);
/// `None` when `block` is not a braced block of `src`.
pub fn prepend_to_block(
    src: &str,
    block: &Range<usize>,
    code: &[String],
    unit: &str,
) -> Option<Edit> {
    if !is_braced(src, block) {
        return None;
    }
    let nl = newline(src);
    let close = block.end - 1;
    let inner = &src[block.start + 1..close];
    if inner.trim().is_empty() || !inner.contains('\n') {
        return append_to_block(src, block, code, unit);
    }
    let indent = format!("{}{unit}", line_indent(src, block.start));
    let mut text = String::new();
    for line in code {
        text.push_str(nl);
        if !line.is_empty() {
            text.push_str(&indent);
        }
        text.push_str(line);
    }
    Some(insert(block.start + 1, text))
}

/// `base`, or `base2`, `base3`… — the first that `taken` refuses.
pub fn unique_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !taken(n))
        .expect("some suffix is free")
}

/// A name appears in the file as a word — every binding and field name does, and so does any
/// other use — through the file's word index (one lookup, not a scan of the text).
pub fn name_in_use(facts: &FileFacts, src: &str, name: &str) -> bool {
    facts.has_word(src, name)
}

/// A new variable `name` declared in `scope` would shadow or clash: the name is visible there,
/// or declared inside it.
pub fn name_taken_near(facts: &FileFacts, scope: ScopeId, name: &str) -> bool {
    facts.lookup(name, scope).is_some()
        || facts
            .bindings
            .iter()
            .any(|b| b.name == name && facts.is_within(b.scope, scope))
}

/// A lowerCamel name for a handle, from words around it: `heartbeat` + `Timer`.
pub fn camel(parts: &[&str]) -> String {
    let mut out = String::new();
    for p in parts {
        for w in p
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if out.is_empty() {
                let mut cs = w.chars();
                if let Some(f) = cs.next() {
                    out.extend(f.to_lowercase());
                    out.push_str(cs.as_str());
                }
            } else {
                let mut cs = w.chars();
                if let Some(f) = cs.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(cs.as_str());
                }
            }
        }
    }
    out
}

/// Where cleanup goes and how the fix says so.
pub struct Cleanup {
    /// "in `close()`", "in a new `dispose()` method".
    pub where_: String,
    pub edits: Vec<Edit>,
}

/// Where the parenthesised argument list that starts at or after `from` ends (just past its
/// `)`), skipping type arguments, strings, template literals and comments; `None` when no
/// argument list follows.
pub fn call_end(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if bytes.get(i) == Some(&b'<') {
        let mut depth = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'<' => depth += 1,
                b'>' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
    }
    if bytes.get(i) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where a new `import` line goes: after the last import statement at the top of the file
/// (offset of the line after it), or the start of the file.
pub fn import_insertion_point(src: &str) -> usize {
    let mut offset = 0;
    let mut after = 0;
    let mut in_import = false;
    for line in src.split_inclusive('\n') {
        let t = line.trim();
        if in_import || t.starts_with("import ") || t.starts_with("import{") {
            in_import = !(t.ends_with(';') || t.contains(" from ") || t.starts_with("import '"));
            after = offset + line.len();
        } else if !(t.is_empty()
            || t.starts_with("//")
            || t.starts_with("/*")
            || t.starts_with('*')
            || t.starts_with("'use ")
            || t.starts_with("\"use ")
            || t.starts_with("#!"))
            && after > 0
        {
            break;
        }
        offset += line.len();
    }
    after
}

/// A relative module specifier from the file `from` to the file `to` (`./openai-client`,
/// `../ai/openai-client`), with the extension the file's own relative imports use (`.js` in
/// NodeNext projects), else none.
pub fn relative_specifier(from: &std::path::Path, to: &std::path::Path, src: &str) -> String {
    use std::path::Component;
    let base: Vec<Component> = from
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    let target: Vec<Component> = to.components().collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..base.len() {
        parts.push("..".into());
    }
    for c in &target[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    let mut spec = parts.join("/");
    if !spec.starts_with("..") {
        spec = format!("./{spec}");
    }
    let ext = to.extension().and_then(|e| e.to_str()).unwrap_or("");
    let stem = spec
        .strip_suffix(&format!(".{ext}"))
        .unwrap_or(&spec)
        .to_string();
    let uses_js = src.contains(".js';") || src.contains(".js\";");
    if uses_js { format!("{stem}.js") } else { stem }
}

/// `src[range]` is a TypeScript file (type annotations allowed), judged by the path.
pub fn is_typescript(path: &std::path::Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ts" | "tsx" | "mts" | "cts")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::apply_edits;

    fn apply(src: &str, e: Option<Edit>) -> String {
        let e = e.expect("an edit");
        apply_edits(src, &[(e.range, e.content)]).0
    }

    #[test]
    fn appends_inside_blocks_at_the_right_indentation() {
        let src = "class A {\n  close() {\n    a();\n  }\n}\n";
        let open = src.find("{\n    a").unwrap();
        let close = src.find("  }\n}").unwrap() + 3;
        let e = append_to_block(src, &(open..close), &["b();".into()], "  ");
        assert_eq!(
            apply(src, e),
            "class A {\n  close() {\n    a();\n    b();\n  }\n}\n"
        );
        let src = "  close() {}\n";
        let e = append_to_block(src, &(10..12), &["b();".into()], "  ");
        assert_eq!(apply(src, e), "  close() {\n    b();\n  }\n");
        let src = "f(() => { a(); });\n";
        let e = append_to_block(src, &(8..16), &["b();".into()], "  ");
        assert_eq!(apply(src, e), "f(() => { a();\n  b();\n});\n");
    }

    /// Error recovery can end a class body on any character, even a multi-byte one: no edit is
    /// placed (and nothing slices inside the character), seen in the language server's soak.
    #[test]
    fn a_body_without_its_closing_brace_gets_no_edit() {
        let src = "class A {\n  f() {}\n  x = '中文";
        let body = src.find('{').unwrap()..src.len();
        assert!(append_to_block(src, &body, &["b();".into()], "  ").is_none());
        assert!(prepend_to_block(src, &body, &["b();".into()], "  ").is_none());
        assert!(append_to_block(src, &(0..src.len() + 1), &["b();".into()], "  ").is_none());
        let src = "{}";
        assert_eq!(
            apply(src, prepend_to_block(src, &(0..2), &["b();".into()], "  ")),
            "{\n  b();\n}"
        );
    }

    #[test]
    fn statements_go_before_and_after_with_the_files_line_endings() {
        let src = "if (x) {\r\n    go();\r\n}\r\n";
        let at = src.find("go").unwrap();
        let e = insert_before_statement(src, at, &["let t;".into()]);
        assert_eq!(
            apply(src, Some(e)),
            "if (x) {\r\n    let t;\r\n    go();\r\n}\r\n"
        );
        let e = insert_after_statement(src, at, at + 5, &["".into(), "done();".into()]);
        assert_eq!(
            apply(src, Some(e)),
            "if (x) {\r\n    go();\r\n\r\n    done();\r\n}\r\n"
        );
    }

    #[test]
    fn names_and_units() {
        assert_eq!(indent_unit("a\n    b\n        c\n", 2), "    ");
        assert_eq!(indent_unit("a\n\tb\n", 2), "\t");
        assert_eq!(indent_unit("a\n", 2), "  ");
        assert_eq!(camel(&["start heartbeat", "timer"]), "startHeartbeatTimer");
        let facts = FileFacts::default();
        assert!(facts.has_word("let timer = 1", "timer"));
        let facts = FileFacts::default();
        assert!(!facts.has_word("let timers = 1", "timer"));
        assert_eq!(unique_name("t", |n| n == "t" || n == "t2"), "t3");
    }
}
