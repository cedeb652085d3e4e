//! AST to IR: scope resolution, register allocation and instruction selection.
//!
//! Scoping is lexical (spec 04 §4.7.5). Each block is a scope; a name declared twice
//! in one block is one variable whose binding is replaced. Variables that nested
//! functions may capture live in cells, created when their block is entered, so a
//! closure sees every binding of its enclosing blocks, including ones made after the
//! closure was created (`let fact = fn(n) { … fact(n - 1) … }`). Top-level names of
//! the file are module globals. Names bound nowhere resolve to builtins, or to a
//! global slot that stays unbound (reading it reports `undefined variable`).

use std::sync::Arc;

use forge_abi::lines::LineIndex;
use rustc_hash::{FxHashMap, FxHashSet};

use super::*;
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, Block, Expr, ExprKind, Stmt, StmtKind};

/// Loads the source of an imported module at compile time: `(resolved path, text)`.
pub trait ImportLoader {
    fn load(&mut self, path: &str) -> Result<(String, String), String>;
}

/// Resolves imports against the file system, relative to the working directory
/// (spec 04 §4.9).
pub struct FsLoader;

impl ImportLoader for FsLoader {
    fn load(&mut self, path: &str) -> Result<(String, String), String> {
        let candidates = [
            path.to_string(),
            format!("{path}.fg"),
            format!("forge_modules/{path}/main.fg"),
            format!("forge_modules/{path}.fg"),
            format!("forge_modules/{path}/src/main.fg"),
            format!(".forge/packages/{path}/main.fg"),
        ];
        for c in &candidates {
            let p = std::path::Path::new(c);
            if p.is_file() {
                return match std::fs::read(p) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(s) => Ok((c.clone(), s)),
                        Err(_) => Err(format!("cannot import '{path}': stream did not contain valid UTF-8")),
                    },
                    Err(e) => Err(format!("cannot import '{path}': {e}")),
                };
            }
        }
        Err(format!("cannot import '{path}': file not found (checked {path}.fg, forge_modules/{path}/main.fg)"))
    }
}

/// The modules always available as globals (spec 11); `import NAME` of one is a no-op.
pub const BUILTIN_MODULES: &[&str] = &[
    "math", "fs", "io", "crypto", "db", "env", "json", "regex", "log", "pg", "term", "http", "csv", "time", "npc",
    "url", "toml", "ws", "jwt", "mysql",
];

/// Compiles a parsed file. `is_builtin` tells which free names are runtime builtins.
pub fn lower_program(
    file: &str,
    src: &str,
    program: &ast::Program,
    is_builtin: &dyn Fn(&str) -> bool,
    loader: &mut dyn ImportLoader,
) -> (Module, Vec<Diagnostic>) {
    let mut stack = vec![file.to_string()];
    lower_with_stack(file, src, program, is_builtin, loader, &mut stack)
}

fn lower_with_stack(
    file: &str,
    src: &str,
    program: &ast::Program,
    is_builtin: &dyn Fn(&str) -> bool,
    loader: &mut dyn ImportLoader,
    import_stack: &mut Vec<String>,
) -> (Module, Vec<Diagnostic>) {
    let mut l = Lowerer {
        src,
        lines: LineIndex::new(src),
        module: Module { file: file.to_string(), source: src.to_string(), ..Default::default() },
        protos: Vec::new(),
        global_index: FxHashMap::default(),
        global_decls: FxHashMap::default(),
        funcs: Vec::new(),
        diags: Vec::new(),
        is_builtin,
        loader,
        import_stack,
    };
    l.protos.push(None);
    // Top-level declarations become globals up front so functions can refer to
    // names defined later in the file.
    for name in block_decls(&program.stmts) {
        l.global_slot(&name.0);
        l.global_decls.entry(name.0).or_insert(name.1);
    }
    let captured = nested_names(&program.stmts);
    l.funcs.push(FnState::new(ProtoKind::Main, "<main>", "<main>", captured));
    l.push_scope(true);
    for s in &program.stmts {
        l.stmt(s);
    }
    if l.import_stack.len() == 1 {
        l.serve(file, program);
    }
    let null = l.temp();
    l.emit(Instr::LoadSpecial { dst: null, which: Special::Null }, 0);
    l.emit(Instr::Return { src: null }, 0);
    let main = l.finish_fn();
    l.protos[0] = Some(main);
    let mut module = std::mem::take(&mut l.module);
    module.protos = l.protos.drain(..).map(|p| Arc::new(p.expect("every prototype is finished"))).collect();
    (module, l.diags)
}

struct Lowerer<'a> {
    src: &'a str,
    lines: LineIndex,
    module: Module,
    protos: Vec<Option<Proto>>,
    global_index: FxHashMap<String, u32>,
    /// Mutability of each top-level declaration (true = mutable).
    global_decls: FxHashMap<String, bool>,
    funcs: Vec<FnState>,
    diags: Vec<Diagnostic>,
    is_builtin: &'a dyn Fn(&str) -> bool,
    loader: &'a mut dyn ImportLoader,
    import_stack: &'a mut Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Reg(Reg),
    Cell(Reg),
    Global(u32),
}

#[derive(Clone, Copy, Debug)]
struct Var {
    loc: Loc,
    mutable: bool,
    /// Whether a `let` for it has run in program order (same-function reads skip
    /// inactive pre-declared cells and look outward).
    active: bool,
}

struct Scope {
    vars: FxHashMap<String, Var>,
    /// Register count when the scope was entered.
    reg_mark: u16,
    /// The file's top level: declarations are globals.
    global: bool,
}

struct LoopCtx {
    breaks: Vec<usize>,
    continues: Vec<usize>,
    /// Handler/timeout blocks open when the loop started.
    blocks_at_start: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Try,
    Timeout,
}

struct FnState {
    proto: Proto,
    scopes: Vec<Scope>,
    next_reg: u16,
    upvals: Vec<(String, UpvalSrc, bool)>,
    loops: Vec<LoopCtx>,
    blocks: Vec<OpenBlock>,
    /// Names used inside nested functions (conservatively: they may be captured).
    captured: FxHashSet<String>,
    /// Inside a `timeout` body: emit cancellation points at statement starts.
    in_timeout: u32,
    /// One past the highest register owned by a variable of an open scope: temporaries
    /// are never released below it.
    var_top: u16,
}

impl FnState {
    fn new(kind: ProtoKind, trace_name: &str, name: &str, captured: FxHashSet<String>) -> FnState {
        FnState {
            proto: Proto { trace_name: trace_name.into(), name: name.into(), kind, ..Default::default() },
            scopes: Vec::new(),
            next_reg: 0,
            upvals: Vec::new(),
            loops: Vec::new(),
            blocks: Vec::new(),
            captured,
            in_timeout: 0,
            var_top: 0,
        }
    }
}

enum Resolved {
    Local(Var),
    Upval(u16, bool),
    Global(u32, bool),
    Builtin,
    Unbound(u32),
}

impl<'a> Lowerer<'a> {
    // ----- bookkeeping -----

    fn f(&mut self) -> &mut FnState {
        self.funcs.last_mut().expect("a function is being compiled")
    }

    fn pos(&self, offset: u32) -> (u32, u32) {
        self.lines.line_col(self.src, offset)
    }

    fn emit(&mut self, ins: Instr, offset: u32) -> usize {
        let pos = self.pos(offset);
        let f = self.f();
        f.proto.code.push(ins);
        f.proto.pos.push(pos);
        f.proto.code.len() - 1
    }

    fn here(&mut self) -> u32 {
        self.f().proto.code.len() as u32
    }

    fn patch(&mut self, at: usize, target: u32) {
        match &mut self.f().proto.code[at] {
            Instr::Jmp { target: t }
            | Instr::JmpIf { target: t, .. }
            | Instr::JmpIfNot { target: t, .. }
            | Instr::JmpIfDefined { target: t, .. }
            | Instr::JmpIfNotCmp { target: t, .. }
            | Instr::JmpIfNotCmpI { target: t, .. }
            | Instr::ForNext { exit: t, .. }
            | Instr::TryBegin { handler: t, .. } => *t = target,
            other => unreachable!("patching a non-jump {other:?}"),
        }
    }

    fn temp(&mut self) -> Reg {
        let f = self.f();
        let r = f.next_reg;
        f.next_reg += 1;
        if f.next_reg > f.proto.n_regs {
            f.proto.n_regs = f.next_reg;
        }
        r
    }

    fn temps(&mut self, n: u16) -> Reg {
        let first = self.f().next_reg;
        for _ in 0..n {
            self.temp();
        }
        first
    }

    fn mark(&mut self) -> u16 {
        self.f().next_reg
    }

    fn release(&mut self, mark: u16) {
        let f = self.f();
        f.next_reg = mark.max(f.var_top);
    }

    /// Marks register `r` as owned by a variable until its scope ends.
    fn own(&mut self, r: Reg) {
        let f = self.f();
        f.var_top = f.var_top.max(r + 1);
    }

    fn konst(&mut self, c: Const) -> u32 {
        let consts = &mut self.f().proto.consts;
        if let Some(i) = consts.iter().position(|x| x == &c) {
            return i as u32;
        }
        consts.push(c);
        (consts.len() - 1) as u32
    }

    fn kstr(&mut self, s: &str) -> u32 {
        self.konst(Const::Str(s.to_string()))
    }

    fn global_slot(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.global_index.get(name) {
            return i;
        }
        let i = self.module.globals.len() as u32;
        self.module.globals.push(name.to_string());
        self.global_index.insert(name.to_string(), i);
        i
    }

    fn push_scope(&mut self, global: bool) {
        let mark = self.mark();
        self.f().scopes.push(Scope { vars: FxHashMap::default(), reg_mark: mark, global });
    }

