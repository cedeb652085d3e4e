//! The runtime entry points that generated code calls: one table, used by the code
//! generator to declare imports, by the JIT to bind addresses, and by a libforge test
//! that checks every entry is exported with this arity.
//!
//! Conventions: `V` is a Forge value word (`u64`, NaN-boxed, see [`crate::layout`]);
//! `P` a pointer; `I` a 64-bit integer; `W` a 32-bit integer. Value arguments are
//! *borrowed* unless the entry's doc says it consumes them; returned values are *owned*.
//! An entry that can fail returns `EXC_BITS` (or a negative status) after storing the
//! error in the context; generated code then calls `forge_trace_push` and unwinds.
//!
//! The context (`ctx`, first argument of most entries and of every compiled
//! function) starts with the fields of [`CtxHead`], which generated code reads and
//! writes directly.

/// Kinds of parameters and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A value word.
    V,
    /// A pointer.
    P,
    /// A 64-bit integer.
    I,
    /// A 32-bit integer.
    W,
}

/// One runtime entry point.
#[derive(Clone, Copy, Debug)]
pub struct RtFn {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub ret: Option<Ty>,
}

use Ty::{I, P, V, W};

macro_rules! table {
    ($( $name:ident ( $($p:ident),* ) $(-> $r:ident)? ; )*) => {
        /// Every runtime entry point. ORDER: free; look entries up by name.
        pub const RUNTIME: &[RtFn] = &[
            $( RtFn { name: stringify!($name), params: &[$($p),*], ret: table!(@ret $($r)?) }, )*
        ];
    };
    (@ret) => { None };
    (@ret $r:ident) => { Some($r) };
}

table! {
    // Memory.
    forge_retain(V);
    forge_release(V);
    // Constants: immortal objects made once per site.
    forge_const_str(P, I) -> V;
    forge_const_int(I) -> V;
    forge_builtin(P, P, I) -> V;
    // Operators (slow paths; small-int fast paths are inline).
    forge_arith(P, W, V, V) -> V;
    forge_compare(P, W, V, V) -> V;
    forge_compare_lenient(W, V, V) -> V;
    forge_neg(P, V) -> V;
    forge_truthy(V) -> W;
    // Variables.
    forge_global_get(P, V, W, P) -> V;
    forge_global_get_opt(V, W) -> V;
    forge_global_set(V, W, V);
    forge_cell_new(V) -> V;
    forge_cell_get(P, V, V, P, P, I) -> V;
    forge_cell_set(V, V);
    forge_upval(V, W) -> V;
    // Calls and closures.
    forge_call(P, V, P, W) -> V;
    forge_closure(P, V, P, W, P) -> V;
    // Output and strings.
    forge_print(W, V);
    forge_array_new(P, W) -> V;
    forge_concat(P, W) -> V;
    // Errors and frames.
    forge_raise(P, P, I) -> V;
    forge_trace_push(P, P);
    forge_error_take(P) -> V;
    forge_error_catchable(P) -> W;
    forge_depth_error(P) -> V;
}

/// The head of the context every compiled function receives. Generated code keeps
/// `depth` up to date on entry and exit (spec 03 §3.10, recursion limit).
#[repr(C)]
#[derive(Debug, Default)]
pub struct CtxHead {
    /// Active Forge frames (not counting the top level).
    pub depth: u32,
    /// The limit (512 unless configured).
    pub max_depth: u32,
}

/// Offset of `CtxHead::depth` in the context.
pub const CTX_DEPTH: i32 = 0;
/// Offset of `CtxHead::max_depth` in the context.
pub const CTX_MAX_DEPTH: i32 = 4;

/// Looks an entry up by name.
pub fn lookup(name: &str) -> Option<&'static RtFn> {
    RUNTIME.iter().find(|f| f.name == name)
}

/// A string in static data: pointer and byte length.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StrRef {
    pub ptr: *const u8,
    pub len: usize,
}

/// Static description of a compiled prototype (one per function of the program).
#[repr(C)]
#[derive(Debug)]
pub struct ProtoDesc {
    /// The generic entry: `fn(ctx, closure, args: *const u64, nargs: u32) -> u64`.
    pub entry: *const u8,
    /// The name displayed as `<fn NAME>`.
    pub name: StrRef,
    /// 0 main, 1 function, 2 lambda, 3 method, 4 task (as `ir::ProtoKind`).
    pub kind: u32,
    pub n_params: u32,
    pub module: *const ModuleDesc,
}

/// Static description of a compiled module (source file).
#[repr(C)]
#[derive(Debug)]
pub struct ModuleDesc {
    pub file: StrRef,
    pub source: StrRef,
    pub globals: *const StrRef,
    pub n_globals: usize,
    /// The module's top level.
    pub main: *const ProtoDesc,
}

/// Static description of a place where an error can leave a frame: the frame's name
/// and the position of the failing operation (or of the active call).
#[repr(C)]
#[derive(Debug)]
pub struct SiteDesc {
    pub trace_name: StrRef,
    pub file: StrRef,
    pub line: u32,
    pub col: u32,
    /// Local variable names of the function (for "did you mean" hints).
    pub locals: *const StrRef,
    pub n_locals: usize,
}

/// The symbol of the main module's descriptor in a native executable.
pub const PROGRAM_SYMBOL: &str = "forge_program";
