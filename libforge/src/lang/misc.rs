//! Small pieces of observable behaviour: the call-depth limit, `say`/`yell`/`whisper`,
//! string interpolation, and `ask`.
//!
//! Their output format and error texts are part of the language, so every tier calls
//! these functions instead of formatting values itself.

use crate::display::{display, write_display};
use crate::error::{fail, Error, Result};
use crate::value::Value;

/// Deepest nesting of Forge calls (spec 03 §3.10: at least 512). A tier counts its
/// Forge frames and the builtins running on behalf of Forge code, and fails with
/// [`depth_exceeded`] rather than nest deeper.
pub const MAX_DEPTH: usize = 512;

/// The error of a call that would nest deeper than [`MAX_DEPTH`].
pub fn depth_exceeded() -> Error {
    Error::new(format!(
        "maximum recursion depth exceeded ({MAX_DEPTH} frames)\n  hint: check for infinite recursion, or restructure to use iteration"
    ))
}

/// Which printing statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Print {
    Say,
    /// Upper-cased.
    Yell,
    /// Lower-cased.
    Whisper,
}

/// `say v` (and `yell`, `whisper`): the display of `v` and a newline, on the buffered
/// standard output.
pub fn print(how: Print, v: &Value) {
    let mut s = display(v);
    match how {
        Print::Say => {}
        Print::Yell => s = s.to_uppercase(),
        Print::Whisper => s = s.to_lowercase(),
    }
    s.push('\n');
    crate::output::write(&s);
}

/// An interpolated string: the displays of `parts`, concatenated.
pub fn concat(parts: &[Value]) -> Value {
    let mut s = String::new();
    for p in parts {
        write_display(&mut s, p);
    }
    Value::string(s)
}

/// `ask prompt`: fails, since this build has no HTTP client (the message says which
/// configuration is missing first).
pub fn ask(_prompt: &Value) -> Result<Value> {
    if std::env::var("FORGE_AI_KEY").is_err() && std::env::var("OPENAI_API_KEY").is_err() {
        return fail("ask requires FORGE_AI_KEY or OPENAI_API_KEY environment variable");
    }
    fail("ask error: the HTTP client is not available in this build")
}
