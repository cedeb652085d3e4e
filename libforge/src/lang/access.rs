//! Reading and writing inside values: field access (with delegation to embedded struct
//! fields), indexing, assignment along a path, in-place `push`/`pop` and append,
//! spreading into array literals and destructuring.
//!
//! Every tier calls these functions, so that `a.b[i] = v` copies shared containers,
//! fails and words its errors exactly alike in the VM and in native code.

use crate::builtins;
use crate::display::write_display;
use crate::error::{fail, Result};
use crate::ops::{self, Arith};
use crate::value::{Key, Kind, ModuleEnv, Value};

/// One step of an assignment path such as `x.a[i].b`: a field name, or an index value
/// already evaluated.
pub enum PathStep<'a> {
    Field(&'a str),
    Index(Value),
}

/// `obj.name` as an expression. Objects yield their field, falling back to the fields
/// of embedded (`has`) structs registered in `env`; strings and arrays have a few
/// properties (`len`, `lines`, …).
pub fn get_field(env: &ModuleEnv, obj: &Value, name: &str) -> Result<Value> {
    match obj.kind() {
        Kind::Object => {
            let m = obj.as_object().expect("object");
            if let Some(v) = m.get(name) {
                return Ok(v.clone());
            }
            // Embedded fields of a struct instance.
            if let Some(t) = m.get("__type__").and_then(|t| t.as_str().map(|s| s.to_string())) {
                let reg = env.registry.borrow();
                if let Some(info) = reg.structs.get(&t) {
                    for (field, _) in &info.embeds {
                        if let Some(v) = m.get(field.as_str()).and_then(|e| e.as_object()).and_then(|e| e.get(name)) {
                            return Ok(v.clone());
                        }
                    }
                }
            }
            fail(format!("no field '{name}' on object"))
        }
        Kind::Str => match builtins::strings::string_property(name, obj.as_str().unwrap_or("")) {
            Some(r) => r,
            None => fail(format!("no method '{name}' on String")),
        },
        Kind::Array => {
            if name == "len" {
                Ok(Value::int(obj.as_array().map(|a| a.len()).unwrap_or(0) as i64))
            } else {
                fail(format!("no method '{name}' on Array"))
            }
        }
        _ => fail(format!("cannot access field '{name}' on {}", ops::type_name(obj))),
    }
}

/// `obj[idx]`: arrays take an Int (negative counts from the end), objects a String key.
#[inline]
pub fn get_index(obj: &Value, idx: &Value) -> Result<Value> {
    if let Some(a) = obj.as_array() {
        if let Some(i) = idx.as_int() {
            let n = a.len() as i64;
            let j = if i < 0 { i + n } else { i };
            if j < 0 || j >= n {
                return fail(format!("index out of bounds: index {i} on array of length {n}"));
            }
            return Ok(a[j as usize].clone());
        }
    }
    if let (Some(m), Some(k)) = (obj.as_object(), idx.as_str()) {
        return match m.get(k) {
            Some(v) => Ok(v.clone()),
            None => fail(format!("key '{k}' not found")),
        };
    }
    fail("invalid index operation")
}

