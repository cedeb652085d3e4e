//! The C-ABI entry points that compiled code calls (`forge_abi::abi::RUNTIME`), and
//! the native side of a program: its context, its `Host`, and running a compiled
//! module.
//!
//! This is one of the two places in libforge with `unsafe` (the other is `value.rs`):
//! generated code hands over raw value words and pointers to static descriptors. Each
//! `unsafe` block states what the caller (generated code, whose shape the code
//! generator fixes) guarantees.

#![allow(clippy::missing_safety_doc)]

use std::mem::ManuallyDrop;

use forge_abi::abi::{CtxHead, ModuleDesc, ProtoDesc, SiteDesc, StrRef};
use forge_abi::layout as L;
use forge_abi::report::TraceLine;
use rustc_hash::FxHashMap;

use crate::display::write_display;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::ops::{self, Arith, Cmp};
use crate::value::{Code, Function, ModuleEnv, Value};

/// Nested calls allowed before `maximum recursion depth exceeded` (spec 03 §3.10).
pub const MAX_DEPTH: u32 = 512;

const DEPTH_MSG: &str =
    "maximum recursion depth exceeded (512 frames)\n  hint: check for infinite recursion, or restructure to use iteration";

/// The context of a native isolate. Generated code reads `head` directly.
#[repr(C)]
pub struct NativeCtx {
    pub head: CtxHead,
    /// The error being propagated, if any.
    pub error: Option<Error>,
    /// Standard module objects made on first use.
    modules: FxHashMap<String, Value>,
    /// Module environments, cleared at teardown (they form cycles with functions).
    envs: Vec<Value>,
}

impl Default for NativeCtx {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeCtx {
    pub fn new() -> NativeCtx {
        // The top level counts as depth 1, so MAX_DEPTH nested frames fit.
        NativeCtx {
            head: CtxHead { depth: 0, max_depth: MAX_DEPTH + 1 },
            error: None,
            modules: FxHashMap::default(),
            envs: Vec::new(),
        }
    }

    fn fail(&mut self, e: Error) -> u64 {
        self.error = Some(e);
        L::EXC_BITS
    }

    fn module_object(&mut self, name: &str) -> Value {
        if let Some(m) = self.modules.get(name) {
            return m.clone();
        }
        let m = crate::builtins::module_object(name);
        self.modules.insert(name.to_string(), m.clone());
        m
    }

    /// Drops what the isolate holds so that only leaked objects stay alive.
    pub fn teardown(&mut self) {
        self.modules.clear();
        for e in std::mem::take(&mut self.envs) {
            if let Some(env) = e.as_env() {
                env.clear();
            }
        }
        self.error = None;
    }
}

/// Converts a returned word into a result, taking the pending error on failure.
fn result_of(ctx: &mut NativeCtx, bits: u64) -> Result<Value> {
    if bits == L::EXC_BITS {
        Err(ctx.error.take().unwrap_or_else(|| Error::new("internal error: missing error")))
    } else {
        // SAFETY: a non-EXC word returned by generated code or an entry point is an
        // owned value.
        Ok(unsafe { Value::from_bits(bits) })
    }
}

/// Borrows a word as a value without taking ownership.
fn borrow(bits: &u64) -> ManuallyDrop<Value> {
    // SAFETY: the caller holds a reference for the duration of the call; wrapping the
    // word in ManuallyDrop never releases it.
    ManuallyDrop::new(unsafe { Value::from_bits(*bits) })
}

fn str_of(r: &StrRef) -> &'static str {
    if r.len == 0 {
        return "";
    }
    // SAFETY: StrRefs point to UTF-8 bytes in the executable's read-only data, written
    // by the code generator from Rust strings; they live as long as the program.
    unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(r.ptr, r.len)) }
}

/// The type of a compiled function's generic entry.
pub type Entry = unsafe extern "C" fn(*mut NativeCtx, u64, *const u64, u32) -> u64;

