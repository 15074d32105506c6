//! The CI output formats end to end (`--format sarif|github|junit|gitlab|concise`,
//! `--output-file`): structure, exact escaping, stable fingerprints, and SARIF validated against
//! the official SARIF 2.1.0 schema.
//!
//! Every expectation is derived from the `--format json` output of the same run (the documented
//! contract), with escaping re-implemented here, so the tests do not depend on rule wording.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

const FORMATS: &[&str] = &[
    "human", "json", "sarif", "github", "junit", "gitlab", "concise",
];

const LEAK: &str = "export function start() {}\nsetInterval(() => console.log('tick'), 1000);\n";

/// A listener whose event name (a template literal, so it holds a real line break) puts
/// `%`, `,`, `:`, `<`, `&`, `"` and a newline into the diagnostic's message.
const EVENT: &str = "x%y,z:w<v&u\n\"q";
const LISTENER: &str = "import { EventEmitter } from 'events';\n\
                        export const bus = new EventEmitter();\n\
                        export class Conn {\n\
                        \x20 constructor() {\n\
                        \x20   bus.on(`x%y,z:w<v&u\n\"q`, () => console.log('hi'));\n\
                        \x20 }\n\
                        \x20 close() {}\n\
                        }\n";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `unleak check <args>` in `dir`; returns the exit code and stdout.
fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("unleak")
        .unwrap()
        .current_dir(dir)
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "unleak was killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
    )
}

fn run_format(dir: &Path, target: &str, format: &str) -> (i32, String) {
    run(dir, &[target, "--format", format, "--color", "never"])
}

fn json_diags(dir: &Path, target: &str) -> Vec<Value> {
    let (_, out) = run_format(dir, target, "json");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["diagnostics"].as_array().unwrap().clone()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn is_failure(rule: &str) -> bool {
    unleak::diagnostic::FAILURES.contains(&rule)
}

/// A folder with a leak in a file whose name holds `%`, `,`, `:`, `<`, `&` and a newline, and
/// a listener whose message holds them too.
#[cfg(unix)]
const WEIRD_NAME: &str = "a%b,c:d<e&f\ng.ts";

#[cfg(unix)]
fn weird_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(WEIRD_NAME), LEAK).unwrap();
    fs::write(dir.path().join("ev.ts"), LISTENER).unwrap();
    dir
}

// ----- escaping, re-implemented from the specifications -----

/// GitHub's `escapeData`.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's `escapeProperty`.
fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn with_help(d: &Value) -> String {
    match d["help"].as_str() {
        Some(h) => format!("{}\nhelp: {h}", s(&d["message"])),
        None => s(&d["message"]).to_string(),
    }
}

fn expected_github(d: &Value) -> String {
    let cmd = match s(&d["severity"]) {
        "error" => "error",
        "warning" => "warning",
        _ => "notice",
    };
    format!(
        "::{cmd} file={},line={},endLine={},col={},endColumn={},title={}::{}",
        gh_prop(s(&d["path"])),
        d["line"],
        d["end_line"],
        d["column"],
        d["end_column"],
        gh_prop(&format!("unleak {}", s(&d["rule"]))),
        gh_data(&with_help(d))
    )
}

fn expected_concise(d: &Value) -> String {
    format!(
        "{}:{}:{}: {} {}",
        s(&d["path"]),
        d["line"],
        d["column"],
        s(&d["rule"]),
        s(&d["message"]).replace('\n', "\\n")
    )
}

/// A small XML well-formedness check: balanced tags, quoted attributes, no raw `<` or stray
/// `&` in text or attribute values, only the five predefined entities and numeric references.
fn check_xml(xml: &str) {
    fn check_refs(text: &str, ctx: &str) {
        assert!(!text.contains('<'), "raw `<` in {ctx}: {text:?}");
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after
                .find(';')
                .unwrap_or_else(|| panic!("`&` without `;` in {ctx}"));
            let name = &after[..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || (name.starts_with('#') && name[1..].chars().all(|c| c.is_ascii_digit()));
            assert!(ok, "bad reference &{name}; in {ctx}");
            rest = &after[end + 1..];
        }
    }
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    let mut roots = 0;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if stack.is_empty() {
            assert!(text.trim().is_empty(), "text outside the root: {text:?}");
        }
        check_refs(text, "text");
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').expect("unclosed tag");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "bad tag name {name:?}"
        );
        let mut attrs = tag[name_end..].trim_start();
        let mut seen = HashSet::new();
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").expect("attribute without =\"");
            let key = &attrs[..eq];
            assert!(seen.insert(key.to_string()), "duplicate attribute {key}");
            let value_end = attrs[eq + 2..].find('"').expect("unterminated attribute");
            let value = &attrs[eq + 2..eq + 2 + value_end];
            assert!(!value.contains('\n'), "raw newline in attribute {key}");
            check_refs(value, "attribute");
            attrs = attrs[eq + 2 + value_end + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    assert_eq!(roots, 1, "one root element");
}

