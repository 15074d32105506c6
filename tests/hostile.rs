//! Hostile input, run through the real binary: absurd nesting, huge minified files, broken and
//! foreign encodings, odd line endings, non-ASCII identifiers, and file-system oddities (symlink
//! loops, unreadable folders and files, FIFOs, non-UTF-8 names, empty files). Every case lints a
//! folder holding the hostile file(s) next to a normal leaky file and checks the contract: exit
//! code as documented, no signal, no panic or overflow message, each hostile file's problem
//! reported exactly once, and the normal file's finding still there. Inputs are generated at
//! test time (nothing big is committed).

#![cfg(unix)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The normal file of every run: one `orphaned-interval` at 1:30.
const NORMAL: &str = "class A { start() { this.t = setInterval(() => {}, 1000); } }\n";
/// A TypeScript leak appended to hostile files, to show they were linted after the hostile part.
const TS_LEAK: &str = "class B { start() { this.u = setInterval(() => {}, 1000); } }\n";
/// A Rust finding (`silent-error` at 2:5) for the same purpose.
const RS_LEAK: &str = "fn swallow(r: Result<(), ()>) {\n    if let Err(_) = r {}\n}\n";

struct Run {
    code: i32,
    json: Value,
    elapsed: Duration,
}

impl Run {
    fn diags(&self) -> &Vec<Value> {
        self.json["diagnostics"].as_array().expect("diagnostics")
    }

