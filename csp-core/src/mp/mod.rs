//! Python's `multiprocessing` data structures, across OS processes:
//! [`Queue`], [`JoinableQueue`], [`pipe`] / [`pipe_oneway`], and the shared
//! memory [`Value`], [`Array`] and [`AtomicValue`].
//!
//! Every one is built on the channel machinery: a queue is a buffered
//! channel plus a few counters, a pipe is two channels, a shared value is a
//! block owned by a channel. So they inherit its speed, its poison on a
//! process that dies mid-operation, and its dead-peer detection: a process
//! blocked on one of them whose peers died gets an error, never a hang.
//!
//! Every handle is `Clone` (another handle on the same object), `Send`, and
//! `Serialize + Deserialize`: pass it as a process argument (declare it with
//! [`Process::with`](crate::Process::with) if a closure captures it) or send
//! it through a channel. See `README.md` beside this file for the layout and
//! the reasons the shared memory is sound.
//!
//! ```
//! use csp_core::Process;
//! use csp_core::mp::Queue;
//!
//! let q = Queue::<u64>::new(16);
//! let tx = q.clone();
//! let producer = Process::new("producer", move || {
//!     for i in 0..100 {
//!         tx.put(i).unwrap();
//!     }
//! })
//! .with(&q)
//! .spawn()
//! .unwrap();
//! let sum: u64 = (0..100).map(|_| q.get().unwrap()).sum();
//! producer.join().unwrap();
//! assert_eq!(sum, 4950);
//! ```

mod pipe;
mod queue;
mod shared;

pub use pipe::{
    Connection, PipeError, PipePair, PipeReader, PipeWriter, pipe, pipe_oneway, try_pipe,
};
pub use queue::{JoinableQueue, PutError, Queue, QueueError, UNBOUNDED_CAPACITY};
pub use shared::{Array, ArrayGuard, AtomicInt, AtomicValue, Pod, SharedError, Value, ValueGuard};

use crate::channel::core;
use crate::shm::{self, ArenaError};
use std::sync::atomic::Ordering::*;

/// Serde's view of [`ArenaError`] (defined without serde), so the errors
/// here are serializable and a process can return them.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "ArenaError")]
enum ArenaErrorDef {
    Exhausted(u64),
    Map(String),
}

/// Allocates a zeroed block of `size` bytes and makes it the auxiliary
/// block of channel `off` (freed with the channel). `init` fills it before
/// anyone else can see it. Returns the block's offset.
fn attach_aux(off: u64, size: u64, init: impl FnOnce(u64)) -> Result<u64, ArenaError> {
    let a = shm::arena()?;
    let b = shm::alloc(size)?;
    // SAFETY: a fresh block of at least `size` bytes, ours until published.
    unsafe { std::ptr::write_bytes(a.ptr(b.off), 0, size as usize) };
    init(b.off);
    // Only the creator attaches, before the channel is shared.
    core::chan(off).aux.store(b.off, Release);
    Ok(b.off)
}

/// The auxiliary block of channel `off`, if it has one that is at least
/// `min` bytes long and starts with `tag` (for handles arriving in
/// messages, which may be corrupt or of the wrong type).
fn aux_checked(off: u64, tag: u64, min: u64) -> Option<u64> {
    let aux = core::chan(off).aux.load(Acquire);
    let a = shm::mapped();
    if aux < shm::HEAP_OFF || !aux.is_multiple_of(64) || aux.saturating_add(min) > a.size() {
        return None;
    }
    // SAFETY: every aux block this module attaches starts with a u64 tag
    // written before the block was published, and `aux` lies in the arena;
    // the channel (which a live handle holds) keeps the block allocated.
    let found = unsafe { a.at::<std::sync::atomic::AtomicU64>(aux) }.load(Acquire);
    (found == tag).then_some(aux)
}

/// A tag naming a type and a kind of structure, so a handle decoded as the
/// wrong type is refused instead of misreading shared memory. Stable within
/// one build (all processes of a tree run the same binary).
fn type_tag<T: ?Sized>(kind: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    std::any::type_name::<T>().hash(&mut h);
    // Never 0: a zeroed (unset) block must not match.
    h.finish() | 1
}
