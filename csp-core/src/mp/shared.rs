//! `Value`, `Array` and `AtomicValue`: plain data in shared memory, as
//! Python's `multiprocessing.Value` / `Array` (and lock-free atomics).
//!
//! The data lives in the auxiliary block of an otherwise unused channel:
//! the channel gives the handles their reference counting across processes
//! (the block is freed when the last handle anywhere is gone), their
//! serialization, and the tracking of dead holders. The block starts with a
//! header (type tag, length), then a robust process-shared mutex and a
//! poison flag, then the data. See `README.md` for why this is sound.

use super::{attach_aux, aux_checked, type_tag};
use crate::Channel;
use crate::shm::{self, ArenaError};
use crate::sys::{LockState, RobustMutex};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::Duration;

/// Plain old data: a type whose bytes can live in memory shared by
/// processes and be read and written by any of them.
///
/// # Safety
///
/// Implement only for types that
/// - are `Copy`, with no drop glue;
/// - hold no pointers or references, nor anything else whose meaning
///   depends on the process (the same bytes mean the same value in every
///   process of the tree);
/// - are valid when all bytes are zero;
/// - stay valid whatever a writer killed in the middle of an update leaves
///   behind: every byte pattern is a valid value (integers, floats), or the
///   type is written in indivisible units each of which is always valid
///   (`bool`: one byte, 0 or 1).
///
/// It is implemented for the integers, the floats, `bool`, and arrays of
/// `Pod` types.
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive number or bool: Copy, no pointers, zero is
        // valid, and see the trait's last point.
        unsafe impl Pod for $t {}
    )* };
}
pod!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool
);

// SAFETY: an array of Pod values has no padding and inherits every point
// from its element type.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The error of a shared value or array operation.
/// Serializable, so a process can return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SharedError {
    /// A process died (or panicked) holding the lock: the data may be half
    /// updated. Check it through the guard of the `PoisonError` that
    /// `get_lock` returns, then call `clear_poison`.
    #[error(
        "the shared data is poisoned: a process died holding its lock (check it, then clear_poison())"
    )]
    Poisoned,
    /// An index past the end of an array.
    #[error("index {index} is out of bounds for an array of {len}")]
    OutOfBounds {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// The shared arena had no room.
    #[error(transparent)]
    Arena(
        #[from]
        #[serde(with = "super::ArenaErrorDef")]
        ArenaError,
    ),
}

/// The start of the shared block.
#[repr(C)]
struct Header {
    tag: AtomicU64,
    len: AtomicU64,
    /// Keeps the lock (and a small value after it) on its own cache line.
    _pad: [u64; 6],
    lock: RobustMutex,
    poisoned: AtomicU32,
}

const _: () = assert!(std::mem::offset_of!(Header, lock) == 64);

/// Where the data starts: after the header, aligned for `T`.
const fn data_off<T>() -> u64 {
    let h = std::mem::size_of::<Header>() as u64;
    let a = std::mem::align_of::<T>() as u64;
    assert!(
        a <= 64,
        "shared data must not need more than 64-byte alignment"
    );
    h.div_ceil(a) * a
}

/// The block: a channel (only its counts and aux block are used) and the
/// block's offset.
struct Shared {
    anchor: Channel<()>,
    aux: u64,
}

impl Shared {
    /// A channel with a fresh block for `len` elements of `E`, its header
    /// set up and data zeroed; `kind` names the structure for its tag.
    fn create<E>(tag: u64, len: usize, with_lock: bool) -> Result<Shared, SharedError> {
        let bytes = (len as u64)
            .checked_mul(std::mem::size_of::<E>() as u64)
            .and_then(|n| n.checked_add(data_off::<E>()))
            .ok_or(ArenaError::Exhausted(u64::MAX))?;
        let anchor = Channel::<()>::try_new().map_err(|e| match e {
            crate::ChannelError::Arena(a) => a,
            other => ArenaError::Map(other.to_string()),
        })?;
        let aux = attach_aux(anchor.offset(), bytes, |aux| {
            // SAFETY: a fresh zeroed block, 64-byte aligned, big enough for
            // the header; nobody else sees it before it is attached.
            let h = unsafe { shm::mapped().at::<Header>(aux) };
            if with_lock {
                // SAFETY: the mutex is in the fresh block, not shared yet.
                unsafe { RobustMutex::init(&h.lock as *const RobustMutex as *mut RobustMutex) };
            }
            h.len.store(len as u64, Relaxed);
            h.tag.store(tag, Release);
        })?;
        Ok(Shared { anchor, aux })
    }

