//! The `toml` module (spec 11 §11.14), on the `toml` crate with `preserve_order`, so
//! parsed tables keep document order and written tables keep insertion order.
//! Date-times are read as Strings in their TOML form.

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.module("toml", "parse", parse);
    r.module("toml", "stringify", stringify);
    r.module("toml", "read", read);
}

/// Maps a TOML value to a Forge value.
pub fn from_toml(v: &::toml::Value) -> Value {
    use ::toml::Value as T;
    match v {
        T::String(s) => Value::str(s),
        T::Integer(n) => Value::int(*n),
        T::Float(x) => Value::float(*x),
        T::Boolean(b) => Value::bool(*b),
        T::Datetime(d) => Value::string(d.to_string()),
        T::Array(items) => Value::array(items.iter().map(from_toml).collect()),
        T::Table(t) => from_table(t),
    }
}

fn from_table(t: &::toml::Table) -> Value {
    let mut m = map_with_capacity(t.len());
    for (k, v) in t {
        m.insert(Key::new(k), from_toml(v));
    }
    Value::object(m)
}

/// Maps a Forge value to a TOML value: `null` becomes the string `"null"`; values TOML
/// cannot hold fail with `cannot convert D to TOML`.
pub fn to_toml(v: &Value) -> Result<::toml::Value> {
    use ::toml::Value as T;
    Ok(match v.kind() {
        Kind::Str => T::String(v.as_str().unwrap_or("").to_string()),
        Kind::Int => T::Integer(v.as_int().unwrap_or(0)),
        Kind::Float => T::Float(v.as_float().unwrap_or(f64::NAN)),
        Kind::Bool => T::Boolean(v.as_bool() == Some(true)),
        Kind::Null => T::String("null".to_string()),
        Kind::Array => T::Array(v.as_array().unwrap_or(&[]).iter().map(to_toml).collect::<Result<_>>()?),
        Kind::Object => {
            let mut t = ::toml::Table::new();
            for (k, x) in v.as_object().into_iter().flatten() {
                t.insert(k.as_str().to_string(), to_toml(x)?);
            }
            T::Table(t)
        }
        _ => return fail(format!("cannot convert {} to TOML", display(v))),
    })
}

/// Parses a TOML document into an Object.
pub fn parse_text(text: &str) -> Result<Value> {
    match text.parse::<::toml::Table>() {
        Ok(t) => Ok(from_table(&t)),
        // The crate's message ends with a newline, which an error message does not need.
        Err(e) => fail(format!("TOML parse error: {}", e.to_string().trim_end())),
    }
}

fn parse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(text) => parse_text(text),
        None => fail("toml.parse() requires a string"),
    }
}

/// Pretty TOML of a table (`unsupported i64 type`, … for other top-level values).
fn stringify(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(v) = args.first() else {
        return fail("toml.stringify() requires a value");
    };
    let t = to_toml(v)?;
    // The top level must be a table; other values are named as the serializer names
    // their Rust types.
    let kind = match &t {
        ::toml::Value::Table(_) => None,
        ::toml::Value::Integer(_) => Some("i64"),
        ::toml::Value::Float(_) => Some("f64"),
        ::toml::Value::Boolean(_) => Some("bool"),
        ::toml::Value::String(_) | ::toml::Value::Datetime(_) => Some("str"),
        ::toml::Value::Array(_) => Some("array"),
    };
    if let Some(kind) = kind {
        return fail(format!("TOML stringify error: unsupported {kind} type"));
    }
    match ::toml::to_string_pretty(&t) {
        Ok(s) => Ok(Value::string(s)),
        Err(e) => fail(format!("TOML stringify error: {e}")),
    }
}

