//! What users read, kept as reviewed snapshots (`insta`): the human output and the `--diff` of
//! the leaky fixture services. A change to a message, a label or a fix shows up here as a diff
//! to review (`cargo insta review`, or compare the `.snap.new` file), not as a silent change.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn human_output_of_the_legacy_services() {
    insta::assert_snapshot!(
        "human-legacy-ts",
        run(&[
            "check",
            "--no-cache",
            "--color",
            "never",
            "fixtures/legacy-ts"
        ])
    );
    insta::assert_snapshot!(
        "human-legacy-rust",
        run(&[
            "check",
            "--no-cache",
            "--color",
            "never",
            "fixtures/legacy-rust"
        ])
    );
}

#[test]
fn fixes_of_the_legacy_services_as_a_diff() {
    insta::assert_snapshot!(
        "diff-legacy-ts",
        run(&["check", "--diff", "--unsafe-fixes", "fixtures/legacy-ts"])
    );
    insta::assert_snapshot!(
        "diff-legacy-rust",
        run(&["check", "--diff", "--unsafe-fixes", "fixtures/legacy-rust"])
    );
}
