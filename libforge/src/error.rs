//! Run-time errors as data.
//!
//! Every failing operation returns `Err(Error)`; the VM, the JIT and compiled code
//! carry it up as ordinary control flow (no unwinding through Rust frames). The message
//! is exactly the text of the spec's catalogue (06 §6.10), hint lines included.

use std::fmt;

use crate::value::Value;

/// A run-time error, or a non-local exit that travels the same way.
pub struct Error(Box<ErrorInner>);

pub struct ErrorInner {
    pub kind: ErrorKind,
    /// Source position (line, col) of the failing operation, once known.
    pub pos: Option<(u32, u32)>,
    /// File of the failing operation.
    pub file: Option<String>,
    /// Stack trace collected while unwinding, innermost first.
    pub trace: Vec<forge_abi::report::TraceLine>,
}

pub enum ErrorKind {
    /// An ordinary error with its full message (hint lines included).
    Runtime(String),
    /// `exit(n)`: ends the program; never caught.
    Exit(i32),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(Box::new(ErrorInner { kind: ErrorKind::Runtime(msg.into()), pos: None, file: None, trace: Vec::new() }))
    }

    pub fn exit(code: i32) -> Error {
        Error(Box::new(ErrorInner { kind: ErrorKind::Exit(code), pos: None, file: None, trace: Vec::new() }))
    }

    /// The full message (empty for exits).
    pub fn message(&self) -> &str {
        match &self.0.kind {
            ErrorKind::Runtime(m) => m,
            ErrorKind::Exit(_) => "",
        }
    }

    pub fn is_exit(&self) -> Option<i32> {
        match self.0.kind {
            ErrorKind::Exit(c) => Some(c),
            _ => None,
        }
    }

    /// Whether `try`/`safe`/`retry` may intercept it.
    pub fn is_catchable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Runtime(_))
    }

    pub fn inner(&self) -> &ErrorInner {
        &self.0
    }

    pub fn inner_mut(&mut self) -> &mut ErrorInner {
        &mut self.0
    }

    /// The error object a `catch` receives: `{message, type}`.
    pub fn to_value(&self) -> Value {
        let msg = self.message();
        let mut m = crate::value::new_map();
        m.insert(crate::value::Key::new("message"), Value::str(msg));
        m.insert(crate::value::Key::new("type"), Value::str(error_type(msg)));
        Value::object(m)
    }
}

/// The `type` of an error object, derived from its message (06 §6.7).
pub fn error_type(msg: &str) -> &'static str {
    if msg.contains("type") || msg.contains("Type") {
        "TypeError"
    } else if msg.contains("division by zero") {
        "ArithmeticError"
    } else if msg.contains("assertion") {
        "AssertionError"
    } else if msg.contains("index") || msg.contains("out of bounds") {
        "IndexError"
    } else if msg.contains("not found") || msg.contains("undefined") {
        "ReferenceError"
    } else if msg.contains("immutable") || msg.contains("cannot reassign") {
        "TypeError"
    } else {
        "RuntimeError"
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.kind {
            ErrorKind::Runtime(m) => write!(f, "Error({m:?})"),
            ErrorKind::Exit(c) => write!(f, "Exit({c})"),
        }
    }
}

/// Shorthand: `Err(Error::new(msg))`.
pub fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::new(msg))
}
