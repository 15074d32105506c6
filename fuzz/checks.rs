//! The properties the fuzz targets check, shared with `tests/fuzz_corpus.rs`, which replays the
//! seeds and every minimised crash through these same functions in the normal test run (no
//! libFuzzer needed). Each function panics when a property fails.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use unleak::source::{Language, LineCol, LineIndex, SourceFile};
use unleak::{Diagnostic, Options, Report};

/// Fuzz inputs are bytes; the linter only ever sees UTF-8 (the engine rejects anything else
/// before parsing), so invalid sequences become U+FFFD rather than wasting the input.
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Lints `text` as `name` and checks the result: no crash caught as `internal-error`, every
/// range (diagnostics, labels, fix edits) inside the text and on character boundaries, and
/// every output format renders it.
pub fn lint_checked(name: &str, text: &str) -> Vec<Diagnostic> {
    let path = Path::new(name);
    let diags = unleak::lint_source(path, text, &Options::default());
    let in_text = |r: &std::ops::Range<usize>| {
        r.start <= r.end
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
    };
    for d in &diags {
        assert_ne!(d.rule, "internal-error", "{name}: {}", d.message);
        assert!(in_text(&d.range), "{name}: {} at {:?}", d.rule, d.range);
        for l in d.labels.iter().filter(|l| l.file.is_none()) {
            assert!(
                in_text(&l.range),
                "{name}: label of {} at {:?}",
                d.rule,
                l.range
            );
        }
        for f in &d.fixes {
            for e in &f.edits {
                assert!(
                    in_text(&e.range),
                    "{name}: edit of {} at {:?}",
                    d.rule,
                    e.range
                );
            }
        }
    }
    render_all(path, text, &diags);
    diags
}

/// Every output format, over a report of this one file.
fn render_all(path: &Path, text: &str, diags: &[Diagnostic]) {
    let Some(language) = Language::from_path(path) else {
        return;
    };
    let mut sources = HashMap::new();
    sources.insert(
        path.to_path_buf(),
        Arc::new(SourceFile::new(
            path.to_path_buf(),
            language,
            text.to_string(),
        )),
    );
    let report = Report {
        diagnostics: diags.to_vec(),
        files: 1,
        sources,
        ..Report::default()
    };
    use unleak::cli::output as out;
    let json: serde_json::Value =
        serde_json::from_str(&out::json::render(&report)).expect("json output parses");
    assert_eq!(json["summary"]["diagnostics"], diags.len());
    let _ = out::concise::render(&report);
    let _ = out::github::render(&report);
    let _ = out::cargo::render(&report, &[]);
    let mut buf = codespan_reporting::term::termcolor::NoColor::new(Vec::new());
    out::human::render(&report, &mut buf).expect("human output");
}

/// Runs a check on one big-stack thread (as the engine's workers are), so the linting calls
/// inside it do not each start their own.
fn big_stack(f: impl FnOnce() + Send) {
    unleak::engine::on_big_stack(f).expect("a worker thread");
}

/// The TypeScript/JavaScript pipeline, with each grammar.
pub fn ts(data: &[u8]) {
    big_stack(|| {
        let text = text(data);
        for name in ["fuzz.ts", "fuzz.tsx", "fuzz.js"] {
            lint_checked(name, &text);
        }
    });
}

/// The Rust pipeline.
pub fn rust(data: &[u8]) {
    big_stack(|| {
        lint_checked("fuzz.rs", &text(data));
    });
}

/// Fix validity: every fix (unsafe ones included) applied to a fixpoint never leaves the file
/// parsing worse than before — the fixer refuses such a round instead — and the fixed text is
/// still linted without a crash. The first byte picks the language.
pub fn fix(data: &[u8]) {
    big_stack(|| fix_here(data));
}

fn fix_here(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = ["fuzz.ts", "fuzz.rs", "fuzz.js", "fuzz.tsx"][usize::from(pick % 4)];
    let text = text(rest);
    let path = Path::new(name);
    let options = Options::default();
    let budget = options.parse_budget;
    let fixed = unleak::fix::fix_source(path, &text, &options, true);
    if fixed.after != text {
        let before = unleak::fix::parse_damage(path, &text, budget);
        let after = unleak::fix::parse_damage(path, &fixed.after, budget);
        assert!(
            after.is_some(),
            "{name}: the fixed text no longer parses at all"
        );
        assert!(
            after <= before,
            "{name}: the fix made parsing worse ({before:?} -> {after:?}):\n{}",
            fixed.after
        );
        assert!(fixed.fixes > 0);
        lint_checked(name, &fixed.after);
    } else {
        assert_eq!(fixed.fixes, 0);
    }
}

