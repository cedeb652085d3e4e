//! `forgec`: compiles a Forge program to a native executable.
//!
//! ```text
//! forgec FILE [-o OUT] [-O0|-O2] [-g] [--emit obj|clif|ir] [--target T] [--static] [--time]
//! forgec --version | --help | --print targets | --print abi-stamp
//! ```

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use forge_abi::report::{render_short, Colour};
use forgec::aot::{self, Options, RuntimeStatus};
use forgec::targets::{self, Linker, Target};

const USAGE: &str = "usage: forgec FILE [-o OUT] [-O0|-O2] [-g] [--emit obj|clif|ir] [--target T] [--static] [--time]
       forgec --version
       forgec --print targets | abi-stamp

Compiles a Forge program into a native executable (default OUT: FILE without .fg).
  -o OUT        where to write the executable (or the --emit output)
  -O0 / -O2     optimisation level (default -O2)
  -g            keep symbols
  --emit KIND   write an object file (obj), Cranelift IR (clif) or Forge IR (ir) instead
  --target T    the target to compile for (default: this machine); forgec --print
                targets lists them with whether their runtime and linker are ready
  --static      a fully static executable: the statically linked target of the same
                machine (x86_64-linux -> x86_64-linux-musl)
  --time        print the time taken by the front end, code generation and the link";

fn colour() -> Colour {
    if std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal() {
        Colour::Always
    } else {
        Colour::Never
    }
}

