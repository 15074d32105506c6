//! `--fix` under failure: a SIGKILL at any moment of a run over thousands of files leaves every
//! file byte-for-byte old or new (never empty, never half-written) and at most one temporary
//! file, which discovery ignores; read-only files are refused; a symlink is fixed through and
//! stays a link; a hard link is split (documented); a file deleted, or replaced by someone else,
//! between our read and our write is left alone; a planted file at the temporary name is never
//! followed.

#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::fs::{MetadataExt, PermissionsExt};

const FILES: usize = 2_000;

fn original(i: usize) -> String {
    format!("export function f{i}() {{\n  try {{ connect({i}); }} catch (e) {{}}\n}}\n")
}

fn name(i: usize) -> String {
    format!("f{i:04}.ts")
}

fn write_originals(dir: &Path) {
    for i in 0..FILES {
        fs::write(dir.join(name(i)), original(i)).unwrap();
    }
}

fn fix_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_unleak"));
    c.current_dir(dir)
        .args(["check", "--fix", "--unsafe-fixes", "--format", "json", "."])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// `.f0001.ts.unleak-fix-PID-N.tmp`
fn is_temp_name(n: &str) -> bool {
    let Some(rest) = n.strip_prefix(".f") else {
        return false;
    };
    let Some((_, tail)) = rest.split_once(".ts.unleak-fix-") else {
        return false;
    };
    let Some(ids) = tail.strip_suffix(".tmp") else {
        return false;
    };
    let mut parts = ids.split('-');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// What `--fix --unsafe-fixes` makes of each file, computed in memory (the final complete run of
/// the test checks the binary writes exactly this).
fn expected() -> Vec<String> {
    unleak::engine::on_big_stack(|| {
        (0..FILES)
            .map(|i| {
                let fixed = unleak::fix::fix_source(
                    Path::new(&name(i)),
                    &original(i),
                    &unleak::Options::default(),
                    true,
                );
                assert!(fixed.after.contains("console.error(e)"), "{}", fixed.after);
                fixed.after
            })
            .collect()
    })
    .unwrap()
}

/// How a run is killed: after a delay from its start, or once it has written its first file.
#[derive(Debug, Clone, Copy)]
enum Kill {
    AfterStart(Duration),
    AfterFirstWrite(Duration),
}

#[test]
fn sigkill_during_fix_leaves_every_file_old_or_new() {
    let fixed = expected();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = d.join(name(0)); // files are written in path order
    // 5 ms .. 300 ms from the start (mostly while it lints), then at points of the write phase,
    // which starts after a second or so of linting and fixing in memory.
    let kills = [
        Kill::AfterStart(Duration::from_millis(5)),
        Kill::AfterStart(Duration::from_millis(30)),
        Kill::AfterStart(Duration::from_millis(100)),
        Kill::AfterStart(Duration::from_millis(300)),
        Kill::AfterFirstWrite(Duration::ZERO),
        Kill::AfterFirstWrite(Duration::from_millis(20)),
        Kill::AfterFirstWrite(Duration::from_millis(100)),
        Kill::AfterFirstWrite(Duration::from_millis(400)),
    ];
    let mut partial_runs = 0;
    let mut log = Vec::new();
    for kill in kills {
        write_originals(d);
        let mut child = fix_cmd(d).spawn().unwrap();
        match kill {
            Kill::AfterStart(delay) => std::thread::sleep(delay),
            Kill::AfterFirstWrite(delay) => {
                let deadline = Instant::now() + Duration::from_secs(120);
                while fs::read_to_string(&first).unwrap() == original(0) {
                    assert!(Instant::now() < deadline, "no file was ever written");
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
                std::thread::sleep(delay);
            }
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let mut new = 0;
        for (i, fixed) in fixed.iter().enumerate() {
            let text = fs::read(d.join(name(i))).unwrap();
            assert!(
                !text.is_empty(),
                "{} is empty after a kill ({kill:?})",
                name(i)
            );
            if text == fixed.as_bytes() {
                new += 1;
            } else {
                assert_eq!(
                    String::from_utf8_lossy(&text),
                    original(i),
                    "{} is neither old nor new after a kill ({kill:?})",
                    name(i)
                );
            }
        }
        // Nothing else but, at most, the one temporary file being written.
        let strays: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !(n.starts_with('f') && n.ends_with(".ts")))
            .collect();
        for s in &strays {
            assert!(is_temp_name(s), "unexpected file {s}");
            fs::remove_file(d.join(s)).unwrap();
        }
        assert!(strays.len() <= 1, "{strays:?}");
        if new > 0 && new < FILES {
            partial_runs += 1;
        }
        log.push(format!(
            "{kill:?}: {new} new, {} temp, {status}",
            strays.len()
        ));
    }
    eprintln!("kills: {}", log.join("; "));
    // Killed while writing, the tree was left part old, part new (and still nothing broken).
    assert!(partial_runs >= 2, "{log:?}");
    // A leftover temporary file is not linted; a rerun finishes the job, writing exactly the
    // expected texts.
    fs::write(d.join(".f0000.ts.unleak-fix-1-0.tmp"), "half a fi").unwrap();
    // A file left by a process that is gone (no PID is 0) is cleaned up by the next run that
    // writes into the folder (one file is put back to its original so there is something to
    // write); the one of a live process (PID 1) stays.
    let dead = d.join(".f0001.ts.unleak-fix-0-5.tmp");
    fs::write(&dead, "half a fi").unwrap();
    fs::write(d.join(name(2)), original(2)).unwrap();
    let status = fix_cmd(d).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        !dead.exists(),
        "the dead process's temporary file is still there"
    );
    assert!(d.join(".f0000.ts.unleak-fix-1-0.tmp").exists());
    for (i, f) in fixed.iter().enumerate() {
        assert_eq!(&fs::read_to_string(d.join(name(i))).unwrap(), f);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(d)
        .args(["check", "--format", "json", "."])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["files"], FILES);
}

const SWALLOW: &str = "try { connect(); } catch (e) {}\n";
const LOGGED: &str = "try { connect(); } catch (e) { console.error(e);}\n";

fn unleak_fix(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(dir)
        .args(["check", "--fix", "--unsafe-fixes"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_read_only_file_is_refused_and_the_others_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("ro.ts"), SWALLOW).unwrap();
    fs::write(d.join("rw.ts"), SWALLOW).unwrap();
    fs::set_permissions(d.join("ro.ts"), fs::Permissions::from_mode(0o444)).unwrap();
    let (code, stderr) = unleak_fix(d, &["."]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("ro.ts: the file is read-only"), "{stderr}");
    // Only what was written is counted (it said "applied 2 fixes" when it wrote one).
    assert!(stderr.contains("applied 1 fix in 1 file"), "{stderr}");
    assert_eq!(fs::read_to_string(d.join("ro.ts")).unwrap(), SWALLOW);
    assert_eq!(
        fs::metadata(d.join("ro.ts")).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert_eq!(fs::read_to_string(d.join("rw.ts")).unwrap(), LOGGED);
}

#[test]
fn a_symlink_is_fixed_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("real")).unwrap();
    fs::write(d.join("real/target.ts"), SWALLOW).unwrap();
    std::os::unix::fs::symlink("real/target.ts", d.join("link.ts")).unwrap();
    let (code, stderr) = unleak_fix(d, &["link.ts"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("applied 1 fix in 1 file"), "{stderr}");
    let link = fs::symlink_metadata(d.join("link.ts")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        fs::read_link(d.join("link.ts")).unwrap(),
        PathBuf::from("real/target.ts")
    );
    assert_eq!(
        fs::read_to_string(d.join("real/target.ts")).unwrap(),
        LOGGED
    );
    // No temporary file left in either folder.
    for sub in [d.to_path_buf(), d.join("real")] {
        for e in fs::read_dir(&sub).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.contains("unleak-fix"), "{n} left in {}", sub.display());
        }
    }
}

