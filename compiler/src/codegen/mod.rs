//! IR to Cranelift: one lowering, generic over `cranelift_module::Module`, serving
//! both the JIT (`forge run --jit`) and the AOT compiler (`forgec`).
//!
//! Every IR register becomes a Cranelift variable holding a value word that it owns
//! (as in the VM): writing a register releases its old value; copying retains. Small
//! Int arithmetic, comparisons and branches are inline with overflow checks that fall
//! back to the runtime; everything else calls the entry points of
//! `forge_abi::abi::RUNTIME`. A failing entry returns `EXC_BITS`; the generated code
//! then records a trace line for the frame (`forge_trace_push` with a static site
//! description) and jumps to the innermost `try` handler of the function, or releases
//! its registers and returns `EXC_BITS` to its caller.
//!
//! Each prototype yields two functions: a fixed-arity body
//! `fn(ctx, closure, a0, …, a(n-1)) -> u64` and the generic entry
//! `fn(ctx, closure, args: *const u64, nargs: u32) -> u64` that closures point to.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cl, types, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use forge_abi::abi::{RtFn, Ty, RUNTIME};
use forge_abi::layout as L;
use rustc_hash::FxHashMap;

use crate::ir::{self, ArithOp, CmpKind, Const, Instr, Special};

/// Why a program cannot be compiled natively.
#[derive(Debug)]
pub struct CodegenError(pub String);

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type CgResult<T> = Result<T, CodegenError>;

fn err<T>(msg: impl Into<String>) -> CgResult<T> {
    Err(CodegenError(msg.into()))
}

fn cl_err(e: impl std::fmt::Display) -> CodegenError {
    CodegenError(e.to_string())
}

/// What the caller gets back: the data object describing the main module.
pub struct Compiled {
    pub main_module_desc: DataId,
}

/// Compiles a whole program (the main module and every module it imports).
pub fn compile_program<M: Module>(m: &mut M, program: &ir::Module) -> CgResult<Compiled> {
    let mut cg = Codegen::new(m)?;
    let desc = cg.module(program)?;
    Ok(Compiled { main_module_desc: desc })
}

struct Codegen<'a, M: Module> {
    m: &'a mut M,
    ptr: types::Type,
    rt: FxHashMap<&'static str, (FuncId, &'static RtFn)>,
    strings: FxHashMap<String, DataId>,
    n_data: usize,
    n_modules: usize,
    fctx: FunctionBuilderContext,
}

/// Per-module declarations.
struct ModIds {
    fixed: Vec<FuncId>,
    generic: Vec<FuncId>,
    proto_desc: Vec<DataId>,
    module_desc: DataId,
}

impl<'a, M: Module> Codegen<'a, M> {
    fn new(m: &'a mut M) -> CgResult<Self> {
        let ptr = m.target_config().pointer_type();
        let mut rt = FxHashMap::default();
        for f in RUNTIME {
            let mut sig = m.make_signature();
            for p in f.params {
                sig.params.push(AbiParam::new(ty_of(*p, ptr)));
            }
            if let Some(r) = f.ret {
                sig.returns.push(AbiParam::new(ty_of(r, ptr)));
            }
            let id = m.declare_function(f.name, Linkage::Import, &sig).map_err(cl_err)?;
            rt.insert(f.name, (id, f));
        }
        Ok(Codegen { m, ptr, rt, strings: FxHashMap::default(), n_data: 0, n_modules: 0, fctx: FunctionBuilderContext::new() })
    }

    fn fixed_sig(&self, n_params: u16) -> cl::Signature {
        let mut sig = self.m.make_signature();
        sig.params.push(AbiParam::new(self.ptr));
        sig.params.push(AbiParam::new(types::I64));
        for _ in 0..n_params {
            sig.params.push(AbiParam::new(types::I64));
        }
        sig.returns.push(AbiParam::new(types::I64));
        sig
    }

