//! The `url` module (spec 11 §11.13): WHATWG parsing with the `url` crate, and the
//! percent-encoding of the string methods `encode_uri`/`decode_uri` (spec 10 §10.7),
//! which `encode`, `decode` and `build` share with them.

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, new_map, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("url", "parse", parse);
    r.module("url", "encode", encode);
    r.module("url", "decode", decode);
    r.module("url", "build", build);
}

/// Percent-encodes every UTF-8 byte except `A–Z a–z 0–9 - _ . ~` (as `encode_uri`).
pub fn encode_component(s: &str) -> String {
    crate::builtins::strings::encode_uri(s)
}

/// Decodes as `decode_uri`.
pub fn decode_component(s: &str) -> String {
    crate::builtins::strings::decode_uri(s)
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::NULL, Value::str)
}

fn parse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(text) = args.first().and_then(Value::as_str) else {
        return fail("url.parse() requires a URL string");
    };
    let u = match ::url::Url::parse(text) {
        Ok(u) => u,
        Err(e) => return fail(format!("URL parse error: {e}")),
    };
    let mut params = new_map();
    for (k, v) in u.query_pairs() {
        params.insert(Key::new(&k), Value::str(&v));
    }
    let mut m = map_with_capacity(10);
    m.insert(Key::new("scheme"), Value::str(u.scheme()));
    m.insert(Key::new("host"), opt_str(u.host_str()));
    m.insert(Key::new("port"), u.port().map_or(Value::NULL, |p| Value::int(i64::from(p))));
    m.insert(Key::new("path"), Value::str(u.path()));
    m.insert(Key::new("query"), opt_str(u.query()));
    m.insert(Key::new("fragment"), opt_str(u.fragment()));
    m.insert(Key::new("params"), Value::object(params));
    m.insert(Key::new("origin"), Value::string(u.origin().ascii_serialization()));
    m.insert(Key::new("username"), opt_str(Some(u.username()).filter(|n| !n.is_empty())));
    m.insert(Key::new("password"), opt_str(u.password()));
    Ok(Value::object(m))
}

fn encode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(s) => Ok(Value::string(encode_component(s))),
        None => fail("url.encode() requires a string"),
    }
}

fn decode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(s) => Ok(Value::string(decode_component(s))),
        None => fail("url.decode() requires a string"),
    }
}

