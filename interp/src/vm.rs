//! The VM: interprets the IR of `forgec::ir` over libforge values.
//!
//! One `Vm` is one isolate: a single thread with its own heap. Frames share one
//! register stack; a call places the callee's registers after the caller's. Errors are
//! ordinary `Result`s: when one occurs, the VM unwinds frame by frame to the innermost
//! `try`/`safe` handler, collecting the stack trace (spec 06 §6.9.4) as it goes.
//! Builtins that call back into Forge code (`map`, `sort`, …) re-enter the VM through
//! [`Host::call`], which runs a nested dispatch loop above a boundary frame.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use forge_abi::lines::LineIndex;
use forge_abi::report::TraceLine;
use forgec::ir::{
    ArithOp, CheckKind, CmpKind, Const, ForMode, Instr, Module, PathStep, PrintKind, Proto, ProtoKind, Special,
    UpvalSrc, VarRef,
};
use libforge::builtins;
use libforge::display::{display, write_display};
use libforge::error::{fail, Error};
use libforge::host::Host;
use libforge::ops::{self, Arith, Cmp};
use libforge::value::{Code, Detached, Function, Key, Kind, Map, ModuleEnv, NativeObject, StructInfo, Value};
use rustc_hash::FxHashMap;

type Result<T> = std::result::Result<T, Error>;

/// Deepest nesting of Forge calls (spec 03 §3.10: at least 512).
pub const MAX_DEPTH: usize = 512;

const DEPTH_MSG: &str =
    "maximum recursion depth exceeded (512 frames)\n  hint: check for infinite recursion, or restructure to use iteration";

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
    Timeout { deadline: Instant, secs: u64 },
}

struct OpenBlock {
    frame: usize,
    kind: BlockKind,
}

struct Scheduled {
    func: Value,
    every: Duration,
    next: Instant,
}

struct Watched {
    func: Value,
    path: String,
    last: Option<std::time::SystemTime>,
    next: Instant,
}

