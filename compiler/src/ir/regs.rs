//! Which registers an instruction reads and writes: the one operand walk shared by the
//! analyses of the code generator (direct calls, liveness).

use super::*;

/// How an instruction touches a register.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Touch {
    /// Read (possibly also written).
    Read,
    /// Written without being read first.
    Write,
}

/// Calls `f` for every register `ins` reads or writes. Where an instruction's effect
/// is not a plain write, the register is reported as read (the safe side for the
/// analyses here).
pub fn touches(m: &Module, p: &Proto, ins: &Instr, f: &mut dyn FnMut(Reg, Touch)) {
    use Instr as I;
    use Touch::{Read as R, Write as W};
    let range = |start: Reg, n: usize, t: Touch, f: &mut dyn FnMut(Reg, Touch)| {
        for i in 0..n {
            f(start.wrapping_add(i as u16), t);
        }
    };
    let path = |i: u16, f: &mut dyn FnMut(Reg, Touch)| {
        if let Some(path) = p.paths.get(i as usize) {
            if let VarRef::Reg(r) | VarRef::Cell(r) = path.root {
                f(r, R);
            }
            for s in &path.steps {
                if let PathStep::Index(r) = s {
                    f(*r, R);
                }
            }
        }
    };
    match *ins {
        I::LoadK { dst, .. }
        | I::LoadInt { dst, .. }
        | I::LoadSpecial { dst, .. }
        | I::LoadBuiltin { dst, .. }
        | I::GetGlobal { dst, .. }
        | I::GetGlobalOpt { dst, .. }
        | I::NewObject { dst }
        | I::NewStruct { dst, .. }
        | I::DefInterface { dst, .. }
        | I::DefPrompt { dst, .. } => f(dst, W),
        I::Move { dst, src }
        | I::Neg { dst, src }
        | I::Not { dst, src }
        | I::Truthy { dst, src }
        | I::Must { dst, src }
        | I::Question { dst, src }
        | I::Await { dst, src }
        | I::Freeze { dst, src }
        | I::Ask { dst, src }
        | I::IsDefined { dst, src }
        | I::NewCell { dst, src }
        | I::Spawn { dst, func: src } => {
            f(src, R);
            f(dst, W);
        }
        I::SetGlobal { src, .. } | I::SetUpval { src, .. } | I::Return { src } | I::Print { src, .. } => f(src, R),
        I::GetCell { dst, cell, .. } => {
            f(cell, R);
            f(dst, W);
        }
        I::SetCell { cell, src } => {
            f(cell, R);
            f(src, R);
        }
        I::GetUpval { dst, .. } => f(dst, W),
        I::Closure { dst, proto } => {
            // The creator's registers holding the cells the closure captures.
            for src in m.protos.get(proto as usize).map_or(&[][..], |q| &q.upvals[..]) {
                if let UpvalSrc::Reg(r) = *src {
                    f(r, R);
                }
            }
            f(dst, W);
        }
        I::Arith { dst, a, b, .. }
        | I::Compare { dst, a, b, .. }
        | I::CompareLenient { dst, a, b, .. }
        | I::GetIndex { dst, obj: a, idx: b } => {
            f(a, R);
            f(b, R);
            f(dst, W);
        }
        I::ArithI { dst, a, .. }
        | I::CompareI { dst, a, .. }
        | I::GetField { dst, obj: a, .. }
        | I::GetKeyOr { dst, obj: a, .. }
        | I::VariantField { dst, subject: a, .. }
        | I::TestBool { dst, subject: a, .. }
        | I::TestLiteral { dst, subject: a, .. }
        | I::TestVariant { dst, subject: a, .. }
        | I::ArrayAt { dst, arr: a, .. }
        | I::ArrayRest { dst, arr: a, .. } => {
            f(a, R);
            f(dst, W);
        }
        I::TestIdent { dst, subject, binding, .. } => {
            f(subject, R);
            f(binding, R);
            f(dst, W);
        }
        I::JmpIfNotCmp { a, b, .. } => {
            f(a, R);
            f(b, R);
        }
        I::JmpIfNotCmpI { a, .. } => f(a, R),
        I::JmpIf { cond, .. } | I::JmpIfNot { cond, .. } | I::JmpIfDefined { src: cond, .. } => f(cond, R),
        I::Jmp { .. } | I::TryEnd | I::TimeoutEnd | I::CheckCancel | I::Nop | I::Raise { .. } => {}
        I::NewArray { dst, start, n } | I::Concat { dst, start, n } => {
            range(start, n as usize, R, f);
            f(dst, W);
        }
        I::ArrayExtend { arr, src } => {
            f(arr, R);
            f(src, R);
        }
        I::ObjInsert { obj, src, .. } => {
            f(obj, R);
            f(src, R);
        }
        I::FinishStruct { obj, .. } => f(obj, R),
        I::SetPath { path: pi, src } | I::AppendVar { path: pi, src } => {
            path(pi, f);
            f(src, R);
        }
        I::PushPop { path: pi, dst, arg, .. } => {
            path(pi, f);
            f(arg, R);
            f(dst, R);
        }
        I::Call { dst, func, args, n } => {
            f(func, R);
            range(args, n as usize, R, f);
            f(dst, W);
        }
        I::CallMethod { dst, recv, args, n, .. } => {
            f(recv, R);
            range(args, n as usize, R, f);
            f(dst, W);
        }
        I::ForPrep { state, src } => {
            f(src, R);
            range(state, 2, R, f);
        }
        I::ForNext { state, var, mode, .. } => {
            range(state, 2, R, f);
            range(var, if mode == ForMode::Two { 2 } else { 1 }, R, f);
        }
        I::TryBegin { err, .. } => f(err, R),
        I::Check { kind, src } => {
            let extra = match kind {
                CheckKind::Between => 2,
                CheckKind::Contains => 1,
                _ => 0,
            };
            range(src, 1 + extra, R, f);
        }
        I::MatchExhaustive { subject, .. } | I::CheckDestructure { src: subject, .. } => f(subject, R),
        I::DefStruct { info, start, dst } => {
            let n = p.structs.get(info as usize).map_or(0, |s| s.defaults.len());
            range(start, n, R, f);
            f(dst, R);
        }
        I::DefAdt { info, dst } => {
            let n = p.adts.get(info as usize).map_or(0, |a| a.variants.len());
            range(dst, n, R, f);
        }
        I::DefImpl { info, start } => {
            let n = p.impls.get(info as usize).map_or(0, |i| i.methods.len());
            range(start, n, R, f);
        }
        I::Import { info, dst } => {
            let n = p.imports.get(info as usize).map_or(0, |i| i.names.len());
            range(dst, n, R, f);
        }
        I::TimeoutBegin { secs } => f(secs, R),
        I::Retry { state, err, .. } => {
            range(state, 3, R, f);
            f(err, R);
        }
        I::Schedule { func, interval, .. } => {
            f(func, R);
            f(interval, R);
        }
        I::Watch { func, path } => {
            f(func, R);
            f(path, R);
        }
        I::Decorator { args, n, .. } => range(args, n as usize, R, f),
    }
}
