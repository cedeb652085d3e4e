//! Diagnostics as data: a span, a message, optional hint lines. Rendering happens at
//! the CLI edge (see `forge_abi::report` for the error layout shared by every tier).

use crate::syntax::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a source file.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The message's first line, e.g. `unexpected token: Slash`.
    pub message: String,
    /// Extra lines printed after the message, each already starting with `  hint: `.
    pub hints: Vec<String>,
    pub span: Span,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), hints: Vec::new(), span }
    }
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, message: message.into(), hints: Vec::new(), span }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(format!("  hint: {}", hint.into()));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
