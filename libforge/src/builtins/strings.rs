//! String builtins (spec 10 §10.6), the method-only string intrinsics of §10.7
//! ([`string_method`]) and the string properties of §10.1.3 ([`string_property`]).
//!
//! `len` counts UTF-8 bytes; every position-based function (`substring`, `pad_*`,
//! `last_index_of`, `char_at`, `count("")`, …) counts characters (Unicode scalar
//! values).

use super::Registry;
use crate::builtins::arrays::char_index;
use crate::display::write_display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.global("split", split);
    r.global("join", join);
    r.global("replace", replace);
    r.global("starts_with", starts_with);
    r.global("ends_with", ends_with);
    r.global("lines", lines);
    r.global("substring", substring);
    r.global("last_index_of", last_index_of);
    r.global("pad_start", pad_start);
    r.global("pad_end", pad_end);
    r.global("capitalize", capitalize);
    r.global("title", title);
    r.global("repeat_str", repeat_str);
    r.global("count", count);
    r.global("slugify", slugify);
    r.global("snake_case", snake_case);
    r.global("camel_case", camel_case);
}

/// The string in argument `i`, if that argument is a String.
fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

/// The first two arguments as strings, or the error `msg`.
fn two_strs<'a>(args: &'a [Value], msg: &str) -> Result<(&'a str, &'a str)> {
    match (str_arg(args, 0), str_arg(args, 1)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => fail(msg),
    }
}

fn str_array<'a>(items: impl Iterator<Item = &'a str>) -> Value {
    Value::array(items.map(Value::str).collect())
}

fn split(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (s, sep) = two_strs(args, "split() requires (string, delimiter_string)")?;
    if sep.is_empty() {
        return Ok(chars(s));
    }
    Ok(str_array(s.split(sep)))
}

fn join(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    const BAD: &str = "join() requires (array[, separator_string])";
    let Some(items) = args.first().and_then(Value::as_array) else {
        return fail(BAD);
    };
    let sep = match args.get(1) {
        None => "",
        Some(v) => match v.as_str() {
            Some(s) => s,
            None => return fail(BAD),
        },
    };
    let mut out = String::new();
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_display(&mut out, x);
    }
    Ok(Value::string(out))
}

fn replace(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2)) {
        // `str::replace` with an empty pattern inserts before every character and at
        // the end, as specified.
        (Some(s), Some(from), Some(to)) => Ok(Value::string(s.replace(from, to))),
        _ => fail("replace() requires (string, from_string, to_string)"),
    }
}

fn starts_with(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (s, p) = two_strs(args, "starts_with() requires (string, prefix_string)")?;
    Ok(Value::bool(s.starts_with(p)))
}

fn ends_with(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (s, p) = two_strs(args, "ends_with() requires (string, suffix_string)")?;
    Ok(Value::bool(s.ends_with(p)))
}

/// Lines split at `\n`, each without a trailing `\r`, with no final empty line.
fn lines_of(s: &str) -> Value {
    str_array(s.split_terminator('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)))
}

fn lines(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match str_arg(args, 0) {
        Some(s) => Ok(lines_of(s)),
        None => fail("lines() requires a string"),
    }
}

fn substring(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(s) = str_arg(args, 0) else {
        return fail("substring() requires a string as first argument");
    };
    let Some(start) = args.get(1).and_then(Value::as_int) else {
        return fail("substring() requires (string, start, end?)");
    };
    let n = s.chars().count() as i64;
    let end = match args.get(2).and_then(Value::as_int) {
        Some(e) if e >= 0 => e.min(n),
        _ => n,
    };
    if start < 0 || start >= end {
        return Ok(Value::str(""));
    }
    Ok(Value::string(s.chars().skip(start as usize).take((end - start) as usize).collect()))
}

fn last_index_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (s, sub) = two_strs(args, "last_index_of() requires (string, substring)")?;
    Ok(Value::int(s.rfind(sub).map(|b| char_index(s, b)).unwrap_or(-1)))
}

/// `pad_start` (`at_start = true`) and `pad_end`.
fn pad(args: &[Value], name: &str, at_start: bool) -> Result<Value> {
    let (Some(s), Some(width)) = (str_arg(args, 0), args.get(1).and_then(Value::as_int)) else {
        return fail(format!("{name}() requires (string, length)"));
    };
    let fill = str_arg(args, 2).and_then(|c| c.chars().next()).unwrap_or(' ');
    let n = s.chars().count();
    let width = usize::try_from(width).unwrap_or(0);
    if width <= n {
        return Ok(Value::str(s));
    }
    let mut out = String::new();
    if !at_start {
        out.push_str(s);
    }
    for _ in n..width {
        out.push(fill);
    }
    if at_start {
        out.push_str(s);
    }
    Ok(Value::string(out))
}

fn pad_start(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    pad(args, "pad_start", true)
}

fn pad_end(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    pad(args, "pad_end", false)
}

/// The first character upper-cased and all the rest lower-cased.
fn capitalized(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) => {
            let mut out: String = c.to_uppercase().collect();
            out.push_str(&cs.as_str().to_lowercase());
            out
        }
        None => String::new(),
    }
}

