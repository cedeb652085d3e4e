//! The `env` module (spec 11 §11.8): the process environment, and dotenv files read
//! with `dotenvy` (which never overrides variables that are already set).

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("env", "get", get);
    r.module("env", "set", set);
    r.module("env", "has", has);
    r.module("env", "keys", keys);
    r.module("env", "all", all);
    r.module("env", "load", load);
}

/// The variable `key`, with non-UTF-8 bytes replaced by U+FFFD. A key the OS cannot
/// hold (empty, or with `=` or NUL) is simply unset.
fn lookup(key: &str) -> Option<String> {
    if key.is_empty() || key.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
}

fn get(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(key) = args.first().and_then(Value::as_str) else {
        return fail("env.get() requires a string key");
    };
    Ok(match lookup(key) {
        Some(v) => Value::string(v),
        None => args.get(1).filter(|d| d.as_str().is_some()).cloned().unwrap_or(Value::NULL),
    })
}

fn set(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(key), Some(value)) = (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_str)) else {
        return fail("env.set() requires (key, value) strings");
    };
    // `set_var` panics on these inputs, so they are rejected first.
    if key.is_empty() || key.contains(['=', '\0']) {
        return fail(format!("env.set() error: invalid variable name '{key}'"));
    }
    if value.contains('\0') {
        return fail("env.set() error: the value contains a NUL character");
    }
    std::env::set_var(key, value);
    Ok(Value::NULL)
}

fn has(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(key) => Ok(Value::bool(lookup(key).is_some())),
        None => fail("env.has() requires a string key"),
    }
}

/// All variables as (name, value) text pairs, in the OS order.
fn vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
}

fn keys(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::array(vars().map(|(k, _)| Value::string(k)).collect()))
}

fn all(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let pairs: Vec<(String, String)> = vars().collect();
    let mut m = map_with_capacity(pairs.len());
    for (k, v) in pairs {
        m.insert(Key::new(&k), Value::string(v));
    }
    Ok(Value::object(m))
}

/// `load(path?)`: reads a dotenv file (searched from the current directory upwards,
/// as dotenvy does) without overriding set variables. The default `.env` may be
/// missing (→ `false`); an explicit path must load.
fn load(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_str) {
        Some(path) => match dotenvy::from_filename(path) {
            Ok(_) => Ok(Value::TRUE),
            Err(e) => fail(format!("env.load() error: {e}")),
        },
        None => Ok(Value::bool(dotenvy::from_filename(".env").is_ok())),
    }
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{call, call_err, field, i, keys_of, s, say};
    use crate::value::Value;

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("env")), ["get", "set", "has", "keys", "all", "load"]);
    }

    #[test]
    fn get_set_has() {
        assert_eq!(say("env", "set", &[s("FORGE_STDLIB_TEST_A"), s("value 1")]), "null");
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_TEST_A")]), "value 1");
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_TEST_A"), s("fallback")]), "value 1");
        assert_eq!(say("env", "has", &[s("FORGE_STDLIB_TEST_A")]), "true");
        assert_eq!(say("env", "has", &[s("FORGE_STDLIB_SURELY_UNSET")]), "false");
        assert!(call("env", "get", &[s("FORGE_STDLIB_SURELY_UNSET")]).is_null());
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_SURELY_UNSET"), s("fallback")]), "fallback");
        assert!(call("env", "get", &[s("FORGE_STDLIB_SURELY_UNSET"), i(5)]).is_null());
        assert!(call("env", "get", &[s("")]).is_null());
        assert_eq!(say("env", "has", &[s("A=B")]), "false");
        let ks = call("env", "keys", &[]);
        assert!(ks.as_array().unwrap().iter().any(|k| k.as_str() == Some("FORGE_STDLIB_TEST_A")));
        assert_eq!(
            say("env", "get", &[s("FORGE_STDLIB_TEST_A")]),
            crate::display::display(&field(&call("env", "all", &[]), "FORGE_STDLIB_TEST_A"))
        );
    }

    #[test]
    fn errors() {
        assert_eq!(call_err("env", "get", &[i(1)]), "env.get() requires a string key");
        assert_eq!(call_err("env", "has", &[]), "env.has() requires a string key");
        assert_eq!(call_err("env", "set", &[s("K")]), "env.set() requires (key, value) strings");
        assert_eq!(call_err("env", "set", &[s("K"), i(1)]), "env.set() requires (key, value) strings");
        assert_eq!(call_err("env", "set", &[s(""), s("v")]), "env.set() error: invalid variable name ''");
        assert_eq!(call_err("env", "set", &[s("A=B"), s("v")]), "env.set() error: invalid variable name 'A=B'");
        assert_eq!(call_err("env", "set", &[s("K"), s("a\0b")]), "env.set() error: the value contains a NUL character");
    }

    #[test]
    fn load_dotenv() {
        let dir = std::env::temp_dir().join(format!("forge_env_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.env");
        std::env::set_var("FORGE_STDLIB_TEST_KEEP", "old");
        std::fs::write(
            &path,
            "# comment\nFORGE_STDLIB_TEST_B=plain\nexport FORGE_STDLIB_TEST_C=\"quoted value\"\nFORGE_STDLIB_TEST_KEEP=new\n",
        )
        .unwrap();
        let p = s(path.to_str().unwrap());
        assert_eq!(say("env", "load", &[p]), "true");
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_TEST_B")]), "plain");
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_TEST_C")]), "quoted value");
        assert_eq!(say("env", "get", &[s("FORGE_STDLIB_TEST_KEEP")]), "old");
        let missing = dir.join("nope").join("missing.env");
        assert_eq!(call_err("env", "load", &[s(missing.to_str().unwrap())]), "env.load() error: path not found");
        std::fs::write(&path, "BAD LINE HERE\n").unwrap();
        assert!(
            call_err("env", "load", &[s(path.to_str().unwrap())]).starts_with("env.load() error: Error parsing line")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(crate::ops::type_name(&call("env", "load", &[Value::NULL])), "Bool");
    }
}
