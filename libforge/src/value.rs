//! Forge values: NaN-boxed words with reference-counted heap objects.
//!
//! A [`Value`] owns one reference: `Clone` retains, `Drop` releases. Containers
//! (arrays, objects, Results, …) have value semantics through copy-on-write: the
//! `*_mut` accessors mutate in place when the object is uniquely referenced and not
//! frozen, and copy it first otherwise (DESIGN.md §2). Reference counts are not atomic:
//! a `Value` never crosses threads ([`Value`] is `!Send`); values move between isolates
//! only as deep copies ([`Detached`]).
//!
//! This module and the ABI layer are the only places with `unsafe` in libforge; every
//! block says why it is sound.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};

use forge_abi::layout::{self as L, kind as K};
use indexmap::IndexMap;
use rustc_hash::FxHasher;

/// Insertion-ordered string-keyed map: the storage of Forge objects.
pub type Map = IndexMap<Key, Value, BuildHasherDefault<FxHasher>>;

pub fn new_map() -> Map {
    Map::default()
}

pub fn map_with_capacity(n: usize) -> Map {
    Map::with_capacity_and_hasher(n, Default::default())
}

/// A map key: always a String value, hashed and compared by its text.
#[derive(Clone)]
pub struct Key(Value);

impl Key {
    pub fn new(s: &str) -> Key {
        Key(Value::str(s))
    }
    /// Makes a key from a value that must be a String.
    pub fn from_value(v: Value) -> Key {
        debug_assert!(v.as_str().is_some());
        Key(v)
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str().unwrap_or("")
    }
    pub fn to_value(&self) -> Value {
        self.0.clone()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}
impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

// ---------------------------------------------------------------------------------
// Heap objects
// ---------------------------------------------------------------------------------

/// The header every heap object starts with.
#[repr(C)]
pub struct Header {
    rc: Cell<u32>,
    kind: u8,
    flags: Cell<u8>,
    _pad: u16,
}

impl Header {
    fn new(kind: u8) -> Header {
        Header { rc: Cell::new(1), kind, flags: Cell::new(0), _pad: 0 }
    }
}

#[repr(C)]
struct StrObj {
    hdr: Header,
    s: String,
}

#[repr(C)]
struct ArrObj {
    hdr: Header,
    items: Vec<Value>,
}

#[repr(C)]
struct MapObj {
    hdr: Header,
    map: Map,
}

#[repr(C)]
struct IntObj {
    hdr: Header,
    v: i64,
}

/// `Ok(v)`, `Err(v)`, `Some(v)`, and closure cells (a mutable box).
#[repr(C)]
struct WrapObj {
    hdr: Header,
    inner: RefCell<Value>,
}

#[repr(C)]
struct FuncObj {
    hdr: Header,
    /// The native generic entry of `func.code`, or 0 (`L::FUNC_ENTRY_OFFSET`).
    entry: usize,
    /// The address of `slots`' first element (`L::FUNC_SLOTS_OFFSET`).
    slots_at: usize,
    /// The native fixed-arity body, or 0 (`L::FUNC_FIXED_OFFSET`).
    fixed: usize,
    /// The number of parameters `fixed` takes, or `L::NO_ARITY` (`L::FUNC_ARITY_OFFSET`).
    arity: u64,
    /// For each cell of `func.upvals`, the address of the word it holds.
    slots: Box<[usize]>,
    func: Function,
}

// Compiled code reads these fields at fixed offsets.
const _: () = assert!(std::mem::offset_of!(Header, kind) == L::KIND_OFFSET as usize);
const _: () = assert!(std::mem::offset_of!(Header, rc) == L::RC_OFFSET as usize);
const _: () = assert!(std::mem::offset_of!(FuncObj, entry) == L::FUNC_ENTRY_OFFSET as usize);
const _: () = assert!(std::mem::offset_of!(FuncObj, slots_at) == L::FUNC_SLOTS_OFFSET as usize);
const _: () = assert!(std::mem::offset_of!(FuncObj, fixed) == L::FUNC_FIXED_OFFSET as usize);
const _: () = assert!(std::mem::offset_of!(FuncObj, arity) == L::FUNC_ARITY_OFFSET as usize);

#[repr(C)]
struct EnvObj {
    hdr: Header,
    env: ModuleEnv,
}

#[repr(C)]
struct NativeObjBox {
    hdr: Header,
    obj: Box<dyn NativeObject>,
}

/// Live heap objects (allocations minus frees), for the leak checks.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// Counting is always on in debug builds and with the `live-count` feature.
const COUNT_LIVE: bool = cfg!(debug_assertions) || cfg!(feature = "live-count");

/// The number of heap objects currently alive in this process.
pub fn live_objects() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// Whether [`live_objects`] is meaningful in this build.
pub fn live_counting() -> bool {
    COUNT_LIVE
}

fn alloc<T>(obj: T) -> Value {
    if COUNT_LIVE {
        LIVE.fetch_add(1, Ordering::Relaxed);
    }
    let ptr = Box::into_raw(Box::new(obj)) as u64;
    debug_assert!(ptr & !L::PAYLOAD_MASK == 0, "heap address above 48 bits");
    Value((L::TAG_PTR << L::TAG_SHIFT) | ptr, PhantomData)
}

/// Frees an object whose count reached zero. Children are released afterwards; long
/// chains (arrays inside arrays …) are released from a worklist, not by recursion.
#[cold]
fn free(hdr: *const Header) {
    thread_local! {
        static PENDING: RefCell<Option<Vec<*const Header>>> = const { RefCell::new(None) };
    }
    // If a free is already running on this thread, queue this one: it runs in the
    // outer loop, which keeps the native stack flat for deep structures.
    let queued = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        match p.as_mut() {
            Some(list) => {
                list.push(hdr);
                true
            }
            None => {
                *p = Some(Vec::new());
                false
            }
        }
    });
    if queued {
        return;
    }
    let mut next = Some(hdr);
    while let Some(h) = next {
        free_one(h);
        next = PENDING.with(|p| p.borrow_mut().as_mut().and_then(|l| l.pop()));
    }
    PENDING.with(|p| *p.borrow_mut() = None);
}

