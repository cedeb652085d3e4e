//! Channels, `wait` and `uuid` (spec 10 §10.13, 07 §7.4–7.5).
//!
//! A channel is a bounded FIFO queue shared by reference: copying a channel value,
//! even into a task on another thread, yields another handle on the same queue. Values
//! cross it as deep copies ([`Detached`]) made by the sender and taken in by the
//! receiver. Blocking `send`/`receive` wake at least every 100 ms to honour the
//! cancellation of an expired `timeout` block.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{Detached, NativeObject, Value};

pub fn register(r: &mut Registry) {
    r.global("channel", channel);
    r.global("send", send);
    r.global("receive", receive);
    r.global("try_send", try_send);
    r.global("try_receive", try_receive);
    r.global("wait", wait);
    r.global("uuid", uuid);
}

/// The default capacity of `channel()`.
const DEFAULT_CAPACITY: usize = 32;

/// How often a blocked `send`/`receive` checks for cancellation.
const POLL: Duration = Duration::from_millis(100);

/// The state shared by every handle on one channel.
struct Shared {
    queue: Mutex<VecDeque<Detached>>,
    /// Signalled when a value is added.
    not_empty: Condvar,
    /// Signalled when a value is removed.
    not_full: Condvar,
    capacity: usize,
}

impl Shared {
    /// Locks the queue. A panic while the lock was held cannot leave the queue itself
    /// inconsistent, so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, VecDeque<Detached>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A channel handle: the native object behind a Forge `Channel` value.
pub struct Channel(Arc<Shared>);

impl Channel {
    pub fn new(capacity: usize) -> Channel {
        Channel(Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
        }))
    }

    /// Enqueues `v` if there is room; gives it back otherwise.
    fn offer(&self, v: Detached) -> std::result::Result<(), Detached> {
        let mut q = self.0.lock();
        if q.len() >= self.0.capacity {
            return Err(v);
        }
        q.push_back(v);
        drop(q);
        self.0.not_empty.notify_one();
        Ok(())
    }

    /// Dequeues the oldest value, if any.
    fn poll(&self) -> Option<Detached> {
        let v = self.0.lock().pop_front();
        if v.is_some() {
            self.0.not_full.notify_one();
        }
        v
    }

    /// Enqueues `v`, waiting while the channel is full.
    fn put(&self, v: Detached) -> Result<()> {
        let mut q = self.0.lock();
        while q.len() >= self.0.capacity {
            if crate::isolate::cancelled() {
                return fail("cancelled");
            }
            q = match self.0.not_full.wait_timeout(q, POLL) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        q.push_back(v);
        drop(q);
        self.0.not_empty.notify_one();
        Ok(())
    }

    /// Dequeues the oldest value, waiting while the channel is empty.
    fn take(&self) -> Result<Detached> {
        let mut q = self.0.lock();
        loop {
            if let Some(v) = q.pop_front() {
                drop(q);
                self.0.not_full.notify_one();
                return Ok(v);
            }
            if crate::isolate::cancelled() {
                return fail("cancelled");
            }
            q = match self.0.not_empty.wait_timeout(q, POLL) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

impl NativeObject for Channel {
    fn type_name(&self) -> &'static str {
        "Channel"
    }

    fn display(&self) -> String {
        "<channel>".to_string()
    }

    fn equals(&self, other: &dyn NativeObject) -> bool {
        other.as_any().downcast_ref::<Channel>().is_some_and(|o| Arc::ptr_eq(&self.0, &o.0))
    }

    fn deep_copy(&self, _memo: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(Channel(Arc::clone(&self.0))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The channel in argument `i`, if that argument is one.
fn channel_arg(args: &[Value], i: usize) -> Option<&Channel> {
    args.get(i).and_then(|v| v.native_ref::<Channel>())
}

fn channel(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let capacity = match args.first().and_then(Value::as_int) {
        Some(n) => usize::try_from(n).unwrap_or(0).max(1),
        None => DEFAULT_CAPACITY,
    };
    Ok(Value::native(Box::new(Channel::new(capacity))))
}

fn send(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() < 2 {
        return fail("send(channel, value) requires 2 arguments");
    }
    let Some(ch) = channel_arg(args, 0) else {
        return fail("send() requires a channel as first argument");
    };
    ch.put(args[1].detach())?;
    Ok(Value::NULL)
}

fn receive(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.is_empty() {
        return fail("receive(channel) requires 1 argument");
    }
    let Some(ch) = channel_arg(args, 0) else {
        return fail("receive() requires a channel as first argument");
    };
    Ok(ch.take()?.attach())
}

fn try_send(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() < 2 {
        return fail("try_send() requires (channel, value)");
    }
    let Some(ch) = channel_arg(args, 0) else {
        return fail("try_send() first argument must be a channel");
    };
    Ok(Value::bool(ch.offer(args[1].detach()).is_ok()))
}

fn try_receive(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.is_empty() {
        return fail("try_receive() requires a channel");
    }
    let Some(ch) = channel_arg(args, 0) else {
        return fail("try_receive() argument must be a channel");
    };
    Ok(match ch.poll() {
        Some(v) => Value::some(v.attach()),
        None => Value::NONE,
    })
}

/// The longest sleep `wait` performs (about 31 years), so that the deadline
/// computation cannot overflow.
const MAX_WAIT_SECS: u64 = 1_000_000_000;

/// The duration of `wait(seconds)`: negative and NaN count as 0, fractions are
/// honoured to the millisecond.
fn wait_duration(v: &Value) -> Option<Duration> {
    if let Some(n) = v.as_int() {
        return Some(Duration::from_secs(u64::try_from(n).unwrap_or(0).min(MAX_WAIT_SECS)));
    }
    let f = v.as_float()?;
    if f.is_nan() || f <= 0.0 {
        return Some(Duration::ZERO);
    }
    if f >= MAX_WAIT_SECS as f64 {
        return Some(Duration::from_secs(MAX_WAIT_SECS));
    }
    Some(Duration::from_millis((f * 1000.0) as u64))
}

fn wait(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(d) = args.first().and_then(wait_duration) else {
        return fail("wait() requires a number of seconds");
    };
    h.sleep(d)?;
    Ok(Value::NULL)
}

/// A random version-4 UUID, lower-case and hyphenated.
fn uuid(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b.iter_mut().for_each(|x| *x = fastrand::u8(..));
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(Value::string(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::wait_duration;
    use crate::builtins::arrays::testing::{call, call_err, i, j, s, show};
    use crate::ops::{equal, type_name};
    use crate::value::Value;

    #[test]
    fn channel_basics() {
        let ch = call("channel", &[i(1)]);
        assert_eq!(type_name(&ch), "Channel");
        assert_eq!(show(ch.clone()), "<channel>");
        assert_eq!(show(call("try_send", &[ch.clone(), s("a")])), "true");
        assert_eq!(show(call("try_send", &[ch.clone(), s("b")])), "false");
        assert_eq!(show(call("receive", std::slice::from_ref(&ch))), "a");
        assert_eq!(show(call("try_receive", std::slice::from_ref(&ch))), "None");
        assert_eq!(show(call("send", &[ch.clone(), j("[1, 2]")])), "null");
        assert_eq!(show(call("try_receive", std::slice::from_ref(&ch))), "Some([1, 2])");
        // Equality: a channel equals itself and its copies, not another channel.
        let other = call("channel", &[]);
        assert!(equal(&ch, &ch.clone()));
        assert!(!equal(&ch, &other));
        let copy = ch.detach().attach();
        assert!(equal(&ch, &copy));
        assert_eq!(show(call("try_send", &[copy, i(7)])), "true");
        assert_eq!(show(call("receive", &[ch])), "7");
    }

    #[test]
    fn capacities() {
        let fill = |ch: &Value| {
            (0..100).take_while(|&k| call("try_send", &[ch.clone(), i(k)]).as_bool() == Some(true)).count()
        };
        assert_eq!(fill(&call("channel", &[])), 32);
        assert_eq!(fill(&call("channel", &[i(0)])), 1);
        assert_eq!(fill(&call("channel", &[i(-5)])), 1);
        assert_eq!(fill(&call("channel", &[s("3")])), 32);
        assert_eq!(fill(&call("channel", &[i(3)])), 3);
    }

    #[test]
    fn channel_errors() {
        let ch = call("channel", &[]);
        assert_eq!(call_err("send", std::slice::from_ref(&ch)), "send(channel, value) requires 2 arguments");
        assert_eq!(call_err("send", &[i(1), i(2)]), "send() requires a channel as first argument");
        assert_eq!(call_err("receive", &[]), "receive(channel) requires 1 argument");
        assert_eq!(call_err("receive", &[i(1)]), "receive() requires a channel as first argument");
        assert_eq!(call_err("try_send", &[ch]), "try_send() requires (channel, value)");
        assert_eq!(call_err("try_send", &[i(1), i(2)]), "try_send() first argument must be a channel");
        assert_eq!(call_err("try_receive", &[]), "try_receive() requires a channel");
        assert_eq!(call_err("try_receive", &[j("{}")]), "try_receive() argument must be a channel");
    }

    #[test]
    fn values_cross_threads() {
        let ch = call("channel", &[i(2)]);
        let remote = ch.detach();
        let producer = std::thread::spawn(move || {
            let ch = remote.attach();
            for k in 0..10 {
                call("send", &[ch.clone(), j(&format!("{{\"n\": {k}}}"))]);
            }
        });
        let got: Vec<String> = (0..10).map(|_| show(call("receive", std::slice::from_ref(&ch)))).collect();
        producer.join().unwrap();
        assert_eq!(got[0], r#"{ "n": 0 }"#);
        assert_eq!(got[9], r#"{ "n": 9 }"#);
    }

    #[test]
    fn blocked_receive_is_cancelled() {
        let ch = call("channel", &[]);
        crate::isolate::push_deadline(Instant::now() + Duration::from_millis(50));
        let start = Instant::now();
        assert_eq!(call_err("receive", std::slice::from_ref(&ch)), "cancelled");
        let full = call("channel", &[i(1)]);
        call("send", &[full.clone(), i(1)]);
        assert_eq!(call_err("send", &[full, i(2)]), "cancelled");
        crate::isolate::pop_deadline();
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn waiting() {
        assert_eq!(wait_duration(&i(2)), Some(Duration::from_secs(2)));
        assert_eq!(wait_duration(&i(-2)), Some(Duration::ZERO));
        assert_eq!(wait_duration(&Value::float(0.5)), Some(Duration::from_millis(500)));
        assert_eq!(wait_duration(&Value::float(-0.5)), Some(Duration::ZERO));
        assert_eq!(wait_duration(&Value::float(f64::NAN)), Some(Duration::ZERO));
        assert_eq!(wait_duration(&Value::float(f64::INFINITY)), Some(Duration::from_secs(1_000_000_000)));
        assert_eq!(wait_duration(&i(i64::MAX)), Some(Duration::from_secs(1_000_000_000)));
        assert_eq!(wait_duration(&s("1")), None);
        let start = Instant::now();
        assert_eq!(show(call("wait", &[Value::float(0.05)])), "null");
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(call_err("wait", &[s("1")]), "wait() requires a number of seconds");
        assert_eq!(call_err("wait", &[]), "wait() requires a number of seconds");
    }

    #[test]
    fn uuids() {
        let a = call("uuid", &[]);
        let b = call("uuid", &[]);
        let t = a.as_str().unwrap();
        assert_eq!(t.len(), 36);
        assert_eq!(t.as_bytes()[14], b'4');
        assert!(matches!(t.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert!(t.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(t.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert_ne!(show(a), show(b));
    }
}
