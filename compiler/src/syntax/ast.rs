//! The abstract syntax tree of a Forge program.
//!
//! Both syntaxes (classic and natural) parse into this one tree: `set x to 1` and
//! `let x = 1` give the same `Stmt::Let`. Every node carries a [`Span`] (byte offsets
//! into the source file), from which diagnostics and the IR line table take their
//! `line:col`. Desugaring done by the parser is limited to pure spelling variants
//! (`grab x from u` is a `Let` of a builtin call); everything with semantics of its own
//! keeps its own node so that later passes can report errors at the right place.

use std::fmt;

/// A half-open byte range `[start, end)` in one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// An identifier (or a soft keyword used as a name) with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A whole file: its top-level statements in order.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub stmts: Vec<Stmt>,
}

/// `{ stmt* }` — a statement list that opens a scope.
#[derive(Clone, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    /// An expression evaluated for its effect (also `if`, `match`, `when`, `spawn`,
    /// `safe` in statement position: their value is the statement list's value).
    Expr(Expr),
    /// `let [mut] x [: T] = e`, `set [mut] x to e`, `let {a, b} = e`,
    /// `unpack [a, ...r] from e`, `grab x from url` (value = builtin `fetch` call).
    Let {
        mutable: bool,
        target: LetTarget,
        ty: Option<TypeAnn>,
        value: Expr,
    },
    /// `t = e`, `t op= e`, `change t to e`.
    Assign {
        target: AssignTarget,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `say e` / `yell e` / `whisper e`.
    Print {
        kind: PrintKind,
        value: Expr,
    },
    /// `fn`/`define`/`async fn`/`forge` definitions, with their decorators.
    FnDef(FnDef),
    /// `struct`/`thing`.
    StructDef(StructDef),
    /// `type T = A(...) | B`.
    TypeDef(TypeDef),
    /// `interface`/`power`.
    InterfaceDef(InterfaceDef),
    /// `impl T {…}`, `impl I for T {…}`, `give T {…}`, `give T the power I {…}`.
    Impl(ImplBlock),
    /// `for [each] a[, b] in e { … }`.
    For {
        first: Name,
        second: Option<Name>,
        iterable: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Loop {
        body: Block,
    },
    /// `repeat n [times] { … }` — the body sees `_` = 0, 1, …
    Repeat {
        count: Expr,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    /// `try { … } catch name { … }`.
    Try {
        body: Block,
        catch_name: Name,
        catch_body: Block,
    },
    /// `check e`, `check e is [not] empty`, `check e between lo and hi`, `check e contains x`.
    Check {
        value: Expr,
        test: CheckTest,
    },
    /// `retry n [times] { … }`.
    Retry {
        count: Expr,
        body: Block,
    },
    /// `timeout n [seconds] { … }`.
    Timeout {
        seconds: Expr,
        body: Block,
    },
    /// `schedule [every] n [seconds|minutes|hours] { … }`.
    Schedule {
        interval: Expr,
        unit: TimeUnit,
        body: Block,
    },
    /// `watch path { … }`.
    Watch {
        path: Expr,
        body: Block,
    },
    /// `wait e [seconds]` (also `wait(e)` in statement position).
    Wait(Expr),
    /// `download url [to path]`.
    Download {
        url: Expr,
        to: Option<Expr>,
    },
    /// `crawl url`.
    Crawl(Expr),
    /// `emit e` / `yield e`: accepted and ignored; `e` is never evaluated.
    Emit,
    /// `prompt NAME(params) { system: "…" user: "…" returns: "…" }`.
    Prompt(PromptDef),
    /// `import "path"`, `import name`, `import { a, b } from "path"`.
    Import(Import),
    /// A decorator not followed by a function (`@server(port: 8080)`).
    Decorator(Decorator),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintKind {
    Say,
    Yell,
    Whisper,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
}

#[derive(Clone, Debug)]
pub enum LetTarget {
    Name(Name),
    /// `{a, b}` — each name takes the same-named key.
    Object(Vec<Name>),
    /// `[a, b, ...rest]` — plain names take elements in order; `rest` the remainder.
    Array(Vec<ArrayPatElem>),
}

#[derive(Clone, Debug)]
pub enum ArrayPatElem {
    Name(Name),
    Rest(Name),
}

/// `root(.field | [index])*` — the left side of an assignment.
#[derive(Clone, Debug)]
pub struct AssignTarget {
    pub root: Name,
    pub path: Vec<PathSeg>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum PathSeg {
    Field(Name),
    Index(Expr),
}

#[derive(Clone, Debug)]
pub enum CheckTest {
    Truthy,
    /// `is empty` (negated = false) / `is not empty` (negated = true).
    Empty {
        negated: bool,
    },
    Between(Expr, Expr),
    Contains(Expr),
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Name,
    pub ty: Option<TypeAnn>,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct FnDef {
    pub name: Name,
    pub params: Vec<Param>,
    pub ret: Option<TypeAnn>,
    pub body: Block,
    pub decorators: Vec<Decorator>,
    /// Written with `async` / `forge` (no run-time effect).
    pub is_async: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Decorator {
    pub name: Name,
    /// Arguments, each optionally named: `@get("/x")`, `@server(port: 8080)`.
    pub args: Vec<(Option<Name>, Expr)>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: Name,
    pub fields: Vec<FieldDef>,
}

#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: Name,
    pub ty: TypeAnn,
    pub default: Option<Expr>,
    /// Declared with `has` (embedding, used for delegation when `ty` is a plain name).
    pub embedded: bool,
}

#[derive(Clone, Debug)]
pub struct TypeDef {
    pub name: Name,
    pub variants: Vec<Variant>,
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub name: Name,
    /// Field type annotations; empty for a unit variant. `A()` counts as unit too.
    pub fields: Vec<TypeAnn>,
}

#[derive(Clone, Debug)]
pub struct InterfaceDef {
    pub name: Name,
    pub methods: Vec<MethodSig>,
}

#[derive(Clone, Debug)]
pub struct MethodSig {
    pub name: Name,
    pub params: Vec<Param>,
    pub ret: Option<TypeAnn>,
}

#[derive(Clone, Debug)]
pub struct ImplBlock {
    pub type_name: Name,
    /// `impl I for T` / `give T the power I`.
    pub interface: Option<Name>,
    pub methods: Vec<FnDef>,
}

#[derive(Clone, Debug)]
pub struct PromptDef {
    pub name: Name,
    pub params: Vec<Param>,
    pub system: Option<String>,
    pub user: Option<String>,
    pub returns: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub source: ImportSource,
    /// `import { a, b } from "p"`: the listed names; `None` imports every top-level
    /// function and `let`/`set` binding.
    pub names: Option<Vec<Name>>,
}

#[derive(Clone, Debug)]
pub enum ImportSource {
    /// `import "utils.fg"` / `from "utils.fg"`.
    Path(String),
    /// `import utils` / `import math`.
    Name(String),
}

/// A type annotation. `text` is the annotation exactly as written in the source
/// (interfaces report it as `return_type`).
#[derive(Clone, Debug)]
pub struct TypeAnn {
    pub kind: TypeKind,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TypeKind {
    /// `[T]`
    Array(Box<TypeAnn>),
    /// `?T`
    Optional(Box<TypeAnn>),
    /// `Int`, `Float`, `String`, `Bool`, `Json` and any other name, with optional
    /// generic arguments (`Map<String, Int>`, `Result<T, E>`).
    Named(String, Vec<TypeAnn>),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    /// A plain or raw string literal (escapes decoded).
    Str(String),
    /// An interpolated string: literal pieces and embedded expressions, in order.
    Interp(Vec<InterpPart>),
    Bool(bool),
    Null,
    /// A name (including `type` and `any` in expression position).
    Ident(String),
    /// The builtin of this name regardless of user bindings (used by desugarings such
    /// as `grab` → `fetch`, `download` → `http.download`).
    Builtin(&'static str),
    /// `[a, ...b, c]` — `Unary(Spread, e)` elements are spliced.
    Array(Vec<Expr>),
    /// `{k: v, "k2": v2}` — keys in source order (duplicates allowed).
    Object(Vec<(String, Span, Expr)>),
    /// `Name { f: v }` / `craft Name { f: v }`.
    StructLit {
        name: Name,
        fields: Vec<(Name, Expr)>,
    },
    /// `{ stmt* }` in expression position.
    Block(Block),
    /// `if c { … } [else (if …| { … })]`.
    If {
        cond: Box<Expr>,
        then: Block,
        otherwise: Option<Box<Else>>,
    },
    When {
        subject: Box<Expr>,
        arms: Vec<WhenArm>,
    },
    Match {
        subject: Box<Expr>,
        arms: Vec<MatchArm>,
    },
    /// `safe { … }`.
    Safe(Block),
    /// `spawn { … }`.
    Spawn(Block),
    /// `fn(params) { body }`.
    Lambda {
        params: Vec<Param>,
        body: Block,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a && b` / `a || b` (short-circuit, result is a Bool).
    Logical {
        and: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a |> f` — calls `f(a)`.
    Pipe {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    /// `recv.name(args)`.
    MethodCall {
        recv: Box<Expr>,
        name: Name,
        args: Vec<Expr>,
    },
    /// `obj.name`.
    Field {
        obj: Box<Expr>,
        name: Name,
    },
    /// `obj[index]`.
    Index {
        obj: Box<Expr>,
        index: Box<Expr>,
    },
    /// `e?`.
    Try(Box<Expr>),
}

#[derive(Clone, Debug)]
pub enum Else {
    If(Expr),
    Block(Block),
}

#[derive(Clone, Debug)]
pub struct WhenArm {
    pub test: WhenTest,
    pub result: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum WhenTest {
    /// `else ->` / `otherwise ->` / `nah ->`.
    Else,
    /// `[op] value ->`; no operator means equality.
    Compare(Option<CmpOp>, Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Gt,
    LtEq,
    GtEq,
    Eq,
    NotEq,
}

#[derive(Clone, Debug)]
pub struct MatchArm {
    pub pattern: Pattern,
    /// A braced body, or a single statement wrapped in a one-statement block.
    pub body: Block,
    /// True when the body was written with braces.
    pub braced: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Pattern {
    pub kind: PatternKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum PatternKind {
    Wildcard,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A bare name: a unit-variant test if it names one (or `None`), else a binding.
    Ident(String),
    /// `Name(p, …)` — `Ok`, `Err`, `Some`, `None` or an ADT variant / type name.
    Ctor {
        name: String,
        args: Vec<Pattern>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
}

impl BinOp {
    /// The operator's name in error messages (`cannot apply Add to …`).
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "Add",
            BinOp::Sub => "Sub",
            BinOp::Mul => "Mul",
            BinOp::Div => "Div",
            BinOp::Mod => "Mod",
            BinOp::Eq => "Eq",
            BinOp::NotEq => "NotEq",
            BinOp::Lt => "Lt",
            BinOp::Gt => "Gt",
            BinOp::LtEq => "LtEq",
            BinOp::GtEq => "GtEq",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
    /// `await` / `hold`.
    Await,
    Must,
    Freeze,
    Ask,
    /// `...e` (meaningful in array literals; elsewhere the operand itself).
    Spread,
}

/// A piece of an interpolated string.
#[derive(Clone, Debug)]
pub enum InterpPart {
    /// Literal text (escapes decoded).
    Lit(String),
    /// An embedded `{expression}`.
    Expr(Expr),
}
