//! Property tests: byte offset ⇄ line/column ⇄ UTF-16 position conversions against reference
//! computations (every line ending, multi-byte characters, surrogate pairs, a BOM), the
//! suppression comment parser (never panics; well-formed comments round-trip), and edit
//! application (matches a reference splice; never panics on bad ranges).

use std::ops::Range;

use proptest::prelude::*;
use unleak::source::{LineCol, LineIndex};
use unleak::suppress;

/// Text built from the characters that make conversions interesting.
fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => Just('a'),
        2 => Just(' '),
        2 => Just('\n'),
        2 => Just('\r'),
        1 => Just('\t'),
        1 => Just('é'),        // 2 bytes, 1 UTF-16 unit
        1 => Just('中'),       // 3 bytes, 1 unit
        1 => Just('😀'),       // 4 bytes, 2 units (a surrogate pair)
        1 => Just('\u{feff}'), // a BOM in the middle is just a character
        1 => Just('\u{2028}'), // not a line end for us
    ];
    (any::<bool>(), prop::collection::vec(ch, 0..120)).prop_map(|(bom, cs)| {
        let mut s = String::new();
        if bom {
            s.push('\u{feff}');
        }
        s.extend(cs);
        s
    })
}

/// Reference: the byte offset where each line starts (`\r\n`, `\r` and `\n` end lines).
fn line_starts(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut starts = vec![0];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            i += 1;
        }
        if b[i] == b'\n' || b[i] == b'\r' {
            starts.push(i + 1);
        }
        i += 1;
    }
    starts
}

/// Reference line (0-based) and where its columns start (after a leading BOM on line 0).
fn reference_line(text: &str, offset: usize) -> (usize, usize) {
    let starts = line_starts(text);
    let line = starts.iter().rposition(|&s| s <= offset).unwrap();
    let mut start = starts[line];
    if line == 0 && text.starts_with('\u{feff}') && offset >= 3 {
        start = 3;
    }
    (line, start)
}

fn boundaries(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect()
}