// ----- the formats on the leaky fixture -----

#[test]
fn exit_codes_do_not_depend_on_the_format() {
    let clean = tempfile::tempdir().unwrap();
    fs::write(clean.path().join("ok.ts"), "export const x = 1;\n").unwrap();
    for f in FORMATS {
        assert_eq!(run_format(root(), "fixtures/legacy-ts", f).0, 1, "{f}");
        assert_eq!(run_format(root(), "fixtures/fixed-ts", f).0, 0, "{f}");
        assert_eq!(run_format(clean.path(), ".", f).0, 0, "{f}");
    }
    // `--output-format` is an alias of `--format`.
    let (code, out) = run(
        root(),
        &["fixtures/legacy-ts", "--output-format", "concise"],
    );
    assert_eq!(code, 1);
    assert_eq!(out, run_format(root(), "fixtures/legacy-ts", "concise").1);
}

#[test]
fn concise_is_one_line_per_finding_and_nothing_else() {
    let diags = json_diags(root(), "fixtures/legacy-ts");
    let (_, out) = run_format(root(), "fixtures/legacy-ts", "concise");
    let expected: String = diags.iter().map(|d| expected_concise(d) + "\n").collect();
    assert_eq!(out, expected);
    assert!(!out.contains("finding(s)"), "no summary line");
    // A clean run prints nothing at all.
    assert_eq!(run_format(root(), "fixtures/fixed-ts", "concise").1, "");
}

#[test]
fn github_is_one_workflow_command_per_diagnostic() {
    let diags = json_diags(root(), "fixtures/legacy-ts");
    let (_, out) = run_format(root(), "fixtures/legacy-ts", "github");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), diags.len());
    for (line, d) in lines.iter().zip(&diags) {
        assert_eq!(*line, expected_github(d));
    }
    // Severities map to the three commands.
    assert!(lines.iter().any(|l| l.starts_with("::error file=")));
    assert!(lines.iter().any(|l| l.starts_with("::warning file=")));
    assert_eq!(run_format(root(), "fixtures/fixed-ts", "github").1, "");
}

