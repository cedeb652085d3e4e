//! Static checks over the AST that run before a program does.
//!
//! `check` is the gradual type checker of spec 05 §5.8: flow-insensitive, one flat
//! namespace of variables, `Unknown` never reported. Its findings are warnings (printed
//! on stderr, then the program runs) or, with `--strict`, errors (nothing runs).

pub mod check;
