//! Language semantics shared by every execution tier.
//!
//! The VM (`interp/`) and native code generated from the same IR must behave exactly
//! alike, so everything an instruction means beyond moving values between registers
//! lives here, as safe functions over [`Value`](crate::value::Value)s with plain
//! signatures: field and index access, path assignment, method dispatch (spec 03
//! §3.13), user types, `match` tests, tasks, `must`/`?`/`check`, `retry`/`timeout`
//! bookkeeping, `schedule`/`watch` timers, `for` iteration, module environments and
//! error reports. Nothing here knows the IR: a tier decodes its instructions and calls
//! these functions with strings, slices, values and the small enums defined here.
//!
//! Functions that need something from the running tier take `&mut dyn Host`
//! ([`crate::host::Host`]); running a closure on a new isolate is a hook the tier
//! registers once ([`tasks::set_task_runner`]).

pub mod access;
pub mod control;
pub mod dispatch;
pub mod env;
pub mod iter;
pub mod matching;
pub mod misc;
pub mod report;
pub mod tasks;
pub mod timers;
pub mod types;

pub use access::PathStep;
