//! The content-hash cache end to end: a warm run reports exactly what a cold one does, an edit
//! re-lints only the edited file, a damaged or foreign entry is ignored and rewritten, a
//! configuration change invalidates, and `--no-cache` leaves no folder behind.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A project of TypeScript and Rust fixtures, plus a file with suppressions (used and unused).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    copy_tree(&root.join("legacy-ts"), &dir.path().join("ts"));
    copy_tree(&root.join("legacy-rust"), &dir.path().join("rs"));
    fs::write(
        dir.path().join("ts/suppressed.ts"),
        "// unleak-ignore orphaned-interval: the process exits after the job\n\
         setInterval(() => console.log('tick'), 1000);\n\
         // unleak-ignore silent-error: nothing to silence here\n\
         export const x = 1;\n",
    )
    .unwrap();
    dir
}

/// Runs `unleak check --statistics ARGS` in `dir`: (stdout, the statistics line).
fn run(dir: &Path, args: &[&str]) -> (String, String) {
    let out = unleak()
        .current_dir(dir)
        .args(["check", "--statistics", "--color", "never"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stats = stderr
        .lines()
        .find(|l| l.contains("analysed"))
        .unwrap_or_else(|| panic!("no statistics in {stderr:?}"))
        .to_string();
    (String::from_utf8(out.stdout).unwrap(), stats)
}

/// (analysed, from the cache, rejected, written) from the statistics line.
fn counts(stats: &str) -> (usize, usize, usize, usize) {
    let nums: Vec<usize> = stats
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    // "N file(s): A analysed, H from the cache (R unusable … ignored, W written)"
    (nums[1], nums[2], nums[3], nums[4])
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    // The entries live under `v<format>/`, whatever the format number is now.
    let version = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with('v'))
        .expect("a version folder");
    for shard in fs::read_dir(version).unwrap() {
        for e in fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(e.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn warm_run_equals_cold_run_and_reads_everything_from_the_cache() {
    let dir = project();
    let d = dir.path();
    for format in ["json", "human"] {
        let (reference, _) = run(d, &["--no-cache", "--format", format]);
        let _ = fs::remove_dir_all(d.join(".unleak_cache"));
        let (cold, stats) = run(d, &["--format", format]);
        let (analysed, hits, _, written) = counts(&stats);
        assert!(analysed > 10 && hits == 0 && written == analysed, "{stats}");
        let (warm, stats) = run(d, &["--format", format]);
        assert_eq!(counts(&stats), (0, analysed, 0, 0), "{stats}");
        assert_eq!(
            cold, reference,
            "{format}: a cold cached run changes nothing"
        );
        assert_eq!(warm, reference, "{format}: a warm run reports the same");
        assert!(
            warm.contains("unused-suppression") || format == "human",
            "suppressions are still checked on a warm run"
        );
    }
    // The folder says what it is, and keeps itself out of version control.
    let tag = fs::read_to_string(d.join(".unleak_cache/CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    assert!(
        fs::read_to_string(d.join(".unleak_cache/.gitignore"))
            .unwrap()
            .contains('*')
    );
}

#[test]
fn editing_one_file_relints_only_that_file() {
    let dir = project();
    let d = dir.path();
    let (_, stats) = run(d, &["--format", "json"]);
    let (files, ..) = counts(&stats);
    let edited = d.join("ts/src/realtime/server.ts");
    let edited = if edited.exists() {
        edited
    } else {
        d.join("ts/suppressed.ts")
    };
    let mut text = fs::read_to_string(&edited).unwrap();
    text.push_str("\nsetInterval(() => console.log('added by the test'), 5);\n");
    fs::write(&edited, text).unwrap();
    let (warm, stats) = run(d, &["--format", "json"]);
    assert_eq!(counts(&stats), (1, files - 1, 0, 1), "{stats}");
    let (reference, _) = run(d, &["--no-cache", "--format", "json"]);
    assert_eq!(warm, reference);
    assert!(warm.contains("added by the test") || warm.contains("orphaned-interval"));
}

#[test]
fn corrupt_or_foreign_entries_are_ignored_and_rewritten() {
    let dir = project();
    let d = dir.path();
    let (reference, stats) = run(d, &["--format", "json"]);
    let (files, ..) = counts(&stats);
    let cache = d.join(".unleak_cache");
    let all = entries(&cache);
    assert_eq!(all.len(), files);
    // Damage three entries three ways: garbage, truncated, one flipped payload byte.
    fs::write(&all[0], b"not a cache entry").unwrap();
    let bytes = fs::read(&all[1]).unwrap();
    fs::write(&all[1], &bytes[..bytes.len() / 2]).unwrap();
    let mut bytes = fs::read(&all[2]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(&all[2], &bytes).unwrap();
    // And a foreign one: another entry's content under this entry's name.
    fs::copy(&all[4], &all[3]).unwrap();
    let (out, stats) = run(d, &["--format", "json"]);
    assert_eq!(counts(&stats), (4, files - 4, 4, 4), "{stats}");
    assert_eq!(out, reference);
    // Rewritten: the next run reads everything from the cache again.
    let (out, stats) = run(d, &["--format", "json"]);
    assert_eq!(counts(&stats), (0, files, 0, 0), "{stats}");
    assert_eq!(out, reference);
}

#[test]
fn no_cache_creates_no_folder_and_cache_dir_moves_it() {
    let dir = project();
    let d = dir.path();
    let (_, stats) = run(d, &["--no-cache", "--format", "json"]);
    assert!(stats.contains("cache off"), "{stats}");
    assert!(!d.join(".unleak_cache").exists());
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = elsewhere.path().join("c");
    let (_, stats) = run(
        d,
        &["--format", "json", "--cache-dir", cache.to_str().unwrap()],
    );
    let (analysed, ..) = counts(&stats);
    assert!(analysed > 0);
    assert!(cache.join("CACHEDIR.TAG").exists());
    assert!(!d.join(".unleak_cache").exists());
    let (_, stats) = run(
        d,
        &["--format", "json", "--cache-dir", cache.to_str().unwrap()],
    );
    assert_eq!(counts(&stats).1, analysed);
}

#[test]
fn a_configuration_change_invalidates() {
    let dir = project();
    let d = dir.path();
    let (_, stats) = run(d, &["--format", "json"]);
    let (files, ..) = counts(&stats);
    fs::write(
        d.join("unleak.toml"),
        "[options]\nteardown-words = [\"finalize\"]\n",
    )
    .unwrap();
    let (out, stats) = run(d, &["--format", "json"]);
    assert_eq!(
        counts(&stats).0,
        files,
        "every file analysed again: {stats}"
    );
    let (reference, _) = run(d, &["--no-cache", "--format", "json"]);
    assert_eq!(out, reference);
    // A level change in `[rules]` changes the key too (and the report).
    fs::write(
        d.join("unleak.toml"),
        "[options]\nteardown-words = [\"finalize\"]\n[rules]\norphaned-interval = \"off\"\n",
    )
    .unwrap();
    let (out, stats) = run(d, &["--format", "json"]);
    assert_eq!(counts(&stats).0, files, "{stats}");
    assert!(!out.contains("\"orphaned-interval\""));
    let (_, stats) = run(d, &["--format", "json"]);
    assert_eq!(counts(&stats), (0, files, 0, 0), "{stats}");
}

/// Project-rule findings come from the cache only while the files they were read from are
/// unchanged: `store.ts`'s exported map is grown in `api.ts`; once `api.ts` caps it (an edit
/// that leaves every file's project inputs as they were), the finding in `store.ts` goes,
/// and only the unrelated file's findings are reused.
#[test]
fn project_findings_follow_an_edit_in_the_file_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("store.ts"),
        "export const seen = new Map<string, number>();\n",
    )
    .unwrap();
    let api = d.join("api.ts");
    fs::write(
        &api,
        "import { seen } from './store';\n\
         export function track(id: string) {\n  seen.set(id, Date.now());\n}\n",
    )
    .unwrap();
    // A listener: the project pass looks at this file too (a file with nothing a project
    // rule reports from is skipped, and counts as no reuse).
    fs::write(
        d.join("other.ts"),
        "export const t = setInterval(() => {}, 1000);\n\
         process.once('SIGTERM', () => clearInterval(t));\n",
    )
    .unwrap();
    let project_hits = |stats: &str| -> usize {
        let tail = stats.split("project findings of ").nth(1).expect(stats);
        tail.split(' ').next().unwrap().parse().unwrap()
    };
    let (cold, stats) = run(d, &["--format", "json"]);
    assert_eq!(project_hits(&stats), 0, "{stats}");
    assert!(
        cold.contains("unbounded-collection") && cold.contains("store.ts"),
        "{cold}"
    );
    let (warm, stats) = run(d, &["--format", "json"]);
    assert_eq!(project_hits(&stats), 3, "{stats}");
    assert_eq!(warm, cold);
    fs::write(
        &api,
        "import { seen } from './store';\n\
         export function track(id: string) {\n  seen.set(id, Date.now());\n  if (seen.size > 1000) seen.clear();\n}\n",
    )
    .unwrap();
    let (edited, stats) = run(d, &["--format", "json"]);
    let (reference, _) = run(d, &["--no-cache", "--format", "json"]);
    assert_eq!(edited, reference);
    assert!(!edited.contains("unbounded-collection"), "{edited}");
    assert_eq!(
        project_hits(&stats),
        1,
        "only other.ts, which read nothing of api.ts: {stats}"
    );
}