fn read(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(path) = args.first().and_then(Value::as_str) else {
        return fail("toml.read() requires a file path string");
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_text(&text),
        Err(e) => fail(format!("file read error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{arr, call, call_err, f, i, keys_of, obj, s, say, show};
    use crate::value::Value;

    fn parse(text: &str) -> Value {
        call("toml", "parse", &[s(text)])
    }

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("toml")), ["parse", "stringify", "read"]);
    }

    #[test]
    fn parse_document_order() {
        let v = parse("title = \"X\"\n[owner]\nname = \"Tom\"\n[[items]]\nid = 1");
        assert_eq!(show(&v), r#"{ "title": "X", "owner": { "name": "Tom" }, "items": [{ "id": 1 }] }"#);
        let v = parse("z = 1\na = 2.5\nm = true\nd = 1979-05-27T07:32:00Z\nl = [1, \"x\"]\nday = 1979-05-27\n");
        assert_eq!(
            show(&v),
            r#"{ "z": 1, "a": 2.5, "m": true, "d": "1979-05-27T07:32:00Z", "l": [1, "x"], "day": "1979-05-27" }"#
        );
        assert_eq!(show(&parse("")), "{  }");
    }

    #[test]
    fn parse_errors() {
        let e = call_err("toml", "parse", &[s("a = ")]);
        assert!(e.starts_with("TOML parse error: TOML parse error at line 1, column 5"), "{e}");
        let e = call_err("toml", "parse", &[s("a = 1\na = 2")]);
        assert_eq!(e, "TOML parse error: TOML parse error at line 2, column 1\n  |\n2 | a = 2\n  | ^\nduplicate key `a` in document root");
        assert_eq!(call_err("toml", "parse", &[i(1)]), "toml.parse() requires a string");
    }

    #[test]
    fn stringify_pretty() {
        let v = obj(vec![
            ("owner", obj(vec![("name", s("Tom"))])),
            ("title", s("X")),
            ("list", arr(vec![i(1), i(2)])),
            ("n", Value::NULL),
            ("f", f(1.5)),
        ]);
        let text = say("toml", "stringify", &[v]);
        assert_eq!(
            text,
            "title = \"X\"\nlist = [\n    1,\n    2,\n]\nn = \"null\"\nf = 1.5\n\n[owner]\nname = \"Tom\"\n"
        );
        let back = parse(&text);
        assert_eq!(keys_of(&back), ["title", "list", "n", "f", "owner"]);
        let items = obj(vec![("items", arr(vec![obj(vec![("id", i(1))]), obj(vec![("id", i(2))])]))]);
        assert_eq!(say("toml", "stringify", &[items]), "[[items]]\nid = 1\n\n[[items]]\nid = 2\n");
        assert_eq!(say("toml", "stringify", &[obj(vec![])]), "");
    }

    #[test]
    fn stringify_errors() {
        assert_eq!(call_err("toml", "stringify", &[]), "toml.stringify() requires a value");
        assert_eq!(call_err("toml", "stringify", &[i(5)]), "TOML stringify error: unsupported i64 type");
        assert_eq!(call_err("toml", "stringify", &[arr(vec![i(1)])]), "TOML stringify error: unsupported array type");
        assert_eq!(call_err("toml", "stringify", &[s("x")]), "TOML stringify error: unsupported str type");
        assert_eq!(call_err("toml", "stringify", &[Value::NULL]), "TOML stringify error: unsupported str type");
        assert_eq!(call_err("toml", "stringify", &[f(1.5)]), "TOML stringify error: unsupported f64 type");
        let member = crate::stdlib::testing::member("toml", "read");
        assert_eq!(
            call_err("toml", "stringify", &[obj(vec![("f", member)])]),
            "cannot convert <builtin toml.read> to TOML"
        );
        assert_eq!(
            call_err("toml", "stringify", &[obj(vec![("o", Value::some(i(1)))])]),
            "cannot convert Some(1) to TOML"
        );
    }

    #[test]
    fn read_file() {
        let path = std::env::temp_dir().join(format!("forge_toml_test_{}.toml", std::process::id()));
        std::fs::write(&path, "[server]\nport = 8080\nhost = \"x\"\n").unwrap();
        let p = s(path.to_str().unwrap());
        assert_eq!(say("toml", "read", std::slice::from_ref(&p)), r#"{ "server": { "port": 8080, "host": "x" } }"#);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(call_err("toml", "read", &[p]), "file read error: No such file or directory (os error 2)");
        assert_eq!(call_err("toml", "read", &[]), "toml.read() requires a file path string");
    }
}