fn capitalize(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match str_arg(args, 0) {
        Some(s) => Ok(Value::string(capitalized(s))),
        None => fail("capitalize() requires a string"),
    }
}

fn title(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(s) = str_arg(args, 0) else {
        return fail("title() requires a string");
    };
    Ok(Value::string(s.split_whitespace().map(capitalized).collect::<Vec<_>>().join(" ")))
}

fn repeat_str(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(s), Some(n)) = (str_arg(args, 0), args.get(1).and_then(Value::as_int)) else {
        return fail("repeat_str() requires (string, count)");
    };
    let Ok(n) = usize::try_from(n) else {
        return fail("repeat_str() count must be non-negative");
    };
    // `str::repeat` panics when the length overflows; report that as an error instead.
    match s.len().checked_mul(n) {
        Some(total) if total <= isize::MAX as usize => Ok(Value::string(s.repeat(n))),
        _ => fail("repeat_str() result is too large"),
    }
}

fn count(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (s, sub) = two_strs(args, "count() requires (string, substring)")?;
    let n = if sub.is_empty() { s.chars().count() + 1 } else { s.matches(sub).count() };
    Ok(Value::int(n as i64))
}

fn slugify(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(s) = str_arg(args, 0) else {
        return fail("slugify() requires a string");
    };
    let mut out = String::new();
    let mut dash = false;
    for c in s.to_lowercase().chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    Ok(Value::string(out))
}

fn snake_case(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(s) = str_arg(args, 0) else {
        return fail("snake_case() requires a string");
    };
    let cs: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, &c) in cs.iter().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                let prev = cs[i - 1];
                let next_lower = cs.get(i + 1).is_some_and(|n| n.is_lowercase());
                if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                    out.push('_');
                }
            }
            out.extend(c.to_lowercase());
        } else if c == ' ' || c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    Ok(Value::string(out))
}

fn camel_case(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(s) = str_arg(args, 0) else {
        return fail("camel_case() requires a string");
    };
    let mut out = String::new();
    let parts = s.split(['_', ' ', '-']).filter(|p| !p.is_empty());
    for (i, p) in parts.enumerate() {
        if i == 0 {
            out.push_str(&p.to_lowercase());
        } else {
            out.push_str(&capitalized(p));
        }
    }
    Ok(Value::string(out))
}

// ----- §10.7 methods and §10.1.3 properties -----

fn chars(s: &str) -> Value {
    Value::array(s.chars().map(|c| Value::string(c.to_string())).collect())
}

/// `true` iff every character is an ASCII digit, `.` or `-` (so `""` is numeric).
fn is_numeric(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-')
}

