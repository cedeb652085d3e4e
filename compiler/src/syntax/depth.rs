//! Guards against trees too deep for the recursive passes after the parser.
//!
//! The parser itself never recurses (lalrpop's parser is a loop over a heap stack), but
//! everything that walks the tree afterwards does, and so does dropping it. Nesting
//! parentheses adds no depth, but `[[[…]]]`, `- - - … x` or a chain of ten thousand
//! `+` does. [`too_deep`] measures the tree iteratively; a program deeper than
//! [`MAX_DEPTH`] is reported as `nesting too deep` and taken apart with
//! [`dismantle`], which drops it without recursion.

use super::ast::*;

/// The deepest tree (in nodes from a top-level statement down) the parser hands on.
/// Real programs stay far below it; the bound leaves the recursive passes of the
/// compiler plenty of stack.
pub const MAX_DEPTH: usize = 1000;

/// A borrowed node of any of the recursive kinds.
#[derive(Clone, Copy)]
enum Node<'a> {
    Stmt(&'a Stmt),
    Block(&'a Block),
    Expr(&'a Expr),
    Pattern(&'a Pattern),
    Type(&'a TypeAnn),
    Fn(&'a FnDef),
    Params(&'a [Param]),
}

/// The span of a node nested deeper than [`MAX_DEPTH`], if there is one.
pub fn too_deep(program: &Program) -> Option<Span> {
    let mut stack: Vec<(Node, usize)> = program.stmts.iter().map(|s| (Node::Stmt(s), 1)).collect();
    let mut children = Vec::new();
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Some(span_of(node));
        }
        children.clear();
        push_children(node, &mut children);
        stack.extend(children.drain(..).map(|child| (child, depth + 1)));
    }
    None
}

fn span_of(node: Node) -> Span {
    match node {
        Node::Stmt(s) => s.span,
        Node::Block(b) => b.span,
        Node::Expr(e) => e.span,
        Node::Pattern(p) => p.span,
        Node::Type(t) => t.span,
        Node::Fn(f) => f.span,
        Node::Params(ps) => ps.first().map(|p| p.name.span).unwrap_or_default(),
    }
}

fn push_children<'a>(node: Node<'a>, out: &mut Vec<Node<'a>>) {
    match node {
        Node::Stmt(stmt) => push_stmt_children(stmt, out),
        Node::Block(block) => out.extend(block.stmts.iter().map(Node::Stmt)),
        Node::Fn(def) => {
            out.push(Node::Params(&def.params));
            out.extend(def.ret.iter().map(Node::Type));
            out.push(Node::Block(&def.body));
            for deco in &def.decorators {
                out.extend(deco.args.iter().map(|(_, e)| Node::Expr(e)));
            }
        }
        Node::Params(params) => {
            for param in params {
                out.extend(param.ty.iter().map(Node::Type));
                out.extend(param.default.iter().map(Node::Expr));
            }
        }
        Node::Pattern(pattern) => {
            if let PatternKind::Ctor { args, .. } = &pattern.kind {
                out.extend(args.iter().map(Node::Pattern));
            }
        }
        Node::Type(ty) => match &ty.kind {
            TypeKind::Array(inner) | TypeKind::Optional(inner) => out.push(Node::Type(inner)),
            TypeKind::Named(_, args) => out.extend(args.iter().map(Node::Type)),
        },
        Node::Expr(expr) => push_expr_children(expr, out),
    }
}

fn push_stmt_children<'a>(stmt: &'a Stmt, out: &mut Vec<Node<'a>>) {
    let e = Node::Expr;
    let b = Node::Block;
    match &stmt.kind {
        StmtKind::Expr(value)
        | StmtKind::Print { value, .. }
        | StmtKind::Wait(value)
        | StmtKind::Crawl(value)
        | StmtKind::Return(Some(value)) => out.push(e(value)),
        StmtKind::Let { ty, value, .. } => {
            out.extend(ty.iter().map(Node::Type));
            out.push(e(value));
        }
        StmtKind::Assign { target, value, .. } => {
            for seg in &target.path {
                if let PathSeg::Index(index) = seg {
                    out.push(e(index));
                }
            }
            out.push(e(value));
        }
        StmtKind::FnDef(def) => out.push(Node::Fn(def)),
        StmtKind::StructDef(def) => {
            for field in &def.fields {
                out.push(Node::Type(&field.ty));
                out.extend(field.default.iter().map(e));
            }
        }
        StmtKind::TypeDef(def) => {
            for variant in &def.variants {
                out.extend(variant.fields.iter().map(Node::Type));
            }
        }
        StmtKind::InterfaceDef(def) => {
            for sig in &def.methods {
                out.push(Node::Params(&sig.params));
                out.extend(sig.ret.iter().map(Node::Type));
            }
        }
        StmtKind::Impl(block) => out.extend(block.methods.iter().map(Node::Fn)),
        StmtKind::For { iterable: value, body, .. }
        | StmtKind::While { cond: value, body }
        | StmtKind::Repeat { count: value, body }
        | StmtKind::Retry { count: value, body }
        | StmtKind::Timeout { seconds: value, body }
        | StmtKind::Schedule { interval: value, body, .. }
        | StmtKind::Watch { path: value, body } => {
            out.push(e(value));
            out.push(b(body));
        }
        StmtKind::Loop { body } => out.push(b(body)),
        StmtKind::Try { body, catch_body, .. } => {
            out.push(b(body));
            out.push(b(catch_body));
        }
        StmtKind::Check { value, test } => {
            out.push(e(value));
            match test {
                CheckTest::Between(lo, hi) => {
                    out.push(e(lo));
                    out.push(e(hi));
                }
                CheckTest::Contains(x) => out.push(e(x)),
                CheckTest::Truthy | CheckTest::Empty { .. } => {}
            }
        }
        StmtKind::Download { url, to } => {
            out.push(e(url));
            out.extend(to.iter().map(e));
        }
        StmtKind::Prompt(def) => out.push(Node::Params(&def.params)),
        StmtKind::Decorator(deco) => out.extend(deco.args.iter().map(|(_, x)| e(x))),
        StmtKind::Return(None) | StmtKind::Break | StmtKind::Continue | StmtKind::Emit | StmtKind::Import(_) => {}
    }
}

fn push_expr_children<'a>(expr: &'a Expr, out: &mut Vec<Node<'a>>) {
    let e = Node::Expr;
    match &expr.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Ident(_)
        | ExprKind::Builtin(_) => {}
        ExprKind::Interp(parts) => {
            for part in parts {
                if let InterpPart::Expr(x) = part {
                    out.push(e(x));
                }
            }
        }
        ExprKind::Array(items) => out.extend(items.iter().map(e)),
        ExprKind::Object(fields) => out.extend(fields.iter().map(|(_, _, x)| e(x))),
        ExprKind::StructLit { fields, .. } => out.extend(fields.iter().map(|(_, x)| e(x))),
        ExprKind::Block(block) | ExprKind::Safe(block) | ExprKind::Spawn(block) => out.push(Node::Block(block)),
        ExprKind::If { cond, then, otherwise } => {
            out.push(e(cond));
            out.push(Node::Block(then));
            match otherwise.as_deref() {
                Some(Else::If(x)) => out.push(e(x)),
                Some(Else::Block(block)) => out.push(Node::Block(block)),
                None => {}
            }
        }
        ExprKind::When { subject, arms } => {
            out.push(e(subject));
            for arm in arms {
                if let WhenTest::Compare(_, value) = &arm.test {
                    out.push(e(value));
                }
                out.push(e(&arm.result));
            }
        }
        ExprKind::Match { subject, arms } => {
            out.push(e(subject));
            for arm in arms {
                out.push(Node::Pattern(&arm.pattern));
                out.push(Node::Block(&arm.body));
            }
        }
        ExprKind::Lambda { params, body } => {
            out.push(Node::Params(params));
            out.push(Node::Block(body));
        }
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Logical { lhs, rhs, .. } | ExprKind::Pipe { lhs, rhs } => {
            out.push(e(lhs));
            out.push(e(rhs));
        }
        ExprKind::Unary { operand, .. } => out.push(e(operand)),
        ExprKind::Try(inner) => out.push(e(inner)),
        ExprKind::Call { callee, args } => {
            out.push(e(callee));
            out.extend(args.iter().map(e));
        }
        ExprKind::MethodCall { recv, args, .. } => {
            out.push(e(recv));
            out.extend(args.iter().map(e));
        }
        ExprKind::Field { obj, .. } => out.push(e(obj)),
        ExprKind::Index { obj, index } => {
            out.push(e(obj));
            out.push(e(index));
        }
    }
}

