//! Conversion builtins `int` and `float` (spec 10 §10.3).

use super::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{Kind, Value};

pub fn register(r: &mut Registry) {
    r.global("int", int);
    r.global("float", float);
}

/// `int(v)`: Int unchanged, Float truncated (saturating, NaN → 0), Bool → 1/0, and a
/// String parsed as a whole decimal integer with an optional sign.
fn int(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(v) = args.first() else {
        return fail("int() requires number, bool, or string");
    };
    match v.kind() {
        Kind::Int => Ok(v.clone()),
        // A float-to-int `as` cast truncates toward zero, saturates and maps NaN to 0.
        Kind::Float => Ok(Value::int(v.as_float().unwrap_or(0.0) as i64)),
        Kind::Bool => Ok(Value::int(i64::from(v.as_bool() == Some(true)))),
        Kind::Str => {
            let s = v.as_str().unwrap_or("");
            match parse_int(s) {
                Some(i) => Ok(Value::int(i)),
                None => fail(format!("cannot convert '{s}' to Int")),
            }
        }
        _ => fail("int() requires number, bool, or string"),
    }
}

/// Parses an optionally signed string of ASCII decimal digits (nothing else).
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// `float(v)`: Int converted, Float unchanged, String parsed as f64 (decimal, exponent,
/// `inf`, `infinity`, `NaN` in any case; no surrounding spaces).
fn float(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(v) = args.first() else {
        return fail("float() requires number or string");
    };
    match v.kind() {
        Kind::Int => Ok(Value::float(v.as_f64().unwrap_or(0.0))),
        Kind::Float => Ok(v.clone()),
        Kind::Str => {
            let s = v.as_str().unwrap_or("");
            match s.parse::<f64>() {
                Ok(f) => Ok(Value::float(f)),
                Err(_) => fail(format!("cannot convert '{s}' to Float")),
            }
        }
        _ => fail("float() requires number or string"),
    }
}

#[cfg(test)]
mod tests {
    use crate::builtins::arrays::testing::{call, call_err, show};
    use crate::value::Value;

    #[test]
    fn int_conversions() {
        assert_eq!(show(call("int", &[Value::int(5)])), "5");
        assert_eq!(show(call("int", &[Value::float(3.99)])), "3");
        assert_eq!(show(call("int", &[Value::float(-3.99)])), "-3");
        assert_eq!(show(call("int", &[Value::float(f64::NAN)])), "0");
        assert_eq!(show(call("int", &[Value::float(f64::INFINITY)])), "9223372036854775807");
        assert_eq!(show(call("int", &[Value::TRUE])), "1");
        assert_eq!(show(call("int", &[Value::FALSE])), "0");
        assert_eq!(show(call("int", &[Value::str("42")])), "42");
        assert_eq!(show(call("int", &[Value::str("-7")])), "-7");
        assert_eq!(show(call("int", &[Value::str("+7")])), "7");
        assert_eq!(call_err("int", &[Value::str(" 42")]), "cannot convert ' 42' to Int");
        assert_eq!(call_err("int", &[Value::str("4.5")]), "cannot convert '4.5' to Int");
        assert_eq!(call_err("int", &[Value::str("1_000")]), "cannot convert '1_000' to Int");
        assert_eq!(call_err("int", &[Value::str("+-1")]), "cannot convert '+-1' to Int");
        assert_eq!(call_err("int", &[Value::NULL]), "int() requires number, bool, or string");
        assert_eq!(call_err("int", &[]), "int() requires number, bool, or string");
    }

    #[test]
    fn float_conversions() {
        let v = call("float", &[Value::int(42)]);
        assert!(v.is_float());
        assert_eq!(show(v), "42");
        assert_eq!(show(call("float", &[Value::str("1e3")])), "1000");
        assert_eq!(show(call("float", &[Value::str("-2.5")])), "-2.5");
        assert_eq!(show(call("float", &[Value::str("inf")])), "inf");
        assert_eq!(show(call("float", &[Value::str("-Infinity")])), "-inf");
        assert_eq!(show(call("float", &[Value::str("nan")])), "NaN");
        assert_eq!(call_err("float", &[Value::str(" 1")]), "cannot convert ' 1' to Float");
        assert_eq!(call_err("float", &[Value::TRUE]), "float() requires number or string");
        assert_eq!(call_err("float", &[]), "float() requires number or string");
    }
}
