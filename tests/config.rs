//! Configuration files through the real binary: levels, globs, overrides, options, errors,
//! `unleak config`, and Cargo.toml metadata.

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

fn run(dir: &std::path::Path) -> (i32, Vec<(String, String, String)>) {
    let out = unleak()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let list = v["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["path"].as_str().unwrap().to_string(),
                        d["rule"].as_str().unwrap().to_string(),
                        d["severity"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (out.status.code().unwrap(), list)
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["src", "test", "gen"] {
        fs::create_dir_all(d.join(sub)).unwrap();
        fs::write(
            d.join(sub).join("a.ts"),
            "setInterval(() => poll(), 1000);\ntry { connect(); } catch {}\n",
        )
        .unwrap();
    }
    dir
}

fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn levels_globs_and_overrides_apply() {
    let dir = project();
    fs::write(
        dir.path().join("unleak.toml"),
        "exclude = [\"gen/**\"]\n\n[rules]\nsilent-error = \"error\"\norphaned-interval = \"info\"\n\n[[overrides]]\nfiles = [\"test/**\"]\nrules = { silent-error = \"off\", orphaned-interval = \"off\" }\n",
    )
    .unwrap();
    let (code, found) = run(dir.path());
    assert_eq!(
        found,
        vec![
            s("src/a.ts", "orphaned-interval", "info"),
            s("src/a.ts", "silent-error", "error"),
        ]
    );
    assert_eq!(code, 1);
    // Only infos left: exit 0.
    fs::write(
        dir.path().join("unleak.toml"),
        "include = [\"src/**\"]\n[rules]\nsilent-error = \"off\"\norphaned-interval = \"info\"\n",
    )
    .unwrap();
    assert_eq!(
        run(dir.path()),
        (0, vec![s("src/a.ts", "orphaned-interval", "info")])
    );
}

#[test]
fn options_extend_teardowns_and_clients() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.ts"),
        "export class Poller {\n  private t?: NodeJS.Timeout;\n  start() { this.t = setInterval(() => 1, 10); }\n  finalize() { clearInterval(this.t); }\n}\nexport const a = new Acme();\nexport const b = new Acme();\n",
    )
    .unwrap();
    let (_, found) = run(dir.path());
    assert_eq!(found, vec![s("a.ts", "orphaned-interval", "error")]);
    fs::write(
        dir.path().join(".unleak.toml"),
        "[options]\nteardown-words = [\"finalize\"]\nclient-constructors = [\"Acme\"]\n",
    )
    .unwrap();
    let (_, found) = run(dir.path());
    assert_eq!(
        found,
        vec![
            s("a.ts", "duplicate-client", "warning"),
            s("a.ts", "duplicate-client", "warning")
        ]
    );
}

