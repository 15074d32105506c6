//! Every example in `rules/<id>.md` runs: a ```` ```ts bad ```` block must be reported by that
//! rule exactly at the lines marked `// <-- flagged`; a ```` ```ts good ```` block must be clean
//! of every rule.

mod common;

use common::*;

#[test]
fn every_rule_doc_example_behaves_as_marked() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for meta in unleak::registry::all() {
        let id = meta.id;
        let doc = unleak::registry::doc(id).expect("every rule has a doc");
        let exs = examples(doc);
        let bad = exs.iter().filter(|e| e.bad).count();
        let good = exs.len() - bad;
        assert!(
            bad >= 1 && good >= 1,
            "rules/{id}.md needs bad and good examples ({bad} bad, {good} good)"
        );
        for ex in exs {
            let Some(name) = file_name(&ex.lang) else {
                continue; // e.g. Rust examples, run once the Rust front end exists
            };
            checked += 1;
            let diags = lint_one(name, &ex.code);
            let all = findings(&ex.code, &diags);
            if ex.bad {
                let expected: Findings = ex
                    .code
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.contains("// <-- flagged"))
                    .map(|(i, _)| (i as u32 + 1, id.to_string()))
                    .collect();
                assert!(
                    !expected.is_empty(),
                    "rules/{id}.md:{}: bad example without a `// <-- flagged` marker",
                    ex.doc_line
                );
                let actual: Findings = all.into_iter().filter(|(_, r)| r == id).collect();
                if actual != expected {
                    failures.push(format!(
                        "rules/{id}.md:{} (bad)\n{}",
                        ex.doc_line,
                        describe(&expected, &actual)
                    ));
                }
            } else if !all
                .iter()
                // A snippet is not a project: another project-wide rule's view of it (say, a
                // server with no SIGTERM handler in a duplicate-client example) is not this
                // example's business.
                .all(|(_, r)| {
                    r != id && unleak::registry::find(r).is_some_and(|x| x.meta().is_project())
                })
            {
                failures.push(format!(
                    "rules/{id}.md:{} (good) is not clean: {all:?}",
                    ex.doc_line
                ));
            }
        }
    }
    assert!(checked >= 10, "too few examples ran: {checked}");
    assert!(
        failures.is_empty(),
        "{} example(s) wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Each doc's header line (languages, default severity, fix availability) is the rule's
/// metadata, so `unleak rules`, the LSP, SARIF and the docs cannot disagree; and every rule has
/// a folder of realistic cases (the four steps of adding a rule in CONTRIBUTING.md).
#[test]
fn every_rule_doc_header_is_its_metadata_and_every_rule_has_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for meta in unleak::registry::all() {
        let doc = unleak::registry::doc(meta.id).unwrap();
        assert_eq!(
            doc.lines().nth(2),
            Some(meta.doc_header().as_str()),
            "rules/{}.md's third line",
            meta.id
        );
        let cases = root.join("fixtures/cases").join(meta.id);
        assert!(
            std::fs::read_dir(&cases).is_ok_and(|mut d| d.next().is_some()),
            "{} has no cases in {}",
            meta.id,
            cases.display()
        );
    }
}
