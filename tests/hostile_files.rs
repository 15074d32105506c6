//! Hostile repositories (issue 22): special files where unleak reads its own state (cache
//! entries, baselines, configuration) and links where it writes (output, baseline, temporary
//! files). Each test is bounded in time: a FIFO that were opened would hang it, so every run
//! goes through [`bounded`].

#![cfg(unix)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const LEAK: &str = "export async function f(p: string) {\n  await unlink(p).catch(() => {});\n}\n";

/// Runs unleak in `dir`, failing the test if it takes more than 60 s (a blocked open, a
/// quadratic rule). Output is read as it comes (a full pipe would stall the child).
fn bounded(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`unleak {}` hung", args.join(" "));
        }
    }
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(ok.success());
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_baseline_that_is_a_fifo_a_device_or_a_wrong_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.ts"), LEAK).unwrap();
    mkfifo(&d.join("fifo.json"));
    for (baseline, says) in [
        ("fifo.json", "not a regular file"),
        ("/dev/zero", "not a regular file"),
    ] {
        let o = bounded(d, &["check", "--baseline", baseline]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    for version in [0, 2] {
        fs::write(
            d.join("b.json"),
            format!("{{\"version\": {version}, \"entries\": []}}"),
        )
        .unwrap();
        let o = bounded(d, &["check", "--baseline", "b.json"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("is of version {version}")),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn cache_entries_that_are_fifos_or_huge_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.ts"), LEAK).unwrap();
    let first = bounded(d, &["check", "--format", "json"]);
    assert_eq!(first.status.code(), Some(1));
    // Replace every entry: one with a FIFO, the others with 6 GiB sparse files.
    let mut entries = Vec::new();
    let mut folders = vec![d.join(".unleak_cache")];
    while let Some(f) = folders.pop() {
        for e in fs::read_dir(&f).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                folders.push(p);
            } else if name.chars().all(|c| c.is_ascii_hexdigit()) {
                entries.push(p);
            }
        }
    }
    assert!(!entries.is_empty());
    for (i, e) in entries.iter().enumerate() {
        fs::remove_file(e).unwrap();
        if i == 0 {
            mkfifo(e);
        } else {
            fs::File::create(e)
                .unwrap()
                .set_len(6 * 1024 * 1024 * 1024)
                .unwrap();
        }
    }
    let again = bounded(d, &["check", "--format", "json"]);
    assert_eq!(
        again.stdout, first.stdout,
        "the same findings, from analysis"
    );
}

#[test]
fn a_configuration_that_exists_but_cannot_be_read_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.ts"), LEAK).unwrap();
    std::os::unix::fs::symlink("nowhere.toml", d.join("unleak.toml")).unwrap();
    let o = bounded(d, &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("unleak.toml"), "{}", stderr(&o));
    fs::remove_file(d.join("unleak.toml")).unwrap();
    mkfifo(&d.join("unleak.toml"));
    let o = bounded(d, &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn writes_go_through_no_planted_link_and_do_not_replace_a_link_to_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.ts"), LEAK).unwrap();
    fs::write(d.join("victim"), "precious\n").unwrap();
    // Links at the names the writers of earlier versions used, for this and nearby PIDs: the
    // names are now unpredictable and created exclusively, so none is followed.
    let pid_max: u32 = fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32_768)
        .min(40_000);
    for pid in (1..pid_max).step_by(7) {
        for name in [
            format!(".out.json.unleak-{pid}.tmp"),
            format!(".b.json.tmp{pid}"),
        ] {
            let _ = std::os::unix::fs::symlink(d.join("victim"), d.join(name));
        }
    }
    let o = bounded(
        d,
        &[
            "check",
            "--format",
            "json",
            "--output-file",
            "out.json",
            "--no-cache",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = bounded(d, &["check", "--write-baseline", "b.json", "--no-cache"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(d.join("victim")).unwrap(), "precious\n");
    assert!(
        fs::read_to_string(d.join("out.json"))
            .unwrap()
            .contains("silent-error")
    );
    // A link to a device stays a link: the report goes to the device, nothing is renamed over.
    std::os::unix::fs::symlink("/dev/null", d.join("sink")).unwrap();
    let o = bounded(
        d,
        &[
            "check",
            "--format",
            "json",
            "--output-file",
            "sink",
            "--no-cache",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(d.join("sink"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Escape sequences in source text and file names are shown, not replayed, by every text
/// format, whatever `--color` says.
#[test]
fn terminal_escapes_in_sources_and_names_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = "evil\u{1b}[2J.ts";
    fs::write(
        d.join(name),
        "export async function f(p: string) {\n  await unlink(p).catch(() => {}); // \u{1b}]0;pwned\u{7}\u{1b}[31m\n}\n",
    )
    .unwrap();
    for format in ["human", "concise", "github", "junit"] {
        let o = bounded(
            d,
            &[
                "check",
                "--no-cache",
                "--color",
                "never",
                "--format",
                format,
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{format}: {out:?}"
        );
        assert!(out.contains("evil"), "{format}: {out}");
    }
}

/// Rules and fix builders are near-linear (issue 22, item 1): 40,000 discarded intervals — each
/// a finding with a fix that looks for a free name — finish well inside the default budget
/// (they took a minute when every fix scanned the whole text), every finding reported.
#[test]
fn forty_thousand_findings_in_one_file_stay_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("many.ts"),
        "setInterval(() => {}, 1000);\n".repeat(40_000),
    )
    .unwrap();
    let o = bounded(
        d,
        &["check", "--no-cache", "--format", "json", "--timeout", "18"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["failures"], 0, "{}", v["summary"]);
    assert_eq!(v["summary"]["findings"], 40_000);
}

/// The budget holds inside the rules too: a one-line minified file whose rules outrun
/// `--timeout` gets a `timeout` naming the rule it stopped in, keeps what was found until then,
/// and the other files are linted as usual.
#[test]
fn the_time_budget_is_enforced_inside_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut mini = String::new();
    for i in 0..25_000 {
        mini.push_str(&format!(
            "var a{i}=new Map();setInterval(function(){{a{i}.set(Date.now(),1)}},5);"
        ));
    }
    fs::write(d.join("bundle.js"), mini).unwrap();
    fs::write(d.join("small.ts"), "setInterval(() => {}, 5);\n").unwrap();
    let o = bounded(
        d,
        &[
            "check",
            "--no-cache",
            "--format",
            "json",
            "--timeout",
            "0.3",
            "--max-file-size",
            "5000000",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    let timeout: Vec<&serde_json::Value> =
        diags.iter().filter(|d| d["rule"] == "timeout").collect();
    assert_eq!(timeout.len(), 1, "{}", v["summary"]);
    assert_eq!(timeout[0]["path"], "bundle.js");
    assert!(
        timeout[0]["message"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        timeout[0]
    );
    assert!(
        diags
            .iter()
            .any(|d| d["path"] == "small.ts" && d["rule"] == "orphaned-interval")
    );
}
