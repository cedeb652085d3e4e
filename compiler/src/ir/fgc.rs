//! `.fgc` files: a compiled [`Module`] serialized to bytes, so that `forge run` can
//! skip parsing and lowering (`forge build FILE` writes one).
//!
//! The file is a fixed header followed by a payload:
//!
//! ```text
//! magic             4 bytes  "FGC\0"
//! format version    u16 LE   FORMAT_VERSION
//! compiler version  u8 length, then that many bytes of UTF-8 (the forge-compiler
//!                            package version that wrote the file)
//! payload length    u64 LE
//! checksum          u64 LE   FNV-1a 64 of the payload bytes
//! payload           the root module, exactly `payload length` bytes
//! ```
//!
//! The first three header fields keep this layout in every format version, so a
//! reader can always say which version wrote a file it rejects. A file is accepted
//! only when both the format version and the compiler version equal the reader's.
//!
//! In the payload, every integer is LEB128 (unsigned; signed values are zigzag
//! encoded first), except `f64` constants (8 raw bytes, little-endian bit pattern).
//! Strings are a LEB128 byte length followed by UTF-8; lists are a LEB128 count
//! followed by the elements; booleans are one byte 0 or 1; enums are one tag byte.
//! A module is: file, source, globals, prototypes, imported modules (recursively).
//! A prototype is its fields in declaration order (see `write_proto`). Instructions
//! are a tag byte (the `op` table, marked "ORDER OP") and then their operands in
//! declaration order.
//!
//! [`decode`] never panics and never allocates more than a small multiple of its
//! input: every length is checked against the bytes that remain. A decoded module
//! has passed [`verify`](super::verify::verify) and a few further checks the VM
//! relies on (see `check_runnable`).

use std::sync::Arc;

use super::*;

/// The first four bytes of every `.fgc` file.
pub const MAGIC: [u8; 4] = *b"FGC\0";

/// The payload layout version. Bump it whenever the encoding changes.
pub const FORMAT_VERSION: u16 = 1;

/// The compiler version recorded in (and required of) every file.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

// The header stores the version's length in one byte.
const _: () = assert!(COMPILER_VERSION.len() < 256);

/// Imported modules nest at most this deep (decoding, verifying and running recurse).
const MAX_IMPORT_DEPTH: u32 = 200;

/// Whether `bytes` starts like a `.fgc` file (the magic bytes).
pub fn is_fgc(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Serializes a module (with its imported modules) into the `.fgc` format.
pub fn encode(m: &Module) -> Vec<u8> {
    let mut payload = Writer::default();
    write_module(&mut payload, m);
    let payload = payload.out;
    let mut out = Vec::with_capacity(payload.len() + 32);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(COMPILER_VERSION.len() as u8);
    out.extend_from_slice(COMPILER_VERSION.as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads a `.fgc` file back into a module, checking the header, the checksum and the
/// structure, then verifying the result. Errors are one-line messages.
pub fn decode(bytes: &[u8]) -> Result<Module, String> {
    let payload = read_header(bytes)?;
    let mut r = Reader { bytes: payload, at: 0 };
    let m = read_module(&mut r, 0).map_err(|e| format!("corrupt bytecode file: {e} (at payload byte {})", r.at))?;
    if r.at != payload.len() {
        return Err(format!("corrupt bytecode file: {} unexpected bytes after the module", payload.len() - r.at));
    }
    verify::verify(&m).map_err(|e| format!("invalid bytecode file: {e}"))?;
    check_runnable(&m).map_err(|e| format!("invalid bytecode file: {e}"))?;
    Ok(m)
}

/// FNV-1a, 64 bits: detects every single-byte change, and almost all others.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Checks the header and returns the payload.
fn read_header(bytes: &[u8]) -> Result<&[u8], String> {
    let rebuild = "rebuild it with `forge build`";
    if !is_fgc(bytes) {
        if !bytes.is_empty() && MAGIC.starts_with(bytes) {
            return Err("truncated bytecode file (incomplete header)".into());
        }
        return Err("not a Forge bytecode file (bad magic bytes)".into());
    }
    let truncated = || "truncated bytecode file (incomplete header)".to_string();
    let rest = &bytes[MAGIC.len()..];
    let (format, rest) = match rest {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return Err(truncated()),
    };
    let (version, rest) = match rest.split_first() {
        Some((&n, rest)) if rest.len() >= n as usize => rest.split_at(n as usize),
        _ => return Err(truncated()),
    };
    // The version is quoted in a one-line message: control characters are replaced.
    let version: String =
        String::from_utf8_lossy(version).chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if version != COMPILER_VERSION || format != FORMAT_VERSION {
        return Err(format!(
            "bytecode file was built by forge {version} (format {format}), but this is forge {COMPILER_VERSION} \
             (format {FORMAT_VERSION}); {rebuild}"
        ));
    }
    if rest.len() < 16 {
        return Err(truncated());
    }
    let (len, rest) = rest.split_at(8);
    let (sum, payload) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().map_err(|_| truncated())?);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| truncated())?);
    let have = payload.len() as u64;
    if have < len {
        return Err(format!("truncated bytecode file ({have} of {len} payload bytes); {rebuild}"));
    }
    if have > len {
        return Err(format!("corrupt bytecode file ({} unexpected bytes at the end)", have - len));
    }
    if fnv1a64(payload) != sum {
        return Err(format!("corrupt bytecode file (checksum mismatch); {rebuild}"));
    }
    Ok(payload)
}

/// Checks what [`verify`] leaves to the creator of a closure, so that a verified,
/// decoded module cannot make the VM index out of range: every module has a top level
/// without upvalues, and every `Closure` finds its upvalues in its creator's registers
/// and upvalues.
fn check_runnable(m: &Module) -> Result<(), String> {
    let Some(main) = m.protos.first() else {
        return Err(format!("module '{}' has no prototypes", m.file));
    };
    if !main.upvals.is_empty() {
        return Err(format!("module '{}': the top level captures upvalues", m.file));
    }
    for (pi, p) in m.protos.iter().enumerate() {
        for ins in &p.code {
            if let Instr::Closure { proto, .. } = *ins {
                for u in &m.proto(proto).upvals {
                    let ok = match *u {
                        UpvalSrc::Reg(r) => r < p.n_regs,
                        UpvalSrc::Upval(i) => (i as usize) < p.upvals.len(),
                    };
                    if !ok {
                        return Err(format!("proto #{pi} ({}): closure #{proto} captures out of range", p.trace_name));
                    }
                }
            }
        }
    }
    m.imports.iter().try_for_each(|sub| check_runnable(sub))
}

// ---------------------------------------------------------------------------------
// Instruction tags.
// ---------------------------------------------------------------------------------

