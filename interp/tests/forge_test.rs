//! `forge test` on the project's example test files, on a failing test file and on a
//! directory of test files written for the reference (`tests/forge-test`).

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

/// Output with the per-test times (`(12ms)`) replaced by `(Nms)`.
fn without_times(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('(') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with("ms)") {
            out.push_str("(Nms)");
            rest = &tail[digits + 3..];
        } else {
            out.push('(');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// A directory of test files written for the reference in the spec's format (§11.23):
/// the natural syntax, `@before`/`@after` hooks, `@skip`, a file whose top level fails,
/// a file that does not parse, a file without tests; with and without `--filter`.
/// Stdout and stderr must match the expected files exactly (times aside).
#[test]
fn a_third_party_test_directory_gives_the_reference_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (args, expected) in [(&[][..], "reference"), (&["--filter", "math"][..], "reference-filter")] {
        let out = forge()
            .arg("test")
            .arg("tests/forge-test/reference")
            .args(args)
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let want_out = std::fs::read_to_string(root.join(format!("tests/forge-test/{expected}.out"))).unwrap();
        let want_err = std::fs::read_to_string(root.join(format!("tests/forge-test/{expected}.err"))).unwrap();
        assert_eq!(without_times(&String::from_utf8_lossy(&out.stdout)), want_out, "stdout of {args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), want_err, "stderr of {args:?}");
        assert_eq!(out.status.code(), Some(1), "exit status of {args:?}");
    }
}
