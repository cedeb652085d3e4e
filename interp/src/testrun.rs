//! `forge test [DIR] [--filter TEXT] [-v]`: the test runner of spec 11 §11.23.
//!
//! Each `*.fg` file of DIR (not recursive, in path order) that has selected `@test`
//! functions is run once on a fresh VM (its top level may print), then its tests run
//! in source order sharing that state, with the `@before`/`@after` hooks around each.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use forgec::syntax::ast::{Program, StmtKind};
use libforge::output;

use crate::vm;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

struct TestFn {
    name: String,
    skip: bool,
}

/// The tests and hooks a parsed file declares.
fn collect(program: &Program, filter: Option<&str>) -> (Vec<TestFn>, Option<String>, Option<String>) {
    let mut tests = Vec::new();
    let (mut before, mut after) = (None, None);
    for s in &program.stmts {
        if let StmtKind::FnDef(fd) = &s.kind {
            let has = |n: &str| fd.decorators.iter().any(|d| d.name.text == n);
            if has("before") && before.is_none() {
                before = Some(fd.name.text.clone());
            }
            if has("after") && after.is_none() {
                after = Some(fd.name.text.clone());
            }
            if has("test") && filter.is_none_or(|f| fd.name.text.contains(f)) {
                tests.push(TestFn { name: fd.name.text.clone(), skip: has("skip") });
            }
        }
    }
    (tests, before, after)
}

/// The test directory: the argument, else `[test] directory` of `./forge.toml`, else
/// `tests`.
fn default_dir() -> String {
    if let Ok(text) = std::fs::read_to_string("forge.toml") {
        let mut in_test = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with('[') {
                in_test = l == "[test]";
            } else if in_test {
                if let Some((k, v)) = l.split_once('=') {
                    if k.trim() == "directory" {
                        return v.trim().trim_matches('"').to_string();
                    }
                }
            }
        }
    }
    "tests".to_string()
}

/// Runs the tests; returns the exit status.
pub fn run(args: &[String]) -> u8 {
    let mut dir: Option<String> = None;
    let mut filter: Option<String> = None;
    let mut verbose = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--filter" => {
                let Some(f) = args.get(i + 1) else {
                    eprintln!("forge: --filter needs TEXT");
                    return 2;
                };
                filter = Some(f.clone());
                i += 1;
            }
            "-v" | "--verbose" => verbose = true,
            a if a.starts_with('-') => {
                eprintln!("forge: unknown option '{a}' for test\n\nusage: forge test [DIR] [--filter TEXT] [-v]");
                return 2;
            }
            a => dir = Some(a.to_string()),
        }
        i += 1;
    }
    let dir = dir.unwrap_or_else(default_dir);
    let style = Style { on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() };
    let err_style = Style { on: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() };
    let path = Path::new(&dir);
    if !path.is_dir() {
        eprintln!("{}: test directory '{dir}' not found. Create it with test files.", err_style.paint("1;31", "error"));
        return 1;
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => {
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().and_then(|x| x.to_str()) == Some("fg")).collect()
        }
        Err(e) => {
            eprintln!("{}: cannot read test directory '{dir}': {e}", err_style.paint("1;31", "error"));
            return 1;
        }
    };
    files.sort();
    if files.is_empty() {
        output::write(&format!("  No test files found in '{dir}'\n  Create .fg files with @test functions\n"));
        return 0;
    }
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    output::write("\n");
    for file in &files {
        let shown = if dir == "." {
            file.file_name().unwrap_or_default().to_string_lossy().into_owned()
        } else {
            format!("{}/{}", dir.trim_end_matches('/'), file.file_name().unwrap_or_default().to_string_lossy())
        };
        let src = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                output::flush();
                eprintln!("  {}  {shown} — {e}", err_style.paint("31", "ERROR"));
                failed += 1;
                continue;
            }
        };
        let (program, diags) = forgec::syntax::parse(&src);
        if let Some(d) = diags.iter().find(|d| d.is_error()) {
            output::flush();
            eprintln!("  {}  {shown} — {}", err_style.paint("31", "ERROR"), d.message);
            failed += 1;
            continue;
        }
        let (tests, before, after) = collect(&program, filter.as_deref());
        if tests.is_empty() {
            continue;
        }
        output::write(&format!("  {}\n", style.paint("1", &shown)));
        let is_builtin = |n: &str| libforge::builtins::lookup(n).is_some();
        let module = match forgec::driver::lower(&shown, &src, &program, &is_builtin, forge_abi::report::Colour::Never)
        {
            Ok((m, _)) => Arc::new(m),
            Err(text) => {
                output::flush();
                eprint!("{text}");
                failed += 1;
                output::write("\n");
                continue;
            }
        };
        let mut machine = vm::Vm::new();
        match machine.run_main(module.clone()) {
            vm::Outcome::Done => {}
            vm::Outcome::Exit(c) => {
                output::flush();
                std::process::exit(c & 0xff);
            }
            vm::Outcome::Failed(e) => {
                output::flush();
                eprintln!("    {}  setup — {}", err_style.paint("31", "ERROR"), e.message());
                failed += 1;
                output::write("\n");
                continue;
            }
        }
        let env = machine.main_env();
        let lookup =
            |name: &str| env.as_env().and_then(|e| e.slot_of(name).map(|s| e.get(s))).filter(|v| !v.is_undef());
        for t in &tests {
            if t.skip {
                output::write(&format!("    {}  {}\n", style.paint("33", "SKIP"), t.name));
                skipped += 1;
                continue;
            }
            if let Some(h) = before.as_ref().and_then(|b| lookup(b)) {
                if let Err(e) = machine.call_value(&h, &[]) {
                    if let Some(c) = e.is_exit() {
                        output::flush();
                        std::process::exit(c & 0xff);
                    }
                    output::write(&format!(
                        "    {}  {} — @before hook failed: {}\n",
                        style.paint("31", "FAIL"),
                        t.name,
                        e.message()
                    ));
                    failed += 1;
                    continue;
                }
            }
            let started = Instant::now();
            let result = match lookup(&t.name) {
                Some(f) => machine.call_value(&f, &[]),
                None => Err(libforge::Error::new(format!("undefined variable: '{}'", t.name))),
            };
            let ms = started.elapsed().as_millis();
            let time = style.paint("90", &format!("({ms}ms)"));
            match result {
                Ok(_) => {
                    output::write(&format!("    {}    {} {time}\n", style.paint("32", "ok"), t.name));
                    passed += 1;
                }
                Err(e) => {
                    if let Some(c) = e.is_exit() {
                        output::flush();
                        std::process::exit(c & 0xff);
                    }
                    let mut text = format!("    {}  {} {time}\n", style.paint("31", "FAIL"), t.name);
                    for line in e.message().lines() {
                        text.push_str(&format!("          {line}\n"));
                    }
                    output::write(&text);
                    failed += 1;
                }
            }
            if let Some(h) = after.as_ref().and_then(|a| lookup(a)) {
                let _ = machine.call_value(&h, &[]);
            }
            if verbose {
                output::flush();
            }
        }
        output::write("\n");
        machine.teardown();
    }
    let total = passed + failed + skipped;
    let mut summary = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        summary.push_str(&format!(", {skipped} skipped"));
    }
    summary.push_str(&format!(", {total} total"));
    output::write(&format!("  {}\n\n", style.paint("1", &summary)));
    output::flush();
    if failed > 0 {
        1
    } else {
        0
    }
}
