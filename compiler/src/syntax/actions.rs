//! Helpers for the grammar's actions: the parse context (source text for type
//! annotations, recovered errors) and small node builders that would clutter
//! `grammar.lalrpop`.

use std::cell::RefCell;

use lalrpop_util::{ErrorRecovery, ParseError};

use super::ast::*;
use super::lexer::LexError;
use super::token::Tok;
use crate::diag::Diagnostic;

/// What grammar actions can see besides their symbols.
pub struct ParseCtx<'a> {
    /// The text the tokens were lexed from (a file, or an embedded expression).
    text: &'a str,
    /// For an embedded expression: the file offset of every byte of `text`.
    offsets: Option<&'a [u32]>,
    /// Errors found by actions (invalid assignment targets, recovered parse errors).
    errors: RefCell<Vec<Diagnostic>>,
}

impl<'a> ParseCtx<'a> {
    pub fn new(text: &'a str, offsets: Option<&'a [u32]>) -> ParseCtx<'a> {
        ParseCtx { text, offsets, errors: RefCell::new(Vec::new()) }
    }

    /// The errors recorded so far.
    pub fn take_errors(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.errors.borrow_mut())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// The source text between two file offsets.
    pub fn slice(&self, start: usize, end: usize) -> String {
        let (start, end) = match self.offsets {
            None => (start, end),
            Some(offsets) => {
                // Offsets are non-decreasing; find the text bytes they came from.
                let local = |pos: usize| offsets.partition_point(|&o| (o as usize) < pos);
                (local(start), local(end))
            }
        };
        let end = end.min(self.text.len());
        let start = start.min(end);
        self.text.get(start..end).unwrap_or_default().to_string()
    }

    /// The empty span at the end of the text: where an unexpected end of input is
    /// reported (lalrpop reports the end of the last token instead).
    pub fn end_span(&self) -> Span {
        let end = match self.offsets {
            Some(offsets) => offsets.last().map_or(0, |&o| o as usize),
            None => self.text.len(),
        };
        Span::new(end, end)
    }

    pub fn error(&self, span: Span, message: impl Into<String>) {
        self.errors.borrow_mut().push(Diagnostic::error(span, message));
    }

    /// Records an error the parser recovered from; returns a placeholder statement.
    pub fn recover(&self, recovery: ErrorRecovery<usize, Tok, LexError>) -> Stmt {
        let at_eof = matches!(recovery.error, ParseError::UnrecognizedEof { .. });
        let mut diag = parse_error_diagnostic(recovery.error);
        if at_eof {
            diag.span = self.end_span();
        }
        let span = diag.span;
        self.errors.borrow_mut().push(diag);
        Stmt { kind: StmtKind::Expr(Expr { kind: ExprKind::Null, span }), span }
    }
}

/// Turns an lalrpop error into a diagnostic with the reference wording.
pub fn parse_error_diagnostic(error: ParseError<usize, Tok, LexError>) -> Diagnostic {
    match error {
        ParseError::UnrecognizedToken { token: (start, tok, end), expected } => {
            Diagnostic::error(Span::new(start, end), unexpected_message(&tok.to_string(), &expected))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            Diagnostic::error(Span::new(location, location), unexpected_message("Eof", &expected))
        }
        ParseError::ExtraToken { token: (start, tok, end) } => {
            Diagnostic::error(Span::new(start, end), format!("unexpected token: {tok}"))
        }
        ParseError::InvalidToken { location } => Diagnostic::error(Span::new(location, location), "invalid token"),
        ParseError::User { error } => match error {},
    }
}

/// `expected X, got Y` when exactly one terminal (or only a name) would do, else
/// `unexpected token: Y`.
fn unexpected_message(got: &str, expected: &[String]) -> String {
    let only_names =
        expected.iter().any(|t| t == "Ident") && expected.iter().all(|t| t == "Ident" || is_soft_keyword_terminal(t));
    match expected {
        _ if only_names => format!("expected identifier, got {got}"),
        [only] => format!("expected {}, got {got}", terminal_name(only)),
        _ => format!("unexpected token: {got}"),
    }
}

/// Whether a terminal as lalrpop reports it (`"\"type\""`) is a soft keyword.
fn is_soft_keyword_terminal(terminal: &str) -> bool {
    let word = terminal.trim_matches('"');
    super::token::keyword(word).is_some_and(|tok| tok.is_soft_keyword())
}

/// The reference name of a grammar terminal as lalrpop reports it (`"\"(\""`).
fn terminal_name(terminal: &str) -> String {
    let bare = terminal.trim_matches('"');
    let name = match bare {
        "Ident" => "identifier",
        "NL" => "Newline",
        "(" => "LParen",
        ")" => "RParen",
        "{" | "LObj" | "LStruct" => "LBrace",
        "}" => "RBrace",
        "[" => "LBracket",
        "]" => "RBracket",
        "," => "Comma",
        ":" => "Colon",
        "." => "Dot",
        "=" => "Eq",
        "->" => "Arrow",
        "=>" => "FatArrow",
        ">" => "Gt",
        "<" => "Lt",
        "|" => "Bar",
        "in" => "In",
        "to" => "To",
        "from" => "From",
        "catch" => "Catch",
        "power" => "Power",
        other => other,
    };
    name.to_string()
}