#[test]
fn a_hard_link_is_split_the_path_gets_the_fix() {
    // Documented: the atomic rename gives the fixed path a new inode; other hard links keep the
    // old text (as `sed -i` and most formatters do).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("src")).unwrap();
    fs::create_dir(d.join("elsewhere")).unwrap();
    fs::write(d.join("src/a.ts"), SWALLOW).unwrap();
    fs::hard_link(d.join("src/a.ts"), d.join("elsewhere/b.ts")).unwrap();
    assert_eq!(fs::metadata(d.join("src/a.ts")).unwrap().nlink(), 2);
    let (code, stderr) = unleak_fix(d, &["src"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(fs::read_to_string(d.join("src/a.ts")).unwrap(), LOGGED);
    assert_eq!(
        fs::read_to_string(d.join("elsewhere/b.ts")).unwrap(),
        SWALLOW
    );
    assert_eq!(fs::metadata(d.join("src/a.ts")).unwrap().nlink(), 1);
    assert_eq!(fs::metadata(d.join("elsewhere/b.ts")).unwrap().nlink(), 1);
}

#[test]
fn a_file_deleted_between_read_and_write_is_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("gone.ts");
    fs::write(&f, SWALLOW).unwrap();
    let mut run =
        unleak::fix::fix_paths(std::slice::from_ref(&f), &unleak::Options::default(), true);
    assert_eq!(run.changes.len(), 1);
    fs::remove_file(&f).unwrap();
    unleak::fix::write_changes(&mut run);
    assert!(!f.exists(), "recreated");
    assert_eq!(run.problems.len(), 1, "{:?}", run.problems);
    assert!(run.problems[0].message.contains("cannot resolve"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_planted_link_at_the_temporary_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = d.join("c.ts");
    fs::write(&f, SWALLOW).unwrap();
    fs::write(d.join("victim.txt"), "precious\n").unwrap();
    let planted = d.join(format!(".c.ts.unleak-fix-{}-0.tmp", std::process::id()));
    std::os::unix::fs::symlink("victim.txt", &planted).unwrap();
    let mut run =
        unleak::fix::fix_paths(std::slice::from_ref(&f), &unleak::Options::default(), true);
    unleak::fix::write_changes(&mut run);
    assert!(run.problems.is_empty(), "{:?}", run.problems);
    assert_eq!(fs::read_to_string(&f).unwrap(), LOGGED);
    assert_eq!(
        fs::read_to_string(d.join("victim.txt")).unwrap(),
        "precious\n"
    );
    assert!(
        fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
