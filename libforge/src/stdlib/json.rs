//! The `json` module (spec 11 §11.5) and the JSON value mapping of §11.0.3.
//!
//! Parsing uses `serde_json`'s parser (so its syntax errors and recursion limit), with a
//! visitor that builds Forge values directly, without an intermediate
//! `serde_json::Value` tree: objects keep document order and a repeated key keeps its
//! first position and its last value, as `serde_json`'s `preserve_order` maps do.
//! Writing is done here, because Forge's format has `", "` and `": "` separators and its
//! own rules for values JSON cannot hold. The helpers are public for other modules
//! (`fs.read_json`, `http`, …) that need the same mapping.

use std::collections::HashSet;
use std::fmt;

use rustc_hash::FxBuildHasher;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.module("json", "parse", parse);
    r.module("json", "stringify", stringify);
    r.module("json", "pretty", pretty);
    r.module("json", "valid", valid);
    r.module("json", "merge", merge);
}

/// Maps a parsed JSON document to a Forge value: integers within i64 become Ints,
/// every other number (fractions, exponents, `-0`, values outside i64) a Float, and
/// objects keep their document order.
pub fn from_json(doc: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match doc {
        J::Null => Value::NULL,
        J::Bool(b) => Value::bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::int(i),
            None => Value::float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::str(s),
        J::Array(items) => Value::array(items.iter().map(from_json).collect()),
        J::Object(obj) => {
            let mut m = map_with_capacity(obj.len());
            for (k, v) in obj {
                m.insert(Key::new(k), from_json(v));
            }
            Value::object(m)
        }
    }
}

/// Parses strict JSON text (surrounding whitespace allowed) into a Forge value, with the
/// mapping of [`from_json`]. The error is serde_json's, e.g. `EOF while parsing a value
/// at line 1 column 0`.
pub fn parse_text(text: &str) -> std::result::Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut builder = Builder::default();
    let v = Build(&mut builder).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Object keys shorter than this are interned during one parse (a document's objects
/// usually repeat the same few keys), up to [`INTERN_MAX`] distinct keys.
const INTERN_LEN: usize = 64;
const INTERN_MAX: usize = 4096;
/// String values up to this length are interned too (enumeration-like values such as
/// `"active"` repeat), up to [`INTERN_STR_MAX`] distinct ones. Strings are immutable
/// and copied on write, so sharing one is invisible.
const INTERN_STR_LEN: usize = 16;
const INTERN_STR_MAX: usize = 1024;

/// The state of one parse: interned keys and short strings, and the stacks that
/// collect the entries of the arrays and objects being read, so each is allocated once
/// at its final size.
#[derive(Default)]
struct Builder {
    keys: HashSet<Key, FxBuildHasher>,
    strings: HashSet<Key, FxBuildHasher>,
    items: Vec<Value>,
    entries: Vec<(Key, Value)>,
}

impl Builder {
    fn key(&mut self, s: &str) -> Key {
        if let Some(k) = self.keys.get(s) {
            return k.clone();
        }
        let k = Key::new(s);
        if s.len() < INTERN_LEN && self.keys.len() < INTERN_MAX {
            self.keys.insert(k.clone());
        }
        k
    }

    fn string(&mut self, s: &str) -> Value {
        if s.len() > INTERN_STR_LEN {
            return Value::str(s);
        }
        if let Some(k) = self.strings.get(s) {
            return k.to_value();
        }
        let k = Key::new(s);
        if self.strings.len() < INTERN_STR_MAX {
            self.strings.insert(k.clone());
        }
        k.to_value()
    }
}

/// Reads one JSON value into a Forge value.
struct Build<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::NULL)
    }
    fn visit_bool<E>(self, b: bool) -> std::result::Result<Value, E> {
        Ok(Value::bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> std::result::Result<Value, E> {
        Ok(Value::int(i))
    }
    fn visit_u64<E>(self, u: u64) -> std::result::Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::int(i),
            Err(_) => Value::float(u as f64),
        })
    }
    fn visit_f64<E>(self, x: f64) -> std::result::Result<Value, E> {
        Ok(Value::float(x))
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(self.0.string(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let b = self.0;
        let start = b.items.len();
        while let Some(v) = seq.next_element_seed(Build(&mut *b))? {
            b.items.push(v);
        }
        Ok(Value::array(b.items.drain(start..).collect()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let b = self.0;
        let start = b.entries.len();
        while let Some(k) = map.next_key_seed(KeySeed(&mut *b))? {
            let v = map.next_value_seed(Build(&mut *b))?;
            b.entries.push((k, v));
        }
        let mut m = map_with_capacity(b.entries.len() - start);
        for (k, v) in b.entries.drain(start..) {
            m.insert(k, v);
        }
        Ok(Value::object(m))
    }
}

/// Reads an object key (always a JSON string), interned through the [`Builder`].
struct KeySeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<Key, E> {
        Ok(self.0.key(s))
    }
}

/// Converts a Forge value to a JSON document: non-finite Floats and values JSON cannot
/// hold (`Ok`, `Some`, functions, …) become `null`; object keys keep their order.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind() {
        Kind::Null | Kind::Undef => J::Null,
        Kind::Bool => J::Bool(v.as_bool() == Some(true)),
        Kind::Int => J::from(v.as_int().unwrap_or(0)),
        Kind::Float => serde_json::Number::from_f64(v.as_float().unwrap_or(f64::NAN)).map_or(J::Null, J::Number),
        Kind::Str => J::String(v.as_str().unwrap_or("").to_string()),
        Kind::Array => J::Array(v.as_array().unwrap_or(&[]).iter().map(to_json).collect()),
        Kind::Object => {
            let mut m = serde_json::Map::new();
            for (k, x) in v.as_object().into_iter().flatten() {
                m.insert(k.as_str().to_string(), to_json(x));
            }
            J::Object(m)
        }
        _ => J::Null,
    }
}