    fn generic_sig(&self) -> cl::Signature {
        let mut sig = self.m.make_signature();
        sig.params.push(AbiParam::new(self.ptr));
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(self.ptr));
        sig.params.push(AbiParam::new(types::I32));
        sig.returns.push(AbiParam::new(types::I64));
        sig
    }

    fn anon_data(&mut self, name_hint: &str, writable: bool) -> CgResult<DataId> {
        self.n_data += 1;
        let name = format!("__forge_{}_{}", name_hint, self.n_data);
        self.m.declare_data(&name, Linkage::Local, writable, false).map_err(cl_err)
    }

    /// A data object holding the bytes of `s` (deduplicated).
    fn string_data(&mut self, s: &str) -> CgResult<DataId> {
        if let Some(&id) = self.strings.get(s) {
            return Ok(id);
        }
        let id = self.anon_data("str", false)?;
        let mut d = DataDescription::new();
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(id, &d).map_err(cl_err)?;
        self.strings.insert(s.to_string(), id);
        Ok(id)
    }

    /// Writes a `StrRef` (pointer + length) for `s` at `offset` of `d`.
    fn write_strref(&mut self, d: &mut DataDescription, bytes: &mut [u8], offset: usize, s: &str) -> CgResult<()> {
        let sid = self.string_data(s)?;
        let gv = self.m.declare_data_in_data(sid, d);
        d.write_data_addr(offset as u32, gv, 0);
        bytes[offset + 8..offset + 16].copy_from_slice(&(s.len() as u64).to_le_bytes());
        Ok(())
    }

    /// A static array of `StrRef`s.
    fn strref_array(&mut self, items: &[String]) -> CgResult<DataId> {
        let id = self.anon_data("strs", false)?;
        let mut d = DataDescription::new();
        let mut bytes = vec![0u8; (items.len() * 16).max(8)];
        for (i, s) in items.iter().enumerate() {
            self.write_strref(&mut d, &mut bytes, i * 16, s)?;
        }
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(id, &d).map_err(cl_err)?;
        Ok(id)
    }

    /// Compiles one module and its imports; returns its `ModuleDesc`.
    fn module(&mut self, module: &ir::Module) -> CgResult<DataId> {
        let mi = self.n_modules;
        self.n_modules += 1;
        let mut import_descs = Vec::new();
        for sub in &module.imports {
            import_descs.push(self.module(sub)?);
        }
        let _ = import_descs;
        let mut ids = ModIds { fixed: Vec::new(), generic: Vec::new(), proto_desc: Vec::new(), module_desc: DataId::from_u32(0) };
        ids.module_desc = self.m.declare_data(&format!("__forge_module_{mi}"), Linkage::Local, false, false).map_err(cl_err)?;
        for (pi, p) in module.protos.iter().enumerate() {
            let fixed = self.fixed_sig(p.n_params);
            let generic = self.generic_sig();
            ids.fixed.push(self.m.declare_function(&format!("__forge_m{mi}_p{pi}"), Linkage::Local, &fixed).map_err(cl_err)?);
            ids.generic.push(self.m.declare_function(&format!("__forge_m{mi}_p{pi}_entry"), Linkage::Local, &generic).map_err(cl_err)?);
            ids.proto_desc.push(self.m.declare_data(&format!("__forge_m{mi}_p{pi}_desc"), Linkage::Local, false, false).map_err(cl_err)?);
        }
        for (pi, p) in module.protos.iter().enumerate() {
            self.proto_body(module, &ids, pi)
                .map_err(|e| CodegenError(format!("{} (in {} of {})", e.0, p.trace_name, module.file)))?;
            self.generic_entry(&ids, pi, p)?;
            self.proto_desc(&ids, pi, p)?;
        }
        self.module_desc(module, &ids)?;
        Ok(ids.module_desc)
    }

    fn proto_desc(&mut self, ids: &ModIds, pi: usize, p: &ir::Proto) -> CgResult<()> {
        // ProtoDesc: entry (8), name StrRef (16), kind u32, n_params u32, module (8).
        let mut d = DataDescription::new();
        let mut bytes = vec![0u8; 40];
        let fr = self.m.declare_func_in_data(ids.generic[pi], &mut d);
        d.write_function_addr(0, fr);
        self.write_strref(&mut d, &mut bytes, 8, &p.name)?;
        let kind: u32 = match p.kind {
            ir::ProtoKind::Main => 0,
            ir::ProtoKind::Function => 1,
            ir::ProtoKind::Lambda => 2,
            ir::ProtoKind::Method => 3,
            ir::ProtoKind::Task => 4,
        };
        bytes[24..28].copy_from_slice(&kind.to_le_bytes());
        bytes[28..32].copy_from_slice(&(p.n_params as u32).to_le_bytes());
        let gv = self.m.declare_data_in_data(ids.module_desc, &mut d);
        d.write_data_addr(32, gv, 0);
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(ids.proto_desc[pi], &d).map_err(cl_err)
    }

    fn module_desc(&mut self, module: &ir::Module, ids: &ModIds) -> CgResult<()> {
        // ModuleDesc: file (16), source (16), globals ptr (8), n_globals (8), main (8).
        let globals = self.strref_array(&module.globals)?;
        let mut d = DataDescription::new();
        let mut bytes = vec![0u8; 56];
        self.write_strref(&mut d, &mut bytes, 0, &module.file)?;
        self.write_strref(&mut d, &mut bytes, 16, &module.source)?;
        let gv = self.m.declare_data_in_data(globals, &mut d);
        d.write_data_addr(32, gv, 0);
        bytes[40..48].copy_from_slice(&(module.globals.len() as u64).to_le_bytes());
        let mv = self.m.declare_data_in_data(ids.proto_desc[0], &mut d);
        d.write_data_addr(48, mv, 0);
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(ids.module_desc, &d).map_err(cl_err)
    }

    /// `fn(ctx, closure, args, nargs)`: loads the arguments that were given, fills the
    /// missing ones (`null`, or UNDEF where a default exists), calls the body.
    fn generic_entry(&mut self, ids: &ModIds, pi: usize, p: &ir::Proto) -> CgResult<()> {
        let mut ctx = self.m.make_context();
        ctx.func.signature = self.generic_sig();
        let fixed_ref = self.m.declare_func_in_func(ids.fixed[pi], &mut ctx.func);
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let (cx, closure, args, nargs) = (params[0], params[1], params[2], params[3]);
            let mut call_args = vec![cx, closure];
            for i in 0..p.n_params as usize {
                let missing = if p.param_defaults[i] { L::UNDEF_BITS } else { L::NULL_BITS };
                let given = b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, nargs, i as i64);
                let loaded_blk = b.create_block();
                let join = b.create_block();
                b.append_block_param(join, types::I64);
                let miss = b.ins().iconst(types::I64, missing as i64);
                b.ins().brif(given, loaded_blk, &[], join, &[miss.into()]);
                b.switch_to_block(loaded_blk);
                let v = b.ins().load(types::I64, MemFlagsData::trusted(), args, (i * 8) as i32);
                b.ins().jump(join, &[v.into()]);
                b.switch_to_block(join);
                call_args.push(b.block_params(join)[0]);
            }
            let call = b.ins().call(fixed_ref, &call_args);
            let r = b.inst_results(call)[0];
            b.ins().return_(&[r]);
            b.seal_all_blocks();
            let cfg = self.m.target_config();
            b.finalize(cfg);
        }
        self.m.define_function(ids.generic[pi], &mut ctx).map_err(cl_err)?;
        Ok(())
    }

    fn proto_body(&mut self, module: &ir::Module, ids: &ModIds, pi: usize) -> CgResult<()> {
        let p = &module.protos[pi];
        let mut ctx = self.m.make_context();
        ctx.func.signature = self.fixed_sig(p.n_params);
        // Declarations this body needs, made before the builder borrows the function.
        let mut rt_refs = FxHashMap::default();
        for (name, (id, _)) in &self.rt {
            rt_refs.insert(*name, self.m.declare_func_in_func(*id, &mut ctx.func));
        }
        let mut proto_descs = Vec::new();
        for &d in &ids.proto_desc {
            proto_descs.push(self.m.declare_data_in_func(d, &mut ctx.func));
        }
        // Static data: sites, string constants, names.
        let mut pre = Prepared::default();
        self.prepare(module, p, &mut ctx.func, &mut pre)?;
        {
            let b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let upvals_of = module.protos.iter().map(|q| q.upvals.clone()).collect();
            let mut t = Translator {
                b,
                p,
                rt: rt_refs,
                pre: &pre,
                proto_descs,
                ptr: self.ptr,
                vars: Vec::new(),
                blocks: FxHashMap::default(),
                ctx: None,
                closure: None,
                exit: None,
                upvals_of,
            };
            t.translate()?;
            let cfg = self.m.target_config();
            t.b.finalize(cfg);
        }
        if std::env::var_os("FORGE_DUMP_CLIF").is_some() {
            eprintln!("{}", ctx.func.display());
        }
        self.m.define_function(ids.fixed[pi], &mut ctx).map_err(|e| CodegenError(format!("{e:?}")))?;
        Ok(())
    }

    /// Emits the static data a body refers to and records global values for them.
    fn prepare(&mut self, module: &ir::Module, p: &ir::Proto, func: &mut cl::Function, pre: &mut Prepared) -> CgResult<()> {
        let locals = self.strref_array(&p.local_names)?;
        let mut site_ids: FxHashMap<(u32, u32), DataId> = FxHashMap::default();
        for &(line, col) in &p.pos {
            if site_ids.contains_key(&(line, col)) {
                continue;
            }
            // SiteDesc: trace_name (16), file (16), line u32, col u32, locals (8), n (8).
            let id = self.anon_data("site", false)?;
            let mut d = DataDescription::new();
            let mut bytes = vec![0u8; 56];
            self.write_strref(&mut d, &mut bytes, 0, &p.trace_name)?;
            self.write_strref(&mut d, &mut bytes, 16, &module.file)?;
            bytes[32..36].copy_from_slice(&line.to_le_bytes());
            bytes[36..40].copy_from_slice(&col.to_le_bytes());
            let gv = self.m.declare_data_in_data(locals, &mut d);
            d.write_data_addr(40, gv, 0);
            bytes[48..56].copy_from_slice(&(p.local_names.len() as u64).to_le_bytes());
            d.define(bytes.into_boxed_slice());
        d.set_align(8);
            self.m.define_data(id, &d).map_err(cl_err)?;
            site_ids.insert((line, col), id);
        }
        for (k, id) in site_ids {
            pre.sites.insert(k, self.m.declare_data_in_func(id, func));
        }
        // Per-site caches for constants that live on the heap (strings, big Ints).
        for (i, c) in p.consts.iter().enumerate() {
            if let Const::Str(s) = c {
                let sid = self.string_data(s)?;
                let slot = self.anon_data("kslot", true)?;
                let mut d = DataDescription::new();
                d.define_zeroinit(8);
                d.set_align(8);
                self.m.define_data(slot, &d).map_err(cl_err)?;
                pre.str_consts.insert(i as u32, (self.m.declare_data_in_func(sid, func), s.len(), self.m.declare_data_in_func(slot, func)));
            }
        }
        Ok(())
    }
}

