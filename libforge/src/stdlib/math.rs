//! The `math` module (spec 11 §11.1): three Float constants and fifteen numeric
//! functions. Every function checks its argument kinds and never panics: Int
//! overflow turns into a Float result and Float-to-Int conversions saturate.

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{Kind, Value};

pub fn register(r: &mut Registry) {
    r.module_const("math", "pi", || Value::float(std::f64::consts::PI));
    r.module_const("math", "e", || Value::float(std::f64::consts::E));
    r.module_const("math", "inf", || Value::float(f64::INFINITY));
    r.module("math", "sqrt", sqrt);
    r.module("math", "pow", pow);
    r.module("math", "abs", abs);
    r.module("math", "max", max);
    r.module("math", "min", min);
    r.module("math", "floor", floor);
    r.module("math", "ceil", ceil);
    r.module("math", "round", round);
    r.module("math", "random", random);
    r.module("math", "random_int", random_int);
    r.module("math", "sin", sin);
    r.module("math", "cos", cos);
    r.module("math", "tan", tan);
    r.module("math", "log", log);
    r.module("math", "clamp", clamp);
}

/// A number argument as Int or Float.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn of(v: Option<&Value>) -> Option<Num> {
        let v = v?;
        match v.kind() {
            Kind::Int => v.as_int().map(Num::Int),
            Kind::Float => v.as_float().map(Num::Float),
            _ => None,
        }
    }

    fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// The single number argument of `math.NAME`, as f64.
fn number(args: &[Value], name: &str) -> Result<f64> {
    match Num::of(args.first()) {
        Some(n) => Ok(n.to_f64()),
        None => fail(format!("math.{name}() requires a number")),
    }
}

fn sqrt(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::float(number(args, "sqrt")?.sqrt()))
}

fn sin(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::float(number(args, "sin")?.sin()))
}

fn cos(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::float(number(args, "cos")?.cos()))
}

fn tan(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::float(number(args, "tan")?.tan()))
}

fn log(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::float(number(args, "log")?.ln()))
}

/// `pow(b, e)`: an Int when both are Ints, `e >= 0` fits in 32 bits and the result
/// fits in i64; a Float otherwise.
fn pow(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(b), Some(e)) = (Num::of(args.first()), Num::of(args.get(1))) else {
        return fail("math.pow() requires two numbers");
    };
    if let (Num::Int(b), Num::Int(e)) = (b, e) {
        if let Ok(e32) = u32::try_from(e) {
            if let Some(r) = b.checked_pow(e32) {
                return Ok(Value::int(r));
            }
        }
    }
    Ok(Value::float(b.to_f64().powf(e.to_f64())))
}

/// `abs(x)` keeps the kind; the absolute value of the smallest Int is a Float.
fn abs(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match Num::of(args.first()) {
        Some(Num::Int(i)) => Ok(match i.checked_abs() {
            Some(a) => Value::int(a),
            None => Value::float((i as f64).abs()),
        }),
        Some(Num::Float(f)) => Ok(Value::float(f.abs())),
        None => fail("math.abs() requires a number"),
    }
}

/// `max`/`min` of exactly the first two arguments: an Int if both are Ints.
fn extreme(args: &[Value], name: &str, take_max: bool) -> Result<Value> {
    let (Some(a), Some(b)) = (Num::of(args.first()), Num::of(args.get(1))) else {
        return fail(format!("math.{name}() requires two numbers"));
    };
    Ok(match (a, b) {
        (Num::Int(x), Num::Int(y)) => Value::int(if take_max { x.max(y) } else { x.min(y) }),
        _ => {
            let (x, y) = (a.to_f64(), b.to_f64());
            Value::float(if take_max { x.max(y) } else { x.min(y) })
        }
    })
}

fn max(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    extreme(args, "max", true)
}

fn min(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    extreme(args, "min", false)
}

/// `floor`/`ceil`/`round`: Ints pass through; Floats are rounded by `op` and converted
/// with saturation (NaN becomes 0, as Rust's `as` does).
fn to_int(args: &[Value], name: &str, op: fn(f64) -> f64) -> Result<Value> {
    match Num::of(args.first()) {
        Some(Num::Int(i)) => Ok(Value::int(i)),
        Some(Num::Float(f)) => Ok(Value::int(op(f) as i64)),
        None => fail(format!("math.{name}() requires a number")),
    }
}

fn floor(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    to_int(args, "floor", f64::floor)
}

fn ceil(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    to_int(args, "ceil", f64::ceil)
}

fn round(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    to_int(args, "round", f64::round)
}

fn random(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::float(fastrand::f64()))
}

fn random_int(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(lo), Some(hi)) = (args.first().and_then(Value::as_int), args.get(1).and_then(Value::as_int)) else {
        return fail("math.random_int() requires two integers (min, max)");
    };
    if lo > hi {
        return fail(format!("math.random_int() requires min <= max, got {lo} > {hi}"));
    }
    Ok(Value::int(fastrand::i64(lo..=hi)))
}