/// `scheme://host[:port]path[?params][#fragment]` from an options object.
fn build(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(opts) = args.first().and_then(Value::as_object) else {
        return fail("url.build() requires an options object");
    };
    let field_str = |k: &str| opts.get(k).and_then(Value::as_str);
    let Some(host) = field_str("host") else {
        return fail("url.build() requires a 'host' field");
    };
    let mut out = String::new();
    out.push_str(field_str("scheme").unwrap_or("https"));
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = opts.get("port").and_then(Value::as_int) {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(field_str("path").unwrap_or("/"));
    if let Some(params) = opts.get("params").and_then(Value::as_object).filter(|p| !p.is_empty()) {
        for (n, (k, v)) in params.iter().enumerate() {
            out.push(if n == 0 { '?' } else { '&' });
            out.push_str(&encode_component(k.as_str()));
            out.push('=');
            out.push_str(&encode_component(&display(v)));
        }
    }
    if let Some(fragment) = field_str("fragment") {
        out.push('#');
        out.push_str(fragment);
    }
    Ok(Value::string(out))
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{call, call_err, field, i, keys_of, obj, s, say, show};
    use crate::value::Value;

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("url")), ["parse", "encode", "decode", "build"]);
    }

    #[test]
    fn parse_spec_example() {
        let u = call("url", "parse", &[s("https://user:pw@example.com:8443/a/b?x=1&y=two%20words&x=3#frag")]);
        assert_eq!(
            show(&u),
            r#"{ "scheme": "https", "host": "example.com", "port": 8443, "path": "/a/b", "query": "x=1&y=two%20words&x=3", "fragment": "frag", "params": { "x": "3", "y": "two words" }, "origin": "https://example.com:8443", "username": "user", "password": "pw" }"#
        );
        assert_eq!(crate::ops::type_name(&field(&u, "port")), "Int");
    }

    #[test]
    fn parse_details() {
        let u = call("url", "parse", &[s("HTTP://Example.COM:80/")]);
        assert_eq!(
            show(&u),
            r#"{ "scheme": "http", "host": "example.com", "port": null, "path": "/", "query": null, "fragment": null, "params": {  }, "origin": "http://example.com", "username": null, "password": null }"#
        );
        let m = call("url", "parse", &[s("mailto:someone@example.com")]);
        assert_eq!(show(&field(&m, "origin")), "null");
        assert!(field(&m, "host").is_null());
        assert_eq!(show(&field(&m, "path")), "someone@example.com");
        let q = call("url", "parse", &[s("http://h/p?a=1+2&b=%C3%A9&c")]);
        assert_eq!(show(&field(&q, "params")), r#"{ "a": "1 2", "b": "é", "c": "" }"#);
        assert_eq!(call_err("url", "parse", &[s("/relative")]), "URL parse error: relative URL without a base");
        assert_eq!(call_err("url", "parse", &[s("http://")]), "URL parse error: empty host");
        assert_eq!(call_err("url", "parse", &[i(1)]), "url.parse() requires a URL string");
    }

    #[test]
    fn encode_decode() {
        assert_eq!(say("url", "encode", &[s("a b&c")]), "a%20b%26c");
        assert_eq!(say("url", "encode", &[s("€")]), "%E2%82%AC");
        assert_eq!(say("url", "encode", &[s("a b&c/é")]), "a%20b%26c%2F%C3%A9");
        assert_eq!(say("url", "decode", &[s("a%20b+c")]), "a b c");
        assert_eq!(say("url", "decode", &[s("a%20b+c%2")]), "a b c%2");
        assert_eq!(say("url", "decode", &[s("%zz")]), "%zz");
        assert_eq!(say("url", "decode", &[s("%C3%A9")]), "é");
        assert_eq!(say("url", "decode", &[s("%FF!")]), "\u{FFFD}!");
        assert_eq!(say("url", "decode", &[s("%+1+")]), "%+1 ");
        assert_eq!(call_err("url", "encode", &[i(1)]), "url.encode() requires a string");
        assert_eq!(call_err("url", "decode", &[]), "url.decode() requires a string");
    }

    #[test]
    fn build() {
        let full = obj(vec![
            ("scheme", s("http")),
            ("host", s("h")),
            ("port", i(8080)),
            ("path", s("/p")),
            ("params", obj(vec![("n", i(1))])),
            ("fragment", s("top")),
        ]);
        assert_eq!(say("url", "build", &[full]), "http://h:8080/p?n=1#top");
        assert_eq!(
            say("url", "build", &[obj(vec![("host", s("example.org")), ("path", s("/x"))])]),
            "https://example.org/x"
        );
        assert_eq!(say("url", "build", &[obj(vec![("host", s("h")), ("path", s("x"))])]), "https://hx");
        let p = obj(vec![("q", s("a b")), ("k&", Value::TRUE), ("l", Value::array(vec![i(1)]))]);
        assert_eq!(
            say("url", "build", &[obj(vec![("host", s("h")), ("params", p), ("port", s("80"))])]),
            "https://h/?q=a%20b&k%26=true&l=%5B1%5D"
        );
        assert_eq!(say("url", "build", &[obj(vec![("host", s("h")), ("params", obj(vec![]))])]), "https://h/");
        assert_eq!(call_err("url", "build", &[obj(vec![("path", s("/"))])]), "url.build() requires a 'host' field");
        assert_eq!(call_err("url", "build", &[s("h")]), "url.build() requires an options object");
    }
}
