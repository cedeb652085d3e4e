//! The `pg` module (spec 11 §11.16): PostgreSQL through the `postgres` crate (the
//! synchronous wrapper of `tokio-postgres`), with TLS through `tokio-postgres-rustls`.
//!
//! A program has one connection, shared by top-level code, functions, `spawn` tasks and
//! HTTP handlers (which may run on other threads), so it lives in a process-wide mutex
//! like the `db` connection. Nothing connects before `pg.connect`.
//!
//! Parameters are bound by the placeholder types PostgreSQL reports for the prepared
//! statement: an Int binds to int2/int4/int8 (and, as text, to numeric), a Float to
//! float4/float8 (and numeric), a Bool to bool; every other combination — Strings
//! in particular — is sent in PostgreSQL's text format, so the server parses it for
//! the placeholder's type (a String binds to a date, uuid or json placeholder) and
//! reports a value it cannot take as a `db error`. Results arrive in the binary format
//! and are decoded here by column type (see [`decode`]).

use std::error::Error as StdError;
use std::sync::{Mutex, MutexGuard};

use bytes::BytesMut;
use postgres::types::{Format, FromSql, IsNull, Kind as PgKind, ToSql, Type};
use postgres::{Client, Row};

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::stdlib::http::{blocking, tls_config};
use crate::stdlib::json;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.module("pg", "connect", connect);
    r.module("pg", "query", query);
    r.module("pg", "execute", execute);
    r.module("pg", "close", close);
}

static CONNECTION: Mutex<Option<Client>> = Mutex::new(None);

const NO_CONNECTION: &str = "no pg connection open";

/// The connection slot; a poisoned lock is taken over (the client keeps its own state).
fn slot() -> MutexGuard<'static, Option<Client>> {
    CONNECTION.lock().unwrap_or_else(|e| e.into_inner())
}

/// The DETAIL of a driver error: its kind (`error connecting to server`, `invalid
/// connection string`, …), and for an error reported by the server `db error: ` and
/// the server's message (spec Open point 5).
fn detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("db error: {}", db.message()),
        None => e.to_string(),
    }
}

#[derive(Clone, Copy)]
enum Tls {
    Off,
    Verify,
    NoVerify,
}

fn connect(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(conninfo) = args.first().and_then(Value::as_str) else {
        return fail("pg.connect() requires a connection string");
    };
    let tls = match args.get(1).and_then(Value::as_str) {
        Some("tls" | "ssl" | "require") => Tls::Verify,
        Some("tls-no-verify" | "ssl-no-verify" | "no-verify") => Tls::NoVerify,
        _ => Tls::Off,
    };
    let prefix = match tls {
        Tls::Off => "pg.connect error",
        Tls::Verify => "pg.connect (TLS) error",
        Tls::NoVerify => "pg.connect (TLS-no-verify) error",
    };
    let mut config: postgres::Config = match conninfo.parse() {
        Ok(c) => c,
        Err(e) => return fail(format!("{prefix}: {}", detail(&e))),
    };
    let result = blocking(move || -> std::result::Result<Client, String> {
        match tls {
            Tls::Off => config.connect(postgres::NoTls).map_err(|e| detail(&e)),
            Tls::Verify | Tls::NoVerify => {
                let tls = tls_config(matches!(tls, Tls::Verify))?;
                config.ssl_mode(postgres::config::SslMode::Require);
                let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
                config.connect(connector).map_err(|e| detail(&e))
            }
        }
    });
    match result {
        Ok(client) => {
            let old = slot().replace(client);
            blocking(move || drop(old));
            Ok(Value::TRUE)
        }
        Err(e) => fail(format!("{prefix}: {e}")),
    }
}

fn close(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let old = slot().take();
    blocking(move || drop(old));
    Ok(Value::NULL)
}

/// A bound parameter: a binary value of the placeholder's own type, SQL NULL, or text
/// that the server parses for the placeholder's type.
#[derive(Debug)]
enum Param {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(String),
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(b) => b.to_sql(ty, out),
            Param::I16(n) => n.to_sql(ty, out),
            Param::I32(n) => n.to_sql(ty, out),
            Param::I64(n) => n.to_sql(ty, out),
            Param::F32(x) => x.to_sql(ty, out),
            Param::F64(x) => x.to_sql(ty, out),
            Param::Text(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        match self {
            Param::Text(_) => Format::Text,
            _ => Format::Binary,
        }
    }

    postgres::types::to_sql_checked!();
}

/// The text of a Float for PostgreSQL: shortest round-trip digits; `NaN`, `Infinity`.
fn float_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{x}")
    }
}

