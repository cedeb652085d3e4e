//! `for` loops: what may be iterated and what each iteration binds.
//!
//! A tier keeps the collection and a position in two slots of its frame and asks
//! [`for_next`] for each step, so that arrays, objects and `enumerate` pairs bind the
//! same names in every tier.

use crate::error::{fail, Result};
use crate::value::Value;

/// How many names a `for` loop binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForVars {
    /// `for x in c`.
    One,
    /// `for a, b in c`.
    Two,
}

/// The check at the start of `for … in v`: only arrays and objects are iterable.
pub fn for_prep(v: &Value) -> Result<()> {
    if !v.is_array() && !v.is_object() {
        return fail("can only iterate over arrays or objects");
    }
    Ok(())
}

/// Step `i` (from 0) of a loop over `coll`, or `None` when the loop is over. Arrays bind
/// the element, or with two names the index and the element (an `{index, value}` object
/// made by `enumerate` binds its two fields instead); objects bind the key, or with two
/// names the key and the value.
#[inline]
pub fn for_next(coll: &Value, i: usize, vars: ForVars) -> Option<(Value, Option<Value>)> {
    if let Some(a) = coll.as_array() {
        a.get(i).map(|x| match vars {
            ForVars::One => (x.clone(), None),
            ForVars::Two => match enumerate_pair(x) {
                Some((a, b)) => (a, Some(b)),
                None => (Value::int(i as i64), Some(x.clone())),
            },
        })
    } else if let Some(m) = coll.as_object() {
        m.get_index(i).map(|(k, x)| match vars {
            ForVars::One => (k.to_value(), None),
            ForVars::Two => (k.to_value(), Some(x.clone())),
        })
    } else {
        None
    }
}

/// `{index, value}` objects made by `enumerate` unpack in two-name `for` loops.
fn enumerate_pair(x: &Value) -> Option<(Value, Value)> {
    let m = x.as_object()?;
    if m.len() == 2 {
        if let (Some(i), Some(v)) = (m.get("index"), m.get("value")) {
            return Some((i.clone(), v.clone()));
        }
    }
    None
}
