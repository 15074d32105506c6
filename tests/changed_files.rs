//! `--staged` and `--changed-since`: the whole project is analysed (project-wide rules see
//! every file) but only findings in the selected files are reported.

use std::fs;
use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) {
    let ok = Std::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

fn reported(dir: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let out = Command::cargo_bin("unleak")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn only_selected_files_are_reported_but_the_project_is_seen_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    git(d, &["config", "user.email", "t@example.invalid"]);
    git(d, &["config", "user.name", "t"]);
    // Two files each constructing an OpenAI client: a project-wide duplicate.
    fs::write(
        d.join("a.ts"),
        "import OpenAI from 'openai';\nexport const a = new OpenAI();\n",
    )
    .unwrap();
    fs::write(
        d.join("b.ts"),
        "import OpenAI from 'openai';\nexport const b = new OpenAI();\n",
    )
    .unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "init"]);
    // Nothing staged: nothing reported, although both findings exist.
    assert_eq!(reported(d, &["--staged"]), vec![]);
    assert_eq!(reported(d, &[]).len(), 2);
    // Stage a change to b.ts: only b.ts is reported, still as a duplicate of a.ts.
    fs::write(
        d.join("b.ts"),
        "import OpenAI from 'openai';\n// touched\nexport const b = new OpenAI();\n",
    )
    .unwrap();
    git(d, &["add", "b.ts"]);
    assert_eq!(
        reported(d, &["--staged"]),
        vec![("b.ts".into(), "duplicate-client".into())]
    );
    // Changed since HEAD: an unstaged edit and a new untracked file count too.
    fs::write(
        d.join("a.ts"),
        "import OpenAI from 'openai';\nexport const a = new OpenAI(); // edited\n",
    )
    .unwrap();
    fs::write(d.join("c.ts"), "setInterval(() => 1, 5);\n").unwrap();
    let mut got = reported(d, &["--changed-since", "HEAD"]);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a.ts".into(), "duplicate-client".into()),
            ("b.ts".into(), "duplicate-client".into()),
            ("c.ts".into(), "orphaned-interval".into()),
        ]
    );
}