    /// A handle decoded from a message: checks its block's tag.
    fn decode<'de, D: Deserializer<'de>, E>(d: D, tag: u64) -> Result<Shared, D::Error> {
        let anchor = Channel::<()>::deserialize(d)?;
        let aux = aux_checked(anchor.offset(), tag, data_off::<E>())
            .ok_or_else(|| serde::de::Error::custom("not a live shared value of this type"))?;
        Ok(Shared { anchor, aux })
    }

    fn header(&self) -> &Header {
        // SAFETY: `aux` is this channel's block, tagged at creation (or
        // checked on decode); the channel, which `anchor` holds, keeps it
        // allocated as long as `self` lives.
        unsafe { shm::mapped().at::<Header>(self.aux) }
    }

    fn len(&self) -> usize {
        self.header().len.load(Relaxed) as usize
    }

    fn data<E>(&self) -> *mut E {
        shm::mapped().ptr(self.aux + data_off::<E>()).cast()
    }

    /// Locks; notes a holder that died as poison. Returns whether the data
    /// is poisoned.
    fn lock(&self) -> bool {
        let h = self.header();
        if h.lock.lock() == LockState::OwnerDied {
            h.poisoned.store(1, SeqCst);
        }
        h.poisoned.load(Relaxed) != 0
    }

    /// Locks if free now. `None` if someone holds it.
    fn try_lock(&self) -> Option<bool> {
        self.lock_within(None)
    }

    /// Locks, waiting at most `timeout` (`None`: not at all). `None` if the
    /// lock stayed held.
    fn lock_within(&self, timeout: Option<Duration>) -> Option<bool> {
        let h = self.header();
        let st = match timeout {
            None => h.lock.try_lock()?,
            Some(d) => h.lock.lock_timeout(d)?,
        };
        if st == LockState::OwnerDied {
            h.poisoned.store(1, SeqCst);
        }
        Some(h.poisoned.load(Relaxed) != 0)
    }

    fn clone(&self) -> Shared {
        Shared {
            anchor: self.anchor.clone(),
            aux: self.aux,
        }
    }
}

/// Holds the lock; unlocks on drop, poisoning the data if the holder is
/// panicking.
struct Held<'a> {
    header: &'a Header,
    panicking: bool,
    /// The lock belongs to this thread: the guard must not move to another.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> Held<'a> {
    fn new(header: &'a Header) -> Self {
        Held {
            header,
            panicking: std::thread::panicking(),
            _not_send: PhantomData,
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.panicking && std::thread::panicking() {
            self.header.poisoned.store(1, SeqCst);
        }
        // SAFETY: a Held exists only while this thread holds the lock.
        unsafe { self.header.lock.unlock() };
    }
}

fn guarded<G>(guard: G, poisoned: bool) -> LockResult<G> {
    if poisoned {
        Err(PoisonError::new(guard))
    } else {
        Ok(guard)
    }
}

fn try_guarded<G>(guard: Option<(G, bool)>) -> TryLockResult<G> {
    match guard {
        None => Err(TryLockError::WouldBlock),
        Some((g, true)) => Err(TryLockError::Poisoned(PoisonError::new(g))),
        Some((g, false)) => Ok(g),
    }
}

// ---------------------------------------------------------------------------
// Value

/// A `T` in shared memory with its own lock: Python's
/// `multiprocessing.Value`.
///
/// ```
/// use csp_core::Process;
/// use csp_core::mp::Value;
///
/// let v = Value::new(0u64);
/// let w = v.clone();
/// let child = Process::new("adder", move || {
///     for _ in 0..1000 {
///         *w.get_lock().unwrap() += 1;
///     }
/// })
/// .with(&v)
/// .spawn()
/// .unwrap();
/// for _ in 0..1000 {
///     *v.get_lock().unwrap() += 1;
/// }
/// child.join().unwrap();
/// assert_eq!(v.get().unwrap(), 2000);
/// ```
pub struct Value<T: Pod> {
    shared: Shared,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Pod> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value@{:#x}", self.shared.aux)
    }
}

/// The lock of a [`Value`], held: derefs to the value.
pub struct ValueGuard<'a, T: Pod> {
    _held: Held<'a>,
    data: *mut T,
    _t: PhantomData<&'a mut T>,
}

impl<T: Pod + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Pod> std::ops::Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points at an initialised, aligned T in the block
        // (kept allocated by the handle this guard borrows); holding the
        // lock, this thread is the only one in any process touching it.
        unsafe { &*self.data }
    }
}

impl<T: Pod> std::ops::DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique
        // within the thread.
        unsafe { &mut *self.data }
    }
}

