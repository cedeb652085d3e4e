//! The `http` client module (spec 11 §11.19) and the global `fetch` (spec 10 §10.14),
//! through `reqwest`'s blocking client (rustls with the ring provider and the embedded
//! webpki roots). The module also carries the Response constructors of the server
//! (`http.respond`, `text`, `html`, `redirect`, §11.20.8), which live in
//! `crate::server::response`.
//!
//! One client serves the whole process: it is built on the first request (so a program
//! that never calls the module starts no runtime and opens no connection) and never
//! dropped. Each call turns its arguments into plain Rust data first, performs the
//! request (off any tokio runtime the calling thread may be in, see [`blocking`]) and
//! only then builds Forge values, so no Forge value crosses a thread.
//!
//! Also here, for the other network modules: [`blocking`] and the rustls client
//! configurations ([`tls_config`]) that `ws` and `pg` use.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Error, Result};
use crate::host::Host;
use crate::stdlib::json;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("http", "get", get);
    r.module("http", "post", post);
    r.module("http", "put", put);
    r.module("http", "delete", delete);
    r.module("http", "patch", patch);
    r.module("http", "head", head);
    r.module("http", "download", download);
    r.module("http", "crawl", crawl);
    r.module("http", "pretty", pretty);
    r.module("http", "respond", crate::server::response::respond);
    r.module("http", "text", crate::server::response::text);
    r.module("http", "html", crate::server::response::html);
    r.module("http", "redirect", crate::server::response::redirect);
    r.global("fetch", fetch);
}

// ---------------------------------------------------------------------------------
// Shared by the network modules.

/// Runs `f`, a blocking network operation, on this thread — or, when this thread is
/// inside a tokio runtime (where blocking clients must not start or drop their own
/// runtime), on a short-lived helper thread.
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A rustls client configuration with the ring provider: certificates verified
/// against the embedded webpki roots, or (`verify` false) not verified at all.
pub(crate) fn tls_config(verify: bool) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if verify {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts every server certificate (the `*-no-verify` TLS modes); signatures are
/// still checked with the provider's algorithms so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------
// Performing a request.

/// The process's client: redirects followed (at most 10), `Accept: */*`, no
/// `User-Agent`, no timeout of its own (each request sets one).
fn client() -> std::result::Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<std::result::Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(10))
                .timeout(None)
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One request, as plain data.
struct Request {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

/// The answer, as plain data.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    millis: i64,
}

/// Why a request failed: sending it (`request failed: …`) or reading the body.
enum Failure {
    Send(String),
    Read(String),
}

fn perform(req: Request) -> std::result::Result<Response, Failure> {
    let client = client().map_err(Failure::Send)?;
    let start = Instant::now();
    let mut builder = client.request(req.method, &req.url).timeout(req.timeout);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    let resp = builder.send().map_err(|e| Failure::Send(e.to_string()))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_ascii_lowercase(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.bytes().map_err(|e| Failure::Read(e.to_string()))?.to_vec();
    let millis = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
    Ok(Response { status, headers, body, millis })
}

/// Percent-encodes `s` for a query string or a form body: UTF-8 bytes, with the
/// unreserved characters `A–Z a–z 0–9 - _ . ~` kept.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of an option value: Strings as they are, anything else display-rendered.
fn text_of(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => display(v),
    }
}

/// `name=value&…` of an object, names and values percent-encoded.
fn encode_pairs(obj: &Value) -> String {
    let mut out = String::new();
    for (k, v) in obj.as_object().into_iter().flatten() {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(k.as_str()));
        out.push('=');
        out.push_str(&percent_encode(&text_of(v)));
    }
    out
}

/// Sets header `name` (compared case-insensitively), replacing an earlier value.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value));
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The longest timeout honoured (a year): larger ones would overflow the clock.
const MAX_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// The whole-request timeout of the `"timeout"` option (seconds; default 30).
fn timeout_of(v: Option<&Value>) -> Duration {
    let secs = match v {
        Some(v) => match (v.as_int(), v.as_float()) {
            (Some(n), _) => n as f64,
            (None, Some(x)) if !x.is_nan() => x,
            _ => 30.0,
        },
        None => 30.0,
    };
    Duration::from_secs_f64(secs.clamp(0.0, MAX_TIMEOUT_SECS))
}

