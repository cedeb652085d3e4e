//! The two renderings of values (spec 02 §2.9): *display* (`say`, `str`, interpolation)
//! and the *JSON-like* rendering used for objects and everything inside them.

use std::fmt::Write;

use crate::value::{Kind, Value};

/// The display rendering of `v`.
pub fn display(v: &Value) -> String {
    let mut s = String::new();
    write_display(&mut s, v);
    s
}

/// Appends the display rendering of `v` to `out`.
pub fn write_display(out: &mut String, v: &Value) {
    match v.kind() {
        Kind::Str => out.push_str(v.as_str().unwrap_or("")),
        Kind::Array => {
            out.push('[');
            for (i, x) in v.as_array().unwrap_or(&[]).iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_display(out, x);
            }
            out.push(']');
        }
        Kind::Object => write_json_like(out, v),
        Kind::Ok => wrap(out, "Ok(", v, write_display),
        Kind::Err => wrap(out, "Err(", v, write_display),
        Kind::Some => wrap(out, "Some(", v, write_display),
        Kind::None => out.push_str("None"),
        _ => write_scalar(out, v),
    }
}

fn wrap(out: &mut String, open: &str, v: &Value, inner: fn(&mut String, &Value)) {
    out.push_str(open);
    inner(out, &v.wrapped().unwrap_or_default());
    out.push(')');
}

/// Ints, floats, booleans, null and opaque values: the same in both renderings
/// (except opaque values, which the JSON-like rendering names by kind).
fn write_scalar(out: &mut String, v: &Value) {
    match v.kind() {
        Kind::Int => out.push_str(itoa::Buffer::new().format(v.as_int().unwrap_or(0))),
        Kind::Float => write_float(out, v.as_float().unwrap_or(0.0)),
        Kind::Bool => out.push_str(if v.as_bool() == Some(true) { "true" } else { "false" }),
        Kind::Null | Kind::Undef => out.push_str("null"),
        Kind::Function => {
            let f = v.as_function().expect("function");
            if f.is_lambda {
                out.push_str("<lambda>");
            } else {
                let _ = write!(out, "<fn {}>", f.name);
            }
        }
        Kind::Builtin => {
            let _ = write!(out, "<builtin {}>", crate::builtins::builtin_name(v.builtin_index().unwrap_or(0)));
        }
        Kind::Native => out.push_str(&v.as_native().map(|n| n.display()).unwrap_or_default()),
        Kind::Cell => write_display(out, &v.cell_get()),
        Kind::Env => out.push_str("<module>"),
        _ => {}
    }
}

/// Float text: shortest round-trip digits, never exponent notation (Rust's `Display`).
pub fn write_float(out: &mut String, f: f64) {
    let _ = write!(out, "{f}");
}

/// The JSON-like rendering of `v`.
pub fn json_like(v: &Value) -> String {
    let mut s = String::new();
    write_json_like(&mut s, v);
    s
}

pub fn write_json_like(out: &mut String, v: &Value) {
    match v.kind() {
        Kind::Object => {
            let m = v.as_object().expect("object");
            if m.is_empty() {
                out.push_str("{  }");
                return;
            }
            out.push_str("{ ");
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('"');
                out.push_str(k.as_str());
                out.push_str("\": ");
                write_json_like(out, x);
            }
            out.push_str(" }");
        }
        Kind::Array => {
            out.push('[');
            for (i, x) in v.as_array().unwrap_or(&[]).iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_like(out, x);
            }
            out.push(']');
        }
        Kind::Str => {
            out.push('"');
            out.push_str(v.as_str().unwrap_or(""));
            out.push('"');
        }
        Kind::Ok | Kind::Err => {
            out.push_str(if v.kind() == Kind::Ok { "{ \"Ok\": " } else { "{ \"Err\": " });
            write_json_like(out, &v.wrapped().unwrap_or_default());
            out.push_str(" }");
        }
        Kind::Some => write_json_like(out, &v.wrapped().unwrap_or_default()),
        Kind::None => out.push_str("null"),
        Kind::Function | Kind::Builtin | Kind::Native => {
            let _ = write!(out, "\"<{}>\"", crate::ops::type_name(v));
        }
        _ => write_scalar(out, v),
    }
}
