//! The file's own layout, read from its text: line endings, indentation of a line, the
//! indentation step. Rules and fix builders both use these so a fixed file looks hand-edited.

/// How much of the text the layout guesses read: their answer is a matter of style, and
/// reading a 2 MB minified line once per finding made fix building quadratic.
const LAYOUT_SAMPLE: usize = 64 * 1024;

/// The first [`LAYOUT_SAMPLE`] bytes of `src` (on a character boundary).
fn sample(src: &str) -> &str {
    let mut end = src.len().min(LAYOUT_SAMPLE);
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    &src[..end]
}

/// The file's line ending: `\r\n` when its first line ends so (a first line longer than
/// 64 KiB is minified code: `\n`).
pub fn newline(src: &str) -> &'static str {
    let src = sample(src);
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Where the line holding `offset` starts.
pub fn line_start(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// The leading whitespace of the line holding `offset`.
pub fn line_indent(src: &str, offset: usize) -> &str {
    let start = line_start(src, offset);
    let rest = &src[start..];
    let end = rest
        .find(|c: char| c != ' ' && c != '\t')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The file's indentation step: a tab if indented lines start with tabs, else the smallest
/// positive difference between the indentation of consecutive lines (2 or 4 spaces), else
/// `default` — judged on the first 400 lines within the first 64 KiB.
pub fn indent_unit(src: &str, default: usize) -> String {
    let mut prev = 0usize;
    let mut best: Option<usize> = None;
    for line in sample(src).lines().take(400) {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            return "\t".into();
        }
        let n = line.len() - line.trim_start_matches(' ').len();
        if n > prev {
            let step = n - prev;
            if (2..=8).contains(&step) {
                best = Some(best.map_or(step, |b: usize| b.min(step)));
            }
        }
        prev = n;
    }
    " ".repeat(best.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_indents_and_units() {
        assert_eq!(newline("a\r\nb"), "\r\n");
        assert_eq!(newline("a\nb"), "\n");
        assert_eq!(line_indent("a\n    b();\n", 8), "    ");
        assert_eq!(line_start("a\n    b();\n", 8), 2);
        assert_eq!(indent_unit("a\n    b\n        c\n", 2), "    ");
    }
}
