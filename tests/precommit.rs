//! The pre-commit hook (`.pre-commit-hooks.yaml`) through the real `pre-commit` tool: a leaky
//! staged file fails the hook with an `orphaned-interval` finding, its fixed version passes.
//!
//! The project under test has a `.pre-commit-config.yaml` naming this repository (`repo:` a
//! local path, `rev:` a commit, `id: unleak`), the set-up README.md gives, and runs
//! `pre-commit run unleak --files src/poll.ts`. pre-commit clones the repository at `rev` and
//! installs the hook with `cargo install --bins --path .` in the clone (a release build, a
//! couple of minutes on two cores), then runs `unleak check src/poll.ts`. Both runs share one
//! `PRE_COMMIT_HOME`, so the hook is compiled once. (`pre-commit try-repo` does the same with a
//! generated config, but always in a fresh store of its own: it would compile twice.)
//!
//! pre-commit only sees the committed files of a repository, so the test commits a snapshot of
//! this working tree (honouring `.gitignore`) to a temporary repository and points `repo:` at
//! it: it checks the hook as it is on disk, committed or not.
//!
//! Needs `pre-commit` on PATH (`python3 -m pip install pre-commit`; `.ci/run` installs it) and
//! `git`. One test, so the hook is compiled once per `cargo test`.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hook's first run compiles unleak in release mode.
const PRE_COMMIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

const LEAKY: &str = "setInterval(() => fetch('/health'), 1000);\n";
const FIXED: &str = "const t = setInterval(() => fetch('/health'), 1000);\n\
                     export function stop() {\n  clearInterval(t);\n}\n";

/// A command with the environment made predictable: no inherited git repository, pre-commit
/// home or skip list, and no Cargo target folder (the hook's build goes in pre-commit's own
/// clone, so it never waits on the lock of the folder this test was built in).
fn command(program: &str, cwd: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(cwd);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_CEILING_DIRECTORIES",
        "SKIP",
        "PRE_COMMIT_HOME",
        "PRE_COMMIT_COLOR",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        c.env_remove(var);
    }
    c.env("NO_COLOR", "1");
    c
}

/// Runs a git command in `repo` (identity, signing and hooks pinned), panicking on failure;
/// returns its standard output.
fn git(repo: &Path, args: &[&str]) -> String {
    let out = command("git", repo)
        .args([
            "-c",
            "user.name=unleak test",
            "-c",
            "user.email=unleak-test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.autocrlf=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git is needed by this test");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed:\n{}{}",
        repo.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Copies this repository's working tree (the files `.gitignore` does not exclude, hidden ones
/// included, no `.git`) to `dest` and commits it there. Returns the commit.
fn snapshot_of_this_repository(dest: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_global(false)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    let mut copied = 0;
    for entry in walk {
        let entry = entry.expect("walk the working tree");
        let rel = entry.path().strip_prefix(root).unwrap();
        let Some(kind) = entry.file_type() else {
            continue;
        };
        let to = dest.join(rel);
        if kind.is_dir() {
            fs::create_dir_all(&to).unwrap();
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &to).unwrap();
        } else {
            fs::copy(entry.path(), &to).unwrap();
            copied += 1;
        }
    }
    assert!(
        dest.join(".pre-commit-hooks.yaml").is_file() && copied > 10,
        "the snapshot of {} lacks .pre-commit-hooks.yaml",
        root.display()
    );
    git(dest, &["init", "--quiet", "."]);
    git(dest, &["add", "--all", "."]);
    git(
        dest,
        &["commit", "--quiet", "--no-verify", "-m", "snapshot"],
    );
    git(dest, &["rev-parse", "HEAD"]).trim().to_string()
}

/// Runs `pre-commit run unleak --files <file>` in `project`; returns whether it succeeded and
/// its combined output.
fn pre_commit_run(project: &Path, home: &Path, logs: &Path, file: &str) -> (bool, String) {
    let log = logs.join(format!("run-{}.log", fs::read_dir(logs).unwrap().count()));
    let out = File::create(&log).unwrap();
    let started = Instant::now();
    let mut child = command("pre-commit", project)
        .args([
            "run",
            "unleak",
            "--color",
            "never",
            "--verbose",
            "--files",
            file,
        ])
        .env("PRE_COMMIT_HOME", home)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("could not run pre-commit: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PRE_COMMIT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pre-commit run timed out after {PRE_COMMIT_TIMEOUT:?}; output so far:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = fs::read_to_string(&log).unwrap();
    eprintln!(
        "pre-commit run unleak --files {file}: {status} after {:.1?}\n{text}",
        started.elapsed()
    );
    (status.success(), text)
}

#[test]
fn pre_commit_hook_fails_on_a_leak_and_passes_once_fixed() {
    let version = Command::new("pre-commit").arg("--version").output();
    if !common::tool_available(
        matches!(&version, Ok(out) if out.status.success()),
        "`pre-commit` (this test runs the real tool)",
        "python3 -m pip install pre-commit",
    ) {
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let hooks = tmp.path().join("unleak");
    let rev = snapshot_of_this_repository(&hooks);
    // Shared by both runs: the second one reuses the hook environment the first one built.
    let home = tmp.path().join("pre-commit-home");
    let logs = tmp.path().join("logs");
    fs::create_dir_all(&logs).unwrap();

    let project = tmp.path().join("service");
    fs::create_dir_all(project.join("src")).unwrap();
    git(&project, &["init", "--quiet", "."]);
    let config = format!(
        "repos:\n  - repo: {:?}\n    rev: {rev}\n    hooks:\n      - id: unleak\n",
        hooks.to_str().expect("a UTF-8 temporary path")
    );
    fs::write(project.join(".pre-commit-config.yaml"), config).unwrap();
    fs::write(project.join("src/poll.ts"), LEAKY).unwrap();
    git(&project, &["add", ".pre-commit-config.yaml", "src/poll.ts"]);

    let (ok, out) = pre_commit_run(&project, &home, &logs, "src/poll.ts");
    assert!(!ok, "the hook passed a leaky file:\n{out}");
    assert!(
        out.contains("orphaned-interval"),
        "the failing hook did not name orphaned-interval:\n{out}"
    );
    assert!(
        out.contains("exit code: 1"),
        "unleak did not exit with 1 (findings):\n{out}"
    );

    fs::write(project.join("src/poll.ts"), FIXED).unwrap();
    git(&project, &["add", "src/poll.ts"]);
    let (ok, out) = pre_commit_run(&project, &home, &logs, "src/poll.ts");
    assert!(ok, "the hook failed the fixed file:\n{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("unleak") && l.ends_with("Passed")),
        "no passing `unleak` hook line:\n{out}"
    );
    assert!(
        !out.contains("Installing environment"),
        "the second run rebuilt the hook instead of reusing PRE_COMMIT_HOME:\n{out}"
    );
    assert!(!out.contains("orphaned-interval"), "{out}");
}