fn free_one(hdr: *const Header) {
    if COUNT_LIVE {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
    // SAFETY: `hdr` came from `alloc::<T>` where T is the struct selected by the kind
    // byte, and its count just reached zero, so no other reference exists; turning it
    // back into the Box of the right type frees it exactly once.
    unsafe {
        match (*hdr).kind {
            K::STR => drop(Box::from_raw(hdr as *mut StrObj)),
            K::ARRAY => drop(Box::from_raw(hdr as *mut ArrObj)),
            K::MAP => drop(Box::from_raw(hdr as *mut MapObj)),
            K::BIGINT => drop(Box::from_raw(hdr as *mut IntObj)),
            K::OK | K::ERR | K::SOME | K::CELL => drop(Box::from_raw(hdr as *mut WrapObj)),
            K::FUNC => drop(Box::from_raw(hdr as *mut FuncObj)),
            K::ENV => drop(Box::from_raw(hdr as *mut EnvObj)),
            K::NATIVE => drop(Box::from_raw(hdr as *mut NativeObjBox)),
            k => unreachable!("corrupt heap object kind {k}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------------

/// One Forge value. Owns a reference when it points to the heap.
#[repr(transparent)]
pub struct Value(u64, PhantomData<*const ()>);

/// The kind of a value, as far as dispatch is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Null,
    Str,
    Array,
    Object,
    Ok,
    Err,
    Some,
    None,
    Function,
    Builtin,
    Cell,
    Env,
    Native,
    Undef,
}

impl Value {
    pub const NULL: Value = Value(L::NULL_BITS, PhantomData);
    pub const TRUE: Value = Value(L::TRUE_BITS, PhantomData);
    pub const FALSE: Value = Value(L::FALSE_BITS, PhantomData);
    pub const NONE: Value = Value(L::NONE_BITS, PhantomData);
    /// Marks an unbound variable slot.
    pub const UNDEF: Value = Value(L::UNDEF_BITS, PhantomData);

    #[inline]
    fn tag(&self) -> u64 {
        self.0 >> L::TAG_SHIFT
    }

    #[inline]
    fn header(&self) -> Option<&Header> {
        if self.tag() == L::TAG_PTR {
            // SAFETY: a pointer-tagged word always holds the address of a live object
            // (this Value owns a reference to it).
            Some(unsafe { &*((self.0 & L::PAYLOAD_MASK) as *const Header) })
        } else {
            None
        }
    }

    #[inline]
    fn obj<T>(&self) -> &T {
        // SAFETY: callers check the kind byte first, which fixes the object type T.
        unsafe { &*((self.0 & L::PAYLOAD_MASK) as *const T) }
    }

    #[inline]
    fn heap_kind(&self) -> u8 {
        match self.header() {
            Some(h) => h.kind,
            None => 0,
        }
    }

    // ----- constructors -----

    #[inline]
    pub fn int(i: i64) -> Value {
        if (L::INT_IMM_MIN..=L::INT_IMM_MAX).contains(&i) {
            Value((L::TAG_INT << L::TAG_SHIFT) | (i as u64 & L::PAYLOAD_MASK), PhantomData)
        } else {
            alloc(IntObj { hdr: Header::new(K::BIGINT), v: i })
        }
    }

    #[inline]
    pub fn float(f: f64) -> Value {
        if f.is_nan() {
            Value(L::CANON_NAN, PhantomData)
        } else {
            Value(f.to_bits(), PhantomData)
        }
    }

    #[inline]
    pub fn bool(b: bool) -> Value {
        if b {
            Value::TRUE
        } else {
            Value::FALSE
        }
    }

    pub fn str(s: &str) -> Value {
        Value::string(s.to_owned())
    }

    pub fn string(s: String) -> Value {
        alloc(StrObj { hdr: Header::new(K::STR), s })
    }

    pub fn array(items: Vec<Value>) -> Value {
        alloc(ArrObj { hdr: Header::new(K::ARRAY), items })
    }

    pub fn object(map: Map) -> Value {
        alloc(MapObj { hdr: Header::new(K::MAP), map })
    }

    pub fn ok(v: Value) -> Value {
        alloc(WrapObj { hdr: Header::new(K::OK), inner: RefCell::new(v) })
    }

    pub fn err(v: Value) -> Value {
        alloc(WrapObj { hdr: Header::new(K::ERR), inner: RefCell::new(v) })
    }

    pub fn some(v: Value) -> Value {
        alloc(WrapObj { hdr: Header::new(K::SOME), inner: RefCell::new(v) })
    }

    /// A new closure cell (a shared mutable variable).
    pub fn cell(v: Value) -> Value {
        alloc(WrapObj { hdr: Header::new(K::CELL), inner: RefCell::new(v) })
    }

    pub fn function(f: Function) -> Value {
        let (entry, fixed, arity) = match f.code {
            Code::Native(NativeCode { entry, fixed: Some((fixed, n)) }) => (entry, fixed, n as u64),
            Code::Native(NativeCode { entry, fixed: None }) => (entry, 0, L::NO_ARITY),
            Code::Interp(_) => (0, 0, L::NO_ARITY),
        };
        // Captured variables are cells (any other value has no word to lend).
        let slots: Box<[usize]> =
            f.upvals.iter().map(|c| if c.heap_kind() == K::CELL { c.cell_slot() as usize } else { 0 }).collect();
        let slots_at = slots.as_ptr() as usize;
        alloc(FuncObj { hdr: Header::new(K::FUNC), entry, slots_at, fixed, arity, slots, func: f })
    }

    pub fn env(e: ModuleEnv) -> Value {
        alloc(EnvObj { hdr: Header::new(K::ENV), env: e })
    }

    pub fn native(obj: Box<dyn NativeObject>) -> Value {
        alloc(NativeObjBox { hdr: Header::new(K::NATIVE), obj })
    }

    /// The builtin function with this index in the runtime's table.
    pub fn builtin(index: u32) -> Value {
        Value((L::TAG_BUILTIN << L::TAG_SHIFT) | index as u64, PhantomData)
    }

    // ----- raw access for the ABI layer -----

    /// The word, without giving up ownership.
    #[inline]
    pub fn bits(&self) -> u64 {
        self.0
    }

    /// Gives up ownership and returns the word.
    #[inline]
    pub fn into_bits(self) -> u64 {
        let b = self.0;
        std::mem::forget(self);
        b
    }

    /// Takes ownership of a word produced by [`Value::into_bits`].
    ///
    /// # Safety
    /// `bits` must carry one reference count that the caller hands over.
    #[inline]
    pub unsafe fn from_bits(bits: u64) -> Value {
        Value(bits, PhantomData)
    }

    /// Whether two values are the very same word (same object, or same immediate).
    #[inline]
    pub fn same(&self, other: &Value) -> bool {
        self.0 == other.0
    }

    // ----- kind tests -----

    pub fn kind(&self) -> Kind {
        match self.tag() {
            L::TAG_INT => Kind::Int,
            L::TAG_SPECIAL => match self.0 & L::PAYLOAD_MASK {
                L::SPECIAL_NULL => Kind::Null,
                L::SPECIAL_FALSE | L::SPECIAL_TRUE => Kind::Bool,
                L::SPECIAL_NONE => Kind::None,
                _ => Kind::Undef,
            },
            L::TAG_BUILTIN => Kind::Builtin,
            L::TAG_PTR => match self.heap_kind() {
                K::STR => Kind::Str,
                K::ARRAY => Kind::Array,
                K::MAP => Kind::Object,
                K::BIGINT => Kind::Int,
                K::OK => Kind::Ok,
                K::ERR => Kind::Err,
                K::SOME => Kind::Some,
                K::CELL => Kind::Cell,
                K::FUNC => Kind::Function,
                K::ENV => Kind::Env,
                _ => Kind::Native,
            },
            _ => Kind::Float,
        }
    }

    /// Makes the object never freed (constants of compiled code, shared by every
    /// isolate): its count is no longer touched. Not counted as a live object.
    pub fn make_immortal(self) -> Value {
        if let Some(h) = self.header() {
            if h.rc.get() != L::RC_IMMORTAL {
                h.rc.set(L::RC_IMMORTAL);
                if COUNT_LIVE {
                    LIVE.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        self
    }

    /// Whether the value points to a heap object (dropping it may free something).
    #[inline]
    pub fn is_heap(&self) -> bool {
        self.tag() == L::TAG_PTR
    }

    #[inline]
    pub fn is_null(&self) -> bool {
        self.0 == L::NULL_BITS
    }
    #[inline]
    pub fn is_none(&self) -> bool {
        self.0 == L::NONE_BITS
    }
    #[inline]
    pub fn is_undef(&self) -> bool {
        self.0 == L::UNDEF_BITS
    }
    #[inline]
    pub fn is_small_int(&self) -> bool {
        self.tag() == L::TAG_INT
    }
    #[inline]
    pub fn is_float(&self) -> bool {
        self.tag() < L::FIRST_TAG
    }
    #[inline]
    pub fn is_str(&self) -> bool {
        self.heap_kind() == K::STR
    }
    #[inline]
    pub fn is_array(&self) -> bool {
        self.heap_kind() == K::ARRAY
    }
    #[inline]
    pub fn is_object(&self) -> bool {
        self.heap_kind() == K::MAP
    }
    #[inline]
    pub fn is_function(&self) -> bool {
        self.heap_kind() == K::FUNC
    }
    #[inline]
    pub fn is_builtin(&self) -> bool {
        self.tag() == L::TAG_BUILTIN
    }
    pub fn is_number(&self) -> bool {
        matches!(self.kind(), Kind::Int | Kind::Float)
    }
    pub fn is_frozen(&self) -> bool {
        self.header().is_some_and(|h| h.flags.get() & L::FLAG_FROZEN != 0)
    }

    // ----- scalar access -----

    /// The small-int payload (only valid when [`Value::is_small_int`]).
    #[inline]
    pub fn small_int(&self) -> i64 {
        ((self.0 << 16) as i64) >> 16
    }

    #[inline]
    pub fn as_int(&self) -> Option<i64> {
        if self.is_small_int() {
            Some(self.small_int())
        } else if self.heap_kind() == K::BIGINT {
            Some(self.obj::<IntObj>().v)
        } else {
            None
        }
    }

    #[inline]
    pub fn as_float(&self) -> Option<f64> {
        if self.is_float() {
            Some(f64::from_bits(self.0))
        } else {
            None
        }
    }

    /// An Int or Float as f64.
    #[inline]
    pub fn as_f64(&self) -> Option<f64> {
        if self.is_float() {
            Some(f64::from_bits(self.0))
        } else {
            self.as_int().map(|i| i as f64)
        }
    }

    #[inline]
    pub fn as_bool(&self) -> Option<bool> {
        match self.0 {
            L::TRUE_BITS => Some(true),
            L::FALSE_BITS => Some(false),
            _ => None,
        }
    }

    pub fn builtin_index(&self) -> Option<u32> {
        if self.is_builtin() {
            Some((self.0 & L::PAYLOAD_MASK) as u32)
        } else {
            None
        }
    }

    // ----- heap access -----

    pub fn as_str(&self) -> Option<&str> {
        if self.heap_kind() == K::STR {
            Some(&self.obj::<StrObj>().s)
        } else {
            None
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        if self.heap_kind() == K::ARRAY {
            Some(&self.obj::<ArrObj>().items)
        } else {
            None
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        if self.heap_kind() == K::MAP {
            Some(&self.obj::<MapObj>().map)
        } else {
            None
        }
    }

    /// The contents of `Ok`/`Err`/`Some` (a clone of the inner value).
    pub fn wrapped(&self) -> Option<Value> {
        match self.heap_kind() {
            K::OK | K::ERR | K::SOME => Some(self.obj::<WrapObj>().inner.borrow().clone()),
            _ => None,
        }
    }

    pub fn as_function(&self) -> Option<&Function> {
        if self.heap_kind() == K::FUNC {
            Some(&self.obj::<FuncObj>().func)
        } else {
            None
        }
    }

    pub fn as_env(&self) -> Option<&ModuleEnv> {
        if self.heap_kind() == K::ENV {
            Some(&self.obj::<EnvObj>().env)
        } else {
            None
        }
    }

    pub fn as_native(&self) -> Option<&dyn NativeObject> {
        if self.heap_kind() == K::NATIVE {
            Some(&*self.obj::<NativeObjBox>().obj)
        } else {
            None
        }
    }

    /// The native object downcast to `T`.
    pub fn native_ref<T: NativeObject>(&self) -> Option<&T> {
        self.as_native().and_then(|n| n.as_any().downcast_ref::<T>())
    }

    /// Reads a closure cell.
    pub fn cell_get(&self) -> Value {
        debug_assert_eq!(self.heap_kind(), K::CELL);
        self.obj::<WrapObj>().inner.borrow().clone()
    }

    /// The word a closure cell holds, without taking a reference.
    pub fn cell_bits(&self) -> u64 {
        debug_assert_eq!(self.heap_kind(), K::CELL);
        self.obj::<WrapObj>().inner.borrow().bits()
    }

    /// The address of the word a closure cell holds, for native code that reads and
    /// writes the variable inline (no Rust borrow of a cell spans a call into
    /// generated code, so the two never overlap).
    pub fn cell_slot(&self) -> *mut u64 {
        debug_assert_eq!(self.heap_kind(), K::CELL);
        // `Value` is a transparent wrapper of its word.
        self.obj::<WrapObj>().inner.as_ptr() as *mut u64
    }

    /// Writes a closure cell, returning the previous value.
    pub fn cell_set(&self, v: Value) -> Value {
        debug_assert_eq!(self.heap_kind(), K::CELL);
        std::mem::replace(&mut *self.obj::<WrapObj>().inner.borrow_mut(), v)
    }

    /// Runs `f` on the cell's value in place (no copy when unshared).
    pub fn cell_with_mut<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        debug_assert_eq!(self.heap_kind(), K::CELL);
        let mut slot = self.obj::<WrapObj>().inner.borrow_mut();
        f(&mut slot)
    }

    #[inline]
    fn is_unique(&self) -> bool {
        self.header().is_some_and(|h| h.rc.get() == 1 && h.flags.get() & L::FLAG_FROZEN == 0)
    }

    /// Mutable access to an array, copying it first unless uniquely owned.
    #[inline]
    pub fn array_mut(&mut self) -> Option<&mut Vec<Value>> {
        if self.heap_kind() != K::ARRAY {
            return None;
        }
        if !self.is_unique() {
            self.unshare_array();
        }
        // SAFETY: the object is an ArrObj, uniquely owned by `self` (count 1), so no
        // other reference can observe the mutation; the borrow is tied to `&mut self`.
        Some(unsafe { &mut (*((self.0 & L::PAYLOAD_MASK) as *mut ArrObj)).items })
    }

    /// Replaces a shared (or frozen) array by a copy of its own (the slow part of
    /// [`Value::array_mut`], kept out of line).
    #[cold]
    #[inline(never)]
    fn unshare_array(&mut self) {
        let copy = self.obj::<ArrObj>().items.clone();
        *self = Value::array(copy);
    }

    /// As [`Value::unshare_array`], for a String.
    #[cold]
    #[inline(never)]
    fn unshare_string(&mut self) {
        let copy = self.obj::<StrObj>().s.clone();
        *self = Value::string(copy);
    }

    /// Mutable access to an object's map, copying it first unless uniquely owned.
    pub fn object_mut(&mut self) -> Option<&mut Map> {
        if self.heap_kind() != K::MAP {
            return None;
        }
        if !self.is_unique() {
            let copy = self.obj::<MapObj>().map.clone();
            *self = Value::object(copy);
        }
        // SAFETY: as in `array_mut`: uniquely owned MapObj.
        Some(unsafe { &mut (*((self.0 & L::PAYLOAD_MASK) as *mut MapObj)).map })
    }

    /// Mutable access to a string's buffer, copying it first unless uniquely owned.
    #[inline]
    pub fn string_mut(&mut self) -> Option<&mut String> {
        if self.heap_kind() != K::STR {
            return None;
        }
        if !self.is_unique() {
            self.unshare_string();
        }
        // SAFETY: as in `array_mut`: uniquely owned StrObj.
        Some(unsafe { &mut (*((self.0 & L::PAYLOAD_MASK) as *mut StrObj)).s })
    }

    /// Returns the value marked frozen (copying a shared container first).
    pub fn freeze(mut self) -> Value {
        match self.heap_kind() {
            K::ARRAY => {
                self.array_mut();
            }
            K::MAP => {
                self.object_mut();
            }
            _ => return self,
        }
        if let Some(h) = self.header() {
            h.flags.set(h.flags.get() | L::FLAG_FROZEN);
        }
        self
    }

    /// A deep copy that shares nothing with `self`, ready to move to another isolate.
    /// Closure cells and module environments reachable through functions are copied
    /// too (once each, so sharing inside the copied graph is preserved).
    pub fn detach(&self) -> Detached {
        let mut memo = rustc_hash::FxHashMap::default();
        Detached(self.deep_copy(&mut memo))
    }

    pub(crate) fn deep_copy(&self, memo: &mut rustc_hash::FxHashMap<u64, Value>) -> Value {
        let Some(h) = self.header() else {
            return Value(self.0, PhantomData);
        };
        if let Some(v) = memo.get(&self.0) {
            return v.clone();
        }
        let frozen = h.flags.get() & L::FLAG_FROZEN;
        let v = match h.kind {
            K::STR => Value::str(self.as_str().unwrap_or("")),
            K::BIGINT => Value::int(self.as_int().unwrap_or(0)),
            K::ARRAY => {
                let items = self.as_array().unwrap_or(&[]).iter().map(|x| x.deep_copy(memo)).collect();
                Value::array(items)
            }
            K::MAP => {
                let src = self.as_object().expect("map");
                let mut m = map_with_capacity(src.len());
                for (k, x) in src {
                    m.insert(Key(k.0.deep_copy(memo)), x.deep_copy(memo));
                }
                Value::object(m)
            }
            K::OK | K::ERR | K::SOME => {
                let inner = self.obj::<WrapObj>().inner.borrow().deep_copy(memo);
                alloc(WrapObj { hdr: Header::new(h.kind), inner: RefCell::new(inner) })
            }
            K::CELL => {
                // Insert the new cell before copying its contents: a cell may
                // (through a closure) contain itself.
                let cell = Value::cell(Value::NULL);
                memo.insert(self.0, cell.clone());
                let inner = self.cell_get().deep_copy(memo);
                let _ = cell.cell_set(inner);
                return cell;
            }
            K::ENV => {
                let src = self.as_env().expect("env");
                let env = Value::env(ModuleEnv::new(src.names.clone(), src.file.clone()));
                memo.insert(self.0, env.clone());
                let slots: Vec<Value> = src.slots.borrow().iter().map(|x| x.deep_copy(memo)).collect();
                let reg = src.registry.borrow().deep_copy(memo);
                let dst = env.as_env().expect("env");
                *dst.slots.borrow_mut() = slots;
                *dst.registry.borrow_mut() = reg;
                return env;
            }
            K::FUNC => {
                let f = self.as_function().expect("func");
                let copy = Function {
                    name: f.name.clone(),
                    is_lambda: f.is_lambda,
                    code: f.code.clone(),
                    env: f.env.deep_copy(memo),
                    upvals: f.upvals.iter().map(|x| x.deep_copy(memo)).collect(),
                };
                Value::function(copy)
            }
            _ => self.as_native().expect("native").deep_copy(memo),
        };
        if frozen != 0 {
            if let Some(nh) = v.header() {
                nh.flags.set(nh.flags.get() | frozen);
            }
        }
        memo.insert(self.0, v.clone());
        v
    }
}

impl Clone for Value {
    #[inline]
    fn clone(&self) -> Value {
        if let Some(h) = self.header() {
            let rc = h.rc.get();
            if rc != L::RC_IMMORTAL {
                h.rc.set(rc + 1);
            }
        }
        Value(self.0, PhantomData)
    }
}

impl Drop for Value {
    #[inline]
    fn drop(&mut self) {
        if let Some(h) = self.header() {
            let rc = h.rc.get();
            if rc == 1 {
                free(h as *const Header);
            } else if rc != L::RC_IMMORTAL {
                h.rc.set(rc - 1);
            }
        }
    }
}

impl Default for Value {
    fn default() -> Value {
        Value::NULL
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::display::display(self))
    }
}

/// A constant value every isolate may use at once: its object is immortal (never
/// freed, its count never touched) and immutable (mutation copies it first).
#[derive(Clone, Copy, Debug)]
pub struct Shared(u64);

// SAFETY: an immortal object's header is never written (retain/release skip it) and
// its contents are never mutated in place (`is_unique` is false for it), so threads
// may read it concurrently.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// Makes `v` immortal and shareable.
    pub fn new(v: Value) -> Shared {
        Shared(v.make_immortal().into_bits())
    }

    /// The raw word (to keep in an opaque cache).
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Rebuilds a `Shared` from a word made by [`Shared::bits`].
    pub fn from_cached_bits(bits: u64) -> Shared {
        Shared(bits)
    }

    /// The value (no count is taken: the object is immortal or an immediate).
    #[inline]
    pub fn value(self) -> Value {
        Value(self.0, PhantomData)
    }
}

/// A value graph that shares nothing with any isolate: it may move to another thread.
pub struct Detached(Value);

// SAFETY: a Detached value was produced by `deep_copy`, so no reference to any object
// in its graph exists outside it; whichever thread holds it is the only one that can
// touch those reference counts.
unsafe impl Send for Detached {}

impl Detached {
    /// Another independent deep copy (e.g. to hand a task's result to each awaiter).
    pub fn duplicate(&self) -> Detached {
        self.0.detach()
    }

    /// Takes the value into the current isolate.
    pub fn attach(self) -> Value {
        self.0
    }
}

// ---------------------------------------------------------------------------------
// Functions, module environments, native objects
// ---------------------------------------------------------------------------------

/// How a function's code is reached.
#[derive(Clone)]
pub enum Code {
    /// A VM prototype (the VM downcasts it).
    Interp(std::sync::Arc<dyn Any + Send + Sync>),
    /// Native code.
    Native(NativeCode),
}

/// The entry points of a compiled function.
#[derive(Clone, Copy, Debug)]
pub struct NativeCode {
    /// The generic entry (the `Entry` signature of the ABI).
    pub entry: usize,
    /// The fixed-arity body and its number of parameters, where there is one.
    pub fixed: Option<(usize, u32)>,
}

/// A named function, method or lambda, closed over its module and its cells.
pub struct Function {
    /// The name as declared (`<lambda>` for lambdas).
    pub name: std::rc::Rc<str>,
    pub is_lambda: bool,
    pub code: Code,
    /// The module environment (an `Env` value) whose globals the code sees.
    pub env: Value,
    /// Captured closure cells, in the order the code numbers them.
    pub upvals: Box<[Value]>,
}

/// The globals of one loaded module (one `import` or the main file), plus its user
/// types. Functions defined in the module keep it alive.
pub struct ModuleEnv {
    pub slots: RefCell<Vec<Value>>,
    /// Global names by slot (for imports, hints and method lookup by name).
    pub names: std::sync::Arc<[String]>,
    pub file: std::rc::Rc<str>,
    pub registry: RefCell<TypeRegistry>,
}

impl ModuleEnv {
    pub fn new(names: std::sync::Arc<[String]>, file: std::rc::Rc<str>) -> ModuleEnv {
        let slots = RefCell::new(vec![Value::UNDEF; names.len()]);
        ModuleEnv { slots, names, file, registry: RefCell::new(TypeRegistry::default()) }
    }

    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    pub fn get(&self, slot: usize) -> Value {
        self.slots.borrow()[slot].clone()
    }

    pub fn set(&self, slot: usize, v: Value) -> Value {
        std::mem::replace(&mut self.slots.borrow_mut()[slot], v)
    }

    /// Drops every global and every registered type: breaks the cycles between a
    /// module and its functions when the program ends.
    pub fn clear(&self) {
        let old: Vec<Value> = std::mem::take(&mut *self.slots.borrow_mut());
        drop(old);
        let reg = std::mem::take(&mut *self.registry.borrow_mut());
        drop(reg);
    }
}

/// User-defined types of a module: struct defaults and embeddings, methods, ADTs.
#[derive(Default)]
pub struct TypeRegistry {
    pub structs: rustc_hash::FxHashMap<String, StructInfo>,
    /// Methods by type name, then by method name.
    pub methods: rustc_hash::FxHashMap<String, indexmap::IndexMap<String, Value>>,
    /// ADT variant names (declaration order) by type name.
    pub adts: rustc_hash::FxHashMap<String, Vec<String>>,
    /// `Type.method` for methods whose first parameter is `it` (instance methods).
    pub instance_methods: rustc_hash::FxHashSet<String>,
}

#[derive(Default, Clone)]
pub struct StructInfo {
    /// Declared fields with defaults, in declaration order, with their recorded values.
    pub defaults: Vec<(String, Value)>,
    /// Embedded (`has`) fields: field name and declared type name.
    pub embeds: Vec<(String, String)>,
}

impl TypeRegistry {
    fn deep_copy(&self, memo: &mut rustc_hash::FxHashMap<u64, Value>) -> TypeRegistry {
        let structs = self
            .structs
            .iter()
            .map(|(k, s)| {
                let defaults = s.defaults.iter().map(|(n, v)| (n.clone(), v.deep_copy(memo))).collect();
                (k.clone(), StructInfo { defaults, embeds: s.embeds.clone() })
            })
            .collect();
        let methods = self
            .methods
            .iter()
            .map(|(t, ms)| (t.clone(), ms.iter().map(|(n, f)| (n.clone(), f.deep_copy(memo))).collect()))
            .collect();
        TypeRegistry { structs, methods, adts: self.adts.clone(), instance_methods: self.instance_methods.clone() }
    }
}

/// Heap objects implemented outside this module (channels, tasks, struct types, …).
pub trait NativeObject: Any {
    /// `typeof` of the value.
    fn type_name(&self) -> &'static str;
    /// The display rendering.
    fn display(&self) -> String;
    /// Equality with another native object (default: never equal).
    fn equals(&self, _other: &dyn NativeObject) -> bool {
        false
    }
    /// A new object for another isolate that shares nothing non-atomic with this one
    /// (a channel wraps a clone of its `Arc`; plain data is copied). `memo` maps
    /// already-copied objects (by word) to their copies.
    fn deep_copy(&self, memo: &mut rustc_hash::FxHashMap<u64, Value>) -> Value;
    fn as_any(&self) -> &dyn Any;
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_layout_is_the_abi_one() {
        // Compiled code reads and writes the count at this offset (codegen retain/release).
        assert_eq!(std::mem::offset_of!(Header, rc) as i32, L::RC_OFFSET);
        assert_eq!(std::mem::size_of::<Cell<u32>>(), 4);
    }

    use super::*;

    #[test]
    fn immediates_round_trip() {
        for i in [0i64, 1, -1, L::INT_IMM_MAX, L::INT_IMM_MIN, i64::MAX, i64::MIN, 1 << 50] {
            assert_eq!(Value::int(i).as_int(), Some(i));
            assert_eq!(Value::int(i).kind(), Kind::Int);
        }
        for f in [0.0, -0.0, 1.5, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE] {
            assert_eq!(Value::float(f).as_float().map(f64::to_bits), Some(f.to_bits()));
        }
        assert!(Value::float(f64::NAN).as_float().unwrap().is_nan());
        assert!(Value::float(-f64::NAN).is_float());
        assert_eq!(Value::NULL.kind(), Kind::Null);
        assert_eq!(Value::TRUE.as_bool(), Some(true));
    }

    #[test]
    fn copy_on_write() {
        let a = Value::array(vec![Value::int(1)]);
        let mut b = a.clone();
        b.array_mut().unwrap().push(Value::int(2));
        assert_eq!(a.as_array().unwrap().len(), 1);
        assert_eq!(b.as_array().unwrap().len(), 2);
        let p = b.as_array().unwrap().as_ptr();
        b.array_mut().unwrap().push(Value::int(3));
        b.array_mut().unwrap().shrink_to_fit();
        let _ = p;
    }

    #[test]
    fn frozen_values_copy_on_mutation() {
        let f = Value::array(vec![Value::int(1)]).freeze();
        assert!(f.is_frozen());
        let mut g = f.clone();
        g.array_mut().unwrap().push(Value::int(2));
        assert!(!g.is_frozen());
        assert!(f.is_frozen());
    }

    #[test]
    fn deep_chains_free_without_recursion() {
        let mut v = Value::NULL;
        for _ in 0..200_000 {
            v = Value::array(vec![v]);
        }
        drop(v);
    }
}
