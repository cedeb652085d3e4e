//! The C-ABI entry points that compiled code calls (`forge_abi::abi::RUNTIME`), and
//! the native side of a program: its context, its `Host`, and running a compiled
//! module.
//!
//! This is one of the two places in libforge with `unsafe` (the other is `value.rs`):
//! generated code hands over raw value words and pointers to static descriptors. Each
//! `unsafe` block states what the caller (generated code, whose shape the code
//! generator fixes) guarantees.
//!
//! The entry points are thin: what an instruction means is `crate::lang`, shared with
//! the VM, so that both tiers behave byte for byte the same. Conventions (borrowed
//! arguments, owned results, `EXC_BITS` on failure, roots updated in place) are those
//! documented at the top of `forge_abi::abi`.

#![allow(clippy::missing_safety_doc)]

use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use forge_abi::abi::{
    AdtDesc, CtxHead, ImplDesc, ImportDesc, InterfaceDesc, MatchDesc, ModuleDesc, PathDesc, ProtoDesc, SiteDesc,
    StrRef, StructDesc,
};
use forge_abi::layout as L;
use forge_abi::report::TraceLine;

use crate::error::{Error, Result};
use crate::host::Host;
use crate::lang::{self, access, control, dispatch, iter, matching, tasks, timers, types};
use crate::ops::{self, Arith, Cmp};
use crate::value::{new_map, Code, Detached, Function, Key, ModuleEnv, NativeCode, Value};

/// Nested calls allowed before `maximum recursion depth exceeded` (spec 03 §3.10).
pub const MAX_DEPTH: u32 = lang::misc::MAX_DEPTH as u32;

/// The context of a native isolate. Generated code reads `head` directly.
#[repr(C)]
pub struct NativeCtx {
    pub head: CtxHead,
    /// The error being propagated, if any.
    pub error: Option<Error>,
    /// Standard module objects made on first use.
    modules: lang::env::ModuleCache,
    /// Module environments, cleared at teardown (they form cycles with functions).
    envs: Vec<Value>,
    /// `schedule` blocks and `watch` watchers.
    timers: timers::Timers,
    /// Open `timeout` blocks, innermost last (they nest with the calls that open them).
    timeouts: Vec<control::Timeout>,
    /// Standalone decorators evaluated so far (kept as the VM keeps them).
    decorators: Vec<(String, Vec<Value>)>,
}

impl Default for NativeCtx {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeCtx {
    /// A fresh isolate. Also registers the native task runner, so that `spawn` in
    /// compiled code runs tasks on new native isolates.
    pub fn new() -> NativeCtx {
        tasks::set_task_runner(run_task);
        // The top level counts as depth 1, so MAX_DEPTH nested frames fit.
        NativeCtx {
            head: CtxHead { depth: 0, max_depth: MAX_DEPTH + 1, schedules: 0 },
            error: None,
            modules: lang::env::ModuleCache::new(),
            envs: Vec::new(),
            timers: timers::Timers::new(),
            timeouts: Vec::new(),
            decorators: Vec::new(),
        }
    }

    fn fail(&mut self, e: Error) -> u64 {
        self.error = Some(e);
        L::EXC_BITS
    }

    /// An owned result as a word, storing the error on failure.
    fn ret(&mut self, r: Result<Value>) -> u64 {
        match r {
            Ok(v) => v.into_bits(),
            Err(e) => self.fail(e),
        }
    }

    /// The word of an entry that yields nothing: `NULL_BITS`, or `EXC_BITS` on failure.
    fn status(&mut self, r: Result<()>) -> u64 {
        match r {
            Ok(()) => L::NULL_BITS,
            Err(e) => self.fail(e),
        }
    }

    /// Drops what the isolate holds so that only leaked objects stay alive.
    pub fn teardown(&mut self) {
        self.timers.clear();
        self.head.schedules = 0;
        self.decorators.clear();
        for _ in self.timeouts.drain(..) {
            crate::isolate::pop_deadline();
        }
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

/// A new reference to a borrowed word.
fn cloned(bits: u64) -> Value {
    (*borrow(&bits)).clone()
}

fn str_of(r: &StrRef) -> &'static str {
    if r.len == 0 {
        return "";
    }
    // SAFETY: StrRefs point to UTF-8 bytes in the executable's read-only data, written
    // by the code generator from Rust strings; they live as long as the program.
    unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(r.ptr, r.len)) }
}

/// The string at `ptr`/`len` in static data.
///
/// # Safety
/// `ptr` points to `len` bytes of UTF-8 in the program's static data.
unsafe fn static_str(ptr: *const u8, len: i64) -> &'static str {
    str_of(&StrRef { ptr, len: len as usize })
}

/// The `n` strings of a static `StrRef` array.
///
/// # Safety
/// `refs` points to `n` StrRefs in static data (or `n` is 0).
unsafe fn str_list(refs: *const StrRef, n: usize) -> Vec<&'static str> {
    // SAFETY: as the caller guarantees.
    (0..n).map(|i| str_of(unsafe { &*refs.add(i) })).collect()
}

/// `n` borrowed words as values.
///
/// # Safety
/// `ptr` points to `n` value words that stay alive during the borrow (or `n` is 0).
unsafe fn words<'a>(ptr: *const u64, n: usize) -> &'a [Value] {
    if n == 0 {
        return &[];
    }
    // SAFETY: `Value` is a transparent wrapper of its word; the slice is only read, so
    // no reference count changes hands.
    unsafe { std::slice::from_raw_parts(ptr as *const Value, n) }
}

/// The value a root slot (`*mut u64`) owns, for updating in place.
///
/// # Safety
/// `root` points to a stack slot holding an owned value word, exclusively ours for the
/// duration of the call.
unsafe fn root<'a>(root: *mut u64) -> &'a mut Value {
    // SAFETY: `Value` is a transparent wrapper of its word; the slot owns it, so
    // replacing the value through this reference releases the old one correctly.
    unsafe { &mut *(root as *mut Value) }
}

/// The context behind the pointer generated code passes.
///
/// # Safety
/// `ctx` is the live context of the running isolate (the first argument of every
/// compiled function).
unsafe fn cx<'a>(ctx: *mut NativeCtx) -> &'a mut NativeCtx {
    // SAFETY: as the caller guarantees; generated code never holds another reference
    // across the call.
    unsafe { &mut *ctx }
}

/// The module environment of a closure (an `Env` value, or null).
fn env_of(closure: &Value) -> Value {
    closure.as_function().map(|f| f.env.clone()).unwrap_or_default()
}

/// Runs `f` with the module environment of the closure word `closure`.
fn with_env<R>(closure: u64, f: impl FnOnce(&ModuleEnv) -> R) -> Option<R> {
    let c = borrow(&closure);
    let env = c.as_function().and_then(|func| func.env.as_env())?;
    Some(f(env))
}

fn no_env() -> Error {
    Error::new("internal error: no module environment")
}