    fn pop_scope(&mut self) {
        let s = self.f().scopes.pop().expect("scope");
        let f = self.f();
        f.var_top = f.var_top.min(s.reg_mark);
        self.release(s.reg_mark);
    }

    fn in_global_scope(&mut self) -> bool {
        self.funcs.len() == 1 && self.f().scopes.len() == 1
    }

    /// Pre-declares the captured names a block declares, as fresh cells.
    fn predeclare(&mut self, stmts: &[Stmt]) {
        if self.in_global_scope() {
            return;
        }
        for (name, mutable) in block_decls(stmts) {
            if self.f().captured.contains(&name) && !self.f().scopes.last().expect("scope").vars.contains_key(&name) {
                let r = self.temp();
                self.own(r);
                self.emit(Instr::LoadSpecial { dst: r, which: Special::Undef }, 0);
                self.emit(Instr::NewCell { dst: r, src: r }, 0);
                self.f()
                    .scopes
                    .last_mut()
                    .expect("scope")
                    .vars
                    .insert(name, Var { loc: Loc::Cell(r), mutable, active: false });
            }
        }
    }

    /// Declares (or re-declares) `name` in the innermost scope and returns where it
    /// lives.
    fn declare(&mut self, name: &str, mutable: bool) -> Loc {
        if self.in_global_scope() {
            let slot = self.global_slot(name);
            return Loc::Global(slot);
        }
        let captured = self.f().captured.contains(name);
        let scope = self.f().scopes.last_mut().expect("scope");
        if let Some(v) = scope.vars.get_mut(name) {
            v.mutable = mutable;
            v.active = true;
            return v.loc;
        }
        let r = self.temp();
        self.own(r);
        let loc = if captured {
            self.emit(Instr::LoadSpecial { dst: r, which: Special::Undef }, 0);
            self.emit(Instr::NewCell { dst: r, src: r }, 0);
            Loc::Cell(r)
        } else {
            Loc::Reg(r)
        };
        let f = self.f();
        f.proto.local_names.push(name.to_string());
        f.scopes.last_mut().expect("scope").vars.insert(name.to_string(), Var { loc, mutable, active: true });
        loc
    }

    /// Stores R[src] into a declared location.
    fn store(&mut self, loc: Loc, src: Reg, offset: u32) {
        match loc {
            Loc::Reg(r) => {
                if r != src {
                    self.emit(Instr::Move { dst: r, src }, offset);
                }
            }
            Loc::Cell(r) => {
                self.emit(Instr::SetCell { cell: r, src }, offset);
            }
            Loc::Global(g) => {
                self.emit(Instr::SetGlobal { slot: g, src }, offset);
            }
        }
    }

    fn resolve(&mut self, name: &str) -> Resolved {
        let depth = self.funcs.len();
        // The current function: innermost scope outward; inactive cells are skipped.
        for s in self.f().scopes.iter().rev() {
            if s.global {
                break;
            }
            if let Some(v) = s.vars.get(name) {
                if v.active || !matches!(v.loc, Loc::Cell(_)) {
                    return Resolved::Local(*v);
                }
            }
        }
        if let Some(i) = self.f().upvals.iter().position(|u| u.0 == name) {
            let m = self.f().upvals[i].2;
            return Resolved::Upval(i as u16, m);
        }
        // Enclosing functions: any binding of an enclosing block (captured by cell).
        if depth > 1 {
            if let Some((src, mutable)) = self.capture(depth - 2, name) {
                let f = self.f();
                f.upvals.push((name.to_string(), src, mutable));
                return Resolved::Upval((f.upvals.len() - 1) as u16, mutable);
            }
        }
        if let Some(&slot) = self.global_index.get(name) {
            if self.global_decls.contains_key(name) {
                let m = self.global_decls[name];
                return Resolved::Global(slot, m);
            }
        }
        if (self.is_builtin)(name) || BUILTIN_MODULES.contains(&name) || name == "None" {
            return Resolved::Builtin;
        }
        Resolved::Unbound(self.global_slot(name))
    }

    /// Finds `name` in function `fi` (or its enclosing functions) and threads it down
    /// as an upvalue of function `fi + 1`.
    fn capture(&mut self, fi: usize, name: &str) -> Option<(UpvalSrc, bool)> {
        for s in self.funcs[fi].scopes.iter().rev() {
            if s.global {
                break;
            }
            if let Some(v) = s.vars.get(name) {
                return match v.loc {
                    Loc::Cell(r) => Some((UpvalSrc::Reg(r), v.mutable)),
                    // Not captured by the analysis (cannot happen for names used in
                    // nested functions); treat as not found.
                    _ => None,
                };
            }
        }
        if let Some(i) = self.funcs[fi].upvals.iter().position(|u| u.0 == name) {
            return Some((UpvalSrc::Upval(i as u16), self.funcs[fi].upvals[i].2));
        }
        if fi == 0 {
            return None;
        }
        let (src, mutable) = self.capture(fi - 1, name)?;
        let f = &mut self.funcs[fi];
        f.upvals.push((name.to_string(), src, mutable));
        Some((UpvalSrc::Upval((f.upvals.len() - 1) as u16), mutable))
    }

    fn finish_fn(&mut self) -> Proto {
        let mut f = self.funcs.pop().expect("function");
        f.proto.upvals = f.upvals.iter().map(|u| u.1).collect();
        f.proto
    }

    // ----- statements -----

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    /// Compiles a statement list and leaves its value (spec 03 §3.5) in `dst`.
    fn stmts_value(&mut self, stmts: &[Stmt], dst: Reg) {
        match stmts.split_last() {
            None => {
                self.emit(Instr::LoadSpecial { dst, which: Special::Null }, 0);
            }
            Some((last, init)) => {
                self.stmts(init);
                match &last.kind {
                    StmtKind::Expr(e) => {
                        if self.f().in_timeout > 0 {
                            self.emit(Instr::CheckCancel, last.span.start);
                        }
                        self.expr(e, dst)
                    }
                    _ => {
                        self.stmt(last);
                        self.emit(Instr::LoadSpecial { dst, which: Special::Null }, last.span.start);
                    }
                }
            }
        }
    }

    /// A block in a new scope, for its value.
    fn block_value(&mut self, b: &Block, dst: Reg) {
        self.push_scope(false);
        self.predeclare(&b.stmts);
        self.stmts_value(&b.stmts, dst);
        self.pop_scope();
    }

    fn block(&mut self, b: &Block) {
        self.push_scope(false);
        self.predeclare(&b.stmts);
        self.stmts(&b.stmts);
        self.pop_scope();
    }

