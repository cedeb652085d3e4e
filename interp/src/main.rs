//! `forge`: runs Forge programs on the VM.
//!
//! ```text
//! forge run [--vm|--jit] FILE [args…]   run a program (FILE may be a .fgc); by default
//!                               programs that loop or recurse are compiled in memory first
//! forge build FILE [-o OUT]     compile FILE to bytecode (FILE.fgc, or OUT)
//! forge run --emit ir FILE      print the IR instead of running
//! forge -e CODE                 run CODE (every `;` becomes a newline)
//! forge check FILE              report diagnostics only
//! forge --strict run FILE       checker findings are errors
//! forge --version | --help
//! ```

mod jit;
mod testrun;
mod vm;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use forge_abi::report::{self, Colour};
use forgec::diag::Diagnostic;
use forgec::ir::{self, fgc, Module};

const USAGE: &str = "usage: forge run [--vm|--jit] [--workers N] FILE [args...]
       forge run --emit ir FILE
       forge build FILE [-o OUT]
       forge test [DIR] [--filter TEXT] [-v]
       forge -e CODE
       forge check FILE
       forge --version

Runs Forge programs. `forge build` compiles FILE to bytecode (FILE with the
extension .fgc, or OUT), which `forge run` runs like a source file.
`forgec FILE -o OUT` builds a native executable. `--workers N` runs an
@server program on N isolates (also FORGE_WORKERS=N, which compiled servers read).";

/// `forge check`: also show what the compiler proved about the program.
static CHECK_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `forge --strict …`: checker findings are errors.
static STRICT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn colour() -> Colour {
    if std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal() {
        Colour::Always
    } else {
        Colour::Never
    }
}

fn main() -> ExitCode {
    // The VM and the JIT offer every standard module.
    libforge::builtins::use_modules(libforge::stdlib::ALL.iter().map(|m| m.1).collect());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = cli(&args);
    libforge::output::flush();
    ExitCode::from(code)
}

fn cli(args: &[String]) -> u8 {
    let mut i = 0;
    let mut strict = false;
    while i < args.len() && args[i].starts_with("--") {
        match args[i].as_str() {
            "--strict" => strict = true,
            "--version" => {
                println!("forge {}", env!("CARGO_PKG_VERSION"));
                return 0;
            }
            "--help" => {
                println!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("forge: unknown option '{other}'\n\n{USAGE}");
                return 2;
            }
        }
        i += 1;
    }
    STRICT.store(strict, std::sync::atomic::Ordering::Relaxed);
    match args.get(i).map(|s| s.as_str()) {
        Some("run") => {
            let mut rest = &args[i + 1..];
            let mut emit_ir = false;
            let mut tier = match std::env::var("FORGE_TIER").as_deref() {
                Ok("vm") => Tier::Vm,
                Ok("jit") => Tier::Jit,
                _ => Tier::Auto,
            };
            loop {
                match rest.first().map(|s| s.as_str()) {
                    Some("--jit") => tier = Tier::Jit,
                    Some("--vm") => tier = Tier::Vm,
                    Some("--workers") => match rest.get(1).and_then(|n| n.parse::<usize>().ok()) {
                        Some(n) if (1..=1024).contains(&n) => {
                            libforge::server::set_workers(n);
                            rest = &rest[1..];
                        }
                        _ => {
                            eprintln!("forge: --workers takes a number from 1 to 1024\n\n{USAGE}");
                            return 2;
                        }
                    },
                    _ => break,
                }
                rest = &rest[1..];
            }
            if rest.first().map(|s| s.as_str()) == Some("--emit") {
                if rest.get(1).map(|s| s.as_str()) != Some("ir") {
                    eprintln!("forge: --emit takes 'ir'\n\n{USAGE}");
                    return 2;
                }
                emit_ir = true;
                rest = &rest[2..];
            }
            let Some(file) = rest.first() else {
                eprintln!("forge: run needs a FILE\n\n{USAGE}");
                return 2;
            };
            run_file(file, emit_ir, tier)
        }
        Some("build") => {
            let mut file = None;
            let mut out = None;
            let mut rest = args[i + 1..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "-o" => match rest.next() {
                        Some(o) if out.is_none() => out = Some(o.as_str()),
                        _ => {
                            eprintln!("forge: build takes one '-o OUT'\n\n{USAGE}");
                            return 2;
                        }
                    },
                    _ if file.is_none() => file = Some(a.as_str()),
                    other => {
                        eprintln!("forge: unexpected argument '{other}' to build\n\n{USAGE}");
                        return 2;
                    }
                }
            }
            let Some(file) = file else {
                eprintln!("forge: build needs a FILE\n\n{USAGE}");
                return 2;
            };
            build_file(file, out)
        }
        Some("test") => testrun::run(&args[i + 1..]),
        Some("check") => {
            let Some(file) = args.get(i + 1) else {
                eprintln!("forge: check needs a FILE\n\n{USAGE}");
                return 2;
            };
            CHECK_ONLY.store(true, std::sync::atomic::Ordering::Relaxed);
            match load(file) {
                Ok(_) => 0,
                Err(code) => code,
            }
        }
        Some("-e") => {
            let Some(code) = args.get(i + 1) else {
                eprintln!("forge: -e needs CODE\n\n{USAGE}");
                return 2;
            };
            let src = code.replace(';', "\n");
            match compile("<eval>", &src) {
                Ok(m) => execute(Arc::new(m)),
                Err(c) => c,
            }
        }
        Some("help") | None => {
            println!("{USAGE}");
            0
        }
        Some(other) => {
            eprintln!("forge: unknown command '{other}'\n\n{USAGE}");
            2
        }
    }
}

