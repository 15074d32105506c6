//! A run split into shards (`unleak check --shard I/N`, then `unleak merge`) reports exactly
//! what one run reports (issue 21, item 4), and a merge refuses what would make it wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn unleak(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A project of both languages with project-wide findings across files (duplicate clients,
/// listeners on shared emitters), copied so a test may edit it.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for sub in ["legacy-ts", "legacy-rust", "cases"] {
        copy_tree(&fixtures.join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Runs every shard of an `n`-way split, then the merge; returns the merge's output.
fn sharded(dir: &Path, n: u32, merge_args: &[&str]) -> Output {
    let mut files = Vec::new();
    for i in 1..=n {
        let file = format!("shard-{i}.summaries");
        let o = unleak(
            dir,
            &[
                "check",
                "--no-cache",
                "--shard",
                &format!("{i}/{n}"),
                "--summaries",
                &file,
                ".",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "shard {i}/{n}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "a shard reports nothing");
        files.push(file);
    }
    let mut args = vec!["merge", "--no-cache"];
    args.extend(files.iter().map(String::as_str));
    args.extend(merge_args);
    unleak(dir, &args)
}

#[test]
fn one_two_and_four_shards_report_what_one_run_reports() {
    let dir = project();
    let one = unleak(
        dir.path(),
        &["check", "--no-cache", "--format", "json", "."],
    );
    assert_eq!(one.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let findings = json["diagnostics"].as_array().unwrap();
    // Worth comparing: many findings, and project-wide ones among them (labels in other files).
    assert!(findings.len() > 100, "{} findings", findings.len());
    assert!(
        findings.iter().any(|d| d["rule"] == "duplicate-client"
            && d["labels"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["path"] != d["path"]))),
        "no project-wide finding spans files"
    );
    for n in [1, 2, 4] {
        let merged = sharded(dir.path(), n, &["--format", "json"]);
        assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
        assert!(
            merged.stdout == one.stdout,
            "{n} shards report differently from one run"
        );
    }
    // Human output too (summary line included).
    let one = unleak(
        dir.path(),
        &["check", "--no-cache", "--color", "never", "."],
    );
    let merged = sharded(dir.path(), 3, &["--color", "never"]);
    assert_eq!(
        String::from_utf8_lossy(&merged.stdout),
        String::from_utf8_lossy(&one.stdout)
    );
}

#[test]
fn every_file_is_in_exactly_one_shard() {
    let dir = project();
    let one = unleak(
        dir.path(),
        &["check", "--no-cache", "--format", "json", "."],
    );
    let json: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let total = json["summary"]["files"].as_u64().unwrap();
    let mut analysed = 0;
    for i in 1..=4 {
        let o = unleak(
            dir.path(),
            &["check", "--no-cache", "--shard", &format!("{i}/4"), "."],
        );
        let err = stderr(&o);
        assert!(
            dir.path()
                .join(format!("unleak-shard-{i}-of-4.summaries"))
                .is_file(),
            "the default summaries file: {err}"
        );
        let n: u64 = err
            .split("analysed ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no count in {err:?}"));
        assert!(n > 0 && n < total, "shard {i}/4 analysed {n} of {total}");
        analysed += n;
    }
    assert_eq!(analysed, total);
}

#[test]
fn a_merge_refuses_missing_duplicate_foreign_and_damaged_summaries() {
    let dir = project();
    let p = dir.path();
    for i in 1..=3 {
        let o = unleak(
            p,
            &["check", "--no-cache", "--shard", &format!("{i}/3"), "."],
        );
        assert_eq!(o.status.code(), Some(0));
    }
    let s = |i: u32| format!("unleak-shard-{i}-of-3.summaries");
    let refused = |args: &[&str], why: &str| {
        let mut all = vec!["merge"];
        all.extend(args);
        let o = unleak(p, &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    };
    refused(&[&s(1), &s(2)], "summaries of shard 3/3 are missing");
    refused(&[&s(1), &s(1), &s(3)], "are both shard 1/3");
    refused(
        &["legacy-ts/src/ai/utils.ts"],
        "is not an unleak summaries file",
    );
    let bytes = std::fs::read(p.join(s(2))).unwrap();
    std::fs::write(p.join("cut.summaries"), &bytes[..bytes.len() - 10]).unwrap();
    refused(&[&s(1), "cut.summaries", &s(3)], "is damaged");
    // Shards made under other rule options than the merge's.
    std::fs::write(
        p.join("unleak.toml"),
        "[options]\nteardown-words = [\"retire\"]\n",
    )
    .unwrap();
    refused(&[&s(1), &s(2), &s(3)], "other rule options");
}

#[test]
fn a_file_changed_after_its_shard_ran_is_analysed_again() {
    let dir = project();
    let p = dir.path();
    for i in 1..=2 {
        unleak(
            p,
            &["check", "--no-cache", "--shard", &format!("{i}/2"), "."],
        );
    }
    // A new leak in one file, a suppression in another: both must show in the merge.
    let file = p.join("legacy-ts/src/ai/utils.ts");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\nsetInterval(() => console.log('tick'), 1000);\n");
    std::fs::write(&file, &text).unwrap();
    let merged = unleak(
        p,
        &[
            "merge",
            "unleak-shard-1-of-2.summaries",
            "unleak-shard-2-of-2.summaries",
            "--format",
            "json",
        ],
    );
    assert!(
        stderr(&merged).contains("1 file changed since its shard analysed it"),
        "{}",
        stderr(&merged)
    );
    let one = unleak(p, &["check", "--no-cache", "--format", "json", "."]);
    assert_eq!(merged.stdout, one.stdout);
    let json: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    let last_line = text.lines().count() as u64;
    assert!(
        json["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["rule"] == "orphaned-interval"
                && d["path"] == "legacy-ts/src/ai/utils.ts"
                && d["line"] == last_line
        }),
        "the new interval is not reported"
    );
}

#[test]
fn shard_summaries_paths_are_as_given() {
    // `--summaries` into another folder, and the file names on the merge's command line.
    let dir = project();
    let out = tempfile::tempdir().unwrap();
    let file: PathBuf = out.path().join("only.summaries");
    let o = unleak(
        dir.path(),
        &[
            "check",
            "--shard",
            "1/1",
            "--summaries",
            file.to_str().unwrap(),
            "legacy-ts",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("written to {}", file.display())));
    let merged = unleak(
        dir.path(),
        &["merge", file.to_str().unwrap(), "--format", "json"],
    );
    let one = unleak(dir.path(), &["check", "--format", "json", "legacy-ts"]);
    assert_eq!(merged.stdout, one.stdout);
}