/// The type of a compiled function's generic entry.
pub type Entry = unsafe extern "C" fn(*mut NativeCtx, u64, *const u64, u32) -> u64;

/// Calls any callable from Rust on the native tier. `env` is the module environment of
/// the calling code, which a builtin sees as [`Host::env`].
pub fn call_value(ctx: &mut NativeCtx, env: &Value, f: &Value, args: &[Value]) -> Result<Value> {
    if let Some(func) = f.as_function() {
        if let Code::Native(NativeCode { entry, .. }) = func.code {
            // SAFETY: native closures are created by `forge_closure` from a ProtoDesc
            // whose entry is a generated function with the `Entry` signature.
            let entry: Entry = unsafe { std::mem::transmute::<usize, Entry>(entry) };
            // SAFETY: `args` stay alive (borrowed) for the whole call; `Value` is a
            // transparent wrapper of its word.
            let r = unsafe { entry(ctx as *mut NativeCtx, f.bits(), args.as_ptr() as *const u64, args.len() as u32) };
            return result_of(ctx, r);
        }
        return crate::error::fail("cannot call interpreted code from a native program");
    }
    if let Some(i) = f.builtin_index() {
        // A running builtin counts towards the depth limit, as in the VM.
        ctx.head.depth += 1;
        let r = if ctx.head.depth > ctx.head.max_depth {
            Err(lang::misc::depth_exceeded())
        } else {
            let mut host = NativeHost { ctx, env: env.clone() };
            crate::builtins::call(i, &mut host, args)
        };
        ctx.head.depth -= 1;
        return r;
    }
    types::call_other(f, args.to_vec())
}

/// Runs the closures of due timers (a safe point).
fn run_due(ctx: &mut NativeCtx) -> Result<()> {
    for f in ctx.timers.take_due() {
        timers::timer_result(call_value(ctx, &Value::NULL, &f, &[]))?;
    }
    Ok(())
}

/// Sleeps `dur` (the `wait` builtin, `retry` back-off), running due timers meanwhile
/// as the VM does.
fn sleep(ctx: &mut NativeCtx, dur: Duration) -> Result<()> {
    if ctx.timers.is_empty() {
        return crate::host::sleep_cancellable(dur);
    }
    let end = Instant::now() + dur;
    loop {
        run_due(ctx)?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        let next = ctx.timers.next_due(end);
        crate::host::sleep_cancellable(next.saturating_duration_since(now))?;
    }
}

/// The `Host` builtins see when called from native code.
pub struct NativeHost<'a> {
    pub ctx: &'a mut NativeCtx,
    /// The module environment of the code that called the builtin.
    pub env: Value,
}

impl Host for NativeHost<'_> {
    fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value> {
        // A call back into Forge code from a builtin counts one more level, as in the VM.
        self.ctx.head.depth += 1;
        let r = call_value(self.ctx, &self.env, callee, args);
        self.ctx.head.depth -= 1;
        r
    }

    fn env(&self) -> Value {
        self.env.clone()
    }

    fn sleep(&mut self, dur: Duration) -> Result<()> {
        sleep(self.ctx, dur)
    }
}

/// Creates the environment of a compiled module (builtin names start bound, as in the
/// VM).
fn new_env(ctx: &mut NativeCtx, desc: &ModuleDesc) -> Value {
    // SAFETY: `globals` points to `n_globals` StrRefs in static data.
    let names: Vec<String> = unsafe { str_list(desc.globals, desc.n_globals) }.into_iter().map(String::from).collect();
    let env = lang::env::new_module_env(&names, str_of(&desc.file), &mut ctx.modules);
    ctx.envs.push(env.clone());
    env
}

fn closure_of(desc: &ProtoDesc, env: Value, upvals: Vec<Value>) -> Value {
    Value::function(Function {
        name: str_of(&desc.name).into(),
        is_lambda: desc.kind == 2 || desc.kind == 4,
        code: Code::Native(NativeCode {
            entry: desc.entry as usize,
            fixed: (!desc.fixed.is_null()).then_some((desc.fixed as usize, desc.n_params)),
        }),
        env,
        upvals: upvals.into_boxed_slice(),
    })
}

/// Runs a compiled module's top level in a new environment; returns the environment.
fn run_top_level(ctx: &mut NativeCtx, desc: &ModuleDesc) -> Result<Value> {
    let env = new_env(ctx, desc);
    // SAFETY: `main` points to the module's first ProtoDesc in static data.
    let main = unsafe { &*desc.main };
    let f = closure_of(main, env.clone(), Vec::new());
    call_value(ctx, &Value::NULL, &f, &[])?;
    Ok(env)
}

/// Runs a compiled module's top level in a new environment.
pub fn run_module(ctx: &mut NativeCtx, desc: &ModuleDesc) -> Result<Value> {
    run_top_level(ctx, desc).map(|_| Value::NULL)
}

/// The source text of a compiled module (for error excerpts).
pub fn module_source(desc: &ModuleDesc) -> (&'static str, &'static str) {
    (str_of(&desc.file), str_of(&desc.source))
}

/// `(file, source)` of a compiled module and of the modules it imports, depth first
/// (the order `lang::report::report` expects).
pub fn module_sources(desc: &ModuleDesc) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    collect_sources(desc, &mut out);
    out
}

fn collect_sources(desc: &ModuleDesc, out: &mut Vec<(&'static str, &'static str)>) {
    out.push(module_source(desc));
    for i in 0..desc.n_imports {
        // SAFETY: `imports` points to `n_imports` pointers to ModuleDescs in static data.
        let sub = unsafe { &**desc.imports.add(i) };
        collect_sources(sub, out);
    }
}

/// Runs a spawned task's closure on a fresh native isolate of the task's thread: the
/// native tier's side of [`tasks::spawn`], registered by [`NativeCtx::new`].
fn run_task(job: Detached) -> Detached {
    let f = job.attach();
    let mut ctx = NativeCtx::new();
    let result = tasks::task_result(call_value(&mut ctx, &Value::NULL, &f, &[]));
    let detached = result.detach();
    drop(result);
    drop(f);
    ctx.teardown();
    detached
}

// ----- entry points: memory, constants, operators -----

#[no_mangle]
pub extern "C" fn forge_retain(v: u64) {
    std::mem::forget(cloned(v));
}

#[no_mangle]
pub unsafe extern "C" fn forge_release(v: u64) {
    // SAFETY: generated code gives up one reference it owns.
    drop(unsafe { Value::from_bits(v) });
}

#[no_mangle]
pub unsafe extern "C" fn forge_const_str(ptr: *const u8, len: i64) -> u64 {
    // SAFETY: the code generator passes the address and length of UTF-8 bytes.
    let s = unsafe { static_str(ptr, len) };
    Value::str(s).make_immortal().into_bits()
}

#[no_mangle]
pub extern "C" fn forge_const_int(i: i64) -> u64 {
    Value::int(i).make_immortal().into_bits()
}

