//! Operators on values: truthiness, equality, ordering and arithmetic, with the exact
//! error texts of spec 02 §2.10–2.12 and 06 §6.10.

use std::cmp::Ordering;

use crate::display::{display, write_display};
use crate::error::{fail, Error, Result};
use crate::value::{Kind, Value};

/// `typeof(v)`.
pub fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        Kind::Int => "Int",
        Kind::Float => "Float",
        Kind::Bool => "Bool",
        Kind::Null | Kind::Undef => "Null",
        Kind::Str => "String",
        Kind::Array => "Array",
        Kind::Object => "Object",
        Kind::Ok | Kind::Err => "Result",
        Kind::Some | Kind::None => "Option",
        Kind::Function => {
            if v.as_function().is_some_and(|f| f.is_lambda) {
                "Lambda"
            } else {
                "Function"
            }
        }
        Kind::Builtin => "BuiltIn",
        Kind::Native => v.as_native().map(|n| n.type_name()).unwrap_or("Object"),
        Kind::Cell => type_name(&v.cell_get()),
        Kind::Env => "Object",
    }
}

/// Truthiness (spec 02 §2.8).
pub fn truthy(v: &Value) -> bool {
    match v.kind() {
        Kind::Bool => v.as_bool() == Some(true),
        Kind::Int => v.as_int() != Some(0),
        Kind::Float => {
            let f = v.as_float().unwrap_or(0.0);
            f != 0.0 || f.is_nan()
        }
        Kind::Null | Kind::Undef | Kind::None | Kind::Err => false,
        Kind::Str => !v.as_str().unwrap_or("").is_empty(),
        Kind::Array => !v.as_array().unwrap_or(&[]).is_empty(),
        Kind::Object => !v.as_object().map(|m| m.is_empty()).unwrap_or(true),
        _ => true,
    }
}

/// `a == b` (never fails). Int and Float compare numerically.
pub fn equal(a: &Value, b: &Value) -> bool {
    eq_impl(a, b, false)
}

/// Deep equality used inside containers and by `no_cap`: an Int never equals a Float.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    eq_impl(a, b, true)
}

fn eq_impl(a: &Value, b: &Value, strict_numbers: bool) -> bool {
    if a.same(b) && !a.is_float() && !a.is_function() {
        return true;
    }
    let (ka, kb) = (a.kind(), b.kind());
    match (ka, kb) {
        (Kind::Int, Kind::Int) => a.as_int() == b.as_int(),
        (Kind::Float, Kind::Float) => a.as_float() == b.as_float(),
        (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => !strict_numbers && a.as_f64() == b.as_f64(),
        (Kind::Str, Kind::Str) => a.as_str() == b.as_str(),
        (Kind::Bool, Kind::Bool) => a.as_bool() == b.as_bool(),
        (Kind::Null, Kind::Null) => true,
        (Kind::None, Kind::None) => true,
        (Kind::Some, Kind::Some) | (Kind::Ok, Kind::Ok) | (Kind::Err, Kind::Err) => {
            deep_equal(&a.wrapped().unwrap_or_default(), &b.wrapped().unwrap_or_default())
        }
        (Kind::Array, Kind::Array) => {
            let (x, y) = (a.as_array().unwrap_or(&[]), b.as_array().unwrap_or(&[]));
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_equal(p, q))
        }
        (Kind::Object, Kind::Object) => {
            let (x, y) = (a.as_object().expect("object"), b.as_object().expect("object"));
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k.as_str()).is_some_and(|w| deep_equal(v, w)))
        }
        (Kind::Builtin, Kind::Builtin) => a.builtin_index() == b.builtin_index(),
        (Kind::Native, Kind::Native) => match (a.as_native(), b.as_native()) {
            (Some(x), Some(y)) => x.equals(y),
            _ => false,
        },
        _ => false,
    }
}

/// The operator names used in `cannot apply OP to …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl Arith {
    pub fn name(self) -> &'static str {
        match self {
            Arith::Add => "Add",
            Arith::Sub => "Sub",
            Arith::Mul => "Mul",
            Arith::Div => "Div",
            Arith::Mod => "Mod",
        }
    }
}

pub const DIV_ZERO: &str = "division by zero\n  hint: check that the divisor is not zero before dividing";
pub const MOD_ZERO: &str = "modulo by zero\n  hint: check that the divisor is not zero before using %";

/// Int ⊕ Int with the overflow-to-Float rule.
#[inline]
pub fn int_arith(op: Arith, x: i64, y: i64) -> Result<Value> {
    let r = match op {
        Arith::Add => x.checked_add(y),
        Arith::Sub => x.checked_sub(y),
        Arith::Mul => x.checked_mul(y),
        Arith::Div => {
            if y == 0 {
                return fail(DIV_ZERO);
            }
            x.checked_div(y)
        }
        Arith::Mod => {
            if y == 0 {
                return fail(MOD_ZERO);
            }
            Some(x.checked_rem(y).unwrap_or(0))
        }
    };
    Ok(match r {
        Some(i) => Value::int(i),
        None => Value::float(float_arith(op, x as f64, y as f64)),
    })
}

