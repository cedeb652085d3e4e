//! Register facts for the code generator: which registers are read later (liveness),
//! which may hold a heap reference, and which surely hold a Float.
//!
//! Every IR register owns its value until it is overwritten or the function returns.
//! Without more knowledge, the generated code keeps every register's value alive to
//! the end: the error exit releases all registers, so each value is an operand of
//! every failing instruction's exit edge, and a loop's temporaries stay in machine
//! registers (or spill slots) for the whole function; and every overwrite tests the
//! old value for a heap reference to release.
//!
//! Two analyses over the instructions, counting the edges of errors to the `try`
//! handlers open at each instruction:
//! - backward, liveness: the registers some path from an instruction may still read;
//! - forward, sets at the start of each instruction: registers that may hold anything
//!   but `null` (`any`), that may hold a heap reference (`heap`), that surely hold a
//!   Float (`float`), a Bool (`boolean`), or an immortal constant (`constant`: the
//!   strings and large Ints of `LoadK`, which need no release). The result rules follow the runtime's arithmetic
//!   (`libforge::ops::arith`): Int ⊕ Int gives an Int (a heap Int when it leaves the
//!   48-bit range) or a Float; anything with a Float gives a Float or fails, except
//!   that `+` with a String concatenates; `x % k` by an Int constant is a small Int or
//!   a Float.
//!
//! The code generator then:
//! - sets the registers that are not live any more to `null` before each instruction
//!   ([`Facts::kills`]), releasing the ones that may hold a heap reference;
//! - leaves out the release of a register's old value when it cannot be a heap
//!   reference ([`Facts::heap_before`]);
//! - takes no count for a parameter the body never changes ([`Facts::borrowed`]): the
//!   caller's reference outlives the call;
//! - moves a value instead of copying it (no count increment and decrement) when the
//!   source is not read afterwards ([`Facts::live_after`]);
//! - computes on Floats without tag tests where both operands are known to be Floats
//!   ([`Facts::float_before`]).
//!
//! The operand walk ([`crate::ir::regs::touches`]) reports a register as read wherever
//! an instruction's effect is not a plain write; a read reported too often only keeps
//! a value alive longer. For the forward sets, a register an instruction may write in
//! some way not modelled here is taken to hold anything afterwards.

use crate::ir::{self, regs::touches, regs::Touch, ArithOp, Const, Instr, Reg, VarRef};

use super::Open;

/// Fixed-width register sets, `words` u64s each, stored back to back per instruction.
struct Sets {
    words: usize,
    bits: Vec<u64>,
}

impl Sets {
    fn new(n: usize, words: usize) -> Sets {
        Sets { words, bits: vec![0; n * words] }
    }
    fn row(&self, i: usize) -> &[u64] {
        &self.bits[i * self.words..(i + 1) * self.words]
    }
    fn row_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.bits[i * self.words..(i + 1) * self.words]
    }
    fn has(&self, i: usize, r: Reg) -> bool {
        self.row(i)[r as usize / 64] & (1 << (r % 64)) != 0
    }
}

fn set_bit(row: &mut [u64], r: Reg, on: bool) {
    let (w, b) = (r as usize / 64, 1u64 << (r % 64));
    if w < row.len() {
        if on {
            row[w] |= b;
        } else {
            row[w] &= !b;
        }
    }
}

fn get(row: &[u64], r: Reg) -> bool {
    row.get(r as usize / 64).is_some_and(|w| w & (1 << (r % 64)) != 0)
}

/// The facts kept for each register, indexes into [`State::sets`].
const ANY: usize = 0; // may hold anything but `null`
const HEAP: usize = 1; // may hold a heap reference
const FLOAT: usize = 2; // surely holds a Float
const BOOL: usize = 3; // surely holds a Bool
const CONST: usize = 4; // surely holds an immortal constant (a String or a large Int)
const SMALL: usize = 5; // surely holds a small Int (the 48-bit payload of an Int word)
const LENT: usize = 6; // surely holds a copy counted by another register (a call argument)
const FACTS: usize = 7;
/// Which facts are "may" facts (joined by union); the others are "must" facts (joined
/// by intersection).
const MAY: [bool; FACTS] = [true, true, false, false, false, false, false];

/// The payload range of a small Int.
pub const SMALL_RANGE: Range = (forge_abi::layout::INT_IMM_MIN, forge_abi::layout::INT_IMM_MAX);

/// An inclusive range of Int values.
pub type Range = (i64, i64);

/// The forward state at one point: one register set per fact, and for the registers
/// that surely hold a small Int, the range of its value (`SMALL_RANGE` when nothing
/// narrower is known).
#[derive(Clone, PartialEq)]
struct State {
    sets: [Vec<u64>; FACTS],
    ranges: Vec<Range>,
}

