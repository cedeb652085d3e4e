//! Shell and process builtins (spec 10 §10.12): running commands through `/bin/sh -c`
//! or directly, locating programs, the working directory, `exit` and `input`.
//!
//! Standard output of the program is flushed before a child runs or stdin is read, so
//! the program's own output and the child's appear in order. Child output is decoded
//! as UTF-8 with invalid bytes replaced by U+FFFD.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use super::Registry;
use crate::error::{fail, Error, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.global("sh", sh);
    r.global("shell", shell);
    r.global("sh_lines", sh_lines);
    r.global("sh_json", sh_json);
    r.global("sh_ok", sh_ok);
    r.global("pipe_to", pipe_to);
    r.global("run_command", run_command);
    r.global("which", which);
    r.global("cwd", cwd);
    r.global("cd", cd);
    r.global("exit", exit);
    r.global("input", input);
}

/// The command string of `name(cmd)`, or the error `name() requires a command string`.
fn command_arg<'a>(args: &'a [Value], name: &str) -> Result<&'a str> {
    match args.first().and_then(Value::as_str) {
        Some(c) => Ok(c),
        None => fail(format!("{name}() requires a command string")),
    }
}

/// `/bin/sh -c cmd` with inherited stdin and captured stdout/stderr.
fn sh_command(cmd: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd).stdin(Stdio::inherit()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Runs a prepared command to completion, mapping a failure to start it to
/// `PREFIX error: OSMSG`.
fn run(mut c: Command, prefix: &str) -> Result<Output> {
    crate::output::flush();
    c.output().map_err(|e| Error::new(format!("{prefix} error: {e}")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn trimmed(bytes: &[u8]) -> Value {
    Value::str(String::from_utf8_lossy(bytes).trim_end())
}

/// `{stdout, stderr, status, ok}` of a finished process.
fn result_object(out: &Output) -> Value {
    let status = out.status.code().unwrap_or(-1);
    let mut m = map_with_capacity(4);
    m.insert(Key::new("stdout"), trimmed(&out.stdout));
    m.insert(Key::new("stderr"), trimmed(&out.stderr));
    m.insert(Key::new("status"), Value::int(i64::from(status)));
    m.insert(Key::new("ok"), Value::bool(status == 0));
    Value::object(m)
}

fn sh(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "sh")?;
    let out = run(sh_command(cmd), "sh")?;
    Ok(trimmed(&out.stdout))
}

fn shell(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "shell")?;
    let out = run(sh_command(cmd), "shell")?;
    Ok(result_object(&out))
}

fn sh_lines(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "sh_lines")?;
    let out = run(sh_command(cmd), "sh_lines")?;
    let stdout = text(&out.stdout);
    let lines = stdout.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !l.is_empty());
    Ok(Value::array(lines.map(Value::str).collect()))
}

fn sh_json(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "sh_json")?;
    let out = run(sh_command(cmd), "sh_json")?;
    let stdout = text(&out.stdout);
    match serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        Ok(doc) => Ok(crate::stdlib::json::from_json(&doc)),
        Err(e) => fail(format!("sh_json parse error: {e}")),
    }
}

fn sh_ok(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "sh_ok")?;
    crate::output::flush();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::new(format!("sh_ok error: {e}")))?;
    Ok(Value::bool(status.code() == Some(0)))
}

/// `pipe_to(data, cmd)`: feeds `data` to the command's stdin (from a helper thread,
/// so a command that writes a lot before reading cannot deadlock), then as `shell`.
fn pipe_to(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(data), Some(cmd)) = (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_str)) else {
        return fail("pipe_to() requires (data_string, command_string)");
    };
    crate::output::flush();
    let mut c = sh_command(cmd);
    c.stdin(Stdio::piped());
    let mut child = c.spawn().map_err(|e| Error::new(format!("pipe_to error: {e}")))?;
    let writer = child.stdin.take().map(|mut stdin| {
        let data = data.to_owned();
        // A command that exits without reading closes the pipe; that is not an error.
        std::thread::spawn(move || {
            let _ = stdin.write_all(data.as_bytes());
        })
    });
    let out = child.wait_with_output().map_err(|e| Error::new(format!("pipe_to error: {e}")))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ok(result_object(&out))
}

