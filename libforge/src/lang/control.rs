//! Error-related control flow: `must`, `?`, `check`, and the bookkeeping of `retry`
//! and `timeout` blocks and of cancellation points.
//!
//! The tier owns the jumps and the handler stack; what each construct accepts, what it
//! yields and the exact text of its errors are decided here, once for every tier.

use std::time::{Duration, Instant};

use crate::display::display;
use crate::error::{fail, Error, Result};
use crate::ops;
use crate::value::{Kind, Value};

/// `must v`: unwraps an `Ok`, fails on an `Err` or `null`, and passes anything else
/// through.
pub fn must(v: Value) -> Result<Value> {
    match v.kind() {
        Kind::Ok => Ok(v.wrapped().unwrap_or_default()),
        Kind::Err => fail(format!("must failed: {}", display(&v.wrapped().unwrap_or_default()))),
        Kind::Null => fail("must failed: got null"),
        _ => Ok(v),
    }
}

/// What `v?` does next.
pub enum Propagate {
    /// Continue with this value (the content of an `Ok`).
    Continue(Value),
    /// Return this value (the `Err` itself) from the current function.
    Return(Value),
}

/// `v?`: an `Ok` yields its content; an `Err` returns from the function, or fails with
/// `unhandled error: …` when `top_level` (the main program or a task body, which have
/// nothing to return to); anything else fails.
pub fn question(v: Value, top_level: bool) -> Result<Propagate> {
    match v.kind() {
        Kind::Ok => Ok(Propagate::Continue(v.wrapped().unwrap_or_default())),
        Kind::Err => {
            if top_level {
                return fail(format!("unhandled error: {}", display(&v.wrapped().unwrap_or_default())));
            }
            Ok(Propagate::Return(v))
        }
        _ => fail("`?` expects Result value (Ok(...) or Err(...))"),
    }
}

/// The validation a `check` statement applies.
pub enum Check<'a> {
    /// `check v`: truthy.
    Truthy,
    /// `check v is empty`: `null`, `""` or `[]`.
    Empty,
    /// `check v is not empty`.
    NotEmpty,
    /// `check v between lo and hi`: numbers with `lo <= v <= hi`.
    Between { lo: &'a Value, hi: &'a Value },
    /// `check v contains needle`: strings only.
    Contains(&'a Value),
}

/// `check v …`: fails with `check failed: V did not pass validation` unless `v`
/// passes `how`.
pub fn check(v: &Value, how: Check<'_>) -> Result<()> {
    let ok = match how {
        Check::Truthy => ops::truthy(v),
        Check::Empty => is_empty(v),
        Check::NotEmpty => !is_empty(v),
        Check::Between { lo, hi } => match (v.as_f64(), lo.as_f64(), hi.as_f64()) {
            (Some(x), Some(a), Some(b)) => a <= x && x <= b,
            _ => false,
        },
        Check::Contains(needle) => match (v.as_str(), needle.as_str()) {
            (Some(h), Some(n)) => h.contains(n),
            _ => false,
        },
    };
    if !ok {
        return fail(format!("check failed: {} did not pass validation", display(v)));
    }
    Ok(())
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty())
}

// ----- retry -----
//
// A `retry` block keeps its state in three consecutive slots of the tier's frame:
// attempts allowed, attempts made, and the message of the last error.

/// Entering `retry (n) { … }` with `state[0]` holding `n`: normalises the count (3 when
/// not an Int, never negative) and resets the other two slots.
pub fn retry_begin(state: &mut [Value]) {
    let n = state[0].as_int().unwrap_or(3).max(0);
    state[0] = Value::int(n);
    state[1] = Value::int(0);
    state[2] = Value::str("");
}

/// Before each attempt: counts it, or fails with `retry failed after N attempts: LAST`
/// when every allowed attempt has been made.
pub fn retry_attempt(state: &mut [Value]) -> Result<()> {
    let n = state[0].as_int().unwrap_or(0);
    let a = state[1].as_int().unwrap_or(0);
    if a >= n {
        let last = display(&state[2]);
        return fail(format!("retry failed after {n} attempts: {last}"));
    }
    state[1] = Value::int(a + 1);
    Ok(())
}

/// After an attempt failed with the error object `err`: records its message and returns
/// the pause before the next attempt (100 ms times the attempts made so far), which the
/// tier sleeps through [`Host::sleep`](crate::host::Host::sleep); `None` when no
/// attempt is left.
pub fn retry_failed(state: &mut [Value], err: &Value) -> Option<Duration> {
    let msg = err.as_object().and_then(|m| m.get("message").cloned()).unwrap_or_default();
    state[2] = msg;
    let n = state[0].as_int().unwrap_or(0);
    let a = state[1].as_int().unwrap_or(0);
    if a < n {
        Some(Duration::from_millis(100 * a as u64))
    } else {
        None
    }
}

// ----- timeout -----

/// An open `timeout` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    pub deadline: Instant,
    /// The limit in whole seconds, for the error message.
    pub secs: u64,
}

/// Enters `timeout (secs) { … }`: a non-numeric limit means 5 seconds, a negative or
/// non-finite one 0. Registers the deadline with the isolate (so that waiting builtins
/// are cancelled) and returns the block, which the tier keeps until
/// [`timeout_end`] or [`timeout_unwind`].
pub fn timeout_begin(secs: &Value) -> Timeout {
    let seconds = match secs.as_f64() {
        Some(x) if x.is_finite() => x.max(0.0),
        Some(_) => 0.0,
        None => 5.0,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.min(1e9));
    crate::isolate::push_deadline(deadline);
    Timeout { deadline, secs: seconds as u64 }
}

/// Leaves a `timeout` block normally: fails with the timeout error if it ran past its
/// deadline.
pub fn timeout_end(t: Timeout) -> Result<()> {
    crate::isolate::pop_deadline();
    if Instant::now() >= t.deadline {
        return Err(timeout_error(t.secs));
    }
    Ok(())
}

/// Leaves a `timeout` block because `e` is propagating out of it. Returns the error to
/// propagate instead — the timeout error, without position or trace yet — when `e` is
/// catchable and the block ran past its deadline; `None` to keep `e`.
pub fn timeout_unwind(t: Timeout, e: &Error) -> Option<Error> {
    crate::isolate::pop_deadline();
    if e.is_catchable() && Instant::now() >= t.deadline {
        return Some(timeout_error(t.secs));
    }
    None
}

fn timeout_error(secs: u64) -> Error {
    Error::new(format!("timeout: operation exceeded {secs} second limit"))
}

/// A cancellation point (loop heads inside `timeout` blocks): fails with `cancelled`
/// once an enclosing block has run out of time.
pub fn check_cancel() -> Result<()> {
    if crate::isolate::cancelled() {
        return fail("cancelled");
    }
    Ok(())
}
