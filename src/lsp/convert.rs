//! Conversions between unleak's byte offsets and LSP positions (UTF-8, UTF-16 or UTF-32 code
//! units, as negotiated), and between `file:` URIs and paths. Positions from the client are
//! clamped: a line past the end means the end of the text, a column past the end of its line
//! means the end of the line, and a column inside a character (the middle of a surrogate pair,
//! or of a multi-byte UTF-8 sequence) means the start of that character.

use std::ops::Range;
use std::path::{Path, PathBuf};

use gen_lsp_types as lsp;

use crate::source::LineIndex;

/// How positions count columns, as agreed at initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// The LSP default.
    Utf16,
    Utf32,
}

impl Encoding {
    /// The encoding to use given the client's `general.positionEncodings`: UTF-8 when offered
    /// (no conversion at all), else UTF-16, which every client supports.
    pub fn negotiate(offered: &[String]) -> Encoding {
        if offered.iter().any(|e| e == "utf-8") {
            Encoding::Utf8
        } else {
            Encoding::Utf16
        }
    }

    pub fn kind(self) -> lsp::PositionEncodingKind {
        match self {
            Encoding::Utf8 => lsp::PositionEncodingKind::UTF8,
            Encoding::Utf16 => lsp::PositionEncodingKind::UTF16,
            Encoding::Utf32 => lsp::PositionEncodingKind::UTF32,
        }
    }

    fn units(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
            Encoding::Utf32 => 1,
        }
    }
}

/// A text with its line index: what positions are converted against.
#[derive(Clone, Copy)]
pub struct Text<'a> {
    pub text: &'a str,
    pub lines: &'a LineIndex,
}

impl<'a> Text<'a> {
    pub fn new(text: &'a str, lines: &'a LineIndex) -> Text<'a> {
        Text { text, lines }
    }

    /// The position of a byte offset (clamped to the text; an offset inside a character is
    /// moved back to its start).
    pub fn position(&self, offset: usize, enc: Encoding) -> lsp::Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.lines.line_col(self.text, offset).line as usize - 1;
        let start = self.lines.line_range(self.text, line).start.min(offset);
        let character: usize = self.text[start..offset].chars().map(|c| enc.units(c)).sum();
        lsp::Position {
            line: line as u32,
            character: character as u32,
        }
    }

    /// The byte offset of a position, clamped as the module documentation says.
    pub fn offset(&self, pos: lsp::Position, enc: Encoding) -> usize {
        let line = pos.line as usize;
        if line >= self.lines.line_count() {
            return self.text.len();
        }
        let range = self.lines.line_range(self.text, line);
        let mut units = 0usize;
        let wanted = pos.character as usize;
        for (i, c) in self.text[range.clone()].char_indices() {
            if units >= wanted {
                return range.start + i;
            }
            units += enc.units(c);
            if units > wanted {
                // The position falls inside this character: its start.
                return range.start + i;
            }
        }
        range.end
    }

    pub fn range(&self, range: &Range<usize>, enc: Encoding) -> lsp::Range {
        lsp::Range {
            start: self.position(range.start, enc),
            end: self.position(range.end.max(range.start), enc),
        }
    }

    /// The byte range of an LSP range (clamped; a reversed range becomes empty at its start).
    pub fn byte_range(&self, range: lsp::Range, enc: Encoding) -> Range<usize> {
        let start = self.offset(range.start, enc);
        let end = self.offset(range.end, enc).max(start);
        start..end
    }
}

/// The path of a `file:` URI (percent-decoded; `file:///C:/x` is `C:/x`), or `None` for other
/// schemes and URIs that do not decode.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = strip_prefix_ignore_case(uri, "file://")?;
    // `file://host/path` names a path on another host: only the local host is ours.
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return None,
    };
    if !authority.is_empty() && !authority.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let bytes = percent_decode(path)?;
    // `/C:/dir` (a Windows drive): drop the leading slash.
    let b = bytes.as_slice();
    let bytes = if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
        b[1..].to_vec()
    } else {
        bytes
    };
    bytes_to_path(bytes)
}

