//! The HTTP server of `@server` programs (spec 11 §11.20) and Response values.
//!
//! The compiler describes the server statically (`forgec::ir::server`) and ends the
//! program's top level with a call of the builtin `__serve(description, handler…)`.
//! That call never returns while the server runs:
//!
//! - the network side (`net.rs`) runs on a tokio runtime of its own threads: it
//!   accepts connections, routes, checks bodies and limits, and hands each request
//!   that reaches a handler to the isolates over one multi-consumer queue;
//! - the isolates run the handlers. The thread that ran the top level is the first;
//!   with `workers: N` (or `FORGE_WORKERS`), N − 1 more threads each run the whole
//!   program again through the tier's program runner and, on reaching `__serve`,
//!   join the queue. Values never cross threads: requests arrive as plain data and
//!   each isolate turns its handler's result into plain bytes (`Reply`).
//!
//! Nothing here starts before `__serve` runs, so a program without `@server` never
//! creates a thread or a tokio runtime, and a native executable without `@server` does
//! not link this module (it is registered only for programs that use it).

pub mod response;

mod net;
mod routes;

use std::cell::Cell;
use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::ops::type_name;
use crate::stdlib::json::{write_json_string, write_scalar};
use crate::value::{new_map, Key, Kind, Value};

use response::{HttpResponse, NoBody};
use routes::{Method, Route};

/// Registers `__serve` (the server module is linked only into programs with `@server`).
pub fn register(r: &mut Registry) {
    r.global("__serve", serve);
}

/// The server's settings (`@server` arguments, spec 11 §11.20.1 and §11.20.8).
pub struct Config {
    pub file: String,
    pub host: std::net::IpAddr,
    pub port: u16,
    pub permissive: bool,
    pub log: bool,
    pub max_body: usize,
    pub header_timeout: Duration,
    pub workers: usize,
    pub routes: Vec<Route>,
}

