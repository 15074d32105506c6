//! unleak's diagnostics in LSP form: ranges in the negotiated encoding, the rule id as `code`
//! with a link to its documentation, labels as related information, and every fix already
//! turned into per-document text edits (computed against the exact texts the findings came
//! from, so an action offered for a version is exact for that version).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gen_lsp_types as lsp;

use super::convert::{Encoding, Text, path_to_uri};
use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::source::SourceFile;

/// A finding as the editor gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The diagnostic itself (byte ranges into the text of the result's version).
    pub diagnostic: Diagnostic,
    pub lsp: lsp::Diagnostic,
    pub fixes: Vec<PreparedFix>,
}

/// A fix as edits per document.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedFix {
    pub title: String,
    pub applicability: Applicability,
    pub files: Vec<FileEdits>,
}

/// The edits of a fix in one document.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEdits {
    pub uri: String,
    /// The version of an open document the edits are for (`None`: the file on disk).
    pub version: Option<i32>,
    /// The file does not exist yet: create it first.
    pub create: bool,
    pub edits: Vec<lsp::TextEdit>,
}

/// Where the texts and URIs of the files findings point into come from.
pub struct Context<'a> {
    pub encoding: Encoding,
    /// Rule id → the link to its documentation.
    pub doc_links: &'a HashMap<String, String>,
    /// The source a path was analysed from (an open document's text, or the file's).
    pub source_of: &'a dyn Fn(&Path) -> Option<Arc<SourceFile>>,
    /// The URI and, for an open document, the version of a path.
    pub uri_of: &'a dyn Fn(&Path) -> (String, Option<i32>),
}

/// The `source` of every diagnostic unleak publishes.
pub const SOURCE: &str = "unleak";

/// Converts one diagnostic of the file `text` belongs to.
pub fn prepare(d: Diagnostic, text: Text<'_>, ctx: &Context<'_>) -> Finding {
    let enc = ctx.encoding;
    let severity = match d.severity {
        Severity::Error => lsp::DiagnosticSeverity::Error,
        Severity::Warning => lsp::DiagnosticSeverity::Warning,
        Severity::Info => lsp::DiagnosticSeverity::Information,
    };
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter_map(|l| {
            let (uri, range) = match &l.file {
                None => ((ctx.uri_of)(&d.file).0, text.range(&l.range, enc)),
                Some(p) => {
                    let src = (ctx.source_of)(p)?;
                    let range = Text::new(&src.text, src.lines()).range(&l.range, enc);
                    ((ctx.uri_of)(p).0, range)
                }
            };
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location {
                    uri: uri.into(),
                    range,
                },
                message: l.message.clone(),
            })
        })
        .collect();
    let tags = (d.rule == crate::suppress::UNUSED).then(|| vec![lsp::DiagnosticTag::Unnecessary]);
    let diagnostic = lsp::Diagnostic {
        range: text.range(&d.range, enc),
        severity: Some(severity),
        code: Some(lsp::Code::String(d.rule.to_string())),
        code_description: ctx.doc_links.get(d.rule).map(|href| lsp::CodeDescription {
            href: href.clone().into(),
        }),
        source: Some(SOURCE.to_string()),
        message: lsp::Message::String(d.message_with_help()),
        tags,
        related_information: (!related.is_empty()).then_some(related),
        data: None,
    };
    let fixes = d
        .fixes
        .iter()
        .filter_map(|f| {
            let mut files: Vec<(PathBuf, FileEdits)> = Vec::new();
            for e in &f.edits {
                let path = e.file.clone().unwrap_or_else(|| d.file.clone());
                let range = if path == d.file {
                    text.range(&e.range, enc)
                } else {
                    match (ctx.source_of)(&path) {
                        Some(src) => Text::new(&src.text, src.lines()).range(&e.range, enc),
                        // A file that does not exist yet: the edits insert its content.
                        None if !path.exists() && e.range == (0..0) => lsp::Range::default(),
                        // A file whose text is unknown: the fix cannot be offered exactly.
                        None => return None,
                    }
                };
                let edit = lsp::TextEdit {
                    range,
                    new_text: e.content.clone(),
                };
                match files.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, fe)) => fe.edits.push(edit),
                    None => {
                        let (uri, version) = (ctx.uri_of)(&path);
                        let create = path != d.file
                            && version.is_none()
                            && (ctx.source_of)(&path).is_none()
                            && !path.exists();
                        files.push((
                            path,
                            FileEdits {
                                uri,
                                version,
                                create,
                                edits: vec![edit],
                            },
                        ));
                    }
                }
            }
            (!files.is_empty()).then(|| PreparedFix {
                title: f.title.clone(),
                applicability: f.applicability,
                files: files.into_iter().map(|(_, fe)| fe).collect(),
            })
        })
        .collect();
    Finding {
        diagnostic: d,
        lsp: diagnostic,
        fixes,
    }
}

/// The link of each rule's documentation for `codeDescription`: the rule's page in the
/// package's repository when the package names one; otherwise the documentation compiled into
/// this binary, written once to `dir` (the user's cache folder by default) and linked as a
/// `file:` URI, which every editor opens. Rules whose docs cannot be linked get no link.
pub fn doc_links(dir: Option<&Path>) -> HashMap<String, String> {
    let repo = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    let mut links = HashMap::new();
    let dir = match dir {
        Some(d) => Some(d.to_path_buf()),
        None if repo.is_empty() => default_docs_dir(),
        None => None,
    };
    for m in crate::registry::all() {
        let Some(doc) = crate::registry::doc(m.id) else {
            continue;
        };
        let link = if !repo.is_empty() && dir.is_none() {
            Some(format!("{repo}/blob/HEAD/rules/{}.md", m.id))
        } else {
            dir.as_deref().and_then(|d| write_doc(d, m.id, doc))
        };
        if let Some(l) = link {
            links.insert(m.id.to_string(), l);
        }
    }
    links
}

/// `$XDG_CACHE_HOME/unleak/rules-<version>` (or `~/.cache/…`, `%LOCALAPPDATA%\…`).
fn default_docs_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(
        base.join("unleak")
            .join(format!("rules-{}", env!("CARGO_PKG_VERSION"))),
    )
}

/// Writes one rule's documentation (unless already there, identical) and returns its URI.
fn write_doc(dir: &Path, id: &str, doc: &str) -> Option<String> {
    let path = dir.join(format!("{id}.md"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(doc) {
        std::fs::create_dir_all(dir).ok()?;
        if let Err(e) = crate::atomic::write(&path, doc.as_bytes(), "doc") {
            eprintln!(
                "unleak lsp: cannot write the documentation of `{id}` to {}: {e}",
                path.display()
            );
            return None;
        }
    }
    let abs = if path.is_absolute() {
        path
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    Some(path_to_uri(&abs))
}
