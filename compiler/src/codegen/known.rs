//! Direct calls of known functions.
//!
//! A top-level `fn f(…)` lowers to `Closure r, P` followed by `SetGlobal g, r` in the
//! main prototype. When that is the only write of global `g` anywhere in the module
//! (no other `SetGlobal`, no assignment path rooted at it) and `P` captures nothing,
//! then once `g` is bound it holds a closure of `P` for good, and the closure's only
//! state is the module environment — the same one every function of the module sees.
//! A call `g(…)` is then compiled as a direct call of `P`'s fixed-arity body, passing
//! the caller's own closure (for the environment), without reading the global and
//! without the runtime's generic call.
//!
//! The global must be bound when the call runs, or the program has to fail with
//! `undefined variable` as in the other tiers. That is known statically where:
//! - the call is in `P` itself or in a function created (transitively) by `P`: `P`
//!   only runs once its closure has been stored in `g` (the two instructions are
//!   adjacent);
//! - the binding is in the straight-line start of the main prototype (before its first
//!   branch or jump target), and the call is in the main prototype after it, or in a
//!   function all of whose closures are created after it.
//!
//! The `GetGlobal` that loads the callee is left out when its register is read by the
//! `Call` alone ([`callee_only`]); the register then holds `null`.

use rustc_hash::{FxHashMap, FxHashSet};

pub use crate::ir::regs::{touches, Touch};
use crate::ir::{self, Instr, Proto, Reg, VarRef};

/// For each prototype: the global slots it may call directly, and the prototype each
/// one is bound to (for the main prototype: with the instruction index after which
/// the binding holds).
pub struct KnownFns {
    /// slot → (prototype, index of the binding `SetGlobal` in main, in main's prefix)
    bound: FxHashMap<u32, (u32, usize, bool)>,
    /// The creators of each prototype: (creating prototype, instruction index).
    creators: Vec<Vec<(usize, usize)>>,
}

