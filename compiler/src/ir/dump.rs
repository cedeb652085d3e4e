//! A readable listing of a module (`forge run --emit ir`).

use std::fmt::Write;

use super::{Const, Module, Proto};

pub fn dump_module(m: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "; module {} ({} globals: {})", m.file, m.globals.len(), m.globals.join(", "));
    for (i, p) in m.protos.iter().enumerate() {
        dump_proto(&mut out, i, p);
    }
    for (i, sub) in m.imports.iter().enumerate() {
        let _ = writeln!(out, "\n; import #{i}");
        out.push_str(&dump_module(sub));
    }
    out
}

fn dump_proto(out: &mut String, index: usize, p: &Proto) {
    let _ = writeln!(
        out,
        "\nproto #{index} {} ({:?}, {} params, {} regs, {} upvals)",
        p.trace_name,
        p.kind,
        p.n_params,
        p.n_regs,
        p.upvals.len()
    );
    for (i, c) in p.consts.iter().enumerate() {
        let text = match c {
            Const::Int(v) => v.to_string(),
            Const::Float(v) => format!("{v:?}"),
            Const::Str(s) => format!("{s:?}"),
        };
        let _ = writeln!(out, "  K{i} = {text}");
    }
    for (pc, ins) in p.code.iter().enumerate() {
        let (line, col) = p.pos.get(pc).copied().unwrap_or((0, 0));
        let _ = writeln!(out, "  {pc:4}  [{line}:{col}]  {ins:?}");
    }
}
