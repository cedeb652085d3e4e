//! Int kernels: a second, unboxed form of small integer functions.
//!
//! A function whose body, given small Ints for its parameters, only moves small Ints
//! and Bools between registers, does Int arithmetic and comparisons, branches, calls
//! functions of the same kind directly with exactly their parameters, and returns a
//! small Int, is also compiled as a *kernel*: `fn(depth, a1, …, aN) -> (value, bail)`
//! over machine integers (payloads, not words). A kernel touches no runtime state —
//! no context, no counts, no heap — and keeps no frame of the runtime.
//!
//! Whatever a kernel cannot do exactly as the other tiers do — an operation whose
//! result leaves the small-Int range, a division by zero, a call deeper than a bound
//! safely below the depth limit — makes it *bail*: return with the flag set, and every
//! kernel caller returns so at once, up to the boxed body that called the outermost
//! kernel. That body then runs the call again in its usual form. This is sound because
//! a kernel has no effects: running the call again from the start gives what the
//! first run would have given, errors and stack traces included.
//!
//! The boxed fixed-arity body of a kernel function calls the kernel first when every
//! argument is a small Int (`Translator::translate`). Inside a kernel:
//! - calls of short kernels are expanded inline, up to four levels deep within a
//!   budget of instructions (the last level's calls are calls), which removes most
//!   calls of a binary recursion such as `fib`;
//! - where a call is still a call, a self-call under an addition in tail position
//!   (`return x + f(…)`) becomes a step of a loop that keeps the sum of the `x`s.
//!   That is exact: all values are Ints kept exactly or the kernel bails, and when
//!   the loop's partial sums and the result are small Ints, the sums the calls would
//!   have returned are within 64 bits, so the other tiers get the same Int. Each step
//!   counts as a frame deeper, as the call would.

use cranelift_codegen::ir::{self as cl, condcodes::IntCC, types, InstBuilder};
use cranelift_frontend::{FunctionBuilder, Variable};
use rustc_hash::{FxHashMap, FxHashSet};

use super::known::{self, KnownFns};
use super::{box_int, is_small, live, payload};
use crate::ir::{self, ArithOp, Const, Instr, Special};
use forge_abi::layout as L;

/// Kernels bail before going deeper than this many frames: well below the runtime's
/// limit (512 frames), with room for the calls expanded inline. Bailing early only
/// costs time; the boxed code then reports the depth error where it belongs.
const DEPTH_LIMIT: i64 = 480;

/// At most how many levels of calls a kernel expands inline ([`Emitter::levels`]).
const INLINE_LEVELS: u32 = 4;

/// The most IR instructions a kernel's body may grow to by the calls it expands.
const INLINE_BUDGET: usize = 512;

/// The longest body (in IR instructions) a kernel caller expands inline.
const INLINE_MAX: usize = 48;

/// The longest body that becomes a kernel.
const KERNEL_MAX: usize = 400;

/// The longest body that gets a leaf entry.
const LEAF_MAX: usize = 64;

/// The longest leaf body expanded inline at its direct calls.
const LEAF_INLINE_MAX: usize = 24;

/// What the analysis found out about one kernel function.
pub struct Kernel {
    /// The instructions reached from the entry.
    reach: Vec<bool>,
    /// Direct calls: the `Call` index → the prototype called.
    pub calls: FxHashMap<usize, u32>,
    /// Self-calls in tail position under an addition (`return x + f(…)`), by the
    /// index of the `Call`, with the other operand of the `+`: a copy of the body
    /// runs these as a loop ([`Emitter::copy`]).
    tail_adds: FxHashMap<usize, ir::Reg>,
    /// Leaf entries only: the upvalues the body reads or writes, and those it writes.
    upvals: Vec<u16>,
    written: Vec<u16>,
    /// Leaf entries only: the kind of the value each `Return` returns.
    rets: FxHashMap<usize, K>,
}

/// The signature of a kernel of `n_params` parameters (`sig` empty, of the right
/// calling convention): `fn(depth, a1, …, aN) -> (value, bail)`.
pub fn signature(mut sig: cl::Signature, n_params: u16) -> cl::Signature {
    for _ in 0..=n_params {
        sig.params.push(cl::AbiParam::new(types::I64));
    }
    sig.returns.push(cl::AbiParam::new(types::I64));
    sig.returns.push(cl::AbiParam::new(types::I8));
    sig
}

/// The register kinds of the analysis.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum K {
    /// Not written yet (holds `null`).
    Unset,
    Int,
    Bool,
    /// The callee of the direct call that follows (read by it alone).
    Callee,
    /// Different kinds on different paths.
    Mixed,
}

