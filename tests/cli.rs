//! The `unleak` binary end to end: exit codes, the JSON contract, discovery, bad input.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("stdout is one JSON document")
}

const LEAK: &str = "export function start() {}\nsetInterval(() => console.log('tick'), 1000);\n";

#[test]
fn legacy_fixture_json_contract() {
    let out = unleak()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "fixtures/legacy-ts", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["version"], 1);
    assert_eq!(v["summary"]["files"], 13);
    assert_eq!(v["summary"]["errors"], 0);
    // Counted by hand from the expected findings: orphaned-interval (3) and unremoved-listener
    // (5) are errors, the other 17 warnings; all 25 carry an unsafe fix (the two
    // buffer-concat-in-loop findings too, since issue 19), none a safe one.
    assert_eq!(v["summary"]["findings"], 25);
    assert_eq!(v["summary"]["failures"], 0);
    assert_eq!(v["summary"]["files_with_findings"], 13);
    assert_eq!(
        v["summary"]["by_severity"],
        serde_json::json!({"error": 8, "warning": 17, "info": 0})
    );
    assert_eq!(
        v["summary"]["fixable"],
        serde_json::json!({"safe": 0, "unsafe": 25})
    );
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(v["summary"]["diagnostics"], diags.len());
    // One per line of the hand-written expectation file.
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/legacy-ts.txt"),
    )
    .unwrap();
    assert_eq!(
        diags.len(),
        expected.lines().filter(|l| !l.trim().is_empty()).count()
    );
    // The withTimeout timer in utils.ts, checked by hand: line 63, column 7, `setTimeout`.
    let d = diags
        .iter()
        .find(|d| d["rule"] == "uncleared-timeout" && d["line"] == 63)
        .expect("withTimeout finding");
    assert_eq!(d["path"], "fixtures/legacy-ts/src/ai/utils.ts");
    assert_eq!(d["column"], 7);
    assert_eq!(d["end_line"], 63);
    assert_eq!(d["end_column"], 17, "span covers `setTimeout`");
    assert_eq!(d["severity"], "warning");
    assert!(d["help"].as_str().unwrap().contains("clearTimeout"));
    // Its fix, checked by hand: declare `timer` before the `return Promise.race([` of line 60,
    // assign it at the `setTimeout` (63:7), chain `.finally(..)` after the race.
    let fix = &d["fixes"][0];
    assert_eq!(fix["applicability"], "unsafe");
    let edits = fix["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 3);
    assert_eq!(
        (&edits[0]["line"], &edits[0]["column"]),
        (&60.into(), &3.into())
    );
    assert_eq!(
        (&edits[1]["line"], &edits[1]["column"]),
        (&63.into(), &7.into())
    );
    assert_eq!(edits[1]["content"], "timer = ");
    assert_eq!(edits[2]["content"], ".finally(() => clearTimeout(timer))");
    // Every diagnostic has the documented fields.
    for d in diags {
        for k in [
            "rule",
            "severity",
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "message",
            "labels",
            "fixes",
        ] {
            assert!(d.get(k).is_some(), "missing {k} in {d}");
        }
        assert!(
            !d["path"].as_str().unwrap().starts_with('/'),
            "relative path"
        );
    }
    // Cross-file labels point into the other files.
    let dup = diags
        .iter()
        .find(|d| d["rule"] == "duplicate-client")
        .unwrap();
    let label_paths: Vec<&str> = dup["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(label_paths.len(), 3);
    assert!(
        label_paths
            .iter()
            .all(|p| *p != dup["path"].as_str().unwrap())
    );
}

#[test]
fn fixed_fixture_is_clean_and_exits_zero() {
    unleak()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "fixtures/fixed-ts"])
        .assert()
        .code(0)
        .stdout(predicate::str::ends_with("No leaks found in 14 files.\n"));
}

/// A package whose sources live only in `dist/` (and a minified bundle): nothing is linted,
/// and the run says why instead of "no leaks found".
#[test]
fn a_run_that_lints_nothing_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("dist/lib")).unwrap();
    fs::write(d.join("dist/index.js"), LEAK).unwrap();
    fs::write(d.join("dist/lib/util.js"), LEAK).unwrap();
    fs::write(d.join("bundle.min.js"), LEAK).unwrap();
    fs::write(d.join("package.json"), "{}").unwrap();
    unleak()
        .current_dir(d)
        .args(["check"])
        .assert()
        .code(0)
        .stdout(
            "0 files linted: 2 files skipped under dist/ (ignored by default; name the folder to \
             lint it); 1 file minified (`*.min.*`, skipped in walks; name a file to lint it)\n",
        );
    // Machine formats keep stdout for their document and say it on stderr.
    let out = unleak()
        .current_dir(d)
        .args(["check", "--format", "json"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "unleak: 0 files linted: 2 files skipped under dist/",
        ))
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["summary"]["files"], 0);
    assert_eq!(
        v["summary"]["skipped"],
        serde_json::json!({"dirs": 1, "minified": 1, "excluded": 0})
    );
    // Named, the folder is linted.
    unleak()
        .current_dir(d)
        .args(["check", "dist"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "Found 2 findings in 2 files (2 errors); 2 files linted.",
        ));
}

