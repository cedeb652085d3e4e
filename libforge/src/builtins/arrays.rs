//! Array and sequence builtins (spec 10 §10.4): construction, transformation with
//! callbacks, stable sorting, aggregation and random selection.
//!
//! None of these functions change their arguments; they return new values. Callbacks
//! are called through [`Host::call`], and an error raised by a callback propagates
//! unchanged. `reverse`, `slice`, `contains` and `index_of` also accept strings (and
//! `contains` objects), counting string positions in characters.

use std::borrow::Cow;
use std::cmp::Ordering;

use indexmap::IndexMap;

use super::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::ops::{deep_equal, sort_order, truthy};
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.global("push", push);
    r.global("pop", pop);
    r.global("first", first);
    r.global("last", last);
    r.global("range", range);
    r.global("enumerate", enumerate);
    r.global("map", map);
    r.global("filter", filter);
    r.global("reduce", reduce);
    r.global("for_each", for_each);
    r.global("find", find);
    r.global("flat_map", flat_map);
    r.global("any", any);
    r.global("all", all);
    r.global("sort", sort);
    r.global("sort_by", sort_by);
    r.global("reverse", reverse);
    r.global("unique", unique);
    r.global("zip", zip);
    r.global("flatten", flatten);
    r.global("chunk", chunk);
    r.global("slice", slice);
    r.global("take_n", take_n);
    r.global("skip", skip);
    r.global("compact", compact);
    r.global("partition", partition);
    r.global("group_by", group_by);
    r.global("frequencies", frequencies);
    r.global("sum", sum);
    r.global("min_of", min_of);
    r.global("max_of", max_of);
    r.global("sample", sample);
    r.global("shuffle", shuffle);
    r.global("contains", contains);
    r.global("index_of", index_of);
}

/// The array in argument `i`, if that argument is an array.
fn array_arg(args: &[Value], i: usize) -> Option<&[Value]> {
    args.get(i).and_then(Value::as_array)
}

/// The display rendering used as an identity by `unique`, `contains`, `frequencies`
/// and `group_by` (a String is its own rendering, so it is borrowed).
fn display_key(v: &Value) -> Cow<'_, str> {
    match v.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(display(v)),
    }
}

fn push(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() != 2 {
        return fail("push() requires array and value");
    }
    let mut a = args[0].clone();
    let Some(items) = a.array_mut() else {
        return fail("push() first argument must be array");
    };
    items.push(args[1].clone());
    Ok(a)
}

fn pop(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match array_arg(args, 0) {
        Some(items) => Ok(items.last().cloned().unwrap_or(Value::NULL)),
        None => fail("pop() requires array"),
    }
}

fn first(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match array_arg(args, 0) {
        Some(items) => Ok(items.first().cloned().unwrap_or(Value::NULL)),
        None => fail("first() requires an array"),
    }
}

fn last(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match array_arg(args, 0) {
        Some(items) => Ok(items.last().cloned().unwrap_or(Value::NULL)),
        None => fail("last() requires an array"),
    }
}

/// `range(n)`, `range(start, end)`, `range(start, end, step)`. A third argument that
/// is not an Int is ignored (step 1), as the reference ignores the third argument.
fn range(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    const BAD: &str = "range() requires integer arguments";
    let Some(a) = args.first().and_then(Value::as_int) else {
        return fail(BAD);
    };
    let (start, end) = match args.get(1) {
        None => (0, a),
        Some(e) => match e.as_int() {
            Some(e) => (a, e),
            None => return fail(BAD),
        },
    };
    let step = args.get(2).and_then(Value::as_int).unwrap_or(1);
    if step == 0 {
        return fail("range() step cannot be zero");
    }
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(Value::int(i));
        match i.checked_add(step) {
            Some(n) => i = n,
            None => break,
        }
    }
    Ok(Value::array(out))
}

fn enumerate(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("enumerate() requires array");
    };
    let index = Key::new("index");
    let value = Key::new("value");
    let out = items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut m = map_with_capacity(2);
            m.insert(index.clone(), Value::int(i as i64));
            m.insert(value.clone(), x.clone());
            Value::object(m)
        })
        .collect();
    Ok(Value::array(out))
}

fn map(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() != 2 {
        return fail("map() requires (array, function)");
    }
    let Some(items) = args[0].as_array() else {
        return fail("map() first argument must be array");
    };
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        out.push(h.call(&args[1], std::slice::from_ref(x))?);
    }
    Ok(Value::array(out))
}

fn filter(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() != 2 {
        return fail("filter() requires (array, function)");
    }
    let Some(items) = args[0].as_array() else {
        return fail("filter() first argument must be array");
    };
    let mut out = Vec::new();
    for x in items {
        if truthy(&h.call(&args[1], std::slice::from_ref(x))?) {
            out.push(x.clone());
        }
    }
    Ok(Value::array(out))
}

fn reduce(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() != 3 {
        return fail("reduce() requires (array, initial, function)");
    }
    let Some(items) = args[0].as_array() else {
        return fail("reduce() first argument must be array");
    };
    let mut acc = args[1].clone();
    for x in items {
        acc = h.call(&args[2], &[acc, x.clone()])?;
    }
    Ok(acc)
}

/// The array and the callback of a `(array, function)` builtin whose only error for
/// wrong arguments is `msg`.
fn array_and_fn<'a>(args: &'a [Value], msg: &str) -> Result<(&'a [Value], &'a Value)> {
    match (array_arg(args, 0), args.get(1)) {
        (Some(items), Some(f)) => Ok((items, f)),
        _ => fail(msg),
    }
}