/// An owned node waiting to be taken apart.
enum Owned {
    Stmt(Stmt),
    Block(Block),
    Expr(Expr),
    Pattern(Pattern),
    Type(TypeAnn),
    Fn(FnDef),
    Params(Vec<Param>),
}

/// Drops a program of any depth without recursion: every node's children are moved to
/// a work list before the node itself is dropped.
pub fn dismantle(program: Program) {
    let mut work: Vec<Owned> = program.stmts.into_iter().map(Owned::Stmt).collect();
    while let Some(node) = work.pop() {
        match node {
            Owned::Stmt(stmt) => take_stmt(stmt, &mut work),
            Owned::Block(block) => work.extend(block.stmts.into_iter().map(Owned::Stmt)),
            Owned::Fn(def) => {
                work.push(Owned::Params(def.params));
                work.extend(def.ret.map(Owned::Type));
                work.push(Owned::Block(def.body));
                for deco in def.decorators {
                    work.extend(deco.args.into_iter().map(|(_, x)| Owned::Expr(x)));
                }
            }
            Owned::Params(params) => {
                for param in params {
                    work.extend(param.ty.map(Owned::Type));
                    work.extend(param.default.map(Owned::Expr));
                }
            }
            Owned::Pattern(pattern) => {
                if let PatternKind::Ctor { args, .. } = pattern.kind {
                    work.extend(args.into_iter().map(Owned::Pattern));
                }
            }
            Owned::Type(ty) => match ty.kind {
                TypeKind::Array(inner) | TypeKind::Optional(inner) => work.push(Owned::Type(*inner)),
                TypeKind::Named(_, args) => work.extend(args.into_iter().map(Owned::Type)),
            },
            Owned::Expr(expr) => take_expr(expr, &mut work),
        }
    }
}

