//! The `fs` module (spec 11 §11.2): reading and writing files, directories and pure
//! path helpers.
//!
//! Paths are Strings relative to the current directory. Operating-system failures
//! become `fs.NAME error: OSMSG`, where OSMSG is the system's text plus
//! ` (os error N)`, exactly as the spec words it. Writes that replace a whole file
//! (`write`, `write_json`, `copy`) go through a temporary file in the same directory
//! that is then renamed over the target, so a reader never sees a half-written file.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::builtins::Registry;
use crate::error::{fail, Error, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("fs", "read", read);
    r.module("fs", "write", write);
    r.module("fs", "append", append);
    r.module("fs", "exists", exists);
    r.module("fs", "list", list);
    r.module("fs", "remove", remove);
    r.module("fs", "mkdir", mkdir);
    r.module("fs", "copy", copy);
    r.module("fs", "rename", rename);
    r.module("fs", "size", size);
    r.module("fs", "ext", ext);
    r.module("fs", "read_json", read_json);
    r.module("fs", "write_json", write_json);
    r.module("fs", "lines", lines);
    r.module("fs", "dirname", dirname);
    r.module("fs", "basename", basename);
    r.module("fs", "join_path", join_path);
    r.module("fs", "is_dir", is_dir);
    r.module("fs", "is_file", is_file);
    r.module("fs", "temp_dir", temp_dir);
}

/// Argument `i` when it is a String.
fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

/// The path in the first argument, or the error `fs.NAME() requires a file path string`.
fn file_path<'a>(args: &'a [Value], name: &str) -> Result<&'a str> {
    match str_arg(args, 0) {
        Some(p) => Ok(p),
        None => fail(format!("fs.{name}() requires a file path string")),
    }
}

/// The path in the first argument for the pure helpers (`fs.NAME() requires a path string`).
fn any_path<'a>(args: &'a [Value], name: &str) -> Result<&'a str> {
    match str_arg(args, 0) {
        Some(p) => Ok(p),
        None => fail(format!("fs.{name}() requires a path string")),
    }
}

/// Two String arguments, or the error `msg`.
fn two_strs<'a>(args: &'a [Value], msg: &str) -> Result<(&'a str, &'a str)> {
    match (str_arg(args, 0), str_arg(args, 1)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => fail(msg),
    }
}

/// `fs.NAME error: OSMSG`.
fn os_error(name: &str, e: io::Error) -> Error {
    Error::new(format!("fs.{name} error: {e}"))
}

// ---------------------------------------------------------------------------------
// Atomic replacement
// ---------------------------------------------------------------------------------

/// Distinguishes the temporary files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where an atomic write of `path` really lands: the final target of a symlink (so the
/// link itself survives), otherwise the path as given. `None` for a dangling symlink,
/// which only a direct write resolves (by creating the file it points to).
fn write_target(path: &Path) -> Option<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).ok(),
        _ => Some(path.to_path_buf()),
    }
}

/// A new, uniquely named temporary file next to `target`.
fn create_temp(target: &Path) -> io::Result<(PathBuf, File)> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Keep the name well under the usual 255-byte limit of a file name.
    let short: String = base.chars().take(100).collect();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{short}.{}.{n}.forge-tmp", std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    Ok((tmp, file))
}

