//! `cargo unleak`: workspace discovery through `cargo metadata`, package selection, and the
//! same output and exit codes as `unleak check`.

use std::fs;

use assert_cmd::Command;
use serde_json::Value;

fn cargo_unleak() -> Command {
    let mut c = Command::cargo_bin("cargo-unleak").unwrap();
    c.arg("unleak");
    c
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("one JSON document")
}

/// A two-member workspace: `svc` leaks a detached ticking task, `clean` does not; `svc` also
/// holds a TypeScript file, linted too.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("Cargo.toml"),
        "[workspace]\nmembers = [\"svc\", \"clean\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for (name, body) in [
        (
            "svc",
            "use std::time::Duration;\n#[tokio::main]\nasync fn main() {\n    tokio::spawn(async move {\n        let mut tick = tokio::time::interval(Duration::from_secs(5));\n        loop {\n            tick.tick().await;\n            println!(\"heartbeat\");\n        }\n    });\n}\n",
        ),
        ("clean", "fn main() {\n    println!(\"hi\");\n}\n"),
    ] {
        fs::create_dir_all(d.join(name).join("src")).unwrap();
        fs::write(
            d.join(name).join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        fs::write(d.join(name).join("src/main.rs"), body).unwrap();
    }
    fs::create_dir_all(d.join("svc/web")).unwrap();
    fs::write(
        d.join("svc/web/poll.ts"),
        "setInterval(() => fetch('/health'), 1000);\n",
    )
    .unwrap();
    dir
}

#[test]
fn workspace_members_are_linted_with_their_typescript() {
    let ws = workspace();
    let out = cargo_unleak()
        .current_dir(ws.path())
        .args(["--workspace", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let found: Vec<(String, String, u64)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            // A tokio main whose looping task nothing stops on SIGTERM (line 3: `async fn main`),
            // and the task itself.
            (
                "svc/src/main.rs".to_string(),
                "missing-graceful-shutdown".to_string(),
                3
            ),
            (
                "svc/src/main.rs".to_string(),
                "orphaned-interval".to_string(),
                4
            ),
            (
                "svc/web/poll.ts".to_string(),
                "orphaned-interval".to_string(),
                1
            ),
        ]
    );
    assert_eq!(v["summary"]["files"], 3);
}

#[test]
fn package_selection() {
    let ws = workspace();
    // -p selects one member; the current package is the default inside a member folder.
    cargo_unleak()
        .current_dir(ws.path())
        .args(["-p", "clean"])
        .assert()
        .code(0);
    cargo_unleak()
        .current_dir(ws.path().join("clean"))
        .assert()
        .code(0);
    cargo_unleak()
        .current_dir(ws.path().join("svc"))
        .assert()
        .code(1);
    cargo_unleak()
        .current_dir(ws.path())
        .args(["--workspace", "--exclude", "svc"])
        .assert()
        .code(0);
    // A virtual manifest with no package selected: every member.
    cargo_unleak().current_dir(ws.path()).assert().code(1);
    let manifest = ws.path().join("clean/Cargo.toml");
    cargo_unleak()
        .args(["--manifest-path", manifest.to_str().unwrap()])
        .assert()
        .code(0);
    cargo_unleak()
        .current_dir(ws.path())
        .args(["-p", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a member"));
}

#[test]
fn this_workspace_is_clean_with_its_fixtures_left_out() {
    // The fixtures are leaky on purpose and listed in `.ignore`; the runtime and unleak's own
    // sources must be clean.
    cargo_unleak()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--workspace"])
        .assert()
        .code(0);
}

#[test]
fn message_format_json_speaks_cargo_for_rust_analyzer() {
    let ws = workspace();
    let out = cargo_unleak()
        .current_dir(ws.path())
        .args(["--workspace", "--message-format=json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let (last, messages) = lines.split_last().unwrap();
    assert_eq!(last["reason"], "build-finished");
    assert_eq!(last["success"], false);
    assert_eq!(messages.len(), 3);
    let m = messages
        .iter()
        .find(|m| {
            m["message"]["code"]["code"] == "orphaned-interval"
                && m["message"]["spans"][0]["file_name"] == "svc/src/main.rs"
        })
        .expect("the Rust finding");
    assert_eq!(m["reason"], "compiler-message");
    assert_eq!(m["message"]["level"], "error");
    let span = &m["message"]["spans"][0];
    assert_eq!(
        (span["line_start"].as_u64(), span["column_start"].as_u64()),
        (Some(4), Some(5))
    );
    assert_eq!(span["is_primary"], true);
    assert!(
        m["message"]["rendered"]
            .as_str()
            .unwrap()
            .contains("svc/src/main.rs:4:5")
    );
    // Each message names its real package, manifest and target, as `cargo metadata` does.
    let meta = std::process::Command::new(env!("CARGO"))
        .current_dir(ws.path())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .unwrap();
    let meta: Value = serde_json::from_slice(&meta.stdout).unwrap();
    let svc = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "svc")
        .unwrap();
    for m in messages {
        assert_eq!(m["package_id"], svc["id"], "{m}");
        assert_eq!(m["manifest_path"], svc["manifest_path"]);
        assert_eq!(m["target"]["name"], "svc");
        assert_eq!(m["target"]["kind"], serde_json::json!(["bin"]));
        assert_eq!(m["target"]["src_path"], svc["targets"][0]["src_path"]);
    }
    cargo_unleak()
        .current_dir(ws.path())
        .args(["--message-format", "xml"])
        .assert()
        .code(2);
}

/// `--exclude` means something only with `--workspace`: cargo refuses it otherwise, and so do
/// we, in cargo's words.
#[test]
fn exclude_without_workspace_is_a_usage_error() {
    let ws = workspace();
    for args in [
        &["--exclude", "svc"][..],
        &["-p", "clean", "--exclude", "svc"],
    ] {
        cargo_unleak()
            .current_dir(ws.path())
            .args(args)
            .assert()
            .code(2)
            .stderr("error: --exclude can only be used together with --workspace\n");
    }
}

/// Two packages that each construct one `OpenAI` client: per package (the default) that is one
/// client each, no finding; judged as one project (`project-scope = "workspace"`), it is a
/// duplicate. A package's findings do not change with which other packages are selected.
#[test]
fn project_rules_are_judged_per_package_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for name in ["a", "b"] {
        fs::create_dir_all(d.join(name).join("src")).unwrap();
        fs::create_dir_all(d.join(name).join("web")).unwrap();
        fs::write(
            d.join(name).join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        fs::write(d.join(name).join("src/lib.rs"), "pub fn f() {}\n").unwrap();
        fs::write(
            d.join(name).join("web/ai.ts"),
            "import OpenAI from 'openai';\nexport const openai = new OpenAI();\n",
        )
        .unwrap();
    }
    let rules = |args: &[&str]| -> Vec<String> {
        let out = cargo_unleak()
            .current_dir(d)
            .args(args)
            .args(["--format", "json", "--no-cache"])
            .output()
            .unwrap();
        json(&out.stdout)["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                format!(
                    "{} {}",
                    x["path"].as_str().unwrap(),
                    x["rule"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(rules(&["--workspace"]), Vec::<String>::new());
    assert_eq!(rules(&["-p", "a"]), Vec::<String>::new());
    fs::write(
        d.join("unleak.toml"),
        "[options]\nproject-scope = \"workspace\"\n",
    )
    .unwrap();
    assert_eq!(
        rules(&["--workspace"]),
        vec![
            "a/web/ai.ts duplicate-client",
            "b/web/ai.ts duplicate-client"
        ]
    );
}