/// `LoadBuiltin`: a global builtin, a standard module or `module.member`.
#[no_mangle]
pub unsafe extern "C" fn forge_builtin(ctx: *mut NativeCtx, ptr: *const u8, len: i64) -> u64 {
    // SAFETY: ctx is the live context; ptr/len name static UTF-8 bytes.
    let (ctx, name) = unsafe { (cx(ctx), static_str(ptr, len)) };
    let r = lang::env::load_builtin(name, &mut ctx.modules);
    ctx.ret(r)
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
    let ctx = unsafe { cx(ctx) };
    let r = ops::arith(arith_op(op), &borrow(&a), &borrow(&b));
    ctx.ret(r)
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
    let ctx = unsafe { cx(ctx) };
    let r = compare(op, &borrow(&a), &borrow(&b)).map(Value::bool);
    ctx.ret(r)
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
    let ctx = unsafe { cx(ctx) };
    let r = ops::negate(&borrow(&v));
    ctx.ret(r)
}

#[no_mangle]
pub extern "C" fn forge_truthy(v: u64) -> i32 {
    ops::truthy(&borrow(&v)) as i32
}

// ----- variables -----

/// `undefined variable: 'x'` with the hint computed as the VM does.
fn undefined(name: &str, env: &ModuleEnv, site: &SiteDesc) -> Error {
    // SAFETY: `locals` points to `n_locals` StrRefs in static data.
    let locals: Vec<String> = unsafe { str_list(site.locals, site.n_locals) }.into_iter().map(String::from).collect();
    lang::env::undefined_variable(name, env, &locals)
}

#[no_mangle]
pub unsafe extern "C" fn forge_global_get(ctx: *mut NativeCtx, closure: u64, slot: i32, site: *const SiteDesc) -> u64 {
    // SAFETY: ctx is live; site points to a static SiteDesc.
    let (ctx, site) = unsafe { (cx(ctx), &*site) };
    let r = with_env(closure, |e| {
        let v = e.get(slot as usize);
        if v.is_undef() {
            return Err(undefined(&e.names[slot as usize], e, site));
        }
        Ok(v)
    });
    ctx.ret(r.unwrap_or_else(|| Err(no_env())))
}

#[no_mangle]
pub extern "C" fn forge_global_get_opt(closure: u64, slot: i32) -> u64 {
    with_env(closure, |e| e.get(slot as usize)).unwrap_or(Value::UNDEF).into_bits()
}

/// The word in global `slot`, borrowed (no count taken; UNDEF when unbound): for an
/// inline test of its kind right before the global is written.
#[no_mangle]
pub extern "C" fn forge_global_peek(closure: u64, slot: i32) -> u64 {
    with_env(closure, |e| e.slots.borrow().get(slot as usize).map_or(L::UNDEF_BITS, |v| v.bits()))
        .unwrap_or(L::UNDEF_BITS)
}

/// The word in a cell, borrowed (as `forge_global_peek`).
#[no_mangle]
pub extern "C" fn forge_cell_peek(cell: u64) -> u64 {
    borrow(&cell).cell_bits()
}

/// The word in the closure's upvalue cell `idx`, borrowed (as `forge_global_peek`).
#[no_mangle]
pub extern "C" fn forge_upval_peek(closure: u64, idx: i32) -> u64 {
    let c = borrow(&closure);
    match c.as_function().and_then(|f| f.upvals.get(idx as usize)) {
        Some(cell) => cell.cell_bits(),
        None => L::UNDEF_BITS,
    }
}

#[no_mangle]
pub extern "C" fn forge_global_set(closure: u64, slot: i32, v: u64) {
    let v = cloned(v);
    let old = with_env(closure, |e| e.set(slot as usize, v));
    drop(old);
}

/// Moves a global's value out (the slot reads as unbound until `forge_global_put`).
#[no_mangle]
pub extern "C" fn forge_global_take(closure: u64, slot: i32) -> u64 {
    with_env(closure, |e| e.set(slot as usize, Value::UNDEF)).unwrap_or(Value::UNDEF).into_bits()
}

/// Moves a value (consumed) back into a global.
#[no_mangle]
pub unsafe extern "C" fn forge_global_put(closure: u64, slot: i32, v: u64) {
    // SAFETY: generated code hands over the reference it took with forge_global_take.
    let v = unsafe { Value::from_bits(v) };
    let old = with_env(closure, |e| e.set(slot as usize, v));
    drop(old);
}

#[no_mangle]
pub extern "C" fn forge_cell_new(v: u64) -> u64 {
    Value::cell(cloned(v)).into_bits()
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
    // SAFETY: as this function's caller guarantees.
    unsafe { cell_value(ctx, closure, &borrow(&cell), site, name, name_len) }
}

/// The value in closure cell `cell`, or the `undefined variable` error for `name`
/// (`name_len < 0`: no check) while the variable is not bound yet.
///
/// # Safety
/// `ctx` is live; `site` and `name` point to static data.
unsafe fn cell_value(
    ctx: *mut NativeCtx,
    closure: u64,
    cell: &Value,
    site: *const SiteDesc,
    name: *const u8,
    name_len: i64,
) -> u64 {
    let v = cell.cell_get();
    if v.is_undef() && name_len >= 0 {
        // SAFETY: ctx is live; site and name point to static data.
        let (ctx, site, name) = unsafe { (cx(ctx), &*site, static_str(name, name_len)) };
        let e = with_env(closure, |e| undefined(name, e, site)).unwrap_or_else(no_env);
        return ctx.fail(e);
    }
    v.into_bits()
}

/// `GetUpval`: the content of the closure's upvalue cell `idx` (one call instead of
/// `forge_upval` + `forge_cell_get` + a release of the cell).
#[no_mangle]
pub unsafe extern "C" fn forge_upval_get(
    ctx: *mut NativeCtx,
    closure: u64,
    idx: i32,
    site: *const SiteDesc,
    name: *const u8,
    name_len: i64,
) -> u64 {
    let c = borrow(&closure);
    let Some(cell) = c.as_function().and_then(|f| f.upvals.get(idx as usize)) else {
        // SAFETY: ctx is live.
        return unsafe { cx(ctx) }.fail(Error::new("internal error: no such upvalue"));
    };
    // SAFETY: as this function's caller guarantees.
    unsafe { cell_value(ctx, closure, cell, site, name, name_len) }
}

/// `SetUpval`: stores a copy of `v` in the closure's upvalue cell `idx`.
#[no_mangle]
pub extern "C" fn forge_upval_set(closure: u64, idx: i32, v: u64) {
    let c = borrow(&closure);
    if let Some(cell) = c.as_function().and_then(|f| f.upvals.get(idx as usize)) {
        let old = cell.cell_set(cloned(v));
        drop(old);
    }
}

