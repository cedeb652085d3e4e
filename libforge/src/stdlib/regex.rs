//! The `regex` module (spec 11 §11.7), on the `regex` crate. Arguments are text first,
//! pattern second. Compiled patterns are kept in a small per-thread cache, so a pattern
//! used in a loop is compiled once.

use std::cell::RefCell;

use ::regex::Regex;

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("regex", "test", test);
    r.module("regex", "find", find);
    r.module("regex", "find_all", find_all);
    r.module("regex", "replace", replace);
    r.module("regex", "split", split);
}

/// How many compiled patterns each thread keeps.
const CACHE_SIZE: usize = 64;

thread_local! {
    /// Recently used patterns, most recent last.
    static CACHE: RefCell<Vec<(String, Regex)>> = const { RefCell::new(Vec::new()) };
}

/// The compiled `pattern`, or the error `invalid regex: DETAIL`.
pub fn compile(pattern: &str) -> Result<Regex> {
    let hit = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let pos = c.iter().position(|(p, _)| p == pattern)?;
        let entry = c.remove(pos);
        let re = entry.1.clone();
        c.push(entry);
        Some(re)
    });
    if let Some(re) = hit {
        return Ok(re);
    }
    let re = match Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => return fail(format!("invalid regex: {e}")),
    };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.remove(0);
        }
        c.push((pattern.to_string(), re.clone()));
    });
    Ok(re)
}

/// The (text, pattern) arguments of `regex.NAME`, the pattern compiled.
fn text_and_pattern<'a>(args: &'a [Value], name: &str) -> Result<(&'a str, Regex)> {
    match (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_str)) {
        (Some(text), Some(pat)) => Ok((text, compile(pat)?)),
        _ => fail(format!("regex.{name}() requires (text, pattern) strings")),
    }
}

fn test(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (text, re) = text_and_pattern(args, "test")?;
    Ok(Value::bool(re.is_match(text)))
}

fn find(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (text, re) = text_and_pattern(args, "find")?;
    Ok(re.find(text).map_or(Value::NULL, |m| Value::str(m.as_str())))
}

fn find_all(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (text, re) = text_and_pattern(args, "find_all")?;
    Ok(Value::array(re.find_iter(text).map(|m| Value::str(m.as_str())).collect()))
}

/// Replaces every match; the replacement uses the crate's `$1`, `${name}`, `$$` syntax.
fn replace(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(text), Some(pat), Some(rep)) = (
        args.first().and_then(Value::as_str),
        args.get(1).and_then(Value::as_str),
        args.get(2).and_then(Value::as_str),
    ) else {
        return fail("regex.replace() requires (text, pattern, replacement) strings");
    };
    let re = compile(pat)?;
    Ok(Value::string(re.replace_all(text, rep).into_owned()))
}

fn split(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (text, re) = text_and_pattern(args, "split")?;
    Ok(Value::array(re.split(text).map(Value::str).collect()))
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{call, call_err, i, keys_of, s, say};
    use crate::value::Value;

    fn r(name: &str, args: &[&str]) -> String {
        let args: Vec<Value> = args.iter().map(|a| s(a)).collect();
        say("regex", name, &args)
    }

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("regex")), ["test", "find", "find_all", "replace", "split"]);
    }

    #[test]
    fn test_find() {
        assert_eq!(r("test", &["hello123", r"\d+"]), "true");
        assert_eq!(r("test", &["hello", r"\d+"]), "false");
        assert_eq!(r("find", &["order-4521-x", r"\d+"]), "4521");
        assert_eq!(r("find", &["no digits", r"\d+"]), "null");
        assert!(call("regex", "find", &[s("no digits"), s(r"\d+")]).is_null());
        assert_eq!(r("find_all", &["a1b22c333", r"\d+"]), "[1, 22, 333]");
        assert_eq!(r("find_all", &["none here", r"\d"]), "[]");
        assert_eq!(r("test", &["Hello", "(?i)^hello$"]), "true");
        assert_eq!(r("find_all", &["cat bat rat", "[cb]at"]), "[cat, bat]");
        assert_eq!(r("find", &["x@example.com", r"[a-z]+@[a-z]+\.[a-z]{2,}"]), "x@example.com");
        assert_eq!(r("find", &["héllo wörld", r"\w+"]), "héllo");
    }

    #[test]
    fn replace_groups() {
        assert_eq!(r("replace", &["2024-01-15", r"(\d+)-(\d+)-(\d+)", "$2/$3/$1"]), "01/15/2024");
        assert_eq!(r("replace", &["a  b   c", r"\s+", " "]), "a b c");
        assert_eq!(r("replace", &["John Smith", r"(?P<first>\w+) (?P<last>\w+)", "${last}, ${first}"]), "Smith, John");
        assert_eq!(r("replace", &["price: 10", r"(\d+)", "${1}0"]), "price: 100");
        assert_eq!(r("replace", &["price: 10", r"(\d+)", "$1x"]), "price: ");
        assert_eq!(r("replace", &["aaa", "a", "b"]), "bbb");
        assert_eq!(r("replace", &["nothing", "z", "y"]), "nothing");
        assert_eq!(r("replace", &["cost 5", r"\d", "$$"]), "cost $");
        assert_eq!(r("replace", &["ab", "(a)", "[$9]"]), "[]b");
    }

    #[test]
    fn split_keeps_empty_pieces() {
        assert_eq!(r("split", &["one,,two,,,three", ",+"]), "[one, two, three]");
        assert_eq!(call("regex", "split", &[s(",a,"), s(",")]).as_array().unwrap().len(), 3);
        assert_eq!(r("split", &[",a,", ","]), "[, a, ]");
        assert_eq!(r("split", &["a1b2c3", r"\d"]), "[a, b, c, ]");
        assert_eq!(r("split", &["words   with\tspaces", r"\s+"]), "[words, with, spaces]");
        let empty = call("regex", "split", &[s(""), s(",")]);
        assert_eq!(empty.as_array().unwrap().len(), 1);
        assert_eq!(empty.as_array().unwrap()[0].as_str(), Some(""));
    }

    #[test]
    fn errors() {
        assert_eq!(
            call_err("regex", "test", &[s("x"), s("(")]),
            "invalid regex: regex parse error:\n    (\n    ^\nerror: unclosed group"
        );
        assert!(
            call_err("regex", "replace", &[s("x"), s("[a"), s("")]).starts_with("invalid regex: regex parse error:")
        );
        for name in ["test", "find", "find_all", "split"] {
            assert_eq!(call_err("regex", name, &[s("x")]), format!("regex.{name}() requires (text, pattern) strings"));
            assert_eq!(
                call_err("regex", name, &[i(1), s("x")]),
                format!("regex.{name}() requires (text, pattern) strings")
            );
        }
        assert_eq!(
            call_err("regex", "replace", &[s("x"), s("x")]),
            "regex.replace() requires (text, pattern, replacement) strings"
        );
    }

    #[test]
    fn cache_evicts() {
        for n in 0..(super::CACHE_SIZE + 10) {
            assert_eq!(r("test", &[&format!("a{n}"), &format!("a{n}$")]), "true");
        }
        assert_eq!(r("test", &["a3", "a3$"]), "true");
    }
}