/// Reads a whole file; a failure is reported on stderr.
fn read_file(file: &str) -> Result<Vec<u8>, u8> {
    std::fs::read(file).map_err(|e| {
        let msg = format!("could not read '{file}': {}", os_message(&e));
        eprint!("{}", report::render_short(&msg, colour()));
        1
    })
}

/// The text of a source file, which must be UTF-8; a failure is reported on stderr.
fn source_text(file: &str, bytes: Vec<u8>) -> Result<String, u8> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let msg = format!("could not read '{file}': invalid UTF-8 at byte {at}");
            eprint!("{}", report::render_short(&msg, colour()));
            Err(1)
        }
    }
}

/// The OS error text with its number, as `std::io::Error` displays it.
fn os_message(e: &std::io::Error) -> String {
    e.to_string()
}

/// Loads a program: a `.fgc` file (recognised by its magic bytes, or by its extension,
/// so that a damaged one is reported as such) is decoded, else the source is compiled.
fn load(file: &str) -> Result<Module, u8> {
    let bytes = read_file(file)?;
    if fgc::is_fgc(&bytes) || Path::new(file).extension().is_some_and(|x| x == "fgc") {
        return load_fgc(file, &bytes);
    }
    let src = source_text(file, bytes)?;
    compile(file, &src)
}

/// Decodes a `.fgc` file. `fgc::decode` checks the header and checksum and verifies
/// the module (with its compiled-in imports) before it is returned, so nothing
/// unverified ever runs.
fn load_fgc(file: &str, bytes: &[u8]) -> Result<Module, u8> {
    fgc::decode(bytes).map_err(|e| {
        eprint!("{}", report::render_short(&format!("cannot load '{file}': {e}"), colour()));
        1
    })
}

/// `forge build FILE [-o OUT]`: compiles FILE and writes its bytecode, printing
/// nothing on success. Compile errors are reported as `forge run` reports them.
fn build_file(file: &str, out: Option<&str>) -> u8 {
    let module = match load(file) {
        Ok(m) => m,
        Err(c) => return c,
    };
    let target = out.map(PathBuf::from).unwrap_or_else(|| Path::new(file).with_extension("fgc"));
    let fail = |msg: String| {
        eprint!("{}", report::render_short(&msg, colour()));
        1
    };
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(&target, Path::new(file)) && !fgc::is_fgc(&std::fs::read(&target).unwrap_or_default()) {
        return fail(format!("refusing to overwrite the source file '{}' with bytecode", target.display()));
    }
    match write_atomic(&target, &fgc::encode(&module)) {
        Ok(()) => 0,
        Err(e) => fail(format!("could not write '{}': {}", target.display(), os_message(&e))),
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory,
/// which is then renamed over `path`, so readers see the old file or the new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"));
    };
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn print_diag(file: &str, src: &str, d: &Diagnostic) {
    let idx = forge_abi::lines::LineIndex::new(src);
    let (line, col) = idx.line_col(src, d.span.start);
    let mut msg = d.message.clone();
    for h in &d.hints {
        msg.push('\n');
        msg.push_str(h);
    }
    let text = idx.line_text(src, line);
    eprint!("{}", report::render(file, &msg, line, col, text, &[], colour()));
}

/// Parses and lowers a file; diagnostics go to stderr.
fn compile(file: &str, src: &str) -> Result<Module, u8> {
    let (program, diags) = forgec::syntax::parse(src);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in errors {
            print_diag(file, src, d);
        }
        return Err(1);
    }
    // The gradual checker (spec 05 §5.8): warnings, or errors with --strict.
    let findings = forgec::sema::check::check(&program);
    if STRICT.load(std::sync::atomic::Ordering::Relaxed) {
        if !findings.is_empty() {
            for f in &findings {
                eprint!("{}", report::render_short(f, colour()));
            }
            return Err(1);
        }
    } else {
        for f in &findings {
            eprint!("{}", report::render_warning(f, colour()));
        }
    }
    let is_builtin = |n: &str| libforge::builtins::lookup(n).is_some();
    let (module, warnings) = match forgec::driver::lower(file, src, &program, &is_builtin, colour()) {
        Ok(x) => x,
        Err(text) => {
            eprint!("{text}");
            return Err(1);
        }
    };
    // What the compiler proved (e.g. an assignment to an immutable binding, which fails
    // when it runs): shown by `forge check`; `forge run` reports it when it happens.
    if CHECK_ONLY.load(std::sync::atomic::Ordering::Relaxed) && !warnings.is_empty() {
        let idx = forge_abi::lines::LineIndex::new(src);
        for w in &warnings {
            let (line, col) = idx.line_col(src, w.span.start);
            eprint!("{}", report::render_warning(&format!("{file}:{line}:{col}: {}", w.message), colour()));
        }
    }
    Ok(module)
}