/// Builds the request of `http.METHOD(url, opts)` from its options (§11.19.1).
fn build_request(method: reqwest::Method, url: &str, opts: Option<&Value>) -> Request {
    let opts = opts.filter(|o| o.is_object());
    let opt = |key: &str| opts.and_then(|o| o.as_object()).and_then(|m| m.get(key)).filter(|v| !v.is_undef());
    let mut url = url.to_string();
    if let Some(params) = opt("params").filter(|p| p.is_object()) {
        let query = encode_pairs(params);
        if !query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query);
        }
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(h) = opt("headers").and_then(Value::as_object) {
        for (k, v) in h {
            set_header(&mut headers, k.as_str(), text_of(v));
        }
    }
    if let Some(cookies) = opt("cookies").and_then(Value::as_object) {
        let text: Vec<String> = cookies.iter().map(|(k, v)| format!("{}={}", k.as_str(), text_of(v))).collect();
        if !text.is_empty() {
            set_header(&mut headers, "Cookie", text.join("; "));
        }
    }
    if let Some(basic) = opt("basic_auth").and_then(Value::as_object) {
        let part = |k: &str| basic.get(k).filter(|v| !v.is_null()).map(text_of).unwrap_or_default();
        let token = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", part("user"), part("pass")),
        );
        set_header(&mut headers, "Authorization", format!("Basic {token}"));
    } else if let Some(token) = opt("auth").and_then(Value::as_str) {
        set_header(&mut headers, "Authorization", format!("Bearer {token}"));
    }
    let mut body = None;
    if let Some(form) = opt("form").filter(|f| f.is_object()) {
        body = Some(encode_pairs(form).into_bytes());
        if !has_header(&headers, "content-type") {
            headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        }
    }
    if let Some(v) = opt("body") {
        body = Some(json::stringify_value(v).into_bytes());
        if !has_header(&headers, "content-type") {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
    }
    Request { method, url, headers, body, timeout: timeout_of(opt("timeout")) }
}

/// The response object: `status, ok, url, body, headers, json`, then (for `http.*`)
/// `time` and `method`.
fn response_value(url: &str, resp: Response, method: Option<&str>) -> Value {
    let mut m = map_with_capacity(8);
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    let json = json::parse_text(&body).unwrap_or(Value::NULL);
    let mut headers = map_with_capacity(resp.headers.len());
    for (name, value) in resp.headers {
        headers.insert(Key::new(&name), Value::string(value));
    }
    m.insert(Key::new("status"), Value::int(i64::from(resp.status)));
    m.insert(Key::new("ok"), Value::bool((200..300).contains(&resp.status)));
    m.insert(Key::new("url"), Value::str(url));
    m.insert(Key::new("body"), Value::string(body));
    m.insert(Key::new("headers"), Value::object(headers));
    m.insert(Key::new("json"), json);
    if let Some(method) = method {
        m.insert(Key::new("time"), Value::int(resp.millis));
        m.insert(Key::new("method"), Value::str(method));
    }
    Value::object(m)
}

fn request(method: reqwest::Method, name: &str, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail(format!("http.{name}() requires a URL string"));
    };
    let req = build_request(method.clone(), url, args.get(1));
    let url = req.url.clone();
    match blocking(|| perform(req)) {
        Ok(resp) => Ok(response_value(&url, resp, Some(method.as_str()))),
        Err(Failure::Send(e)) => fail(format!("http.{name} error: request failed: {e}")),
        Err(Failure::Read(e)) => fail(format!("http.{name} error: body read error: {e}")),
    }
}

fn get(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::GET, "get", args)
}

fn post(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::POST, "post", args)
}

fn put(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::PUT, "put", args)
}

fn delete(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::DELETE, "delete", args)
}

fn patch(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::PATCH, "patch", args)
}

fn head(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    request(reqwest::Method::HEAD, "head", args)
}

/// A plain GET with the given timeout and no options.
fn simple_get(url: &str, timeout: Duration) -> Request {
    Request { method: reqwest::Method::GET, url: url.to_string(), headers: Vec::new(), body: None, timeout }
}

/// `fetch(url, opts?)` (spec 10 §10.14): only `method` and `body` are read.
fn fetch(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail("fetch() requires a URL string");
    };
    let opts = args.get(1).and_then(Value::as_object);
    let method = opts.and_then(|o| o.get("method")).and_then(Value::as_str).unwrap_or("GET").to_uppercase();
    let method = match method.as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        "DELETE" => reqwest::Method::DELETE,
        "PATCH" => reqwest::Method::PATCH,
        "HEAD" => reqwest::Method::HEAD,
        _ => return fail(format!("fetch error: unsupported method: {method}")),
    };
    let mut req = simple_get(url, Duration::from_secs(30));
    req.method = method;
    if let Some(body) = opts.and_then(|o| o.get("body")).filter(|v| !v.is_undef()) {
        req.body = Some(json::stringify_value(body).into_bytes());
        req.headers.push(("Content-Type".into(), "application/json".into()));
    }
    match blocking(|| perform(req)) {
        Ok(resp) => Ok(response_value(url, resp, None)),
        Err(Failure::Send(e)) | Err(Failure::Read(e)) => fail(format!("fetch error: request failed: {e}")),
    }
}