/// A column value as it arrived (binary format), or SQL NULL.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Runs one statement: prepares it (to learn its placeholder types), binds `params`
/// and returns its rows.
fn run(name: &str, args: &[Value], rows_wanted: bool) -> Result<Outcome> {
    let Some(sql) = args.first().and_then(Value::as_str) else {
        return fail(format!("pg.{name}() requires a SQL string"));
    };
    let values: &[Value] = args.get(1).and_then(Value::as_array).unwrap_or(&[]);
    let mut guard = slot();
    let Some(client) = guard.as_mut() else {
        return fail(NO_CONNECTION);
    };
    // Forge values stay on this thread: the operation gets plain data, turned into
    // parameters once the placeholder types are known.
    let plain: Vec<PlainValue> = values.iter().map(PlainValue::of).collect();
    let sql = sql.to_string();
    let result = blocking(move || -> std::result::Result<Outcome, String> {
        let stmt = client.prepare(&sql).map_err(|e| detail(&e))?;
        // One parameter per value given (the driver reports a count that does not
        // match the placeholders).
        let params: Vec<Param> =
            plain.iter().enumerate().map(|(i, p)| p.to_param(stmt.params().get(i).unwrap_or(&Type::TEXT))).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        if rows_wanted {
            client.query(&stmt, &refs).map(Outcome::Rows).map_err(|e| detail(&e))
        } else {
            client.execute(&stmt, &refs).map(Outcome::Count).map_err(|e| detail(&e))
        }
    });
    result.or_else(|e| fail(format!("pg.{name} error: {e}")))
}

/// What a statement gave back.
enum Outcome {
    Rows(Vec<Row>),
    Count(u64),
}

/// A Forge parameter value as plain data, converted to a [`Param`] once the
/// placeholder's type is known.
enum PlainValue {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Anything else: its JSON text (for json/jsonb placeholders) and its display.
    Other {
        json: String,
        text: String,
    },
}

impl PlainValue {
    fn of(v: &Value) -> PlainValue {
        match v.kind() {
            Kind::Null | Kind::None | Kind::Undef => PlainValue::Null,
            Kind::Int => PlainValue::Int(v.as_int().unwrap_or(0)),
            Kind::Float => PlainValue::Float(v.as_float().unwrap_or(f64::NAN)),
            Kind::Bool => PlainValue::Bool(v.as_bool() == Some(true)),
            Kind::Str => PlainValue::Str(v.as_str().unwrap_or("").to_string()),
            _ => PlainValue::Other { json: json::stringify_value(v), text: display(v) },
        }
    }

    fn to_param(&self, ty: &Type) -> Param {
        let base = match ty.kind() {
            PgKind::Domain(base) => base,
            _ => ty,
        };
        match self {
            PlainValue::Null => Param::Null,
            PlainValue::Int(n) => {
                let n = *n;
                match *base {
                    Type::INT8 => Param::I64(n),
                    Type::INT4 => i32::try_from(n).map_or_else(|_| Param::Text(n.to_string()), Param::I32),
                    Type::INT2 => i16::try_from(n).map_or_else(|_| Param::Text(n.to_string()), Param::I16),
                    Type::FLOAT8 => Param::F64(n as f64),
                    Type::FLOAT4 => Param::F32(n as f32),
                    _ => Param::Text(n.to_string()),
                }
            }
            PlainValue::Float(x) => match *base {
                Type::FLOAT8 => Param::F64(*x),
                Type::FLOAT4 => Param::F32(*x as f32),
                _ => Param::Text(float_text(*x)),
            },
            PlainValue::Bool(b) => match *base {
                Type::BOOL => Param::Bool(*b),
                _ => Param::Text(b.to_string()),
            },
            PlainValue::Str(s) => Param::Text(s.clone()),
            PlainValue::Other { json, text } => match *base {
                Type::JSON | Type::JSONB => Param::Text(json.clone()),
                _ => Param::Text(text.clone()),
            },
        }
    }
}

fn query(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let rows = match run("query", args, true)? {
        Outcome::Rows(rows) => rows,
        Outcome::Count(_) => Vec::new(),
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let columns = row.columns();
        let mut m = map_with_capacity(columns.len());
        for (i, col) in columns.iter().enumerate() {
            let v = match row.try_get::<_, Raw<'_>>(i) {
                Ok(Raw(Some(raw))) => decode(col.type_(), raw),
                _ => Value::NULL,
            };
            m.insert(Key::new(col.name()), v);
        }
        out.push(Value::object(m));
    }
    Ok(Value::array(out))
}

fn execute(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match run("execute", args, false)? {
        Outcome::Count(n) => Ok(Value::int(i64::try_from(n).unwrap_or(i64::MAX))),
        Outcome::Rows(rows) => Ok(Value::int(rows.len() as i64)),
    }
}

// ---------------------------------------------------------------------------------
// Decoding result columns (binary format).

/// The Forge value of a non-NULL column of type `ty`: Int for int2/int4/int8, Float
/// for float4/float8/numeric, Bool for bool, the parsed value for json/jsonb, and a
/// String otherwise — the value's PostgreSQL text form (dates and times in the ISO
/// style, uuid hyphenated, …).
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Value {
    let base = match ty.kind() {
        PgKind::Domain(base) => base,
        _ => ty,
    };
    match *base {
        Type::INT2 | Type::INT4 | Type::INT8 => match be_int(raw) {
            Some(n) => Value::int(n),
            None => Value::string(text_form(base, raw)),
        },
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => match float_of(base, raw) {
            Some(x) => Value::float(x),
            None => Value::string(text_form(base, raw)),
        },
        Type::BOOL if raw.len() == 1 => Value::bool(raw[0] != 0),
        Type::JSON | Type::JSONB => {
            let text = text_form(base, raw);
            json::parse_text(&text).unwrap_or_else(|_| Value::string(text))
        }
        _ => Value::string(text_form(base, raw)),
    }
}

