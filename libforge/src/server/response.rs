//! Response values (spec 11 §11.20.8): what `http.respond`, `http.text`, `http.html`
//! and `http.redirect` return, and what a handler returns to choose its status,
//! headers and body. `typeof` is `"Response"`; the display is `<Response 201>`.

use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{NativeObject, Value};

/// A response chosen by a handler. `body` stays a Forge value until it is sent, so a
/// Response that crosses isolates is deep-copied like any other value.
pub struct HttpResponse {
    pub status: u16,
    pub body: Value,
    /// Headers as given, in order (names as written; `content-type` is matched
    /// case-insensitively when the response is sent).
    pub headers: Vec<(String, String)>,
}

impl NativeObject for HttpResponse {
    fn type_name(&self) -> &'static str {
        "Response"
    }
    fn display(&self) -> String {
        format!("<Response {}>", self.status)
    }
    fn deep_copy(&self, memo: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(HttpResponse {
            status: self.status,
            body: self.body.deep_copy(memo),
            headers: self.headers.clone(),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The status argument at `i` (default `default`), checked to be 100–599.
fn status_arg(args: &[Value], i: usize, default: i64, func: &str) -> Result<u16> {
    let n = match args.get(i) {
        None => default,
        Some(v) if v.is_null() => default,
        Some(v) => match v.as_int() {
            Some(n) => n,
            None => return fail(format!("{func}() status must be an integer")),
        },
    };
    if !(100..=599).contains(&n) {
        return fail(format!("invalid HTTP status: {n} (must be 100-599)"));
    }
    Ok(n as u16)
}

/// Headers from an Object argument: values display-rendered.
fn headers_arg(v: Option<&Value>, func: &str) -> Result<Vec<(String, String)>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let Some(obj) = v.as_object() else {
        return fail(format!("{func}() headers must be an object"));
    };
    Ok(obj
        .iter()
        .map(|(k, v)| {
            let text = match v.as_str() {
                Some(s) => s.to_string(),
                None => crate::display::display(v),
            };
            (k.as_str().to_string(), text)
        })
        .collect())
}

fn make(status: u16, body: Value, headers: Vec<(String, String)>) -> Value {
    Value::native(Box::new(HttpResponse { status, body, headers }))
}

/// `http.respond(status, body?, headers?)`.
pub fn respond(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.is_empty() {
        return fail("http.respond() requires a status code");
    }
    let status = status_arg(args, 0, 200, "http.respond")?;
    let body = args.get(1).cloned().unwrap_or(Value::NULL);
    let headers = headers_arg(args.get(2), "http.respond")?;
    // `http.respond(204)` has no body at all (not the JSON `null`).
    let body = if args.len() < 2 { Value::native(Box::new(NoBody)) } else { body };
    Ok(make(status, body, headers))
}

/// A body of `http.respond(status)` without a body argument: sent empty.
pub struct NoBody;

impl NativeObject for NoBody {
    fn type_name(&self) -> &'static str {
        "Null"
    }
    fn display(&self) -> String {
        "null".into()
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(NoBody))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn typed(args: &[Value], func: &str, content_type: &str) -> Result<Value> {
    let body = match args.first() {
        Some(v) => match v.as_str() {
            Some(s) => Value::str(s),
            None => Value::str(&crate::display::display(v)),
        },
        None => return fail(format!("{func}() requires a body string")),
    };
    let status = status_arg(args, 1, 200, func)?;
    Ok(make(status, body, vec![("content-type".into(), content_type.into())]))
}

/// `http.text(body, status?)`.
pub fn text(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    typed(args, "http.text", "text/plain; charset=utf-8")
}

/// `http.html(body, status?)`.
pub fn html(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    typed(args, "http.html", "text/html; charset=utf-8")
}

/// `http.redirect(url, status?)`: default 302 with a `location` header.
pub fn redirect(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail("http.redirect() requires a URL string");
    };
    let status = status_arg(args, 1, 302, "http.redirect")?;
    Ok(make(status, Value::str(""), vec![("location".into(), url.to_string())]))
}