    fn stmt(&mut self, s: &Stmt) {
        let at = s.span.start;
        if self.f().in_timeout > 0 {
            self.emit(Instr::CheckCancel, at);
        }
        let mark = self.mark();
        match &s.kind {
            StmtKind::Expr(e) => {
                let r = self.temp();
                self.expr(e, r);
                // Drop the unused value now: a reference left in a temporary would make
                // the next in-place update (`xs.push(x)` in a loop) copy its target.
                if !matches!(e.kind, ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Null) {
                    self.emit(Instr::LoadSpecial { dst: r, which: Special::Null }, at);
                }
            }
            StmtKind::Let { mutable, target, value, .. } => self.let_stmt(*mutable, target, value, at),
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::Print { kind, value } => {
                let r = self.expr_any(value);
                let kind = match kind {
                    ast::PrintKind::Say => PrintKind::Say,
                    ast::PrintKind::Yell => PrintKind::Yell,
                    ast::PrintKind::Whisper => PrintKind::Whisper,
                };
                self.emit(Instr::Print { kind, src: r }, at);
            }
            StmtKind::FnDef(fd) => {
                let loc = self.declare(&fd.name.text, true);
                self.release(mark);
                let r = self.temp();
                let pi = self.function(fd, ProtoKind::Function, &fd.name.text, &fd.name.text);
                self.emit(Instr::Closure { dst: r, proto: pi }, at);
                self.store(loc, r, at);
                // Decorators attached to the function are recorded with it (read by the
                // test runner and the HTTP server): `@NAME` with the function first.
                for d in &fd.decorators {
                    let mark = self.mark();
                    let base = self.temps(1 + d.args.len() as u16);
                    self.emit(Instr::Move { dst: base, src: r }, d.span.start);
                    for (i, (_, e)) in d.args.iter().enumerate() {
                        self.expr(e, base + 1 + i as u16);
                    }
                    let k = self.kstr(&format!("@{}", d.name.text));
                    self.emit(Instr::Decorator { name: k, args: base, n: 1 + d.args.len() as u8 }, d.span.start);
                    self.release(mark);
                }
                return;
            }
            StmtKind::StructDef(sd) => self.struct_def(sd, at),
            StmtKind::TypeDef(td) => self.type_def(td, at),
            StmtKind::InterfaceDef(idef) => {
                let info = InterfaceInfo {
                    name: idef.name.text.clone(),
                    methods: idef
                        .methods
                        .iter()
                        .map(|m| (m.name.text.clone(), m.params.len() as u16, m.ret.as_ref().map(|t| t.text.clone())))
                        .collect(),
                };
                let loc = self.declare(&idef.name.text, true);
                let r = self.temp();
                let f = self.f();
                f.proto.interfaces.push(info);
                let i = (f.proto.interfaces.len() - 1) as u16;
                self.emit(Instr::DefInterface { info: i, dst: r }, at);
                self.store(loc, r, at);
            }
            StmtKind::Impl(ib) => self.impl_block(ib, at),
            StmtKind::For { first, second, iterable, body } => {
                self.for_loop(first, second.as_ref(), iterable, body, at)
            }
            StmtKind::While { cond, body } => {
                let top = self.here();
                let exit = self.jump_if_false(cond);
                self.loop_body(body, top, at);
                let end = self.here();
                for j in exit {
                    self.patch(j, end);
                }
                self.finish_loop(top, end);
            }
            StmtKind::Loop { body } => {
                let top = self.here();
                self.loop_body(body, top, at);
                let end = self.here();
                self.finish_loop(top, end);
            }
            StmtKind::Repeat { count, body } => {
                // `repeat n { … }` is `for _ in range(n) { … }`.
                let iterable = Expr {
                    kind: ExprKind::Call {
                        callee: Box::new(Expr { kind: ExprKind::Builtin("range"), span: count.span }),
                        args: vec![count.clone()],
                    },
                    span: count.span,
                };
                let var = ast::Name { text: "_".into(), span: count.span };
                self.for_loop(&var, None, &iterable, body, at);
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                if self.f().loops.is_empty() {
                    let msg = if is_break { "break outside of loop" } else { "continue outside of loop" };
                    let k = self.kstr(msg);
                    self.emit(Instr::Raise { msg: k }, at);
                } else {
                    let start = self.f().loops.last().expect("loop").blocks_at_start;
                    let open: Vec<OpenBlock> = self.f().blocks[start..].to_vec();
                    for b in open.iter().rev() {
                        match b {
                            OpenBlock::Try => self.emit(Instr::TryEnd, at),
                            OpenBlock::Timeout => self.emit(Instr::TimeoutEnd, at),
                        };
                    }
                    let j = self.emit(Instr::Jmp { target: 0 }, at);
                    let lp = self.f().loops.last_mut().expect("loop");
                    if is_break {
                        lp.breaks.push(j);
                    } else {
                        lp.continues.push(j);
                    }
                }
            }
            StmtKind::Return(value) => {
                let r = match value {
                    Some(e) => self.expr_any(e),
                    None => {
                        let r = self.temp();
                        self.emit(Instr::LoadSpecial { dst: r, which: Special::Null }, at);
                        r
                    }
                };
                self.emit(Instr::Return { src: r }, at);
            }
            StmtKind::Try { body, catch_name, catch_body } => {
                let err = self.temp();
                let begin = self.emit(Instr::TryBegin { handler: 0, err }, at);
                self.f().blocks.push(OpenBlock::Try);
                self.block(body);
                self.f().blocks.pop();
                self.emit(Instr::TryEnd, at);
                let skip = self.emit(Instr::Jmp { target: 0 }, at);
                let h = self.here();
                self.patch(begin, h);
                self.push_scope(false);
                self.predeclare(&catch_body.stmts);
                let loc = self.declare(&catch_name.text, true);
                self.store(loc, err, catch_name.span.start);
                self.stmts(&catch_body.stmts);
                self.pop_scope();
                let end = self.here();
                self.patch(skip, end);
            }
            StmtKind::Check { value, test } => self.check(value, test, at),
            StmtKind::Retry { count, body } => self.retry(count, body, at),
            StmtKind::Timeout { seconds, body } => {
                let secs = self.expr_any(seconds);
                self.emit(Instr::TimeoutBegin { secs }, at);
                self.f().blocks.push(OpenBlock::Timeout);
                self.f().in_timeout += 1;
                self.block(body);
                self.f().in_timeout -= 1;
                self.f().blocks.pop();
                self.emit(Instr::TimeoutEnd, at);
            }
            StmtKind::Schedule { interval, unit, body } => {
                let iv = self.expr_any(interval);
                let func = self.temp();
                let pi = self.block_closure(body, ProtoKind::Lambda, "<lambda>");
                self.emit(Instr::Closure { dst: func, proto: pi }, at);
                let unit = match unit {
                    ast::TimeUnit::Seconds => 0,
                    ast::TimeUnit::Minutes => 1,
                    ast::TimeUnit::Hours => 2,
                };
                self.emit(Instr::Schedule { func, interval: iv, unit }, at);
            }
            StmtKind::Watch { path, body } => {
                let p = self.expr_any(path);
                let func = self.temp();
                let pi = self.block_closure(body, ProtoKind::Lambda, "<lambda>");
                self.emit(Instr::Closure { dst: func, proto: pi }, at);
                self.emit(Instr::Watch { func, path: p }, at);
            }
            StmtKind::Wait(e) => self.call_builtin("wait", &[e], at),
            StmtKind::Download { url, to } => {
                let mut args = vec![url];
                if let Some(t) = to {
                    args.push(t);
                }
                self.call_builtin("http.download", &args, at)
            }
            StmtKind::Crawl(e) => self.call_builtin("http.crawl", &[e], at),
            StmtKind::Emit => {}
            StmtKind::Prompt(p) => {
                let loc = self.declare(&p.name.text, true);
                let r = self.temp();
                let k = self.kstr(&p.name.text);
                self.emit(Instr::DefPrompt { dst: r, name: k }, at);
                self.store(loc, r, at);
            }
            StmtKind::Import(imp) => self.import(imp, at),
            StmtKind::Decorator(d) => {
                let base = self.mark();
                for (_, e) in &d.args {
                    let r = self.temp();
                    self.expr(e, r);
                }
                let k = self.kstr(&d.name.text);
                self.emit(Instr::Decorator { name: k, args: base, n: d.args.len() as u8 }, at);
            }
        }
        self.release(mark);
    }

    /// For an `@server` program: the call `__serve(description, handler…)` that ends
    /// its top level (see `ir::server`).
    fn serve(&mut self, file: &str, program: &ast::Program) {
        let (lines, src) = (&self.lines, self.src);
        let Some(desc) = super::server::describe(file, program, &|off| lines.line_col(src, off).0) else { return };
        if desc.handlers.len() > 250 {
            self.diags.push(Diagnostic::error(
                ast::Span { start: 0, end: 0 },
                format!("too many routes ({}); a server may have at most 250", desc.handlers.len()),
            ));
            return;
        }
        let f = self.temp();
        let k = self.kstr("__serve");
        self.emit(Instr::LoadBuiltin { dst: f, name: k }, 0);
        let base = self.mark();
        let r = self.temp();
        let kj = self.kstr(&desc.json);
        self.emit(Instr::LoadK { dst: r, k: kj }, 0);
        for h in &desc.handlers {
            let r = self.temp();
            let slot = self.global_slot(h);
            self.emit(Instr::GetGlobal { dst: r, slot }, 0);
        }
        self.emit(Instr::Call { dst: f, func: f, args: base, n: 1 + desc.handlers.len() as u8 }, 0);
    }

    fn call_builtin(&mut self, name: &'static str, args: &[&Expr], at: u32) {
        let f = self.temp();
        let k = self.kstr(name);
        self.emit(Instr::LoadBuiltin { dst: f, name: k }, at);
        let base = self.mark();
        for a in args {
            let r = self.temp();
            self.expr(a, r);
        }
        self.emit(Instr::Call { dst: f, func: f, args: base, n: args.len() as u8 }, at);
    }

    fn loop_body(&mut self, body: &Block, top: u32, _at: u32) {
        let blocks = self.f().blocks.len();
        self.f().loops.push(LoopCtx { breaks: Vec::new(), continues: Vec::new(), blocks_at_start: blocks });
        self.block(body);
        self.emit(Instr::Jmp { target: top }, body.span.end.saturating_sub(1));
    }

    fn finish_loop(&mut self, cont: u32, end: u32) {
        let lp = self.f().loops.pop().expect("loop");
        for b in lp.breaks {
            self.patch(b, end);
        }
        for c in lp.continues {
            self.patch(c, cont);
        }
    }

    fn for_loop(&mut self, first: &ast::Name, second: Option<&ast::Name>, iterable: &Expr, body: &Block, at: u32) {
        let state = self.temps(2);
        let src = self.expr_any(iterable);
        self.emit(Instr::ForPrep { state, src }, iterable.span.start);
        let mark = self.mark();
        self.push_scope(false);
        let vars = self.temps(2);
        let top = self.here();
        let mode = if second.is_some() { ForMode::Two } else { ForMode::One };
        let next = self.emit(Instr::ForNext { state, var: vars, mode, exit: 0 }, at);
        let blocks = self.f().blocks.len();
        self.f().loops.push(LoopCtx { breaks: Vec::new(), continues: Vec::new(), blocks_at_start: blocks });
        let names: Vec<(&ast::Name, Reg)> = match second {
            Some(s) => vec![(first, vars), (s, vars + 1)],
            None => vec![(first, vars)],
        };
        self.own(vars + 1);
        for (n, r) in names {
            if self.f().captured.contains(&n.text) {
                let loc = self.declare(&n.text, true);
                self.store(loc, r, at);
            } else {
                let f = self.f();
                f.proto.local_names.push(n.text.clone());
                f.scopes
                    .last_mut()
                    .expect("scope")
                    .vars
                    .insert(n.text.clone(), Var { loc: Loc::Reg(r), mutable: true, active: true });
            }
        }
        self.predeclare(&body.stmts);
        self.stmts(&body.stmts);
        self.pop_scope();
        self.emit(Instr::Jmp { target: top }, at);
        let end = self.here();
        self.patch(next, end);
        self.finish_loop(top, end);
        self.release(mark);
    }

