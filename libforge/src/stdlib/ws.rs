//! The `ws` module (spec 11 §11.21): a WebSocket client through `tungstenite`
//! (synchronous; `wss://` through rustls with the embedded webpki roots).
//!
//! Connections are named by String ids (`ws_1`, `ws_2`, …) in a process-wide table,
//! each behind its own lock so that a `receive` waiting on one connection does not
//! hold up the others. Nothing connects before `ws.connect`.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::stream::{MaybeTlsStream, Mode};
use tungstenite::{Connector, Message, WebSocket};

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::stdlib::json;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("ws", "connect", connect);
    r.module("ws", "send", send);
    r.module("ws", "receive", receive);
    r.module("ws", "close", close);
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// The open connections by id, and the number of connections made so far.
struct Connections {
    made: u64,
    open: HashMap<String, Arc<Mutex<Socket>>>,
}

static CONNECTIONS: Mutex<Option<Connections>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<Connections>> {
    CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock(socket: &Mutex<Socket>) -> MutexGuard<'_, Socket> {
    socket.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection named `id`, or the spec's error.
fn socket_of(id: &str) -> Result<Arc<Mutex<Socket>>> {
    match table().as_ref().and_then(|t| t.open.get(id).cloned()) {
        Some(s) => Ok(s),
        None => fail(format!("WebSocket connection '{id}' not found")),
    }
}

/// Opens the TCP connection (an I/O failure is `IO error: …`, e.g. a refused
/// connection) and performs the TLS and WebSocket handshakes.
fn open(url: &str) -> std::result::Result<Socket, String> {
    let request = url.into_client_request().map_err(|e| e.to_string())?;
    let mode = tungstenite::client::uri_mode(request.uri()).map_err(|e| e.to_string())?;
    let host = request
        .uri()
        .host()
        .ok_or_else(|| tungstenite::Error::Url(tungstenite::error::UrlError::NoHostName))
        .map_err(|e| e.to_string())?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = request.uri().port_u16().unwrap_or(match mode {
        Mode::Plain => 80,
        Mode::Tls => 443,
    });
    let stream = TcpStream::connect((host.as_str(), port)).map_err(|e| tungstenite::Error::Io(e).to_string())?;
    let _ = stream.set_nodelay(true);
    let connector = match mode {
        Mode::Plain => Connector::Plain,
        Mode::Tls => Connector::Rustls(crate::stdlib::http::tls_config(true)?),
    };
    match tungstenite::client_tls_with_config(request, stream, None, Some(connector)) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e.to_string()),
        Err(tungstenite::HandshakeError::Interrupted(_)) => Err("handshake interrupted".into()),
    }
}

fn connect(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(url) = args.first().and_then(Value::as_str) else {
        return fail("ws.connect() requires a URL string");
    };
    let socket = match open(url) {
        Ok(s) => s,
        Err(e) => return fail(format!("WebSocket connect error: {e}")),
    };
    let id = {
        let mut guard = table();
        let t = guard.get_or_insert_with(|| Connections { made: 0, open: HashMap::new() });
        t.made += 1;
        let id = format!("ws_{}", t.made);
        t.open.insert(id.clone(), Arc::new(Mutex::new(socket)));
        id
    };
    let mut m = map_with_capacity(3);
    m.insert(Key::new("id"), Value::string(id));
    m.insert(Key::new("url"), Value::str(url));
    m.insert(Key::new("connected"), Value::TRUE);
    Ok(Value::object(m))
}

fn send(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(id) = args.first().and_then(Value::as_str) else {
        return fail("ws.send() requires a connection ID");
    };
    let text = match args.get(1) {
        Some(v) if v.is_str() => v.as_str().unwrap_or("").to_string(),
        Some(v) if v.is_object() || v.is_array() => display(v),
        _ => return fail("ws.send() requires a message string or object"),
    };
    let socket = socket_of(id)?;
    let mut socket = lock(&socket);
    socket.send(Message::text(text)).or_else(|e| fail(format!("WebSocket send error: {e}")))?;
    Ok(Value::TRUE)
}

/// The stream under the TLS layer, whose read timeout bounds a `receive`.
fn tcp(socket: &Socket) -> Option<&TcpStream> {
    match socket.get_ref() {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
        _ => None,
    }
}

/// An object `{type: KIND}` followed by `extra` entries.
fn event(kind: &str, extra: Vec<(&str, Value)>) -> Value {
    let mut m = map_with_capacity(1 + extra.len());
    m.insert(Key::new("type"), Value::str(kind));
    for (k, v) in extra {
        m.insert(Key::new(k), v);
    }
    Value::object(m)
}

