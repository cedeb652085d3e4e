//! The `log` module (spec 11 §11.9): one timestamped, coloured line on standard error
//! per call. The time is the local wall-clock time (`chrono`).

use crate::builtins::Registry;
use crate::display::write_display;
use crate::error::Result;
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("log", "info", info);
    r.module("log", "warn", warn);
    r.module("log", "error", error);
    r.module("log", "debug", debug);
}

/// The line written for one call: `ESC[Cm[HH:MM:SS LEVEL]ESC[0m`, a separator, the
/// arguments' display renderings joined by spaces, and a newline.
fn line(colour: u8, level: &str, sep: &str, time: &str, args: &[Value]) -> String {
    let mut out = format!("\x1b[{colour}m[{time} {level}]\x1b[0m{sep}");
    for (n, a) in args.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        write_display(&mut out, a);
    }
    out.push('\n');
    out
}

fn emit(colour: u8, level: &str, sep: &str, args: &[Value]) -> Result<Value> {
    let time = chrono::Local::now().format("%H:%M:%S").to_string();
    crate::output::eprint(&line(colour, level, sep, &time, args));
    Ok(Value::NULL)
}

fn info(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(32, "INFO", "  ", args)
}

fn warn(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(33, "WARN", "  ", args)
}

fn error(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(31, "ERROR", " ", args)
}

fn debug(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(90, "DEBUG", " ", args)
}

#[cfg(test)]
mod tests {
    use super::line;
    use crate::stdlib::testing::{arr, i, keys_of, obj, s, say};

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("log")), ["info", "warn", "error", "debug"]);
    }

    #[test]
    fn line_format() {
        assert_eq!(
            line(32, "INFO", "  ", "14:30:15", &[s("Server started on port"), i(8080)]),
            "\x1b[32m[14:30:15 INFO]\x1b[0m  Server started on port 8080\n"
        );
        assert_eq!(
            line(33, "WARN", "  ", "01:02:03", &[s("a warning"), i(42)]),
            "\x1b[33m[01:02:03 WARN]\x1b[0m  a warning 42\n"
        );
        assert_eq!(line(31, "ERROR", " ", "01:02:03", &[]), "\x1b[31m[01:02:03 ERROR]\x1b[0m \n");
        assert_eq!(
            line(90, "DEBUG", " ", "23:59:59", &[arr(vec![s("x")]), obj(vec![("k", s("v"))])]),
            "\x1b[90m[23:59:59 DEBUG]\x1b[0m [x] { \"k\": \"v\" }\n"
        );
    }

    #[test]
    fn calls_return_null() {
        for name in ["info", "warn", "error", "debug"] {
            assert_eq!(say("log", name, &[s("from the log tests")]), "null");
        }
    }
}
