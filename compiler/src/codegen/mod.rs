//! IR to Cranelift: one lowering, generic over `cranelift_module::Module`, serving
//! both the JIT (`forge run --jit`) and the AOT compiler (`forgec`).
//!
//! Every IR register becomes a Cranelift variable holding a value word that it owns
//! (as in the VM): writing a register releases its old value; copying retains. Small
//! Int arithmetic, comparisons and branches are inline with overflow checks that fall
//! back to the runtime; everything else calls the entry points of
//! `forge_abi::abi::RUNTIME`, which implement each instruction with the language
//! semantics shared with the VM (`libforge::lang`). Side tables of the IR (assignment
//! paths, type definitions, imports, `match` arms) become static descriptors
//! (`forge_abi::abi::*Desc`) that the entries read.
//!
//! Errors: a failing entry returns `EXC_BITS`; the generated code then records a trace
//! line for the frame (`forge_trace_push` with a static site description) and unwinds
//! through the blocks open at that instruction — known statically, since the lowering
//! emits `try` and `timeout` blocks structurally — innermost first: a `timeout` block
//! is left with `forge_timeout_unwind` (which may turn the error into the timeout
//! error), a `try` block takes a catchable error and jumps to its handler. When no
//! handler takes it, the function releases its registers and returns `EXC_BITS` to its
//! caller.
//!
//! In-place updates of a variable (`SetPath`, `PushPop`, `AppendVar`, and the literal
//! builders `ArrayExtend`, `ObjInsert`, `FinishStruct`) move the variable's value into
//! a stack slot, let the runtime update it there through a `*mut u64` (copy-on-write,
//! so an unshared value is changed without copying), then move it back into the
//! register, cell or global — also when the update fails, as the VM leaves it.
//!
//! Each prototype yields two functions: a fixed-arity body
//! `fn(ctx, closure, a0, …, a(n-1)) -> u64` and the generic entry
//! `fn(ctx, closure, args: *const u64, nargs: u32) -> u64` that closures point to.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self as cl, types, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use forge_abi::abi::{RtFn, Ty, RUNTIME};
use forge_abi::layout as L;
use rustc_hash::FxHashMap;

use crate::ir::{self, ArithOp, CmpKind, Const, ForMode, Instr, PathStep, Special, VarRef};

mod kernel;
mod known;
mod live;

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

/// As [`compile_program`], with Cranelift's compilation of the functions (the costly
/// part: optimisation, register allocation, emission) spread over the machine's cores.
/// The functions are defined from their bytes, so the module gets no unwind tables
/// from Cranelift: for object files, which do not ask for them.
pub fn compile_program_parallel<M: Module>(m: &mut M, program: &ir::Module) -> CgResult<Compiled> {
    let mut cg = Codegen::new(m)?;
    cg.pending = Some(Vec::new());
    let desc = cg.module(program)?;
    let pending = cg.pending.take().unwrap_or_default();
    let isa = cg.m.isa();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    type Done = Result<(u64, Vec<u8>, Vec<cranelift_module::ModuleReloc>), String>;
    let mut jobs: Vec<(FuncId, cranelift_codegen::Context, Option<Done>)> =
        pending.into_iter().map(|(id, ctx)| (id, ctx, None)).collect();
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for part in jobs.chunks_mut(chunk) {
            scope.spawn(move || {
                for (id, ctx, done) in part.iter_mut() {
                    let mut plane = cranelift_codegen::control::ControlPlane::default();
                    *done = Some(match ctx.compile(isa, &mut plane) {
                        Ok(_) => {
                            let code = ctx.compiled_code().expect("compiled");
                            let align = code.buffer.alignment as u64;
                            let bytes = code.buffer.data().to_vec();
                            let relocs = code
                                .buffer
                                .relocs()
                                .iter()
                                .map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &ctx.func, *id))
                                .collect();
                            Ok((align, bytes, relocs))
                        }
                        Err(e) => Err(format!("{:?}", e.inner)),
                    });
                }
            });
        }
    });
    for (id, _, done) in jobs {
        match done {
            Some(Ok((align, bytes, relocs))) => {
                cg.m.define_function_bytes(id, align, &bytes, &relocs).map_err(cl_err)?
            }
            Some(Err(e)) => return err(e),
            None => return err("internal error: a function was not compiled"),
        }
    }
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
    /// Functions built but not compiled yet (`compile_program_parallel`).
    pending: Option<Vec<(FuncId, cranelift_codegen::Context)>>,
}

/// Per-module declarations.
struct ModIds {
    fixed: Vec<FuncId>,
    /// The Int kernels ([`kernel`]), where a prototype has one.
    kernel: Vec<Option<FuncId>>,
    /// The leaf entries ([`kernel::Emitter::build_leaf`]), where a prototype has one.
    /// Every call of the prototype's fixed-arity body goes to its leaf entry.
    leaf: Vec<Option<FuncId>>,
    generic: Vec<FuncId>,
    proto_desc: Vec<DataId>,
    module_desc: DataId,
    /// The descriptors of the imported modules (`ir::Module::imports` order).
    imports: Vec<DataId>,
}

impl ModIds {
    /// What a call of prototype `pi`'s fixed-arity body calls: its leaf entry where it
    /// has one, else the body.
    fn callee(&self, pi: usize) -> FuncId {
        self.leaf[pi].unwrap_or(self.fixed[pi])
    }
}

/// A static data object under construction: bytes plus relocations.
struct Blob {
    d: DataDescription,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(size: usize) -> Blob {
        Blob { d: DataDescription::new(), bytes: vec![0u8; size.max(8)] }
    }

