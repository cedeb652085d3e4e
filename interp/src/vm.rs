//! The VM: interprets the IR of `forgec::ir` over libforge values.
//!
//! One `Vm` is one isolate: a single thread with its own heap. Frames share one
//! register stack; a call places the callee's registers after the caller's. Errors are
//! ordinary `Result`s: when one occurs, the VM unwinds frame by frame to the innermost
//! `try`/`safe` handler, collecting the stack trace (spec 06 §6.9.4) as it goes.
//! Builtins that call back into Forge code (`map`, `sort`, …) re-enter the VM through
//! [`Host::call`], which runs a nested dispatch loop above a boundary frame.
//!
//! The VM keeps only what is about frames, registers and the IR: decoding
//! instructions, calls and returns, handler blocks, unwinding, and the fast paths of
//! arithmetic, comparison and jumps. What an instruction means beyond that (field
//! access, method dispatch, user types, `match` tests, tasks, `retry`/`timeout`,
//! timers, …) is `libforge::lang`, shared with native code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_abi::report::TraceLine;
use forgec::ir::{
    ArithOp, CheckKind, CmpKind, Const, ForMode, Instr, Module, PathStep, PrintKind, Proto, ProtoKind, Special,
    UpvalSrc, VarRef,
};
use libforge::builtins;
use libforge::error::{fail, Error};
use libforge::host::Host;
use libforge::lang::{self, access, control, dispatch, matching, tasks, timers, types};
use libforge::ops::{self, Arith, Cmp};
use libforge::value::{Code, Detached, Function, Key, ModuleEnv, Shared, Value};

type Result<T> = std::result::Result<T, Error>;

/// Deepest nesting of Forge calls (spec 03 §3.10: at least 512).
pub const MAX_DEPTH: usize = lang::misc::MAX_DEPTH;

/// The code of a closure: a prototype of a loaded module.
pub struct FnCode {
    pub module: Arc<Module>,
    pub index: u32,
}

impl FnCode {
    fn proto(&self) -> &Arc<Proto> {
        self.module.proto(self.index)
    }
}

fn fn_code(f: &Function) -> Option<&FnCode> {
    match &f.code {
        Code::Interp(a) => a.downcast_ref::<FnCode>(),
        Code::Native(_) => None,
    }
}

struct Frame {
    /// The function value being run (upvalues and module environment).
    closure: Value,
    /// The prototype; taken out (`None`) while the dispatch loop runs this frame, so
    /// entering a frame costs no reference-count traffic.
    proto: Option<Arc<Proto>>,
    /// The prototype's register count (known even while `proto` is taken).
    n_regs: usize,
    base: usize,
    pc: usize,
    /// Absolute register receiving the result in the caller, if any.
    ret: Option<usize>,
    /// Called from Rust (`Host::call` or the program entry): returning ends the
    /// nested dispatch loop.
    boundary: bool,
}

impl Frame {
    fn n_regs(&self) -> usize {
        self.n_regs
    }
}

#[derive(Clone, Copy, PartialEq)]
enum BlockKind {
    Try { handler: usize, err: u16 },
    Timeout(control::Timeout),
}

struct OpenBlock {
    frame: usize,
    kind: BlockKind,
}

pub struct Vm {
    regs: Vec<Value>,
    frames: Vec<Frame>,
    blocks: Vec<OpenBlock>,
    /// Standard module objects (`math`, …) made on first use.
    modules: lang::env::ModuleCache,
    /// Every module environment created, cleared at teardown to break cycles.
    envs: Vec<Value>,
    /// `schedule` blocks and `watch` watchers.
    timers: timers::Timers,
    /// Builtin calls currently running that count towards the depth limit.
    native_depth: usize,
    pub decorators: Vec<(String, Vec<Value>)>,
}

/// The result of running a program.
pub enum Outcome {
    Done,
    Exit(i32),
    Failed(Error),
}

impl Default for Vm {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    pub fn new() -> Vm {
        tasks::set_task_runner(run_task);
        Vm {
            regs: Vec::with_capacity(1024),
            frames: Vec::with_capacity(64),
            blocks: Vec::new(),
            modules: lang::env::ModuleCache::new(),
            envs: Vec::new(),
            timers: timers::Timers::new(),
            native_depth: 0,
            decorators: Vec::new(),
        }
    }

    /// Creates the environment of a freshly loaded module: builtin names start bound
    /// to their builtins so that a later user definition only shadows them from then on.
    pub fn new_env(&mut self, module: &Module) -> Value {
        let env = lang::env::new_module_env(&module.globals, &module.file, &mut self.modules);
        self.envs.push(env.clone());
        env
    }

    /// Runs a module's top level in a new environment.
    pub fn run_main(&mut self, module: Arc<Module>) -> Outcome {
        let env = self.new_env(&module);
        let main = make_closure(&module, 0, env, Vec::new());
        match self.call_value(&main, &[]) {
            Ok(_) => Outcome::Done,
            Err(e) => match e.is_exit() {
                Some(c) => Outcome::Exit(c),
                None => Outcome::Failed(e),
            },
        }
    }

    /// Puts a running frame's state back (before leaving its dispatch loop on an
    /// error). Out of line: it is on the cold path of every fallible instruction.
    #[cold]
    #[inline(never)]
    fn park(&mut self, fi: usize, pc: usize, proto: &Arc<Proto>) {
        self.frames[fi].pc = pc;
        self.frames[fi].proto = Some(proto.clone());
    }