fn take_stmt(stmt: Stmt, work: &mut Vec<Owned>) {
    let e = Owned::Expr;
    let b = Owned::Block;
    match stmt.kind {
        StmtKind::Expr(value)
        | StmtKind::Print { value, .. }
        | StmtKind::Wait(value)
        | StmtKind::Crawl(value)
        | StmtKind::Return(Some(value)) => work.push(e(value)),
        StmtKind::Let { ty, value, .. } => {
            work.extend(ty.map(Owned::Type));
            work.push(e(value));
        }
        StmtKind::Assign { target, value, .. } => {
            for seg in target.path {
                if let PathSeg::Index(index) = seg {
                    work.push(e(index));
                }
            }
            work.push(e(value));
        }
        StmtKind::FnDef(def) => work.push(Owned::Fn(def)),
        StmtKind::StructDef(def) => {
            for field in def.fields {
                work.push(Owned::Type(field.ty));
                work.extend(field.default.map(e));
            }
        }
        StmtKind::TypeDef(def) => {
            for variant in def.variants {
                work.extend(variant.fields.into_iter().map(Owned::Type));
            }
        }
        StmtKind::InterfaceDef(def) => {
            for sig in def.methods {
                work.push(Owned::Params(sig.params));
                work.extend(sig.ret.map(Owned::Type));
            }
        }
        StmtKind::Impl(block) => work.extend(block.methods.into_iter().map(Owned::Fn)),
        StmtKind::For { iterable: value, body, .. }
        | StmtKind::While { cond: value, body }
        | StmtKind::Repeat { count: value, body }
        | StmtKind::Retry { count: value, body }
        | StmtKind::Timeout { seconds: value, body }
        | StmtKind::Schedule { interval: value, body, .. }
        | StmtKind::Watch { path: value, body } => {
            work.push(e(value));
            work.push(b(body));
        }
        StmtKind::Loop { body } => work.push(b(body)),
        StmtKind::Try { body, catch_body, .. } => {
            work.push(b(body));
            work.push(b(catch_body));
        }
        StmtKind::Check { value, test } => {
            work.push(e(value));
            match test {
                CheckTest::Between(lo, hi) => {
                    work.push(e(lo));
                    work.push(e(hi));
                }
                CheckTest::Contains(x) => work.push(e(x)),
                CheckTest::Truthy | CheckTest::Empty { .. } => {}
            }
        }
        StmtKind::Download { url, to } => {
            work.push(e(url));
            work.extend(to.map(e));
        }
        StmtKind::Prompt(def) => work.push(Owned::Params(def.params)),
        StmtKind::Decorator(deco) => work.extend(deco.args.into_iter().map(|(_, x)| e(x))),
        StmtKind::Return(None) | StmtKind::Break | StmtKind::Continue | StmtKind::Emit | StmtKind::Import(_) => {}
    }
}

