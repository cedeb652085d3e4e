//! Object builtins (spec 10 §10.5): keys and values, entries, lookups by key or dotted
//! path, field selection, shallow merge and structural difference.
//!
//! Objects keep insertion order; every function here preserves it, and a later
//! duplicate key overwrites the value while keeping the first key's position.

use super::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::ops::deep_equal;
use crate::value::{map_with_capacity, new_map, Key, Map, Value};

pub fn register(r: &mut Registry) {
    r.global("keys", keys);
    r.global("values", values);
    r.global("entries", entries);
    r.global("from_entries", from_entries);
    r.global("has_key", has_key);
    r.global("get", get);
    r.global("pick", pick);
    r.global("omit", omit);
    r.global("merge", merge);
    r.global("diff", diff);
}

/// The object in argument `i`, if that argument is an object.
fn object_arg(args: &[Value], i: usize) -> Option<&Map> {
    args.get(i).and_then(Value::as_object)
}

/// An object with the given entries, in order.
fn object_of(entries: &[(&str, Value)]) -> Value {
    let mut m = map_with_capacity(entries.len());
    for (k, v) in entries {
        m.insert(Key::new(k), v.clone());
    }
    Value::object(m)
}

fn keys(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match object_arg(args, 0) {
        Some(m) => Ok(Value::array(m.keys().map(Key::to_value).collect())),
        None => fail("keys() requires object"),
    }
}

fn values(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match object_arg(args, 0) {
        Some(m) => Ok(Value::array(m.values().cloned().collect())),
        None => fail("values() requires object"),
    }
}

fn entries(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match object_arg(args, 0) {
        Some(m) => Ok(Value::array(m.iter().map(|(k, v)| Value::array(vec![k.to_value(), v.clone()])).collect())),
        None => fail("entries() requires an object"),
    }
}

/// Builds an object from `[key, value]` pairs; malformed pairs are skipped.
fn from_entries(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(pairs) = args.first().and_then(Value::as_array) else {
        return fail("from_entries() requires an array of [key, value] pairs");
    };
    let mut m = new_map();
    for p in pairs {
        if let Some([k, v, ..]) = p.as_array() {
            if k.is_str() {
                m.insert(Key::from_value(k.clone()), v.clone());
            }
        }
    }
    Ok(Value::object(m))
}

fn has_key(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match (object_arg(args, 0), args.get(1).and_then(Value::as_str)) {
        (Some(m), Some(k)) => Ok(Value::bool(m.contains_key(k))),
        _ => fail("has_key() requires (object, key_string)"),
    }
}

/// Follows a dotted path: object keys by name, array elements by decimal index.
fn lookup_path(root: &Value, path: &str) -> Option<Value> {
    let mut cur = root.clone();
    for seg in path.split('.') {
        let next = if let Some(m) = cur.as_object() {
            m.get(seg).cloned()
        } else if let Some(items) = cur.as_array() {
            seg.parse::<usize>().ok().and_then(|i| items.get(i).cloned())
        } else {
            None
        };
        cur = next?;
    }
    Some(cur)
}

fn get(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(container), Some(key)) = (args.first(), args.get(1)) else {
        return fail("get() requires (object, key) or (array, index)");
    };
    let default = args.get(2).cloned().unwrap_or(Value::NULL);
    if let (Some(m), Some(k)) = (container.as_object(), key.as_str()) {
        let found = if k.contains('.') { lookup_path(container, k) } else { m.get(k).cloned() };
        return Ok(found.unwrap_or(default));
    }
    if let (Some(items), Some(i)) = (container.as_array(), key.as_int()) {
        let found = usize::try_from(i).ok().and_then(|i| items.get(i).cloned());
        return Ok(found.unwrap_or(default));
    }
    fail("get() requires (object, key) or (array, index)")
}

