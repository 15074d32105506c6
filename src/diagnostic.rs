//! Diagnostics: what a rule reports, with labels on related places and optional fixes.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A secondary place a diagnostic points at ("stored here", "close() never clears it").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// `None`: the diagnostic's own file.
    pub file: Option<PathBuf>,
    pub range: Range<usize>,
    pub message: String,
}

/// How safe a fix is to apply without a human looking at it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    Safe,
    Unsafe,
    DisplayOnly,
}

/// One text replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub file: Option<PathBuf>,
    pub range: Range<usize>,
    pub content: String,
}

/// A titled set of edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

/// One finding (or a per-file failure: rule `io-error` / `parse-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: PathBuf,
    pub range: Range<usize>,
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<Label>,
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    pub fn new(
        rule: &'static str,
        severity: Severity,
        file: PathBuf,
        range: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            rule,
            severity,
            file,
            range,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            fixes: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds the fixes given (none for `None`).
    pub fn with_fixes(mut self, fixes: impl IntoIterator<Item = Fix>) -> Diagnostic {
        self.fixes.extend(fixes);
        self
    }

    pub fn with_label(mut self, range: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            file: None,
            range,
            message: message.into(),
        });
        self
    }

    pub fn with_label_in(
        mut self,
        file: PathBuf,
        range: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.labels.push(Label {
            file: Some(file),
            range,
            message: message.into(),
        });
        self
    }
}

/// Rule ids of per-file failures, which are not rules of the registry.
pub const IO_ERROR: &str = "io-error";
pub const PARSE_ERROR: &str = "parse-error";
pub const INTERNAL_ERROR: &str = "internal-error";
/// A file whose parsing and analysis ran past the per-file time budget (`--parse-budget`).
pub const TIMEOUT: &str = "timeout";
/// Every per-file failure id.
pub const FAILURES: [&str; 4] = [IO_ERROR, PARSE_ERROR, TIMEOUT, INTERNAL_ERROR];