#[inline]
pub fn float_arith(op: Arith, x: f64, y: f64) -> f64 {
    match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div => x / y,
        Arith::Mod => x % y,
    }
}

/// `a OP b` for the five arithmetic operators.
pub fn arith(op: Arith, a: &Value, b: &Value) -> Result<Value> {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return int_arith(op, x, y);
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return Ok(Value::float(float_arith(op, x, y)));
    }
    let (ka, kb) = (a.kind(), b.kind());
    if ka == Kind::Str || kb == Kind::Str {
        if op == Arith::Add {
            // Room for both sides (a number's text is at most 24 bytes; anything else
            // grows the string as it is written).
            let room = |v: &Value| v.as_str().map_or(24, str::len);
            let mut s = String::with_capacity(room(a) + room(b));
            write_display(&mut s, a);
            write_display(&mut s, b);
            return Ok(Value::string(s));
        }
        return if ka == kb { fail("invalid operator for String") } else { fail("invalid operator") };
    }
    Err(operand_error(op.name(), a, b))
}

/// The error for operands no arithmetic or ordering rule accepts.
fn operand_error(op: &str, a: &Value, b: &Value) -> Error {
    let (ka, kb) = (a.kind(), b.kind());
    if matches!(ka, Kind::Null | Kind::Undef) || matches!(kb, Kind::Null | Kind::Undef) {
        return Error::new("cannot perform arithmetic on null");
    }
    let (ta, tb) = (type_name(a), type_name(b));
    if ta == tb && (ta == "Bool" || ta == "Option") {
        return Error::new(format!("invalid operator for {ta}"));
    }
    if ka == Kind::Str || kb == Kind::Str {
        return Error::new("invalid operator");
    }
    Error::new(format!("cannot apply {op} to {ta} and {tb}"))
}

/// `-v`.
pub fn negate(v: &Value) -> Result<Value> {
    if let Some(i) = v.as_int() {
        return Ok(match i.checked_neg() {
            Some(n) => Value::int(n),
            None => Value::float(-(i as f64)),
        });
    }
    if let Some(f) = v.as_float() {
        return Ok(Value::float(-f));
    }
    fail("cannot negate non-number")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Gt,
    LtEq,
    GtEq,
}

impl Cmp {
    pub fn name(self) -> &'static str {
        match self {
            Cmp::Lt => "Lt",
            Cmp::Gt => "Gt",
            Cmp::LtEq => "LtEq",
            Cmp::GtEq => "GtEq",
        }
    }
    fn holds(self, o: Option<Ordering>) -> bool {
        match o {
            None => false,
            Some(o) => match self {
                Cmp::Lt => o == Ordering::Less,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::LtEq => o != Ordering::Greater,
                Cmp::GtEq => o != Ordering::Less,
            },
        }
    }
}

/// `a < b` and friends (numbers and strings only).
pub fn compare(op: Cmp, a: &Value, b: &Value) -> Result<bool> {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return Ok(op.holds(Some(x.cmp(&y))));
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return Ok(op.holds(x.partial_cmp(&y)));
    }
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        return Ok(op.holds(Some(x.cmp(y))));
    }
    Err(operand_error(op.name(), a, b))
}

/// A comparison that never fails (for `when` arms): false when not comparable.
pub fn compare_lenient(op: Cmp, a: &Value, b: &Value) -> bool {
    compare(op, a, b).unwrap_or(false)
}

/// Ordering used by `sort`: numbers numerically, strings by code point, anything else
/// equal (so the stable sort keeps those in place).
pub fn sort_order(a: &Value, b: &Value) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        return x.cmp(y);
    }
    Ordering::Equal
}

/// `display(a) == display(b)` — the sameness used by `contains`, `unique`, `assert_eq`.
pub fn display_equal(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        return x == y;
    }
    display(a) == display(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_goes_to_float() {
        let v = arith(Arith::Add, &Value::int(i64::MAX), &Value::int(1)).unwrap();
        assert_eq!(display(&v), "9223372036854776000");
        let v = arith(Arith::Div, &Value::int(i64::MIN), &Value::int(-1)).unwrap();
        assert_eq!(display(&v), "9223372036854776000");
        let v = arith(Arith::Mod, &Value::int(i64::MIN), &Value::int(-1)).unwrap();
        assert_eq!(display(&v), "0");
    }

    #[test]
    fn error_texts() {
        let e = arith(Arith::Add, &Value::array(vec![]), &Value::array(vec![])).unwrap_err();
        assert_eq!(e.message(), "cannot apply Add to Array and Array");
        let e = arith(Arith::Sub, &Value::NULL, &Value::int(1)).unwrap_err();
        assert_eq!(e.message(), "cannot perform arithmetic on null");
        let e = compare(Cmp::Lt, &Value::TRUE, &Value::int(3)).unwrap_err();
        assert_eq!(e.message(), "cannot apply Lt to Bool and Int");
        let e = arith(Arith::Mul, &Value::str("a"), &Value::int(3)).unwrap_err();
        assert_eq!(e.message(), "invalid operator");
    }
}