fn fail(msg: &str) -> ExitCode {
    eprint!("{}", render_short(msg, colour()));
    ExitCode::from(1)
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("forgec: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

#[derive(PartialEq)]
enum Emit {
    Exe,
    Obj,
    Clif,
    Ir,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file: Option<String> = None;
    let mut out: Option<String> = None;
    let mut optimize = true;
    let mut debug = false;
    let mut timing = false;
    let mut emit = Emit::Exe;
    let mut target_name: Option<String> = None;
    let mut want_static = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--version" | "-V" => {
                println!("forgec {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "--print" => match args.get(i + 1).map(|s| s.as_str()) {
                Some("abi-stamp") => {
                    println!("{}", aot::abi_stamp());
                    return ExitCode::SUCCESS;
                }
                Some("targets") => return print_targets(),
                _ => return usage_error("--print takes 'targets' or 'abi-stamp'"),
            },
            "-o" => {
                let Some(o) = args.get(i + 1) else { return usage_error("-o needs a path") };
                out = Some(o.clone());
                i += 1;
            }
            "-O0" => optimize = false,
            "-O2" => optimize = true,
            "-g" => debug = true,
            "--time" => timing = true,
            "--static" => want_static = true,
            "--emit" => {
                emit = match args.get(i + 1).map(|s| s.as_str()) {
                    Some("obj") => Emit::Obj,
                    Some("clif") => Emit::Clif,
                    Some("ir") => Emit::Ir,
                    Some(other) => {
                        return usage_error(&format!("unknown --emit kind '{other}' (expected obj, clif or ir)"))
                    }
                    None => return usage_error("--emit needs a kind (obj, clif or ir)"),
                };
                i += 1;
            }
            "--target" => {
                let Some(t) = args.get(i + 1) else { return usage_error("--target needs a target") };
                target_name = Some(t.clone());
                i += 1;
            }
            _ if a.starts_with('-') => return usage_error(&format!("unknown option '{a}'")),
            _ => {
                if file.is_some() {
                    return usage_error("only one source file can be compiled at a time");
                }
                file = Some(a.to_string());
            }
        }
        i += 1;
    }
    let Some(file) = file else { return usage_error("no source file given") };
    let target = match target_name.as_deref().map(targets::lookup).unwrap_or_else(targets::host) {
        Ok(t) if want_static => targets::static_variant(t),
        other => other,
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            eprintln!("forgec: {e}");
            return ExitCode::from(2);
        }
    };
    // A native executable needs the target's runtime library and linker: check both
    // before compiling, so a missing one is reported at once.
    let runtime = if emit == Emit::Exe {
        let dir = match aot::find_runtime(target) {
            Ok(d) => d,
            Err(e) => return fail(&e),
        };
        if let Err(e) = aot::find_linker(target, Some(&dir)) {
            return fail(&e);
        }
        Some(dir)
    } else {
        None
    };
    let src = match std::fs::read(&file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                return fail(&format!(
                    "could not read '{file}': invalid UTF-8 at byte {}",
                    e.utf8_error().valid_up_to()
                ))
            }
        },
        Err(e) => return fail(&format!("could not read '{file}': {e}")),
    };
    let started = std::time::Instant::now();
    let is_builtin = |n: &str| libforge::builtins::lookup(n).is_some();
    let module = match forgec::driver::front_end(&file, &src, &is_builtin, colour()) {
        Ok(m) => m,
        Err(text) => {
            eprint!("{text}");
            return ExitCode::from(1);
        }
    };
    let default_out = {
        let p = Path::new(&file);
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "a".into());
        match emit {
            Emit::Exe => stem,
            Emit::Obj => format!("{stem}.o"),
            Emit::Clif => format!("{stem}.clif"),
            Emit::Ir => format!("{stem}.ir"),
        }
    };
    let out = PathBuf::from(out.unwrap_or(default_out));
    if out.is_dir() {
        return fail(&format!("cannot write '{}': it is a directory", out.display()));
    }
    let opts = Options { triple: target.triple.clone(), optimize, debug };
    match emit {
        Emit::Ir => return write_atomic(&out, forgec::ir::dump::dump_module(&module).as_bytes()),
        Emit::Clif => {
            // The Cranelift IR is printed while compiling.
            std::env::set_var("FORGE_DUMP_CLIF", "1");
            return match aot::emit_object(&module, &opts) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            };
        }
        _ => {}
    }
    let front = started.elapsed();
    let object = match aot::emit_object(&module, &opts) {
        Ok(o) => o,
        Err(e) => return fail(&format!("cannot compile '{file}' natively: {e}")),
    };
    let codegen = started.elapsed() - front;
    let Some(runtime) = runtime else { return write_atomic(&out, &object) };
    let r = aot::link(&object, &runtime, &out, target, &opts);
    if timing {
        let link = started.elapsed() - front - codegen;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "forgec: front end {:.1} ms, code generation {:.1} ms, link {:.1} ms, total {:.1} ms ({} lines, {} functions)",
            ms(front),
            ms(codegen),
            ms(link),
            ms(started.elapsed()),
            src.lines().count(),
            module.protos.len()
        );
    }
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// `forgec --print targets`: every target with whether its runtime library is built and
/// its linker found (a tab-free table, one target per line).
fn print_targets() -> ExitCode {
    let all = match targets::all() {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let rows: Vec<[String; 5]> = all.iter().map(target_row).collect();
    let header = ["target", "triple", "link", "runtime", "linker"].map(String::from);
    let mut widths = [0usize; 5];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (k, (w, c)) in widths.iter().zip(r).enumerate() {
            if k + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", line.trim_end());
    }
    println!();
    for t in all {
        let runner = if t.is_host() || t.runner.is_empty() {
            "runs here".to_string()
        } else {
            format!("runs here with: {}", t.runner)
        };
        println!("{}: {}; {runner}; also named {}", t.name, t.description, t.aliases.join(", "));
    }
    ExitCode::SUCCESS
}

fn target_row(t: &Target) -> [String; 5] {
    let name = if t.is_host() { format!("{} (host)", t.name) } else { t.name.clone() };
    let link = match t.link {
        targets::LinkMode::Static => "static",
        targets::LinkMode::Dynamic => "dynamic",
    };
    let (runtime, dir) = match aot::runtime_status(t) {
        RuntimeStatus::Ready(d) => (format!("built ({})", d.display()), Some(d)),
        RuntimeStatus::Stale(_) => (format!("stale: scripts/build-runtime --target {}", t.name), None),
        RuntimeStatus::Missing(_) => (format!("not built: scripts/build-runtime --target {}", t.name), None),
    };
    let linker = match (&t.linker, aot::find_linker(t, dir.as_deref())) {
        (_, Ok(l)) => format!("found ({})", l.program.display()),
        (Linker::RustLld, Err(_)) => "rust-lld: comes with the runtime".to_string(),
        (Linker::Driver(p), Err(_)) if t.linker_package.is_empty() => format!("{p}: not found"),
        (Linker::Driver(p), Err(_)) => format!("{p}: not found (apt-get install {})", t.linker_package),
    };
    [name, t.triple.to_string(), link.to_string(), runtime, linker]
}

fn write_atomic(out: &Path, bytes: &[u8]) -> ExitCode {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".forgec-{}.tmp", std::process::id()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        return fail(&format!("cannot write '{}': {e}", out.display()));
    }
    if let Err(e) = std::fs::rename(&tmp, out) {
        let _ = std::fs::remove_file(&tmp);
        return fail(&format!("cannot write '{}': {e}", out.display()));
    }
    ExitCode::SUCCESS
}