/// A request for an isolate: which route, what arrived, and where to answer.
pub struct Job {
    pub route: usize,
    pub kind: JobKind,
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

#[allow(clippy::large_enum_variant)] // one per request, moved once into a channel
pub enum JobKind {
    Http(Request),
    /// One text message on a WebSocket route.
    Ws(String),
}

/// An HTTP request as plain data (it crosses from the network threads).
pub struct Request {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// Lower-case names; a repeated header's values joined by `, `.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body of POST/PUT/PATCH routes.
    pub body: Option<serde_json::Value>,
    pub text: String,
    pub remote: String,
}

/// A handler's answer as plain data.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

thread_local! {
    /// Set on the threads started as extra workers: their `__serve` joins the queue.
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// The number of workers chosen on the command line (`forge run --workers N`); 0 when
/// not given. It wins over `FORGE_WORKERS` and `@server(workers: N)`.
static WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub fn set_workers(n: usize) {
    WORKERS.store(n, std::sync::atomic::Ordering::Relaxed);
}

type ProgramRunner = Box<dyn Fn() + Send + Sync>;

static RUNNER: OnceLock<ProgramRunner> = OnceLock::new();

/// Registers how to run the whole program again on the current thread in a fresh
/// isolate (each tier registers one before running a program). Extra workers use it.
pub fn set_program_runner(f: ProgramRunner) {
    let _ = RUNNER.set(f);
}

/// The queue every isolate takes requests from.
static QUEUE: OnceLock<(crossbeam_channel::Sender<Job>, crossbeam_channel::Receiver<Job>)> = OnceLock::new();

fn queue() -> &'static (crossbeam_channel::Sender<Job>, crossbeam_channel::Receiver<Job>) {
    QUEUE.get_or_init(crossbeam_channel::unbounded)
}

/// Writes a start-up error the way §11.20.1 shows it and ends the program with 1.
fn startup_error(msg: &str) -> Error {
    crate::output::flush();
    let colour = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let head = if colour { "\x1b[1;31merror:\x1b[0m" } else { "error:" };
    crate::output::eprint(&format!("{head} {msg}\n"));
    Error::exit(1)
}

/// Reads the description the compiler wrote (see `forgec::ir::server`).
fn config(desc: &str) -> std::result::Result<Config, String> {
    let doc: serde_json::Value = serde_json::from_str(desc).map_err(|e| format!("internal error: {e}"))?;
    let opts = &doc["options"];
    let file = doc["file"].as_str().unwrap_or("").to_string();
    let port = match opts.get("port").and_then(serde_json::Value::as_i64) {
        None => 8080,
        Some(p) if (1..=65535).contains(&p) => p as u16,
        Some(p) => return Err(format!("invalid port: {p}")),
    };
    let host = match opts.get("host").and_then(serde_json::Value::as_str) {
        None => std::net::IpAddr::from([127, 0, 0, 1]),
        Some(h) => h.parse().map_err(|_| "invalid address: invalid socket address syntax".to_string())?,
    };
    let permissive = opts
        .get("cors")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|c| matches!(c.to_ascii_lowercase().as_str(), "permissive" | "any" | "*"));
    let log = opts.get("log").and_then(serde_json::Value::as_bool).unwrap_or(true);
    let max_body = match opts.get("max_body").and_then(serde_json::Value::as_i64) {
        None => 10 * 1024 * 1024,
        Some(n) if n >= 0 => n as usize,
        Some(n) => return Err(format!("invalid max_body: {n}")),
    };
    let header_timeout = match opts.get("header_timeout").and_then(serde_json::Value::as_i64) {
        None => Duration::from_secs(10),
        Some(n) if n > 0 => Duration::from_secs(n as u64),
        Some(n) => return Err(format!("invalid header_timeout: {n}")),
    };
    let forced = WORKERS.load(std::sync::atomic::Ordering::Relaxed);
    let workers = match std::env::var("FORGE_WORKERS") {
        _ if forced > 0 => forced,
        Ok(w) => match w.trim().parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => n,
            _ => return Err(format!("invalid FORGE_WORKERS: {w} (expected a number from 1 to 1024)")),
        },
        Err(_) => match opts.get("workers").and_then(serde_json::Value::as_i64) {
            None => 1,
            Some(n) if (1..=1024).contains(&n) => n as usize,
            Some(n) => return Err(format!("invalid workers: {n} (expected a number from 1 to 1024)")),
        },
    };
    let mut routes = Vec::new();
    for r in doc["routes"].as_array().into_iter().flatten() {
        let method = Method::parse(r["method"].as_str().unwrap_or("GET"));
        let path = r["path"].as_str().unwrap_or("/").to_string();
        let params =
            r["params"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(String::from)).collect();
        let name = r["name"].as_str().unwrap_or("").to_string();
        let line = r["line"].as_u64().unwrap_or(0) as u32;
        routes.push(Route::new(method, path, name, line, params));
    }
    if routes.is_empty() {
        return Err("@server defined but no route handlers found. Add @get/@post functions.".into());
    }
    for (i, a) in routes.iter().enumerate() {
        if routes[..i].iter().any(|b| b.method == a.method && b.shape == a.shape) {
            return Err(format!(
                "Overlapping method route. Handler for `{} {}` already exists",
                a.method.name(),
                a.path
            ));
        }
    }
    Ok(Config { file, host, port, permissive, log, max_body, header_timeout, workers, routes })
}

/// The reason a bind failed, worded the same whatever the C library: musl's
/// `strerror` says "Address in use" where glibc (and the spec) say "Address already in
/// use".
fn bind_error(e: &std::io::Error) -> String {
    match (e.kind(), e.raw_os_error()) {
        (std::io::ErrorKind::AddrInUse, Some(code)) => format!("Address already in use (os error {code})"),
        (std::io::ErrorKind::AddrNotAvailable, Some(code)) => {
            format!("Cannot assign requested address (os error {code})")
        }
        (std::io::ErrorKind::PermissionDenied, Some(code)) => format!("Permission denied (os error {code})"),
        _ => e.to_string(),
    }
}

/// `__serve(description, handler…)`: starts the server (on the first isolate) or joins
/// it (on an extra worker), then answers requests until the process ends.
fn serve(host: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let handlers = &args[1.min(args.len())..];
    if IS_WORKER.with(Cell::get) {
        worker_loop(host, handlers);
    }
    let desc = args.first().and_then(Value::as_str).unwrap_or("");
    let config = match config(desc) {
        Ok(c) => c,
        Err(msg) => return Err(startup_error(&msg)),
    };
    let listener = match std::net::TcpListener::bind((config.host, config.port)) {
        Ok(l) => l,
        Err(e) => return Err(startup_error(&format!("bind failed: {}", bind_error(&e)))),
    };
    crate::output::write(&banner(&config));
    crate::output::flush();
    let config = Arc::new(config);
    if let Err(e) = net::start(listener, config.clone()) {
        return Err(startup_error(&e));
    }
    for _ in 1..config.workers {
        let started = std::thread::Builder::new().stack_size(64 << 20).spawn(|| {
            IS_WORKER.with(|w| w.set(true));
            match RUNNER.get() {
                Some(run) => run(),
                None => crate::output::eprint("error: this tier cannot start extra workers\n"),
            }
        });
        if let Err(e) = started {
            crate::output::eprint(&format!("error: cannot start a worker: {e}\n"));
        }
    }
    worker_loop(host, handlers)
}

