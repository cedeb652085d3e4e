//! The `io` module (spec 11 §11.3): a prompt on the console and the raw process
//! arguments.
//!
//! `args`, `args_parse`, `args_get` and `args_has` all read the process argument
//! vector as the operating system passed it (program name first); arguments that are
//! not valid UTF-8 are decoded with U+FFFD replacements.

use std::io::BufRead;

use crate::builtins::Registry;
use crate::display::write_display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{new_map, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("io", "prompt", prompt);
    r.module("io", "print", print);
    r.module("io", "args", args);
    r.module("io", "args_parse", args_parse);
    r.module("io", "args_get", args_get);
    r.module("io", "args_has", args_has);
}

/// Argument `i` when it is a String.
fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

/// Reads one line from standard input without its final `\n` (a `\r` stays); `""` at
/// end of input.
pub(crate) fn read_stdin_line() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.ends_with('\n') {
        line.pop();
    }
    Ok(line)
}

/// `io.prompt(text?)`: shows the text on stdout (flushed), then reads a line.
fn prompt(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if let Some(text) = args.first() {
        let mut s = String::new();
        write_display(&mut s, text);
        crate::output::write(&s);
    }
    crate::output::flush();
    match read_stdin_line() {
        Ok(line) => Ok(Value::string(line)),
        Err(e) => fail(format!("io.prompt error: {e}")),
    }
}

/// `io.print(args…)`: as the global `print` (display renderings joined by spaces, no
/// newline).
fn print(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        write_display(&mut s, a);
    }
    crate::output::write(&s);
    Ok(Value::NULL)
}

/// The process arguments, program name first.
fn argv() -> Vec<String> {
    std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect()
}

fn args(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::array(argv().into_iter().map(Value::string).collect()))
}

/// The value of a flag found at `at`: the next element unless it is missing or is
/// itself a flag (`--…`), in which case `true`.
fn flag_value(words: &[String], at: usize) -> Value {
    match words.get(at + 1) {
        Some(next) if !next.starts_with("--") => Value::str(next),
        _ => Value::TRUE,
    }
}

/// `{ "--flag": value, … }` for every element starting with `--`.
fn parse_flags(words: &[String]) -> Value {
    let mut m = new_map();
    for (i, w) in words.iter().enumerate() {
        if w.starts_with("--") {
            m.insert(Key::new(w), flag_value(words, i));
        }
    }
    Value::object(m)
}

fn args_parse(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(parse_flags(&argv()))
}

/// The value of the first occurrence of `flag`, or `null` when it is absent.
fn get_flag(words: &[String], flag: &str) -> Value {
    match words.iter().position(|w| w == flag) {
        Some(i) => flag_value(words, i),
        None => Value::NULL,
    }
}

fn args_get(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(flag) = str_arg(args, 0) else {
        return fail("io.args_get() requires a flag string");
    };
    Ok(get_flag(&argv(), flag))
}

fn args_has(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(flag) = str_arg(args, 0) else {
        return fail("io.args_has() requires a flag string");
    };
    Ok(Value::bool(argv().iter().any(|w| w == flag)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, s, show};

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn flag_parsing() {
        let w = words(&["forge", "run", "app.fg", "--port", "3000", "--verbose", "--name", "x", "loose", "--last"]);
        assert_eq!(show(parse_flags(&w)), r#"{ "--port": "3000", "--verbose": true, "--name": "x", "--last": true }"#);
        assert_eq!(show(get_flag(&w, "--port")), "3000");
        assert_eq!(show(get_flag(&w, "--verbose")), "true");
        assert_eq!(show(get_flag(&w, "--last")), "true");
        assert_eq!(show(get_flag(&w, "--missing")), "null");
        assert_eq!(show(get_flag(&w, "run")), "app.fg");
        // A repeated flag keeps its first position and its last value.
        let w = words(&["x", "--a", "1", "--b", "--a", "2"]);
        assert_eq!(show(parse_flags(&w)), r#"{ "--a": "2", "--b": true }"#);
        assert_eq!(show(get_flag(&w, "--a")), "1");
    }

    #[test]
    fn process_arguments() {
        let h = &mut host();
        let all = args(h, &[]).unwrap();
        let first = all.as_array().unwrap()[0].clone();
        assert_eq!(show(first.clone()), std::env::args().next().unwrap());
        assert_eq!(show(args_has(h, std::slice::from_ref(&first)).unwrap()), "true");
        assert_eq!(show(args_has(h, &[s("--surely-not-an-argument")]).unwrap()), "false");
        assert_eq!(show(args_get(h, &[s("--surely-not-an-argument")]).unwrap()), "null");
        assert_eq!(args_parse(h, &[]).unwrap().kind(), crate::value::Kind::Object);
        assert_eq!(args_get(h, &[i(1)]).unwrap_err().message(), "io.args_get() requires a flag string");
        assert_eq!(args_has(h, &[]).unwrap_err().message(), "io.args_has() requires a flag string");
    }

    #[test]
    fn print_returns_null() {
        assert_eq!(show(print(&mut host(), &[]).unwrap()), "null");
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("io");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["prompt", "print", "args", "args_parse", "args_get", "args_has"]);
    }
}
