//! A diagnostic's identity across edits that do not touch it: the rule, the path and the text
//! of the reported line (not its number), for baselines, SARIF `partialFingerprints` and GitLab.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Diagnostic;
use crate::source::SourceFile;

/// The whole line (without its line break) holding byte `offset` of `text`, found through its
/// line index (not by searching: a minified line is megabytes long and may hold thousands of
/// findings).
fn line_text<'a>(text: &'a str, lines: &crate::source::LineIndex, offset: usize) -> &'a str {
    &text[lines.line_range(text, lines.line_at(offset))]
}

/// FNV-1a, 128 bits: a hash that is the same on every platform and every Rust release (the
/// standard library's hasher promises neither).
fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in parts {
        for &b in *part {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// A diagnostic's identity across edits that do not touch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash of the rule id, the path and the trimmed text of the reported line (32 hex digits).
    pub line_hash: String,
    /// 1-based rank among the diagnostics of the report with the same `line_hash`, in report
    /// order (path, then position).
    pub occurrence: usize,
}

impl Fingerprint {
    /// `line_hash` and `occurrence` hashed together: 32 hex digits.
    pub fn full(&self) -> String {
        let occurrence = self.occurrence.to_string();
        format!(
            "{:032x}",
            fnv1a_128(&[self.line_hash.as_bytes(), occurrence.as_bytes()])
        )
    }
}

/// The fingerprint of every diagnostic of the report, in order. It does not depend on line
/// numbers, so inserting or removing unrelated lines above a finding keeps it; editing the
/// reported line, renaming the file, or adding an identical finding before it changes it.
pub fn of(
    diagnostics: &[Diagnostic],
    sources: &HashMap<PathBuf, Arc<SourceFile>>,
) -> Vec<Fingerprint> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Hashed once per rule and line: minified code puts thousands of findings on one line of
    // megabytes, and hashing it for each was quadratic.
    let mut hashed: HashMap<(&str, &std::path::Path, usize), String> = HashMap::new();
    diagnostics
        .iter()
        .map(|d| {
            let src = sources.get(&d.file);
            let line_no = src.map_or(usize::MAX, |src| src.lines().line_at(d.range.start));
            let line_hash = hashed
                .entry((d.rule, d.file.as_path(), line_no))
                .or_insert_with(|| {
                    let line = src.map_or("", |src| {
                        line_text(&src.text, src.lines(), d.range.start).trim()
                    });
                    format!(
                        "{:032x}",
                        fnv1a_128(&[
                            d.rule.as_bytes(),
                            d.file.to_string_lossy().replace('\\', "/").as_bytes(),
                            line.as_bytes()
                        ])
                    )
                })
                .clone();
            let n = seen.entry(line_hash.clone()).or_insert(0);
            *n += 1;
            Fingerprint {
                line_hash,
                occurrence: *n,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_text_finds_the_whole_line() {
        let t = "a\r\n  bb  \rc\n";
        let l = crate::source::LineIndex::new(t);
        assert_eq!(line_text(t, &l, 0), "a");
        assert_eq!(line_text(t, &l, 5), "  bb  ");
        assert_eq!(line_text(t, &l, 3), "  bb  ");
        assert_eq!(line_text(t, &l, 10), "c");
        assert_eq!(line_text(t, &l, 100), "");
    }

    #[test]
    fn fnv_is_fixed() {
        // Reference value of FNV-1a 128 for the empty input, then one separator byte.
        assert_eq!(fnv1a_128(&[]), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_ne!(fnv1a_128(&[b"ab", b"c"]), fnv1a_128(&[b"a", b"bc"]));
    }
}
