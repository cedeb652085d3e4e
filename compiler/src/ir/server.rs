//! The static description of an `@server` program (spec 11 §11.20.1–§11.20.8).
//!
//! `@server(…)` reads only literal arguments, and routes are the top-level functions
//! that carry route decorators, so the whole server is known at compile time. The
//! lowering turns it into one JSON text and, at the end of the top level, a call of
//! the runtime builtin `__serve(description, handler…)` with the handler functions in
//! route order. Every tier therefore starts the server the same way, after the top
//! level has run to completion.

use forge_abi::json::write_json_string;

use crate::syntax::ast::{self, ExprKind, StmtKind, UnaryOp};

/// The route decorators and the HTTP methods they register.
const ROUTE_DECORATORS: &[(&str, &str)] =
    &[("get", "GET"), ("post", "POST"), ("put", "PUT"), ("delete", "DELETE"), ("patch", "PATCH"), ("ws", "WS")];

/// A server program: its description (JSON) and the names of the handler functions,
/// one per route, in route order.
pub struct ServerDesc {
    pub json: String,
    pub handlers: Vec<String>,
}

/// A literal argument value (anything that is not a literal is ignored).
enum Lit {
    Int(i64),
    Str(String),
    Bool(bool),
}

fn literal(e: &ast::Expr) -> Option<Lit> {
    match &e.kind {
        ExprKind::Int(n) => Some(Lit::Int(*n)),
        ExprKind::Str(s) => Some(Lit::Str(s.clone())),
        ExprKind::Bool(b) => Some(Lit::Bool(*b)),
        ExprKind::Unary { op: UnaryOp::Neg, operand } => match &operand.kind {
            ExprKind::Int(n) => Some(Lit::Int(n.wrapping_neg())),
            _ => None,
        },
        _ => None,
    }
}

/// The server of `program`, if it declares one. `line` maps a byte offset to its
/// 1-based line.
pub fn describe(file: &str, program: &ast::Program, line: &dyn Fn(u32) -> u32) -> Option<ServerDesc> {
    let server = program.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Decorator(d) if d.name.text == "server" => Some(d),
        _ => None,
    })?;
    let mut json = String::from("{\"file\":");
    write_json_string(&mut json, file);
    // Options: named literal arguments, in order; later ones win.
    json.push_str(",\"options\":{");
    let mut first = true;
    for (name, e) in &server.args {
        let (Some(name), Some(value)) = (name, literal(e)) else { continue };
        if !first {
            json.push(',');
        }
        first = false;
        write_json_string(&mut json, &name.text);
        json.push(':');
        match value {
            Lit::Int(n) => json.push_str(&n.to_string()),
            Lit::Str(s) => write_json_string(&mut json, &s),
            Lit::Bool(b) => json.push_str(if b { "true" } else { "false" }),
        }
    }
    json.push_str("},\"routes\":[");
    let mut handlers = Vec::new();
    for s in &program.stmts {
        let StmtKind::FnDef(fd) = &s.kind else { continue };
        for d in &fd.decorators {
            let Some(&(_, method)) = ROUTE_DECORATORS.iter().find(|(n, _)| *n == d.name.text) else { continue };
            let path = d
                .args
                .iter()
                .find_map(|(name, e)| match (name, &e.kind) {
                    (None, ExprKind::Str(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| format!("/{}", fd.name.text));
            if !handlers.is_empty() {
                json.push(',');
            }
            json.push_str("{\"method\":");
            write_json_string(&mut json, method);
            json.push_str(",\"path\":");
            write_json_string(&mut json, &path);
            json.push_str(",\"name\":");
            write_json_string(&mut json, &fd.name.text);
            json.push_str(",\"line\":");
            json.push_str(&line(fd.name.span.start).to_string());
            json.push_str(",\"params\":[");
            for (i, p) in fd.params.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                write_json_string(&mut json, &p.name.text);
            }
            json.push_str("]}");
            handlers.push(fd.name.text.clone());
        }
    }
    json.push_str("]}");
    Some(ServerDesc { json, handlers })
}
