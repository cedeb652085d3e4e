//! Execution helpers `cook`, `yolo`, `ghost` and `slay` (spec 10 §10.11, 07 §7.13).
//!
//! Each takes a named function or a lambda (builtins are rejected) and calls it with
//! no arguments. `cook` and `slay` report timings on standard error.

use std::time::{Duration, Instant};

use super::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.global("cook", cook);
    r.global("yolo", yolo);
    r.global("ghost", ghost);
    r.global("slay", slay);
}

/// The function argument, which must be a user function or lambda.
fn function_arg<'a>(args: &'a [Value], msg: &str) -> Result<&'a Value> {
    match args.first() {
        Some(f) if f.kind() == Kind::Function => Ok(f),
        _ => fail(msg),
    }
}

/// The stderr line of `cook` for an elapsed time `t`.
fn cook_line(t: Duration) -> String {
    let secs = t.as_secs_f64();
    let (colour, duration, comment) = if t < Duration::from_millis(1) {
        (32, format!("{:.2}\u{b5}s", secs * 1e6), "speed demon fr")
    } else if t < Duration::from_millis(100) {
        (32, format!("{:.2}ms", secs * 1e3), "no cap that was fast")
    } else if t < Duration::from_secs(1) {
        (33, format!("{:.0}ms", secs * 1e3), "it's giving adequate")
    } else {
        (31, format!("{secs:.2}s"), "bruh that took a minute")
    };
    format!(
        "\x1b[{colour}m\u{1F468}\u{200D}\u{1F373} COOKED:\x1b[0m done in {duration} \u{2014} \x1b[2m{comment}\x1b[0m\n"
    )
}

fn cook(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let f = function_arg(args, "cook() needs a function \u{2014} let him cook!")?;
    let start = Instant::now();
    let result = h.call(f, &[])?;
    crate::output::eprint(&cook_line(start.elapsed()));
    Ok(result)
}

/// `yolo(f)`: the result of `f()`, or `None` when it raises an error. An `exit()`
/// inside `f` still ends the program.
fn yolo(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let f = function_arg(args, "yolo() needs a function to send it on")?;
    match h.call(f, &[]) {
        Ok(v) => Ok(v),
        Err(e) if e.is_catchable() => Ok(Value::NONE),
        Err(e) => Err(e),
    }
}

fn ghost(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let f = function_arg(args, "ghost() needs a function to haunt")?;
    h.call(f, &[])
}

/// Timing statistics of `slay`, in milliseconds.
struct Stats {
    avg: f64,
    min: f64,
    max: f64,
    p99: f64,
}

/// Statistics of the run times `ms` (sorted in place). With no runs the average is NaN
/// and the others 0.
fn stats(ms: &mut [f64]) -> Stats {
    if ms.is_empty() {
        return Stats { avg: f64::NAN, min: 0.0, max: 0.0, p99: 0.0 };
    }
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let p99_index = ((n as f64 * 0.99).floor() as usize).min(n - 1);
    Stats { avg: ms.iter().sum::<f64>() / n as f64, min: ms[0], max: ms[n - 1], p99: ms[p99_index] }
}

fn slay_line(runs: i64, s: &Stats) -> String {
    format!(
        "\x1b[35m\u{1F485} SLAYED:\x1b[0m {runs}x runs \u{2014} avg {:.3}ms, min {:.3}ms, max {:.3}ms, p99 {:.3}ms\n",
        s.avg, s.min, s.max, s.p99
    )
}