#[cfg(unix)]
fn bytes_to_path(bytes: Vec<u8>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn bytes_to_path(bytes: Vec<u8>) -> Option<PathBuf> {
    String::from_utf8(bytes).ok().map(PathBuf::from)
}

/// The `file:` URI of an absolute path.
pub fn path_to_uri(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    crate::uri::file_uri(&s)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> lsp::Position {
        lsp::Position { line, character }
    }

    #[test]
    fn columns_in_each_encoding_on_non_ascii_text() {
        // é: 2 bytes, 1 UTF-16 unit; 😀: 4 bytes, 2 units; 漢: 3 bytes, 1 unit.
        let text = "ab\né😀漢x\r\ny";
        let lines = LineIndex::new(text);
        let t = Text::new(text, &lines);
        let x = text.find('x').unwrap();
        assert_eq!(t.position(x, Encoding::Utf16), pos(1, 4));
        assert_eq!(t.position(x, Encoding::Utf8), pos(1, 9));
        assert_eq!(t.position(x, Encoding::Utf32), pos(1, 3));
        assert_eq!(t.offset(pos(1, 4), Encoding::Utf16), x);
        assert_eq!(t.offset(pos(1, 9), Encoding::Utf8), x);
        assert_eq!(t.offset(pos(1, 3), Encoding::Utf32), x);
        let y = text.find('y').unwrap();
        assert_eq!(t.position(y, Encoding::Utf16), pos(2, 0));
        assert_eq!(t.offset(pos(2, 0), Encoding::Utf16), y);
    }

    #[test]
    fn client_positions_are_clamped() {
        let text = "é😀\nz";
        let lines = LineIndex::new(text);
        let t = Text::new(text, &lines);
        let emoji = text.find('😀').unwrap();
        // Between the two surrogates of 😀: the emoji's start.
        assert_eq!(t.offset(pos(0, 2), Encoding::Utf16), emoji);
        // Inside é's two bytes: its start.
        assert_eq!(t.offset(pos(0, 1), Encoding::Utf8), 0);
        // Past the end of the line: the line's end (before the newline).
        assert_eq!(t.offset(pos(0, 99), Encoding::Utf16), emoji + 4);
        // Past the last line: the end of the text.
        assert_eq!(t.offset(pos(7, 3), Encoding::Utf16), text.len());
        // Offsets inside a character or past the end are clamped too.
        assert_eq!(t.position(emoji + 1, Encoding::Utf16), pos(0, 1));
        assert_eq!(t.position(999, Encoding::Utf16), pos(1, 1));
        // A reversed range is empty.
        let r = lsp::Range {
            start: pos(1, 1),
            end: pos(0, 0),
        };
        assert_eq!(t.byte_range(r, Encoding::Utf16), text.len()..text.len());
    }

    #[test]
    fn uris_and_paths() {
        assert_eq!(
            uri_to_path("file:///home/me/a%20b/%C3%A9.ts"),
            Some(PathBuf::from("/home/me/a b/é.ts"))
        );
        assert_eq!(
            uri_to_path("file:///c%3A/src/x.ts"),
            Some(PathBuf::from("c:/src/x.ts"))
        );
        assert_eq!(
            uri_to_path("FILE://localhost/x.rs"),
            Some(PathBuf::from("/x.rs"))
        );
        assert_eq!(uri_to_path("untitled:Untitled-1"), None);
        assert_eq!(uri_to_path("file://server/share/x.ts"), None);
        assert_eq!(uri_to_path("file:///bad%zz"), None);
        let p = Path::new("/tmp/a b/é.ts");
        assert_eq!(uri_to_path(&path_to_uri(p)).as_deref(), Some(p));
        assert_eq!(path_to_uri(Path::new("/a/b.ts")), "file:///a/b.ts");
    }

    #[test]
    fn negotiation_prefers_utf8_and_defaults_to_utf16() {
        assert_eq!(
            Encoding::negotiate(&["utf-16".into(), "utf-8".into()]),
            Encoding::Utf8
        );
        assert_eq!(Encoding::negotiate(&["utf-32".into()]), Encoding::Utf16);
        assert_eq!(Encoding::negotiate(&[]), Encoding::Utf16);
    }
}