/// Replaces the file at `path` with what `fill` writes, atomically when possible: the
/// content goes to a temporary file in the same directory, which then takes the
/// target's permissions (or those of `mode_from`) and is renamed over it. Targets
/// that are not regular files (devices, FIFOs, directories) and directories where no
/// temporary file can be created are written directly, so the OS reports the real
/// error. Returns what `fill` returned.
fn replace_file<T>(
    path: &Path,
    mode_from: Option<&Metadata>,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    let resolved = write_target(path);
    let target = resolved.clone().unwrap_or_else(|| path.to_path_buf());
    let existing = fs::metadata(&target).ok();
    let direct = resolved.is_none() || existing.as_ref().is_some_and(|m| !m.is_file());
    let temp = if direct { None } else { create_temp(&target).ok() };
    let Some((tmp, mut file)) = temp else {
        let mut file = File::create(&target)?;
        let out = fill(&mut file)?;
        if let Some(m) = mode_from {
            let _ = file.set_permissions(m.permissions());
        }
        return Ok(out);
    };
    let finish = |file: &mut File| -> io::Result<T> {
        let out = fill(file)?;
        if let Some(m) = mode_from.or(existing.as_ref()) {
            file.set_permissions(m.permissions())?;
        }
        if let Some(m) = &existing {
            use std::os::unix::fs::MetadataExt;
            // Keeping the owner needs privileges; without them the new owner stays.
            let _ = std::os::unix::fs::fchown(&*file, Some(m.uid()), Some(m.gid()));
        }
        Ok(out)
    };
    let result = finish(&mut file).and_then(|out| {
        drop(file);
        fs::rename(&tmp, &target).map(|()| out)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

// ---------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------

fn read(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "read")?;
    fs::read_to_string(path).map(Value::string).map_err(|e| os_error("read", e))
}

fn write(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (path, text) = two_strs(args, "fs.write() requires (path, content) strings")?;
    replace_file(Path::new(path), None, |f| f.write_all(text.as_bytes())).map_err(|e| os_error("write", e))?;
    Ok(Value::NULL)
}

fn append(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (path, text) = two_strs(args, "fs.append() requires (path, content) strings")?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| os_error("append", e))?;
    Ok(Value::NULL)
}

fn exists(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "exists")?;
    Ok(Value::bool(Path::new(path).exists()))
}

fn list(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(dir) = str_arg(args, 0) else {
        return fail("fs.list() requires a directory path string");
    };
    let entries = fs::read_dir(dir).map_err(|e| os_error("list", e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| os_error("list", e))?;
        names.push(Value::string(entry.file_name().to_string_lossy().into_owned()));
    }
    Ok(Value::array(names))
}

/// Deletes a file, or a directory with everything in it. A symlink is removed itself,
/// never followed.
fn remove(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "remove")?;
    let meta = fs::symlink_metadata(path).map_err(|e| os_error("remove", e))?;
    let done = if meta.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
    done.map_err(|e| os_error("remove", e))?;
    Ok(Value::NULL)
}

fn mkdir(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(dir) = str_arg(args, 0) else {
        return fail("fs.mkdir() requires a directory path string");
    };
    fs::create_dir_all(dir).map_err(|e| os_error("mkdir", e))?;
    Ok(Value::NULL)
}

/// Copies a file's bytes and permissions, replacing the destination atomically.
fn copy(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (src, dst) = two_strs(args, "fs.copy() requires (source, destination) strings")?;
    let mut from = File::open(src).map_err(|e| os_error("copy", e))?;
    let meta = from.metadata().map_err(|e| os_error("copy", e))?;
    if meta.is_dir() {
        return Err(os_error("copy", io::Error::from_raw_os_error(21)));
    }
    let n = replace_file(Path::new(dst), Some(&meta), |f| io::copy(&mut from, f)).map_err(|e| os_error("copy", e))?;
    Ok(Value::int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn rename(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (old, new) = two_strs(args, "fs.rename() requires (old_path, new_path) strings")?;
    fs::rename(old, new).map_err(|e| os_error("rename", e))?;
    Ok(Value::NULL)
}

fn size(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "size")?;
    let meta = fs::metadata(path).map_err(|e| os_error("size", e))?;
    Ok(Value::int(i64::try_from(meta.len()).unwrap_or(i64::MAX)))
}

fn ext(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "ext")?;
    let e = Path::new(path).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Value::string(e))
}

fn read_json(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "read_json")?;
    let text = fs::read_to_string(path).map_err(|e| os_error("read_json", e))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(doc) => Ok(crate::stdlib::json::from_json(&doc)),
        Err(e) => fail(format!("fs.read_json parse error: {e}")),
    }
}