fn ty_of(t: Ty, ptr: types::Type) -> types::Type {
    match t {
        Ty::V | Ty::I => types::I64,
        Ty::P => ptr,
        Ty::W => types::I32,
    }
}

#[derive(Default)]
struct Prepared {
    sites: FxHashMap<(u32, u32), cl::GlobalValue>,
    /// Constant index → (bytes, length, cache slot).
    str_consts: FxHashMap<u32, (cl::GlobalValue, usize, cl::GlobalValue)>,
}

/// Translates one prototype's instructions.
struct Translator<'f, 'p> {
    b: FunctionBuilder<'f>,
    p: &'p ir::Proto,
    rt: FxHashMap<&'static str, cl::FuncRef>,
    pre: &'p Prepared,
    proto_descs: Vec<cl::GlobalValue>,
    ptr: types::Type,
    vars: Vec<Variable>,
    /// Block starting at each jump target / fall-through point.
    blocks: FxHashMap<usize, cl::Block>,
    ctx: Option<cl::Value>,
    closure: Option<cl::Value>,
    /// Error exit: releases registers and returns EXC.
    exit: Option<cl::Block>,
    /// Upvalue sources of every prototype of the module (for `Closure`).
    upvals_of: Vec<Vec<ir::UpvalSrc>>,
}

const TAG_INT_HI: i64 = L::TAG_INT as i64;

impl<'f, 'p> Translator<'f, 'p> {
    fn cx(&self) -> cl::Value {
        self.ctx.expect("ctx")
    }
    fn clo(&self) -> cl::Value {
        self.closure.expect("closure")
    }

