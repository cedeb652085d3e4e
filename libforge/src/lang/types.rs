//! User-defined types: struct, ADT, `impl`, interface (`power`) and `prompt`
//! definitions, the registry entries they make in a module environment, struct
//! instances, and the native objects that stand for types at run time.
//!
//! A struct instance or ADT value is an ordinary object with `__type__` (and
//! `__variant__`) keys, and the type names display as `<builtin struct:P>` and so on;
//! every tier builds them through these functions so that they print, compare and
//! dispatch identically.

use crate::error::{fail, Result};
use crate::ops;
use crate::value::{map_with_capacity, new_map, Key, ModuleEnv, NativeObject, StructInfo, Value};

/// A struct type name used as a value (`<builtin struct:P>`).
pub struct StructType {
    pub name: String,
}

impl NativeObject for StructType {
    fn type_name(&self) -> &'static str {
        "BuiltIn"
    }
    fn display(&self) -> String {
        format!("<builtin struct:{}>", self.name)
    }
    fn equals(&self, other: &dyn NativeObject) -> bool {
        other.as_any().downcast_ref::<StructType>().is_some_and(|o| o.name == self.name)
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(StructType { name: self.name.clone() }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An ADT constructor that takes fields (`<builtin adt:Shape:Circle:1>`).
pub struct AdtCtor {
    pub type_name: String,
    pub variant: String,
    pub arity: u16,
}

impl NativeObject for AdtCtor {
    fn type_name(&self) -> &'static str {
        "BuiltIn"
    }
    fn display(&self) -> String {
        format!("<builtin adt:{}:{}:{}>", self.type_name, self.variant, self.arity)
    }
    fn equals(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<AdtCtor>()
            .is_some_and(|o| o.type_name == self.type_name && o.variant == self.variant)
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(AdtCtor {
            type_name: self.type_name.clone(),
            variant: self.variant.clone(),
            arity: self.arity,
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A `prompt` definition (`<builtin prompt:NAME>`; not callable in this version).
pub struct PromptValue {
    pub name: String,
}

impl NativeObject for PromptValue {
    fn type_name(&self) -> &'static str {
        "BuiltIn"
    }
    fn display(&self) -> String {
        format!("<builtin prompt:{}>", self.name)
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(PromptValue { name: self.name.clone() }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Calls a callable that is neither a Forge function nor a builtin: an ADT constructor
/// builds its variant; struct types, prompts and every other value fail.
pub fn call_other(callee: &Value, args: Vec<Value>) -> Result<Value> {
    if let Some(ctor) = callee.native_ref::<AdtCtor>() {
        if args.len() != ctor.arity as usize {
            return fail(format!("{}() expects {} argument(s), got {}", ctor.variant, ctor.arity, args.len()));
        }
        let mut m = map_with_capacity(2 + args.len());
        m.insert(Key::new("__type__"), Value::str(&ctor.type_name));
        m.insert(Key::new("__variant__"), Value::str(&ctor.variant));
        for (i, a) in args.into_iter().enumerate() {
            m.insert(Key::new(&format!("_{i}")), a);
        }
        return Ok(Value::object(m));
    }
    if let Some(s) = callee.native_ref::<StructType>() {
        return fail(format!("unknown builtin: struct:{}", s.name));
    }
    if let Some(p) = callee.native_ref::<PromptValue>() {
        return fail(format!("unknown builtin: prompt:{}", p.name));
    }
    fail(format!("cannot call {}", ops::type_name(callee)))
}

/// Starts a struct literal `Name { … }`: an object holding the recorded defaults of
/// struct `name` in `env` (no fields when the struct is unknown). The literal's own
/// fields are inserted next, then [`finish_struct`] tags it.
pub fn new_struct(env: &ModuleEnv, name: &str) -> Value {
    let reg = env.registry.borrow();
    let mut m = new_map();
    if let Some(info) = reg.structs.get(name) {
        for (f, v) in &info.defaults {
            m.insert(Key::new(f), v.clone());
        }
    }
    drop(reg);
    Value::object(m)
}

/// Ends a struct literal: sets `__type__` (after the literal's fields, so it prints
/// last).
pub fn finish_struct(obj: &mut Value, name: &str) {
    let n = Value::str(name);
    if let Some(m) = obj.object_mut() {
        m.insert(Key::new("__type__"), n);
    }
}

/// `struct name { … }`: records the field defaults (name and evaluated value, in
/// declaration order) and the embedded `has` fields (field name, type name) in `env`;
/// returns the type's value.
pub fn define_struct(
    env: &ModuleEnv,
    name: &str,
    defaults: Vec<(String, Value)>,
    embeds: &[(String, String)],
) -> Value {
    env.registry.borrow_mut().structs.insert(name.to_string(), StructInfo { defaults, embeds: embeds.to_vec() });
    Value::native(Box::new(StructType { name: name.to_string() }))
}

/// `type name = V1 | V2(a) | …`: records the variant names in `env` and returns one
/// value per variant, in declaration order: the unit value itself for a variant
/// without fields (`arity` 0), else its constructor.
pub fn define_adt(env: &ModuleEnv, name: &str, variants: &[(String, u16)]) -> Vec<Value> {
    env.registry.borrow_mut().adts.insert(name.to_string(), variants.iter().map(|v| v.0.clone()).collect());
    variants
        .iter()
        .map(|(vname, arity)| {
            if *arity == 0 {
                let mut m = map_with_capacity(2);
                m.insert(Key::new("__type__"), Value::str(name));
                m.insert(Key::new("__variant__"), Value::str(vname));
                Value::object(m)
            } else {
                Value::native(Box::new(AdtCtor { type_name: name.to_string(), variant: vname.clone(), arity: *arity }))
            }
        })
        .collect()
}

/// One method of an `impl` block.
pub struct ImplMethod<'a> {
    pub name: &'a str,
    /// The method's closure.
    pub func: Value,
    /// Whether it is an instance method (first parameter named `it`).
    pub instance: bool,
}

/// `impl [Interface for] type_name { … }`: registers the methods in `env` (a later
/// definition replaces an earlier one), then checks that the type has every method
/// the interface requires, when `interface` names an interface value bound in `env`.
pub fn define_impl(
    env: &ModuleEnv,
    type_name: &str,
    methods: Vec<ImplMethod<'_>>,
    interface: Option<&str>,
) -> Result<()> {
    {
        let mut reg = env.registry.borrow_mut();
        for m in methods {
            reg.methods.entry(type_name.to_string()).or_default().insert(m.name.to_string(), m.func);
            let key = format!("{}.{}", type_name, m.name);
            if m.instance {
                reg.instance_methods.insert(key);
            } else {
                reg.instance_methods.remove(&key);
            }
        }
    }
    match interface {
        Some(iface) => check_interface(env, type_name, iface),
        None => Ok(()),
    }
}

fn check_interface(env: &ModuleEnv, type_name: &str, iface: &str) -> Result<()> {
    let Some(slot) = env.slot_of(iface) else { return Ok(()) };
    let iv = env.get(slot);
    let Some(m) = iv.as_object() else { return Ok(()) };
    if m.get("__kind__").and_then(|k| k.as_str().map(|s| s == "interface")) != Some(true) {
        return Ok(());
    }
    let reg = env.registry.borrow();
    let have = reg.methods.get(type_name);
    if let Some(methods) = m.get("methods").and_then(|x| x.as_array()) {
        for meth in methods {
            let Some(n) = meth.as_object().and_then(|o| o.get("name")).and_then(|n| n.as_str().map(|s| s.to_string()))
            else {
                continue;
            };
            if !have.is_some_and(|h| h.contains_key(&n)) {
                return fail(format!("'{type_name}' does not implement '{n}' required by power '{iface}'"));
            }
        }
    }
    Ok(())
}

/// `power name { … }`: the interface value, an object `{__kind__, name, methods}` where
/// each method (name, parameter count, return-type annotation text) becomes
/// `{name, param_count[, return_type]}`.
pub fn define_interface(name: &str, methods: &[(String, u16, Option<String>)]) -> Value {
    let mut m = new_map();
    m.insert(Key::new("__kind__"), Value::str("interface"));
    m.insert(Key::new("name"), Value::str(name));
    let methods = methods
        .iter()
        .map(|(n, pc, rt)| {
            let mut o = new_map();
            o.insert(Key::new("name"), Value::str(n));
            o.insert(Key::new("param_count"), Value::int(*pc as i64));
            if let Some(t) = rt {
                o.insert(Key::new("return_type"), Value::str(t));
            }
            Value::object(o)
        })
        .collect();
    m.insert(Key::new("methods"), Value::array(methods));
    Value::object(m)
}

/// `prompt name { … }`: the prompt's value.
pub fn define_prompt(name: &str) -> Value {
    Value::native(Box::new(PromptValue { name: name.to_string() }))
}