fn take_expr(expr: Expr, work: &mut Vec<Owned>) {
    let e = Owned::Expr;
    let boxed = |x: Box<Expr>| Owned::Expr(*x);
    match expr.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Ident(_)
        | ExprKind::Builtin(_) => {}
        ExprKind::Interp(parts) => {
            for part in parts {
                if let InterpPart::Expr(x) = part {
                    work.push(e(x));
                }
            }
        }
        ExprKind::Array(items) => work.extend(items.into_iter().map(e)),
        ExprKind::Object(fields) => work.extend(fields.into_iter().map(|(_, _, x)| e(x))),
        ExprKind::StructLit { fields, .. } => work.extend(fields.into_iter().map(|(_, x)| e(x))),
        ExprKind::Block(block) | ExprKind::Safe(block) | ExprKind::Spawn(block) => work.push(Owned::Block(block)),
        ExprKind::If { cond, then, otherwise } => {
            work.push(boxed(cond));
            work.push(Owned::Block(then));
            match otherwise.map(|x| *x) {
                Some(Else::If(x)) => work.push(e(x)),
                Some(Else::Block(block)) => work.push(Owned::Block(block)),
                None => {}
            }
        }
        ExprKind::When { subject, arms } => {
            work.push(boxed(subject));
            for arm in arms {
                if let WhenTest::Compare(_, value) = arm.test {
                    work.push(e(value));
                }
                work.push(e(arm.result));
            }
        }
        ExprKind::Match { subject, arms } => {
            work.push(boxed(subject));
            for arm in arms {
                work.push(Owned::Pattern(arm.pattern));
                work.push(Owned::Block(arm.body));
            }
        }
        ExprKind::Lambda { params, body } => {
            work.push(Owned::Params(params));
            work.push(Owned::Block(body));
        }
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Logical { lhs, rhs, .. } | ExprKind::Pipe { lhs, rhs } => {
            work.push(boxed(lhs));
            work.push(boxed(rhs));
        }
        ExprKind::Unary { operand, .. } => work.push(boxed(operand)),
        ExprKind::Try(inner) => work.push(boxed(inner)),
        ExprKind::Call { callee, args } => {
            work.push(boxed(callee));
            work.extend(args.into_iter().map(e));
        }
        ExprKind::MethodCall { recv, args, .. } => {
            work.push(boxed(recv));
            work.extend(args.into_iter().map(e));
        }
        ExprKind::Field { obj, .. } => work.push(boxed(obj)),
        ExprKind::Index { obj, index } => {
            work.push(boxed(obj));
            work.push(boxed(index));
        }
    }
}
