//! The builtin functions of spec 10 and the standard-library module members of
//! spec 11, in one table.
//!
//! A builtin is an immediate value (tag `TAG_BUILTIN`) holding its index in
//! [`table`]. Every tier reaches the same Rust function through that index, and the
//! compiler refers to builtins by name only (indices are resolved when a program
//! starts), so the table's order is free to change.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::error::Result;
use crate::host::Host;
use crate::value::Value;

pub mod arrays;
pub mod assert;
pub mod conc;
pub mod convert;
mod core;
pub mod helpers;
pub mod objects;
pub mod results;
pub mod shell;
pub mod strings;

/// The signature of every builtin: the host, then the arguments as written (missing
/// arguments are simply absent; extra ones are ignored by the builtin).
pub type BuiltinFn = fn(&mut dyn Host, &[Value]) -> Result<Value>;

pub struct BuiltinDef {
    /// The name as bound: the global name, or the member name inside its module.
    pub name: &'static str,
    /// `None` for global builtins; the module (`math`, `fs`, …) otherwise.
    pub module: Option<&'static str>,
    pub func: BuiltinFn,
    /// The name displayed as `<builtin NAME>` (`math.sqrt` for module members).
    pub display: String,
}

/// A non-function module member (`math.pi`): made fresh for each module object.
pub struct ConstDef {
    pub module: &'static str,
    pub name: &'static str,
    pub make: fn() -> Value,
}

/// Adds builtins to the table being built; every builtin file has a `register`.
pub struct Registry {
    defs: Vec<BuiltinDef>,
    consts: Vec<ConstDef>,
    /// Module members in registration order: a function index or a constant.
    members: Vec<(&'static str, Member)>,
}

#[derive(Clone, Copy)]
enum Member {
    Func(u32),
    Const(fn() -> Value),
}

impl Registry {
    pub fn global(&mut self, name: &'static str, func: BuiltinFn) {
        self.defs.push(BuiltinDef { name, module: None, func, display: name.to_string() });
    }
    /// A module function: `math.sqrt`. Members appear in `keys(module)` in the order
    /// they are registered.
    pub fn module(&mut self, module: &'static str, name: &'static str, func: BuiltinFn) {
        let i = self.defs.len() as u32;
        self.defs.push(BuiltinDef { name, module: Some(module), func, display: format!("{module}.{name}") });
        self.members.push((module, Member::Func(i)));
    }
    /// A module constant such as `math.pi`.
    pub fn module_const(&mut self, module: &'static str, name: &'static str, make: fn() -> Value) {
        self.consts.push(ConstDef { module, name, make });
        self.members.push((module, Member::Const(make)));
        let _ = name;
    }
}

struct Table {
    defs: Vec<BuiltinDef>,
    globals: FxHashMap<&'static str, u32>,
    /// Members of each module, in order: (name, function index or constant maker).
    modules: FxHashMap<&'static str, Vec<(&'static str, Member)>>,
}

fn build() -> Table {
    let mut reg = Registry { defs: Vec::new(), consts: Vec::new(), members: Vec::new() };
    core::register(&mut reg);
    convert::register(&mut reg);
    arrays::register(&mut reg);
    objects::register(&mut reg);
    strings::register(&mut reg);
    results::register(&mut reg);
    assert::register(&mut reg);
    helpers::register(&mut reg);
    shell::register(&mut reg);
    conc::register(&mut reg);
    match CHOSEN_MODULES.get() {
        Some(list) => list.iter().for_each(|f| f(&mut reg)),
        // Unit tests of libforge use every module without choosing.
        None if cfg!(test) => crate::stdlib::register(&mut reg),
        None => {}
    }
    crate::abi::register_native_modules(&mut reg);
    let mut globals = FxHashMap::default();
    for (i, d) in reg.defs.iter().enumerate() {
        if d.module.is_none() {
            globals.insert(d.name, i as u32);
        }
    }
    let mut modules: FxHashMap<&'static str, Vec<(&'static str, Member)>> = FxHashMap::default();
    let mut ci = 0;
    for (m, member) in reg.members {
        let name = match member {
            Member::Func(i) => reg.defs[i as usize].name,
            Member::Const(_) => {
                let n = reg.consts[ci].name;
                ci += 1;
                n
            }
        };
        modules.entry(m).or_default().push((name, member));
    }
    Table { defs: reg.defs, globals, modules }
}