/// A big-endian signed integer of 2, 4 or 8 bytes.
fn be_int(raw: &[u8]) -> Option<i64> {
    Some(match raw.len() {
        2 => i64::from(i16::from_be_bytes(raw.try_into().ok()?)),
        4 => i64::from(i32::from_be_bytes(raw.try_into().ok()?)),
        8 => i64::from_be_bytes(raw.try_into().ok()?),
        _ => return None,
    })
}

fn float_of(ty: &Type, raw: &[u8]) -> Option<f64> {
    match *ty {
        // Through the shortest decimal text, so `real` 0.1 is the Float 0.1.
        Type::FLOAT4 => f32::from_be_bytes(raw.try_into().ok()?).to_string().parse().ok(),
        Type::FLOAT8 => Some(f64::from_be_bytes(raw.try_into().ok()?)),
        Type::NUMERIC => numeric_text(raw).and_then(|t| match t.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            t => t.parse().ok(),
        }),
        _ => None,
    }
}

fn be_u16(raw: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(raw.get(at..at + 2)?.try_into().ok()?))
}

fn be_i16(raw: &[u8], at: usize) -> Option<i16> {
    be_u16(raw, at).map(|n| n as i16)
}

fn be_i32(raw: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(raw.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(raw: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
}

/// The decimal text of a binary `numeric`: base-10000 digits with a weight, a sign and
/// a display scale.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let ndigits = usize::try_from(be_i16(raw, 0)?).ok()?;
    let weight = i64::from(be_i16(raw, 2)?);
    let sign = be_u16(raw, 4)?;
    let dscale = usize::from(be_u16(raw, 6)?);
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(be_i16(raw, 8 + 2 * i)?);
    }
    // Integer part: the groups of weight >= 0.
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for g in 0..=weight {
            let d = usize::try_from(g).ok().and_then(|g| digits.get(g)).copied().unwrap_or(0);
            if g == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut g = weight + 1;
        while frac.len() < dscale {
            let d = if g < 0 { 0 } else { usize::try_from(g).ok().and_then(|g| digits.get(g)).copied().unwrap_or(0) };
            frac.push_str(&format!("{d:04}"));
            g += 1;
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

/// The hex text of bytes as PostgreSQL writes a `bytea`: `\x0aff…`.
fn hex_text(raw: &[u8]) -> String {
    let mut out = String::with_capacity(2 + raw.len() * 2);
    out.push_str("\\x");
    for b in raw {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The civil date of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

/// `YYYY-MM-DD` of a day count since 2000-01-01, and whether it is BC.
fn date_part(days: i64) -> (String, bool) {
    let (y, m, d) = civil(days + PG_EPOCH_DAYS);
    if y <= 0 {
        (format!("{:04}-{m:02}-{d:02}", 1 - y), true)
    } else {
        (format!("{y:04}-{m:02}-{d:02}"), false)
    }
}

/// `HH:MM:SS` and, when not zero, `.ffffff` with trailing zeros removed.
fn clock(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
    push_fraction(&mut out, frac);
    out
}

fn push_fraction(out: &mut String, frac: i64) {
    if frac != 0 {
        let f = format!(".{frac:06}");
        out.push_str(f.trim_end_matches('0'));
    }
}

/// A UTC offset in seconds east as PostgreSQL writes it: `+HH`, `+HH:MM`, `+HH:MM:SS`.
fn offset_text(east: i64) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else if m != 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}")
    }
}

/// A timestamp (microseconds since 2000-01-01) in the ISO style, with `zone` appended
/// after the time (and before a ` BC`).
fn timestamp_text(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let days = micros.div_euclid(86_400_000_000);
    let (date, bc) = date_part(days);
    let mut out = format!("{date} {}{zone}", clock(micros.rem_euclid(86_400_000_000)));
    if bc {
        out.push_str(" BC");
    }
    out
}

/// An interval in PostgreSQL's default output style: `1 year 2 mons 3 days 04:05:06`.
fn interval_text(micros: i64, days: i32, months: i32) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut negative_before = false;
    let mut add = |parts: &mut Vec<String>, n: i64, unit: &str| {
        if n != 0 {
            let plus = if negative_before && n > 0 { "+" } else { "" };
            parts.push(format!("{plus}{n} {unit}{}", if n == 1 { "" } else { "s" }));
            negative_before = n < 0;
        }
    };
    add(&mut parts, i64::from(months / 12), "year");
    add(&mut parts, i64::from(months % 12), "mon");
    add(&mut parts, i64::from(days), "day");
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 {
            "-"
        } else if negative_before {
            "+"
        } else {
            ""
        };
        let a = micros.unsigned_abs();
        let secs = a / 1_000_000;
        let mut t = format!("{sign}{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
        push_fraction(&mut t, (a % 1_000_000) as i64);
        parts.push(t);
    }
    parts.join(" ")
}

/// The text of an address of type inet or cidr.
fn inet_text(raw: &[u8]) -> Option<String> {
    let (family, bits, is_cidr, len) = (*raw.first()?, *raw.get(1)?, *raw.get(2)?, *raw.get(3)?);
    let addr = raw.get(4..4 + usize::from(len))?;
    let (text, full) = match family {
        2 => (std::net::Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?).to_string(), 32),
        3 => (std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?).to_string(), 128),
        _ => return None,
    };
    Some(if is_cidr != 0 || bits != full { format!("{text}/{bits}") } else { text })
}

