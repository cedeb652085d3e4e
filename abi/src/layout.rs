//! The NaN-boxed value layout: one 64-bit word per Forge value.
//!
//! ```text
//!  bits 63..48   meaning
//!  0xFFF9        Int, 48-bit two's complement payload in bits 47..0
//!  0xFFFA        special constant: payload SPECIAL_* below
//!  0xFFFB        builtin function: payload = index in the runtime's builtin table
//!  0xFFFC        pointer to a heap object (48-bit address)
//!  anything else a Float (IEEE-754 binary64; NaNs are canonicalised to CANON_NAN)
//! ```
//!
//! Ints outside the 48-bit immediate range live on the heap (kind `BigInt`), so a
//! Forge Int always has full i64 semantics; the immediate form is the fast path that
//! generated code handles inline.

pub const TAG_SHIFT: u32 = 48;
pub const PAYLOAD_MASK: u64 = (1u64 << 48) - 1;

pub const TAG_INT: u64 = 0xFFF9;
pub const TAG_SPECIAL: u64 = 0xFFFA;
pub const TAG_BUILTIN: u64 = 0xFFFB;
pub const TAG_PTR: u64 = 0xFFFC;

/// The first tag value that is not a float; every word whose top 16 bits are at least
/// this is a tagged value.
pub const FIRST_TAG: u64 = TAG_INT;

pub const CANON_NAN: u64 = 0x7FF8_0000_0000_0000;

pub const SPECIAL_NULL: u64 = 0;
pub const SPECIAL_FALSE: u64 = 1;
pub const SPECIAL_TRUE: u64 = 2;
pub const SPECIAL_NONE: u64 = 3;
/// An unbound variable slot (never visible to programs).
pub const SPECIAL_UNDEF: u64 = 4;
/// Returned by runtime entry points that failed; the error is in the isolate.
pub const SPECIAL_EXC: u64 = 5;

pub const fn special(p: u64) -> u64 {
    (TAG_SPECIAL << TAG_SHIFT) | p
}

pub const NULL_BITS: u64 = special(SPECIAL_NULL);
pub const FALSE_BITS: u64 = special(SPECIAL_FALSE);
pub const TRUE_BITS: u64 = special(SPECIAL_TRUE);
pub const NONE_BITS: u64 = special(SPECIAL_NONE);
pub const UNDEF_BITS: u64 = special(SPECIAL_UNDEF);
pub const EXC_BITS: u64 = special(SPECIAL_EXC);

/// Smallest and largest Int held as an immediate.
pub const INT_IMM_MIN: i64 = -(1i64 << 47);
pub const INT_IMM_MAX: i64 = (1i64 << 47) - 1;

/// Reference count of objects that are never freed (constants in native binaries).
pub const RC_IMMORTAL: u32 = u32::MAX;

/// Byte offset of the reference count (a `u32`, not atomic: an object belongs to one
/// isolate; immortal objects are never written) in the header every heap object starts
/// with. Compiled code counts references inline; freeing (count 1 → 0) is the
/// runtime's `forge_release`.
pub const RC_OFFSET: i32 = 0;

/// Byte offset of the kind byte (see [`kind`]) in the object header.
pub const KIND_OFFSET: i32 = 4;

/// Byte offset, in a function object (`kind::FUNC`), of the address of its native
/// generic entry (the `Entry` signature of the ABI), or 0 when the function runs on
/// the VM. Compiled code calls a function value through it without the runtime.
pub const FUNC_ENTRY_OFFSET: i32 = 8;

/// Byte offset, in a function object, of the address of an array holding, for each
/// captured variable, the address of the word its cell holds. Compiled code reads and
/// writes captured variables through it; the function keeps its cells alive.
pub const FUNC_SLOTS_OFFSET: i32 = 16;

/// Byte offset, in a function object, of the address of its native fixed-arity body
/// (`fn(ctx, closure, p1, …, pN) -> u64`), valid when the `u64` at
/// [`FUNC_ARITY_OFFSET`] equals the number of arguments of a call.
pub const FUNC_FIXED_OFFSET: i32 = 24;

/// Byte offset, in a function object, of the number of parameters its fixed-arity body
/// takes, or [`NO_ARITY`] when it has none (VM code, builtins): a call with exactly
/// that many arguments may skip the generic entry.
pub const FUNC_ARITY_OFFSET: i32 = 32;

/// The arity field of a function object without a native fixed-arity body.
pub const NO_ARITY: u64 = u64::MAX;

/// The version of what compiled code assumes about values and objects beyond the
/// runtime table: bump it whenever a constant of this module or an object layout that
/// generated code reads changes (it is part of the runtime's ABI stamp).
pub const LAYOUT_VERSION: u32 = 3;

/// Heap object kinds (the `kind` byte of the object header). ORDER KIND: the runtime's
/// `ObjKind` enum mirrors these values.
pub mod kind {
    pub const STR: u8 = 1;
    pub const ARRAY: u8 = 2;
    pub const MAP: u8 = 3;
    pub const BIGINT: u8 = 4;
    pub const OK: u8 = 5;
    pub const ERR: u8 = 6;
    pub const SOME: u8 = 7;
    pub const CELL: u8 = 8;
    pub const FUNC: u8 = 9;
    pub const ENV: u8 = 10;
    pub const NATIVE: u8 = 11;
}

/// Header flag: the value was made with `freeze`.
pub const FLAG_FROZEN: u8 = 1;