proptest! {
    // Failures are kept beside this file (tests/props.proptest-regressions) and replayed first.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn line_col_matches_the_reference_and_round_trips(text in text()) {
        let idx = LineIndex::new(&text);
        prop_assert_eq!(idx.line_count(), line_starts(&text).len());
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        for o in boundaries(&text) {
            let lc = idx.line_col(&text, o);
            let (line, start) = reference_line(&text, o);
            let start = start.min(o);
            prop_assert_eq!(lc.line as usize, line + 1, "offset {}", o);
            prop_assert_eq!(lc.column as usize, text[start..o].chars().count() + 1, "offset {}", o);
            // Back to the same byte (the BOM itself shares column 1 with what follows it).
            if o >= bom {
                prop_assert_eq!(idx.offset(&text, lc), o, "offset {} at {:?}", o, lc);
            } else {
                prop_assert_eq!(idx.offset(&text, lc), bom);
            }
        }
    }

    #[test]
    fn utf16_positions_match_encode_utf16(text in text()) {
        let idx = LineIndex::new(&text);
        for o in boundaries(&text) {
            let (line, start) = reference_line(&text, o);
            let units = text[start.min(o)..o].encode_utf16().count();
            prop_assert_eq!(idx.utf16_position(&text, o), (line as u32, units as u32), "offset {}", o);
        }
    }

    #[test]
    fn long_lines_count_the_same(chunk in text(), times in 1usize..400, probes in prop::collection::vec(any::<prop::sample::Index>(), 1..20)) {
        // Minified code: lines far longer than the index's checkpoints (every 4 KiB).
        let text = chunk.replace(['\n', '\r'], " ").repeat(times) + "\n" + &chunk.repeat(times);
        let idx = LineIndex::new(&text);
        let bounds = boundaries(&text);
        for p in probes {
            let o = bounds[p.index(bounds.len())];
            let (line, start) = reference_line(&text, o);
            let start = start.min(o);
            let lc = idx.line_col(&text, o);
            prop_assert_eq!(lc.line as usize, line + 1);
            prop_assert_eq!(lc.column as usize, text[start..o].chars().count() + 1);
            let units = text[start..o].encode_utf16().count();
            prop_assert_eq!(idx.utf16_position(&text, o), (line as u32, units as u32));
        }
    }

    #[test]
    fn offsets_inside_characters_and_past_the_end_are_clamped(text in text(), extra in 0usize..10) {
        let idx = LineIndex::new(&text);
        for o in 0..=text.len() + extra {
            let mut floor = o.min(text.len());
            while !text.is_char_boundary(floor) {
                floor -= 1;
            }
            prop_assert_eq!(idx.line_col(&text, o), idx.line_col(&text, floor));
            prop_assert_eq!(idx.utf16_position(&text, o), idx.utf16_position(&text, floor));
        }
    }

    #[test]
    fn line_ranges_are_the_lines_without_their_endings(text in text()) {
        let idx = LineIndex::new(&text);
        let starts = line_starts(&text);
        for (l, &s) in starts.iter().enumerate() {
            let r = idx.line_range(&text, l);
            let end = starts.get(l + 1).copied().unwrap_or(text.len());
            let expected = text[s..end].trim_end_matches(['\r', '\n']);
            prop_assert_eq!(&text[r.clone()], expected, "line {}", l);
            prop_assert_eq!(r.start, s);
        }
        // Positions past the last line or column clamp instead of panicking.
        let past = idx.offset(&text, LineCol { line: starts.len() as u32 + 3, column: 1 });
        prop_assert_eq!(past, text.len());
        let _ = idx.offset(&text, LineCol { line: 0, column: 0 });
        let _ = idx.offset(&text, LineCol { line: 1, column: u32::MAX });
    }

    #[test]
    fn the_suppression_parser_never_panics(
        text in "(\\PC|\n|\r|//|/\\*|\\*/|unleak-ignore|-file|:|,| ){0,60}",
        spans in prop::collection::vec((0usize..200, 0usize..200), 0..4),
    ) {
        let idx = LineIndex::new(&text);
        let in_strings: Vec<Range<usize>> = spans.iter().map(|&(a, b)| a..b).collect();
        let sups = suppress::parse(&text, &idx, &in_strings);
        for s in &sups {
            prop_assert!(s.line < idx.line_count());
            prop_assert!(s.span.start <= s.span.end && s.span.end <= text.len());
        }
        // And applying them to findings anywhere in the file neither panics nor invents any.
        let path = std::path::Path::new("a.ts");
        let mut diags: Vec<unleak::Diagnostic> = (0..=text.len())
            .step_by(7)
            .map(|o| unleak::Diagnostic::new(
                "orphaned-interval", unleak::Severity::Error, path.into(), o..o, "x"))
            .collect();
        let before = diags.len();
        suppress::apply(path, &text, &idx, &sups, &mut diags, &|id| id == "orphaned-interval");
        let kept = diags.iter().filter(|d| d.rule == "orphaned-interval").count();
        prop_assert!(kept <= before);
    }

    #[test]
    fn well_formed_suppressions_round_trip(
        filler in prop::collection::vec("[a-z0-9 =;(){}]{0,20}", 0..4),
        code in "[a-z0-9 =;()]{0,12}",
        file_wide in any::<bool>(),
        block in any::<bool>(),
        rules in prop::collection::vec("[a-z]{1,8}(-[a-z]{1,8}){0,2}", 1..4),
        reason in "[A-Za-z0-9 .,:'()-]{0,30}",
        crlf in any::<bool>(),
    ) {
        let marker = if file_wide { "unleak-ignore-file" } else { "unleak-ignore" };
        let comment = if block {
            format!("/* {marker} {}: {reason} */", rules.join(", "))
        } else {
            format!("// {marker} {}: {reason}", rules.join(", "))
        };
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = filler.clone();
        let at = lines.len() / 2;
        lines.insert(at, format!("{code}{comment}"));
        let text = lines.join(nl) + nl;
        let idx = LineIndex::new(&text);
        let sups = suppress::parse(&text, &idx, &[]);
        prop_assert_eq!(sups.len(), 1, "{:?}", text);
        let s = &sups[0];
        prop_assert_eq!(s.line, at);
        prop_assert_eq!(s.file_wide, file_wide);
        prop_assert_eq!(&s.rules, &rules);
        let want = reason.trim();
        prop_assert_eq!(s.reason.as_deref(), (!want.is_empty()).then_some(want));
        prop_assert_eq!(&text[s.span.clone()], comment.as_str());
    }

    #[test]
    fn apply_edits_matches_a_reference_splice(
        text in text(),
        cuts in prop::collection::vec((0usize..130, 0usize..8, "[a-z😀]{0,3}"), 0..6),
    ) {
        // Valid, non-conflicting edits (snapped to character boundaries; no two intersecting or
        // starting at the same offset) apply like a splice from the back.
        let snap = |mut o: usize| {
            o = o.min(text.len());
            while !text.is_char_boundary(o) { o -= 1; }
            o
        };
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        for (start, len, content) in cuts {
            let r = snap(start)..snap(start + len);
            let clash = edits.iter().any(|(e, _)| {
                r.start < e.end && e.start < r.end || r.start == e.start
            });
            if !clash {
                edits.push((r, content));
            }
        }
        let (out, skipped) = unleak::fix::apply_edits(&text, &edits);
        prop_assert!(skipped.is_empty());
        let mut sorted = edits.clone();
        sorted.sort_by_key(|(r, _)| std::cmp::Reverse((r.start, r.end)));
        let mut want = text.clone();
        for (r, c) in sorted {
            want.replace_range(r, &c);
        }
        prop_assert_eq!(out, want);
    }

    #[test]
    fn apply_edits_skips_bad_ranges_without_panicking(
        text in text(),
        edits in prop::collection::vec((0usize..200, 0usize..200, "[a-z]{0,3}"), 0..6),
    ) {
        let edits: Vec<(Range<usize>, String)> =
            edits.into_iter().map(|(a, b, c)| (a..b, c)).collect();
        let (out, skipped) = unleak::fix::apply_edits(&text, &edits);
        // Whatever was taken was valid; what was skipped is reported by index.
        prop_assert!(skipped.iter().all(|&i| i < edits.len()));
        for (i, (r, _)) in edits.iter().enumerate() {
            let valid = r.start <= r.end && r.end <= text.len()
                && text.is_char_boundary(r.start) && text.is_char_boundary(r.end);
            if !valid {
                prop_assert!(skipped.contains(&i));
            }
        }
        prop_assert!(std::str::from_utf8(out.as_bytes()).is_ok());
    }
}