#[test]
fn gitlab_is_a_code_quality_report() {
    let diags = json_diags(root(), "fixtures/legacy-ts");
    let (_, out) = run_format(root(), "fixtures/legacy-ts", "gitlab");
    let v: Value = serde_json::from_str(&out).unwrap();
    let issues = v.as_array().expect("a JSON array");
    assert_eq!(issues.len(), diags.len());
    let mut prints = HashSet::new();
    for (i, d) in issues.iter().zip(&diags) {
        assert_eq!(i["description"], d["message"]);
        assert_eq!(i["check_name"], d["rule"]);
        let sev = match s(&d["severity"]) {
            "error" => "major",
            "warning" => "minor",
            _ => "info",
        };
        assert_eq!(i["severity"], sev);
        assert_eq!(i["location"]["path"], d["path"]);
        assert_eq!(i["location"]["lines"]["begin"], d["line"]);
        let fp = s(&i["fingerprint"]);
        assert_eq!(fp.len(), 32);
        assert!(
            fp.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(prints.insert(fp.to_string()), "fingerprints are unique");
    }
    assert_eq!(
        serde_json::from_str::<Value>(&run_format(root(), "fixtures/fixed-ts", "gitlab").1)
            .unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn junit_has_a_suite_per_file_and_a_case_per_diagnostic() {
    let diags = json_diags(root(), "fixtures/legacy-ts");
    let (_, out) = run_format(root(), "fixtures/legacy-ts", "junit");
    check_xml(&out);
    let files: BTreeSet<&str> = diags.iter().map(|d| s(&d["path"])).collect();
    assert_eq!(out.matches("<testsuite ").count(), files.len());
    assert_eq!(out.matches("<testcase ").count(), diags.len());
    let failing = diags
        .iter()
        .filter(|d| s(&d["severity"]) != "info" && !is_failure(s(&d["rule"])))
        .count();
    assert_eq!(out.matches("<failure ").count(), failing);
    assert!(out.contains(&format!(
        "<testsuites name=\"unleak\" tests=\"{}\" failures=\"{failing}\" errors=\"0\">",
        diags.len()
    )));
    for d in diags.iter().filter(|d| s(&d["severity"]) != "info") {
        let path = s(&d["path"]);
        let location = format!("{path}:{}:{}", d["line"], d["column"]);
        let case = format!(
            "<testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\">",
            xml_attr(&format!("{} at {location}", s(&d["rule"]))),
            xml_attr(path),
            xml_attr(path),
            d["line"]
        );
        assert!(out.contains(&case), "missing {case}");
        let failure = format!(
            "<failure message=\"{}\" type=\"{}\">{}</failure>",
            xml_attr(s(&d["message"])),
            xml_attr(s(&d["rule"])),
            xml_text(&format!(
                "{location}: {} {}: {}",
                s(&d["severity"]),
                s(&d["rule"]),
                with_help(d)
            ))
        );
        assert!(out.contains(&failure), "missing {failure}");
    }
}

#[test]
fn junit_clean_run_is_one_passing_case() {
    let (code, out) = run_format(root(), "fixtures/fixed-ts", "junit");
    assert_eq!(code, 0);
    check_xml(&out);
    assert_eq!(out.matches("<testsuite ").count(), 1);
    assert_eq!(out.matches("<testcase ").count(), 1);
    assert!(!out.contains("<failure") && !out.contains("<error"));
    assert!(out.contains("<testsuites name=\"unleak\" tests=\"1\" failures=\"0\" errors=\"0\">"));
}

#[test]
fn sarif_structure_on_the_legacy_fixture() {
    let diags = json_diags(root(), "fixtures/legacy-ts");
    let (_, out) = run_format(root(), "fixtures/legacy-ts", "sarif");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(s(&v["$schema"]).starts_with("https://"));
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run0 = &runs[0];
    let driver = &run0["tool"]["driver"];
    assert_eq!(driver["name"], "unleak");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(s(&driver["informationUri"]).starts_with("https://"));

    // One rule per registry rule, with its summary and documentation.
    let listed = Command::cargo_bin("unleak")
        .unwrap()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), listed.len());
    for (r, m) in rules.iter().zip(listed) {
        assert_eq!(r["id"], m["id"]);
        assert_eq!(r["shortDescription"]["text"], m["summary"]);
        let level = match s(&m["severity"]) {
            "error" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(r["defaultConfiguration"]["level"], level);
        let doc = Command::cargo_bin("unleak")
            .unwrap()
            .args(["explain", s(&m["id"])])
            .output()
            .unwrap();
        let doc = String::from_utf8(doc.stdout).unwrap();
        assert_eq!(s(&r["help"]["markdown"]), doc);
        assert_eq!(s(&r["help"]["text"]), doc);
        let full = s(&r["fullDescription"]["text"]);
        assert!(!full.is_empty() && !full.contains('\n'));
    }

    // One result per finding, in order, pointing at the same place as the JSON output.
    let findings: Vec<&Value> = diags
        .iter()
        .filter(|d| !is_failure(s(&d["rule"])))
        .collect();
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (r, d) in results.iter().zip(&findings) {
        assert_eq!(r["ruleId"], d["rule"]);
        assert_eq!(rules[n(&r["ruleIndex"]) as usize]["id"], d["rule"]);
        let level = match s(&d["severity"]) {
            "error" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], level);
        assert_eq!(s(&r["message"]["text"]), with_help(d));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], d["path"]);
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(loc["region"]["startLine"], d["line"]);
        assert_eq!(loc["region"]["startColumn"], d["column"]);
        assert_eq!(loc["region"]["endLine"], d["end_line"]);
        assert_eq!(loc["region"]["endColumn"], d["end_column"]);
        let labels = d["labels"].as_array().unwrap();
        let related = r["relatedLocations"].as_array().map_or(&[][..], |a| a);
        assert_eq!(related.len(), labels.len());
        for (rl, l) in related.iter().zip(labels) {
            assert_eq!(rl["message"]["text"], l["message"]);
            let p = &rl["physicalLocation"];
            assert_eq!(p["artifactLocation"]["uri"], l["path"]);
            assert_eq!(p["region"]["startLine"], l["line"]);
            assert_eq!(p["region"]["startColumn"], l["column"]);
        }
        let fp = &r["partialFingerprints"];
        assert!(s(&fp["primaryLocationLineHash"]).contains(':'));
        assert_eq!(s(&fp["unleakFingerprint/v1"]).len(), 32);
        assert_eq!(
            r["fixes"].as_array().map_or(0, |a| a.len()),
            d["fixes"].as_array().unwrap().len()
        );
    }
    let inv = &run0["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    assert_eq!(inv["toolExecutionNotifications"], serde_json::json!([]));
    assert_eq!(run0["columnKind"], "unicodeCodePoints");
    assert!(s(&run0["originalUriBaseIds"]["%SRCROOT%"]["uri"]).starts_with("file:///"));
    assert!(s(&run0["originalUriBaseIds"]["%SRCROOT%"]["uri"]).ends_with('/'));
}

