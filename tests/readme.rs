//! README.md keeps its promises: its first command runs as written, its sample finding is what
//! unleak prints, its rules table is the registry's, and its links (and those of `docs/`) lead
//! to files of the repository.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The body of the first fenced block that opens with exactly "```" + `lang`, at or after the
/// byte offset `from`.
fn first_block(text: &str, from: usize, lang: &str) -> String {
    let open = format!("```{lang}\n");
    let start = text[from..].find(&open).expect("a fenced block") + from + open.len();
    let end = text[start..].find("```").expect("a closed block") + start;
    text[start..end].to_string()
}

/// The README's first command: the first line of its first ```sh block that is not a comment.
fn first_command() -> String {
    first_block(&readme(), 0, "sh")
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a command")
        .to_string()
}

/// A newcomer's first command, run exactly as README.md writes it, in a shell at the root of
/// the repository: it builds unleak and lints the leaky fixture service (exit 1: it leaks),
/// printing every expected finding.
#[test]
fn the_first_readme_command_runs_as_written() {
    let command = first_command();
    assert!(command.starts_with("cargo run"), "{command}");
    let out = Command::new("sh")
        .args(["-c", &command])
        .current_dir(root())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "`{command}` should exit 1 (findings)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The hand-checked findings of the fixture (tests/fixtures.rs asserts them one by one).
    let expected = std::fs::read_to_string(root().join("tests/expected/legacy-ts.txt")).unwrap();
    let n = expected.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        stdout.contains(&format!("Found {n} findings in ")),
        "`{command}` printed:\n{stdout}"
    );
}

/// The sample finding under `<!-- sample: COMMAND -->` is what COMMAND prints: its first
/// finding, then its closing summary.
#[test]
fn the_readme_sample_is_real_output() {
    let text = readme();
    let marker = "<!-- sample: ";
    let at = text.find(marker).expect("README has a sample finding");
    let line_end = text[at..].find("-->").unwrap() + at;
    let command = text[at + marker.len()..line_end].trim();
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("unleak"));
    let sample = first_block(&text, line_end, "");
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .args(words)
        .current_dir(root())
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let (finding, summary) = sample
        .trim_end()
        .rsplit_once("\n\n")
        .expect("a finding, a blank line, the summary");
    assert!(
        printed.starts_with(finding),
        "README's sample differs from what `{command}` prints:\n{printed}"
    );
    assert!(
        printed.trim_end().ends_with(summary.trim_end()),
        "README's sample summary differs from what `{command}` prints:\n{printed}"
    );
}

/// The rules table lists every rule of the registry, in order, with its severity and scope.
#[test]
fn the_readme_rules_table_is_the_registry() {
    let text = readme();
    let rows: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| l.starts_with("| [`"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let id = cells[1].trim_start_matches("[`").split('`').next().unwrap();
            assert!(
                cells[1].ends_with(&format!("(rules/{id}.md)")),
                "{id} links its doc"
            );
            (id.to_string(), cells[2].to_string(), cells[3].to_string())
        })
        .collect();
    let registry: Vec<(String, String, String)> = unleak::registry::all()
        .map(|m| {
            (
                m.id.to_string(),
                m.severity.as_str().to_string(),
                m.scope.as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(rows, registry);
}

/// Every relative link of README.md and docs/*.md leads to a file or folder of the repository,
/// and the README stays a newcomer's page (reference material lives in docs/).
#[test]
fn readme_and_docs_links_resolve() {
    let mut pages = vec![root().join("README.md")];
    if let Ok(dir) = std::fs::read_dir(root().join("docs")) {
        pages.extend(
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md")),
        );
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|p| p.starts_with(root().canonicalize().unwrap()));
            if !inside {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links that lead nowhere: {broken:#?}");
    let lines = readme().lines().count();
    assert!(
        lines <= 420,
        "README.md has {lines} lines; move reference to docs/"
    );
}
