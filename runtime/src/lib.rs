//! The runtime library of native executables (`libforge.a`).
//!
//! `forgec` links the program's object file with this library. The object file
//! defines `forge_program` (a pointer to the main module's descriptor); this library
//! defines the C `main`, which sets up the runtime, runs the program's top level,
//! prints an uncaught error exactly as `forge run` does, flushes standard output and
//! returns the exit status.

use std::io::IsTerminal;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use forge_abi::abi::ModuleDesc;
use forge_abi::report::Colour;
use libforge::abi::NativeCtx;

extern "C" {
    /// Emitted by forgec: the address of the main module's descriptor.
    static forge_program: *const ModuleDesc;
    /// Emitted by forgec: the standard modules the program names (a count, then that
    /// many registration functions). Only these are linked in.
    static forge_program_modules: ProgramModules;
}

/// The layout of `forge_program_modules`.
#[repr(C)]
struct ProgramModules {
    count: usize,
    entries: [libforge::abi::CRegister; 32],
}

/// The program's descriptor, shared with the threads of extra server workers.
struct Program(&'static ModuleDesc);

impl Program {
    fn desc(&self) -> &'static ModuleDesc {
        self.0
    }
}

// SAFETY: a ModuleDesc is read-only static data of the program's object file; its raw
// pointers lead only to more static data.
unsafe impl Send for Program {}
// SAFETY: as above; nothing writes to it.
unsafe impl Sync for Program {}

/// The version of the runtime, checked by forgec against its own (a library built by
/// another forgec is never linked).
#[no_mangle]
pub static FORGE_RUNTIME_VERSION: [u8; 16] = *b"forge-rt-0.1.0\0\0";

#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    // SAFETY: `forge_program` is defined by the linked program object and points to a
    // ModuleDesc in its static data, valid for the whole run.
    let desc = unsafe { &*forge_program };
    // SAFETY: `forge_program_modules` is emitted by forgec with `count` (at most 32)
    // valid function pointers after it, in read-only data.
    let modules: &'static [libforge::abi::CRegister] = unsafe {
        let m = &*std::ptr::addr_of!(forge_program_modules);
        &m.entries[..m.count.min(32)]
    };
    libforge::abi::use_native_modules(modules);
    // Extra server workers run the whole program again on their own threads.
    let program = Program(desc);
    libforge::server::set_program_runner(Box::new(move || {
        let mut ctx = NativeCtx::new();
        let desc = program.desc();
        if let Err(e) = libforge::abi::run_module(&mut ctx, desc) {
            if e.is_exit().is_none() {
                let sources = libforge::abi::module_sources(desc);
                libforge::output::eprint(&libforge::lang::report::report(&e, &sources, Colour::Never));
            }
        }
    }));
    let mut ctx = NativeCtx::new();
    let outcome = libforge::abi::run_module(&mut ctx, desc);
    libforge::output::flush();
    let code = match outcome {
        Ok(_) => 0,
        Err(e) => match e.is_exit() {
            Some(c) => c & 0xff,
            None => {
                // Every source of the program, main first then imports depth first,
                // so that errors inside imported modules quote their own file.
                let sources = libforge::abi::module_sources(desc);
                let colour = if std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal() {
                    Colour::Always
                } else {
                    Colour::Never
                };
                let text = libforge::lang::report::report(&e, &sources, colour);
                libforge::output::eprint(&text);
                1
            }
        },
    };
    if std::env::var_os("FORGE_CHECK_LEAKS").is_some() {
        ctx.teardown();
        drop(ctx);
        let live = libforge::value::live_objects();
        if libforge::value::live_counting() && live != 0 {
            eprintln!("forge: leak check: {live} live objects at exit");
        }
    }
    code
}