/// Calls any callable from Rust on the native tier.
pub fn call_value(ctx: &mut NativeCtx, f: &Value, args: &[Value]) -> Result<Value> {
    if let Some(func) = f.as_function() {
        if let Code::Native(entry) = func.code {
            // SAFETY: native closures are created by `forge_closure` from a ProtoDesc
            // whose entry is a generated function with the `Entry` signature.
            let entry: Entry = unsafe { std::mem::transmute::<usize, Entry>(entry) };
            let words: Vec<u64> = args.iter().map(|a| a.bits()).collect();
            // SAFETY: `args` stay alive (borrowed) for the whole call.
            let r = unsafe { entry(ctx as *mut NativeCtx, f.bits(), words.as_ptr(), words.len() as u32) };
            return result_of(ctx, r);
        }
        return crate::error::fail("cannot call interpreted code from a native program");
    }
    if let Some(i) = f.builtin_index() {
        ctx.head.depth += 1;
        let r = if ctx.head.depth > ctx.head.max_depth {
            Err(Error::new(DEPTH_MSG))
        } else {
            let mut host = NativeHost { ctx, env: Value::NULL };
            crate::builtins::call(i, &mut host, args)
        };
        ctx.head.depth -= 1;
        return r;
    }
    crate::error::fail(format!("cannot call {}", ops::type_name(f)))
}

/// The `Host` builtins see when called from native code.
pub struct NativeHost<'a> {
    pub ctx: &'a mut NativeCtx,
    pub env: Value,
}

impl Host for NativeHost<'_> {
    fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value> {
        call_value(self.ctx, callee, args)
    }

    fn env(&self) -> Value {
        self.env.clone()
    }
}

/// Creates the environment of a compiled module: builtin names start bound to their
/// builtins (as in the VM).
fn new_env(ctx: &mut NativeCtx, desc: &ModuleDesc) -> Value {
    let mut names = Vec::with_capacity(desc.n_globals);
    for i in 0..desc.n_globals {
        // SAFETY: `globals` points to `n_globals` StrRefs in static data.
        let r = unsafe { &*desc.globals.add(i) };
        names.push(str_of(r).to_string());
    }
    let names: std::sync::Arc<[String]> = names.into();
    let env = Value::env(ModuleEnv::new(names.clone(), str_of(&desc.file).into()));
    {
        let e = env.as_env().expect("env");
        let mut slots = e.slots.borrow_mut();
        for (i, n) in names.iter().enumerate() {
            if let Some(b) = crate::builtins::lookup(n) {
                slots[i] = b;
            } else if crate::builtins::is_module(n) {
                slots[i] = ctx.module_object(n);
            }
        }
    }
    ctx.envs.push(env.clone());
    env
}

fn closure_of(desc: &ProtoDesc, env: Value, upvals: Vec<Value>) -> Value {
    Value::function(Function {
        name: str_of(&desc.name).into(),
        is_lambda: desc.kind == 2 || desc.kind == 4,
        code: Code::Native(desc.entry as usize),
        env,
        upvals: upvals.into_boxed_slice(),
    })
}

/// Runs a compiled module's top level in a new environment.
pub fn run_module(ctx: &mut NativeCtx, desc: &ModuleDesc) -> Result<Value> {
    let env = new_env(ctx, desc);
    // SAFETY: `main` points to the module's first ProtoDesc in static data.
    let main = unsafe { &*desc.main };
    let f = closure_of(main, env, Vec::new());
    call_value(ctx, &f, &[])
}

/// The source text of a compiled module (for error excerpts).
pub fn module_source(desc: &ModuleDesc) -> (&'static str, &'static str) {
    (str_of(&desc.file), str_of(&desc.source))
}

// ----- entry points -----

#[no_mangle]
pub unsafe extern "C" fn forge_retain(v: u64) {
    let val = borrow(&v);
    std::mem::forget((*val).clone());
}

#[no_mangle]
pub unsafe extern "C" fn forge_release(v: u64) {
    // SAFETY: generated code gives up one reference it owns.
    drop(unsafe { Value::from_bits(v) });
}

#[no_mangle]
pub unsafe extern "C" fn forge_const_str(ptr: *const u8, len: i64) -> u64 {
    // SAFETY: the code generator passes the address and length of UTF-8 bytes.
    let s = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len as usize)) };
    Value::str(s).make_immortal().into_bits()
}