#[test]
fn bad_configuration_names_file_line_and_allowed_values() {
    let dir = project();
    fs::write(
        dir.path().join("unleak.toml"),
        "[rules]\nsilent-error = \"loud\"\n",
    )
    .unwrap();
    unleak()
        .current_dir(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unleak.toml:2"))
        .stderr(predicate::str::contains("warning"));
    fs::write(
        dir.path().join("unleak.toml"),
        "[rules]\nno-such-rule = \"off\"\n",
    )
    .unwrap();
    unleak()
        .current_dir(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unleak.toml:2"))
        .stderr(predicate::str::contains("no-such-rule"));
    fs::write(dir.path().join("unleak.toml"), "colour = \"red\"\n").unwrap();
    unleak()
        .current_dir(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("colour"));
}

#[test]
fn cargo_metadata_configuration_and_unleak_config() {
    let dir = project();
    fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[package.metadata.unleak]\nexclude = [\"gen/**\", \"test/**\"]\n[package.metadata.unleak.rules]\nsilent-error = \"off\"\n",
    )
    .unwrap();
    assert_eq!(
        run(dir.path()),
        (1, vec![s("src/a.ts", "orphaned-interval", "error")])
    );
    unleak()
        .current_dir(dir.path().join("src"))
        .arg("config")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Cargo.toml"))
        .stdout(predicate::str::contains("silent-error = \"off\""))
        .stdout(predicate::str::contains("orphaned-interval = \"error\""));
}

#[test]
fn each_file_takes_its_nearest_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for pkg in ["packages/a", "packages/b", "packages/c"] {
        fs::create_dir_all(d.join(pkg)).unwrap();
        fs::write(
            d.join(pkg).join("x.ts"),
            "setInterval(() => poll(), 1000);\ntry { connect(); } catch {}\n",
        )
        .unwrap();
    }
    fs::write(d.join("unleak.toml"), "[rules]\nsilent-error = \"off\"\n").unwrap();
    // The closest file wins whole (no merging with the root's), like ruff's.
    fs::write(
        d.join("packages/b/unleak.toml"),
        "[rules]\norphaned-interval = \"off\"\n",
    )
    .unwrap();
    fs::write(d.join("packages/c/.unleak.toml"), "bogus = 1\n").unwrap();
    let (code, found) = run(d);
    assert_eq!(code, 1);
    assert_eq!(
        found,
        vec![
            s("packages/a/x.ts", "orphaned-interval", "error"),
            s("packages/b/x.ts", "silent-error", "warning"),
            s("packages/c/x.ts", "io-error", "error"),
        ]
    );
}

/// Which files are tests (skipped by silent-error and four other rules): the built-in set, an
/// example that starts a server (linted like a service), and `[files] tests` replacing the set.
#[test]
fn test_files_are_configurable_and_server_examples_are_services() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let swallow = "export async function f(p: string) {\n  await unlink(p).catch(() => {});\n}\n";
    let server = "import http from 'node:http';\nexport async function f(p: string) {\n  await unlink(p).catch(() => {});\n}\nhttp.createServer(() => {}).listen(8080);\nprocess.on('SIGTERM', () => process.exit(0));\n";
    for (path, text) in [
        ("src/a.ts", swallow),
        ("src/a.test.ts", swallow),
        ("test/helpers.ts", swallow),
        ("examples/snippet.ts", swallow),
        ("examples/server.ts", server),
        ("qa/check.ts", swallow),
    ] {
        fs::create_dir_all(d.join(path).parent().unwrap()).unwrap();
        fs::write(d.join(path), text).unwrap();
    }
    let silent = |d: &std::path::Path| -> Vec<String> {
        run(d)
            .1
            .into_iter()
            .filter(|(_, rule, _)| rule == "silent-error")
            .map(|(path, _, _)| path)
            .collect()
    };
    assert_eq!(
        silent(d),
        vec!["examples/server.ts", "qa/check.ts", "src/a.ts"]
    );
    // The configured set replaces the built-in one: only qa/ holds tests now.
    fs::write(d.join("unleak.toml"), "[files]\ntests = [\"qa/**\"]\n").unwrap();
    assert_eq!(
        silent(d),
        vec![
            "examples/server.ts",
            "examples/snippet.ts",
            "src/a.test.ts",
            "src/a.ts",
            "test/helpers.ts"
        ]
    );
    // An empty list: no file is a test.
    fs::write(d.join("unleak.toml"), "[files]\ntests = []\n").unwrap();
    assert_eq!(silent(d).len(), 6);
    // A bad glob is a configuration error naming the file.
    fs::write(d.join("unleak.toml"), "[files]\ntests = [\"a[\"]\n").unwrap();
    unleak()
        .current_dir(d)
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unleak.toml"));
}

/// A nested package's `max-file-size` applies to its files wherever the run starts; the flag
/// overrides every configuration.
#[test]
fn a_nested_max_file_size_applies_from_the_root_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("pkg")).unwrap();
    fs::write(d.join("pkg/unleak.toml"), "max-file-size = 10\n").unwrap();
    let leak = "setInterval(() => console.log('tick'), 1000);\n";
    fs::write(d.join("pkg/a.ts"), leak).unwrap();
    fs::write(d.join("b.ts"), leak).unwrap();
    let rules = |dir: &std::path::Path, extra: &[&str]| -> Vec<(String, String)> {
        let out = unleak()
            .current_dir(dir)
            .args(["check", "--format", "json", "--no-cache"])
            .args(extra)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
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
    };
    let from_root = rules(d, &[]);
    assert!(
        from_root.contains(&("pkg/a.ts".into(), "io-error".into())),
        "{from_root:?}"
    );
    assert!(from_root.contains(&("b.ts".into(), "orphaned-interval".into())));
    assert_eq!(
        rules(&d.join("pkg"), &[]),
        vec![("a.ts".to_string(), "io-error".to_string())]
    );
    let forced = rules(d, &["--max-file-size", "1000"]);
    assert!(forced.contains(&("pkg/a.ts".into(), "orphaned-interval".into())));
}