    /// The environment of the first module run with [`Vm::run_main`].
    pub fn main_env(&self) -> Value {
        self.envs.first().cloned().unwrap_or_default()
    }

    /// Drops everything the isolate holds, so that only leaked objects stay alive.
    pub fn teardown(&mut self) {
        self.regs.clear();
        self.frames.clear();
        self.timers.clear();
        self.decorators.clear();
        self.modules.clear();
        for e in std::mem::take(&mut self.envs) {
            if let Some(env) = e.as_env() {
                env.clear();
            }
        }
    }

    // ----- calls -----

    /// Calls any callable with arguments, running Forge code to completion.
    pub fn call_value(&mut self, f: &Value, args: &[Value]) -> Result<Value> {
        if let Some(func) = f.as_function() {
            if let Some(code) = fn_code(func) {
                let proto = code.proto().clone();
                let base = self.frames.last().map(|fr| fr.base + fr.n_regs()).unwrap_or(0);
                self.push_frame(f.clone(), proto, base, None, true)?;
                for (i, a) in args.iter().enumerate().take(self.top_proto().n_params as usize) {
                    self.regs[base + i] = a.clone();
                }
                return self.run();
            }
            return fail("cannot call native code from the VM");
        }
        self.call_other(f, args.to_vec())
    }

    /// Calls a non-Forge callable: builtins, ADT constructors, struct types, prompts.
    fn call_other(&mut self, f: &Value, args: Vec<Value>) -> Result<Value> {
        if let Some(i) = f.builtin_index() {
            self.native_depth += 1;
            if self.depth() > MAX_DEPTH {
                self.native_depth -= 1;
                return Err(lang::misc::depth_exceeded());
            }
            let r = builtins::call(i, self, &args);
            self.native_depth -= 1;
            return r;
        }
        types::call_other(f, args)
    }

    fn depth(&self) -> usize {
        self.frames.len().saturating_sub(1) + self.native_depth
    }

    /// Pushes a frame whose parameters are all missing (`null`, or `UNDEF` where a
    /// default exists); callers then store the arguments they have.
    fn push_frame(
        &mut self,
        closure: Value,
        proto: Arc<Proto>,
        base: usize,
        ret: Option<usize>,
        boundary: bool,
    ) -> Result<()> {
        if self.depth() >= MAX_DEPTH && !self.frames.is_empty() {
            return Err(lang::misc::depth_exceeded());
        }
        let need = base + proto.n_regs as usize;
        if self.regs.len() < need {
            self.regs.resize(need, Value::NULL);
        }
        // Registers keep plain numbers from earlier frames (`pop_frame` only drops
        // references), so every parameter is set, not only the defaulted ones.
        for (i, &d) in proto.param_defaults.iter().enumerate() {
            self.regs[base + i] = if d { Value::UNDEF } else { Value::NULL };
        }
        let n_regs = proto.n_regs as usize;
        self.frames.push(Frame { closure, proto: Some(proto), n_regs, base, pc: 0, ret, boundary });
        Ok(())
    }

    fn top_proto(&self) -> &Proto {
        self.frames.last().and_then(|f| f.proto.as_deref()).expect("frame prototype")
    }

    /// The module a frame's code belongs to.
    fn frame_module(&self, fi: usize) -> Arc<Module> {
        fn_code(self.frames[fi].closure.as_function().expect("closure")).expect("interpreted code").module.clone()
    }

    /// Pops the current frame, releasing its registers.
    fn pop_frame(&mut self) -> Frame {
        let f = self.frames.pop().expect("frame");
        let end = (f.base + f.n_regs()).min(self.regs.len());
        for r in &mut self.regs[f.base..end] {
            // Release references now (copy-on-write depends on exact counts); plain
            // numbers need no work.
            if r.is_heap() {
                *r = Value::NULL;
            }
        }
        let depth = self.frames.len();
        while self.blocks.last().is_some_and(|b| b.frame >= depth) {
            if let Some(OpenBlock { kind: BlockKind::Timeout(_), .. }) = self.blocks.pop() {
                libforge::isolate::pop_deadline();
            }
        }
        f
    }

    // ----- the dispatch loop -----