    fn u64_at(&mut self, offset: usize, v: u64) {
        self.bytes[offset..offset + 8].copy_from_slice(&v.to_le_bytes());
    }
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
        Ok(Codegen {
            m,
            ptr,
            rt,
            strings: FxHashMap::default(),
            n_data: 0,
            n_modules: 0,
            fctx: FunctionBuilderContext::new(),
            pending: None,
        })
    }

    fn fixed_sig(&self, n_params: u16) -> cl::Signature {
        fixed_signature(self.m.make_signature(), self.ptr, n_params)
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

    /// Writes a `StrRef` for `s` into a blob (a null `StrRef` for `None`).
    fn blob_str(&mut self, b: &mut Blob, offset: usize, s: Option<&str>) -> CgResult<()> {
        match s {
            Some(s) => self.write_strref(&mut b.d, &mut b.bytes, offset, s),
            None => Ok(()),
        }
    }

    /// Writes the address of data object `id` into a blob.
    fn blob_ptr(&mut self, b: &mut Blob, offset: usize, id: DataId) {
        let gv = self.m.declare_data_in_data(id, &mut b.d);
        b.d.write_data_addr(offset as u32, gv, 0);
    }

    /// Defines a blob as a new read-only data object, 8-byte aligned.
    fn blob_define(&mut self, b: Blob, hint: &str) -> CgResult<DataId> {
        let id = self.anon_data(hint, false)?;
        let Blob { mut d, bytes } = b;
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(id, &d).map_err(cl_err)?;
        Ok(id)
    }

    /// A static array of `StrRef`s (null ones for `None`).
    fn opt_strref_array(&mut self, items: &[Option<&str>]) -> CgResult<DataId> {
        let mut b = Blob::new(items.len() * 16);
        for (i, s) in items.iter().enumerate() {
            self.blob_str(&mut b, i * 16, *s)?;
        }
        self.blob_define(b, "strs")
    }

    /// A static array of `StrRef`s.
    fn strref_array(&mut self, items: &[String]) -> CgResult<DataId> {
        let items: Vec<Option<&str>> = items.iter().map(|s| Some(s.as_str())).collect();
        self.opt_strref_array(&items)
    }

    /// A static array of 64-bit integers.
    fn u64_array(&mut self, items: &[u64]) -> CgResult<DataId> {
        let mut b = Blob::new(items.len() * 8);
        for (i, v) in items.iter().enumerate() {
            b.u64_at(i * 8, *v);
        }
        self.blob_define(b, "u64s")
    }

    /// Compiles one module and its imports; returns its `ModuleDesc`.
    fn module(&mut self, module: &ir::Module) -> CgResult<DataId> {
        let mi = self.n_modules;
        self.n_modules += 1;
        let mut import_descs = Vec::new();
        for sub in &module.imports {
            import_descs.push(self.module(sub)?);
        }
        let module_desc =
            self.m.declare_data(&format!("__forge_module_{mi}"), Linkage::Local, false, false).map_err(cl_err)?;
        let known = known::KnownFns::analyse(module);
        let kernels = kernel::find(module, &known);
        let leaves = kernel::find_leaves(module);
        // Direct calls of known functions (see `known`) of each prototype: the
        // `GetGlobal` index → (the `Call` index, the prototype called).
        let mut directs = Vec::with_capacity(module.protos.len());
        for p in &module.protos {
            let stacks = Translator::open_blocks(&p.code)?;
            let handlers = |pc: usize| -> Vec<usize> {
                stacks.get(pc).and_then(|s| s.as_ref()).map_or(Vec::new(), |s| {
                    s.iter()
                        .filter_map(|o| match *o {
                            Open::Try { handler, .. } => Some(handler),
                            Open::Timeout => None,
                        })
                        .collect()
                })
            };
            directs.push(known::direct_calls(module, directs.len(), &known, &handlers));
        }
        let closures = known::KnownClosures::analyse(module, &|pi| {
            directs[pi].values().map(|&(call, target)| (call, target)).collect()
        });
        let mut ids = ModIds {
            fixed: Vec::new(),
            kernel: Vec::new(),
            leaf: Vec::new(),
            generic: Vec::new(),
            proto_desc: Vec::new(),
            module_desc,
            imports: import_descs,
        };
        for (pi, p) in module.protos.iter().enumerate() {
            let fixed = self.fixed_sig(p.n_params);
            let generic = self.generic_sig();
            ids.fixed.push(
                self.m.declare_function(&format!("__forge_m{mi}_p{pi}"), Linkage::Local, &fixed).map_err(cl_err)?,
            );
            ids.generic.push(
                self.m
                    .declare_function(&format!("__forge_m{mi}_p{pi}_entry"), Linkage::Local, &generic)
                    .map_err(cl_err)?,
            );
            ids.kernel.push(match kernels[pi] {
                Some(_) => {
                    let sig = kernel::signature(self.m.make_signature(), p.n_params);
                    Some(
                        self.m
                            .declare_function(&format!("__forge_m{mi}_p{pi}_kernel"), Linkage::Local, &sig)
                            .map_err(cl_err)?,
                    )
                }
                None => None,
            });
            ids.leaf.push(match leaves[pi] {
                Some(_) => Some(
                    self.m
                        .declare_function(&format!("__forge_m{mi}_p{pi}_leaf"), Linkage::Local, &fixed)
                        .map_err(cl_err)?,
                ),
                None => None,
            });
            ids.proto_desc.push(
                self.m
                    .declare_data(&format!("__forge_m{mi}_p{pi}_desc"), Linkage::Local, false, false)
                    .map_err(cl_err)?,
            );
        }
        for (pi, p) in module.protos.iter().enumerate() {
            if kernels[pi].is_some() {
                self.kernel_body(module, &ids, pi, &kernels).map_err(|e| {
                    CodegenError(format!("{} (in the kernel of {} of {})", e.0, p.trace_name, module.file))
                })?;
            }
            if leaves[pi].is_some() {
                self.leaf_body(module, &ids, pi, &leaves).map_err(|e| {
                    CodegenError(format!("{} (in the leaf entry of {} of {})", e.0, p.trace_name, module.file))
                })?;
            }
            self.proto_body(module, &ids, pi, &directs[pi], &closures, &kernels, &leaves)
                .map_err(|e| CodegenError(format!("{} (in {} of {})", e.0, p.trace_name, module.file)))?;
            self.generic_entry(&ids, pi, p)?;
            self.proto_desc(&ids, pi, p)?;
        }
        self.module_desc(module, &ids)?;
        Ok(ids.module_desc)
    }

    fn proto_desc(&mut self, ids: &ModIds, pi: usize, p: &ir::Proto) -> CgResult<()> {
        // ProtoDesc: entry (8), name StrRef (16), kind u32, n_params u32, module (8),
        // fixed (8).
        let mut d = DataDescription::new();
        let mut bytes = vec![0u8; 48];
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
        let fixed = self.m.declare_func_in_data(ids.callee(pi), &mut d);
        d.write_function_addr(40, fixed);
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(ids.proto_desc[pi], &d).map_err(cl_err)
    }

    fn module_desc(&mut self, module: &ir::Module, ids: &ModIds) -> CgResult<()> {
        // ModuleDesc: file (16), source (16), globals ptr (8), n_globals (8), main (8),
        // imports ptr (8), n_imports (8).
        let globals = self.strref_array(&module.globals)?;
        let mut imports = Blob::new(ids.imports.len() * 8);
        for (i, &id) in ids.imports.iter().enumerate() {
            self.blob_ptr(&mut imports, i * 8, id);
        }
        let imports = self.blob_define(imports, "imports")?;
        let mut b = Blob::new(72);
        self.blob_str(&mut b, 0, Some(&module.file))?;
        self.blob_str(&mut b, 16, Some(&module.source))?;
        self.blob_ptr(&mut b, 32, globals);
        b.u64_at(40, module.globals.len() as u64);
        self.blob_ptr(&mut b, 48, ids.proto_desc[0]);
        self.blob_ptr(&mut b, 56, imports);
        b.u64_at(64, ids.imports.len() as u64);
        let Blob { mut d, bytes } = b;
        d.define(bytes.into_boxed_slice());
        d.set_align(8);
        self.m.define_data(ids.module_desc, &d).map_err(cl_err)
    }

    /// `fn(ctx, closure, args, nargs)`: loads the arguments that were given, fills the
    /// missing ones (`null`, or UNDEF where a default exists), calls the body.
    fn generic_entry(&mut self, ids: &ModIds, pi: usize, p: &ir::Proto) -> CgResult<()> {
        let mut ctx = self.m.make_context();
        ctx.func.signature = self.generic_sig();
        let fixed_ref = self.m.declare_func_in_func(ids.callee(pi), &mut ctx.func);
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
        self.define(ids.generic[pi], ctx)
    }

    /// Compiles and defines a built function, or keeps it for the parallel compilation.
    fn define(&mut self, id: FuncId, mut ctx: cranelift_codegen::Context) -> CgResult<()> {
        match &mut self.pending {
            Some(p) => {
                p.push((id, ctx));
                Ok(())
            }
            None => self.m.define_function(id, &mut ctx).map_err(|e| CodegenError(format!("{e:?}"))),
        }
    }

    /// Builds the Int kernel of prototype `pi` ([`kernel`]).
    fn kernel_body(
        &mut self,
        module: &ir::Module,
        ids: &ModIds,
        pi: usize,
        kernels: &[Option<kernel::Kernel>],
    ) -> CgResult<()> {
        let (Some(id), Some(k)) = (ids.kernel[pi], &kernels[pi]) else {
            return err("internal error: a kernel body without a kernel");
        };
        let mut ctx = self.m.make_context();
        ctx.func.signature = kernel::signature(self.m.make_signature(), module.protos[pi].n_params);
        // The kernels it calls, and the ones those are expanded inline call.
        let mut refs = FxHashMap::default();
        let mut todo: Vec<u32> = k.calls.values().copied().collect();
        while let Some(t) = todo.pop() {
            if refs.contains_key(&t) {
                continue;
            }
            let Some(fid) = ids.kernel[t as usize] else {
                return err("internal error: a kernel calls a function without a kernel");
            };
            refs.insert(t, self.m.declare_func_in_func(fid, &mut ctx.func));
            if let Some(tk) = &kernels[t as usize] {
                todo.extend(tk.calls.values().copied());
            }
        }
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let bail = b.create_block();
            let mut e = kernel::Emitter {
                module,
                kernels,
                refs,
                facts: FxHashMap::default(),
                bail,
                upvars: FxHashMap::default(),
            };
            e.build(&mut b, pi as u32).map_err(CodegenError)?;
            let cfg = self.m.target_config();
            b.finalize(cfg);
        }
        if std::env::var_os("FORGE_DUMP_CLIF").is_some() {
            eprintln!("{}", ctx.func.display());
        }
        self.define(id, ctx)
    }

    /// Builds the leaf entry of prototype `pi` ([`kernel::Emitter::build_leaf`]).
    fn leaf_body(
        &mut self,
        module: &ir::Module,
        ids: &ModIds,
        pi: usize,
        leaves: &[Option<kernel::Kernel>],
    ) -> CgResult<()> {
        let Some(id) = ids.leaf[pi] else {
            return err("internal error: a leaf entry without a declaration");
        };
        let mut ctx = self.m.make_context();
        ctx.func.signature = self.fixed_sig(module.protos[pi].n_params);
        let body = self.m.declare_func_in_func(ids.fixed[pi], &mut ctx.func);
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let bail = b.create_block();
            let mut e = kernel::Emitter {
                module,
                kernels: leaves,
                refs: FxHashMap::default(),
                facts: FxHashMap::default(),
                bail,
                upvars: FxHashMap::default(),
            };
            e.build_leaf(&mut b, pi as u32, body).map_err(CodegenError)?;
            let cfg = self.m.target_config();
            b.finalize(cfg);
        }
        if std::env::var_os("FORGE_DUMP_CLIF").is_some() {
            eprintln!("{}", ctx.func.display());
        }
        self.define(id, ctx)
    }

    #[allow(clippy::too_many_arguments)]
    fn proto_body(
        &mut self,
        module: &ir::Module,
        ids: &ModIds,
        pi: usize,
        found: &FxHashMap<usize, (usize, u32)>,
        closures: &known::KnownClosures,
        kernels: &[Option<kernel::Kernel>],
        leaves: &[Option<kernel::Kernel>],
    ) -> CgResult<()> {
        let p = &module.protos[pi];
        let mut ctx = self.m.make_context();
        ctx.func.signature = self.fixed_sig(p.n_params);
        let stacks = Translator::open_blocks(&p.code)?;
        let mut direct_gets = FxHashMap::default();
        let mut direct = FxHashMap::default();
        let mut direct_refs: FxHashMap<u32, cl::FuncRef> = FxHashMap::default();
        for (&get, &(call, target)) in found {
            direct_gets.insert(get, ());
            direct.insert(call, target);
            if let std::collections::hash_map::Entry::Vacant(e) = direct_refs.entry(target) {
                e.insert(self.m.declare_func_in_func(ids.callee(target as usize), &mut ctx.func));
            }
        }
        // Calls of known closures: straight to the body, with the closure.
        let closure_calls = closures.calls(module, pi, &direct);
        for &target in closure_calls.values() {
            if let std::collections::hash_map::Entry::Vacant(e) = direct_refs.entry(target) {
                e.insert(self.m.declare_func_in_func(ids.callee(target as usize), &mut ctx.func));
            }
        }
        // The bodies of the leaves expanded inline, for their slow paths.
        let mut body_refs = FxHashMap::default();
        for &target in direct.values().chain(closure_calls.values()) {
            if ids.leaf[target as usize].is_some() && !body_refs.contains_key(&target) {
                body_refs.insert(target, self.m.declare_func_in_func(ids.fixed[target as usize], &mut ctx.func));
            }
        }
        // Declarations this body needs, made before the builder borrows the function.
        let mut rt_refs = FxHashMap::default();
        for (name, (id, _)) in &self.rt {
            rt_refs.insert(*name, self.m.declare_func_in_func(*id, &mut ctx.func));
        }
        let mut proto_descs = Vec::new();
        for &d in &ids.proto_desc {
            proto_descs.push(self.m.declare_data_in_func(d, &mut ctx.func));
        }
        // The generic entry's signature, for calls of function values inline.
        let entry_sig = ctx.func.import_signature(self.generic_sig());
        // A kernel without calls is only called by other kernels: the body's own typed
        // copy is as fast.
        let kernel = match (ids.kernel[pi], &kernels[pi]) {
            (Some(id), Some(k)) if !k.calls.is_empty() => Some(self.m.declare_func_in_func(id, &mut ctx.func)),
            _ => None,
        };
        // Static data: sites, string constants, names, side tables.
        let mut pre = Prepared::default();
        self.prepare(module, ids, p, &mut ctx.func, &mut pre)?;
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
                entry_sig,
                fixed_sigs: FxHashMap::default(),
                skip: None,
                vars: Vec::new(),
                fraw: Vec::new(),
                iraw: Vec::new(),
                blocks: FxHashMap::default(),
                ctx: None,
                closure: None,
                null: None,
                exit: None,
                upvals_of,
                cur_stack: Vec::new(),
                unwinds: Vec::new(),
                module,
                direct_gets,
                direct,
                closure_calls,
                direct_refs,
                body_refs,
                leaves,
                leaf_facts: FxHashMap::default(),
                kernel,
                facts: live::Facts::analyse(module, p, &stacks, false),
                tfacts: typed_copy(p).then(|| live::Facts::analyse(module, p, &stacks, true)),
                typed: false,
                gblocks: FxHashMap::default(),
                payloads: FxHashMap::default(),
                next_payload: None,
                f64s: FxHashMap::default(),
                flags: FxHashMap::default(),
                items: FxHashMap::default(),
                steps: FxHashMap::default(),
                upslots: FxHashMap::default(),
                held: Vec::new(),
            };
            t.translate()?;
            let cfg = self.m.target_config();
            t.b.finalize(cfg);
        }
        if std::env::var_os("FORGE_DUMP_CLIF").is_some() {
            eprintln!("{}", ctx.func.display());
        }
        self.define(ids.fixed[pi], ctx)
    }

    /// Emits the static data a body refers to and records global values for them.
    fn prepare(
        &mut self,
        module: &ir::Module,
        ids: &ModIds,
        p: &ir::Proto,
        func: &mut cl::Function,
        pre: &mut Prepared,
    ) -> CgResult<()> {
        let locals = self.strref_array(&p.local_names)?;
        let mut site_ids: FxHashMap<(u32, u32), DataId> = FxHashMap::default();
        for &(line, col) in &p.pos {
            if site_ids.contains_key(&(line, col)) {
                continue;
            }
            // SiteDesc: trace_name (16), file (16), line u32, col u32, locals (8), n (8).
            let mut b = Blob::new(56);
            self.blob_str(&mut b, 0, Some(&p.trace_name))?;
            self.blob_str(&mut b, 16, Some(&module.file))?;
            b.bytes[32..36].copy_from_slice(&line.to_le_bytes());
            b.bytes[36..40].copy_from_slice(&col.to_le_bytes());
            self.blob_ptr(&mut b, 40, locals);
            b.u64_at(48, p.local_names.len() as u64);
            let id = self.blob_define(b, "site")?;
            site_ids.insert((line, col), id);
        }
        for (k, id) in site_ids {
            pre.sites.insert(k, self.m.declare_data_in_func(id, func));
        }
        // Per-site caches for constants that live on the heap (strings, big Ints).
        for (i, c) in p.consts.iter().enumerate() {
            let cache_slot = |cg: &mut Self| -> CgResult<DataId> {
                let slot = cg.anon_data("kslot", true)?;
                let mut d = DataDescription::new();
                d.define_zeroinit(8);
                d.set_align(8);
                cg.m.define_data(slot, &d).map_err(cl_err)?;
                Ok(slot)
            };
            match c {
                Const::Str(s) => {
                    let sid = self.string_data(s)?;
                    let slot = cache_slot(self)?;
                    pre.str_consts.insert(
                        i as u32,
                        (self.m.declare_data_in_func(sid, func), s.len(), self.m.declare_data_in_func(slot, func)),
                    );
                }
                Const::Int(v) if !(L::INT_IMM_MIN..=L::INT_IMM_MAX).contains(v) => {
                    let slot = cache_slot(self)?;
                    pre.int_consts.insert(i as u32, self.m.declare_data_in_func(slot, func));
                }
                _ => {}
            }
        }
        // Per-name caches of builtin functions (`LoadBuiltin`).
        for ins in &p.code {
            if let Instr::LoadBuiltin { name, .. } = *ins {
                if let std::collections::hash_map::Entry::Vacant(e) = pre.builtin_slots.entry(name) {
                    let slot = self.anon_data("bslot", true)?;
                    let mut d = DataDescription::new();
                    d.define_zeroinit(8);
                    d.set_align(8);
                    self.m.define_data(slot, &d).map_err(cl_err)?;
                    e.insert(self.m.declare_data_in_func(slot, func));
                }
            }
        }
        // Side tables.
        for path in &p.paths {
            // PathDesc: name (16), steps (8), n_steps (8).
            let steps: Vec<Option<&str>> = path
                .steps
                .iter()
                .map(|s| match s {
                    PathStep::Field(f) => Some(f.as_str()),
                    PathStep::Index(_) => None,
                })
                .collect();
            let arr = self.opt_strref_array(&steps)?;
            let mut b = Blob::new(32);
            self.blob_str(&mut b, 0, Some(&path.name))?;
            self.blob_ptr(&mut b, 16, arr);
            b.u64_at(24, steps.len() as u64);
            let id = self.blob_define(b, "path")?;
            pre.paths.push(self.m.declare_data_in_func(id, func));
        }
        for s in &p.structs {
            // StructDesc: name (16), defaults (8), n (8), embeds (8), n (8).
            let defaults = self.strref_array(&s.defaults)?;
            let pairs: Vec<String> = s.embeds.iter().flat_map(|(f, t)| [f.clone(), t.clone()]).collect();
            let embeds = self.strref_array(&pairs)?;
            let mut b = Blob::new(48);
            self.blob_str(&mut b, 0, Some(&s.name))?;
            self.blob_ptr(&mut b, 16, defaults);
            b.u64_at(24, s.defaults.len() as u64);
            self.blob_ptr(&mut b, 32, embeds);
            b.u64_at(40, s.embeds.len() as u64);
            let id = self.blob_define(b, "struct")?;
            pre.structs.push(self.m.declare_data_in_func(id, func));
        }
        for a in &p.adts {
            // AdtDesc: name (16), variants (8), arities (8), n (8).
            let names: Vec<String> = a.variants.iter().map(|v| v.0.clone()).collect();
            let arities: Vec<u64> = a.variants.iter().map(|v| v.1 as u64).collect();
            let names = self.strref_array(&names)?;
            let arities = self.u64_array(&arities)?;
            let mut b = Blob::new(40);
            self.blob_str(&mut b, 0, Some(&a.name))?;
            self.blob_ptr(&mut b, 16, names);
            self.blob_ptr(&mut b, 24, arities);
            b.u64_at(32, a.variants.len() as u64);
            let id = self.blob_define(b, "adt")?;
            pre.adts.push(self.m.declare_data_in_func(id, func));
        }
        for im in &p.impls {
            // ImplDesc: type_name (16), interface (16), methods (8), instance (8), n (8).
            let methods = self.strref_array(&im.methods)?;
            let inst: Vec<u64> = im.instance.iter().map(|&b| b as u64).collect();
            let inst = self.u64_array(&inst)?;
            let mut b = Blob::new(56);
            self.blob_str(&mut b, 0, Some(&im.type_name))?;
            self.blob_str(&mut b, 16, im.interface.as_deref())?;
            self.blob_ptr(&mut b, 32, methods);
            self.blob_ptr(&mut b, 40, inst);
            b.u64_at(48, im.methods.len() as u64);
            let id = self.blob_define(b, "impl")?;
            pre.impls.push(self.m.declare_data_in_func(id, func));
        }
        for it in &p.interfaces {
            // InterfaceDesc: name (16), methods (8), n_params (8), returns (8), n (8).
            let names: Vec<String> = it.methods.iter().map(|m| m.0.clone()).collect();
            let np: Vec<u64> = it.methods.iter().map(|m| m.1 as u64).collect();
            let rets: Vec<Option<&str>> = it.methods.iter().map(|m| m.2.as_deref()).collect();
            let names = self.strref_array(&names)?;
            let np = self.u64_array(&np)?;
            let rets = self.opt_strref_array(&rets)?;
            let mut b = Blob::new(48);
            self.blob_str(&mut b, 0, Some(&it.name))?;
            self.blob_ptr(&mut b, 16, names);
            self.blob_ptr(&mut b, 24, np);
            self.blob_ptr(&mut b, 32, rets);
            b.u64_at(40, it.methods.len() as u64);
            let id = self.blob_define(b, "iface")?;
            pre.interfaces.push(self.m.declare_data_in_func(id, func));
        }
        for imp in &p.imports {
            // ImportDesc: path (16), names (8), n_names (8), module (8).
            let names = self.strref_array(&imp.names)?;
            let mut b = Blob::new(40);
            self.blob_str(&mut b, 0, Some(&imp.path))?;
            self.blob_ptr(&mut b, 16, names);
            b.u64_at(24, imp.names.len() as u64);
            if let Some(mi) = imp.module {
                let Some(&sub) = ids.imports.get(mi as usize) else {
                    return err(format!("import of '{}' names a module that was not compiled", imp.path));
                };
                self.blob_ptr(&mut b, 32, sub);
            }
            let id = self.blob_define(b, "import")?;
            pre.imports.push(self.m.declare_data_in_func(id, func));
        }
        for mt in &p.matches {
            // MatchDesc: named (8), n (8), idents (8), n (8), has_wildcard (8).
            let named = self.strref_array(&mt.named)?;
            let idents = self.strref_array(&mt.idents)?;
            let mut b = Blob::new(40);
            self.blob_ptr(&mut b, 0, named);
            b.u64_at(8, mt.named.len() as u64);
            self.blob_ptr(&mut b, 16, idents);
            b.u64_at(24, mt.idents.len() as u64);
            b.u64_at(32, mt.has_wildcard as u64);
            let id = self.blob_define(b, "match")?;
            pre.matches.push(self.m.declare_data_in_func(id, func));
        }
        Ok(())
    }
}

/// `sig` (empty, of the right calling convention) made the signature of a fixed-arity
/// body of `n_params` parameters: `fn(ctx, closure, p1, …, pN) -> word`.
fn fixed_signature(mut sig: cl::Signature, ptr: types::Type, n_params: u16) -> cl::Signature {
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(types::I64));
    for _ in 0..n_params {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig.returns.push(AbiParam::new(types::I64));
    sig
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
    /// Constant index → cache slot of an Int outside the immediate range.
    int_consts: FxHashMap<u32, cl::GlobalValue>,
    /// Name constant → cache slot of the builtin function it names.
    builtin_slots: FxHashMap<u32, cl::GlobalValue>,
    /// Descriptors of the side tables, by index.
    paths: Vec<cl::GlobalValue>,
    structs: Vec<cl::GlobalValue>,
    adts: Vec<cl::GlobalValue>,
    impls: Vec<cl::GlobalValue>,
    interfaces: Vec<cl::GlobalValue>,
    imports: Vec<cl::GlobalValue>,
    matches: Vec<cl::GlobalValue>,
}

/// A block open at an instruction: a `try` (its handler and error register) or a
/// `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Open {
    Try { handler: usize, err: ir::Reg },
    Timeout,
}