    fn call_rt(&mut self, name: &str, args: &[cl::Value]) -> Option<cl::Value> {
        let f = *self.rt.get(name).unwrap_or_else(|| panic!("runtime entry {name} is not in the ABI table"));
        let call = self.b.ins().call(f, args);
        self.b.inst_results(call).first().copied()
    }

    fn iconst(&mut self, v: u64) -> cl::Value {
        self.b.ins().iconst(types::I64, v as i64)
    }

    fn use_reg(&mut self, r: ir::Reg) -> cl::Value {
        self.b.use_var(self.vars[r as usize])
    }

    /// Writes an owned value into a register, releasing the old one.
    fn set_reg(&mut self, r: ir::Reg, v: cl::Value) {
        let old = self.b.use_var(self.vars[r as usize]);
        self.b.def_var(self.vars[r as usize], v);
        self.release(old);
    }

    fn is_heap(&mut self, v: cl::Value) -> cl::Value {
        let tag = self.b.ins().ushr_imm_u(v, 48);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, L::TAG_PTR as i64)
    }

    fn release(&mut self, v: cl::Value) {
        let heap = self.is_heap(v);
        let call_blk = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(heap, call_blk, &[], done, &[]);
        self.b.switch_to_block(call_blk);
        self.call_rt("forge_release", &[v]);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    fn retain(&mut self, v: cl::Value) {
        let heap = self.is_heap(v);
        let call_blk = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(heap, call_blk, &[], done, &[]);
        self.b.switch_to_block(call_blk);
        self.call_rt("forge_retain", &[v]);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    fn site(&mut self, pc: usize) -> cl::Value {
        let pos = self.p.pos[pc];
        let gv = self.pre.sites[&pos];
        self.b.ins().symbol_value(self.ptr, gv)
    }

    /// After a runtime call that may fail: branch to the error path of `pc` when `v`
    /// is EXC.
    fn check(&mut self, v: cl::Value, pc: usize, handler: Option<(usize, ir::Reg)>) {
        let is_exc = self.b.ins().icmp_imm_s(IntCC::Equal, v, L::EXC_BITS as i64);
        let err_blk = self.b.create_block();
        let ok = self.b.create_block();
        self.b.set_cold_block(err_blk);
        self.b.ins().brif(is_exc, err_blk, &[], ok, &[]);
        self.b.switch_to_block(err_blk);
        self.fail_here(pc, handler);
        self.b.switch_to_block(ok);
    }

    /// Emits the error path at `pc` (the current block becomes terminated).
    fn fail_here(&mut self, pc: usize, handler: Option<(usize, ir::Reg)>) {
        let site = self.site(pc);
        let cx = self.cx();
        self.call_rt("forge_trace_push", &[cx, site]);
        match handler {
            Some((target, err)) => {
                let catchable = self.call_rt("forge_error_catchable", &[cx]).expect("result");
                let take = self.b.create_block();
                let exit = self.exit.expect("exit block");
                self.b.ins().brif(catchable, take, &[], exit, &[]);
                self.b.switch_to_block(take);
                let e = self.call_rt("forge_error_take", &[cx]).expect("result");
                self.set_reg(err, e);
                let h = self.blocks[&target];
                self.b.ins().jump(h, &[]);
            }
            None => {
                let exit = self.exit.expect("exit block");
                self.b.ins().jump(exit, &[]);
            }
        }
    }

    /// Releases every register (function exit).
    fn release_all(&mut self) {
        for r in 0..self.p.n_regs {
            let v = self.use_reg(r);
            self.release(v);
        }
    }

    fn leave_depth(&mut self) {
        let cx = self.cx();
        let d = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_DEPTH);
        let d1 = self.b.ins().iadd_imm_s(d, -1);
        self.b.ins().store(MemFlagsData::trusted(), d1, cx, forge_abi::abi::CTX_DEPTH);
    }

    /// Small-int tests and payload extraction.
    fn is_small(&mut self, v: cl::Value) -> cl::Value {
        let tag = self.b.ins().ushr_imm_u(v, 48);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, TAG_INT_HI)
    }
    fn payload(&mut self, v: cl::Value) -> cl::Value {
        let s = self.b.ins().ishl_imm_u(v, 16);
        self.b.ins().sshr_imm_u(s, 16)
    }
    /// Boxes a payload known to fit 48 bits.
    fn box_int(&mut self, i: cl::Value) -> cl::Value {
        let m = self.b.ins().band_imm_u(i, L::PAYLOAD_MASK as i64);
        self.b.ins().bor_imm_u(m, (L::TAG_INT << 48) as i64)
    }
    fn fits48(&mut self, i: cl::Value) -> cl::Value {
        let s = self.b.ins().ishl_imm_u(i, 16);
        let back = self.b.ins().sshr_imm_u(s, 16);
        self.b.ins().icmp(IntCC::Equal, back, i)
    }

    fn handler_at(&self, stacks: &[Vec<(usize, ir::Reg)>], pc: usize) -> Option<(usize, ir::Reg)> {
        stacks[pc].last().copied()
    }

    fn translate(&mut self) -> CgResult<()> {
        let code = &self.p.code;
        // Blocks: every jump target, every handler, and the instruction after any
        // branch or terminator.
        let mut starts = vec![0usize];
        for (pc, ins) in code.iter().enumerate() {
            match *ins {
                Instr::Jmp { target } => {
                    starts.push(target as usize);
                    starts.push(pc + 1);
                }
                Instr::JmpIf { target, .. }
                | Instr::JmpIfNot { target, .. }
                | Instr::JmpIfDefined { target, .. }
                | Instr::JmpIfNotCmp { target, .. }
                | Instr::JmpIfNotCmpI { target, .. } => {
                    starts.push(target as usize);
                    starts.push(pc + 1);
                }
                Instr::TryBegin { handler, .. } => starts.push(handler as usize),
                Instr::Return { .. } | Instr::Raise { .. } => starts.push(pc + 1),
                _ => {}
            }
        }
        // Open `try` handlers at each instruction (a linear scan matches the
        // lowering's structured emission).
        let mut stacks: Vec<Vec<(usize, ir::Reg)>> = Vec::with_capacity(code.len());
        let mut cur: Vec<(usize, ir::Reg)> = Vec::new();
        for ins in code.iter() {
            stacks.push(cur.clone());
            match *ins {
                Instr::TryBegin { handler, err } => cur.push((handler as usize, err)),
                Instr::TryEnd => {
                    cur.pop();
                }
                _ => {}
            }
        }
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = Some(params[0]);
        self.closure = Some(params[1]);
        for _ in 0..self.p.n_regs {
            let v = self.b.declare_var(types::I64);
            self.vars.push(v);
        }
        // Parameters are borrowed from the caller: retain them into our registers.
        for r in 0..self.p.n_regs {
            let v = if (r as usize) < self.p.n_params as usize {
                let a = params[2 + r as usize];
                a
            } else {
                self.iconst(L::NULL_BITS)
            };
            self.b.def_var(self.vars[r as usize], v);
        }
        for r in 0..self.p.n_params {
            let a = params[2 + r as usize];
            self.retain(a);
        }
        for &s in &starts {
            if s < code.len() && !self.blocks.contains_key(&s) {
                let blk = self.b.create_block();
                self.blocks.insert(s, blk);
            }
        }
        let exit = self.b.create_block();
        self.exit = Some(exit);
        // Depth check.
        let cx = self.cx();
        let d = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_DEPTH);
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        self.b.ins().store(MemFlagsData::trusted(), d1, cx, forge_abi::abi::CTX_DEPTH);
        let max = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_MAX_DEPTH);
        let too_deep = self.b.ins().icmp(IntCC::UnsignedGreaterThan, d1, max);
        let deep_blk = self.b.create_block();
        let start = self.blocks[&0];
        self.b.set_cold_block(deep_blk);
        self.b.ins().brif(too_deep, deep_blk, &[], start, &[]);
        self.b.switch_to_block(deep_blk);
        self.call_rt("forge_depth_error", &[cx]);
        self.fail_here(0, None);

        let mut terminated = true;
        for pc in 0..code.len() {
            if let Some(&blk) = self.blocks.get(&pc) {
                if !terminated {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                terminated = false;
            } else if terminated {
                // Unreachable code after a terminator without a label: skip it.
                continue;
            }
            let handler = self.handler_at(&stacks, pc);
            terminated = self.instr(pc, code[pc], handler)?;
        }
        if !terminated {
            let null = self.iconst(L::NULL_BITS);
            self.release_all();
            self.leave_depth();
            self.b.ins().return_(&[null]);
        }
        // The error exit.
        self.b.switch_to_block(exit);
        self.release_all();
        self.leave_depth();
        let exc = self.iconst(L::EXC_BITS);
        self.b.ins().return_(&[exc]);
        self.b.seal_all_blocks();
        Ok(())
    }

    /// Translates one instruction; returns whether it terminated the block.
    fn instr(&mut self, pc: usize, ins: Instr, handler: Option<(usize, ir::Reg)>) -> CgResult<bool> {
        let cx = self.cx();
        match ins {
            Instr::LoadK { dst, k } => {
                let v = match &self.p.consts[k as usize] {
                    Const::Int(i) => {
                        if (L::INT_IMM_MIN..=L::INT_IMM_MAX).contains(i) {
                            self.iconst((L::TAG_INT << 48) | (*i as u64 & L::PAYLOAD_MASK))
                        } else {
                            let iv = self.b.ins().iconst(types::I64, *i);
                            self.call_rt("forge_const_int", &[iv]).expect("result")
                        }
                    }
                    Const::Float(f) => {
                        let bits = if f.is_nan() { L::CANON_NAN } else { f.to_bits() };
                        self.iconst(bits)
                    }
                    Const::Str(_) => {
                        let (bytes, len, slot) = self.pre.str_consts[&k];
                        let slot_addr = self.b.ins().symbol_value(self.ptr, slot);
                        let cached = self.b.ins().load(types::I64, MemFlagsData::trusted(), slot_addr, 0);
                        let make = self.b.create_block();
                        let join = self.b.create_block();
                        self.b.append_block_param(join, types::I64);
                        self.b.set_cold_block(make);
                        self.b.ins().brif(cached, join, &[cached.into()], make, &[]);
                        self.b.switch_to_block(make);
                        let p = self.b.ins().symbol_value(self.ptr, bytes);
                        let l = self.b.ins().iconst(types::I64, len as i64);
                        let v = self.call_rt("forge_const_str", &[p, l]).expect("result");
                        self.b.ins().store(MemFlagsData::trusted(), v, slot_addr, 0);
                        self.b.ins().jump(join, &[v.into()]);
                        self.b.switch_to_block(join);
                        self.b.block_params(join)[0]
                    }
                };
                self.set_reg(dst, v);
            }
            Instr::LoadInt { dst, v } => {
                let w = self.iconst((L::TAG_INT << 48) | (v as i64 as u64 & L::PAYLOAD_MASK));
                self.set_reg(dst, w);
            }
            Instr::LoadSpecial { dst, which } => {
                let bits = match which {
                    Special::Null => L::NULL_BITS,
                    Special::True => L::TRUE_BITS,
                    Special::False => L::FALSE_BITS,
                    Special::None => L::NONE_BITS,
                    Special::Undef => L::UNDEF_BITS,
                };
                let w = self.iconst(bits);
                self.set_reg(dst, w);
            }
            Instr::LoadBuiltin { dst, name } => {
                let Const::Str(s) = &self.p.consts[name as usize] else { return err("builtin name is not a string") };
                let (bytes, len, _) = self.pre.str_consts[&name];
                let _ = s;
                let p = self.b.ins().symbol_value(self.ptr, bytes);
                let l = self.b.ins().iconst(types::I64, len as i64);
                let v = self.call_rt("forge_builtin", &[cx, p, l]).expect("result");
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::Move { dst, src } => {
                if dst != src {
                    let v = self.use_reg(src);
                    self.retain(v);
                    self.set_reg(dst, v);
                }
            }
            Instr::GetGlobal { dst, slot } => {
                let clo = self.clo();
                let s = self.b.ins().iconst(types::I32, slot as i64);
                let site = self.site(pc);
                let v = self.call_rt("forge_global_get", &[cx, clo, s, site]).expect("result");
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::GetGlobalOpt { dst, slot } => {
                let clo = self.clo();
                let s = self.b.ins().iconst(types::I32, slot as i64);
                let v = self.call_rt("forge_global_get_opt", &[clo, s]).expect("result");
                self.set_reg(dst, v);
            }
            Instr::SetGlobal { slot, src } => {
                let clo = self.clo();
                let s = self.b.ins().iconst(types::I32, slot as i64);
                let v = self.use_reg(src);
                self.call_rt("forge_global_set", &[clo, s, v]);
            }
            Instr::NewCell { dst, src } => {
                let v = self.use_reg(src);
                let c = self.call_rt("forge_cell_new", &[v]).expect("result");
                self.set_reg(dst, c);
            }
            Instr::GetCell { dst, cell, name } => {
                let c = self.use_reg(cell);
                let v = self.cell_get(c, name, pc);
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::SetCell { cell, src } => {
                let c = self.use_reg(cell);
                let v = self.use_reg(src);
                self.call_rt("forge_cell_set", &[c, v]);
            }
            Instr::GetUpval { dst, idx, name } => {
                let clo = self.clo();
                let i = self.b.ins().iconst(types::I32, idx as i64);
                let c = self.call_rt("forge_upval", &[clo, i]).expect("result");
                let v = self.cell_get(c, name, pc);
                self.release(c);
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::SetUpval { idx, src } => {
                let clo = self.clo();
                let i = self.b.ins().iconst(types::I32, idx as i64);
                let c = self.call_rt("forge_upval", &[clo, i]).expect("result");
                let v = self.use_reg(src);
                self.call_rt("forge_cell_set", &[c, v]);
                self.release(c);
            }
            Instr::Arith { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let v = self.arith(op, x, y, None, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::ArithI { op, dst, a, imm } => {
                let x = self.use_reg(a);
                let y = self.iconst((L::TAG_INT << 48) | (imm as i64 as u64 & L::PAYLOAD_MASK));
                let v = self.arith(op, x, y, Some(imm as i64), pc, handler);
                self.set_reg(dst, v);
            }
            Instr::Compare { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let t = self.compare(op, x, y, pc, handler);
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::CompareI { op, dst, a, imm } => {
                let x = self.use_reg(a);
                let y = self.iconst((L::TAG_INT << 48) | (imm as i64 as u64 & L::PAYLOAD_MASK));
                let t = self.compare(op, x, y, pc, handler);
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::CompareLenient { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let o = self.b.ins().iconst(types::I32, cmp_code(op));
                let v = self.call_rt("forge_compare_lenient", &[o, x, y]).expect("result");
                self.set_reg(dst, v);
            }
            Instr::JmpIfNotCmp { op, a, b, target } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let t = self.compare(op, x, y, pc, handler);
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(t, next, &[], tgt, &[]);
                return Ok(true);
            }
            Instr::JmpIfNotCmpI { op, a, imm, target } => {
                let x = self.use_reg(a);
                let y = self.iconst((L::TAG_INT << 48) | (imm as i64 as u64 & L::PAYLOAD_MASK));
                let t = self.compare(op, x, y, pc, handler);
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(t, next, &[], tgt, &[]);
                return Ok(true);
            }
            Instr::Neg { dst, src } => {
                let x = self.use_reg(src);
                let v = self.call_rt("forge_neg", &[cx, x]).expect("result");
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::Not { dst, src } | Instr::Truthy { dst, src } => {
                let x = self.use_reg(src);
                let t = self.truthy(x);
                let t = if matches!(ins, Instr::Not { .. }) { self.b.ins().bxor_imm_u(t, 1) } else { t };
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::Jmp { target } => {
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().jump(tgt, &[]);
                return Ok(true);
            }
            Instr::JmpIf { cond, target } | Instr::JmpIfNot { cond, target } => {
                let x = self.use_reg(cond);
                let t = self.truthy(x);
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                if matches!(ins, Instr::JmpIf { .. }) {
                    self.b.ins().brif(t, tgt, &[], next, &[]);
                } else {
                    self.b.ins().brif(t, next, &[], tgt, &[]);
                }
                return Ok(true);
            }
            Instr::JmpIfDefined { src, target } => {
                let x = self.use_reg(src);
                let undef = self.b.ins().icmp_imm_s(IntCC::Equal, x, L::UNDEF_BITS as i64);
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(undef, next, &[], tgt, &[]);
                return Ok(true);
            }
            Instr::IsDefined { dst, src } => {
                let x = self.use_reg(src);
                let def = self.b.ins().icmp_imm_s(IntCC::NotEqual, x, L::UNDEF_BITS as i64);
                let v = self.bool_word(def);
                self.set_reg(dst, v);
            }
            Instr::NewArray { dst, start, n } => {
                let arr = self.words(start, n as usize);
                let nn = self.b.ins().iconst(types::I32, n as i64);
                let v = self.call_rt("forge_array_new", &[arr, nn]).expect("result");
                self.set_reg(dst, v);
            }
            Instr::Concat { dst, start, n } => {
                let arr = self.words(start, n as usize);
                let nn = self.b.ins().iconst(types::I32, n as i64);
                let v = self.call_rt("forge_concat", &[arr, nn]).expect("result");
                self.set_reg(dst, v);
            }
            Instr::Print { kind, src } => {
                let x = self.use_reg(src);
                let k = self.b.ins().iconst(types::I32, kind as i64);
                self.call_rt("forge_print", &[k, x]);
            }
            Instr::Call { dst, func, args, n } => {
                let f = self.use_reg(func);
                let arr = self.words(args, n as usize);
                let nn = self.b.ins().iconst(types::I32, n as i64);
                let v = self.call_rt("forge_call", &[cx, f, arr, nn]).expect("result");
                self.check(v, pc, handler);
                self.set_reg(dst, v);
            }
            Instr::Closure { dst, proto } => {
                let target = proto as usize;
                // Upvalue cells are listed by the target prototype; the body knows them
                // through the module (we receive the list via the IR module below).
                let srcs = self.upval_srcs(target);
                let n = srcs.len();
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (n.max(1) * 8) as u32, 3));
                let mut owned = Vec::new();
                for (i, s) in srcs.iter().enumerate() {
                    let v = match *s {
                        ir::UpvalSrc::Reg(r) => self.use_reg(r),
                        ir::UpvalSrc::Upval(u) => {
                            let clo = self.clo();
                            let iu = self.b.ins().iconst(types::I32, u as i64);
                            let c = self.call_rt("forge_upval", &[clo, iu]).expect("result");
                            owned.push(c);
                            c
                        }
                    };
                    self.b.ins().stack_store(self.ptr, v, slot, (i * 8) as i32);
                }
                let arr = self.b.ins().stack_addr(self.ptr, slot, 0);
                let nn = self.b.ins().iconst(types::I32, n as i64);
                let desc = self.b.ins().symbol_value(self.ptr, self.proto_descs[target]);
                let clo = self.clo();
                let v = self.call_rt("forge_closure", &[cx, clo, desc, nn, arr]).expect("result");
                for c in owned {
                    self.release(c);
                }
                self.set_reg(dst, v);
            }
            Instr::Return { src } => {
                let v = self.use_reg(src);
                self.retain(v);
                self.release_all();
                self.leave_depth();
                self.b.ins().return_(&[v]);
                return Ok(true);
            }
            Instr::Raise { msg } => {
                let (bytes, len, _) = self.pre.str_consts[&msg];
                let p = self.b.ins().symbol_value(self.ptr, bytes);
                let l = self.b.ins().iconst(types::I64, len as i64);
                self.call_rt("forge_raise", &[cx, p, l]);
                self.fail_here(pc, handler);
                return Ok(true);
            }
            Instr::TryBegin { .. } | Instr::TryEnd | Instr::Nop => {}
            other => return err(format!("the native compiler does not support `{}` yet", instr_name(&other))),
        }
        Ok(false)
    }

    fn upval_srcs(&self, target: usize) -> Vec<ir::UpvalSrc> {
        self.upvals_of.get(target).cloned().unwrap_or_default()
    }

    /// Reads a cell; `name` is a constant index, or `u32::MAX` for "no error".
    fn cell_get(&mut self, c: cl::Value, name: u32, pc: usize) -> cl::Value {
        let cx = self.cx();
        let clo = self.clo();
        let site = self.site(pc);
        let (p, l) = if name == u32::MAX {
            (self.b.ins().iconst(self.ptr, 0), self.b.ins().iconst(types::I64, -1))
        } else {
            let (bytes, len, _) = self.pre.str_consts[&name];
            (self.b.ins().symbol_value(self.ptr, bytes), self.b.ins().iconst(types::I64, len as i64))
        };
        self.call_rt("forge_cell_get", &[cx, clo, c, site, p, l]).expect("result")
    }

    /// Stores `n` registers starting at `start` into a stack array; returns its address.
    fn words(&mut self, start: ir::Reg, n: usize) -> cl::Value {
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (n.max(1) * 8) as u32, 3));
        for i in 0..n {
            let v = self.use_reg(start + i as u16);
            self.b.ins().stack_store(self.ptr, v, slot, (i * 8) as i32);
        }
        self.b.ins().stack_addr(self.ptr, slot, 0)
    }

    /// TRUE_BITS / FALSE_BITS from an i8 condition.
    fn bool_word(&mut self, t: cl::Value) -> cl::Value {
        let tv = self.iconst(L::TRUE_BITS);
        let fv = self.iconst(L::FALSE_BITS);
        self.b.ins().select(t, tv, fv)
    }

    /// Truthiness as an i8 (booleans inline, everything else through the runtime).
    fn truthy(&mut self, x: cl::Value) -> cl::Value {
        let is_true = self.b.ins().icmp_imm_s(IntCC::Equal, x, L::TRUE_BITS as i64);
        let is_false = self.b.ins().icmp_imm_s(IntCC::Equal, x, L::FALSE_BITS as i64);
        let is_bool = self.b.ins().bor(is_true, is_false);
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I8);
        self.b.ins().brif(is_bool, join, &[is_true.into()], slow, &[]);
        self.b.switch_to_block(slow);
        let t = self.call_rt("forge_truthy", &[x]).expect("result");
        let t8 = self.b.ins().ireduce(types::I8, t);
        self.b.ins().jump(join, &[t8.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// `x op y` with an inline small-Int path; `imm` is the right operand when it is
    /// a constant.
    fn arith(&mut self, op: ArithOp, x: cl::Value, y: cl::Value, imm: Option<i64>, pc: usize, handler: Option<(usize, ir::Reg)>) -> cl::Value {
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I64);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let fast = self.b.create_block();
        let both = match imm {
            Some(_) => self.is_small(x),
            None => {
                let a = self.is_small(x);
                let b2 = self.is_small(y);
                self.b.ins().band(a, b2)
            }
        };
        // Division and remainder by a zero constant always take the slow path (which
        // raises the error).
        let fast_ok = !matches!((op, imm), (ArithOp::Div | ArithOp::Mod, Some(0)));
        if fast_ok {
            self.b.ins().brif(both, fast, &[], slow, &[]);
        } else {
            self.b.ins().jump(slow, &[]);
        }
        self.b.switch_to_block(fast);
        let p = self.payload(x);
        let q = match imm {
            Some(i) => self.b.ins().iconst(types::I64, i),
            None => self.payload(y),
        };
        let r = match op {
            ArithOp::Add => Some(self.b.ins().iadd(p, q)),
            ArithOp::Sub => Some(self.b.ins().isub(p, q)),
            ArithOp::Mul => {
                // The product of two 48-bit values fits i64 only sometimes: check the
                // high half as well.
                let lo = self.b.ins().imul(p, q);
                let hi = self.b.ins().smulhi(p, q);
                let sign = self.b.ins().sshr_imm_u(lo, 63);
                let no_ovf = self.b.ins().icmp(IntCC::Equal, hi, sign);
                let next = self.b.create_block();
                self.b.ins().brif(no_ovf, next, &[], slow, &[]);
                self.b.switch_to_block(next);
                Some(lo)
            }
            ArithOp::Div | ArithOp::Mod => {
                if imm.is_none() {
                    let nz = self.b.ins().icmp_imm_s(IntCC::NotEqual, q, 0);
                    let next = self.b.create_block();
                    self.b.ins().brif(nz, next, &[], slow, &[]);
                    self.b.switch_to_block(next);
                }
                Some(if op == ArithOp::Div { self.b.ins().sdiv(p, q) } else { self.b.ins().srem(p, q) })
            }
        };
        if let Some(r) = r {
            let fits = self.fits48(r);
            let boxed = self.box_int(r);
            self.b.ins().brif(fits, join, &[boxed.into()], slow, &[]);
        }
        self.b.switch_to_block(slow);
        let cx = self.cx();
        let o = self.b.ins().iconst(types::I32, op as i64);
        let v = self.call_rt("forge_arith", &[cx, o, x, y]).expect("result");
        self.check(v, pc, handler);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// `x op y` as an i8 with an inline small-Int path.
    fn compare(&mut self, op: CmpKind, x: cl::Value, y: cl::Value, pc: usize, handler: Option<(usize, ir::Reg)>) -> cl::Value {
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I8);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let fast = self.b.create_block();
        let a = self.is_small(x);
        let b2 = self.is_small(y);
        let both = self.b.ins().band(a, b2);
        self.b.ins().brif(both, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        // Shifting the tag out keeps the payload's order (sign in the top bit).
        let p = self.b.ins().ishl_imm_u(x, 16);
        let q = self.b.ins().ishl_imm_u(y, 16);
        let cc = match op {
            CmpKind::Eq => IntCC::Equal,
            CmpKind::Ne => IntCC::NotEqual,
            CmpKind::Lt => IntCC::SignedLessThan,
            CmpKind::Le => IntCC::SignedLessThanOrEqual,
            CmpKind::Gt => IntCC::SignedGreaterThan,
            CmpKind::Ge => IntCC::SignedGreaterThanOrEqual,
        };
        let t = self.b.ins().icmp(cc, p, q);
        self.b.ins().jump(join, &[t.into()]);
        self.b.switch_to_block(slow);
        let cx = self.cx();
        let o = self.b.ins().iconst(types::I32, cmp_code(op));
        let v = self.call_rt("forge_compare", &[cx, o, x, y]).expect("result");
        self.check(v, pc, handler);
        let t = self.b.ins().icmp_imm_s(IntCC::Equal, v, L::TRUE_BITS as i64);
        self.b.ins().jump(join, &[t.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }
}

/// The comparison code passed to `forge_compare` (the order of `ir::CmpKind`).
fn cmp_code(op: CmpKind) -> i64 {
    match op {
        CmpKind::Eq => 0,
        CmpKind::Ne => 1,
        CmpKind::Lt => 2,
        CmpKind::Le => 3,
        CmpKind::Gt => 4,
        CmpKind::Ge => 5,
    }
}

/// The instruction's name, for "not supported" messages.
fn instr_name(i: &Instr) -> String {
    let d = format!("{i:?}");
    d.split(|c: char| c == ' ' || c == '{').next().unwrap_or("?").to_string()
}
