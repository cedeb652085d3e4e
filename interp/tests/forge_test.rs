//! `forge test` on the project's example test files and on a failing test file.

use std::path::Path;
use std::process::Command;

fn forge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_forge"))
}

#[test]
fn example_tests_pass_with_the_reference_summary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = forge().arg("test").arg("examples/tests").current_dir(&root).env("NO_COLOR", "1").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("  examples/tests/collections_test.fg\n"), "{stdout}");
    assert!(stdout.contains("    ok    push_changes_only_the_copy ("), "{stdout}");
    assert!(stdout.contains("    SKIP  not_ready\n"), "{stdout}");
    assert!(stdout.ends_with("  4 passed, 0 failed, 1 skipped, 5 total\n\n"), "{stdout}");
}

#[test]
fn a_failing_test_fails_the_run() {
    let dir = std::env::temp_dir().join(format!("forge-test-{}", std::process::id()));
    let tests = dir.join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(tests.join("f_test.fg"), "@test\nfn bad() { assert_eq(1, 2, \"math\") }\n@test\nfn good() { }\n")
        .unwrap();
    let out = forge().arg("test").current_dir(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("    FAIL  bad ("), "{stdout}");
    assert!(stdout.contains("          assertion failed: math: expected `2`, got `1`\n"), "{stdout}");
    assert!(stdout.ends_with("  1 passed, 1 failed, 2 total\n\n"), "{stdout}");
}

#[test]
fn a_missing_directory_is_an_error() {
    let out = forge().arg("test").arg("no-such-dir").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test directory 'no-such-dir' not found"));
}
