//! Assertions (spec 10 §10.9) and the GenZ debug kit (§10.10, 07 §7.14).
//!
//! Assertion failures are ordinary run-time errors whose message starts with
//! `assertion failed: `. `assert_eq`/`assert_ne` compare display renderings, `no_cap`
//! deep equality; `bet` and `ick` test for the Bool `false` only, not truthiness.

use super::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::ops::{deep_equal, display_equal, truthy, type_name};
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.global("assert", assert);
    r.global("assert_eq", assert_eq);
    r.global("assert_ne", assert_ne);
    r.global("assert_throws", assert_throws);
    r.global("satisfies", satisfies);
    r.global("sus", sus);
    r.global("bruh", bruh);
    r.global("bet", bet);
    r.global("no_cap", no_cap);
    r.global("ick", ick);
}

fn assert(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.first().is_some_and(truthy) {
        return Ok(Value::NULL);
    }
    let msg = args.get(1).map(display).unwrap_or_else(|| "assertion failed".to_string());
    fail(format!("assertion failed: {msg}"))
}

/// The `M: ` prefix of an assertion message (nothing when `msg` is absent or empty).
fn message_prefix(msg: Option<&Value>) -> String {
    match msg.map(display) {
        Some(m) if !m.is_empty() => format!("{m}: "),
        _ => String::new(),
    }
}

fn assert_eq(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return fail("assert_eq() requires at least 2 arguments");
    };
    if display_equal(a, b) {
        return Ok(Value::NULL);
    }
    let prefix = message_prefix(args.get(2));
    fail(format!("assertion failed: {prefix}expected `{}`, got `{}`", display(b), display(a)))
}

fn assert_ne(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return fail("assert_ne() requires at least 2 arguments");
    };
    if !display_equal(a, b) {
        return Ok(Value::NULL);
    }
    let prefix = message_prefix(args.get(2));
    fail(format!("assertion failed: {prefix}expected values to differ, both are `{}`", display(a)))
}

/// `assert_throws(f)`: calls `f()` and succeeds when it raises a catchable error
/// (an `exit()` inside `f` still ends the program).
fn assert_throws(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(f) = args.first() else {
        return fail("assert_throws() requires a function");
    };
    match h.call(f, &[]) {
        Ok(_) => fail("assertion failed: expected function to throw an error, but it succeeded"),
        Err(e) if e.is_catchable() => Ok(Value::TRUE),
        Err(e) => Err(e),
    }
}

/// The method names an interface value requires, or `None` when `iface` is not an
/// interface value (an object with a `methods` array).
fn interface_methods(iface: &Value) -> Option<Vec<String>> {
    let methods = iface.as_object()?.get("methods")?.as_array()?;
    let names = methods
        .iter()
        .filter_map(|m| match m.as_object() {
            Some(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
            None => m.as_str().map(str::to_string),
        })
        .collect();
    Some(names)
}

/// `satisfies(v, iface)`: structurally (an object with a key per required method) or
/// nominally (a struct instance whose type's method table has every method).
fn satisfies(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let [v, iface] = args else {
        return fail("satisfies() requires (value, interface)");
    };
    let (Some(required), Some(obj)) = (interface_methods(iface), v.as_object()) else {
        return Ok(Value::FALSE);
    };
    if required.iter().all(|m| obj.contains_key(m.as_str())) {
        return Ok(Value::TRUE);
    }
    let Some(ty) = obj.get("__type__").and_then(Value::as_str) else {
        return Ok(Value::FALSE);
    };
    let env = h.env();
    let nominal = env.as_env().is_some_and(|e| {
        let reg = e.registry.borrow();
        reg.methods.get(ty).is_some_and(|table| required.iter().all(|m| table.contains_key(m)))
    });
    Ok(Value::bool(nominal))
}

/// The stderr line of `sus(v)`: the display of `v` (a String in double quotes) and
/// its kind.
fn sus_line(v: &Value) -> String {
    let shown = if v.is_str() { format!("\"{}\"", display(v)) } else { display(v) };
    format!("\x1b[33m\u{1F50D} SUS CHECK:\x1b[0m {shown} \x1b[2m({})\x1b[0m\n", type_name(v))
}

fn sus(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(v) = args.first() else {
        return fail("sus() needs something to inspect, bestie");
    };
    crate::output::eprint(&sus_line(v));
    Ok(v.clone())
}

fn bruh(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let msg = args.first().map(display).unwrap_or_else(|| "something ain't right".to_string());
    fail(format!("BRUH: {msg}"))
}

/// The message argument of `bet`/`ick` when it is a String, else `default`.
fn string_message<'a>(args: &'a [Value], default: &'a str) -> &'a str {
    args.get(1).and_then(Value::as_str).unwrap_or(default)
}

fn bet(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(c) = args.first() else {
        return fail("bet() needs a condition, no cap");
    };
    if c.as_bool() == Some(false) {
        return fail(format!("LOST THE BET: {}", string_message(args, "condition was false")));
    }
    Ok(Value::TRUE)
}

fn no_cap(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return fail("no_cap() needs two values to compare, fr fr");
    };
    if deep_equal(a, b) {
        return Ok(Value::TRUE);
    }
    fail(format!("CAP DETECTED: {} \u{2260} {}", display(a), display(b)))
}

