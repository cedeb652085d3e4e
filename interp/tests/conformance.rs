//! Runs the conformance corpus (`tests/conformance/`) under `forge run --vm` (the VM tier;
//! `conformance_jit.rs` covers the native tier).
//!
//! Each case runs in a fresh temporary directory exactly as `tests/conformance/check`
//! runs it (same comparison rules: exact stdout, exit status, `.err` fragments after
//! removing ANSI colours). In addition every program runs with `FORGE_CHECK_LEAKS=1`
//! and must end with zero live heap objects (debug builds count them).
//!
//! Cases that do not pass yet are listed, with a reason, in
//! `tests/conformance-known-failures.txt`. The test fails when a case outside that list
//! fails, and also when a listed case passes (so the list only ever shrinks). A summary
//! per area is printed.

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

fn cases() -> Vec<Case> {
    let corpus = root().join("tests/conformance");
    let mut out = Vec::new();
    let mut areas: Vec<_> = std::fs::read_dir(&corpus).expect("corpus").flatten().filter(|e| e.path().is_dir()).collect();
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
    out
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

/// Runs one case; `Ok(())` when it passes, else the reason.
fn run_case(forge: &Path, c: &Case) -> Result<(), String> {
    let tmp = std::env::temp_dir().join(format!("forge-conf-{}-{}-{}", std::process::id(), c.area, c.name));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let fg = format!("{}.fg", c.name);
    std::fs::copy(c.dir.join(&fg), tmp.join(&fg)).unwrap();
    let files = c.dir.join(format!("{}.files", c.name));
    if files.is_dir() {
        copy_dir(&files, &tmp);
    }
    let mut child = Command::new(forge)
        .arg("run")
        .arg("--vm")
        .arg(&fg)
        .current_dir(&tmp)
        .env("FORGE_CHECK_LEAKS", "1")
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
        let line = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(got.lines().count().min(want.lines().count()));
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

#[test]
fn conformance_corpus_under_forge_run() {
    let forge = PathBuf::from(env!("CARGO_BIN_EXE_forge"));
    let known = known_failures();
    let all = cases();
    assert!(all.len() > 100, "the corpus was not found");
    // Run on a few threads: the machine has two cores and cases mostly wait.
    let results: Vec<(String, String, Result<(), String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[Case]> = all.chunks(all.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let forge = &forge;
                s.spawn(move || chunk.iter().map(|c| (c.area.clone(), c.name.clone(), run_case(forge, c))).collect::<Vec<_>>())
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
    println!("conformance under forge run, per area (passed/total):");
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
    assert!(unexpected.is_empty() && fixed.is_empty(), "{} unexpected failures, {} fixed known failures", unexpected.len(), fixed.len());
}