impl<T: Pod> Value<T> {
    fn tag() -> u64 {
        type_tag::<T>("csp::mp::Value")
    }

    /// A new shared value. Panics only if the shared arena cannot be mapped
    /// or is full; [`Value::try_new`] returns that as an error.
    pub fn new(value: T) -> Self {
        Self::try_new(value).unwrap_or_else(|e| panic!("csp: cannot create a shared value: {e}"))
    }

    /// [`Value::new`], returning arena errors.
    pub fn try_new(value: T) -> Result<Self, SharedError> {
        let shared = Shared::create::<T>(Self::tag(), 1, true)?;
        // SAFETY: the block is fresh and ours alone; data_off keeps `T`
        // aligned.
        unsafe { shared.data::<T>().write(value) };
        Ok(Value {
            shared,
            _t: PhantomData,
        })
    }

    fn guard(&self) -> ValueGuard<'_, T> {
        ValueGuard {
            _held: Held::new(self.shared.header()),
            data: self.shared.data(),
            _t: PhantomData,
        }
    }

    /// Locks the value and gives access to it until the guard is dropped.
    /// If a process died (or a thread panicked) holding the lock, the error
    /// says so and still carries the guard (`into_inner`), as with
    /// `std::sync::Mutex`; the value stays poisoned until
    /// [`clear_poison`](Value::clear_poison). The lock is not reentrant.
    pub fn get_lock(&self) -> LockResult<ValueGuard<'_, T>> {
        let poisoned = self.shared.lock();
        guarded(self.guard(), poisoned)
    }

    /// [`get_lock`](Value::get_lock) only if the lock is free now.
    pub fn try_get_lock(&self) -> TryLockResult<ValueGuard<'_, T>> {
        try_guarded(self.shared.try_lock().map(|p| (self.guard(), p)))
    }

    /// [`get_lock`](Value::get_lock), waiting at most `timeout`:
    /// `Err(TryLockError::WouldBlock)` if the lock stayed held that long.
    pub fn get_lock_timeout(&self, timeout: Duration) -> TryLockResult<ValueGuard<'_, T>> {
        try_guarded(
            self.shared
                .lock_within(Some(timeout))
                .map(|p| (self.guard(), p)),
        )
    }

    /// The value (under the lock).
    pub fn get(&self) -> Result<T, SharedError> {
        let g = self.get_lock().map_err(|_| SharedError::Poisoned)?;
        Ok(*g)
    }

    /// Sets the value (under the lock).
    pub fn set(&self, value: T) -> Result<(), SharedError> {
        let mut g = self.get_lock().map_err(|_| SharedError::Poisoned)?;
        *g = value;
        Ok(())
    }

    /// Whether a lock holder died or panicked.
    pub fn is_poisoned(&self) -> bool {
        self.shared.header().poisoned.load(SeqCst) != 0
    }

    /// Marks the value consistent again after a holder died.
    pub fn clear_poison(&self) {
        self.shared.header().poisoned.store(0, SeqCst);
    }
}

impl<T: Pod> Clone for Value<T> {
    /// Another handle on the same value.
    fn clone(&self) -> Self {
        Value {
            shared: self.shared.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Pod> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shared.anchor.serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for Value<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shared = Shared::decode::<D, T>(d, Self::tag())?;
        if shared.len() != 1 {
            return Err(serde::de::Error::custom("not a shared value"));
        }
        Ok(Value {
            shared,
            _t: PhantomData,
        })
    }
}

// ---------------------------------------------------------------------------
// Array

/// A fixed-length array of `T` in shared memory with one lock: Python's
/// `multiprocessing.Array`.
pub struct Array<T: Pod> {
    shared: Shared,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Pod> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Array@{:#x}[{}]", self.shared.aux, self.len())
    }
}

/// The lock of an [`Array`], held: derefs to the elements.
pub struct ArrayGuard<'a, T: Pod> {
    _held: Held<'a>,
    data: *mut T,
    len: usize,
    _t: PhantomData<&'a mut [T]>,
}

impl<T: Pod + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Pod> std::ops::Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `data` points at `len` initialised, aligned elements in
        // the block (kept allocated by the borrowed handle); holding the
        // lock, this thread is the only one in any process touching them.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl<T: Pod> std::ops::DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

impl<T: Pod> Array<T> {
    fn tag() -> u64 {
        type_tag::<T>("csp::mp::Array")
    }

    /// A shared array holding a copy of `values`. Panics only if the shared
    /// arena cannot be mapped or is full; [`Array::try_from_slice`] returns
    /// that as an error.
    pub fn from_slice(values: &[T]) -> Self {
        Self::try_from_slice(values)
            .unwrap_or_else(|e| panic!("csp: cannot create a shared array: {e}"))
    }

