//! The network side of the server: tokio + hyper connections with the limits of
//! §11.20.8 set on each (header block, header timeout), routing, CORS, body checks,
//! WebSocket upgrades (axum's extractor over hyper's upgrade), the access log, and
//! graceful shutdown. Requests that reach a handler go to the isolates as [`Job`]s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::routes::{allow_header, find, segments, Found, Method};
use super::{queue, Config, Job, JobKind, Reply, Request};

static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();

/// The running server's settings (waits until [`start`] has set them).
pub fn config() -> Arc<Config> {
    CONFIG.wait().clone()
}

/// Largest header block accepted; larger ones are answered 431 by hyper.
const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// In-flight requests get this long to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

/// Starts the network threads on `listener` (already bound). Returns once they run;
/// SIGTERM/SIGINT are handled from then on.
pub fn start(listener: std::net::TcpListener, config: Arc<Config>) -> Result<(), String> {
    let _ = CONFIG.set(config.clone());
    listener.set_nonblocking(true).map_err(|e| format!("cannot listen: {e}"))?;
    // Two network threads at most, and one when the process may use a single CPU (a
    // container limited to one core, or `taskset -c 0`): every extra thread on one core
    // only adds context switches between the network and the isolates.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.clamp(1, 2))
        .thread_name("forge-http")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server runtime: {e}"))?;
    let (term, int) = {
        let _guard = rt.enter();
        let term = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
        let int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
        (term, int)
    };
    std::thread::Builder::new()
        .name("forge-server".into())
        .spawn(move || rt.block_on(accept_loop(listener, config, term, int)))
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    Ok(())
}

async fn accept_loop(listener: std::net::TcpListener, config: Arc<Config>, mut term: Signal, mut int: Signal) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::output::eprint(&format!("error: cannot listen: {e}\n"));
            crate::output::flush();
            std::process::exit(1);
        }
    };
    // Shutdown: `stop` tells each connection to finish its request in flight and
    // close; `live` counts the connection tasks (one clone each).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = Arc::new(());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(_) => {
                        // Out of descriptors or a connection reset before accept:
                        // back off briefly instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let cfg = config.clone();
                let service = hyper::service::service_fn(move |req| handle(cfg.clone(), peer, req));
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.header_timeout)
                    .max_header_size(MAX_HEADER_BLOCK);
                let mut conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
                let mut stopped = stopped.clone();
                let token = live.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = &mut conn => {}
                        _ = async { let _ = stopped.wait_for(|s| *s).await; } => {
                            std::pin::Pin::new(&mut conn).graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                    drop(token);
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    // Stop accepting at once; let the requests in flight finish.
    drop(listener);
    let _ = stop.send(true);
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while Arc::strong_count(&live) > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    crate::output::flush();
    std::process::exit(0);
}