fn receive(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(id) = args.first().and_then(Value::as_str) else {
        return fail("ws.receive() requires a connection ID");
    };
    let millis = args.get(1).and_then(Value::as_int).unwrap_or(30_000);
    let wait = Duration::from_millis(u64::try_from(millis).unwrap_or(0).max(1));
    let socket = socket_of(id)?;
    let mut socket = lock(&socket);
    if let Some(tcp) = tcp(&socket) {
        let _ = tcp.set_read_timeout(Some(wait));
    }
    let message = socket.read();
    if let Some(tcp) = tcp(&socket) {
        let _ = tcp.set_read_timeout(None);
    }
    use tungstenite::Error as E;
    match message {
        Ok(Message::Text(text)) => {
            let raw = text.as_str();
            let data = json::parse_text(raw).unwrap_or_else(|_| Value::str(raw));
            Ok(event("text", vec![("data", data), ("raw", Value::str(raw))]))
        }
        Ok(Message::Binary(bytes)) => Ok(event(
            "binary",
            vec![("data", Value::string(hex::encode(&bytes))), ("size", Value::int(bytes.len() as i64))],
        )),
        Ok(Message::Close(_)) => Ok(event("close", Vec::new())),
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Ok(event("control", Vec::new())),
        Err(E::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Ok(event("timeout", Vec::new()))
        }
        Err(E::ConnectionClosed | E::AlreadyClosed) => Ok(event("close", Vec::new())),
        Err(E::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(event("close", Vec::new())),
        Err(E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => {
            Ok(event("close", Vec::new()))
        }
        Err(e) => fail(format!("WebSocket receive error: {e}")),
    }
}

fn close(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(id) = args.first().and_then(Value::as_str) else {
        return fail("ws.close() requires a connection ID");
    };
    let socket = table().as_mut().and_then(|t| t.open.remove(id));
    let Some(socket) = socket else { return Ok(Value::FALSE) };
    let mut socket = lock(&socket);
    // The close frame is sent; a peer that is already gone is not an error here.
    if let Some(tcp) = tcp(&socket) {
        let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
    }
    let _ = socket.close(None);
    let _ = socket.flush();
    Ok(Value::TRUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdlib::testing::{arr, call, call_err, i, keys_of, obj, s, show};
    use std::net::TcpListener;

    /// A WebSocket server on loopback (tungstenite's server side), one thread per
    /// connection: `Echo: TEXT` for text, except a few commands.
    fn server() -> String {
        static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
        let port = *PORT.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let port = listener.local_addr().expect("addr").port();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    std::thread::spawn(move || {
                        let Ok(mut ws) = tungstenite::accept(stream) else { return };
                        while let Ok(msg) = ws.read() {
                            let reply = match msg {
                                Message::Text(t) => match t.as_str() {
                                    "binary-please" => Message::binary(vec![1u8, 2, 255]),
                                    "ping-please" => Message::Ping(vec![7u8].into()),
                                    "close-please" => {
                                        let _ = ws.close(None);
                                        let _ = ws.flush();
                                        continue;
                                    }
                                    "drop-please" => return,
                                    t => match t.strip_prefix("raw:") {
                                        Some(raw) => Message::text(raw),
                                        None => Message::text(format!("Echo: {t}")),
                                    },
                                },
                                Message::Close(_) => break,
                                _ => continue,
                            };
                            if ws.send(reply).is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            port
        });
        format!("ws://127.0.0.1:{port}/chat")
    }

    fn id_of(conn: &Value) -> Value {
        conn.as_object().and_then(|m| m.get("id")).cloned().expect("id")
    }

    #[test]
    fn members_in_catalogue_order() {
        assert_eq!(keys_of(&crate::builtins::module_object("ws")), ["connect", "send", "receive", "close"]);
    }

    #[test]
    fn spec_example() {
        let url = server();
        let c = call("ws", "connect", &[s(&url)]);
        assert_eq!(keys_of(&c), ["id", "url", "connected"]);
        let id = id_of(&c);
        assert!(id.as_str().is_some_and(|id| id.starts_with("ws_")), "{}", show(&id));
        assert_eq!(show(&c), format!("{{ \"id\": \"{}\", \"url\": \"{url}\", \"connected\": true }}", show(&id)));
        assert_eq!(show(&call("ws", "send", &[id.clone(), s("hello")])), "true");
        assert_eq!(
            show(&call("ws", "receive", std::slice::from_ref(&id))),
            r#"{ "type": "text", "data": "Echo: hello", "raw": "Echo: hello" }"#
        );
        let start = std::time::Instant::now();
        assert_eq!(show(&call("ws", "receive", &[id.clone(), i(300)])), r#"{ "type": "timeout" }"#);
        assert!(start.elapsed() >= Duration::from_millis(250));
        // The connection still works after a timeout.
        call("ws", "send", &[id.clone(), s("again")]);
        assert!(show(&call("ws", "receive", &[id.clone(), i(5000)])).contains("Echo: again"));
        assert_eq!(show(&call("ws", "close", std::slice::from_ref(&id))), "true");
        assert_eq!(show(&call("ws", "close", std::slice::from_ref(&id))), "false");
        assert_eq!(
            call_err("ws", "send", &[id.clone(), s("x")]),
            format!("WebSocket connection '{}' not found", show(&id))
        );
    }

    #[test]
    fn ids_count_up() {
        let url = server();
        let a = id_of(&call("ws", "connect", &[s(&url)]));
        let b = id_of(&call("ws", "connect", &[s(&url)]));
        let n = |v: &Value| v.as_str().and_then(|s| s.strip_prefix("ws_")).and_then(|n| n.parse::<u64>().ok());
        assert!(n(&b) > n(&a), "{} {}", show(&a), show(&b));
        call("ws", "close", &[a]);
        call("ws", "close", &[b]);
    }

    #[test]
    fn message_kinds() {
        let id = id_of(&call("ws", "connect", &[s(&server())]));
        // Objects and arrays go as their display rendering.
        call("ws", "send", &[id.clone(), obj(vec![("a", i(1)), ("b", s("x"))])]);
        assert_eq!(
            show(&call("ws", "receive", &[id.clone(), i(5000)])),
            r#"{ "type": "text", "data": "Echo: { "a": 1, "b": "x" }", "raw": "Echo: { "a": 1, "b": "x" }" }"#
        );
        call("ws", "send", &[id.clone(), arr(vec![i(1), i(2)])]);
        assert_eq!(
            show(&call("ws", "receive", &[id.clone(), i(5000)])),
            r#"{ "type": "text", "data": "Echo: [1, 2]", "raw": "Echo: [1, 2]" }"#
        );
        // JSON text is parsed into data.
        call("ws", "send", &[id.clone(), s(r#"raw:{"z": [1, 2.5], "a": null}"#)]);
        assert_eq!(
            show(&call("ws", "receive", &[id.clone(), i(5000)])),
            r#"{ "type": "text", "data": { "z": [1, 2.5], "a": null }, "raw": "{"z": [1, 2.5], "a": null}" }"#
        );
        call("ws", "send", &[id.clone(), s("binary-please")]);
        assert_eq!(
            show(&call("ws", "receive", &[id.clone(), i(5000)])),
            r#"{ "type": "binary", "data": "0102ff", "size": 3 }"#
        );
        call("ws", "send", &[id.clone(), s("ping-please")]);
        assert_eq!(show(&call("ws", "receive", &[id.clone(), i(5000)])), r#"{ "type": "control" }"#);
        call("ws", "send", &[id.clone(), s("close-please")]);
        assert_eq!(show(&call("ws", "receive", &[id.clone(), i(5000)])), r#"{ "type": "close" }"#);
        // After the close, the stream has ended.
        assert_eq!(show(&call("ws", "receive", &[id.clone(), i(500)])), r#"{ "type": "close" }"#);
        assert_eq!(show(&call("ws", "close", &[id])), "true");
        // A peer that just drops the connection.
        let id = id_of(&call("ws", "connect", &[s(&server())]));
        call("ws", "send", &[id.clone(), s("drop-please")]);
        assert_eq!(show(&call("ws", "receive", &[id.clone(), i(5000)])), r#"{ "type": "close" }"#);
        call("ws", "close", &[id]);
    }

    #[test]
    fn errors() {
        assert_eq!(call_err("ws", "connect", &[]), "ws.connect() requires a URL string");
        assert_eq!(
            call_err("ws", "connect", &[s("ws://127.0.0.1:1/")]),
            "WebSocket connect error: IO error: Connection refused (os error 111)"
        );
        assert_eq!(
            call_err("ws", "connect", &[s("http://127.0.0.1:1/")]),
            "WebSocket connect error: URL error: URL scheme not supported"
        );
        let e = call_err("ws", "connect", &[s("not a url")]);
        assert!(e.starts_with("WebSocket connect error: "), "{e}");
        assert_eq!(call_err("ws", "send", &[]), "ws.send() requires a connection ID");
        assert_eq!(call_err("ws", "send", &[s("ws_999999")]), "ws.send() requires a message string or object");
        assert_eq!(call_err("ws", "send", &[s("ws_999999"), i(5)]), "ws.send() requires a message string or object");
        assert_eq!(
            call_err("ws", "send", &[s("ws_999999"), Value::NULL]),
            "ws.send() requires a message string or object"
        );
        assert_eq!(call_err("ws", "send", &[s("ws_999999"), s("x")]), "WebSocket connection 'ws_999999' not found");
        assert_eq!(call_err("ws", "receive", &[i(1)]), "ws.receive() requires a connection ID");
        assert_eq!(call_err("ws", "receive", &[s("nope")]), "WebSocket connection 'nope' not found");
        assert_eq!(call_err("ws", "close", &[]), "ws.close() requires a connection ID");
        assert_eq!(show(&call("ws", "close", &[s("nope")])), "false");
        // A plain HTTP server is not a WebSocket server.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                use std::io::{Read, Write};
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let e = call_err("ws", "connect", &[s(&format!("ws://127.0.0.1:{port}/"))]);
        assert!(e.starts_with("WebSocket connect error: HTTP error: 404"), "{e}");
    }
}