/// JSON string literals (`"` and `\` escaped, `\n`, `\r`, `\t`, other control
/// characters as `\u00XX`): the one escaper, shared with the compiler.
pub use forge_abi::json::write_json_string;

/// Scalars in Forge's JSON text: everything except arrays and objects.
pub(crate) fn write_scalar(out: &mut String, v: &Value) {
    match v.kind() {
        Kind::Str => write_json_string(out, v.as_str().unwrap_or("")),
        Kind::Int => out.push_str(itoa::Buffer::new().format(v.as_int().unwrap_or(0))),
        Kind::Float => {
            let x = v.as_float().unwrap_or(f64::NAN);
            if x.is_finite() {
                crate::display::write_float(out, x);
            } else {
                out.push_str("null");
            }
        }
        Kind::Bool => out.push_str(if v.as_bool() == Some(true) { "true" } else { "false" }),
        _ => out.push_str("null"),
    }
}

/// The single-line JSON text of `v` (`json.stringify`): `", "` between entries and
/// `": "` after keys.
pub fn stringify_value(v: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, v);
    out
}

fn write_compact(out: &mut String, v: &Value) {
    if let Some(items) = v.as_array() {
        out.push('[');
        for (n, x) in items.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            write_compact(out, x);
        }
        out.push(']');
    } else if let Some(m) = v.as_object() {
        out.push('{');
        for (n, (k, x)) in m.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            write_json_string(out, k.as_str());
            out.push_str(": ");
            write_compact(out, x);
        }
        out.push('}');
    } else {
        write_scalar(out, v);
    }
}

/// The multi-line JSON text of `v` (`json.pretty`) with `indent` spaces per level.
pub fn pretty_value(v: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_pretty(&mut out, v, indent, 0);
    out
}

fn newline(out: &mut String, indent: usize, depth: usize) {
    out.push('\n');
    for _ in 0..indent.saturating_mul(depth) {
        out.push(' ');
    }
}

fn write_pretty(out: &mut String, v: &Value, indent: usize, depth: usize) {
    if let Some(items) = v.as_array() {
        if items.is_empty() {
            out.push_str("[]");
            return;
        }
        out.push('[');
        for (n, x) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            newline(out, indent, depth + 1);
            write_pretty(out, x, indent, depth + 1);
        }
        newline(out, indent, depth);
        out.push(']');
    } else if let Some(m) = v.as_object() {
        if m.is_empty() {
            out.push_str("{}");
            return;
        }
        out.push('{');
        for (n, (k, x)) in m.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            newline(out, indent, depth + 1);
            write_json_string(out, k.as_str());
            out.push_str(": ");
            write_pretty(out, x, indent, depth + 1);
        }
        newline(out, indent, depth);
        out.push('}');
    } else {
        write_scalar(out, v);
    }
}