impl State {
    /// `n_ranges`: the number of registers whose ranges are tracked (0 outside the
    /// typed copy's analysis, which alone uses them).
    fn new(words: usize, n_ranges: usize) -> State {
        State { sets: std::array::from_fn(|_| vec![0; words]), ranges: vec![SMALL_RANGE; n_ranges] }
    }
    /// Joins `o` into `self`; returns whether `self` changed. With `widen` (sorted
    /// thresholds), a bound that grows jumps to the next threshold (so that a loop's
    /// counter does not take one round per value).
    fn join(&mut self, o: &State, widen: Option<&[i64]>) -> bool {
        let mut changed = false;
        for (k, (mine, theirs)) in self.sets.iter_mut().zip(&o.sets).enumerate() {
            for (m, t) in mine.iter_mut().zip(theirs) {
                let j = if MAY[k] { *m | t } else { *m & t };
                changed |= j != *m;
                *m = j;
            }
        }
        for (r, (m, t)) in self.ranges.iter_mut().zip(&o.ranges).enumerate() {
            let new = if get(&self.sets[SMALL], r as Reg) {
                let mut lo = m.0.min(t.0);
                let mut hi = m.1.max(t.1);
                if let Some(th) = widen {
                    if lo < m.0 {
                        lo = th.iter().rev().copied().find(|&t| t <= lo).unwrap_or(SMALL_RANGE.0);
                    }
                    if hi > m.1 {
                        hi = th.iter().copied().find(|&t| t >= hi).unwrap_or(SMALL_RANGE.1);
                    }
                }
                (lo, hi)
            } else {
                SMALL_RANGE
            };
            changed |= new != *m;
            *m = new;
        }
        changed
    }
    fn range(&self, r: Reg) -> Range {
        match self.ranges.get(r as usize) {
            Some(&x) if self.has(SMALL, r) => x,
            _ => SMALL_RANGE,
        }
    }
    /// Narrows the range of a small-Int register (an empty range stays as it is: the
    /// path cannot run, and nothing is gained from knowing it).
    fn narrow(&mut self, r: Reg, lo: i64, hi: i64) {
        if self.has(SMALL, r) {
            if let Some(x) = self.ranges.get_mut(r as usize) {
                let (a, b) = (x.0.max(lo), x.1.min(hi));
                if a <= b {
                    *x = (a, b);
                }
            }
        }
    }
    /// Forgets every fact about registers outside `live` (they are set to `null`).
    fn keep(&mut self, live: &[u64]) {
        for set in &mut self.sets {
            for (w, l) in set.iter_mut().zip(live) {
                *w &= l;
            }
        }
    }
    /// `r` now holds a value of which exactly `facts` are known.
    fn assign(&mut self, r: Reg, facts: [bool; FACTS]) {
        for (set, on) in self.sets.iter_mut().zip(facts) {
            set_bit(set, r, on);
        }
        if let Some(x) = self.ranges.get_mut(r as usize) {
            *x = SMALL_RANGE;
        }
    }
    /// `r` now holds a small Int in `range` (clamped to the small range).
    fn small_in(&mut self, r: Reg, range: Range) {
        self.small(r);
        if let Some(x) = self.ranges.get_mut(r as usize) {
            *x = (range.0.max(SMALL_RANGE.0), range.1.min(SMALL_RANGE.1));
        }
    }
    /// `r` now holds a value of unknown kind.
    fn unknown(&mut self, r: Reg) {
        self.assign(r, [true, true, false, false, false, false, false]);
    }
    /// `r` now holds a value that is not a heap reference (`float`: surely a Float).
    fn scalar(&mut self, r: Reg, float: bool) {
        self.assign(r, [true, false, float, false, false, false, false]);
    }
    /// `r` now holds a small Int.
    fn small(&mut self, r: Reg) {
        self.assign(r, [true, false, false, false, false, true, false]);
    }
    /// `r` now holds a Bool.
    fn boolean(&mut self, r: Reg) {
        self.assign(r, [true, false, false, true, false, false, false]);
    }
    /// `r` now holds an immortal constant of unknown kind.
    fn constant(&mut self, r: Reg) {
        self.assign(r, [true, true, false, false, true, false, false]);
    }
    /// `r` now holds `null`.
    fn null(&mut self, r: Reg) {
        self.assign(r, [false; FACTS]);
    }
    fn copy(&mut self, dst: Reg, src: Reg) {
        // A copy takes a count of its own: it is never lent.
        let facts = std::array::from_fn(|k| k != LENT && self.has(k, src));
        let range = self.ranges.get(src as usize).copied().unwrap_or(SMALL_RANGE);
        self.assign(dst, facts);
        if let Some(x) = self.ranges.get_mut(dst as usize) {
            *x = range;
        }
    }
    fn has(&self, fact: usize, r: Reg) -> bool {
        get(&self.sets[fact], r)
    }
    fn is_float(&self, r: Reg) -> bool {
        self.has(FLOAT, r)
    }
    fn is_heap(&self, r: Reg) -> bool {
        self.has(HEAP, r)
    }
    /// Surely not an Int: a Float, a Bool or an immortal constant (a String, or an Int
    /// too large for the small range).
    fn not_int(&self, r: Reg) -> bool {
        self.has(FLOAT, r) || self.has(BOOL, r) || self.has(CONST, r)
    }
    /// Word `w` of the registers that may hold a counted reference (one to release),
    /// leaving out the `borrowed` parameters.
    fn counted(&self, w: usize, borrowed: &[u64]) -> u64 {
        self.sets[HEAP][w] & !self.sets[CONST][w] & !self.sets[LENT][w] & !borrowed[w]
    }
}

pub struct Facts {
    live_out: Sets,
    /// The state after the kills at the start of each instruction (`None` where
    /// unreachable).
    at: Vec<Option<State>>,
    kills: Vec<Vec<(Reg, bool)>>,
    /// Registers that may hold a heap reference somewhere in the function.
    heap_somewhere: Vec<u64>,
    /// Parameters the body never changes: they stay borrowed from the caller.
    borrowed: Vec<u64>,
    /// The parameters the typed copy requires to be small Ints on entry.
    entry_small: Vec<Reg>,
    /// Registers kept as machine values instead of words (see [`Facts::raw_float`]).
    raw_float: Vec<u64>,
    raw_small: Vec<u64>,
    /// The `Move`s that lend their value to a call instead of copying it
    /// ([`Facts::lent_copy`]).
    lent: Vec<bool>,
}

