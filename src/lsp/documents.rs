//! The open documents: their text, version and language, kept in step with the client through
//! full and incremental changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gen_lsp_types as lsp;

use super::convert::{Encoding, Text, uri_to_path};
use crate::source::{Language, LineIndex};

/// One open document.
#[derive(Debug)]
pub struct Document {
    pub uri: String,
    /// The path unleak lints it as (`None`: not a language unleak lints).
    pub path: Option<PathBuf>,
    pub version: i32,
    /// Which revision of the text this is, counted by the server over all documents and bumped
    /// by every open and every change: results computed from another text are told apart by it
    /// even when the client repeats a version (a reopened document starts its versions again;
    /// a client that breaks the rule of increasing versions would otherwise have findings of
    /// one text placed on another).
    pub epoch: u64,
    pub text: Arc<str>,
    pub lines: LineIndex,
    /// How the client counts columns.
    pub encoding: Encoding,
}

impl Document {
    pub fn new(
        uri: String,
        language_id: &str,
        version: i32,
        text: String,
        epoch: u64,
        encoding: Encoding,
    ) -> Self {
        let path = lint_path(&uri, language_id);
        let lines = LineIndex::new(&text);
        Document {
            uri,
            path,
            version,
            epoch,
            text: text.into(),
            lines,
            encoding,
        }
    }

    pub fn view(&self) -> Text<'_> {
        Text::new(&self.text, &self.lines)
    }

    /// Applies the changes of one `didChange`, in order (each range is relative to the text
    /// the previous change left). Ranges out of the text are clamped, never rejected.
    pub fn apply(&mut self, version: i32, changes: Vec<lsp::TextDocumentContentChangeEvent>) {
        let enc = self.encoding;
        let mut text = String::from(&*self.text);
        for change in changes {
            match change {
                lsp::TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(w) => {
                    text = w.text;
                }
                lsp::TextDocumentContentChangeEvent::TextDocumentContentChangePartial(p) => {
                    let range = Text::new(&text, &self.lines).byte_range(p.range, enc);
                    text.replace_range(range, &p.text);
                }
            }
            self.lines = LineIndex::new(&text);
        }
        self.text = text.into();
        self.version = version;
    }
}

/// The path a document is linted as: its file path when unleak lints that kind of file; for
/// a document that is not a file (an unsaved, untitled buffer), a name made from its URI with
/// the extension of its language.
fn lint_path(uri: &str, language_id: &str) -> Option<PathBuf> {
    if let Some(path) = uri_to_path(uri) {
        return Language::from_path(&path).map(|_| path);
    }
    if uri.to_ascii_lowercase().starts_with("file:") {
        return None;
    }
    let ext = match language_id {
        "typescript" => "ts",
        "typescriptreact" => "tsx",
        "javascript" => "js",
        "javascriptreact" => "jsx",
        "rust" => "rs",
        _ => return None,
    };
    let name: String = uri
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let path = Path::new(&format!("{name}.{ext}")).to_path_buf();
    Language::from_path(&path).map(|_| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        sl: u32,
        sc: u32,
        el: u32,
        ec: u32,
        text: &str,
    ) -> lsp::TextDocumentContentChangeEvent {
        #[allow(deprecated)]
        lsp::TextDocumentContentChangeEvent::TextDocumentContentChangePartial(
            lsp::TextDocumentContentChangePartial {
                range: lsp::Range {
                    start: lsp::Position {
                        line: sl,
                        character: sc,
                    },
                    end: lsp::Position {
                        line: el,
                        character: ec,
                    },
                },
                range_length: None,
                text: text.into(),
            },
        )
    }

    #[test]
    fn incremental_changes_apply_in_order_in_utf16() {
        let mut d = Document::new(
            "file:///a.ts".into(),
            "typescript",
            1,
            "let s = '😀';\nfoo();\n".into(),
            1,
            Encoding::Utf16,
        );
        d.apply(
            2,
            vec![
                // After the emoji (2 UTF-16 units) on line 0.
                change(0, 11, 0, 11, "!"),
                // Replace `foo` on line 1, then insert a line at the end.
                change(1, 0, 1, 3, "bar"),
                change(2, 0, 2, 0, "baz();\n"),
            ],
        );
        assert_eq!(&*d.text, "let s = '😀!';\nbar();\nbaz();\n");
        assert_eq!(d.version, 2);
        // Out of range: clamped to the end.
        d.apply(3, vec![change(99, 0, 99, 5, "//")]);
        assert_eq!(&*d.text, "let s = '😀!';\nbar();\nbaz();\n//");
        d.apply(
            4,
            vec![
                lsp::TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(
                    lsp::TextDocumentContentChangeWholeDocument { text: "x".into() },
                ),
            ],
        );
        assert_eq!(&*d.text, "x");
    }

    #[test]
    fn lint_paths_of_files_and_untitled_buffers() {
        assert_eq!(
            lint_path("file:///w/a.ts", "typescript"),
            Some(PathBuf::from("/w/a.ts"))
        );
        assert_eq!(lint_path("file:///w/README.md", "markdown"), None);
        let p = lint_path("untitled:Untitled-1", "rust").unwrap();
        assert_eq!(Language::from_path(&p), Some(Language::Rust));
        assert_eq!(lint_path("untitled:Untitled-2", "python"), None);
    }
}