fn parse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(text) = args.first().and_then(Value::as_str) else {
        return fail("json.parse() requires a string");
    };
    parse_text(text).or_else(|e| fail(format!("JSON parse error: {e}")))
}

fn stringify(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first() {
        Some(v) => Ok(Value::string(stringify_value(v))),
        None => fail("json.stringify() requires a value"),
    }
}

fn pretty(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(v) = args.first() else {
        return fail("json.pretty() requires a value");
    };
    // A non-Int indent is 2; a negative one writes no indentation.
    let indent = match args.get(1).and_then(Value::as_int) {
        Some(n) => usize::try_from(n.clamp(0, 1 << 16)).unwrap_or(0),
        None => 2,
    };
    Ok(Value::string(pretty_value(v, indent)))
}

fn valid(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let ok = args.first().and_then(Value::as_str).is_some_and(|t| parse_text(t).is_ok());
    Ok(Value::bool(ok))
}

/// Deep merge: `b`'s entries over `a`'s, recursing where both values are objects.
pub fn deep_merge(a: &Value, b: &Value) -> Value {
    let mut out = a.clone();
    let (Some(m), Some(bm)) = (out.object_mut(), b.as_object()) else {
        return b.clone();
    };
    for (k, bv) in bm {
        let merged = match m.get(k.as_str()) {
            Some(av) if av.is_object() && bv.is_object() => deep_merge(av, bv),
            _ => bv.clone(),
        };
        m.insert(k.clone(), merged);
    }
    out
}

fn merge(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match (args.first(), args.get(1)) {
        (Some(a), Some(b)) if a.is_object() && b.is_object() => Ok(deep_merge(a, b)),
        _ => fail("json.merge() requires two objects"),
    }
}

#[cfg(test)]
mod tests {
    use super::{from_json, parse_text, pretty_value, stringify_value};
    use crate::stdlib::testing::{arr, call, call_err, f, i, keys_of, obj, s, say, show};
    use crate::value::Value;

    fn parse(text: &str) -> Value {
        call("json", "parse", &[s(text)])
    }

    fn st(v: Value) -> String {
        say("json", "stringify", &[v])
    }

    #[test]
    fn members() {
        assert_eq!(
            keys_of(&crate::builtins::module_object("json")),
            ["parse", "stringify", "pretty", "valid", "merge"]
        );
    }

