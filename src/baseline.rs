//! The baseline: a JSON file of accepted findings. `--write-baseline` records the current
//! findings; `--baseline` reports only findings not in it. Entries are keyed by path, rule and a
//! fingerprint of the reported line's text (plus its occurrence among identical lines), not by
//! line number, so unrelated edits and line shifts do not invalidate them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Report;
use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;

/// A baseline as a run applies it: its entries name paths relative to `root` (the folder
/// `--write-baseline` ran in); a finding with an absolute path is matched by its path relative
/// to `root`. Part of the run's [`crate::Options`], so `check`, `--fix` and the language server
/// all leave the same findings alone.
#[derive(Debug, Clone)]
pub struct Filter {
    pub baseline: Baseline,
    pub root: PathBuf,
}

impl Filter {
    /// Drops the findings the baseline accepts; returns the entries that matched nothing.
    pub fn apply(
        &self,
        diagnostics: &mut Vec<Diagnostic>,
        sources: &HashMap<PathBuf, Arc<SourceFile>>,
    ) -> Vec<Entry> {
        let rel = |p: &Path| -> PathBuf {
            p.strip_prefix(&self.root)
                .map_or_else(|_| p.to_path_buf(), Path::to_path_buf)
        };
        let mut relative = Report {
            diagnostics: diagnostics
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.file = rel(&d.file);
                    d
                })
                .collect(),
            sources: sources.iter().map(|(p, s)| (rel(p), s.clone())).collect(),
            ..Report::default()
        };
        let (dropped, stale) = matches(&mut relative, &self.baseline);
        let mut i = 0;
        diagnostics.retain(|_| {
            let keep = !dropped[i];
            i += 1;
            keep
        });
        stale
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Baseline {
    pub version: u32,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Entry {
    pub path: String,
    pub rule: String,
    /// Hash of the rule, path, trimmed text of the reported line and its occurrence.
    pub fingerprint: String,
    /// For people reading the file; not part of the key.
    #[serde(default)]
    pub message: String,
}

/// Errors reading or writing a baseline file.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the baseline `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the baseline `{path}` is not a valid unleak baseline ({source}); regenerate it with --write-baseline"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "the baseline `{path}` is of version {version}, which this unleak does not read (it \
         reads version 1); regenerate it with --write-baseline"
    )]
    Version { path: String, version: u32 },
    #[error("cannot write the baseline `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The stable keys of a report's findings (per-file failures are never baselined), with the
/// index of the diagnostic each belongs to. The fingerprint is the one SARIF and GitLab reports
/// carry ([`crate::diagnostic::fingerprint::of`]), so a baseline and a code-scanning alert agree
/// on what "the same finding" is.
pub fn keys(report: &Report) -> Vec<(usize, Entry)> {
    crate::diagnostic::fingerprint::of(&report.diagnostics, &report.sources)
        .into_iter()
        .zip(&report.diagnostics)
        .enumerate()
        .filter(|(_, (_, d))| !d.is_failure())
        .map(|(i, (fp, d))| {
            (
                i,
                Entry {
                    path: d.file.to_string_lossy().replace('\\', "/"),
                    rule: d.rule.to_string(),
                    fingerprint: fp.full(),
                    message: d.message.clone(),
                },
            )
        })
        .collect()
}

/// The largest baseline read (a million findings fit in far less).
const MAX_BASELINE: u64 = 256 * 1024 * 1024;

/// Reads a baseline: a regular file (a FIFO or a device is refused without blocking) of at most
/// 256 MiB, of version 1.
pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
    let read_err = |source| BaselineError::Read {
        path: path.display().to_string(),
        source,
    };
    let bytes = crate::fsio::read_regular(path, MAX_BASELINE).map_err(read_err)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let baseline: Baseline =
        serde_json::from_str(&text).map_err(|source| BaselineError::Parse {
            path: path.display().to_string(),
            source,
        })?;
    if baseline.version != 1 {
        return Err(BaselineError::Version {
            path: path.display().to_string(),
            version: baseline.version,
        });
    }
    Ok(baseline)
}

/// Writes atomically: a temporary file in the same folder, then a rename.
pub fn save(path: &Path, baseline: &Baseline) -> Result<(), BaselineError> {
    let err = |source| BaselineError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut text = serde_json::to_string_pretty(baseline).expect("a baseline serialises");
    text.push('\n');
    crate::atomic::write_named(path, text.as_bytes(), "baseline").map_err(err)
}

/// The baseline of a report: every current finding.
pub fn from_report(report: &Report) -> Baseline {
    let mut entries: Vec<Entry> = keys(report).into_iter().map(|(_, e)| e).collect();
    entries.sort_by(|a, b| {
        (&a.path, &a.rule, &a.fingerprint).cmp(&(&b.path, &b.rule, &b.fingerprint))
    });
    Baseline {
        version: 1,
        entries,
    }
}

/// Drops the report's findings that the baseline accepts; returns the entries that matched
/// nothing (prunable).
pub fn filter(report: &mut Report, baseline: &Baseline) -> Vec<Entry> {
    let (dropped, stale) = matches(report, baseline);
    let mut i = 0;
    report.diagnostics.retain(|_: &Diagnostic| {
        let keep = !dropped[i];
        i += 1;
        keep
    });
    stale
}

/// Which diagnostics of the report the baseline accepts, and its entries that match nothing.
fn matches(report: &mut Report, baseline: &Baseline) -> (Vec<bool>, Vec<Entry>) {
    let key = |e: &Entry| (e.path.clone(), e.rule.clone(), e.fingerprint.clone());
    let mut wanted: HashMap<(String, String, String), bool> =
        baseline.entries.iter().map(|e| (key(e), false)).collect();
    let mut drop = vec![false; report.diagnostics.len()];
    for (i, e) in keys(report) {
        if let Some(hit) = wanted.get_mut(&key(&e)) {
            *hit = true;
            drop[i] = true;
        }
    }
    let stale = baseline
        .entries
        .iter()
        .filter(|e| !wanted[&key(e)])
        .cloned()
        .collect();
    (drop, stale)
}
