//! Result and Option constructors and helpers (spec 10 §10.8, 06 §6.2).
//!
//! `is_some`/`is_none` also understand user ADT values of a type named `Option`
//! (objects whose `__type__` is `"Option"`), judged by their `__variant__`.

use super::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{Kind, Value};

pub fn register(r: &mut Registry) {
    r.global("Ok", ok);
    r.global("ok", ok);
    r.global("Err", err);
    r.global("err", err);
    r.global("Some", some);
    r.global("is_ok", is_ok);
    r.global("is_err", is_err);
    r.global("is_some", is_some);
    r.global("is_none", is_none);
    r.global("unwrap", unwrap);
    r.global("unwrap_or", unwrap_or);
    r.global("unwrap_err", unwrap_err);
}

fn ok(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::ok(args.first().cloned().unwrap_or(Value::NULL)))
}

fn err(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::err(args.first().cloned().unwrap_or_else(|| Value::str("error"))))
}

fn some(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::some(args.first().cloned().unwrap_or(Value::NULL)))
}

fn is_ok(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().map(Value::kind) {
        Some(Kind::Ok) => Ok(Value::TRUE),
        Some(Kind::Err) => Ok(Value::FALSE),
        _ => fail("is_ok() requires a Result value"),
    }
}

fn is_err(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().map(Value::kind) {
        Some(Kind::Ok) => Ok(Value::FALSE),
        Some(Kind::Err) => Ok(Value::TRUE),
        _ => fail("is_err() requires a Result value"),
    }
}

/// The variant name of a user ADT value of a type named `Option`, if `v` is one.
fn option_adt_variant(v: &Value) -> Option<&str> {
    let m = v.as_object()?;
    if m.get("__type__").and_then(Value::as_str) != Some("Option") {
        return None;
    }
    Some(m.get("__variant__").and_then(Value::as_str).unwrap_or(""))
}

/// Whether `v` is present: `Some` and every ordinary value are, `None` and `null` are
/// not, and a user `Option` ADT value is when its variant is `Some`.
fn present(v: &Value) -> bool {
    match v.kind() {
        Kind::None | Kind::Null => false,
        _ => option_adt_variant(v).is_none_or(|variant| variant == "Some"),
    }
}

/// Whether `v` is absent: `None`, `null`, or a user `Option` ADT value whose variant
/// is `None`. (Not quite `!present`: an `Option` ADT value of another variant is
/// neither.)
fn absent(v: &Value) -> bool {
    match v.kind() {
        Kind::None | Kind::Null => true,
        _ => option_adt_variant(v) == Some("None"),
    }
}

fn is_some(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first() {
        Some(v) => Ok(Value::bool(present(v))),
        None => fail("is_some() requires an argument"),
    }
}

fn is_none(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first() {
        Some(v) => Ok(Value::bool(absent(v))),
        None => fail("is_none() requires an argument"),
    }
}

fn unwrap(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let v = args.first().cloned().unwrap_or_default();
    match v.kind() {
        Kind::Ok | Kind::Some => Ok(v.wrapped().unwrap_or_default()),
        Kind::Err => fail(format!("unwrap() on Err: {}", display(&v.wrapped().unwrap_or_default()))),
        Kind::None => fail("unwrap() called on None"),
        _ => fail("unwrap() requires a Result or Option value"),
    }
}

fn unwrap_or(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let [v, default] = args else {
        return fail("unwrap_or() requires (value, default)");
    };
    match v.kind() {
        Kind::Ok | Kind::Some => Ok(v.wrapped().unwrap_or_default()),
        Kind::Err | Kind::None => Ok(default.clone()),
        _ => fail("unwrap_or() requires a Result or Option value as first argument"),
    }
}

fn unwrap_err(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let v = args.first().cloned().unwrap_or_default();
    match v.kind() {
        Kind::Err => Ok(v.wrapped().unwrap_or_default()),
        Kind::Ok => fail("unwrap_err() called on Ok"),
        _ => fail("unwrap_err() requires a Result value"),
    }
}

#[cfg(test)]
mod tests {
    use crate::builtins::arrays::testing::{call, call_err, i, j, s, show};
    use crate::value::Value;

