//! `schedule every N units { … }` and `watch PATH { … }`: the timers of one isolate.
//!
//! A tier owns one [`Timers`] per isolate and, at its safe points (backward jumps while
//! schedules exist, and while the program waits), runs the closures that
//! [`Timers::take_due`] hands out, treating their outcome with [`timer_result`]. When
//! each timer is due and what counts as a change of a watched file are decided here for
//! every tier.

use std::time::{Duration, Instant, SystemTime};

use crate::error::{fail, Result};
use crate::value::Value;

/// The unit of a `schedule` interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalUnit {
    Seconds,
    Minutes,
    Hours,
}

struct Scheduled {
    func: Value,
    every: Duration,
    next: Instant,
}

struct Watched {
    func: Value,
    path: String,
    last: Option<SystemTime>,
    next: Instant,
}

/// The scheduled blocks and file watchers of one isolate.
#[derive(Default)]
pub struct Timers {
    schedules: Vec<Scheduled>,
    watches: Vec<Watched>,
}

impl Timers {
    pub fn new() -> Timers {
        Timers::default()
    }

    /// `schedule every interval unit { … }` with the block's closure `func`: first due
    /// one interval from now. A missing or negative interval means 60 seconds; the
    /// interval is at least 1 ms.
    pub fn schedule(&mut self, func: Value, interval: &Value, unit: IntervalUnit) {
        let mult = match unit {
            IntervalUnit::Seconds => 1u64,
            IntervalUnit::Minutes => 60,
            IntervalUnit::Hours => 3600,
        };
        let secs = match interval.as_int() {
            Some(i) if i >= 0 => i as u64 * mult,
            _ => 60,
        };
        let every = Duration::from_secs(secs).max(Duration::from_millis(1));
        self.schedules.push(Scheduled { func, every, next: Instant::now() + every });
    }

    /// `watch path { … }` with the block's closure `func`: the file's modification time
    /// is polled once a second, starting one second from now.
    pub fn watch(&mut self, func: Value, path: &Value) -> Result<()> {
        let p = match path.as_str() {
            Some(s) => s.to_string(),
            None => return fail("watch requires a string path"),
        };
        let last = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
        self.watches.push(Watched { func, path: p, last, next: Instant::now() + Duration::from_secs(1) });
        Ok(())
    }

    /// Whether any `schedule` block is active (backward jumps are then safe points).
    #[inline]
    pub fn has_schedules(&self) -> bool {
        !self.schedules.is_empty()
    }

    /// Whether no timer of any kind is active.
    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty() && self.watches.is_empty()
    }

    /// The closures due now, schedules first (each rescheduled one interval from now),
    /// then watchers whose file's modification time changed since the last poll. The
    /// tier calls each with no arguments, in order.
    pub fn take_due(&mut self) -> Vec<Value> {
        let now = Instant::now();
        let mut due = Vec::new();
        for s in &mut self.schedules {
            if now >= s.next {
                s.next = now + s.every;
                due.push(s.func.clone());
            }
        }
        for w in &mut self.watches {
            if now >= w.next {
                w.next = now + Duration::from_secs(1);
                let m = std::fs::metadata(&w.path).and_then(|m| m.modified()).ok();
                if m != w.last {
                    w.last = m;
                    due.push(w.func.clone());
                }
            }
        }
        due
    }

    /// The earlier of `end` and the moment the next timer is due.
    pub fn next_due(&self, end: Instant) -> Instant {
        let mut next = end;
        for s in &self.schedules {
            next = next.min(s.next);
        }
        for w in &self.watches {
            next = next.min(w.next);
        }
        next
    }

    /// Stops every timer.
    pub fn clear(&mut self) {
        self.schedules.clear();
        self.watches.clear();
    }
}

/// The outcome of running a due timer closure: errors are ignored, except an `exit`,
/// which propagates.
pub fn timer_result(outcome: Result<Value>) -> Result<()> {
    match outcome {
        Err(e) if e.is_exit().is_some() => Err(e),
        _ => Ok(()),
    }
}