/// `slay(f, n)`: calls `f()` `n` times (default 100; a non-Int `n` is 100, a negative
/// one 0) and returns `{avg_ms, min_ms, max_ms, p99_ms, runs, result}`.
fn slay(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let f = function_arg(args, "slay() needs a function to benchmark")?;
    let runs = args.get(1).and_then(Value::as_int).unwrap_or(100).max(0);
    let mut times = Vec::with_capacity(usize::try_from(runs).unwrap_or(0).min(1 << 16));
    let mut result = Value::NULL;
    for _ in 0..runs {
        let start = Instant::now();
        result = h.call(f, &[])?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let s = stats(&mut times);
    crate::output::eprint(&slay_line(runs, &s));
    let mut m = map_with_capacity(6);
    m.insert(Key::new("avg_ms"), Value::float(s.avg));
    m.insert(Key::new("min_ms"), Value::float(s.min));
    m.insert(Key::new("max_ms"), Value::float(s.max));
    m.insert(Key::new("p99_ms"), Value::float(s.p99));
    m.insert(Key::new("runs"), Value::int(runs));
    m.insert(Key::new("result"), result);
    Ok(Value::object(m))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{cook_line, slay_line, stats};
    use crate::builtins::arrays::testing::{b, call, call_err, func, host, i, s, show, try_call, try_call_with};
    use crate::value::Kind;

    #[test]
    fn cook_lines() {
        let line = |t| cook_line(t);
        assert_eq!(
            line(Duration::from_nanos(12_140)),
            "\x1b[32m👨‍🍳 COOKED:\x1b[0m done in 12.14µs — \x1b[2mspeed demon fr\x1b[0m\n"
        );
        assert_eq!(
            line(Duration::from_micros(3_500)),
            "\x1b[32m👨‍🍳 COOKED:\x1b[0m done in 3.50ms — \x1b[2mno cap that was fast\x1b[0m\n"
        );
        assert_eq!(
            line(Duration::from_millis(150)),
            "\x1b[33m👨‍🍳 COOKED:\x1b[0m done in 150ms — \x1b[2mit's giving adequate\x1b[0m\n"
        );
        assert_eq!(
            line(Duration::from_millis(2_346)),
            "\x1b[31m👨‍🍳 COOKED:\x1b[0m done in 2.35s — \x1b[2mbruh that took a minute\x1b[0m\n"
        );
    }

    #[test]
    fn slay_statistics() {
        let mut ms = vec![3.0, 1.0, 2.0, 10.0];
        let st = stats(&mut ms);
        assert_eq!((st.avg, st.min, st.max, st.p99), (4.0, 1.0, 10.0, 10.0));
        let mut ms: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(stats(&mut ms).p99, 199.0);
        let st = stats(&mut []);
        assert!(st.avg.is_nan());
        assert_eq!(
            slay_line(5, &stats(&mut [1.0, 2.0])),
            "\x1b[35m💅 SLAYED:\x1b[0m 5x runs — avg 1.500ms, min 1.000ms, max 2.000ms, p99 2.000ms\n"
        );
    }

    #[test]
    fn helpers_call_functions() {
        assert_eq!(show(call("cook", &[func("f", true)])), "42");
        assert_eq!(show(call("ghost", &[func("f", false)])), "42");
        assert_eq!(show(call("yolo", &[func("f", true)])), "42");
        assert_eq!(show(call("yolo", &[func("boom", true)])), "None");
        assert_eq!(show(call("yolo", &[func("errval", true)])), "Err(e)");
        assert_eq!(try_call("yolo", &[func("exit", true)]).unwrap_err().is_exit(), Some(3));
        assert_eq!(call_err("cook", &[func("boom", true)]), "boom");
        assert_eq!(call_err("ghost", &[func("boom", true)]), "boom");
        assert_eq!(call_err("cook", &[b("len")]), "cook() needs a function — let him cook!");
        assert_eq!(call_err("yolo", &[i(1)]), "yolo() needs a function to send it on");
        assert_eq!(call_err("ghost", &[]), "ghost() needs a function to haunt");
        assert_eq!(call_err("slay", &[s("f")]), "slay() needs a function to benchmark");
    }

    #[test]
    fn slay_runs() {
        let mut h = host();
        let r = try_call_with(&mut h, "slay", &[func("f", true), i(5)]).unwrap();
        assert_eq!(h.calls.len(), 5);
        let m = r.as_object().unwrap();
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["avg_ms", "min_ms", "max_ms", "p99_ms", "runs", "result"]);
        assert_eq!(m["avg_ms"].kind(), Kind::Float);
        assert_eq!(show(m["runs"].clone()), "5");
        assert_eq!(show(m["result"].clone()), "42");
        let mut h = host();
        let r = try_call_with(&mut h, "slay", &[func("f", true), s("x")]).unwrap();
        assert_eq!(h.calls.len(), 100);
        assert_eq!(show(r.as_object().unwrap()["runs"].clone()), "100");
        for n in [0, -3] {
            let mut h = host();
            let r = try_call_with(&mut h, "slay", &[func("f", true), i(n)]).unwrap();
            assert!(h.calls.is_empty());
            assert_eq!(
                show(r),
                r#"{ "avg_ms": NaN, "min_ms": 0, "max_ms": 0, "p99_ms": 0, "runs": 0, "result": null }"#
            );
        }
        let mut h = host();
        let e = try_call_with(&mut h, "slay", &[func("boom", true), i(5)]).unwrap_err();
        assert_eq!((e.message(), h.calls.len()), ("boom", 1));
    }
}