static CHOSEN_MODULES: OnceLock<Vec<fn(&mut Registry)>> = OnceLock::new();

/// Chooses the standard modules the builtin table holds (`crate::stdlib::ALL` entries).
/// Call it once, before any builtin is used; the first call wins. Native executables
/// choose theirs through `abi::use_native_modules` instead, so that the modules a
/// program never names are not linked in.
pub fn use_modules(list: Vec<fn(&mut Registry)>) {
    let _ = CHOSEN_MODULES.set(list);
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// The global builtin named `name`, if any.
pub fn lookup(name: &str) -> Option<Value> {
    table().globals.get(name).map(|&i| Value::builtin(i))
}

/// Whether `name` is a standard module (`math`, `fs`, …).
pub fn is_module(name: &str) -> bool {
    MODULES.contains(&name)
}

/// The module names predefined as globals (spec 11), in the reference's order.
pub const MODULES: &[&str] = &[
    "math", "fs", "io", "crypto", "db", "env", "json", "regex", "log", "pg", "term", "http", "csv", "time", "npc",
    "url", "toml", "ws", "jwt", "mysql",
];

/// A fresh module object: an Object whose values are the module's builtins.
pub fn module_object(name: &str) -> Value {
    let t = table();
    let mut m = crate::value::new_map();
    if let Some(members) = t.modules.get(name) {
        for (n, member) in members {
            let v = match member {
                Member::Func(i) => Value::builtin(*i),
                Member::Const(make) => make(),
            };
            m.insert(crate::value::Key::new(n), v);
        }
    }
    Value::object(m)
}

/// The name shown as `<builtin NAME>`.
pub fn builtin_name(index: u32) -> &'static str {
    table().defs.get(index as usize).map(|d| d.display.as_str()).unwrap_or("?")
}

/// Calls builtin number `index`.
pub fn call(index: u32, host: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match table().defs.get(index as usize) {
        Some(d) => (d.func)(host, args),
        None => crate::error::fail("unknown builtin"),
    }
}

/// Names that `recv.m(…)` may route to the global builtin `m` (spec 10 §10.1.2).
pub const METHOD_CAPABLE: &[&str] = &[
    "map",
    "filter",
    "reduce",
    "sort",
    "reverse",
    "push",
    "pop",
    "len",
    "contains",
    "keys",
    "values",
    "enumerate",
    "split",
    "join",
    "replace",
    "find",
    "flat_map",
    "has_key",
    "get",
    "pick",
    "omit",
    "merge",
    "entries",
    "from_entries",
    "starts_with",
    "ends_with",
    "upper",
    "lower",
    "trim",
    "substring",
    "index_of",
    "last_index_of",
    "pad_start",
    "pad_end",
    "capitalize",
    "title",
    "repeat_str",
    "count",
    "sum",
    "min_of",
    "max_of",
    "any",
    "all",
    "unique",
    "zip",
    "flatten",
    "group_by",
    "chunk",
    "slice",
    "slugify",
    "snake_case",
    "camel_case",
    "sample",
    "shuffle",
    "partition",
    "diff",
    "trim_start",
    "trim_end",
    "is_empty",
    "is_numeric",
    "is_alpha",
    "is_alphanumeric",
    "char_at",
    "encode_uri",
    "decode_uri",
    "words",
    "bytes",
    "sort_by",
    "first",
    "last",
    "compact",
    "take_n",
    "skip",
    "frequencies",
    "for_each",
];

/// Argument `i`, or `null` when absent.
pub fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::NULL)
}