pub fn span(start: usize, end: usize) -> Span {
    Span::new(start, end)
}

pub fn expr(kind: ExprKind, start: usize, end: usize) -> Expr {
    Expr { kind, span: Span::new(start, end) }
}

pub fn stmt(kind: StmtKind, start: usize, end: usize) -> Stmt {
    Stmt { kind, span: Span::new(start, end) }
}

/// An expression used as a statement.
pub fn expr_stmt(e: Expr) -> Stmt {
    let span = e.span;
    Stmt { kind: StmtKind::Expr(e), span }
}

pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

pub fn logical(and: bool, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr { kind: ExprKind::Logical { and, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

pub fn pipe(lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr { kind: ExprKind::Pipe { lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

pub fn unary(op: UnaryOp, operand: Expr, start: usize) -> Expr {
    let span = Span::new(start, operand.span.end as usize);
    Expr { kind: ExprKind::Unary { op, operand: Box::new(operand) }, span }
}

/// `callee(args)`; a call of an unparenthesised field access is a method call
/// (03 §3.13).
pub fn call(callee: Expr, args: Vec<Expr>, end: usize) -> Expr {
    let span = Span::new(callee.span.start as usize, end);
    match callee.kind {
        ExprKind::Field { obj, name } if callee.span.end == name.span.end => {
            Expr { kind: ExprKind::MethodCall { recv: obj, name, args }, span }
        }
        kind => {
            let callee = Expr { kind, span: callee.span };
            Expr { kind: ExprKind::Call { callee: Box::new(callee), args }, span }
        }
    }
}

/// A call of a builtin by name (`wait(…)` in expression position).
pub fn builtin_call(name: &str, name_span: Span, args: Vec<Expr>, end: usize) -> Expr {
    let callee = Expr { kind: ExprKind::Ident(name.to_string()), span: name_span };
    let span = Span::new(name_span.start as usize, end);
    Expr { kind: ExprKind::Call { callee: Box::new(callee), args }, span }
}

/// Converts the left side of an assignment into a target: a name followed by field
/// and index steps. Anything else is reported.
pub fn assign_target(ctx: &ParseCtx, target: Expr) -> AssignTarget {
    let span = target.span;
    let mut path = Vec::new();
    let mut current = target;
    loop {
        match current.kind {
            ExprKind::Ident(text) => {
                path.reverse();
                return AssignTarget { root: Name { text, span: current.span }, path, span };
            }
            ExprKind::Field { obj, name } => {
                path.push(PathSeg::Field(name));
                current = *obj;
            }
            ExprKind::Index { obj, index } => {
                path.push(PathSeg::Index(*index));
                current = *obj;
            }
            _ => {
                ctx.error(span, "invalid assignment target");
                let root = Name { text: String::new(), span };
                return AssignTarget { root, path: Vec::new(), span };
            }
        }
    }
}

/// Appends a statement to a statement list, attaching the decorators written directly
/// before a function definition to it (04 §4.7.6). `@server` always stays a statement.
pub fn push_stmt(list: &mut Vec<Stmt>, mut stmt: Stmt) {
    if let StmtKind::FnDef(def) = &mut stmt.kind {
        let mut attached = Vec::new();
        while let Some(Stmt { kind: StmtKind::Decorator(d), .. }) = list.last() {
            if d.name.text == "server" {
                break;
            }
            if let Some(Stmt { kind: StmtKind::Decorator(d), .. }) = list.pop() {
                attached.push(d);
            }
        }
        if !attached.is_empty() {
            attached.reverse();
            attached.append(&mut def.decorators);
            def.decorators = attached;
        }
    }
    list.push(stmt);
}

/// A one-element statement list.
pub fn first_stmt(stmt: Stmt) -> Vec<Stmt> {
    let mut list = Vec::new();
    push_stmt(&mut list, stmt);
    list
}

/// A named type annotation.
pub fn named_type(ctx: &ParseCtx, name: String, args: Vec<TypeAnn>, start: usize, end: usize) -> TypeAnn {
    TypeAnn { kind: TypeKind::Named(name, args), text: ctx.slice(start, end), span: Span::new(start, end) }
}

/// A match arm whose body is a single statement.
pub fn stmt_arm(pattern: Pattern, body: Stmt, start: usize, end: usize) -> MatchArm {
    let span = body.span;
    MatchArm { pattern, body: Block { stmts: vec![body], span }, braced: false, span: Span::new(start, end) }
}