/// Translates one prototype's instructions.
struct Translator<'f, 'p> {
    b: FunctionBuilder<'f>,
    p: &'p ir::Proto,
    rt: FxHashMap<&'static str, cl::FuncRef>,
    pre: &'p Prepared,
    proto_descs: Vec<cl::GlobalValue>,
    ptr: types::Type,
    /// The signature of generic entries (a function value's native code).
    entry_sig: cl::SigRef,
    /// Signatures of fixed-arity bodies called through function objects, by arity.
    fixed_sigs: FxHashMap<u16, cl::SigRef>,
    /// An instruction already translated as part of the one before it.
    skip: Option<(usize, ir::Reg)>,
    vars: Vec<Variable>,
    /// The registers kept as machine values (`live::Facts::raw_float`, `raw_small`):
    /// an f64 in both copies of the body, a small Int's payload in the typed copy.
    /// Their words are made where one is read; writes store the machine value.
    fraw: Vec<Option<Variable>>,
    iraw: Vec<Option<Variable>>,
    /// Block starting at each jump target / fall-through point.
    blocks: FxHashMap<usize, cl::Block>,
    ctx: Option<cl::Value>,
    closure: Option<cl::Value>,
    /// The `null` word, made once in the entry block: every register set to `null`
    /// anywhere gets this one value, so that joins of `null`s need no block parameter.
    null: Option<cl::Value>,
    /// Error exit: releases registers and returns EXC.
    exit: Option<cl::Block>,
    /// Upvalue sources of every prototype of the module (for `Closure`).
    upvals_of: Vec<Vec<ir::UpvalSrc>>,
    /// The blocks open at the instruction being translated, innermost last.
    cur_stack: Vec<Open>,
    /// Shared unwinding paths, one per stack of open blocks; each takes the site
    /// pointer of the failing instruction as a block parameter.
    unwinds: Vec<(Vec<Open>, cl::Block)>,
    module: &'p ir::Module,
    /// `GetGlobal`s left out: their register is only the callee of a direct call.
    direct_gets: FxHashMap<usize, ()>,
    /// Direct calls: the index of the `Call` → the prototype it calls.
    direct: FxHashMap<usize, u32>,
    /// Calls of known closures ([`known::KnownClosures`]): the index of the `Call` →
    /// the prototype of the closure its callee register holds.
    closure_calls: FxHashMap<usize, u32>,
    /// The fixed-arity bodies called directly.
    direct_refs: FxHashMap<u32, cl::FuncRef>,
    /// The bodies themselves of the direct callees with leaf entries (`direct_refs`
    /// has their leaf entries): the slow paths of leaves expanded inline call them.
    body_refs: FxHashMap<u32, cl::FuncRef>,
    /// The leaf entries of the module ([`kernel::find_leaves`]).
    leaves: &'p [Option<kernel::Kernel>],
    /// The analysis facts of the leaves expanded inline, by prototype.
    leaf_facts: FxHashMap<u32, live::Facts>,
    /// The function's Int kernel, when it has one ([`kernel`]).
    kernel: Option<cl::FuncRef>,
    /// Liveness and value kinds of the registers (see [`live`]); while the typed copy
    /// is translated, the speculating facts (swapped with `tfacts`).
    facts: live::Facts,
    /// The facts of the typed copy of the body, when it has one ([`typed_copy`]).
    tfacts: Option<live::Facts>,
    /// Whether the typed copy is being translated.
    typed: bool,
    /// While the typed copy is translated: the generic copy's blocks (its exits).
    gblocks: FxHashMap<usize, cl::Block>,
    /// Small-Int words the typed copy boxed, and Float words made from an f64, with
    /// their payloads (so that a later operation on the same word does not unbox it
    /// again). The payload is computed just before the word, so it is available
    /// wherever the word is.
    payloads: FxHashMap<cl::Value, cl::Value>,
    /// The payload of a small Int a leaf expanded inline left in a register, for the
    /// instruction right after the call: (that instruction, the register, the payload).
    next_payload: Option<(usize, ir::Reg, cl::Value)>,
    f64s: FxHashMap<cl::Value, cl::Value>,
    /// Bool words made from a condition here, with the condition (an i8): a branch or
    /// a truth test on the word uses the condition instead of comparing the word.
    flags: FxHashMap<cl::Value, cl::Value>,
    /// For each `for` loop's state register: variables holding the address and number
    /// of the elements when the loop runs over an array (address 0 otherwise), so that
    /// each step reads the next element inline (`forge_array_items`).
    items: FxHashMap<ir::Reg, (Variable, Variable)>,
    /// For each `for` loop (by its state register), the index of the next step as a
    /// machine integer. (Native code leaves the IR's index register `state + 1`
    /// alone: only the loop's own instructions would read it.)
    steps: FxHashMap<ir::Reg, Variable>,
    /// The addresses of the words of the closure cells this body reads or writes
    /// inline, by upvalue index (read from the closure once at entry).
    upslots: FxHashMap<u16, cl::Value>,
    /// The registers that may hold a heap reference at the point being translated:
    /// from [`live::Facts`] at each instruction's start, and every register written
    /// since (all of them on the shared error paths).
    held: Vec<bool>,
}

const TAG_INT_HI: i64 = L::TAG_INT as i64;

/// Whether a body gets a typed copy (see [`Translator::typed_instr`]): bodies with a
/// loop, and short ones (recursive functions), that do Int arithmetic or comparisons.
/// Others are compiled once, which keeps compile time down.
fn typed_copy(p: &ir::Proto) -> bool {
    let guarded = p.code.iter().filter(|i| live::guarded(p, i, &|_| false).is_some()).count();
    let has_loop = p.code.iter().enumerate().any(|(pc, i)| i.jump_target().is_some_and(|t| (t as usize) <= pc));
    guarded >= 2 && (has_loop || p.code.len() <= 48)
}

