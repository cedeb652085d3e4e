//! The `csv` module (spec 11 §11.6).
//!
//! The spec fixes a simple line-based dialect (a `"` toggles quoted mode anywhere in a
//! field, fields never span lines, every field is trimmed, values are typed), which
//! differs from RFC 4180 readers such as the `csv` crate; both directions are therefore
//! written here, following the spec's rules exactly.

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("csv", "parse", parse);
    r.module("csv", "stringify", stringify);
    r.module("csv", "read", read);
    r.module("csv", "write", write);
}

/// Splits one line into unquoted, trimmed fields.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

/// The typed value of a field: Int, else Float, else Bool (`true`/`false` exactly),
/// else String.
fn typed(field: &str) -> Value {
    if let Ok(n) = field.parse::<i64>() {
        Value::int(n)
    } else if let Ok(x) = field.parse::<f64>() {
        Value::float(x)
    } else if field == "true" || field == "false" {
        Value::bool(field == "true")
    } else {
        Value::str(field)
    }
}

/// Parses CSV text into an array of objects keyed by the header row.
pub fn parse_text(text: &str) -> Value {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(header) = lines.next() else {
        return Value::array(Vec::new());
    };
    let headers: Vec<Key> = split_fields(header).iter().map(|h| Key::new(h)).collect();
    let mut rows = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        let mut m = map_with_capacity(headers.len());
        for (n, h) in headers.iter().enumerate() {
            let v = fields.get(n).map_or_else(|| Value::str(""), |f| typed(f));
            m.insert(h.clone(), v);
        }
        rows.push(Value::object(m));
    }
    Value::array(rows)
}

/// A field as written: the display rendering, quoted when it holds `,`, `"` or a line
/// break (inner quotes doubled).
fn write_field(out: &mut String, v: Option<&Value>) {
    let text = v.map(display).unwrap_or_default();
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// Writes rows of objects as CSV: the header is the first row's keys; non-object rows
/// are skipped; missing keys give empty fields.
pub fn stringify_rows(rows: &[Value]) -> String {
    let Some(first) = rows.first().and_then(Value::as_object) else {
        return String::new();
    };
    let headers: Vec<&str> = first.keys().map(Key::as_str).collect();
    let mut out = headers.join(",");
    out.push('\n');
    for row in rows.iter().filter_map(Value::as_object) {
        for (n, h) in headers.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            write_field(&mut out, row.get(*h));
        }
        out.push('\n');
    }
    out
}

fn parse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(text) => Ok(parse_text(text)),
        None => fail("csv.parse() requires a string"),
    }
}

fn stringify(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_array) {
        Some(rows) => Ok(Value::string(stringify_rows(rows))),
        None => fail("csv.stringify() requires an array of objects"),
    }
}

fn read(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(path) = args.first().and_then(Value::as_str) else {
        return fail("csv.read() requires a file path");
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_text(&text)),
        Err(e) => fail(format!("csv.read error: {e}")),
    }
}