    /// [`Array::from_slice`], returning arena errors.
    pub fn try_from_slice(values: &[T]) -> Result<Self, SharedError> {
        let shared = Shared::create::<T>(Self::tag(), values.len(), true)?;
        // SAFETY: the block is fresh, ours alone, with room for
        // `values.len()` aligned elements; the source is a distinct slice.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), shared.data::<T>(), values.len()) };
        Ok(Array {
            shared,
            _t: PhantomData,
        })
    }

    /// A shared array of `len` zeroed elements (Python's `Array('i', 10)`).
    pub fn zeroed(len: usize) -> Self {
        Self::try_zeroed(len).unwrap_or_else(|e| panic!("csp: cannot create a shared array: {e}"))
    }

    /// [`Array::zeroed`], returning arena errors.
    pub fn try_zeroed(len: usize) -> Result<Self, SharedError> {
        // The block is zeroed, and zero is a valid Pod.
        Ok(Array {
            shared: Shared::create::<T>(Self::tag(), len, true)?,
            _t: PhantomData,
        })
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn guard(&self) -> ArrayGuard<'_, T> {
        ArrayGuard {
            _held: Held::new(self.shared.header()),
            data: self.shared.data(),
            len: self.len(),
            _t: PhantomData,
        }
    }

    /// Locks the array and gives access to its elements until the guard is
    /// dropped; poisoning as in [`Value::get_lock`].
    pub fn get_lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        let poisoned = self.shared.lock();
        guarded(self.guard(), poisoned)
    }

    /// [`get_lock`](Array::get_lock) only if the lock is free now.
    pub fn try_get_lock(&self) -> TryLockResult<ArrayGuard<'_, T>> {
        try_guarded(self.shared.try_lock().map(|p| (self.guard(), p)))
    }

    /// [`get_lock`](Array::get_lock), waiting at most `timeout`:
    /// `Err(TryLockError::WouldBlock)` if the lock stayed held that long.
    pub fn get_lock_timeout(&self, timeout: Duration) -> TryLockResult<ArrayGuard<'_, T>> {
        try_guarded(
            self.shared
                .lock_within(Some(timeout))
                .map(|p| (self.guard(), p)),
        )
    }

    /// Element `index` (under the lock).
    pub fn get(&self, index: usize) -> Result<T, SharedError> {
        let g = self.get_lock().map_err(|_| SharedError::Poisoned)?;
        g.get(index).copied().ok_or(SharedError::OutOfBounds {
            index,
            len: g.len(),
        })
    }

    /// Sets element `index` (under the lock).
    pub fn set(&self, index: usize, value: T) -> Result<(), SharedError> {
        let mut g = self.get_lock().map_err(|_| SharedError::Poisoned)?;
        let len = g.len();
        let slot = g
            .get_mut(index)
            .ok_or(SharedError::OutOfBounds { index, len })?;
        *slot = value;
        Ok(())
    }

    /// A copy of every element (under the lock).
    pub fn to_vec(&self) -> Result<Vec<T>, SharedError> {
        let g = self.get_lock().map_err(|_| SharedError::Poisoned)?;
        Ok(g.to_vec())
    }

    /// Whether a lock holder died or panicked.
    pub fn is_poisoned(&self) -> bool {
        self.shared.header().poisoned.load(SeqCst) != 0
    }

    /// Marks the array consistent again after a holder died.
    pub fn clear_poison(&self) {
        self.shared.header().poisoned.store(0, SeqCst);
    }
}

impl<T: Pod> Clone for Array<T> {
    /// Another handle on the same array.
    fn clone(&self) -> Self {
        Array {
            shared: self.shared.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Pod> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shared.anchor.serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Array {
            shared: Shared::decode::<D, T>(d, Self::tag())?,
            _t: PhantomData,
        })
    }
}

// ---------------------------------------------------------------------------
// AtomicValue

mod sealed {
    pub trait Sealed {}
}

/// An integer with a lock-free atomic form, for [`AtomicValue`].
pub trait AtomicInt: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The matching `std::sync::atomic` type.
    type Atomic: Send + Sync + 'static;
    #[doc(hidden)]
    fn load(a: &Self::Atomic) -> Self;
    #[doc(hidden)]
    fn store(a: &Self::Atomic, v: Self);
    #[doc(hidden)]
    fn swap(a: &Self::Atomic, v: Self) -> Self;
    #[doc(hidden)]
    fn fetch_add(a: &Self::Atomic, v: Self) -> Self;
    #[doc(hidden)]
    fn fetch_sub(a: &Self::Atomic, v: Self) -> Self;
    #[doc(hidden)]
    fn compare_exchange(a: &Self::Atomic, current: Self, new: Self) -> Result<Self, Self>;
}