    fn let_stmt(&mut self, mutable: bool, target: &ast::LetTarget, value: &Expr, at: u32) {
        match target {
            ast::LetTarget::Name(n) => {
                // The initialiser runs before the binding exists.
                let v = self.temp();
                self.expr(value, v);
                let loc = self.declare(&n.text, mutable);
                self.store(loc, v, at);
            }
            ast::LetTarget::Object(names) => {
                let v = self.expr_any(value);
                self.emit(Instr::CheckDestructure { src: v, array: false }, at);
                for n in names {
                    let r = self.temp();
                    let k = self.kstr(&n.text);
                    self.emit(Instr::GetKeyOr { dst: r, obj: v, name: k }, at);
                    let loc = self.declare(&n.text, true);
                    self.store(loc, r, at);
                }
            }
            ast::LetTarget::Array(elems) => {
                let v = self.expr_any(value);
                self.emit(Instr::CheckDestructure { src: v, array: true }, at);
                let plain = elems.iter().filter(|e| matches!(e, ast::ArrayPatElem::Name(_))).count() as u16;
                let mut i = 0u16;
                for e in elems {
                    let r = self.temp();
                    let name = match e {
                        ast::ArrayPatElem::Name(n) => {
                            self.emit(Instr::ArrayAt { dst: r, arr: v, i }, at);
                            i += 1;
                            n
                        }
                        ast::ArrayPatElem::Rest(n) => {
                            self.emit(Instr::ArrayRest { dst: r, arr: v, skip: plain }, at);
                            n
                        }
                    };
                    let loc = self.declare(&name.text, true);
                    self.store(loc, r, at);
                }
            }
        }
    }

    /// The location and mutability of an assignment root, or the error to raise.
    fn assign_root(&mut self, name: &ast::Name, path: bool) -> Result<(VarRef, bool), String> {
        match self.resolve(&name.text) {
            Resolved::Local(v) => Ok((
                match v.loc {
                    Loc::Reg(r) => VarRef::Reg(r),
                    Loc::Cell(r) => VarRef::Cell(r),
                    Loc::Global(g) => VarRef::Global(g),
                },
                v.mutable,
            )),
            Resolved::Upval(i, m) => Ok((VarRef::Upval(i), m)),
            Resolved::Global(g, m) => Ok((VarRef::Global(g), m)),
            Resolved::Builtin | Resolved::Unbound(_) => Err(if path {
                format!("undefined: {}", name.text)
            } else {
                format!("undefined variable: {}", name.text)
            }),
        }
    }

    fn immutable_error(&mut self, name: &ast::Name) {
        let msg = format!("cannot reassign immutable variable '{}' (use 'let mut' to make it mutable)", name.text);
        self.diags.push(Diagnostic::warning(name.span, msg.clone()));
        let k = self.kstr(&msg);
        self.emit(Instr::Raise { msg: k }, name.span.start);
    }

    fn add_path(&mut self, root: VarRef, name: &str, steps: Vec<PathStep>) -> u16 {
        let f = self.f();
        f.proto.paths.push(PathInfo { root, name: name.to_string(), steps });
        (f.proto.paths.len() - 1) as u16
    }

    fn assign(&mut self, target: &ast::AssignTarget, op: Option<ast::BinOp>, value: &Expr) {
        let at = target.span.start;
        let (root, mutable) = match self.assign_root(&target.root, !target.path.is_empty()) {
            Ok(x) => x,
            Err(msg) => {
                // The right-hand side still runs first.
                let r = self.temp();
                self.expr(value, r);
                let k = self.kstr(&msg);
                self.emit(Instr::Raise { msg: k }, at);
                return;
            }
        };
        // `x = x + e` and `x += e` append in place.
        let self_add = op == Some(ast::BinOp::Add)
            || (op.is_none() && target.path.is_empty() && is_self_add(&target.root.text, value));
        if target.path.is_empty() {
            let v = self.temp();
            if self_add {
                let rhs = match &value.kind {
                    ExprKind::Binary { rhs, .. } if op.is_none() => rhs.as_ref(),
                    _ => value,
                };
                self.expr(rhs, v);
                if !mutable {
                    self.immutable_error(&target.root);
                    return;
                }
                let p = self.add_path(root, &target.root.text, Vec::new());
                self.emit(Instr::AppendVar { path: p, src: v }, value.span.start);
                return;
            }
            if let (None, VarRef::Reg(r), ExprKind::Binary { .. }, true) = (op, root, &value.kind, mutable) {
                // The operator reads its operands before writing: compute in place.
                self.expr(value, r);
                return;
            }
            match op {
                None => self.expr(value, v),
                Some(op) => {
                    let cur = self.temp();
                    self.read_var(&target.root, cur);
                    let rhs = self.expr_any(value);
                    self.binop(op, v, cur, rhs, at);
                }
            }
            if !mutable {
                self.immutable_error(&target.root);
                return;
            }
            match root {
                VarRef::Reg(r) => {
                    self.emit(Instr::Move { dst: r, src: v }, at);
                }
                VarRef::Cell(r) => {
                    self.emit(Instr::SetCell { cell: r, src: v }, at);
                }
                VarRef::Upval(i) => {
                    self.emit(Instr::SetUpval { idx: i, src: v }, at);
                }
                VarRef::Global(g) => {
                    self.emit(Instr::SetGlobal { slot: g, src: v }, at);
                }
            }
            return;
        }
        // Path assignment: value first, then the index expressions.
        let v = self.temp();
        if op.is_none() {
            self.expr(value, v);
        }
        let mut steps = Vec::new();
        for seg in &target.path {
            match seg {
                ast::PathSeg::Field(n) => steps.push(PathStep::Field(n.text.clone())),
                ast::PathSeg::Index(e) => {
                    let r = self.temp();
                    self.expr(e, r);
                    steps.push(PathStep::Index(r));
                }
            }
        }
        if let Some(op) = op {
            // Read the current value along the same path, then combine.
            let cur = self.temp();
            self.read_var(&target.root, cur);
            for st in &steps {
                match st {
                    PathStep::Field(n) => {
                        let k = self.kstr(n);
                        self.emit(Instr::GetField { dst: cur, obj: cur, name: k }, at);
                    }
                    PathStep::Index(r) => {
                        self.emit(Instr::GetIndex { dst: cur, obj: cur, idx: *r }, at);
                    }
                }
            }
            let rhs = self.expr_any(value);
            self.binop(op, v, cur, rhs, at);
        }
        if !mutable {
            self.immutable_error(&target.root);
            return;
        }
        let p = self.add_path(root, &target.root.text, steps);
        self.emit(Instr::SetPath { path: p, src: v }, at);
    }

    fn read_var(&mut self, name: &ast::Name, dst: Reg) {
        let e = Expr { kind: ExprKind::Ident(name.text.clone()), span: name.span };
        self.expr(&e, dst);
    }

    fn struct_def(&mut self, sd: &ast::StructDef, at: u32) {
        let loc = self.declare(&sd.name.text, true);
        let with_defaults: Vec<&ast::FieldDef> = sd.fields.iter().filter(|f| f.default.is_some()).collect();
        let start = self.temps(with_defaults.len() as u16);
        for (i, fdef) in with_defaults.iter().enumerate() {
            self.expr(fdef.default.as_ref().expect("default"), start + i as u16);
        }
        let info = StructInfo {
            name: sd.name.text.clone(),
            defaults: with_defaults.iter().map(|f| f.name.text.clone()).collect(),
            embeds: sd
                .fields
                .iter()
                .filter(|f| f.embedded)
                .filter_map(|f| match &f.ty.kind {
                    ast::TypeKind::Named(t, args) if args.is_empty() => Some((f.name.text.clone(), t.clone())),
                    _ => None,
                })
                .collect(),
        };
        let f = self.f();
        f.proto.structs.push(info);
        let i = (f.proto.structs.len() - 1) as u16;
        let dst = self.temp();
        self.emit(Instr::DefStruct { info: i, start, dst }, at);
        self.store(loc, dst, at);
    }

    fn type_def(&mut self, td: &ast::TypeDef, at: u32) {
        let info = AdtInfo {
            name: td.name.text.clone(),
            variants: td.variants.iter().map(|v| (v.name.text.clone(), v.fields.len() as u16)).collect(),
        };
        let n = info.variants.len() as u16;
        let f = self.f();
        f.proto.adts.push(info);
        let i = (f.proto.adts.len() - 1) as u16;
        let dst = self.temps(n);
        self.emit(Instr::DefAdt { info: i, dst }, at);
        for (j, v) in td.variants.iter().enumerate() {
            let loc = self.declare(&v.name.text, true);
            self.store(loc, dst + j as u16, at);
        }
    }

    fn impl_block(&mut self, ib: &ast::ImplBlock, at: u32) {
        let start = self.temps(ib.methods.len() as u16);
        for (i, m) in ib.methods.iter().enumerate() {
            let trace = format!("{}.{}", ib.type_name.text, m.name.text);
            let pi = self.function(m, ProtoKind::Method, &trace, &m.name.text);
            self.emit(Instr::Closure { dst: start + i as u16, proto: pi }, m.span.start);
        }
        let info = ImplInfo {
            type_name: ib.type_name.text.clone(),
            interface: ib.interface.as_ref().map(|n| n.text.clone()),
            methods: ib.methods.iter().map(|m| m.name.text.clone()).collect(),
            instance: ib.methods.iter().map(|m| m.params.first().is_some_and(|p| p.name.text == "it")).collect(),
        };
        let f = self.f();
        f.proto.impls.push(info);
        let i = (f.proto.impls.len() - 1) as u16;
        self.emit(Instr::DefImpl { info: i, start }, at);
    }

    fn check(&mut self, value: &Expr, test: &ast::CheckTest, at: u32) {
        let base = self.temp();
        self.expr(value, base);
        let kind = match test {
            ast::CheckTest::Truthy => CheckKind::Truthy,
            ast::CheckTest::Empty { negated: false } => CheckKind::Empty,
            ast::CheckTest::Empty { negated: true } => CheckKind::NotEmpty,
            ast::CheckTest::Between(lo, hi) => {
                let a = self.temp();
                self.expr(lo, a);
                let b = self.temp();
                self.expr(hi, b);
                CheckKind::Between
            }
            ast::CheckTest::Contains(x) => {
                let a = self.temp();
                self.expr(x, a);
                CheckKind::Contains
            }
        };
        self.emit(Instr::Check { kind, src: base }, at);
    }