/// ORDER OP: the tag byte of each [`Instr`] variant, in declaration order. These
/// numbers are the file format: never renumber them; add new variants at the end and
/// bump [`FORMAT_VERSION`]. `write_instr` and `read_instr` both use this table.
mod op {
    pub const LOAD_K: u8 = 0;
    pub const LOAD_INT: u8 = 1;
    pub const LOAD_SPECIAL: u8 = 2;
    pub const LOAD_BUILTIN: u8 = 3;
    pub const MOVE: u8 = 4;
    pub const GET_GLOBAL: u8 = 5;
    pub const GET_GLOBAL_OPT: u8 = 6;
    pub const SET_GLOBAL: u8 = 7;
    pub const NEW_CELL: u8 = 8;
    pub const GET_CELL: u8 = 9;
    pub const SET_CELL: u8 = 10;
    pub const GET_UPVAL: u8 = 11;
    pub const SET_UPVAL: u8 = 12;
    pub const ARITH: u8 = 13;
    pub const ARITH_I: u8 = 14;
    pub const COMPARE: u8 = 15;
    pub const COMPARE_I: u8 = 16;
    pub const JMP_IF_NOT_CMP: u8 = 17;
    pub const JMP_IF_NOT_CMP_I: u8 = 18;
    pub const COMPARE_LENIENT: u8 = 19;
    pub const NEG: u8 = 20;
    pub const NOT: u8 = 21;
    pub const TRUTHY: u8 = 22;
    pub const JMP: u8 = 23;
    pub const JMP_IF: u8 = 24;
    pub const JMP_IF_NOT: u8 = 25;
    pub const JMP_IF_DEFINED: u8 = 26;
    pub const NEW_ARRAY: u8 = 27;
    pub const ARRAY_EXTEND: u8 = 28;
    pub const NEW_OBJECT: u8 = 29;
    pub const OBJ_INSERT: u8 = 30;
    pub const NEW_STRUCT: u8 = 31;
    pub const FINISH_STRUCT: u8 = 32;
    pub const GET_FIELD: u8 = 33;
    pub const GET_INDEX: u8 = 34;
    pub const SET_PATH: u8 = 35;
    pub const PUSH_POP: u8 = 36;
    pub const APPEND_VAR: u8 = 37;
    pub const CALL: u8 = 38;
    pub const CALL_METHOD: u8 = 39;
    pub const RETURN: u8 = 40;
    pub const CLOSURE: u8 = 41;
    pub const CONCAT: u8 = 42;
    pub const PRINT: u8 = 43;
    pub const FOR_PREP: u8 = 44;
    pub const FOR_NEXT: u8 = 45;
    pub const TRY_BEGIN: u8 = 46;
    pub const TRY_END: u8 = 47;
    pub const RAISE: u8 = 48;
    pub const MUST: u8 = 49;
    pub const QUESTION: u8 = 50;
    pub const AWAIT: u8 = 51;
    pub const FREEZE: u8 = 52;
    pub const ASK: u8 = 53;
    pub const SPAWN: u8 = 54;
    pub const CHECK: u8 = 55;
    pub const TEST_VARIANT: u8 = 56;
    pub const VARIANT_FIELD: u8 = 57;
    pub const TEST_LITERAL: u8 = 58;
    pub const TEST_BOOL: u8 = 59;
    pub const TEST_IDENT: u8 = 60;
    pub const IS_DEFINED: u8 = 61;
    pub const MATCH_EXHAUSTIVE: u8 = 62;
    pub const DEF_STRUCT: u8 = 63;
    pub const DEF_ADT: u8 = 64;
    pub const DEF_IMPL: u8 = 65;
    pub const DEF_INTERFACE: u8 = 66;
    pub const DEF_PROMPT: u8 = 67;
    pub const IMPORT: u8 = 68;
    pub const TIMEOUT_BEGIN: u8 = 69;
    pub const TIMEOUT_END: u8 = 70;
    pub const CHECK_CANCEL: u8 = 71;
    pub const RETRY: u8 = 72;
    pub const SCHEDULE: u8 = 73;
    pub const WATCH: u8 = 74;
    pub const DECORATOR: u8 = 75;
    pub const CHECK_DESTRUCTURE: u8 = 76;
    pub const GET_KEY_OR: u8 = 77;
    pub const ARRAY_AT: u8 = 78;
    pub const ARRAY_REST: u8 = 79;
    pub const NOP: u8 = 80;
    /// The number of tags; every tag below it is in use.
    #[cfg(test)]
    pub const COUNT: u8 = 81;
}

/// Defines the one-byte encoding of a fieldless enum: `$enc` maps a value to its tag
/// (an exhaustive match, so a new variant fails to compile until it has a tag) and
/// `$dec` maps a tag back. The tags are part of the file format.
macro_rules! byte_enum {
    ($enc:ident, $dec:ident, $ty:ident { $($v:ident = $n:literal),* $(,)? }) => {
        fn $enc(v: $ty) -> u8 {
            match v {
                $($ty::$v => $n,)*
            }
        }
        fn $dec(b: u8) -> Result<$ty, String> {
            match b {
                $($n => Ok($ty::$v),)*
                _ => Err(format!(concat!("unknown ", stringify!($ty), " tag {}"), b)),
            }
        }
    };
}

byte_enum!(enc_kind, dec_kind, ProtoKind { Main = 0, Function = 1, Lambda = 2, Method = 3, Task = 4 });
byte_enum!(enc_special, dec_special, Special { Null = 0, True = 1, False = 2, None = 3, Undef = 4 });
byte_enum!(enc_arith, dec_arith, ArithOp { Add = 0, Sub = 1, Mul = 2, Div = 3, Mod = 4 });
byte_enum!(enc_cmp, dec_cmp, CmpKind { Eq = 0, Ne = 1, Lt = 2, Le = 3, Gt = 4, Ge = 5 });
byte_enum!(enc_print, dec_print, PrintKind { Say = 0, Yell = 1, Whisper = 2 });
byte_enum!(enc_for, dec_for, ForMode { One = 0, Two = 1 });
byte_enum!(enc_check, dec_check, CheckKind { Truthy = 0, Empty = 1, NotEmpty = 2, Between = 3, Contains = 4 });

// ---------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    fn uleb(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(b);
                return;
            }
            self.out.push(b | 0x80);
        }
    }

    fn sleb(&mut self, v: i64) {
        self.uleb(((v << 1) ^ (v >> 63)) as u64);
    }

    fn len(&mut self, n: usize) {
        self.uleb(n as u64);
    }

    fn u16(&mut self, v: u16) {
        self.uleb(v as u64);
    }

    fn u32(&mut self, v: u32) {
        self.uleb(v as u64);
    }

    fn i32(&mut self, v: i32) {
        self.sleb(v as i64);
    }

    fn bool(&mut self, v: bool) {
        self.byte(v as u8);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
        }
    }

    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.len(items.len());
        for it in items {
            f(self, it);
        }
    }

    fn strs(&mut self, items: &[String]) {
        self.list(items, |w, s| w.str(s));
    }
}

fn write_module(w: &mut Writer, m: &Module) {
    w.str(&m.file);
    w.str(&m.source);
    w.strs(&m.globals);
    w.list(&m.protos, |w, p| write_proto(w, p));
    w.list(&m.imports, |w, sub| write_module(w, sub));
}