#[test]
fn human_output_names_rule_span_and_help() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.ts"), LEAK).unwrap();
    unleak()
        .current_dir(dir.path())
        .args(["check", "--color", "never"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[orphaned-interval]"))
        .stdout(predicate::str::contains("a.ts:2:1"))
        .stdout(predicate::str::contains("help:"))
        .stdout(predicate::str::contains(
            "Found 1 finding in 1 file (1 error); 1 file linted.\n\
             1 fixable with `--fix --unsafe-fixes`.\n",
        ));
}

#[test]
fn discovery_honours_ignores_and_skipped_dirs_but_not_for_named_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["src", "gen", "node_modules/pkg", "dist", "build", "target"] {
        fs::create_dir_all(d.join(sub)).unwrap();
        fs::write(d.join(sub).join("x.ts"), LEAK).unwrap();
    }
    fs::write(d.join("src/types.d.ts"), LEAK).unwrap();
    fs::write(d.join("src/notes.txt"), LEAK).unwrap();
    fs::write(d.join(".gitignore"), "gen/\n").unwrap();
    let out = unleak()
        .current_dir(d)
        .args(["check", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["summary"]["files"], 1, "{v}");
    assert_eq!(v["diagnostics"][0]["path"], "src/x.ts");
    // Named explicitly (as pre-commit does): linted even though ignored.
    let out = unleak()
        .current_dir(d)
        .args([
            "check",
            "--format",
            "json",
            "gen/x.ts",
            "node_modules/pkg/x.ts",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out)["summary"]["files"], 2);
}

#[test]
fn every_extension_is_linted_with_its_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // JSX needs the TSX grammar; `a < b > (c)` must parse as plain JS comparisons in .js.
    fs::write(
        d.join("a.tsx"),
        "export const App = () => <div onClick={() => 1}>hi</div>;\nsetInterval(() => 1, 5);\n",
    )
    .unwrap();
    fs::write(
        d.join("b.jsx"),
        "const el = <span/>;\nsetInterval(() => 1, 5);\n",
    )
    .unwrap();
    fs::write(
        d.join("c.js"),
        "const x = a < b > (c);\nsetInterval(() => 1, 5);\n",
    )
    .unwrap();
    for ext in ["mts", "cts", "mjs", "cjs", "ts"] {
        fs::write(d.join(format!("f.{ext}")), LEAK).unwrap();
    }
    let out = unleak()
        .current_dir(d)
        .args(["check", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["summary"]["files"], 8);
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(
        diags
            .iter()
            .filter(|d| d["rule"] == "orphaned-interval")
            .count(),
        8,
        "{v}"
    );
    assert!(
        diags.iter().all(|d| d["rule"] != "parse-error"),
        "all parse cleanly: {v}"
    );
}

#[test]
fn bad_input_gets_one_diagnostic_per_file_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("good.ts"), LEAK).unwrap();
    fs::write(
        d.join("latin1.ts"),
        b"const caf\xe9 = 1;\nsetInterval(f, 1);\n",
    )
    .unwrap();
    fs::write(
        d.join("big.js"),
        format!("{}\n{LEAK}", "// padding\n".repeat(2000)),
    )
    .unwrap();
    fs::write(
        d.join("broken.ts"),
        "class A {\n  m() { let = ; }\n}\nsetInterval(() => 1, 5);\n",
    )
    .unwrap();
    fs::write(d.join("empty.ts"), "").unwrap();
    fs::write(d.join("bom.ts"), format!("\u{feff}{LEAK}")).unwrap();
    fs::write(d.join("crlf.ts"), LEAK.replace('\n', "\r\n")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(d, d.join("loop")).unwrap();
        let fifo = d.join("pipe.ts");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "mkfifo");
    }
    let out = unleak()
        .current_dir(d)
        .args([
            "check",
            "--format",
            "json",
            "--max-file-size",
            "10000",
            ".",
            "missing.ts",
            "pipe.ts",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let diags = v["diagnostics"].as_array().unwrap();
    let by = |path: &str| -> Vec<&Value> { diags.iter().filter(|x| x["path"] == path).collect() };
    let one = |path: &str, rule: &str| {
        let ds = by(path);
        assert_eq!(ds.len(), 1, "{path}: {ds:?}");
        assert_eq!(ds[0]["rule"], rule, "{path}");
        ds[0]["message"].as_str().unwrap().to_string()
    };
    assert!(one("latin1.ts", "parse-error").contains("UTF-8"));
    assert!(one("big.js", "io-error").contains("10000"));
    assert!(one("missing.ts", "io-error").contains("No such file"));
    assert!(one("pipe.ts", "io-error").contains("not a regular file"));
    assert!(one("good.ts", "orphaned-interval").contains("discarded"));
    // BOM and CRLF: same finding at the same place as the plain file.
    for f in ["bom.ts", "crlf.ts"] {
        let ds = by(f);
        assert_eq!(ds.len(), 1, "{f}: {ds:?}");
        assert_eq!(
            (ds[0]["line"].as_u64(), ds[0]["column"].as_u64()),
            (Some(2), Some(1)),
            "{f}"
        );
    }
    // The broken file: its syntax error is noted, and the interval after it is still found.
    let broken: Vec<&str> = by("broken.ts")
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(
        broken.contains(&"parse-error") && broken.contains(&"orphaned-interval"),
        "{broken:?}"
    );
    assert!(by("empty.ts").is_empty());
    assert_eq!(v["summary"]["errors"], 4);
}

#[test]
fn a_crash_in_one_file_is_contained_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.ts"), LEAK).unwrap();
    fs::write(dir.path().join("boom.ts"), LEAK).unwrap();
    let out = unleak()
        .current_dir(dir.path())
        .env("UNLEAK_FAULT_INJECT", "boom")
        .args(["check", "--format", "json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("panicked").not())
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let rules: Vec<(String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("a.ts".to_string(), "orphaned-interval".to_string()),
            ("boom.ts".to_string(), "internal-error".to_string())
        ]
    );
}

#[test]
fn rules_and_explain() {
    let out = unleak()
        .args(["rules"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for id in [
        "orphaned-interval",
        "uncleared-timeout",
        "unremoved-listener",
        "duplicate-client",
        "unbounded-collection",
    ] {
        assert!(text.contains(id), "{id} listed");
    }
    // Columns line up: the severity starts at the same place on every row.
    let columns: Vec<usize> = text
        .lines()
        .map(|l| {
            let id_end = l.find(' ').unwrap();
            id_end + l[id_end..].find(|c: char| c != ' ').unwrap()
        })
        .collect();
    assert!(
        columns.windows(2).all(|w| w[0] == w[1]),
        "unaligned rows:\n{text}"
    );
    let out = unleak()
        .args(["rules", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let list = json(&out);
    assert_eq!(
        list.as_array().unwrap().len(),
        unleak::registry::all().count()
    );
    // The languages tell the truth: a rule whose doc has a Rust example has a Rust half.
    for rule in list.as_array().unwrap() {
        let id = rule["id"].as_str().unwrap();
        let doc = unleak::registry::doc(id).unwrap();
        let langs: Vec<&str> = rule["languages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        for (fence, lang) in [("```rust bad", "rust"), ("```ts bad", "typescript")] {
            assert_eq!(
                doc.contains(fence),
                langs.contains(&lang),
                "{id}: languages {langs:?} vs its doc's `{fence}` examples"
            );
        }
    }
    let doc = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/orphaned-interval.md"),
    )
    .unwrap();
    unleak()
        .args(["explain", "orphaned-interval"])
        .assert()
        .code(0)
        .stdout(doc);
    unleak()
        .args(["explain", "no-such-rule"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule"));
}

#[test]
fn usage_errors_exit_two() {
    unleak().args(["check", "--format", "xml"]).assert().code(2);
    unleak().args(["frobnicate"]).assert().code(2);
    unleak().args(["--version"]).assert().code(0);
}

/// `--timeout` sets the per-file budget: a file that takes longer is one `timeout` error (exit
/// 1, like any file that could not be linted) and the other files are linted as usual.
#[test]
fn timeout_flag_gives_up_on_a_slow_file_and_lints_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // About 800 KB of code: far more than a millisecond's parsing, even in a release build.
    let chunk = "function a(b,c){var d=b.map(function(e){return e*c});return{k:d,m:[1,2,3]}}\n";
    fs::write(dir.path().join("slow.js"), chunk.repeat(10_000)).unwrap();
    fs::write(dir.path().join("leak.ts"), LEAK).unwrap();
    let out = unleak()
        .current_dir(dir.path())
        .args([
            "check",
            "--no-cache",
            "--format",
            "json",
            "--timeout",
            "0.001",
        ])
        .args(["slow.js"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["rule"], "timeout");
    assert_eq!(diags[0]["path"], "slow.js");
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("timed out")
    );
    assert_eq!(v["summary"]["errors"], 1);
    // The default budget lints both; a small file is linted within a short budget too.
    let v = json(
        &unleak()
            .current_dir(dir.path())
            .args(["check", "--no-cache", "--format", "json", "--timeout", "5"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone(),
    );
    let rules: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["orphaned-interval"]);
    for bad in ["0", "-1", "soon"] {
        unleak()
            .current_dir(dir.path())
            .args(["check".to_string(), format!("--timeout={bad}")])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--timeout"));
    }
}