    fn retry(&mut self, count: &Expr, body: &Block, at: u32) {
        let state = self.temps(3);
        self.expr(count, state);
        let err = self.temp();
        self.emit(Instr::Retry { op: 0, state, err }, at);
        let top = self.here();
        self.emit(Instr::Retry { op: 1, state, err }, at);
        let begin = self.emit(Instr::TryBegin { handler: 0, err }, at);
        self.f().blocks.push(OpenBlock::Try);
        self.block(body);
        self.f().blocks.pop();
        self.emit(Instr::TryEnd, at);
        let done = self.emit(Instr::Jmp { target: 0 }, at);
        let h = self.here();
        self.patch(begin, h);
        self.emit(Instr::Retry { op: 2, state, err }, at);
        self.emit(Instr::Jmp { target: top }, at);
        let end = self.here();
        self.patch(done, end);
    }

    fn import(&mut self, imp: &ast::Import, at: u32) {
        let path = match &imp.source {
            ast::ImportSource::Path(p) => p.clone(),
            ast::ImportSource::Name(n) => {
                if BUILTIN_MODULES.contains(&n.as_str()) {
                    return;
                }
                if n == "exec" {
                    let k = self
                        .kstr("'exec' is a built-in module — it's already available. Use it directly: exec.function()");
                    self.emit(Instr::Raise { msg: k }, at);
                    return;
                }
                n.clone()
            }
        };
        // Compile the module now (and learn which names a whole-module import binds).
        let mut module_index = None;
        let mut names: Vec<String> =
            imp.names.as_ref().map(|ns| ns.iter().map(|n| n.text.clone()).collect()).unwrap_or_default();
        let mut error = None;
        match self.loader.load(&path) {
            Err(msg) => error = Some(msg),
            Ok((resolved, text)) => {
                if self.import_stack.iter().any(|p| p == &resolved) {
                    error = Some(format!("circular import: '{path}'"));
                } else {
                    let (program, diags) = crate::syntax::parse(&text);
                    if let Some(d) = diags.iter().find(|d| d.is_error()) {
                        let kind = if d.message.starts_with("unexpected character")
                            || d.message.starts_with("unterminated")
                            || d.message.starts_with("unknown escape")
                            || d.message.starts_with("invalid integer")
                        {
                            "lex"
                        } else {
                            "parse"
                        };
                        error = Some(format!("import '{path}' {kind} error: {}", d.message));
                    } else {
                        if imp.names.is_none() {
                            names = top_level_exports(&program);
                        }
                        self.import_stack.push(resolved.clone());
                        let (m, _) =
                            lower_with_stack(&path, &text, &program, self.is_builtin, self.loader, self.import_stack);
                        self.import_stack.pop();
                        self.module.imports.push(Arc::new(m));
                        module_index = Some((self.module.imports.len() - 1) as u32);
                    }
                }
            }
        }
        if let Some(msg) = error {
            let k = self.kstr(&msg);
            self.emit(Instr::Raise { msg: k }, at);
            return;
        }
        let dst = self.temps(names.len() as u16);
        let f = self.f();
        f.proto.imports.push(ImportInfo { path, names: names.clone(), module: module_index });
        let i = (f.proto.imports.len() - 1) as u16;
        self.emit(Instr::Import { info: i, dst }, at);
        for (j, n) in names.iter().enumerate() {
            let loc = self.declare(n, true);
            self.store(loc, dst + j as u16, at);
        }
    }

    // ----- functions -----

    /// Compiles a function definition into a new prototype; returns its index.
    fn function(&mut self, fd: &ast::FnDef, kind: ProtoKind, trace: &str, name: &str) -> u32 {
        self.compile_fn(&fd.params, &fd.body, kind, trace, name)
    }

    fn compile_fn(&mut self, params: &[ast::Param], body: &Block, kind: ProtoKind, trace: &str, name: &str) -> u32 {
        let idx = self.protos.len();
        self.protos.push(None);
        let mut captured = nested_names(&body.stmts);
        for p in params {
            if let Some(d) = &p.default {
                collect_names_expr(d, &mut captured, false);
            }
        }
        self.funcs.push(FnState::new(kind, trace, name, captured));
        self.push_scope(false);
        let n = params.len() as u16;
        self.temps(n);
        if n > 0 {
            self.own(n - 1);
        }
        {
            let f = self.f();
            f.proto.n_params = n;
            f.proto.param_defaults = params.iter().map(|p| p.default.is_some()).collect();
        }
        // Parameters: plain registers, or cells when captured.
        for (i, p) in params.iter().enumerate() {
            let r = i as Reg;
            if let Some(d) = &p.default {
                let j = self.emit(Instr::JmpIfDefined { src: r, target: 0 }, d.span.start);
                // An error while evaluating a default yields null.
                let err = self.temp();
                let t = self.emit(Instr::TryBegin { handler: 0, err }, d.span.start);
                self.expr(d, r);
                self.emit(Instr::TryEnd, d.span.start);
                let skip = self.emit(Instr::Jmp { target: 0 }, d.span.start);
                let h = self.here();
                self.patch(t, h);
                self.emit(Instr::LoadSpecial { dst: r, which: Special::Null }, d.span.start);
                let end = self.here();
                self.patch(skip, end);
                self.patch(j, end);
                self.release(n);
            }
            let captured = self.f().captured.contains(&p.name.text);
            let loc = if captured {
                let c = self.temp();
                self.own(c);
                self.emit(Instr::NewCell { dst: c, src: r }, p.name.span.start);
                Loc::Cell(c)
            } else {
                Loc::Reg(r)
            };
            let f = self.f();
            f.proto.local_names.push(p.name.text.clone());
            f.scopes
                .last_mut()
                .expect("scope")
                .vars
                .insert(p.name.text.clone(), Var { loc, mutable: true, active: true });
        }
        self.push_scope(false);
        self.predeclare(&body.stmts);
        let r = self.temp();
        self.stmts_value(&body.stmts, r);
        self.emit(Instr::Return { src: r }, body.span.end.saturating_sub(1));
        self.pop_scope();
        self.pop_scope();
        let proto = self.finish_fn();
        self.protos[idx] = Some(proto);
        idx as u32
    }

    /// A block compiled as a zero-parameter closure (spawn, schedule, watch bodies).
    fn block_closure(&mut self, body: &Block, kind: ProtoKind, trace: &str) -> u32 {
        self.compile_fn(&[], body, kind, trace, trace)
    }

    // ----- expressions -----

    /// Compiles `e` and returns a register holding its value: a plain local's own
    /// register, or a new temporary.
    fn expr_any(&mut self, e: &Expr) -> Reg {
        if let ExprKind::Ident(name) = &e.kind {
            if let Resolved::Local(Var { loc: Loc::Reg(r), .. }) = self.resolve(name) {
                return r;
            }
        }
        let r = self.temp();
        self.expr(e, r);
        r
    }

    /// Emits the jumps taken when `cond` is falsy; returns them for patching.
    /// Comparisons become one fused compare-and-branch instruction; `a and b` is a
    /// jump for each side (its truth is that of both sides, so no Bool is made).
    fn jump_if_false(&mut self, cond: &Expr) -> Vec<usize> {
        if let ExprKind::Logical { and: true, lhs, rhs } = &cond.kind {
            let mut jumps = self.jump_if_false(lhs);
            jumps.extend(self.jump_if_false(rhs));
            return jumps;
        }
        let mark = self.mark();
        if let ExprKind::Binary { op, lhs, rhs } = &cond.kind {
            if let Err(cop) = arith_or_cmp(*op) {
                let a = self.expr_any(lhs);
                let j = if let Some(imm) = small_int(rhs) {
                    self.emit(Instr::JmpIfNotCmpI { op: cop, a, imm, target: 0 }, cond.span.start)
                } else {
                    let b = self.expr_any(rhs);
                    self.emit(Instr::JmpIfNotCmp { op: cop, a, b, target: 0 }, cond.span.start)
                };
                self.release(mark);
                return vec![j];
            }
        }
        let c = self.expr_any(cond);
        let j = self.emit(Instr::JmpIfNot { cond: c, target: 0 }, cond.span.start);
        self.release(mark);
        vec![j]
    }

    fn binop(&mut self, op: ast::BinOp, dst: Reg, a: Reg, b: Reg, at: u32) {
        use ast::BinOp as B;
        let ins = match op {
            B::Add => Instr::Arith { op: ArithOp::Add, dst, a, b },
            B::Sub => Instr::Arith { op: ArithOp::Sub, dst, a, b },
            B::Mul => Instr::Arith { op: ArithOp::Mul, dst, a, b },
            B::Div => Instr::Arith { op: ArithOp::Div, dst, a, b },
            B::Mod => Instr::Arith { op: ArithOp::Mod, dst, a, b },
            B::Eq => Instr::Compare { op: CmpKind::Eq, dst, a, b },
            B::NotEq => Instr::Compare { op: CmpKind::Ne, dst, a, b },
            B::Lt => Instr::Compare { op: CmpKind::Lt, dst, a, b },
            B::LtEq => Instr::Compare { op: CmpKind::Le, dst, a, b },
            B::Gt => Instr::Compare { op: CmpKind::Gt, dst, a, b },
            B::GtEq => Instr::Compare { op: CmpKind::Ge, dst, a, b },
        };
        self.emit(ins, at);
    }

