//! Parser tests: the conformance corpus, tricky cases, and robustness.

use super::ast::*;
use super::parse;

/// Parses `src`, failing the test with the diagnostics if there are any.
fn parse_ok(src: &str) -> Program {
    let (program, diags) = parse(src);
    assert!(diags.is_empty(), "unexpected diagnostics for {src:?}: {diags:#?}");
    program
}

#[test]
fn smoke() {
    let p = parse_ok("let x = 1\nsay x + 2\n");
    assert_eq!(p.stmts.len(), 2);
}

/// The 1-based line of byte offset `pos`.
fn line_of(src: &str, pos: u32) -> usize {
    src.as_bytes()[..(pos as usize).min(src.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Every `.fg` file of the conformance corpus, with its contents.
fn corpus() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "fg") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn conformance_corpus_parses() {
    let files = corpus();
    assert!(files.len() >= 170, "conformance corpus not found ({} files)", files.len());
    let mut failures = Vec::new();
    for (path, src) in &files {
        let (_, diags) = parse(src);
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let expected_line = match stem {
            "lex_unknown_escape" => Some((3, "unknown escape: \\q")),
            "lex_unterminated_string" => Some((3, "unterminated string")),
            "parse_error_token" => Some((3, "")),
            _ => None,
        };
        match expected_line {
            None => {
                if let Some(d) = diags.first() {
                    failures.push(format!("{}:{}: {}", path.display(), line_of(src, d.span.start), d.message));
                }
            }
            Some((line, fragment)) => match diags.first() {
                Some(d) if line_of(src, d.span.start) == line && d.message.contains(fragment) => {}
                other => failures.push(format!(
                    "{}: expected an error on line {line} containing {fragment:?}, got {other:?}",
                    path.display()
                )),
            },
        }
    }
    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
}

/// A compact S-expression rendering of a program, for assertions.
fn sexp(program: &Program) -> String {
    program.stmts.iter().map(stmt_sexp).collect::<Vec<_>>().join(" ")
}

fn block_sexp(block: &Block) -> String {
    let inner: Vec<String> = block.stmts.iter().map(stmt_sexp).collect();
    format!("{{{}}}", inner.join(" "))
}

fn params_sexp(params: &[Param]) -> String {
    let ps: Vec<String> = params
        .iter()
        .map(|p| {
            let mut s = p.name.text.clone();
            if let Some(t) = &p.ty {
                s.push_str(&format!(":{}", t.text));
            }
            if let Some(d) = &p.default {
                s.push_str(&format!("={}", expr_sexp(d)));
            }
            s
        })
        .collect();
    format!("({})", ps.join(" "))
}

fn fn_sexp(f: &FnDef) -> String {
    let decos: String = f.decorators.iter().map(|d| format!("@{}{} ", d.name.text, args_sexp(&d.args))).collect();
    let ret = f.ret.as_ref().map(|t| format!(" -> {}", t.text)).unwrap_or_default();
    let kw = if f.is_async { "async-fn" } else { "fn" };
    format!("({decos}{kw} {} {}{ret} {})", f.name.text, params_sexp(&f.params), block_sexp(&f.body))
}

fn args_sexp(args: &[(Option<Name>, Expr)]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|(n, e)| match n {
            Some(n) => format!("{}: {}", n.text, expr_sexp(e)),
            None => expr_sexp(e),
        })
        .collect();
    format!("({})", parts.join(" "))
}

fn target_sexp(t: &AssignTarget) -> String {
    let mut s = t.root.text.clone();
    for seg in &t.path {
        match seg {
            PathSeg::Field(n) => s.push_str(&format!(".{}", n.text)),
            PathSeg::Index(e) => s.push_str(&format!("[{}]", expr_sexp(e))),
        }
    }
    s
}

fn stmt_sexp(stmt: &Stmt) -> String {
    match &stmt.kind {
        StmtKind::Expr(e) => expr_sexp(e),
        StmtKind::Let { mutable, target, ty, value } => {
            let target = match target {
                LetTarget::Name(n) => n.text.clone(),
                LetTarget::Object(names) => {
                    format!("{{{}}}", names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(" "))
                }
                LetTarget::Array(elems) => format!(
                    "[{}]",
                    elems
                        .iter()
                        .map(|e| match e {
                            ArrayPatElem::Name(n) => n.text.clone(),
                            ArrayPatElem::Rest(n) => format!("...{}", n.text),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            };
            let ty = ty.as_ref().map(|t| format!(":{}", t.text)).unwrap_or_default();
            let m = if *mutable { "let-mut" } else { "let" };
            format!("({m} {target}{ty} {})", expr_sexp(value))
        }
        StmtKind::Assign { target, op, value } => {
            let op = op.map(|o| format!("{}=", o.name())).unwrap_or_else(|| "=".into());
            format!("({op} {} {})", target_sexp(target), expr_sexp(value))
        }
        StmtKind::Print { kind, value } => {
            format!("({} {})", format!("{kind:?}").to_lowercase(), expr_sexp(value))
        }
        StmtKind::FnDef(f) => fn_sexp(f),
        StmtKind::StructDef(s) => {
            let fields: Vec<String> = s
                .fields
                .iter()
                .map(|f| {
                    let has = if f.embedded { "has " } else { "" };
                    let d = f.default.as_ref().map(|d| format!("={}", expr_sexp(d))).unwrap_or_default();
                    format!("{has}{}:{}{d}", f.name.text, f.ty.text)
                })
                .collect();
            format!("(struct {} {})", s.name.text, fields.join(" "))
        }
        StmtKind::TypeDef(t) => {
            let vs: Vec<String> = t
                .variants
                .iter()
                .map(|v| {
                    if v.fields.is_empty() {
                        v.name.text.clone()
                    } else {
                        let fs: Vec<&str> = v.fields.iter().map(|f| f.text.as_str()).collect();
                        format!("{}({})", v.name.text, fs.join(" "))
                    }
                })
                .collect();
            format!("(type {} {})", t.name.text, vs.join(" | "))
        }
        StmtKind::InterfaceDef(i) => {
            let ms: Vec<String> = i
                .methods
                .iter()
                .map(|m| {
                    let ret = m.ret.as_ref().map(|t| format!("->{}", t.text)).unwrap_or_default();
                    format!("{}{}{ret}", m.name.text, params_sexp(&m.params))
                })
                .collect();
            format!("(interface {} {})", i.name.text, ms.join(" "))
        }
        StmtKind::Impl(i) => {
            let iface = i.interface.as_ref().map(|n| format!(" for-iface {}", n.text)).unwrap_or_default();
            let ms: Vec<String> = i.methods.iter().map(fn_sexp).collect();
            format!("(impl {}{iface} {})", i.type_name.text, ms.join(" "))
        }
        StmtKind::For { first, second, iterable, body } => {
            let second = second.as_ref().map(|n| format!(",{}", n.text)).unwrap_or_default();
            format!("(for {}{second} {} {})", first.text, expr_sexp(iterable), block_sexp(body))
        }
        StmtKind::While { cond, body } => {
            format!("(while {} {})", expr_sexp(cond), block_sexp(body))
        }
        StmtKind::Loop { body } => format!("(loop {})", block_sexp(body)),
        StmtKind::Repeat { count, body } => {
            format!("(repeat {} {})", expr_sexp(count), block_sexp(body))
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(None) => "(return)".into(),
        StmtKind::Return(Some(e)) => format!("(return {})", expr_sexp(e)),
        StmtKind::Try { body, catch_name, catch_body } => {
            format!("(try {} {} {})", block_sexp(body), catch_name.text, block_sexp(catch_body))
        }
        StmtKind::Check { value, test } => {
            let t = match test {
                CheckTest::Truthy => String::new(),
                CheckTest::Empty { negated: false } => " empty".into(),
                CheckTest::Empty { negated: true } => " not-empty".into(),
                CheckTest::Between(a, b) => format!(" between {} {}", expr_sexp(a), expr_sexp(b)),
                CheckTest::Contains(x) => format!(" contains {}", expr_sexp(x)),
            };
            format!("(check {}{t})", expr_sexp(value))
        }
        StmtKind::Retry { count, body } => {
            format!("(retry {} {})", expr_sexp(count), block_sexp(body))
        }
        StmtKind::Timeout { seconds, body } => {
            format!("(timeout {} {})", expr_sexp(seconds), block_sexp(body))
        }
        StmtKind::Schedule { interval, unit, body } => {
            format!("(schedule {} {:?} {})", expr_sexp(interval), unit, block_sexp(body))
        }
        StmtKind::Watch { path, body } => {
            format!("(watch {} {})", expr_sexp(path), block_sexp(body))
        }
        StmtKind::Wait(e) => format!("(wait {})", expr_sexp(e)),
        StmtKind::Download { url, to } => match to {
            Some(to) => format!("(download {} {})", expr_sexp(url), expr_sexp(to)),
            None => format!("(download {})", expr_sexp(url)),
        },
        StmtKind::Crawl(e) => format!("(crawl {})", expr_sexp(e)),
        StmtKind::Emit => "(emit)".into(),
        StmtKind::Prompt(p) => {
            format!("(prompt {} {} {:?} {:?} {:?})", p.name.text, params_sexp(&p.params), p.system, p.user, p.returns)
        }
        StmtKind::Import(i) => {
            let src = match &i.source {
                ImportSource::Path(p) => format!("{p:?}"),
                ImportSource::Name(n) => n.clone(),
            };
            match &i.names {
                Some(names) => format!(
                    "(import {src} {{{}}})",
                    names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(" ")
                ),
                None => format!("(import {src})"),
            }
        }
        StmtKind::Decorator(d) => format!("(@{} {})", d.name.text, args_sexp(&d.args)),
    }
}

fn exprs_sexp(es: &[Expr]) -> String {
    es.iter().map(expr_sexp).collect::<Vec<_>>().join(" ")
}

fn expr_sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(x) => format!("{x:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Interp(parts) => {
            let ps: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    InterpPart::Lit(s) => format!("{s:?}"),
                    InterpPart::Expr(e) => expr_sexp(e),
                })
                .collect();
            format!("(interp {})", ps.join(" "))
        }
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Builtin(n) => format!("builtin:{n}"),
        ExprKind::Array(items) => format!("[{}]", exprs_sexp(items)),
        ExprKind::Object(fields) => {
            let fs: Vec<String> = fields.iter().map(|(k, _, v)| format!("{k}: {}", expr_sexp(v))).collect();
            format!("(obj {})", fs.join(", "))
        }
        ExprKind::StructLit { name, fields } => {
            let fs: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {}", k.text, expr_sexp(v))).collect();
            format!("(new {} {})", name.text, fs.join(", "))
        }
        ExprKind::Block(b) => format!("(block {})", block_sexp(b)),
        ExprKind::If { cond, then, otherwise } => {
            let els = match otherwise.as_deref() {
                None => String::new(),
                Some(Else::If(e)) => format!(" else {}", expr_sexp(e)),
                Some(Else::Block(b)) => format!(" else {}", block_sexp(b)),
            };
            format!("(if {} {}{els})", expr_sexp(cond), block_sexp(then))
        }
        ExprKind::When { subject, arms } => {
            let arms: Vec<String> = arms
                .iter()
                .map(|a| match &a.test {
                    WhenTest::Else => format!("else -> {}", expr_sexp(&a.result)),
                    WhenTest::Compare(op, v) => {
                        let op = op.map(|o| format!("{o:?} ")).unwrap_or_default();
                        format!("{op}{} -> {}", expr_sexp(v), expr_sexp(&a.result))
                    }
                })
                .collect();
            format!("(when {} {})", expr_sexp(subject), arms.join(", "))
        }
        ExprKind::Match { subject, arms } => {
            let arms: Vec<String> =
                arms.iter().map(|a| format!("{} => {}", pattern_sexp(&a.pattern), block_sexp(&a.body))).collect();
            format!("(match {} {})", expr_sexp(subject), arms.join(", "))
        }
        ExprKind::Safe(b) => format!("(safe {})", block_sexp(b)),
        ExprKind::Spawn(b) => format!("(spawn {})", block_sexp(b)),
        ExprKind::Lambda { params, body } => {
            format!("(lambda {} {})", params_sexp(params), block_sexp(body))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let op = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Mod => "%",
                BinOp::Eq => "==",
                BinOp::NotEq => "!=",
                BinOp::Lt => "<",
                BinOp::Gt => ">",
                BinOp::LtEq => "<=",
                BinOp::GtEq => ">=",
            };
            format!("({op} {} {})", expr_sexp(lhs), expr_sexp(rhs))
        }
        ExprKind::Logical { and, lhs, rhs } => {
            format!("({} {} {})", if *and { "&&" } else { "||" }, expr_sexp(lhs), expr_sexp(rhs))
        }
        ExprKind::Pipe { lhs, rhs } => format!("(|> {} {})", expr_sexp(lhs), expr_sexp(rhs)),
        ExprKind::Unary { op, operand } => {
            format!("({} {})", format!("{op:?}").to_lowercase(), expr_sexp(operand))
        }
        ExprKind::Call { callee, args } => {
            format!("(call {} {})", expr_sexp(callee), exprs_sexp(args))
        }
        ExprKind::MethodCall { recv, name, args } => {
            format!("(.{} {} {})", name.text, expr_sexp(recv), exprs_sexp(args))
        }
        ExprKind::Field { obj, name } => format!("(. {} {})", expr_sexp(obj), name.text),
        ExprKind::Index { obj, index } => format!("(idx {} {})", expr_sexp(obj), expr_sexp(index)),
        ExprKind::Try(inner) => format!("(? {})", expr_sexp(inner)),
    }
}