    /// Runs until the frame marked `boundary` on top returns.
    fn run(&mut self) -> Result<Value> {
        loop {
            match self.dispatch() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if let Some(e) = self.unwind(e) {
                        return Err(e);
                    }
                    // A handler was found: continue in its frame.
                }
            }
        }
    }

    /// Unwinds to the innermost handler at or above the nearest boundary frame.
    /// Returns the error when it leaves this dispatch level.
    fn unwind(&mut self, mut e: Error) -> Option<Error> {
        loop {
            let fi = self.frames.len() - 1;
            // Position of the failing instruction (innermost) or call (outer frames).
            {
                let file = self.frame_module(fi).file.clone();
                let fr = &self.frames[fi];
                let proto = fr.proto.as_deref().expect("prototype");
                let pc = fr.pc.saturating_sub(1);
                let (line, col) = proto.pos.get(pc).copied().unwrap_or((0, 0));
                let inner = e.inner_mut();
                if inner.pos.is_none() {
                    inner.pos = Some((line, col));
                    inner.file = Some(file.clone());
                }
                inner.trace.push(TraceLine { name: proto.trace_name.clone(), file, line, col });
            }
            // Handlers of this frame.
            while let Some(b) = self.blocks.last() {
                if b.frame != fi {
                    break;
                }
                let b = self.blocks.pop().expect("block");
                match b.kind {
                    BlockKind::Timeout(t) => {
                        if let Some(te) = control::timeout_unwind(t, &e) {
                            e = te;
                            // Re-record the position of this frame.
                            let file = self.frame_module(fi).file.clone();
                            let fr = &self.frames[fi];
                            let proto = fr.proto.as_deref().expect("prototype");
                            let (line, col) = proto.pos.get(fr.pc.saturating_sub(1)).copied().unwrap_or((0, 0));
                            e.inner_mut().pos = Some((line, col));
                            e.inner_mut().file = Some(file.clone());
                            e.inner_mut().trace.push(TraceLine { name: proto.trace_name.clone(), file, line, col });
                        }
                    }
                    BlockKind::Try { handler, err } => {
                        if !e.is_catchable() {
                            continue;
                        }
                        let fr = &mut self.frames[fi];
                        fr.pc = handler;
                        let base = fr.base;
                        self.regs[base + err as usize] = e.to_value();
                        return None;
                    }
                }
            }
            let boundary = self.frames[fi].boundary;
            self.pop_frame();
            if boundary {
                return Some(e);
            }
        }
    }

    /// Executes instructions of the top frame (and frames it calls) until a boundary
    /// frame returns, or an error occurs (the failing frame's `pc` is just past the
    /// failing instruction).
    fn dispatch(&mut self) -> Result<Value> {
        'frame: loop {
            let fi = self.frames.len() - 1;
            let proto = self.frames[fi].proto.take().expect("frame prototype");
            let base = self.frames[fi].base;
            let mut pc = self.frames[fi].pc;
            let code = &proto.code[..];
            // Puts the prototype back into the frame before leaving this loop.
            macro_rules! park {
                () => {
                    self.park(fi, pc, &proto)
                };
            }
            macro_rules! r {
                ($r:expr) => {
                    self.regs[base + $r as usize]
                };
            }
            macro_rules! k {
                ($k:expr) => {
                    &proto.consts[$k as usize]
                };
            }
            macro_rules! kstr {
                ($k:expr) => {
                    match &proto.consts[$k as usize] {
                        Const::Str(s) => s.as_str(),
                        _ => "",
                    }
                };
            }
            macro_rules! tri {
                ($e:expr) => {
                    match $e {
                        Ok(v) => v,
                        Err(e) => {
                            park!();
                            return Err(e);
                        }
                    }
                };
            }
            loop {
                let ins = code[pc];
                pc += 1;
                match ins {
                    Instr::LoadK { dst, k } => {
                        r!(dst) = Shared::from_cached_bits(consts_of(&proto)[k as usize]).value();
                    }
                    Instr::LoadInt { dst, v } => r!(dst) = Value::int(v as i64),
                    Instr::LoadSpecial { dst, which } => {
                        r!(dst) = match which {
                            Special::Null => Value::NULL,
                            Special::True => Value::TRUE,
                            Special::False => Value::FALSE,
                            Special::None => Value::NONE,
                            Special::Undef => Value::UNDEF,
                        }
                    }
                    Instr::LoadBuiltin { dst, name } => {
                        let v = tri!(lang::env::load_builtin(kstr!(name), &mut self.modules));
                        r!(dst) = v;
                    }
                    Instr::Move { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = v;
                    }
                    Instr::GetGlobal { dst, slot } => {
                        let v = self.frames[fi]
                            .closure
                            .as_function()
                            .expect("closure")
                            .env
                            .as_env()
                            .expect("env")
                            .get(slot as usize);
                        if v.is_undef() {
                            let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                            let name = self.frame_module(fi).globals[slot as usize].clone();
                            let e = self.undefined(&name, &env, &proto);
                            tri!(Err(e));
                        }
                        r!(dst) = v;
                    }
                    Instr::GetGlobalOpt { dst, slot } => {
                        let f = self.frames[fi].closure.as_function().expect("closure");
                        let v = f.env.as_env().expect("env").get(slot as usize);
                        r!(dst) = v;
                    }
                    Instr::SetGlobal { slot, src } => {
                        let v = r!(src).clone();
                        let f = self.frames[fi].closure.as_function().expect("closure");
                        let old = f.env.as_env().expect("env").set(slot as usize, v);
                        drop(old);
                    }
                    Instr::NewCell { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = Value::cell(v);
                    }
                    Instr::GetCell { dst, cell, name } => {
                        let v = r!(cell).cell_get();
                        if v.is_undef() && name != u32::MAX {
                            let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                            tri!(Err(self.undefined(kstr!(name), &env, &proto)));
                        }
                        r!(dst) = v;
                    }
                    Instr::SetCell { cell, src } => {
                        let v = r!(src).clone();
                        let old = r!(cell).cell_set(v);
                        drop(old);
                    }
                    Instr::GetUpval { dst, idx, name } => {
                        let v = self.frames[fi].closure.as_function().expect("closure").upvals[idx as usize].cell_get();
                        if v.is_undef() && name != u32::MAX {
                            let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                            tri!(Err(self.undefined(kstr!(name), &env, &proto)));
                        }
                        r!(dst) = v;
                    }
                    Instr::SetUpval { idx, src } => {
                        let v = r!(src).clone();
                        let old =
                            self.frames[fi].closure.as_function().expect("closure").upvals[idx as usize].cell_set(v);
                        drop(old);
                    }
                    Instr::Arith { op, dst, a, b } => {
                        let (x, y) = (&r!(a), &r!(b));
                        let v = if x.is_small_int() && y.is_small_int() {
                            let (p, q) = (x.small_int(), y.small_int());
                            tri!(small_int_arith(op, p, q))
                        } else if let (Some(p), Some(q)) = (x.as_float(), y.as_float()) {
                            Value::float(ops::float_arith(arith_of(op), p, q))
                        } else {
                            tri!(ops::arith(arith_of(op), x, y))
                        };
                        r!(dst) = v;
                    }
                    Instr::ArithI { op, dst, a, imm } => {
                        let x = &r!(a);
                        let v = if x.is_small_int() {
                            let (p, q) = (x.small_int(), imm as i64);
                            tri!(small_int_arith(op, p, q))
                        } else {
                            tri!(ops::arith(arith_of(op), x, &Value::int(imm as i64)))
                        };
                        r!(dst) = v;
                    }
                    Instr::CompareI { op, dst, a, imm } => {
                        let res = tri!(compare_values(op, &r!(a), &Value::int(imm as i64)));
                        r!(dst) = Value::bool(res);
                    }
                    Instr::JmpIfNotCmp { op, a, b, target } => {
                        let res = tri!(compare_values(op, &r!(a), &r!(b)));
                        if !res {
                            pc = target as usize;
                        }
                    }
                    Instr::JmpIfNotCmpI { op, a, imm, target } => {
                        let x = &r!(a);
                        let res = if x.is_small_int() {
                            cmp_ints(op, x.small_int(), imm as i64)
                        } else {
                            tri!(compare_values(op, x, &Value::int(imm as i64)))
                        };
                        if !res {
                            pc = target as usize;
                        }
                    }
                    Instr::Compare { op, dst, a, b } => {
                        let (x, y) = (&r!(a), &r!(b));
                        let res = if x.is_small_int() && y.is_small_int() {
                            let (p, q) = (x.small_int(), y.small_int());
                            match op {
                                CmpKind::Eq => p == q,
                                CmpKind::Ne => p != q,
                                CmpKind::Lt => p < q,
                                CmpKind::Le => p <= q,
                                CmpKind::Gt => p > q,
                                CmpKind::Ge => p >= q,
                            }
                        } else {
                            match op {
                                CmpKind::Eq => ops::equal(x, y),
                                CmpKind::Ne => !ops::equal(x, y),
                                CmpKind::Lt => tri!(ops::compare(Cmp::Lt, x, y)),
                                CmpKind::Le => tri!(ops::compare(Cmp::LtEq, x, y)),
                                CmpKind::Gt => tri!(ops::compare(Cmp::Gt, x, y)),
                                CmpKind::Ge => tri!(ops::compare(Cmp::GtEq, x, y)),
                            }
                        };
                        r!(dst) = Value::bool(res);
                    }
                    Instr::CompareLenient { op, dst, a, b } => {
                        let (x, y) = (&r!(a), &r!(b));
                        let res = match op {
                            CmpKind::Eq => ops::equal(x, y),
                            CmpKind::Ne => !ops::equal(x, y),
                            CmpKind::Lt => ops::compare_lenient(Cmp::Lt, x, y),
                            CmpKind::Le => ops::compare_lenient(Cmp::LtEq, x, y),
                            CmpKind::Gt => ops::compare_lenient(Cmp::Gt, x, y),
                            CmpKind::Ge => ops::compare_lenient(Cmp::GtEq, x, y),
                        };
                        r!(dst) = Value::bool(res);
                    }
                    Instr::Neg { dst, src } => {
                        let v = tri!(ops::negate(&r!(src)));
                        r!(dst) = v;
                    }
                    Instr::Not { dst, src } => {
                        let v = !ops::truthy(&r!(src));
                        r!(dst) = Value::bool(v);
                    }
                    Instr::Truthy { dst, src } => {
                        let v = ops::truthy(&r!(src));
                        r!(dst) = Value::bool(v);
                    }
                    Instr::Jmp { target } => {
                        if (target as usize) < pc && self.timers.has_schedules() {
                            self.frames[fi].pc = target as usize;
                            tri!(self.run_due(false));
                        }
                        pc = target as usize;
                    }
                    Instr::JmpIf { cond, target } => {
                        if ops::truthy(&r!(cond)) {
                            pc = target as usize;
                        }
                    }
                    Instr::JmpIfNot { cond, target } => {
                        let c = &r!(cond);
                        let t = match c.as_bool() {
                            Some(b) => b,
                            None => ops::truthy(c),
                        };
                        if !t {
                            pc = target as usize;
                        }
                    }
                    Instr::JmpIfDefined { src, target } => {
                        if !r!(src).is_undef() {
                            pc = target as usize;
                        }
                    }
                    Instr::NewArray { dst, start, n } => {
                        let items: Vec<Value> = (0..n).map(|i| r!(start + i).clone()).collect();
                        r!(dst) = Value::array(items);
                    }
                    Instr::ArrayExtend { arr, src } => {
                        let v = r!(src).clone();
                        access::array_extend(&mut r!(arr), v);
                    }
                    Instr::NewObject { dst } => r!(dst) = Value::object(libforge::value::new_map()),
                    Instr::ObjInsert { obj, key, src } => {
                        let v = r!(src).clone();
                        let k = Key::from_value(Shared::from_cached_bits(consts_of(&proto)[key as usize]).value());
                        if let Some(m) = r!(obj).object_mut() {
                            m.insert(k, v);
                        }
                    }
                    Instr::NewStruct { dst, name } => {
                        let v = types::new_struct(self.module_env(fi), kstr!(name));
                        r!(dst) = v;
                    }
                    Instr::FinishStruct { obj, name } => {
                        types::finish_struct(&mut r!(obj), kstr!(name));
                    }
                    Instr::GetField { dst, obj, name } => {
                        let v = tri!(access::get_field(self.module_env(fi), &r!(obj), kstr!(name)));
                        r!(dst) = v;
                    }
                    Instr::GetIndex { dst, obj, idx } => {
                        let v = tri!(access::get_index(&r!(obj), &r!(idx)));
                        r!(dst) = v;
                    }
                    Instr::SetPath { path, src } => {
                        let v = r!(src).clone();
                        tri!(self.set_path(fi, &proto, path as usize, v));
                    }
                    Instr::PushPop { path, dst, arg, pop } => {
                        let a = r!(arg).clone();
                        let v = tri!(self.push_pop(fi, &proto, path as usize, a, pop));
                        r!(dst) = v;
                    }
                    Instr::AppendVar { path, src } => {
                        if let VarRef::Reg(rr) = proto.paths[path as usize].root {
                            let (x, y) = (&r!(rr), &r!(src));
                            if x.is_small_int() && y.is_small_int() {
                                let v = Value::int(x.small_int() + y.small_int());
                                r!(rr) = v;
                                continue;
                            }
                        }
                        let v = r!(src).clone();
                        tri!(self.append_var(fi, &proto, path as usize, v));
                    }
                    Instr::Call { dst, func, args, n } => {
                        let f = r!(func).clone();
                        if let Some(code) = f.as_function().and_then(fn_code) {
                            let callee = code.proto().clone();
                            let new_base = base + proto.n_regs as usize;
                            self.frames[fi].pc = pc;
                            if let Err(e) = self.push_frame(f, callee, new_base, Some(base + dst as usize), false) {
                                park!();
                                return Err(e);
                            }
                            let np = self.top_proto().n_params as usize;
                            for i in 0..(n as usize).min(np) {
                                let v = self.regs[base + args as usize + i].clone();
                                self.regs[new_base + i] = v;
                            }
                            self.frames[fi].proto = Some(proto);
                            continue 'frame;
                        }
                        let argv: Vec<Value> = (0..n as u16).map(|i| r!(args + i).clone()).collect();
                        self.frames[fi].pc = pc;
                        let v = tri!(self.call_other(&f, argv));
                        r!(dst) = v;
                    }
                    Instr::CallMethod { dst, recv, name, args, n } => {
                        let rv = r!(recv).clone();
                        let argv: Vec<Value> = (0..n as u16).map(|i| r!(args + i).clone()).collect();
                        self.frames[fi].pc = pc;
                        let v = tri!(self.call_method(fi, rv, kstr!(name), argv));
                        r!(dst) = v;
                    }
                    Instr::Return { src } => {
                        let v = std::mem::take(&mut r!(src));
                        let fr = self.pop_frame();
                        if fr.boundary {
                            return Ok(v);
                        }
                        if let Some(ret) = fr.ret {
                            self.regs[ret] = v;
                        }
                        continue 'frame;
                    }
                    Instr::Closure { dst, proto: pi } => {
                        let cur = self.frames[fi].closure.as_function().expect("closure");
                        let module = fn_code(cur).expect("interpreted code").module.clone();
                        let target = module.proto(pi).clone();
                        let upvals: Vec<Value> = target
                            .upvals
                            .iter()
                            .map(|u| match *u {
                                UpvalSrc::Reg(r) => self.regs[base + r as usize].clone(),
                                UpvalSrc::Upval(i) => cur.upvals[i as usize].clone(),
                            })
                            .collect();
                        let env = cur.env.clone();
                        r!(dst) = make_closure(&module, pi, env, upvals);
                    }
                    Instr::Concat { dst, start, n } => {
                        let from = base + start as usize;
                        let v = lang::misc::concat(&self.regs[from..from + n as usize]);
                        r!(dst) = v;
                    }
                    Instr::Print { kind, src } => {
                        let how = match kind {
                            PrintKind::Say => lang::misc::Print::Say,
                            PrintKind::Yell => lang::misc::Print::Yell,
                            PrintKind::Whisper => lang::misc::Print::Whisper,
                        };
                        lang::misc::print(how, &r!(src));
                    }
                    Instr::ForPrep { state, src } => {
                        let v = r!(src).clone();
                        tri!(lang::iter::for_prep(&v));
                        r!(state) = v;
                        r!(state + 1) = Value::int(0);
                    }
                    Instr::ForNext { state, var, mode, exit } => {
                        let i = r!(state + 1).small_int() as usize;
                        let vars = match mode {
                            ForMode::One => lang::iter::ForVars::One,
                            ForMode::Two => lang::iter::ForVars::Two,
                        };
                        let item = lang::iter::for_next(&r!(state), i, vars);
                        match item {
                            None => {
                                r!(state) = Value::NULL;
                                pc = exit as usize;
                            }
                            Some((a, b)) => {
                                r!(state + 1) = Value::int(i as i64 + 1);
                                r!(var) = a;
                                if let Some(b) = b {
                                    r!(var + 1) = b;
                                }
                            }
                        }
                    }
                    Instr::TryBegin { handler, err } => {
                        self.blocks
                            .push(OpenBlock { frame: fi, kind: BlockKind::Try { handler: handler as usize, err } });
                    }
                    Instr::TryEnd => {
                        self.blocks.pop();
                    }
                    Instr::Raise { msg } => tri!(fail(kstr!(msg))),
                    Instr::Must { dst, src } => {
                        let v = r!(src).clone();
                        let out = tri!(control::must(v));
                        r!(dst) = out;
                    }
                    Instr::Question { dst, src } => {
                        let v = r!(src).clone();
                        let top_level = matches!(proto.kind, ProtoKind::Main | ProtoKind::Task);
                        match tri!(control::question(v, top_level)) {
                            control::Propagate::Continue(x) => r!(dst) = x,
                            control::Propagate::Return(v) => {
                                // Return the Err from the function.
                                let fr = self.pop_frame();
                                if fr.boundary {
                                    return Ok(v);
                                }
                                if let Some(ret) = fr.ret {
                                    self.regs[ret] = v;
                                }
                                continue 'frame;
                            }
                        }
                    }
                    Instr::Await { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = tasks::await_value(v);
                    }
                    Instr::Freeze { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = v.freeze();
                    }
                    Instr::Ask { dst, src } => {
                        let v = tri!(lang::misc::ask(&r!(src)));
                        r!(dst) = v;
                    }
                    Instr::Spawn { dst, func } => {
                        let f = r!(func).clone();
                        r!(dst) = tri!(tasks::spawn(&f));
                    }
                    Instr::Check { kind, src } => {
                        let how = match kind {
                            CheckKind::Truthy => control::Check::Truthy,
                            CheckKind::Empty => control::Check::Empty,
                            CheckKind::NotEmpty => control::Check::NotEmpty,
                            CheckKind::Between => control::Check::Between { lo: &r!(src + 1), hi: &r!(src + 2) },
                            CheckKind::Contains => control::Check::Contains(&r!(src + 1)),
                        };
                        tri!(control::check(&r!(src), how));
                    }
                    Instr::TestVariant { dst, subject, name } => {
                        let v = matching::test_variant(&r!(subject), kstr!(name));
                        r!(dst) = Value::bool(v);
                    }
                    Instr::VariantField { dst, subject, i } => {
                        let v = matching::variant_field(&r!(subject), i);
                        r!(dst) = v;
                    }
                    Instr::TestLiteral { dst, subject, k } => {
                        let lit = match k!(k) {
                            Const::Int(i) => matching::Literal::Int(*i),
                            Const::Float(f) => matching::Literal::Float(*f),
                            Const::Str(t) => matching::Literal::Str(t),
                        };
                        let ok = matching::test_literal(&r!(subject), lit);
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::TestBool { dst, subject, which } => {
                        let ok = matching::test_bool(&r!(subject), which);
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::TestIdent { dst, subject, binding, name } => {
                        let ok = matching::test_ident(&r!(subject), &r!(binding), kstr!(name));
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::IsDefined { dst, src } => {
                        let ok = !r!(src).is_undef();
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::MatchExhaustive { subject, info } => {
                        let mi = &proto.matches[info as usize];
                        tri!(matching::check_exhaustive(
                            self.module_env(fi),
                            &r!(subject),
                            &mi.named,
                            &mi.idents,
                            mi.has_wildcard
                        ));
                    }
                    Instr::DefStruct { info, start, dst } => {
                        let si = &proto.structs[info as usize];
                        let defaults = si
                            .defaults
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (n.clone(), r!(start + i as u16).clone()))
                            .collect();
                        let v = types::define_struct(self.module_env(fi), &si.name, defaults, &si.embeds);
                        r!(dst) = v;
                    }
                    Instr::DefAdt { info, dst } => {
                        let ai = &proto.adts[info as usize];
                        let values = types::define_adt(self.module_env(fi), &ai.name, &ai.variants);
                        for (i, v) in values.into_iter().enumerate() {
                            r!(dst + i as u16) = v;
                        }
                    }
                    Instr::DefImpl { info, start } => {
                        let ii = &proto.impls[info as usize];
                        let methods = ii
                            .methods
                            .iter()
                            .enumerate()
                            .map(|(i, m)| types::ImplMethod {
                                name: m,
                                func: r!(start + i as u16).clone(),
                                instance: ii.instance[i],
                            })
                            .collect();
                        tri!(types::define_impl(self.module_env(fi), &ii.type_name, methods, ii.interface.as_deref()));
                    }
                    Instr::DefInterface { info, dst } => {
                        let ii = &proto.interfaces[info as usize];
                        r!(dst) = types::define_interface(&ii.name, &ii.methods);
                    }
                    Instr::DefPrompt { dst, name } => {
                        r!(dst) = types::define_prompt(kstr!(name));
                    }
                    Instr::Import { info, dst } => {
                        self.frames[fi].pc = pc;
                        let imp = proto.imports[info as usize].clone();
                        let module = self.frame_module(fi);
                        let values = tri!(self.import(&module, &imp));
                        for (i, v) in values.into_iter().enumerate() {
                            r!(dst + i as u16) = v;
                        }
                    }
                    Instr::TimeoutBegin { secs } => {
                        let t = control::timeout_begin(&r!(secs));
                        self.blocks.push(OpenBlock { frame: fi, kind: BlockKind::Timeout(t) });
                    }
                    Instr::TimeoutEnd => {
                        if let Some(OpenBlock { kind: BlockKind::Timeout(t), .. }) = self.blocks.pop() {
                            tri!(control::timeout_end(t));
                        }
                    }
                    Instr::CheckCancel => tri!(control::check_cancel()),
                    Instr::Retry { op, state, err } => {
                        let from = base + state as usize;
                        match op {
                            0 => control::retry_begin(&mut self.regs[from..from + 3]),
                            1 => tri!(control::retry_attempt(&mut self.regs[from..from + 3])),
                            _ => {
                                let e = r!(err).clone();
                                if let Some(pause) = control::retry_failed(&mut self.regs[from..from + 3], &e) {
                                    self.frames[fi].pc = pc;
                                    tri!(self.sleep(pause));
                                }
                            }
                        }
                    }
                    Instr::Schedule { func, interval, unit } => {
                        let f = r!(func).clone();
                        let unit = match unit % 3 {
                            0 => timers::IntervalUnit::Seconds,
                            1 => timers::IntervalUnit::Minutes,
                            _ => timers::IntervalUnit::Hours,
                        };
                        self.timers.schedule(f, &r!(interval), unit);
                    }
                    Instr::Watch { func, path } => {
                        let f = r!(func).clone();
                        tri!(self.timers.watch(f, &r!(path)));
                    }
                    Instr::Decorator { name, args, n } => {
                        let vals: Vec<Value> = (0..n as u16).map(|i| r!(args + i).clone()).collect();
                        self.decorators.push((kstr!(name).to_string(), vals));
                    }
                    Instr::CheckDestructure { src, array } => tri!(access::check_destructure(&r!(src), array)),
                    Instr::GetKeyOr { dst, obj, name } => {
                        let v = access::destructure_key(&r!(obj), kstr!(name));
                        r!(dst) = v;
                    }
                    Instr::ArrayAt { dst, arr, i } => {
                        let v = access::destructure_at(&r!(arr), i as usize);
                        r!(dst) = v;
                    }
                    Instr::ArrayRest { dst, arr, skip } => {
                        let v = access::destructure_rest(&r!(arr), skip as usize);
                        r!(dst) = v;
                    }
                    Instr::Nop => {}
                }
            }
        }
    }

    // ----- helpers of the dispatch loop -----

    /// `undefined variable: 'x'` with a "did you mean" hint drawn from the globals of
    /// `env` and the local names of `proto`.
    fn undefined(&self, name: &str, env: &Value, proto: &Proto) -> Error {
        lang::env::undefined_variable(name, env.as_env().expect("env"), &proto.local_names)
    }

    fn env_of(&self, fi: usize) -> Value {
        self.frames[fi].closure.as_function().expect("closure").env.clone()
    }

    /// The module environment of frame `fi`, borrowed (no reference-count traffic).
    fn module_env(&self, fi: usize) -> &ModuleEnv {
        self.frames[fi].closure.as_function().expect("closure").env.as_env().expect("env")
    }

    /// Runs `f` with mutable access to an assignment root.
    fn with_root<R>(&mut self, fi: usize, root: VarRef, f: impl FnOnce(&mut Value) -> R) -> R {
        let base = self.frames[fi].base;
        match root {
            VarRef::Reg(r) => f(&mut self.regs[base + r as usize]),
            VarRef::Cell(r) => {
                let cell = self.regs[base + r as usize].clone();
                cell.cell_with_mut(f)
            }
            VarRef::Upval(i) => {
                let cell = self.frames[fi].closure.as_function().expect("closure").upvals[i as usize].clone();
                cell.cell_with_mut(f)
            }
            VarRef::Global(g) => {
                let env = self.env_of(fi);
                let e = env.as_env().expect("env");
                let mut slots = e.slots.borrow_mut();
                f(&mut slots[g as usize])
            }
        }
    }

    fn set_path(&mut self, fi: usize, proto: &Proto, path: usize, v: Value) -> Result<()> {
        let p = &proto.paths[path];
        let base = self.frames[fi].base;
        let steps: Vec<access::PathStep<'_>> = p
            .steps
            .iter()
            .map(|s| match s {
                PathStep::Field(n) => access::PathStep::Field(n),
                PathStep::Index(r) => access::PathStep::Index(self.regs[base + *r as usize].clone()),
            })
            .collect();
        self.with_root(fi, p.root, |root| access::set_path(root, &p.name, &steps, v))
    }

    fn push_pop(&mut self, fi: usize, proto: &Proto, path: usize, arg: Value, pop: bool) -> Result<Value> {
        let p = &proto.paths[path];
        self.with_root(
            fi,
            p.root,
            |root| if pop { access::pop(root, &p.name) } else { access::push(root, &p.name, arg) },
        )
    }

    fn append_var(&mut self, fi: usize, proto: &Proto, path: usize, v: Value) -> Result<()> {
        let p = &proto.paths[path];
        self.with_root(fi, p.root, |root| access::append(root, &p.name, &v))
    }

    /// `recv.name(args)` in frame `fi`: resolved by the shared dispatch rules, then
    /// called like any Forge value.
    fn call_method(&mut self, fi: usize, recv: Value, name: &str, args: Vec<Value>) -> Result<Value> {
        let env = self.env_of(fi);
        match dispatch::resolve_method(self, env.as_env().expect("env"), recv, name, args)? {
            dispatch::Dispatch::Call { callee, args } => self.call_value(&callee, &args),
            dispatch::Dispatch::Done(v) => Ok(v),
        }
    }

    fn import(&mut self, module: &Arc<Module>, imp: &forgec::ir::ImportInfo) -> Result<Vec<Value>> {
        let Some(mi) = imp.module else {
            return Err(lang::env::import_missing(&imp.path));
        };
        let sub = module.imports[mi as usize].clone();
        let env = self.new_env(&sub);
        let main = make_closure(&sub, 0, env.clone(), Vec::new());
        self.call_value(&main, &[])?;
        Ok(lang::env::import_names(env.as_env().expect("env"), &imp.names))
    }

    /// Runs scheduled blocks and watchers that are due. With `wait`, sleeps until the
    /// next one is due (used while the program waits).
    fn run_due(&mut self, _waiting: bool) -> Result<()> {
        for f in self.timers.take_due() {
            timers::timer_result(self.call_value(&f, &[]))?;
        }
        Ok(())
    }
}

impl Host for Vm {
    fn call(&mut self, callee: &Value, args: &[Value]) -> Result<Value> {
        self.native_depth += 1;
        let r = self.call_value(callee, args);
        self.native_depth -= 1;
        r
    }

    fn env(&self) -> Value {
        match self.frames.last() {
            Some(f) => f.closure.as_function().map(|c| c.env.clone()).unwrap_or_default(),
            None => Value::NULL,
        }
    }

    fn sleep(&mut self, dur: Duration) -> Result<()> {
        if self.timers.is_empty() {
            return libforge::host::sleep_cancellable(dur);
        }
        let end = Instant::now() + dur;
        loop {
            self.run_due(true)?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            let next = self.timers.next_due(end);
            libforge::host::sleep_cancellable(next.saturating_duration_since(now))?;
        }
    }
}

/// `p op q` for two Ints that fit the 48-bit immediate range (so `+`, `-`, `/` and
/// `%` cannot overflow i64; `*` may, and then gives a Float).
#[inline]
fn small_int_arith(op: ArithOp, p: i64, q: i64) -> Result<Value> {
    Ok(match op {
        ArithOp::Add => Value::int(p + q),
        ArithOp::Sub => Value::int(p - q),
        ArithOp::Mul => match p.checked_mul(q) {
            Some(m) => Value::int(m),
            None => Value::float(p as f64 * q as f64),
        },
        ArithOp::Div if q != 0 => Value::int(p / q),
        ArithOp::Mod if q != 0 => Value::int(p % q),
        ArithOp::Div => return ops::int_arith(Arith::Div, p, q),
        ArithOp::Mod => return ops::int_arith(Arith::Mod, p, q),
    })
}

#[inline]
fn cmp_ints(op: CmpKind, p: i64, q: i64) -> bool {
    match op {
        CmpKind::Eq => p == q,
        CmpKind::Ne => p != q,
        CmpKind::Lt => p < q,
        CmpKind::Le => p <= q,
        CmpKind::Gt => p > q,
        CmpKind::Ge => p >= q,
    }
}

/// `a cmp b` with the language's rules (equality never fails).
#[inline]
fn compare_values(op: CmpKind, x: &Value, y: &Value) -> Result<bool> {
    if x.is_small_int() && y.is_small_int() {
        return Ok(cmp_ints(op, x.small_int(), y.small_int()));
    }
    Ok(match op {
        CmpKind::Eq => ops::equal(x, y),
        CmpKind::Ne => !ops::equal(x, y),
        CmpKind::Lt => ops::compare(Cmp::Lt, x, y)?,
        CmpKind::Le => ops::compare(Cmp::LtEq, x, y)?,
        CmpKind::Gt => ops::compare(Cmp::Gt, x, y)?,
        CmpKind::Ge => ops::compare(Cmp::GtEq, x, y)?,
    })
}

fn arith_of(op: ArithOp) -> Arith {
    match op {
        ArithOp::Add => Arith::Add,
        ArithOp::Sub => Arith::Sub,
        ArithOp::Mul => Arith::Mul,
        ArithOp::Div => Arith::Div,
        ArithOp::Mod => Arith::Mod,
    }
}

/// The prototype's constants as shared runtime values, made on first use (strings
/// become immortal objects, so loading one allocates nothing).
#[inline]
fn consts_of(proto: &Proto) -> &[u64] {
    proto.runtime_cache.get_or_init(|| {
        proto
            .consts
            .iter()
            .map(|c| {
                let v = match c {
                    Const::Int(i) => Value::int(*i),
                    Const::Float(f) => Value::float(*f),
                    Const::Str(s) => Value::str(s),
                };
                Shared::new(v).bits()
            })
            .collect()
    })
}

pub fn make_closure(module: &Arc<Module>, index: u32, env: Value, upvals: Vec<Value>) -> Value {
    let p = module.proto(index);
    let code: Arc<dyn std::any::Any + Send + Sync> = Arc::new(FnCode { module: module.clone(), index });
    Value::function(Function {
        name: p.name.as_str().into(),
        is_lambda: matches!(p.kind, ProtoKind::Lambda | ProtoKind::Task),
        code: Code::Interp(code),
        env,
        upvals: upvals.into_boxed_slice(),
    })
}

/// Runs a spawned task's closure on a fresh VM of the task's thread: the tier's side
/// of [`tasks::spawn`], registered by [`Vm::new`].
fn run_task(job: Detached) -> Detached {
    let f = job.attach();
    let mut vm = Vm::new();
    let result = tasks::task_result(vm.call_value(&f, &[]));
    let detached = result.detach();
    drop(result);
    drop(f);
    vm.teardown();
    detached
}

/// Source excerpt and trace for an uncaught error, rendered as in every tier.
pub fn report(err: &Error, main: &Module, colour: forge_abi::report::Colour) -> String {
    let mut sources = Vec::new();
    collect_sources(main, &mut sources);
    lang::report::report(err, &sources, colour)
}

/// `(file, source)` of `m` and of its imports, depth first.
fn collect_sources<'a>(m: &'a Module, out: &mut Vec<(&'a str, &'a str)>) {
    out.push((&m.file, &m.source));
    for s in &m.imports {
        collect_sources(s, out);
    }
}