fn for_each(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, f) = array_and_fn(args, "for_each() requires (array, function)")?;
    for x in items {
        h.call(f, std::slice::from_ref(x))?;
    }
    Ok(Value::NULL)
}

fn find(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, f) = array_and_fn(args, "find() requires (array, predicate_fn)")?;
    for x in items {
        if truthy(&h.call(f, std::slice::from_ref(x))?) {
            return Ok(x.clone());
        }
    }
    Ok(Value::NULL)
}

fn flat_map(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, f) = array_and_fn(args, "flat_map() requires (array, fn)")?;
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        let r = h.call(f, std::slice::from_ref(x))?;
        match r.as_array() {
            Some(inner) => out.extend(inner.iter().cloned()),
            None => out.push(r),
        }
    }
    Ok(Value::array(out))
}

/// `any` (`want = true`) and `all` (`want = false`): stops at the first element whose
/// predicate result has truthiness `want`.
fn any_all(h: &mut dyn Host, args: &[Value], name: &str, want: bool) -> Result<Value> {
    if args.len() < 2 {
        return fail(format!("{name}() requires (array, predicate)"));
    }
    let Some(items) = args[0].as_array() else {
        return fail(format!("{name}() first argument must be an array"));
    };
    for x in items {
        if truthy(&h.call(&args[1], std::slice::from_ref(x))?) == want {
            return Ok(Value::bool(want));
        }
    }
    Ok(Value::bool(!want))
}

fn any(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    any_all(h, args, "any", true)
}

fn all(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    any_all(h, args, "all", false)
}

/// Stable merge sort of the indices `0..n` with a fallible "less than" test. The
/// first error stops the sort and is returned. The comparator need not be a total
/// order (the sort never panics); the calling pattern follows Rust's stable sort:
/// `less(right, left)` decides whether the right element moves first.
pub(crate) fn sort_indices(n: usize, less: &mut dyn FnMut(usize, usize) -> Result<bool>) -> Result<Vec<usize>> {
    const RUN: usize = 16;
    let mut idx: Vec<usize> = (0..n).collect();
    // Insertion-sort short runs.
    let mut start = 0;
    while start < n {
        let end = (start + RUN).min(n);
        for i in start + 1..end {
            let mut j = i;
            while j > start && less(idx[j], idx[j - 1])? {
                idx.swap(j - 1, j);
                j -= 1;
            }
        }
        start = end;
    }
    // Merge runs bottom-up, doubling their width.
    let mut buf = vec![0usize; n];
    let mut width = RUN;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = lo.saturating_add(width).min(n);
            let hi = mid.saturating_add(width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                if less(idx[j], idx[i])? {
                    buf[k] = idx[j];
                    j += 1;
                } else {
                    buf[k] = idx[i];
                    i += 1;
                }
                k += 1;
            }
            buf[k..k + (mid - i)].copy_from_slice(&idx[i..mid]);
            k += mid - i;
            buf[k..k + (hi - j)].copy_from_slice(&idx[j..hi]);
            lo = hi;
        }
        std::mem::swap(&mut idx, &mut buf);
        width = width.saturating_mul(2);
    }
    Ok(idx)
}

/// The ordering a comparator result stands for: the sign of a number, else equal.
fn comparator_order(r: &Value) -> Ordering {
    if let Some(i) = r.as_int() {
        return i.cmp(&0);
    }
    match r.as_float() {
        Some(f) if f < 0.0 => Ordering::Less,
        Some(f) if f > 0.0 => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

fn sort(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("sort() requires an array");
    };
    let order = match args.get(1) {
        None => sort_indices(items.len(), &mut |i, j| Ok(sort_order(&items[i], &items[j]) == Ordering::Less))?,
        Some(cmp) => sort_indices(items.len(), &mut |i, j| {
            let r = h.call(cmp, &[items[i].clone(), items[j].clone()])?;
            Ok(comparator_order(&r) == Ordering::Less)
        })?,
    };
    Ok(Value::array(order.into_iter().map(|i| items[i].clone()).collect()))
}

fn sort_by(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, f) = array_and_fn(args, "sort_by() requires (array, key_function)")?;
    let mut keys = Vec::with_capacity(items.len());
    for x in items {
        keys.push(h.call(f, std::slice::from_ref(x))?);
    }
    let order = sort_indices(items.len(), &mut |i, j| Ok(sort_order(&keys[i], &keys[j]) == Ordering::Less))?;
    Ok(Value::array(order.into_iter().map(|i| items[i].clone()).collect()))
}

fn reverse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let v = args.first().cloned().unwrap_or_default();
    if let Some(items) = v.as_array() {
        return Ok(Value::array(items.iter().rev().cloned().collect()));
    }
    if let Some(s) = v.as_str() {
        return Ok(Value::string(s.chars().rev().collect()));
    }
    fail("reverse() requires an array or string")
}

fn unique(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("unique() requires an array");
    };
    let mut seen = rustc_hash::FxHashSet::default();
    let mut out = Vec::new();
    for x in items {
        if seen.insert(display_key(x).into_owned()) {
            out.push(x.clone());
        }
    }
    Ok(Value::array(out))
}

fn zip(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(a), Some(b)) = (array_arg(args, 0), array_arg(args, 1)) else {
        return fail("zip() requires two arrays");
    };
    let out = a.iter().zip(b).map(|(x, y)| Value::array(vec![x.clone(), y.clone()])).collect();
    Ok(Value::array(out))
}

