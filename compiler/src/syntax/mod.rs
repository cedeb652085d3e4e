//! Source text to AST: a hand-written lexer feeding an lalrpop grammar.
//!
//! Architecture invariant: parsing never fails — [`parse`] returns a (possibly
//! partial) program together with every diagnostic found; callers refuse to run a
//! program that has any error diagnostic.
//!
//! The pieces: [`lexer`] turns text into tokens and does the context work (which
//! newlines matter, which `{` opens what, contextual words, string interpolation);
//! `grammar.lalrpop` is the LR(1) grammar; `actions` holds the helpers its actions
//! use; `depth` guards the rest of the compiler against absurdly deep trees.

mod actions;
pub mod ast;
mod depth;
pub mod lexer;
pub mod token;

lalrpop_util::lalrpop_mod!(
    #[allow(
        clippy::all,
        clippy::pedantic,
        unused_parens,
        unused_variables,
        dead_code
    )]
    pub grammar,
    "/syntax/grammar.rs"
);

#[cfg(test)]
mod tests;

use actions::{parse_error_diagnostic, ParseCtx};
use ast::{Expr, Program, Span};
use lalrpop_util::ParseError;
use lexer::Lexer;

use crate::diag::Diagnostic;

/// Parses a whole source file. Never panics; the program is partial when there are
/// errors (statements that failed to parse are left out or replaced by placeholders).
/// Diagnostics are in source order, so the first one is the first problem.
pub fn parse(src: &str) -> (Program, Vec<Diagnostic>) {
    let ctx = ParseCtx::new(src, None);
    let mut lexer = Lexer::new(src);
    let result = grammar::ProgramParser::new().parse(&ctx, &mut lexer);
    let mut diags = lexer.take_diagnostics();
    diags.extend(ctx.take_errors());
    let mut program = match result {
        Ok(program) => program,
        Err(error) => {
            let at_eof = matches!(error, ParseError::UnrecognizedEof { .. });
            let mut diag = parse_error_diagnostic(error);
            if at_eof {
                // lalrpop places an unexpected end at the end of the last token; the
                // end of the text is where the input actually stops.
                diag.span = ctx.end_span();
            }
            diags.push(diag);
            Program::default()
        }
    };
    if let Some(span) = depth::too_deep(&program) {
        diags.push(Diagnostic::error(span, "nesting too deep"));
        depth::dismantle(std::mem::take(&mut program));
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    if diags.len() > MAX_DIAGNOSTICS {
        let hidden = diags.len() - MAX_DIAGNOSTICS;
        diags.truncate(MAX_DIAGNOSTICS);
        let last = diags[MAX_DIAGNOSTICS - 1].span;
        diags.push(Diagnostic::error(last, format!("too many errors ({hidden} more not shown)")));
    }
    (program, diags)
}

/// How many diagnostics [`parse`] returns at most (binary garbage would otherwise
/// yield one per byte); a final diagnostic says how many were left out.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Parses the trimmed text of an embedded `{expression}` of an interpolated string.
/// `offsets` gives the file offset of every byte of `code` plus one for its end; the
/// returned expression's spans are file offsets. On failure the diagnostic carries the
/// plain parse or lex message (the caller wraps it in
/// `invalid interpolation expression '{…}': …`).
pub(crate) fn parse_embedded(code: &str, offsets: &[u32], depth: u32) -> Result<Expr, Diagnostic> {
    let mut lexer = Lexer::embedded(code, offsets, depth);
    let tokens: Vec<_> = (&mut lexer).collect();
    if let Some(first) = lexer.take_diagnostics().into_iter().next() {
        return Err(first);
    }
    let ctx = ParseCtx::new(code, Some(offsets));
    let error = match grammar::InterpExprParser::new().parse(&ctx, tokens.iter().cloned()) {
        Ok(expr) => match ctx.take_errors().into_iter().next() {
            None => return Ok(expr),
            Some(first) => return Err(first),
        },
        Err(error) => error,
    };
    // An expression followed by more tokens is reported as such (01 §1.6.5).
    if let ParseError::UnrecognizedToken { token: (start, _, _), .. } = &error {
        let prefix_len = tokens.iter().take_while(|t| matches!(t, Ok((s, _, _)) if s < start)).count();
        if prefix_len > 0 {
            let prefix_ctx = ParseCtx::new(code, Some(offsets));
            let prefix = tokens[..prefix_len].iter().cloned();
            if grammar::InterpExprParser::new().parse(&prefix_ctx, prefix).is_ok() && !prefix_ctx.has_errors() {
                return Err(Diagnostic::error(Span::new(*start, *start), "trailing tokens"));
            }
        }
    }
    Err(parse_error_diagnostic(error))
}
