//! Source files as the engine sees them: text, language, and the byte ⇄ line/column index.

use std::path::{Path, PathBuf};

/// The languages unleak lowers into facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// `.ts`, `.mts`, `.cts`: the TypeScript grammar.
    TypeScript,
    /// `.tsx`, `.jsx`: the TSX grammar (JSX needs it; TS syntax is a superset of JS).
    Tsx,
    /// `.js`, `.mjs`, `.cjs`: the JavaScript grammar, which parses plain JS that the TS grammar
    /// would mis-read (e.g. `a < b > (c)`, legacy octal, `<T>` casts are not a thing in JS).
    JavaScript,
    /// `.rs`: syn.
    Rust,
}

impl Language {
    /// The language of a path, judged by its extension; `None` for files unleak does not lint.
    pub fn from_path(path: &Path) -> Option<Language> {
        let ext = path.extension()?.to_str()?;
        match ext {
            "ts" | "mts" | "cts" => {
                // Declaration files describe types only: nothing in them runs. (Lossy: a file
                // name that is not UTF-8 is still linted.)
                let name = path.file_name()?.to_string_lossy();
                if name.ends_with(".d.ts") || name.ends_with(".d.mts") || name.ends_with(".d.cts") {
                    None
                } else {
                    Some(Language::TypeScript)
                }
            }
            "tsx" | "jsx" => Some(Language::Tsx),
            "js" | "mjs" | "cjs" => Some(Language::JavaScript),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }
}

/// One file's text, read and validated.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative to the working directory when under it).
    pub path: PathBuf,
    pub language: Language,
    pub text: String,
    /// Built on first use: most files of a run never show a line (a scan of every byte was a
    /// tenth of a warm run).
    lines: std::sync::OnceLock<LineIndex>,
}

impl SourceFile {
    pub fn new(path: PathBuf, language: Language, text: String) -> SourceFile {
        SourceFile {
            path,
            language,
            text,
            lines: std::sync::OnceLock::new(),
        }
    }

    /// The byte ⇄ line/column index of the text.
    pub fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(&self.text))
    }
}

/// Byte offset → 1-based line and character column. Columns count Unicode scalar values, as
/// the JSON contract promises; UTF-16 columns are available for editors.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the start of every line. `\n`, `\r\n` and a lone `\r` all end a line.
    starts: Vec<u32>,
    len: u32,
    /// Length of a leading byte-order mark (3 or 0): not a column, editors hide it.
    bom: u32,
    /// Every [`MARK_EVERY`] bytes (moved to a character boundary): how many characters and UTF-16
    /// units come before, so a column deep in a long line (minified code: one line of megabytes,
    /// thousands of findings on it) costs a short count, not a scan of the whole line.
    marks: Vec<Mark>,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    byte: u32,
    chars: u32,
    utf16: u32,
}

const MARK_EVERY: usize = 4096;