fn flatten(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("flatten() requires an array");
    };
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        match x.as_array() {
            Some(inner) => out.extend(inner.iter().cloned()),
            None => out.push(x.clone()),
        }
    }
    Ok(Value::array(out))
}

fn chunk(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(items), Some(size)) = (array_arg(args, 0), args.get(1).and_then(Value::as_int)) else {
        return fail("chunk() requires (array, size)");
    };
    if size <= 0 {
        return fail("chunk() size must be positive");
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::array(items.chunks(size).map(|c| Value::array(c.to_vec())).collect()))
}

/// The range `[start, end)` that `slice` selects from a sequence of `len` items, or
/// `None` when the result is empty. Negative indices count from the end.
pub(crate) fn slice_bounds(len: usize, start: Option<i64>, end: Option<i64>) -> Option<(usize, usize)> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let norm = |i: i64| if i < 0 { n.saturating_add(i).max(0) } else { i };
    let s = norm(start.unwrap_or(0));
    let e = norm(end.unwrap_or(n)).min(n);
    if s >= e || s >= n {
        None
    } else {
        Some((s as usize, e as usize))
    }
}

fn slice(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let start = args.get(1).and_then(Value::as_int);
    let end = args.get(2).and_then(Value::as_int);
    let v = args.first().cloned().unwrap_or_default();
    if let Some(items) = v.as_array() {
        let out = match slice_bounds(items.len(), start, end) {
            Some((s, e)) => items[s..e].to_vec(),
            None => Vec::new(),
        };
        return Ok(Value::array(out));
    }
    if let Some(text) = v.as_str() {
        let out: String = match slice_bounds(text.chars().count(), start, end) {
            Some((s, e)) => text.chars().skip(s).take(e - s).collect(),
            None => String::new(),
        };
        return Ok(Value::string(out));
    }
    fail("slice() requires an array or string as first argument")
}

/// The array and count of `take_n`/`skip`; a negative count means "very large".
fn array_and_count<'a>(args: &'a [Value], msg: &str) -> Result<(&'a [Value], usize)> {
    match (array_arg(args, 0), args.get(1).and_then(Value::as_int)) {
        (Some(items), Some(n)) => Ok((items, usize::try_from(n).unwrap_or(usize::MAX).min(items.len()))),
        _ => fail(msg),
    }
}

fn take_n(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, n) = array_and_count(args, "take() requires (array, count)")?;
    Ok(Value::array(items[..n].to_vec()))
}

fn skip(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (items, n) = array_and_count(args, "skip() requires (array, count)")?;
    Ok(Value::array(items[n..].to_vec()))
}

fn compact(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("compact() requires an array");
    };
    let keep = |x: &&Value| !(x.is_null() || x.is_none() || x.as_bool() == Some(false));
    Ok(Value::array(items.iter().filter(keep).cloned().collect()))
}

fn partition(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() < 2 {
        return fail("partition() requires an array and a function");
    }
    let Some(items) = args[0].as_array() else {
        return fail("partition() first arg must be an array");
    };
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for x in items {
        if truthy(&h.call(&args[1], std::slice::from_ref(x))?) {
            yes.push(x.clone());
        } else {
            no.push(x.clone());
        }
    }
    Ok(Value::array(vec![Value::array(yes), Value::array(no)]))
}

fn group_by(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if args.len() < 2 {
        return fail("group_by() requires (array, function)");
    }
    let Some(items) = args[0].as_array() else {
        return fail("group_by() first argument must be an array");
    };
    let mut groups: IndexMap<String, Vec<Value>> = IndexMap::new();
    for x in items {
        let k = h.call(&args[1], std::slice::from_ref(x))?;
        groups.entry(display_key(&k).into_owned()).or_default().push(x.clone());
    }
    let mut m = map_with_capacity(groups.len());
    for (k, xs) in groups {
        m.insert(Key::from_value(Value::string(k)), Value::array(xs));
    }
    Ok(Value::object(m))
}

fn frequencies(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("frequencies() requires an array");
    };
    let mut counts: IndexMap<String, i64> = IndexMap::new();
    for x in items {
        *counts.entry(display_key(x).into_owned()).or_default() += 1;
    }
    let mut m = map_with_capacity(counts.len());
    for (k, n) in counts {
        m.insert(Key::from_value(Value::string(k)), Value::int(n));
    }
    Ok(Value::object(m))
}

fn sum(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("sum() requires an array");
    };
    // The running total: an Int until a Float element or an overflow is met.
    let mut int_total: Option<i64> = Some(0);
    let mut float_total = 0.0f64;
    for x in items {
        match (int_total, x.as_int(), x.as_float()) {
            (Some(t), Some(i), _) => match t.checked_add(i) {
                Some(n) => int_total = Some(n),
                None => {
                    int_total = None;
                    float_total = t as f64 + i as f64;
                }
            },
            (Some(t), None, Some(f)) => {
                int_total = None;
                float_total = t as f64 + f;
            }
            (None, Some(i), _) => float_total += i as f64,
            (None, None, Some(f)) => float_total += f,
            _ => return fail("sum() requires array of numbers"),
        }
    }
    Ok(match int_total {
        Some(t) => Value::int(t),
        None => Value::float(float_total),
    })
}