#[no_mangle]
pub extern "C" fn forge_const_int(i: i64) -> u64 {
    Value::int(i).make_immortal().into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_builtin(ctx: *mut NativeCtx, ptr: *const u8, len: i64) -> u64 {
    // SAFETY: ctx is the live context passed to the calling function; ptr/len as above.
    let (ctx, name) = unsafe { (&mut *ctx, std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len as usize))) };
    if let Some((m, member)) = name.split_once('.') {
        let obj = ctx.module_object(m);
        return match obj.as_object().and_then(|o| o.get(member).cloned()) {
            Some(v) => v.into_bits(),
            None => ctx.fail(Error::new(format!("{name} is not available in this build"))),
        };
    }
    if let Some(b) = crate::builtins::lookup(name) {
        return b.into_bits();
    }
    if crate::builtins::is_module(name) {
        return ctx.module_object(name).into_bits();
    }
    ctx.fail(Error::new(format!("undefined variable: '{name}'")))
}

fn arith_op(op: i32) -> Arith {
    match op {
        0 => Arith::Add,
        1 => Arith::Sub,
        2 => Arith::Mul,
        3 => Arith::Div,
        _ => Arith::Mod,
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_arith(ctx: *mut NativeCtx, op: i32, a: u64, b: u64) -> u64 {
    // SAFETY: ctx is the live context.
    let ctx = unsafe { &mut *ctx };
    match ops::arith(arith_op(op), &borrow(&a), &borrow(&b)) {
        Ok(v) => v.into_bits(),
        Err(e) => ctx.fail(e),
    }
}

fn compare(op: i32, a: &Value, b: &Value) -> Result<bool> {
    Ok(match op {
        0 => ops::equal(a, b),
        1 => !ops::equal(a, b),
        2 => ops::compare(Cmp::Lt, a, b)?,
        3 => ops::compare(Cmp::LtEq, a, b)?,
        4 => ops::compare(Cmp::Gt, a, b)?,
        _ => ops::compare(Cmp::GtEq, a, b)?,
    })
}

#[no_mangle]
pub unsafe extern "C" fn forge_compare(ctx: *mut NativeCtx, op: i32, a: u64, b: u64) -> u64 {
    // SAFETY: ctx is the live context.
    let ctx = unsafe { &mut *ctx };
    match compare(op, &borrow(&a), &borrow(&b)) {
        Ok(t) => Value::bool(t).into_bits(),
        Err(e) => ctx.fail(e),
    }
}

#[no_mangle]
pub extern "C" fn forge_compare_lenient(op: i32, a: u64, b: u64) -> u64 {
    let (a, b) = (borrow(&a), borrow(&b));
    let t = match op {
        0 => ops::equal(&a, &b),
        1 => !ops::equal(&a, &b),
        2 => ops::compare_lenient(Cmp::Lt, &a, &b),
        3 => ops::compare_lenient(Cmp::LtEq, &a, &b),
        4 => ops::compare_lenient(Cmp::Gt, &a, &b),
        _ => ops::compare_lenient(Cmp::GtEq, &a, &b),
    };
    Value::bool(t).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_neg(ctx: *mut NativeCtx, v: u64) -> u64 {
    // SAFETY: ctx is the live context.
    let ctx = unsafe { &mut *ctx };
    match ops::negate(&borrow(&v)) {
        Ok(v) => v.into_bits(),
        Err(e) => ctx.fail(e),
    }
}

#[no_mangle]
pub extern "C" fn forge_truthy(v: u64) -> i32 {
    ops::truthy(&borrow(&v)) as i32
}

fn env_of(closure: &Value) -> Value {
    closure.as_function().map(|f| f.env.clone()).unwrap_or_default()
}

/// `undefined variable: 'x'` with the hint computed as the VM does.
fn undefined(name: &str, env: &Value, site: &SiteDesc) -> Error {
    let mut locals: Vec<String> = Vec::with_capacity(site.n_locals);
    for i in 0..site.n_locals {
        // SAFETY: `locals` points to `n_locals` StrRefs in static data.
        locals.push(str_of(unsafe { &*site.locals.add(i) }).to_string());
    }
    match env.as_env() {
        Some(e) => crate::lang::env::undefined_variable(name, e, &locals),
        None => Error::new(format!("undefined variable: '{name}'")),
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_global_get(ctx: *mut NativeCtx, closure: u64, slot: i32, site: *const SiteDesc) -> u64 {
    // SAFETY: ctx is live; site points to a static SiteDesc.
    let (ctx, site) = unsafe { (&mut *ctx, &*site) };
    let env = env_of(&borrow(&closure));
    let Some(e) = env.as_env() else { return ctx.fail(Error::new("no module environment")) };
    let v = e.get(slot as usize);
    if v.is_undef() {
        let name = e.names[slot as usize].clone();
        return ctx.fail(undefined(&name, &env, site));
    }
    v.into_bits()
}

#[no_mangle]
pub extern "C" fn forge_global_get_opt(closure: u64, slot: i32) -> u64 {
    let env = env_of(&borrow(&closure));
    env.as_env().map(|e| e.get(slot as usize)).unwrap_or(Value::UNDEF).into_bits()
}

#[no_mangle]
pub extern "C" fn forge_global_set(closure: u64, slot: i32, v: u64) {
    let env = env_of(&borrow(&closure));
    if let Some(e) = env.as_env() {
        let old = e.set(slot as usize, (*borrow(&v)).clone());
        drop(old);
    }
}

#[no_mangle]
pub extern "C" fn forge_cell_new(v: u64) -> u64 {
    Value::cell((*borrow(&v)).clone()).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_cell_get(
    ctx: *mut NativeCtx,
    closure: u64,
    cell: u64,
    site: *const SiteDesc,
    name: *const u8,
    name_len: i64,
) -> u64 {
    let v = borrow(&cell).cell_get();
    if v.is_undef() && name_len >= 0 {
        // SAFETY: ctx is live; site and name point to static data.
        let (ctx, site, name) = unsafe {
            (&mut *ctx, &*site, std::str::from_utf8_unchecked(std::slice::from_raw_parts(name, name_len as usize)))
        };
        let env = env_of(&borrow(&closure));
        return ctx.fail(undefined(name, &env, site));
    }
    v.into_bits()
}

#[no_mangle]
pub extern "C" fn forge_cell_set(cell: u64, v: u64) {
    let old = borrow(&cell).cell_set((*borrow(&v)).clone());
    drop(old);
}

#[no_mangle]
pub extern "C" fn forge_upval(closure: u64, idx: i32) -> u64 {
    let c = borrow(&closure);
    c.as_function().and_then(|f| f.upvals.get(idx as usize).cloned()).unwrap_or_default().into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_call(ctx: *mut NativeCtx, f: u64, args: *const u64, n: i32) -> u64 {
    // SAFETY: ctx is live; args points to `n` borrowed words on the caller's stack.
    let (ctx, words) = unsafe { (&mut *ctx, std::slice::from_raw_parts(args, n as usize)) };
    let f = borrow(&f);
    if let Some(func) = f.as_function() {
        if let Code::Native(entry) = func.code {
            // SAFETY: as in `call_value`.
            let entry: Entry = unsafe { std::mem::transmute::<usize, Entry>(entry) };
            // SAFETY: the arguments stay borrowed for the call.
            return unsafe { entry(ctx as *mut NativeCtx, f.bits(), args, n as u32) };
        }
    }
    let argv: Vec<Value> = words.iter().map(|w| (*borrow(w)).clone()).collect();
    match call_value(ctx, &f, &argv) {
        Ok(v) => v.into_bits(),
        Err(e) => ctx.fail(e),
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_closure(
    _ctx: *mut NativeCtx,
    parent: u64,
    desc: *const ProtoDesc,
    n: i32,
    upvals: *const u64,
) -> u64 {
    // SAFETY: desc points to a static ProtoDesc; upvals to `n` borrowed cell words.
    let (desc, words) = unsafe { (&*desc, std::slice::from_raw_parts(upvals, n as usize)) };
    let env = env_of(&borrow(&parent));
    let cells = words.iter().map(|w| (*borrow(w)).clone()).collect();
    closure_of(desc, env, cells).into_bits()
}

#[no_mangle]
pub extern "C" fn forge_print(kind: i32, v: u64) {
    let mut s = crate::display::display(&borrow(&v));
    match kind {
        1 => s = s.to_uppercase(),
        2 => s = s.to_lowercase(),
        _ => {}
    }
    s.push('\n');
    crate::output::write(&s);
}

#[no_mangle]
pub unsafe extern "C" fn forge_array_new(ptr: *const u64, n: i32) -> u64 {
    // SAFETY: ptr points to `n` borrowed words.
    let words = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
    Value::array(words.iter().map(|w| (*borrow(w)).clone()).collect()).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_concat(ptr: *const u64, n: i32) -> u64 {
    // SAFETY: ptr points to `n` borrowed words.
    let words = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
    let mut s = String::new();
    for w in words {
        write_display(&mut s, &borrow(w));
    }
    Value::string(s).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_raise(ctx: *mut NativeCtx, ptr: *const u8, len: i64) -> u64 {
    // SAFETY: ctx is live; ptr/len are static UTF-8 bytes.
    let (ctx, msg) = unsafe { (&mut *ctx, std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len as usize))) };
    ctx.fail(Error::new(msg))
}

#[no_mangle]
pub unsafe extern "C" fn forge_trace_push(ctx: *mut NativeCtx, site: *const SiteDesc) {
    // SAFETY: ctx is live; site points to a static SiteDesc.
    let (ctx, site) = unsafe { (&mut *ctx, &*site) };
    let Some(e) = ctx.error.as_mut() else { return };
    let inner = e.inner_mut();
    let file = str_of(&site.file).to_string();
    if inner.pos.is_none() {
        inner.pos = Some((site.line, site.col));
        inner.file = Some(file.clone());
    }
    inner.trace.push(TraceLine { name: str_of(&site.trace_name).to_string(), file, line: site.line, col: site.col });
}

#[no_mangle]
pub unsafe extern "C" fn forge_error_take(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { &mut *ctx };
    match ctx.error.take() {
        Some(e) => e.to_value().into_bits(),
        None => Value::NULL.into_bits(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_error_catchable(ctx: *mut NativeCtx) -> i32 {
    // SAFETY: ctx is live.
    let ctx = unsafe { &*ctx };
    ctx.error.as_ref().is_some_and(|e| e.is_catchable()) as i32
}

#[no_mangle]
pub unsafe extern "C" fn forge_depth_error(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { &mut *ctx };
    ctx.fail(Error::new(DEPTH_MSG))
}

/// Every entry point with its address, for the JIT (which binds them by name) and for
/// the test that checks the table of `forge_abi::abi::RUNTIME` is complete.
pub fn exports() -> Vec<(&'static str, *const u8)> {
    macro_rules! e {
        ($($f:ident),* $(,)?) => { vec![$((stringify!($f), $f as *const u8)),*] };
    }
    e![
        forge_retain,
        forge_release,
        forge_const_str,
        forge_const_int,
        forge_builtin,
        forge_arith,
        forge_compare,
        forge_compare_lenient,
        forge_neg,
        forge_truthy,
        forge_global_get,
        forge_global_get_opt,
        forge_global_set,
        forge_cell_new,
        forge_cell_get,
        forge_cell_set,
        forge_upval,
        forge_call,
        forge_closure,
        forge_print,
        forge_array_new,
        forge_concat,
        forge_raise,
        forge_trace_push,
        forge_error_take,
        forge_error_catchable,
        forge_depth_error,
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_runtime_entry_is_exported() {
        let exported: Vec<&str> = super::exports().iter().map(|e| e.0).collect();
        for f in forge_abi::abi::RUNTIME {
            assert!(exported.contains(&f.name), "{} is in the ABI table but not exported", f.name);
        }
        assert_eq!(exported.len(), forge_abi::abi::RUNTIME.len(), "exports not in the ABI table");
    }
}
