//! Diagnostics: what a rule reports, with labels on related places and optional fixes.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

pub mod fingerprint;

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

    /// The message and, on a second line, the help: for outputs that show one text.
    pub fn message_with_help(&self) -> String {
        match &self.help {
            Some(h) => format!("{}\nhelp: {h}", self.message),
            None => self.message.clone(),
        }
    }

    /// A per-file failure (`io-error`, `parse-error`, `timeout`, `internal-error`), not a
    /// finding of a rule.
    pub fn is_failure(&self) -> bool {
        is_failure(self.rule)
    }

    /// The message as a headline and the explanation after it: messages read "what is wrong:
    /// why it matters", and a terminal shows the headline as the finding's first line. The
    /// split is at the first `: ` outside backticks and quotes that leaves a headline of at
    /// most [`HEADLINE_MAX`] characters; a message with no such place is all headline.
    pub fn headline(&self) -> (&str, Option<&str>) {
        split_headline(&self.message)
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

/// The longest headline (in characters) [`Diagnostic::headline`] splits off.
pub const HEADLINE_MAX: usize = 100;

fn split_headline(message: &str) -> (&str, Option<&str>) {
    // Candidates outside code, quotes and brackets: the first `: `, else the first `; ` or
    // `, ` that leaves a headline of some substance.
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut clause: Option<usize> = None;
    for (i, c) in message.char_indices() {
        let next_is_space = message[i + c.len_utf8()..].starts_with(' ');
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '"') => quote = Some(c),
            // An apostrophe inside a word (`client's`) opens nothing.
            (None, '\'') if !message[..i].ends_with(char::is_alphanumeric) => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ':') if depth == 0 && next_is_space => {
                if message[..i].chars().count() <= HEADLINE_MAX {
                    return split_at(message, i);
                }
                break;
            }
            (None, ';' | ',') if depth == 0 && next_is_space && clause.is_none() => {
                let n = message[..i].chars().count();
                if (20..=HEADLINE_MAX).contains(&n) {
                    clause = Some(i);
                }
            }
            _ => {}
        }
    }
    match clause {
        Some(i) if message.chars().count() > HEADLINE_MAX => split_at(message, i),
        _ => (message, None),
    }
}

fn split_at(message: &str, i: usize) -> (&str, Option<&str>) {
    let rest = message[i + 1..].trim_start();
    // "…, but nothing removes it" explains as "nothing removes it".
    let rest = ["but ", "and "]
        .iter()
        .find_map(|w| rest.strip_prefix(w))
        .unwrap_or(rest);
    (&message[..i], (!rest.is_empty()).then_some(rest))
}

/// `rule` is the id of a per-file failure, not of a rule of the registry.
pub fn is_failure(rule: &str) -> bool {
    FAILURES.contains(&rule)
}

/// Rule ids of per-file failures, which are not rules of the registry.
pub const IO_ERROR: &str = "io-error";
pub const PARSE_ERROR: &str = "parse-error";
pub const INTERNAL_ERROR: &str = "internal-error";
/// A file whose parsing and analysis ran past the per-file time budget (`--parse-budget`).
pub const TIMEOUT: &str = "timeout";
/// Every per-file failure id.
pub const FAILURES: [&str; 4] = [IO_ERROR, PARSE_ERROR, TIMEOUT, INTERNAL_ERROR];

#[cfg(test)]
mod headline_tests {
    use super::*;

    #[test]
    fn splits_at_the_first_colon_outside_code() {
        assert_eq!(
            split_headline("an `Err(_) => {}` arm swallows the error: nothing is logged"),
            (
                "an `Err(_) => {}` arm swallows the error",
                Some("nothing is logged")
            )
        );
        assert_eq!(split_headline("no colon here"), ("no colon here", None));
        assert_eq!(split_headline("ends with: "), ("ends with", None));
        let long = format!("{}: why", "x".repeat(101));
        assert_eq!(split_headline(&long), (long.as_str(), None));
        // No colon early enough: the first clause outside brackets, when the whole is long.
        let listener = format!(
            "listener for 'audio' is added to `this.session` (of `A`, injected), a shared object, {}",
            "y".repeat(80)
        );
        assert_eq!(
            split_headline(&listener).0,
            "listener for 'audio' is added to `this.session` (of `A`, injected)"
        );
        assert_eq!(
            split_headline("short, not split"),
            ("short, not split", None)
        );
    }
}