/// `min_of` (`want_max = false`) and `max_of`: Int against Int stays Int; once a Float
/// takes part in a comparison the running result is a Float.
fn extreme(args: &[Value], name: &str, want_max: bool) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail(format!("{name}() requires an array"));
    };
    let Some(first) = items.first() else {
        return fail(format!("{name}() requires a non-empty array"));
    };
    if !items.iter().all(Value::is_number) {
        return fail(format!("{name}() requires array of numbers"));
    }
    let mut best = first.clone();
    for x in &items[1..] {
        if let (Some(a), Some(b)) = (best.as_int(), x.as_int()) {
            if (want_max && b > a) || (!want_max && b < a) {
                best = x.clone();
            }
        } else {
            let a = best.as_f64().unwrap_or(f64::NAN);
            let b = x.as_f64().unwrap_or(f64::NAN);
            let take_b = if want_max { b > a } else { b < a };
            best = Value::float(if take_b { b } else { a });
        }
    }
    Ok(best)
}

fn min_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    extreme(args, "min_of", false)
}

fn max_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    extreme(args, "max_of", true)
}

/// `sample(arr)` / `sample(arr, 1)`: one element; `sample(arr, n)`: up to `n` distinct
/// elements in random order. A non-Int `n` counts as absent.
fn sample(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("sample() requires an array");
    };
    if items.is_empty() {
        return Ok(Value::array(Vec::new()));
    }
    match args.get(1).and_then(Value::as_int) {
        None | Some(1) => Ok(items[fastrand::usize(..items.len())].clone()),
        Some(n) if n <= 0 => Ok(Value::array(Vec::new())),
        Some(n) => {
            let k = usize::try_from(n).unwrap_or(usize::MAX).min(items.len());
            // A partial Fisher–Yates shuffle of the indices picks k distinct elements.
            let mut idx: Vec<usize> = (0..items.len()).collect();
            for i in 0..k {
                let j = fastrand::usize(i..idx.len());
                idx.swap(i, j);
            }
            Ok(Value::array(idx[..k].iter().map(|&i| items[i].clone()).collect()))
        }
    }
}

fn shuffle(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args, 0) else {
        return fail("shuffle() requires an array");
    };
    let mut out = items.to_vec();
    fastrand::shuffle(&mut out);
    Ok(Value::array(out))
}

fn contains(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    const BAD: &str = "contains() requires (string, substring), (array, value), or (object, key)";
    let (Some(x), Some(item)) = (args.first(), args.get(1)) else {
        return fail(BAD);
    };
    match (x.kind(), item.as_str()) {
        (Kind::Str, Some(sub)) => Ok(Value::bool(x.as_str().unwrap_or("").contains(sub))),
        (Kind::Array, _) => {
            let want = display_key(item);
            let items = x.as_array().unwrap_or(&[]);
            Ok(Value::bool(items.iter().any(|e| display_key(e) == want)))
        }
        (Kind::Object, Some(k)) => Ok(Value::bool(x.as_object().is_some_and(|m| m.contains_key(k)))),
        _ => fail(BAD),
    }
}

/// The character index of a byte offset that lies on a character boundary.
pub(crate) fn char_index(s: &str, byte: usize) -> i64 {
    s.get(..byte).map(|p| p.chars().count() as i64).unwrap_or(-1)
}

fn index_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let v = args.first().cloned().unwrap_or_default();
    if let Some(s) = v.as_str() {
        let Some(sub) = args.get(1).and_then(Value::as_str) else {
            return fail("index_of() requires (string, substring)");
        };
        return Ok(Value::int(s.find(sub).map(|b| char_index(s, b)).unwrap_or(-1)));
    }
    if let Some(items) = v.as_array() {
        let Some(needle) = args.get(1) else {
            return fail("index_of() requires 2 arguments");
        };
        let pos = items.iter().position(|x| deep_equal(x, needle));
        return Ok(Value::int(pos.map(|p| p as i64).unwrap_or(-1)));
    }
    fail("index_of() requires a string or array as first argument")
}

/// Test support shared by the builtin test modules: a host that runs builtin
/// callbacks, fake user functions, and literal parsing.
#[cfg(test)]
pub(crate) mod testing {
    use crate::builtins::arg;
    use crate::error::{fail, Error, Result};
    use crate::host::Host;
    use crate::value::{Code, Function, ModuleEnv, NativeCode, Value};

    /// A host whose callbacks may be builtins or fake user functions (see [`func`]).
    pub struct TestHost {
        pub env: Value,
        /// The names of the fake user functions called so far.
        pub calls: Vec<String>,
    }

    impl Host for TestHost {
        fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value> {
            if let Some(i) = callee.builtin_index() {
                return crate::builtins::call(i, self, args);
            }
            if let Some(f) = callee.as_function() {
                let name = f.name.to_string();
                self.calls.push(name.clone());
                return match name.as_str() {
                    "boom" => fail("boom"),
                    "exit" => Err(Error::exit(3)),
                    "errval" => Ok(Value::err(Value::str("e"))),
                    "sub" => crate::ops::arith(crate::ops::Arith::Sub, &arg(args, 0), &arg(args, 1)),
                    "rsub" => crate::ops::arith(crate::ops::Arith::Sub, &arg(args, 1), &arg(args, 0)),
                    "fsub" => {
                        let d = arg(args, 0).as_f64().unwrap_or(0.0) - arg(args, 1).as_f64().unwrap_or(0.0);
                        Ok(Value::float(d / 10.0))
                    }
                    "say_hi" => {
                        crate::output::write("hi\n");
                        Ok(Value::NULL)
                    }
                    _ => Ok(Value::int(42)),
                };
            }
            fail(format!("cannot call {}", crate::ops::type_name(callee)))
        }

