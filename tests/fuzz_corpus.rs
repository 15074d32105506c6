//! The fuzz targets' CI smoke test without libFuzzer: every seed (each fixture source file) and
//! every minimised crash kept in `fuzz/regressions/<target>/` goes through the same check
//! functions the `cargo fuzz` targets call (`fuzz/checks.rs`).

use std::path::Path;

#[path = "../fuzz/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = checks::replay_inputs(root, target);
    assert!(inputs.len() > 100, "{target}: only {} inputs", inputs.len());
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(|| check(bytes));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
    }
}

#[test]
fn fuzz_ts_inputs() {
    replay("fuzz_ts", checks::ts);
}

#[test]
fn fuzz_rust_inputs() {
    replay("fuzz_rust", checks::rust);
}

#[test]
fn fuzz_fix_inputs() {
    // The seeds are plain files; the target reads its first byte as the language: try each.
    replay("fuzz_fix", |bytes| {
        for lang in 0u8..4 {
            let mut input = vec![lang];
            input.extend_from_slice(bytes);
            checks::fix(&input);
        }
    });
}

#[test]
fn fuzz_positions_inputs() {
    replay("fuzz_positions", checks::positions);
}

#[test]
fn fuzz_lsp_positions_inputs() {
    replay("fuzz_lsp_positions", checks::lsp_positions);
}

#[test]
fn fuzz_lsp_framing_inputs() {
    replay("fuzz_lsp_framing", checks::lsp_framing);
}