    fn expr(&mut self, e: &Expr, dst: Reg) {
        let at = e.span.start;
        let mark = self.mark();
        match &e.kind {
            ExprKind::Int(i) => {
                if let Ok(v) = i32::try_from(*i) {
                    self.emit(Instr::LoadInt { dst, v }, at);
                } else {
                    let k = self.konst(Const::Int(*i));
                    self.emit(Instr::LoadK { dst, k }, at);
                }
            }
            ExprKind::Float(x) => {
                let k = self.konst(Const::Float(*x));
                self.emit(Instr::LoadK { dst, k }, at);
            }
            ExprKind::Str(s) => {
                let k = self.kstr(s);
                self.emit(Instr::LoadK { dst, k }, at);
            }
            ExprKind::Interp(parts) => {
                let base = self.temps(parts.len() as u16);
                for (i, p) in parts.iter().enumerate() {
                    match p {
                        ast::InterpPart::Lit(s) => {
                            let k = self.kstr(s);
                            self.emit(Instr::LoadK { dst: base + i as u16, k }, at);
                        }
                        ast::InterpPart::Expr(x) => self.expr(x, base + i as u16),
                    }
                }
                self.emit(Instr::Concat { dst, start: base, n: parts.len() as u16 }, at);
            }
            ExprKind::Bool(b) => {
                let which = if *b { Special::True } else { Special::False };
                self.emit(Instr::LoadSpecial { dst, which }, at);
            }
            ExprKind::Null => {
                self.emit(Instr::LoadSpecial { dst, which: Special::Null }, at);
            }
            ExprKind::Ident(name) => self.ident(name, dst, at),
            ExprKind::Builtin(name) => {
                let k = self.kstr(name);
                self.emit(Instr::LoadBuiltin { dst, name: k }, at);
            }
            ExprKind::Array(items) => self.array(items, dst, at),
            ExprKind::Object(entries) => {
                let obj = self.temp();
                self.emit(Instr::NewObject { dst: obj }, at);
                for (key, _, v) in entries {
                    let r = self.expr_any(v);
                    let k = self.kstr(key);
                    self.emit(Instr::ObjInsert { obj, key: k, src: r }, v.span.start);
                }
                self.emit(Instr::Move { dst, src: obj }, at);
            }
            ExprKind::StructLit { name, fields } => {
                let obj = self.temp();
                let k = self.kstr(&name.text);
                self.emit(Instr::NewStruct { dst: obj, name: k }, at);
                for (fname, v) in fields {
                    let r = self.expr_any(v);
                    let fk = self.kstr(&fname.text);
                    self.emit(Instr::ObjInsert { obj, key: fk, src: r }, v.span.start);
                }
                self.emit(Instr::FinishStruct { obj, name: k }, at);
                self.emit(Instr::Move { dst, src: obj }, at);
            }
            ExprKind::Block(b) => self.block_value(b, dst),
            ExprKind::If { cond, then, otherwise } => {
                let jf = self.jump_if_false(cond);
                self.block_value(then, dst);
                let jend = self.emit(Instr::Jmp { target: 0 }, at);
                let el = self.here();
                for j in jf {
                    self.patch(j, el);
                }
                match otherwise.as_deref() {
                    None => {
                        self.emit(Instr::LoadSpecial { dst, which: Special::Null }, at);
                    }
                    Some(ast::Else::If(x)) => self.expr(x, dst),
                    Some(ast::Else::Block(b)) => self.block_value(b, dst),
                }
                let end = self.here();
                self.patch(jend, end);
            }
            ExprKind::When { subject, arms } => self.when(subject, arms, dst, at),
            ExprKind::Match { subject, arms } => self.match_expr(subject, arms, dst, at),
            ExprKind::Safe(b) => {
                let err = self.temp();
                let begin = self.emit(Instr::TryBegin { handler: 0, err }, at);
                self.f().blocks.push(OpenBlock::Try);
                self.block_value(b, dst);
                self.f().blocks.pop();
                self.emit(Instr::TryEnd, at);
                let skip = self.emit(Instr::Jmp { target: 0 }, at);
                let h = self.here();
                self.patch(begin, h);
                self.emit(Instr::LoadSpecial { dst, which: Special::Null }, at);
                let end = self.here();
                self.patch(skip, end);
            }
            ExprKind::Spawn(b) => {
                let func = self.temp();
                let pi = self.block_closure(b, ProtoKind::Task, "<task>");
                self.emit(Instr::Closure { dst: func, proto: pi }, at);
                self.emit(Instr::Spawn { dst, func }, at);
            }
            ExprKind::Lambda { params, body } => {
                let pi = self.compile_fn(params, body, ProtoKind::Lambda, "<lambda>", "<lambda>");
                self.emit(Instr::Closure { dst, proto: pi }, at);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr_any(lhs);
                if let Some(imm) = small_int(rhs) {
                    let ins = match arith_or_cmp(*op) {
                        Ok(aop) => Instr::ArithI { op: aop, dst, a, imm },
                        Err(cop) => Instr::CompareI { op: cop, dst, a, imm },
                    };
                    self.emit(ins, at);
                } else {
                    let b = self.expr_any(rhs);
                    self.binop(*op, dst, a, b, at);
                }
            }
            ExprKind::Logical { and, lhs, rhs } => {
                let a = self.expr_any(lhs);
                self.emit(Instr::Truthy { dst, src: a }, at);
                let j = if *and {
                    self.emit(Instr::JmpIfNot { cond: dst, target: 0 }, at)
                } else {
                    self.emit(Instr::JmpIf { cond: dst, target: 0 }, at)
                };
                self.release(mark);
                let b = self.expr_any(rhs);
                self.emit(Instr::Truthy { dst, src: b }, at);
                let end = self.here();
                self.patch(j, end);
            }
            ExprKind::Pipe { lhs, rhs } => {
                let base = self.temps(2);
                self.expr(lhs, base + 1);
                self.expr(rhs, base);
                self.emit(Instr::Call { dst, func: base, args: base + 1, n: 1 }, at);
            }
            ExprKind::Unary { op, operand } => {
                let s = self.expr_any(operand);
                let ins = match op {
                    ast::UnaryOp::Neg => Instr::Neg { dst, src: s },
                    ast::UnaryOp::Not => Instr::Not { dst, src: s },
                    ast::UnaryOp::Await => Instr::Await { dst, src: s },
                    ast::UnaryOp::Must => Instr::Must { dst, src: s },
                    ast::UnaryOp::Freeze => Instr::Freeze { dst, src: s },
                    ast::UnaryOp::Ask => Instr::Ask { dst, src: s },
                    ast::UnaryOp::Spread => Instr::Move { dst, src: s },
                };
                if ins != (Instr::Move { dst, src: dst }) {
                    self.emit(ins, at);
                }
            }
            ExprKind::Call { callee, args } => self.call(callee, args, dst, at),
            ExprKind::MethodCall { recv, name, args } => self.method_call(recv, name, args, dst, at),
            ExprKind::Field { obj, name } => {
                let o = self.expr_any(obj);
                let k = self.kstr(&name.text);
                self.emit(Instr::GetField { dst, obj: o, name: k }, at);
            }
            ExprKind::Index { obj, index } => {
                let o = self.expr_any(obj);
                let i = self.expr_any(index);
                self.emit(Instr::GetIndex { dst, obj: o, idx: i }, at);
            }
            ExprKind::Try(inner) => {
                let s = self.expr_any(inner);
                self.emit(Instr::Question { dst, src: s }, at);
            }
        }
        self.release(mark);
    }

    fn ident(&mut self, name: &str, dst: Reg, at: u32) {
        match self.resolve(name) {
            Resolved::Local(v) => match v.loc {
                Loc::Reg(r) => {
                    if r != dst {
                        self.emit(Instr::Move { dst, src: r }, at);
                    }
                }
                Loc::Cell(r) => {
                    let k = self.kstr(name);
                    self.emit(Instr::GetCell { dst, cell: r, name: k }, at);
                }
                Loc::Global(g) => {
                    self.emit(Instr::GetGlobal { dst, slot: g }, at);
                }
            },
            Resolved::Upval(i, _) => {
                let k = self.kstr(name);
                self.emit(Instr::GetUpval { dst, idx: i, name: k }, at);
            }
            Resolved::Global(g, _) | Resolved::Unbound(g) => {
                self.emit(Instr::GetGlobal { dst, slot: g }, at);
            }
            Resolved::Builtin => {
                if name == "None" {
                    self.emit(Instr::LoadSpecial { dst, which: Special::None }, at);
                    return;
                }
                let k = self.kstr(name);
                self.emit(Instr::LoadBuiltin { dst, name: k }, at);
            }
        }
    }

    fn array(&mut self, items: &[Expr], dst: Reg, at: u32) {
        let is_spread = |e: &Expr| matches!(e.kind, ExprKind::Unary { op: ast::UnaryOp::Spread, .. });
        if !items.iter().any(is_spread) {
            let base = self.temps(items.len() as u16);
            for (i, x) in items.iter().enumerate() {
                self.expr(x, base + i as u16);
            }
            self.emit(Instr::NewArray { dst, start: base, n: items.len() as u16 }, at);
            return;
        }
        let arr = self.temp();
        self.emit(Instr::NewArray { dst: arr, start: arr, n: 0 }, at);
        let mut i = 0;
        while i < items.len() {
            if let ExprKind::Unary { op: ast::UnaryOp::Spread, operand } = &items[i].kind {
                let r = self.expr_any(operand);
                self.emit(Instr::ArrayExtend { arr, src: r }, items[i].span.start);
                i += 1;
                continue;
            }
            let mark = self.mark();
            let run: Vec<&Expr> = items[i..].iter().take_while(|x| !is_spread(x)).collect();
            let base = self.temps(run.len() as u16);
            for (j, x) in run.iter().enumerate() {
                self.expr(x, base + j as u16);
            }
            let chunk = self.temp();
            self.emit(Instr::NewArray { dst: chunk, start: base, n: run.len() as u16 }, at);
            self.emit(Instr::ArrayExtend { arr, src: chunk }, at);
            i += run.len();
            self.release(mark);
        }
        self.emit(Instr::Move { dst, src: arr }, at);
    }

