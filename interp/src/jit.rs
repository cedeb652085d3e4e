//! `forge run --jit`: compiles the whole program with the native code generator
//! (`forgec::codegen`, the same lowering `forgec` uses) into memory and runs it on the
//! native runtime of libforge.
//!
//! This module holds the only `unsafe` of the `forge` crate: turning the JIT's
//! finished data into the module descriptor the runtime reads.

use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use forgec::ir::Module;
use libforge::abi::NativeCtx;

/// A program compiled in memory. The JIT module owns the code and must outlive every
/// run of it.
pub struct Jitted {
    module: JITModule,
    main_desc: *const forge_abi::abi::ModuleDesc,
}

/// Compiles `program`; errors name the construct the code generator cannot handle yet.
pub fn compile(program: &Module) -> Result<Jitted, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
    flags.set("preserve_frame_pointers", "true").map_err(|e| e.to_string())?;
    // As in `forgec`: the IR verifier in debug builds and under FORGE_VERIFY_IR.
    let verify = forgec::aot::verify_ir();
    flags.set("enable_verifier", if verify { "true" } else { "false" }).map_err(|e| e.to_string())?;
    let isa_builder = cranelift_native::builder().map_err(|e| e.to_string())?;
    let isa = isa_builder.finish(settings::Flags::new(flags)).map_err(|e| e.to_string())?;
    let mut builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    for (name, addr) in libforge::abi::exports() {
        builder.symbol(name, addr);
    }
    let mut module = JITModule::new(builder);
    let compiled = forgec::codegen::compile_program(&mut module, program).map_err(|e| e.0)?;
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let (ptr, _) = module.get_finalized_data(compiled.main_module_desc);
    Ok(Jitted { module, main_desc: ptr as *const forge_abi::abi::ModuleDesc })
}

/// The outcome of a native run.
pub enum Outcome {
    Done,
    Exit(i32),
    Failed(libforge::Error),
}

/// Runs a compiled program's top level.
pub fn run(j: &Jitted) -> (Outcome, NativeCtx) {
    let mut ctx = NativeCtx::new();
    // SAFETY: `main_desc` points into the JIT module's finalized data, which `j` keeps
    // alive for the duration of this call.
    let desc = unsafe { &*j.main_desc };
    let outcome = match libforge::abi::run_module(&mut ctx, desc) {
        Ok(_) => Outcome::Done,
        Err(e) => match e.is_exit() {
            Some(c) => Outcome::Exit(c),
            None => Outcome::Failed(e),
        },
    };
    let _ = &j.module;
    (outcome, ctx)
}

/// Runs a compiled program's top level again on another thread (extra server workers).
pub struct Runner {
    main_desc: *const forge_abi::abi::ModuleDesc,
}

// SAFETY: the descriptor is read-only data of the JIT module, which the main thread
// keeps alive (it runs the server) for as long as any worker runs.
unsafe impl Send for Runner {}
// SAFETY: as above; the descriptor is never written after finalisation.
unsafe impl Sync for Runner {}

/// A runner for `j`'s program; `j` must outlive every use of it.
pub fn runner(j: &Jitted) -> Runner {
    Runner { main_desc: j.main_desc }
}

impl Runner {
    pub fn run(&self) -> Outcome {
        let mut ctx = NativeCtx::new();
        // SAFETY: see the `Send` impl: the descriptor outlives the server.
        let desc = unsafe { &*self.main_desc };
        match libforge::abi::run_module(&mut ctx, desc) {
            Ok(_) => Outcome::Done,
            Err(e) => match e.is_exit() {
                Some(c) => Outcome::Exit(c),
                None => Outcome::Failed(e),
            },
        }
    }
}
