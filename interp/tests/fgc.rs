//! `forge build` and running `.fgc` files, through the built `forge` binary.
//!
//! Each test works in its own temporary directory: it builds programs, runs the
//! bytecode and compares with `forge run` of the source, and checks that damaged,
//! truncated, foreign and non-bytecode files end in a one-line `error: …` and exit 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn forge() -> &'static str {
    env!("CARGO_BIN_EXE_forge")
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

/// A fresh, empty temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("forge-fgc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.0.join(name), bytes).unwrap();
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `forge ARGS` in `dir` without colours and with no input.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(forge())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("spawn forge")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a failed load: exit 1, nothing on stdout, one `error: …` line naming the
/// file and containing `fragment`.
fn assert_load_error(out: &Output, file: &str, fragment: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with(&format!("error: cannot load '{file}': ")), "{err:?}");
    assert!(err.contains(fragment), "{err:?} lacks {fragment:?}");
}

const PROGRAM: &str = r#"// Functions, closures, structs, loops and errors.
fn fib(n) {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
let make = fn(step) {
  let mut total = 0
  return fn() { total = total + step; return total }
}
let inc = make(3)
inc()
say "fib: {fib(15)}, counter: {inc()}"
let xs = [3, 1, 2]
for x in xs { say x * 2.5 }
say len(io.args())
"#;

/// Builds `prog.fg` into `prog.fgc`, checking that `forge build` prints nothing.
fn build(dir: &TempDir, args: &[&str]) {
    let out = run_in(dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "build failed: {}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "build printed something");
}

#[test]
fn fgc_runs_like_the_source() {
    let dir = TempDir::new("same");
    dir.write("prog.fg", PROGRAM);
    build(&dir, &["build", "prog.fg"]);
    assert_eq!(dir.files(), ["prog.fg", "prog.fgc"], "a temporary file was left behind");
    assert_eq!(&dir.read("prog.fgc")[..4], b"FGC\0");
    let want = run_in(dir.path(), &["run", "prog.fg", "a", "b"]);
    assert_eq!(want.status.code(), Some(0), "{}", text(&want.stderr));
    assert!(text(&want.stdout).starts_with("fib: 610, counter: 6\n"), "{}", text(&want.stdout));
    let got = run_in(dir.path(), &["run", "prog.fgc", "a", "b"]);
    assert_eq!(text(&got.stdout), text(&want.stdout));
    assert_eq!(got.status.code(), Some(0), "{}", text(&got.stderr));
    // Without the source, and under another name: detected by its magic bytes.
    std::fs::remove_file(dir.path().join("prog.fg")).unwrap();
    std::fs::rename(dir.path().join("prog.fgc"), dir.path().join("prog.bin")).unwrap();
    let got = run_in(dir.path(), &["run", "prog.bin", "a", "b"]);
    assert_eq!(text(&got.stdout), text(&want.stdout));
}

#[test]
fn fgc_build_with_output_and_rebuild() {
    let dir = TempDir::new("out");
    dir.write("prog.fg", "say 1 + 2\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    build(&dir, &["build", "prog.fg", "-o", "sub/x.fgc"]);
    build(&dir, &["build", "-o", "sub/x.fgc", "prog.fg"]);
    assert_eq!(dir.files(), ["prog.fg", "sub"]);
    let out = run_in(dir.path(), &["run", "sub/x.fgc"]);
    assert_eq!(text(&out.stdout), "3\n");
    // Building writes the same bytes every time.
    let first = dir.read("sub/x.fgc");
    build(&dir, &["build", "prog.fg", "-o", "sub/x.fgc"]);
    assert_eq!(dir.read("sub/x.fgc"), first);
    // An unwritable destination is an error, as is overwriting the source.
    let out = run_in(dir.path(), &["build", "prog.fg", "-o", "missing/x.fgc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: could not write 'missing/x.fgc'"), "{}", text(&out.stderr));
    let out = run_in(dir.path(), &["build", "prog.fg", "-o", "prog.fg"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(dir.read("prog.fg"), b"say 1 + 2\n");
    // Usage errors.
    assert_eq!(run_in(dir.path(), &["build"]).status.code(), Some(2));
    assert_eq!(run_in(dir.path(), &["build", "prog.fg", "-o"]).status.code(), Some(2));
}

#[test]
fn fgc_imports_are_compiled_in() {
    let dir = TempDir::new("imports");
    let case = corpus().join("statements");
    std::fs::copy(case.join("import_module.fg"), dir.path().join("main.fg")).unwrap();
    for e in std::fs::read_dir(case.join("import_module.files")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    build(&dir, &["build", "main.fg"]);
    let want = std::fs::read(case.join("import_module.out")).unwrap();
    // Run from another directory, where the imported files do not exist.
    let elsewhere = TempDir::new("imports-run");
    std::fs::copy(dir.path().join("main.fgc"), elsewhere.path().join("main.fgc")).unwrap();
    let out = run_in(elsewhere.path(), &["run", "main.fgc"]);
    assert_eq!(text(&out.stdout), text(&want), "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn fgc_errors_are_reported_like_the_source() {
    let dir = TempDir::new("errors");
    // A runtime error: same report, same exit status.
    dir.write("fail.fg", "fn inner(x) {\n  return x / 0\n}\nsay \"before\"\nsay inner(4)\n");
    build(&dir, &["build", "fail.fg"]);
    let want = run_in(dir.path(), &["run", "fail.fg"]);
    let got = run_in(dir.path(), &["run", "fail.fgc"]);
    assert_eq!(want.status.code(), Some(1));
    assert_eq!(got.status.code(), want.status.code());
    assert_eq!(text(&got.stdout), text(&want.stdout));
    assert_eq!(text(&got.stderr), text(&want.stderr));
    assert!(text(&got.stderr).contains("division by zero"));
    // A compile error: `forge build` reports it as `forge run` does, writing nothing.
    dir.write("bad.fg", "say 1\nlet = 2\n");
    let want = run_in(dir.path(), &["run", "bad.fg"]);
    let got = run_in(dir.path(), &["build", "bad.fg"]);
    assert_eq!(want.status.code(), Some(1));
    assert_eq!(got.status.code(), Some(1));
    assert_eq!(text(&got.stderr), text(&want.stderr));
    assert!(got.stdout.is_empty());
    assert!(!dir.path().join("bad.fgc").exists());
}

#[test]
fn fgc_damaged_files_are_rejected() {
    let dir = TempDir::new("damaged");
    dir.write("prog.fg", PROGRAM);
    build(&dir, &["build", "prog.fg"]);
    let good = dir.read("prog.fgc");
    // One flipped byte anywhere after the header.
    for at in [good.len() / 3, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        dir.write("corrupt.fgc", &bad);
        assert_load_error(&run_in(dir.path(), &["run", "corrupt.fgc"]), "corrupt.fgc", "corrupt");
    }
    // Truncated, in the header and in the payload.
    for n in [2, 10, good.len() / 2, good.len() - 1] {
        dir.write("short.fgc", &good[..n]);
        assert_load_error(&run_in(dir.path(), &["run", "short.fgc"]), "short.fgc", "truncated");
    }
    // Trailing bytes.
    let mut long = good.clone();
    long.extend_from_slice(b"\0\0");
    dir.write("long.fgc", &long);
    assert_load_error(&run_in(dir.path(), &["run", "long.fgc"]), "long.fgc", "corrupt");
    // Not bytecode at all, though named .fgc: a source file, an empty file.
    dir.write("source.fgc", "say 1\n");
    assert_load_error(&run_in(dir.path(), &["run", "source.fgc"]), "source.fgc", "not a Forge bytecode file");
    dir.write("empty.fgc", "");
    assert_load_error(&run_in(dir.path(), &["run", "empty.fgc"]), "empty.fgc", "not a Forge bytecode file");
    let mut magic = good.clone();
    magic[1] = b'X';
    dir.write("magic.fgc", &magic);
    assert_load_error(&run_in(dir.path(), &["run", "magic.fgc"]), "magic.fgc", "not a Forge bytecode file");
}

#[test]
fn fgc_from_another_version_asks_for_a_rebuild() {
    let dir = TempDir::new("version");
    dir.write("prog.fg", "say 1\n");
    build(&dir, &["build", "prog.fg"]);
    let mut bytes = dir.read("prog.fgc");
    // The header: magic (4), format version (2), version length (1), version.
    let n = bytes[6] as usize;
    let ours = text(&bytes[7..7 + n]);
    assert_eq!(ours, env!("CARGO_PKG_VERSION"));
    for b in &mut bytes[7..7 + n] {
        if b.is_ascii_digit() {
            *b = if *b == b'9' { b'8' } else { b'9' };
        }
    }
    let theirs = text(&bytes[7..7 + n]);
    dir.write("old.fgc", &bytes);
    let out = run_in(dir.path(), &["run", "old.fgc"]);
    assert_load_error(&out, "old.fgc", "forge build");
    let err = text(&out.stderr);
    assert!(err.contains(&format!("forge {theirs}")) && err.contains(&format!("forge {ours}")), "{err}");
    // A newer format version is refused the same way.
    let mut bytes = dir.read("prog.fgc");
    bytes[4] = bytes[4].wrapping_add(1);
    dir.write("newer.fgc", &bytes);
    assert_load_error(&run_in(dir.path(), &["run", "newer.fgc"]), "newer.fgc", "rebuild it with `forge build`");
}

/// Every program of a few conformance areas gives the same stdout and exit status
/// from its `.fgc` as from its source.
#[test]
fn fgc_conformance_sample_matches_the_source() {
    let mut checked = 0;
    for area in ["closures", "collections", "control", "functions", "errors"] {
        let adir = corpus().join(area);
        let Ok(entries) = std::fs::read_dir(&adir) else { continue };
        let mut files: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "fg")).collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let dir = TempDir::new(&format!("conf-{area}-{name}"));
            std::fs::copy(&f, dir.path().join(&name)).unwrap();
            let want = run_in(dir.path(), &["run", &name]);
            let built = run_in(dir.path(), &["build", &name]);
            if built.status.code() != Some(0) {
                // A compile error: `forge build` must report it exactly as `forge run`.
                assert_eq!(text(&built.stderr), text(&want.stderr), "{area}/{name}");
                continue;
            }
            let fgc = name.replace(".fg", ".fgc");
            let got = run_in(dir.path(), &["run", &fgc]);
            assert_eq!(text(&got.stdout), text(&want.stdout), "{area}/{name}: stdout differs");
            assert_eq!(got.status.code(), want.status.code(), "{area}/{name}: exit status differs");
            assert_eq!(text(&got.stderr), text(&want.stderr), "{area}/{name}: stderr differs");
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} programs were compared");
    eprintln!("{checked} conformance programs ran alike from source and from .fgc");
}