/// The object and the field-name array of `pick`/`omit`.
fn object_and_names<'a>(args: &'a [Value], name: &str) -> Result<(&'a Map, &'a [Value])> {
    match (object_arg(args, 0), args.get(1).and_then(Value::as_array)) {
        (Some(m), Some(names)) => Ok((m, names)),
        _ => fail(format!("{name}() requires (object, [field_names])")),
    }
}

fn pick(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (m, names) = object_and_names(args, "pick")?;
    let mut out = new_map();
    for n in names.iter().filter_map(Value::as_str) {
        if let Some((k, v)) = m.get_key_value(n) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::object(out))
}

fn omit(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (m, names) = object_and_names(args, "omit")?;
    let dropped: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    let out: Map =
        m.iter().filter(|(k, _)| !dropped.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(Value::object(out))
}

fn merge(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let mut out = new_map();
    for a in args {
        let Some(m) = a.as_object() else {
            return fail("merge() requires all arguments to be objects");
        };
        for (k, v) in m {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::object(out))
}

fn diff(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return fail("diff() requires two values to compare");
    };
    if deep_equal(a, b) {
        return Ok(Value::NULL);
    }
    let (Some(x), Some(y)) = (a.as_object(), b.as_object()) else {
        return Ok(object_of(&[("from", a.clone()), ("to", b.clone())]));
    };
    let mut out = new_map();
    for (k, av) in x.iter().filter(|(k, _)| !k.as_str().starts_with("__")) {
        match y.get(k.as_str()) {
            Some(bv) if deep_equal(av, bv) => {}
            Some(bv) => {
                out.insert(k.clone(), object_of(&[("from", av.clone()), ("to", bv.clone())]));
            }
            None => {
                out.insert(k.clone(), object_of(&[("removed", av.clone())]));
            }
        }
    }
    for (k, bv) in y.iter().filter(|(k, _)| !k.as_str().starts_with("__")) {
        if !x.contains_key(k.as_str()) {
            out.insert(k.clone(), object_of(&[("added", bv.clone())]));
        }
    }
    if out.is_empty() {
        return Ok(Value::NULL);
    }
    Ok(Value::object(out))
}

#[cfg(test)]
mod tests {
    use crate::builtins::arrays::testing::{call, call_err, i, j, s, show};
    use crate::value::Value;

    #[test]
    fn keys_values_entries() {
        let o = j(r#"{"b": 1, "a": [2]}"#);
        assert_eq!(show(call("keys", std::slice::from_ref(&o))), "[b, a]");
        assert_eq!(show(call("values", std::slice::from_ref(&o))), "[1, [2]]");
        assert_eq!(show(call("entries", std::slice::from_ref(&o))), "[[b, 1], [a, [2]]]");
        assert_eq!(show(call("keys", &[o.freeze()])), "[b, a]");
        assert_eq!(call_err("keys", &[j("[]")]), "keys() requires object");
        assert_eq!(call_err("values", &[]), "values() requires object");
        assert_eq!(call_err("entries", &[i(1)]), "entries() requires an object");
    }

    #[test]
    fn from_entries_skips_bad_pairs() {
        let pairs = j(r#"[["name", "A"], ["bad"], [1, 2], "x", ["k", 1, 2], ["name", "B"]]"#);
        assert_eq!(show(call("from_entries", &[pairs])), r#"{ "name": "B", "k": 1 }"#);
        assert_eq!(call_err("from_entries", &[j("{}")]), "from_entries() requires an array of [key, value] pairs");
    }

    #[test]
    fn has_key_and_get() {
        let o = j(r#"{"a": null}"#);
        assert_eq!(show(call("has_key", &[o.clone(), s("a")])), "true");
        assert_eq!(show(call("has_key", &[o.clone(), s("b")])), "false");
        assert_eq!(call_err("has_key", &[o, i(1)]), "has_key() requires (object, key_string)");
        let c = j(r#"{"db": {"host": "h", "tags": ["x", "y"]}, "a.b": 1, "n": null}"#);
        assert_eq!(show(call("get", &[c.clone(), s("db.host")])), "h");
        assert_eq!(show(call("get", &[c.clone(), s("db.tags.1")])), "y");
        assert_eq!(show(call("get", &[c.clone(), s("db.tags.7"), s("d")])), "d");
        assert_eq!(show(call("get", &[c.clone(), s("db.host.x"), s("d")])), "d");
        assert_eq!(show(call("get", &[c.clone(), s("db.name"), s("mydb")])), "mydb");
        assert_eq!(show(call("get", &[c.clone(), s("a.b")])), "null");
        assert_eq!(show(call("get", &[c.clone(), s("n"), s("d")])), "null");
        assert_eq!(show(call("get", &[c.clone(), s("zz"), s("d")])), "d");
        assert_eq!(show(call("get", &[j("[10, 20]"), i(5), s("none")])), "none");
        assert_eq!(show(call("get", &[j("[10, 20]"), i(1)])), "20");
        assert_eq!(show(call("get", &[j("[10, 20]"), i(-1), s("neg")])), "neg");
        let msg = "get() requires (object, key) or (array, index)";
        assert_eq!(call_err("get", &[c.clone(), i(1)]), msg);
        assert_eq!(call_err("get", &[j("[1]"), s("0")]), msg);
        assert_eq!(call_err("get", &[c]), msg);
    }

    #[test]
    fn pick_omit_merge() {
        let o = j(r#"{"name": "A", "age": 3, "pw": "s"}"#);
        let names = Value::array(vec![s("pw"), s("name"), s("zzz"), i(1)]);
        assert_eq!(show(call("pick", &[o.clone(), names.clone()])), r#"{ "pw": "s", "name": "A" }"#);
        assert_eq!(show(call("omit", &[o.clone(), names])), r#"{ "age": 3 }"#);
        assert_eq!(call_err("pick", &[o.clone(), s("x")]), "pick() requires (object, [field_names])");
        assert_eq!(call_err("omit", &[j("[]"), j("[]")]), "omit() requires (object, [field_names])");
        let m = call("merge", &[j(r#"{"a": 1, "b": 2}"#), j(r#"{"b": 3, "c": 4}"#)]);
        assert_eq!(show(m), r#"{ "a": 1, "b": 3, "c": 4 }"#);
        let m = call("merge", &[j(r#"{"a": {"x": 1}}"#), j(r#"{"a": {"y": 2}}"#)]);
        assert_eq!(show(m), r#"{ "a": { "y": 2 } }"#);
        assert_eq!(show(call("merge", &[])), "{  }");
        assert_eq!(call_err("merge", &[o, i(1)]), "merge() requires all arguments to be objects");
    }

    #[test]
    fn diffs() {
        let a = j(r#"{"name": "A", "age": 30, "city": "NYC"}"#);
        let b = j(r#"{"name": "A", "age": 31, "email": "e"}"#);
        assert_eq!(
            show(call("diff", &[a, b])),
            r#"{ "age": { "from": 30, "to": 31 }, "city": { "removed": "NYC" }, "email": { "added": "e" } }"#
        );
        assert_eq!(show(call("diff", &[i(1), i(2)])), r#"{ "from": 1, "to": 2 }"#);
        assert_eq!(show(call("diff", &[j(r#"{"a": 1}"#), j(r#"{"a": 1}"#)])), "null");
        assert_eq!(show(call("diff", &[j(r#"{"__type__": "P"}"#), j(r#"{"__type__": "Q"}"#)])), "null");
        assert_eq!(show(call("diff", &[j(r#"{"a": 1}"#), j(r#"{"a": 1.0}"#)])), r#"{ "a": { "from": 1, "to": 1 } }"#);
        assert_eq!(
            show(call("diff", &[j(r#"{"a": {"x": 1}}"#), j(r#"{"a": {"x": 2}}"#)])),
            r#"{ "a": { "from": { "x": 1 }, "to": { "x": 2 } } }"#
        );
        assert_eq!(call_err("diff", &[i(1)]), "diff() requires two values to compare");
    }
}
