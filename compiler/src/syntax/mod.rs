//! Source text to AST: a hand-written lexer feeding an lalrpop grammar.
//!
//! Architecture invariant: parsing never fails — [`parse`] returns a (possibly
//! partial) program together with every diagnostic found; callers refuse to run a
//! program that has any error diagnostic.

pub mod ast;
