//! What builtins need from the tier that runs them (the VM, or compiled code).

use crate::error::Result;
use crate::value::Value;

/// The running program, as seen by a builtin. The VM implements it over its frames;
/// native executables implement it over compiled code.
pub trait Host {
    /// Calls a Forge callable (function, lambda or builtin) with `args`. Missing
    /// parameters become `null`, extra arguments are dropped.
    fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value>;

    /// The module environment of the code that called the builtin (an `Env` value),
    /// used for method tables and global lookups by name.
    fn env(&self) -> Value;
}