/// The kernels of a module, by prototype index.
pub fn find(m: &ir::Module, known: &KnownFns) -> Vec<Option<Kernel>> {
    let n = m.protos.len();
    let direct: Vec<FxHashMap<usize, (usize, u32)>> = (0..n)
        .map(|pi| {
            let p = &m.protos[pi];
            if eligible_shape(p) {
                // No `try` in a candidate: no handler can see a register.
                known::direct_calls(m, pi, known, &|_| Vec::new())
            } else {
                FxHashMap::default()
            }
        })
        .collect();
    let mut cand: Vec<bool> = m.protos.iter().map(eligible_shape).collect();
    // Drop candidates that call non-candidates (or break a rule) until none does.
    loop {
        let mut changed = false;
        for pi in 0..n {
            if cand[pi] && analyse(m, pi, &direct[pi], &cand, Mode::Kernel).is_none() {
                cand[pi] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut found: Vec<Option<Kernel>> =
        (0..n).map(|pi| if cand[pi] { analyse(m, pi, &direct[pi], &cand, Mode::Kernel) } else { None }).collect();
    // Kept: the kernels that make calls, and the ones they call. (A kernel without
    // calls would only repeat the typed copy of its body.)
    let mut keep = vec![false; n];
    let mut todo: Vec<usize> = (0..n).filter(|&pi| found[pi].as_ref().is_some_and(|k| !k.calls.is_empty())).collect();
    while let Some(pi) = todo.pop() {
        if std::mem::replace(&mut keep[pi], true) {
            continue;
        }
        if let Some(k) = &found[pi] {
            todo.extend(k.calls.values().map(|&t| t as usize));
        }
    }
    for (pi, k) in found.iter_mut().enumerate() {
        if !keep[pi] {
            *k = None;
        }
    }
    found
}

/// The prototypes worth analysing: named functions of no captures, without default
/// parameters, short.
fn eligible_shape(p: &std::sync::Arc<ir::Proto>) -> bool {
    p.kind == ir::ProtoKind::Function
        && p.upvals.is_empty()
        && p.n_params >= 1
        && p.n_params <= 8
        && p.param_defaults.iter().all(|d| !d)
        && p.code.len() <= KERNEL_MAX
}

/// The leaf entries of a module, by prototype index ([`Emitter::build_leaf`]).
pub fn find_leaves(m: &ir::Module) -> Vec<Option<Kernel>> {
    let none = FxHashMap::default();
    m.protos
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let shape = matches!(p.kind, ir::ProtoKind::Function | ir::ProtoKind::Lambda)
                && p.n_params <= 8
                && p.param_defaults.iter().all(|d| !d)
                && p.code.len() <= LEAF_MAX;
            if shape {
                analyse(m, pi, &none, &[], Mode::Leaf)
            } else {
                None
            }
        })
        .collect()
}

/// Whether prototype `pi` has a leaf entry (in `leaves`) short enough to expand at
/// its calls ([`Emitter::leaf`]).
pub fn inlinable(m: &ir::Module, leaves: &[Option<Kernel>], pi: u32) -> bool {
    leaves.get(pi as usize).is_some_and(|k| k.is_some()) && m.protos[pi as usize].code.len() <= LEAF_INLINE_MAX
}

/// Whether every return of leaf `pi` (in `leaves`) gives a small Int.
pub fn returns_int(leaves: &[Option<Kernel>], pi: u32) -> bool {
    leaves.get(pi as usize).and_then(|k| k.as_ref()).is_some_and(|k| k.rets.values().all(|&r| r == K::Int))
}

/// What the kind analysis admits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Kernels: direct calls of kernels, no upvalues, Int results.
    Kernel,
    /// Leaf entries: no calls, upvalues holding small Ints, forward jumps only, Int,
    /// Bool or `null` results.
    Leaf,
}