#[no_mangle]
pub extern "C" fn forge_cell_set(cell: u64, v: u64) {
    let old = borrow(&cell).cell_set(cloned(v));
    drop(old);
}

/// Moves a cell's content out (the cell reads as unbound until `forge_cell_put`).
#[no_mangle]
pub extern "C" fn forge_cell_take(cell: u64) -> u64 {
    borrow(&cell).cell_set(Value::UNDEF).into_bits()
}

/// Moves a value (consumed) back into a cell.
#[no_mangle]
pub unsafe extern "C" fn forge_cell_put(cell: u64, v: u64) {
    // SAFETY: generated code hands over the reference it took with forge_cell_take.
    let v = unsafe { Value::from_bits(v) };
    drop(borrow(&cell).cell_set(v));
}

#[no_mangle]
pub extern "C" fn forge_upval(closure: u64, idx: i32) -> u64 {
    let c = borrow(&closure);
    c.as_function().and_then(|f| f.upvals.get(idx as usize).cloned()).unwrap_or_default().into_bits()
}

// ----- in-place updates of a variable -----

/// The variable name of a path.
///
/// # Safety
/// `path` points to a PathDesc in static data.
unsafe fn path_name(path: *const PathDesc) -> &'static str {
    // SAFETY: as the caller guarantees.
    str_of(unsafe { &(*path).name })
}

/// `SetPath`: `name.steps… = v` on the root in `slot`; index steps take their value
/// from `idx` (same positions as the steps).
#[no_mangle]
pub unsafe extern "C" fn forge_set_path(
    ctx: *mut NativeCtx,
    slot: *mut u64,
    path: *const PathDesc,
    idx: *const u64,
    v: u64,
) -> u64 {
    // SAFETY: ctx is live; path points to a static PathDesc whose steps array has
    // `n_steps` entries; idx points to as many words, live where a step is an index.
    let (ctx, path) = unsafe { (cx(ctx), &*path) };
    let step = |i: usize| {
        // SAFETY: as above.
        let s = unsafe { &*path.steps.add(i) };
        if s.ptr.is_null() {
            // SAFETY: as above.
            access::PathStep::Index(cloned(unsafe { *idx.add(i) }))
        } else {
            access::PathStep::Field(str_of(s))
        }
    };
    // One step (`m[k] = v`, `o.f = v`) needs no vector.
    let one;
    let many: Vec<_>;
    let steps: &[access::PathStep<'_>] = if path.n_steps == 1 {
        one = [step(0)];
        &one
    } else {
        many = (0..path.n_steps).map(step).collect();
        &many
    };
    let v = cloned(v);
    // SAFETY: slot is a root slot of the calling code.
    let r = access::set_path(unsafe { root(slot) }, str_of(&path.name), steps, v);
    ctx.status(r)
}

/// `PushPop`: in-place `push` (of `arg`) or `pop` on the root in `slot`. `mode` 0
/// pushes and returns the array, 1 pops and returns the element, 2 pushes and returns
/// `null` (for `a = push(a, v)`, where the result is the variable's own value).
#[no_mangle]
pub unsafe extern "C" fn forge_push_pop(
    ctx: *mut NativeCtx,
    slot: *mut u64,
    path: *const PathDesc,
    arg: u64,
    mode: i32,
) -> u64 {
    // The common case first, without the variable's name or a `Result`: a push onto
    // an array that may change (the errors take the general path).
    if mode != 1 {
        // SAFETY: slot is a root slot.
        let root = unsafe { root(slot) };
        if access::push_in_place(root, cloned(arg)).is_ok() {
            return if mode == 2 { L::NULL_BITS } else { root.clone().into_bits() };
        }
    }
    // SAFETY: ctx is live; path points to a static PathDesc; slot is a root slot.
    let (ctx, name, root) = unsafe { (cx(ctx), path_name(path), root(slot)) };
    if mode == 1 {
        return ctx.ret(access::pop(root, name));
    }
    let r = access::push(root, name, cloned(arg));
    if mode == 2 {
        return ctx.status(r.map(drop));
    }
    ctx.ret(r)
}

/// `AppendVar`: `name = name + v` in place on the root in `slot`.
#[no_mangle]
pub unsafe extern "C" fn forge_append(ctx: *mut NativeCtx, slot: *mut u64, path: *const PathDesc, v: u64) -> u64 {
    // The common case first: a String grows by a String (a distinct object: the
    // variable's own word is never appended to itself in place). Everything else is
    // out of line, so that this path saves few registers.
    // SAFETY: slot is a root slot.
    let root = unsafe { root(slot) };
    let y = borrow(&v);
    if root.bits() != v {
        if let Some(t) = y.as_str() {
            if let Some(s) = root.string_mut() {
                s.push_str(t);
                return L::NULL_BITS;
            }
        }
    }
    // SAFETY: as the caller's.
    unsafe { append_general(ctx, slot, path, v) }
}

/// [`forge_append`] for anything but a String appended to a String.
#[cold]
#[inline(never)]
unsafe fn append_general(ctx: *mut NativeCtx, slot: *mut u64, path: *const PathDesc, v: u64) -> u64 {
    // SAFETY: ctx is live; path points to a static PathDesc; slot is a root slot.
    let (ctx, name, root) = unsafe { (cx(ctx), path_name(path), root(slot)) };
    let v = cloned(v);
    let r = access::append(root, name, &v);
    ctx.status(r)
}

/// `ArrayExtend`: spreads `v` into the array literal in `slot`.
#[no_mangle]
pub unsafe extern "C" fn forge_array_extend(slot: *mut u64, v: u64) {
    let v = cloned(v);
    // SAFETY: slot is a root slot holding the array under construction.
    access::array_extend(unsafe { root(slot) }, v);
}

/// `ObjInsert`: an entry of the object literal in `slot`.
#[no_mangle]
pub unsafe extern "C" fn forge_obj_insert(slot: *mut u64, key: *const u8, len: i64, v: u64) {
    let v = cloned(v);
    // SAFETY: slot is a root slot; key/len are static UTF-8 bytes.
    let (obj, key) = unsafe { (root(slot), static_str(key, len)) };
    if let Some(m) = obj.object_mut() {
        m.insert(Key::new(key), v);
    }
}

/// `ObjInsert` with the key as a string value (the site's immortal constant, borrowed):
/// the object shares it instead of allocating a new key on every insert.
#[no_mangle]
pub unsafe extern "C" fn forge_obj_insert_key(slot: *mut u64, key: u64, v: u64) {
    let v = cloned(v);
    let key = cloned(key);
    // SAFETY: slot is a root slot.
    let obj = unsafe { root(slot) };
    if key.as_str().is_none() {
        return;
    }
    if let Some(m) = obj.object_mut() {
        m.insert(Key::from_value(key), v);
    }
}

