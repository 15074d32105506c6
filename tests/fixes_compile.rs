//! Fixes keep code valid, judged by the languages' own compilers (issue 19, item 3): every
//! fix applied (`--fix --unsafe-fixes`) to the case files, the rule docs' bad examples and the
//! legacy services, then
//! - TypeScript's own parser (`typescript` from npm) finds no syntax error in a fixed file
//!   that had none before;
//! - `tsc --noEmit` passes on the fixed TypeScript service, as it does before (minimal
//!   declarations of the packages it imports: tests/typecheck/modules.d.ts);
//! - `cargo check` passes on the fixed Rust service, as it does before (its dependencies are
//!   fetched by `.ci/run`; the check runs offline, in a target folder outside the clone so
//!   repeated runs are warm);
//! - a second `--fix` changes nothing.
//!
//! The tools are installed by `.ci/run`; elsewhere a test without them is skipped loudly.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unleak(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every file's bytes under `dir` with one of `exts`.
fn files(dir: &Path, exts: &[&str]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                if !p.ends_with(".unleak_cache") && !p.ends_with("target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| exts.iter().any(|x| e == *x)) {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Applies every fix, unsafe included, under `dir` to the fixpoint; asserts a second run
/// changes nothing. Returns the files before and after.
fn fix_all(dir: &Path, exts: &[&str]) -> (BTreeMap<PathBuf, Vec<u8>>, BTreeMap<PathBuf, Vec<u8>>) {
    let before = files(dir, exts);
    let o = unleak(
        dir,
        &["check", "--no-cache", "--fix", "--unsafe-fixes", "."],
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let after = files(dir, exts);
    let again = unleak(
        dir,
        &["check", "--no-cache", "--fix", "--unsafe-fixes", "."],
    );
    assert!(matches!(again.status.code(), Some(0 | 1)));
    assert_eq!(
        files(dir, exts),
        after,
        "a second --fix changed files: not a fixpoint"
    );
    (before, after)
}

/// TypeScript from npm, as `.ci/run` installs it (`target/tsc`).
fn typescript() -> Option<PathBuf> {
    let dir = root().join("target/tsc/node_modules");
    let present = dir.join("typescript/bin/tsc").is_file()
        && dir.join("@types/node/package.json").is_file()
        && Command::new("node").arg("--version").output().is_ok();
    tool_available(
        present,
        "TypeScript (npm `typescript` and `@types/node`, with Node.js)",
        "npm install --prefix target/tsc typescript@5.9.3 @types/node@22.20.7",
    )
    .then_some(dir)
}

/// Syntax errors per file, by TypeScript's own parser.
fn syntax_errors(modules: &Path, paths: &[&PathBuf]) -> BTreeMap<PathBuf, (usize, String)> {
    let mut out = BTreeMap::new();
    for chunk in paths.chunks(200) {
        let o = Command::new("node")
            .arg(root().join("tests/typecheck/syntax.js"))
            .args(chunk)
            .env("TYPESCRIPT_MODULE", modules.join("typescript"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            let mut parts = line.splitn(3, '\t');
            let (Some(p), Some(n), first) = (parts.next(), parts.next(), parts.next()) else {
                panic!("unexpected line {line:?}");
            };
            out.insert(
                PathBuf::from(p),
                (n.parse().unwrap(), first.unwrap_or("").to_string()),
            );
        }
    }
    out
}

const TS_EXTS: &[&str] = &["ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts"];

#[test]
fn every_fixed_typescript_file_parses_with_the_typescript_parser() {
    let Some(modules) = typescript() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("fixtures/cases"), &dir.path().join("cases"));
    copy_tree(
        &root().join("fixtures/legacy-ts"),
        &dir.path().join("legacy-ts"),
    );
    // The rule docs' bad examples, each a file of its own.
    for entry in fs::read_dir(root().join("rules")).unwrap() {
        let doc = entry.unwrap().path();
        let id = doc.file_stem().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&doc).unwrap();
        for (i, ex) in examples(&text).into_iter().enumerate() {
            let Some(name) = file_name(&ex.lang).filter(|n| !n.ends_with(".rs")) else {
                continue;
            };
            if ex.bad {
                let folder = dir.path().join("docs").join(&id).join(i.to_string());
                fs::create_dir_all(&folder).unwrap();
                fs::write(folder.join(name), &ex.code).unwrap();
            }
        }
    }
    let (before, after) = fix_all(dir.path(), TS_EXTS);
    let changed: Vec<&PathBuf> = after
        .iter()
        .filter(|(p, text)| before.get(*p) != Some(*text))
        .map(|(p, _)| p)
        .collect();
    assert!(
        changed.len() >= 40,
        "only {} files were fixed: the check would prove little",
        changed.len()
    );
    let old: Vec<&PathBuf> = changed
        .iter()
        .filter(|p| before.contains_key(**p))
        .copied()
        .collect();
    let was = syntax_errors(&modules, &old);
    let now = syntax_errors(&modules, &changed);
    let broken: Vec<String> = changed
        .iter()
        .filter_map(|p| {
            let (n, first) = &now[*p];
            let had = was.get(*p).map_or(0, |(n, _)| *n);
            (*n > had).then(|| {
                format!(
                    "{}: {had} syntax errors before the fixes, {n} after ({first})",
                    p.strip_prefix(dir.path()).unwrap().display()
                )
            })
        })
        .collect();
    assert!(
        broken.is_empty(),
        "fixes broke the syntax:\n{}",
        broken.join("\n")
    );
}

/// `tsc --noEmit` in `dir` (a tsconfig naming `src/` and the stubs).
fn tsc(modules: &Path, dir: &Path) -> Result<(), String> {
    let o = Command::new("node")
        .arg(modules.join("typescript/bin/tsc"))
        .args(["-p", "."])
        .current_dir(dir)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

#[test]
fn the_fixed_typescript_service_type_checks() {
    let Some(modules) = typescript() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    copy_tree(&root().join("fixtures/legacy-ts/src"), &p.join("src"));
    fs::create_dir_all(p.join("stubs")).unwrap();
    fs::copy(
        root().join("tests/typecheck/modules.d.ts"),
        p.join("stubs/modules.d.ts"),
    )
    .unwrap();
    let types = modules.join("@types");
    fs::write(
        p.join("tsconfig.json"),
        serde_json::json!({
            "compilerOptions": {
                "target": "ES2022",
                "lib": ["ES2022"],
                "module": "commonjs",
                "moduleResolution": "node",
                "esModuleInterop": true,
                "noEmit": true,
                "skipLibCheck": true,
                "typeRoots": [types],
                "types": ["node"],
            },
            "include": ["src/**/*.ts", "stubs/*.d.ts"],
        })
        .to_string(),
    )
    .unwrap();
    tsc(&modules, p).unwrap_or_else(|e| panic!("the legacy service must type-check before: {e}"));
    let (before, after) = fix_all(p, &["ts"]);
    let fixed = after
        .iter()
        .filter(|(path, text)| before.get(*path) != Some(*text))
        .count();
    assert!(fixed >= 8, "only {fixed} files were fixed");
    tsc(&modules, p).unwrap_or_else(|e| panic!("the fixed service does not type-check:\n{e}"));
}

#[test]
fn the_fixed_rust_service_passes_cargo_check() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = root().join("fixtures/legacy-rust/Cargo.toml");
    // Its dependencies, from the registry by `.ci/run`: the test itself stays offline.
    let fetched = Command::new(&cargo)
        .args(["fetch", "--offline", "--locked", "--manifest-path"])
        .arg(&manifest)
        .output()
        .is_ok_and(|o| o.status.success());
    if !tool_available(
        fetched,
        "the legacy Rust service's dependencies",
        "cargo fetch --locked --manifest-path fixtures/legacy-rust/Cargo.toml",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    copy_tree(&root().join("fixtures/legacy-rust"), p);
    // Outside the clone, so repeated runs (and CI with a kept home) are warm.
    let target = std::env::var_os("UNLEAK_FIXTURE_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/unleak-fixture-target")
        });
    let check = || {
        let o = Command::new(&cargo)
            .args(["check", "--offline", "--locked", "--quiet"])
            .current_dir(p)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    };
    check().unwrap_or_else(|e| panic!("the legacy service must compile before: {e}"));
    let (before, after) = fix_all(p, &["rs"]);
    let fixed = after
        .iter()
        .filter(|(path, text)| before.get(*path) != Some(*text))
        .count();
    assert!(fixed >= 5, "only {fixed} files were fixed");
    check().unwrap_or_else(|e| panic!("the fixed service does not compile:\n{e}"));
}

/// The findings of `unleak check --format json path` in `dir`: (path, rule, has a
/// machine-applicable fix).
fn findings_in(dir: &Path, path: &str) -> Vec<(String, String, bool)> {
    let o = unleak(dir, &["check", "--no-cache", "--format", "json", path]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let fixed = d["fixes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| matches!(f["applicability"].as_str(), Some("safe" | "unsafe")));
            (
                d["path"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
                fixed,
            )
        })
        .collect()
}

/// One Rust case (a file linted alone in its rule's folder, or a folder as one project), as
/// `scripts/fix-coverage.py` runs it: every fix applied; each changed file still parses (as
/// unleak parses Rust: syn, Rust 2015 names included);
/// no finding that carried a fix is left (per file and rule, at most the findings that had
/// none); a second `--fix` changes nothing. Returns how many files changed.
fn fix_rust_case(dir: &Path, path: &str) -> usize {
    let before_findings = findings_in(dir, path);
    let before = files(dir, &["rs"]);
    let fix = |d: &Path| unleak(d, &["check", "--no-cache", "--fix", "--unsafe-fixes", path]);
    assert!(matches!(fix(dir).status.code(), Some(0 | 1)));
    let after = files(dir, &["rs"]);
    let mut changed = 0;
    for (p, text) in &after {
        if before.get(p) == Some(text) {
            continue;
        }
        changed += 1;
        let text = String::from_utf8(text.clone()).unwrap();
        // Parsed as unleak parses Rust: syn, with a Rust 2015 file's `async`/`try` names read
        // as raw identifiers (a 2015 case stays 2015 code after its fix).
        if let Err(e) = unleak::lang::rust::lower(&text) {
            panic!(
                "{}: the fixed file does not parse: {e}\n{text}",
                p.display()
            );
        }
    }
    let after_findings = findings_in(dir, path);
    let mut left: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for (p, rule, fixed) in &before_findings {
        let row = left.entry((p.clone(), rule.clone())).or_default();
        if !fixed {
            row.0 += 1;
        }
    }
    for (p, rule, _) in &after_findings {
        left.entry((p.clone(), rule.clone())).or_default().1 += 1;
    }
    for ((p, rule), (unfixed, now)) in &left {
        assert!(
            now <= unfixed,
            "{}/{p}: {now} `{rule}` finding(s) after the fixes, but only {unfixed} had no fix",
            dir.display()
        );
    }
    assert!(matches!(fix(dir).status.code(), Some(0 | 1)));
    assert_eq!(
        files(dir, &["rs"]),
        after,
        "{}: a second --fix changed files: not a fixpoint",
        dir.display()
    );
    changed
}

#[test]
fn fixed_rust_cases_and_doc_examples_parse_lose_their_findings_and_are_a_fixpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = tmp.path().join("cases");
    copy_tree(&root().join("fixtures/cases"), &cases);
    let mut changed = 0;
    let mut rule_dirs: Vec<PathBuf> = fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    rule_dirs.sort();
    for rule_dir in rule_dirs {
        let mut entries: Vec<PathBuf> = fs::read_dir(&rule_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            if entry.is_dir() && !files(&entry, &["rs"]).is_empty() {
                changed += fix_rust_case(&entry, ".");
            } else if name.ends_with(".rs") {
                changed += fix_rust_case(&rule_dir, &name);
            }
        }
    }
    // The rule docs' bad Rust examples, each a file of its own in a folder of its own.
    for entry in fs::read_dir(root().join("rules")).unwrap() {
        let doc = entry.unwrap().path();
        let id = doc.file_stem().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&doc).unwrap();
        for (i, ex) in examples(&text).into_iter().enumerate() {
            let Some(name) = file_name(&ex.lang).filter(|n| n.ends_with(".rs")) else {
                continue;
            };
            if ex.bad {
                let folder = tmp.path().join("docs").join(&id).join(i.to_string());
                fs::create_dir_all(&folder).unwrap();
                fs::write(folder.join(name), &ex.code).unwrap();
                changed += fix_rust_case(&folder, name);
            }
        }
    }
    assert!(
        changed >= 40,
        "only {changed} Rust files were fixed: the check would prove little"
    );
}
