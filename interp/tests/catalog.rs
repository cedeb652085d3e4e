//! Walks the catalogue of spec 12 (`tests/catalog.tsv`, vendored from the spec) and
//! checks that every builtin, module member and string method it lists is bound in a
//! running program: a Forge program is generated that reads each name (`typeof` of the
//! value, or a call for string methods); it is run under `forge run`, and compiled by
//! `forgec` into a native executable that is run too. Each tier's output must show
//! every name bound. The server decorator rows (`http-server`) are counted separately
//! (a decorator has no value to read). The number of rows covered in each tier is
//! printed.
//!
//! The native half needs the `forgec` binary next to `forge` (as `cargo test
//! --workspace` builds it) and the runtime library (`scripts/build-runtime`, which
//! `scripts/test` runs first), like `conformance_native.rs`.

use std::path::Path;
use std::process::{Command, Output};

const LATER: &[&str] = &["http-server"];

#[test]
fn every_catalogue_name_is_bound() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tsv = std::fs::read_to_string(root.join("tests/catalog.tsv")).expect("catalog");
    let mut program = String::new();
    let mut expected = Vec::new();
    let (mut covered, mut later, mut other) = (0, 0, 0);
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (module, name) = (cols[0], cols[1]);
        if LATER.contains(&module) {
            later += 1;
            continue;
        }
        let check = match module {
            // Statement keywords have no value form: run the statement itself.
            "builtin" if ["say", "yell", "whisper", "wait"].contains(&name) => {
                let stmt = if name == "wait" { "wait 0".to_string() } else { format!("{name} \"\"") };
                program.push_str(&format!("{stmt}\nprintln(\"{module} {name} true\")\n"));
                expected.push(format!("{module} {name} true"));
                covered += 1;
                continue;
            }
            "builtin" if name == "null" => "typeof(null) == \"Null\"".to_string(),
            "builtin" if name == "None" => "typeof(None) == \"Option\"".to_string(),
            "builtin" => format!("typeof({name}) == \"BuiltIn\""),
            "method:String" => format!(
                "typeof(\"ab\".{name}{}) != \"\"",
                if name == "lines" {
                    ""
                } else if name == "char_at" {
                    "(0)"
                } else {
                    "()"
                }
            ),
            "property:Array" => "typeof([1].len) == \"Int\"".to_string(),
            "module" | "syntax" | "test-runner" => {
                other += 1;
                continue;
            }
            m => {
                if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !["pi", "e", "inf"].contains(&name) {
                    format!("typeof({m}.{name}) == \"BuiltIn\"")
                } else {
                    format!("typeof({m}.{name}) != \"Null\"")
                }
            }
        };
        program.push_str(&format!("say \"{module} {name} \" + str({check})\n"));
        expected.push(format!("{module} {name} true"));
        covered += 1;
    }
    let dir = std::env::temp_dir().join(format!("forge-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("catalog.fg"), &program).unwrap();
    let forge = Path::new(env!("CARGO_BIN_EXE_forge"));
    let forgec = forge.with_file_name("forgec");
    assert!(
        forgec.is_file(),
        "{} is missing: build it with `cargo build -p forge-compiler --bin forgec` (cargo test --workspace does)",
        forgec.display()
    );

    let mut failures = Vec::new();
    let mut counts = Vec::new();
    let vm = Command::new(forge).arg("run").arg("catalog.fg").current_dir(&dir).output().unwrap();
    let (n, failure) = check("forge run", &vm, &expected);
    counts.push(format!("{n} under forge run"));
    failures.extend(failure);

    let build = Command::new(&forgec)
        .arg("catalog.fg")
        .arg("-o")
        .arg("catalog.bin")
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    if build.status.success() {
        let native = Command::new(dir.join("catalog.bin")).current_dir(&dir).output().unwrap();
        let (n, failure) = check("forgec", &native, &expected);
        counts.push(format!("{n} in the forgec executable"));
        failures.extend(failure);
    } else {
        counts.push("none in the forgec executable".to_string());
        failures.push(format!("forgec failed to compile the program:\n{}", String::from_utf8_lossy(&build.stderr)));
    }
    if std::env::var_os("FORGE_KEEP_CATALOG").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "catalogue: {covered} rows checked, covered {}; {later} server decorator rows counted apart; {other} syntax/runner rows covered by the conformance and forge-test suites",
        counts.join(", ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Counts the expected lines present in one tier's output; the failure names the
/// missing ones.
fn check(tier: &str, out: &Output, expected: &[String]) -> (usize, Option<String>) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: Vec<&str> = stdout.lines().collect();
    let missing: Vec<&String> = expected.iter().filter(|e| !got.contains(&e.as_str())).collect();
    let n = expected.len() - missing.len();
    if missing.is_empty() && out.status.success() {
        return (n, None);
    }
    (
        n,
        Some(format!(
            "{tier}: missing or unbound: {missing:?} (exit status {:?})\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )),
    )
}