/// `FinishStruct`: tags the struct literal in `slot`.
#[no_mangle]
pub unsafe extern "C" fn forge_struct_finish(slot: *mut u64, name: *const u8, len: i64) {
    // SAFETY: slot is a root slot; name/len are static UTF-8 bytes.
    let (obj, name) = unsafe { (root(slot), static_str(name, len)) };
    types::finish_struct(obj, name);
}

// ----- calls and closures -----

/// `Call`: calls `f` with `n` borrowed arguments; `caller` is the calling closure
/// (whose module environment builtins see).
#[no_mangle]
pub unsafe extern "C" fn forge_call(ctx: *mut NativeCtx, caller: u64, f: u64, args: *const u64, n: i32) -> u64 {
    let fv = borrow(&f);
    if let Some(func) = fv.as_function() {
        if let Code::Native(NativeCode { entry, .. }) = func.code {
            // SAFETY: as in `call_value`.
            let entry: Entry = unsafe { std::mem::transmute::<usize, Entry>(entry) };
            // SAFETY: ctx is live; the arguments stay borrowed for the call.
            return unsafe { entry(ctx, f, args, n as u32) };
        }
    }
    // SAFETY: ctx is live; args points to `n` borrowed words on the caller's stack.
    let (ctx, argv) = unsafe { (cx(ctx), words(args, n as usize)) };
    let env = env_of(&borrow(&caller));
    let r = call_value(ctx, &env, &fv, argv);
    ctx.ret(r)
}

/// `CallMethod`: `recv.name(args)`, resolved by the shared dispatch rules in the
/// caller's module environment, then called like any value.
#[no_mangle]
pub unsafe extern "C" fn forge_call_method(
    ctx: *mut NativeCtx,
    caller: u64,
    recv: u64,
    name: *const u8,
    len: i64,
    args: *const u64,
    n: i32,
) -> u64 {
    // SAFETY: ctx is live; name/len are static UTF-8 bytes; args points to `n`
    // borrowed words.
    let (ctx, name, argv) = unsafe { (cx(ctx), static_str(name, len), words(args, n as usize)) };
    let env = env_of(&borrow(&caller));
    let Some(e) = env.as_env() else { return ctx.fail(no_env()) };
    let resolved = {
        let mut host = NativeHost { ctx: &mut *ctx, env: env.clone() };
        dispatch::resolve_method(&mut host, e, cloned(recv), name, argv.to_vec())
    };
    let r = match resolved {
        Ok(dispatch::Dispatch::Call { callee, args }) => call_value(ctx, &env, &callee, &args),
        Ok(dispatch::Dispatch::Done(v)) => Ok(v),
        Err(e) => Err(e),
    };
    ctx.ret(r)
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
    let (desc, cells) = unsafe { (&*desc, words(upvals, n as usize)) };
    let env = env_of(&borrow(&parent));
    closure_of(desc, env, cells.to_vec()).into_bits()
}

// ----- output and strings -----

#[no_mangle]
pub extern "C" fn forge_print(kind: i32, v: u64) {
    let how = match kind {
        1 => lang::misc::Print::Yell,
        2 => lang::misc::Print::Whisper,
        _ => lang::misc::Print::Say,
    };
    lang::misc::print(how, &borrow(&v));
}

