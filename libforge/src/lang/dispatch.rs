//! Method dispatch: what `recv.name(args)` calls (spec 03 §3.13).
//!
//! The lookup order is part of the language — a callable field, a static method of a
//! struct type, a method of the receiver's struct or ADT type (then of its embedded
//! structs), a string method, and finally a method-capable global builtin — so every
//! tier resolves methods through [`resolve_method`].

use crate::builtins;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::ops;
use crate::value::{ModuleEnv, Value};

use super::types::StructType;

/// The outcome of resolving a method call.
pub enum Dispatch {
    /// Call `callee` with `args` (the receiver already inserted where the method takes
    /// it). The tier performs this call exactly like an ordinary call of a Forge value,
    /// with the same depth accounting, so that a method call costs one frame.
    Call { callee: Value, args: Vec<Value> },
    /// The method was a builtin property of the receiver, already computed.
    Done(Value),
}

/// Resolves `recv.name(args)` in the module environment `env` of the calling code.
/// `host` is only used to run builtin string methods.
pub fn resolve_method(
    host: &mut dyn Host,
    env: &ModuleEnv,
    recv: Value,
    name: &str,
    args: Vec<Value>,
) -> Result<Dispatch> {
    // Object with a callable field of that name.
    if let Some(m) = recv.as_object() {
        if let Some(f) = m.get(name) {
            return Ok(Dispatch::Call { callee: f.clone(), args });
        }
    }
    // Static method of a struct type.
    if let Some(st) = recv.native_ref::<StructType>() {
        let t = st.name.clone();
        let f = {
            let reg = env.registry.borrow();
            let key = format!("{t}.{name}");
            if reg.instance_methods.contains(&key) {
                None
            } else {
                reg.methods.get(&t).and_then(|ms| ms.get(name)).cloned()
            }
        };
        return match f {
            Some(f) => Ok(Dispatch::Call { callee: f, args }),
            None => fail(format!("no static method '{name}' on {t}")),
        };
    }
    // Struct instances and ADT values.
    if let Some(t) = recv.as_object().and_then(|m| m.get("__type__")).and_then(|t| t.as_str().map(|s| s.to_string())) {
        let (method, embedded) = {
            let reg = env.registry.borrow();
            let method = reg.methods.get(&t).and_then(|ms| ms.get(name)).cloned();
            let mut embedded = None;
            if method.is_none() {
                if let Some(info) = reg.structs.get(&t) {
                    for (field, ftype) in &info.embeds {
                        if let Some(f) = reg.methods.get(ftype).and_then(|ms| ms.get(name)) {
                            let fv = recv.as_object().and_then(|m| m.get(field.as_str()).cloned()).unwrap_or_default();
                            embedded = Some((f.clone(), fv));
                            break;
                        }
                    }
                }
            }
            (method, embedded)
        };
        if let Some(f) = method {
            return Ok(Dispatch::Call { callee: f, args: with_receiver(recv, args) });
        }
        if let Some((f, fv)) = embedded {
            return Ok(Dispatch::Call { callee: f, args: with_receiver(fv, args) });
        }
        if builtins::METHOD_CAPABLE.contains(&name) {
            return global_method(env, recv, name, args);
        }
        return fail(format!("no method '{name}' on {t}"));
    }
    if let Some(s) = recv.as_str() {
        let s = s.to_string();
        if let Some(r) = builtins::strings::string_method(host, name, &s, &args) {
            return r.map(Dispatch::Done);
        }
    }
    if builtins::METHOD_CAPABLE.contains(&name) {
        return global_method(env, recv, name, args);
    }
    if recv.is_object() {
        return fail(format!("no method '{name}' on object"));
    }
    fail(format!("cannot call '{name}' on {}", ops::type_name(&recv)))
}

/// `recv.m(args)` for a method-capable name: whatever is bound to the global `m` of
/// `env`, else the builtin `m`.
fn global_method(env: &ModuleEnv, recv: Value, name: &str, args: Vec<Value>) -> Result<Dispatch> {
    let bound = env.slot_of(name).map(|s| env.get(s)).filter(|v| !v.is_undef());
    let f = match bound.or_else(|| builtins::lookup(name)) {
        Some(f) => f,
        None => return fail(format!("unknown method '{name}'")),
    };
    Ok(Dispatch::Call { callee: f, args: with_receiver(recv, args) })
}

fn with_receiver(recv: Value, args: Vec<Value>) -> Vec<Value> {
    let mut full = Vec::with_capacity(args.len() + 1);
    full.push(recv);
    full.extend(args);
    full
}
