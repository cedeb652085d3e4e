//! The standard-library modules of spec 11 (`math`, `json`, …). Each file registers its
//! module's members, in the order `keys(module)` lists them.

use crate::builtins::Registry;

pub mod crypto;
pub mod csv;
pub mod db;
pub mod env;
pub mod fs;
pub mod http;
pub mod io;
pub mod json;
pub mod jwt;
pub mod log;
pub mod math;
pub mod mysql;
pub mod npc;
pub mod pg;
pub mod regex;
pub mod term;
pub mod time;
pub mod toml;
pub mod url;
pub mod ws;

/// A module's registration function.
pub type RegisterFn = fn(&mut Registry);

/// Every module with its registration function, in the reference's order. The VM and
/// the JIT register them all; a native executable registers only the modules its
/// program names (`forge_program_modules`), so the linker drops the others.
pub const ALL: &[(&str, RegisterFn)] = &[
    ("math", math::register),
    ("json", json::register),
    ("csv", csv::register),
    ("regex", regex::register),
    ("crypto", crypto::register),
    ("jwt", jwt::register),
    ("url", url::register),
    ("toml", toml::register),
    ("env", env::register),
    ("log", log::register),
    ("fs", fs::register),
    ("io", io::register),
    ("term", term::register),
    ("time", time::register),
    ("npc", npc::register),
    ("db", db::register),
    ("http", http::register),
    ("ws", ws::register),
    ("pg", pg::register),
    ("mysql", mysql::register),
    ("server", crate::server::register),
];

/// Registers every module.
pub fn register(r: &mut Registry) {
    for (_, f) in ALL {
        f(r);
    }
}

/// Test support shared by the module tests: a host that refuses callbacks and a way to
/// call a module member by name.
#[cfg(test)]
pub(crate) mod testing {
    use crate::error::{fail, Result};
    use crate::host::Host;
    use crate::value::{new_map, Key, Value};

    /// A host for builtins that never call back into Forge code.
    pub struct TestHost;

    impl Host for TestHost {
        fn call(&mut self, _callee: &Value, _args: &[Value]) -> Result<Value> {
            fail("the test host cannot call functions")
        }

        fn env(&self) -> Value {
            Value::NULL
        }
    }

    /// The member `name` of module `module` (a function or a constant).
    pub fn member(module: &str, name: &str) -> Value {
        let m = crate::builtins::module_object(module);
        let obj = m.as_object().expect("module object");
        obj.get(name).cloned().unwrap_or_else(|| panic!("no member {module}.{name}"))
    }

    /// Calls `module.name(args…)`.
    pub fn try_call(module: &str, name: &str, args: &[Value]) -> Result<Value> {
        let idx = member(module, name).builtin_index().expect("a builtin");
        crate::builtins::call(idx, &mut TestHost, args)
    }

    /// Calls `module.name(args…)`, panicking on an error.
    pub fn call(module: &str, name: &str, args: &[Value]) -> Value {
        match try_call(module, name, args) {
            Ok(v) => v,
            Err(e) => panic!("{module}.{name} failed: {}", e.message()),
        }
    }

    /// The message of the error raised by `module.name(args…)`.
    pub fn call_err(module: &str, name: &str, args: &[Value]) -> String {
        match try_call(module, name, args) {
            Ok(v) => panic!("{module}.{name} succeeded with {}", show(&v)),
            Err(e) => e.message().to_string(),
        }
    }

    /// The display rendering (what `say` prints).
    pub fn show(v: &Value) -> String {
        crate::display::display(v)
    }

    /// The display rendering of a successful call.
    pub fn say(module: &str, name: &str, args: &[Value]) -> String {
        show(&call(module, name, args))
    }

    /// The `typeof` name of a successful call.
    pub fn type_of(module: &str, name: &str, args: &[Value]) -> &'static str {
        crate::ops::type_name(&call(module, name, args))
    }

    pub fn s(text: &str) -> Value {
        Value::str(text)
    }

    pub fn i(n: i64) -> Value {
        Value::int(n)
    }

    pub fn f(x: f64) -> Value {
        Value::float(x)
    }

    pub fn arr(items: Vec<Value>) -> Value {
        Value::array(items)
    }

    /// An object with the given entries, in order.
    pub fn obj(entries: Vec<(&str, Value)>) -> Value {
        let mut m = new_map();
        for (k, v) in entries {
            m.insert(Key::new(k), v);
        }
        Value::object(m)
    }

    /// Field `key` of an object value.
    pub fn field(v: &Value, key: &str) -> Value {
        v.as_object().and_then(|m| m.get(key)).cloned().unwrap_or_else(|| panic!("no field {key} in {}", show(v)))
    }

    /// The keys of an object value.
    pub fn keys_of(v: &Value) -> Vec<String> {
        v.as_object().expect("object").keys().map(|k| k.as_str().to_string()).collect()
    }
}