macro_rules! atomic_int {
    ($($t:ty => $a:ty),*) => { $(
        impl sealed::Sealed for $t {}
        impl AtomicInt for $t {
            type Atomic = $a;
            fn load(a: &$a) -> $t { a.load(SeqCst) }
            fn store(a: &$a, v: $t) { a.store(v, SeqCst) }
            fn swap(a: &$a, v: $t) -> $t { a.swap(v, SeqCst) }
            fn fetch_add(a: &$a, v: $t) -> $t { a.fetch_add(v, SeqCst) }
            fn fetch_sub(a: &$a, v: $t) -> $t { a.fetch_sub(v, SeqCst) }
            fn compare_exchange(a: &$a, c: $t, n: $t) -> Result<$t, $t> {
                a.compare_exchange(c, n, SeqCst, SeqCst)
            }
        }
    )* };
}

use std::sync::atomic as sa;
atomic_int!(
    u8 => sa::AtomicU8, u16 => sa::AtomicU16, u32 => sa::AtomicU32, u64 => sa::AtomicU64,
    usize => sa::AtomicUsize, i8 => sa::AtomicI8, i16 => sa::AtomicI16, i32 => sa::AtomicI32,
    i64 => sa::AtomicI64, isize => sa::AtomicIsize
);

/// An integer in shared memory updated with lock-free atomic operations
/// (sequentially consistent). No lock, so nothing to poison: a process
/// killed anywhere leaves the value whole.
pub struct AtomicValue<T: AtomicInt> {
    shared: Shared,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: AtomicInt> fmt::Debug for AtomicValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AtomicValue@{:#x}", self.shared.aux)
    }
}

impl<T: AtomicInt> AtomicValue<T> {
    fn tag() -> u64 {
        type_tag::<T>("csp::mp::AtomicValue")
    }

    /// A new shared atomic integer. Panics only if the shared arena cannot
    /// be mapped or is full; [`AtomicValue::try_new`] returns that as an
    /// error.
    pub fn new(value: T) -> Self {
        Self::try_new(value).unwrap_or_else(|e| panic!("csp: cannot create a shared value: {e}"))
    }

    /// [`AtomicValue::new`], returning arena errors.
    pub fn try_new(value: T) -> Result<Self, SharedError> {
        let shared = Shared::create::<T::Atomic>(Self::tag(), 1, false)?;
        let v = AtomicValue {
            shared,
            _t: PhantomData,
        };
        T::store(v.atomic(), value);
        Ok(v)
    }

    /// The atomic itself, for other memory orderings.
    pub fn atomic(&self) -> &T::Atomic {
        // SAFETY: the block holds an aligned atomic integer (zero is a valid
        // one) at data_off, kept allocated by this handle; atomics are made
        // to be shared, here across processes through the shared mapping.
        unsafe { &*self.shared.data::<T::Atomic>() }
    }

    /// The value now.
    pub fn load(&self) -> T {
        T::load(self.atomic())
    }

    /// Sets the value.
    pub fn store(&self, value: T) {
        T::store(self.atomic(), value)
    }

    /// Sets the value, returning the previous one.
    pub fn swap(&self, value: T) -> T {
        T::swap(self.atomic(), value)
    }

    /// Adds (wrapping), returning the previous value.
    pub fn fetch_add(&self, value: T) -> T {
        T::fetch_add(self.atomic(), value)
    }

    /// Subtracts (wrapping), returning the previous value.
    pub fn fetch_sub(&self, value: T) -> T {
        T::fetch_sub(self.atomic(), value)
    }

    /// Sets the value to `new` if it is `current`; returns the previous value
    /// (`Ok` if it was replaced).
    pub fn compare_exchange(&self, current: T, new: T) -> Result<T, T> {
        T::compare_exchange(self.atomic(), current, new)
    }
}

impl<T: AtomicInt> Clone for AtomicValue<T> {
    /// Another handle on the same value.
    fn clone(&self) -> Self {
        AtomicValue {
            shared: self.shared.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: AtomicInt> Serialize for AtomicValue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shared.anchor.serialize(s)
    }
}

impl<'de, T: AtomicInt> Deserialize<'de> for AtomicValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(AtomicValue {
            shared: Shared::decode::<D, T::Atomic>(d, Self::tag())?,
            _t: PhantomData,
        })
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Value<u64>>();
    is::<Array<f64>>();
    is::<AtomicValue<u64>>();
}