fn write_json(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(path), Some(value)) = (str_arg(args, 0), args.get(1)) else {
        return fail("fs.write_json() requires (path, value)");
    };
    let text = crate::stdlib::json::pretty_value(value, 2);
    replace_file(Path::new(path), None, |f| f.write_all(text.as_bytes())).map_err(|e| os_error("write_json", e))?;
    Ok(Value::NULL)
}

fn lines(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = file_path(args, "lines")?;
    let text = fs::read_to_string(path).map_err(|e| os_error("lines", e))?;
    let items = text.split_terminator('\n').map(|l| Value::str(l.strip_suffix('\r').unwrap_or(l)));
    Ok(Value::array(items.collect()))
}

// ---------------------------------------------------------------------------------
// Pure path helpers
// ---------------------------------------------------------------------------------

fn dirname(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = any_path(args, "dirname")?;
    let parent = Path::new(path).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Value::string(parent))
}

fn basename(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = any_path(args, "basename")?;
    let name = Path::new(path).file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Value::string(name))
}

fn join_path(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (a, b) = two_strs(args, "fs.join_path() requires two path strings")?;
    Ok(Value::string(Path::new(a).join(b).to_string_lossy().into_owned()))
}

fn is_dir(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = any_path(args, "is_dir")?;
    Ok(Value::bool(Path::new(path).is_dir()))
}

fn is_file(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let path = any_path(args, "is_file")?;
    Ok(Value::bool(Path::new(path).is_file()))
}