fn write_proto(w: &mut Writer, p: &Proto) {
    w.str(&p.trace_name);
    w.str(&p.name);
    w.byte(enc_kind(p.kind));
    w.u16(p.n_params);
    w.list(&p.param_defaults, |w, &d| w.bool(d));
    w.u16(p.n_regs);
    w.list(&p.consts, |w, c| match c {
        Const::Int(v) => {
            w.byte(0);
            w.sleb(*v);
        }
        Const::Float(v) => {
            w.byte(1);
            w.out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Const::Str(s) => {
            w.byte(2);
            w.str(s);
        }
    });
    w.list(&p.code, write_instr);
    w.list(&p.pos, |w, &(line, col)| {
        w.u32(line);
        w.u32(col);
    });
    w.list(&p.upvals, |w, u| match *u {
        UpvalSrc::Reg(r) => {
            w.byte(0);
            w.u16(r);
        }
        UpvalSrc::Upval(i) => {
            w.byte(1);
            w.u16(i);
        }
    });
    w.strs(&p.local_names);
    w.list(&p.paths, |w, path| {
        let (tag, v) = match path.root {
            VarRef::Reg(r) => (0, r as u32),
            VarRef::Cell(r) => (1, r as u32),
            VarRef::Upval(u) => (2, u as u32),
            VarRef::Global(g) => (3, g),
        };
        w.byte(tag);
        w.u32(v);
        w.str(&path.name);
        w.list(&path.steps, |w, s| match s {
            PathStep::Field(f) => {
                w.byte(0);
                w.str(f);
            }
            PathStep::Index(r) => {
                w.byte(1);
                w.u16(*r);
            }
        });
    });
    w.list(&p.structs, |w, s| {
        w.str(&s.name);
        w.strs(&s.defaults);
        w.list(&s.embeds, |w, (field, ty)| {
            w.str(field);
            w.str(ty);
        });
    });
    w.list(&p.adts, |w, a| {
        w.str(&a.name);
        w.list(&a.variants, |w, (name, n)| {
            w.str(name);
            w.u16(*n);
        });
    });
    w.list(&p.impls, |w, i| {
        w.str(&i.type_name);
        w.opt_str(&i.interface);
        w.strs(&i.methods);
        w.list(&i.instance, |w, &b| w.bool(b));
    });
    w.list(&p.interfaces, |w, i| {
        w.str(&i.name);
        w.list(&i.methods, |w, (name, n, ret)| {
            w.str(name);
            w.u16(*n);
            w.opt_str(ret);
        });
    });
    w.list(&p.imports, |w, i| {
        w.str(&i.path);
        w.strs(&i.names);
        match i.module {
            None => w.byte(0),
            Some(mi) => {
                w.byte(1);
                w.u32(mi);
            }
        }
    });
    w.list(&p.matches, |w, mi| {
        w.strs(&mi.named);
        w.strs(&mi.idents);
        w.bool(mi.has_wildcard);
    });
}

/// Writes one instruction: its tag from the `op` table, then its operands in
/// declaration order. `read_instr` mirrors this match arm by arm (ORDER OP).
fn write_instr(w: &mut Writer, ins: &Instr) {
    use Instr as I;
    match *ins {
        I::LoadK { dst, k } => {
            w.byte(op::LOAD_K);
            w.u16(dst);
            w.u32(k);
        }
        I::LoadInt { dst, v } => {
            w.byte(op::LOAD_INT);
            w.u16(dst);
            w.i32(v);
        }
        I::LoadSpecial { dst, which } => {
            w.byte(op::LOAD_SPECIAL);
            w.u16(dst);
            w.byte(enc_special(which));
        }
        I::LoadBuiltin { dst, name } => {
            w.byte(op::LOAD_BUILTIN);
            w.u16(dst);
            w.u32(name);
        }
        I::Move { dst, src } => {
            w.byte(op::MOVE);
            w.u16(dst);
            w.u16(src);
        }
        I::GetGlobal { dst, slot } => {
            w.byte(op::GET_GLOBAL);
            w.u16(dst);
            w.u32(slot);
        }
        I::GetGlobalOpt { dst, slot } => {
            w.byte(op::GET_GLOBAL_OPT);
            w.u16(dst);
            w.u32(slot);
        }
        I::SetGlobal { slot, src } => {
            w.byte(op::SET_GLOBAL);
            w.u32(slot);
            w.u16(src);
        }
        I::NewCell { dst, src } => {
            w.byte(op::NEW_CELL);
            w.u16(dst);
            w.u16(src);
        }
        I::GetCell { dst, cell, name } => {
            w.byte(op::GET_CELL);
            w.u16(dst);
            w.u16(cell);
            w.u32(name);
        }
        I::SetCell { cell, src } => {
            w.byte(op::SET_CELL);
            w.u16(cell);
            w.u16(src);
        }
        I::GetUpval { dst, idx, name } => {
            w.byte(op::GET_UPVAL);
            w.u16(dst);
            w.u16(idx);
            w.u32(name);
        }
        I::SetUpval { idx, src } => {
            w.byte(op::SET_UPVAL);
            w.u16(idx);
            w.u16(src);
        }
        I::Arith { op, dst, a, b } => {
            w.byte(op::ARITH);
            w.byte(enc_arith(op));
            w.u16(dst);
            w.u16(a);
            w.u16(b);
        }
        I::ArithI { op, dst, a, imm } => {
            w.byte(op::ARITH_I);
            w.byte(enc_arith(op));
            w.u16(dst);
            w.u16(a);
            w.i32(imm);
        }
        I::Compare { op, dst, a, b } => {
            w.byte(op::COMPARE);
            w.byte(enc_cmp(op));
            w.u16(dst);
            w.u16(a);
            w.u16(b);
        }
        I::CompareI { op, dst, a, imm } => {
            w.byte(op::COMPARE_I);
            w.byte(enc_cmp(op));
            w.u16(dst);
            w.u16(a);
            w.i32(imm);
        }
        I::JmpIfNotCmp { op, a, b, target } => {
            w.byte(op::JMP_IF_NOT_CMP);
            w.byte(enc_cmp(op));
            w.u16(a);
            w.u16(b);
            w.u32(target);
        }
        I::JmpIfNotCmpI { op, a, imm, target } => {
            w.byte(op::JMP_IF_NOT_CMP_I);
            w.byte(enc_cmp(op));
            w.u16(a);
            w.i32(imm);
            w.u32(target);
        }
        I::CompareLenient { op, dst, a, b } => {
            w.byte(op::COMPARE_LENIENT);
            w.byte(enc_cmp(op));
            w.u16(dst);
            w.u16(a);
            w.u16(b);
        }
        I::Neg { dst, src } => {
            w.byte(op::NEG);
            w.u16(dst);
            w.u16(src);
        }
        I::Not { dst, src } => {
            w.byte(op::NOT);
            w.u16(dst);
            w.u16(src);
        }
        I::Truthy { dst, src } => {
            w.byte(op::TRUTHY);
            w.u16(dst);
            w.u16(src);
        }
        I::Jmp { target } => {
            w.byte(op::JMP);
            w.u32(target);
        }
        I::JmpIf { cond, target } => {
            w.byte(op::JMP_IF);
            w.u16(cond);
            w.u32(target);
        }
        I::JmpIfNot { cond, target } => {
            w.byte(op::JMP_IF_NOT);
            w.u16(cond);
            w.u32(target);
        }
        I::JmpIfDefined { src, target } => {
            w.byte(op::JMP_IF_DEFINED);
            w.u16(src);
            w.u32(target);
        }
        I::NewArray { dst, start, n } => {
            w.byte(op::NEW_ARRAY);
            w.u16(dst);
            w.u16(start);
            w.u16(n);
        }
        I::ArrayExtend { arr, src } => {
            w.byte(op::ARRAY_EXTEND);
            w.u16(arr);
            w.u16(src);
        }
        I::NewObject { dst } => {
            w.byte(op::NEW_OBJECT);
            w.u16(dst);
        }
        I::ObjInsert { obj, key, src } => {
            w.byte(op::OBJ_INSERT);
            w.u16(obj);
            w.u32(key);
            w.u16(src);
        }
        I::NewStruct { dst, name } => {
            w.byte(op::NEW_STRUCT);
            w.u16(dst);
            w.u32(name);
        }
        I::FinishStruct { obj, name } => {
            w.byte(op::FINISH_STRUCT);
            w.u16(obj);
            w.u32(name);
        }
        I::GetField { dst, obj, name } => {
            w.byte(op::GET_FIELD);
            w.u16(dst);
            w.u16(obj);
            w.u32(name);
        }
        I::GetIndex { dst, obj, idx } => {
            w.byte(op::GET_INDEX);
            w.u16(dst);
            w.u16(obj);
            w.u16(idx);
        }
        I::SetPath { path, src } => {
            w.byte(op::SET_PATH);
            w.u16(path);
            w.u16(src);
        }
        I::PushPop { path, dst, arg, pop } => {
            w.byte(op::PUSH_POP);
            w.u16(path);
            w.u16(dst);
            w.u16(arg);
            w.bool(pop);
        }
        I::AppendVar { path, src } => {
            w.byte(op::APPEND_VAR);
            w.u16(path);
            w.u16(src);
        }
        I::Call { dst, func, args, n } => {
            w.byte(op::CALL);
            w.u16(dst);
            w.u16(func);
            w.u16(args);
            w.byte(n);
        }
        I::CallMethod { dst, recv, name, args, n } => {
            w.byte(op::CALL_METHOD);
            w.u16(dst);
            w.u16(recv);
            w.u32(name);
            w.u16(args);
            w.byte(n);
        }
        I::Return { src } => {
            w.byte(op::RETURN);
            w.u16(src);
        }
        I::Closure { dst, proto } => {
            w.byte(op::CLOSURE);
            w.u16(dst);
            w.u32(proto);
        }
        I::Concat { dst, start, n } => {
            w.byte(op::CONCAT);
            w.u16(dst);
            w.u16(start);
            w.u16(n);
        }
        I::Print { kind, src } => {
            w.byte(op::PRINT);
            w.byte(enc_print(kind));
            w.u16(src);
        }
        I::ForPrep { state, src } => {
            w.byte(op::FOR_PREP);
            w.u16(state);
            w.u16(src);
        }
        I::ForNext { state, var, mode, exit } => {
            w.byte(op::FOR_NEXT);
            w.u16(state);
            w.u16(var);
            w.byte(enc_for(mode));
            w.u32(exit);
        }
        I::TryBegin { handler, err } => {
            w.byte(op::TRY_BEGIN);
            w.u32(handler);
            w.u16(err);
        }
        I::TryEnd => w.byte(op::TRY_END),
        I::Raise { msg } => {
            w.byte(op::RAISE);
            w.u32(msg);
        }
        I::Must { dst, src } => {
            w.byte(op::MUST);
            w.u16(dst);
            w.u16(src);
        }
        I::Question { dst, src } => {
            w.byte(op::QUESTION);
            w.u16(dst);
            w.u16(src);
        }
        I::Await { dst, src } => {
            w.byte(op::AWAIT);
            w.u16(dst);
            w.u16(src);
        }
        I::Freeze { dst, src } => {
            w.byte(op::FREEZE);
            w.u16(dst);
            w.u16(src);
        }
        I::Ask { dst, src } => {
            w.byte(op::ASK);
            w.u16(dst);
            w.u16(src);
        }
        I::Spawn { dst, func } => {
            w.byte(op::SPAWN);
            w.u16(dst);
            w.u16(func);
        }
        I::Check { kind, src } => {
            w.byte(op::CHECK);
            w.byte(enc_check(kind));
            w.u16(src);
        }
        I::TestVariant { dst, subject, name } => {
            w.byte(op::TEST_VARIANT);
            w.u16(dst);
            w.u16(subject);
            w.u32(name);
        }
        I::VariantField { dst, subject, i } => {
            w.byte(op::VARIANT_FIELD);
            w.u16(dst);
            w.u16(subject);
            w.u16(i);
        }
        I::TestLiteral { dst, subject, k } => {
            w.byte(op::TEST_LITERAL);
            w.u16(dst);
            w.u16(subject);
            w.u32(k);
        }
        I::TestBool { dst, subject, which } => {
            w.byte(op::TEST_BOOL);
            w.u16(dst);
            w.u16(subject);
            w.bool(which);
        }
        I::TestIdent { dst, subject, binding, name } => {
            w.byte(op::TEST_IDENT);
            w.u16(dst);
            w.u16(subject);
            w.u16(binding);
            w.u32(name);
        }
        I::IsDefined { dst, src } => {
            w.byte(op::IS_DEFINED);
            w.u16(dst);
            w.u16(src);
        }
        I::MatchExhaustive { subject, info } => {
            w.byte(op::MATCH_EXHAUSTIVE);
            w.u16(subject);
            w.u16(info);
        }
        I::DefStruct { info, start, dst } => {
            w.byte(op::DEF_STRUCT);
            w.u16(info);
            w.u16(start);
            w.u16(dst);
        }
        I::DefAdt { info, dst } => {
            w.byte(op::DEF_ADT);
            w.u16(info);
            w.u16(dst);
        }
        I::DefImpl { info, start } => {
            w.byte(op::DEF_IMPL);
            w.u16(info);
            w.u16(start);
        }
        I::DefInterface { info, dst } => {
            w.byte(op::DEF_INTERFACE);
            w.u16(info);
            w.u16(dst);
        }
        I::DefPrompt { dst, name } => {
            w.byte(op::DEF_PROMPT);
            w.u16(dst);
            w.u32(name);
        }
        I::Import { info, dst } => {
            w.byte(op::IMPORT);
            w.u16(info);
            w.u16(dst);
        }
        I::TimeoutBegin { secs } => {
            w.byte(op::TIMEOUT_BEGIN);
            w.u16(secs);
        }
        I::TimeoutEnd => w.byte(op::TIMEOUT_END),
        I::CheckCancel => w.byte(op::CHECK_CANCEL),
        I::Retry { op, state, err } => {
            w.byte(op::RETRY);
            w.byte(op);
            w.u16(state);
            w.u16(err);
        }
        I::Schedule { func, interval, unit } => {
            w.byte(op::SCHEDULE);
            w.u16(func);
            w.u16(interval);
            w.byte(unit);
        }
        I::Watch { func, path } => {
            w.byte(op::WATCH);
            w.u16(func);
            w.u16(path);
        }
        I::Decorator { name, args, n } => {
            w.byte(op::DECORATOR);
            w.u32(name);
            w.u16(args);
            w.byte(n);
        }
        I::CheckDestructure { src, array } => {
            w.byte(op::CHECK_DESTRUCTURE);
            w.u16(src);
            w.bool(array);
        }
        I::GetKeyOr { dst, obj, name } => {
            w.byte(op::GET_KEY_OR);
            w.u16(dst);
            w.u16(obj);
            w.u32(name);
        }
        I::ArrayAt { dst, arr, i } => {
            w.byte(op::ARRAY_AT);
            w.u16(dst);
            w.u16(arr);
            w.u16(i);
        }
        I::ArrayRest { dst, arr, skip } => {
            w.byte(op::ARRAY_REST);
            w.u16(dst);
            w.u16(arr);
            w.u16(skip);
        }
        I::Nop => w.byte(op::NOP),
    }
}

// ---------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------

/// A cursor over the payload. Every read checks the bytes that remain.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Res<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if n > self.remaining() {
            return Err("unexpected end of data".into());
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn byte(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn uleb(&mut self) -> Res<u64> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            // The tenth byte may only hold the top bit of a u64.
            if shift == 63 && b > 1 {
                return Err("integer too large".into());
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn sleb(&mut self) -> Res<i64> {
        let u = self.uleb()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn u16(&mut self) -> Res<u16> {
        u16::try_from(self.uleb()?).map_err(|_| "integer out of range".into())
    }

    fn u32(&mut self) -> Res<u32> {
        u32::try_from(self.uleb()?).map_err(|_| "integer out of range".into())
    }

    fn i32(&mut self) -> Res<i32> {
        i32::try_from(self.sleb()?).map_err(|_| "integer out of range".into())
    }

    fn bool(&mut self) -> Res<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("bad boolean {b}")),
        }
    }

    /// A count of items that take at least one byte each, so it cannot exceed the
    /// bytes that remain (this bounds every allocation by the input size).
    fn count(&mut self) -> Res<usize> {
        let n = self.uleb()?;
        if n > self.remaining() as u64 {
            return Err(format!("count {n} exceeds the remaining data"));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Res<String> {
        let n = self.count()?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "invalid UTF-8 in a string".into())
    }

    fn opt_str(&mut self) -> Res<Option<String>> {
        Ok(if self.bool()? { Some(self.str()?) } else { None })
    }

    fn list<T>(&mut self, mut f: impl FnMut(&mut Self) -> Res<T>) -> Res<Vec<T>> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    fn strs(&mut self) -> Res<Vec<String>> {
        self.list(|r| r.str())
    }
}

fn read_module(r: &mut Reader, depth: u32) -> Res<Module> {
    if depth > MAX_IMPORT_DEPTH {
        return Err(format!("imports nest deeper than {MAX_IMPORT_DEPTH}"));
    }
    Ok(Module {
        file: r.str()?,
        source: r.str()?,
        globals: r.strs()?,
        protos: r.list(|r| read_proto(r).map(Arc::new))?,
        imports: r.list(|r| read_module(r, depth + 1).map(Arc::new))?,
    })
}

fn read_proto(r: &mut Reader) -> Res<Proto> {
    // Struct fields are evaluated in the order written, which is the write order.
    Ok(Proto {
        trace_name: r.str()?,
        name: r.str()?,
        kind: dec_kind(r.byte()?)?,
        n_params: r.u16()?,
        param_defaults: r.list(|r| r.bool())?,
        n_regs: r.u16()?,
        consts: r.list(|r| {
            Ok(match r.byte()? {
                0 => Const::Int(r.sleb()?),
                1 => {
                    let b = r.take(8)?;
                    Const::Float(f64::from_bits(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])))
                }
                2 => Const::Str(r.str()?),
                t => return Err(format!("unknown constant tag {t}")),
            })
        })?,
        code: r.list(read_instr)?,
        pos: r.list(|r| Ok((r.u32()?, r.u32()?)))?,
        upvals: r.list(|r| {
            Ok(match r.byte()? {
                0 => UpvalSrc::Reg(r.u16()?),
                1 => UpvalSrc::Upval(r.u16()?),
                t => return Err(format!("unknown upvalue tag {t}")),
            })
        })?,
        local_names: r.strs()?,
        paths: r.list(|r| {
            let root = match r.byte()? {
                0 => VarRef::Reg(r.u16()?),
                1 => VarRef::Cell(r.u16()?),
                2 => VarRef::Upval(r.u16()?),
                3 => VarRef::Global(r.u32()?),
                t => return Err(format!("unknown path root tag {t}")),
            };
            Ok(PathInfo {
                root,
                name: r.str()?,
                steps: r.list(|r| {
                    Ok(match r.byte()? {
                        0 => PathStep::Field(r.str()?),
                        1 => PathStep::Index(r.u16()?),
                        t => return Err(format!("unknown path step tag {t}")),
                    })
                })?,
            })
        })?,
        structs: r.list(|r| {
            Ok(StructInfo { name: r.str()?, defaults: r.strs()?, embeds: r.list(|r| Ok((r.str()?, r.str()?)))? })
        })?,
        adts: r.list(|r| Ok(AdtInfo { name: r.str()?, variants: r.list(|r| Ok((r.str()?, r.u16()?)))? }))?,
        impls: r.list(|r| {
            Ok(ImplInfo {
                type_name: r.str()?,
                interface: r.opt_str()?,
                methods: r.strs()?,
                instance: r.list(|r| r.bool())?,
            })
        })?,
        interfaces: r.list(|r| {
            Ok(InterfaceInfo { name: r.str()?, methods: r.list(|r| Ok((r.str()?, r.u16()?, r.opt_str()?)))? })
        })?,
        imports: r.list(|r| {
            Ok(ImportInfo { path: r.str()?, names: r.strs()?, module: if r.bool()? { Some(r.u32()?) } else { None } })
        })?,
        matches: r.list(|r| Ok(MatchInfo { named: r.strs()?, idents: r.strs()?, has_wildcard: r.bool()? }))?,
        runtime_cache: Default::default(),
    })
}