pub struct Vm {
    regs: Vec<Value>,
    frames: Vec<Frame>,
    blocks: Vec<OpenBlock>,
    /// Standard module objects (`math`, …) made on first use.
    modules: FxHashMap<String, Value>,
    /// Every module environment created, cleared at teardown to break cycles.
    envs: Vec<Value>,
    schedules: Vec<Scheduled>,
    watches: Vec<Watched>,
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
        Vm {
            regs: Vec::with_capacity(1024),
            frames: Vec::with_capacity(64),
            blocks: Vec::new(),
            modules: FxHashMap::default(),
            envs: Vec::new(),
            schedules: Vec::new(),
            watches: Vec::new(),
            native_depth: 0,
            decorators: Vec::new(),
        }
    }

    /// Creates the environment of a freshly loaded module: builtin names start bound
    /// to their builtins so that a later user definition only shadows them from then on.
    pub fn new_env(&mut self, module: &Module) -> Value {
        let names: Arc<[String]> = module.globals.clone().into();
        let env = Value::env(ModuleEnv::new(names, module.file.as_str().into()));
        {
            let e = env.as_env().expect("env");
            let mut slots = e.slots.borrow_mut();
            for (i, n) in module.globals.iter().enumerate() {
                if let Some(b) = builtins::lookup(n) {
                    slots[i] = b;
                } else if builtins::is_module(n) {
                    slots[i] = self.module_object(n);
                }
            }
        }
        self.envs.push(env.clone());
        env
    }

    fn module_object(&mut self, name: &str) -> Value {
        if let Some(m) = self.modules.get(name) {
            return m.clone();
        }
        let m = builtins::module_object(name);
        self.modules.insert(name.to_string(), m.clone());
        m
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

    /// Drops everything the isolate holds, so that only leaked objects stay alive.
    pub fn teardown(&mut self) {
        self.regs.clear();
        self.frames.clear();
        self.schedules.clear();
        self.watches.clear();
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
                return fail(DEPTH_MSG);
            }
            let r = builtins::call(i, self, &args);
            self.native_depth -= 1;
            return r;
        }
        if let Some(ctor) = f.native_ref::<AdtCtor>() {
            if args.len() != ctor.arity as usize {
                return fail(format!("{}() expects {} argument(s), got {}", ctor.variant, ctor.arity, args.len()));
            }
            let mut m = libforge::value::map_with_capacity(2 + args.len());
            m.insert(Key::new("__type__"), Value::str(&ctor.type_name));
            m.insert(Key::new("__variant__"), Value::str(&ctor.variant));
            for (i, a) in args.into_iter().enumerate() {
                m.insert(Key::new(&format!("_{i}")), a);
            }
            return Ok(Value::object(m));
        }
        if let Some(s) = f.native_ref::<StructType>() {
            return fail(format!("unknown builtin: struct:{}", s.name));
        }
        if let Some(p) = f.native_ref::<PromptValue>() {
            return fail(format!("unknown builtin: prompt:{}", p.name));
        }
        fail(format!("cannot call {}", ops::type_name(f)))
    }

    fn depth(&self) -> usize {
        self.frames.len().saturating_sub(1) + self.native_depth
    }

    /// Pushes a frame whose parameters are all missing (`null`, or `UNDEF` where a
    /// default exists); callers then store the arguments they have.
    fn push_frame(&mut self, closure: Value, proto: Arc<Proto>, base: usize, ret: Option<usize>, boundary: bool) -> Result<()> {
        if self.depth() >= MAX_DEPTH && !self.frames.is_empty() {
            return fail(DEPTH_MSG);
        }
        let need = base + proto.n_regs as usize;
        if self.regs.len() < need {
            self.regs.resize(need, Value::NULL);
        }
        for (i, &d) in proto.param_defaults.iter().enumerate() {
            if d {
                self.regs[base + i] = Value::UNDEF;
            }
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
            if let Some(OpenBlock { kind: BlockKind::Timeout { .. }, .. }) = self.blocks.pop() {
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
                    BlockKind::Timeout { deadline, secs } => {
                        libforge::isolate::pop_deadline();
                        if e.is_catchable() && Instant::now() >= deadline {
                            e = Error::new(format!("timeout: operation exceeded {secs} second limit"));
                            e.inner_mut().trace.clear();
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
                    self.frames[fi].pc = pc;
                    self.frames[fi].proto = Some(proto.clone());
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
                        r!(dst) = match k!(k) {
                            Const::Int(i) => Value::int(*i),
                            Const::Float(f) => Value::float(*f),
                            Const::Str(s) => Value::str(s),
                        }
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
                        let v = tri!(self.load_builtin(kstr!(name)));
                        r!(dst) = v;
                    }
                    Instr::Move { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = v;
                    }
                    Instr::GetGlobal { dst, slot } => {
                        let v = self.frames[fi].closure.as_function().expect("closure").env.as_env().expect("env").get(slot as usize);
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
                        let old = self.frames[fi].closure.as_function().expect("closure").upvals[idx as usize].cell_set(v);
                        drop(old);
                    }
                    Instr::Arith { op, dst, a, b } => {
                        let (x, y) = (&r!(a), &r!(b));
                        let v = if x.is_small_int() && y.is_small_int() {
                            let (p, q) = (x.small_int(), y.small_int());
                            match op {
                                ArithOp::Add => Value::int(p + q),
                                ArithOp::Sub => Value::int(p - q),
                                ArithOp::Mul => match p.checked_mul(q) {
                                    Some(m) => Value::int(m),
                                    None => Value::float(p as f64 * q as f64),
                                },
                                ArithOp::Div => tri!(ops::int_arith(Arith::Div, p, q)),
                                ArithOp::Mod => tri!(ops::int_arith(Arith::Mod, p, q)),
                            }
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
                            match op {
                                ArithOp::Add => Value::int(p + q),
                                ArithOp::Sub => Value::int(p - q),
                                ArithOp::Mul => match p.checked_mul(q) {
                                    Some(m) => Value::int(m),
                                    None => Value::float(p as f64 * q as f64),
                                },
                                ArithOp::Div => tri!(ops::int_arith(Arith::Div, p, q)),
                                ArithOp::Mod => tri!(ops::int_arith(Arith::Mod, p, q)),
                            }
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
                        if (target as usize) < pc && !self.schedules.is_empty() {
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
                        let a = r!(arr).array_mut().expect("array literal");
                        match v.as_array() {
                            Some(xs) => a.extend(xs.iter().cloned()),
                            None => a.push(v),
                        }
                    }
                    Instr::NewObject { dst } => r!(dst) = Value::object(libforge::value::new_map()),
                    Instr::ObjInsert { obj, key, src } => {
                        let v = r!(src).clone();
                        let k = kstr!(key);
                        if let Some(m) = r!(obj).object_mut() {
                            m.insert(Key::new(k), v);
                        }
                    }
                    Instr::NewStruct { dst, name } => {
                        let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                        let reg = env.as_env().expect("env").registry.borrow();
                        let mut m = libforge::value::new_map();
                        if let Some(info) = reg.structs.get(kstr!(name)) {
                            for (f, v) in &info.defaults {
                                m.insert(Key::new(f), v.clone());
                            }
                        }
                        drop(reg);
                        r!(dst) = Value::object(m);
                    }
                    Instr::FinishStruct { obj, name } => {
                        let n = Value::str(kstr!(name));
                        if let Some(m) = r!(obj).object_mut() {
                            m.insert(Key::new("__type__"), n);
                        }
                    }
                    Instr::GetField { dst, obj, name } => {
                        let v = tri!(self.get_field(&r!(obj), kstr!(name), fi));
                        r!(dst) = v;
                    }
                    Instr::GetIndex { dst, obj, idx } => {
                        let v = tri!(get_index(&r!(obj), &r!(idx)));
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
                        let mut s = String::new();
                        for i in 0..n {
                            write_display(&mut s, &r!(start + i));
                        }
                        r!(dst) = Value::string(s);
                    }
                    Instr::Print { kind, src } => {
                        let mut s = display(&r!(src));
                        match kind {
                            PrintKind::Say => {}
                            PrintKind::Yell => s = s.to_uppercase(),
                            PrintKind::Whisper => s = s.to_lowercase(),
                        }
                        s.push('\n');
                        libforge::output::write(&s);
                    }
                    Instr::ForPrep { state, src } => {
                        let v = r!(src).clone();
                        if !v.is_array() && !v.is_object() {
                            tri!(fail("can only iterate over arrays or objects"));
                        }
                        r!(state) = v;
                        r!(state + 1) = Value::int(0);
                    }
                    Instr::ForNext { state, var, mode, exit } => {
                        let i = r!(state + 1).small_int() as usize;
                        let coll = &r!(state);
                        let item = if let Some(a) = coll.as_array() {
                            a.get(i).map(|x| match mode {
                                ForMode::One => (x.clone(), None),
                                ForMode::Two => match enumerate_pair(x) {
                                    Some((a, b)) => (a, Some(b)),
                                    None => (Value::int(i as i64), Some(x.clone())),
                                },
                            })
                        } else if let Some(m) = coll.as_object() {
                            m.get_index(i).map(|(k, x)| match mode {
                                ForMode::One => (k.to_value(), None),
                                ForMode::Two => (k.to_value(), Some(x.clone())),
                            })
                        } else {
                            None
                        };
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
                        self.blocks.push(OpenBlock { frame: fi, kind: BlockKind::Try { handler: handler as usize, err } });
                    }
                    Instr::TryEnd => {
                        self.blocks.pop();
                    }
                    Instr::Raise { msg } => tri!(fail(kstr!(msg))),
                    Instr::Must { dst, src } => {
                        let v = r!(src).clone();
                        let out = match v.kind() {
                            Kind::Ok => v.wrapped().unwrap_or_default(),
                            Kind::Err => tri!(fail(format!("must failed: {}", display(&v.wrapped().unwrap_or_default())))),
                            Kind::Null => tri!(fail("must failed: got null")),
                            _ => v,
                        };
                        r!(dst) = out;
                    }
                    Instr::Question { dst, src } => {
                        let v = r!(src).clone();
                        match v.kind() {
                            Kind::Ok => r!(dst) = v.wrapped().unwrap_or_default(),
                            Kind::Err => {
                                if matches!(proto.kind, ProtoKind::Main | ProtoKind::Task) {
                                    tri!(fail(format!("unhandled error: {}", display(&v.wrapped().unwrap_or_default()))));
                                }
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
                            _ => tri!(fail("`?` expects Result value (Ok(...) or Err(...))")),
                        }
                    }
                    Instr::Await { dst, src } => {
                        let v = r!(src).clone();
                        let out = match v.native_ref::<TaskHandle>() {
                            Some(t) => t.join(),
                            None => v,
                        };
                        r!(dst) = out;
                    }
                    Instr::Freeze { dst, src } => {
                        let v = r!(src).clone();
                        r!(dst) = v.freeze();
                    }
                    Instr::Ask { dst, src } => {
                        let _ = &r!(src);
                        let v = tri!(ask());
                        r!(dst) = v;
                    }
                    Instr::Spawn { dst, func } => {
                        let f = r!(func).clone();
                        r!(dst) = spawn_task(&f);
                    }
                    Instr::Check { kind, src } => {
                        let v = &r!(src);
                        let ok = match kind {
                            CheckKind::Truthy => ops::truthy(v),
                            CheckKind::Empty => is_empty(v),
                            CheckKind::NotEmpty => !is_empty(v),
                            CheckKind::Between => {
                                let (lo, hi) = (&r!(src + 1), &r!(src + 2));
                                match (v.as_f64(), lo.as_f64(), hi.as_f64()) {
                                    (Some(x), Some(a), Some(b)) => a <= x && x <= b,
                                    _ => false,
                                }
                            }
                            CheckKind::Contains => match (v.as_str(), r!(src + 1).as_str()) {
                                (Some(h), Some(n)) => h.contains(n),
                                _ => false,
                            },
                        };
                        if !ok {
                            let msg = format!("check failed: {} did not pass validation", display(&r!(src)));
                            tri!(fail(msg));
                        }
                    }
                    Instr::TestVariant { dst, subject, name } => {
                        let v = test_variant(&r!(subject), kstr!(name));
                        r!(dst) = Value::bool(v);
                    }
                    Instr::VariantField { dst, subject, i } => {
                        let s = &r!(subject);
                        let v = match s.kind() {
                            Kind::Ok | Kind::Err | Kind::Some => {
                                if i == 0 {
                                    s.wrapped().unwrap_or_default()
                                } else {
                                    Value::UNDEF
                                }
                            }
                            Kind::Object => s.as_object().and_then(|m| m.get(format!("_{i}").as_str()).cloned()).unwrap_or(Value::UNDEF),
                            _ => Value::UNDEF,
                        };
                        r!(dst) = v;
                    }
                    Instr::TestLiteral { dst, subject, k } => {
                        let s = &r!(subject);
                        let ok = match k!(k) {
                            Const::Int(i) => s.as_int() == Some(*i),
                            Const::Float(f) => s.as_float() == Some(*f),
                            Const::Str(t) => s.as_str() == Some(t.as_str()),
                        };
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::TestBool { dst, subject, which } => {
                        let ok = r!(subject).as_bool() == Some(which);
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::TestIdent { dst, subject, binding, name } => {
                        let b = &r!(binding);
                        let n = kstr!(name);
                        let ok = if b.is_none() && n == "None" {
                            r!(subject).is_none()
                        } else if is_unit_variant(b, n) {
                            r!(subject).as_object().and_then(|m| m.get("__variant__")).and_then(|v| v.as_str().map(|s| s == n)).unwrap_or(false)
                        } else {
                            true
                        };
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::IsDefined { dst, src } => {
                        let ok = !r!(src).is_undef();
                        r!(dst) = Value::bool(ok);
                    }
                    Instr::MatchExhaustive { subject, info } => {
                        let s = r!(subject).clone();
                        tri!(self.match_exhaustive(fi, &proto, &s, info as usize));
                    }
                    Instr::DefStruct { info, start, dst } => {
                        let si = &proto.structs[info as usize];
                        let defaults = si.defaults.iter().enumerate().map(|(i, n)| (n.clone(), r!(start + i as u16).clone())).collect();
                        let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                        env.as_env()
                            .expect("env")
                            .registry
                            .borrow_mut()
                            .structs
                            .insert(si.name.clone(), StructInfo { defaults, embeds: si.embeds.clone() });
                        r!(dst) = Value::native(Box::new(StructType { name: si.name.clone() }));
                    }
                    Instr::DefAdt { info, dst } => {
                        let ai = &proto.adts[info as usize];
                        let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                        env.as_env()
                            .expect("env")
                            .registry
                            .borrow_mut()
                            .adts
                            .insert(ai.name.clone(), ai.variants.iter().map(|v| v.0.clone()).collect());
                        for (i, (vname, arity)) in ai.variants.iter().enumerate() {
                            let v = if *arity == 0 {
                                let mut m = libforge::value::map_with_capacity(2);
                                m.insert(Key::new("__type__"), Value::str(&ai.name));
                                m.insert(Key::new("__variant__"), Value::str(vname));
                                Value::object(m)
                            } else {
                                Value::native(Box::new(AdtCtor { type_name: ai.name.clone(), variant: vname.clone(), arity: *arity }))
                            };
                            r!(dst + i as u16) = v;
                        }
                    }
                    Instr::DefImpl { info, start } => {
                        let ii = &proto.impls[info as usize];
                        let env = self.frames[fi].closure.as_function().expect("closure").env.clone();
                        let e = env.as_env().expect("env");
                        {
                            let mut reg = e.registry.borrow_mut();
                            for (i, m) in ii.methods.iter().enumerate() {
                                let f = r!(start + i as u16).clone();
                                reg.methods.entry(ii.type_name.clone()).or_default().insert(m.clone(), f);
                                let key = format!("{}.{}", ii.type_name, m);
                                if ii.instance[i] {
                                    reg.instance_methods.insert(key);
                                } else {
                                    reg.instance_methods.remove(&key);
                                }
                            }
                        }
                        if let Some(iface) = &ii.interface {
                            tri!(check_interface(e, &ii.type_name, iface));
                        }
                    }
                    Instr::DefInterface { info, dst } => {
                        let ii = &proto.interfaces[info as usize];
                        r!(dst) = interface_value(ii);
                    }
                    Instr::DefPrompt { dst, name } => {
                        r!(dst) = Value::native(Box::new(PromptValue { name: kstr!(name).to_string() }));
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
                        let s = &r!(secs);
                        let seconds = match s.as_f64() {
                            Some(x) if x.is_finite() => x.max(0.0),
                            Some(_) => 0.0,
                            None => 5.0,
                        };
                        let deadline = Instant::now() + Duration::from_secs_f64(seconds.min(1e9));
                        libforge::isolate::push_deadline(deadline);
                        self.blocks.push(OpenBlock { frame: fi, kind: BlockKind::Timeout { deadline, secs: seconds as u64 } });
                    }
                    Instr::TimeoutEnd => {
                        if let Some(OpenBlock { kind: BlockKind::Timeout { deadline, secs }, .. }) = self.blocks.pop() {
                            libforge::isolate::pop_deadline();
                            if Instant::now() >= deadline {
                                tri!(fail(format!("timeout: operation exceeded {secs} second limit")));
                            }
                        }
                    }
                    Instr::CheckCancel => {
                        if libforge::isolate::cancelled() {
                            tri!(fail("cancelled"));
                        }
                    }
                    Instr::Retry { op, state, err } => match op {
                        0 => {
                            let n = r!(state).as_int().unwrap_or(3).max(0);
                            r!(state) = Value::int(n);
                            r!(state + 1) = Value::int(0);
                            r!(state + 2) = Value::str("");
                        }
                        1 => {
                            let n = r!(state).as_int().unwrap_or(0);
                            let a = r!(state + 1).as_int().unwrap_or(0);
                            if a >= n {
                                let last = display(&r!(state + 2));
                                tri!(fail(format!("retry failed after {n} attempts: {last}")));
                            }
                            r!(state + 1) = Value::int(a + 1);
                        }
                        _ => {
                            let msg = r!(err).as_object().and_then(|m| m.get("message").cloned()).unwrap_or_default();
                            r!(state + 2) = msg;
                            let n = r!(state).as_int().unwrap_or(0);
                            let a = r!(state + 1).as_int().unwrap_or(0);
                            if a < n {
                                self.frames[fi].pc = pc;
                                tri!(self.sleep(Duration::from_millis(100 * a as u64)));
                            }
                        }
                    },
                    Instr::Schedule { func, interval, unit } => {
                        let f = r!(func).clone();
                        let mult = [1u64, 60, 3600][unit as usize % 3];
                        let secs = match r!(interval).as_int() {
                            Some(i) if i >= 0 => i as u64 * mult,
                            _ => 60,
                        };
                        let every = Duration::from_secs(secs).max(Duration::from_millis(1));
                        self.schedules.push(Scheduled { func: f, every, next: Instant::now() + every });
                    }
                    Instr::Watch { func, path } => {
                        let p = match r!(path).as_str() {
                            Some(s) => s.to_string(),
                            None => tri!(fail("watch requires a string path")),
                        };
                        let f = r!(func).clone();
                        let last = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                        self.watches.push(Watched { func: f, path: p, last, next: Instant::now() + Duration::from_secs(1) });
                    }
                    Instr::Decorator { name, args, n } => {
                        let vals: Vec<Value> = (0..n as u16).map(|i| r!(args + i).clone()).collect();
                        self.decorators.push((kstr!(name).to_string(), vals));
                    }
                    Instr::CheckDestructure { src, array } => {
                        let v = &r!(src);
                        if array && !v.is_array() {
                            tri!(fail("cannot destructure non-array"));
                        }
                        if !array && !v.is_object() {
                            tri!(fail("cannot destructure non-object"));
                        }
                    }
                    Instr::GetKeyOr { dst, obj, name } => {
                        let v = r!(obj).as_object().and_then(|m| m.get(kstr!(name)).cloned()).unwrap_or(Value::NULL);
                        r!(dst) = v;
                    }
                    Instr::ArrayAt { dst, arr, i } => {
                        let v = r!(arr).as_array().and_then(|a| a.get(i as usize).cloned()).unwrap_or(Value::NULL);
                        r!(dst) = v;
                    }
                    Instr::ArrayRest { dst, arr, skip } => {
                        let v = r!(arr).as_array().map(|a| a.iter().skip(skip as usize).cloned().collect()).unwrap_or_default();
                        r!(dst) = Value::array(v);
                    }
                    Instr::Nop => {}
                }
            }
        }
    }

    // ----- helpers of the dispatch loop -----

    fn load_builtin(&mut self, name: &str) -> Result<Value> {
        if let Some((m, member)) = name.split_once('.') {
            let obj = self.module_object(m);
            return match obj.as_object().and_then(|o| o.get(member).cloned()) {
                Some(v) => Ok(v),
                None => fail(format!("{name} is not available in this build")),
            };
        }
        if let Some(b) = builtins::lookup(name) {
            return Ok(b);
        }
        if builtins::is_module(name) {
            return Ok(self.module_object(name));
        }
        fail(format!("undefined variable: '{name}'"))
    }

    /// `undefined variable: 'x'` with a "did you mean" hint.
    fn undefined(&self, name: &str, env: &Value, proto: &Proto) -> Error {
        let mut candidates: Vec<&str> = Vec::new();
        if let Some(e) = env.as_env() {
            let slots = e.slots.borrow();
            for (i, n) in e.names.iter().enumerate() {
                if !slots[i].is_undef() {
                    candidates.push(n);
                }
            }
        }
        candidates.extend(proto.local_names.iter().map(|s| s.as_str()));
        let mut best: Option<(usize, &str)> = None;
        for c in candidates {
            if c == name {
                continue;
            }
            let d = levenshtein(name, c);
            if d <= 2 && d < name.chars().count() && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
        let hint = match best {
            Some((_, c)) => format!("  hint: did you mean '{c}'?"),
            None => "  hint: make sure the variable is defined before use".to_string(),
        };
        Error::new(format!("undefined variable: '{name}'\n{hint}"))
    }

    fn env_of(&self, fi: usize) -> Value {
        self.frames[fi].closure.as_function().expect("closure").env.clone()
    }

    fn get_field(&self, obj: &Value, name: &str, fi: usize) -> Result<Value> {
        match obj.kind() {
            Kind::Object => {
                let m = obj.as_object().expect("object");
                if let Some(v) = m.get(name) {
                    return Ok(v.clone());
                }
                // Embedded fields of a struct instance.
                if let Some(t) = m.get("__type__").and_then(|t| t.as_str().map(|s| s.to_string())) {
                    let env = self.env_of(fi);
                    let reg = env.as_env().expect("env").registry.borrow();
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
        let steps: Vec<Step> = p
            .steps
            .iter()
            .map(|s| match s {
                PathStep::Field(n) => Step::Field(n.clone()),
                PathStep::Index(r) => Step::Index(self.regs[base + *r as usize].clone()),
            })
            .collect();
        let name = p.name.clone();
        self.with_root(fi, p.root, |root| {
            if root.is_undef() {
                return fail(format!("undefined: {name}"));
            }
            if root.is_frozen() {
                let what = match &steps[0] {
                    Step::Field(f) => format!("field '{f}'"),
                    Step::Index(_) => "index assignment".to_string(),
                };
                return fail(format!("cannot modify frozen value '{name}': {what}"));
            }
            assign_path(root, &steps, v)
        })
    }

    fn push_pop(&mut self, fi: usize, proto: &Proto, path: usize, arg: Value, pop: bool) -> Result<Value> {
        let p = &proto.paths[path];
        let name = p.name.clone();
        self.with_root(fi, p.root, |root| {
            if root.is_array() && root.is_frozen() {
                return fail(format!("cannot modify frozen value '{name}': {}", if pop { "pop" } else { "push" }));
            }
            match root.array_mut() {
                Some(a) => {
                    if pop {
                        Ok(a.pop().unwrap_or(Value::NULL))
                    } else {
                        a.push(arg);
                        Ok(root.clone())
                    }
                }
                None => {
                    if root.is_undef() {
                        fail(format!("undefined variable: '{name}'"))
                    } else if pop {
                        fail("pop() requires array")
                    } else {
                        fail("push() first argument must be array")
                    }
                }
            }
        })
    }

    fn append_var(&mut self, fi: usize, proto: &Proto, path: usize, v: Value) -> Result<()> {
        let p = &proto.paths[path];
        let name = p.name.clone();
        self.with_root(fi, p.root, |root| {
            if root.is_undef() {
                return fail(format!("undefined variable: '{name}'"));
            }
            if root.is_str() {
                let s = root.string_mut().expect("string");
                write_display(s, &v);
                return Ok(());
            }
            let r = ops::arith(Arith::Add, root, &v)?;
            *root = r;
            Ok(())
        })
    }

    fn call_method(&mut self, fi: usize, recv: Value, name: &str, args: Vec<Value>) -> Result<Value> {
        // Object with a callable field of that name.
        if let Some(m) = recv.as_object() {
            if let Some(f) = m.get(name) {
                let f = f.clone();
                return self.call_value(&f, &args);
            }
        }
        let env = self.env_of(fi);
        // Static method of a struct type.
        if let Some(st) = recv.native_ref::<StructType>() {
            let t = st.name.clone();
            let f = {
                let reg = env.as_env().expect("env").registry.borrow();
                let key = format!("{t}.{name}");
                if reg.instance_methods.contains(&key) {
                    None
                } else {
                    reg.methods.get(&t).and_then(|ms| ms.get(name)).cloned()
                }
            };
            return match f {
                Some(f) => self.call_value(&f, &args),
                None => fail(format!("no static method '{name}' on {t}")),
            };
        }
        // Struct instances and ADT values.
        if let Some(t) = recv.as_object().and_then(|m| m.get("__type__")).and_then(|t| t.as_str().map(|s| s.to_string())) {
            let (method, embedded) = {
                let reg = env.as_env().expect("env").registry.borrow();
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
                let mut full = Vec::with_capacity(args.len() + 1);
                full.push(recv);
                full.extend(args);
                return self.call_value(&f, &full);
            }
            if let Some((f, fv)) = embedded {
                let mut full = Vec::with_capacity(args.len() + 1);
                full.push(fv);
                full.extend(args);
                return self.call_value(&f, &full);
            }
            if builtins::METHOD_CAPABLE.contains(&name) {
                return self.call_global_method(&env, recv, name, args);
            }
            return fail(format!("no method '{name}' on {t}"));
        }
        if let Some(s) = recv.as_str() {
            let s = s.to_string();
            if let Some(r) = builtins::strings::string_method(self, name, &s, &args) {
                return r;
            }
        }
        if builtins::METHOD_CAPABLE.contains(&name) {
            return self.call_global_method(&env, recv, name, args);
        }
        if recv.is_object() {
            return fail(format!("no method '{name}' on object"));
        }
        fail(format!("cannot call '{name}' on {}", ops::type_name(&recv)))
    }

    /// `recv.m(args)` for a method-capable name: whatever is bound to the global `m`.
    fn call_global_method(&mut self, env: &Value, recv: Value, name: &str, args: Vec<Value>) -> Result<Value> {
        let bound = env.as_env().and_then(|e| e.slot_of(name).map(|s| e.get(s))).filter(|v| !v.is_undef());
        let f = match bound.or_else(|| builtins::lookup(name)) {
            Some(f) => f,
            None => return fail(format!("unknown method '{name}'")),
        };
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(recv);
        full.extend(args);
        self.call_value(&f, &full)
    }

    fn match_exhaustive(&self, fi: usize, proto: &Proto, subject: &Value, info: usize) -> Result<()> {
        let Some(t) = subject.as_object().and_then(|m| m.get("__type__")).and_then(|t| t.as_str().map(|s| s.to_string())) else {
            return Ok(());
        };
        let mi = &proto.matches[info];
        if mi.has_wildcard {
            return Ok(());
        }
        let env = self.env_of(fi);
        let reg = env.as_env().expect("env").registry.borrow();
        let Some(variants) = reg.adts.get(&t) else { return Ok(()) };
        if mi.idents.iter().any(|i| !variants.contains(i)) {
            return Ok(());
        }
        for v in variants {
            if !mi.named.contains(v) && !mi.idents.contains(v) {
                return fail(format!("non-exhaustive match: missing variant '{v}'"));
            }
        }
        Ok(())
    }

    fn import(&mut self, module: &Arc<Module>, imp: &forgec::ir::ImportInfo) -> Result<Vec<Value>> {
        let Some(mi) = imp.module else {
            return fail(format!("cannot import '{}': file not found", imp.path));
        };
        let sub = module.imports[mi as usize].clone();
        let env = self.new_env(&sub);
        let main = make_closure(&sub, 0, env.clone(), Vec::new());
        self.call_value(&main, &[])?;
        let e = env.as_env().expect("env");
        Ok(imp
            .names
            .iter()
            .map(|n| match e.slot_of(n) {
                Some(s) => e.get(s),
                None => Value::UNDEF,
            })
            .collect())
    }

    /// Runs scheduled blocks and watchers that are due. With `wait`, sleeps until the
    /// next one is due (used while the program waits).
    fn run_due(&mut self, _waiting: bool) -> Result<()> {
        let now = Instant::now();
        let mut due = Vec::new();
        for s in &mut self.schedules {
            if now >= s.next {
                s.next = now + s.every;
                due.push(s.func.clone());
            }
        }
        for w in &mut self.watches {
            if now >= w.next {
                w.next = now + Duration::from_secs(1);
                let m = std::fs::metadata(&w.path).and_then(|m| m.modified()).ok();
                if m != w.last {
                    w.last = m;
                    due.push(w.func.clone());
                }
            }
        }
        for f in due {
            // Errors of scheduled blocks and watchers are ignored.
            if let Err(e) = self.call_value(&f, &[]) {
                if e.is_exit().is_some() {
                    return Err(e);
                }
            }
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
        if self.schedules.is_empty() && self.watches.is_empty() {
            return libforge::host::sleep_cancellable(dur);
        }
        let end = Instant::now() + dur;
        loop {
            self.run_due(true)?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            let mut next = end;
            for s in &self.schedules {
                next = next.min(s.next);
            }
            for w in &self.watches {
                next = next.min(w.next);
            }
            libforge::host::sleep_cancellable(next.saturating_duration_since(now))?;
        }
    }
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

fn get_index(obj: &Value, idx: &Value) -> Result<Value> {
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

enum Step {
    Field(String),
    Index(Value),
}

/// Assigns `v` at `steps` inside `root`, copying shared containers on the way.
fn assign_path(root: &mut Value, steps: &[Step], v: Value) -> Result<()> {
    let Some((first, rest)) = steps.split_first() else {
        *root = v;
        return Ok(());
    };
    match first {
        Step::Field(f) => {
            let kind = ops::type_name(root);
            let Some(m) = root.object_mut() else {
                return fail(format!("cannot assign to field '{f}' of {kind}"));
            };
            if rest.is_empty() {
                m.insert(Key::new(f), v);
                return Ok(());
            }
            match m.get_mut(f.as_str()) {
                Some(child) => assign_path(child, rest, v),
                None => fail(format!("no field '{f}' on object")),
            }
        }
        Step::Index(i) => {
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
                let Some(k) = i.as_str().map(|s| s.to_string()) else { return fail("invalid index assignment") };
                let m = root.object_mut().expect("object");
                if rest.is_empty() {
                    m.insert(Key::new(&k), v);
                    return Ok(());
                }
                return match m.get_mut(k.as_str()) {
                    Some(child) => assign_path(child, rest, v),
                    None => fail(format!("key '{k}' not found")),
                };
            }
            fail("invalid index assignment")
        }
    }
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty())
}

fn test_variant(v: &Value, name: &str) -> bool {
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
            let Some(n) = meth.as_object().and_then(|o| o.get("name")).and_then(|n| n.as_str().map(|s| s.to_string())) else {
                continue;
            };
            if !have.is_some_and(|h| h.contains_key(&n)) {
                return fail(format!("'{type_name}' does not implement '{n}' required by power '{iface}'"));
            }
        }
    }
    Ok(())
}

fn interface_value(ii: &forgec::ir::InterfaceInfo) -> Value {
    let mut m = libforge::value::new_map();
    m.insert(Key::new("__kind__"), Value::str("interface"));
    m.insert(Key::new("name"), Value::str(&ii.name));
    let methods = ii
        .methods
        .iter()
        .map(|(n, pc, rt)| {
            let mut o = libforge::value::new_map();
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

fn ask() -> Result<Value> {
    if std::env::var("FORGE_AI_KEY").is_err() && std::env::var("OPENAI_API_KEY").is_err() {
        return fail("ask requires FORGE_AI_KEY or OPENAI_API_KEY environment variable");
    }
    fail("ask error: the HTTP client is not available in this build")
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ----- native objects of the VM -----

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
        other.as_any().downcast_ref::<AdtCtor>().is_some_and(|o| o.type_name == self.type_name && o.variant == self.variant)
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(AdtCtor { type_name: self.type_name.clone(), variant: self.variant.clone(), arity: self.arity }))
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

/// The shared state of a spawned task: its result once finished.
struct TaskState {
    result: Mutex<Option<Detached>>,
    done: Condvar,
}

/// A task handle (`<task>`): a reference shared by every copy.
pub struct TaskHandle {
    state: Arc<TaskState>,
}

impl TaskHandle {
    /// Blocks until the task finished; returns (a copy of) its result.
    fn join(&self) -> Value {
        let mut guard = self.state.result.lock().unwrap_or_else(|e| e.into_inner());
        while guard.is_none() {
            guard = self.state.done.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        guard.as_ref().map(|d| d.duplicate().attach()).unwrap_or_default()
    }
}

impl NativeObject for TaskHandle {
    fn type_name(&self) -> &'static str {
        "TaskHandle"
    }
    fn display(&self) -> String {
        "<task>".into()
    }
    fn equals(&self, other: &dyn NativeObject) -> bool {
        other.as_any().downcast_ref::<TaskHandle>().is_some_and(|o| Arc::ptr_eq(&o.state, &self.state))
    }
    fn deep_copy(&self, _: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        Value::native(Box::new(TaskHandle { state: self.state.clone() }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Starts a task: the closure and everything it reaches are copied into a new isolate
/// on its own thread.
fn spawn_task(f: &Value) -> Value {
    let state = Arc::new(TaskState { result: Mutex::new(None), done: Condvar::new() });
    let job = f.detach();
    let st = state.clone();
    let spawned = std::thread::Builder::new().stack_size(64 << 20).spawn(move || {
        let f = job.attach();
        let mut vm = Vm::new();
        let result = match vm.call_value(&f, &[]) {
            Ok(v) => v,
            Err(e) => {
                if let Some(code) = e.is_exit() {
                    libforge::output::flush();
                    std::process::exit(code);
                }
                libforge::output::eprint(&format!("spawn error: {}\n", e.message()));
                Value::NULL
            }
        };
        let detached = result.detach();
        drop(result);
        drop(f);
        vm.teardown();
        *st.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(detached);
        st.done.notify_all();
    });
    if spawned.is_err() {
        *state.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(Value::NULL.detach());
    }
    Value::native(Box::new(TaskHandle { state }))
}

/// Source excerpt and trace for an uncaught error, rendered as in every tier.
pub fn report(err: &Error, main: &Module, colour: forge_abi::report::Colour) -> String {
    let inner = err.inner();
    let (line, col) = inner.pos.unwrap_or((1, 1));
    let file = inner.file.clone().unwrap_or_else(|| main.file.clone());
    let src = find_source(main, &file).unwrap_or(&main.source);
    let idx = LineIndex::new(src);
    let text = idx.line_text(src, line);
    forge_abi::report::render(&main.file, err.message(), line, col, text, &inner.trace, colour)
}

fn find_source<'a>(m: &'a Module, file: &str) -> Option<&'a str> {
    if m.file == file {
        return Some(&m.source);
    }
    m.imports.iter().find_map(|s| find_source(s, file))
}