        fn env(&self) -> Value {
            self.env.clone()
        }
    }

    /// An empty module environment.
    pub fn empty_env() -> Value {
        let names: std::sync::Arc<[String]> = std::sync::Arc::from(Vec::<String>::new());
        Value::env(ModuleEnv::new(names, std::rc::Rc::from("test.fg")))
    }

    pub fn host() -> TestHost {
        TestHost { env: empty_env(), calls: Vec::new() }
    }

    /// A fake user function: the test host returns 42 when it is called, except for
    /// the names `boom` (raises `boom`), `exit` (exits with 3), `errval` (returns
    /// `Err("e")`), `sub`/`rsub` (`a - b` / `b - a`), `fsub` (`(a - b) / 10` as a
    /// Float) and `say_hi` (prints `hi`).
    pub fn func(name: &str, is_lambda: bool) -> Value {
        Value::function(Function {
            name: std::rc::Rc::from(name),
            is_lambda,
            code: Code::Native(NativeCode { entry: 0, fixed: None }),
            env: empty_env(),
            upvals: Box::new([]),
        })
    }

    /// The global builtin `name`.
    pub fn b(name: &str) -> Value {
        crate::builtins::lookup(name).unwrap_or_else(|| panic!("no builtin {name}"))
    }

    pub fn try_call_with(h: &mut TestHost, name: &str, args: &[Value]) -> Result<Value> {
        let i = b(name).builtin_index().expect("builtin");
        crate::builtins::call(i, h, args)
    }

    pub fn try_call(name: &str, args: &[Value]) -> Result<Value> {
        try_call_with(&mut host(), name, args)
    }

    /// Calls builtin `name`, panicking on an error.
    pub fn call(name: &str, args: &[Value]) -> Value {
        match try_call(name, args) {
            Ok(v) => v,
            Err(e) => panic!("{name} failed: {}", e.message()),
        }
    }

    /// Calls builtin `name` and returns its error message, panicking on success.
    pub fn call_err(name: &str, args: &[Value]) -> String {
        match try_call(name, args) {
            Ok(v) => panic!("{name} succeeded with {}", crate::display::display(&v)),
            Err(e) => e.message().to_string(),
        }
    }

    /// The display rendering.
    pub fn show(v: Value) -> String {
        crate::display::display(&v)
    }

    /// A value from JSON text (integers become Ints, other numbers Floats).
    pub fn j(text: &str) -> Value {
        let doc: serde_json::Value = serde_json::from_str(text).expect("test JSON");
        crate::stdlib::json::from_json(&doc)
    }

    pub fn s(text: &str) -> Value {
        Value::str(text)
    }