fn ick(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(c) = args.first() else {
        return fail("ick() needs a condition to reject");
    };
    if c.as_bool() == Some(false) {
        return Ok(Value::TRUE);
    }
    fail(format!("ICK: {}", string_message(args, "that's an ick")))
}

#[cfg(test)]
mod tests {
    use crate::builtins::arrays::testing::{b, call, call_err, func, host, i, j, s, show, try_call, try_call_with};
    use crate::value::Value;

    #[test]
    fn asserts() {
        assert_eq!(show(call("assert", &[Value::TRUE])), "null");
        assert_eq!(show(call("assert", &[i(1), s("m")])), "null");
        assert_eq!(call_err("assert", &[Value::FALSE]), "assertion failed: assertion failed");
        assert_eq!(call_err("assert", &[]), "assertion failed: assertion failed");
        assert_eq!(call_err("assert", &[s(""), s("empty")]), "assertion failed: empty");
        assert_eq!(call_err("assert", &[i(0), i(5)]), "assertion failed: 5");
    }

    #[test]
    fn assert_eq_ne() {
        assert_eq!(show(call("assert_eq", &[i(1), s("1")])), "null");
        assert_eq!(show(call("assert_eq", &[i(1), Value::float(1.0)])), "null");
        assert_eq!(
            call_err("assert_eq", &[s("a"), s("b"), s("names differ")]),
            "assertion failed: names differ: expected `b`, got `a`"
        );
        assert_eq!(call_err("assert_eq", &[i(1), i(2)]), "assertion failed: expected `2`, got `1`");
        assert_eq!(call_err("assert_eq", &[i(1), i(2), s("")]), "assertion failed: expected `2`, got `1`");
        assert_eq!(
            call_err("assert_eq", &[j("[1]"), j(r#"{"a": "x"}"#)]),
            r#"assertion failed: expected `{ "a": "x" }`, got `[1]`"#
        );
        assert_eq!(call_err("assert_eq", &[i(1)]), "assert_eq() requires at least 2 arguments");
        assert_eq!(show(call("assert_ne", &[i(1), i(2)])), "null");
        assert_eq!(call_err("assert_ne", &[i(1), s("1")]), "assertion failed: expected values to differ, both are `1`");
        assert_eq!(
            call_err("assert_ne", &[i(1), i(1), s("m")]),
            "assertion failed: m: expected values to differ, both are `1`"
        );
        assert_eq!(call_err("assert_ne", &[]), "assert_ne() requires at least 2 arguments");
    }

    #[test]
    fn assert_throws_calls() {
        assert_eq!(show(call("assert_throws", &[func("boom", true)])), "true");
        // A non-callable raises "cannot call Int", which counts as a throw.
        assert_eq!(show(call("assert_throws", &[i(3)])), "true");
        assert_eq!(show(call("assert_throws", &[b("first")])), "true");
        assert_eq!(
            call_err("assert_throws", &[func("fine", true)]),
            "assertion failed: expected function to throw an error, but it succeeded"
        );
        assert_eq!(call_err("assert_throws", &[]), "assert_throws() requires a function");
        assert_eq!(try_call("assert_throws", &[func("exit", true)]).unwrap_err().is_exit(), Some(3));
    }

    #[test]
    fn satisfies_interfaces() {
        let shape = j(
            r#"{"__kind__": "interface", "name": "Shape", "methods": [{"name": "area", "param_count": 0}, {"name": "name", "param_count": 0}]}"#,
        );
        let greet =
            j(r#"{"__kind__": "interface", "name": "Greet", "methods": [{"name": "hello", "param_count": 0}]}"#);
        let obj = j(r#"{"area": 1, "name": "x"}"#);
        assert_eq!(show(call("satisfies", &[obj, shape.clone()])), "true");
        assert_eq!(show(call("satisfies", &[j(r#"{"area": 1}"#), shape.clone()])), "false");
        assert_eq!(show(call("satisfies", &[i(5), shape.clone()])), "false");
        assert_eq!(show(call("satisfies", &[j("{}"), j("{}")])), "false");
        assert_eq!(call_err("satisfies", &[i(5)]), "satisfies() requires (value, interface)");
        assert_eq!(call_err("satisfies", &[i(5), shape.clone(), i(1)]), "satisfies() requires (value, interface)");
        // Nominal: the type's method table in the calling module.
        let mut h = host();
        {
            let env = h.env.as_env().unwrap();
            let mut reg = env.registry.borrow_mut();
            reg.methods.entry("P".to_string()).or_default().insert("hello".to_string(), func("hello", false));
        }
        let p = j(r#"{"name": "Z", "__type__": "P"}"#);
        assert_eq!(show(try_call_with(&mut h, "satisfies", &[p.clone(), greet]).unwrap()), "true");
        assert_eq!(show(try_call_with(&mut h, "satisfies", &[p, shape]).unwrap()), "false");
    }

    #[test]
    fn sus_lines() {
        assert_eq!(super::sus_line(&i(42)), "\x1b[33m🔍 SUS CHECK:\x1b[0m 42 \x1b[2m(Int)\x1b[0m\n");
        assert_eq!(super::sus_line(&s("hi")), "\x1b[33m🔍 SUS CHECK:\x1b[0m \"hi\" \x1b[2m(String)\x1b[0m\n");
        assert_eq!(
            super::sus_line(&Value::some(s("x"))),
            "\x1b[33m🔍 SUS CHECK:\x1b[0m Some(x) \x1b[2m(Option)\x1b[0m\n"
        );
    }

    #[test]
    fn debug_kit() {
        assert_eq!(show(call("sus", &[s("hi")])), "hi");
        assert_eq!(show(call("sus", &[j("[1]")])), "[1]");
        assert_eq!(call_err("sus", &[]), "sus() needs something to inspect, bestie");
        assert_eq!(call_err("bruh", &[]), "BRUH: something ain't right");
        assert_eq!(call_err("bruh", &[s("oops")]), "BRUH: oops");
        assert_eq!(call_err("bruh", &[j("[1]")]), "BRUH: [1]");
        assert_eq!(show(call("bet", &[Value::TRUE])), "true");
        assert_eq!(show(call("bet", &[i(0)])), "true");
        assert_eq!(show(call("bet", &[Value::NULL])), "true");
        assert_eq!(call_err("bet", &[Value::FALSE]), "LOST THE BET: condition was false");
        assert_eq!(call_err("bet", &[Value::FALSE, s("nope")]), "LOST THE BET: nope");
        assert_eq!(call_err("bet", &[Value::FALSE, i(1)]), "LOST THE BET: condition was false");
        assert_eq!(call_err("bet", &[]), "bet() needs a condition, no cap");
        assert_eq!(show(call("no_cap", &[j("[1]"), j("[1]")])), "true");
        assert_eq!(call_err("no_cap", &[i(1), Value::float(1.0)]), "CAP DETECTED: 1 \u{2260} 1");
        assert_eq!(call_err("no_cap", &[i(1)]), "no_cap() needs two values to compare, fr fr");
        assert_eq!(show(call("ick", &[Value::FALSE])), "true");
        assert_eq!(call_err("ick", &[i(0)]), "ICK: that's an ick");
        assert_eq!(call_err("ick", &[Value::TRUE, s("eww")]), "ICK: eww");
        assert_eq!(call_err("ick", &[]), "ick() needs a condition to reject");
    }
}