fn pattern_sexp(p: &Pattern) -> String {
    match &p.kind {
        PatternKind::Wildcard => "_".into(),
        PatternKind::Int(n) => n.to_string(),
        PatternKind::Float(x) => format!("{x:?}"),
        PatternKind::Str(s) => format!("{s:?}"),
        PatternKind::Bool(b) => b.to_string(),
        PatternKind::Ident(n) => n.clone(),
        PatternKind::Ctor { name, args } => {
            format!("{name}({})", args.iter().map(pattern_sexp).collect::<Vec<_>>().join(" "))
        }
    }
}

/// Asserts that `src` parses without diagnostics into `expected` (as an S-expression).
#[track_caller]
fn check(src: &str, expected: &str) {
    let program = parse_ok(src);
    assert_eq!(sexp(&program), expected, "for source {src:?}");
}

/// Asserts that `src` has a first error on `line` whose message contains `fragment`.
#[track_caller]
fn check_error(src: &str, line: usize, fragment: &str) {
    let (_, diags) = parse(src);
    let first = diags.first().unwrap_or_else(|| panic!("no error for {src:?}"));
    assert_eq!(line_of(src, first.span.start), line, "wrong line for {src:?}: {diags:?}");
    assert!(first.message.contains(fragment), "for {src:?}: got {:?}", first.message);
}