/// Position conversions (what the LSP's UTF-16 positions and every output format's line and
/// column rest on): byte ⇄ line/column round trips, UTF-16 columns against `encode_utf16`,
/// clamping of offsets inside characters or past the end, and no panic for any position. The
/// first two bytes pick extra probe offsets.
pub fn positions(data: &[u8]) {
    let text = text(data);
    let idx = LineIndex::new(&text);
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut line_start = 0;
    let mut line = 0u32;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut prev = None::<LineCol>;
    for (o, _) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        // Reference line bookkeeping: `\r\n`, `\r`, `\n` end lines.
        while i < o {
            if bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line += 1;
                line_start = i + 1;
            }
            i += 1;
        }
        let lc = idx.line_col(&text, o);
        let from = if line == 0 {
            line_start.max(bom).min(o)
        } else {
            line_start
        };
        assert_eq!(lc.line, line + 1, "line at {o}");
        assert_eq!(
            lc.column as usize,
            text[from..o].chars().count() + 1,
            "column at {o}"
        );
        let (l16, c16) = idx.utf16_position(&text, o);
        assert_eq!(l16, line, "utf-16 line at {o}");
        assert_eq!(
            c16 as usize,
            text[from..o].encode_utf16().count(),
            "utf-16 at {o}"
        );
        if o >= bom {
            assert_eq!(idx.offset(&text, lc), o, "round trip at {o} ({lc:?})");
        }
        if let Some(p) = prev
            && o != bom
        {
            assert!(p < lc, "positions grow: {p:?} then {lc:?} at {o}");
        }
        prev = Some(lc);
    }
    // Probes anywhere, including inside characters and past the end.
    let probes = data.iter().take(2).map(|&b| usize::from(b) * 7);
    for o in probes.chain([text.len() + 1, usize::MAX / 2]) {
        let mut floor = o.min(text.len());
        while !text.is_char_boundary(floor) {
            floor -= 1;
        }
        assert_eq!(idx.line_col(&text, o), idx.line_col(&text, floor));
        assert_eq!(
            idx.utf16_position(&text, o),
            idx.utf16_position(&text, floor)
        );
    }
    for &(l, c) in &[(0, 0), (1, u32::MAX), (u32::MAX, 1), (line + 2, 1)] {
        let o = idx.offset(&text, LineCol { line: l, column: c });
        assert!(o <= text.len() && text.is_char_boundary(o));
    }
    for l in 0..idx.line_count() {
        let r = idx.line_range(&text, l);
        assert!(!text[r].contains(['\n', '\r']));
    }
}

/// The language server's position conversions (`lsp::convert::Text`), in each encoding: a
/// position made from any offset on a character boundary converts back to it (offsets inside a
/// `\r\n` excepted: no position names them), its column counts the line's code units before
/// it, and any position at all — past the line, past the text, inside a character — converts
/// to an offset on a character boundary, never decreasing as the column grows.
pub fn lsp_positions(data: &[u8]) {
    use unleak::lsp::convert::{Encoding, Text};
    let text = text(data);
    let lines = LineIndex::new(&text);
    let view = Text::new(&text, &lines);
    let units = |s: &str, enc: Encoding| -> usize {
        match enc {
            Encoding::Utf8 => s.len(),
            Encoding::Utf16 => s.encode_utf16().count(),
            Encoding::Utf32 => s.chars().count(),
        }
    };
    for enc in [Encoding::Utf8, Encoding::Utf16, Encoding::Utf32] {
        for o in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            let p = view.position(o, enc);
            let line = lines.line_range(&text, p.line as usize);
            assert!(line.start <= o, "{enc:?}: line of {o}");
            if text[..o].ends_with('\r') && text[o..].starts_with('\n') {
                continue;
            }
            assert_eq!(
                p.character as usize,
                units(&text[line.start..o.min(line.end)], enc),
                "{enc:?}: column of {o}"
            );
            assert_eq!(
                view.offset(p, enc),
                o.min(line.end),
                "{enc:?}: round trip at {o}"
            );
        }
        let probes: Vec<u32> = data.iter().take(8).map(|&b| u32::from(b) % 40).collect();
        for (i, &l) in probes.iter().enumerate() {
            let mut last = 0;
            for c in (0..60).chain([u32::MAX / 2, u32::MAX]) {
                let pos = gen_lsp_types::Position {
                    line: if i % 3 == 2 { u32::MAX - l } else { l },
                    character: c,
                };
                let o = view.offset(pos, enc);
                assert!(
                    o <= text.len() && text.is_char_boundary(o),
                    "{enc:?}: {pos:?}"
                );
                assert!(
                    o >= last,
                    "{enc:?}: offsets grow with the column at {pos:?}"
                );
                last = o;
            }
        }
    }
}

/// The language server's framing (`lsp::transport::read_all`) on arbitrary bytes: it ends (no
/// hang, no panic), and a well-framed request sent after any garbage that holds no
/// `Content-Length` text still arrives: broken framing resynchronises on the next header.
pub fn lsp_framing(data: &[u8]) {
    let body = r#"{"jsonrpc":"2.0","id":"probe","method":"probe"}"#;
    let mut input = data.to_vec();
    input.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    // read_all runs to the end of the input before anything is read back, so the channels must
    // hold every message; the input's length bounds how many there are.
    // unleak-ignore unbounded-collection: one fuzz input's messages, read back right after
    let (tx, rx) = crossbeam_channel::unbounded();
    // unleak-ignore unbounded-collection: one fuzz input's error replies, dropped right after
    let (err_tx, _err_rx) = crossbeam_channel::unbounded();
    unleak::lsp::transport::read_all(std::io::Cursor::new(input), tx, err_tx);
    let lower = String::from_utf8_lossy(data).to_ascii_lowercase();
    let exited = rx
        .try_iter()
        .fold((false, false), |(probe, exit), m| match m {
            lsp_server::Message::Request(r) => (probe || r.method == "probe", exit),
            lsp_server::Message::Notification(n) => (probe, exit || n.method == "exit"),
            _ => (probe, exit),
        });
    if !lower.contains("content-length") && !exited.1 {
        assert!(exited.0, "the probe request after the garbage was lost");
    }
}

/// The inputs replayed by `tests/fuzz_corpus.rs` for `target`: the seeds (every fixture source
/// file) and `fuzz/regressions/<target>/*`.
pub fn replay_inputs(root: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![
        root.join("fixtures"),
        root.join("fuzz/regressions").join(target),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}