#[no_mangle]
pub unsafe extern "C" fn forge_array_new(ptr: *const u64, n: i32) -> u64 {
    // SAFETY: ptr points to `n` borrowed words.
    let items = unsafe { words(ptr, n as usize) };
    Value::array(items.to_vec()).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_concat(ptr: *const u64, n: i32) -> u64 {
    // SAFETY: ptr points to `n` borrowed words.
    let parts = unsafe { words(ptr, n as usize) };
    lang::misc::concat(parts).into_bits()
}

// ----- objects, fields and indexing -----

#[no_mangle]
pub extern "C" fn forge_object_new() -> u64 {
    Value::object(new_map()).into_bits()
}

/// `NewStruct`: a struct literal's recorded defaults, from the closure's module.
#[no_mangle]
pub unsafe extern "C" fn forge_struct_new(closure: u64, name: *const u8, len: i64) -> u64 {
    // SAFETY: name/len are static UTF-8 bytes.
    let name = unsafe { static_str(name, len) };
    with_env(closure, |e| types::new_struct(e, name)).unwrap_or_default().into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_get_field(
    ctx: *mut NativeCtx,
    closure: u64,
    obj: u64,
    name: *const u8,
    len: i64,
) -> u64 {
    // SAFETY: ctx is live; name/len are static UTF-8 bytes.
    let (ctx, name) = unsafe { (cx(ctx), static_str(name, len)) };
    let r = with_env(closure, |e| access::get_field(e, &borrow(&obj), name)).unwrap_or_else(|| Err(no_env()));
    ctx.ret(r)
}

#[no_mangle]
pub unsafe extern "C" fn forge_get_index(ctx: *mut NativeCtx, obj: u64, idx: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = access::get_index(&borrow(&obj), &borrow(&idx));
    ctx.ret(r)
}

#[no_mangle]
pub unsafe extern "C" fn forge_check_destructure(ctx: *mut NativeCtx, v: u64, array: i32) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = access::check_destructure(&borrow(&v), array != 0);
    ctx.status(r)
}

#[no_mangle]
pub unsafe extern "C" fn forge_get_key_or(obj: u64, name: *const u8, len: i64) -> u64 {
    // SAFETY: name/len are static UTF-8 bytes.
    let name = unsafe { static_str(name, len) };
    access::destructure_key(&borrow(&obj), name).into_bits()
}

#[no_mangle]
pub extern "C" fn forge_array_at(arr: u64, i: i32) -> u64 {
    access::destructure_at(&borrow(&arr), i as usize).into_bits()
}

#[no_mangle]
pub extern "C" fn forge_array_rest(arr: u64, skip: i32) -> u64 {
    access::destructure_rest(&borrow(&arr), skip as usize).into_bits()
}

// ----- iteration -----

#[no_mangle]
pub unsafe extern "C" fn forge_for_prep(ctx: *mut NativeCtx, v: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = iter::for_prep(&borrow(&v));
    ctx.status(r)
}

/// `ForNext`: step `i` of a loop over `coll`. Returns 1 and writes the bound value(s)
/// (owned) to `out[0]` (and `out[1]` with two names), or 0 when the loop is over.
#[no_mangle]
pub unsafe extern "C" fn forge_for_next(coll: u64, i: i64, two: i32, out: *mut u64) -> i32 {
    let vars = if two != 0 { iter::ForVars::Two } else { iter::ForVars::One };
    match iter::for_next(&borrow(&coll), i as usize, vars) {
        None => 0,
        Some((a, b)) => {
            // SAFETY: out points to two writable words of the caller's stack.
            unsafe {
                *out = a.into_bits();
                *out.add(1) = b.unwrap_or_default().into_bits();
            }
            1
        }
    }
}

/// The elements of array `coll` for a `for` loop over it: their address, with their
/// number in `*len`; 0 when `coll` is not an array. The loop's state register holds a
/// reference to the array for the whole loop and an array is copied before it is
/// changed while shared, so the elements stay where they are until the loop ends.
#[no_mangle]
pub unsafe extern "C" fn forge_array_items(coll: u64, len: *mut i64) -> usize {
    match borrow(&coll).as_array() {
        Some(items) => {
            // SAFETY: len points to a writable word of the caller's stack.
            unsafe { *len = items.len() as i64 };
            items.as_ptr() as usize
        }
        None => 0,
    }
}

// ----- results, tasks and other unary operations -----

#[no_mangle]
pub unsafe extern "C" fn forge_must(ctx: *mut NativeCtx, v: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = control::must(cloned(v));
    ctx.ret(r)
}

/// `Question`: `v?`. On success `*ret` is 0 and the result is the value to continue
/// with, or `*ret` is 1 and the result is the value to return from the function.
#[no_mangle]
pub unsafe extern "C" fn forge_question(ctx: *mut NativeCtx, v: u64, top_level: i32, ret: *mut u64) -> u64 {
    // SAFETY: ctx is live; ret points to a writable word of the caller's stack.
    let (ctx, ret) = unsafe { (cx(ctx), &mut *ret) };
    match control::question(cloned(v), top_level != 0) {
        Ok(control::Propagate::Continue(x)) => {
            *ret = 0;
            x.into_bits()
        }
        Ok(control::Propagate::Return(x)) => {
            *ret = 1;
            x.into_bits()
        }
        Err(e) => ctx.fail(e),
    }
}

#[no_mangle]
pub extern "C" fn forge_await(v: u64) -> u64 {
    tasks::await_value(cloned(v)).into_bits()
}

#[no_mangle]
pub extern "C" fn forge_freeze(v: u64) -> u64 {
    cloned(v).freeze().into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_ask(ctx: *mut NativeCtx, v: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = lang::misc::ask(&borrow(&v));
    ctx.ret(r)
}

#[no_mangle]
pub unsafe extern "C" fn forge_spawn(ctx: *mut NativeCtx, f: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = tasks::spawn(&borrow(&f));
    ctx.ret(r)
}

/// `Check` of kind `kind` (the order of `ir::CheckKind`) on `args[0]`, with its
/// operands in the following words.
#[no_mangle]
pub unsafe extern "C" fn forge_check(ctx: *mut NativeCtx, kind: i32, args: *const u64) -> u64 {
    let n = match kind {
        3 => 3,
        4 => 2,
        _ => 1,
    };
    // SAFETY: ctx is live; args points to the borrowed words the kind needs.
    let (ctx, a) = unsafe { (cx(ctx), words(args, n)) };
    let how = match kind {
        0 => control::Check::Truthy,
        1 => control::Check::Empty,
        2 => control::Check::NotEmpty,
        3 => control::Check::Between { lo: &a[1], hi: &a[2] },
        _ => control::Check::Contains(&a[1]),
    };
    let r = control::check(&a[0], how);
    ctx.status(r)
}

// ----- pattern tests of `match` -----

#[no_mangle]
pub unsafe extern "C" fn forge_test_variant(v: u64, name: *const u8, len: i64) -> i32 {
    // SAFETY: name/len are static UTF-8 bytes.
    let name = unsafe { static_str(name, len) };
    matching::test_variant(&borrow(&v), name) as i32
}

#[no_mangle]
pub extern "C" fn forge_variant_field(v: u64, i: i32) -> u64 {
    matching::variant_field(&borrow(&v), i as u16).into_bits()
}

/// `TestLiteral`: `kind` 0 is an Int (`payload`), 1 a Float (`payload` holds its
/// bits), 2 a String (`ptr`/`len`).
#[no_mangle]
pub unsafe extern "C" fn forge_test_literal(v: u64, kind: i32, payload: i64, ptr: *const u8, len: i64) -> i32 {
    let lit = match kind {
        0 => matching::Literal::Int(payload),
        1 => matching::Literal::Float(f64::from_bits(payload as u64)),
        // SAFETY: ptr/len are static UTF-8 bytes.
        _ => matching::Literal::Str(unsafe { static_str(ptr, len) }),
    };
    matching::test_literal(&borrow(&v), lit) as i32
}

#[no_mangle]
pub unsafe extern "C" fn forge_test_ident(subject: u64, binding: u64, name: *const u8, len: i64) -> i32 {
    // SAFETY: name/len are static UTF-8 bytes.
    let name = unsafe { static_str(name, len) };
    matching::test_ident(&borrow(&subject), &borrow(&binding), name) as i32
}

#[no_mangle]
pub unsafe extern "C" fn forge_match_exhaustive(
    ctx: *mut NativeCtx,
    closure: u64,
    subject: u64,
    desc: *const MatchDesc,
) -> u64 {
    // SAFETY: ctx is live; desc points to a static MatchDesc.
    let (ctx, d) = unsafe { (cx(ctx), &*desc) };
    // SAFETY: the MatchDesc's arrays hold the counts it gives.
    let (named, idents) = unsafe { (str_list(d.named, d.n_named), str_list(d.idents, d.n_idents)) };
    let named: Vec<String> = named.into_iter().map(String::from).collect();
    let idents: Vec<String> = idents.into_iter().map(String::from).collect();
    let r =
        with_env(closure, |e| matching::check_exhaustive(e, &borrow(&subject), &named, &idents, d.has_wildcard != 0))
            .unwrap_or_else(|| Err(no_env()));
    ctx.status(r)
}

// ----- definitions and imports -----

/// `DefStruct`: the defaults are `n_defaults` borrowed words at `defaults`.
#[no_mangle]
pub unsafe extern "C" fn forge_def_struct(closure: u64, desc: *const StructDesc, defaults: *const u64) -> u64 {
    // SAFETY: desc points to a static StructDesc whose arrays hold the counts it gives;
    // defaults points to `n_defaults` borrowed words.
    let (d, names, vals, embeds) = unsafe {
        let d = &*desc;
        (d, str_list(d.defaults, d.n_defaults), words(defaults, d.n_defaults), str_list(d.embeds, d.n_embeds * 2))
    };
    let defaults = names.iter().zip(vals).map(|(n, v)| (n.to_string(), v.clone())).collect();
    let embeds: Vec<(String, String)> = embeds.chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect();
    let name = str_of(&d.name);
    with_env(closure, |e| types::define_struct(e, name, defaults, &embeds)).unwrap_or_default().into_bits()
}

/// `DefAdt`: writes one owned value per variant to `out`.
#[no_mangle]
pub unsafe extern "C" fn forge_def_adt(closure: u64, desc: *const AdtDesc, out: *mut u64) {
    // SAFETY: desc points to a static AdtDesc whose arrays hold `n` entries.
    let (d, names) = unsafe { (&*desc, str_list((*desc).variants, (*desc).n)) };
    // SAFETY: as above.
    let variants: Vec<(String, u16)> =
        names.iter().enumerate().map(|(i, n)| (n.to_string(), unsafe { *d.arities.add(i) } as u16)).collect();
    let values = with_env(closure, |e| types::define_adt(e, str_of(&d.name), &variants)).unwrap_or_default();
    for (i, v) in values.into_iter().enumerate() {
        // SAFETY: out points to `n` writable words of the caller's stack.
        unsafe { *out.add(i) = v.into_bits() };
    }
}

/// `DefImpl`: the methods' closures are `n` borrowed words at `methods`.
#[no_mangle]
pub unsafe extern "C" fn forge_def_impl(
    ctx: *mut NativeCtx,
    closure: u64,
    desc: *const ImplDesc,
    methods: *const u64,
) -> u64 {
    // SAFETY: ctx is live; desc points to a static ImplDesc whose arrays hold `n`
    // entries; methods points to `n` borrowed words.
    let (ctx, d, names, funcs) = unsafe {
        let d = &*desc;
        (cx(ctx), d, str_list(d.methods, d.n), words(methods, d.n))
    };
    let list = names
        .iter()
        .enumerate()
        .map(|(i, n)| types::ImplMethod {
            name: n,
            func: funcs[i].clone(),
            // SAFETY: `instance` holds `n` words.
            instance: unsafe { *d.instance.add(i) } != 0,
        })
        .collect();
    let iface = if d.interface.ptr.is_null() { None } else { Some(str_of(&d.interface)) };
    let r = with_env(closure, |e| types::define_impl(e, str_of(&d.type_name), list, iface))
        .unwrap_or_else(|| Err(no_env()));
    ctx.status(r)
}

#[no_mangle]
pub unsafe extern "C" fn forge_def_interface(desc: *const InterfaceDesc) -> u64 {
    // SAFETY: desc points to a static InterfaceDesc whose arrays hold `n` entries.
    let d = unsafe { &*desc };
    let methods: Vec<(String, u16, Option<String>)> = (0..d.n)
        .map(|i| {
            // SAFETY: as above.
            let (m, np, rt) = unsafe { (&*d.methods.add(i), *d.n_params.add(i), &*d.returns.add(i)) };
            let rt = if rt.ptr.is_null() { None } else { Some(str_of(rt).to_string()) };
            (str_of(m).to_string(), np as u16, rt)
        })
        .collect();
    types::define_interface(str_of(&d.name), &methods).into_bits()
}

#[no_mangle]
pub unsafe extern "C" fn forge_def_prompt(name: *const u8, len: i64) -> u64 {
    // SAFETY: name/len are static UTF-8 bytes.
    types::define_prompt(unsafe { static_str(name, len) }).into_bits()
}

/// `Import`: runs the imported module's top level in a fresh environment and writes
/// the requested names' values (owned) to `out`.
#[no_mangle]
pub unsafe extern "C" fn forge_import(
    ctx: *mut NativeCtx,
    _closure: u64,
    desc: *const ImportDesc,
    out: *mut u64,
) -> u64 {
    // SAFETY: ctx is live; desc points to a static ImportDesc.
    let (ctx, d) = unsafe { (cx(ctx), &*desc) };
    // SAFETY: `module` is null or points to the imported module's static descriptor.
    let Some(sub) = (unsafe { d.module.as_ref() }) else {
        return ctx.fail(lang::env::import_missing(str_of(&d.path)));
    };
    let env = match run_top_level(ctx, sub) {
        Ok(env) => env,
        Err(e) => return ctx.fail(e),
    };
    // SAFETY: `names` holds `n_names` StrRefs.
    let names: Vec<String> = unsafe { str_list(d.names, d.n_names) }.into_iter().map(String::from).collect();
    let values = env.as_env().map(|e| lang::env::import_names(e, &names)).unwrap_or_default();
    for (i, v) in values.into_iter().enumerate() {
        // SAFETY: out points to `n_names` writable words of the caller's stack.
        unsafe { *out.add(i) = v.into_bits() };
    }
    L::NULL_BITS
}

/// `Decorator`: records a standalone decorator with its `n` arguments.
#[no_mangle]
pub unsafe extern "C" fn forge_decorator(ctx: *mut NativeCtx, name: *const u8, len: i64, args: *const u64, n: i32) {
    // SAFETY: ctx is live; name/len are static UTF-8 bytes; args points to `n`
    // borrowed words.
    let (ctx, name, args) = unsafe { (cx(ctx), static_str(name, len), words(args, n as usize)) };
    ctx.decorators.push((name.to_string(), args.to_vec()));
}

// ----- timeout, retry, cancellation, schedule and watch -----

#[no_mangle]
pub unsafe extern "C" fn forge_timeout_begin(ctx: *mut NativeCtx, secs: u64) {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let t = control::timeout_begin(&borrow(&secs));
    ctx.timeouts.push(t);
}

#[no_mangle]
pub unsafe extern "C" fn forge_timeout_end(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = match ctx.timeouts.pop() {
        Some(t) => control::timeout_end(t),
        None => Ok(()),
    };
    ctx.status(r)
}

/// Leaves the innermost `timeout` block because the pending error propagates out of
/// it: the error may become the timeout error, positioned at `site` (as the VM's
/// unwinding does).
#[no_mangle]
pub unsafe extern "C" fn forge_timeout_unwind(ctx: *mut NativeCtx, site: *const SiteDesc) {
    // SAFETY: ctx is live; site points to a static SiteDesc.
    let (ctx, site) = unsafe { (cx(ctx), &*site) };
    let Some(t) = ctx.timeouts.pop() else { return };
    let Some(e) = ctx.error.as_ref() else {
        crate::isolate::pop_deadline();
        return;
    };
    if let Some(mut te) = control::timeout_unwind(t, e) {
        let file = str_of(&site.file).to_string();
        let inner = te.inner_mut();
        inner.pos = Some((site.line, site.col));
        inner.file = Some(file.clone());
        inner.trace.push(TraceLine {
            name: str_of(&site.trace_name).to_string(),
            file,
            line: site.line,
            col: site.col,
        });
        ctx.error = Some(te);
    }
}

/// Leaves `n` `timeout` blocks without checking them (a `return` from inside).
#[no_mangle]
pub unsafe extern "C" fn forge_timeout_drop(ctx: *mut NativeCtx, n: i32) {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    for _ in 0..n {
        if ctx.timeouts.pop().is_some() {
            crate::isolate::pop_deadline();
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_check_cancel(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = control::check_cancel();
    ctx.status(r)
}

/// `Retry` operation `op` on the three state words at `state` (owned by that slot,
/// updated in place); `err` is the error object of a failed attempt (op 2).
#[no_mangle]
pub unsafe extern "C" fn forge_retry(ctx: *mut NativeCtx, op: i32, state: *mut u64, err: u64) -> u64 {
    // SAFETY: ctx is live; state points to three owned words of the caller's stack,
    // exclusively ours for the call; `Value` is a transparent wrapper of its word.
    let (ctx, st) = unsafe { (cx(ctx), std::slice::from_raw_parts_mut(state as *mut Value, 3)) };
    let r = match op {
        0 => {
            control::retry_begin(st);
            Ok(())
        }
        1 => control::retry_attempt(st),
        _ => {
            let e = cloned(err);
            match control::retry_failed(st, &e) {
                Some(pause) => sleep(ctx, pause),
                None => Ok(()),
            }
        }
    };
    ctx.status(r)
}

/// `Schedule`: `unit` 0 seconds, 1 minutes, 2 hours.
#[no_mangle]
pub unsafe extern "C" fn forge_schedule(ctx: *mut NativeCtx, f: u64, interval: u64, unit: i32) {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let unit = match unit % 3 {
        0 => timers::IntervalUnit::Seconds,
        1 => timers::IntervalUnit::Minutes,
        _ => timers::IntervalUnit::Hours,
    };
    ctx.timers.schedule(cloned(f), &borrow(&interval), unit);
    ctx.head.schedules = ctx.timers.has_schedules() as u32;
}

#[no_mangle]
pub unsafe extern "C" fn forge_watch(ctx: *mut NativeCtx, f: u64, path: u64) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = ctx.timers.watch(cloned(f), &borrow(&path));
    ctx.status(r)
}

/// A safe point while `schedule` blocks exist (backward jumps).
#[no_mangle]
pub unsafe extern "C" fn forge_run_due(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    let r = run_due(ctx);
    ctx.status(r)
}

// ----- errors and frames -----

#[no_mangle]
pub unsafe extern "C" fn forge_raise(ctx: *mut NativeCtx, ptr: *const u8, len: i64) -> u64 {
    // SAFETY: ctx is live; ptr/len are static UTF-8 bytes.
    let (ctx, msg) = unsafe { (cx(ctx), static_str(ptr, len)) };
    ctx.fail(Error::new(msg))
}

/// Records the frame of `site` in the pending error's trace (and its position, when it
/// has none yet).
#[no_mangle]
pub unsafe extern "C" fn forge_trace_push(ctx: *mut NativeCtx, site: *const SiteDesc) {
    // SAFETY: ctx is live; site points to a static SiteDesc.
    let (ctx, site) = unsafe { (cx(ctx), &*site) };
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
    let ctx = unsafe { cx(ctx) };
    match ctx.error.take() {
        Some(e) => e.to_value().into_bits(),
        None => Value::NULL.into_bits(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn forge_error_catchable(ctx: *mut NativeCtx) -> i32 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    ctx.error.as_ref().is_some_and(|e| e.is_catchable()) as i32
}

#[no_mangle]
pub unsafe extern "C" fn forge_depth_error(ctx: *mut NativeCtx) -> u64 {
    // SAFETY: ctx is live.
    let ctx = unsafe { cx(ctx) };
    ctx.fail(lang::misc::depth_exceeded())
}

/// A module registration function as a native program references it.
pub type CRegister = unsafe extern "C" fn(*mut crate::builtins::Registry);

static NATIVE_MODULES: std::sync::OnceLock<&'static [CRegister]> = std::sync::OnceLock::new();

/// The modules a native program uses (from its `forge_program_modules`); call before
/// the first builtin use.
pub fn use_native_modules(list: &'static [CRegister]) {
    let _ = NATIVE_MODULES.set(list);
}

/// Registers the modules chosen with [`use_native_modules`] (none unless called).
pub(crate) fn register_native_modules(reg: &mut crate::builtins::Registry) {
    if let Some(list) = NATIVE_MODULES.get() {
        for f in list.iter() {
            // SAFETY: every entry is one of the `forge_stdlib_*` functions below,
            // referenced by the program's object file, and `reg` is a live registry.
            unsafe { f(reg as *mut crate::builtins::Registry) };
        }
    }
}

macro_rules! module_registrars {
    ($($name:ident => $module:ident),* $(,)?) => {
        $(
            /// Registers one standard module (referenced only by programs that use it).
            #[no_mangle]
            pub unsafe extern "C" fn $name(reg: *mut crate::builtins::Registry) {
                // SAFETY: called by `register_native_modules` with a live registry.
                crate::stdlib::$module::register(unsafe { &mut *reg });
            }
        )*
    };
}

module_registrars! {
    forge_stdlib_math => math,
    forge_stdlib_json => json,
    forge_stdlib_csv => csv,
    forge_stdlib_regex => regex,
    forge_stdlib_crypto => crypto,
    forge_stdlib_jwt => jwt,
    forge_stdlib_url => url,
    forge_stdlib_toml => toml,
    forge_stdlib_env => env,
    forge_stdlib_log => log,
    forge_stdlib_fs => fs,
    forge_stdlib_io => io,
    forge_stdlib_term => term,
    forge_stdlib_time => time,
    forge_stdlib_npc => npc,
    forge_stdlib_db => db,
    forge_stdlib_http => http,
    forge_stdlib_ws => ws,
    forge_stdlib_pg => pg,
    forge_stdlib_mysql => mysql,
}

/// Registers the HTTP server's `__serve` (referenced only by `@server` programs, so
/// that no other executable links tokio or hyper).
#[no_mangle]
pub unsafe extern "C" fn forge_stdlib_server(reg: *mut crate::builtins::Registry) {
    // SAFETY: called by `register_native_modules` with a live registry.
    crate::server::register(unsafe { &mut *reg });
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
        forge_upval_get,
        forge_upval_set,
        forge_global_peek,
        forge_cell_peek,
        forge_upval_peek,
        forge_obj_insert_key,
        forge_global_take,
        forge_global_put,
        forge_cell_take,
        forge_cell_put,
        forge_set_path,
        forge_push_pop,
        forge_append,
        forge_array_extend,
        forge_obj_insert,
        forge_struct_finish,
        forge_call,
        forge_call_method,
        forge_closure,
        forge_print,
        forge_array_new,
        forge_concat,
        forge_object_new,
        forge_struct_new,
        forge_get_field,
        forge_get_index,
        forge_check_destructure,
        forge_get_key_or,
        forge_array_at,
        forge_array_rest,
        forge_for_prep,
        forge_for_next,
        forge_array_items,
        forge_must,
        forge_question,
        forge_await,
        forge_freeze,
        forge_ask,
        forge_spawn,
        forge_check,
        forge_test_variant,
        forge_variant_field,
        forge_test_literal,
        forge_test_ident,
        forge_match_exhaustive,
        forge_def_struct,
        forge_def_adt,
        forge_def_impl,
        forge_def_interface,
        forge_def_prompt,
        forge_import,
        forge_decorator,
        forge_timeout_begin,
        forge_timeout_end,
        forge_timeout_unwind,
        forge_timeout_drop,
        forge_check_cancel,
        forge_retry,
        forge_schedule,
        forge_watch,
        forge_run_due,
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
