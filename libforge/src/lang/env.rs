//! Module environments and name resolution: creating the globals of a loaded module,
//! loading builtins and standard modules by name, binding imported names, and the
//! `undefined variable` error with its "did you mean" hint.
//!
//! Which names are predefined, how a missing name is reported and which suggestion the
//! hint makes are observable, so every tier resolves names through these functions.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::builtins;
use crate::error::{fail, Error, Result};
use crate::value::{ModuleEnv, Value};

/// The standard module objects (`math`, `fs`, …) of one isolate, each made on first use
/// and then shared by every module of the isolate.
#[derive(Default)]
pub struct ModuleCache {
    modules: FxHashMap<String, Value>,
}

impl ModuleCache {
    pub fn new() -> ModuleCache {
        ModuleCache::default()
    }

    /// The module object called `name`.
    pub fn get(&mut self, name: &str) -> Value {
        if let Some(m) = self.modules.get(name) {
            return m.clone();
        }
        let m = builtins::module_object(name);
        self.modules.insert(name.to_string(), m.clone());
        m
    }

    /// Drops every module object (at isolate teardown).
    pub fn clear(&mut self) {
        self.modules.clear();
    }
}

/// The environment (an `Env` value) of a freshly loaded module with global slots
/// `globals` from source file `file`. Builtin names start bound to their builtins and
/// standard module names to their module objects, so that a later user definition only
/// shadows them from then on; every other slot starts unbound (`UNDEF`).
pub fn new_module_env(globals: &[String], file: &str, modules: &mut ModuleCache) -> Value {
    let names: Arc<[String]> = globals.into();
    let env = Value::env(ModuleEnv::new(names, file.into()));
    {
        let e = env.as_env().expect("env");
        let mut slots = e.slots.borrow_mut();
        for (i, n) in globals.iter().enumerate() {
            if let Some(b) = builtins::lookup(n) {
                slots[i] = b;
            } else if builtins::is_module(n) {
                slots[i] = modules.get(n);
            }
        }
    }
    env
}

/// A builtin named in code where no global of that name exists: `name` is a global
/// builtin, a standard module, or `module.member`.
pub fn load_builtin(name: &str, modules: &mut ModuleCache) -> Result<Value> {
    if let Some((m, member)) = name.split_once('.') {
        let obj = modules.get(m);
        return match obj.as_object().and_then(|o| o.get(member).cloned()) {
            Some(v) => Ok(v),
            None => fail(format!("{name} is not available in this build")),
        };
    }
    if let Some(b) = builtins::lookup(name) {
        return Ok(b);
    }
    if builtins::is_module(name) {
        return Ok(modules.get(name));
    }
    fail(format!("undefined variable: '{name}'"))
}

/// `undefined variable: 'name'` with a hint: the closest bound global of `env` or local
/// name of the current function (`locals`) within edit distance 2 (and shorter than the
/// name), else a generic hint.
pub fn undefined_variable(name: &str, env: &ModuleEnv, locals: &[String]) -> Error {
    let mut candidates: Vec<&str> = Vec::new();
    let slots = env.slots.borrow();
    for (i, n) in env.names.iter().enumerate() {
        if !slots[i].is_undef() {
            candidates.push(n);
        }
    }
    candidates.extend(locals.iter().map(|s| s.as_str()));
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = levenshtein(name, c);
        if d <= 2 && d < name.chars().count() && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let hint = match best {
        Some((_, c)) => format!("  hint: did you mean '{c}'?"),
        None => "  hint: make sure the variable is defined before use".to_string(),
    };
    Error::new(format!("undefined variable: '{name}'\n{hint}"))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The error of `import` when the imported file did not exist at compile time.
pub fn import_missing(path: &str) -> Error {
    Error::new(format!("cannot import '{path}': file not found"))
}

/// The values an `import` binds, after the imported module's top level ran in `env`:
/// each requested global, `UNDEF` for names the module does not define.
pub fn import_names(env: &ModuleEnv, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .map(|n| match env.slot_of(n) {
            Some(s) => env.get(s),
            None => Value::UNDEF,
        })
        .collect()
}
