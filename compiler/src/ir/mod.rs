//! The IR: register bytecode, the one program form every tier runs.
//!
//! A [`Module`] is one source file compiled: its prototypes (functions), its global
//! names, its source text (for error excerpts) and side tables. Prototype 0 is the
//! file's top level (`<main>`). Registers are numbered per prototype; parameters occupy
//! registers `0..n_params`. Every instruction has a source position (line, col) in
//! [`Proto::pos`], recorded before anything that can fail, so every tier reports
//! errors at the same place.
//!
//! The instruction set is [`Instr`]; its documentation is the reference for the VM,
//! the code generator and [`verify`]. Instructions are plain data (`Copy`), checked
//! by [`verify`] before any tier runs them.

pub mod dump;
pub mod fgc;
pub mod lower;
pub mod regs;
pub mod server;
pub mod verify;

use std::sync::Arc;

pub type Reg = u16;

/// A compiled source file.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// The file name as given on the command line (or the import path).
    pub file: String,
    /// The source text (runtime error excerpts quote it).
    pub source: String,
    pub protos: Vec<Arc<Proto>>,
    /// Global slot names. Slot `i` of the module environment holds `globals[i]`.
    pub globals: Vec<String>,
    /// Modules imported by this one, compiled ahead (see [`ImportInfo::module`]).
    pub imports: Vec<Arc<Module>>,
}

/// A function body (or the top level, a lambda, a method, a spawned block).
#[derive(Clone, Debug, Default)]
pub struct Proto {
    /// The name in stack traces: `fib`, `Box.get`, `<lambda>`, `<task>`, `<main>`.
    pub trace_name: String,
    /// The name displayed as `<fn NAME>`.
    pub name: String,
    pub kind: ProtoKind,
    pub n_params: u16,
    /// Parameters that have a default value (missing arguments arrive as `UNDEF`).
    pub param_defaults: Vec<bool>,
    pub n_regs: u16,
    pub consts: Vec<Const>,
    pub code: Vec<Instr>,
    /// Source position (line, col) of each instruction.
    pub pos: Vec<(u32, u32)>,
    /// How a closure of this prototype captures each upvalue, from its creator.
    pub upvals: Vec<UpvalSrc>,
    /// Nested prototypes are referenced by module-wide index in `Closure`.
    pub local_names: Vec<String>,
    /// Side tables referenced by index from instructions.
    pub paths: Vec<PathInfo>,
    pub structs: Vec<StructInfo>,
    pub adts: Vec<AdtInfo>,
    pub impls: Vec<ImplInfo>,
    pub interfaces: Vec<InterfaceInfo>,
    pub imports: Vec<ImportInfo>,
    pub matches: Vec<MatchInfo>,
    /// Opaque words a tier may cache per prototype (the VM keeps its constants here as
    /// immortal runtime values, made once). Not part of the IR's meaning: never
    /// serialized, never compared.
    pub runtime_cache: std::sync::OnceLock<Box<[u64]>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProtoKind {
    #[default]
    Main,
    Function,
    Lambda,
    Method,
    Task,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i64),
    Float(f64),
    Str(String),
}

/// Where a closure finds a captured cell when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpvalSrc {
    /// The creator's register, which holds a cell.
    Reg(Reg),
    /// The creator's own upvalue.
    Upval(u16),
}

/// Where the root of an assignment path lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarRef {
    Reg(Reg),
    /// A register holding a cell.
    Cell(Reg),
    Upval(u16),
    Global(u32),
}

/// `x.a[i].b = v`: the root variable and each step.
#[derive(Clone, Debug)]
pub struct PathInfo {
    pub root: VarRef,
    /// The variable's name (for error messages).
    pub name: String,
    /// For each step: a field name, or an index held in a register.
    pub steps: Vec<PathStep>,
}

#[derive(Clone, Debug)]
pub enum PathStep {
    Field(String),
    Index(Reg),
}