fn write(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(path), Some(rows)) = (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_array)) else {
        return fail("csv.write() requires (path, array)");
    };
    match std::fs::write(path, stringify_rows(rows)) {
        Ok(()) => Ok(Value::NULL),
        Err(e) => fail(format!("csv.write error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{arr, call, call_err, f, field, i, keys_of, obj, s, say, show};
    use crate::value::Value;

    fn parse(text: &str) -> Value {
        call("csv", "parse", &[s(text)])
    }

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("csv")), ["parse", "stringify", "read", "write"]);
    }

    #[test]
    fn spec_example() {
        let d = parse("name,age,active,note\nAlice,30,true,hi\n\nBob, 25 ,false,\"a, b\"\nCarl,x");
        assert_eq!(
            show(&d),
            r#"[{ "name": "Alice", "age": 30, "active": true, "note": "hi" }, { "name": "Bob", "age": 25, "active": false, "note": "a, b" }, { "name": "Carl", "age": "x", "active": "", "note": "" }]"#
        );
    }

    #[test]
    fn quoting_and_trimming() {
        let d = parse("name,note,code\n\"Smith, J\",\"said \"\"hi\"\"\",007\n Carl , x \nDee,,\n");
        let rows = d.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(show(&field(&rows[0], "name")), "Smith, J");
        assert_eq!(show(&field(&rows[0], "note")), "said \"hi\"");
        assert_eq!(show(&field(&rows[0], "code")), "7");
        assert_eq!(show(&rows[1]), r#"{ "name": "Carl", "note": "x", "code": "" }"#);
        assert_eq!(show(&rows[2]), r#"{ "name": "Dee", "note": "", "code": "" }"#);
        assert_eq!(show(&parse("a\r\nx\"y,z\"w,  \r\n")), r#"[{ "a": "xy,zw" }]"#);
    }

    #[test]
    fn typing_and_shapes() {
        let d = parse("a,b,c,d,e,f,g\n-3,1.5,1e3,inf,TRUE,false,NaN");
        assert_eq!(show(&d), r#"[{ "a": -3, "b": 1.5, "c": 1000, "d": inf, "e": "TRUE", "f": false, "g": NaN }]"#);
        assert_eq!(show(&parse("")), "[]");
        assert_eq!(show(&parse("a,b\n")), "[]");
        assert_eq!(show(&parse("a,b\n  \n\t\n")), "[]");
        assert_eq!(show(&parse("k,v,k\n1,2,3,4")), r#"[{ "k": 3, "v": 2 }]"#);
        assert_eq!(show(&parse("x\n99999999999999999999")), r#"[{ "x": 100000000000000000000 }]"#);
        assert_eq!(call_err("csv", "parse", &[i(1)]), "csv.parse() requires a string");
    }

    #[test]
    fn stringify_rules() {
        let rows = arr(vec![
            obj(vec![("name", s("Alice")), ("age", i(30))]),
            obj(vec![("name", s("B, Jr")), ("age", i(25)), ("extra", i(1))]),
            obj(vec![("age", i(2))]),
        ]);
        assert_eq!(say("csv", "stringify", &[rows]), "name,age\nAlice,30\n\"B, Jr\",25\n,2\n");
        let q = arr(vec![obj(vec![("q", s("has \"quotes\"")), ("n", Value::NULL), ("b", Value::TRUE)])]);
        assert_eq!(say("csv", "stringify", &[q]), "q,n,b\n\"has \"\"quotes\"\"\",null,true\n");
        assert_eq!(say("csv", "stringify", &[arr(vec![])]), "");
        assert_eq!(say("csv", "stringify", &[arr(vec![i(1), obj(vec![("a", i(1))])])]), "");
        let mixed =
            arr(vec![obj(vec![("a", s("x\ny")), ("b", f(2.5))]), i(3), obj(vec![("b", arr(vec![i(1), i(2)]))])]);
        assert_eq!(say("csv", "stringify", &[mixed]), "a,b\n\"x\ny\",2.5\n,\"[1, 2]\"\n");
        assert_eq!(call_err("csv", "stringify", &[obj(vec![])]), "csv.stringify() requires an array of objects");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("forge_csv_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rw.csv");
        let p = s(path.to_str().unwrap());
        let people = arr(vec![
            obj(vec![("id", i(1)), ("name", s("Ann")), ("city", s("Oslo"))]),
            obj(vec![("id", i(2)), ("name", s("Ben")), ("city", s("Rome"))]),
        ]);
        assert_eq!(say("csv", "write", &[p.clone(), people]), "null");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "id,name,city\n1,Ann,Oslo\n2,Ben,Rome\n");
        assert_eq!(
            say("csv", "read", std::slice::from_ref(&p)),
            r#"[{ "id": 1, "name": "Ann", "city": "Oslo" }, { "id": 2, "name": "Ben", "city": "Rome" }]"#
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            call_err("csv", "read", std::slice::from_ref(&p)),
            "csv.read error: No such file or directory (os error 2)"
        );
        assert_eq!(
            call_err("csv", "write", &[p.clone(), arr(vec![])]),
            "csv.write error: No such file or directory (os error 2)"
        );
        assert_eq!(call_err("csv", "read", &[]), "csv.read() requires a file path");
        assert_eq!(call_err("csv", "write", std::slice::from_ref(&p)), "csv.write() requires (path, array)");
        assert_eq!(call_err("csv", "write", &[i(1), arr(vec![])]), "csv.write() requires (path, array)");
    }
}
