//! The front end as the command-line tools use it: source text → verified IR module,
//! or the rendered diagnostics (the same text for `forge` and `forgec`).

use forge_abi::lines::LineIndex;
use forge_abi::report::{self, Colour};

use crate::diag::Diagnostic;
use crate::ir::{self, Module};

/// Renders one diagnostic in the report layout of spec 06 §6.9.2.
pub fn render_diagnostic(file: &str, src: &str, d: &Diagnostic, colour: Colour) -> String {
    let idx = LineIndex::new(src);
    let (line, col) = idx.line_col(src, d.span.start);
    let mut msg = d.message.clone();
    for h in &d.hints {
        msg.push('\n');
        msg.push_str(h);
    }
    report::render(file, &msg, line, col, idx.line_text(src, line), &[], colour)
}

/// Parses, lowers and verifies a file. On failure returns the text to print on stderr.
pub fn front_end(file: &str, src: &str, is_builtin: &dyn Fn(&str) -> bool, colour: Colour) -> Result<Module, String> {
    let (program, diags) = crate::syntax::parse(src);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(errors.iter().map(|d| render_diagnostic(file, src, d, colour)).collect());
    }
    lower(file, src, &program, is_builtin, colour).map(|(m, _)| m)
}

/// Lowers a parsed file (imports resolved from the working directory) and verifies the
/// result. Returns the module with what the lowering proved (warnings), or the text to
/// print on stderr.
pub fn lower(
    file: &str,
    src: &str,
    program: &crate::syntax::ast::Program,
    is_builtin: &dyn Fn(&str) -> bool,
    colour: Colour,
) -> Result<(Module, Vec<Diagnostic>), String> {
    let (module, warnings) = ir::lower::lower_program(file, src, program, is_builtin, &mut ir::lower::FsLoader);
    if let Err(e) = ir::verify::verify(&module) {
        return Err(report::render_short(&format!("internal compiler error: {e}"), colour));
    }
    Ok((module, warnings))
}