#[test]
fn sarif_reports_unreadable_files_as_notifications() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.ts"), LEAK).unwrap();
    let (code, out) = run(
        dir.path(),
        &[".", "--format", "sarif", "--max-file-size", "4"],
    );
    assert_eq!(code, 1, "unchanged exit code");
    let v: Value = serde_json::from_str(&out).unwrap();
    let run0 = &v["runs"][0];
    assert_eq!(run0["results"], serde_json::json!([]));
    let inv = &run0["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "error");
    assert_eq!(notes[0]["descriptor"]["id"], "io-error");
    let idx = n(&notes[0]["descriptor"]["index"]) as usize;
    assert_eq!(
        run0["tool"]["driver"]["notifications"][idx]["id"],
        "io-error"
    );
    let (_, json) = run(
        dir.path(),
        &[".", "--format", "json", "--max-file-size", "4"],
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        s(&notes[0]["message"]["text"]),
        s(&json["diagnostics"][0]["message"])
    );
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "big.ts"
    );
    validate_sarif(&v, "io-error run");
}

// ----- exact escaping -----

#[cfg(unix)]
#[test]
fn escaping_of_paths_and_messages_in_every_format() {
    let dir = weird_project();
    let d = dir.path();
    let diags = json_diags(d, ".");
    assert_eq!(diags.len(), 2, "{diags:?}");
    let weird = diags
        .iter()
        .find(|x| x["path"] == WEIRD_NAME)
        .expect("finding in the oddly named file");
    let ev = diags
        .iter()
        .find(|x| x["path"] == "ev.ts")
        .expect("listener finding");
    assert!(
        s(&ev["message"]).contains(EVENT),
        "the message carries the event name: {}",
        ev["message"]
    );

    // github: properties escape `%`, `,`, `:` and the newline; the message `%` and newlines.
    let (code, out) = run_format(d, ".", "github");
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "{}\n{}\n",
            expected_github(&diags[0]),
            expected_github(&diags[1])
        )
    );
    assert!(out.contains("file=a%25b%2Cc%3Ad<e&f%0Ag.ts,line=2,"));
    assert!(out.contains("x%25y,z:w<v&u%0A\"q"));
    assert_eq!(out.lines().count(), 2, "one line per diagnostic");

    // concise: one line per finding; the path as is, a line break in the message as `\n`.
    let (_, out) = run_format(d, ".", "concise");
    assert!(out.contains("x%y,z:w<v&u\\n\"q"));
    assert_eq!(out.matches("ev.ts:5:").count(), 1);
    assert!(out.contains(&expected_concise(ev)));

    // junit: escaped attributes and text.
    let (_, out) = run_format(d, ".", "junit");
    check_xml(&out);
    assert!(out.contains("<testsuite name=\"a%b,c:d&lt;e&amp;f&#10;g.ts\""));
    assert!(out.contains("message=\"listener for &apos;x%y,z:w&lt;v&amp;u&#10;&quot;q&apos;"));
    assert!(out.contains("x%y,z:w&lt;v&amp;u\n\"q"));

    // gitlab: JSON strings round-trip.
    let (_, out) = run_format(d, ".", "gitlab");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["location"]["path"], weird["path"]);
    assert_eq!(v[1]["description"], ev["message"]);

    // sarif: a percent-encoded relative URI.
    let (_, out) = run_format(d, ".", "sarif");
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let uri = s(&results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]);
    assert_eq!(uri, "a%25b%2Cc%3Ad%3Ce%26f%0Ag.ts");
    assert_eq!(uri, uri_encode(WEIRD_NAME));
    assert_eq!(s(&results[1]["message"]["text"]), with_help(ev));
    validate_sarif(&v, "escaping run");
}