/// The start-up banner (§11.20.1).
fn banner(c: &Config) -> String {
    let mut s = String::new();
    s.push('\n');
    s.push_str("  \x1b[1;32m🔥 Forge server running\x1b[0m\n");
    s.push_str(&format!("  \x1b[1m   http://{}:{}\x1b[0m\n", c.host, c.port));
    let cors = if c.permissive {
        "\x1b[33mpermissive (any origin)\x1b[0m"
    } else {
        "\x1b[32mrestrictive (same-origin)\x1b[0m"
    };
    s.push_str(&format!("  \x1b[90m   CORS: {cors}\x1b[0m\n"));
    s.push('\n');
    for r in &c.routes {
        s.push_str(&format!("  \x1b[36m{:>6}\x1b[0m  {}\n", r.method.name_banner(), r.path));
    }
    s.push('\n');
    s.push_str("  \x1b[90mPowered by axum + tokio | Ctrl+C to stop\x1b[0m\n");
    s.push('\n');
    s
}

/// Runs handlers for requests from the queue, forever (the process ends on shutdown).
fn worker_loop(host: &mut dyn Host, handlers: &[Value]) -> ! {
    let rx = queue().1.clone();
    let config = net::config();
    loop {
        let Ok(job) = rx.recv() else {
            // The queue never closes while the process runs; park rather than spin.
            std::thread::park();
            continue;
        };
        let reply = match (handlers.get(job.route), config.routes.get(job.route)) {
            (Some(h), Some(route)) => run_job(host, h, route, &config, job.kind),
            _ => Reply { status: 500, headers: Vec::new(), body: b"{\"error\":\"no handler\"}".to_vec() },
        };
        crate::output::flush();
        let _ = job.reply.send(reply);
    }
}

/// Calls the handler for one request and turns the outcome into a reply.
fn run_job(host: &mut dyn Host, handler: &Value, route: &Route, config: &Config, kind: JobKind) -> Reply {
    match kind {
        JobKind::Ws(text) => {
            let out = match host.call(handler, &[Value::str(&text)]) {
                Ok(v) => display(&v),
                Err(e) => {
                    if let Some(code) = e.is_exit() {
                        crate::output::flush();
                        std::process::exit(code);
                    }
                    format!("error: {}", e.message())
                }
            };
            Reply { status: 200, headers: Vec::new(), body: out.into_bytes() }
        }
        JobKind::Http(req) => {
            let args = handler_args(route, &req);
            match host.call(handler, &args) {
                Ok(v) => reply_of(&v),
                Err(e) => {
                    if let Some(code) = e.is_exit() {
                        crate::output::flush();
                        std::process::exit(code);
                    }
                    log_handler_error(&e, route, config);
                    let mut body = String::from("{\"error\":");
                    write_json_string(&mut body, e.message());
                    body.push('}');
                    json_reply(500, body)
                }
            }
        }
    }
}

/// `error: [FILE:LINE] MESSAGE (METHOD PATH)` on stderr (§11.20.8).
fn log_handler_error(e: &Error, route: &Route, config: &Config) {
    let inner = e.inner();
    let file = inner.file.clone().unwrap_or_else(|| config.file.clone());
    let line = inner.pos.map(|p| p.0).unwrap_or(route.line);
    let first = e.message().lines().next().unwrap_or("");
    crate::output::eprint(&format!("error: [{file}:{line}] {first} ({} {})\n", route.method.name(), route.path));
}