/// Runs the kind analysis of prototype `pi`: `None` unless every instruction reached
/// is one a kernel (or a leaf entry, by `mode`) does, on the kinds it needs.
fn analyse(
    m: &ir::Module,
    pi: usize,
    direct: &FxHashMap<usize, (usize, u32)>,
    cand: &[bool],
    mode: Mode,
) -> Option<Kernel> {
    let leaf = mode == Mode::Leaf;
    let mut upvals: Vec<u16> = Vec::new();
    let mut written: Vec<u16> = Vec::new();
    let mut rets: FxHashMap<usize, K> = FxHashMap::default();
    let p = &m.protos[pi];
    let n_regs = p.n_regs as usize;
    let code = &p.code;
    let gets: FxHashSet<usize> = direct.keys().copied().collect();
    let calls: FxHashMap<usize, u32> = direct.values().copied().collect();
    let mut at: Vec<Option<Vec<K>>> = vec![None; code.len() + 1];
    let mut first = vec![K::Unset; n_regs];
    for k in first.iter_mut().take(p.n_params as usize) {
        *k = K::Int;
    }
    at[0] = Some(first);
    let mut work = vec![0usize];
    let mut steps = 0usize;
    while let Some(pc) = work.pop() {
        steps += 1;
        if steps > 64 * code.len() + 64 {
            return None;
        }
        let mut st = at[pc].clone()?;
        let ins = *code.get(pc)?;
        let get = |st: &[K], r: ir::Reg| st.get(r as usize).copied().unwrap_or(K::Mixed);
        let int = |st: &[K], r: ir::Reg| get(st, r) == K::Int;
        let mut succ: Vec<usize> = Vec::with_capacity(2);
        let set = |st: &mut Vec<K>, r: ir::Reg, k: K| -> Option<()> {
            *st.get_mut(r as usize)? = k;
            Some(())
        };
        match ins {
            Instr::LoadInt { dst, .. } => {
                set(&mut st, dst, K::Int)?;
                succ.push(pc + 1);
            }
            Instr::LoadK { dst, k } => match p.consts.get(k as usize)? {
                Const::Int(v) if (L::INT_IMM_MIN..=L::INT_IMM_MAX).contains(v) => {
                    set(&mut st, dst, K::Int)?;
                    succ.push(pc + 1);
                }
                _ => return None,
            },
            Instr::LoadSpecial { dst, which: which @ (Special::True | Special::False | Special::Null) } => {
                // `null` is only ever overwritten (reading an `Unset` register is
                // refused).
                set(&mut st, dst, if which == Special::Null { K::Unset } else { K::Bool })?;
                succ.push(pc + 1);
            }
            Instr::Move { dst, src } => {
                let k = get(&st, src);
                if !matches!(k, K::Int | K::Bool) {
                    return None;
                }
                set(&mut st, dst, k)?;
                succ.push(pc + 1);
            }
            Instr::Arith { dst, a, b, .. } => {
                if !int(&st, a) || !int(&st, b) {
                    return None;
                }
                set(&mut st, dst, K::Int)?;
                succ.push(pc + 1);
            }
            Instr::ArithI { dst, a, .. } => {
                if !int(&st, a) {
                    return None;
                }
                set(&mut st, dst, K::Int)?;
                succ.push(pc + 1);
            }
            Instr::Compare { dst, a, b, .. } => {
                if !int(&st, a) || !int(&st, b) {
                    return None;
                }
                set(&mut st, dst, K::Bool)?;
                succ.push(pc + 1);
            }
            Instr::CompareI { dst, a, .. } => {
                if !int(&st, a) {
                    return None;
                }
                set(&mut st, dst, K::Bool)?;
                succ.push(pc + 1);
            }
            Instr::JmpIfNotCmp { a, b, target, .. } => {
                if !int(&st, a) || !int(&st, b) {
                    return None;
                }
                succ.extend([pc + 1, target as usize]);
            }
            Instr::JmpIfNotCmpI { a, target, .. } => {
                if !int(&st, a) {
                    return None;
                }
                succ.extend([pc + 1, target as usize]);
            }
            Instr::JmpIf { cond, target } | Instr::JmpIfNot { cond, target } => {
                if get(&st, cond) != K::Bool {
                    return None;
                }
                succ.extend([pc + 1, target as usize]);
            }
            Instr::Not { dst, src } => {
                if get(&st, src) != K::Bool {
                    return None;
                }
                set(&mut st, dst, K::Bool)?;
                succ.push(pc + 1);
            }
            Instr::Jmp { target } => succ.push(target as usize),
            Instr::Return { src } => {
                let k = get(&st, src);
                if !(k == K::Int || leaf && matches!(k, K::Bool | K::Unset)) {
                    return None;
                }
                if leaf {
                    // A leaf's returns are reached by one path each (forward jumps).
                    rets.insert(pc, k);
                }
            }
            Instr::GetUpval { dst, idx, .. } if leaf => {
                // Checked to be a small Int on entry (else the leaf bails).
                upvals.push(idx);
                set(&mut st, dst, K::Int)?;
                succ.push(pc + 1);
            }
            Instr::SetUpval { idx, src } if leaf => {
                if !int(&st, src) {
                    return None;
                }
                upvals.push(idx);
                written.push(idx);
                succ.push(pc + 1);
            }
            Instr::GetGlobal { dst, .. } if !leaf && gets.contains(&pc) => {
                set(&mut st, dst, K::Callee)?;
                succ.push(pc + 1);
            }
            Instr::Call { dst, func, args, n } if !leaf => {
                let &target = calls.get(&pc)?;
                let callee = m.protos.get(target as usize)?;
                if !cand[target as usize] || n as u16 != callee.n_params || get(&st, func) != K::Callee {
                    return None;
                }
                for i in 0..n as u16 {
                    if !int(&st, args.checked_add(i)?) {
                        return None;
                    }
                }
                set(&mut st, func, K::Unset)?;
                set(&mut st, dst, K::Int)?;
                succ.push(pc + 1);
            }
            Instr::AppendVar { path, src } => {
                // `x = x + e` on a register (or, in a leaf, an upvalue).
                let info = p.paths.get(path as usize)?;
                if !info.steps.is_empty() || !int(&st, src) {
                    return None;
                }
                match info.root {
                    ir::VarRef::Reg(r) if int(&st, r) => {}
                    ir::VarRef::Upval(u) if leaf => {
                        upvals.push(u);
                        written.push(u);
                    }
                    _ => return None,
                }
                succ.push(pc + 1);
            }
            Instr::Nop => succ.push(pc + 1),
            _ => return None,
        }
        for s in succ {
            if s >= code.len() || leaf && s <= pc {
                // Falling off the end returns `null`; a leaf has no loops.
                return None;
            }
            if known::join_into(&mut at[s], &st, K::Mixed) {
                work.push(s);
            }
        }
    }
    // A register read in a kind it may not have was refused above; `Mixed` and
    // `Unset` registers are only ever overwritten.
    let reach: Vec<bool> = at[..code.len()].iter().map(|s| s.is_some()).collect();
    // `y = f(…); s = x + y; return s` with f this function: the addition and return
    // must be reached from the call alone.
    let mut starts = FxHashSet::default();
    for ins in code {
        if let Some(t) = ins.jump_target() {
            starts.insert(t as usize);
        }
    }
    let mut tail_adds = FxHashMap::default();
    for (&pc, &target) in &calls {
        if target as usize != pi || !reach[pc] || starts.contains(&(pc + 1)) || starts.contains(&(pc + 2)) {
            continue;
        }
        let Instr::Call { dst: y, .. } = code[pc] else { continue };
        let (Some(&Instr::Arith { op: ArithOp::Add, dst: s, a, b }), Some(&Instr::Return { src })) =
            (code.get(pc + 1), code.get(pc + 2))
        else {
            continue;
        };
        let other = if b == y && a != y {
            a
        } else if a == y && b != y {
            b
        } else {
            continue;
        };
        if src == s {
            tail_adds.insert(pc, other);
        }
    }
    upvals.sort_unstable();
    upvals.dedup();
    written.sort_unstable();
    written.dedup();
    Some(Kernel { reach, calls, tail_adds, upvals, written, rets })
}