// ----- fingerprints -----

/// (rule, line, sarif fingerprints, gitlab fingerprint) of every finding in `dir`.
fn prints(dir: &Path) -> Vec<(String, u64, Value, String)> {
    let (_, sarif) = run_format(dir, ".", "sarif");
    let (_, gitlab) = run_format(dir, ".", "gitlab");
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let gitlab: Value = serde_json::from_str(&gitlab).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let issues = gitlab.as_array().unwrap();
    assert_eq!(results.len(), issues.len());
    results
        .iter()
        .zip(issues)
        .map(|(r, i)| {
            assert_eq!(
                r["partialFingerprints"]["unleakFingerprint/v1"], i["fingerprint"],
                "SARIF and GitLab share the fingerprint"
            );
            (
                s(&r["ruleId"]).to_string(),
                n(&r["locations"][0]["physicalLocation"]["region"]["startLine"]),
                r["partialFingerprints"].clone(),
                s(&i["fingerprint"]).to_string(),
            )
        })
        .collect()
}

#[test]
fn fingerprints_survive_unrelated_edits_above_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two identical leaks in one file and one in another.
    let two = "export function start() {}\n\
               setInterval(() => console.log('tick'), 1000);\n\
               setInterval(() => console.log('tick'), 1000);\n";
    fs::write(d.join("a.ts"), two).unwrap();
    fs::write(d.join("b.ts"), LEAK).unwrap();
    let before = prints(d);
    assert_eq!(before.len(), 3, "{before:?}");
    let unique: HashSet<&String> = before.iter().map(|p| &p.3).collect();
    assert_eq!(
        unique.len(),
        3,
        "identical lines differ by their occurrence"
    );

    // Insert unrelated code above the findings of a.ts.
    fs::write(
        d.join("a.ts"),
        format!("// a comment\nimport {{ x }} from './x';\n\nexport const y = x + 1;\n{two}"),
    )
    .unwrap();
    let after = prints(d);
    assert_eq!(after.len(), 3);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.0, b.0);
        assert_eq!(a.2, b.2, "SARIF partialFingerprints unchanged");
        assert_eq!(a.3, b.3, "GitLab fingerprint unchanged");
    }
    assert_eq!(after[0].1, before[0].1 + 4, "the line moved");

    // Changing the reported line changes its fingerprint only.
    fs::write(d.join("b.ts"), LEAK.replace("'tick'", "'tock'")).unwrap();
    let changed = prints(d);
    assert_eq!(changed[0].3, after[0].3);
    assert_eq!(changed[1].3, after[1].3);
    assert_ne!(changed[2].3, after[2].3);
}

// ----- --output-file -----

#[test]
fn output_file_writes_the_report_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("reports");
    fs::create_dir(&out_dir).unwrap();
    for f in FORMATS {
        let (code, stdout) = run_format(root(), "fixtures/legacy-ts", f);
        let file = out_dir.join(format!("report.{f}"));
        // An existing file is replaced.
        fs::write(&file, "stale").unwrap();
        let out = Command::cargo_bin("unleak")
            .unwrap()
            .current_dir(root())
            .args([
                "check",
                "fixtures/legacy-ts",
                "--color",
                "never",
                "--format",
                f,
            ])
            .arg("--output-file")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{f}: same exit code");
        assert!(out.stdout.is_empty(), "{f}: nothing on stdout");
        assert!(out.stderr.is_empty(), "{f}: nothing on stderr");
        assert_eq!(fs::read_to_string(&file).unwrap(), stdout, "{f}");
    }
    // No temporary file is left behind.
    let names: BTreeSet<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = FORMATS.iter().map(|f| format!("report.{f}")).collect();
    assert_eq!(names, expected);

    // A relative path is relative to the working directory; `-` is stdout.
    let (code, stdout) = run(
        dir.path(),
        &[
            root().join("fixtures/legacy-ts").to_str().unwrap(),
            "--format",
            "concise",
            "--output-file",
            "rel.txt",
        ],
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        !fs::read_to_string(dir.path().join("rel.txt"))
            .unwrap()
            .is_empty()
    );
    let (_, stdout) = run(
        root(),
        &[
            "fixtures/legacy-ts",
            "--format",
            "concise",
            "--output-file",
            "-",
        ],
    );
    assert_eq!(
        stdout,
        run_format(root(), "fixtures/legacy-ts", "concise").1
    );
}