/// `run_command(cmd)`: no shell; whitespace-separated words, the first is the program.
fn run_command(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let cmd = command_arg(args, "run_command")?;
    let mut words = cmd.split_whitespace();
    let Some(program) = words.next() else {
        return fail("run_command() requires a non-empty command");
    };
    let mut c = Command::new(program);
    c.args(words).stdin(Stdio::inherit()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run(c, "command")?;
    Ok(result_object(&out))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `which(name)`: the first executable file `DIR/name` over the directories of PATH
/// (an empty entry is the current directory), printed as `/usr/bin/which` does; a
/// name containing `/` is checked as given.
fn which(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(name) = args.first().and_then(Value::as_str) else {
        return fail("which() requires a command name");
    };
    if name.is_empty() {
        return Ok(Value::NULL);
    }
    if name.contains('/') {
        return Ok(if is_executable(std::path::Path::new(name)) { Value::str(name) } else { Value::NULL });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in path.to_string_lossy().split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{dir}/{name}");
        if is_executable(std::path::Path::new(&candidate)) {
            return Ok(Value::string(candidate));
        }
    }
    Ok(Value::NULL)
}

fn cwd(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    match std::env::current_dir() {
        Ok(p) => Ok(Value::string(p.to_string_lossy().into_owned())),
        Err(e) => fail(format!("cwd error: {e}")),
    }
}

fn cd(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(path) = args.first().filter(|v| v.is_str()) else {
        return fail("cd() requires a path string");
    };
    match std::env::set_current_dir(path.as_str().unwrap_or("")) {
        Ok(()) => Ok(path.clone()),
        Err(e) => fail(format!("cd error: {e}")),
    }
}

/// `exit(code)`: ends the program with `code` modulo 256 (as the OS reports it); a
/// missing or non-Int code is 0.
fn exit(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let code = args.first().and_then(Value::as_int).unwrap_or(0);
    crate::output::flush();
    Err(Error::exit(code.rem_euclid(256) as i32))
}

/// `input()`: all of stdin up to end-of-file, without trailing whitespace.
fn input(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    crate::output::flush();
    let mut buf = Vec::new();
    // A read error ends the input; whatever was read so far is the result.
    let _ = std::io::stdin().lock().read_to_end(&mut buf);
    Ok(trimmed(&buf))
}

#[cfg(test)]
mod tests {
    use crate::builtins::arrays::testing::{call, call_err, i, s, show, try_call};
    use crate::value::Value;

    #[test]
    fn sh_family() {
        assert_eq!(show(call("sh", &[s("echo hello; echo world")])), "hello\nworld");
        assert_eq!(show(call("sh", &[s("printf 'x  \\n\\n'; exit 3")])), "x");
        assert_eq!(
            show(call("shell", &[s("echo out; echo err >&2; exit 2")])),
            r#"{ "stdout": "out", "stderr": "err", "status": 2, "ok": false }"#
        );
        assert_eq!(
            show(call("shell", &[s("kill -9 $$")])),
            r#"{ "stdout": "", "stderr": "", "status": -1, "ok": false }"#
        );
        assert_eq!(show(call("sh_lines", &[s("printf 'a\\n\\nb\\r\\n \\n'")])), "[a, b,  ]");
        assert_eq!(show(call("sh_ok", &[s("true")])), "true");
        assert_eq!(show(call("sh_ok", &[s("echo x; false")])), "false");
        for name in ["sh", "shell", "sh_lines", "sh_json", "sh_ok"] {
            assert_eq!(call_err(name, &[i(1)]), format!("{name}() requires a command string"));
        }
    }

    #[test]
    fn sh_json_maps_values() {
        let v = call("sh_json", &[s(r#"echo '{"z": 1, "a": [2.5, -0, 1e2, 12345678901234567890, null, true, "s"]}'"#)]);
        assert_eq!(show(v), r#"{ "z": 1, "a": [2.5, -0, 100, 12345678901234567000, null, true, "s"] }"#);
        let v = call("sh_json", &[s(r#"echo '{"k": 1, "j": 2, "k": 3}'"#)]);
        assert_eq!(show(v), r#"{ "k": 3, "j": 2 }"#);
        assert_eq!(
            call_err("sh_json", &[s("echo '{x'")]),
            "sh_json parse error: key must be a string at line 1 column 2"
        );
        assert_eq!(call_err("sh_json", &[s("echo nope")]), "sh_json parse error: expected ident at line 1 column 2");
    }

    #[test]
    fn pipe_and_run_command() {
        assert_eq!(
            show(call("pipe_to", &[s("banana\napple"), s("sort")]).as_object().unwrap()["stdout"].clone()),
            "apple\nbanana"
        );
        let big = "x".repeat(1 << 20);
        let r = call("pipe_to", &[s(&big), s("wc -c")]);
        assert_eq!(show(r.as_object().unwrap()["stdout"].clone()).trim(), "1048576");
        assert_eq!(call("pipe_to", &[s(&big), s("true")]).as_object().unwrap()["ok"].as_bool(), Some(true));
        assert_eq!(call_err("pipe_to", &[s("sort"), i(1)]), "pipe_to() requires (data_string, command_string)");
        assert_eq!(
            show(call("run_command", &[s("echo  hello   world")])),
            r#"{ "stdout": "hello world", "stderr": "", "status": 0, "ok": true }"#
        );
        assert_eq!(call_err("run_command", &[s("   ")]), "run_command() requires a non-empty command");
        assert_eq!(call_err("run_command", &[Value::NULL]), "run_command() requires a command string");
        assert_eq!(
            call_err("run_command", &[s("/no/such/program-xyz")]),
            "command error: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn which_cwd_cd() {
        assert!(show(call("which", &[s("sh")])).ends_with("/sh"));
        assert_eq!(show(call("which", &[s("no-such-program-xyz")])), "null");
        assert_eq!(show(call("which", &[s("/bin/sh")])), "/bin/sh");
        assert_eq!(call_err("which", &[i(1)]), "which() requires a command name");
        let here = call("cwd", &[]);
        assert!(here.as_str().unwrap().starts_with('/'));
        assert_eq!(call_err("cd", &[i(1)]), "cd() requires a path string");
        assert_eq!(call_err("cd", &[s("/no/such/dir-xyz")]), "cd error: No such file or directory (os error 2)");
        // Changing the directory of the test process would disturb other tests, so
        // only the failure path and a no-op change are exercised.
        assert_eq!(show(call("cd", std::slice::from_ref(&here))), show(here));
    }

    #[test]
    fn exit_codes() {
        let code = |args: &[Value]| try_call("exit", args).unwrap_err().is_exit();
        assert_eq!(code(&[i(3)]), Some(3));
        assert_eq!(code(&[]), Some(0));
        assert_eq!(code(&[s("4")]), Some(0));
        assert_eq!(code(&[i(256 + 7)]), Some(7));
        assert_eq!(code(&[i(-1)]), Some(255));
        assert!(!try_call("exit", &[i(1)]).unwrap_err().is_catchable());
    }
}