// ---------------------------------------------------------------------------------
// download, crawl, pretty.

/// `http.download(url, dest?)`: the raw bytes of a GET written to `dest` (default: the
/// text after the URL's last `/`).
fn download(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail("http.download() requires a URL string");
    };
    let dest = match args.get(1).filter(|v| !v.is_null() && !v.is_undef()) {
        Some(v) => text_of(v),
        None => url.rsplit('/').next().unwrap_or("").to_string(),
    };
    crate::output::eprint(&format!("  Downloading {url}...\n"));
    let resp = match blocking(|| perform(simple_get(url, Duration::from_secs(300)))) {
        Ok(resp) => resp,
        Err(Failure::Send(e)) => return fail(format!("download error: {e}")),
        Err(Failure::Read(e)) => return fail(format!("download read error: {e}")),
    };
    if resp.status >= 400 {
        return fail(format!("download failed: HTTP {}", resp.status));
    }
    std::fs::write(&dest, &resp.body).map_err(|e| Error::new(format!("write error: {e}")))?;
    let size = resp.body.len();
    crate::output::eprint(&format!("  Saved to {dest} ({size} bytes)\n"));
    let mut m = map_with_capacity(3);
    m.insert(Key::new("path"), Value::string(dest));
    m.insert(Key::new("size"), Value::int(i64::try_from(size).unwrap_or(i64::MAX)));
    m.insert(Key::new("status"), Value::int(i64::from(resp.status)));
    Ok(Value::object(m))
}

/// What `http.crawl` extracts from a page (§11.19.3).
struct Page {
    title: String,
    description: String,
    links: Vec<String>,
    text: String,
}

fn analyse(html: &str) -> Page {
    let title = html
        .find("<title>")
        .and_then(|start| {
            let rest = &html[start + "<title>".len()..];
            rest.find("</title>").map(|end| rest[..end].trim().to_string())
        })
        .unwrap_or_default();
    let description = description_of(html);
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + "href=\"".len()..];
        let Some(end) = rest.find('"') else { break };
        let link = &rest[..end];
        if link.starts_with("http") {
            links.push(link.to_string());
        }
        rest = &rest[end + 1..];
    }
    let mut text = visible_text(html);
    if text.len() > 500 {
        let mut cut = 500;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    Page { title, description, links, text }
}

/// The `content="…"` of the first tag containing `name="description"`, written after
/// the name inside that tag.
fn description_of(html: &str) -> String {
    let Some(at) = html.find("name=\"description\"") else { return String::new() };
    let rest = &html[at + "name=\"description\"".len()..];
    let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
    tag.find("content=\"")
        .and_then(|c| {
            let value = &tag[c + "content=\"".len()..];
            value.find('"').map(|end| value[..end].to_string())
        })
        .unwrap_or_default()
}

/// The page's text: tags removed, `<script>`/`<style>` contents dropped, whitespace
/// runs collapsed to one space.
fn visible_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut raw = String::with_capacity(html.len());
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<') else {
            raw.push_str(&html[i..]);
            break;
        };
        raw.push_str(&html[i..i + lt]);
        let start = i + lt;
        let skip_to = ["script", "style"].iter().find_map(|name| {
            let open = format!("<{name}");
            let after = lower.as_bytes().get(start + open.len()).copied();
            if lower[start..].starts_with(&open) && matches!(after, Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/')) {
                let close = format!("</{name}");
                let close_at = lower[start..].find(&close).map(|c| start + c);
                Some(match close_at.and_then(|c| lower[c..].find('>').map(|g| c + g + 1)) {
                    Some(end) => end,
                    None => html.len(),
                })
            } else {
                None
            }
        });
        i = match skip_to {
            Some(end) => end,
            None => match html[start..].find('>') {
                Some(g) => start + g + 1,
                None => html.len(),
            },
        };
    }
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `http.crawl(url)`: title, description, absolute links and text of a page.
fn crawl(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail("http.crawl() requires a URL string");
    };
    let resp = match blocking(|| perform(simple_get(url, Duration::from_secs(30)))) {
        Ok(resp) => resp,
        Err(Failure::Send(e)) => return fail(format!("crawl error: {e}")),
        Err(Failure::Read(e)) => return fail(format!("crawl read error: {e}")),
    };
    let html = String::from_utf8_lossy(&resp.body);
    let page = analyse(&html);
    let mut m = map_with_capacity(7);
    m.insert(Key::new("url"), Value::str(url));
    m.insert(Key::new("status"), Value::int(i64::from(resp.status)));
    m.insert(Key::new("title"), Value::string(page.title));
    m.insert(Key::new("description"), Value::string(page.description));
    m.insert(Key::new("links"), Value::array(page.links.into_iter().map(Value::string).collect()));
    m.insert(Key::new("text"), Value::string(page.text));
    m.insert(Key::new("html_length"), Value::int(i64::try_from(html.len()).unwrap_or(i64::MAX)));
    Ok(Value::object(m))
}