    #[test]
    fn parse_keeps_document_order() {
        let o = parse(r#"{"zeta": 1, "alpha": 2, "mid": {"y": true, "x": false}}"#);
        assert_eq!(show(&o), r#"{ "zeta": 1, "alpha": 2, "mid": { "y": true, "x": false } }"#);
        assert_eq!(keys_of(&o), ["zeta", "alpha", "mid"]);
        assert_eq!(st(o), r#"{"zeta": 1, "alpha": 2, "mid": {"y": true, "x": false}}"#);
        assert_eq!(show(&parse(r#"{"z":1,"a":2}"#)), r#"{ "z": 1, "a": 2 }"#);
        assert_eq!(show(&parse(r#"{"a":1,"b":2,"a":3}"#)), r#"{ "a": 3, "b": 2 }"#);
    }

    #[test]
    fn number_mapping() {
        let v = parse("[1, -5, 1.5, 1e3, -0, 12345678901234567890, 9223372036854775807]");
        assert_eq!(show(&v), "[1, -5, 1.5, 1000, -0, 12345678901234567000, 9223372036854775807]");
        let kinds: Vec<&str> = v.as_array().unwrap().iter().map(crate::ops::type_name).collect();
        assert_eq!(kinds, ["Int", "Int", "Float", "Float", "Float", "Float", "Int"]);
        assert_eq!(show(&parse("  \"a\\nb\\u00e9\"  ")), "a\nbé");
        assert_eq!(show(&parse("null")), "null");
    }

    #[test]
    fn parse_errors() {
        let e = |t: &str| call_err("json", "parse", &[s(t)]);
        assert_eq!(e(""), "JSON parse error: EOF while parsing a value at line 1 column 0");
        assert_eq!(e("{bad json}"), "JSON parse error: key must be a string at line 1 column 2");
        assert_eq!(e("[1] x"), "JSON parse error: trailing characters at line 1 column 5");
        assert_eq!(e("tx"), "JSON parse error: expected ident at line 1 column 2");
        assert_eq!(e("[tru]"), "JSON parse error: expected ident at line 1 column 5");
        assert_eq!(call_err("json", "parse", &[i(1)]), "json.parse() requires a string");
        assert_eq!(call_err("json", "parse", &[]), "json.parse() requires a string");
        let deep = "[".repeat(100_000);
        assert!(e(&deep).starts_with("JSON parse error: recursion limit exceeded"));
    }

    /// The direct parser gives what the `serde_json::Value` route gave: the same values,
    /// key order and kinds, and the same error messages.
    #[test]
    fn direct_parse_matches_value_route() {
        let docs = [
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "e", "a": 2}, "a": 3}"#,
            r#"[{"id": 1, "tags": ["x", "y"]}, {"tags": ["y", "x"], "id": 2}, {"id": 3}]"#,
            r#"[-0, 0, -1, 1.0, 1e-7, 18446744073709551615, 9223372036854775808, -9223372036854775808]"#,
            r#"[-9223372036854775809, 1.7976931348623157e308, 5e-324, 123456789012345678901234567890]"#,
            r#"{"k\"ey": "v\u00e9\n", "\ud83d\ude00": "\ud83d\ude00", "": ""}"#,
            r#"["a very long string value, longer than the interning limit", "short", "short"]"#,
            " \t\n [ ] ",
            "{}",
            "\"\"",
            "[[[[[]]]]]",
        ];
        for d in docs {
            let want = from_json(&serde_json::from_str::<serde_json::Value>(d).unwrap());
            let got = parse_text(d).unwrap();
            assert_eq!(show(&got), show(&want), "{d}");
            assert_eq!(stringify_value(&got), stringify_value(&want), "{d}");
            assert!(crate::ops::deep_equal(&got, &want), "{d}");
        }
        let bad = [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "[1 2]",
            "\"\\ud800\"",
            "\"\\x\"",
            "\"a\nb\"",
            "01",
            "1.",
            "-",
            "nul",
            "[1] x",
            "{1: 2}",
            "[\"unterminated",
        ];
        for d in bad {
            let want = serde_json::from_str::<serde_json::Value>(d).unwrap_err().to_string();
            assert_eq!(parse_text(d).unwrap_err().to_string(), want, "{d:?}");
        }
        let deep = "[".repeat(200);
        assert_eq!(
            parse_text(&deep).unwrap_err().to_string(),
            serde_json::from_str::<serde_json::Value>(&deep).unwrap_err().to_string()
        );
    }

    #[test]
    fn stringify_format() {
        let v = obj(vec![
            ("name", s("Forge")),
            ("tags", arr(vec![s("fast"), s("fun")])),
            ("n", Value::NULL),
            ("f", f(2.5)),
            ("i", f(1.0)),
        ]);
        assert_eq!(st(v), r#"{"name": "Forge", "tags": ["fast", "fun"], "n": null, "f": 2.5, "i": 1}"#);
        assert_eq!(st(arr(vec![i(1), s("two"), Value::TRUE, Value::NULL])), r#"[1, "two", true, null]"#);
        assert_eq!(st(obj(vec![])), "{}");
        assert_eq!(st(arr(vec![])), "[]");
        assert_eq!(st(s("plain")), r#""plain""#);
        assert_eq!(st(i(42)), "42");
        assert_eq!(
            st(obj(vec![("quote", s("say \"hi\"")), ("back", s("a\\b"))])),
            r#"{"quote": "say \"hi\"", "back": "a\\b"}"#
        );
        assert_eq!(
            st(obj(vec![("opt", Value::some(i(1))), ("res", Value::ok(i(2)))])),
            r#"{"opt": null, "res": null}"#
        );
        assert_eq!(st(Value::NONE), "null");
        assert_eq!(
            st(obj(vec![("f", crate::builtins::module_object("json"))])),
            r#"{"f": {"parse": null, "stringify": null, "pretty": null, "valid": null, "merge": null}}"#
        );
        assert_eq!(st(f(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(st(f(1e21)), "1000000000000000000000");
        assert_eq!(call_err("json", "stringify", &[]), "json.stringify() requires a value");
    }

    #[test]
    fn stringify_escapes() {
        let v = obj(vec![("text", s("line1\nline2")), ("tab", s("a\tb")), ("quote", s("\"q\""))]);
        let text = st(v);
        assert_eq!(text, r#"{"text": "line1\nline2", "tab": "a\tb", "quote": "\"q\""}"#);
        assert_eq!(say("json", "valid", &[s(&text)]), "true");
        assert_eq!(st(s("cr\r")), r#""cr\r""#);
        assert_eq!(st(s("\u{1b}[0m\u{8}\u{c}\u{7f}")), "\"\\u001b[0m\\u0008\\u000c\u{7f}\"");
        assert_eq!(st(obj(vec![("k\"\n", i(1))])), r#"{"k\"\n": 1}"#);
        assert_eq!(st(f(f64::INFINITY)), "null");
        assert_eq!(st(f(f64::NAN)), "null");
        assert_eq!(st(f(-0.0)), "-0");
    }

    #[test]
    fn round_trip() {
        let original = obj(vec![
            ("alpha", arr(vec![i(1), i(2), i(3)])),
            ("beta", obj(vec![("gamma", s("text")), ("delta", Value::FALSE)])),
            ("eps", f(0.25)),
        ]);
        let text = stringify_value(&original);
        assert_eq!(text, r#"{"alpha": [1, 2, 3], "beta": {"gamma": "text", "delta": false}, "eps": 0.25}"#);
        let back = parse_text(&text).unwrap();
        assert!(crate::ops::deep_equal(&back, &original));
        assert_eq!(stringify_value(&back), text);
    }

    #[test]
    fn pretty_format() {
        let v = obj(vec![("a", i(1)), ("list", arr(vec![i(1), obj(vec![("b", arr(vec![]))])])), ("e", obj(vec![]))]);
        assert_eq!(
            say("json", "pretty", std::slice::from_ref(&v)),
            "{\n  \"a\": 1,\n  \"list\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"e\": {}\n}"
        );
        assert_eq!(say("json", "pretty", &[v.clone(), s("x")]), say("json", "pretty", std::slice::from_ref(&v)));
        assert_eq!(pretty_value(&arr(vec![i(1), i(2)]), 4), "[\n    1,\n    2\n]");
        assert_eq!(say("json", "pretty", &[arr(vec![i(1), obj(vec![("k", i(2))])]), i(0)]), "[\n1,\n{\n\"k\": 2\n}\n]");
        assert_eq!(say("json", "pretty", &[arr(vec![i(1)]), i(-3)]), "[\n1\n]");
        assert_eq!(say("json", "pretty", &[s("x\ny")]), "\"x\\ny\"");
        assert_eq!(call_err("json", "pretty", &[]), "json.pretty() requires a value");
    }

    #[test]
    fn valid_and_merge() {
        assert_eq!(say("json", "valid", &[s(r#"{"a": 1}"#)]), "true");
        assert_eq!(say("json", "valid", &[s("{a: 1}")]), "false");
        assert_eq!(say("json", "valid", &[s("[1, 2")]), "false");
        assert_eq!(say("json", "valid", &[s("null")]), "true");
        assert_eq!(say("json", "valid", &[i(42)]), "false");
        assert_eq!(say("json", "valid", &[]), "false");
        let a = obj(vec![("a", obj(vec![("x", i(1)), ("y", i(2))])), ("b", i(1))]);
        let b = obj(vec![("a", obj(vec![("y", i(3)), ("z", i(4))])), ("c", i(5))]);
        assert_eq!(say("json", "merge", &[a.clone(), b]), r#"{ "a": { "x": 1, "y": 3, "z": 4 }, "b": 1, "c": 5 }"#);
        assert_eq!(show(&a), r#"{ "a": { "x": 1, "y": 2 }, "b": 1 }"#);
        let l =
            say("json", "merge", &[obj(vec![("list", arr(vec![i(1), i(2)]))]), obj(vec![("list", arr(vec![i(3)]))])]);
        assert_eq!(l, r#"{ "list": [3] }"#);
        assert_eq!(call_err("json", "merge", &[a.clone(), i(1)]), "json.merge() requires two objects");
        assert_eq!(call_err("json", "merge", &[a]), "json.merge() requires two objects");
    }
}