impl Facts {
    /// `stacks` are the blocks open at each instruction (`None` where unreachable).
    /// With `speculate`, the facts of the typed copy of a body (see [`guarded`]): where
    /// an Int operation's operands are not known to be Floats, they are guarded to be
    /// small Ints and the result is a small Int (the copy leaves for the generic code
    /// when a guard or an overflow test fails).
    pub fn analyse(m: &ir::Module, p: &ir::Proto, stacks: &[Option<Vec<Open>>], speculate: bool) -> Facts {
        let code = &p.code;
        let n = code.len();
        let n_regs = p.n_regs as usize;
        let words = n_regs.div_ceil(64).max(1);
        let mut reads = Sets::new(n, words);
        let mut writes = Sets::new(n, words);
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut handlers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for pc in 0..n {
            let Some(stack) = &stacks[pc] else { continue };
            let ins = &code[pc];
            touches(m, p, ins, &mut |r, t| {
                if (r as usize) < n_regs {
                    match t {
                        Touch::Read => set_bit(reads.row_mut(pc), r, true),
                        Touch::Write => set_bit(writes.row_mut(pc), r, true),
                    }
                }
            });
            let s = &mut succs[pc];
            if let Some(t) = ins.jump_target() {
                s.push(t as usize);
            }
            if ins.falls_through() && pc + 1 < n {
                s.push(pc + 1);
            }
            if let Instr::TryBegin { handler, .. } = *ins {
                s.push(handler as usize);
            }
            // An error here continues at any open handler (an uncatchable one passes
            // the inner ones by).
            for open in stack {
                if let Open::Try { handler, .. } = *open {
                    handlers[pc].push(handler);
                }
            }
            s.sort_unstable();
            s.dedup();
        }

        // A `ForNext` writes its loop variables when it continues and leaves them as
        // they are when it exits (so `touches` reports them read): they are live
        // before it only where they are live at the exit (or a handler), not because
        // the loop body reads what the step writes.
        let mut step_vars = Sets::new(n, words);
        for (pc, ins) in code.iter().enumerate() {
            if let Instr::ForNext { var, mode, exit, .. } = *ins {
                if exit as usize == pc + 1 {
                    continue;
                }
                for r in var..var + if mode == ir::ForMode::Two { 2 } else { 1 } {
                    if (r as usize) < n_regs {
                        set_bit(step_vars.row_mut(pc), r, true);
                    }
                }
            }
        }

        // Liveness, backward to a fixed point.
        let mut live_in = Sets::new(n, words);
        let mut live_out = Sets::new(n, words);
        let mut changed = true;
        while changed {
            changed = false;
            for pc in (0..n).rev() {
                if stacks[pc].is_none() {
                    continue;
                }
                for w in 0..words {
                    let mut out = 0u64;
                    for &s in succs[pc].iter().chain(&handlers[pc]) {
                        out |= live_in.row(s)[w];
                    }
                    let vars = step_vars.row(pc)[w];
                    let inn = if vars != 0 {
                        let mut kept = 0u64;
                        for &s in succs[pc].iter().filter(|&&s| s != pc + 1).chain(&handlers[pc]) {
                            kept |= live_in.row(s)[w];
                        }
                        let cont = if pc + 1 < n { live_in.row(pc + 1)[w] } else { 0 };
                        (reads.row(pc)[w] & !vars) | ((cont & !vars) & !writes.row(pc)[w]) | kept
                    } else {
                        reads.row(pc)[w] | (out & !writes.row(pc)[w])
                    };
                    live_out.row_mut(pc)[w] = out;
                    if inn != live_in.row(pc)[w] {
                        live_in.row_mut(pc)[w] = inn;
                        changed = true;
                    }
                }
            }
        }

        let lent = lent_moves(p, stacks, &reads, &writes, &live_out);

        // Parameters that no reachable instruction changes (nor a handler's error
        // edge) stay borrowed from the caller, which keeps its reference for the call:
        // no count of their own is taken at entry or dropped at exit. A copy of one
        // (a `Move`, a `Return`) takes a count.
        let mut borrowed = vec![0u64; words];
        for r in 0..p.n_params {
            set_bit(&mut borrowed, r, true);
        }
        for pc in 0..n {
            if stacks[pc].is_none() {
                continue;
            }
            for r in changed_regs(p, pc, &code[pc], &reads, &writes) {
                set_bit(&mut borrowed, r, false);
            }
        }

        // The forward sets, from the entry (which holds the parameters) to a fixed
        // point. `entry[pc]` is the state before the kills at `pc`.
        // The typed copy guards once, on entry, the borrowed parameters that Int
        // operations read (they never change, so they stay small Ints throughout):
        // a loop bound is not tested again on every iteration.
        let entry_small: Vec<Reg> = if speculate {
            (0..p.n_params)
                .filter(|&r| {
                    get(&borrowed, r)
                        && code.iter().zip(stacks).any(|(ins, st)| {
                            st.is_some() && guarded(p, ins, &|_| false).is_some_and(|(a, b)| a == r || b == Some(r))
                        })
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut entry: Vec<Option<State>> = vec![None; n];
        if n > 0 {
            let mut s0 = State::new(words, if speculate { n_regs } else { 0 });
            for r in 0..p.n_params {
                if entry_small.contains(&r) {
                    s0.small(r);
                } else {
                    s0.unknown(r);
                }
            }
            entry[0] = Some(s0);
        }
        let mut work: Vec<usize> = if n > 0 { vec![0] } else { Vec::new() };
        let mut heap_somewhere = vec![0u64; words];
        for r in 0..p.n_params {
            set_bit(&mut heap_somewhere, r, !get(&borrowed, r));
        }
        let mut queued = vec![false; n];
        if n > 0 {
            queued[0] = true;
        }
        // The thresholds of widening: the Int constants of the body, around each.
        let mut thresholds = vec![SMALL_RANGE.0, SMALL_RANGE.1, -1, 0, 1];
        for ins in code {
            let k = match *ins {
                Instr::LoadInt { v, .. } => v as i64,
                Instr::ArithI { imm, .. } | Instr::CompareI { imm, .. } | Instr::JmpIfNotCmpI { imm, .. } => imm as i64,
                _ => continue,
            };
            let m = k.saturating_abs();
            thresholds.extend([k - 1, k, k + 1, m - 1, 1 - m]);
        }
        thresholds.retain(|t| (SMALL_RANGE.0..=SMALL_RANGE.1).contains(t));
        thresholds.sort_unstable();
        thresholds.dedup();
        // How often each loop head was reached by a back edge: from the third time on,
        // growing ranges there are widened to the limit (everything else follows).
        let mut visits = vec![0u32; n];
        let mut push = |from: usize,
                        to: usize,
                        st: &State,
                        entry: &mut Vec<Option<State>>,
                        work: &mut Vec<usize>,
                        queued: &mut Vec<bool>| {
            let mut widen = None;
            if to <= from {
                visits[to] += 1;
                if visits[to] > 2 {
                    widen = Some(&thresholds[..]);
                }
            }
            let changed = match &mut entry[to] {
                Some(old) => old.join(st, widen),
                slot @ None => {
                    *slot = Some(st.clone());
                    true
                }
            };
            if changed && !queued[to] {
                queued[to] = true;
                work.push(to);
            }
        };
        while let Some(pc) = work.pop() {
            queued[pc] = false;
            if stacks[pc].is_none() {
                continue;
            }
            let mut st = entry[pc].clone().expect("state");
            st.keep(live_in.row(pc));
            let before = st.clone();
            let after = transfer(p, pc, &code[pc], st, &reads, &writes, &live_out, speculate, lent[pc]);
            for (w, h) in heap_somewhere.iter_mut().enumerate() {
                *h |= before.counted(w, &borrowed) | after.counted(w, &borrowed);
            }
            for &s in &succs[pc] {
                match branch_taken(&code[pc], pc, s) {
                    Some(taken) if speculate => {
                        let mut edge = after.clone();
                        refine(&mut edge, &code[pc], taken);
                        push(pc, s, &edge, &mut entry, &mut work, &mut queued);
                    }
                    _ => push(pc, s, &after, &mut entry, &mut work, &mut queued),
                }
            }
            if !handlers[pc].is_empty() {
                // An error leaves the registers as they were, or partly written.
                let mut err = before.clone();
                err.join(&after, None);
                for &h in &handlers[pc] {
                    let mut e = err.clone();
                    if let Some(Open::Try { err: er, .. }) = stacks[pc]
                        .as_ref()
                        .and_then(|s| s.iter().find(|o| matches!(o, Open::Try { handler, .. } if *handler == h)))
                    {
                        e.unknown(*er);
                    }
                    push(pc, h, &e, &mut entry, &mut work, &mut queued);
                }
            }
        }

        // The kills of each instruction, and the state after them.
        let mut kills = vec![Vec::new(); n];
        let mut at: Vec<Option<State>> = vec![None; n];
        for pc in 0..n {
            let Some(st) = &entry[pc] else { continue };
            if stacks[pc].is_none() {
                continue;
            }
            for w in 0..words {
                let mut dead = st.sets[ANY][w] & !live_in.row(pc)[w];
                while dead != 0 {
                    let b = dead.trailing_zeros() as usize;
                    dead &= dead - 1;
                    let r = (w * 64 + b) as Reg;
                    kills[pc].push((r, st.counted(w, &borrowed) & (1 << b) != 0));
                }
            }
            let mut kept = st.clone();
            kept.keep(live_in.row(pc));
            at[pc] = Some(kept);
        }
        // The `err` registers of handlers get the error object.
        for stack in stacks.iter().flatten() {
            for open in stack {
                if let Open::Try { err, .. } = *open {
                    set_bit(&mut heap_somewhere, err, true);
                }
            }
        }
        // Registers that can live as machine values: each read finds a Float (a small
        // Int, in the speculating analysis), each write puts one there. Not the
        // parameters (words from the caller), nor the error registers of handlers.
        let mut raw_float = vec![!0u64; words];
        let mut raw_small = vec![if speculate { !0u64 } else { 0 }; words];
        let mut touched = vec![0u64; words];
        let clear = |set: &mut Vec<u64>, r: Reg| set_bit(set, r, false);
        for r in 0..p.n_params {
            clear(&mut raw_float, r);
            clear(&mut raw_small, r);
        }
        for stack in stacks.iter().flatten() {
            for open in stack {
                if let Open::Try { handler, err } = *open {
                    clear(&mut raw_float, err);
                    clear(&mut raw_small, err);
                    // The typed copy's errors continue in the generic copy's handler,
                    // which reads words: what is live there stays a word.
                    if handler < n {
                        for r in 0..p.n_regs {
                            if live_in.has(handler, r) {
                                clear(&mut raw_small, r);
                            }
                        }
                    }
                }
            }
        }
        for pc in 0..n {
            let Some(before) = &at[pc] else { continue };
            let ins = &code[pc];
            let after = transfer(p, pc, ins, before.clone(), &reads, &writes, &live_out, speculate, lent[pc]);
            let changed = changed_regs(p, pc, ins, &reads, &writes);
            for r in (0..p.n_regs).filter(|&r| reads.has(pc, r)) {
                set_bit(&mut touched, r, true);
                if !before.has(FLOAT, r) {
                    clear(&mut raw_float, r);
                }
                if !before.has(SMALL, r) {
                    clear(&mut raw_small, r);
                }
            }
            for r in changed {
                if r >= p.n_regs {
                    continue;
                }
                set_bit(&mut touched, r, true);
                if !after.has(FLOAT, r) {
                    clear(&mut raw_float, r);
                }
                if !after.has(SMALL, r) {
                    clear(&mut raw_small, r);
                }
            }
        }
        for w in 0..words {
            raw_float[w] &= touched[w];
            raw_small[w] &= touched[w] & !raw_float[w];
        }
        Facts { live_out, at, kills, heap_somewhere, borrowed, entry_small, raw_float, raw_small, lent }
    }

    /// Whether the `Move` at `pc` lends its source's value to the call that follows: the
    /// destination is an operand of that call and nothing else, and the source keeps
    /// its value (and its count) until the call has returned, so the copy takes no
    /// count and drops none.
    pub fn lent_copy(&self, pc: usize) -> bool {
        self.lent[pc]
    }

    /// Whether register `r` can be kept as an f64 for the whole body: it holds a Float
    /// wherever it is read, and every write puts a Float there. Its word is made where
    /// one is needed.
    pub fn raw_float(&self, r: Reg) -> bool {
        get(&self.raw_float, r)
    }

    /// In the speculating analysis: whether register `r` can be kept as the payload of
    /// a small Int throughout the typed copy (as [`Facts::raw_float`]).
    pub fn raw_small(&self, r: Reg) -> bool {
        get(&self.raw_small, r)
    }

    /// The registers to set to `null` before instruction `pc` runs, and whether each
    /// may hold a heap reference to release.
    pub fn kills(&self, pc: usize) -> &[(Reg, bool)] {
        &self.kills[pc]
    }

    /// Whether some path after instruction `pc` may read register `r`.
    pub fn live_after(&self, pc: usize, r: Reg) -> bool {
        self.live_out.has(pc, r)
    }

    /// Whether register `r` may hold a counted heap reference (one to release; not an
    /// immortal constant) when instruction `pc` starts.
    pub fn heap_before(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_some_and(|st| st.counted(r as usize / 64, &self.borrowed) & (1 << (r % 64)) != 0)
    }

    /// Whether register `r` surely holds `null` (or is not read any more) when
    /// instruction `pc` starts.
    pub fn null_before(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_some_and(|st| !st.has(ANY, r))
    }

    /// Whether a copy of register `r` made at instruction `pc` needs a count of its
    /// own: `r` may hold a heap reference that is not immortal (a borrowed parameter
    /// included).
    pub fn copy_counts(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_none_or(|st| st.has(HEAP, r) && !st.has(CONST, r))
    }

    /// The parameters the typed copy requires to be small Ints on entry (it is left
    /// for the generic copy at once otherwise).
    pub fn entry_guards(&self) -> &[Reg] {
        &self.entry_small
    }

    /// Whether register `r` is a parameter borrowed from the caller for the whole call
    /// (never changed): the function holds no count of its own for it.
    pub fn borrowed(&self, r: Reg) -> bool {
        get(&self.borrowed, r)
    }

    /// Whether `fact` holds for register `r` when instruction `pc` starts (never where
    /// `pc` is unreachable).
    fn fact(&self, pc: usize, fact: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_some_and(|st| st.has(fact, r))
    }

    /// Whether register `r` may hold a heap reference at some point of the function
    /// (the error exit releases only these).
    pub fn heap_somewhere(&self, r: Reg) -> bool {
        get(&self.heap_somewhere, r)
    }

    /// Whether register `r` surely holds a small Int when instruction `pc` starts (in
    /// the speculating analysis: on the code path where the guards held).
    pub fn small_before(&self, pc: usize, r: Reg) -> bool {
        self.fact(pc, SMALL, r)
    }

    /// Whether register `r` surely holds a Bool when instruction `pc` starts.
    pub fn bool_before(&self, pc: usize, r: Reg) -> bool {
        self.fact(pc, BOOL, r)
    }

    /// Whether register `r` surely holds something other than an Int when instruction
    /// `pc` starts (a Float, a Bool or an immortal constant that is not a small Int).
    pub fn not_int_before(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_some_and(|st| st.not_int(r))
    }

    /// Whether register `r` surely holds no number when instruction `pc` starts (a
    /// Bool, or an immortal constant: a String or a large Int).
    pub fn not_number_before(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_some_and(|st| st.has(BOOL, r) || st.has(CONST, r))
    }

    /// The ranges of the operands of the guarded instruction `ins` at `pc` (see
    /// [`guarded`]) when it starts; any small Int for an operand not yet known to be
    /// one.
    pub fn operand_ranges(&self, pc: usize, ins: &Instr, a: Reg, b: Option<Reg>) -> (Range, Range) {
        match &self.at[pc] {
            Some(st) => operand_ranges(st, ins, a, b),
            None => (SMALL_RANGE, SMALL_RANGE),
        }
    }

    /// Whether register `r` may hold a heap reference (an immortal one included) when
    /// instruction `pc` starts.
    pub fn may_be_heap(&self, pc: usize, r: Reg) -> bool {
        self.at[pc].as_ref().is_none_or(|st| st.has(HEAP, r))
    }

    /// Whether register `r` surely holds a Float when instruction `pc` starts.
    pub fn float_before(&self, pc: usize, r: Reg) -> bool {
        self.fact(pc, FLOAT, r)
    }
}

/// Every register instruction `ins` at `pc` may change: its writes, what it changes
/// besides ([`changed_besides_writes`], or everything it reads where that is not
/// modelled), and a `try`'s error register (bound when its handler runs).
fn changed_regs(p: &ir::Proto, pc: usize, ins: &Instr, reads: &Sets, writes: &Sets) -> Vec<Reg> {
    let mut changed =
        changed_besides_writes(p, ins).unwrap_or_else(|| (0..p.n_regs).filter(|&r| reads.has(pc, r)).collect());
    changed.extend((0..p.n_regs).filter(|&r| writes.has(pc, r)));
    if let Instr::TryBegin { err, .. } = *ins {
        changed.push(err);
    }
    changed
}

/// The registers an instruction may change besides those `touches` reports as plain
/// writes; `None` when not modelled (every register it reads may change).
fn changed_besides_writes(p: &ir::Proto, ins: &Instr) -> Option<Vec<Reg>> {
    use Instr as I;
    if reads_only(ins) {
        return Some(Vec::new());
    }
    let root = |path: u16| match p.paths.get(path as usize).map(|i| i.root) {
        Some(VarRef::Reg(r)) => vec![r],
        // A cell's content changes, not the register holding the cell.
        Some(_) => Vec::new(),
        None => Vec::new(),
    };
    Some(match *ins {
        I::AppendVar { path, .. } | I::SetPath { path, .. } => root(path),
        I::PushPop { path, dst, .. } => {
            let mut v = root(path);
            v.push(dst);
            v
        }
        I::ForPrep { state, .. } => vec![state, state + 1],
        I::ForNext { state, var, .. } => vec![state, state + 1, var, var + 1],
        I::ArrayExtend { arr, .. } => vec![arr],
        I::ObjInsert { obj, .. } | I::FinishStruct { obj, .. } => vec![obj],
        I::TryBegin { .. }
        | I::Check { .. }
        | I::MatchExhaustive { .. }
        | I::CheckDestructure { .. }
        | I::TimeoutBegin { .. }
        | I::Schedule { .. }
        | I::Watch { .. }
        | I::Decorator { .. }
        | I::DefImpl { .. } => Vec::new(),
        _ => return None,
    })
}

/// Instructions whose reported reads are only reads: the registers keep their values.
fn reads_only(ins: &Instr) -> bool {
    use Instr as I;
    matches!(
        ins,
        I::Move { .. }
            | I::Neg { .. }
            | I::Not { .. }
            | I::Truthy { .. }
            | I::Must { .. }
            | I::Question { .. }
            | I::Await { .. }
            | I::Freeze { .. }
            | I::Ask { .. }
            | I::IsDefined { .. }
            | I::NewCell { .. }
            | I::Spawn { .. }
            | I::SetGlobal { .. }
            | I::SetUpval { .. }
            | I::Return { .. }
            | I::Print { .. }
            | I::GetCell { .. }
            | I::SetCell { .. }
            | I::GetUpval { .. }
            | I::Closure { .. }
            | I::Arith { .. }
            | I::ArithI { .. }
            | I::Compare { .. }
            | I::CompareI { .. }
            | I::CompareLenient { .. }
            | I::GetIndex { .. }
            | I::GetField { .. }
            | I::GetKeyOr { .. }
            | I::VariantField { .. }
            | I::TestBool { .. }
            | I::TestLiteral { .. }
            | I::TestVariant { .. }
            | I::TestIdent { .. }
            | I::ArrayAt { .. }
            | I::ArrayRest { .. }
            | I::JmpIfNotCmp { .. }
            | I::JmpIfNotCmpI { .. }
            | I::JmpIf { .. }
            | I::JmpIfNot { .. }
            | I::JmpIfDefined { .. }
            | I::Jmp { .. }
            | I::NewArray { .. }
            | I::Concat { .. }
            | I::Call { .. }
            | I::CallMethod { .. }
            | I::LoadK { .. }
            | I::LoadInt { .. }
            | I::LoadSpecial { .. }
            | I::LoadBuiltin { .. }
            | I::GetGlobal { .. }
            | I::GetGlobalOpt { .. }
            | I::NewObject { .. }
            | I::NewStruct { .. }
            | I::Nop
            | I::TryEnd
            | I::TimeoutEnd
            | I::CheckCancel
            | I::Raise { .. }
    )
}

/// The `Move`s into the operand registers of a call that can lend the value instead
/// of copying it ([`Facts::lent_copy`]). Looking back from each call outside any `try`
/// over the straight-line code that only loads registers (no jump lands inside it):
/// a `Move` whose destination is an operand of the call, is read by nothing else and
/// is dead after the call, from a source that stays live and that nothing in between
/// writes.
fn lent_moves(p: &ir::Proto, stacks: &[Option<Vec<Open>>], reads: &Sets, writes: &Sets, live_out: &Sets) -> Vec<bool> {
    use Instr as I;
    let code = &p.code;
    let n = code.len();
    let mut lent = vec![false; n];
    let mut starts = vec![false; n + 1];
    for ins in code {
        if let Some(t) = ins.jump_target() {
            starts[(t as usize).min(n)] = true;
        }
        if let I::TryBegin { handler, .. } = *ins {
            starts[(handler as usize).min(n)] = true;
        }
    }
    let no_try = |pc: usize| stacks[pc].as_ref().is_some_and(|s| s.iter().all(|o| *o == Open::Timeout));
    for call in 0..n {
        let operands: Vec<Reg> = match code[call] {
            I::Call { func, args, n, .. } => std::iter::once(func).chain((0..n as u16).map(|i| args + i)).collect(),
            I::CallMethod { recv, args, n, .. } => {
                std::iter::once(recv).chain((0..n as u16).map(|i| args + i)).collect()
            }
            _ => continue,
        };
        if !no_try(call) || starts[call] {
            continue;
        }
        // Registers written, and read, by the instructions after the one looked at.
        let mut written: Vec<Reg> = Vec::new();
        let mut read: Vec<Reg> = Vec::new();
        let mut pc = call;
        while pc > 0 {
            let prev = pc - 1;
            let simple = matches!(
                code[prev],
                I::Move { .. } | I::LoadK { .. } | I::LoadInt { .. } | I::LoadSpecial { .. } | I::GetGlobal { .. }
            );
            if !simple || !no_try(prev) {
                break;
            }
            if let I::Move { dst, src } = code[prev] {
                if dst != src
                    && operands.contains(&dst)
                    && !operands.contains(&src)
                    && !written.contains(&src)
                    && !read.contains(&dst)
                    && !live_out.has(call, dst)
                    && live_out.has(prev, src)
                {
                    lent[prev] = true;
                }
            }
            for r in 0..p.n_regs {
                if writes.has(prev, r) {
                    written.push(r);
                }
                if reads.has(prev, r) {
                    read.push(r);
                }
            }
            if starts[prev] {
                break;
            }
            pc = prev;
        }
    }
    lent
}

/// For a compare-and-branch instruction at `pc`, whether the edge to `to` is the one
/// taken when the comparison is false (the jump): `Some(false)` for the fall-through
/// (the comparison held), `Some(true)` for the jump; `None` for other instructions.
fn branch_taken(ins: &Instr, pc: usize, to: usize) -> Option<bool> {
    match *ins {
        Instr::JmpIfNotCmp { target, .. } | Instr::JmpIfNotCmpI { target, .. } if target as usize != pc + 1 => {
            Some(to == target as usize)
        }
        _ => None,
    }
}

/// Narrows the ranges of a compare-and-branch's small-Int operands on one edge
/// (`jumped`: the comparison was false).
fn refine(st: &mut State, ins: &Instr, jumped: bool) {
    use ir::CmpKind as C;
    let (op, a, b, rb) = match *ins {
        Instr::JmpIfNotCmp { op, a, b, .. } => {
            if !st.has(SMALL, a) || !st.has(SMALL, b) {
                return;
            }
            (op, a, Some(b), st.range(b))
        }
        Instr::JmpIfNotCmpI { op, a, imm, .. } => {
            if !st.has(SMALL, a) {
                return;
            }
            (op, a, None, (imm as i64, imm as i64))
        }
        _ => return,
    };
    // The relation that holds on this edge, as `a op b`.
    let op = if !jumped {
        op
    } else {
        match op {
            C::Lt => C::Ge,
            C::Le => C::Gt,
            C::Gt => C::Le,
            C::Ge => C::Lt,
            C::Eq => C::Ne,
            C::Ne => C::Eq,
        }
    };
    let ra = st.range(a);
    let (a_lo, a_hi, b_lo, b_hi) = match op {
        C::Lt => (i64::MIN, rb.1.saturating_sub(1), ra.0.saturating_add(1), i64::MAX),
        C::Le => (i64::MIN, rb.1, ra.0, i64::MAX),
        C::Gt => (rb.0.saturating_add(1), i64::MAX, i64::MIN, ra.1.saturating_sub(1)),
        C::Ge => (rb.0, i64::MAX, i64::MIN, ra.1),
        C::Eq => (rb.0, rb.1, ra.0, ra.1),
        C::Ne => return,
    };
    st.narrow(a, a_lo, a_hi);
    if let Some(b) = b {
        st.narrow(b, b_lo, b_hi);
    }
}

/// The ranges of the operands `a` and `b` of a guarded instruction in state `st` (`b`
/// is `None` for a constant operand, whose range is the constant).
fn operand_ranges(st: &State, ins: &Instr, a: Reg, b: Option<Reg>) -> (Range, Range) {
    use Instr as I;
    let rb = match (*ins, b) {
        (_, Some(b)) => st.range(b),
        (I::ArithI { imm, .. } | I::CompareI { imm, .. } | I::JmpIfNotCmpI { imm, .. }, None) => {
            (imm as i64, imm as i64)
        }
        _ => SMALL_RANGE,
    };
    (st.range(a), rb)
}

/// The range of `x op y` for Ints in the ranges `a` and `b` (`None` where the
/// operation may fail or its result is not bounded by them: a divisor range holding
/// zero). Exact, in i128.
pub fn int_op_range(op: ArithOp, a: Range, b: Range) -> Option<(i128, i128)> {
    let (a0, a1, b0, b1) = (a.0 as i128, a.1 as i128, b.0 as i128, b.1 as i128);
    let span = |v: [i128; 4]| (v.iter().copied().min().unwrap_or(0), v.iter().copied().max().unwrap_or(0));
    match op {
        ArithOp::Add => Some((a0 + b0, a1 + b1)),
        ArithOp::Sub => Some((a0 - b1, a1 - b0)),
        ArithOp::Mul => Some(span([a0 * b0, a0 * b1, a1 * b0, a1 * b1])),
        ArithOp::Div => {
            if b0 <= 0 && b1 >= 0 {
                return None;
            }
            // Truncating division is monotonic in each operand on a divisor range of
            // one sign: the extremes are at the corners.
            Some(span([a0 / b0, a0 / b1, a1 / b0, a1 / b1]))
        }
        ArithOp::Mod => {
            if b0 <= 0 && b1 >= 0 {
                return None;
            }
            // |x % y| < |y|, with the sign of x.
            let m = b0.abs().max(b1.abs()) - 1;
            let lo = if a0 >= 0 { 0 } else { (-m).max(a0) };
            let hi = if a1 <= 0 { 0 } else { m.min(a1) };
            Some((lo, hi))
        }
    }
}

/// The state after instruction `ins` at `pc`, from the state `st` before it.
// (Guards moved into the match would send the other cases to its catch-all arm.)
#[allow(clippy::too_many_arguments, clippy::collapsible_match)]
fn transfer(
    p: &ir::Proto,
    pc: usize,
    ins: &Instr,
    mut st: State,
    reads: &Sets,
    writes: &Sets,
    live_out: &Sets,
    speculate: bool,
    lent: bool,
) -> State {
    use Instr as I;
    let before = st.clone();
    // Whatever is written (or may be, for instructions not known to only read) holds
    // a value of unknown kind, unless a rule below says more.
    let n = p.n_regs;
    match changed_besides_writes(p, ins) {
        Some(regs) => {
            for r in regs {
                if r < n {
                    st.unknown(r);
                }
            }
        }
        None => {
            for r in 0..n {
                if get(reads.row(pc), r) {
                    st.unknown(r);
                }
            }
        }
    }
    for r in 0..n {
        if get(writes.row(pc), r) {
            st.unknown(r);
        }
    }
    // Results whose kind is known from the operands (read in `before`).
    let sum_is_float =
        |a: Reg, b: Reg| (before.is_float(a) && !before.is_heap(b)) || (before.is_float(b) && !before.is_heap(a));
    match *ins {
        I::LoadSpecial { dst, which: ir::Special::True | ir::Special::False }
        | I::Compare { dst, .. }
        | I::CompareI { dst, .. }
        | I::CompareLenient { dst, .. }
        | I::Not { dst, .. }
        | I::Truthy { dst, .. }
        | I::IsDefined { dst, .. }
        | I::TestVariant { dst, .. }
        | I::TestLiteral { dst, .. }
        | I::TestBool { dst, .. }
        | I::TestIdent { dst, .. } => st.boolean(dst),
        I::LoadSpecial { dst, .. } => st.scalar(dst, false),
        I::LoadK { dst, k } => match p.consts.get(k as usize) {
            Some(Const::Int(i)) if (forge_abi::layout::INT_IMM_MIN..=forge_abi::layout::INT_IMM_MAX).contains(i) => {
                st.scalar(dst, false)
            }
            Some(Const::Float(_)) => st.scalar(dst, true),
            // Strings and large Ints: immortal values made once per site.
            _ => st.constant(dst),
        },
        I::LoadInt { dst, v } => st.small_in(dst, (v as i64, v as i64)),
        I::Move { dst, src } => {
            if dst != src {
                st.copy(dst, src);
                if lent {
                    set_bit(&mut st.sets[LENT], dst, true);
                }
                if !get(live_out.row(pc), src) {
                    // The value moves: the source is left `null`.
                    st.null(src);
                }
            }
        }
        I::ArithI { op, dst, a, imm } => {
            if before.is_float(a) {
                st.scalar(dst, true);
            } else if op == ArithOp::Mod && imm != 0 {
                // |Int % k| < |k|; a Float stays a Float; anything else fails.
                st.scalar(dst, false);
            }
        }
        I::Arith { op, dst, a, b } => match op {
            ArithOp::Add => {
                if sum_is_float(a, b) {
                    st.scalar(dst, true);
                }
            }
            ArithOp::Sub | ArithOp::Mul | ArithOp::Div => {
                if before.is_float(a) || before.is_float(b) {
                    st.scalar(dst, true);
                }
            }
            ArithOp::Mod => {
                if before.is_float(a) || before.is_float(b) {
                    st.scalar(dst, true);
                } else if !before.is_heap(b) {
                    // A small Int divisor bounds the remainder; a String operand fails.
                    st.scalar(dst, false);
                }
            }
        },
        I::Neg { dst, src } => {
            if before.is_float(src) {
                st.scalar(dst, true);
            }
        }
        I::AppendVar { path, src } => {
            // `x = x + e` in place: on a register, the sum's kind as for `Add`.
            if let Some(info) = p.paths.get(path as usize) {
                if let VarRef::Reg(r) = info.root {
                    if info.steps.is_empty() && sum_is_float(r, src) {
                        st.scalar(r, true);
                    }
                }
            }
        }
        _ => {}
    }
    if speculate {
        if let Some((a, b)) = guarded(p, ins, &|r| before.not_int(r)) {
            // Past the guards both operands are small Ints; the result of an Int
            // operation is one too (an overflow leaves the typed copy).
            // Operands that were not small Ints before were just guarded: any small
            // Int (`State::range`).
            let (ra, rb) = operand_ranges(&before, ins, a, b);
            st.small_in(a, ra);
            if let Some(b) = b {
                st.small_in(b, rb);
            }
            let result = |op: ArithOp| match int_op_range(op, ra, rb) {
                Some((lo, hi)) => (lo.max(SMALL_RANGE.0 as i128) as i64, hi.min(SMALL_RANGE.1 as i128) as i64),
                None => SMALL_RANGE,
            };
            match *ins {
                I::Arith { dst, op, .. } | I::ArithI { dst, op, .. } => st.small_in(dst, result(op)),
                I::AppendVar { .. } => st.small_in(a, result(ArithOp::Add)),
                I::Compare { dst, .. } | I::CompareI { dst, .. } => st.boolean(dst),
                _ => {}
            }
        }
    }
    st
}

/// The typed copy of a body guards the operands of an Int operation to be small Ints:
/// the registers guarded by `ins` (the second is `None` for a constant operand), or
/// `None` where the instruction is not specialised: an operand surely not a small Int
/// (`not_int`: a Float, a Bool, a String constant — the guard would always fail), and
/// everything that is not arithmetic or a comparison. `x = x + e` on a register counts
/// as an Int addition.
pub fn guarded(p: &ir::Proto, ins: &Instr, not_int: &dyn Fn(Reg) -> bool) -> Option<(Reg, Option<Reg>)> {
    use Instr as I;
    let pair = |a: Reg, b: Reg| if not_int(a) || not_int(b) { None } else { Some((a, Some(b))) };
    match *ins {
        I::Arith { a, b, .. } | I::Compare { a, b, .. } | I::JmpIfNotCmp { a, b, .. } => pair(a, b),
        I::ArithI { a, .. } | I::CompareI { a, .. } | I::JmpIfNotCmpI { a, .. } => {
            if not_int(a) {
                None
            } else {
                Some((a, None))
            }
        }
        I::AppendVar { path, src } => match p.paths.get(path as usize) {
            Some(info) if info.steps.is_empty() => match info.root {
                VarRef::Reg(r) => pair(r, src),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}
