//! `verify`: checks that a module's IR is well formed before any tier runs it, so the
//! VM and the code generator may rely on every index being in range. A module loaded
//! from a `.fgc` file goes through here too.

use super::*;

/// Returns the first problem found, if any.
pub fn verify(m: &Module) -> Result<(), String> {
    for (pi, p) in m.protos.iter().enumerate() {
        verify_proto(m, p).map_err(|e| format!("proto #{pi} ({}): {e}", p.trace_name))?;
    }
    for sub in &m.imports {
        verify(sub)?;
    }
    Ok(())
}

fn verify_proto(m: &Module, p: &Proto) -> Result<(), String> {
    if p.pos.len() != p.code.len() {
        return Err("position table length differs from code length".into());
    }
    if p.n_params > p.n_regs || p.param_defaults.len() != p.n_params as usize {
        return Err("parameter count inconsistent".into());
    }
    match p.code.last() {
        Some(Instr::Return { .. }) | Some(Instr::Jmp { .. }) | Some(Instr::Raise { .. }) => {}
        _ => return Err("code does not end in a return".into()),
    }
    let n = p.code.len() as u32;
    let reg = |r: Reg| if r < p.n_regs { Ok(()) } else { Err(format!("register r{r} out of range")) };
    let regs = |r: Reg, k: u32| {
        if r as u32 + k <= p.n_regs as u32 {
            Ok(())
        } else {
            Err(format!("registers r{r}+{k} out of range"))
        }
    };
    let jump = |t: u32| if t < n { Ok(()) } else { Err(format!("jump target {t} out of range")) };
    let konst = |k: u32| if (k as usize) < p.consts.len() { Ok(()) } else { Err(format!("constant {k} out of range")) };
    let kstr = |k: u32| match p.consts.get(k as usize) {
        Some(Const::Str(_)) => Ok(()),
        _ => Err(format!("constant {k} is not a string")),
    };
    let global = |g: u32| if (g as usize) < m.globals.len() { Ok(()) } else { Err(format!("global {g} out of range")) };
    let upval = |u: u16| if (u as usize) < p.upvals.len() { Ok(()) } else { Err(format!("upvalue {u} out of range")) };
    let side = |i: u16, len: usize| {
        if (i as usize) < len {
            Ok(())
        } else {
            Err(format!("side table index {i} out of range"))
        }
    };
    let name_or_none = |k: u32| if k == u32::MAX { Ok(()) } else { kstr(k) };
    for path in &p.paths {
        match path.root {
            VarRef::Reg(r) | VarRef::Cell(r) => reg(r)?,
            VarRef::Upval(u) => upval(u)?,
            VarRef::Global(g) => global(g)?,
        }
        for s in &path.steps {
            if let PathStep::Index(r) = s {
                reg(*r)?;
            }
        }
    }
    use Instr as I;
    for ins in &p.code {
        match *ins {
            I::LoadK { dst, k } => {
                reg(dst)?;
                konst(k)?
            }
            I::LoadInt { dst, .. } | I::LoadSpecial { dst, .. } | I::NewObject { dst } => reg(dst)?,
            I::LoadBuiltin { dst, name } | I::DefPrompt { dst, name } => {
                reg(dst)?;
                kstr(name)?
            }
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
            | I::NewCell { dst, src } => {
                reg(dst)?;
                reg(src)?
            }
            I::GetGlobal { dst, slot } | I::GetGlobalOpt { dst, slot } => {
                reg(dst)?;
                global(slot)?
            }
            I::SetGlobal { slot, src } => {
                global(slot)?;
                reg(src)?
            }
            I::GetCell { dst, cell, name } => {
                reg(dst)?;
                reg(cell)?;
                name_or_none(name)?
            }
            I::SetCell { cell, src } => {
                reg(cell)?;
                reg(src)?
            }
            I::GetUpval { dst, idx, name } => {
                reg(dst)?;
                upval(idx)?;
                name_or_none(name)?
            }
            I::SetUpval { idx, src } => {
                upval(idx)?;
                reg(src)?
            }
            I::Arith { dst, a, b, .. } | I::Compare { dst, a, b, .. } | I::CompareLenient { dst, a, b, .. } => {
                reg(dst)?;
                reg(a)?;
                reg(b)?
            }
            I::ArithI { dst, a, .. } | I::CompareI { dst, a, .. } => {
                reg(dst)?;
                reg(a)?
            }
            I::JmpIfNotCmp { a, b, target, .. } => {
                reg(a)?;
                reg(b)?;
                jump(target)?
            }
            I::JmpIfNotCmpI { a, target, .. } => {
                reg(a)?;
                jump(target)?
            }
            I::Jmp { target } => jump(target)?,
            I::JmpIf { cond, target } | I::JmpIfNot { cond, target } | I::JmpIfDefined { src: cond, target } => {
                reg(cond)?;
                jump(target)?
            }
            I::NewArray { dst, start, n } | I::Concat { dst, start, n } => {
                reg(dst)?;
                regs(start, n as u32)?
            }
            I::ArrayExtend { arr, src } => {
                reg(arr)?;
                reg(src)?
            }
            I::ObjInsert { obj, key, src } => {
                reg(obj)?;
                kstr(key)?;
                reg(src)?
            }
            I::NewStruct { dst, name } | I::FinishStruct { obj: dst, name } => {
                reg(dst)?;
                kstr(name)?
            }
            I::GetField { dst, obj, name } | I::GetKeyOr { dst, obj, name } => {
                reg(dst)?;
                reg(obj)?;
                kstr(name)?
            }
            I::GetIndex { dst, obj, idx } => {
                reg(dst)?;
                reg(obj)?;
                reg(idx)?
            }
            I::SetPath { path, src } | I::AppendVar { path, src } => {
                side(path, p.paths.len())?;
                reg(src)?
            }
            I::PushPop { path, dst, arg, .. } => {
                side(path, p.paths.len())?;
                reg(dst)?;
                reg(arg)?
            }
            I::Call { dst, func, args, n } => {
                reg(dst)?;
                reg(func)?;
                regs(args, n as u32)?
            }
            I::CallMethod { dst, recv, name, args, n } => {
                reg(dst)?;
                reg(recv)?;
                kstr(name)?;
                regs(args, n as u32)?
            }
            I::Return { src } | I::Print { src, .. } => reg(src)?,
            I::Closure { dst, proto } => {
                reg(dst)?;
                if proto as usize >= m.protos.len() {
                    return Err(format!("prototype {proto} out of range"));
                }
            }
            I::ForPrep { state, src } => {
                regs(state, 2)?;
                reg(src)?
            }
            I::ForNext { state, var, exit, .. } => {
                regs(state, 2)?;
                regs(var, 2)?;
                jump(exit)?
            }
            I::TryBegin { handler, err } => {
                jump(handler)?;
                reg(err)?
            }
            I::TryEnd | I::TimeoutEnd | I::CheckCancel | I::Nop => {}
            I::Raise { msg } => kstr(msg)?,
            I::Spawn { dst, func } => {
                reg(dst)?;
                reg(func)?
            }
            I::Check { kind, src } => {
                let extra = match kind {
                    CheckKind::Between => 2,
                    CheckKind::Contains => 1,
                    _ => 0,
                };
                regs(src, 1 + extra)?
            }
            I::TestVariant { dst, subject, name } => {
                reg(dst)?;
                reg(subject)?;
                kstr(name)?
            }
            I::VariantField { dst, subject, .. } | I::TestBool { dst, subject, .. } => {
                reg(dst)?;
                reg(subject)?
            }
            I::TestLiteral { dst, subject, k } => {
                reg(dst)?;
                reg(subject)?;
                konst(k)?
            }
            I::TestIdent { dst, subject, binding, name } => {
                reg(dst)?;
                reg(subject)?;
                reg(binding)?;
                kstr(name)?
            }
            I::MatchExhaustive { subject, info } => {
                reg(subject)?;
                side(info, p.matches.len())?
            }
            I::DefStruct { info, start, dst } => {
                side(info, p.structs.len())?;
                regs(start, p.structs[info as usize].defaults.len() as u32)?;
                reg(dst)?
            }
            I::DefAdt { info, dst } => {
                side(info, p.adts.len())?;
                regs(dst, p.adts[info as usize].variants.len() as u32)?
            }
            I::DefImpl { info, start } => {
                side(info, p.impls.len())?;
                regs(start, p.impls[info as usize].methods.len() as u32)?
            }
            I::DefInterface { info, dst } => {
                side(info, p.interfaces.len())?;
                reg(dst)?
            }
            I::Import { info, dst } => {
                side(info, p.imports.len())?;
                let imp = &p.imports[info as usize];
                regs(dst, imp.names.len() as u32)?;
                if let Some(mi) = imp.module {
                    if mi as usize >= m.imports.len() {
                        return Err(format!("import module {mi} out of range"));
                    }
                }
            }
            I::TimeoutBegin { secs } => reg(secs)?,
            I::Retry { state, err, .. } => {
                regs(state, 3)?;
                reg(err)?
            }
            I::Schedule { func, interval, .. } => {
                reg(func)?;
                reg(interval)?
            }
            I::Watch { func, path } => {
                reg(func)?;
                reg(path)?
            }
            I::Decorator { name, args, n } => {
                kstr(name)?;
                regs(args, n as u32)?
            }
            I::CheckDestructure { src, .. } => reg(src)?,
            I::ArrayAt { dst, arr, .. } | I::ArrayRest { dst, arr, .. } => {
                reg(dst)?;
                reg(arr)?
            }
        }
    }
    Ok(())
}