/// The stderr text of `http.pretty(resp)`.
fn pretty_text(resp: &crate::value::Map) -> String {
    let method = resp.get("method").map(text_of).unwrap_or_else(|| "GET".into());
    let url = resp.get("url").map(text_of).unwrap_or_default();
    let status = resp.get("status").and_then(Value::as_int).unwrap_or(0);
    let status_text = resp.get("status").map(display).unwrap_or_else(|| "0".into());
    let time = resp.get("time").map(display).unwrap_or_else(|| "?".into());
    let colour = match status {
        200..=299 => 32,
        300..=399 => 33,
        _ => 31,
    };
    let mut out = format!(
        "\n  \x1b[1m{method} {url}\x1b[0m\n  \x1b[{colour}mStatus: {status_text}\x1b[0m  \x1b[90mTime: {time}ms\x1b[0m\n"
    );
    if let Some(j) = resp.get("json") {
        out.push('\n');
        for line in json::pretty_value(j, 2).lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

fn pretty(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(resp) = args.first().and_then(Value::as_object) else {
        return fail("http.pretty() requires a response object");
    };
    crate::output::eprint(&pretty_text(resp));
    Ok(Value::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdlib::testing::{arr, call, call_err, field, i, keys_of, obj, s, show};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// A request as the loopback server saw it.
    struct Seen {
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    fn read_request(stream: &mut TcpStream) -> Option<Seen> {
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':')?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        Some(Seen { method, target, headers, body })
    }

    fn answer(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let _ = stream.write_all(out.as_bytes());
        let _ = stream.write_all(body);
    }

    fn serve(mut stream: TcpStream) {
        let Some(req) = read_request(&mut stream) else { return };
        let path = req.target.split('?').next().unwrap_or("").to_string();
        let json_type = [("Content-Type", "application/json")];
        match path.as_str() {
            "/hello" => answer(
                &mut stream,
                200,
                &[("Content-Type", "application/json"), ("X-Upstream", "yes")],
                br#"{"hello": "world", "n": 42, "list": [1, 2, 3]}"#,
            ),
            "/text" => answer(&mut stream, 200, &[("Content-Type", "text/plain; charset=utf-8")], b"plain text"),
            "/bytes" => answer(&mut stream, 200, &[], b"ok \xff\xfe end"),
            "/redirect" => answer(&mut stream, 302, &[("Location", "/hello")], b""),
            "/loop" => answer(&mut stream, 302, &[("Location", "/loop")], b""),
            "/headers" => answer(
                &mut stream,
                200,
                &[("X-B", "1"), ("X-A", "first"), ("X-A", "second"), ("X-Bin", "caf\u{e9}")],
                b"",
            ),
            "/slow" => {
                std::thread::sleep(Duration::from_millis(2500));
                answer(&mut stream, 200, &[], b"late");
            }
            "/short" => {
                // Promises more body than it sends, then closes.
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
            }
            "/page" => answer(
                &mut stream,
                200,
                &[("Content-Type", "text/html")],
                "<html><head><title> My  Page </title><meta name=\"description\" content=\"About it\">\
                 <style>p { color: red }</style><script>var x = \"<b>\";</script></head>\
                 <body><h1>Hello</h1>\n<p>See <a href=\"https://a.example/x\">a</a>, <a href=\"/rel\">r</a> and \
                 <a href=\"http://b.example\">b</a> <a href=\"https://a.example/x\">again</a>.</p></body></html>"
                    .as_bytes(),
            ),
            "/file.bin" => answer(&mut stream, 200, &[], &[0, 1, 2, 255, 10]),
            p if p.starts_with("/status/") => {
                let code: u16 = p["/status/".len()..].parse().unwrap_or(500);
                answer(&mut stream, code, &json_type, format!("{{\"code\": {code}}}").as_bytes());
            }
            _ => {
                // Echo: what was received, as JSON.
                let mut headers = serde_json::Map::new();
                for (k, v) in &req.headers {
                    headers.insert(k.clone(), serde_json::Value::String(v.clone()));
                }
                let types: Vec<serde_json::Value> = req
                    .headers
                    .iter()
                    .filter(|(k, _)| k == "content-type")
                    .map(|(_, v)| serde_json::Value::String(v.clone()))
                    .collect();
                let body = String::from_utf8_lossy(&req.body).into_owned();
                let doc = serde_json::json!({
                    "method": req.method,
                    "target": req.target,
                    "headers": headers,
                    "header_names": req.headers.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
                    "content_types": types,
                    "body": body,
                    "json": serde_json::from_str::<serde_json::Value>(&body).ok(),
                });
                answer(&mut stream, 200, &json_type, doc.to_string().as_bytes());
            }
        }
    }

    /// The base URL of a loopback HTTP server that runs for the rest of the tests.
    fn upstream() -> String {
        static PORT: OnceLock<u16> = OnceLock::new();
        let port = *PORT.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let port = listener.local_addr().expect("addr").port();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    std::thread::spawn(move || serve(stream));
                }
            });
            port
        });
        format!("http://127.0.0.1:{port}")
    }

    fn echo(method: &str, path: &str, opts: Option<Value>) -> Value {
        let mut args = vec![s(&format!("{}{path}", upstream()))];
        args.extend(opts);
        field(&call("http", method, &args), "json")
    }

    #[test]
    fn members_in_catalogue_order() {
        assert_eq!(
            keys_of(&crate::builtins::module_object("http")),
            [
                "get", "post", "put", "delete", "patch", "head", "download", "crawl", "pretty", "respond", "text",
                "html", "redirect"
            ]
        );
        assert!(crate::builtins::lookup("fetch").is_some());
    }

    #[test]
    fn response_object() {
        let up = upstream();
        let r = call("http", "get", &[s(&format!("{up}/hello"))]);
        assert_eq!(keys_of(&r), ["status", "ok", "url", "body", "headers", "json", "time", "method"]);
        assert_eq!(show(&field(&r, "status")), "200");
        assert_eq!(show(&field(&r, "ok")), "true");
        assert_eq!(show(&field(&r, "url")), format!("{up}/hello"));
        assert_eq!(show(&field(&r, "body")), r#"{"hello": "world", "n": 42, "list": [1, 2, 3]}"#);
        assert_eq!(show(&field(&r, "json")), r#"{ "hello": "world", "n": 42, "list": [1, 2, 3] }"#);
        assert_eq!(show(&field(&r, "method")), "GET");
        assert!(field(&r, "time").as_int().is_some_and(|t| (0..5000).contains(&t)));
        let headers = field(&r, "headers");
        assert_eq!(show(&field(&headers, "content-type")), "application/json");
        assert_eq!(show(&field(&headers, "x-upstream")), "yes");
        // Text bodies: json is null.
        let t = call("http", "get", &[s(&format!("{up}/text"))]);
        assert_eq!(show(&field(&t, "body")), "plain text");
        assert!(field(&t, "json").is_null());
        // Invalid UTF-8 becomes U+FFFD.
        let b = call("http", "get", &[s(&format!("{up}/bytes"))]);
        assert_eq!(show(&field(&b, "body")), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn statuses_are_not_errors() {
        for (code, ok) in [(404, "false"), (500, "false"), (201, "true"), (299, "true"), (300, "false")] {
            let r = call("http", "get", &[s(&format!("{}/status/{code}", upstream()))]);
            assert_eq!(show(&field(&r, "status")), code.to_string());
            assert_eq!(show(&field(&r, "ok")), ok);
            assert_eq!(show(&field(&r, "json")), format!("{{ \"code\": {code} }}"));
        }
    }

    #[test]
    fn redirects_followed_but_url_kept() {
        let up = upstream();
        let r = call("http", "get", &[s(&format!("{up}/redirect"))]);
        assert_eq!(show(&field(&r, "status")), "200");
        assert_eq!(show(&field(&field(&r, "json"), "hello")), "world");
        assert_eq!(show(&field(&r, "url")), format!("{up}/redirect"));
        let e = call_err("http", "get", &[s(&format!("{up}/loop"))]);
        assert!(e.starts_with("http.get error: request failed: error following redirect"), "{e}");
    }

    #[test]
    fn headers_lower_case_in_order_last_value_kept() {
        let r = call("http", "get", &[s(&format!("{}/headers", upstream()))]);
        let h = field(&r, "headers");
        let names = keys_of(&h);
        let pos = |n: &str| names.iter().position(|k| k == n).unwrap_or_else(|| panic!("{n} in {names:?}"));
        assert!(pos("x-b") < pos("x-a") && pos("x-a") < pos("x-bin"), "{names:?}");
        assert_eq!(show(&field(&h, "x-a")), "second");
        assert_eq!(show(&field(&h, "x-bin")), "");
    }

    #[test]
    fn default_request_headers() {
        let seen = echo("get", "/echo", None);
        let names = show(&field(&seen, "header_names"));
        assert!(!names.contains("user-agent"), "{names}");
        assert_eq!(show(&field(&field(&seen, "headers"), "accept")), "*/*");
        assert_eq!(show(&field(&seen, "method")), "GET");
    }

    #[test]
    fn options() {
        let up = upstream();
        let opts = obj(vec![
            ("auth", s("tok")),
            ("params", obj(vec![("q", s("a b")), ("n", i(1)), ("é", s("x&y=z~._-"))])),
            ("timeout", i(5)),
            ("headers", obj(vec![("X-Trace", s("abc-123")), ("X-Num", i(7))])),
        ]);
        let r = call("http", "get", &[s(&format!("{up}/h")), opts]);
        assert_eq!(show(&field(&r, "url")), format!("{up}/h?q=a%20b&n=1&%C3%A9=x%26y%3Dz~._-"));
        let seen = field(&r, "json");
        assert_eq!(show(&field(&seen, "target")), "/h?q=a%20b&n=1&%C3%A9=x%26y%3Dz~._-");
        let h = field(&seen, "headers");
        assert_eq!(show(&field(&h, "authorization")), "Bearer tok");
        assert_eq!(show(&field(&h, "x-trace")), "abc-123");
        assert_eq!(show(&field(&h, "x-num")), "7");
        // params after an existing query string use `&`.
        let r = call("http", "get", &[s(&format!("{up}/h?a=1")), obj(vec![("params", obj(vec![("b", i(2))]))])]);
        assert_eq!(show(&field(&field(&r, "json"), "target")), "/h?a=1&b=2");
        // basic_auth wins over auth.
        let seen = echo(
            "get",
            "/echo",
            Some(obj(vec![("auth", s("tok")), ("basic_auth", obj(vec![("user", s("user")), ("pass", s("secret"))]))])),
        );
        assert_eq!(show(&field(&field(&seen, "headers"), "authorization")), "Basic dXNlcjpzZWNyZXQ=");
        let seen = echo("get", "/echo", Some(obj(vec![("cookies", obj(vec![("a", s("1")), ("b", s("two words"))]))])));
        assert_eq!(show(&field(&field(&seen, "headers"), "cookie")), "a=1; b=two words");
        // A non-object opts is ignored.
        let seen = echo("get", "/echo", Some(i(5)));
        assert_eq!(show(&field(&seen, "method")), "GET");
    }

    #[test]
    fn bodies() {
        let seen = echo("post", "/echo", Some(obj(vec![("form", obj(vec![("name", s("x y")), ("city", s("é"))]))])));
        assert_eq!(show(&field(&seen, "body")), "name=x%20y&city=%C3%A9");
        assert_eq!(show(&field(&seen, "content_types")), "[application/x-www-form-urlencoded]");
        // JSON bodies are json.stringify text, escaped.
        let body = obj(vec![("text", s("say \"hi\"\nbye")), ("path", s("C:\\temp")), ("n", i(1))]);
        let seen = echo("post", "/echo", Some(obj(vec![("body", body)])));
        assert_eq!(show(&field(&seen, "body")), r#"{"text": "say \"hi\"\nbye", "path": "C:\\temp", "n": 1}"#);
        assert_eq!(show(&field(&seen, "content_types")), "[application/json]");
        assert_eq!(show(&field(&field(&seen, "json"), "text")), "say \"hi\"\nbye");
        let seen = echo("put", "/echo", Some(obj(vec![("body", s("quote \" inside"))])));
        assert_eq!(show(&field(&seen, "body")), r#""quote \" inside""#);
        assert_eq!(show(&field(&seen, "method")), "PUT");
        // A content type in any letter case replaces the default.
        let seen = echo(
            "post",
            "/echo",
            Some(obj(vec![
                ("body", obj(vec![("a", i(1))])),
                ("headers", obj(vec![("content-type", s("application/json; charset=utf-8"))])),
            ])),
        );
        assert_eq!(show(&field(&seen, "content_types")), "[application/json; charset=utf-8]");
        // form and body: body's content, form's content type.
        let seen = echo(
            "patch",
            "/echo",
            Some(obj(vec![("form", obj(vec![("a", s("1"))])), ("body", arr(vec![i(1), i(2)]))])),
        );
        assert_eq!(show(&field(&seen, "body")), "[1, 2]");
        assert_eq!(show(&field(&seen, "content_types")), "[application/x-www-form-urlencoded]");
        assert_eq!(show(&field(&seen, "method")), "PATCH");
        let seen = echo("delete", "/echo/7", None);
        assert_eq!(show(&field(&seen, "method")), "DELETE");
        assert_eq!(show(&field(&seen, "target")), "/echo/7");
    }

    #[test]
    fn head_has_empty_body() {
        let r = call("http", "head", &[s(&format!("{}/hello", upstream()))]);
        assert_eq!(show(&field(&r, "method")), "HEAD");
        assert_eq!(show(&field(&r, "status")), "200");
        assert_eq!(show(&field(&r, "body")), "");
        assert!(field(&r, "json").is_null());
    }

    #[test]
    fn errors() {
        for m in ["get", "post", "put", "delete", "patch", "head"] {
            assert_eq!(call_err("http", m, &[]), format!("http.{m}() requires a URL string"));
            assert_eq!(call_err("http", m, &[i(1)]), format!("http.{m}() requires a URL string"));
        }
        assert_eq!(
            call_err("http", "post", &[s("http://127.0.0.1:1/")]),
            "http.post error: request failed: error sending request for url (http://127.0.0.1:1/)"
        );
        assert_eq!(call_err("http", "get", &[s("not a url")]), "http.get error: request failed: builder error");
        let up = upstream();
        let e = call_err("http", "get", &[s(&format!("{up}/slow")), obj(vec![("timeout", i(1))])]);
        assert_eq!(e, format!("http.get error: request failed: error sending request for url ({up}/slow)"));
        let e = call_err("http", "get", &[s(&format!("{up}/short"))]);
        assert!(e.starts_with("http.get error: body read error: "), "{e}");
        // Huge, negative and odd timeouts are no panic.
        for t in [i(i64::MAX), i(-5), crate::stdlib::testing::f(f64::INFINITY), crate::stdlib::testing::f(1e300)] {
            let _ = crate::stdlib::testing::try_call(
                "http",
                "get",
                &[s(&format!("{up}/hello")), obj(vec![("timeout", t)])],
            );
        }
        assert_eq!(timeout_of(Some(&i(-5))), Duration::ZERO);
        assert_eq!(timeout_of(Some(&s("x"))), Duration::from_secs(30));
        // A bad header name is a builder error, not a panic.
        let e = call_err("http", "get", &[s(&up), obj(vec![("headers", obj(vec![("bad name", s("x"))]))])]);
        assert_eq!(e, "http.get error: request failed: builder error");
    }

    #[test]
    fn fetch_builtin() {
        let up = upstream();
        let f = |args: &[Value]| {
            let idx = crate::builtins::lookup("fetch").and_then(|v| v.builtin_index()).expect("fetch");
            crate::builtins::call(idx, &mut crate::stdlib::testing::TestHost, args)
        };
        let r = f(&[s(&format!("{up}/hello"))]).unwrap_or_else(|e| panic!("{}", e.message()));
        assert_eq!(keys_of(&r), ["status", "ok", "url", "body", "headers", "json"]);
        assert_eq!(show(&field(&field(&r, "json"), "n")), "42");
        let r = f(&[
            s(&format!("{up}/echo")),
            obj(vec![
                ("method", s("post")),
                ("body", obj(vec![("msg", s("line1\nline2 \"q\""))])),
                ("headers", obj(vec![("X-Ignored", s("1"))])),
            ]),
        ])
        .unwrap_or_else(|e| panic!("{}", e.message()));
        let seen = field(&r, "json");
        assert_eq!(show(&field(&seen, "method")), "POST");
        assert_eq!(show(&field(&field(&seen, "json"), "msg")), "line1\nline2 \"q\"");
        assert_eq!(show(&field(&seen, "content_types")), "[application/json]");
        assert!(!show(&field(&seen, "header_names")).contains("x-ignored"));
        let err = |args: &[Value]| match f(args) {
            Ok(v) => panic!("succeeded: {}", show(&v)),
            Err(e) => e.message().to_string(),
        };
        assert_eq!(err(&[i(1)]), "fetch() requires a URL string");
        assert_eq!(err(&[s(&up), obj(vec![("method", s("trace"))])]), "fetch error: unsupported method: TRACE");
        assert_eq!(err(&[s("::")]), "fetch error: request failed: builder error");
        assert_eq!(
            err(&[s("http://127.0.0.1:1/")]),
            "fetch error: request failed: error sending request for url (http://127.0.0.1:1/)"
        );
    }

    #[test]
    fn download_writes_the_bytes() {
        let dir = std::env::temp_dir().join(format!("forge-http-dl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let dest = dir.join("out.bin").to_string_lossy().into_owned();
        let up = upstream();
        let r = call("http", "download", &[s(&format!("{up}/file.bin")), s(&dest)]);
        assert_eq!(show(&r), format!("{{ \"path\": \"{dest}\", \"size\": 5, \"status\": 200 }}"));
        assert_eq!(std::fs::read(&dest).expect("written"), [0, 1, 2, 255, 10]);
        let missing = dir.join("missing.bin").to_string_lossy().into_owned();
        assert_eq!(
            call_err("http", "download", &[s(&format!("{up}/status/404")), s(&missing)]),
            "download failed: HTTP 404"
        );
        assert!(!std::path::Path::new(&missing).exists());
        assert_eq!(call_err("http", "download", &[]), "http.download() requires a URL string");
        let e = call_err("http", "download", &[s("http://127.0.0.1:1/x"), s(&missing)]);
        assert!(e.starts_with("download error: error sending request"), "{e}");
        let e = call_err("http", "download", &[s(&format!("{up}/file.bin")), s("/no/such/dir/x")]);
        assert_eq!(e, "write error: No such file or directory (os error 2)");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn crawl_extracts() {
        let up = upstream();
        let r = call("http", "crawl", &[s(&format!("{up}/page"))]);
        assert_eq!(keys_of(&r), ["url", "status", "title", "description", "links", "text", "html_length"]);
        assert_eq!(show(&field(&r, "title")), "My  Page");
        assert_eq!(show(&field(&r, "description")), "About it");
        assert_eq!(show(&field(&r, "links")), "[https://a.example/x, http://b.example, https://a.example/x]");
        assert_eq!(show(&field(&r, "text")), "My Page Hello See a, r and b again.");
        assert_eq!(show(&field(&r, "status")), "200");
        assert_eq!(call_err("http", "crawl", &[]), "http.crawl() requires a URL string");
        let e = call_err("http", "crawl", &[s("http://127.0.0.1:1/")]);
        assert!(e.starts_with("crawl error: "), "{e}");
    }

    #[test]
    fn crawl_text_is_cut_on_a_character_boundary() {
        let html = format!("<p>{}</p>", "é".repeat(400));
        let page = analyse(&html);
        assert!(page.text.ends_with("..."));
        assert_eq!(page.text.len(), 500 + 3);
        let html = format!("<p>a{}</p>", "é".repeat(400));
        assert_eq!(analyse(&html).text.len(), 499 + 3);
        assert_eq!(analyse("<title>x").title, "");
        assert_eq!(analyse("<meta name=\"description\">").description, "");
        assert_eq!(analyse("a <script>never closed").text, "a");
        assert_eq!(analyse("<SCRIPT>x</SCRIPT>y<scripts>z").text, "yz");
    }

    #[test]
    fn pretty_output() {
        let resp = obj(vec![
            ("status", i(404)),
            ("url", s("http://x/y")),
            ("json", obj(vec![("a", i(1))])),
            ("time", i(12)),
            ("method", s("POST")),
        ]);
        let m = resp.as_object().expect("object");
        assert_eq!(
            pretty_text(m),
            "\n  \x1b[1mPOST http://x/y\x1b[0m\n  \x1b[31mStatus: 404\x1b[0m  \x1b[90mTime: 12ms\x1b[0m\n\n  {\n    \"a\": 1\n  }\n\n"
        );
        let m2 = obj(vec![("status", i(200)), ("url", s("u"))]);
        assert_eq!(
            pretty_text(m2.as_object().expect("object")),
            "\n  \x1b[1mGET u\x1b[0m\n  \x1b[32mStatus: 200\x1b[0m  \x1b[90mTime: ?ms\x1b[0m\n\n"
        );
        assert_eq!(call_err("http", "pretty", &[s("x")]), "http.pretty() requires a response object");
        assert!(call("http", "pretty", &[resp]).is_null());
    }

    #[test]
    fn requests_from_a_tokio_runtime_thread() {
        // A handler thread inside a runtime must not make the blocking client panic.
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let up = upstream();
        let status = rt.block_on(async move {
            let r = call("http", "get", &[s(&format!("{up}/hello"))]);
            show(&field(&r, "status"))
        });
        assert_eq!(status, "200");
    }
}