    /// The in-place `push`/`pop` rule (spec 03 §3.13 step 1): a plain identifier
    /// naming a mutable variable.
    fn push_pop_target(&mut self, recv: &Expr) -> Option<(u16, String)> {
        let ExprKind::Ident(name) = &recv.kind else { return None };
        let n = ast::Name { text: name.clone(), span: recv.span };
        match self.assign_root(&n, false) {
            Ok((root, true)) => Some((self.add_path(root, name, Vec::new()), name.clone())),
            _ => None,
        }
    }

    fn call(&mut self, callee: &Expr, args: &[Expr], dst: Reg, at: u32) {
        // `push(v, x)` / `pop(v)` on a mutable variable change it in place.
        if let ExprKind::Ident(fname) = &callee.kind {
            if (fname == "push" && args.len() == 2 || fname == "pop" && args.len() == 1)
                && matches!(self.resolve(fname), Resolved::Builtin)
            {
                if let Some((p, _)) = self.push_pop_target(&args[0]) {
                    let arg = self.temp();
                    if fname == "push" {
                        self.expr(&args[1], arg);
                    }
                    self.emit(Instr::PushPop { path: p, dst, arg, pop: fname == "pop" }, at);
                    return;
                }
            }
        }
        let base = self.temps(1 + args.len() as u16);
        self.expr(callee, base);
        for (i, a) in args.iter().enumerate() {
            let a = match &a.kind {
                ExprKind::Unary { op: ast::UnaryOp::Spread, operand } => operand.as_ref(),
                _ => a,
            };
            self.expr(a, base + 1 + i as u16);
        }
        self.emit(Instr::Call { dst, func: base, args: base + 1, n: args.len() as u8 }, at);
    }

    fn method_call(&mut self, recv: &Expr, name: &ast::Name, args: &[Expr], dst: Reg, at: u32) {
        if (name.text == "push" && args.len() == 1) || (name.text == "pop" && args.is_empty()) {
            if let Some((p, _)) = self.push_pop_target(recv) {
                let arg = self.temp();
                if name.text == "push" {
                    self.expr(&args[0], arg);
                }
                self.emit(Instr::PushPop { path: p, dst, arg, pop: name.text == "pop" }, at);
                return;
            }
        }
        let base = self.temps(1 + args.len() as u16);
        self.expr(recv, base);
        for (i, a) in args.iter().enumerate() {
            self.expr(a, base + 1 + i as u16);
        }
        let k = self.kstr(&name.text);
        self.emit(Instr::CallMethod { dst, recv: base, name: k, args: base + 1, n: args.len() as u8 }, at);
    }

    fn when(&mut self, subject: &Expr, arms: &[ast::WhenArm], dst: Reg, at: u32) {
        let s = self.temp();
        self.expr(subject, s);
        let mut ends = Vec::new();
        for arm in arms {
            let mark = self.mark();
            match &arm.test {
                ast::WhenTest::Else => {
                    self.expr(&arm.result, dst);
                    let j = self.emit(Instr::Jmp { target: 0 }, arm.span.start);
                    ends.push(j);
                    self.release(mark);
                    break;
                }
                ast::WhenTest::Compare(op, v) => {
                    let vr = self.expr_any(v);
                    let t = self.temp();
                    let op = match op {
                        None | Some(ast::CmpOp::Eq) => CmpKind::Eq,
                        Some(ast::CmpOp::NotEq) => CmpKind::Ne,
                        Some(ast::CmpOp::Lt) => CmpKind::Lt,
                        Some(ast::CmpOp::LtEq) => CmpKind::Le,
                        Some(ast::CmpOp::Gt) => CmpKind::Gt,
                        Some(ast::CmpOp::GtEq) => CmpKind::Ge,
                    };
                    self.emit(Instr::CompareLenient { op, dst: t, a: s, b: vr }, arm.span.start);
                    let skip = self.emit(Instr::JmpIfNot { cond: t, target: 0 }, arm.span.start);
                    self.release(mark);
                    self.expr(&arm.result, dst);
                    let j = self.emit(Instr::Jmp { target: 0 }, arm.span.start);
                    ends.push(j);
                    let next = self.here();
                    self.patch(skip, next);
                }
            }
        }
        // Falling through every arm: null (only reached when no else arm matched).
        self.emit(Instr::LoadSpecial { dst, which: Special::Null }, at);
        let end = self.here();
        for j in ends {
            self.patch(j, end);
        }
    }

    fn match_expr(&mut self, subject: &Expr, arms: &[ast::MatchArm], dst: Reg, at: u32) {
        let s = self.temp();
        self.expr(subject, s);
        // Exhaustiveness information for ADT subjects.
        let mut info = MatchInfo { named: Vec::new(), idents: Vec::new(), has_wildcard: false };
        for arm in arms {
            match &arm.pattern.kind {
                ast::PatternKind::Wildcard => info.has_wildcard = true,
                ast::PatternKind::Ident(n) => info.idents.push(n.clone()),
                ast::PatternKind::Ctor { name, .. } => info.named.push(name.clone()),
                _ => {}
            }
        }
        let f = self.f();
        f.proto.matches.push(info);
        let mi = (f.proto.matches.len() - 1) as u16;
        self.emit(Instr::MatchExhaustive { subject: s, info: mi }, at);
        let mut ends = Vec::new();
        for arm in arms {
            self.push_scope(false);
            let mut fails = Vec::new();
            self.pattern(&arm.pattern, s, &mut fails);
            self.predeclare(&arm.body.stmts);
            self.stmts_value(&arm.body.stmts, dst);
            self.pop_scope();
            let j = self.emit(Instr::Jmp { target: 0 }, arm.span.start);
            ends.push(j);
            let next = self.here();
            for f in fails {
                self.patch(f, next);
            }
        }
        let k = self.kstr("non-exhaustive match");
        self.emit(Instr::Raise { msg: k }, at);
        let end = self.here();
        for j in ends {
            self.patch(j, end);
        }
    }

    /// Emits the test of `p` against R[subj]; failing jumps are appended to `fails`.
    /// Bindings are declared in the current scope.
    fn pattern(&mut self, p: &ast::Pattern, subj: Reg, fails: &mut Vec<usize>) {
        let at = p.span.start;
        match &p.kind {
            ast::PatternKind::Wildcard => {}
            ast::PatternKind::Int(i) => self.literal_test(Const::Int(*i), subj, fails, at),
            ast::PatternKind::Float(x) => self.literal_test(Const::Float(*x), subj, fails, at),
            ast::PatternKind::Str(s) => self.literal_test(Const::Str(s.clone()), subj, fails, at),
            ast::PatternKind::Bool(b) => {
                let t = self.temp();
                self.emit(Instr::TestBool { dst: t, subject: subj, which: *b }, at);
                fails.push(self.emit(Instr::JmpIfNot { cond: t, target: 0 }, at));
            }
            ast::PatternKind::Ident(name) => {
                let t = self.temp();
                let k = self.kstr(name);
                if name == "None" {
                    self.emit(Instr::TestVariant { dst: t, subject: subj, name: k }, at);
                    fails.push(self.emit(Instr::JmpIfNot { cond: t, target: 0 }, at));
                    return;
                }
                // A variant test when the name is bound to that unit variant.
                let cur = self.temp();
                match self.resolve(name) {
                    Resolved::Local(Var { loc: Loc::Reg(r), .. }) => {
                        self.emit(Instr::Move { dst: cur, src: r }, at);
                    }
                    Resolved::Local(Var { loc: Loc::Cell(r), .. }) => {
                        self.emit(Instr::GetCell { dst: cur, cell: r, name: u32::MAX }, at);
                    }
                    Resolved::Upval(i, _) => {
                        self.emit(Instr::GetUpval { dst: cur, idx: i, name: u32::MAX }, at);
                    }
                    Resolved::Global(g, _)
                    | Resolved::Unbound(g)
                    | Resolved::Local(Var { loc: Loc::Global(g), .. }) => {
                        self.emit(Instr::GetGlobalOpt { dst: cur, slot: g }, at);
                    }
                    Resolved::Builtin => {
                        self.emit(Instr::LoadSpecial { dst: cur, which: Special::Undef }, at);
                    }
                }
                self.emit(Instr::TestIdent { dst: t, subject: subj, binding: cur, name: k }, at);
                fails.push(self.emit(Instr::JmpIfNot { cond: t, target: 0 }, at));
                if name != "_" {
                    let loc = self.declare(name, true);
                    self.store(loc, subj, at);
                }
            }
            ast::PatternKind::Ctor { name, args } => {
                let t = self.temp();
                let k = self.kstr(name);
                self.emit(Instr::TestVariant { dst: t, subject: subj, name: k }, at);
                fails.push(self.emit(Instr::JmpIfNot { cond: t, target: 0 }, at));
                for (i, a) in args.iter().enumerate() {
                    let fr = self.temp();
                    self.emit(Instr::VariantField { dst: fr, subject: subj, i: i as u16 }, a.span.start);
                    // A sub-pattern for a field the value lacks fails (spec 03 §3.8).
                    let d = self.temp();
                    self.emit(Instr::IsDefined { dst: d, src: fr }, a.span.start);
                    fails.push(self.emit(Instr::JmpIfNot { cond: d, target: 0 }, a.span.start));
                    self.pattern(a, fr, fails);
                }
            }
        }
    }

    fn literal_test(&mut self, c: Const, subj: Reg, fails: &mut Vec<usize>, at: u32) {
        let t = self.temp();
        let k = self.konst(c);
        self.emit(Instr::TestLiteral { dst: t, subject: subj, k }, at);
        fails.push(self.emit(Instr::JmpIfNot { cond: t, target: 0 }, at));
    }
}

/// An Int literal that fits an instruction's immediate operand.
fn small_int(e: &Expr) -> Option<i32> {
    match e.kind {
        ExprKind::Int(i) => i32::try_from(i).ok(),
        _ => None,
    }
}

