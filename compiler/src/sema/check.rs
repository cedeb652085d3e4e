//! The gradual type checker (spec 05 §5.8).
//!
//! It infers a type for what it can see (literals, operators, annotated variables,
//! calls of known functions, a few builtins) and reports only clear mismatches with a
//! declared annotation, arity errors of known functions, and struct literals passed
//! where an interface is expected but lacking a method. Everything else is `Unknown`,
//! which is compatible with every type.

use std::fmt;

use rustc_hash::FxHashMap;

use crate::syntax::ast::{self, Expr, ExprKind, Stmt, StmtKind, TypeAnn, TypeKind};

/// A type as the checker sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Unknown,
    Int,
    Float,
    Str,
    Bool,
    Null,
    Object,
    Array(Box<Ty>),
    Optional(Box<Ty>),
    Result,
    Func(Box<Ty>),
    Named(String),
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Unknown => f.write_str("Unknown"),
            Ty::Int => f.write_str("Int"),
            Ty::Float => f.write_str("Float"),
            Ty::Str => f.write_str("String"),
            Ty::Bool => f.write_str("Bool"),
            Ty::Null => f.write_str("Null"),
            Ty::Object => f.write_str("Object"),
            Ty::Array(t) => write!(f, "[{t}]"),
            Ty::Optional(t) => write!(f, "?{t}"),
            Ty::Result => f.write_str("Result<Unknown, Unknown>"),
            Ty::Func(r) => write!(f, "fn(…) -> {r}"),
            Ty::Named(n) => f.write_str(n),
        }
    }
}

/// The type an annotation denotes (names are case-insensitive, spec 05 §5.7).
pub fn from_annotation(t: &TypeAnn) -> Ty {
    match &t.kind {
        TypeKind::Array(inner) => Ty::Array(Box::new(from_annotation(inner))),
        TypeKind::Optional(inner) => Ty::Optional(Box::new(from_annotation(inner))),
        TypeKind::Named(name, args) => match name.to_ascii_lowercase().as_str() {
            "int" | "i64" | "integer" => Ty::Int,
            "float" | "f64" | "number" => Ty::Float,
            "string" | "str" => Ty::Str,
            "bool" | "boolean" => Ty::Bool,
            "null" | "void" => Ty::Null,
            "object" | "json" => Ty::Object,
            "any" => Ty::Unknown,
            "option" => Ty::Optional(Box::new(args.first().map(from_annotation).unwrap_or(Ty::Unknown))),
            "result" => Ty::Result,
            _ => Ty::Named(name.clone()),
        },
    }
}