impl KnownFns {
    pub fn analyse(m: &ir::Module) -> KnownFns {
        let mut writes: FxHashMap<u32, u32> = FxHashMap::default();
        let mut creators = vec![Vec::new(); m.protos.len()];
        for (pi, p) in m.protos.iter().enumerate() {
            for path in &p.paths {
                if let VarRef::Global(g) = path.root {
                    *writes.entry(g).or_default() += 2;
                }
            }
            for (pc, ins) in p.code.iter().enumerate() {
                match *ins {
                    Instr::SetGlobal { slot, .. } => *writes.entry(slot).or_default() += 1,
                    Instr::Closure { proto, .. } => {
                        if let Some(c) = creators.get_mut(proto as usize) {
                            c.push((pi, pc));
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut bound = FxHashMap::default();
        if let Some(main) = m.protos.first() {
            let prefix_end = straight_prefix(main);
            for (pc, ins) in main.code.iter().enumerate() {
                let Instr::SetGlobal { slot, src } = *ins else { continue };
                if writes.get(&slot) != Some(&1) || pc == 0 {
                    continue;
                }
                let Instr::Closure { dst, proto } = main.code[pc - 1] else { continue };
                let Some(target) = m.protos.get(proto as usize) else { continue };
                if dst != src || !target.upvals.is_empty() || target.kind != ir::ProtoKind::Function {
                    continue;
                }
                bound.insert(slot, (proto, pc, pc < prefix_end));
            }
        }
        KnownFns { bound, creators }
    }

    /// The prototype a `GetGlobal` of `slot` at `pc` in prototype `pi` may call
    /// directly.
    pub fn callee(&self, pi: usize, pc: usize, slot: u32) -> Option<u32> {
        let &(target, def_pc, in_prefix) = self.bound.get(&slot)?;
        let ok = if pi == 0 { in_prefix && pc > def_pc } else { self.runs_after(pi, target, def_pc, in_prefix, 0) };
        ok.then_some(target)
    }

    /// Whether prototype `pi` can only run once the binding of `target` (at `def_pc`
    /// of main) has happened.
    fn runs_after(&self, pi: usize, target: u32, def_pc: usize, in_prefix: bool, depth: usize) -> bool {
        if pi == target as usize {
            return true;
        }
        let creators = &self.creators[pi];
        if creators.is_empty() || depth > 64 {
            return false;
        }
        creators.iter().all(|&(c, pc)| {
            if c == 0 {
                in_prefix && pc > def_pc
            } else {
                c != pi && self.runs_after(c, target, def_pc, in_prefix, depth + 1)
            }
        })
    }
}

/// The end of the main prototype's straight-line start: the first jump target or
/// control instruction.
fn straight_prefix(p: &Proto) -> usize {
    let mut targets = FxHashSet::default();
    for ins in &p.code {
        if let Some(t) = ins.jump_target().map(|t| t as usize) {
            targets.insert(t);
        }
        if let Instr::TryBegin { handler, .. } = *ins {
            targets.insert(handler as usize);
        }
    }
    for (pc, ins) in p.code.iter().enumerate() {
        if targets.contains(&pc) || is_control(ins) {
            return pc;
        }
    }
    p.code.len()
}

fn is_control(ins: &Instr) -> bool {
    ins.jump_target().map(|t| t as usize).is_some()
        || matches!(
            ins,
            Instr::TryBegin { .. }
                | Instr::TryEnd
                | Instr::TimeoutBegin { .. }
                | Instr::TimeoutEnd
                | Instr::Return { .. }
                | Instr::Raise { .. }
        )
}

/// How register `r` is touched by `ins`: read wins over write.
fn touch_of(m: &ir::Module, p: &Proto, ins: &Instr, r: Reg) -> Option<Touch> {
    let mut t = None;
    touches(m, p, ins, &mut |x, k| {
        if x == r && t != Some(Touch::Read) {
            t = Some(k);
        }
    });
    t
}

/// Whether the value a `GetGlobal` at `get` writes into `r` is read by the `Call` at
/// `call` alone (as its callee, not as an argument): nothing between the two touches
/// `r`, and after the call every path writes `r` before reading it. `handlers(pc)`
/// gives the `try` handlers an error at `pc` can reach. Gives up (false) after a
/// bounded search.
pub fn callee_only(
    m: &ir::Module,
    p: &Proto,
    get: usize,
    call: usize,
    r: Reg,
    handlers: &dyn Fn(usize) -> Vec<usize>,
) -> bool {
    let Some(Instr::Call { dst, func, args, n }) = p.code.get(call).copied() else { return false };
    if func != r || (args..args.saturating_add(n as u16)).contains(&r) {
        return false;
    }
    if (get + 1..call).any(|pc| touch_of(m, p, &p.code[pc], r).is_some()) {
        return false;
    }
    // An error in the call (or between) may reach a handler that reads r.
    let mut work: Vec<usize> = Vec::new();
    for pc in get + 1..=call {
        work.extend(handlers(pc));
    }
    if dst != r {
        work.push(call + 1);
    }
    let mut seen = FxHashSet::default();
    let mut budget = 256;
    while let Some(pc) = work.pop() {
        if !seen.insert(pc) {
            continue;
        }
        budget -= 1;
        if budget == 0 {
            return false;
        }
        let Some(ins) = p.code.get(pc) else { continue };
        let t = touch_of(m, p, ins, r);
        if t == Some(Touch::Read) {
            return false;
        }
        work.extend(handlers(pc));
        if t == Some(Touch::Write) {
            continue;
        }
        match *ins {
            Instr::Return { .. } | Instr::Raise { .. } => {}
            Instr::Jmp { target } => work.push(target as usize),
            _ => {
                if let Some(t) = ins.jump_target().map(|t| t as usize) {
                    work.push(t);
                }
                work.push(pc + 1);
            }
        }
    }
    true
}

/// The direct calls of prototype `pi`: for each `GetGlobal` whose value is only the
/// callee of a following `Call` of a known function, the index of that call and the
/// prototype to call.
pub fn direct_calls(
    m: &ir::Module,
    pi: usize,
    known: &KnownFns,
    handlers: &dyn Fn(usize) -> Vec<usize>,
) -> FxHashMap<usize, (usize, u32)> {
    let p = &m.protos[pi];
    let mut out = FxHashMap::default();
    if known.bound.is_empty() {
        return out;
    }
    let mut targets = FxHashSet::default();
    for ins in &p.code {
        if let Some(t) = ins.jump_target().map(|t| t as usize) {
            targets.insert(t);
        }
        if let Instr::TryBegin { handler, .. } = *ins {
            targets.insert(handler as usize);
        }
    }
    for (pc, ins) in p.code.iter().enumerate() {
        let Instr::GetGlobal { dst, slot } = *ins else { continue };
        let Some(target) = known.callee(pi, pc, slot) else { continue };
        // The first instruction after it that touches dst, in the same block.
        let mut call = None;
        for (q, next) in p.code.iter().enumerate().skip(pc + 1) {
            if targets.contains(&q) {
                break;
            }
            if touch_of(m, p, next, dst).is_some() {
                if matches!(next, Instr::Call { func, .. } if *func == dst) {
                    call = Some(q);
                }
                break;
            }
            if is_control(next) {
                break;
            }
        }
        let Some(call) = call else { continue };
        if callee_only(m, p, pc, call, dst, handlers) {
            out.insert(pc, (call, target));
        }
    }
    out
}

/// What the closure analysis knows of a register: the prototype of the closure it
/// surely holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Clo {
    Known(u32),
    Unknown,
}

/// Known closures: where the callee register of a `Call` surely holds a closure
/// created from one prototype — made by a `Closure` in the same body, or returned by a
/// direct call of a function all of whose returns give closures of that prototype
/// (`make_counter()`) — and moved only by `Move`s, the call can go straight to that
/// prototype's fixed-arity body with the closure as its environment, without the tests
/// of the callee's kind and arity. The closure is still the one the register holds, so
/// its captures are the right ones.
pub struct KnownClosures {
    /// For each prototype: the prototype of the closures it always returns.
    returns: Vec<Option<u32>>,
}

impl KnownClosures {
    /// `direct(pi)`: the direct calls of prototype `pi` (call index → callee).
    pub fn analyse(m: &ir::Module, direct: &dyn Fn(usize) -> FxHashMap<usize, u32>) -> KnownClosures {
        let mut k = KnownClosures { returns: vec![None; m.protos.len()] };
        let directs: Vec<FxHashMap<usize, u32>> = (0..m.protos.len()).map(direct).collect();
        // A few rounds reach functions that return what other functions return.
        for _ in 0..3 {
            let mut changed = false;
            for (pi, d) in directs.iter().enumerate() {
                let r = k.flow(m, pi, d).1;
                if r != k.returns[pi] {
                    k.returns[pi] = r;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        KnownClosures { returns: k.returns }
    }

    /// The calls of prototype `pi` whose callee is a known closure, with exactly its
    /// parameters: call index → the closure's prototype.
    pub fn calls(&self, m: &ir::Module, pi: usize, direct: &FxHashMap<usize, u32>) -> FxHashMap<usize, u32> {
        let (at, _) = self.flow(m, pi, direct);
        let p = &m.protos[pi];
        let mut out = FxHashMap::default();
        for (pc, ins) in p.code.iter().enumerate() {
            let Instr::Call { func, n, .. } = *ins else { continue };
            if direct.contains_key(&pc) {
                continue;
            }
            let Some(Some(st)) = at.get(pc) else { continue };
            if let Some(&Clo::Known(target)) = st.get(func as usize) {
                if m.protos.get(target as usize).is_some_and(|t| t.n_params == n as u16) {
                    out.insert(pc, target);
                }
            }
        }
        out
    }

    /// The states at each instruction of prototype `pi` (`None`: not reached), and the
    /// prototype of the closures all its returns give.
    fn flow(&self, m: &ir::Module, pi: usize, direct: &FxHashMap<usize, u32>) -> (Vec<Option<Vec<Clo>>>, Option<u32>) {
        let p = &m.protos[pi];
        let code = &p.code;
        let n_regs = p.n_regs as usize;
        let mut at: Vec<Option<Vec<Clo>>> = vec![None; code.len()];
        let mut work = Vec::new();
        let unknown = vec![Clo::Unknown; n_regs];
        if !code.is_empty() {
            at[0] = Some(unknown.clone());
            work.push(0usize);
        }
        // A handler may start after any instruction of its `try`: nothing is known.
        for ins in code {
            if let Instr::TryBegin { handler, .. } = *ins {
                if let Some(slot) = at.get_mut(handler as usize) {
                    *slot = Some(unknown.clone());
                    work.push(handler as usize);
                }
            }
        }
        let mut ret: Option<Option<u32>> = None;
        let mut steps = 0usize;
        while let Some(pc) = work.pop() {
            steps += 1;
            if steps > 32 * code.len() + 64 {
                return (vec![None; code.len()], None);
            }
            let Some(mut st) = at[pc].clone() else { continue };
            let ins = code[pc];
            let mut succ: Vec<usize> = Vec::with_capacity(2);
            match ins {
                Instr::Closure { dst, proto } => st[dst as usize] = Clo::Known(proto),
                Instr::Move { dst, src } => st[dst as usize] = st[src as usize],
                Instr::Call { dst, .. } => {
                    // The callee and the arguments are only read.
                    let known = direct.get(&pc).and_then(|&t| self.returns.get(t as usize).copied().flatten());
                    st[dst as usize] = known.map_or(Clo::Unknown, Clo::Known);
                }
                Instr::Return { src } => {
                    let r = match st[src as usize] {
                        Clo::Known(t) => Some(t),
                        Clo::Unknown => None,
                    };
                    ret = Some(match ret {
                        None => r,
                        Some(old) if old == r => r,
                        Some(_) => None,
                    });
                }
                _ => touches(m, p, &ins, &mut |r, _| {
                    if let Some(s) = st.get_mut(r as usize) {
                        *s = Clo::Unknown;
                    }
                }),
            }
            match ins {
                Instr::Return { .. } | Instr::Raise { .. } => {}
                Instr::Jmp { target } => succ.push(target as usize),
                _ => {
                    if let Some(t) = ins.jump_target() {
                        succ.push(t as usize);
                    }
                    succ.push(pc + 1);
                }
            }
            for s in succ {
                if at.get_mut(s).is_some_and(|slot| join_into(slot, &st, Clo::Unknown)) {
                    work.push(s);
                }
            }
        }
        (at, ret.flatten())
    }
}

/// Joins the per-register state `st` into `slot`, the state at an instruction of a
/// forward analysis (`None`: not reached yet): registers whose values differ become
/// `top`. Whether the slot changed (the instruction must be visited again).
pub fn join_into<T: Copy + PartialEq>(slot: &mut Option<Vec<T>>, st: &[T], top: T) -> bool {
    match slot {
        None => {
            *slot = Some(st.to_vec());
            true
        }
        Some(old) => {
            let mut changed = false;
            for (o, n) in old.iter_mut().zip(st) {
                if *o != *n && *o != top {
                    *o = top;
                    changed = true;
                }
            }
            changed
        }
    }
}