#[test]
fn statements_need_no_separator() {
    check("let a = 1 let b = 2 say a + b", "(let a 1) (let b 2) (say (+ a b))");
    check("let a = 1; let b = 2;say b", "(let a 1) (let b 2) (say b)");
    check("say 1 // comment\n// whole line\nsay 2", "(say 1) (say 2)");
    check("\r\nsay 1\r\n\r\nsay 2\r\n", "(say 1) (say 2)");
    check("", "");
}

#[test]
fn precedence_table() {
    check("say 2 + 3 * 4", "(say (+ 2 (* 3 4)))");
    check("say 10 - 2 - 3", "(say (- (- 10 2) 3))");
    check("say -2 * -3", "(say (* (neg -2) (neg 3)))".replace("(neg -2)", "(neg 2)").as_str());
    check("say -x.len", "(say (neg (. x len)))");
    check("say true || false && false", "(say (|| true (&& false false)))");
    check("say !true && false", "(say (&& (not true) false))");
    check("say 1 < 2 == true", "(say (== (< 1 2) true))");
    check("say 1 + 2 |> str", "(say (|> (+ 1 2) str))");
    check("say must Ok(2) + 1", "(say (+ (must (call Ok 2)) 1))");
    check("f()?.name", "(. (? (call f )) name)");
    check("say --3", "(say (neg (neg 3)))");
    check("say await t + hold u", "(say (+ (await t) (await u)))");
    check("x |> f |> g", "(|> (|> x f) g)");
    check("say freeze [1] == ask \"q\"", "(say (== (freeze [1]) (ask \"q\")))");
}

#[test]
fn numbers() {
    check("say 1_000", "(say 1000)");
    check("say 1__0 + 1_", "(say (+ 10 1))");
    check("say 007", "(say 7)");
    check("say 3.0_5", "(say 3.05)");
    // `1e3` is `1` followed by the identifier `e3`; `0x10` is `0` then `x10`.
    check("say 1e3", "(say 1) e3");
    check("say 0x10", "(say 0) x10");
    check("say 1.5e3", "(say 1.5) e3");
    check("say 5.abs()", "(say (.abs 5 ))");
    check("say 9223372036854775807", "(say 9223372036854775807)");
    check_error("say 9223372036854775808", 1, "invalid integer literal");
    check_error("say 1..5", 1, "unexpected token: DotDot");
    check_error("say 1.5.2", 1, "got Int(2)");
}