/// Whether a value of type `u` may be used where `t` is expected.
pub fn compatible(t: &Ty, u: &Ty) -> bool {
    match (t, u) {
        (Ty::Unknown, _) | (_, Ty::Unknown) => true,
        (a, b) if a == b => true,
        (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => true,
        (Ty::Optional(_), Ty::Null) => true,
        (Ty::Optional(v), Ty::Optional(w)) => compatible(v, w),
        (Ty::Optional(v), w) => compatible(v, w),
        (Ty::Array(v), Ty::Array(w)) => compatible(v, w),
        (Ty::Result, Ty::Result) => true,
        _ => false,
    }
}

#[derive(Clone)]
struct FnSig {
    params: Vec<(Option<Ty>, bool)>,
    ret: Ty,
}

struct Checker {
    findings: Vec<String>,
    vars: FxHashMap<String, Ty>,
    fns: FxHashMap<String, FnSig>,
    /// Struct name → field names.
    structs: FxHashMap<String, Vec<String>>,
    /// Interface name → method names.
    interfaces: FxHashMap<String, Vec<String>>,
    /// Declared return type of each enclosing function.
    returns: Vec<Option<Ty>>,
}

/// Checks a program; returns the findings in program order.
pub fn check(program: &ast::Program) -> Vec<String> {
    let mut c = Checker {
        findings: Vec::new(),
        vars: FxHashMap::default(),
        fns: FxHashMap::default(),
        structs: FxHashMap::default(),
        interfaces: FxHashMap::default(),
        returns: Vec::new(),
    };
    for s in &program.stmts {
        match &s.kind {
            StmtKind::FnDef(fd) => c.declare_fn(fd),
            StmtKind::StructDef(sd) => {
                c.structs.insert(sd.name.text.clone(), sd.fields.iter().map(|f| f.name.text.clone()).collect());
            }
            StmtKind::InterfaceDef(i) => {
                c.interfaces.insert(i.name.text.clone(), i.methods.iter().map(|m| m.name.text.clone()).collect());
            }
            _ => {}
        }
    }
    c.stmts(&program.stmts);
    c.findings
}

impl Checker {
    fn declare_fn(&mut self, fd: &ast::FnDef) {
        let params = fd.params.iter().map(|p| (p.ty.as_ref().map(from_annotation), p.default.is_some())).collect();
        let ret = fd.ret.as_ref().map(from_annotation).unwrap_or(Ty::Unknown);
        self.fns.insert(fd.name.text.clone(), FnSig { params, ret });
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn block(&mut self, b: &ast::Block) {
        self.stmts(&b.stmts);
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) | StmtKind::Wait(e) | StmtKind::Crawl(e) => {
                self.infer(e);
            }
            StmtKind::Let { target, ty, value, .. } => {
                let u = self.infer(value);
                if let ast::LetTarget::Name(n) = target {
                    match ty.as_ref().map(from_annotation) {
                        Some(t) => {
                            if !compatible(&t, &u) {
                                self.findings
                                    .push(format!("type mismatch: '{}' declared as {t} but assigned {u}", n.text));
                            }
                            self.vars.insert(n.text.clone(), t);
                        }
                        None => {
                            self.vars.insert(n.text.clone(), u);
                        }
                    }
                }
            }
            StmtKind::Assign { target, op, value } => {
                let u = self.infer(value);
                if target.path.is_empty() && op.is_none() {
                    if let Some(t) = self.vars.get(&target.root.text).cloned() {
                        if !compatible(&t, &u) {
                            self.findings
                                .push(format!("type mismatch: '{}' is {t} but assigned {u}", target.root.text));
                        }
                    }
                }
            }
            StmtKind::Print { value, .. } => {
                self.infer(value);
            }
            StmtKind::FnDef(fd) => self.function(fd),
            StmtKind::Impl(ib) => {
                for m in &ib.methods {
                    self.function(m);
                }
            }
            StmtKind::StructDef(sd) => {
                self.structs.insert(sd.name.text.clone(), sd.fields.iter().map(|f| f.name.text.clone()).collect());
            }
            StmtKind::InterfaceDef(i) => {
                self.interfaces.insert(i.name.text.clone(), i.methods.iter().map(|m| m.name.text.clone()).collect());
            }
            StmtKind::For { first, second, iterable, body } => {
                self.infer(iterable);
                self.vars.entry(first.text.clone()).or_insert(Ty::Unknown);
                if let Some(s2) = second {
                    self.vars.entry(s2.text.clone()).or_insert(Ty::Unknown);
                }
                self.block(body);
            }
            StmtKind::While { cond, body } => {
                self.infer(cond);
                self.block(body);
            }
            StmtKind::Loop { body } => self.block(body),
            StmtKind::Repeat { count, body }
            | StmtKind::Retry { count, body }
            | StmtKind::Timeout { seconds: count, body } => {
                self.infer(count);
                self.block(body);
            }
            StmtKind::Return(value) => {
                let u = value.as_ref().map(|e| self.infer(e)).unwrap_or(Ty::Null);
                if let Some(Some(t)) = self.returns.last().cloned() {
                    if !compatible(&t, &u) {
                        self.findings.push(format!("return type mismatch: expected {t} but returning {u}"));
                    }
                }
            }
            StmtKind::Try { body, catch_body, .. } => {
                self.block(body);
                self.block(catch_body);
            }
            StmtKind::Check { value, .. } => {
                self.infer(value);
            }
            StmtKind::Schedule { interval, body, .. } => {
                self.infer(interval);
                self.block(body);
            }
            StmtKind::Watch { path, body } => {
                self.infer(path);
                self.block(body);
            }
            _ => {}
        }
    }

    fn function(&mut self, fd: &ast::FnDef) {
        self.declare_fn(fd);
        for p in &fd.params {
            let t = p.ty.as_ref().map(from_annotation).unwrap_or(Ty::Unknown);
            self.vars.insert(p.name.text.clone(), t);
        }
        self.returns.push(fd.ret.as_ref().map(from_annotation));
        self.block(&fd.body);
        self.returns.pop();
    }

    fn infer(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) | ExprKind::Interp(_) => {
                if let ExprKind::Interp(parts) = &e.kind {
                    for p in parts {
                        if let ast::InterpPart::Expr(x) = p {
                            self.infer(x);
                        }
                    }
                }
                Ty::Str
            }
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Null => Ty::Null,
            ExprKind::Ident(n) => {
                if n == "None" {
                    return Ty::Optional(Box::new(Ty::Unknown));
                }
                self.vars.get(n).cloned().unwrap_or(Ty::Unknown)
            }
            ExprKind::Array(items) => {
                let mut first = None;
                for it in items {
                    let t = self.infer(it);
                    first.get_or_insert(t);
                }
                Ty::Array(Box::new(first.unwrap_or(Ty::Unknown)))
            }
            ExprKind::Object(entries) => {
                for (_, _, v) in entries {
                    self.infer(v);
                }
                Ty::Object
            }
            ExprKind::StructLit { name, fields } => {
                for (_, v) in fields {
                    self.infer(v);
                }
                Ty::Named(name.text.clone())
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.infer(lhs), self.infer(rhs));
                use ast::BinOp as B;
                match op {
                    B::Eq | B::NotEq | B::Lt | B::Gt | B::LtEq | B::GtEq => Ty::Bool,
                    B::Add if a == Ty::Str || b == Ty::Str => Ty::Str,
                    _ if a == Ty::Float || b == Ty::Float => Ty::Float,
                    _ if a == Ty::Int && b == Ty::Int => Ty::Int,
                    _ => Ty::Unknown,
                }
            }
            ExprKind::Logical { lhs, rhs, .. } => {
                self.infer(lhs);
                self.infer(rhs);
                Ty::Bool
            }
            ExprKind::Unary { op, operand } => {
                let t = self.infer(operand);
                match op {
                    ast::UnaryOp::Not => Ty::Bool,
                    ast::UnaryOp::Neg => t,
                    _ => Ty::Unknown,
                }
            }
            ExprKind::Call { callee, args } => self.call(callee, args),
            ExprKind::MethodCall { recv, args, .. } => {
                self.infer(recv);
                for a in args {
                    self.infer(a);
                }
                Ty::Unknown
            }
            ExprKind::Pipe { lhs, rhs } => {
                self.infer(lhs);
                self.infer(rhs);
                Ty::Unknown
            }
            ExprKind::Field { obj, .. } => {
                self.infer(obj);
                Ty::Unknown
            }
            ExprKind::Index { obj, index } => {
                self.infer(obj);
                self.infer(index);
                Ty::Unknown
            }
            ExprKind::Lambda { params, body } => {
                for p in params {
                    let t = p.ty.as_ref().map(from_annotation).unwrap_or(Ty::Unknown);
                    self.vars.insert(p.name.text.clone(), t);
                }
                self.returns.push(None);
                self.block(body);
                self.returns.pop();
                Ty::Func(Box::new(Ty::Unknown))
            }
            ExprKind::Block(b) | ExprKind::Safe(b) | ExprKind::Spawn(b) => {
                self.block(b);
                Ty::Unknown
            }
            ExprKind::If { cond, then, otherwise } => {
                self.infer(cond);
                self.block(then);
                match otherwise.as_deref() {
                    Some(ast::Else::If(x)) => {
                        self.infer(x);
                    }
                    Some(ast::Else::Block(b)) => self.block(b),
                    None => {}
                }
                Ty::Unknown
            }
            ExprKind::When { subject, arms } => {
                self.infer(subject);
                for a in arms {
                    if let ast::WhenTest::Compare(_, v) = &a.test {
                        self.infer(v);
                    }
                    self.infer(&a.result);
                }
                Ty::Unknown
            }
            ExprKind::Match { subject, arms } => {
                self.infer(subject);
                for a in arms {
                    self.block(&a.body);
                }
                Ty::Unknown
            }
            ExprKind::Try(x) => {
                self.infer(x);
                Ty::Unknown
            }
            ExprKind::Builtin(_) => Ty::Unknown,
        }
    }

    fn call(&mut self, callee: &Expr, args: &[Expr]) -> Ty {
        let arg_tys: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
        let ExprKind::Ident(name) = &callee.kind else {
            self.infer(callee);
            return Ty::Unknown;
        };
        if let Some(sig) = self.fns.get(name).cloned() {
            let required = sig.params.iter().filter(|p| !p.1).count();
            let m = args.len();
            if m < required || m > sig.params.len() {
                self.findings.push(format!("function '{name}' expects {} argument(s), got {m}", sig.params.len()));
            }
            for (i, ((pt, _), (a, at))) in sig.params.iter().zip(args.iter().zip(&arg_tys)).enumerate() {
                let Some(pt) = pt else { continue };
                if let (Ty::Named(iface), ExprKind::StructLit { name: s, fields }) = (pt, &a.kind) {
                    if let Some(methods) = self.interfaces.get(iface).cloned() {
                        let field_names: Vec<String> = self
                            .structs
                            .get(&s.text)
                            .cloned()
                            .unwrap_or_else(|| fields.iter().map(|(n, _)| n.text.clone()).collect());
                        for m in methods {
                            let has = field_names.contains(&m)
                                || self.fns.contains_key(&m)
                                || self.fns.contains_key(&format!("{}_{m}", s.text));
                            if !has {
                                self.findings.push(format!(
                                    "struct '{}' does not satisfy interface '{iface}': missing '{m}'",
                                    s.text
                                ));
                            }
                        }
                        continue;
                    }
                }
                if !compatible(pt, at) {
                    self.findings.push(format!("argument {} of '{name}': expected {pt} but got {at}", i + 1));
                }
            }
            return sig.ret;
        }
        match name.as_str() {
            "Some" => Ty::Optional(Box::new(arg_tys.first().cloned().unwrap_or(Ty::Unknown))),
            "Ok" | "Err" | "ok" | "err" => Ty::Result,
            "len" | "int" => Ty::Int,
            "float" => Ty::Float,
            "str" | "type" | "typeof" | "uuid" | "cwd" | "sh" => Ty::Str,
            "is_ok" | "is_err" | "is_some" | "is_none" | "contains" | "starts_with" | "ends_with" | "sh_ok"
            | "satisfies" => Ty::Bool,
            "range" | "map" | "filter" | "sort" | "reverse" | "keys" | "values" | "split" | "sh_lines" | "entries" => {
                Ty::Array(Box::new(Ty::Unknown))
            }
            "fetch" | "shell" | "sh_json" | "merge" => Ty::Object,
            _ => Ty::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    fn findings(src: &str) -> Vec<String> {
        let (p, d) = crate::syntax::parse(src);
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        super::check(&p)
    }

    #[test]
    fn spec_example() {
        let f = findings("fn f(x: Int) -> String { return x }\nlet s: String = 5\nsay \"still runs\"\n");
        assert_eq!(
            f,
            vec![
                "return type mismatch: expected String but returning Int".to_string(),
                "type mismatch: 's' declared as String but assigned Int".to_string(),
            ]
        );
    }

    #[test]
    fn arity_respects_defaults_and_any_is_compatible() {
        assert!(findings(
            "fn g(a, b = 1) { return a }\ng(1)\nlet k: Any = 1\nlet a: [Int] = range(3)\nlet b: [Int] = []\n"
        )
        .is_empty());
        assert_eq!(
            findings("fn g(a) { return a }\ng(1, 2)\n"),
            vec!["function 'g' expects 1 argument(s), got 2".to_string()]
        );
    }

    #[test]
    fn argument_types_and_reassignment() {
        let f = findings("fn h(n: Int) { return n }\nh(\"x\")\nlet mut c: Int = 1\nc = \"s\"\n");
        assert_eq!(
            f,
            vec![
                "argument 1 of 'h': expected Int but got String".to_string(),
                "type mismatch: 'c' is Int but assigned String".to_string()
            ]
        );
    }
}
