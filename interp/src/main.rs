//! `forge`: runs Forge programs on the VM.
//!
//! ```text
//! forge run FILE [args…]        run a program (FILE may be a .fgc)
//! forge run --emit ir FILE      print the IR instead of running
//! forge -e CODE                 run CODE (every `;` becomes a newline)
//! forge check FILE              report diagnostics only
//! forge --strict run FILE       checker findings are errors
//! forge --version | --help
//! ```

mod vm;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use forge_abi::report::{self, Colour};
use forgec::diag::Diagnostic;
use forgec::ir::{self, Module};

const USAGE: &str = "usage: forge run FILE [args...]
       forge run --emit ir FILE
       forge -e CODE
       forge check FILE
       forge --version

Runs Forge programs. `forgec FILE -o OUT` builds a native executable.";

fn colour() -> Colour {
    if std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal() {
        Colour::Always
    } else {
        Colour::Never
    }
}

fn main() -> ExitCode {
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
    let _ = strict;
    match args.get(i).map(|s| s.as_str()) {
        Some("run") => {
            let mut rest = &args[i + 1..];
            let mut emit_ir = false;
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
            run_file(file, emit_ir)
        }
        Some("check") => {
            let Some(file) = args.get(i + 1) else {
                eprintln!("forge: check needs a FILE\n\n{USAGE}");
                return 2;
            };
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
            if args.is_empty() {
                0
            } else {
                0
            }
        }
        Some(other) => {
            eprintln!("forge: unknown command '{other}'\n\n{USAGE}");
            2
        }
    }
}

fn read_source(file: &str) -> Result<String, u8> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("could not read '{file}': {}", os_message(&e));
            eprint!("{}", report::render_short(&msg, colour()));
            return Err(1);
        }
    };
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

fn load(file: &str) -> Result<Module, u8> {
    let src = read_source(file)?;
    compile(file, &src)
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
    let is_builtin = |n: &str| libforge::builtins::lookup(n).is_some();
    let (module, _warnings) = ir::lower::lower_program(file, src, &program, &is_builtin, &mut ir::lower::FsLoader);
    if let Err(e) = ir::verify::verify(&module) {
        eprint!("{}", report::render_short(&format!("internal compiler error: {e}"), colour()));
        return Err(1);
    }
    Ok(module)
}

fn run_file(file: &str, emit_ir: bool) -> u8 {
    let module = match load(file) {
        Ok(m) => m,
        Err(c) => return c,
    };
    if emit_ir {
        print!("{}", ir::dump::dump_module(&module));
        return 0;
    }
    execute(Arc::new(module))
}

fn execute(module: Arc<Module>) -> u8 {
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