/// Answers one request: routing and checks here, the handler on an isolate.
async fn handle(
    config: Arc<Config>,
    peer: SocketAddr,
    req: HttpRequest<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let mut resp = route(&config, peer, req).await;
    let headers = resp.headers_mut();
    headers.insert(hyper::header::VARY, HeaderValue::from_static(VARY));
    if config.permissive {
        headers.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if config.log {
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        crate::output::eprint(&format!("{method} {path} {} {ms:.2}ms\n", resp.status().as_u16()));
    }
    Ok(resp)
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn too_large() -> Response<Body> {
    let mut r = text(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
    // The rest of the body is not read: the connection cannot be reused.
    r.headers_mut().insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Whether the request's media type is JSON (`application/json`, `application/*+json`;
/// parameters such as `charset` do not matter).
fn is_json(req: &HttpRequest<hyper::body::Incoming>) -> bool {
    let Some(ct) = req.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn wants_upgrade(req: &HttpRequest<hyper::body::Incoming>) -> bool {
    req.headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("websocket"))
}

async fn route(config: &Config, peer: SocketAddr, req: HttpRequest<hyper::body::Incoming>) -> Response<Body> {
    let segs = segments(req.uri().path());
    let method = req.method().as_str().to_string();
    if method == "OPTIONS" {
        return options(config, &segs);
    }
    let upgrade = wants_upgrade(&req);
    let raw_path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy().into_owned();
    let (index, params) = match find(&config.routes, &method, &segs, upgrade) {
        Found::NotFound => return empty(StatusCode::NOT_FOUND),
        Found::WrongMethod(methods) => {
            let mut r = empty(StatusCode::METHOD_NOT_ALLOWED);
            if let Ok(v) = HeaderValue::from_str(&allow_header(&methods)) {
                r.headers_mut().insert(hyper::header::ALLOW, v);
            }
            return r;
        }
        Found::Route(i, p) => (i, p),
    };
    let route = &config.routes[index];
    if route.method == Method::Ws {
        return websocket(index, req).await;
    }
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in req.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.iter_mut().find(|(k, _)| k == name.as_str()) {
            Some((_, existing)) => {
                existing.push_str(", ");
                existing.push_str(&v);
            }
            None => headers.push((name.as_str().to_string(), v)),
        }
    }
    let mut body = None;
    let mut raw = String::new();
    if route.method.has_body() {
        if !is_json(&req) {
            return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Expected request with `Content-Type: application/json`");
        }
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body as u64) {
            return too_large();
        }
        let bytes: Bytes = match Limited::new(req.into_body(), config.max_body).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    return too_large();
                }
                return text(StatusCode::BAD_REQUEST, &format!("Failed to read the request body: {e}"));
            }
        };
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(doc) => body = Some(doc),
            Err(e) => {
                return text(StatusCode::BAD_REQUEST, &format!("Failed to parse the request body as JSON: {e}"));
            }
        }
        raw = String::from_utf8_lossy(&bytes).into_owned();
    }
    let request = Request { method, path: raw_path, params, query, headers, body, text: raw, remote: peer.to_string() };
    match ask(index, JobKind::Http(request)).await {
        Some(reply) => response_of(reply),
        None => text(StatusCode::INTERNAL_SERVER_ERROR, "the handler's isolate stopped"),
    }
}

/// Sends a job to the isolates and waits for its reply.
async fn ask(route: usize, kind: JobKind) -> Option<Reply> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue().0.send(Job { route, kind, reply: tx }).ok()?;
    rx.await.ok()
}

fn response_of(reply: Reply) -> Response<Body> {
    let mut r = Response::new(Body::from(reply.body));
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = r.headers_mut();
    let mut typed = false;
    for (k, v) in reply.headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) else {
            continue;
        };
        if name == hyper::header::CONTENT_TYPE {
            // One content type: the handler's replaces the default.
            if typed {
                headers.remove(&name);
            }
            typed = true;
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
    }
    r
}

/// `OPTIONS`: 200 with `allow` for a path that has routes (and, when permissive, the
/// preflight's `access-control-allow-*`), else 404.
fn options(config: &Config, segs: &[String]) -> Response<Body> {
    let methods = match find(&config.routes, "OPTIONS", segs, false) {
        Found::NotFound => return empty(StatusCode::NOT_FOUND),
        Found::WrongMethod(m) => m,
        Found::Route(i, _) => vec![config.routes[i].method],
    };
    let mut r = empty(StatusCode::OK);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&allow_header(&methods)) {
        h.insert(hyper::header::ALLOW, v);
    }
    if config.permissive {
        h.insert(hyper::header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("*"));
        h.insert(hyper::header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    }
    r
}

/// A `@ws` route: upgrade (400 for a request that is not a WebSocket handshake), then
/// one handler call per text message, its display rendering sent back.
async fn websocket(index: usize, req: HttpRequest<hyper::body::Incoming>) -> Response<Body> {
    let (mut parts, _body) = req.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade.on_upgrade(move |socket| session(index, socket)).into_response(),
        Err(_) => text(StatusCode::BAD_REQUEST, "Bad Request: expected a WebSocket upgrade"),
    }
}

async fn session(index: usize, mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        match msg {
            Message::Text(t) => {
                let Some(reply) = ask(index, JobKind::Ws(t.as_str().to_string())).await else { break };
                let out = String::from_utf8_lossy(&reply.body).into_owned();
                if socket.send(Message::Text(out.into())).await.is_err() {
                    break;
                }
            }
            Message::Close(_) => break,
            // Binary messages get no reply; pings are answered by the protocol layer.
            _ => {}
        }
    }
}