#[test]
fn strings_and_escapes() {
    check(r#"say "a\tb\n\r\\\"""#, r#"(say "a\tb\n\r\\\"")"#);
    check(r#"say "\{x\}""#, r#"(say "{x}")"#);
    check(r#"say "a \{ b \}""#, r#"(say "a { b }")"#);
    check(r#"say "only { open""#, r#"(say "only { open")"#);
    check(r#"say "a } b""#, r#"(say "a } b")"#);
    check(r#"say "http://x" // c"#, r#"(say "http://x")"#);
    check_error("say \"bad \\q escape\"", 1, "unknown escape: \\q");
    check_error("say \"ok\"\nlet s = \"never\n", 2, "unterminated string (newline in string literal)");
    check_error("say \"ok\"\nlet s = \"never\nsay 1", 2, "unterminated string (newline in string literal)");
    check_error("say \"abc", 1, "unterminated string");
    check_error("say \"abc\\", 1, "unexpected end of string");
}

#[test]
fn raw_strings() {
    check(r#"say """raw {x} \n "q" text""""#, r#"(say "raw {x} \\n \"q\" text")"#);
    check("say \"\"\"\nline1\n  line2\"\"\"", r#"(say "line1\n  line2")"#);
    check(r#"say """""""#, r#"(say "")"#);
    check(r#"say "" + """#, r#"(say (+ "" ""))"#);
    check_error("say 1\nsay \"\"\"abc", 2, "unterminated triple-quoted string");
}

#[test]
fn interpolation() {
    check(r#"say "x={x}, n={x + 1}""#, r#"(say (interp "x=" x ", n=" (+ x 1)))"#);
    check(r#"say "{ {b: 7}.b }""#, r#"(say (interp (. (obj b: 7) b)))"#);
    check(r#"say "{len(\"abcd\")}""#, r#"(say (interp (call len "abcd")))"#);
    check(r#"say "{x}{x}""#, "(say (interp x x))");
    check(
        r#"say "if: {if n > 1 { \"many\" } else { \"one\" }}""#,
        r#"(say (interp "if: " (if (> n 1) {"many"} else {"one"})))"#,
    );
    check(r#"say "{f(\"}\")}""#, r#"(say (interp (call f "}")))"#);
    check(r#"say "a\{b\}{c}""#, r#"(say (interp "a{b}" c))"#);
    check(r#"say "{ x }""#, "(say (interp x))");
    // Object keys and prompt values are taken verbatim.
    check(r#"let o = {"{k}": 1}"#, "(let o (obj {k}: 1))");
    check_error(r#"say "{}""#, 1, "empty interpolation expression");
    check_error(r#"say "{   }""#, 1, "empty interpolation expression");
    check_error(r#"say "{x} {""#, 1, "unterminated interpolation expression");
    check_error(r#"say "} {x}""#, 1, "unexpected '}' in string literal");
    check_error("say 1\nsay \"{1 +}\"", 2, "invalid interpolation expression '{1 +}': ");
    check_error(r#"say "{a b}""#, 1, "invalid interpolation expression '{a b}': trailing tokens");
    check_error(r#"say "{a # b}""#, 1, "invalid interpolation expression '{a # b}': unexpected character: '#'");
}

#[test]
fn interpolation_positions_map_into_the_file() {
    let src = "say 1\nsay \"ab {x + y} {len(\\\"q\\\")}\"";
    let program = parse_ok(src);
    let StmtKind::Print { value, .. } = &program.stmts[1].kind else { panic!("not a print") };
    let ExprKind::Interp(parts) = &value.kind else { panic!("not interpolated") };
    let exprs: Vec<&Expr> = parts
        .iter()
        .filter_map(|p| match p {
            InterpPart::Expr(e) => Some(e),
            InterpPart::Lit(_) => None,
        })
        .collect();
    let text = |e: &Expr| &src[e.span.start as usize..e.span.end as usize];
    assert_eq!(text(exprs[0]), "x + y");
    assert_eq!(text(exprs[1]), "len(\\\"q\\\")");
    let ExprKind::Call { args, .. } = &exprs[1].kind else { panic!("not a call") };
    assert_eq!(text(&args[0]), "\\\"q\\\"");
}

#[test]
fn struct_literal_versus_condition_head() {
    check("let p = P { a: 1 }", "(let p (new P a: 1))");
    check("say Point { x: 1, y: 1 }.__type__", "(say (. (new Point x: 1, y: 1) __type__))");
    check("if c == Red { say 1 }", "(if (== c Red) {(say 1)})");
    check("if 5 == X { say 1 }", "(if (== 5 X) {(say 1)})");
    check("while x < Max { x += 1 }", "(while (< x Max) {(Add= x 1)})");
    check("for x in Items { say x }", "(for x Items {(say x)})");
    check("match None { None => say 1 }", "(match None None => {(say 1)})");
    check("match Empty {\n  Empty => say 1\n}", "(match Empty Empty => {(say 1)})");
    check("when X { 1 -> 2 }", "(when X 1 -> 2)");
    check("if (P { a: 1 }).a == 1 { say 1 }", "(if (== (. (new P a: 1) a) 1) {(say 1)})");
    check("if craft P { a: 1 } == x { say 1 }", "(if (== (new P a: 1) x) {(say 1)})");
    check("let p = craft point { a: 1 }", "(let p (new point a: 1))");
    check("let p = P {}", "(let p (new P ))");
    check("let p = P {\n  a: 1\n  b: 2\n}", "(let p (new P a: 1, b: 2))");
    // A newline between the name and `{` ends the expression.
    check("let p = P\n{ say 1 }", "(let p P) (block {(say 1)})");
    check("return P { a: 1 }", "(return (new P a: 1))");
}

#[test]
fn object_versus_block() {
    check("let o = {}", "(let o (obj ))");
    check("let o = {\n}", "(let o (obj ))");
    check("let o = {a: 1}", "(let o (obj a: 1))");
    check("let o = {\n  a: 1\n}", "(let o (obj a: 1))");
    check(r#"let o = {"a b": 1, c: 2}"#, r#"(let o (obj a b: 1, c: 2))"#);
    check("let o = {a: 1, type: \"x\", from: 2}", "(let o (obj a: 1, type: \"x\", from: 2))");
    check("let v = { 1 }", "(let v (block {1}))");
    check("let v = { a }", "(let v (block {a}))");
    check("let v = {\n  let a = 1\n  a + 5\n}", "(let v (block {(let a 1) (+ a 5)}))");
    check("{ say 1 }", "(block {(say 1)})");
    check("fn f() {}", "(fn f () {})");
    check("if x {} else {}", "(if x {} else {})");
    check("if x == {} { say 1 }", "(if (== x (obj )) {(say 1)})");
    check("for k in {a: 1} { say k }", "(for k (obj a: 1) {(say k)})");
    check("match 1 { _ => {} }", "(match 1 _ => {})");
    check("let r = when x { 1 -> {a: 1}, else -> { 2 } }", "(let r (when x 1 -> (obj a: 1), else -> (block {2})))");
}

#[test]
fn newline_rules() {
    // Newlines are insignificant inside brackets, literals and after operators.
    check("let a = [\n  1,\n  2,\n]", "(let a [1 2])");
    check("say max_of([\n  3,\n  9\n])", "(say (call max_of [3 9]))");
    check("let x = 1 +\n  2", "(let x (+ 1 2))");
    check("let r = xs\n  .map(f)\n  .filter(g)", "(let r (.filter (.map xs f) g))");
    check("let r = a\n  |> f", "(let r (|> a f))");
    check("let r = a\n  && b\n  || c", "(let r (|| (&& a b) c))");
    // A newline ends an expression where it could end.
    check("a\n(b)", "a b");
    check("a\n[1]", "a [1]");
    check("a\n-1", "a (neg 1)");
    check("say 1\n{ say 2 }", "(say 1) (block {(say 2)})");
    // `return` before a newline or `}` returns null.
    check("fn f() {\n  return\n  1\n}", "(fn f () {(return) 1})");
    check("fn f() { return }", "(fn f () {(return)})");
    // Heads may put the body's `{` on the next line.
    check("if x\n{\n  say 1\n}", "(if x {(say 1)})");
    check("fn f(a)\n{\n  a\n}", "(fn f (a) {a})");
    check("for x in xs\n{ say x }", "(for x xs {(say x)})");
    check("try {\n  a()\n}\ncatch e\n{\n  say e\n}", "(try {(call a )} e {(say e)})");
    // Newlines are allowed in parameter lists and after `=` / before `|` of a type.
    check("fn f(\n  a,\n  b\n) { a }", "(fn f (a b) {a})");
    check("type T =\n  A(Int)\n  | B", "(type T A(Int) | B)");
}

#[test]
fn else_on_next_line() {
    check("if x > 5 {\n  say 1\n}\nelse {\n  say 2\n}", "(if (> x 5) {(say 1)} else {(say 2)})");
    check(
        "if a { say 1 }\notherwise if b { say 2 }\nnah { say 3 }",
        "(if a {(say 1)} else (if b {(say 2)} else {(say 3)}))",
    );
    check("let v = if a { 1 }\nelse { 2 }", "(let v (if a {1} else {2}))");
    check(
        "let s = if n < 0 { \"neg\" } else if n == 0 { \"zero\" } else { \"pos\" }",
        "(let s (if (< n 0) {\"neg\"} else (if (== n 0) {\"zero\"} else {\"pos\"})))",
    );
}

#[test]
fn optional_commas() {
    check("let a = [1 2 3]", "(let a [1 2 3])");
    check("let a = [1 -2]", "(let a [(- 1 2)])");
    check("let a = [1, -2]", "(let a [1 (neg 2)])");
    check("let a = [a (b)]", "(let a [(call a b)])");
    check("let o = {x: 1 y: 2}", "(let o (obj x: 1, y: 2))");
    check("fn add(p q) { p + q }", "(fn add (p q) {(+ p q)})");
    check("say add(4 5)", "(say (call add 4 5))");
    check("say f(1, 2,)", "(say (call f 1 2))");
    check("let p = P { a: 1 b: 2, }", "(let p (new P a: 1, b: 2))");
    check("let [a b ...c] = xs", "(let [a b ...c] xs)");
}

#[test]
fn soft_keywords_as_names() {
    check("struct S { type: String, from: Int }", "(struct S type:String from:Int)");
    check("let s = S { type: \"t\", from: 1 }", "(let s (new S type: \"t\", from: 1))");
    check("say s.type\nsay s.from", "(say (. s type)) (say (. s from))");
    check("let from = 1", "(let from 1)");
    check("fn f(to, in) { 1 }", "(fn f (to in) {1})");
    check("say type(x) + any([1])", "(say (+ (call type x) (call any [1])))");
    check("x.match(1)", "(.match x 1)");
    check("x.retry\nsay 1", "(. x retry) (say 1)");
    check("let o = {retry: 3, timeout: 4}", "(let o (obj retry: 3, timeout: 4))");
    check_error("say \"ab\".repeat(3)", 1, "expected identifier, got Repeat");
}

#[test]
fn declarations() {
    check("let mut x: Int = 5", "(let-mut x:Int 5)");
    check("set mut x to 1\nchange x to x + 1", "(let-mut x 1) (= x (+ x 1))");
    check("let {a, b} = o", "(let {a b} o)");
    check("let {\n  a\n  b\n} = o", "(let {a b} o)");
    check("unpack {a, b} from o", "(let-mut {a b} o)");
    check("unpack [first, ...rest] from xs", "(let-mut [first ...rest] xs)");
    check("a.b[0].c += 1", "(Add= a.b[0].c 1)");
    check("change o[\"k\"] to 2", "(= o[\"k\"] 2)");
    check("x -= 1 x *= 2 x /= 3 x %= 4", "(Sub= x 1) (Mul= x 2) (Div= x 3) (Mod= x 4)");
    check_error("f() = 1", 1, "invalid assignment target");
    check_error("let b = a = 2", 1, "unexpected token: Eq");
}

#[test]
fn functions_and_decorators() {
    check("fn f(a: Int, b = a + 1) -> Int { a }", "(fn f (a:Int b=(+ a 1)) -> Int {a})");
    check("define f() { 1 }", "(fn f () {1})");
    check(
        "async fn f() {}\nforge g() {}\nforge fn h() {}\nasync define i() {}",
        "(async-fn f () {}) (async-fn g () {}) (async-fn h () {}) (async-fn i () {})",
    );
    check("let f = fn(x) { x * 2 }", "(let f (lambda (x) {(* x 2)}))");
    check("say 5 |> fn(x) { x + 1 }", "(say (|> 5 (lambda (x) {(+ x 1)})))");
    check("@get(\"/x\")\nfn h() { 1 }", "(@get(\"/x\") fn h () {1})");
    check("@test\n@skip\nfn t() {}", "(@test() @skip() fn t () {})");
    check("@server(port: 8080)\n@get(\"/\")\nfn h() {}", "(@server (port: 8080)) (@get(\"/\") fn h () {})");
    check("@server(port: 8080 host: \"h\")", "(@server (port: 8080 host: \"h\"))");
    // A statement that starts with `fn` is a definition.
    check_error("fn(x) { x }", 1, "expected identifier, got LParen");
}

#[test]
fn types_and_methods() {
    check(
        "thing P {\n  name: String\n  age: Int = 0\n  has addr: Address\n}",
        "(struct P name:String age:Int=0 has addr:Address)",
    );
    check("struct S { has: Int }", "(struct S has:Int)");
    check("impl Dog {\n  fn bark(it) { 1 }\n  define b(it) { 2 }\n}", "(impl Dog (fn bark (it) {1}) (fn b (it) {2}))");
    check("impl I for T { fn m(it) {} }", "(impl T for-iface I (fn m (it) {}))");
    check("give T the power I { define m(it) {} }", "(impl T for-iface I (fn m (it) {}))");
    check("give T { fn m(it) {} }", "(impl T (fn m (it) {}))");
    check(
        "power Walk {\n  define walk(distance: Int) -> String\n  fn rest()\n}",
        "(interface Walk walk(distance:Int)->String rest())",
    );
    check("interface Shape { fn area() fn name() }", "(interface Shape area() name())");
    check(
        "type Shape = Circle(Float) | Rect(Float, Float) | Empty",
        "(type Shape Circle(Float) | Rect(Float Float) | Empty)",
    );
    check("type U = A() | B", "(type U A | B)");
    check("let m: Map<String, Int> = x", "(let m:Map<String, Int> x)");
    check("let m: Map<String, List<Int>> = x", "(let m:Map<String, List<Int>> x)");
    check("let m: A<B<C<D>>> = x", "(let m:A<B<C<D>>> x)");
    check(
        "fn f(a: [Int], b: ?String) -> Result<Int, String> {}",
        "(fn f (a:[Int] b:?String) -> Result<Int, String> {})",
    );
    check_error("interface I { fn a(), fn b() }", 1, "Comma");
}

#[test]
fn type_annotation_text_and_structure() {
    let program = parse_ok("let m: Map<String, List<Int>> = x");
    let StmtKind::Let { ty: Some(ty), .. } = &program.stmts[0].kind else { panic!("no type") };
    let TypeKind::Named(name, args) = &ty.kind else { panic!("not named") };
    assert_eq!(name, "Map");
    assert_eq!(args.len(), 2);
    assert_eq!(args[1].text, "List<Int>");
    let TypeKind::Named(inner, inner_args) = &args[1].kind else { panic!("not named") };
    assert_eq!(inner, "List");
    assert_eq!(inner_args[0].text, "Int");
}

#[test]
fn control_flow() {
    check("for each k, v in o { say k }", "(for k,v o {(say k)})");
    check("repeat 3 times { say _ }\nrepeat n { }", "(repeat 3 {(say _)}) (repeat n {})");
    check("loop { break }\nwhile true { continue }", "(loop {break}) (while true {continue})");
    check("try { a() } catch e { say e }", "(try {(call a )} e {(say e)})");
    check(
        "match v {\n  1 => say \"one\"\n  2 => {\n    say 2\n  }\n  _ => return\n}",
        "(match v 1 => {(say \"one\")}, 2 => {(say 2)}, _ => {(return)})",
    );
    check("match 5 { 1 => say 1, 5 => say 5, _ => say 0 }", "(match 5 1 => {(say 1)}, 5 => {(say 5)}, _ => {(say 0)})");
    check(
        "match x { Some(Ok(v)) => v, Leaf(_) => 1, \"s\" => 2, 2.5 => 3, true => 4, None() => 5 }",
        "(match x Some(Ok(v)) => {v}, Leaf(_) => {1}, \"s\" => {2}, 2.5 => {3}, true => {4}, None() => {5})",
    );
    check("let w = match n { 1 => \"one\" _ => \"other\" }", "(let w (match n 1 => {\"one\"}, _ => {\"other\"}))");
    check("match x { 1 => a = 2 }", "(match x 1 => {(= a 2)})");
    check(
        "let g = when s {\n  >= 90 -> \"A\",\n  >= 80 => \"B\"\n  == 5 \"five\"\n  else -> \"F\"\n}",
        "(let g (when s GtEq 90 -> \"A\", GtEq 80 -> \"B\", Eq 5 -> \"five\", else -> \"F\"))",
    );
    check("say when 5 { < 3 -> \"small\" }", "(say (when 5 Lt 3 -> \"small\"))");
    check("say when x { 1 -> \"a\" 2 -> \"b\", nah -> \"c\" }", "(say (when x 1 -> \"a\", 2 -> \"b\", else -> \"c\"))");
    check("say when x { otherwise \"c\" }", "(say (when x else -> \"c\"))");
    check_error("match x { -1 => 0 }", 1, "unexpected token: Minus");
}

#[test]
fn natural_and_innovation_statements() {
    check("say 1\nyell 2\nwhisper 3", "(say 1) (yell 2) (whisper 3)");
    check(
        "grab r from \"u\"\ngrab r from \"u\" with {headers: {}}",
        "(let r (call builtin:fetch \"u\")) (let r (call builtin:fetch \"u\" (obj headers: (obj ))))",
    );
    check(
        "download \"u\" to \"p\"\ndownload \"u\"\ncrawl \"u\"",
        "(download \"u\" \"p\") (download \"u\") (crawl \"u\")",
    );
    check("wait 1 seconds\nwait 0.5\nwait(2)\nlet x = wait(1)", "(wait 1) (wait 0.5) (wait 2) (let x (call wait 1))");
    check("emit x\nyield y", "(emit) (emit)");
    check("spawn { say 1 }\nlet t = spawn { 2 }\nsay await t", "(spawn {(say 1)}) (let t (spawn {2})) (say (await t))");
    check("safe { risky() }\nlet r = safe { 1 }", "(safe {(call risky )}) (let r (safe {1}))");
    check("retry 3 times { a() }\nretry 2 { a() }", "(retry 3 {(call a )}) (retry 2 {(call a )})");
    check("timeout 0.5 seconds { a() }\ntimeout 2 { a() }", "(timeout 0.5 {(call a )}) (timeout 2 {(call a )})");
    check(
        "schedule every 5 minutes { a() }\nschedule 1 hours { }\nschedule every 2 seconds {}\nschedule 3 {}",
        "(schedule 5 Minutes {(call a )}) (schedule 1 Hours {}) (schedule 2 Seconds {}) (schedule 3 Seconds {})",
    );
    check("watch \"f.txt\" { say 1 }", "(watch \"f.txt\" {(say 1)})");
    check(
        "prompt summarize(text) {\n  system: \"You are {x}\"\n  user: \"\"\"Sum {text}\"\"\"\n  returns: \"string\"\n}",
        "(prompt summarize (text) Some(\"You are {x}\") Some(\"Sum {text}\") Some(\"string\"))",
    );
    check_error("prompt p() { system: 5 }", 1, "Int(5)");
    check(
        "import \"utils.fg\"\nimport math\nimport { a, b } from \"m.fg\"",
        "(import \"utils.fg\") (import math) (import \"m.fg\" {a b})",
    );
}

#[test]
fn check_statement_forms() {
    check("check 5 > 3", "(check (> 5 3))");
    check(
        "check x is empty\ncheck x is not empty\ncheck x is ! empty",
        "(check x empty) (check x not-empty) (check x not-empty)",
    );
    check("check x between 1 and 10\ncheck x between 1 10", "(check x between 1 10) (check x between 1 10)");
    check("check s contains \"a\"", "(check s contains \"a\")");
    check("check contains(s, \"a\")", "(check (call contains s \"a\"))");
    check("check x\nlet is = 1", "(check x) (let is 1)");
    check("check x is positive", "(check x) positive");
}

#[test]
fn error_recovery_reports_several_errors() {
    let src = "say 1\nlet = 2\nsay 3\nlet x = )\nsay 4";
    let (program, diags) = parse(src);
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert_eq!(line_of(src, diags[0].span.start), 2);
    assert_eq!(line_of(src, diags[1].span.start), 4);
    assert!(program.stmts.len() >= 3);
    check_error("say 1\nsay (1 + 2))\nsay x", 2, "unexpected token: RParen");
    check_error("pub fn f() {}", 1, "unexpected token: Pub");
    check_error("let y = x unless c", 1, "unexpected token: Unless");
    check_error("1 / * 2 */", 1, "unexpected token: Star");
    check_error("say 1\n/* c */", 2, "unexpected token: Slash");
    check_error("say 1\nsay #", 2, "unexpected character: '#'");
    check_error("let été = 1", 1, "unexpected character: 'é'");
    check_error("\u{feff}say 1", 1, "unexpected character: '\u{feff}'");
    check_error("f(1; 2)", 1, "unexpected token: Semicolon");
    check_error("if x {\n  say 1\n", 3, "got Eof");
    check("let café = 1", "(let café 1)");
}

#[test]
fn method_calls() {
    check("o.go(1)", "(.go o 1)");
    check("(o.go)(1)", "(call (. o go) 1)");
    check("o.f.g()", "(.g (. o f) )");
    check("a[0](1)", "(call (idx a 0) 1)");
}

/// A small deterministic xorshift generator, so the fuzz tests need no extra crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses `src` and fails the test, showing the input, if the parser panics.
fn parse_must_not_panic(src: &str) {
    let result = std::panic::catch_unwind(|| parse(src));
    assert!(result.is_ok(), "parser panicked on input {src:?}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    // Bytes biased towards the characters that matter to the lexer.
    let alphabet = b"{}()[]\"\\\n ;,.:=<>|&!?+-*/%@_aZ09 \t\r\"{}";
    for _ in 0..2000 {
        let len = rng.below(60);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => rng.next() as u8,
                _ => alphabet[rng.below(alphabet.len())],
            })
            .collect();
        parse_must_not_panic(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn mutated_corpus_never_panics() {
    let files = corpus();
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let fragments = [
        "{", "}", "(", ")", "[", "]", "\"", "\\", "\n", "if ", "else ", "match ", "when ", "fn ", "=>", "->", ",", ":",
        "{x}", "\"{", "}\"", "\"\"\"", "craft ", "check ", " is ", "@", ";", "type ", "return", "|", ">>", "<", "...",
        "set ", " to ", "grab ", " with ", "\u{e9}",
    ];
    for _ in 0..1500 {
        let (_, text) = &files[rng.below(files.len())];
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 if at < chars.len() => {
                    let end = (at + 1 + rng.below(8)).min(chars.len());
                    chars.drain(at..end);
                }
                1 => {
                    let frag = fragments[rng.below(fragments.len())];
                    chars.splice(at..at, frag.chars());
                }
                _ => {
                    let from = rng.below(chars.len().max(1));
                    let piece: Vec<char> = chars.iter().skip(from).take(rng.below(30)).copied().collect();
                    chars.splice(at.min(chars.len())..at.min(chars.len()), piece);
                }
            }
        }
        let src: String = chars.into_iter().collect();
        parse_must_not_panic(&src);
    }
}

#[test]
fn deep_parentheses_parse_without_overflow() {
    let depth = 10_000;
    let src = format!("say {}1{}", "(".repeat(depth), ")".repeat(depth));
    check(&src, "(say 1)");
    // Unbalanced, too.
    let (_, diags) = parse(&"(".repeat(depth));
    assert!(!diags.is_empty());
    let (_, diags) = parse(&")".repeat(depth));
    assert!(!diags.is_empty());
}

#[test]
fn deep_trees_are_reported_not_overflowed() {
    let n = 10_000;
    let cases = [
        format!("say {}1{}", "[".repeat(n), "]".repeat(n)),
        format!("say {}1", "-".repeat(n)),
        format!("say {}1", "!".repeat(n)),
        format!("say 1{}", " + 1".repeat(n * 5)),
        format!("{}{}", "{".repeat(n), "}".repeat(n)),
        format!("{}{}", "if x {".repeat(n), "}".repeat(n)),
        format!("let f = {}1{}", "(fn() {".repeat(n), "})".repeat(n)),
        format!("let x: {}Int{} = 1", "[".repeat(n), "]".repeat(n)),
        format!("match x {{ {}y{} => 1 }}", "A(".repeat(n), ")".repeat(n)),
        format!("say x{}", ".f".repeat(n)),
        format!("say x{}", "()".repeat(n)),
    ];
    for src in &cases {
        let (program, diags) = parse(src);
        assert!(program.stmts.is_empty(), "expected an empty program for {}…", &src[..40]);
        assert!(
            diags.iter().any(|d| d.message == "nesting too deep"),
            "no depth error for {}…: {:?}",
            &src[..40],
            diags.first()
        );
    }
    // Moderate nesting is fine.
    parse_ok(&format!("say {}1{}", "[".repeat(200), "]".repeat(200)));
    parse_ok(&format!("say 1{}", " + 1".repeat(500)));
}

#[test]
fn deep_interpolation_is_capped() {
    // Each level of nesting needs its quotes escaped once more.
    let mut s = String::from("x");
    for _ in 0..20 {
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        s = format!("\"{{{escaped}}}\"");
    }
    let (_, diags) = parse(&format!("say {s}"));
    assert!(diags.iter().any(|d| d.message.contains("nesting too deep")), "{:?}", diags.first());
    let mut s = String::from("x");
    for _ in 0..3 {
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        s = format!("\"{{{escaped}}}\"");
    }
    parse_ok(&format!("say {s}"));
}

#[test]
fn large_source_parses_quickly() {
    let files = corpus();
    let mut src = String::new();
    // Wrapping each file in a function keeps `return` statements and the like valid.
    while src.len() < 2_000_000 {
        for (path, text) in &files {
            if path.to_string_lossy().contains("failures") {
                continue;
            }
            src.push_str("fn wrapper() {\n");
            src.push_str(text);
            src.push_str("\n}\n");
        }
    }
    let start = std::time::Instant::now();
    let (program, diags) = parse(&src);
    let elapsed = start.elapsed();
    assert!(diags.is_empty(), "{:?}", diags.first());
    assert!(program.stmts.len() > 1000);
    assert!(elapsed.as_secs() < 5, "parsing {} bytes took {elapsed:?}", src.len());
}

#[test]
fn more_edge_cases() {
    // Multi-byte characters keep interpolation positions exact.
    let src = "say \"é{x}ü{y}\"";
    let program = parse_ok(src);
    let StmtKind::Print { value, .. } = &program.stmts[0].kind else { panic!("not a print") };
    let ExprKind::Interp(parts) = &value.kind else { panic!("not interpolated") };
    let InterpPart::Expr(y) = &parts[3] else { panic!("no expression") };
    assert_eq!(&src[y.span.start as usize..y.span.end as usize], "y");
    // `;` separates statements but is not allowed inside brackets or declarations.
    check_error("struct S { a: Int; b: Int }", 1, "unexpected token: Semicolon");
    check("if x { a; b }", "(if x {a b})");
    // `else` arms of `when` need a separator; an `if` result keeps its own `else`.
    check(
        "say when x {\n  1 -> if a { 1 } else { 2 }\n  else -> 3\n}",
        "(say (when x 1 -> (if a {1} else {2}), else -> 3))",
    );
    // Nested block expressions and lambdas inside interpolation.
    check(r#"say "{ map([1], fn(v) { v * 2 }) }""#, "(say (interp (call map [1] (lambda (v) {(* v 2)}))))");
    // Decorators in nested blocks attach too.
    check("if t {\n  @test\n  fn f() {}\n}", "(if t {(@test() fn f () {})})");
    // `wait` as an expression is the builtin call.
    check("let w = wait(1) + 1", "(let w (+ (call wait 1) 1))");
    // A soft keyword used as a variable name can be declared but not read.
    check_error("let from = 1\nsay from", 2, "unexpected token: From");
}