/// Percent-encodes every UTF-8 byte except `A–Z a–z 0–9 - _ . ~` (also `url.encode`).
pub(crate) fn encode_uri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `+` as a space and `%XX` as a byte, then the bytes as UTF-8 (lossy). A `%`
/// not followed by two hex digits is kept, together with the (up to two) characters
/// after it. Also `url.decode`.
pub(crate) fn decode_uri(s: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut cs = s.chars();
    let mut buf = [0u8; 4];
    while let Some(c) = cs.next() {
        match c {
            '+' => out.push(b' '),
            '%' => {
                let rest = cs.clone().take(2).collect::<Vec<char>>();
                let hex: Option<Vec<u32>> = rest.iter().map(|d| d.to_digit(16)).collect();
                match hex {
                    Some(h) if h.len() == 2 => {
                        out.push((h[0] * 16 + h[1]) as u8);
                    }
                    _ => {
                        out.push(b'%');
                        for d in &rest {
                            out.extend_from_slice(d.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
                for _ in 0..rest.len() {
                    cs.next();
                }
            }
            _ => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The intrinsics that are both methods and properties of strings.
fn string_intrinsic(name: &str, s: &str) -> Option<Value> {
    Some(match name {
        "len" => Value::int(s.len() as i64),
        "upper" => Value::string(s.to_uppercase()),
        "lower" => Value::string(s.to_lowercase()),
        "trim" => Value::str(s.trim()),
        "trim_start" => Value::str(s.trim_start()),
        "trim_end" => Value::str(s.trim_end()),
        "chars" => chars(s),
        "bytes" => Value::array(s.bytes().map(|b| Value::int(i64::from(b))).collect()),
        "words" => str_array(s.split_whitespace()),
        "is_empty" => Value::bool(s.is_empty()),
        "is_numeric" => Value::bool(is_numeric(s)),
        "is_alpha" => Value::bool(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "is_alphanumeric" => Value::bool(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "reverse" => Value::string(s.chars().rev().collect()),
        _ => return None,
    })
}

/// `recv.name(args)` for the string-only methods of spec 10 §10.7 (`upper lower trim
/// trim_start trim_end len chars bytes words is_empty is_numeric is_alpha
/// is_alphanumeric reverse char_at encode_uri decode_uri`); `None` for other names.
pub fn string_method(_h: &mut dyn Host, name: &str, recv: &str, args: &[Value]) -> Option<Result<Value>> {
    match name {
        "char_at" => Some(match args.first().and_then(Value::as_int) {
            Some(i) => Ok(usize::try_from(i)
                .ok()
                .and_then(|i| recv.chars().nth(i))
                .map(|c| Value::string(c.to_string()))
                .unwrap_or(Value::NULL)),
            None => fail("char_at() requires an integer index"),
        }),
        "encode_uri" => Some(Ok(Value::string(encode_uri(recv)))),
        "decode_uri" => Some(Ok(Value::string(decode_uri(recv)))),
        _ => string_intrinsic(name, recv).map(Ok),
    }
}

/// `recv.name` for the string properties of spec 10 §10.1.3 (`len upper lower trim
/// trim_start trim_end is_empty is_numeric is_alpha is_alphanumeric chars bytes words
/// lines reverse`); `None` for other names (the caller raises
/// `no method 'NAME' on String`).
pub fn string_property(name: &str, recv: &str) -> Option<Result<Value>> {
    match name {
        "lines" => Some(Ok(lines_of(recv))),
        _ => string_intrinsic(name, recv).map(Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::{string_method, string_property};
    use crate::builtins::arrays::testing::{call, call_err, host, i, j, s, show};
    use crate::value::Value;

    fn method(name: &str, recv: &str, args: &[Value]) -> String {
        match string_method(&mut host(), name, recv, args) {
            Some(Ok(v)) => show(v),
            Some(Err(e)) => format!("error: {}", e.message()),
            None => "none".to_string(),
        }
    }

    fn prop(name: &str, recv: &str) -> String {
        match string_property(name, recv) {
            Some(Ok(v)) => show(v),
            Some(Err(e)) => format!("error: {}", e.message()),
            None => "none".to_string(),
        }
    }

    #[test]
    fn split_join_replace() {
        assert_eq!(show(call("split", &[s("a,b,,c"), s(",")])), "[a, b, , c]");
        assert_eq!(call("split", &[s("a,b,,c"), s(",")]).as_array().unwrap().len(), 4);
        assert_eq!(show(call("split", &[s("abc"), s("")])), "[a, b, c]");
        assert_eq!(call("split", &[s(""), s("")]).as_array().unwrap().len(), 0);
        assert_eq!(call("split", &[s(""), s(",")]).as_array().unwrap().len(), 1);
        assert_eq!(call_err("split", &[s("a")]), "split() requires (string, delimiter_string)");
        assert_eq!(show(call("join", &[j(r#"["a", 1, true, null]"#), s("-")])), "a-1-true-null");
        assert_eq!(show(call("join", &[j("[1, 2]")])), "12");
        assert_eq!(call_err("join", &[j("[1, 2]"), i(1)]), "join() requires (array[, separator_string])");
        assert_eq!(call_err("join", &[s("ab")]), "join() requires (array[, separator_string])");
        assert_eq!(show(call("replace", &[s("a.b.c"), s("."), s("/")])), "a/b/c");
        assert_eq!(show(call("replace", &[s("abc"), s(""), s("-")])), "-a-b-c-");
        assert_eq!(call_err("replace", &[s("a"), s("b")]), "replace() requires (string, from_string, to_string)");
    }

    #[test]
    fn prefixes_and_lines() {
        assert_eq!(show(call("starts_with", &[s("hello"), s("he")])), "true");
        assert_eq!(show(call("starts_with", &[s("hello"), s("")])), "true");
        assert_eq!(show(call("ends_with", &[s("hello"), s("lo")])), "true");
        assert_eq!(show(call("ends_with", &[s("hello"), s("he")])), "false");
        assert_eq!(call_err("starts_with", &[s("a"), i(1)]), "starts_with() requires (string, prefix_string)");
        assert_eq!(call_err("ends_with", &[]), "ends_with() requires (string, suffix_string)");
        assert_eq!(show(call("lines", &[s("a\nb\r\nc\n")])), "[a, b, c]");
        assert_eq!(show(call("lines", &[s("")])), "[]");
        assert_eq!(show(call("lines", &[s("a\n\nb")])), "[a, , b]");
        assert_eq!(call_err("lines", &[i(1)]), "lines() requires a string");
    }

    #[test]
    fn substrings_and_positions() {
        assert_eq!(show(call("substring", &[s("hello world"), i(6)])), "world");
        assert_eq!(show(call("substring", &[s("abcdef"), i(2), i(4)])), "cd");
        assert_eq!(show(call("substring", &[s("héllo"), i(1), i(3)])), "él");
        assert_eq!(show(call("substring", &[s("abc"), i(5)])), "");
        assert_eq!(show(call("substring", &[s("abc"), i(2), i(1)])), "");
        assert_eq!(show(call("substring", &[s("abc"), i(-1)])), "");
        assert_eq!(show(call("substring", &[s("abc"), i(1), i(-1)])), "bc");
        assert_eq!(show(call("substring", &[s("abc"), i(1), i(99)])), "bc");
        assert_eq!(call_err("substring", &[i(1), i(1)]), "substring() requires a string as first argument");
        assert_eq!(call_err("substring", &[s("abc")]), "substring() requires (string, start, end?)");
        assert_eq!(show(call("last_index_of", &[s("abcabc"), s("abc")])), "3");
        assert_eq!(show(call("last_index_of", &[s("héllo"), s("l")])), "3");
        assert_eq!(show(call("last_index_of", &[s("abc"), s("z")])), "-1");
        assert_eq!(call_err("last_index_of", &[s("abc")]), "last_index_of() requires (string, substring)");
    }

    #[test]
    fn padding() {
        assert_eq!(show(call("pad_start", &[s("42"), i(5), s("0")])), "00042");
        assert_eq!(show(call("pad_end", &[s("hi"), i(5), s(".")])), "hi...");
        assert_eq!(show(call("pad_start", &[s("hi"), i(4)])), "  hi");
        assert_eq!(show(call("pad_start", &[s("hi"), i(4), s("")])), "  hi");
        assert_eq!(show(call("pad_start", &[s("hi"), i(4), s("xy")])), "xxhi");
        assert_eq!(show(call("pad_end", &[s("é"), i(3), s("ü")])), "éüü");
        assert_eq!(show(call("pad_end", &[s("hello"), i(2)])), "hello");
        assert_eq!(show(call("pad_end", &[s("hello"), i(-2)])), "hello");
        assert_eq!(call_err("pad_start", &[s("x")]), "pad_start() requires (string, length)");
        assert_eq!(call_err("pad_end", &[i(1), i(3)]), "pad_end() requires (string, length)");
    }

    #[test]
    fn casing() {
        assert_eq!(show(call("capitalize", &[s("hELLO wORLD")])), "Hello world");
        assert_eq!(show(call("capitalize", &[s("")])), "");
        assert_eq!(call_err("capitalize", &[i(1)]), "capitalize() requires a string");
        assert_eq!(show(call("title", &[s("  a-b c")])), "A-b C");
        assert_eq!(show(call("title", &[s("hello   wORLD  foo")])), "Hello World Foo");
        assert_eq!(call_err("title", &[]), "title() requires a string");
        assert_eq!(show(call("slugify", &[s("  --The Quick_Brown  Fox--  ")])), "the-quick-brown-fox");
        assert_eq!(show(call("slugify", &[s("Ünïcode Straße 42")])), "ünïcode-straße-42");
        assert_eq!(call_err("slugify", &[i(1)]), "slugify() requires a string");
        assert_eq!(show(call("snake_case", &[s("helloWorld")])), "hello_world");
        assert_eq!(show(call("snake_case", &[s("APIKey")])), "api_key");
        assert_eq!(show(call("snake_case", &[s("getHTTPResponse2Fast")])), "get_http_response2_fast");
        assert_eq!(show(call("snake_case", &[s("kebab-case-x")])), "kebab_case_x");
        assert_eq!(show(call("snake_case", &[s("Hello World")])), "hello_world");
        assert_eq!(call_err("snake_case", &[]), "snake_case() requires a string");
        assert_eq!(show(call("camel_case", &[s("Kebab-CASE-x")])), "kebabCaseX");
        assert_eq!(show(call("camel_case", &[s("HelloWorld")])), "helloworld");
        assert_eq!(show(call("camel_case", &[s("__a  b__c")])), "aBC");
        assert_eq!(call_err("camel_case", &[i(1)]), "camel_case() requires a string");
    }

    #[test]
    fn repeat_and_count() {
        assert_eq!(show(call("repeat_str", &[s("ab"), i(3)])), "ababab");
        assert_eq!(show(call("repeat_str", &[s("ab"), i(0)])), "");
        assert_eq!(call_err("repeat_str", &[s("ab"), i(-1)]), "repeat_str() count must be non-negative");
        assert_eq!(call_err("repeat_str", &[s("ab"), s("2")]), "repeat_str() requires (string, count)");
        assert_eq!(call_err("repeat_str", &[s("ab"), i(i64::MAX)]), "repeat_str() result is too large");
        assert_eq!(show(call("count", &[s("aaaa"), s("aa")])), "2");
        assert_eq!(show(call("count", &[s("héllo"), s("")])), "6");
        assert_eq!(show(call("count", &[s("abc"), s("z")])), "0");
        assert_eq!(call_err("count", &[s("abc")]), "count() requires (string, substring)");
    }

    #[test]
    fn methods() {
        assert_eq!(method("len", "héllo", &[]), "6");
        assert_eq!(method("upper", "Ab c", &[]), "AB C");
        assert_eq!(method("lower", "ÀB", &[]), "àb");
        assert_eq!(method("trim", "\u{3000} x \n", &[]), "x");
        assert_eq!(method("trim_start", "  x ", &[]), "x ");
        assert_eq!(method("trim_end", "  x ", &[]), "  x");
        assert_eq!(method("chars", "aé", &[]), "[a, é]");
        assert_eq!(method("bytes", "aé", &[]), "[97, 195, 169]");
        assert_eq!(method("words", " a  b\tc\n", &[]), "[a, b, c]");
        assert_eq!(method("is_empty", " ", &[]), "false");
        assert_eq!(method("is_empty", "", &[]), "true");
        assert_eq!(method("is_numeric", "", &[]), "true");
        assert_eq!(method("is_numeric", "1-2.3.", &[]), "true");
        assert_eq!(method("is_numeric", "１２", &[]), "false");
        assert_eq!(method("is_numeric", "1e3", &[]), "false");
        assert_eq!(method("is_alpha", "", &[]), "false");
        assert_eq!(method("is_alpha", "héllo", &[]), "true");
        assert_eq!(method("is_alpha", "a1", &[]), "false");
        assert_eq!(method("is_alphanumeric", "a1", &[]), "true");
        assert_eq!(method("is_alphanumeric", "a 1", &[]), "false");
        assert_eq!(method("reverse", "héllo", &[]), "olléh");
        assert_eq!(method("char_at", "héllo", &[i(1)]), "é");
        assert_eq!(method("char_at", "héllo", &[i(5)]), "null");
        assert_eq!(method("char_at", "héllo", &[i(-1)]), "null");
        assert_eq!(method("char_at", "héllo", &[s("1")]), "error: char_at() requires an integer index");
        assert_eq!(method("char_at", "héllo", &[]), "error: char_at() requires an integer index");
        assert_eq!(method("encode_uri", "a b&c/é", &[]), "a%20b%26c%2F%C3%A9");
        assert_eq!(method("encode_uri", "A-z_0.~", &[]), "A-z_0.~");
        assert_eq!(method("decode_uri", "a%20b+c%2", &[]), "a b c%2");
        assert_eq!(method("decode_uri", "%zz", &[]), "%zz");
        assert_eq!(method("decode_uri", "%C3%A9", &[]), "é");
        assert_eq!(method("decode_uri", "%FF!", &[]), "\u{FFFD}!");
        assert_eq!(method("decode_uri", "%é+", &[]), "%é+");
        assert_eq!(method("decode_uri", "%+1+", &[]), "%+1 ");
        assert_eq!(method("lines", "a\nb", &[]), "none");
        assert_eq!(method("foo", "a", &[]), "none");
    }

    #[test]
    fn properties() {
        assert_eq!(prop("upper", "Ab c"), "AB C");
        assert_eq!(prop("lines", "x\ny"), "[x, y]");
        assert_eq!(prop("len", "🎉"), "4");
        assert_eq!(prop("reverse", "ab"), "ba");
        assert_eq!(prop("words", "a b"), "[a, b]");
        assert_eq!(prop("char_at", "ab"), "none");
        assert_eq!(prop("encode_uri", "ab"), "none");
        assert_eq!(prop("foo", "ab"), "none");
    }
}