    pub fn i(n: i64) -> Value {
        Value::int(n)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{b, call, call_err, func, i, j, s, show, try_call};
    use crate::value::{Kind, Value};

    #[test]
    fn push_pop_first_last() {
        let a = j("[1, 2]");
        let pushed = call("push", &[a.clone(), i(3)]);
        assert_eq!(show(a.clone()), "[1, 2]");
        assert_eq!(show(pushed.clone()), "[1, 2, 3]");
        assert_eq!(show(call("pop", &[pushed])), "3");
        assert_eq!(show(call("pop", &[j("[]")])), "null");
        assert_eq!(call_err("push", std::slice::from_ref(&a)), "push() requires array and value");
        assert_eq!(call_err("push", &[i(1), i(2)]), "push() first argument must be array");
        assert_eq!(call_err("pop", &[i(1)]), "pop() requires array");
        assert_eq!(show(call("first", std::slice::from_ref(&a))), "1");
        assert_eq!(show(call("last", &[a])), "2");
        assert_eq!(show(call("first", &[j("[]")])), "null");
        assert_eq!(call_err("first", &[]), "first() requires an array");
        assert_eq!(call_err("last", &[s("x")]), "last() requires an array");
        // Frozen arrays are read like plain ones, and the result is not frozen.
        let f = j("[1]").freeze();
        let p = call("push", &[f.clone(), i(2)]);
        assert_eq!(show(p.clone()), "[1, 2]");
        assert!(!p.is_frozen());
        assert_eq!(show(f), "[1]");
    }

    #[test]
    fn ranges() {
        assert_eq!(show(call("range", &[i(5)])), "[0, 1, 2, 3, 4]");
        assert_eq!(show(call("range", &[i(2), i(5)])), "[2, 3, 4]");
        assert_eq!(show(call("range", &[i(5), i(2)])), "[]");
        assert_eq!(show(call("range", &[i(-3)])), "[]");
        assert_eq!(show(call("range", &[i(1), i(10), i(2)])), "[1, 3, 5, 7, 9]");
        assert_eq!(show(call("range", &[i(5), i(0), i(-1)])), "[5, 4, 3, 2, 1]");
        assert_eq!(show(call("range", &[i(i64::MAX - 1), i(i64::MAX), i(5)])), "[9223372036854775806]");
        assert_eq!(call_err("range", &[i(1), i(5), i(0)]), "range() step cannot be zero");
        assert_eq!(call_err("range", &[]), "range() requires integer arguments");
        assert_eq!(call_err("range", &[Value::float(1.0)]), "range() requires integer arguments");
        assert_eq!(call_err("range", &[i(1), s("5")]), "range() requires integer arguments");
    }

    #[test]
    fn enumerate_map_filter_reduce() {
        assert_eq!(
            show(call("enumerate", &[j(r#"["a", "b"]"#)])),
            r#"[{ "index": 0, "value": "a" }, { "index": 1, "value": "b" }]"#
        );
        assert_eq!(call_err("enumerate", &[i(1)]), "enumerate() requires array");
        assert_eq!(show(call("map", &[j(r#"["a", "bb"]"#), b("len")])), "[1, 2]");
        assert_eq!(call_err("map", &[j("[1]")]), "map() requires (array, function)");
        assert_eq!(call_err("map", &[i(1), b("len")]), "map() first argument must be array");
        assert_eq!(call_err("map", &[j("[1]"), i(3)]), "cannot call Int");
        assert_eq!(call_err("map", &[j("[1]"), b("len")]), "len() requires string, array, or object");
        assert_eq!(show(call("map", &[j("[]"), i(3)])), "[]");
        assert_eq!(show(call("filter", &[j(r#"["", "a", [], [0]]"#), b("len")])), "[a, [0]]");
        assert_eq!(call_err("filter", &[]), "filter() requires (array, function)");
        assert_eq!(call_err("filter", &[s("x"), b("len")]), "filter() first argument must be array");
        // reduce with a builtin of two parameters: push accumulates.
        assert_eq!(show(call("reduce", &[j("[1, 2]"), j("[]"), b("push")])), "[1, 2]");
        assert_eq!(show(call("reduce", &[j("[]"), i(7), b("push")])), "7");
        assert_eq!(call_err("reduce", &[j("[]"), i(7)]), "reduce() requires (array, initial, function)");
        assert_eq!(call_err("reduce", &[i(1), i(7), b("push")]), "reduce() first argument must be array");
    }

    #[test]
    fn for_each_find_flat_map_any_all() {
        assert_eq!(show(call("for_each", &[j("[\"a\"]"), b("len")])), "null");
        assert_eq!(call_err("for_each", &[j("[]")]), "for_each() requires (array, function)");
        assert_eq!(show(call("find", &[j(r#"["", "b", "c"]"#), b("len")])), "b");
        assert_eq!(show(call("find", &[j(r#"["", ""]"#), b("len")])), "null");
        assert_eq!(call_err("find", &[i(1), b("len")]), "find() requires (array, predicate_fn)");
        assert_eq!(show(call("flat_map", &[j("[[1, 2], [[3]], []]"), b("first")])), "[1, 3, null]");
        assert_eq!(show(call("flat_map", &[j("[[[1]], [[2, 3]]]"), b("first")])), "[1, 2, 3]");
        assert_eq!(call_err("flat_map", &[j("[]")]), "flat_map() requires (array, fn)");
        assert_eq!(show(call("any", &[j(r#"["", "a"]"#), b("len")])), "true");
        assert_eq!(show(call("any", &[j("[]"), b("len")])), "false");
        assert_eq!(show(call("all", &[j(r#"["b", "a"]"#), b("len")])), "true");
        assert_eq!(show(call("all", &[j(r#"["b", ""]"#), b("len")])), "false");
        assert_eq!(show(call("all", &[j("[]"), b("len")])), "true");
        // Short-circuit: the Int element after the decisive one is never passed to len.
        assert_eq!(show(call("any", &[j(r#"["a", 1]"#), b("len")])), "true");
        assert_eq!(show(call("all", &[j(r#"["", 1]"#), b("len")])), "false");
        assert_eq!(call_err("any", &[j("[]")]), "any() requires (array, predicate)");
        assert_eq!(call_err("all", &[i(1), b("len")]), "all() first argument must be an array");
    }

    #[test]
    fn sorting() {
        assert_eq!(show(call("sort", &[j("[3, 1, 2]")])), "[1, 2, 3]");
        assert_eq!(show(call("sort", &[j(r#"["b", "B", "a"]"#)])), "[B, a, b]");
        assert_eq!(show(call("sort", &[j("[3, 1.5, 2]")])), "[1.5, 2, 3]");
        assert_eq!(show(call("sort", &[j(r#"[3, "a", 1]"#)])), "[3, a, 1]");
        assert_eq!(call_err("sort", &[s("x")]), "sort() requires an array");
        // Comparator results: Bools count as 0, errors propagate.
        assert_eq!(show(call("sort", &[j("[2, 1, 3]"), b("is_some")])), "[2, 1, 3]");
        assert_eq!(show(call("sort", &[j("[2, 1, 3]"), func("sub", true)])), "[1, 2, 3]");
        assert_eq!(show(call("sort", &[j("[2, 1, 3]"), func("rsub", true)])), "[3, 2, 1]");
        assert_eq!(show(call("sort", &[j("[2, 1, 3]"), func("fsub", true)])), "[1, 2, 3]");
        assert_eq!(call_err("sort", &[j("[2, 1]"), func("boom", true)]), "boom");
        assert_eq!(call_err("sort", &[j("[2, 1]"), b("len")]), "len() requires string, array, or object");
        // A larger input exercises the merge phase and stability.
        let items: Vec<Value> = (0..100).map(|k| j(&format!("[{}, {}]", (k * 37) % 10, k))).collect();
        let sorted = call("sort_by", &[Value::array(items), b("first")]);
        let pairs: Vec<(i64, i64)> = sorted
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = p.as_array().unwrap();
                (p[0].as_int().unwrap(), p[1].as_int().unwrap())
            })
            .collect();
        let mut expected = pairs.clone();
        expected.sort();
        assert_eq!(pairs, expected);
        assert_eq!(show(call("sort_by", &[j(r#"["ccc", "a", "bb"]"#), b("len")])), "[a, bb, ccc]");
        assert_eq!(call_err("sort_by", &[j("[]")]), "sort_by() requires (array, key_function)");
        assert_eq!(call_err("sort_by", &[j("[1]"), b("len")]), "len() requires string, array, or object");
    }

    #[test]
    fn sort_indices_with_comparator() {
        let keys: Vec<i64> = (0..1000).map(|k| (k * 7919) % 101).collect();
        let order = super::sort_indices(keys.len(), &mut |a, b| Ok(keys[a] < keys[b])).unwrap();
        let mut expected: Vec<usize> = (0..keys.len()).collect();
        expected.sort_by_key(|&k| keys[k]);
        assert_eq!(order, expected);
        // An inconsistent comparator neither panics nor loses elements.
        let mut n = 0u32;
        let mut order = super::sort_indices(500, &mut |_, _| {
            n = n.wrapping_mul(1103515245).wrapping_add(12345);
            Ok(n & 1 == 0)
        })
        .unwrap();
        order.sort();
        assert_eq!(order, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn reverse_unique_zip_flatten_chunk() {
        assert_eq!(show(call("reverse", &[j("[1, 2, 3]")])), "[3, 2, 1]");
        assert_eq!(show(call("reverse", &[s("héllo")])), "olléh");
        assert_eq!(call_err("reverse", &[i(1)]), "reverse() requires an array or string");
        assert_eq!(show(call("unique", &[j(r#"[1, "1", 1.0, true, "true"]"#)])), "[1, true]");
        assert_eq!(call_err("unique", &[]), "unique() requires an array");
        assert_eq!(show(call("zip", &[j("[1, 2, 3]"), j(r#"["a", "b"]"#)])), "[[1, a], [2, b]]");
        assert_eq!(call_err("zip", &[j("[1]")]), "zip() requires two arrays");
        assert_eq!(show(call("flatten", &[j("[[1, 2], [3, [4]], 5]")])), "[1, 2, 3, [4], 5]");
        assert_eq!(call_err("flatten", &[i(1)]), "flatten() requires an array");
        assert_eq!(show(call("chunk", &[j("[1, 2, 3, 4, 5]"), i(2)])), "[[1, 2], [3, 4], [5]]");
        assert_eq!(show(call("chunk", &[j("[]"), i(3)])), "[]");
        assert_eq!(show(call("chunk", &[j("[1]"), i(i64::MAX)])), "[[1]]");
        assert_eq!(call_err("chunk", &[j("[1]"), i(0)]), "chunk() size must be positive");
        assert_eq!(call_err("chunk", &[j("[1]"), s("2")]), "chunk() requires (array, size)");
    }

    #[test]
    fn slices() {
        let a = || j("[1, 2, 3, 4, 5]");
        assert_eq!(show(call("slice", &[a(), i(1), i(3)])), "[2, 3]");
        assert_eq!(show(call("slice", &[a(), i(-2)])), "[4, 5]");
        assert_eq!(show(call("slice", &[a(), i(1), i(-1)])), "[2, 3, 4]");
        assert_eq!(show(call("slice", &[j("[1, 2, 3]"), i(2), i(1)])), "[]");
        assert_eq!(show(call("slice", &[a(), i(i64::MIN), i(i64::MAX)])), "[1, 2, 3, 4, 5]");
        assert_eq!(show(call("slice", &[a(), i(9)])), "[]");
        assert_eq!(show(call("slice", &[a(), Value::NULL, i(2)])), "[1, 2]");
        assert_eq!(show(call("slice", &[s("héllo"), i(1), i(3)])), "él");
        assert_eq!(show(call("slice", &[s("hello"), i(-3)])), "llo");
        assert_eq!(call_err("slice", &[i(3)]), "slice() requires an array or string as first argument");
        assert_eq!(show(call("take_n", &[a(), i(2)])), "[1, 2]");
        assert_eq!(show(call("take_n", &[a(), i(-1)])), "[1, 2, 3, 4, 5]");
        assert_eq!(show(call("take_n", &[a(), i(10)])), "[1, 2, 3, 4, 5]");
        assert_eq!(show(call("skip", &[a(), i(2)])), "[3, 4, 5]");
        assert_eq!(show(call("skip", &[a(), i(-1)])), "[]");
        assert_eq!(call_err("take_n", &[a()]), "take() requires (array, count)");
        assert_eq!(call_err("skip", &[s("x"), i(1)]), "skip() requires (array, count)");
    }

    #[test]
    fn compact_partition_group_frequencies() {
        let items =
            vec![i(0), i(1), Value::FALSE, Value::NULL, s(""), Value::NONE, Value::some(i(0)), j("[]"), Value::TRUE];
        assert_eq!(show(call("compact", &[Value::array(items)])), "[0, 1, , Some(0), [], true]");
        assert_eq!(call_err("compact", &[]), "compact() requires an array");
        assert_eq!(show(call("partition", &[j(r#"["a", "", "b"]"#), b("len")])), "[[a, b], []]");
        assert_eq!(call_err("partition", &[j("[]")]), "partition() requires an array and a function");
        assert_eq!(call_err("partition", &[i(1), b("len")]), "partition() first arg must be an array");
        assert_eq!(
            show(call("group_by", &[j(r#"["a", "bb", "c", "dd"]"#), b("len")])),
            r#"{ "1": ["a", "c"], "2": ["bb", "dd"] }"#
        );
        assert_eq!(call_err("group_by", &[j("[]")]), "group_by() requires (array, function)");
        assert_eq!(call_err("group_by", &[i(1), b("len")]), "group_by() first argument must be an array");
        assert_eq!(show(call("frequencies", &[j(r#"["a", "b", "a", 1, "1"]"#)])), r#"{ "a": 2, "b": 1, "1": 2 }"#);
        assert_eq!(call_err("frequencies", &[i(1)]), "frequencies() requires an array");
    }

    #[test]
    fn sums_and_extremes() {
        assert_eq!(show(call("sum", &[j("[1, 2, 3]")])), "6");
        assert_eq!(show(call("sum", &[j("[]")])), "0");
        assert_eq!(show(call("sum", &[j("[1, 2.5]")])), "3.5");
        let v = call("sum", &[j("[1.5, 2.5]")]);
        assert_eq!((show(v.clone()), v.kind()), ("4".to_string(), Kind::Float));
        let v = call("sum", &[Value::array(vec![i(i64::MAX), i(1), i(1)])]);
        assert_eq!((show(v.clone()), v.kind()), ("9223372036854776000".to_string(), Kind::Float));
        assert_eq!(call_err("sum", &[j(r#"[1, "2"]"#)]), "sum() requires array of numbers");
        assert_eq!(call_err("sum", &[i(1)]), "sum() requires an array");
        let v = call("min_of", &[j("[2, 1.0]")]);
        assert_eq!((show(v.clone()), v.kind()), ("1".to_string(), Kind::Float));
        assert_eq!(show(call("max_of", &[j("[1, 2.5, 2]")])), "2.5");
        let v = call("max_of", &[j("[3, 1, 2]")]);
        assert_eq!((show(v.clone()), v.kind()), ("3".to_string(), Kind::Int));
        assert_eq!(call_err("min_of", &[j("[]")]), "min_of() requires a non-empty array");
        assert_eq!(call_err("max_of", &[j("[1, null]")]), "max_of() requires array of numbers");
        assert_eq!(call_err("max_of", &[s("x")]), "max_of() requires an array");
    }

    #[test]
    fn random_choices() {
        let a = j("[1, 2, 3, 4, 5]");
        for _ in 0..20 {
            let one = call("sample", std::slice::from_ref(&a));
            assert!((1..=5).contains(&one.as_int().unwrap()));
            let one = call("sample", &[a.clone(), i(1)]);
            assert_eq!(one.kind(), Kind::Int);
            let three = call("sample", &[a.clone(), i(3)]);
            let mut got: Vec<i64> = three.as_array().unwrap().iter().map(|x| x.as_int().unwrap()).collect();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), 3);
            assert_eq!(call("sample", &[a.clone(), i(9)]).as_array().unwrap().len(), 5);
            let mut all: Vec<i64> = call("shuffle", std::slice::from_ref(&a))
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_int().unwrap())
                .collect();
            all.sort();
            assert_eq!(all, vec![1, 2, 3, 4, 5]);
        }
        assert_eq!(show(call("sample", &[j("[]")])), "[]");
        assert_eq!(show(call("sample", &[a.clone(), i(0)])), "[]");
        assert_eq!(show(call("sample", &[a, i(-4)])), "[]");
        assert_eq!(call_err("sample", &[]), "sample() requires an array");
        assert_eq!(call_err("shuffle", &[s("ab")]), "shuffle() requires an array");
    }

    #[test]
    fn contains_and_index_of() {
        assert_eq!(show(call("contains", &[s("hello"), s("ell")])), "true");
        assert_eq!(show(call("contains", &[s("hello"), s("")])), "true");
        assert_eq!(show(call("contains", &[j("[1, 2]"), s("2")])), "true");
        assert_eq!(show(call("contains", &[j(r#"["1"]"#), i(1)])), "true");
        assert_eq!(show(call("contains", &[j("[1]"), i(3)])), "false");
        assert_eq!(show(call("contains", &[j(r#"{"a": null}"#), s("a")])), "true");
        let msg = "contains() requires (string, substring), (array, value), or (object, key)";
        assert_eq!(call_err("contains", &[s("a"), i(1)]), msg);
        assert_eq!(call_err("contains", &[i(1), i(1)]), msg);
        assert_eq!(call_err("contains", &[j("{}"), i(1)]), msg);
        assert_eq!(show(call("index_of", &[s("hello world"), s("world")])), "6");
        assert_eq!(show(call("index_of", &[s("héllo"), s("l")])), "2");
        assert_eq!(show(call("index_of", &[s("abc"), s("z")])), "-1");
        assert_eq!(show(call("index_of", &[j("[1, 2, 3]"), s("2")])), "-1");
        assert_eq!(show(call("index_of", &[j("[1, 2, 3]"), i(2)])), "1");
        assert_eq!(show(call("index_of", &[j("[1.0]"), i(1)])), "-1");
        assert_eq!(call_err("index_of", &[s("abc"), i(1)]), "index_of() requires (string, substring)");
        assert_eq!(call_err("index_of", &[j("[]")]), "index_of() requires 2 arguments");
        assert_eq!(call_err("index_of", &[i(1), i(1)]), "index_of() requires a string or array as first argument");
    }

    #[test]
    fn callbacks_may_be_user_functions() {
        let r = try_call("map", &[j("[1, 2]"), func("f", true)]).unwrap();
        assert_eq!(show(r), "[42, 42]");
        assert_eq!(try_call("map", &[j("[1]"), func("boom", true)]).unwrap_err().message(), "boom");
    }
}