#[test]
fn output_file_in_a_missing_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/report.sarif");
    let out = Command::cargo_bin("unleak")
        .unwrap()
        .current_dir(root())
        .args([
            "check",
            "fixtures/legacy-ts",
            "--format",
            "sarif",
            "--output-file",
        ])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the output"), "{err}");
    assert!(err.contains("report.sarif"), "{err}");
    assert!(!missing.exists());
}

// ----- SARIF against the official schema -----

const SCHEMA: &str = "target/sarif-schema/package/lib/schemas/sarif-2.1.0-rtm.5.json";

/// The official SARIF 2.1.0 schema, as shipped by the npm package `@microsoft/jest-sarif`.
/// `.ci/run` fetches it before the tests; when it is missing (a plain `cargo test` on a fresh
/// checkout) it is fetched here with `npm pack`. Without npm or the registry the test fails and
/// says how to fetch it.
fn sarif_schema() -> Option<Value> {
    let path = root().join(SCHEMA);
    if !path.exists() {
        fetch_schema(&root().join("target/sarif-schema"));
    }
    if !common::tool_available(
        path.exists(),
        "the SARIF 2.1.0 schema (npm package @microsoft/jest-sarif; needs npm)",
        "mkdir -p target/sarif-schema && (cd target/sarif-schema && npm pack \
         @microsoft/jest-sarif --silent && tar xzf *.tgz)",
    ) {
        return None;
    }
    let text = fs::read_to_string(&path).expect("the schema is readable");
    // The schema's pattern for `run.language` holds a lone `]`, a literal in ECMAScript regular
    // expressions but a syntax error for the Rust regex engines: escape it (same meaning).
    let text = text.replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#,
    );
    Some(serde_json::from_str(&text).expect("the schema is JSON"))
}

/// Best effort: `npm pack @microsoft/jest-sarif` into a scratch folder, unpacked, then moved
/// into place so that a concurrent reader never sees half a package.
fn fetch_schema(dest: &Path) {
    let _ = fs::create_dir_all(dest);
    let scratch: PathBuf = dest.join(format!("fetch-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    if fs::create_dir_all(&scratch).is_err() {
        return;
    }
    let packed = StdCommand::new("npm")
        .args(["pack", "@microsoft/jest-sarif", "--silent"])
        .current_dir(&scratch)
        .output();
    let ok = matches!(&packed, Ok(o) if o.status.success());
    if ok {
        let tgz = fs::read_dir(&scratch).ok().and_then(|mut it| {
            it.find_map(|e| {
                let p = e.ok()?.path();
                p.to_string_lossy().ends_with(".tgz").then_some(p)
            })
        });
        if let Some(tgz) = tgz {
            let untar = StdCommand::new("tar")
                .arg("xzf")
                .arg(&tgz)
                .current_dir(&scratch)
                .status();
            if matches!(untar, Ok(s) if s.success()) && !dest.join("package").exists() {
                let _ = fs::rename(scratch.join("package"), dest.join("package"));
            }
        }
    }
    let _ = fs::remove_dir_all(&scratch);
}

fn validate_sarif(log: &Value, what: &str) {
    let Some(schema) = sarif_schema() else {
        return;
    };
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: SARIF output is not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_validates_against_the_official_schema() {
    // The schema catches mistakes: a broken log is rejected.
    let broken = serde_json::json!({ "version": "2.1.0", "runs": [{ "tool": {} }] });
    let Some(schema) = sarif_schema() else {
        return;
    };
    let validator = jsonschema::options().build(&schema).unwrap();
    assert!(!validator.is_valid(&broken));

    for (dir, target) in [
        (root(), "fixtures/legacy-ts"),
        (root(), "fixtures/legacy-rust"),
        (root(), "fixtures/fixed-ts"),
    ] {
        let (_, out) = run_format(dir, target, "sarif");
        let v: Value = serde_json::from_str(&out).unwrap();
        validate_sarif(&v, target);
    }
}