/// The handler's arguments, filled by parameter name (§11.20.3, §11.20.8).
fn handler_args(route: &Route, req: &Request) -> Vec<Value> {
    let body = || match &req.body {
        Some(doc) => crate::stdlib::json::from_json(doc),
        None => Value::object(new_map()),
    };
    let query = || {
        let mut m = new_map();
        for (k, v) in &req.query {
            m.insert(Key::new(k), Value::str(v));
        }
        Value::object(m)
    };
    route
        .params
        .iter()
        .map(|name| {
            if let Some((_, v)) = req.params.iter().find(|(k, _)| k == name) {
                return Value::str(v);
            }
            match name.as_str() {
                "body" | "data" => body(),
                "query" | "qs" => query(),
                "request" | "req" => request_object(req),
                _ => match req.query.iter().rev().find(|(k, _)| k == name) {
                    Some((_, v)) => Value::str(v),
                    None => Value::NULL,
                },
            }
        })
        .collect()
}

fn pairs_object(pairs: &[(String, String)]) -> Value {
    let mut m = new_map();
    for (k, v) in pairs {
        m.insert(Key::new(k), Value::str(v));
    }
    Value::object(m)
}

/// The `request`/`req` parameter: `{method, path, params, query, headers, body, text,
/// remote}`.
fn request_object(req: &Request) -> Value {
    let mut m = new_map();
    m.insert(Key::new("method"), Value::str(&req.method));
    m.insert(Key::new("path"), Value::str(&req.path));
    m.insert(Key::new("params"), pairs_object(&req.params));
    m.insert(Key::new("query"), pairs_object(&req.query));
    m.insert(Key::new("headers"), pairs_object(&req.headers));
    let body = req.body.as_ref().map(crate::stdlib::json::from_json).unwrap_or(Value::NULL);
    m.insert(Key::new("body"), body);
    m.insert(Key::new("text"), Value::str(&req.text));
    m.insert(Key::new("remote"), Value::str(&req.remote));
    Value::object(m)
}

fn json_reply(status: u16, body: String) -> Reply {
    Reply { status, headers: vec![("content-type".into(), "application/json".into())], body: body.into_bytes() }
}

/// The reply for a handler's return value (§11.20.4, §11.20.8).
fn reply_of(v: &Value) -> Reply {
    if let Some(r) = v.native_ref::<HttpResponse>() {
        return response_reply(r);
    }
    if v.kind() == Kind::Err {
        let inner = v.wrapped().unwrap_or(Value::NULL);
        if let Some(r) = inner.native_ref::<HttpResponse>() {
            return response_reply(r);
        }
        return json_reply(500, handler_json(v));
    }
    json_reply(200, handler_json(v))
}

/// A Response value as a reply: its status, its headers, and its body (JSON, or text
/// for a String); a `content-type` among its headers replaces the default.
fn response_reply(r: &HttpResponse) -> Reply {
    let (default_type, body) = if r.body.native_ref::<NoBody>().is_some() {
        (None, Vec::new())
    } else if let Some(s) = r.body.as_str() {
        (Some("text/plain; charset=utf-8"), s.as_bytes().to_vec())
    } else {
        (Some("application/json"), handler_json(&r.body).into_bytes())
    };
    let mut headers = Vec::new();
    let has_type = r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if let (Some(t), false) = (default_type, has_type) {
        headers.push(("content-type".to_string(), t.to_string()));
    }
    headers.extend(r.headers.iter().cloned());
    Reply { status: r.status, headers, body }
}

/// The compact JSON of a handler's result: `Ok`/`Err` as `{"Ok": v}`/`{"Err": v}`,
/// non-finite numbers as `null`, values JSON cannot hold as `"<Kind>"`.
fn handler_json(v: &Value) -> String {
    let mut out = String::new();
    write_handler_json(&mut out, v);
    out
}

fn write_handler_json(out: &mut String, v: &Value) {
    match v.kind() {
        Kind::Null | Kind::Undef | Kind::Bool | Kind::Int | Kind::Float | Kind::Str => write_scalar(out, v),
        Kind::Array => {
            out.push('[');
            for (i, x) in v.as_array().unwrap_or(&[]).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_handler_json(out, x);
            }
            out.push(']');
        }
        Kind::Object => {
            out.push('{');
            for (i, (k, x)) in v.as_object().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k.as_str());
                out.push(':');
                write_handler_json(out, x);
            }
            out.push('}');
        }
        Kind::Ok | Kind::Err => {
            out.push_str(if v.kind() == Kind::Ok { "{\"Ok\":" } else { "{\"Err\":" });
            write_handler_json(out, &v.wrapped().unwrap_or(Value::NULL));
            out.push('}');
        }
        Kind::Cell => write_handler_json(out, &v.cell_get()),
        _ => write_json_string(out, &format!("<{}>", type_name(v))),
    }
}