fn temp_dir(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(std::env::temp_dir().to_string_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, j, s, show};
    use crate::builtins::BuiltinFn;

    fn run(f: BuiltinFn, args: &[Value]) -> Result<Value> {
        f(&mut host(), args)
    }

    fn ok(f: BuiltinFn, args: &[Value]) -> String {
        show(run(f, args).unwrap_or_else(|e| panic!("failed: {}", e.message())))
    }

    fn err(f: BuiltinFn, args: &[Value]) -> String {
        match run(f, args) {
            Ok(v) => panic!("succeeded with {}", show(v)),
            Err(e) => e.message().to_string(),
        }
    }

    /// A fresh scratch directory for one test.
    fn scratch(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("forge-fs-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.to_string_lossy().into_owned()
    }

    #[test]
    fn spec_example() {
        let d = scratch("spec");
        let a = s(&format!("{d}/a.txt"));
        let b = s(&format!("{d}/b.txt"));
        assert_eq!(ok(write, &[a.clone(), s("hello\nworld\n")]), "null");
        assert_eq!(ok(append, &[a.clone(), s("more")]), "null");
        assert_eq!(ok(lines, std::slice::from_ref(&a)), "[hello, world, more]");
        assert_eq!(ok(size, std::slice::from_ref(&a)), "16");
        assert_eq!(ok(copy, &[a.clone(), b.clone()]), "16");
        assert_eq!(ok(read, std::slice::from_ref(&b)), "hello\nworld\nmore");
        assert_eq!(ok(remove, std::slice::from_ref(&a)), "null");
        assert_eq!(ok(exists, std::slice::from_ref(&a)), "false");
        assert_eq!(err(read, std::slice::from_ref(&a)), "fs.read error: No such file or directory (os error 2)");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn conformance_dirs_listing() {
        let root = scratch("dirs");
        ok(mkdir, &[s(&format!("{root}/t/sub/deeper"))]);
        ok(write, &[s(&format!("{root}/t/b.txt")), s("b")]);
        ok(write, &[s(&format!("{root}/t/a.txt")), s("a")]);
        ok(write, &[s(&format!("{root}/t/sub/c.txt")), s("c")]);
        let listed = run(list, &[s(&format!("{root}/t"))]).unwrap();
        let mut names: Vec<String> = listed.as_array().unwrap().iter().map(|v| show(v.clone())).collect();
        names.sort();
        assert_eq!(names, ["a.txt", "b.txt", "sub"]);
        assert_eq!(ok(list, &[s(&format!("{root}/t/sub/deeper"))]), "[]");
        assert_eq!(ok(is_dir, &[s(&format!("{root}/t/sub"))]), "true");
        assert_eq!(ok(is_file, &[s(&format!("{root}/t/sub"))]), "false");
        assert_eq!(ok(mkdir, &[s(&format!("{root}/t"))]), "null");
        assert_eq!(ok(remove, &[s(&format!("{root}/t"))]), "null");
        assert_eq!(ok(exists, &[s(&format!("{root}/t"))]), "false");
        assert_eq!(ok(exists, &[s(&format!("{root}/t/a.txt"))]), "false");
        assert_eq!(err(remove, &[s(&format!("{root}/t"))]), "fs.remove error: No such file or directory (os error 2)");
        assert_eq!(err(list, &[s(&format!("{root}/t"))]), "fs.list error: No such file or directory (os error 2)");
        // A file in the way of mkdir is an error.
        ok(write, &[s(&format!("{root}/f")), s("")]);
        assert_eq!(err(mkdir, &[s(&format!("{root}/f"))]), "fs.mkdir error: File exists (os error 17)");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn conformance_read_write() {
        let dir = scratch("rw");
        let path = s(&format!("{dir}/notes.txt"));
        ok(write, &[path.clone(), s("hello\nworld\n")]);
        ok(append, &[path.clone(), s("more")]);
        assert_eq!(ok(read, std::slice::from_ref(&path)), "hello\nworld\nmore");
        assert_eq!(ok(lines, std::slice::from_ref(&path)), "[hello, world, more]");
        assert_eq!(ok(size, std::slice::from_ref(&path)), "16");
        assert_eq!(ok(is_file, std::slice::from_ref(&path)), "true");
        ok(write, &[path.clone(), s("replaced")]);
        assert_eq!(ok(read, std::slice::from_ref(&path)), "replaced");
        // The atomic replacement leaves no temporary file behind.
        assert_eq!(ok(list, &[s(&dir)]), "[notes.txt]");
        fs::write(format!("{dir}/crlf.txt"), "a\r\nb\r\n\r\nc").unwrap();
        assert_eq!(ok(lines, &[s(&format!("{dir}/crlf.txt"))]), "[a, b, , c]");
        fs::write(format!("{dir}/bad.txt"), b"\xff\xfe").unwrap();
        assert_eq!(err(read, &[s(&format!("{dir}/bad.txt"))]), "fs.read error: stream did not contain valid UTF-8");
        assert_eq!(err(lines, &[s(&format!("{dir}/bad.txt"))]), "fs.lines error: stream did not contain valid UTF-8");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_keeps_mode_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("atomic");
        let target = format!("{dir}/target.sh");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o750)).unwrap();
        ok(write, &[s(&target), s("new")]);
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o750);
        let link = format!("{dir}/link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        ok(write, &[s(&link), s("through link")]);
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "through link");
        // Writing into a directory that does not exist reports the OS error.
        assert_eq!(
            err(write, &[s(&format!("{dir}/nope/x.txt")), s("x")]),
            "fs.write error: No such file or directory (os error 2)"
        );
        assert_eq!(err(write, &[s(&dir), s("x")]), "fs.write error: Is a directory (os error 21)");
        assert_eq!(
            err(write_json, &[s(&format!("{dir}/nope/x.json")), i(1)]),
            "fs.write_json error: No such file or directory (os error 2)"
        );
        // Copy keeps the source's permissions and replaces the destination.
        let dst = format!("{dir}/copy.sh");
        fs::write(&dst, "previous content that is longer").unwrap();
        assert_eq!(ok(copy, &[s(&target), s(&dst)]), "12");
        assert_eq!(fs::read_to_string(&dst).unwrap(), "through link");
        assert_eq!(fs::metadata(&dst).unwrap().permissions().mode() & 0o777, 0o750);
        assert_eq!(
            err(copy, &[s(&format!("{dir}/missing")), s(&dst)]),
            "fs.copy error: No such file or directory (os error 2)"
        );
        assert_eq!(err(copy, &[s(&dir), s(&dst)]), "fs.copy error: Is a directory (os error 21)");
        // Special files are written in place, never replaced.
        ok(write, &[s("/dev/null"), s("discarded")]);
        assert!(!fs::metadata("/dev/null").unwrap().file_type().is_file());
        let names = run(list, &[s(&dir)]).unwrap();
        assert_eq!(names.as_array().unwrap().len(), 3, "no temporary files left: {}", show(names.clone()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rename_and_size() {
        let dir = scratch("rename");
        let a = format!("{dir}/a");
        ok(write, &[s(&a), s("12345")]);
        ok(rename, &[s(&a), s(&format!("{dir}/b"))]);
        assert_eq!(ok(exists, &[s(&a)]), "false");
        assert_eq!(ok(size, &[s(&format!("{dir}/b"))]), "5");
        assert_eq!(
            err(rename, &[s(&a), s(&format!("{dir}/c"))]),
            "fs.rename error: No such file or directory (os error 2)"
        );
        assert_eq!(err(size, &[s(&a)]), "fs.size error: No such file or directory (os error 2)");
        assert_eq!(ok(size, &[s(&dir)]), show(i(fs::metadata(&dir).unwrap().len() as i64)));
        // Appending creates the file.
        ok(append, &[s(&a), s("x")]);
        assert_eq!(ok(read, &[s(&a)]), "x");
        assert_eq!(
            err(append, &[s(&format!("{dir}/no/such")), s("x")]),
            "fs.append error: No such file or directory (os error 2)"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn conformance_json_files() {
        let dir = scratch("json");
        let f = s(&format!("{dir}/fs_json_test.json"));
        let v = j(r#"{"alpha": 1, "beta": [true, null], "gamma": {"delta": "x"}}"#);
        ok(write_json, &[f.clone(), v]);
        assert_eq!(
            ok(read, std::slice::from_ref(&f)),
            "{\n  \"alpha\": 1,\n  \"beta\": [\n    true,\n    null\n  ],\n  \"gamma\": {\n    \"delta\": \"x\"\n  }\n}"
        );
        let back = run(read_json, std::slice::from_ref(&f)).unwrap();
        assert_eq!(show(back.as_object().unwrap()["beta"].clone()), "[true, null]");
        ok(write, &[f.clone(), s("[1, 2, 3]")]);
        assert_eq!(ok(read_json, std::slice::from_ref(&f)), "[1, 2, 3]");
        ok(write, &[f.clone(), s(r#"{"z": 1, "a": 2}"#)]);
        assert_eq!(ok(read_json, std::slice::from_ref(&f)), r#"{ "z": 1, "a": 2 }"#);
        ok(write, &[f.clone(), s("{x")]);
        assert_eq!(
            err(read_json, std::slice::from_ref(&f)),
            "fs.read_json parse error: key must be a string at line 1 column 2"
        );
        assert_eq!(
            err(read_json, &[s(&format!("{dir}/none.json"))]),
            "fs.read_json error: No such file or directory (os error 2)"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_text_format() {
        // fs.write_json writes json.pretty's text.
        let text = |v: Value| crate::stdlib::json::pretty_value(&v, 2);
        assert_eq!(
            text(j(r#"{"a": 1, "list": [1, {"b": []}], "e": {}}"#)),
            "{\n  \"a\": 1,\n  \"list\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"e\": {}\n}"
        );
        assert_eq!(text(s("a\"b\\c\nd\te\u{1}")), r#""a\"b\\c\nd\te\u0001""#);
        assert_eq!(text(Value::float(2.5)), "2.5");
        assert_eq!(text(Value::float(1.0)), "1");
        assert_eq!(text(Value::float(f64::INFINITY)), "null");
        assert_eq!(text(Value::ok(i(1))), "null");
        assert_eq!(text(Value::NONE), "null");
        assert_eq!(text(Value::NULL), "null");
        assert_eq!(text(Value::FALSE), "false");
    }

    #[test]
    fn conformance_paths() {
        assert_eq!(ok(ext, &[s("photo.jpg")]), "jpg");
        assert_eq!(ok(ext, &[s("archive.tar.gz")]), "gz");
        assert_eq!(ok(ext, &[s("Makefile")]), "");
        assert_eq!(ok(ext, &[s(".bashrc")]), "");
        assert_eq!(ok(ext, &[s("a.")]), "");
        assert_eq!(ok(dirname, &[s("/data/app/file.txt")]), "/data/app");
        assert_eq!(ok(dirname, &[s("/home/user/")]), "/home");
        assert_eq!(ok(dirname, &[s("file.txt")]), "");
        assert_eq!(ok(dirname, &[s("/")]), "");
        assert_eq!(ok(basename, &[s("/data/app/file.txt")]), "file.txt");
        assert_eq!(ok(basename, &[s("/data/app/")]), "app");
        assert_eq!(ok(basename, &[s("/")]), "");
        assert_eq!(ok(basename, &[s("..")]), "");
        assert_eq!(ok(join_path, &[s("a"), s("b")]), "a/b");
        assert_eq!(ok(join_path, &[s("a/"), s("b")]), "a/b");
        assert_eq!(ok(join_path, &[s("a"), s("/abs")]), "/abs");
        assert_eq!(ok(join_path, &[s(""), s("b")]), "b");
        assert_eq!(ok(join_path, &[s("x/y"), s("z.fg")]), "x/y/z.fg");
        assert_eq!(ok(is_dir, &[s("/no/such/thing")]), "false");
        assert_eq!(ok(is_file, &[s("/no/such/thing")]), "false");
        let tmp = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".to_string());
        assert_eq!(ok(temp_dir, &[]), tmp);
    }

    #[test]
    fn dangling_symlink_does_not_exist() {
        let dir = scratch("dangling");
        let link = format!("{dir}/link");
        std::os::unix::fs::symlink(format!("{dir}/missing"), &link).unwrap();
        assert_eq!(ok(exists, &[s(&link)]), "false");
        // Writing through a dangling link creates the file it points to.
        ok(write, &[s(&link), s("made")]);
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(format!("{dir}/missing")).unwrap(), "made");
        fs::remove_file(format!("{dir}/missing")).unwrap();
        assert_eq!(ok(remove, &[s(&link)]), "null");
        assert!(fs::symlink_metadata(&link).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn argument_errors() {
        for (f, name) in [
            (read as BuiltinFn, "read"),
            (exists, "exists"),
            (remove, "remove"),
            (size, "size"),
            (ext, "ext"),
            (read_json, "read_json"),
            (lines, "lines"),
        ] {
            assert_eq!(err(f, &[i(1)]), format!("fs.{name}() requires a file path string"));
            assert_eq!(err(f, &[]), format!("fs.{name}() requires a file path string"));
        }
        for (f, name) in
            [(dirname as BuiltinFn, "dirname"), (basename, "basename"), (is_dir, "is_dir"), (is_file, "is_file")]
        {
            assert_eq!(err(f, &[Value::NULL]), format!("fs.{name}() requires a path string"));
        }
        assert_eq!(err(list, &[]), "fs.list() requires a directory path string");
        assert_eq!(err(mkdir, &[i(3)]), "fs.mkdir() requires a directory path string");
        assert_eq!(err(write, &[s("x"), i(1)]), "fs.write() requires (path, content) strings");
        assert_eq!(err(append, &[s("x")]), "fs.append() requires (path, content) strings");
        assert_eq!(err(copy, &[s("x")]), "fs.copy() requires (source, destination) strings");
        assert_eq!(err(rename, &[i(1), s("x")]), "fs.rename() requires (old_path, new_path) strings");
        assert_eq!(err(write_json, &[s("x")]), "fs.write_json() requires (path, value)");
        assert_eq!(err(write_json, &[i(1), i(1)]), "fs.write_json() requires (path, value)");
        assert_eq!(err(join_path, &[s("a")]), "fs.join_path() requires two path strings");
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("fs");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "read",
                "write",
                "append",
                "exists",
                "list",
                "remove",
                "mkdir",
                "copy",
                "rename",
                "size",
                "ext",
                "read_json",
                "write_json",
                "lines",
                "dirname",
                "basename",
                "join_path",
                "is_dir",
                "is_file",
                "temp_dir"
            ]
        );
    }
}
