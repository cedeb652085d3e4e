//! `spawn` and `await`: tasks run on new isolates, each on its own thread.
//!
//! A spawned closure and everything it reaches are deep-copied ([`Detached`]) into the
//! new isolate; its result comes back the same way through a [`TaskHandle`]. Running a
//! closure needs a tier (a new VM, or compiled code), so the tier registers how once
//! with [`set_task_runner`]; the threading, the handle and the treatment of a task's
//! failure are shared by every tier and live here.

use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::error::{fail, Result};
use crate::value::{Detached, NativeObject, Value};

/// Runs a detached zero-argument closure on a fresh isolate of the calling thread and
/// returns its detached result. Implementations attach the closure, call it, turn the
/// outcome into a value with [`task_result`], detach that value and then tear the
/// isolate down.
pub type TaskRunner = fn(Detached) -> Detached;

static RUNNER: OnceLock<TaskRunner> = OnceLock::new();

/// Registers the tier's [`TaskRunner`]. A process runs one tier's tasks: the first
/// registration wins and later calls are ignored.
pub fn set_task_runner(runner: TaskRunner) {
    let _ = RUNNER.set(runner);
}

/// The shared state of a spawned task: its result once finished.
struct TaskState {
    result: Mutex<Option<Detached>>,
    done: Condvar,
}

/// A task handle (`<task>`): a reference shared by every copy.
pub struct TaskHandle {
    state: Arc<TaskState>,
}

impl TaskHandle {
    /// Blocks until the task finished; returns (a copy of) its result.
    pub fn join(&self) -> Value {
        let mut guard = self.state.result.lock().unwrap_or_else(|e| e.into_inner());
        while guard.is_none() {
            guard = self.state.done.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        guard.as_ref().map(|d| d.duplicate().attach()).unwrap_or_default()
    }
}

impl NativeObject for TaskHandle {
    fn type_name(&self) -> &'static str {
        "TaskHandle"
    }
    fn display(&self) -> String {
        "<task>".into()
    }
    fn equals(&self, other: &dyn NativeObject) -> bool {
        other.as_any().downcast_ref::<TaskHandle>().is_some_and(|o| Arc::ptr_eq(&o.state, &self.state))
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(TaskHandle { state: self.state.clone() }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `spawn { … }` with the block's closure `f`: starts the task on a new thread (with a
/// 64 MiB stack) through the registered runner and returns its handle at once. If no
/// thread can be started, the task's result is `null`. Fails only when no tier has
/// registered a runner.
pub fn spawn(f: &Value) -> Result<Value> {
    let Some(&runner) = RUNNER.get() else {
        return fail("spawn is not available: no task runner is registered");
    };
    let state = Arc::new(TaskState { result: Mutex::new(None), done: Condvar::new() });
    let job = f.detach();
    let st = state.clone();
    let spawned = std::thread::Builder::new().stack_size(64 << 20).spawn(move || {
        let detached = runner(job);
        *st.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(detached);
        st.done.notify_all();
    });
    if spawned.is_err() {
        *state.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(Value::NULL.detach());
    }
    Ok(Value::native(Box::new(TaskHandle { state })))
}

/// The value a task yields for the outcome of its closure. An `exit(n)` inside a task
/// flushes the output and ends the whole process with `n`; any other error is reported
/// on stderr as `spawn error: MESSAGE` and the task yields `null`.
pub fn task_result(outcome: Result<Value>) -> Value {
    match outcome {
        Ok(v) => v,
        Err(e) => {
            if let Some(code) = e.is_exit() {
                crate::output::flush();
                std::process::exit(code);
            }
            crate::output::eprint(&format!("spawn error: {}\n", e.message()));
            Value::NULL
        }
    }
}

/// `await v`: the result of the task when `v` is a task handle (blocking until it
/// finished), else `v` itself.
pub fn await_value(v: Value) -> Value {
    match v.native_ref::<TaskHandle>() {
        Some(t) => t.join(),
        None => v,
    }
}