/// The IR operator of a binary operator: arithmetic, or comparison.
fn arith_or_cmp(op: ast::BinOp) -> Result<ArithOp, CmpKind> {
    use ast::BinOp as B;
    match op {
        B::Add => Ok(ArithOp::Add),
        B::Sub => Ok(ArithOp::Sub),
        B::Mul => Ok(ArithOp::Mul),
        B::Div => Ok(ArithOp::Div),
        B::Mod => Ok(ArithOp::Mod),
        B::Eq => Err(CmpKind::Eq),
        B::NotEq => Err(CmpKind::Ne),
        B::Lt => Err(CmpKind::Lt),
        B::LtEq => Err(CmpKind::Le),
        B::Gt => Err(CmpKind::Gt),
        B::GtEq => Err(CmpKind::Ge),
    }
}

/// `x = x + e`
fn is_self_add(name: &str, value: &Expr) -> bool {
    matches!(&value.kind, ExprKind::Binary { op: ast::BinOp::Add, lhs, .. }
        if matches!(&lhs.kind, ExprKind::Ident(n) if n == name))
}

/// Names a statement list declares directly (not in nested blocks), with whether the
/// binding is mutable.
fn block_decls(stmts: &[Stmt]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for s in stmts {
        match &s.kind {
            StmtKind::Let { mutable, target, .. } => match target {
                ast::LetTarget::Name(n) => out.push((n.text.clone(), *mutable)),
                ast::LetTarget::Object(ns) => out.extend(ns.iter().map(|n| (n.text.clone(), true))),
                ast::LetTarget::Array(es) => out.extend(es.iter().map(|e| match e {
                    ast::ArrayPatElem::Name(n) | ast::ArrayPatElem::Rest(n) => (n.text.clone(), true),
                })),
            },
            StmtKind::FnDef(f) => out.push((f.name.text.clone(), true)),
            StmtKind::StructDef(sd) => out.push((sd.name.text.clone(), true)),
            StmtKind::TypeDef(td) => out.extend(td.variants.iter().map(|v| (v.name.text.clone(), true))),
            StmtKind::InterfaceDef(i) => out.push((i.name.text.clone(), true)),
            StmtKind::Prompt(p) => out.push((p.name.text.clone(), true)),
            StmtKind::Import(imp) => {
                if let Some(ns) = &imp.names {
                    out.extend(ns.iter().map(|n| (n.text.clone(), true)));
                }
            }
            _ => {}
        }
    }
    out
}

/// The names a whole-module import binds: top-level functions and `let`/`set`.
fn top_level_exports(p: &ast::Program) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &p.stmts {
        let names: Vec<String> = match &s.kind {
            StmtKind::FnDef(f) => vec![f.name.text.clone()],
            StmtKind::Let { target: ast::LetTarget::Name(n), .. } => vec![n.text.clone()],
            _ => continue,
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Every identifier used inside functions nested in `stmts` (a conservative
/// approximation of the variables they capture).
fn nested_names(stmts: &[Stmt]) -> FxHashSet<String> {
    let mut out = FxHashSet::default();
    for s in stmts {
        collect_names_stmt(s, &mut out, false);
    }
    out
}

fn collect_names_block(b: &Block, out: &mut FxHashSet<String>, inside: bool) {
    for s in &b.stmts {
        collect_names_stmt(s, out, inside);
    }
}

fn collect_names_stmt(s: &Stmt, out: &mut FxHashSet<String>, inside: bool) {
    let e = |x: &Expr, out: &mut FxHashSet<String>| collect_names_expr(x, out, inside);
    match &s.kind {
        StmtKind::Expr(x) | StmtKind::Wait(x) | StmtKind::Crawl(x) => e(x, out),
        StmtKind::Let { target, value, .. } => {
            e(value, out);
            if inside {
                match target {
                    ast::LetTarget::Name(n) => {
                        out.insert(n.text.clone());
                    }
                    ast::LetTarget::Object(ns) => out.extend(ns.iter().map(|n| n.text.clone())),
                    ast::LetTarget::Array(es) => out.extend(es.iter().map(|x| match x {
                        ast::ArrayPatElem::Name(n) | ast::ArrayPatElem::Rest(n) => n.text.clone(),
                    })),
                }
            }
        }
        StmtKind::Assign { target, value, .. } => {
            if inside {
                out.insert(target.root.text.clone());
            }
            for seg in &target.path {
                if let ast::PathSeg::Index(x) = seg {
                    e(x, out);
                }
            }
            e(value, out);
        }
        StmtKind::Print { value, .. } => e(value, out),
        StmtKind::FnDef(fd) => {
            if inside {
                out.insert(fd.name.text.clone());
            }
            fn_names(&fd.params, &fd.body, out);
        }
        StmtKind::StructDef(sd) => {
            for f in &sd.fields {
                if let Some(d) = &f.default {
                    e(d, out);
                }
            }
        }
        StmtKind::Impl(ib) => {
            for m in &ib.methods {
                fn_names(&m.params, &m.body, out);
            }
        }
        StmtKind::For { first, second, iterable, body } => {
            e(iterable, out);
            if inside {
                out.insert(first.text.clone());
                if let Some(s) = second {
                    out.insert(s.text.clone());
                }
            }
            collect_names_block(body, out, inside);
        }
        StmtKind::While { cond, body } => {
            e(cond, out);
            collect_names_block(body, out, inside);
        }
        StmtKind::Loop { body } => collect_names_block(body, out, inside),
        StmtKind::Repeat { count, body } => {
            e(count, out);
            if inside {
                out.insert("_".into());
            }
            collect_names_block(body, out, inside);
        }
        StmtKind::Return(Some(x)) => e(x, out),
        StmtKind::Try { body, catch_name, catch_body } => {
            collect_names_block(body, out, inside);
            if inside {
                out.insert(catch_name.text.clone());
            }
            collect_names_block(catch_body, out, inside);
        }
        StmtKind::Check { value, test } => {
            e(value, out);
            match test {
                ast::CheckTest::Between(a, b) => {
                    e(a, out);
                    e(b, out);
                }
                ast::CheckTest::Contains(a) => e(a, out),
                _ => {}
            }
        }
        StmtKind::Retry { count: x, body } | StmtKind::Timeout { seconds: x, body } => {
            e(x, out);
            collect_names_block(body, out, inside);
        }
        StmtKind::Schedule { interval: x, body, .. } | StmtKind::Watch { path: x, body } => {
            e(x, out);
            collect_names_block(body, out, true);
        }
        StmtKind::Download { url, to } => {
            e(url, out);
            if let Some(t) = to {
                e(t, out);
            }
        }
        StmtKind::Decorator(d) => {
            for (_, x) in &d.args {
                e(x, out);
            }
        }
        _ => {}
    }
}

fn fn_names(params: &[ast::Param], body: &Block, out: &mut FxHashSet<String>) {
    for p in params {
        out.insert(p.name.text.clone());
        if let Some(d) = &p.default {
            collect_names_expr(d, out, true);
        }
    }
    collect_names_block(body, out, true);
}

fn collect_names_expr(x: &Expr, out: &mut FxHashSet<String>, inside: bool) {
    let e = |y: &Expr, out: &mut FxHashSet<String>| collect_names_expr(y, out, inside);
    match &x.kind {
        ExprKind::Ident(n) if inside => {
            out.insert(n.clone());
        }
        ExprKind::Interp(parts) => {
            for p in parts {
                if let ast::InterpPart::Expr(y) = p {
                    e(y, out);
                }
            }
        }
        ExprKind::Array(items) => items.iter().for_each(|y| e(y, out)),
        ExprKind::Object(entries) => entries.iter().for_each(|(_, _, y)| e(y, out)),
        ExprKind::StructLit { fields, .. } => fields.iter().for_each(|(_, y)| e(y, out)),
        ExprKind::Block(b) | ExprKind::Safe(b) => collect_names_block(b, out, inside),
        ExprKind::If { cond, then, otherwise } => {
            e(cond, out);
            collect_names_block(then, out, inside);
            match otherwise.as_deref() {
                Some(ast::Else::If(y)) => e(y, out),
                Some(ast::Else::Block(b)) => collect_names_block(b, out, inside),
                None => {}
            }
        }
        ExprKind::When { subject, arms } => {
            e(subject, out);
            for a in arms {
                if let ast::WhenTest::Compare(_, v) = &a.test {
                    e(v, out);
                }
                e(&a.result, out);
            }
        }
        ExprKind::Match { subject, arms } => {
            e(subject, out);
            for a in arms {
                if inside {
                    pattern_names(&a.pattern, out);
                }
                collect_names_block(&a.body, out, inside);
            }
        }
        ExprKind::Spawn(b) => collect_names_block(b, out, true),
        ExprKind::Lambda { params, body } => fn_names(params, body, out),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Logical { lhs, rhs, .. } | ExprKind::Pipe { lhs, rhs } => {
            e(lhs, out);
            e(rhs, out);
        }
        ExprKind::Unary { operand, .. } | ExprKind::Try(operand) => e(operand, out),
        ExprKind::Call { callee, args } => {
            e(callee, out);
            args.iter().for_each(|y| e(y, out));
        }
        ExprKind::MethodCall { recv, args, .. } => {
            e(recv, out);
            args.iter().for_each(|y| e(y, out));
        }
        ExprKind::Field { obj, .. } => e(obj, out),
        ExprKind::Index { obj, index } => {
            e(obj, out);
            e(index, out);
        }
        _ => {}
    }
}

fn pattern_names(p: &ast::Pattern, out: &mut FxHashSet<String>) {
    match &p.kind {
        ast::PatternKind::Ident(n) => {
            out.insert(n.clone());
        }
        ast::PatternKind::Ctor { args, .. } => args.iter().for_each(|a| pattern_names(a, out)),
        _ => {}
    }
}
