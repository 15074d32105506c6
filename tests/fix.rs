//! `--fix`, `--unsafe-fixes`, `--diff`: fixes applied to a fixpoint, files written atomically
//! with their mode and line endings kept, never over a file that changed since it was read.

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

const SWALLOWING: &str = "export async function a(p) {\r\n  try { connect(); } catch {}\r\n  try { reconnect(); } catch (err) {\r\n  }\r\n  unlink(p).catch(() => {});\r\n}\r\n";

const LOGGING: &str = "export async function a(p) {\r\n  try { connect(); } catch (error) { console.error(error);}\r\n  try { reconnect(); } catch (err) { console.error(err);\r\n  }\r\n  unlink(p).catch((error) => console.error(error));\r\n}\r\n";

#[test]
fn unsafe_fixes_apply_only_when_asked_and_keep_the_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.ts");
    fs::write(&f, SWALLOWING).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    }
    // Logging changes behaviour: not a safe fix, so --fix alone leaves the file.
    unleak()
        .current_dir(dir.path())
        .args(["check", "--fix"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "No safe fixes; 3 unsafe fixes are available with `--unsafe-fixes`",
        ));
    assert_eq!(fs::read_to_string(&f).unwrap(), SWALLOWING);
    // So does --diff, which then prints nothing.
    unleak()
        .current_dir(dir.path())
        .args(["check", "--diff"])
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains(
            "No safe fixes; 3 unsafe fixes are available with `--unsafe-fixes`",
        ));
    // --diff shows the patch and writes nothing.
    unleak()
        .current_dir(dir.path())
        .args(["check", "--diff", "--unsafe-fixes"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "+  unlink(p).catch((error) => console.error(error));",
        ))
        .stdout(predicate::str::contains("--- a/a.ts"));
    assert_eq!(fs::read_to_string(&f).unwrap(), SWALLOWING);
    // --fix --unsafe-fixes: every finding gone, CRLF and the comment kept, mode kept.
    unleak()
        .current_dir(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("applied 3 fixes in 1 file"));
    assert_eq!(fs::read_to_string(&f).unwrap(), LOGGING);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
    // A second run changes nothing.
    unleak()
        .current_dir(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "nothing to fix: no finding has an automatic fix",
        ));
    assert_eq!(fs::read_to_string(&f).unwrap(), LOGGING);
    // No temporary files left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["a.ts".to_string()]);
}

#[test]
fn a_file_changed_since_it_was_read_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.ts");
    fs::write(&f, "try { connect(); } catch {}\n").unwrap();
    let mut run =
        unleak::fix::fix_paths(std::slice::from_ref(&f), &unleak::Options::default(), true);
    assert_eq!(run.changes.len(), 1);
    // Someone edits the file between our read and our write.
    fs::write(&f, "try { connect(); } catch {} // edited meanwhile\n").unwrap();
    unleak::fix::write_changes(&mut run);
    assert_eq!(
        fs::read_to_string(&f).unwrap(),
        "try { connect(); } catch {} // edited meanwhile\n"
    );
    assert!(
        run.problems
            .iter()
            .any(|p| p.message.contains("changed on disk")),
        "{:?}",
        run.problems
    );
}

#[test]
fn apply_edits_defers_overlaps_and_refuses_bad_ranges() {
    let (out, skipped) = unleak::fix::apply_edits(
        "let a = 1;",
        &[
            (4..5, "b".into()),
            (4..9, "c = 2".into()),
            (20..21, "x".into()),
        ],
    );
    assert_eq!(out, "let b = 1;");
    assert_eq!(skipped, vec![1, 2]);
}

/// `--fix` reads the configuration as a check does: a rule turned off is not fixed (nor
/// reported), and an excluded folder is not touched.
#[test]
fn fix_follows_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.ts"), SWALLOWING).unwrap();
    fs::create_dir(dir.path().join("gen")).unwrap();
    fs::write(dir.path().join("gen/b.ts"), SWALLOWING).unwrap();
    fs::write(
        dir.path().join("unleak.toml"),
        "exclude = [\"gen/**\"]\n\n[rules]\nsilent-error = \"off\"\n",
    )
    .unwrap();
    unleak()
        .current_dir(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "nothing to fix: no finding has an automatic fix",
        ));
    assert_eq!(
        fs::read_to_string(dir.path().join("a.ts")).unwrap(),
        SWALLOWING
    );
    // With the rule back on, a.ts is fixed and gen/ still left alone.
    fs::write(dir.path().join("unleak.toml"), "exclude = [\"gen/**\"]\n").unwrap();
    unleak()
        .current_dir(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .stderr(predicate::str::contains("applied 3 fixes in 1 file"));
    assert_eq!(
        fs::read_to_string(dir.path().join("a.ts")).unwrap(),
        LOGGING
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("gen/b.ts")).unwrap(),
        SWALLOWING
    );
}
