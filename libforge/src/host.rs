//! What builtins and the shared language semantics (`crate::lang`) need from the tier
//! that runs them (the VM, or compiled code).

use crate::error::Result;
use crate::value::Value;

/// The running program, as seen by a builtin or a `lang` function. The VM implements
/// it over its frames; native executables implement it over compiled code.
pub trait Host {
    /// Calls a Forge callable (function, lambda or builtin) with `args`. Missing
    /// parameters become `null`, extra arguments are dropped.
    fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value>;

    /// The module environment of the code that called the builtin (an `Env` value),
    /// used for method tables and global lookups by name.
    fn env(&self) -> Value;

    /// Sleeps for `dur` (the `wait` builtin). The VM overrides it to run due
    /// `schedule` blocks while it waits.
    fn sleep(&mut self, dur: std::time::Duration) -> Result<()> {
        sleep_cancellable(dur)
    }
}

/// Sleeps `dur`, waking at least every 100 ms to honour cancellation (an expired
/// `timeout`), and failing with `cancelled` when cancelled.
pub fn sleep_cancellable(dur: std::time::Duration) -> Result<()> {
    let end = std::time::Instant::now() + dur;
    loop {
        if crate::isolate::cancelled() {
            return crate::error::fail("cancelled");
        }
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(std::time::Duration::from_millis(100)));
    }
}
