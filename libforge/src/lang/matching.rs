//! The tests `match` arms are compiled to: variant and type tests, variant fields,
//! literal and Bool patterns, identifier patterns that may name a unit variant, and the
//! exhaustiveness check over ADT values.
//!
//! Which value matches which pattern is language semantics, so every tier asks these
//! functions rather than inspecting the `__type__`/`__variant__` keys itself.

use crate::error::{fail, Result};
use crate::value::{Kind, ModuleEnv, Value};

/// Whether `v` matches the variant or type `name`: `Ok`, `Err`, `Some` and `None`
/// match their kinds; an object matches its `__variant__` or its `__type__`.
pub fn test_variant(v: &Value, name: &str) -> bool {
    match v.kind() {
        Kind::Ok => name == "Ok",
        Kind::Err => name == "Err",
        Kind::Some => name == "Some",
        Kind::None => name == "None",
        Kind::Object => {
            let m = v.as_object().expect("object");
            m.get("__variant__").and_then(|x| x.as_str().map(|s| s == name)).unwrap_or(false)
                || m.get("__type__").and_then(|x| x.as_str().map(|s| s == name)).unwrap_or(false)
        }
        _ => false,
    }
}

/// Field `i` of a variant value matched by a `V(a, b, …)` pattern: the wrapped value of
/// `Ok`/`Err`/`Some` (field 0 only), or the `_i` key of an ADT value. Missing fields are
/// `UNDEF`.
pub fn variant_field(subject: &Value, i: u16) -> Value {
    match subject.kind() {
        Kind::Ok | Kind::Err | Kind::Some => {
            if i == 0 {
                subject.wrapped().unwrap_or_default()
            } else {
                Value::UNDEF
            }
        }
        Kind::Object => {
            subject.as_object().and_then(|m| m.get(format!("_{i}").as_str()).cloned()).unwrap_or(Value::UNDEF)
        }
        _ => Value::UNDEF,
    }
}

/// A literal pattern.
#[derive(Clone, Copy, Debug)]
pub enum Literal<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// Whether `subject` matches a literal pattern: same kind and equal (an Int pattern
/// never matches a Float and vice versa).
pub fn test_literal(subject: &Value, lit: Literal<'_>) -> bool {
    match lit {
        Literal::Int(i) => subject.as_int() == Some(i),
        Literal::Float(f) => subject.as_float() == Some(f),
        Literal::Str(t) => subject.as_str() == Some(t),
    }
}

/// Whether `subject` matches the pattern `true` (`which`) or `false`: only that Bool.
pub fn test_bool(subject: &Value, which: bool) -> bool {
    subject.as_bool() == Some(which)
}

/// Whether the identifier pattern `name` matches `subject`, where `binding` is what
/// `name` is currently bound to: when that is `None` (and the name is `None`) or the
/// unit value of an ADT variant called `name`, the pattern tests for that variant;
/// otherwise it binds anything.
pub fn test_ident(subject: &Value, binding: &Value, name: &str) -> bool {
    if binding.is_none() && name == "None" {
        subject.is_none()
    } else if is_unit_variant(binding, name) {
        subject
            .as_object()
            .and_then(|m| m.get("__variant__"))
            .and_then(|v| v.as_str().map(|s| s == name))
            .unwrap_or(false)
    } else {
        true
    }
}

fn is_unit_variant(v: &Value, name: &str) -> bool {
    match v.as_object() {
        Some(m) => {
            m.get("__variant__").and_then(|x| x.as_str().map(|s| s == name)).unwrap_or(false)
                && m.contains_key("__type__")
                && !m.contains_key("_0")
        }
        None => false,
    }
}

/// The exhaustiveness check of a `match` without a wildcard over an ADT value: fails
/// with `non-exhaustive match: missing variant 'V'` for the first variant (in
/// declaration order) that neither a variant pattern (`named`) nor an identifier pattern
/// (`idents`) names. Identifier patterns that name no variant bind anything, so then
/// the match is exhaustive. Subjects that are not ADT values of `env` always pass.
pub fn check_exhaustive(
    env: &ModuleEnv,
    subject: &Value,
    named: &[String],
    idents: &[String],
    has_wildcard: bool,
) -> Result<()> {
    let Some(t) = subject.as_object().and_then(|m| m.get("__type__")).and_then(|t| t.as_str().map(|s| s.to_string()))
    else {
        return Ok(());
    };
    if has_wildcard {
        return Ok(());
    }
    let reg = env.registry.borrow();
    let Some(variants) = reg.adts.get(&t) else { return Ok(()) };
    if idents.iter().any(|i| !variants.contains(i)) {
        return Ok(());
    }
    for v in variants {
        if !named.contains(v) && !idents.contains(v) {
            return fail(format!("non-exhaustive match: missing variant '{v}'"));
        }
    }
    Ok(())
}
