//! Output formats, one file each. Every format renders the same [`crate::Report`].

pub mod cargo;
pub mod concise;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use crate::Report;
use crate::source::LineCol;

/// 1-based start and end positions of a byte range in a file of the report.
pub fn span_positions(
    report: &Report,
    file: &std::path::Path,
    range: &std::ops::Range<usize>,
) -> (LineCol, LineCol) {
    match report.sources.get(file) {
        Some(src) => (
            src.lines.line_col(&src.text, range.start),
            src.lines.line_col(&src.text, range.end),
        ),
        None => (
            LineCol { line: 1, column: 1 },
            LineCol { line: 1, column: 1 },
        ),
    }
}

/// A path as the machine formats print it: as the report holds it (relative to the working
/// directory when under it), with `/` separators.
pub fn path_str(path: &std::path::Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

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
pub fn fingerprints(report: &Report) -> Vec<Fingerprint> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    // Hashed once per rule and line: minified code puts thousands of findings on one line of
    // megabytes, and hashing it for each was quadratic.
    let mut hashed: std::collections::HashMap<(&str, &std::path::Path, usize), String> =
        std::collections::HashMap::new();
    report
        .diagnostics
        .iter()
        .map(|d| {
            let src = report.sources.get(&d.file);
            let line_no = src.map_or(usize::MAX, |src| src.lines.line_at(d.range.start));
            let line_hash = hashed
                .entry((d.rule, d.file.as_path(), line_no))
                .or_insert_with(|| {
                    let line = src.map_or("", |src| {
                        line_text(&src.text, &src.lines, d.range.start).trim()
                    });
                    format!(
                        "{:032x}",
                        fnv1a_128(&[
                            d.rule.as_bytes(),
                            path_str(&d.file).as_bytes(),
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

/// A diagnostic's message and, on a second line, its help: for formats that show one text.
pub fn message_with_help(d: &crate::Diagnostic) -> String {
    match &d.help {
        Some(h) => format!("{}\nhelp: {h}", d.message),
        None => d.message.clone(),
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder, which is then
/// renamed over `path`; readers see the old file or the whole new one, never a partial one.
pub fn write_file_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{}` is not a file name", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".unleak-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display()))
    })
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
