//! The conformance harness shared by the per-tier tests (`conformance.rs` for the VM,
//! `conformance_jit.rs`, `conformance_native.rs`).
//!
//! Each case runs in a fresh temporary directory exactly as `tests/conformance/check`
//! runs it (same comparison rules: exact stdout, exit status, `.err` fragments after
//! removing ANSI colours). Every program runs with `FORGE_CHECK_LEAKS=1` and must end
//! with zero live heap objects (builds with live-object counting report them), and the
//! JIT tier must not fall back to the VM.
//!
//! Cases that do not pass yet are listed, with a reason, in
//! `tests/conformance-known-failures.txt`. A run fails when a case outside that list
//! fails, and also when a listed case passes (so the list only ever shrinks). A summary
//! per area is printed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Case {
    area: String,
    name: String,
    dir: PathBuf,
}

/// The vendored corpus (`tests/conformance`) and the project's own cases in the same
/// format (`tests/cases`).
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for corpus in [root().join("tests/conformance"), root().join("tests/cases")] {
        cases_in(&corpus, &mut out);
    }
    out
}

fn cases_in(corpus: &Path, out: &mut Vec<Case>) {
    let mut areas: Vec<_> =
        std::fs::read_dir(corpus).expect("corpus").flatten().filter(|e| e.path().is_dir()).collect();
    areas.sort_by_key(|e| e.file_name());
    for a in areas {
        let mut files: Vec<_> = std::fs::read_dir(a.path()).expect("area").flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let p = f.path();
            if p.extension().and_then(|x| x.to_str()) == Some("fg") {
                out.push(Case {
                    area: a.file_name().to_string_lossy().into_owned(),
                    name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                    dir: a.path(),
                });
            }
        }
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("files dir").flatten() {
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

/// How the corpus is run.
#[derive(Clone, Debug)]
pub enum Tier {
    /// `forge run --vm`.
    Vm,
    /// `forge run --jit` (no fallback to the VM allowed).
    Jit,
    /// `forgec NAME.fg -o BIN` in a second directory, then `BIN` in the case directory
    /// (a compile error is judged as the run: exit status and stderr).
    Native { forgec: PathBuf },
}

fn setup_dir(c: &Case, tag: &str) -> PathBuf {
    let tmp = std::env::temp_dir().join(format!("forge-conf-{tag}-{}-{}-{}", std::process::id(), c.area, c.name));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(c.dir.join(format!("{}.fg", c.name)), tmp.join(format!("{}.fg", c.name))).unwrap();
    let files = c.dir.join(format!("{}.files", c.name));
    if files.is_dir() {
        copy_dir(&files, &tmp);
    }
    tmp
}

/// Runs one case; `Ok(())` when it passes, else the reason.
fn run_case(forge: &Path, tier: &Tier, c: &Case) -> Result<(), String> {
    let fg = format!("{}.fg", c.name);
    let tmp = setup_dir(c, "run");
    let mut compile_dir = None;
    let mut cmd = match tier {
        Tier::Vm | Tier::Jit => {
            let mut cmd = Command::new(forge);
            cmd.arg("run").arg(if matches!(tier, Tier::Vm) { "--vm" } else { "--jit" }).arg(&fg);
            cmd
        }
        Tier::Native { forgec } => {
            let cdir = setup_dir(c, "build");
            let bin = cdir.join("prog.bin");
            let out = Command::new(forgec)
                .arg(&fg)
                .arg("-o")
                .arg(&bin)
                .current_dir(&cdir)
                .env("NO_COLOR", "1")
                .env("FORGE_VERIFY_IR", "1")
                .output()
                .expect("spawn forgec");
            compile_dir = Some(cdir.clone());
            if out.status.success() {
                Command::new(&bin)
            } else {
                // Judge the compiler's output as the run's (lex/parse error cases).
                let mut cmd = Command::new("sh");
                cmd.arg("-c").arg("printf '%s' \"$ERR\" >&2; exit \"$CODE\"");
                cmd.env("ERR", String::from_utf8_lossy(&out.stderr).into_owned());
                cmd.env("CODE", out.status.code().unwrap_or(1).to_string());
                cmd
            }
        }
    };
    let mut child = cmd
        .current_dir(&tmp)
        .env("FORGE_CHECK_LEAKS", "1")
        .env("FORGE_VERIFY_IR", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn forge");
    // Read both pipes on threads so a chatty program cannot block.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = t1.join().unwrap();
    let stderr = strip_ansi(&String::from_utf8_lossy(&t2.join().unwrap()));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(d) = compile_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    let Some(status) = status else { return Err("timed out".into()) };
    let want_out = std::fs::read(c.dir.join(format!("{}.out", c.name))).unwrap_or_default();
    let want_code: i32 = std::fs::read_to_string(c.dir.join(format!("{}.code", c.name)))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let code = status.code().unwrap_or(-1);
    if stdout != want_out {
        let got = String::from_utf8_lossy(&stdout);
        let want = String::from_utf8_lossy(&want_out);
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        return Err(format!(
            "stdout differs at line {}: got {:?}, want {:?} (stderr: {})",
            line + 1,
            got.lines().nth(line).unwrap_or("<end>"),
            want.lines().nth(line).unwrap_or("<end>"),
            stderr.lines().next().unwrap_or("")
        ));
    }
    if code != want_code {
        return Err(format!("exit status {code}, want {want_code} (stderr: {})", stderr.lines().next().unwrap_or("")));
    }
    if let Ok(frags) = std::fs::read_to_string(c.dir.join(format!("{}.err", c.name))) {
        for f in frags.lines().filter(|l| !l.is_empty()) {
            if !stderr.contains(f) {
                return Err(format!("stderr lacks {f:?}"));
            }
        }
    }
    if let Some(l) = stderr.lines().find(|l| l.starts_with("forge: --jit:")) {
        return Err(format!("fell back to the VM: {l}"));
    }
    if let Some(l) = stderr.lines().find(|l| l.contains("leak check:")) {
        return Err(l.to_string());
    }
    Ok(())
}

fn known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/conformance-known-failures.txt")).unwrap_or_default();
    text.lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((case, why)) => (case.to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Runs the whole corpus in one tier and fails on any unexpected result.
pub fn run_corpus(forge: &Path, tier: Tier) {
    let known = known_failures();
    let all = cases();
    assert!(all.len() > 100, "the corpus was not found");
    // Run on a few threads: the machine has two cores and cases mostly wait.
    let results: Vec<(String, String, Result<(), String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[Case]> = all.chunks(all.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let tier = &tier;
                s.spawn(move || {
                    chunk.iter().map(|c| (c.area.clone(), c.name.clone(), run_case(forge, tier, c))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut per_area: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for (area, name, r) in &results {
        let id = format!("{area}/{name}");
        let e = per_area.entry(area.clone()).or_default();
        match r {
            Ok(()) => {
                e.0 += 1;
                if known.contains_key(&id) {
                    fixed.push(id);
                }
            }
            Err(why) => {
                e.1 += 1;
                if !known.contains_key(&id) {
                    unexpected.push(format!("FAIL {id}: {why}"));
                }
            }
        }
    }
    println!("conformance ({tier:?}), per area (passed/total):");
    for (area, (p, f)) in &per_area {
        println!("  {area:16} {p:3}/{}", p + f);
    }
    let passed: usize = per_area.values().map(|x| x.0).sum();
    println!("{passed} of {} cases pass; {} listed as known failures", results.len(), known.len());
    for u in &unexpected {
        println!("{u}");
    }
    for f in &fixed {
        println!("NOW PASSES (remove from tests/conformance-known-failures.txt): {f}");
    }
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} unexpected failures, {} fixed known failures",
        unexpected.len(),
        fixed.len()
    );
}
