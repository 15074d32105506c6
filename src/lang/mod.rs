//! Front ends: each lowers one language's syntax into the shared facts model. [`lower`] is the
//! one entry: it picks the front end for the language and reports every failure the same way.

pub mod rust;
pub mod ts;

use std::ops::Range;
use std::time::Duration;

use crate::facts::FileFacts;
use crate::source::Language;

/// Why a file could not be lowered to facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    pub message: String,
    /// Where, when it can be told (a Rust syntax error); else empty.
    pub range: Range<usize>,
    pub kind: FailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The text is not valid syntax (Rust: syn stops at the first error).
    Syntax,
    /// Nesting deeper than the walk follows safely.
    TooDeep,
    /// Parsing and lowering took longer than the budget: a fact about the machine, not the
    /// file.
    Timeout,
}

/// Lowers `text` in `language` to facts, within `budget`.
pub fn lower(language: Language, text: &str, budget: Duration) -> Result<FileFacts, ParseFailure> {
    match language {
        Language::Rust => rust::lower_within(text, budget).map_err(|e| ParseFailure {
            kind: if e.timed_out {
                FailureKind::Timeout
            } else {
                FailureKind::Syntax
            },
            message: e.message,
            range: e.range,
        }),
        lang => ts::lower(text, lang, budget).map_err(|e| {
            let kind = match e {
                ts::LowerError::Timeout(_) => FailureKind::Timeout,
                ts::LowerError::TooDeep(_) => FailureKind::TooDeep,
                ts::LowerError::Grammar(_) => FailureKind::Syntax,
            };
            let message = match kind {
                FailureKind::TooDeep => format!("{e} (too deep to analyse)"),
                _ => e.to_string(),
            };
            ParseFailure {
                message,
                range: 0..0,
                kind,
            }
        }),
    }
}