/// Which tier runs a program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// The VM.
    Vm,
    /// The whole program compiled in memory first (falls back to the VM, saying why).
    Jit,
    /// The JIT for programs that loop or recurse and are not huge, else the VM.
    Auto,
}

/// Whether compiling the whole program first is likely to pay off: it has a loop or a
/// function that calls something (so it may run long), and it is small enough that
/// compiling it takes milliseconds (Cranelift's time grows faster than linearly with
/// the size of one function, so a huge top level stays on the VM).
fn worth_compiling(m: &Module) -> bool {
    fn size(m: &Module) -> usize {
        m.protos.iter().map(|p| p.code.len()).sum::<usize>() + m.imports.iter().map(|i| size(i)).sum::<usize>()
    }
    fn biggest(m: &Module) -> usize {
        m.protos
            .iter()
            .map(|p| p.code.len())
            .max()
            .unwrap_or(0)
            .max(m.imports.iter().map(|i| biggest(i)).max().unwrap_or(0))
    }
    fn busy(m: &Module) -> bool {
        m.protos.iter().enumerate().any(|(pi, p)| {
            p.code.iter().enumerate().any(|(pc, ins)| match *ins {
                ir::Instr::Jmp { target } => (target as usize) <= pc,
                ir::Instr::Call { .. } | ir::Instr::CallMethod { .. } => pi > 0,
                _ => false,
            })
        }) || m.imports.iter().any(|i| busy(i))
    }
    busy(m) && size(m) <= 20_000 && biggest(m) <= 5_000
}

fn run_file(file: &str, emit_ir: bool, tier: Tier) -> u8 {
    let module = match load(file) {
        Ok(m) => m,
        Err(c) => return c,
    };
    if emit_ir {
        print!("{}", ir::dump::dump_module(&module));
        return 0;
    }
    match tier {
        Tier::Vm => execute(Arc::new(module)),
        Tier::Jit => execute_jit(Arc::new(module), true),
        Tier::Auto if worth_compiling(&module) => execute_jit(Arc::new(module), false),
        Tier::Auto => execute(Arc::new(module)),
    }
}

/// `forge run --jit`: the whole program compiled in memory by the native code
/// generator; falls back to the VM (saying why on stderr) when the program uses a
/// construct the code generator does not handle yet.
fn execute_jit(module: Arc<Module>, explicit: bool) -> u8 {
    let jitted = match jit::compile(&module) {
        Ok(j) => j,
        Err(why) => {
            if explicit {
                eprintln!("forge: --jit: running on the VM instead ({why})");
            }
            return execute(module);
        }
    };
    let again = module.clone();
    let runner = jit::runner(&jitted);
    libforge::server::set_program_runner(Box::new(move || {
        if let jit::Outcome::Failed(e) = runner.run() {
            eprint!("{}", vm::report(&e, &again, colour()));
        }
    }));
    let (outcome, mut ctx) = jit::run(&jitted);
    libforge::output::flush();
    let code = match outcome {
        jit::Outcome::Done => 0,
        jit::Outcome::Exit(c) => (c & 0xff) as u8,
        jit::Outcome::Failed(e) => {
            eprint!("{}", vm::report(&e, &module, colour()));
            1
        }
    };
    if std::env::var_os("FORGE_CHECK_LEAKS").is_some() {
        ctx.teardown();
        drop(ctx);
        let live = libforge::value::live_objects();
        if libforge::value::live_counting() && live != 0 {
            eprintln!("forge: leak check: {live} live objects at exit");
        }
    }
    code
}

fn execute(module: Arc<Module>) -> u8 {
    // Extra server workers run the whole program again on their own threads.
    let again = module.clone();
    libforge::server::set_program_runner(Box::new(move || {
        let mut machine = vm::Vm::new();
        if let vm::Outcome::Failed(e) = machine.run_main(again.clone()) {
            eprint!("{}", vm::report(&e, &again, colour()));
        }
    }));
    let mut machine = vm::Vm::new();
    let outcome = machine.run_main(module.clone());
    libforge::output::flush();
    let code = match outcome {
        vm::Outcome::Done => 0,
        vm::Outcome::Exit(c) => (c & 0xff) as u8,
        vm::Outcome::Failed(e) => {
            eprint!("{}", vm::report(&e, &module, colour()));
            1
        }
    };
    if std::env::var_os("FORGE_CHECK_LEAKS").is_some() {
        machine.teardown();
        drop(machine);
        drop(module);
        let live = libforge::value::live_objects();
        if libforge::value::live_counting() && live != 0 {
            eprintln!("forge: leak check: {live} live objects at exit");
        }
    }
    code
}