/// Reads one instruction, mirroring `write_instr` arm by arm (ORDER OP). Operands are
/// read in the order the struct fields are written, which is the write order.
fn read_instr(r: &mut Reader) -> Res<Instr> {
    use Instr as I;
    Ok(match r.byte()? {
        op::LOAD_K => I::LoadK { dst: r.u16()?, k: r.u32()? },
        op::LOAD_INT => I::LoadInt { dst: r.u16()?, v: r.i32()? },
        op::LOAD_SPECIAL => I::LoadSpecial { dst: r.u16()?, which: dec_special(r.byte()?)? },
        op::LOAD_BUILTIN => I::LoadBuiltin { dst: r.u16()?, name: r.u32()? },
        op::MOVE => I::Move { dst: r.u16()?, src: r.u16()? },
        op::GET_GLOBAL => I::GetGlobal { dst: r.u16()?, slot: r.u32()? },
        op::GET_GLOBAL_OPT => I::GetGlobalOpt { dst: r.u16()?, slot: r.u32()? },
        op::SET_GLOBAL => I::SetGlobal { slot: r.u32()?, src: r.u16()? },
        op::NEW_CELL => I::NewCell { dst: r.u16()?, src: r.u16()? },
        op::GET_CELL => I::GetCell { dst: r.u16()?, cell: r.u16()?, name: r.u32()? },
        op::SET_CELL => I::SetCell { cell: r.u16()?, src: r.u16()? },
        op::GET_UPVAL => I::GetUpval { dst: r.u16()?, idx: r.u16()?, name: r.u32()? },
        op::SET_UPVAL => I::SetUpval { idx: r.u16()?, src: r.u16()? },
        op::ARITH => I::Arith { op: dec_arith(r.byte()?)?, dst: r.u16()?, a: r.u16()?, b: r.u16()? },
        op::ARITH_I => I::ArithI { op: dec_arith(r.byte()?)?, dst: r.u16()?, a: r.u16()?, imm: r.i32()? },
        op::COMPARE => I::Compare { op: dec_cmp(r.byte()?)?, dst: r.u16()?, a: r.u16()?, b: r.u16()? },
        op::COMPARE_I => I::CompareI { op: dec_cmp(r.byte()?)?, dst: r.u16()?, a: r.u16()?, imm: r.i32()? },
        op::JMP_IF_NOT_CMP => I::JmpIfNotCmp { op: dec_cmp(r.byte()?)?, a: r.u16()?, b: r.u16()?, target: r.u32()? },
        op::JMP_IF_NOT_CMP_I => {
            I::JmpIfNotCmpI { op: dec_cmp(r.byte()?)?, a: r.u16()?, imm: r.i32()?, target: r.u32()? }
        }
        op::COMPARE_LENIENT => I::CompareLenient { op: dec_cmp(r.byte()?)?, dst: r.u16()?, a: r.u16()?, b: r.u16()? },
        op::NEG => I::Neg { dst: r.u16()?, src: r.u16()? },
        op::NOT => I::Not { dst: r.u16()?, src: r.u16()? },
        op::TRUTHY => I::Truthy { dst: r.u16()?, src: r.u16()? },
        op::JMP => I::Jmp { target: r.u32()? },
        op::JMP_IF => I::JmpIf { cond: r.u16()?, target: r.u32()? },
        op::JMP_IF_NOT => I::JmpIfNot { cond: r.u16()?, target: r.u32()? },
        op::JMP_IF_DEFINED => I::JmpIfDefined { src: r.u16()?, target: r.u32()? },
        op::NEW_ARRAY => I::NewArray { dst: r.u16()?, start: r.u16()?, n: r.u16()? },
        op::ARRAY_EXTEND => I::ArrayExtend { arr: r.u16()?, src: r.u16()? },
        op::NEW_OBJECT => I::NewObject { dst: r.u16()? },
        op::OBJ_INSERT => I::ObjInsert { obj: r.u16()?, key: r.u32()?, src: r.u16()? },
        op::NEW_STRUCT => I::NewStruct { dst: r.u16()?, name: r.u32()? },
        op::FINISH_STRUCT => I::FinishStruct { obj: r.u16()?, name: r.u32()? },
        op::GET_FIELD => I::GetField { dst: r.u16()?, obj: r.u16()?, name: r.u32()? },
        op::GET_INDEX => I::GetIndex { dst: r.u16()?, obj: r.u16()?, idx: r.u16()? },
        op::SET_PATH => I::SetPath { path: r.u16()?, src: r.u16()? },
        op::PUSH_POP => I::PushPop { path: r.u16()?, dst: r.u16()?, arg: r.u16()?, pop: r.bool()? },
        op::APPEND_VAR => I::AppendVar { path: r.u16()?, src: r.u16()? },
        op::CALL => I::Call { dst: r.u16()?, func: r.u16()?, args: r.u16()?, n: r.byte()? },
        op::CALL_METHOD => {
            I::CallMethod { dst: r.u16()?, recv: r.u16()?, name: r.u32()?, args: r.u16()?, n: r.byte()? }
        }
        op::RETURN => I::Return { src: r.u16()? },
        op::CLOSURE => I::Closure { dst: r.u16()?, proto: r.u32()? },
        op::CONCAT => I::Concat { dst: r.u16()?, start: r.u16()?, n: r.u16()? },
        op::PRINT => I::Print { kind: dec_print(r.byte()?)?, src: r.u16()? },
        op::FOR_PREP => I::ForPrep { state: r.u16()?, src: r.u16()? },
        op::FOR_NEXT => I::ForNext { state: r.u16()?, var: r.u16()?, mode: dec_for(r.byte()?)?, exit: r.u32()? },
        op::TRY_BEGIN => I::TryBegin { handler: r.u32()?, err: r.u16()? },
        op::TRY_END => I::TryEnd,
        op::RAISE => I::Raise { msg: r.u32()? },
        op::MUST => I::Must { dst: r.u16()?, src: r.u16()? },
        op::QUESTION => I::Question { dst: r.u16()?, src: r.u16()? },
        op::AWAIT => I::Await { dst: r.u16()?, src: r.u16()? },
        op::FREEZE => I::Freeze { dst: r.u16()?, src: r.u16()? },
        op::ASK => I::Ask { dst: r.u16()?, src: r.u16()? },
        op::SPAWN => I::Spawn { dst: r.u16()?, func: r.u16()? },
        op::CHECK => I::Check { kind: dec_check(r.byte()?)?, src: r.u16()? },
        op::TEST_VARIANT => I::TestVariant { dst: r.u16()?, subject: r.u16()?, name: r.u32()? },
        op::VARIANT_FIELD => I::VariantField { dst: r.u16()?, subject: r.u16()?, i: r.u16()? },
        op::TEST_LITERAL => I::TestLiteral { dst: r.u16()?, subject: r.u16()?, k: r.u32()? },
        op::TEST_BOOL => I::TestBool { dst: r.u16()?, subject: r.u16()?, which: r.bool()? },
        op::TEST_IDENT => I::TestIdent { dst: r.u16()?, subject: r.u16()?, binding: r.u16()?, name: r.u32()? },
        op::IS_DEFINED => I::IsDefined { dst: r.u16()?, src: r.u16()? },
        op::MATCH_EXHAUSTIVE => I::MatchExhaustive { subject: r.u16()?, info: r.u16()? },
        op::DEF_STRUCT => I::DefStruct { info: r.u16()?, start: r.u16()?, dst: r.u16()? },
        op::DEF_ADT => I::DefAdt { info: r.u16()?, dst: r.u16()? },
        op::DEF_IMPL => I::DefImpl { info: r.u16()?, start: r.u16()? },
        op::DEF_INTERFACE => I::DefInterface { info: r.u16()?, dst: r.u16()? },
        op::DEF_PROMPT => I::DefPrompt { dst: r.u16()?, name: r.u32()? },
        op::IMPORT => I::Import { info: r.u16()?, dst: r.u16()? },
        op::TIMEOUT_BEGIN => I::TimeoutBegin { secs: r.u16()? },
        op::TIMEOUT_END => I::TimeoutEnd,
        op::CHECK_CANCEL => I::CheckCancel,
        op::RETRY => I::Retry { op: r.byte()?, state: r.u16()?, err: r.u16()? },
        op::SCHEDULE => I::Schedule { func: r.u16()?, interval: r.u16()?, unit: r.byte()? },
        op::WATCH => I::Watch { func: r.u16()?, path: r.u16()? },
        op::DECORATOR => I::Decorator { name: r.u32()?, args: r.u16()?, n: r.byte()? },
        op::CHECK_DESTRUCTURE => I::CheckDestructure { src: r.u16()?, array: r.bool()? },
        op::GET_KEY_OR => I::GetKeyOr { dst: r.u16()?, obj: r.u16()?, name: r.u32()? },
        op::ARRAY_AT => I::ArrayAt { dst: r.u16()?, arr: r.u16()?, i: r.u16()? },
        op::ARRAY_REST => I::ArrayRest { dst: r.u16()?, arr: r.u16()?, skip: r.u16()? },
        op::NOP => I::Nop,
        t => return Err(format!("unknown instruction tag {t}")),
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::ir::lower::{lower_program, ImportLoader};

    /// Resolves imports next to the program, in its `NAME.files` directory (where the
    /// conformance corpus keeps support files), or in its own directory.
    struct DirLoader {
        dirs: Vec<PathBuf>,
    }

    impl ImportLoader for DirLoader {
        fn load(&mut self, path: &str) -> Result<(String, String), String> {
            for d in &self.dirs {
                for c in [d.join(path), d.join(format!("{path}.fg"))] {
                    if c.is_file() {
                        let text = std::fs::read_to_string(&c).map_err(|e| e.to_string())?;
                        return Ok((c.to_string_lossy().into_owned(), text));
                    }
                }
            }
            Err(format!("cannot import '{path}': file not found"))
        }
    }

    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir).expect("corpus directory").flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().and_then(|x| x.to_str()) == Some("fg") {
                out.push(p);
            }
        }
    }

    /// Every conformance program that parses, compiled as `forge run` would.
    fn corpus() -> Vec<(PathBuf, Module)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
        let mut files = Vec::new();
        walk(&root, &mut files);
        assert!(files.len() > 100, "the conformance corpus was not found at {}", root.display());
        let builtins = ["say", "print", "len", "range", "str", "int", "float", "type", "keys", "values", "math"];
        let is_builtin = |n: &str| builtins.contains(&n);
        let mut out = Vec::new();
        for f in files {
            let src = std::fs::read_to_string(&f).expect("readable program");
            let (program, diags) = crate::syntax::parse(&src);
            if diags.iter().any(|d| d.is_error()) {
                continue;
            }
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            let dir = f.parent().unwrap().to_path_buf();
            let mut loader = DirLoader { dirs: vec![dir.join(format!("{name}.files")), dir] };
            let file = f.file_name().unwrap().to_string_lossy().into_owned();
            let (m, _) = lower_program(&file, &src, &program, &is_builtin, &mut loader);
            verify::verify(&m).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            out.push((f, m));
        }
        assert!(out.len() > 100, "too few conformance programs parse ({})", out.len());
        out
    }

    /// A complete structural rendering: the `Debug` form covers every field (floats
    /// print in their shortest round-trip form), and the IR dump is the reviewable one.
    fn fingerprint(m: &Module) -> String {
        format!("{}\n{m:#?}", dump::dump_module(m))
    }

    fn count_imports(m: &Module) -> usize {
        m.imports.len() + m.imports.iter().map(|s| count_imports(s)).sum::<usize>()
    }

    #[test]
    fn fgc_round_trips_the_conformance_corpus() {
        let (mut imports, mut programs, mut total) = (0, 0, 0);
        for (f, m) in corpus() {
            let bytes = encode(&m);
            programs += 1;
            total += bytes.len();
            let back = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(fingerprint(&m) == fingerprint(&back), "{}: the decoded module differs", f.display());
            assert_eq!(m.globals, back.globals);
            assert_eq!(m.source, back.source);
            assert_eq!(encode(&back), bytes, "{}: re-encoding differs", f.display());
            imports += count_imports(&m);
        }
        assert!(imports > 0, "no program of the corpus had a compiled import");
        eprintln!("{programs} programs ({imports} compiled imports) round-tripped, {total} bytes encoded");
    }

    /// One of every instruction, with operands chosen to exercise multi-byte and
    /// negative encodings.
    fn every_instr() -> Vec<Instr> {
        use Instr as I;
        let (d, s, k, big) = (300u16, 7u16, 70_000u32, u32::MAX);
        vec![
            I::LoadK { dst: d, k },
            I::LoadInt { dst: d, v: i32::MIN },
            I::LoadSpecial { dst: d, which: Special::Undef },
            I::LoadBuiltin { dst: d, name: k },
            I::Move { dst: d, src: s },
            I::GetGlobal { dst: d, slot: k },
            I::GetGlobalOpt { dst: d, slot: k },
            I::SetGlobal { slot: k, src: s },
            I::NewCell { dst: d, src: s },
            I::GetCell { dst: d, cell: s, name: big },
            I::SetCell { cell: d, src: s },
            I::GetUpval { dst: d, idx: u16::MAX, name: big },
            I::SetUpval { idx: 3, src: s },
            I::Arith { op: ArithOp::Mod, dst: d, a: s, b: 1 },
            I::ArithI { op: ArithOp::Sub, dst: d, a: s, imm: -5 },
            I::Compare { op: CmpKind::Ge, dst: d, a: s, b: 2 },
            I::CompareI { op: CmpKind::Lt, dst: d, a: s, imm: i32::MAX },
            I::JmpIfNotCmp { op: CmpKind::Ne, a: d, b: s, target: k },
            I::JmpIfNotCmpI { op: CmpKind::Le, a: d, imm: -1, target: k },
            I::CompareLenient { op: CmpKind::Gt, dst: d, a: s, b: 3 },
            I::Neg { dst: d, src: s },
            I::Not { dst: d, src: s },
            I::Truthy { dst: d, src: s },
            I::Jmp { target: k },
            I::JmpIf { cond: d, target: k },
            I::JmpIfNot { cond: d, target: k },
            I::JmpIfDefined { src: d, target: k },
            I::NewArray { dst: d, start: s, n: 9 },
            I::ArrayExtend { arr: d, src: s },
            I::NewObject { dst: d },
            I::ObjInsert { obj: d, key: k, src: s },
            I::NewStruct { dst: d, name: k },
            I::FinishStruct { obj: d, name: k },
            I::GetField { dst: d, obj: s, name: k },
            I::GetIndex { dst: d, obj: s, idx: 4 },
            I::SetPath { path: 5, src: s },
            I::PushPop { path: 5, dst: d, arg: s, pop: true },
            I::AppendVar { path: 5, src: s },
            I::Call { dst: d, func: s, args: 8, n: 255 },
            I::CallMethod { dst: d, recv: s, name: k, args: 8, n: 2 },
            I::Return { src: d },
            I::Closure { dst: d, proto: k },
            I::Concat { dst: d, start: s, n: 3 },
            I::Print { kind: PrintKind::Whisper, src: s },
            I::ForPrep { state: d, src: s },
            I::ForNext { state: d, var: s, mode: ForMode::Two, exit: k },
            I::TryBegin { handler: k, err: s },
            I::TryEnd,
            I::Raise { msg: k },
            I::Must { dst: d, src: s },
            I::Question { dst: d, src: s },
            I::Await { dst: d, src: s },
            I::Freeze { dst: d, src: s },
            I::Ask { dst: d, src: s },
            I::Spawn { dst: d, func: s },
            I::Check { kind: CheckKind::Between, src: s },
            I::TestVariant { dst: d, subject: s, name: k },
            I::VariantField { dst: d, subject: s, i: 2 },
            I::TestLiteral { dst: d, subject: s, k },
            I::TestBool { dst: d, subject: s, which: false },
            I::TestIdent { dst: d, subject: s, binding: 1, name: k },
            I::IsDefined { dst: d, src: s },
            I::MatchExhaustive { subject: d, info: 6 },
            I::DefStruct { info: 6, start: s, dst: d },
            I::DefAdt { info: 6, dst: d },
            I::DefImpl { info: 6, start: s },
            I::DefInterface { info: 6, dst: d },
            I::DefPrompt { dst: d, name: k },
            I::Import { info: 6, dst: d },
            I::TimeoutBegin { secs: d },
            I::TimeoutEnd,
            I::CheckCancel,
            I::Retry { op: 2, state: d, err: s },
            I::Schedule { func: d, interval: s, unit: 1 },
            I::Watch { func: d, path: s },
            I::Decorator { name: k, args: s, n: 4 },
            I::CheckDestructure { src: d, array: true },
            I::GetKeyOr { dst: d, obj: s, name: k },
            I::ArrayAt { dst: d, arr: s, i: 1000 },
            I::ArrayRest { dst: d, arr: s, skip: 1 },
            I::Nop,
        ]
    }

    #[test]
    fn fgc_every_instruction_round_trips_and_every_tag_is_used() {
        let all = every_instr();
        let mut tags = Vec::new();
        for ins in &all {
            let mut w = Writer::default();
            write_instr(&mut w, ins);
            tags.push(w.out[0]);
            let mut r = Reader { bytes: &w.out, at: 0 };
            assert_eq!(read_instr(&mut r).as_ref(), Ok(ins));
            assert_eq!(r.at, w.out.len(), "{ins:?} left bytes unread");
        }
        tags.sort();
        assert_eq!(tags, (0..op::COUNT).collect::<Vec<_>>(), "tags are not exactly 0..COUNT");
        let mut r = Reader { bytes: &[op::COUNT], at: 0 };
        assert!(read_instr(&mut r).is_err());
    }

    #[test]
    fn fgc_integers_round_trip() {
        let mut w = Writer::default();
        let values = [0i64, 1, -1, 63, -64, 64, i32::MIN as i64, i64::MAX, i64::MIN];
        for v in values {
            w.sleb(v);
            w.uleb(v as u64);
        }
        let mut r = Reader { bytes: &w.out, at: 0 };
        for v in values {
            assert_eq!(r.sleb(), Ok(v));
            assert_eq!(r.uleb(), Ok(v as u64));
        }
        assert_eq!(r.remaining(), 0);
        // An eleven-byte or overflowing LEB128 is rejected.
        let mut r = Reader { bytes: &[0xff; 11], at: 0 };
        assert!(r.uleb().is_err());
        let mut r = Reader { bytes: &[0x80, 0x80, 0x04], at: 0 };
        assert!(r.u16().is_err());
    }

    /// Builds a file from parts, for headers the encoder would not write.
    fn file_with(format: u16, version: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&format.to_le_bytes());
        out.push(version.len() as u8);
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a64(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn payload_of(bytes: &[u8]) -> &[u8] {
        let header = MAGIC.len() + 2 + 1 + bytes[MAGIC.len() + 2] as usize + 16;
        &bytes[header..]
    }

    fn small_module() -> Module {
        let (program, diags) = crate::syntax::parse("let x = 1\nsay x + 2\n");
        assert!(diags.iter().all(|d| !d.is_error()));
        lower_program("t.fg", "let x = 1\nsay x + 2\n", &program, &|n| n == "say", &mut crate::ir::lower::FsLoader).0
    }

    #[test]
    fn fgc_header_errors_are_clear() {
        let bytes = encode(&small_module());
        assert!(decode(&bytes).is_ok());
        let payload = payload_of(&bytes).to_vec();
        let e = decode(&file_with(FORMAT_VERSION, "0.0.1-old", &payload)).unwrap_err();
        assert!(e.contains("forge 0.0.1-old") && e.contains(COMPILER_VERSION) && e.contains("forge build"), "{e}");
        let e = decode(&file_with(FORMAT_VERSION + 1, COMPILER_VERSION, &payload)).unwrap_err();
        assert!(e.contains(&format!("format {}", FORMAT_VERSION + 1)) && e.contains("forge build"), "{e}");
        let e = decode(b"#!/usr/bin/env forge\nsay 1\n").unwrap_err();
        assert!(e.contains("not a Forge bytecode file"), "{e}");
        let e = decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(&long).unwrap_err().contains("unexpected bytes"));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x10;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        // A payload with extra bytes after the module (and a matching checksum).
        let mut extra = payload.clone();
        extra.push(0);
        let e = decode(&file_with(FORMAT_VERSION, COMPILER_VERSION, &extra)).unwrap_err();
        assert!(e.contains("unexpected bytes after the module"), "{e}");
        // A module without prototypes is rejected, not run.
        let empty = encode(&Module::default());
        assert!(decode(&empty).unwrap_err().contains("no prototypes"));
    }

    /// xorshift64*: a small deterministic generator for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn fgc_damaged_files_are_rejected_without_panicking() {
        let files: Vec<Vec<u8>> = corpus().iter().map(|(_, m)| encode(m)).collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Every truncation of every file.
        for bytes in &files {
            for n in 0..bytes.len() {
                assert!(decode(&bytes[..n]).is_err(), "a truncation to {n} bytes was accepted");
            }
        }
        // Random flips of one to four bytes: always caught (mostly by the checksum).
        for i in 0..4000 {
            let mut bytes = files[i % files.len()].clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 + rng.below(255) as u8;
            }
            assert!(decode(&bytes).is_err(), "a damaged file was accepted");
        }
        // With the checksum recomputed, the structural decoder itself sees the damage:
        // it must return (Ok only for a module that verifies), never panic.
        let mut accepted = 0;
        for i in 0..4000 {
            let original = &files[i % files.len()];
            let mut payload = payload_of(original).to_vec();
            match rng.below(3) {
                0 => payload.truncate(rng.below(payload.len())),
                _ => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(payload.len());
                        payload[at] = rng.next() as u8;
                    }
                }
            }
            if let Ok(m) = decode(&file_with(FORMAT_VERSION, COMPILER_VERSION, &payload)) {
                assert!(verify::verify(&m).is_ok());
                accepted += 1;
            }
        }
        // Every truncation of a payload (fixed up) fails in the structural decoder.
        let smallest = files.iter().min_by_key(|f| f.len()).unwrap();
        let payload = payload_of(smallest);
        for n in 0..payload.len() {
            assert!(decode(&file_with(FORMAT_VERSION, COMPILER_VERSION, &payload[..n])).is_err());
        }
        eprintln!("{accepted} of 4000 damaged payloads with fixed checksums still verified");
    }

    #[test]
    fn fgc_hostile_counts_do_not_allocate() {
        // A string and a list claiming 2^62 elements fail on the length check.
        let mut w = Writer::default();
        w.uleb(1 << 62);
        let mut r = Reader { bytes: &w.out, at: 0 };
        assert!(r.str().is_err());
        let mut r = Reader { bytes: &w.out, at: 0 };
        assert!(r.list(|r| r.byte()).is_err());
        // Imports nested beyond the limit are refused before recursing further.
        let mut nested = Writer::default();
        for _ in 0..=MAX_IMPORT_DEPTH + 1 {
            nested.str("f");
            nested.str("");
            nested.len(0);
            nested.len(0);
            nested.len(1);
        }
        let e = decode(&file_with(FORMAT_VERSION, COMPILER_VERSION, &nested.out)).unwrap_err();
        assert!(e.contains("nest deeper"), "{e}");
    }
}
