//! The runtime entry points that generated code calls: one table, used by the code
//! generator to declare imports, by the JIT to bind addresses, and by a libforge test
//! that checks every entry is exported with this arity.
//!
//! Conventions: `V` is a Forge value word (`u64`, NaN-boxed, see [`crate::layout`]);
//! `P` a pointer; `I` a 64-bit integer; `W` a 32-bit integer. Value arguments are
//! *borrowed* unless the entry's doc says it consumes them; returned values are *owned*.
//! An entry that can fail returns `EXC_BITS` after storing the error in the context
//! (entries that yield nothing return `NULL_BITS` on success); generated code then calls
//! `forge_trace_push` and unwinds. A `P` parameter documented as a root (`*mut u64`)
//! points to a stack slot holding a value word the slot owns: the entry updates it in
//! place (copy-on-write), dropping what it replaces.
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
    forge_upval_get(P, V, W, P, P, I) -> V;
    forge_upval_set(V, W, V);
    forge_global_peek(V, W) -> V;
    forge_cell_peek(V) -> V;
    forge_upval_peek(V, W) -> V;
    forge_obj_insert_key(P, V, V);
    // In-place updates of a variable: its value is moved out into a stack slot (which
    // the update entries below change through a `*mut u64`) and then moved back. The
    // `put` entries consume their value.
    forge_global_take(V, W) -> V;
    forge_global_put(V, W, V);
    forge_cell_take(V) -> V;
    forge_cell_put(V, V);
    forge_set_path(P, P, P, P, V) -> V;
    forge_push_pop(P, P, P, V, W) -> V;
    forge_append(P, P, P, V) -> V;
    forge_array_extend(P, V);
    forge_obj_insert(P, P, I, V);
    forge_struct_finish(P, P, I);
    // Calls and closures.
    forge_call(P, V, V, P, W) -> V;
    forge_call_method(P, V, V, P, I, P, W) -> V;
    forge_closure(P, V, P, W, P) -> V;
    // Output and strings.
    forge_print(W, V);
    forge_array_new(P, W) -> V;
    forge_concat(P, W) -> V;
    // Objects, fields and indexing.
    forge_object_new() -> V;
    forge_struct_new(V, P, I) -> V;
    forge_get_field(P, V, V, P, I) -> V;
    forge_get_index(P, V, V) -> V;
    forge_check_destructure(P, V, W) -> V;
    forge_get_key_or(V, P, I) -> V;
    forge_array_at(V, W) -> V;
    forge_array_rest(V, W) -> V;
    // Iteration.
    forge_for_prep(P, V) -> V;
    forge_for_next(V, I, W, P) -> W;
    forge_array_items(V, P) -> P;
    // Results, tasks and other unary operations.
    forge_must(P, V) -> V;
    forge_question(P, V, W, P) -> V;
    forge_await(V) -> V;
    forge_freeze(V) -> V;
    forge_ask(P, V) -> V;
    forge_spawn(P, V) -> V;
    forge_check(P, W, P) -> V;
    // Pattern tests of `match`.
    forge_test_variant(V, P, I) -> W;
    forge_variant_field(V, W) -> V;
    forge_test_literal(V, W, I, P, I) -> W;
    forge_test_ident(V, V, P, I) -> W;
    forge_match_exhaustive(P, V, V, P) -> V;
    // Definitions and imports.
    forge_def_struct(V, P, P) -> V;
    forge_def_adt(V, P, P);
    forge_def_impl(P, V, P, P) -> V;
    forge_def_interface(P) -> V;
    forge_def_prompt(P, I) -> V;
    forge_import(P, V, P, P) -> V;
    forge_decorator(P, P, I, P, W);
    // `timeout`, `retry`, cancellation, `schedule` and `watch`.
    forge_timeout_begin(P, V);
    forge_timeout_end(P) -> V;
    forge_timeout_unwind(P, P);
    forge_timeout_drop(P, W);
    forge_check_cancel(P) -> V;
    forge_retry(P, W, P, V) -> V;
    forge_schedule(P, V, V, W);
    forge_watch(P, V, V) -> V;
    forge_run_due(P) -> V;
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
    /// Non-zero while `schedule` blocks are active: backward jumps are then safe
    /// points where generated code calls `forge_run_due`.
    pub schedules: u32,
}

/// Offset of `CtxHead::depth` in the context.
pub const CTX_DEPTH: i32 = 0;
/// Offset of `CtxHead::max_depth` in the context.
pub const CTX_MAX_DEPTH: i32 = 4;
/// Offset of `CtxHead::schedules` in the context.
pub const CTX_SCHEDULES: i32 = 8;

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
    /// The fixed-arity body: `fn(ctx, closure, p1, …, pN) -> u64` with
    /// N = `n_params`, the parameters borrowed (what the generic entry calls).
    pub fixed: *const u8,
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
    /// The modules it imports (`ir::Module::imports`, same order).
    pub imports: *const *const ModuleDesc,
    pub n_imports: usize,
}

/// An assignment path (`ir::PathInfo` without the root, which generated code
/// resolves): the variable's name and the steps. A step is a field name, or an index
/// (a `StrRef` with a null `ptr`) whose value the caller passes in a parallel array of
/// words.
#[repr(C)]
#[derive(Debug)]
pub struct PathDesc {
    pub name: StrRef,
    pub steps: *const StrRef,
    pub n_steps: usize,
}

/// A struct definition (`ir::StructInfo`): `embeds` holds `n_embeds` (field, type)
/// pairs, two `StrRef`s each.
#[repr(C)]
#[derive(Debug)]
pub struct StructDesc {
    pub name: StrRef,
    pub defaults: *const StrRef,
    pub n_defaults: usize,
    pub embeds: *const StrRef,
    pub n_embeds: usize,
}

/// An ADT definition (`ir::AdtInfo`): variant names and field counts.
#[repr(C)]
#[derive(Debug)]
pub struct AdtDesc {
    pub name: StrRef,
    pub variants: *const StrRef,
    pub arities: *const u64,
    pub n: usize,
}

/// An `impl` block (`ir::ImplInfo`); `interface.ptr` is null when it names none.
#[repr(C)]
#[derive(Debug)]
pub struct ImplDesc {
    pub type_name: StrRef,
    pub interface: StrRef,
    pub methods: *const StrRef,
    /// Non-zero for instance methods.
    pub instance: *const u64,
    pub n: usize,
}

/// An interface (`ir::InterfaceInfo`); a return type with a null `ptr` is absent.
#[repr(C)]
#[derive(Debug)]
pub struct InterfaceDesc {
    pub name: StrRef,
    pub methods: *const StrRef,
    pub n_params: *const u64,
    pub returns: *const StrRef,
    pub n: usize,
}

/// An `import` (`ir::ImportInfo`); `module` is null when the file was missing at
/// compile time.
#[repr(C)]
#[derive(Debug)]
pub struct ImportDesc {
    pub path: StrRef,
    pub names: *const StrRef,
    pub n_names: usize,
    pub module: *const ModuleDesc,
}

/// The arms of a `match` (`ir::MatchInfo`), for the exhaustiveness check.
#[repr(C)]
#[derive(Debug)]
pub struct MatchDesc {
    pub named: *const StrRef,
    pub n_named: usize,
    pub idents: *const StrRef,
    pub n_idents: usize,
    pub has_wildcard: u64,
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