#[derive(Clone, Debug)]
pub struct StructInfo {
    pub name: String,
    /// Fields with a default, in declaration order (values in consecutive registers).
    pub defaults: Vec<String>,
    /// `has` fields whose type is a plain name: (field, type).
    pub embeds: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct AdtInfo {
    pub name: String,
    /// Variant names and field counts, in declaration order.
    pub variants: Vec<(String, u16)>,
}

#[derive(Clone, Debug)]
pub struct ImplInfo {
    pub type_name: String,
    pub interface: Option<String>,
    /// Method names (their closures are in consecutive registers).
    pub methods: Vec<String>,
    /// Whether each method is an instance method (first parameter named `it`).
    pub instance: Vec<bool>,
}

#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    pub name: String,
    /// Method name, parameter count, return-type annotation text.
    pub methods: Vec<(String, u16, Option<String>)>,
}

#[derive(Clone, Debug)]
pub struct ImportInfo {
    /// The path as written (a string, or a bare name).
    pub path: String,
    /// The names to bind, in register order.
    pub names: Vec<String>,
    /// The imported module compiled ahead of time (index into `Module::imports`), when
    /// the file existed at compile time.
    pub module: Option<u32>,
}

/// The arms of a `match` over an ADT value, for the exhaustiveness check.
#[derive(Clone, Debug)]
pub struct MatchInfo {
    /// Variant names the arms name (as `V(…)` or bare `V`).
    pub named: Vec<String>,
    /// Bare identifier patterns that may bind anything unless they name a variant.
    pub idents: Vec<String>,
    pub has_wildcard: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Null,
    True,
    False,
    None,
    Undef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpKind {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintKind {
    Say,
    Yell,
    Whisper,
}

/// What a `for` loop binds each iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForMode {
    /// One name.
    One,
    /// Two names.
    Two,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    Truthy,
    Empty,
    NotEmpty,
    /// lo and hi in the two registers after the value's.
    Between,
    /// The needle in the register after the value's.
    Contains,
}

/// One instruction. `R[x]` is register x, `K[k]` constant k, `G[g]` global slot g,
/// `U[u]` the content of upvalue cell u. Jump targets are instruction indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// R[dst] := K[k]
    LoadK { dst: Reg, k: u32 },
    /// R[dst] := the small integer v
    LoadInt { dst: Reg, v: i32 },
    /// R[dst] := null / true / false / None / (unbound)
    LoadSpecial { dst: Reg, which: Special },
    /// R[dst] := the global builtin named K[name]
    LoadBuiltin { dst: Reg, name: u32 },
    /// R[dst] := R[src]
    Move { dst: Reg, src: Reg },
    /// R[dst] := G[slot]; an unbound slot fails with `undefined variable`
    GetGlobal { dst: Reg, slot: u32 },
    /// R[dst] := G[slot], unbound slots read as UNDEF (no error)
    GetGlobalOpt { dst: Reg, slot: u32 },
    /// G[slot] := R[src]
    SetGlobal { slot: u32, src: Reg },
    /// R[dst] := a new cell holding R[src]
    NewCell { dst: Reg, src: Reg },
    /// R[dst] := content of the cell in R[cell]; unbound fails (name K[name])
    GetCell { dst: Reg, cell: Reg, name: u32 },
    /// content of the cell in R[cell] := R[src]
    SetCell { cell: Reg, src: Reg },
    /// R[dst] := U[idx]; unbound fails (name K[name])
    GetUpval { dst: Reg, idx: u16, name: u32 },
    /// U[idx] := R[src]
    SetUpval { idx: u16, src: Reg },
    /// R[dst] := R[a] op R[b]
    Arith { op: ArithOp, dst: Reg, a: Reg, b: Reg },
    /// R[dst] := R[a] op imm (imm a small Int constant)
    ArithI { op: ArithOp, dst: Reg, a: Reg, imm: i32 },
    /// R[dst] := R[a] cmp R[b]  (a Bool)
    Compare { op: CmpKind, dst: Reg, a: Reg, b: Reg },
    /// R[dst] := R[a] cmp imm
    CompareI { op: CmpKind, dst: Reg, a: Reg, imm: i32 },
    /// if !(R[a] cmp R[b]) pc := target
    JmpIfNotCmp { op: CmpKind, a: Reg, b: Reg, target: u32 },
    /// if !(R[a] cmp imm) pc := target
    JmpIfNotCmpI { op: CmpKind, a: Reg, imm: i32, target: u32 },
    /// R[dst] := R[a] cmp R[b] for `when` arms: never fails (false when incomparable)
    CompareLenient { op: CmpKind, dst: Reg, a: Reg, b: Reg },
    /// R[dst] := -R[src]
    Neg { dst: Reg, src: Reg },
    /// R[dst] := !truthy(R[src])
    Not { dst: Reg, src: Reg },
    /// R[dst] := truthy(R[src])
    Truthy { dst: Reg, src: Reg },
    /// pc := target
    Jmp { target: u32 },
    /// if truthy(R[cond]) pc := target
    JmpIf { cond: Reg, target: u32 },
    /// if !truthy(R[cond]) pc := target
    JmpIfNot { cond: Reg, target: u32 },
    /// if R[src] is not UNDEF, pc := target (parameter defaults)
    JmpIfDefined { src: Reg, target: u32 },
    /// R[dst] := [R[start], …, R[start+n-1]]
    NewArray { dst: Reg, start: Reg, n: u16 },
    /// R[arr] := R[arr] with the elements of R[src] appended (spread), or R[src]
    /// itself when it is not an array
    ArrayExtend { arr: Reg, src: Reg },
    /// R[dst] := {}
    NewObject { dst: Reg },
    /// R[obj][K[key]] := R[src] (object literal entry)
    ObjInsert { obj: Reg, key: u32, src: Reg },
    /// R[dst] := struct literal of type K[name]: the recorded defaults
    NewStruct { dst: Reg, name: u32 },
    /// R[obj]["__type__"] := K[name] (appended last)
    FinishStruct { obj: Reg, name: u32 },
    /// R[dst] := R[obj].K[name]
    GetField { dst: Reg, obj: Reg, name: u32 },
    /// R[dst] := R[obj][R[idx]]
    GetIndex { dst: Reg, obj: Reg, idx: Reg },
    /// assignment through path `paths[path]` of R[src]
    SetPath { path: u16, src: Reg },
    /// in-place `push`/`pop` on the variable of `paths[path]` (a path with no steps):
    /// R[dst] := the new array (push of R[arg]) or the removed element (pop)
    PushPop { path: u16, dst: Reg, arg: Reg, pop: bool },
    /// `x = x + e` on a string or number variable, appending in place when unshared
    AppendVar { path: u16, src: Reg },
    /// R[dst] := call R[func] with R[args..args+n]
    Call { dst: Reg, func: Reg, args: Reg, n: u8 },
    /// R[dst] := R[recv].K[name](R[args..args+n])
    CallMethod { dst: Reg, recv: Reg, name: u32, args: Reg, n: u8 },
    /// return R[src]
    Return { src: Reg },
    /// R[dst] := closure of module prototype `proto` (capturing per its upvals)
    Closure { dst: Reg, proto: u32 },
    /// R[dst] := concatenated display renderings of R[start..start+n]
    Concat { dst: Reg, start: Reg, n: u16 },
    /// print R[src] (say / yell / whisper)
    Print { kind: PrintKind, src: Reg },
    /// prepare iteration over R[src]: R[state] := collection, R[state+1] := 0
    ForPrep { state: Reg, src: Reg },
    /// next iteration: bind R[var] (and R[var+1] in mode Two) or jump to `exit`
    ForNext { state: Reg, var: Reg, mode: ForMode, exit: u32 },
    /// push an error handler: on error jump to `handler` with the error object in
    /// R[err]; handlers are popped by `TryEnd` or when taken
    TryBegin { handler: u32, err: Reg },
    /// pop the innermost handler
    TryEnd,
    /// fail with the message K[msg]
    Raise { msg: u32 },
    /// R[dst] := `must R[src]`
    Must { dst: Reg, src: Reg },
    /// R[dst] := `R[src]?` (Err returns it from the function)
    Question { dst: Reg, src: Reg },
    /// R[dst] := await R[src]
    Await { dst: Reg, src: Reg },
    /// R[dst] := freeze R[src]
    Freeze { dst: Reg, src: Reg },
    /// R[dst] := ask R[src]
    Ask { dst: Reg, src: Reg },
    /// R[dst] := task handle running the zero-parameter closure R[func]
    Spawn { dst: Reg, func: Reg },
    /// `check` on R[src] (operands in following registers per kind)
    Check { kind: CheckKind, src: Reg },
    /// R[dst] := whether R[subject] matches the variant/type named K[name] (ADT
    /// variants and Ok/Err/Some/None)
    TestVariant { dst: Reg, subject: Reg, name: u32 },
    /// R[dst] := field i of R[subject] (`_i` of an ADT value, the content of
    /// Ok/Err/Some for i = 0); UNDEF when absent
    VariantField { dst: Reg, subject: Reg, i: u16 },
    /// R[dst] := R[subject] has the same kind as K[k] and equals it
    TestLiteral { dst: Reg, subject: Reg, k: u32 },
    /// R[dst] := R[subject] is the Bool `which`
    TestBool { dst: Reg, subject: Reg, which: bool },
    /// R[dst] := whether identifier pattern K[name] (currently bound to R[binding])
    /// matches R[subject]: a variant test if the binding is the unit ADT value of
    /// that variant (or None), else true
    TestIdent { dst: Reg, subject: Reg, binding: Reg, name: u32 },
    /// R[dst] := R[src] is not UNDEF
    IsDefined { dst: Reg, src: Reg },
    /// ADT exhaustiveness check of `matches[info]` against R[subject]
    MatchExhaustive { subject: Reg, info: u16 },
    /// define struct `structs[info]`; defaults in R[start..]; R[dst] := type value
    DefStruct { info: u16, start: Reg, dst: Reg },
    /// define ADT `adts[info]`; R[dst..dst+n] := one value per variant
    DefAdt { info: u16, dst: Reg },
    /// register methods `impls[info]` from closures in R[start..]
    DefImpl { info: u16, start: Reg },
    /// R[dst] := interface value `interfaces[info]`
    DefInterface { info: u16, dst: Reg },
    /// R[dst] := prompt value named K[name]
    DefPrompt { dst: Reg, name: u32 },
    /// run import `imports[info]`; R[dst..] := the imported names' values
    Import { info: u16, dst: Reg },
    /// enter a `timeout` block of R[secs] seconds
    TimeoutBegin { secs: Reg },
    /// leave a `timeout` block (fails if it ran out)
    TimeoutEnd,
    /// cooperative cancellation point (statement start inside `timeout`)
    CheckCancel,
    /// `retry` bookkeeping: R[state] = count, R[state+1] = attempt, R[state+2] =
    /// last message. Op 0: normalise the count; 1: start an attempt or fail; 2: record
    /// the failure in R[err] and back off.
    Retry { op: u8, state: Reg, err: Reg },
    /// start a background repetition of closure R[func] every R[interval] units
    Schedule { func: Reg, interval: Reg, unit: u8 },
    /// start watching path R[path], running closure R[func] on change
    Watch { func: Reg, path: Reg },
    /// record decorator K[name] with the values R[args..args+n]: a standalone decorator
    /// (`@server(port: 80)`) has its arguments there; a decorator attached to a function
    /// is named with a leading `@` (`@test`) and R[args] is the function, followed by its
    /// arguments
    Decorator { name: u32, args: Reg, n: u8 },
    /// fail with `cannot destructure non-object` / `non-array` unless R[src] fits
    CheckDestructure { src: Reg, array: bool },
    /// R[dst] := R[obj][K[name]], or null when absent
    GetKeyOr { dst: Reg, obj: Reg, name: u32 },
    /// R[dst] := R[arr][i], or null when absent
    ArrayAt { dst: Reg, arr: Reg, i: u16 },
    /// R[dst] := R[arr] without its first `skip` elements
    ArrayRest { dst: Reg, arr: Reg, skip: u16 },
    /// no operation
    Nop,
}

impl Instr {
    /// The instruction index a branch may continue at (besides the next one), for every
    /// instruction that jumps. `TryBegin`'s handler is not a jump target: it is reached
    /// only through an error.
    pub fn jump_target(&self) -> Option<u32> {
        match *self {
            Instr::Jmp { target }
            | Instr::JmpIf { target, .. }
            | Instr::JmpIfNot { target, .. }
            | Instr::JmpIfDefined { target, .. }
            | Instr::JmpIfNotCmp { target, .. }
            | Instr::JmpIfNotCmpI { target, .. }
            | Instr::ForNext { exit: target, .. } => Some(target),
            _ => None,
        }
    }

    /// Whether execution may go on with the next instruction.
    pub fn falls_through(&self) -> bool {
        !matches!(self, Instr::Jmp { .. } | Instr::Return { .. } | Instr::Raise { .. })
    }
}

impl Module {
    /// The prototype at module-wide index `i`.
    pub fn proto(&self, i: u32) -> &Arc<Proto> {
        &self.protos[i as usize]
    }
}
