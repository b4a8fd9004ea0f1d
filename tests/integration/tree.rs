//! `sanctuary tree`: the dependency tree of a layer and key, inverted, limited in depth, with
//! Foundation packages under the Application shown as `[foundation]` leaves.

use crate::export::locked;

#[test]
fn tree_snapshots() {
    let env = locked();
    let report = [
        ("application", vec!["tree"]),
        ("application --key cpu", vec!["tree", "--key", "cpu"]),
        (
            "foundation --key cu130",
            vec!["tree", "--layer", "foundation", "--key", "cu130"],
        ),
        (
            "all --key cpu",
            vec!["tree", "--layer", "all", "--key", "cpu"],
        ),
        ("--invert tiny", vec!["tree", "--invert", "tiny"]),
        (
            "--invert torch --key cu130",
            vec!["tree", "--invert", "torch", "--key", "cu130"],
        ),
        (
            "all --invert filelock",
            vec![
                "tree", "--layer", "all", "--key", "cpu", "--invert", "filelock",
            ],
        ),
        ("--depth 0", vec!["tree", "--depth", "0"]),
        ("--depth 1", vec!["tree", "--depth", "1"]),
        (
            "--invert tiny --depth 1",
            vec!["tree", "--invert", "tiny", "--depth", "1"],
        ),
    ]
    .iter()
    .map(|(name, args)| format!("--- {name}\n{}", env.run_ok(args)))
    .collect::<String>();
    insta::assert_snapshot!(report);
    // Deterministic.
    assert_eq!(
        env.run_ok(&["tree", "--layer", "all", "--key", "cpu"]),
        env.run_ok(&["tree", "--layer", "all", "--key", "cpu"])
    );
}

#[test]
fn tree_errors() {
    let env = crate::export::two_layers();
    let missing = env.run_err(&["tree"]);
    assert!(
        missing.contains("pylock.application.toml does not exist"),
        "{missing}"
    );
    assert!(missing.contains("hint: run `sanctuary lock`"), "{missing}");
    env.project.lock_ok(&["-q"]);
    let report = [
        (
            "foundation without --key",
            env.run_err(&["tree", "--layer", "foundation"]),
        ),
        ("unknown key", env.run_err(&["tree", "--key", "rocm9"])),
        (
            "unknown package",
            env.run_err(&["tree", "--invert", "numpy"]),
        ),
    ]
    .iter()
    .map(|(name, text)| format!("--- {name}\n{text}"))
    .collect::<String>();
    insta::assert_snapshot!(report);
}