/// The boxed word of a small Int.
fn int_word(v: i64) -> u64 {
    (L::TAG_INT << 48) | (v as u64 & L::PAYLOAD_MASK)
}

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

    /// Calls an entry that returns a value.
    fn call_v(&mut self, name: &str, args: &[cl::Value]) -> cl::Value {
        self.call_rt(name, args).expect("result")
    }

    /// The signature of a fixed-arity body of `n` parameters (`Codegen::fixed_sig`).
    fn fixed_sig_ref(&mut self, n: u16) -> cl::SigRef {
        if let Some(&s) = self.fixed_sigs.get(&n) {
            return s;
        }
        let sig = fixed_signature(cl::Signature::new(self.b.func.signature.call_conv), self.ptr, n);
        let r = self.b.import_signature(sig);
        self.fixed_sigs.insert(n, r);
        r
    }

    fn null_word(&self) -> cl::Value {
        self.null.expect("null constant")
    }

    fn iconst(&mut self, v: u64) -> cl::Value {
        self.b.ins().iconst(types::I64, v as i64)
    }

    fn i32c(&mut self, v: i64) -> cl::Value {
        self.b.ins().iconst(types::I32, v)
    }

    /// The machine variable of a register kept raw here, and whether it is an f64.
    fn raw_var(&self, r: ir::Reg) -> Option<(Variable, bool)> {
        if let Some(v) = self.fraw[r as usize] {
            return Some((v, true));
        }
        if self.typed {
            if let Some(v) = self.iraw[r as usize] {
                return Some((v, false));
            }
        }
        None
    }

    fn is_raw(&self, r: ir::Reg) -> bool {
        self.raw_var(r).is_some()
    }

    /// The word in register `r` (made from its machine value when it is kept raw).
    fn use_reg(&mut self, r: ir::Reg) -> cl::Value {
        match self.raw_var(r) {
            Some((v, true)) => {
                let f = self.b.use_var(v);
                self.float_word(f)
            }
            Some((v, false)) => {
                let x = self.b.use_var(v);
                let w = self.box_int(x);
                self.payloads.insert(w, x);
                w
            }
            None => self.b.use_var(self.vars[r as usize]),
        }
    }

    /// Defines register `r` as the word `w` (its machine value, when kept raw: the
    /// analysis proved `w` is a Float, or a small Int, there).
    fn def_reg(&mut self, r: ir::Reg, w: cl::Value) {
        match self.raw_var(r) {
            Some((v, true)) => {
                let f = self.f64_of(w);
                self.b.def_var(v, f);
            }
            Some((v, false)) => {
                let x = match self.payloads.get(&w) {
                    Some(&x) => x,
                    None => self.payload(w),
                };
                self.b.def_var(v, x);
            }
            None => self.b.def_var(self.vars[r as usize], w),
        }
    }

    /// Writes an owned value into a register, releasing the old one.
    fn set_reg(&mut self, r: ir::Reg, v: cl::Value) {
        if self.is_raw(r) {
            // A scalar replaces a scalar: nothing to count.
            self.def_reg(r, v);
            self.held[r as usize] = false;
            return;
        }
        let old = self.b.use_var(self.vars[r as usize]);
        self.b.def_var(self.vars[r as usize], v);
        if self.held[r as usize] {
            self.release(old);
        }
        self.held[r as usize] = true;
    }

    /// Writes an owned value into a register whose old value was moved out.
    fn move_into_reg(&mut self, r: ir::Reg, v: cl::Value) {
        self.def_reg(r, v);
        self.held[r as usize] = !self.is_raw(r);
    }

    fn is_heap(&mut self, v: cl::Value) -> cl::Value {
        let tag = self.b.ins().ushr_imm_u(v, 48);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, L::TAG_PTR as i64)
    }

    /// Whether `v` is a constant that is not a heap reference (nothing to count).
    fn is_scalar_const(&self, v: cl::Value) -> bool {
        let dfg = &self.b.func.dfg;
        let Some(inst) = dfg.value_def(v).inst() else { return false };
        match dfg.insts[inst] {
            cl::InstructionData::UnaryImm { opcode: cl::Opcode::Iconst, imm } => {
                (imm.bits() as u64 >> 48) != L::TAG_PTR
            }
            _ => false,
        }
    }

    /// Drops the reference `v` owns: inline for a heap object whose count stays above
    /// zero (and for immortal ones), the runtime's `forge_release` frees the last one.
    fn release(&mut self, v: cl::Value) {
        if self.is_scalar_const(v) {
            return;
        }
        let heap = self.is_heap(v);
        let obj_blk = self.b.create_block();
        let free_blk = self.b.create_block();
        let dec_blk = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(free_blk);
        self.b.ins().brif(heap, obj_blk, &[], done, &[]);
        self.b.switch_to_block(obj_blk);
        let p = self.b.ins().band_imm_u(v, L::PAYLOAD_MASK as i64);
        let rc = self.b.ins().load(types::I32, MemFlagsData::trusted(), p, L::RC_OFFSET);
        let last = self.b.ins().icmp_imm_s(IntCC::Equal, rc, 1);
        self.b.ins().brif(last, free_blk, &[], dec_blk, &[]);
        self.b.switch_to_block(free_blk);
        self.call_rt("forge_release", &[v]);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(dec_blk);
        let immortal = self.b.ins().icmp_imm_s(IntCC::Equal, rc, L::RC_IMMORTAL as i32 as i64);
        let dec = self.b.ins().iadd_imm_s(rc, -1);
        let new = self.b.ins().select(immortal, rc, dec);
        self.b.ins().store(MemFlagsData::trusted(), new, p, L::RC_OFFSET);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// Takes a reference to `v`: an inline count increment (immortal objects unchanged).
    fn retain(&mut self, v: cl::Value) {
        if self.is_scalar_const(v) {
            return;
        }
        let heap = self.is_heap(v);
        let obj_blk = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(heap, obj_blk, &[], done, &[]);
        self.b.switch_to_block(obj_blk);
        let p = self.b.ins().band_imm_u(v, L::PAYLOAD_MASK as i64);
        let rc = self.b.ins().load(types::I32, MemFlagsData::trusted(), p, L::RC_OFFSET);
        let immortal = self.b.ins().icmp_imm_s(IntCC::Equal, rc, L::RC_IMMORTAL as i32 as i64);
        let inc = self.b.ins().iadd_imm_s(rc, 1);
        let new = self.b.ins().select(immortal, rc, inc);
        self.b.ins().store(MemFlagsData::trusted(), new, p, L::RC_OFFSET);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    fn site(&mut self, pc: usize) -> cl::Value {
        let pos = self.p.pos[pc];
        let gv = self.pre.sites[&pos];
        self.b.ins().symbol_value(self.ptr, gv)
    }

    fn gv_addr(&mut self, gv: cl::GlobalValue) -> cl::Value {
        self.b.ins().symbol_value(self.ptr, gv)
    }

    /// Address and length of the string constant K[k].
    fn kstr(&mut self, k: u32) -> CgResult<(cl::Value, cl::Value)> {
        let Some(&(bytes, len, _)) = self.pre.str_consts.get(&k) else { return err("a name constant is not a string") };
        let p = self.b.ins().symbol_value(self.ptr, bytes);
        let l = self.b.ins().iconst(types::I64, len as i64);
        Ok((p, l))
    }

    /// A stack slot of `n` words; returns it and its address.
    fn slot(&mut self, n: usize) -> (cl::StackSlot, cl::Value) {
        let slot =
            self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (n.max(1) * 8) as u32, 3));
        let addr = self.b.ins().stack_addr(self.ptr, slot, 0);
        (slot, addr)
    }

    fn slot_load(&mut self, slot: cl::StackSlot, i: usize) -> cl::Value {
        self.b.ins().stack_load(self.ptr, types::I64, slot, (i * 8) as i32)
    }

    /// After a runtime call that may fail: branch to the error path of `pc` when `v`
    /// is EXC.
    fn check(&mut self, v: cl::Value, pc: usize) {
        let stack = self.cur_stack.clone();
        self.check_with(v, pc, &stack);
    }

    /// `check` with an explicit stack of open blocks.
    fn check_with(&mut self, v: cl::Value, pc: usize, stack: &[Open]) {
        let is_exc = self.b.ins().icmp_imm_s(IntCC::Equal, v, L::EXC_BITS as i64);
        let err_blk = self.b.create_block();
        let ok = self.b.create_block();
        self.b.set_cold_block(err_blk);
        self.b.ins().brif(is_exc, err_blk, &[], ok, &[]);
        self.b.switch_to_block(err_blk);
        let site = self.site(pc);
        self.fail_at(site, stack);
        self.b.switch_to_block(ok);
    }

    /// Emits the error path at `pc` (the current block becomes terminated).
    fn fail_here(&mut self, pc: usize) {
        let site = self.site(pc);
        let stack = self.cur_stack.clone();
        self.fail_at(site, &stack);
    }

    /// Records the frame at `site` in the pending error's trace, then unwinds through
    /// `stack`.
    fn fail_at(&mut self, site: cl::Value, stack: &[Open]) {
        let cx = self.cx();
        self.call_rt("forge_trace_push", &[cx, site]);
        // The error exit releases the registers that may hold a reference somewhere;
        // the ones that cannot here pass `null`, made here, so that no value stays
        // alive (in a machine register or a spill slot) only to reach the exit. (Not
        // where a `try` handler may still read them.)
        let to_exit = stack.iter().all(|o| *o == Open::Timeout);
        for r in 0..self.p.n_regs {
            if !to_exit {
                break;
            }
            if !self.held[r as usize] && self.facts.heap_somewhere(r) && !self.is_raw(r) {
                let null = self.null_word();
                self.b.def_var(self.vars[r as usize], null);
            }
        }
        if stack.is_empty() {
            let exit = self.exit.expect("exit block");
            self.b.ins().jump(exit, &[]);
            return;
        }
        let blk = match self.unwinds.iter().find(|(s, _)| s == stack) {
            Some(&(_, blk)) => blk,
            None => {
                let blk = self.b.create_block();
                self.b.append_block_param(blk, self.ptr);
                self.b.set_cold_block(blk);
                self.unwinds.push((stack.to_vec(), blk));
                blk
            }
        };
        self.b.ins().jump(blk, &[site.into()]);
    }

    /// Emits the shared unwinding paths requested so far.
    fn emit_unwinds(&mut self) {
        let unwinds = std::mem::take(&mut self.unwinds);
        for (stack, blk) in unwinds {
            self.b.switch_to_block(blk);
            let site = self.b.block_params(blk)[0];
            let cx = self.cx();
            for open in stack.iter().rev() {
                match *open {
                    Open::Timeout => {
                        self.call_rt("forge_timeout_unwind", &[cx, site]);
                    }
                    Open::Try { handler, err } => {
                        let catchable = self.call_v("forge_error_catchable", &[cx]);
                        let take = self.b.create_block();
                        let next = self.b.create_block();
                        self.b.ins().brif(catchable, take, &[], next, &[]);
                        self.b.switch_to_block(take);
                        let e = self.call_v("forge_error_take", &[cx]);
                        self.set_reg(err, e);
                        let h = self.blocks[&handler];
                        self.b.ins().jump(h, &[]);
                        self.b.switch_to_block(next);
                    }
                }
            }
            let exit = self.exit.expect("exit block");
            self.b.ins().jump(exit, &[]);
        }
    }

    /// Sets the registers no path from `pc` reads any more to `null`, releasing what
    /// they held (see [`live`]); then takes the kinds known at `pc`.
    fn release_dead(&mut self, pc: usize) {
        self.release_dead_but(pc, None);
    }

    /// [`Translator::release_dead`], except for register `keep`.
    fn release_dead_but(&mut self, pc: usize, keep: Option<ir::Reg>) {
        for i in 0..self.facts.kills(pc).len() {
            let (r, heap) = self.facts.kills(pc)[i];
            if self.is_raw(r) || Some(r) == keep {
                // A machine value not read any more: nothing to release or clear.
                continue;
            }
            if heap {
                let v = self.use_reg(r);
                self.release(v);
            }
            let null = self.null_word();
            self.b.def_var(self.vars[r as usize], null);
        }
        for r in 0..self.p.n_regs {
            self.held[r as usize] = self.facts.heap_before(pc, r);
        }
    }

    /// Takes the value out of register `r` (which is left `null`): the caller owns it.
    fn take_reg(&mut self, r: ir::Reg) -> cl::Value {
        let v = self.use_reg(r);
        if self.is_raw(r) {
            return v;
        }
        let null = self.null_word();
        self.b.def_var(self.vars[r as usize], null);
        self.held[r as usize] = false;
        v
    }

    /// Releases every register that may hold a heap reference (function exit).
    fn release_all(&mut self) {
        for r in 0..self.p.n_regs {
            if self.held[r as usize] {
                let v = self.use_reg(r);
                self.release(v);
            }
        }
    }

    fn leave_depth(&mut self) {
        let cx = self.cx();
        let d = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_DEPTH);
        let d1 = self.b.ins().iadd_imm_s(d, -1);
        self.b.ins().store(MemFlagsData::trusted(), d1, cx, forge_abi::abi::CTX_DEPTH);
    }

    /// Returns the owned value `v` from the function: leaves the `timeout` blocks open
    /// here, releases the registers and the frame's depth.
    fn return_value(&mut self, v: cl::Value) {
        let timeouts = self.cur_stack.iter().filter(|o| **o == Open::Timeout).count();
        if timeouts > 0 {
            let cx = self.cx();
            let n = self.i32c(timeouts as i64);
            self.call_rt("forge_timeout_drop", &[cx, n]);
        }
        self.release_all();
        self.leave_depth();
        self.b.ins().return_(&[v]);
    }

    /// Small-int tests and payload extraction.
    /// Whether a call of prototype `target` with `n` arguments expands its leaf entry
    /// inline.
    fn inline_leaf(&self, target: u32, n: u8) -> bool {
        self.module.protos.get(target as usize).is_some_and(|t| t.n_params == n as u16)
            && self.body_refs.contains_key(&target)
            && kernel::inlinable(self.module, self.leaves, target)
    }

    /// A call of leaf `target` with closure `clo`, expanded inline
    /// ([`kernel::Emitter::leaf`]); its slow path calls the body.
    fn call_leaf_inline(
        &mut self,
        pc: usize,
        target: u32,
        clo: cl::Value,
        dst: ir::Reg,
        args: ir::Reg,
        n: u8,
    ) -> CgResult<()> {
        let cx = self.cx();
        let words: Vec<cl::Value> = (0..n as u16).map(|i| self.use_reg(args + i)).collect();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I64);
        // In the typed copy, an Int result goes on with its payload; the slow path's
        // result goes on in the generic code.
        let int_result = self.typed && kernel::returns_int(self.leaves, target) && self.gblocks.contains_key(&(pc + 1));
        if int_result {
            self.b.append_block_param(join, types::I64);
        }
        let mut e = kernel::Emitter {
            module: self.module,
            kernels: self.leaves,
            refs: FxHashMap::default(),
            facts: std::mem::take(&mut self.leaf_facts),
            bail: slow,
            upvars: FxHashMap::default(),
        };
        let r = e.leaf(&mut self.b, target, cx, clo, &words, join);
        self.leaf_facts = e.facts;
        r.map_err(CodegenError)?;
        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let mut call_args = vec![cx, clo];
        call_args.extend(&words);
        let call = self.b.ins().call(self.body_refs[&target], &call_args);
        let v = self.b.inst_results(call)[0];
        self.check(v, pc);
        if int_result {
            self.set_reg(dst, v);
            self.leave_typed(pc + 1);
        } else {
            self.b.ins().jump(join, &[v.into()]);
        }
        self.b.switch_to_block(join);
        let v = self.b.block_params(join)[0];
        self.set_reg(dst, v);
        if int_result && !self.blocks.contains_key(&(pc + 1)) {
            // The next instruction reads the register as a word the SSA builder may
            // rename (a block of its own releases of dead registers comes between).
            let x = self.b.block_params(join)[1];
            self.payloads.insert(v, x);
            self.next_payload = Some((pc + 1, dst, x));
        }
        Ok(())
    }

    fn is_small(&mut self, v: cl::Value) -> cl::Value {
        is_small(&mut self.b, v)
    }
    /// Whether every word of `words` is a small Int (`None` for no words).
    fn all_small(&mut self, words: &[cl::Value]) -> Option<cl::Value> {
        let mut all = None;
        for &w in words {
            let ok = self.is_small(w);
            all = Some(match all {
                Some(a) => self.b.ins().band(a, ok),
                None => ok,
            });
        }
        all
    }
    /// Whether a word is a Float (every word below the first tag).
    fn is_float(&mut self, v: cl::Value) -> cl::Value {
        let tag = self.b.ins().ushr_imm_u(v, 48);
        self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, tag, L::FIRST_TAG as i64)
    }

    fn payload(&mut self, v: cl::Value) -> cl::Value {
        payload(&mut self.b, v)
    }
    /// Boxes a payload known to fit 48 bits.
    fn box_int(&mut self, i: cl::Value) -> cl::Value {
        box_int(&mut self.b, i)
    }
    fn fits48(&mut self, i: cl::Value) -> cl::Value {
        fits48(&mut self.b, i)
    }

    /// The blocks open at each instruction (`None` where unreachable), by propagating
    /// along the control flow from the entry: `TryBegin`/`TimeoutBegin` open a block,
    /// `TryEnd`/`TimeoutEnd` close the innermost, and a `try` handler starts with the
    /// blocks open at its `TryBegin`.
    /// Every path to an instruction must agree on the open blocks (the lowering emits
    /// them structurally); a disagreement is reported as an error.
    fn open_blocks(code: &[Instr]) -> CgResult<Vec<Option<Vec<Open>>>> {
        let mut stacks: Vec<Option<Vec<Open>>> = vec![None; code.len()];
        let mut work: Vec<(usize, Vec<Open>)> = vec![(0, Vec::new())];
        while let Some((pc, stack)) = work.pop() {
            if pc >= code.len() {
                continue;
            }
            if let Some(seen) = &stacks[pc] {
                if *seen != stack {
                    return err(format!("internal error: inconsistent try/timeout nesting at instruction {pc}"));
                }
                continue;
            }
            stacks[pc] = Some(stack.clone());
            let mut next = |to: usize, s: Vec<Open>| work.push((to, s));
            match code[pc] {
                Instr::TryBegin { handler, err } => {
                    next(handler as usize, stack.clone());
                    let mut inner = stack;
                    inner.push(Open::Try { handler: handler as usize, err });
                    next(pc + 1, inner);
                }
                Instr::TimeoutBegin { .. } => {
                    let mut inner = stack;
                    inner.push(Open::Timeout);
                    next(pc + 1, inner);
                }
                Instr::TryEnd | Instr::TimeoutEnd => {
                    let mut outer = stack;
                    outer.pop();
                    next(pc + 1, outer);
                }
                ins => {
                    if let Some(target) = ins.jump_target() {
                        next(target as usize, stack.clone());
                    }
                    if ins.falls_through() {
                        next(pc + 1, stack);
                    }
                }
            }
        }
        Ok(stacks)
    }

    fn translate(&mut self) -> CgResult<()> {
        let code = &self.p.code;
        // Blocks: every jump target, every handler, and the instruction after any
        // branch or terminator.
        let mut starts = vec![0usize];
        for (pc, ins) in code.iter().enumerate() {
            if let Some(target) = ins.jump_target() {
                starts.push(target as usize);
                starts.push(pc + 1);
            }
            match *ins {
                Instr::TryBegin { handler, .. } => starts.push(handler as usize),
                Instr::Return { .. } | Instr::Raise { .. } => starts.push(pc + 1),
                _ => {}
            }
        }
        let stacks = Self::open_blocks(code)?;
        // The typed copy leaves for the generic code before the instruction whose guard
        // or overflow test failed: those instructions start blocks there.
        let typed_starts: Vec<usize> = starts.clone();
        if self.tfacts.is_some() {
            for (pc, ins) in code.iter().enumerate() {
                if live::guarded(self.p, ins, &|_| false).is_some() {
                    starts.push(pc);
                }
                // The slow path of a leaf expanded inline goes on in the generic code
                // after the call (`call_leaf_inline`).
                if let Instr::Call { n, .. } = *ins {
                    let target = self.direct.get(&pc).or_else(|| self.closure_calls.get(&pc));
                    if target.is_some_and(|&t| self.inline_leaf(t, n) && kernel::returns_int(self.leaves, t)) {
                        starts.push(pc + 1);
                    }
                }
            }
        }
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = Some(params[0]);
        self.closure = Some(params[1]);
        self.null = Some(self.b.ins().iconst(types::I64, L::NULL_BITS as i64));
        for _ in 0..self.p.n_regs {
            let v = self.b.declare_var(types::I64);
            self.vars.push(v);
        }
        for r in 0..self.p.n_regs {
            let f = self.facts.raw_float(r).then(|| {
                let v = self.b.declare_var(types::F64);
                let zero = self.b.ins().f64const(0.0);
                self.b.def_var(v, zero);
                v
            });
            self.fraw.push(f);
            let small = self.tfacts.as_ref().is_some_and(|t| t.raw_small(r)) && f.is_none();
            let i = small.then(|| {
                let v = self.b.declare_var(types::I64);
                let zero = self.b.ins().iconst(types::I64, 0);
                self.b.def_var(v, zero);
                v
            });
            self.iraw.push(i);
        }
        self.held = vec![true; self.p.n_regs as usize];
        // Parameters are borrowed from the caller: retain the ones the body changes
        // into our registers (the others stay borrowed, `Facts::borrowed`).
        for r in 0..self.p.n_regs {
            let v = if (r as usize) < self.p.n_params as usize { params[2 + r as usize] } else { self.null_word() };
            self.b.def_var(self.vars[r as usize], v);
        }
        for ins in code {
            if let Instr::ForPrep { state, .. } = *ins {
                if !self.items.contains_key(&state) {
                    let (ptr, len) = (self.b.declare_var(self.ptr), self.b.declare_var(types::I64));
                    let zero = self.iconst(0);
                    self.b.def_var(ptr, zero);
                    self.b.def_var(len, zero);
                    self.items.insert(state, (ptr, len));
                    let idx = self.b.declare_var(types::I64);
                    self.b.def_var(idx, zero);
                    self.steps.insert(state, idx);
                }
            }
        }
        let mut upvals: Vec<u16> = code
            .iter()
            .filter_map(|ins| match *ins {
                Instr::GetUpval { idx, .. } | Instr::SetUpval { idx, .. } => Some(idx),
                Instr::AppendVar { path, .. } => match self.p.paths[path as usize].root {
                    VarRef::Upval(u) => Some(u),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        upvals.sort_unstable();
        upvals.dedup();
        if !upvals.is_empty() {
            // The closure's table of cell word addresses (`L::FUNC_SLOTS_OFFSET`; the IR
            // verifier makes sure every index is one of the closure's).
            let clo = self.clo();
            let obj = self.b.ins().band_imm_u(clo, L::PAYLOAD_MASK as i64);
            let slots = self.b.ins().load(self.ptr, MemFlagsData::trusted(), obj, L::FUNC_SLOTS_OFFSET);
            for idx in upvals {
                let addr = self.b.ins().load(self.ptr, MemFlagsData::trusted(), slots, idx as i32 * 8);
                self.upslots.insert(idx, addr);
            }
        }
        for r in 0..self.p.n_params {
            if !self.facts.borrowed(r) {
                let a = params[2 + r as usize];
                self.retain(a);
            }
        }
        for &s in &starts {
            if s < code.len() && !self.blocks.contains_key(&s) {
                let blk = self.b.create_block();
                self.blocks.insert(s, blk);
            }
        }
        let mut tblocks = FxHashMap::default();
        if self.tfacts.is_some() {
            for &s in &typed_starts {
                if s < code.len() && !tblocks.contains_key(&s) {
                    tblocks.insert(s, self.b.create_block());
                }
            }
        }
        let exit = self.b.create_block();
        self.exit = Some(exit);
        // Depth check. Like the VM, which refuses to push the frame, the error gets no
        // trace line of its own: the caller records its call.
        let cx = self.cx();
        let d = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_DEPTH);
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        self.b.ins().store(MemFlagsData::trusted(), d1, cx, forge_abi::abi::CTX_DEPTH);
        let max = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_MAX_DEPTH);
        let too_deep = self.b.ins().icmp(IntCC::UnsignedGreaterThan, d1, max);
        let deep_blk = self.b.create_block();
        let guards = self.tfacts.as_ref().map(|t| t.entry_guards().to_vec()).unwrap_or_default();
        let start = match &self.tfacts {
            Some(_) if !guards.is_empty() => self.b.create_block(),
            Some(_) => tblocks[&0],
            None => self.blocks[&0],
        };
        let first = if self.kernel.is_some() { self.b.create_block() } else { start };
        self.b.set_cold_block(deep_blk);
        self.b.ins().brif(too_deep, deep_blk, &[], first, &[]);
        self.b.switch_to_block(deep_blk);
        self.call_rt("forge_depth_error", &[cx]);
        self.b.ins().jump(exit, &[]);
        if let Some(kf) = self.kernel {
            // Small-Int arguments: the kernel first. When it bails, the body runs as
            // if it had not been called (it has no effects).
            self.b.switch_to_block(first);
            let all = self.all_small(&params[2..]);
            let call_blk = self.b.create_block();
            let all = all.ok_or_else(|| CodegenError("internal error: a kernel without parameters".into()))?;
            self.b.ins().brif(all, call_blk, &[], start, &[]);
            self.b.switch_to_block(call_blk);
            let mut args = vec![self.b.ins().uextend(types::I64, d1)];
            for &a in &params[2..] {
                let x = self.payload(a);
                args.push(x);
            }
            let call = self.b.ins().call(kf, &args);
            let (v, bailed) = (self.b.inst_results(call)[0], self.b.inst_results(call)[1]);
            let done = self.b.create_block();
            self.b.ins().brif(bailed, start, &[], done, &[]);
            self.b.switch_to_block(done);
            let w = self.box_int(v);
            self.leave_depth();
            self.b.ins().return_(&[w]);
        }
        if !guards.is_empty() {
            // The typed copy's entry guards: all small Ints, or the generic copy.
            self.b.switch_to_block(start);
            let words: Vec<cl::Value> = guards.iter().map(|&r| self.use_reg(r)).collect();
            let all = self.all_small(&words).expect("a guard");
            self.b.ins().brif(all, tblocks[&0], &[], self.blocks[&0], &[]);
        }

        self.translate_copy(&stacks)?;
        if let Some(tfacts) = self.tfacts.take() {
            // The typed copy: the same instructions under the speculating facts, with
            // its own blocks; it leaves for the generic copy's blocks.
            let generic_facts = std::mem::replace(&mut self.facts, tfacts);
            self.gblocks = std::mem::replace(&mut self.blocks, tblocks);
            self.typed = true;
            self.translate_copy(&stacks)?;
            self.typed = false;
            self.blocks = std::mem::take(&mut self.gblocks);
            self.facts = generic_facts;
        }
        // The shared error paths are reached from many points: there, every register
        // that may hold a reference somewhere in the function may hold one.
        for r in 0..self.p.n_regs {
            self.held[r as usize] = self.facts.heap_somewhere(r);
        }
        self.emit_unwinds();
        // The error exit.
        self.b.switch_to_block(exit);
        self.release_all();
        self.leave_depth();
        let exc = self.iconst(L::EXC_BITS);
        self.b.ins().return_(&[exc]);
        self.b.seal_all_blocks();
        Ok(())
    }

    /// Translates every reachable instruction once, in order (one copy of the body).
    fn translate_copy(&mut self, stacks: &[Option<Vec<Open>>]) -> CgResult<()> {
        let code = &self.p.code;
        let mut terminated = true;
        for pc in 0..code.len() {
            let Some(stack) = &stacks[pc] else {
                // Unreachable code (after a terminator, or only reached from other
                // unreachable code): skip it.
                continue;
            };
            if let Some(&blk) = self.blocks.get(&pc) {
                if !terminated {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
            } else if terminated {
                return err(format!("internal error: instruction {pc} follows a terminator without a label"));
            }
            self.cur_stack = stack.clone();
            if let Some((_, keep)) = self.skip.filter(|&(at, _)| at == pc) {
                // The `Move` of `push_into_root`, folded into the push before it: the
                // register it would overwrite keeps its value (the pushed array).
                self.skip = None;
                self.release_dead_but(pc, Some(keep));
                self.held[keep as usize] = true;
                continue;
            }
            self.release_dead(pc);
            let ins = code[pc];
            terminated = match self.typed.then(|| live::guarded(self.p, &ins, &|r| self.facts.not_int_before(pc, r))) {
                Some(Some(ops)) => self.typed_instr(pc, ins, ops)?,
                _ => self.instr(pc, ins)?,
            };
        }
        if !terminated {
            self.cur_stack.clear();
            let null = self.null_word();
            self.return_value(null);
        }
        Ok(())
    }

    /// Leaves the typed copy: continues with the generic code of instruction `pc`.
    fn leave_typed(&mut self, pc: usize) {
        // Registers that hold `null` (or are dead) there get it as a new constant:
        // otherwise each would be a value carried around the typed loops only to be
        // handed to the generic code.
        for r in 0..self.p.n_regs {
            if self.facts.null_before(pc, r) {
                let null = self.null_word();
                self.b.def_var(self.vars[r as usize], null);
            } else if self.iraw[r as usize].is_some() {
                // The generic code reads the word of a payload kept raw here.
                let w = self.use_reg(r);
                self.b.def_var(self.vars[r as usize], w);
            }
        }
        let blk = self.gblocks[&pc];
        self.b.ins().jump(blk, &[]);
    }

    /// In the typed copy: the payload of register `r` (holding `v`) as a small Int,
    /// leaving for the generic code of `pc` unless it is one.
    fn guard_small(&mut self, pc: usize, r: ir::Reg, v: cl::Value) -> cl::Value {
        if let Some(&p) = self.payloads.get(&v) {
            return p;
        }
        if let Some((at, reg, p)) = self.next_payload {
            if at == pc && reg == r {
                return p;
            }
        }
        if !self.facts.small_before(pc, r) {
            let ok = self.is_small(v);
            let next = self.b.create_block();
            let out = self.b.create_block();
            self.b.set_cold_block(out);
            self.b.ins().brif(ok, next, &[], out, &[]);
            self.b.switch_to_block(out);
            self.leave_typed(pc);
            self.b.switch_to_block(next);
        }
        self.payload(v)
    }

    /// In the typed copy: continues when `ok`, else leaves for the generic code of `pc`.
    fn typed_check(&mut self, pc: usize, ok: cl::Value) {
        let next = self.b.create_block();
        let out = self.b.create_block();
        self.b.set_cold_block(out);
        self.b.ins().brif(ok, next, &[], out, &[]);
        self.b.switch_to_block(out);
        self.leave_typed(pc);
        self.b.switch_to_block(next);
    }

    /// An Int operation of the typed copy on small-Int operands (`live::guarded`): the
    /// operands are guarded, the result must fit a small Int again; anything else
    /// (another kind, an overflow, a zero divisor) runs the instruction generically.
    /// Returns whether the block was terminated.
    fn typed_instr(&mut self, pc: usize, ins: Instr, ops: (ir::Reg, Option<ir::Reg>)) -> CgResult<bool> {
        let (a, b) = ops;
        let xv = self.use_reg(a);
        let x = self.guard_small(pc, a, xv);
        let y = match (ins, b) {
            (_, Some(b)) => {
                let yv = self.use_reg(b);
                self.guard_small(pc, b, yv)
            }
            (Instr::ArithI { imm, .. } | Instr::CompareI { imm, .. } | Instr::JmpIfNotCmpI { imm, .. }, None) => {
                self.b.ins().iconst(types::I64, imm as i64)
            }
            _ => return err("internal error: a guarded instruction without a second operand"),
        };
        // The operands' ranges (`live`): a result known to stay in the small range
        // needs no overflow test, a divisor known not to be zero no zero test.
        let small = (live::SMALL_RANGE.0 as i128, live::SMALL_RANGE.1 as i128);
        let (ra, rb) = self.facts.operand_ranges(pc, &ins, a, b);
        let range_of = |op: ArithOp| live::int_op_range(op, ra, rb);
        let int_op = |this: &mut Self, op: ArithOp| -> cl::Value {
            let res = range_of(op);
            let bounded = res.is_some_and(|(lo, hi)| lo >= small.0 && hi <= small.1);
            let r = match op {
                ArithOp::Add => this.b.ins().iadd(x, y),
                ArithOp::Sub => this.b.ins().isub(x, y),
                ArithOp::Mul if res.is_some_and(|(lo, hi)| lo >= i64::MIN as i128 && hi <= i64::MAX as i128) => {
                    this.b.ins().imul(x, y)
                }
                ArithOp::Mul => {
                    // 48-bit operands: the product fits i64 exactly when the high half
                    // is the sign of the low half.
                    let lo = this.b.ins().imul(x, y);
                    let hi = this.b.ins().smulhi(x, y);
                    let sign = this.b.ins().sshr_imm_u(lo, 63);
                    let no_ovf = this.b.ins().icmp(IntCC::Equal, hi, sign);
                    this.typed_check(pc, no_ovf);
                    lo
                }
                ArithOp::Div | ArithOp::Mod => {
                    if res.is_none() {
                        let nz = this.b.ins().icmp_imm_s(IntCC::NotEqual, y, 0);
                        this.typed_check(pc, nz);
                    }
                    if op == ArithOp::Div {
                        this.b.ins().sdiv(x, y)
                    } else {
                        this.b.ins().srem(x, y)
                    }
                }
            };
            if !bounded {
                let fits = this.fits48(r);
                this.typed_check(pc, fits);
            }
            let w = this.box_int(r);
            this.payloads.insert(w, r);
            w
        };
        match ins {
            Instr::Arith { op, dst, .. } | Instr::ArithI { op, dst, .. } => {
                if matches!((op, ins), (ArithOp::Div | ArithOp::Mod, Instr::ArithI { imm: 0, .. })) {
                    // The generic code raises the error. The code after it in this
                    // copy goes on in a block nothing jumps to.
                    self.leave_typed(pc);
                    let rest = self.b.create_block();
                    self.b.switch_to_block(rest);
                    return Ok(false);
                }
                let v = int_op(self, op);
                self.set_reg(dst, v);
            }
            Instr::AppendVar { .. } => {
                let v = int_op(self, ArithOp::Add);
                // The old value is a small Int: nothing to release.
                self.def_reg(a, v);
            }
            Instr::Compare { op, dst, .. } | Instr::CompareI { op, dst, .. } => {
                let t = self.b.ins().icmp(int_cc(op), x, y);
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::JmpIfNotCmp { op, target, .. } | Instr::JmpIfNotCmpI { op, target, .. } => {
                let t = self.b.ins().icmp(int_cc(op), x, y);
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(t, next, &[], tgt, &[]);
                return Ok(true);
            }
            _ => return err("internal error: an unguarded instruction in the typed copy"),
        }
        Ok(false)
    }

    /// Moves the value of an assignment root out of its variable into a new stack
    /// slot; returns the slot and its address. The variable is left unbound (cells and
    /// globals) or considered moved (registers) until [`Self::put_root`].
    fn take_root(&mut self, root: VarRef) -> (cl::StackSlot, cl::Value) {
        let w = match root {
            VarRef::Reg(r) => self.use_reg(r),
            VarRef::Cell(r) => {
                let c = self.use_reg(r);
                self.call_v("forge_cell_take", &[c])
            }
            VarRef::Upval(u) => {
                let clo = self.clo();
                let i = self.i32c(u as i64);
                let c = self.call_v("forge_upval", &[clo, i]);
                let w = self.call_v("forge_cell_take", &[c]);
                self.release(c);
                w
            }
            VarRef::Global(g) => {
                let clo = self.clo();
                let s = self.i32c(g as i64);
                self.call_v("forge_global_take", &[clo, s])
            }
        };
        let (slot, addr) = self.slot(1);
        self.b.ins().stack_store(self.ptr, w, slot, 0);
        (slot, addr)
    }

    /// Whether the `PushPop` at `pc` is `a = push(a, v)` on a register: a push whose
    /// result only goes back into the register pushed onto, by the `Move` right after
    /// it (in the same block), after which the result register is dead.
    fn push_into_root(&self, pc: usize, path: u16, dst: ir::Reg, pop: bool) -> bool {
        let path = &self.p.paths[path as usize];
        let VarRef::Reg(rr) = path.root else { return false };
        !pop && path.steps.is_empty()
            && rr != dst
            && matches!(self.p.code.get(pc + 1), Some(&Instr::Move { dst: d, src }) if d == rr && src == dst)
            && !self.blocks.contains_key(&(pc + 1))
            && !self.facts.lent_copy(pc + 1)
            && !self.facts.live_after(pc + 1, dst)
    }

    /// Moves the (updated) value in `slot` back into the root variable.
    fn put_root(&mut self, root: VarRef, slot: cl::StackSlot) {
        let w = self.slot_load(slot, 0);
        match root {
            VarRef::Reg(r) => self.move_into_reg(r, w),
            VarRef::Cell(r) => {
                let c = self.use_reg(r);
                self.call_rt("forge_cell_put", &[c, w]);
            }
            VarRef::Upval(u) => {
                let clo = self.clo();
                let i = self.i32c(u as i64);
                let c = self.call_v("forge_upval", &[clo, i]);
                self.call_rt("forge_cell_put", &[c, w]);
                self.release(c);
            }
            VarRef::Global(g) => {
                let clo = self.clo();
                let s = self.i32c(g as i64);
                self.call_rt("forge_global_put", &[clo, s, w]);
            }
        }
    }

    /// Runs `update(slot address)` on register `r` moved into a stack slot, then moves
    /// the result back (literal builders).
    fn update_reg(&mut self, r: ir::Reg, update: impl FnOnce(&mut Self, cl::Value)) {
        let (slot, addr) = self.take_root(VarRef::Reg(r));
        update(self, addr);
        self.put_root(VarRef::Reg(r), slot);
    }

    /// A `for` step's branch: when `more` is false the loop is over (its state register
    /// lets go of the collection and control goes to `exit`); otherwise continues in a
    /// new block where the index register `state + 1` already holds `i + 1`.
    fn for_step(&mut self, more: cl::Value, state: ir::Reg, i: cl::Value, exit: cl::Block) {
        let item = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(more, item, &[], done, &[]);
        self.b.switch_to_block(done);
        let null = self.null_word();
        self.set_reg(state, null);
        self.b.ins().jump(exit, &[]);
        self.b.switch_to_block(item);
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(self.steps[&state], i1);
    }

    /// Writes the `n` owned words of `slot` into registers `dst..dst+n`.
    fn regs_from_slot(&mut self, slot: cl::StackSlot, dst: ir::Reg, n: usize) {
        for i in 0..n {
            let v = self.slot_load(slot, i);
            self.set_reg(dst + i as u16, v);
        }
    }

    /// An i32 truth value (non-zero) as a Bool word.
    fn bool_of_i32(&mut self, t: cl::Value) -> cl::Value {
        let t8 = self.b.ins().icmp_imm_s(IntCC::NotEqual, t, 0);
        self.bool_word(t8)
    }

    /// Translates one instruction; returns whether it terminated the block.
    fn instr(&mut self, pc: usize, ins: Instr) -> CgResult<bool> {
        let cx = self.cx();
        match ins {
            Instr::LoadK { dst, k } => {
                let v = match &self.p.consts[k as usize] {
                    Const::Int(i) => {
                        if (L::INT_IMM_MIN..=L::INT_IMM_MAX).contains(i) {
                            self.iconst(int_word(*i))
                        } else {
                            let slot = self.pre.int_consts[&k];
                            let iv = self.b.ins().iconst(types::I64, *i);
                            self.cached_const(slot, "forge_const_int", &[iv])
                        }
                    }
                    Const::Float(f) => {
                        let bits = if f.is_nan() { L::CANON_NAN } else { f.to_bits() };
                        self.iconst(bits)
                    }
                    Const::Str(_) => {
                        let (_, _, slot) = self.pre.str_consts[&k];
                        let (p, l) = self.kstr(k)?;
                        self.cached_const(slot, "forge_const_str", &[p, l])
                    }
                };
                self.set_reg(dst, v);
            }
            Instr::LoadInt { dst, v } => {
                let w = self.iconst(int_word(v as i64));
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
                let w = if which == Special::Null { self.null_word() } else { self.iconst(bits) };
                self.set_reg(dst, w);
            }
            Instr::LoadBuiltin { dst, name } => {
                // A builtin function is an immediate word, the same in every isolate:
                // the first lookup of the name is kept in a static slot. (Modules are
                // objects of their isolate and are looked up every time.)
                let v = self.cached_word(self.pre.builtin_slots[&name], |t, slot_addr| {
                    let (p, l) = t.kstr(name)?;
                    let v = t.call_v("forge_builtin", &[cx, p, l]);
                    t.check(v, pc);
                    let tag = t.b.ins().ushr_imm_u(v, L::TAG_SHIFT as i64);
                    let is_fn = t.b.ins().icmp_imm_s(IntCC::Equal, tag, L::TAG_BUILTIN as i64);
                    let keep = t.b.create_block();
                    let done = t.b.create_block();
                    t.b.ins().brif(is_fn, keep, &[], done, &[]);
                    t.b.switch_to_block(keep);
                    t.b.ins().store(MemFlagsData::trusted(), v, slot_addr, 0);
                    t.b.ins().jump(done, &[]);
                    t.b.switch_to_block(done);
                    Ok(v)
                })?;
                self.set_reg(dst, v);
            }
            Instr::Move { dst, src } if dst != src && self.facts.lent_copy(pc) => {
                // Lent to the call that follows (`live::Facts::lent_copy`): no count.
                let v = self.use_reg(src);
                self.set_reg(dst, v);
                self.held[dst as usize] = false;
            }
            Instr::Move { dst, src } => {
                if dst != src {
                    let v = if self.facts.live_after(pc, src) || self.facts.borrowed(src) {
                        let v = self.use_reg(src);
                        if self.facts.copy_counts(pc, src) {
                            self.retain(v);
                        }
                        v
                    } else {
                        self.take_reg(src)
                    };
                    self.set_reg(dst, v);
                }
            }
            Instr::GetGlobal { dst, .. } if self.direct_gets.contains_key(&pc) => {
                // Only the callee of a direct call (known::direct_calls).
                let null = self.null_word();
                self.set_reg(dst, null);
            }
            Instr::GetGlobal { dst, slot } => {
                let clo = self.clo();
                let s = self.i32c(slot as i64);
                let site = self.site(pc);
                let v = self.call_v("forge_global_get", &[cx, clo, s, site]);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::GetGlobalOpt { dst, slot } => {
                let clo = self.clo();
                let s = self.i32c(slot as i64);
                let v = self.call_v("forge_global_get_opt", &[clo, s]);
                self.set_reg(dst, v);
            }
            Instr::SetGlobal { slot, src } => {
                let clo = self.clo();
                let s = self.i32c(slot as i64);
                let v = self.use_reg(src);
                self.call_rt("forge_global_set", &[clo, s, v]);
            }
            Instr::NewCell { dst, src } => {
                let v = self.use_reg(src);
                let c = self.call_v("forge_cell_new", &[v]);
                self.set_reg(dst, c);
            }
            Instr::GetCell { dst, cell, name } => {
                let c = self.use_reg(cell);
                let v = self.cell_get(c, name, pc);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::SetCell { cell, src } => {
                let c = self.use_reg(cell);
                let v = self.use_reg(src);
                self.call_rt("forge_cell_set", &[c, v]);
            }
            Instr::GetUpval { dst, idx, name } => {
                // Inline from the cell's word; an unbound variable takes the runtime
                // path, which reports it.
                let addr = self.upslots[&idx];
                let w = self.b.ins().load(types::I64, MemFlagsData::trusted(), addr, 0);
                let unbound = self.b.ins().icmp_imm_s(IntCC::Equal, w, L::UNDEF_BITS as i64);
                let bound = self.b.create_block();
                let slow = self.b.create_block();
                let join = self.b.create_block();
                self.b.append_block_param(join, types::I64);
                self.b.set_cold_block(slow);
                self.b.ins().brif(unbound, slow, &[], bound, &[]);
                self.b.switch_to_block(slow);
                let clo = self.clo();
                let i = self.i32c(idx as i64);
                let site = self.site(pc);
                let (p, l) = self.name_arg(name);
                let v = self.call_v("forge_upval_get", &[cx, clo, i, site, p, l]);
                self.check(v, pc);
                self.b.ins().jump(join, &[v.into()]);
                self.b.switch_to_block(bound);
                self.retain(w);
                self.b.ins().jump(join, &[w.into()]);
                self.b.switch_to_block(join);
                let v = self.b.block_params(join)[0];
                self.set_reg(dst, v);
            }
            Instr::SetUpval { idx, src } => {
                let addr = self.upslots[&idx];
                let v = self.use_reg(src);
                if self.facts.copy_counts(pc, src) {
                    self.retain(v);
                }
                let old = self.b.ins().load(types::I64, MemFlagsData::trusted(), addr, 0);
                self.b.ins().store(MemFlagsData::trusted(), v, addr, 0);
                self.release(old);
            }
            Instr::Arith { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let v = if op != ArithOp::Mod && self.floats(pc, a, Some(b)) {
                    let (fa, fb) = (self.f64_of(x), self.f64_of(y));
                    self.float_arith(op, fa, fb)
                } else if op != ArithOp::Mod && self.floats(pc, a, None) && self.float_result(pc, op, b) {
                    self.mixed_arith(op, x, y, true, pc)
                } else if op != ArithOp::Mod && self.floats(pc, b, None) && self.float_result(pc, op, a) {
                    self.mixed_arith(op, y, x, false, pc)
                } else {
                    self.arith(op, x, y, None, pc)
                };
                self.set_reg(dst, v);
            }
            Instr::ArithI { op, dst, a, imm } => {
                let x = self.use_reg(a);
                let v = if op != ArithOp::Mod && self.floats(pc, a, None) {
                    let fa = self.f64_of(x);
                    let fb = self.b.ins().f64const(imm as f64);
                    self.float_arith(op, fa, fb)
                } else {
                    let y = self.iconst(int_word(imm as i64));
                    self.arith(op, x, y, Some(imm as i64), pc)
                };
                self.set_reg(dst, v);
            }
            Instr::Compare { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let t = if self.floats(pc, a, Some(b)) {
                    let (fa, fb) = (self.f64_of(x), self.f64_of(y));
                    self.float_compare(op, fa, fb)
                } else {
                    self.compare(op, x, y, pc)
                };
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::CompareI { op, dst, a, imm } => {
                let x = self.use_reg(a);
                let t = if self.floats(pc, a, None) {
                    let fa = self.f64_of(x);
                    let fb = self.b.ins().f64const(imm as f64);
                    self.float_compare(op, fa, fb)
                } else {
                    let y = self.iconst(int_word(imm as i64));
                    self.compare(op, x, y, pc)
                };
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::CompareLenient { op, dst, a, b } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let o = self.i32c(cmp_code(op));
                let v = self.call_v("forge_compare_lenient", &[o, x, y]);
                self.set_reg(dst, v);
            }
            Instr::JmpIfNotCmp { op, a, b, target } => {
                let x = self.use_reg(a);
                let y = self.use_reg(b);
                let t = if self.floats(pc, a, Some(b)) {
                    let (fa, fb) = (self.f64_of(x), self.f64_of(y));
                    self.float_compare(op, fa, fb)
                } else {
                    self.compare(op, x, y, pc)
                };
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(t, next, &[], tgt, &[]);
                return Ok(true);
            }
            Instr::JmpIfNotCmpI { op, a, imm, target } => {
                let x = self.use_reg(a);
                let t = if self.floats(pc, a, None) {
                    let fa = self.f64_of(x);
                    let fb = self.b.ins().f64const(imm as f64);
                    self.float_compare(op, fa, fb)
                } else {
                    let y = self.iconst(int_word(imm as i64));
                    self.compare(op, x, y, pc)
                };
                let next = self.blocks[&(pc + 1)];
                let tgt = self.blocks[&(target as usize)];
                self.b.ins().brif(t, next, &[], tgt, &[]);
                return Ok(true);
            }
            Instr::Neg { dst, src } => {
                let x = self.use_reg(src);
                let v = self.call_v("forge_neg", &[cx, x]);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::Not { dst, src } | Instr::Truthy { dst, src } => {
                let x = self.use_reg(src);
                let t = self.truthy_at(pc, src, x);
                let t = if matches!(ins, Instr::Not { .. }) { self.b.ins().bxor_imm_u(t, 1) } else { t };
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::Jmp { target } => {
                let tgt = self.blocks[&(target as usize)];
                if (target as usize) <= pc {
                    // A backward jump is a safe point for due `schedule` blocks.
                    let s = self.b.ins().load(types::I32, MemFlagsData::trusted(), cx, forge_abi::abi::CTX_SCHEDULES);
                    let due = self.b.create_block();
                    self.b.set_cold_block(due);
                    self.b.ins().brif(s, due, &[], tgt, &[]);
                    self.b.switch_to_block(due);
                    let v = self.call_v("forge_run_due", &[cx]);
                    let stack = self.cur_stack.clone();
                    self.check_with(v, (target as usize).saturating_sub(1), &stack);
                }
                self.b.ins().jump(tgt, &[]);
                return Ok(true);
            }
            Instr::JmpIf { cond, target } | Instr::JmpIfNot { cond, target } => {
                let x = self.use_reg(cond);
                let t = self.truthy_at(pc, cond, x);
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
                let nn = self.i32c(n as i64);
                let v = self.call_v("forge_array_new", &[arr, nn]);
                self.set_reg(dst, v);
            }
            Instr::ArrayExtend { arr, src } => {
                let v = self.use_reg(src);
                self.update_reg(arr, |t, addr| {
                    t.call_rt("forge_array_extend", &[addr, v]);
                });
            }
            Instr::NewObject { dst } => {
                let v = self.call_v("forge_object_new", &[]);
                self.set_reg(dst, v);
            }
            Instr::ObjInsert { obj, key, src } => {
                // The key is the site's immortal string constant, made once.
                let v = self.use_reg(src);
                let (p, l) = self.kstr(key)?;
                let (_, _, cache) = self.pre.str_consts[&key];
                let k = self.cached_const(cache, "forge_const_str", &[p, l]);
                self.update_reg(obj, |t, addr| {
                    t.call_rt("forge_obj_insert_key", &[addr, k, v]);
                });
            }
            Instr::NewStruct { dst, name } => {
                let (p, l) = self.kstr(name)?;
                let clo = self.clo();
                let v = self.call_v("forge_struct_new", &[clo, p, l]);
                self.set_reg(dst, v);
            }
            Instr::FinishStruct { obj, name } => {
                let (p, l) = self.kstr(name)?;
                self.update_reg(obj, |t, addr| {
                    t.call_rt("forge_struct_finish", &[addr, p, l]);
                });
            }
            Instr::GetField { dst, obj, name } => {
                let o = self.use_reg(obj);
                let (p, l) = self.kstr(name)?;
                let clo = self.clo();
                let v = self.call_v("forge_get_field", &[cx, clo, o, p, l]);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::GetIndex { dst, obj, idx } => {
                let o = self.use_reg(obj);
                let i = self.use_reg(idx);
                let v = self.call_v("forge_get_index", &[cx, o, i]);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::SetPath { path, src } => {
                let info = &self.p.paths[path as usize];
                let idx_regs: Vec<Option<ir::Reg>> = info
                    .steps
                    .iter()
                    .map(|s| match s {
                        PathStep::Index(r) => Some(*r),
                        PathStep::Field(_) => None,
                    })
                    .collect();
                let root = info.root;
                let (idx_slot, idx_addr) = self.slot(idx_regs.len());
                for (i, r) in idx_regs.iter().enumerate() {
                    let w = match r {
                        Some(r) => self.use_reg(*r),
                        None => self.null_word(),
                    };
                    self.b.ins().stack_store(self.ptr, w, idx_slot, (i * 8) as i32);
                }
                let v = self.use_reg(src);
                let desc = self.gv_addr(self.pre.paths[path as usize]);
                let (slot, addr) = self.take_root(root);
                let st = self.call_v("forge_set_path", &[cx, addr, desc, idx_addr, v]);
                self.put_root(root, slot);
                self.check(st, pc);
            }
            Instr::PushPop { path, dst, arg, pop } => {
                let root = self.p.paths[path as usize].root;
                // `a = push(a, v)`: the push's result is `a`'s own value, so the `Move`
                // that follows is left out and the runtime returns no counted copy.
                let folded = self.push_into_root(pc, path, dst, pop);
                let a = self.use_reg(arg);
                let desc = self.gv_addr(self.pre.paths[path as usize]);
                let mode = self.i32c(if pop {
                    1
                } else if folded {
                    2
                } else {
                    0
                });
                let (slot, addr) = self.take_root(root);
                let v = self.call_v("forge_push_pop", &[cx, addr, desc, a, mode]);
                self.put_root(root, slot);
                self.check(v, pc);
                if let (true, VarRef::Reg(rr)) = (folded, root) {
                    self.skip = Some((pc + 1, rr));
                    let null = self.null_word();
                    self.set_reg(dst, null);
                } else {
                    self.set_reg(dst, v);
                }
            }
            Instr::AppendVar { path, src } => {
                let root = self.p.paths[path as usize].root;
                let y = self.use_reg(src);
                if let VarRef::Reg(rr) = root {
                    if self.p.paths[path as usize].steps.is_empty() && self.floats(pc, rr, Some(src)) {
                        // Two Floats: the sum, inline (the old word needs no release).
                        let x = self.use_reg(rr);
                        let (fa, fb) = (self.f64_of(x), self.f64_of(y));
                        let w = self.float_arith(ArithOp::Add, fa, fb);
                        self.move_into_reg(rr, w);
                        return Ok(false);
                    }
                }
                let done = self.b.create_block();
                let slow = self.b.create_block();
                // Two small Ints or two Floats add inline; the variable's current word
                // is only looked at (borrowed) for that. Not when the operand is surely
                // no number (a String constant, a Bool).
                if self.facts.not_number_before(pc, src) {
                    self.b.ins().jump(slow, &[]);
                    let unused = self.b.create_block();
                    self.b.switch_to_block(unused);
                }
                let x = match root {
                    VarRef::Reg(rr) => self.use_reg(rr),
                    VarRef::Cell(r) => {
                        let c = self.use_reg(r);
                        self.call_v("forge_cell_peek", &[c])
                    }
                    VarRef::Upval(u) => {
                        let addr = self.upslots[&u];
                        self.b.ins().load(types::I64, MemFlagsData::trusted(), addr, 0)
                    }
                    VarRef::Global(g) => {
                        let clo = self.clo();
                        let s = self.i32c(g as i64);
                        self.call_v("forge_global_peek", &[clo, s])
                    }
                };
                let a = self.is_small(x);
                let b2 = self.is_small(y);
                let both = self.b.ins().band(a, b2);
                let fast = self.b.create_block();
                let not_int = self.b.create_block();
                let store = self.b.create_block();
                self.b.append_block_param(store, types::I64);
                self.b.ins().brif(both, fast, &[], not_int, &[]);
                self.b.switch_to_block(not_int);
                let fx = self.is_float(x);
                let fy = self.is_float(y);
                let floats = self.b.ins().band(fx, fy);
                let fblk = self.b.create_block();
                self.b.ins().brif(floats, fblk, &[], slow, &[]);
                self.b.switch_to_block(fblk);
                let (fa, fb) = (self.f64_of(x), self.f64_of(y));
                let fw = self.float_arith(ArithOp::Add, fa, fb);
                self.b.ins().jump(store, &[fw.into()]);
                self.b.switch_to_block(fast);
                let p = self.payload(x);
                let q = self.payload(y);
                let sum = self.b.ins().iadd(p, q);
                let fits = self.fits48(sum);
                let iw = self.box_int(sum);
                self.b.ins().brif(fits, store, &[iw.into()], slow, &[]);
                self.b.switch_to_block(store);
                let w = self.b.block_params(store)[0];
                // The old word is a number: nothing to release.
                match root {
                    VarRef::Reg(rr) => self.move_into_reg(rr, w),
                    VarRef::Cell(r) => {
                        let c = self.use_reg(r);
                        self.call_rt("forge_cell_set", &[c, w]);
                    }
                    VarRef::Upval(u) => {
                        let addr = self.upslots[&u];
                        self.b.ins().store(MemFlagsData::trusted(), w, addr, 0);
                    }
                    VarRef::Global(g) => {
                        let clo = self.clo();
                        let s = self.i32c(g as i64);
                        self.call_rt("forge_global_set", &[clo, s, w]);
                    }
                }
                self.b.ins().jump(done, &[]);
                self.b.switch_to_block(slow);
                let desc = self.gv_addr(self.pre.paths[path as usize]);
                let st = match root {
                    VarRef::Upval(u) => {
                        // The cell's word, changed in place: `forge_append` runs no
                        // user code, so nothing sees the variable while it changes.
                        // (No closure, cell or stack slot is needed on this path.)
                        let addr = self.upslots[&u];
                        self.call_v("forge_append", &[cx, addr, desc, y])
                    }
                    _ => {
                        let (slot, addr) = self.take_root(root);
                        let st = self.call_v("forge_append", &[cx, addr, desc, y]);
                        self.put_root(root, slot);
                        st
                    }
                };
                self.check(st, pc);
                self.b.ins().jump(done, &[]);
                self.b.switch_to_block(done);
            }
            Instr::Call { dst, args, n, .. } if self.direct.get(&pc).is_some_and(|&t| self.inline_leaf(t, n)) => {
                let clo = self.clo();
                self.call_leaf_inline(pc, self.direct[&pc], clo, dst, args, n)?;
            }
            Instr::Call { dst, func, args, n }
                if self.closure_calls.get(&pc).is_some_and(|&t| self.inline_leaf(t, n)) =>
            {
                let f = self.use_reg(func);
                self.call_leaf_inline(pc, self.closure_calls[&pc], f, dst, args, n)?;
            }
            Instr::Call { dst, args, n, .. } if self.direct.contains_key(&pc) => {
                let target = self.direct[&pc];
                let callee = &self.module.protos[target as usize];
                let clo = self.clo();
                let mut call_args = vec![cx, clo];
                for i in 0..callee.n_params as usize {
                    let a = if i < n as usize {
                        self.use_reg(args + i as u16)
                    } else if callee.param_defaults[i] {
                        self.iconst(L::UNDEF_BITS)
                    } else {
                        self.null_word()
                    };
                    call_args.push(a);
                }
                let call = self.b.ins().call(self.direct_refs[&target], &call_args);
                let v = self.b.inst_results(call)[0];
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::Call { dst, func, args, n } if self.closure_calls.contains_key(&pc) => {
                // A known closure with exactly its parameters: its body, directly.
                let target = self.closure_calls[&pc];
                let f = self.use_reg(func);
                let mut call_args = vec![cx, f];
                for i in 0..n {
                    call_args.push(self.use_reg(args + i as u16));
                }
                let call = self.b.ins().call(self.direct_refs[&target], &call_args);
                let v = self.b.inst_results(call)[0];
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::Call { dst, func, args, n } => {
                let f = self.use_reg(func);
                let nn = self.i32c(n as i64);
                // A function value with native code is called through its fixed-arity
                // body when the call gives exactly its parameters, else through its
                // generic entry; anything else through the runtime.
                let obj_blk = self.b.create_block();
                let func_blk = self.b.create_block();
                let fixed_blk = self.b.create_block();
                let generic_blk = self.b.create_block();
                let native_blk = self.b.create_block();
                let slow = self.b.create_block();
                let join = self.b.create_block();
                self.b.append_block_param(native_blk, self.ptr);
                self.b.append_block_param(join, types::I64);
                let heap = self.is_heap(f);
                self.b.ins().brif(heap, obj_blk, &[], slow, &[]);
                self.b.switch_to_block(obj_blk);
                let p = self.b.ins().band_imm_u(f, L::PAYLOAD_MASK as i64);
                let kind = self.b.ins().load(types::I8, MemFlagsData::trusted(), p, L::KIND_OFFSET);
                let is_fn = self.b.ins().icmp_imm_s(IntCC::Equal, kind, forge_abi::layout::kind::FUNC as i64);
                self.b.ins().brif(is_fn, func_blk, &[], slow, &[]);
                self.b.switch_to_block(func_blk);
                let arity = self.b.ins().load(types::I64, MemFlagsData::trusted(), p, L::FUNC_ARITY_OFFSET);
                let exact = self.b.ins().icmp_imm_s(IntCC::Equal, arity, n as i64);
                self.b.ins().brif(exact, fixed_blk, &[], generic_blk, &[]);
                self.b.switch_to_block(fixed_blk);
                let body = self.b.ins().load(self.ptr, MemFlagsData::trusted(), p, L::FUNC_FIXED_OFFSET);
                let sig = self.fixed_sig_ref(n as u16);
                let mut call_args = vec![cx, f];
                for i in 0..n {
                    call_args.push(self.use_reg(args + i as u16));
                }
                let call = self.b.ins().call_indirect(sig, body, &call_args);
                let v = self.b.inst_results(call)[0];
                self.b.ins().jump(join, &[v.into()]);
                self.b.switch_to_block(generic_blk);
                let entry = self.b.ins().load(self.ptr, MemFlagsData::trusted(), p, L::FUNC_ENTRY_OFFSET);
                self.b.ins().brif(entry, native_blk, &[entry.into()], slow, &[]);
                self.b.switch_to_block(native_blk);
                let entry = self.b.block_params(native_blk)[0];
                let arr = self.words(args, n as usize);
                let call = self.b.ins().call_indirect(self.entry_sig, entry, &[cx, f, arr, nn]);
                let v = self.b.inst_results(call)[0];
                self.b.ins().jump(join, &[v.into()]);
                self.b.switch_to_block(slow);
                let clo = self.clo();
                let arr = self.words(args, n as usize);
                let v = self.call_v("forge_call", &[cx, clo, f, arr, nn]);
                self.b.ins().jump(join, &[v.into()]);
                self.b.switch_to_block(join);
                let v = self.b.block_params(join)[0];
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::CallMethod { dst, recv, name, args, n } => {
                let r = self.use_reg(recv);
                let arr = self.words(args, n as usize);
                let nn = self.i32c(n as i64);
                let (p, l) = self.kstr(name)?;
                let clo = self.clo();
                let v = self.call_v("forge_call_method", &[cx, clo, r, p, l, arr, nn]);
                self.check(v, pc);
                self.set_reg(dst, v);
            }
            Instr::Closure { dst, proto } => {
                let target = proto as usize;
                let srcs = self.upval_srcs(target);
                let n = srcs.len();
                let (slot, arr) = self.slot(n);
                let mut owned = Vec::new();
                for (i, s) in srcs.iter().enumerate() {
                    let v = match *s {
                        ir::UpvalSrc::Reg(r) => self.use_reg(r),
                        ir::UpvalSrc::Upval(u) => {
                            let clo = self.clo();
                            let iu = self.i32c(u as i64);
                            let c = self.call_v("forge_upval", &[clo, iu]);
                            owned.push(c);
                            c
                        }
                    };
                    self.b.ins().stack_store(self.ptr, v, slot, (i * 8) as i32);
                }
                let nn = self.i32c(n as i64);
                let desc = self.gv_addr(self.proto_descs[target]);
                let clo = self.clo();
                let v = self.call_v("forge_closure", &[cx, clo, desc, nn, arr]);
                for c in owned {
                    self.release(c);
                }
                self.set_reg(dst, v);
            }
            Instr::Return { src } => {
                let v = if self.facts.borrowed(src) {
                    let v = self.use_reg(src);
                    if self.facts.copy_counts(pc, src) {
                        self.retain(v);
                    }
                    v
                } else {
                    self.take_reg(src)
                };
                self.return_value(v);
                return Ok(true);
            }
            Instr::Concat { dst, start, n } => {
                let arr = self.words(start, n as usize);
                let nn = self.i32c(n as i64);
                let v = self.call_v("forge_concat", &[arr, nn]);
                self.set_reg(dst, v);
            }
            Instr::Print { kind, src } => {
                let x = self.use_reg(src);
                let k = self.i32c(kind as i64);
                self.call_rt("forge_print", &[k, x]);
            }
            Instr::ForPrep { state, src } => {
                let x = self.use_reg(src);
                let st = self.call_v("forge_for_prep", &[cx, x]);
                self.check(st, pc);
                self.retain(x);
                self.set_reg(state, x);
                let (pv, lv) = self.items[&state];
                let (slot, out) = self.slot(1);
                let ptr = self.call_v("forge_array_items", &[x, out]);
                let len = self.slot_load(slot, 0);
                self.b.def_var(pv, ptr);
                self.b.def_var(lv, len);
                let zero = self.iconst(0);
                self.b.def_var(self.steps[&state], zero);
            }
            Instr::ForNext { state, var, mode, exit } => {
                let coll = self.use_reg(state);
                let i = self.b.use_var(self.steps[&state]);
                let ex = self.blocks[&(exit as usize)];
                let next = self.b.create_block();
                if mode == ForMode::One {
                    if let Some(&(pv, lv)) = self.items.get(&state) {
                        // Over an array: the next element, inline. (The generic step
                        // below starts from the same register facts.)
                        let held = self.held.clone();
                        let ptr = self.b.use_var(pv);
                        let len = self.b.use_var(lv);
                        let is_array = self.b.ins().icmp_imm_s(IntCC::NotEqual, ptr, 0);
                        let array = self.b.create_block();
                        let generic = self.b.create_block();
                        self.b.ins().brif(is_array, array, &[], generic, &[]);
                        self.b.switch_to_block(array);
                        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, len);
                        self.for_step(more, state, i, ex);
                        let off = self.b.ins().ishl_imm_u(i, 3);
                        let at = self.b.ins().iadd(ptr, off);
                        let x = self.b.ins().load(types::I64, MemFlagsData::trusted(), at, 0);
                        self.retain(x);
                        self.set_reg(var, x);
                        self.b.ins().jump(next, &[]);
                        self.b.switch_to_block(generic);
                        self.held = held;
                    }
                }
                let (slot, out) = self.slot(2);
                let two = self.i32c((mode == ForMode::Two) as i64);
                let got = self.call_v("forge_for_next", &[coll, i, two, out]);
                self.for_step(got, state, i, ex);
                let a = self.slot_load(slot, 0);
                self.set_reg(var, a);
                let b2 = self.slot_load(slot, 1);
                if mode == ForMode::Two {
                    self.set_reg(var + 1, b2);
                } else {
                    self.release(b2);
                }
                self.b.ins().jump(next, &[]);
                self.b.switch_to_block(next);
            }
            Instr::TryBegin { .. } | Instr::TryEnd | Instr::Nop => {}
            Instr::Raise { msg } => {
                let (p, l) = self.kstr(msg)?;
                self.call_rt("forge_raise", &[cx, p, l]);
                self.fail_here(pc);
                return Ok(true);
            }
            Instr::Must { dst, src } => self.unary_checked("forge_must", dst, src, pc, true),
            Instr::Question { dst, src } => {
                let x = self.use_reg(src);
                let top = matches!(self.p.kind, ir::ProtoKind::Main | ir::ProtoKind::Task);
                let top = self.i32c(top as i64);
                let (slot, flag_addr) = self.slot(1);
                let v = self.call_v("forge_question", &[cx, x, top, flag_addr]);
                self.check(v, pc);
                let flag = self.slot_load(slot, 0);
                let ret = self.b.create_block();
                let cont = self.b.create_block();
                self.b.ins().brif(flag, ret, &[], cont, &[]);
                self.b.switch_to_block(ret);
                self.return_value(v);
                self.b.switch_to_block(cont);
                self.set_reg(dst, v);
            }
            Instr::Await { dst, src } => self.unary_checked("forge_await", dst, src, pc, false),
            Instr::Freeze { dst, src } => self.unary_checked("forge_freeze", dst, src, pc, false),
            Instr::Ask { dst, src } => self.unary_checked("forge_ask", dst, src, pc, true),
            Instr::Spawn { dst, func } => self.unary_checked("forge_spawn", dst, func, pc, true),
            Instr::Check { kind, src } => {
                let n = match kind {
                    ir::CheckKind::Between => 3,
                    ir::CheckKind::Contains => 2,
                    _ => 1,
                };
                let arr = self.words(src, n);
                let k = self.i32c(kind as i64);
                let st = self.call_v("forge_check", &[cx, k, arr]);
                self.check(st, pc);
            }
            Instr::TestVariant { dst, subject, name } => {
                let s = self.use_reg(subject);
                let (p, l) = self.kstr(name)?;
                let t = self.call_v("forge_test_variant", &[s, p, l]);
                let v = self.bool_of_i32(t);
                self.set_reg(dst, v);
            }
            Instr::VariantField { dst, subject, i } => {
                let s = self.use_reg(subject);
                let ii = self.i32c(i as i64);
                let v = self.call_v("forge_variant_field", &[s, ii]);
                self.set_reg(dst, v);
            }
            Instr::TestLiteral { dst, subject, k } => {
                let s = self.use_reg(subject);
                let (kind, payload, p, l) = match &self.p.consts[k as usize] {
                    Const::Int(i) => {
                        let pl = self.b.ins().iconst(types::I64, *i);
                        let p = self.b.ins().iconst(self.ptr, 0);
                        let l = self.b.ins().iconst(types::I64, 0);
                        (0, pl, p, l)
                    }
                    Const::Float(f) => {
                        let pl = self.b.ins().iconst(types::I64, f.to_bits() as i64);
                        let p = self.b.ins().iconst(self.ptr, 0);
                        let l = self.b.ins().iconst(types::I64, 0);
                        (1, pl, p, l)
                    }
                    Const::Str(_) => {
                        let pl = self.b.ins().iconst(types::I64, 0);
                        let (p, l) = self.kstr(k)?;
                        (2, pl, p, l)
                    }
                };
                let kk = self.i32c(kind);
                let t = self.call_v("forge_test_literal", &[s, kk, payload, p, l]);
                let v = self.bool_of_i32(t);
                self.set_reg(dst, v);
            }
            Instr::TestBool { dst, subject, which } => {
                let s = self.use_reg(subject);
                let bits = if which { L::TRUE_BITS } else { L::FALSE_BITS };
                let t = self.b.ins().icmp_imm_s(IntCC::Equal, s, bits as i64);
                let v = self.bool_word(t);
                self.set_reg(dst, v);
            }
            Instr::TestIdent { dst, subject, binding, name } => {
                let s = self.use_reg(subject);
                let bd = self.use_reg(binding);
                let (p, l) = self.kstr(name)?;
                let t = self.call_v("forge_test_ident", &[s, bd, p, l]);
                let v = self.bool_of_i32(t);
                self.set_reg(dst, v);
            }
            Instr::MatchExhaustive { subject, info } => {
                let s = self.use_reg(subject);
                let desc = self.gv_addr(self.pre.matches[info as usize]);
                let clo = self.clo();
                let st = self.call_v("forge_match_exhaustive", &[cx, clo, s, desc]);
                self.check(st, pc);
            }
            Instr::DefStruct { info, start, dst } => {
                let n = self.p.structs[info as usize].defaults.len();
                let arr = self.words(start, n);
                let desc = self.gv_addr(self.pre.structs[info as usize]);
                let clo = self.clo();
                let v = self.call_v("forge_def_struct", &[clo, desc, arr]);
                self.set_reg(dst, v);
            }
            Instr::DefAdt { info, dst } => {
                let n = self.p.adts[info as usize].variants.len();
                let (slot, out) = self.slot(n);
                let desc = self.gv_addr(self.pre.adts[info as usize]);
                let clo = self.clo();
                self.call_rt("forge_def_adt", &[clo, desc, out]);
                self.regs_from_slot(slot, dst, n);
            }
            Instr::DefImpl { info, start } => {
                let n = self.p.impls[info as usize].methods.len();
                let arr = self.words(start, n);
                let desc = self.gv_addr(self.pre.impls[info as usize]);
                let clo = self.clo();
                let st = self.call_v("forge_def_impl", &[cx, clo, desc, arr]);
                self.check(st, pc);
            }
            Instr::DefInterface { info, dst } => {
                let desc = self.gv_addr(self.pre.interfaces[info as usize]);
                let v = self.call_v("forge_def_interface", &[desc]);
                self.set_reg(dst, v);
            }
            Instr::DefPrompt { dst, name } => {
                let (p, l) = self.kstr(name)?;
                let v = self.call_v("forge_def_prompt", &[p, l]);
                self.set_reg(dst, v);
            }
            Instr::Import { info, dst } => {
                let n = self.p.imports[info as usize].names.len();
                let (slot, out) = self.slot(n);
                let desc = self.gv_addr(self.pre.imports[info as usize]);
                let clo = self.clo();
                let st = self.call_v("forge_import", &[cx, clo, desc, out]);
                self.check(st, pc);
                self.regs_from_slot(slot, dst, n);
            }
            Instr::TimeoutBegin { secs } => {
                let s = self.use_reg(secs);
                self.call_rt("forge_timeout_begin", &[cx, s]);
            }
            Instr::TimeoutEnd => {
                let st = self.call_v("forge_timeout_end", &[cx]);
                // The block is closed before its end is checked.
                let mut outer = self.cur_stack.clone();
                outer.pop();
                self.check_with(st, pc, &outer);
            }
            Instr::CheckCancel => {
                let st = self.call_v("forge_check_cancel", &[cx]);
                self.check(st, pc);
            }
            Instr::Retry { op, state, err } => {
                let (slot, addr) = self.slot(3);
                for i in 0..3u16 {
                    let w = self.use_reg(state + i);
                    self.b.ins().stack_store(self.ptr, w, slot, (i * 8) as i32);
                }
                let e = self.use_reg(err);
                let o = self.i32c(op as i64);
                let st = self.call_v("forge_retry", &[cx, o, addr, e]);
                for i in 0..3usize {
                    let w = self.slot_load(slot, i);
                    self.move_into_reg(state + i as u16, w);
                }
                self.check(st, pc);
            }
            Instr::Schedule { func, interval, unit } => {
                let f = self.use_reg(func);
                let iv = self.use_reg(interval);
                let u = self.i32c(unit as i64);
                self.call_rt("forge_schedule", &[cx, f, iv, u]);
            }
            Instr::Watch { func, path } => {
                let f = self.use_reg(func);
                let pth = self.use_reg(path);
                let st = self.call_v("forge_watch", &[cx, f, pth]);
                self.check(st, pc);
            }
            Instr::Decorator { name, args, n } => {
                let (p, l) = self.kstr(name)?;
                let arr = self.words(args, n as usize);
                let nn = self.i32c(n as i64);
                self.call_rt("forge_decorator", &[cx, p, l, arr, nn]);
            }
            Instr::CheckDestructure { src, array } => {
                let s = self.use_reg(src);
                let a = self.i32c(array as i64);
                let st = self.call_v("forge_check_destructure", &[cx, s, a]);
                self.check(st, pc);
            }
            Instr::GetKeyOr { dst, obj, name } => {
                let o = self.use_reg(obj);
                let (p, l) = self.kstr(name)?;
                let v = self.call_v("forge_get_key_or", &[o, p, l]);
                self.set_reg(dst, v);
            }
            Instr::ArrayAt { dst, arr, i } => {
                let a = self.use_reg(arr);
                let ii = self.i32c(i as i64);
                let v = self.call_v("forge_array_at", &[a, ii]);
                self.set_reg(dst, v);
            }
            Instr::ArrayRest { dst, arr, skip } => {
                let a = self.use_reg(arr);
                let s = self.i32c(skip as i64);
                let v = self.call_v("forge_array_rest", &[a, s]);
                self.set_reg(dst, v);
            }
        }
        Ok(false)
    }

    /// `R[dst] := entry(R[src])`, for entries taking `(ctx, v)` when `with_ctx` (and
    /// then checked for failure), else `(v)`.
    fn unary_checked(&mut self, entry: &str, dst: ir::Reg, src: ir::Reg, pc: usize, with_ctx: bool) {
        let x = self.use_reg(src);
        let v = if with_ctx {
            let cx = self.cx();
            let v = self.call_v(entry, &[cx, x]);
            self.check(v, pc);
            v
        } else {
            self.call_v(entry, &[x])
        };
        self.set_reg(dst, v);
    }

    /// A heap constant made once by `entry(args)` and cached in the static `slot`.
    fn cached_const(&mut self, slot: cl::GlobalValue, entry: &str, args: &[cl::Value]) -> cl::Value {
        let made: CgResult<cl::Value> = self.cached_word(slot, |t, slot_addr| {
            let v = t.call_v(entry, args);
            t.b.ins().store(MemFlagsData::trusted(), v, slot_addr, 0);
            Ok(v)
        });
        made.expect("making a constant cannot fail")
    }

    /// The word in the static `slot`, or, while that is still 0, the word `make`
    /// produces: `make` emits its code (in a cold block) and stores the word at the
    /// slot's address, which it is given, when the word may be kept.
    fn cached_word(
        &mut self,
        slot: cl::GlobalValue,
        make: impl FnOnce(&mut Self, cl::Value) -> CgResult<cl::Value>,
    ) -> CgResult<cl::Value> {
        let slot_addr = self.b.ins().symbol_value(self.ptr, slot);
        let cached = self.b.ins().load(types::I64, MemFlagsData::trusted(), slot_addr, 0);
        let make_blk = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I64);
        self.b.set_cold_block(make_blk);
        self.b.ins().brif(cached, join, &[cached.into()], make_blk, &[]);
        self.b.switch_to_block(make_blk);
        let v = make(self, slot_addr)?;
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join)[0])
    }

    fn upval_srcs(&self, target: usize) -> Vec<ir::UpvalSrc> {
        self.upvals_of.get(target).cloned().unwrap_or_default()
    }

    /// Reads a cell; `name` is a constant index, or `u32::MAX` for "no error".
    fn cell_get(&mut self, c: cl::Value, name: u32, pc: usize) -> cl::Value {
        let cx = self.cx();
        let clo = self.clo();
        let site = self.site(pc);
        let (p, l) = self.name_arg(name);
        self.call_rt("forge_cell_get", &[cx, clo, c, site, p, l]).expect("result")
    }

    /// The variable name K[name] as (bytes, length) for an unbound-variable error, or
    /// (0, -1) for none (`u32::MAX`).
    fn name_arg(&mut self, name: u32) -> (cl::Value, cl::Value) {
        if name == u32::MAX {
            (self.b.ins().iconst(self.ptr, 0), self.b.ins().iconst(types::I64, -1))
        } else {
            let (bytes, len, _) = self.pre.str_consts[&name];
            (self.b.ins().symbol_value(self.ptr, bytes), self.b.ins().iconst(types::I64, len as i64))
        }
    }

    /// Stores `n` registers starting at `start` into a stack array; returns its address.
    fn words(&mut self, start: ir::Reg, n: usize) -> cl::Value {
        let slot =
            self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (n.max(1) * 8) as u32, 3));
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
        let w = self.b.ins().select(t, tv, fv);
        self.flags.insert(w, t);
        w
    }

    /// Truthiness of register `r` holding `x` at `pc`: one comparison when it surely
    /// holds a Bool.
    fn truthy_at(&mut self, pc: usize, r: ir::Reg, x: cl::Value) -> cl::Value {
        if let Some(&t) = self.flags.get(&x) {
            // The condition dominates the word made from it.
            return t;
        }
        if self.facts.bool_before(pc, r) {
            self.b.ins().icmp_imm_s(IntCC::Equal, x, L::TRUE_BITS as i64)
        } else {
            self.truthy(x)
        }
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
    fn arith(&mut self, op: ArithOp, x: cl::Value, y: cl::Value, imm: Option<i64>, pc: usize) -> cl::Value {
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
        // Two Floats (not with a constant Int operand, and not `%`): inline IEEE
        // arithmetic, as the runtime would compute it.
        let float_ok = imm.is_none() && op != ArithOp::Mod;
        let not_int = if float_ok { self.b.create_block() } else { slow };
        if fast_ok {
            self.b.ins().brif(both, fast, &[], not_int, &[]);
        } else {
            self.b.ins().jump(not_int, &[]);
        }
        if float_ok {
            self.b.switch_to_block(not_int);
            let fx = self.is_float(x);
            let fy = self.is_float(y);
            let floats = self.b.ins().band(fx, fy);
            let fblk = self.b.create_block();
            self.b.ins().brif(floats, fblk, &[], slow, &[]);
            self.b.switch_to_block(fblk);
            let (a, c) = (self.f64_of(x), self.f64_of(y));
            let word = self.float_arith(op, a, c);
            self.b.ins().jump(join, &[word.into()]);
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
        self.check(v, pc);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// Whether a Float `op` register `other` surely gives a Float (or an error) at
    /// `pc`: not when `+` may meet a String (it concatenates).
    fn float_result(&self, pc: usize, op: ArithOp, other: ir::Reg) -> bool {
        op != ArithOp::Add || !self.facts.may_be_heap(pc, other)
    }

    /// `x op y` (not `%`) where the word `known` surely holds a Float (it is `x` when
    /// `known_left`): the other operand inline when it is a small Int (converted, as
    /// the runtime does) or a Float, through the runtime otherwise. The result is a
    /// Float (or an error), so the f64 is what the paths join on.
    fn mixed_arith(
        &mut self,
        op: ArithOp,
        known: cl::Value,
        other: cl::Value,
        known_left: bool,
        pc: usize,
    ) -> cl::Value {
        let fk = self.f64_of(known);
        let join = self.b.create_block();
        self.b.append_block_param(join, types::F64);
        let int_blk = self.b.create_block();
        let not_int = self.b.create_block();
        let float_blk = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let small = self.is_small(other);
        self.b.ins().brif(small, int_blk, &[], not_int, &[]);
        self.b.switch_to_block(int_blk);
        let i = self.payload(other);
        let fi = self.b.ins().fcvt_from_sint(types::F64, i);
        self.b.ins().jump(join, &[fi.into()]);
        self.b.switch_to_block(not_int);
        let is_f = self.is_float(other);
        self.b.ins().brif(is_f, float_blk, &[], slow, &[]);
        self.b.switch_to_block(float_blk);
        let fo = self.b.ins().bitcast(types::F64, MemFlagsData::new(), other);
        self.b.ins().jump(join, &[fo.into()]);
        self.b.switch_to_block(slow);
        let cx = self.cx();
        let o = self.b.ins().iconst(types::I32, op as i64);
        let (l, r) = if known_left { (known, other) } else { (other, known) };
        let v = self.call_v("forge_arith", &[cx, o, l, r]);
        self.check(v, pc);
        // Float ⊕ anything gives a Float or fails: the result's f64, joined so that it
        // comes out again below (a NaN stays a NaN).
        let done = self.b.create_block();
        self.b.append_block_param(done, types::F64);
        let fv = self.b.ins().bitcast(types::F64, MemFlagsData::new(), v);
        self.b.ins().jump(done, &[fv.into()]);
        self.b.switch_to_block(join);
        let fo = self.b.block_params(join)[0];
        let (fa, fb) = if known_left { (fk, fo) } else { (fo, fk) };
        let r = self.float_op(op, fa, fb);
        self.b.ins().jump(done, &[r.into()]);
        self.b.switch_to_block(done);
        let f = self.b.block_params(done)[0];
        self.float_word(f)
    }

    /// Whether register `a` (and `b`, if given) surely holds a Float at `pc`.
    fn floats(&self, pc: usize, a: ir::Reg, b: Option<ir::Reg>) -> bool {
        self.facts.float_before(pc, a) && b.is_none_or(|b| self.facts.float_before(pc, b))
    }

    /// The f64 in a Float word.
    fn f64_of(&mut self, w: cl::Value) -> cl::Value {
        if let Some(&f) = self.f64s.get(&w) {
            return f;
        }
        self.b.ins().bitcast(types::F64, MemFlagsData::new(), w)
    }

    /// The word of an f64 result; NaNs are canonicalised so they never look like a
    /// tagged value.
    fn float_word(&mut self, r: cl::Value) -> cl::Value {
        let bits = self.b.ins().bitcast(types::I64, MemFlagsData::new(), r);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, r, r);
        let canon = self.iconst(L::CANON_NAN);
        let w = self.b.ins().select(nan, canon, bits);
        // A later operation on this word uses the f64 itself (any NaN is a NaN to it).
        self.f64s.insert(w, r);
        w
    }

    /// `a op b` on two f64 (not `%`), as IEEE arithmetic like the runtime's.
    fn float_op(&mut self, op: ArithOp, a: cl::Value, b: cl::Value) -> cl::Value {
        match op {
            ArithOp::Add => self.b.ins().fadd(a, b),
            ArithOp::Sub => self.b.ins().fsub(a, b),
            ArithOp::Mul => self.b.ins().fmul(a, b),
            ArithOp::Div => self.b.ins().fdiv(a, b),
            ArithOp::Mod => unreachable!("Float % is computed by the runtime"),
        }
    }

    /// [`Self::float_op`]; the word of the result.
    fn float_arith(&mut self, op: ArithOp, a: cl::Value, b: cl::Value) -> cl::Value {
        let r = self.float_op(op, a, b);
        self.float_word(r)
    }

    /// `a op b` on two f64 as an i8 (NaN compares false, `!=` true).
    fn float_compare(&mut self, op: CmpKind, a: cl::Value, b: cl::Value) -> cl::Value {
        let fcc = match op {
            CmpKind::Eq => FloatCC::Equal,
            CmpKind::Ne => FloatCC::NotEqual,
            CmpKind::Lt => FloatCC::LessThan,
            CmpKind::Le => FloatCC::LessThanOrEqual,
            CmpKind::Gt => FloatCC::GreaterThan,
            CmpKind::Ge => FloatCC::GreaterThanOrEqual,
        };
        self.b.ins().fcmp(fcc, a, b)
    }

    /// `x op y` as an i8 with an inline small-Int path.
    fn compare(&mut self, op: CmpKind, x: cl::Value, y: cl::Value, pc: usize) -> cl::Value {
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I8);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let fast = self.b.create_block();
        let a = self.is_small(x);
        let b2 = self.is_small(y);
        let both = self.b.ins().band(a, b2);
        let not_int = self.b.create_block();
        self.b.ins().brif(both, fast, &[], not_int, &[]);
        // Two Floats: an inline IEEE comparison (NaN compares false, `!=` true).
        self.b.switch_to_block(not_int);
        let fx = self.is_float(x);
        let fy = self.is_float(y);
        let floats = self.b.ins().band(fx, fy);
        let fblk = self.b.create_block();
        self.b.ins().brif(floats, fblk, &[], slow, &[]);
        self.b.switch_to_block(fblk);
        let (fa, fb) = (self.f64_of(x), self.f64_of(y));
        let ft = self.float_compare(op, fa, fb);
        self.b.ins().jump(join, &[ft.into()]);
        self.b.switch_to_block(fast);
        // Shifting the tag out keeps the payload's order (sign in the top bit).
        let p = self.b.ins().ishl_imm_u(x, 16);
        let q = self.b.ins().ishl_imm_u(y, 16);
        let t = self.b.ins().icmp(int_cc(op), p, q);
        self.b.ins().jump(join, &[t.into()]);
        self.b.switch_to_block(slow);
        let cx = self.cx();
        let o = self.b.ins().iconst(types::I32, cmp_code(op));
        let v = self.call_rt("forge_compare", &[cx, o, x, y]).expect("result");
        self.check(v, pc);
        let t = self.b.ins().icmp_imm_s(IntCC::Equal, v, L::TRUE_BITS as i64);
        self.b.ins().jump(join, &[t.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }
}

/// The signed comparison of two Int payloads for `op`.
/// Whether the i64 `i` is in the small-Int (48-bit) range.
/// Whether word `w` is a small Int.
fn is_small(b: &mut FunctionBuilder, w: cl::Value) -> cl::Value {
    let tag = b.ins().ushr_imm_u(w, 48);
    b.ins().icmp_imm_s(IntCC::Equal, tag, TAG_INT_HI)
}

/// The payload of a small-Int word.
fn payload(b: &mut FunctionBuilder, w: cl::Value) -> cl::Value {
    let s = b.ins().ishl_imm_u(w, 16);
    b.ins().sshr_imm_u(s, 16)
}

/// The word of a payload known to fit 48 bits.
fn box_int(b: &mut FunctionBuilder, i: cl::Value) -> cl::Value {
    let m = b.ins().band_imm_u(i, L::PAYLOAD_MASK as i64);
    b.ins().bor_imm_u(m, (L::TAG_INT << 48) as i64)
}

fn fits48(b: &mut FunctionBuilder, i: cl::Value) -> cl::Value {
    let s = b.ins().ishl_imm_u(i, 16);
    let back = b.ins().sshr_imm_u(s, 16);
    b.ins().icmp(IntCC::Equal, back, i)
}

fn int_cc(op: CmpKind) -> IntCC {
    match op {
        CmpKind::Eq => IntCC::Equal,
        CmpKind::Ne => IntCC::NotEqual,
        CmpKind::Lt => IntCC::SignedLessThan,
        CmpKind::Le => IntCC::SignedLessThanOrEqual,
        CmpKind::Gt => IntCC::SignedGreaterThan,
        CmpKind::Ge => IntCC::SignedGreaterThanOrEqual,
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
