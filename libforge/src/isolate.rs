//! Per-thread state of the running isolate that builtins consult: cancellation
//! deadlines of active `timeout` blocks.

use std::cell::RefCell;
use std::time::Instant;

thread_local! {
    static DEADLINES: RefCell<Vec<Instant>> = const { RefCell::new(Vec::new()) };
}

/// Enters a `timeout` block that must stop at `deadline`.
pub fn push_deadline(deadline: Instant) {
    DEADLINES.with(|d| d.borrow_mut().push(deadline));
}

/// Leaves the innermost `timeout` block.
pub fn pop_deadline() {
    DEADLINES.with(|d| {
        d.borrow_mut().pop();
    });
}

/// Whether any enclosing `timeout` block has run out of time.
pub fn cancelled() -> bool {
    DEADLINES.with(|d| {
        let d = d.borrow();
        if d.is_empty() {
            return false;
        }
        let now = Instant::now();
        d.iter().any(|&t| now >= t)
    })
}