/// Emits kernel bodies into a function being built.
pub struct Emitter<'m> {
    pub module: &'m ir::Module,
    pub kernels: &'m [Option<Kernel>],
    /// The kernel functions this one calls, by prototype.
    pub refs: FxHashMap<u32, cl::FuncRef>,
    /// The analysis facts of each prototype emitted (for operand ranges).
    pub facts: FxHashMap<u32, live::Facts>,
    /// The shared bail exit: returns `(0, 1)` (in a leaf entry: calls the body).
    pub bail: cl::Block,
    /// Leaf entries: the upvalues' payloads, by index.
    pub upvars: FxHashMap<u16, Variable>,
}

/// How an emitted copy of a body returns.
#[derive(Clone, Copy)]
enum Ret {
    /// From the function, with the flag clear.
    Return,
    /// By a jump to this block, with the value as its parameter.
    Jump(cl::Block),
    /// A leaf's return: by a jump to this block, with the value boxed as a word and
    /// the machine value (the payload of an Int).
    Boxed(cl::Block),
}

impl<'m> Emitter<'m> {
    /// Builds kernel `pi`'s whole function: the signature is `(depth, a1, …, aN) ->
    /// (value, bail)`.
    pub fn build(&mut self, b: &mut FunctionBuilder, pi: u32) -> Result<(), String> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let depth = params[0];
        let deep = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, depth, DEPTH_LIMIT);
        let go = b.create_block();
        b.ins().brif(deep, self.bail, &[], go, &[]);
        b.switch_to_block(go);
        let levels = self.levels(pi);
        self.copy(b, pi, &params[1..], depth, Ret::Return, levels)?;
        b.switch_to_block(self.bail);
        b.set_cold_block(self.bail);
        let zero = b.ins().iconst(types::I64, 0);
        let one = b.ins().iconst(types::I8, 1);
        b.ins().return_(&[zero, one]);
        b.seal_all_blocks();
        Ok(())
    }

    /// Builds prototype `pi`'s leaf entry: a function of the fixed-arity body's
    /// signature `(ctx, closure, a1, …, aN) -> word` that runs [`Emitter::leaf`] and
    /// otherwise calls the body `body`.
    pub fn build_leaf(&mut self, b: &mut FunctionBuilder, pi: u32, body: cl::FuncRef) -> Result<(), String> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let done = b.create_block();
        b.append_block_param(done, types::I64);
        self.leaf(b, pi, params[0], params[1], &params[2..], done)?;
        b.switch_to_block(done);
        let w = b.block_params(done)[0];
        b.ins().return_(&[w]);
        b.switch_to_block(self.bail);
        b.set_cold_block(self.bail);
        let call = b.ins().call(body, &params);
        let r = b.inst_results(call)[0];
        b.ins().return_(&[r]);
        b.seal_all_blocks();
        Ok(())
    }

    /// Emits, at the current block, a call of prototype `pi` (a leaf) with closure
    /// `clo` and argument words `args`, done on machine integers: when the call would
    /// not pass the depth limit and the arguments and the upvalues the body uses are
    /// small Ints, it runs the body over payloads and jumps to `done` with the result
    /// word (and, when `done` takes two parameters, the machine value: the payload of
    /// an Int result); on anything else (or an overflow, a zero divisor) it jumps to
    /// the bail block, before any effect, where the caller makes the call in its usual
    /// form. The upvalues it writes are stored back just before the jump to `done`.
    pub fn leaf(
        &mut self,
        b: &mut FunctionBuilder,
        pi: u32,
        cx: cl::Value,
        clo: cl::Value,
        words: &[cl::Value],
        done: cl::Block,
    ) -> Result<(), String> {
        let p = &self.module.protos[pi as usize];
        let Some(k) = &self.kernels[pi as usize] else {
            return Err(format!("internal error: '{}' has no leaf entry", p.name));
        };
        let (upvals, written) = (k.upvals.clone(), k.written.clone());
        self.upvars.clear();
        // The call would be one frame deeper: the body reports the depth error.
        let d = b.ins().load(types::I32, cl::MemFlagsData::trusted(), cx, forge_abi::abi::CTX_DEPTH);
        let max = b.ins().load(types::I32, cl::MemFlagsData::trusted(), cx, forge_abi::abi::CTX_MAX_DEPTH);
        let room = b.ins().icmp(IntCC::UnsignedLessThan, d, max);
        self.check(b, room);
        let mut args = Vec::new();
        for &a in words {
            let ok = is_small(b, a);
            self.check(b, ok);
            args.push(payload(b, a));
        }
        let mut addrs = FxHashMap::default();
        if !upvals.is_empty() {
            let obj = b.ins().band_imm_u(clo, L::PAYLOAD_MASK as i64);
            let slots = b.ins().load(types::I64, cl::MemFlagsData::trusted(), obj, L::FUNC_SLOTS_OFFSET);
            for &u in &upvals {
                let addr = b.ins().load(types::I64, cl::MemFlagsData::trusted(), slots, u as i32 * 8);
                let w = b.ins().load(types::I64, cl::MemFlagsData::trusted(), addr, 0);
                let ok = is_small(b, w);
                self.check(b, ok);
                let var = b.declare_var(types::I64);
                let x = payload(b, w);
                b.def_var(var, x);
                self.upvars.insert(u, var);
                addrs.insert(u, addr);
            }
        }
        let commit = b.create_block();
        b.append_block_param(commit, types::I64);
        b.append_block_param(commit, types::I64);
        let depth = b.ins().iconst(types::I64, 0);
        self.copy(b, pi, &args, depth, Ret::Boxed(commit), 0)?;
        b.switch_to_block(commit);
        let (w, x) = (b.block_params(commit)[0], b.block_params(commit)[1]);
        for u in written {
            let v = b.use_var(self.upvars[&u]);
            let boxed = box_int(b, v);
            b.ins().store(cl::MemFlagsData::trusted(), boxed, addrs[&u], 0);
        }
        if b.func.dfg.block_params(done).len() == 2 {
            b.ins().jump(done, &[w.into(), x.into()]);
        } else {
            b.ins().jump(done, &[w.into()]);
        }
        Ok(())
    }

    /// A leaf's variable for upvalue `u`.
    fn upvar(&self, u: u16) -> Result<Variable, String> {
        self.upvars.get(&u).copied().ok_or_else(|| format!("internal error: upvalue {u} outside a leaf entry"))
    }

    /// How many levels of calls kernel `pi` expands inline: the most (up to
    /// [`INLINE_LEVELS`]) that keep it within [`INLINE_BUDGET`].
    fn levels(&self, pi: u32) -> u32 {
        fn size(e: &Emitter, pi: u32, levels: u32) -> usize {
            let code = &e.module.protos[pi as usize].code;
            let mut n = code.len();
            if levels > 0 {
                if let Some(k) = &e.kernels[pi as usize] {
                    for &t in k.calls.values() {
                        if e.module.protos[t as usize].code.len() <= INLINE_MAX {
                            n += size(e, t, levels - 1);
                        }
                    }
                }
            }
            n
        }
        (1..=INLINE_LEVELS).rev().find(|&l| size(self, pi, l) <= INLINE_BUDGET).unwrap_or(0)
    }

    fn facts(&mut self, pi: u32) -> Result<&live::Facts, String> {
        if !self.facts.contains_key(&pi) {
            let p = &self.module.protos[pi as usize];
            let stacks = super::Translator::open_blocks(&p.code).map_err(|e| e.0)?;
            self.facts.insert(pi, live::Facts::analyse(self.module, p, &stacks, true));
        }
        Ok(&self.facts[&pi])
    }

    /// Emits one copy of prototype `pi`'s body at the current block, with `args` in
    /// its parameters, at call depth `depth`; calls of short kernels are expanded
    /// inline when `inline`.
    fn copy(
        &mut self,
        b: &mut FunctionBuilder,
        pi: u32,
        args: &[cl::Value],
        depth: cl::Value,
        ret: Ret,
        inline: u32,
    ) -> Result<(), String> {
        let (module, kernels) = (self.module, self.kernels);
        let p = &module.protos[pi as usize];
        let Some(k) = &kernels[pi as usize] else {
            return Err(format!("internal error: '{}' is not a kernel", p.name));
        };
        let code = &p.code;
        let vars: Vec<Variable> = (0..p.n_regs).map(|_| b.declare_var(types::I64)).collect();
        let zero = b.ins().iconst(types::I64, 0);
        for (r, &v) in vars.iter().enumerate() {
            let init = args.get(r).copied().unwrap_or(zero);
            b.def_var(v, init);
        }
        let mut blocks: FxHashMap<usize, cl::Block> = FxHashMap::default();
        let mut block_at = |b: &mut FunctionBuilder, pc: usize| *blocks.entry(pc).or_insert_with(|| b.create_block());
        for (pc, ins) in code.iter().enumerate() {
            if let Some(t) = ins.jump_target() {
                block_at(b, t as usize);
                block_at(b, pc + 1);
            } else if matches!(ins, Instr::Return { .. }) {
                block_at(b, pc + 1);
            }
        }
        let first = block_at(b, 0);
        // Tail additions (`return x + f(…)`) make the copy a loop: the sum of the
        // `x`s so far is kept in `acc`, and each return adds it. A loop step stands
        // for a call one frame deeper, so the depth goes up with each.
        // (Only where the call would be a call: one expanded inline costs less.)
        let looped = !k.tail_adds.is_empty() && (inline == 0 || code.len() > INLINE_MAX);
        let depth_var = b.declare_var(types::I64);
        b.def_var(depth_var, depth);
        let acc = b.declare_var(types::I64);
        b.def_var(acc, zero);
        b.ins().jump(first, &[]);
        let mut terminated = true;
        let mut skip_to = 0;
        let small = (live::SMALL_RANGE.0 as i128, live::SMALL_RANGE.1 as i128);
        for (pc, &ins) in code.iter().enumerate() {
            if !k.reach[pc] || pc < skip_to {
                continue;
            }
            if let Some(&blk) = blocks.get(&pc) {
                if !terminated {
                    b.ins().jump(blk, &[]);
                }
                b.switch_to_block(blk);
                terminated = false;
            } else if terminated {
                return Err(format!("internal error: kernel instruction {pc} follows a terminator"));
            }
            let reg = |b: &mut FunctionBuilder, r: ir::Reg| b.use_var(vars[r as usize]);
            let next = |pc: usize| blocks.get(&(pc + 1)).copied();
            match ins {
                Instr::LoadInt { dst, v } => {
                    let c = b.ins().iconst(types::I64, v as i64);
                    b.def_var(vars[dst as usize], c);
                }
                Instr::LoadK { dst, k } => {
                    let Some(Const::Int(v)) = p.consts.get(k as usize) else {
                        return Err("internal error: a kernel constant that is not an Int".into());
                    };
                    let c = b.ins().iconst(types::I64, *v);
                    b.def_var(vars[dst as usize], c);
                }
                Instr::LoadSpecial { dst, which } => {
                    let c = b.ins().iconst(types::I64, (which == Special::True) as i64);
                    b.def_var(vars[dst as usize], c);
                }
                Instr::Move { dst, src } => {
                    let v = reg(b, src);
                    b.def_var(vars[dst as usize], v);
                }
                Instr::Arith { op, dst, a, b: rb } => {
                    let (x, y) = (reg(b, a), reg(b, rb));
                    let (ra, rr) = self.facts(pi)?.operand_ranges(pc, &ins, a, Some(rb));
                    let v = self.arith(b, op, x, y, ra, rr, small);
                    b.def_var(vars[dst as usize], v);
                }
                Instr::ArithI { op, dst, a, imm } => {
                    let x = reg(b, a);
                    let y = b.ins().iconst(types::I64, imm as i64);
                    let (ra, rr) = self.facts(pi)?.operand_ranges(pc, &ins, a, None);
                    let v = self.arith(b, op, x, y, ra, rr, small);
                    b.def_var(vars[dst as usize], v);
                }
                Instr::AppendVar { path, src } => match p.paths[path as usize].root {
                    ir::VarRef::Reg(r) => {
                        let (x, y) = (reg(b, r), reg(b, src));
                        let (ra, rr) = self.facts(pi)?.operand_ranges(pc, &ins, r, Some(src));
                        let v = self.arith(b, ArithOp::Add, x, y, ra, rr, small);
                        b.def_var(vars[r as usize], v);
                    }
                    ir::VarRef::Upval(u) => {
                        let var = self.upvar(u)?;
                        let (x, y) = (b.use_var(var), reg(b, src));
                        let full = live::SMALL_RANGE;
                        let v = self.arith(b, ArithOp::Add, x, y, full, full, small);
                        b.def_var(var, v);
                    }
                    _ => return Err("internal error: a kernel update of a global".into()),
                },
                Instr::GetUpval { dst, idx, .. } => {
                    let var = self.upvar(idx)?;
                    let v = b.use_var(var);
                    b.def_var(vars[dst as usize], v);
                }
                Instr::SetUpval { idx, src } => {
                    let var = self.upvar(idx)?;
                    let v = reg(b, src);
                    b.def_var(var, v);
                }
                Instr::Compare { op, dst, a, b: rb } => {
                    let (x, y) = (reg(b, a), reg(b, rb));
                    let t = b.ins().icmp(super::int_cc(op), x, y);
                    let w = b.ins().uextend(types::I64, t);
                    b.def_var(vars[dst as usize], w);
                }
                Instr::CompareI { op, dst, a, imm } => {
                    let x = reg(b, a);
                    let t = b.ins().icmp_imm_s(super::int_cc(op), x, imm as i64);
                    let w = b.ins().uextend(types::I64, t);
                    b.def_var(vars[dst as usize], w);
                }
                Instr::JmpIfNotCmp { op, a, b: rb, target } => {
                    let (x, y) = (reg(b, a), reg(b, rb));
                    let t = b.ins().icmp(super::int_cc(op), x, y);
                    let (go, stop) =
                        (next(pc).ok_or("internal error: no block after a branch")?, blocks[&(target as usize)]);
                    b.ins().brif(t, go, &[], stop, &[]);
                    terminated = true;
                }
                Instr::JmpIfNotCmpI { op, a, imm, target } => {
                    let x = reg(b, a);
                    let t = b.ins().icmp_imm_s(super::int_cc(op), x, imm as i64);
                    let (go, stop) =
                        (next(pc).ok_or("internal error: no block after a branch")?, blocks[&(target as usize)]);
                    b.ins().brif(t, go, &[], stop, &[]);
                    terminated = true;
                }
                Instr::JmpIf { cond, target } | Instr::JmpIfNot { cond, target } => {
                    let c = reg(b, cond);
                    let (fall, jump) =
                        (next(pc).ok_or("internal error: no block after a branch")?, blocks[&(target as usize)]);
                    if matches!(ins, Instr::JmpIf { .. }) {
                        b.ins().brif(c, jump, &[], fall, &[]);
                    } else {
                        b.ins().brif(c, fall, &[], jump, &[]);
                    }
                    terminated = true;
                }
                Instr::Not { dst, src } => {
                    let v = reg(b, src);
                    let n = b.ins().bxor_imm_u(v, 1);
                    b.def_var(vars[dst as usize], n);
                }
                Instr::Jmp { target } => {
                    b.ins().jump(blocks[&(target as usize)], &[]);
                    terminated = true;
                }
                Instr::Return { src } => {
                    let mut v = reg(b, src);
                    if looped {
                        let a = b.use_var(acc);
                        v = b.ins().iadd(a, v);
                        self.check_small(b, v);
                    }
                    match ret {
                        Ret::Return => {
                            let clear = b.ins().iconst(types::I8, 0);
                            b.ins().return_(&[v, clear]);
                        }
                        Ret::Jump(blk) => {
                            b.ins().jump(blk, &[v.into()]);
                        }
                        Ret::Boxed(blk) => {
                            let w = match k.rets.get(&pc) {
                                Some(K::Int) => box_int(b, v),
                                Some(K::Bool) => {
                                    let t = b.ins().iconst(types::I64, L::TRUE_BITS as i64);
                                    let f = b.ins().iconst(types::I64, L::FALSE_BITS as i64);
                                    b.ins().select(v, t, f)
                                }
                                Some(K::Unset) => b.ins().iconst(types::I64, L::NULL_BITS as i64),
                                _ => return Err(format!("internal error: leaf return {pc} of no kind")),
                            };
                            b.ins().jump(blk, &[w.into(), v.into()]);
                        }
                    }
                    terminated = true;
                }
                Instr::GetGlobal { .. } | Instr::Nop => {}
                Instr::Call { args, n, .. } if looped && k.tail_adds.contains_key(&pc) => {
                    let vals: Vec<cl::Value> = (0..n as u16).map(|i| reg(b, args + i)).collect();
                    let x = reg(b, k.tail_adds[&pc]);
                    let a = b.use_var(acc);
                    let sum = b.ins().iadd(a, x);
                    self.check_small(b, sum);
                    b.def_var(acc, sum);
                    for (i, v) in vals.into_iter().enumerate() {
                        b.def_var(vars[i], v);
                    }
                    let d = b.use_var(depth_var);
                    let d1 = b.ins().iadd_imm_s(d, 1);
                    b.def_var(depth_var, d1);
                    let deep = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, d1, DEPTH_LIMIT);
                    b.ins().brif(deep, self.bail, &[], first, &[]);
                    terminated = true;
                    // The addition and the return are this step's.
                    skip_to = pc + 3;
                }
                Instr::Call { dst, args, n, .. } => {
                    let Some(&target) = k.calls.get(&pc) else {
                        return Err("internal error: a kernel call that is not direct".into());
                    };
                    let vals: Vec<cl::Value> = (0..n as u16).map(|i| reg(b, args + i)).collect();
                    let d = b.use_var(depth_var);
                    let deeper = b.ins().iadd_imm_s(d, 1);
                    let short = module.protos[target as usize].code.len() <= INLINE_MAX;
                    let v = if inline > 0 && short {
                        let join = b.create_block();
                        b.append_block_param(join, types::I64);
                        self.copy(b, target, &vals, deeper, Ret::Jump(join), inline - 1)?;
                        b.switch_to_block(join);
                        b.block_params(join)[0]
                    } else {
                        let Some(&f) = self.refs.get(&target) else {
                            return Err("internal error: a kernel call without a declaration".into());
                        };
                        let mut call_args = vec![deeper];
                        call_args.extend(vals);
                        let call = b.ins().call(f, &call_args);
                        let (v, flag) = (b.inst_results(call)[0], b.inst_results(call)[1]);
                        let ok = b.create_block();
                        b.ins().brif(flag, self.bail, &[], ok, &[]);
                        b.switch_to_block(ok);
                        v
                    };
                    b.def_var(vars[dst as usize], v);
                }
                _ => return Err(format!("internal error: instruction {pc} cannot be in a kernel")),
            }
        }
        if !terminated {
            return Err("internal error: a kernel body falls off its end".into());
        }
        Ok(())
    }

    /// `x op y` on small-Int payloads in the ranges `ra` and `rb`; bails where the
    /// result would not be a small Int (or the divisor is zero).
    #[allow(clippy::too_many_arguments)]
    fn arith(
        &mut self,
        b: &mut FunctionBuilder,
        op: ArithOp,
        x: cl::Value,
        y: cl::Value,
        ra: live::Range,
        rb: live::Range,
        small: (i128, i128),
    ) -> cl::Value {
        let res = live::int_op_range(op, ra, rb);
        let bounded = res.is_some_and(|(lo, hi)| lo >= small.0 && hi <= small.1);
        let r = match op {
            ArithOp::Add => b.ins().iadd(x, y),
            ArithOp::Sub => b.ins().isub(x, y),
            ArithOp::Mul => {
                // 48-bit operands: the product fits i64 exactly when the high half
                // is the sign of the low half.
                let lo = b.ins().imul(x, y);
                if !res.is_some_and(|(lo, hi)| lo >= i64::MIN as i128 && hi <= i64::MAX as i128) {
                    let hi = b.ins().smulhi(x, y);
                    let sign = b.ins().sshr_imm_u(lo, 63);
                    let ok = b.ins().icmp(IntCC::Equal, hi, sign);
                    self.check(b, ok);
                }
                lo
            }
            ArithOp::Div | ArithOp::Mod => {
                if res.is_none() {
                    let nz = b.ins().icmp_imm_s(IntCC::NotEqual, y, 0);
                    self.check(b, nz);
                }
                if op == ArithOp::Div {
                    b.ins().sdiv(x, y)
                } else {
                    b.ins().srem(x, y)
                }
            }
        };
        if !bounded {
            self.check_small(b, r);
        }
        r
    }

    /// Bails unless `r` is in the small-Int range.
    fn check_small(&mut self, b: &mut FunctionBuilder, r: cl::Value) {
        let fits = super::fits48(b, r);
        self.check(b, fits);
    }

    /// Goes on when `ok`, else bails.
    fn check(&mut self, b: &mut FunctionBuilder, ok: cl::Value) {
        let next = b.create_block();
        b.ins().brif(ok, next, &[], self.bail, &[]);
        b.switch_to_block(next);
    }
}