/// Characters and UTF-16 code units in `s` (a 4-byte character is a surrogate pair).
fn count(s: &str) -> (usize, usize) {
    let chars = s.chars().count();
    (chars, chars + s.bytes().filter(|&b| b >= 0xf0).count())
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0u32];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i as u32 + 1),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i as u32 + 1);
                }
                _ => {}
            }
            i += 1;
        }
        let mut marks = vec![Mark {
            byte: 0,
            chars: 0,
            utf16: 0,
        }];
        let mut at = 0;
        while at + MARK_EVERY < text.len() {
            let next = (at + MARK_EVERY..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            let (c, u) = count(&text[at..next]);
            let last = marks[marks.len() - 1];
            marks.push(Mark {
                byte: next as u32,
                chars: last.chars + c as u32,
                utf16: last.utf16 + u as u32,
            });
            at = next;
        }
        LineIndex {
            starts,
            len: bytes.len() as u32,
            bom: if text.starts_with('\u{feff}') { 3 } else { 0 },
            marks,
        }
    }

    /// Characters and UTF-16 units in `text[from..to]` (character boundaries, `from <= to`).
    fn count_between(&self, text: &str, from: usize, to: usize) -> (usize, usize) {
        if to - from <= 2 * MARK_EVERY {
            return count(&text[from..to]);
        }
        let before = |x: usize| {
            let i = self.marks.partition_point(|m| m.byte as usize <= x) - 1;
            let m = self.marks[i];
            let (c, u) = count(&text[m.byte as usize..x]);
            (m.chars as usize + c, m.utf16 as usize + u)
        };
        let (c0, u0) = before(from);
        let (c1, u1) = before(to);
        (c1 - c0, u1 - u0)
    }

    /// Where columns of 0-based `line` start counting: its first byte, or after the BOM.
    fn column_start(&self, line: usize) -> usize {
        let start = self.starts[line];
        (if line == 0 {
            start.max(self.bom)
        } else {
            start
        }) as usize
    }

    /// The 0-based line holding `offset` (clamped to the text).
    fn line_of(&self, offset: u32) -> usize {
        let offset = offset.min(self.len);
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// The 0-based line holding byte `offset` (clamped to the text).
    pub fn line_at(&self, offset: usize) -> usize {
        self.line_of(offset.min(self.len as usize) as u32)
    }

    /// 1-based line and character column of a byte offset. An offset inside a multi-byte
    /// character is moved back to the character's start; a leading byte-order mark is not
    /// counted.
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset as u32);
        let start = self.column_start(line).min(offset);
        let column = self.count_between(text, start, offset).0 as u32 + 1;
        LineCol {
            line: line as u32 + 1,
            column,
        }
    }

    /// 0-based line and UTF-16 code-unit column (the LSP default encoding).
    pub fn utf16_position(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset as u32);
        let start = self.column_start(line).min(offset);
        let col = self.count_between(text, start, offset).1;
        (line as u32, col as u32)
    }

    /// Byte offset of a 1-based line and character column; clamped to the line's end.
    pub fn offset(&self, text: &str, pos: LineCol) -> usize {
        let line = (pos.line.max(1) - 1) as usize;
        if line >= self.starts.len() {
            return text.len();
        }
        let start = self.column_start(line) as u32;
        let end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |&e| e as usize);
        let slice = &text[start as usize..end];
        let mut offset = start as usize;
        for (n, (i, _)) in slice.char_indices().enumerate() {
            if n + 1 == pos.column as usize {
                return start as usize + i;
            }
            offset = start as usize + i;
        }
        if pos.column as usize > slice.chars().count() {
            end
        } else {
            offset
        }
    }

    /// Number of lines (a trailing newline opens an empty last line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte range of a 0-based line, without its line ending.
    pub fn line_range(&self, text: &str, line: usize) -> std::ops::Range<usize> {
        let start = self.starts.get(line).map_or(text.len(), |&s| s as usize);
        let mut end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |&e| e as usize);
        let bytes = text.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        start..end
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_utf16_units() {
        let text = "a\né😀x\r\ny\rz";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        let x = text.find('x').unwrap();
        assert_eq!(idx.line_col(text, x), LineCol { line: 2, column: 3 });
        assert_eq!(idx.utf16_position(text, x), (1, 3));
        let z = text.find('z').unwrap();
        assert_eq!(idx.line_col(text, z), LineCol { line: 4, column: 1 });
        assert_eq!(idx.offset(text, LineCol { line: 2, column: 3 }), x);
        // Inside the emoji: moved back to its start.
        let emoji = text.find('😀').unwrap();
        assert_eq!(idx.line_col(text, emoji + 1).column, 2);
        assert_eq!(&text[idx.line_range(text, 1)], "é😀x");
    }

    #[test]
    fn language_by_extension() {
        assert_eq!(
            Language::from_path(Path::new("a/b.ts")),
            Some(Language::TypeScript)
        );
        assert_eq!(Language::from_path(Path::new("a/b.d.ts")), None);
        assert_eq!(Language::from_path(Path::new("b.jsx")), Some(Language::Tsx));
        assert_eq!(
            Language::from_path(Path::new("b.cjs")),
            Some(Language::JavaScript)
        );
        assert_eq!(Language::from_path(Path::new("b.rs")), Some(Language::Rust));
        assert_eq!(Language::from_path(Path::new("b.txt")), None);
    }
}