    #[test]
    fn constructors() {
        assert_eq!(show(call("Ok", &[i(1)])), "Ok(1)");
        assert_eq!(show(call("ok", &[])), "Ok(null)");
        assert_eq!(show(call("Err", &[s("bad")])), "Err(bad)");
        assert_eq!(show(call("err", &[])), "Err(error)");
        assert_eq!(show(call("Some", &[])), "Some(null)");
        assert_eq!(show(call("Some", &[i(2), i(3)])), "Some(2)");
    }

    #[test]
    fn predicates() {
        assert_eq!(show(call("is_ok", &[Value::ok(i(1))])), "true");
        assert_eq!(show(call("is_err", &[Value::ok(i(1))])), "false");
        assert_eq!(show(call("is_err", &[Value::err(i(1))])), "true");
        assert_eq!(call_err("is_ok", &[i(1)]), "is_ok() requires a Result value");
        assert_eq!(call_err("is_err", &[]), "is_err() requires a Result value");
        assert_eq!(show(call("is_some", &[Value::some(i(1))])), "true");
        assert_eq!(show(call("is_some", &[Value::NONE])), "false");
        assert_eq!(show(call("is_some", &[Value::NULL])), "false");
        assert_eq!(show(call("is_some", &[i(0)])), "true");
        assert_eq!(show(call("is_none", &[Value::NULL])), "true");
        assert_eq!(show(call("is_none", &[Value::NONE])), "true");
        assert_eq!(show(call("is_none", &[i(0)])), "false");
        assert_eq!(show(call("is_none", &[Value::some(Value::NULL)])), "false");
        let adt_some = j(r#"{"__type__": "Option", "__variant__": "Some", "_0": 1}"#);
        let adt_none = j(r#"{"__type__": "Option", "__variant__": "None"}"#);
        assert_eq!(show(call("is_some", std::slice::from_ref(&adt_some))), "true");
        assert_eq!(show(call("is_none", &[adt_some])), "false");
        assert_eq!(show(call("is_some", std::slice::from_ref(&adt_none))), "false");
        assert_eq!(show(call("is_none", &[adt_none])), "true");
        let adt_other = j(r#"{"__type__": "Option", "__variant__": "Maybe"}"#);
        assert_eq!(show(call("is_some", std::slice::from_ref(&adt_other))), "false");
        assert_eq!(show(call("is_none", &[adt_other])), "false");
        let shape = j(r#"{"__type__": "Shape", "__variant__": "None"}"#);
        assert_eq!(show(call("is_some", std::slice::from_ref(&shape))), "true");
        assert_eq!(show(call("is_none", &[shape])), "false");
        assert_eq!(call_err("is_some", &[]), "is_some() requires an argument");
        assert_eq!(call_err("is_none", &[]), "is_none() requires an argument");
    }

    #[test]
    fn unwrapping() {
        assert_eq!(show(call("unwrap", &[Value::some(i(6))])), "6");
        assert_eq!(show(call("unwrap", &[Value::ok(i(5))])), "5");
        assert_eq!(call_err("unwrap", &[Value::err(j("[1]"))]), "unwrap() on Err: [1]");
        assert_eq!(call_err("unwrap", &[Value::NONE]), "unwrap() called on None");
        assert_eq!(call_err("unwrap", &[i(1)]), "unwrap() requires a Result or Option value");
        assert_eq!(call_err("unwrap", &[]), "unwrap() requires a Result or Option value");
        assert_eq!(show(call("unwrap_or", &[Value::err(s("e")), i(7)])), "7");
        assert_eq!(show(call("unwrap_or", &[Value::NONE, i(7)])), "7");
        assert_eq!(show(call("unwrap_or", &[Value::some(i(1)), i(7)])), "1");
        assert_eq!(call_err("unwrap_or", &[Value::NONE]), "unwrap_or() requires (value, default)");
        assert_eq!(call_err("unwrap_or", &[Value::NONE, i(1), i(2)]), "unwrap_or() requires (value, default)");
        assert_eq!(
            call_err("unwrap_or", &[Value::NULL, i(1)]),
            "unwrap_or() requires a Result or Option value as first argument"
        );
        let e = call("unwrap_err", &[Value::err(i(42))]);
        assert_eq!(crate::ops::type_name(&e), "Int");
        assert_eq!(call_err("unwrap_err", &[Value::ok(i(1))]), "unwrap_err() called on Ok");
        assert_eq!(call_err("unwrap_err", &[Value::NONE]), "unwrap_err() requires a Result value");
    }
}