/// `clamp(v, lo, hi)` = `min(max(v, lo), hi)` for the four accepted kind combinations.
fn clamp(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let nums = (Num::of(args.first()), Num::of(args.get(1)), Num::of(args.get(2)));
    match nums {
        (Some(Num::Int(v)), Some(Num::Int(lo)), Some(Num::Int(hi))) => Ok(Value::int(v.max(lo).min(hi))),
        (Some(Num::Float(v)), Some(Num::Float(lo)), Some(Num::Float(hi))) => Ok(Value::float(v.max(lo).min(hi))),
        (Some(Num::Int(v)), Some(Num::Float(lo)), Some(Num::Float(hi))) => Ok(Value::float((v as f64).max(lo).min(hi))),
        (Some(Num::Float(v)), Some(Num::Int(lo)), Some(Num::Int(hi))) => {
            Ok(Value::float(v.max(lo as f64).min(hi as f64)))
        }
        _ => fail("math.clamp() requires (value, min, max) numbers"),
    }
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{call, call_err, f, i, keys_of, member, s, say, show, type_of};
    use crate::value::Value;

    fn m(name: &str, args: &[Value]) -> String {
        say("math", name, args)
    }

    #[test]
    fn members_in_catalogue_order() {
        let keys = keys_of(&crate::builtins::module_object("math"));
        assert_eq!(
            keys,
            [
                "pi",
                "e",
                "inf",
                "sqrt",
                "pow",
                "abs",
                "max",
                "min",
                "floor",
                "ceil",
                "round",
                "random",
                "random_int",
                "sin",
                "cos",
                "tan",
                "log",
                "clamp"
            ]
        );
        assert_eq!(show(&member("math", "sqrt")), "<builtin math.sqrt>");
    }

    #[test]
    fn constants_and_roots() {
        assert_eq!(show(&member("math", "pi")), "3.141592653589793");
        assert_eq!(show(&member("math", "e")), "2.718281828459045");
        assert_eq!(show(&member("math", "inf")), "inf");
        assert_eq!(m("sqrt", &[i(144)]), "12");
        assert_eq!(type_of("math", "sqrt", &[i(16)]), "Float");
        assert_eq!(m("sqrt", &[i(2)]), "1.4142135623730951");
        assert_eq!(m("sqrt", &[i(-1)]), "NaN");
        assert_eq!(m("pow", &[i(2), i(10)]), "1024");
        assert_eq!(type_of("math", "pow", &[i(2), i(10)]), "Int");
        assert_eq!(m("pow", &[i(2), i(-1)]), "0.5");
        assert_eq!(m("pow", &[f(2.0), f(0.5)]), "1.4142135623730951");
        assert_eq!(m("pow", &[i(0), i(0)]), "1");
        assert_eq!(m("pow", &[i(10), i(18)]), "1000000000000000000");
    }

    #[test]
    fn pow_overflow_gives_floats() {
        assert_eq!(m("pow", &[i(2), i(62)]), "4611686018427387904");
        assert_eq!(type_of("math", "pow", &[i(2), i(62)]), "Int");
        assert_eq!(m("pow", &[i(2), i(63)]), "9223372036854776000");
        assert_eq!(type_of("math", "pow", &[i(2), i(63)]), "Float");
        assert_eq!(m("pow", &[i(2), i(64)]), "18446744073709552000");
        assert_eq!(m("pow", &[i(10), i(19)]), "10000000000000000000");
        assert_eq!(m("pow", &[i(-2), i(63)]), "-9223372036854775808");
        assert_eq!(type_of("math", "pow", &[i(-2), i(63)]), "Int");
        assert_eq!(m("pow", &[i(2), i(5_000_000_000)]), "inf");
        assert_eq!(m("pow", &[i(1), i(5_000_000_000)]), "1");
        assert_eq!(type_of("math", "pow", &[i(2), f(2.0)]), "Float");
    }

    #[test]
    #[allow(clippy::approx_constant)] // -3.14 is the spec's example, not an approximation of pi.
    fn rounding_and_abs() {
        assert_eq!(m("floor", &[f(3.7)]), "3");
        assert_eq!(m("ceil", &[f(3.2)]), "4");
        assert_eq!(m("round", &[f(2.5)]), "3");
        assert_eq!(m("round", &[f(-2.5)]), "-3");
        assert_eq!(m("round", &[f(2.4)]), "2");
        assert_eq!(m("floor", &[f(-3.5)]), "-4");
        assert_eq!(m("ceil", &[f(-3.5)]), "-3");
        assert_eq!(m("floor", &[i(7)]), "7");
        assert_eq!(type_of("math", "floor", &[f(3.7)]), "Int");
        assert_eq!(m("floor", &[f(1e300)]), "9223372036854775807");
        assert_eq!(m("ceil", &[f(f64::NEG_INFINITY)]), "-9223372036854775808");
        assert_eq!(m("round", &[f(f64::NAN)]), "0");
        assert_eq!(m("abs", &[i(-42)]), "42");
        assert_eq!(m("abs", &[f(-3.14)]), "3.14");
        assert_eq!(m("abs", &[i(5)]), "5");
        assert_eq!(call("math", "abs", &[i(i64::MIN)]).as_float(), Some(9_223_372_036_854_775_808.0));
        assert_eq!(m("abs", &[i(i64::MIN)]), "9223372036854776000");
        assert_eq!(type_of("math", "abs", &[i(i64::MIN)]), "Float");
    }

    #[test]
    fn max_min_clamp() {
        assert_eq!(m("max", &[i(1), i(2), i(3)]), "2");
        assert_eq!(m("max", &[i(1), f(2.5)]), "2.5");
        assert_eq!(m("min", &[f(2.5), i(7)]), "2.5");
        assert_eq!(type_of("math", "min", &[f(2.0), i(7)]), "Float");
        assert_eq!(type_of("math", "max", &[i(2), i(7)]), "Int");
        assert_eq!(m("clamp", &[i(5), i(10), i(1)]), "1");
        assert_eq!(m("clamp", &[i(5), i(1), i(10)]), "5");
        assert_eq!(type_of("math", "clamp", &[i(5), i(1), i(10)]), "Int");
        assert_eq!(m("clamp", &[f(0.5), f(1.0), f(2.0)]), "1");
        assert_eq!(type_of("math", "clamp", &[i(5), f(1.0), f(2.5)]), "Float");
        assert_eq!(m("clamp", &[i(5), f(1.0), f(2.5)]), "2.5");
        assert_eq!(m("clamp", &[f(7.5), i(1), i(10)]), "7.5");
        assert_eq!(call_err("math", "clamp", &[i(5), i(1), f(2.0)]), "math.clamp() requires (value, min, max) numbers");
        assert_eq!(
            call_err("math", "clamp", &[f(5.0), f(1.0), i(2)]),
            "math.clamp() requires (value, min, max) numbers"
        );
        assert_eq!(call_err("math", "clamp", &[i(5), i(1)]), "math.clamp() requires (value, min, max) numbers");
    }

    #[test]
    fn trig_and_log() {
        assert_eq!(m("sin", &[i(0)]), "0");
        assert_eq!(m("cos", &[i(0)]), "1");
        assert_eq!(m("cos", &[f(std::f64::consts::PI)]), "-1");
        assert_eq!(
            m("round", &[f(call("math", "sin", &[f(std::f64::consts::FRAC_PI_2)]).as_f64().unwrap() * 1000.0)]),
            "1000"
        );
        assert_eq!(m("tan", &[i(0)]), "0");
        assert_eq!(m("log", &[i(1)]), "0");
        assert_eq!(m("log", &[f(std::f64::consts::E)]), "1");
        assert_eq!(m("log", &[i(0)]), "-inf");
        assert_eq!(m("log", &[i(-1)]), "NaN");
        let l100 = call("math", "log", &[i(100)]).as_f64().unwrap();
        assert_eq!(m("round", &[f(l100 * 1000.0)]), "4605");
        assert_eq!(m("floor", &[call("math", "sqrt", &[i(50)])]), "7");
    }

    #[test]
    fn random_ranges() {
        for _ in 0..200 {
            let r = call("math", "random", &[]).as_float().unwrap();
            assert!((0.0..1.0).contains(&r));
            let n = call("math", "random_int", &[i(-2), i(3)]).as_int().unwrap();
            assert!((-2..=3).contains(&n));
        }
        assert_eq!(m("random_int", &[i(4), i(4)]), "4");
        assert_eq!(type_of("math", "random_int", &[i(i64::MIN), i(i64::MAX)]), "Int");
        assert_eq!(call_err("math", "random_int", &[i(6), i(1)]), "math.random_int() requires min <= max, got 6 > 1");
        assert_eq!(
            call_err("math", "random_int", &[i(1), f(2.0)]),
            "math.random_int() requires two integers (min, max)"
        );
        assert_eq!(call_err("math", "random_int", &[]), "math.random_int() requires two integers (min, max)");
    }

    #[test]
    fn errors() {
        for name in ["sqrt", "abs", "floor", "ceil", "round", "sin", "cos", "tan", "log"] {
            assert_eq!(call_err("math", name, &[s("x")]), format!("math.{name}() requires a number"));
            assert_eq!(call_err("math", name, &[]), format!("math.{name}() requires a number"));
        }
        assert_eq!(call_err("math", "pow", &[i(2)]), "math.pow() requires two numbers");
        assert_eq!(call_err("math", "pow", &[s("2"), i(2)]), "math.pow() requires two numbers");
        assert_eq!(call_err("math", "max", &[i(2), Value::NULL]), "math.max() requires two numbers");
        assert_eq!(call_err("math", "min", &[]), "math.min() requires two numbers");
        assert_eq!(call_err("math", "sqrt", &[Value::TRUE]), "math.sqrt() requires a number");
    }
}