/// `name.steps… = v`, where `root` is the variable called `name` (for messages). An
/// empty `steps` replaces the whole value. Fails on an unbound root and on a frozen one;
/// shared containers on the way are copied first.
pub fn set_path(root: &mut Value, name: &str, steps: &[PathStep<'_>], v: Value) -> Result<()> {
    if root.is_undef() {
        return fail(format!("undefined: {name}"));
    }
    if root.is_frozen() {
        let what = match &steps[0] {
            PathStep::Field(f) => format!("field '{f}'"),
            PathStep::Index(_) => "index assignment".to_string(),
        };
        return fail(format!("cannot modify frozen value '{name}': {what}"));
    }
    assign_path(root, steps, v)
}

/// Assigns `v` at `steps` inside `root`, copying shared containers on the way.
fn assign_path(root: &mut Value, steps: &[PathStep<'_>], v: Value) -> Result<()> {
    let Some((first, rest)) = steps.split_first() else {
        *root = v;
        return Ok(());
    };
    match first {
        PathStep::Field(f) => {
            let kind = ops::type_name(root);
            let Some(m) = root.object_mut() else {
                return fail(format!("cannot assign to field '{f}' of {kind}"));
            };
            if rest.is_empty() {
                m.insert(Key::new(f), v);
                return Ok(());
            }
            match m.get_mut(*f) {
                Some(child) => assign_path(child, rest, v),
                None => fail(format!("no field '{f}' on object")),
            }
        }
        PathStep::Index(i) => {
            if root.is_array() {
                let Some(idx) = i.as_int() else { return fail("invalid index assignment") };
                let a = root.array_mut().expect("array");
                let n = a.len() as i64;
                let j = if idx < 0 { idx + n } else { idx };
                if j < 0 || j >= n {
                    return fail("index out of bounds");
                }
                return assign_path(&mut a[j as usize], rest, v);
            }
            if root.is_object() {
                let Some(k) = i.as_str() else { return fail("invalid index assignment") };
                let m = root.object_mut().expect("object");
                if rest.is_empty() {
                    m.insert(Key::new(k), v);
                    return Ok(());
                }
                return match m.get_mut(k) {
                    Some(child) => assign_path(child, rest, v),
                    None => fail(format!("key '{k}' not found")),
                };
            }
            fail("invalid index assignment")
        }
    }
}

/// `name.push(v)` (or `name = push(name, v)`) in place on the variable `root`; returns
/// the array after the push.
pub fn push(root: &mut Value, name: &str, v: Value) -> Result<Value> {
    match push_in_place(root, v) {
        Ok(()) => Ok(root.clone()),
        Err(v) => push_or_pop(root, name, Some(v)),
    }
}

/// The push of [`push`] when `root` is an array that may change (copied first when
/// shared); gives `v` back otherwise (a frozen array, or no array: `push` reports
/// those).
#[inline]
pub fn push_in_place(root: &mut Value, v: Value) -> std::result::Result<(), Value> {
    if root.is_frozen() {
        return Err(v);
    }
    match root.array_mut() {
        Some(a) => {
            a.push(v);
            Ok(())
        }
        None => Err(v),
    }
}

/// `name.pop()` in place on the variable `root`; returns the removed element (`null`
/// when the array is empty).
pub fn pop(root: &mut Value, name: &str) -> Result<Value> {
    push_or_pop(root, name, None)
}

fn push_or_pop(root: &mut Value, name: &str, arg: Option<Value>) -> Result<Value> {
    let is_pop = arg.is_none();
    if root.is_array() && root.is_frozen() {
        return fail(format!("cannot modify frozen value '{name}': {}", if is_pop { "pop" } else { "push" }));
    }
    match root.array_mut() {
        Some(a) => match arg {
            None => Ok(a.pop().unwrap_or(Value::NULL)),
            Some(v) => {
                a.push(v);
                Ok(root.clone())
            }
        },
        None => {
            if root.is_undef() {
                fail(format!("undefined variable: '{name}'"))
            } else if is_pop {
                fail("pop() requires array")
            } else {
                fail("push() first argument must be array")
            }
        }
    }
}

/// `name = name + v` (and `name += v`) in place on the variable `root`: a String root
/// has `v`'s display appended without copying; anything else is replaced by `root + v`.
pub fn append(root: &mut Value, name: &str, v: &Value) -> Result<()> {
    if root.is_undef() {
        return fail(format!("undefined variable: '{name}'"));
    }
    if root.is_str() {
        let s = root.string_mut().expect("string");
        write_display(s, v);
        return Ok(());
    }
    let r = ops::arith(Arith::Add, root, v)?;
    *root = r;
    Ok(())
}

/// `[..., ...v]` in an array literal under construction: an array's elements are
/// appended, any other value is appended as one element.
pub fn array_extend(arr: &mut Value, v: Value) {
    let a = arr.array_mut().expect("array literal");
    match v.as_array() {
        Some(xs) => a.extend(xs.iter().cloned()),
        None => a.push(v),
    }
}

/// The check before destructuring `v`: `[a, b] = v` needs an array (`array`), `{a, b} =
/// v` an object.
pub fn check_destructure(v: &Value, array: bool) -> Result<()> {
    if array && !v.is_array() {
        return fail("cannot destructure non-array");
    }
    if !array && !v.is_object() {
        return fail("cannot destructure non-object");
    }
    Ok(())
}

/// The field `name` of an object being destructured, `null` when absent.
pub fn destructure_key(obj: &Value, name: &str) -> Value {
    obj.as_object().and_then(|m| m.get(name).cloned()).unwrap_or(Value::NULL)
}

/// Element `i` of an array being destructured, `null` past the end.
pub fn destructure_at(arr: &Value, i: usize) -> Value {
    arr.as_array().and_then(|a| a.get(i).cloned()).unwrap_or(Value::NULL)
}

/// The `...rest` of an array being destructured: the elements after the first `skip`.
pub fn destructure_rest(arr: &Value, skip: usize) -> Value {
    let v = arr.as_array().map(|a| a.iter().skip(skip).cloned().collect()).unwrap_or_default();
    Value::array(v)
}