/// The text of a `money` amount (cents) in the C locale: `$1,234.56`.
fn money_text(cents: i64) -> String {
    let a = cents.unsigned_abs();
    let whole = (a / 100).to_string();
    // Groups of three digits from the right.
    let mut grouped: Vec<char> = Vec::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let grouped: String = grouped.into_iter().rev().collect();
    format!("{}${grouped}.{:02}", if cents < 0 { "-" } else { "" }, a % 100)
}

/// An array element in the array text form: quoted when needed.
fn array_element(text: &str) -> String {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if !needs_quotes {
        return text.to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The text form of a binary array: `{1,2,3}`, `{{1,2},{3,4}}`, `{a,NULL,"b c"}`.
fn array_text(elem: &Type, raw: &[u8]) -> Option<String> {
    let ndim = usize::try_from(be_i32(raw, 0)?).ok()?;
    if ndim == 0 {
        return Some("{}".into());
    }
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(usize::try_from(be_i32(raw, 12 + 8 * d)?).ok()?);
    }
    let mut at = 12 + 8 * ndim;
    let total: usize = dims.iter().product();
    let mut elems = Vec::with_capacity(total.min(1 << 20));
    for _ in 0..total {
        let len = be_i32(raw, at)?;
        at += 4;
        if len < 0 {
            elems.push("NULL".to_string());
        } else {
            let len = usize::try_from(len).ok()?;
            let bytes = raw.get(at..at + len)?;
            at += len;
            elems.push(array_element(&text_form(elem, bytes)));
        }
    }
    fn nest(dims: &[usize], elems: &mut std::vec::IntoIter<String>) -> String {
        let mut out = String::from("{");
        for i in 0..dims[0] {
            if i > 0 {
                out.push(',');
            }
            if dims.len() == 1 {
                out.push_str(&elems.next().unwrap_or_default());
            } else {
                out.push_str(&nest(&dims[1..], elems));
            }
        }
        out.push('}');
        out
    }
    Some(nest(&dims, &mut elems.into_iter()))
}

/// The PostgreSQL text form of a binary value of type `ty`.
fn text_form(ty: &Type, raw: &[u8]) -> String {
    text_form_of(ty, raw).unwrap_or_else(|| match std::str::from_utf8(raw) {
        Ok(s) if !s.chars().any(|c| c.is_control() && !c.is_whitespace()) => s.to_string(),
        _ => hex_text(raw),
    })
}

/// A composite field or range bound in the text form: quoted when needed (`""` for a
/// quote, `\\` for a backslash).
fn quoted_part(text: &str) -> String {
    let needs_quotes = text.is_empty()
        || text.chars().any(|c| matches!(c, '(' | ')' | '[' | ']' | ',' | '"' | '\\') || c.is_whitespace());
    if !needs_quotes {
        return text.to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The text form of a binary record (`ROW(1, 'a b')` → `(1,"a b")`); a field of a type
/// the driver does not know is shown as its bytes allow.
fn record_text(raw: &[u8]) -> Option<String> {
    let n = usize::try_from(be_i32(raw, 0)?).ok()?;
    let mut at = 4;
    let mut fields = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let oid = u32::from_be_bytes(raw.get(at..at + 4)?.try_into().ok()?);
        let len = be_i32(raw, at + 4)?;
        at += 8;
        if len < 0 {
            fields.push(String::new());
            continue;
        }
        let len = usize::try_from(len).ok()?;
        let bytes = raw.get(at..at + len)?;
        at += len;
        let ty = Type::from_oid(oid).unwrap_or(Type::UNKNOWN);
        fields.push(quoted_part(&text_form(&ty, bytes)));
    }
    Some(format!("({})", fields.join(",")))
}

/// The text form of a binary range (`[1,5)`, `empty`, `(,2024-01-01]`).
fn range_text(sub: &Type, raw: &[u8]) -> Option<String> {
    let flags = *raw.first()?;
    if flags & 0x01 != 0 {
        return Some("empty".into());
    }
    let mut at = 1;
    let mut bound = |infinite: bool| -> Option<String> {
        if infinite {
            return Some(String::new());
        }
        let len = usize::try_from(be_i32(raw, at)?).ok()?;
        let bytes = raw.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some(quoted_part(&text_form(sub, bytes)))
    };
    let lower = bound(flags & 0x08 != 0)?;
    let upper = bound(flags & 0x10 != 0)?;
    let open = if flags & 0x02 != 0 { '[' } else { '(' };
    let close = if flags & 0x04 != 0 { ']' } else { ')' };
    Some(format!("{open}{lower},{upper}{close}"))
}

fn text_form_of(ty: &Type, raw: &[u8]) -> Option<String> {
    match ty.kind() {
        PgKind::Array(elem) => return array_text(elem, raw),
        PgKind::Domain(base) => return text_form_of(base, raw),
        PgKind::Range(sub) => return range_text(sub, raw),
        PgKind::Composite(_) => return record_text(raw),
        _ => {}
    }
    Some(match *ty {
        Type::BOOL => (if *raw.first()? != 0 { "t" } else { "f" }).to_string(),
        Type::INT2 | Type::INT4 | Type::INT8 => be_int(raw)?.to_string(),
        Type::OID | Type::XID | Type::CID | Type::REGPROC => u32::from_be_bytes(raw.try_into().ok()?).to_string(),
        Type::FLOAT4 | Type::FLOAT8 => {
            let x = float_of(ty, raw)?;
            if x.is_nan() || x.is_infinite() {
                float_text(x)
            } else {
                format!("{x}")
            }
        }
        Type::NUMERIC => numeric_text(raw)?,
        Type::JSONB => String::from_utf8_lossy(raw.get(1..)?).into_owned(),
        Type::UUID => {
            let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            if h.len() != 32 {
                return None;
            }
            format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
        }
        Type::DATE => match be_i32(raw, 0)? {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            d => {
                let (date, bc) = date_part(i64::from(d));
                if bc {
                    format!("{date} BC")
                } else {
                    date
                }
            }
        },
        Type::TIME => clock(be_i64(raw, 0)?),
        Type::TIMETZ => format!("{}{}", clock(be_i64(raw, 0)?), offset_text(-i64::from(be_i32(raw, 8)?))),
        Type::TIMESTAMP => timestamp_text(be_i64(raw, 0)?, ""),
        Type::TIMESTAMPTZ => timestamp_text(be_i64(raw, 0)?, "+00"),
        Type::INTERVAL => interval_text(be_i64(raw, 0)?, be_i32(raw, 8)?, be_i32(raw, 12)?),
        Type::BYTEA => hex_text(raw),
        Type::INET | Type::CIDR => inet_text(raw)?,
        Type::MACADDR => {
            if raw.len() != 6 {
                return None;
            }
            raw.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
        }
        Type::MONEY => money_text(be_i64(raw, 0)?),
        Type::BIT | Type::VARBIT => {
            let n = usize::try_from(be_i32(raw, 0)?).ok()?;
            let bytes = raw.get(4..)?;
            (0..n)
                .map(|i| if bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0) { '1' } else { '0' })
                .collect()
        }
        Type::POINT => format!("({},{})", f64::from_be_bytes(raw.get(..8)?.try_into().ok()?), {
            f64::from_be_bytes(raw.get(8..16)?.try_into().ok()?)
        }),
        Type::CHAR => String::from_utf8_lossy(raw).into_owned(),
        Type::RECORD => record_text(raw)?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdlib::testing::{arr, call, call_err, f, i, keys_of, obj, s, show};

    /// The tests share the process-wide connection, so they run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    const CONN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

    /// Connects, or says why the test is skipped (no server on 127.0.0.1:5432).
    fn connected() -> Option<MutexGuard<'static, ()>> {
        let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_err() {
            eprintln!("skipping: no PostgreSQL server at 127.0.0.1:5432");
            return None;
        }
        assert_eq!(show(&call("pg", "connect", &[s(CONN)])), "true");
        Some(guard)
    }

    fn q(sql: &str, params: Option<Value>) -> String {
        let mut args = vec![s(sql)];
        args.extend(params);
        show(&call("pg", "query", &args))
    }

    fn one(sql: &str) -> String {
        q(sql, None)
    }

    #[test]
    fn members_in_catalogue_order() {
        assert_eq!(keys_of(&crate::builtins::module_object("pg")), ["connect", "query", "execute", "close"]);
    }

    #[test]
    fn crud_and_parameters() {
        let Some(_g) = connected() else { return };
        call("pg", "execute", &[s("DROP TABLE IF EXISTS forge_pg_test_items")]);
        let n = call(
            "pg",
            "execute",
            &[s("CREATE TABLE forge_pg_test_items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, qty BIGINT, \
                 small SMALLINT, mid INTEGER, price DOUBLE PRECISION, cost NUMERIC(10,2), active BOOLEAN, note TEXT)")],
        );
        assert_eq!(show(&n), "0");
        let insert = "INSERT INTO forge_pg_test_items (name, qty, small, mid, price, cost, active, note) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
        let rows =
            q(insert, Some(arr(vec![s("bolt"), i(100), i(3), i(40000), f(0.25), f(1.5), Value::TRUE, Value::NULL])));
        assert_eq!(rows, r#"[{ "id": 1 }]"#);
        let rows = q(insert, Some(arr(vec![s("Écrou ✓"), i(7), i(-2), i(5), i(2), i(3), Value::FALSE, Value::NONE])));
        assert_eq!(rows, r#"[{ "id": 2 }]"#);
        assert_eq!(
            one("SELECT id, name, qty, small, mid, price, cost, active, note FROM forge_pg_test_items ORDER BY id"),
            r#"[{ "id": 1, "name": "bolt", "qty": 100, "small": 3, "mid": 40000, "price": 0.25, "cost": 1.5, "active": true, "note": null }, { "id": 2, "name": "Écrou ✓", "qty": 7, "small": -2, "mid": 5, "price": 2, "cost": 3, "active": false, "note": null }]"#
        );
        let n = call(
            "pg",
            "execute",
            &[
                s("UPDATE forge_pg_test_items SET qty = $1 WHERE id = $2 OR name = $3"),
                arr(vec![i(9), i(1), s("Écrou ✓")]),
            ],
        );
        assert_eq!(show(&n), "2");
        let n = call("pg", "execute", &[s("DELETE FROM forge_pg_test_items WHERE id = $1"), arr(vec![i(99)])]);
        assert_eq!(show(&n), "0");
        assert_eq!(
            q("SELECT name FROM forge_pg_test_items WHERE name ILIKE $1", Some(arr(vec![s("%CROU%")]))),
            r#"[{ "name": "Écrou ✓" }]"#
        );
        assert_eq!(
            one("SELECT count(*) AS n, sum(qty)::bigint AS total, bool_or(active) AS any FROM forge_pg_test_items"),
            r#"[{ "n": 2, "total": 18, "any": true }]"#
        );
        // A quote in a parameter is data.
        let n = call(
            "pg",
            "execute",
            &[s("INSERT INTO forge_pg_test_items (name) VALUES ($1)"), arr(vec![s("x'); DROP TABLE t; --")])],
        );
        assert_eq!(show(&n), "1");
        assert_eq!(one("SELECT count(*) AS n FROM forge_pg_test_items"), r#"[{ "n": 3 }]"#);
        call("pg", "execute", &[s("DROP TABLE forge_pg_test_items")]);
        call("pg", "close", &[]);
    }

    #[test]
    fn parameter_types() {
        let Some(_g) = connected() else { return };
        // Int binds to int2/int4/int8/numeric and float placeholders, Float to float4/numeric.
        assert_eq!(
            q(
                "SELECT $1::int AS a, $2::smallint AS b, $3::bigint AS c, $4::numeric AS d, $5::real AS e, \
                 $6::numeric AS f, $7::float8 AS g",
                Some(arr(vec![i(5), i(6), i(7), i(8), f(0.5), f(2.25), i(3)]))
            ),
            r#"[{ "a": 5, "b": 6, "c": 7, "d": 8, "e": 0.5, "f": 2.25, "g": 3 }]"#
        );
        // Strings are parsed by the server for the placeholder's type.
        assert_eq!(
            q(
                "SELECT $1::date AS d, $2::uuid AS u, $3::jsonb AS j, $4::int AS n, $5 AS t",
                Some(arr(vec![
                    s("2024-01-02"),
                    s("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                    s(r#"{"k": [1, 2]}"#),
                    s("12"),
                    s("plain"),
                ]))
            ),
            r#"[{ "d": "2024-01-02", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": { "k": [1, 2] }, "n": 12, "t": "plain" }]"#
        );
        // Objects and arrays: JSON for json placeholders, display text elsewhere; Bool and
        // numbers to a text placeholder as their text.
        assert_eq!(
            q(
                "SELECT $1::jsonb AS j, $2::text AS t, $3::text AS b, $4::text AS n, $5::bool AS ok",
                Some(arr(vec![
                    obj(vec![("a", s("x\"y"))]),
                    arr(vec![i(1), s("two")]),
                    Value::TRUE,
                    f(1.5),
                    Value::FALSE
                ]))
            ),
            r#"[{ "j": { "a": "x"y" }, "t": "[1, two]", "b": "true", "n": "1.5", "ok": false }]"#
        );
        // Out of range for the placeholder, or the wrong kind: a server error.
        let e = call_err("pg", "query", &[s("SELECT $1::smallint AS a"), arr(vec![i(70000)])]);
        assert!(e.starts_with("pg.query error: db error: ") && e.contains("out of range"), "{e}");
        let e = call_err("pg", "query", &[s("SELECT $1::int AS a"), arr(vec![Value::TRUE])]);
        assert!(e.starts_with("pg.query error: db error: invalid input syntax for type integer"), "{e}");
        let e = call_err("pg", "query", &[s("SELECT $1::int AS a"), arr(vec![])]);
        assert_eq!(e, "pg.query error: expected 1 parameters but got 0");
        // A non-Array second argument is ignored.
        assert_eq!(q("SELECT 1 AS one", Some(s("x"))), r#"[{ "one": 1 }]"#);
        call("pg", "close", &[]);
    }

    #[test]
    fn result_column_types() {
        let Some(_g) = connected() else { return };
        assert_eq!(
            one(
                "SELECT 1 AS one, 2::int2 AS s, 3::int8 AS b, 1.5::float4 AS r, 0.1::real AS tenth, 2.5::float8 AS d, \
                 12.345::numeric AS n, -0.001::numeric AS tiny, 123456789012.5::numeric AS big, 'NaN'::numeric AS nan"
            ),
            r#"[{ "one": 1, "s": 2, "b": 3, "r": 1.5, "tenth": 0.1, "d": 2.5, "n": 12.345, "tiny": -0.001, "big": 123456789012.5, "nan": NaN }]"#
        );
        assert_eq!(
            one("SELECT 'x'::text AS t, 'v'::varchar(5) AS v, 'ab'::char(4) AS c, 'nm'::name AS n, 'q'::\"char\" AS ch, \
                 true AS yes, NULL::int AS nothing"),
            r#"[{ "t": "x", "v": "v", "c": "ab  ", "n": "nm", "ch": "q", "yes": true, "nothing": null }]"#
        );
        assert_eq!(
            one("SELECT DATE '2024-02-29' AS d, DATE '0044-03-15 BC' AS bc, 'infinity'::date AS inf, \
                 TIME '03:04:05.25' AS t, TIMETZ '03:04:05+05:30' AS tz, \
                 TIMESTAMP '2024-01-02 03:04:05' AS ts, TIMESTAMP '2024-01-02 03:04:05.123456' AS tsf, \
                 TIMESTAMPTZ '2024-01-02 03:04:05+02' AS tstz"),
            r#"[{ "d": "2024-02-29", "bc": "0044-03-15 BC", "inf": "infinity", "t": "03:04:05.25", "tz": "03:04:05+05:30", "ts": "2024-01-02 03:04:05", "tsf": "2024-01-02 03:04:05.123456", "tstz": "2024-01-02 01:04:05+00" }]"#
        );
        assert_eq!(
            one("SELECT INTERVAL '1 year 2 months 3 days 04:05:06' AS a, INTERVAL '-1 day' AS b, \
                 INTERVAL '0' AS c, INTERVAL '1 day -01:00:00' AS d, INTERVAL '1.5 seconds' AS e"),
            r#"[{ "a": "1 year 2 mons 3 days 04:05:06", "b": "-1 days", "c": "00:00:00", "d": "1 day -01:00:00", "e": "00:00:01.5" }]"#
        );
        assert_eq!(
            one(
                r#"SELECT '{"b": 1, "a": [true, null, 2.5]}'::json AS j, '{"z": 1, "a": 2}'::jsonb AS jb, '"s"'::jsonb AS js"#
            ),
            r#"[{ "j": { "b": 1, "a": [true, null, 2.5] }, "jb": { "a": 2, "z": 1 }, "js": "s" }]"#
        );
        assert_eq!(
            one("SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '\\x00ff'::bytea AS b, \
                 '192.168.0.1'::inet AS i4, '10.0.0.0/8'::cidr AS c, '::1'::inet AS i6, \
                 '08:00:2b:01:02:03'::macaddr AS m, 1234.5::money AS cash, B'101' AS bits, point(1, 2.5) AS p"),
            r#"[{ "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "b": "\x00ff", "i4": "192.168.0.1", "c": "10.0.0.0/8", "i6": "::1", "m": "08:00:2b:01:02:03", "cash": "$1,234.50", "bits": "101", "p": "(1,2.5)" }]"#
        );
        assert_eq!(
            one("SELECT ARRAY[1, 2, 3] AS a, ARRAY['x', NULL, 'b c', ''] AS t, ARRAY[[1, 2], [3, 4]] AS m, \
                 '{}'::int[] AS e, 'pg_class'::regclass::oid > 0 AS pos"),
            r#"[{ "a": "{1,2,3}", "t": "{x,NULL,"b c",""}", "m": "{{1,2},{3,4}}", "e": "{}", "pos": true }]"#
        );
        assert_eq!(
            one("SELECT ROW(1, 'a b', NULL, 2.5::float8, 'q\"x') AS r, int4range(1, 5) AS ir, \
                 daterange('2024-01-01', NULL) AS dr, 'empty'::int4range AS e, numrange(1.5, 2.5, '[]') AS nr"),
            r#"[{ "r": "(1,"a b",,2.5,"q""x")", "ir": "[1,5)", "dr": "[2024-01-01,)", "e": "empty", "nr": "[1.5,2.5]" }]"#
        );
        // Column names as PostgreSQL gives them.
        assert_eq!(one("SELECT count(*), 1 + 1"), r#"[{ "count": 1, "?column?": 2 }]"#);
        call("pg", "close", &[]);
    }

    #[test]
    fn enums_and_domains() {
        let Some(_g) = connected() else { return };
        call(
            "pg",
            "execute",
            &[s("DO $$ BEGIN \
                   DROP TYPE IF EXISTS forge_pg_test_mood; CREATE TYPE forge_pg_test_mood AS ENUM ('sad', 'ok'); \
                   DROP DOMAIN IF EXISTS forge_pg_test_pos; CREATE DOMAIN forge_pg_test_pos AS int CHECK (VALUE > 0); \
                 END $$")],
        );
        assert_eq!(
            q("SELECT $1::forge_pg_test_mood AS m, $2::forge_pg_test_pos AS p", Some(arr(vec![s("ok"), i(4)]))),
            r#"[{ "m": "ok", "p": 4 }]"#
        );
        let e = call_err("pg", "query", &[s("SELECT $1::forge_pg_test_pos AS p"), arr(vec![i(-1)])]);
        assert!(e.starts_with("pg.query error: db error: "), "{e}");
        call("pg", "execute", &[s("DROP TYPE forge_pg_test_mood")]);
        call("pg", "execute", &[s("DROP DOMAIN forge_pg_test_pos")]);
        call("pg", "close", &[]);
    }

    #[test]
    fn errors() {
        let Some(_g) = connected() else { return };
        assert_eq!(call_err("pg", "connect", &[]), "pg.connect() requires a connection string");
        assert_eq!(call_err("pg", "connect", &[i(5)]), "pg.connect() requires a connection string");
        assert_eq!(call_err("pg", "query", &[i(1)]), "pg.query() requires a SQL string");
        assert_eq!(call_err("pg", "execute", &[]), "pg.execute() requires a SQL string");
        let e = call_err("pg", "query", &[s("SELECT * FROM forge_no_such_table")]);
        assert_eq!(e, "pg.query error: db error: relation \"forge_no_such_table\" does not exist");
        let e = call_err("pg", "execute", &[s("SELEC 1")]);
        assert_eq!(e, "pg.execute error: db error: syntax error at or near \"SELEC\"");
        let e = call_err("pg", "execute", &[s("SELECT 1; SELECT 2")]);
        assert!(e.starts_with("pg.execute error: db error: cannot insert multiple commands"), "{e}");
        // The connection survives errors.
        assert_eq!(one("SELECT 'still' AS s"), r#"[{ "s": "still" }]"#);
        call("pg", "close", &[]);
        assert_eq!(call_err("pg", "query", &[s("SELECT 1")]), "no pg connection open");
        assert_eq!(call_err("pg", "execute", &[s("SELECT 1")]), "no pg connection open");
        assert!(call("pg", "close", &[]).is_null());
        assert_eq!(
            call_err("pg", "connect", &[s("host=127.0.0.1 port=1 user=postgres connect_timeout=5")]),
            "pg.connect error: error connecting to server"
        );
        assert_eq!(
            call_err("pg", "connect", &[s("host=x port=notaport")]),
            "pg.connect error: invalid connection string"
        );
        let e = call_err("pg", "connect", &[s("host=127.0.0.1 port=5432 user=forge_no_such_user dbname=postgres")]);
        assert!(e.starts_with("pg.connect error: db error: "), "{e}");
        let e = call_err("pg", "connect", &[s("postgresql://postgres@127.0.0.1:5432/forge_no_such_db")]);
        assert_eq!(e, "pg.connect error: db error: database \"forge_no_such_db\" does not exist");
        assert_eq!(
            call_err("pg", "connect", &[s("host=127.0.0.1 port=1 user=postgres"), s("tls")]),
            "pg.connect (TLS) error: error connecting to server"
        );
        assert_eq!(
            call_err("pg", "connect", &[s("host=127.0.0.1 port=1 user=postgres"), s("no-verify")]),
            "pg.connect (TLS-no-verify) error: error connecting to server"
        );
    }

    #[test]
    fn tls_modes() {
        let Some(_g) = connected() else { return };
        let ssl = one("SHOW ssl");
        call("pg", "close", &[]);
        if ssl != r#"[{ "ssl": "on" }]"# {
            eprintln!("skipping: the PostgreSQL server has no TLS ({ssl})");
            return;
        }
        // The local server's certificate is not from the web PKI: verification fails,
        // an unverified TLS connection works.
        assert_eq!(
            call_err("pg", "connect", &[s(CONN), s("require")]),
            "pg.connect (TLS) error: error performing TLS handshake"
        );
        for mode in ["tls-no-verify", "ssl-no-verify", "no-verify"] {
            assert_eq!(show(&call("pg", "connect", &[s(CONN), s(mode)])), "true");
            assert_eq!(one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), r#"[{ "ssl": true }]"#);
        }
        // Any other mode is plain TCP.
        assert_eq!(show(&call("pg", "connect", &[s(CONN), s("plain")])), "true");
        assert_eq!(one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), r#"[{ "ssl": false }]"#);
        call("pg", "close", &[]);
    }

    #[test]
    fn shared_across_threads() {
        let Some(_g) = connected() else { return };
        let worker = std::thread::spawn(|| {
            crate::stdlib::testing::try_call("pg", "query", &[s("SELECT 41 + 1 AS n")])
                .map(|v| show(&v))
                .map_err(|e| e.message().to_string())
        });
        assert_eq!(worker.join().expect("thread"), Ok(r#"[{ "n": 42 }]"#.to_string()));
        // From a thread inside a tokio runtime too.
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let got = rt.block_on(async { one("SELECT 'rt' AS r") });
        assert_eq!(got, r#"[{ "r": "rt" }]"#);
        call("pg", "close", &[]);
    }

    #[test]
    fn text_forms() {
        assert_eq!(interval_text(0, 0, 0), "00:00:00");
        assert_eq!(interval_text(-3_600_000_000, -1, 0), "-1 days -01:00:00");
        assert_eq!(interval_text(3_600_000_000, -1, 0), "-1 days +01:00:00");
        assert_eq!(interval_text(0, 0, 25), "2 years 1 mon");
        assert_eq!(interval_text(90_000_000_000, 0, 0), "25:00:00");
        assert_eq!(money_text(-123), "-$1.23");
        assert_eq!(money_text(100_000_000), "$1,000,000.00");
        assert_eq!(array_element("NULL"), "\"NULL\"");
        assert_eq!(array_element("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(offset_text(-(3 * 3600 + 30 * 60)), "-03:30");
        assert_eq!(timestamp_text(0, ""), "2000-01-01 00:00:00");
        assert_eq!(timestamp_text(-1, ""), "1999-12-31 23:59:59.999999");
        assert_eq!(civil(0), (1970, 1, 1));
        // Malformed binary data never panics.
        for ty in [Type::INT4, Type::NUMERIC, Type::DATE, Type::INTERVAL, Type::INET, Type::INT4_ARRAY, Type::UUID] {
            let _ = decode(&ty, &[1, 2, 3]);
            let _ = decode(&ty, &[]);
            let _ = decode(&ty, &[0xff; 40]);
        }
    }
}