    /// The diagnostics of one file, as (rule, message).
    fn of(&self, path: &str) -> Vec<(String, String)> {
        self.diags()
            .iter()
            .filter(|d| d["path"] == path)
            .map(|d| {
                (
                    d["rule"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Exactly one diagnostic for `path`, of `rule`, whose message contains `needle`.
    fn one(&self, path: &str, rule: &str, needle: &str) {
        let ds = self.of(path);
        assert_eq!(ds.len(), 1, "{path}: expected one diagnostic, got {ds:#?}");
        assert_eq!(ds[0].0, rule, "{path}: {ds:?}");
        assert!(ds[0].1.contains(needle), "{path}: `{needle}` not in {ds:?}");
    }

    /// `path` was linted to the end: its appended leak is found, once, and no failure is
    /// reported for it beyond at most one `parse-error` note (when `noted`).
    fn linted(&self, path: &str, leak_rule: &str, noted: bool) {
        let ds = self.of(path);
        let leaks = ds.iter().filter(|(r, _)| r == leak_rule).count();
        assert_eq!(leaks, 1, "{path}: expected one {leak_rule}, got {ds:#?}");
        let notes = ds.iter().filter(|(r, _)| r == "parse-error").count();
        assert_eq!(notes, usize::from(noted), "{path}: {ds:#?}");
        assert!(
            ds.iter().all(|(r, _)| r == leak_rule || r == "parse-error"),
            "{path}: {ds:#?}"
        );
    }
}

/// Runs `unleak check --format json ARGS` in `dir` and checks what holds for every run: it
/// ended by itself (no signal), with 0, 1 or 2, printed one JSON document, and said nothing
/// about panics or stack overflows.
fn run(dir: &Path, args: &[&OsStr]) -> Run {
    run_as(dir, args, None)
}

fn run_as(dir: &Path, args: &[&OsStr], wrapper: Option<&[&str]>) -> Run {
    let bin = env!("CARGO_BIN_EXE_unleak");
    let mut cmd = match wrapper {
        Some(w) => {
            let mut c = Command::new(w[0]);
            c.args(&w[1..]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .env_remove("UNLEAK_FAULT_INJECT");
    let start = Instant::now();
    let out = cmd.output().expect("run unleak");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}\n{stderr}", out.status));
    assert!((0..=2).contains(&code), "exit {code}\n{stderr}");
    for bad in [
        "panicked",
        "overflow",
        "fatal runtime error",
        "RUST_BACKTRACE",
    ] {
        assert!(!stderr.contains(bad), "stderr mentions `{bad}`: {stderr}");
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Run {
        code,
        json,
        elapsed,
    }
}

/// A folder with the normal leaky file and `files`.
fn folder(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("normal.ts"), NORMAL).unwrap();
    for (name, bytes) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, bytes).unwrap();
    }
    dir
}

/// The normal file's finding is there, once, where it always is.
fn normal_linted(r: &Run) {
    let ds: Vec<&Value> = r
        .diags()
        .iter()
        .filter(|d| d["path"] == "normal.ts")
        .collect();
    assert_eq!(ds.len(), 1, "normal.ts: {ds:#?}");
    assert_eq!(ds[0]["rule"], "orphaned-interval");
    assert_eq!(
        (ds[0]["line"].as_u64(), ds[0]["column"].as_u64()),
        (Some(1), Some(30))
    );
}

fn b(s: String) -> Vec<u8> {
    s.into_bytes()
}

fn nest(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn typescript_nesting_1k_10k_100k_closed_and_unclosed() {
    let closed = |n| b(format!("const x = {};\n{TS_LEAK}", nest("[", "]", n)));
    let unclosed = |n| b(format!("const x = {};\n{TS_LEAK}", "[".repeat(n)));
    let dir = folder(&[
        ("closed1k.ts", closed(1_000)),
        ("closed10k.ts", closed(10_000)),
        ("closed100k.ts", closed(100_000)),
        ("unclosed1k.ts", unclosed(1_000)),
        ("unclosed10k.ts", unclosed(10_000)),
        ("unclosed100k.ts", unclosed(100_000)),
        // Calls nest two tree levels per bracket: 10,000 of them are past the walk's limit.
        (
            "calls10k.js",
            b(format!("{};\n{TS_LEAK}", nest("f(", ")", 10_000))),
        ),
        (
            "objects100k.js",
            b(format!("x = {};\n", nest("{a:", "}", 100_000))),
        ),
        // Template literals nest through `${…}`: the bracket scan follows them.
        (
            "templates100k.ts",
            b(format!("const t = {};\n", nest("`${", "}`", 100_000))),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    // 1,000 and 10,000 levels are linted to the end.
    r.linted("closed1k.ts", "orphaned-interval", false);
    r.linted("closed10k.ts", "orphaned-interval", false);
    // Unclosed: one parse-error; the unclosed brackets are most of the file's text, so it is
    // an error (the file does not parse), not a note about a skipped region.
    for f in ["unclosed1k.ts", "unclosed10k.ts"] {
        let ds = r.of(f);
        let notes: Vec<_> = ds.iter().filter(|(r, _)| r == "parse-error").collect();
        assert_eq!(notes.len(), 1, "{f}: {ds:#?}");
        assert!(
            notes[0].1.contains("does not parse as TypeScript"),
            "{f}: {ds:?}"
        );
    }
    for f in [
        "closed100k.ts",
        "unclosed100k.ts",
        "calls10k.js",
        "objects100k.js",
        "templates100k.ts",
    ] {
        r.one(f, "parse-error", "too deep");
    }
    assert_eq!(r.json["summary"]["files"], 10);
}

/// Flat, valid files whose brackets are not nesting (issue 22, item 7): in regular expressions,
/// in JSX text. They are linted to the end, their findings kept, not skipped as "too deep".
#[test]
fn brackets_in_regexes_and_jsx_text_are_not_nesting() {
    let leak = "setInterval(() => poll(), 1000);\n";
    let dir = folder(&[
        (
            "regex.ts",
            b(format!(
                "{}{leak}",
                "s = s.replace(/\\(/g, \"\");\n".repeat(25_000)
            )),
        ),
        (
            "text.tsx",
            b(format!(
                "export const P = () => <p>{}</p>;\n{leak}",
                "(".repeat(100_000)
            )),
        ),
        (
            "text.jsx",
            b(format!(
                "export const Q = () => <p>{}</p>;\n{leak}",
                "[".repeat(30_000)
            )),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    for f in ["regex.ts", "text.tsx", "text.jsx"] {
        r.linted(f, "orphaned-interval", false);
    }
}

#[test]
fn typescript_chains_without_brackets_stop_at_the_depth_limit() {
    // No brackets to pre-check: the walk's own depth guard stops these (tree-sitter's parser
    // does not recurse).
    const N: usize = 60_000;
    let dir = folder(&[
        ("not.ts", b(format!("const a = {}b;\n", "!".repeat(N)))),
        ("member.ts", b(format!("const a = b{};\n", ".c".repeat(N)))),
        (
            "arrows.ts",
            b(format!("const f = {}1;\n", "() => ".repeat(N))),
        ),
        (
            "jsx.tsx",
            b(format!("const j = {};\n", nest("<a>", "</a>", N))),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    for f in ["not.ts", "member.ts", "arrows.ts", "jsx.tsx"] {
        r.one(f, "parse-error", "too deep");
    }
}

#[test]
fn rust_nesting_1k_10k_100k_closed_and_unclosed() {
    let closed = |n| {
        b(format!(
            "fn deep() {{ let x = {}; }}\n{RS_LEAK}",
            nest("[", "]", n)
        ))
    };
    let unclosed = |n| {
        b(format!(
            "fn deep() {{ let x = {}; }}\n{RS_LEAK}",
            "[".repeat(n)
        ))
    };
    let dir = folder(&[
        ("closed1k.rs", closed(1_000)),
        ("closed10k.rs", closed(10_000)),
        ("closed100k.rs", closed(100_000)),
        ("unclosed1k.rs", unclosed(1_000)),
        ("unclosed10k.rs", unclosed(10_000)),
        ("unclosed100k.rs", unclosed(100_000)),
        (
            "blocks100k.rs",
            b(format!("fn f() {}\n", nest("{", "}", 100_000))),
        ),
    ]);
    let start = Instant::now();
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    r.linted("closed1k.rs", "silent-error", false);
    for f in ["closed10k.rs", "closed100k.rs", "blocks100k.rs"] {
        r.one(f, "parse-error", "too deep");
    }
    for f in ["unclosed1k.rs", "unclosed10k.rs", "unclosed100k.rs"] {
        r.one(f, "parse-error", "unclosed bracket");
    }
    // Rejected by the token pre-check, not by recursing: quick even in a debug build.
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", r.elapsed);
}

#[test]
fn rust_chains_that_nest_without_brackets_are_too_deep_not_a_crash() {
    // Each of these overflowed a 256 MiB stack before the nesting guard (syn's parser and the
    // walk recurse once per `<`, `&`, `!`, `else if`, `=` or chained call).
    const N: usize = 100_000;
    let dir = folder(&[
        (
            "generics.rs",
            b(format!(
                "type T = {}u8{};\n",
                "Vec<".repeat(N),
                ">".repeat(N)
            )),
        ),
        ("refs.rs", b(format!("type T = {}u8;\n", "& ".repeat(N)))),
        (
            "not.rs",
            b(format!("fn f() {{ let x = {}a; }}\n", "!".repeat(N))),
        ),
        (
            "elseif.rs",
            b(format!(
                "fn f() {{ if a {{}} {} }}\n",
                "else if a {} ".repeat(N)
            )),
        ),
        (
            "assign.rs",
            b(format!("fn f() {{ {}1; }}\n", "a = ".repeat(N))),
        ),
        (
            "methods.rs",
            b(format!("fn f() {{ a{}; }}\n", ".b()".repeat(N))),
        ),
        ("modules.rs", b(nest("mod a { ", "}", N))),
        (
            "closures.rs",
            b(format!("fn f() {{ let c = {}1; }}\n", "|| ".repeat(N))),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    for f in [
        "generics.rs",
        "refs.rs",
        "not.rs",
        "elseif.rs",
        "assign.rs",
        "methods.rs",
        "modules.rs",
        "closures.rs",
    ] {
        r.one(f, "parse-error", "too deep");
    }
}

#[test]
fn just_under_the_rust_limit_is_linted_not_crashed() {
    // The deepest nesting the guard lets through, in the constructs that cost the most stack
    // per level, still parses and lowers on the worker stack.
    let n = unleak::lang::rust::MAX_NESTING - 20;
    let dir = folder(&[
        (
            "refs.rs",
            b(format!("type T = {}u8;\n{RS_LEAK}", "& ".repeat(n))),
        ),
        (
            "blocks.rs",
            b(format!("fn f() {}\n{RS_LEAK}", nest("{", "}", n))),
        ),
        (
            "generics.rs",
            b(format!(
                "type T = {}u8{};\n{RS_LEAK}",
                "Vec<".repeat(n / 2),
                ">".repeat(n / 2)
            )),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    for f in ["refs.rs", "blocks.rs", "generics.rs"] {
        r.linted(f, "silent-error", false);
    }
}

#[test]
fn five_megabyte_minified_file_is_skipped_by_the_size_cap() {
    let chunk = "function a(b,c){var d=b.map(function(e){return e*c});if(d.length>3){for(var f=0;f<d.length;f++){d[f]=d[f]|0}}try{g(d)}catch(h){console.error(h)}return{k:d,m:[1,2,3]}}";
    let mut big = String::with_capacity(5 * 1024 * 1024 + 200);
    while big.len() < 5 * 1024 * 1024 {
        big.push_str(chunk);
    }
    big.push_str(TS_LEAK.trim_end());
    let mut small = chunk.repeat(2_000); // ~320 KB on one line, under the cap
    small.push_str(TS_LEAK.trim_end());
    let dir = folder(&[("vendor.js", b(big)), ("app.js", b(small))]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    r.one(
        "vendor.js",
        "io-error",
        "larger than the 2097152 byte limit",
    );
    r.linted("app.js", "orphaned-interval", false);
    // `*.min.js` is not even walked into (named explicitly, it is linted like any file).
    let dir = folder(&[("vendor.min.js", b(chunk.repeat(100)))]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.json["summary"]["files"], 1);
    normal_linted(&r);
}

#[test]
fn encodings_and_line_endings() {
    let with_bom = |s: &str| {
        let mut v = vec![0xef, 0xbb, 0xbf];
        v.extend_from_slice(s.as_bytes());
        v
    };
    let utf16 = |s: &str, bom: bool| {
        let mut v = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    };
    let utf16be = |s: &str| {
        let mut v = vec![0xfe, 0xff];
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_be_bytes());
        }
        v
    };
    let dir = folder(&[
        ("latin1.ts", b"const caf\xe9 = 1;\nsetInterval(f, 1);\n".to_vec()),
        ("utf16le.ts", utf16(TS_LEAK, true)),
        ("utf16be.ts", utf16be(TS_LEAK)),
        ("utf16nobom.ts", utf16(TS_LEAK, false)),
        ("utf16.rs", utf16(RS_LEAK, true)),
        ("nul.ts", [b"const a = 1;\0\n".as_slice(), TS_LEAK.as_bytes()].concat()),
        ("nul.rs", [b"fn g() {}\0\n".as_slice(), RS_LEAK.as_bytes()].concat()),
        ("bom.ts", with_bom(TS_LEAK)),
        ("bom.rs", with_bom(RS_LEAK)),
        ("crlf.ts", b(format!("// c\r\n{}", TS_LEAK.replace('\n', "\r\n")))),
        ("crlf.rs", b(format!("// c\r\n{}", RS_LEAK.replace('\n', "\r\n")))),
        ("cr.ts", b(format!("// c\r{}", TS_LEAK.replace('\n', "\r")))),
        ("cr.rs", b(RS_LEAK.replace('\n', "\r"))),
        (
            "cjk.ts",
            b("// 😀 注释\nconst 数据 = '😀';\nclass 类 { 開始() { this.計時 = setInterval(() => {}, 1000); } }\n".into()),
        ),
        (
            "cjk.rs",
            b("// 😀\nfn 開始(結果: Result<(), ()>) { let s = \"😀\"; if let Err(_) = 結果 {} }\n".into()),
        ),
        ("shebang.rs", b(format!("#!/usr/bin/env run-cargo-script\n{RS_LEAK}"))),
        ("bom-shebang.rs", with_bom(&format!("#!/usr/bin/env x\n{RS_LEAK}"))),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    r.one("latin1.ts", "parse-error", "not valid UTF-8");
    r.one("utf16le.ts", "parse-error", "UTF-16");
    r.one("utf16be.ts", "parse-error", "UTF-16");
    r.one("utf16nobom.ts", "parse-error", "UTF-16");
    r.one("utf16.rs", "parse-error", "UTF-16");
    // A stray NUL: TypeScript notes the region and lints the rest; Rust rejects the file.
    r.linted("nul.ts", "orphaned-interval", true);
    r.one("nul.rs", "parse-error", "not valid Rust");
    // Same finding, same place as without the BOM; CR, CRLF and LF all end lines.
    let at = |path: &str| -> (u64, u64) {
        let ds: Vec<&Value> = r.diags().iter().filter(|d| d["path"] == path).collect();
        assert_eq!(ds.len(), 1, "{path}: {ds:#?}");
        (
            ds[0]["line"].as_u64().unwrap(),
            ds[0]["column"].as_u64().unwrap(),
        )
    };
    assert_eq!(at("bom.ts"), (1, 30));
    assert_eq!(at("bom.rs"), (2, 5));
    assert_eq!(at("crlf.ts"), (2, 30));
    assert_eq!(at("crlf.rs"), (3, 5));
    assert_eq!(at("cr.ts"), (2, 30));
    assert_eq!(at("cr.rs"), (2, 5));
    // Columns count characters: `setInterval` after `class 类 { 開始() { this.計時 = `.
    assert_eq!(at("cjk.ts"), (3, 28));
    assert_eq!(at("cjk.rs"), (2, 42));
    // The shebang line is blanked, not cut: the finding stays on line 3.
    assert_eq!(at("shebang.rs"), (3, 5));
    assert_eq!(at("bom-shebang.rs"), (3, 5));
}

#[test]
fn files_that_are_empty_or_only_whitespace_are_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("empty.ts"), "").unwrap();
    fs::write(d.join("empty.rs"), "").unwrap();
    fs::write(d.join("bom-only.ts"), "\u{feff}").unwrap();
    fs::write(d.join("bom-only.rs"), "\u{feff}").unwrap();
    fs::write(d.join("blank.js"), "\r\n\r\r\n \t\n").unwrap();
    fs::write(d.join("comment.rs"), "// nothing\r\n").unwrap();
    let r = run(d, &[".".as_ref()]);
    assert_eq!(r.code, 0, "{}", r.json);
    assert_eq!(r.json["summary"]["files"], 6);
    assert!(r.diags().is_empty(), "{}", r.json);
}

#[test]
fn file_system_oddities() {
    let dir = folder(&[("sub/leak.ts", b(TS_LEAK.into()))]);
    let d = dir.path();
    // A symlink loop and a self-referencing link: a walk does not follow links, so they cost
    // nothing; named explicitly, the self-loop is one io-error.
    std::os::unix::fs::symlink(".", d.join("loop")).unwrap();
    std::os::unix::fs::symlink("self.ts", d.join("self.ts")).unwrap();
    std::os::unix::fs::symlink("nowhere.ts", d.join("dangling.ts")).unwrap();
    // A FIFO: skipped in a walk, one io-error when named (never opened: it would block).
    let ok = Command::new("mkfifo")
        .arg(d.join("pipe.ts"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo");
    // A file name that is not UTF-8 (its extension is): linted like any file.
    let odd = OsStr::from_bytes(b"caf\xe9.ts");
    fs::write(d.join(odd), TS_LEAK).unwrap();
    // A folder whose name looks like a source file.
    fs::create_dir(d.join("folder.ts")).unwrap();
    fs::write(d.join("empty.ts"), "").unwrap();
    // A file that exists but cannot be read, even by root: /proc/self/mem gives EIO at 0.
    std::os::unix::fs::symlink("/proc/self/mem", d.join("eio.ts")).unwrap();
    let r = run(
        d,
        &[
            ".".as_ref(),
            "self.ts".as_ref(),
            "pipe.ts".as_ref(),
            "dangling.ts".as_ref(),
            "eio.ts".as_ref(),
        ],
    );
    assert_eq!(r.code, 1);
    normal_linted(&r);
    r.linted("sub/leak.ts", "orphaned-interval", false);
    r.one("self.ts", "io-error", "symbolic links");
    r.one("dangling.ts", "io-error", "No such file");
    r.one("pipe.ts", "io-error", "not a regular file");
    r.one("eio.ts", "io-error", "cannot read the file");
    let odd: Vec<&Value> = r
        .diags()
        .iter()
        .filter(|d| d["path"].as_str().unwrap().starts_with("caf"))
        .collect();
    assert_eq!(odd.len(), 1, "{odd:#?}");
    assert_eq!(odd[0]["rule"], "orphaned-interval");
    assert_eq!(odd[0]["path"], "caf\u{fffd}.ts");
    assert!(r.of("folder.ts").is_empty() && r.of("empty.ts").is_empty() && r.of("loop").is_empty());
    // normal, sub/leak, café, empty, eio (named) and pipe (named); the loop added nothing.
    assert_eq!(r.json["summary"]["files"], 6, "{}", r.json);
}

/// An unreadable folder: run as an unprivileged user (root reads anything), through `setpriv`
/// when the tests run as root.
#[test]
fn an_unreadable_folder_is_reported_once_and_the_rest_is_linted() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let wrapper: Option<&[&str]> = if is_root {
        let has_setpriv = Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_setpriv {
            eprintln!("skipped: running as root without setpriv, nothing is unreadable");
            return;
        }
        Some(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
    } else {
        None
    };
    use std::os::unix::fs::PermissionsExt;
    let dir = folder(&[
        ("locked/a.ts", b(TS_LEAK.into())),
        ("open/b.ts", b(TS_LEAK.into())),
    ]);
    let d = dir.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let r = run_as(d, &[".".as_ref()], wrapper);
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(r.code, 1);
    normal_linted(&r);
    r.linted("open/b.ts", "orphaned-interval", false);
    r.one("locked", "io-error", "Permission denied");
}

// ---- isolation and budgets -------------------------------------------------------------

fn fault_run(dir: &Path, inject: Option<&str>) -> (i32, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unleak"));
    cmd.current_dir(dir)
        .args(["check", "--format", "json", "."]);
    match inject {
        Some(i) => cmd.env("UNLEAK_FAULT_INJECT", i),
        None => cmd.env_remove("UNLEAK_FAULT_INJECT"),
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().expect("no signal");
    (code, serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn a_panicking_rule_costs_only_its_own_findings_on_that_file() {
    // boom.ts has an orphaned-interval and a silent-error; the injected crash hits the
    // orphaned-interval rule on boom.ts only.
    let dir = folder(&[
        (
            "boom.ts",
            b(format!("{TS_LEAK}try {{ connect(); }} catch (e) {{}}\n")),
        ),
        (
            "other.ts",
            b(format!("{TS_LEAK}try {{ connect(); }} catch (e) {{}}\n")),
        ),
        ("lib.rs", b(RS_LEAK.into())),
    ]);
    let (clean_code, clean, _) = fault_run(dir.path(), None);
    assert_eq!(clean_code, 1);
    let (code, hurt, stderr) = fault_run(dir.path(), Some("boom@orphaned-interval"));
    assert_eq!(code, 2, "an internal error exits 2");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let per = |v: &Value, path: &str| -> Vec<Value> {
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["path"] == path)
            .cloned()
            .collect()
    };
    // Every other file's findings are printed identically.
    for f in ["normal.ts", "other.ts", "lib.rs"] {
        assert_eq!(per(&clean, f), per(&hurt, f), "{f}");
        assert!(!per(&hurt, f).is_empty(), "{f}");
    }
    // boom.ts: the other rule's finding survives; the crash is one internal-error naming the
    // file and the rule.
    let boom = per(&hurt, "boom.ts");
    let rules: Vec<&str> = boom.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["internal-error", "silent-error"], "{boom:#?}");
    let msg = boom[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("`orphaned-interval`") && msg.contains("boom.ts"),
        "{msg}"
    );
    assert_eq!(boom[0]["severity"], "error");
    let clean_silent: Vec<Value> = per(&clean, "boom.ts")
        .into_iter()
        .filter(|d| d["rule"] == "silent-error")
        .collect();
    assert_eq!(clean_silent, vec![boom[1].clone()]);
    // A crash in a front end (here the Rust one) costs that file only.
    let (code, hurt, _) = fault_run(dir.path(), Some("lib.rs"));
    assert_eq!(code, 2);
    let lib = per(&hurt, "lib.rs");
    assert_eq!(lib.len(), 1, "{lib:#?}");
    assert_eq!(lib[0]["rule"], "internal-error");
    assert!(lib[0]["message"].as_str().unwrap().contains("lib.rs"));
    for f in ["normal.ts", "other.ts", "boom.ts"] {
        assert_eq!(per(&clean, f), per(&hurt, f), "{f}");
    }
}

/// A file that takes longer than the per-file budget becomes one `parse-error` saying it timed
/// out — in tree-sitter's parse (a progress callback) and in the lowering walks (a deadline
/// they check) — and the other files of the run are unaffected.
#[test]
fn the_per_file_time_budget_turns_slow_files_into_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("normal.ts"), NORMAL).unwrap();
    fs::write(d.join("lib.rs"), RS_LEAK).unwrap();
    // TypeScript: ~1.9 MB for tree-sitter to chew on (about a second even in a release build).
    let chunk = "function a(b,c){var d=b.map(function(e){return e*c});return{k:d,m:[1,2,3]}}";
    fs::write(d.join("slow.js"), chunk.repeat(25_000)).unwrap();
    // Rust: long method chains, which the walk takes quadratic time over (syn computes a
    // node's span by printing it), well past the budget.
    let chain = format!("    a{};\n", ".b()".repeat(900));
    fs::write(
        d.join("slow.rs"),
        format!("fn f() {{\n{}}}\n", chain.repeat(40)),
    )
    .unwrap();
    let options = unleak::Options {
        parse_budget: Duration::from_millis(300),
        ..unleak::Options::default()
    };
    let start = Instant::now();
    let report = unleak::lint_paths(&[d.to_path_buf()], &options);
    let took = start.elapsed();
    let of = |name: &str| -> Vec<&unleak::Diagnostic> {
        report
            .diagnostics
            .iter()
            .filter(|x| x.file.ends_with(name))
            .collect()
    };
    for slow in ["slow.js", "slow.rs"] {
        let ds = of(slow);
        assert_eq!(ds.len(), 1, "{slow}: {ds:#?}");
        assert_eq!(ds[0].rule, "timeout");
        assert!(ds[0].message.starts_with("timed out"), "{}", ds[0].message);
    }
    assert_eq!(of("normal.ts").len(), 1);
    assert_eq!(of("normal.ts")[0].rule, "orphaned-interval");
    assert_eq!(of("lib.rs").len(), 1);
    assert_eq!(of("lib.rs")[0].rule, "silent-error");
    // The slow files were abandoned, not finished: far quicker than linting them.
    assert!(took < Duration::from_secs(8), "{took:?}");
}

/// `lint_source` is called from threads with small stacks (editors, the fixer, tests): deep
/// input must still be analysed on a big stack, not overflow the caller's.
#[test]
fn lint_source_on_a_small_stack_survives_deep_input() {
    let n = unleak::lang::rust::MAX_NESTING - 20;
    let rust = format!("type T = {}u8;\n{RS_LEAK}", "& ".repeat(n));
    let ts = format!("const x = {};\n{TS_LEAK}", nest("[", "]", 15_000));
    let handle = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            let opts = unleak::Options::default();
            let r = unleak::lint_source(Path::new("deep.rs"), &rust, &opts);
            let t = unleak::lint_source(Path::new("deep.ts"), &ts, &opts);
            (
                r.iter().map(|d| d.rule).collect::<Vec<_>>(),
                t.iter().map(|d| d.rule).collect::<Vec<_>>(),
            )
        })
        .unwrap();
    let (r, t) = handle.join().unwrap();
    assert_eq!(r, ["silent-error"]);
    assert_eq!(t, ["orphaned-interval"]);
}

/// `--fix` re-lints and re-parses on the main thread's stack: a deep file with a fix must be
/// fixed, not crash the process.
#[test]
fn fixing_a_deeply_nested_file_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("deep.ts");
    let text = format!(
        "const x = {};\ntry {{ connect(); }} catch (e) {{}}\n",
        // Deep but written across lines: one 24 KB line would make the file read as minified,
        // where silent-error says nothing.
        nest("[\n", "]\n", 12_000)
    );
    fs::write(&f, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(dir.path())
        .args(["check", "--fix", "--unsafe-fixes", "deep.ts"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("applied 1 fix in 1 file"), "{stderr}");
    let after = fs::read_to_string(&f).unwrap();
    assert!(
        after.ends_with("catch (e) { console.error(e);}\n"),
        "{}",
        &after[after.len() - 80..]
    );
}

/// Valid but extreme code must not make the rules quadratic or worse: thousands of methods,
/// thousands of client constructions (each finding used to label every other site: 18 GB for a
/// 1 MB file), and a dense call graph (teardown reachability was a depth-first walk over every
/// call path: minutes for 150 methods calling each other).
#[test]
fn rules_stay_fast_on_extreme_but_valid_code() {
    let methods: String = (0..3_000)
        .map(|i| {
            format!(
                "  m{i}() {{ this.t{i} = setInterval(() => {{}}, 1); window.addEventListener('x', () => {{}}); }}\n  stop{i}() {{}}\n"
            )
        })
        .collect();
    let clients: String = (0..2_000)
        .map(|i| format!("export const c{i} = new OpenAI();\n"))
        .collect();
    let n = 120;
    let dense: String = (0..n)
        .map(|i| {
            let calls: String = (0..n)
                .filter(|&j| j != i)
                .map(|j| format!("this.m{j}(); "))
                .collect();
            format!("  m{i}() {{ {calls}clearInterval(this.t); }}\n")
        })
        .collect();
    // Rust: 1,500 long-lived structs whose growing field has the same name (matching growth to
    // collections by name was cubic).
    let structs: String = (0..1_500)
        .map(|i| {
            format!(
                "struct S{i} {{ m: Mutex<HashMap<u32, u32>> }}\nimpl S{i} {{ fn add(&self) {{ self.m.lock().unwrap().insert(1, 2); }} }}\nfn g{i}(s: Arc<S{i}>) {{ s.add(); }}\n"
            )
        })
        .collect();
    // 30,000 `once` listeners on one aliased connection in one method: siblings and aliases
    // were looked up by scanning every registration and every event (quadratic: 26 s at 20,000).
    let onces: String = (0..30_000)
        .map(|i| format!("    con.once('e{}', () => this.f{i}());\n", i % 50))
        .collect();
    let dir = folder(&[
        (
            "onces.js",
            b(format!(
                "class C {{\n  run(connection) {{\n    const con = connection;\n{onces}  }}\n}}\n"
            )),
        ),
        ("structs.rs", b(structs)),
        ("methods.ts", b(format!("class A {{\n{methods}}}\n"))),
        ("clients.ts", b(clients)),
        (
            "dense.ts",
            b(format!(
                "class D {{\n  start() {{ this.t = setInterval(() => {{}}, 1); }}\n{dense}}}\n"
            )),
        ),
    ]);
    let r = run(dir.path(), &[".".as_ref()]);
    assert_eq!(r.code, 1);
    normal_linted(&r);
    assert!(r.elapsed < Duration::from_secs(60), "{:?}", r.elapsed);
    let of = |path: &str, rule: &str| -> Vec<&Value> {
        r.diags()
            .iter()
            .filter(|d| d["path"] == path && d["rule"] == rule)
            .collect()
    };
    assert_eq!(of("methods.ts", "orphaned-interval").len(), 3_000);
    assert_eq!(of("dense.ts", "orphaned-interval").len(), 1);
    // One finding for the whole group of `once` registrations on `con`.
    assert_eq!(of("onces.js", "unremoved-listener").len(), 1);
    let dup = of("clients.ts", "duplicate-client");
    assert_eq!(dup.len(), 2_000);
    let grows = of("structs.rs", "unbounded-collection");
    assert_eq!(grows.len(), 1_500);
    for d in dup
        .iter()
        .chain(of("methods.ts", "orphaned-interval").iter())
        .chain(grows.iter())
    {
        let labels = d["labels"].as_array().unwrap().len();
        assert!(labels <= 10, "{labels} labels on {}", d["message"]);
    }
    assert!(dup[0]["message"].as_str().unwrap().contains("2000 sites"));
}

/// Minified code puts thousands of findings on one line of many kilobytes: every output format
/// must stay linear — no quoting the line once per finding (human), no re-counting its columns
/// (every format) or re-hashing it (SARIF and GitLab fingerprints) per finding.
#[test]
fn every_format_copes_with_thousands_of_findings_on_one_long_line() {
    let line: String = (0..2_000)
        .map(|i| format!("function f{i}(){{setInterval(a,1)}}"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.js"), &line).unwrap();
    for format in [
        "json", "human", "concise", "sarif", "gitlab", "junit", "github",
    ] {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
            .current_dir(dir.path())
            .args(["check", "--color", "never", "--format", format, "app.js"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        // About 2,000 findings' worth of text, not 2,000 copies of a 70 KB line.
        assert!(
            out.stdout.len() < 6_000_000,
            "{format}: {} bytes of output",
            out.stdout.len()
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{format}: {:?}",
            start.elapsed()
        );
        if format == "human" {
            let text = String::from_utf8_lossy(&out.stdout);
            let first = line.find("setInterval").unwrap() + 1;
            let note = format!("at app.js:1:{first} (the line is too long to quote)");
            assert!(text.contains(&note), "{}", &text[..2000]);
        }
        if format == "json" {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let last = v["diagnostics"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(
                last["column"].as_u64().unwrap() as usize,
                line.rfind("setInterval").unwrap() + 1
            );
        }
    }
}
