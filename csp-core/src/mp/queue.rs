//! `Queue` and `JoinableQueue`: Python's `multiprocessing.Queue` over a
//! buffered channel.
//!
//! Every queue handle holds a reader and a writer of one buffered channel
//! (so the channel lives exactly as long as some handle does, and its
//! reader/writer counts never reach zero while anyone can still use it),
//! plus a handle on a second, empty *presence* channel whose counts say
//! which processes are producers and consumers: a handle registers its
//! process as a producer on its first `put` and as a consumer on its first
//! `get`. The process ledger releases those counts when the process ends; if
//! it died, the presence channel's side gets its `LOST` flag. That is how a
//! consumer blocked on an empty queue learns that every producer died.

use super::{attach_aux, aux_checked, type_tag};
use crate::channel::core::{self, R_LOST, R_RETIRED, READERS, W_LOST, W_RETIRED, WRITERS};
use crate::error::{ChannelError, WriteError};
use crate::process::record;
use crate::shm::{self, ArenaError};
use crate::wait::{Event, SLICE, Woken};
use crate::{Channel, Reader, Writer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// How many items a queue made with `maxsize == 0` ("unbounded", in Python's
/// words) holds before `put` blocks. Our queues are rings allocated up front
/// in the shared arena (64 bytes a slot), so "unbounded" is a large bound.
/// It is the bound Python itself has on macOS (`SEM_VALUE_MAX`).
pub const UNBOUNDED_CAPACITY: usize = 32_768;

/// The error of a queue operation.
/// Serializable, so a process can return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum QueueError {
    /// `get_nowait` found nothing, or `get_timeout` ran out (Python's
    /// `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// `put_nowait` found no room, or `put_timeout` ran out (Python's
    /// `queue.Full`).
    #[error("the queue is full")]
    Full,
    /// The queue was closed: `put` fails at once; `get` fails once the
    /// queue is drained.
    #[error("the queue is closed")]
    Closed,
    /// Every process that could complete the operation died: the queue is
    /// empty and every producer died (for `get`), every consumer died (for
    /// `put` on a full queue, and `join` with unfinished tasks).
    #[error("every process that could complete this queue operation has died")]
    PeerLost,
    /// `join_timeout` ran out with tasks still unfinished.
    #[error("the queue still has unfinished tasks after the timeout")]
    Timeout,
    /// `task_done` was called more times than items were put.
    #[error("task_done() called more times than items were put")]
    TaskDoneTooOften,
    /// A process died in the middle of an operation on the queue; its state
    /// may be inconsistent, so it fails loudly from now on.
    #[error("the queue is poisoned: a process died in the middle of an operation on it")]
    Poisoned,
    /// The value could not be encoded (Python would drop it silently).
    #[error("could not encode the item: {0}")]
    Encode(String),
    /// An item could not be decoded into the queue's type.
    #[error("could not decode the item: {0}")]
    Decode(String),
    /// The shared arena had no room.
    #[error(transparent)]
    Arena(
        #[from]
        #[serde(with = "super::ArenaErrorDef")]
        ArenaError,
    ),
}

impl QueueError {
    /// `blocked` is the error for "could not go ahead now" (`Empty`/`Full`).
    fn from_channel(e: ChannelError, blocked: QueueError) -> Self {
        match e {
            ChannelError::Retired => QueueError::Closed,
            ChannelError::Poisoned => QueueError::Poisoned,
            ChannelError::PeerLost => QueueError::PeerLost,
            ChannelError::Timeout | ChannelError::WouldBlock => blocked,
            ChannelError::Encode(m) => QueueError::Encode(m),
            ChannelError::Decode(m) => QueueError::Decode(m),
            ChannelError::Arena(a) => QueueError::Arena(a),
        }
    }
}

/// A failed `put_timeout`/`put_nowait`: the error and the item handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutError<T> {
    /// Why it failed.
    pub error: QueueError,
    /// The item that was not put.
    pub value: T,
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: fmt::Debug> std::error::Error for PutError<T> {}

impl<T> From<PutError<T>> for QueueError {
    fn from(e: PutError<T>) -> Self {
        e.error
    }
}

/// The queue's shared state, in the main channel's auxiliary block.
#[repr(C)]
struct QueueAux {
    tag: AtomicU64,
    /// As given to `new` (0 = unbounded).
    maxsize: AtomicU64,
    /// Arena offset of the presence channel (checked on decode).
    presence: AtomicU64,
    joinable: AtomicU32,
    _pad: u32,
    /// Items put and not yet marked done (joinable queues only).
    unfinished: AtomicU64,
    /// `join` waits here; moves when `unfinished` reaches zero.
    joined: Event,
}

const AUX_SIZE: u64 = std::mem::size_of::<QueueAux>() as u64;

/// A tag no process has (tags are at most 62 bits).
const NOBODY: u64 = u64::MAX;

/// How an operation waits.
#[derive(Clone, Copy)]
enum How {
    Now,
    Until(Option<Instant>),
}

fn until(timeout: Duration) -> How {
    How::Until(crate::wait::deadline(Some(timeout)))
}

/// The next wait slice before `deadline`, or `None` if it has passed.
fn slice(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(SLICE),
        Some(d) => {
            let now = Instant::now();
            (d > now).then(|| (d - now).min(SLICE))
        }
    }
}

/// A multi-producer, multi-consumer FIFO queue shared by processes: Python's
/// `multiprocessing.Queue`.
///
/// Any handle can `put` and `get`; clones are more handles on the same
/// queue. Items are any serde type, encoded at `put` (an item that cannot be
/// encoded is an error there, where Python would drop it silently).
///
/// A process blocked in `get` on an empty queue whose producers (the
/// processes that have called `put` on it) all died gets
/// [`QueueError::PeerLost`] instead of hanging; likewise `put` on a full
/// queue whose consumers all died.
pub struct Queue<T> {
    rx: Reader<T>,
    tx: Writer<T>,
    presence: Channel<()>,
    /// Tag of the process registered as a producer through this handle.
    producer: AtomicU64,
    /// Tag of the process registered as a consumer through this handle.
    consumer: AtomicU64,
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Queue@{:#x}", self.rx.offset())
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue holding up to `maxsize` items (`0`: up to
    /// [`UNBOUNDED_CAPACITY`]). Panics only if the shared arena cannot be
    /// mapped or is full; [`Queue::try_new`] returns that as an error.
    pub fn new(maxsize: usize) -> Self {
        Self::try_new(maxsize).unwrap_or_else(|e| panic!("csp: cannot create a queue: {e}"))
    }

    /// [`Queue::new`], returning arena errors.
    pub fn try_new(maxsize: usize) -> Result<Self, QueueError> {
        Self::create(maxsize, false)
    }

    fn create(maxsize: usize, joinable: bool) -> Result<Self, QueueError> {
        let cap = if maxsize == 0 {
            UNBOUNDED_CAPACITY
        } else {
            maxsize
        };
        let main = Channel::<T>::try_buffered(cap)
            .map_err(|e| QueueError::from_channel(e, QueueError::Full))?;
        let presence =
            Channel::<()>::try_new().map_err(|e| QueueError::from_channel(e, QueueError::Full))?;
        let presence_off = presence.offset();
        let (rx, tx) = (main.reader(), main.writer());
        let tag = type_tag::<T>("csp::mp::Queue");
        attach_aux(rx.offset(), AUX_SIZE, |aux| {
            // SAFETY: a fresh zeroed block of AUX_SIZE bytes, 64-byte
            // aligned, not yet visible to anyone else.
            let a = unsafe { shm::mapped().at::<QueueAux>(aux) };
            a.maxsize.store(maxsize as u64, Relaxed);
            a.presence.store(presence_off, Relaxed);
            a.joinable.store(joinable as u32, Relaxed);
            a.tag.store(tag, Release);
        })?;
        Ok(Queue::from_parts(rx, tx, presence))
    }
}

impl<T> Queue<T> {
    /// A handle on the queue whose channel ends these are; it registers
    /// its process as producer or consumer when first used.
    fn from_parts(rx: Reader<T>, tx: Writer<T>, presence: Channel<()>) -> Self {
        Queue {
            rx,
            tx,
            presence,
            producer: AtomicU64::new(NOBODY),
            consumer: AtomicU64::new(NOBODY),
        }
    }

    fn aux(&self) -> &QueueAux {
        let off = core::chan(self.rx.offset()).aux.load(Acquire);
        // SAFETY: the block was attached (tag written) before this handle
        // existed — at creation, or checked by `aux_checked` on decode — and
        // the channel this handle holds keeps it allocated.
        unsafe { shm::mapped().at::<QueueAux>(off) }
    }

    fn presence_off(&self) -> u64 {
        self.presence.offset()
    }

    /// Counts this process once as a producer (`WRITERS`) or consumer
    /// (`READERS`) of the presence channel, through this handle.
    fn register(&self, slot: &AtomicU64, which: usize) {
        let me = record::my_tag();
        let cur = slot.load(Relaxed);
        if cur != me && slot.compare_exchange(cur, me, AcqRel, Relaxed).is_ok() {
            core::add_local(self.presence_off(), which);
        }
    }

    /// Some producer died and none is left.
    fn producers_lost(&self) -> bool {
        let c = core::chan(self.presence_off());
        c.flags.load(SeqCst) & W_LOST != 0 && c.counts[WRITERS].load(SeqCst) == 0
    }

    /// Some consumer died and none is left.
    fn consumers_lost(&self) -> bool {
        let c = core::chan(self.presence_off());
        c.flags.load(SeqCst) & R_LOST != 0 && c.counts[READERS].load(SeqCst) == 0
    }

    fn joinable(&self) -> bool {
        self.aux().joinable.load(Relaxed) != 0
    }

    /// The `maxsize` the queue was made with (`0` = unbounded).
    pub fn maxsize(&self) -> usize {
        self.aux().maxsize.load(Relaxed) as usize
    }

    /// How many items the queue holds at most before `put` blocks.
    pub fn capacity(&self) -> usize {
        core::chan(self.rx.offset()).cap.load(Relaxed) as usize
    }

    /// The number of items in the queue now (approximate while others
    /// operate on it, as in Python).
    pub fn qsize(&self) -> usize {
        let c = core::chan(self.rx.offset());
        let head = c.head.load(SeqCst);
        let tail = c.tail.load(SeqCst);
        tail.saturating_sub(head).min(c.cap.load(Relaxed) as u64) as usize
    }

    /// Whether the queue is empty now.
    pub fn is_empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue is full now.
    pub fn is_full(&self) -> bool {
        self.qsize() >= self.capacity()
    }

    /// Closes the queue for every handle in every process: `put` fails with
    /// [`QueueError::Closed`] from now on, and `get` returns the items still
    /// queued, then `Closed`. (Python's `close` only concerns the calling
    /// process; here it is the queue's end of life.) Idempotent.
    pub fn close(&self) {
        let c = core::chan(self.rx.offset());
        {
            let _g = core::lock(c);
            c.flags.fetch_or(R_RETIRED | W_RETIRED, SeqCst);
        }
        core::notify_all(c);
    }

    /// Whether the queue has been closed.
    pub fn is_closed(&self) -> bool {
        core::chan(self.rx.offset()).flags.load(SeqCst) & R_RETIRED != 0
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// Puts `item`, waiting for room if the queue is full.
    pub fn put(&self, item: T) -> Result<(), QueueError> {
        self.put_with(item, How::Until(None)).map_err(|e| e.error)
    }

    /// Puts `item`, waiting at most `timeout` for room; `Full` after that.
    /// On failure the item comes back.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_with(item, until(timeout))
    }

    /// Puts `item` only if there is room now (`Full` otherwise). On failure
    /// the item comes back.
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        self.put_with(item, How::Now)
    }

    /// Takes the oldest item, waiting for one if the queue is empty.
    pub fn get(&self) -> Result<T, QueueError> {
        self.get_with(How::Until(None))
    }

    /// Takes the oldest item, waiting at most `timeout`; `Empty` after that.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, QueueError> {
        self.get_with(until(timeout))
    }

    /// Takes the oldest item if there is one now (`Empty` otherwise).
    pub fn get_nowait(&self) -> Result<T, QueueError> {
        self.get_with(How::Now)
    }

    fn put_with(&self, item: T, how: How) -> Result<(), PutError<T>> {
        self.register(&self.producer, WRITERS);
        let joinable = self.joinable();
        if joinable {
            // Counted before the item is visible, so a fast consumer's
            // task_done never finds the count short.
            self.aux().unfinished.fetch_add(1, SeqCst);
        }
        let r = self.put_inner(item, how);
        if r.is_err() && joinable {
            self.finish_task();
        }
        r
    }

    fn put_inner(&self, item: T, how: How) -> Result<(), PutError<T>> {
        let fail = |error, value| Err(PutError { error, value });
        let mut value = match self.tx.try_write(item) {
            Ok(()) => return Ok(()),
            Err(WriteError {
                error: ChannelError::WouldBlock,
                value,
            }) => value,
            Err(WriteError { error, value }) => {
                return fail(QueueError::from_channel(error, QueueError::Full), value);
            }
        };
        let deadline = match how {
            How::Now if self.consumers_lost() => return fail(QueueError::PeerLost, value),
            How::Now => return fail(QueueError::Full, value),
            How::Until(d) => d,
        };
        loop {
            if self.consumers_lost() {
                return fail(QueueError::PeerLost, value);
            }
            let Some(wait) = slice(deadline) else {
                return fail(QueueError::Full, value);
            };
            match self.tx.write_timeout(value, wait) {
                Ok(()) => return Ok(()),
                Err(WriteError {
                    error: ChannelError::Timeout,
                    value: back,
                }) => {
                    value = back;
                    self.after_quiet_slice();
                }
                Err(WriteError { error, value }) => {
                    return fail(QueueError::from_channel(error, QueueError::Full), value);
                }
            }
        }
    }

    /// What a channel waiter checks after a quiet wait slice; the queue
    /// waits in short timeouts of its own, which end before the channel's
    /// slice does. Without it, a ring slot left half-done by a killed
    /// process would jam the queue for good (the check poisons it).
    fn after_quiet_slice(&self) {
        crate::process::sweep();
        crate::channel::core::slice_checks(self.rx.offset());
    }

    fn get_with(&self, how: How) -> Result<T, QueueError> {
        self.register(&self.consumer, READERS);
        let empty = |e| QueueError::from_channel(e, QueueError::Empty);
        match self.rx.try_read() {
            Ok(v) => return Ok(v),
            Err(ChannelError::WouldBlock) => {}
            Err(e) => return Err(empty(e)),
        }
        let deadline = match how {
            How::Now if self.producers_lost() => return Err(QueueError::PeerLost),
            How::Now => return Err(QueueError::Empty),
            How::Until(d) => d,
        };
        loop {
            if self.producers_lost() {
                // What the dead put before dying is still delivered.
                return match self.rx.try_read() {
                    Ok(v) => Ok(v),
                    Err(ChannelError::WouldBlock) => Err(QueueError::PeerLost),
                    Err(e) => Err(empty(e)),
                };
            }
            let Some(wait) = slice(deadline) else {
                return Err(QueueError::Empty);
            };
            match self.rx.read_timeout(wait) {
                Ok(v) => return Ok(v),
                Err(ChannelError::Timeout) => self.after_quiet_slice(),
                Err(e) => return Err(empty(e)),
            }
        }
    }

    /// One task fewer; wakes `join` when none are left. `false` if there
    /// were none.
    fn finish_task(&self) -> bool {
        let aux = self.aux();
        let mut cur = aux.unfinished.load(SeqCst);
        loop {
            if cur == 0 {
                return false;
            }
            match aux
                .unfinished
                .compare_exchange(cur, cur - 1, SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(v) => cur = v,
            }
        }
        if cur == 1 {
            aux.joined.notify();
        }
        true
    }
}

impl<T> Clone for Queue<T> {
    /// Another handle on the same queue.
    fn clone(&self) -> Self {
        Queue {
            rx: self.rx.clone(),
            tx: self.tx.clone(),
            presence: self.presence.clone(),
            producer: AtomicU64::new(NOBODY),
            consumer: AtomicU64::new(NOBODY),
        }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        let me = record::my_tag();
        let off = self.presence_off();
        if *self.producer.get_mut() == me {
            core::release_local(off, WRITERS);
        }
        if *self.consumer.get_mut() == me {
            core::release_local(off, READERS);
        }
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Registrations stay with this handle: a decoded handle registers
        // its own process when it is used.
        (&self.rx, &self.tx, &self.presence).serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (rx, tx, presence) = <(Reader<T>, Writer<T>, Channel<()>)>::deserialize(d)?;
        let ok = rx.offset() == tx.offset()
            && aux_checked(rx.offset(), type_tag::<T>("csp::mp::Queue"), AUX_SIZE).is_some_and(
                |aux| {
                    // SAFETY: a tagged queue block (checked just above), kept
                    // allocated by the channel `rx` holds.
                    let a = unsafe { shm::mapped().at::<QueueAux>(aux) };
                    a.presence.load(Relaxed) == presence.offset()
                },
            );
        if !ok {
            return Err(serde::de::Error::custom(
                "not a live queue of this item type",
            ));
        }
        Ok(Queue::from_parts(rx, tx, presence))
    }
}

/// A [`Queue`] that also counts unfinished tasks: Python's
/// `multiprocessing.JoinableQueue`. Every `put` adds a task; a consumer
/// calls [`task_done`](JoinableQueue::task_done) once it has finished with
/// an item it got; [`join`](JoinableQueue::join) waits until every task is
/// done. All of [`Queue`]'s methods are available through `Deref`.
pub struct JoinableQueue<T>(Queue<T>);

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinableQueue@{:#x}", self.0.rx.offset())
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A joinable queue holding up to `maxsize` items (`0`: up to
    /// [`UNBOUNDED_CAPACITY`]). Panics only if the shared arena cannot be
    /// mapped or is full; [`JoinableQueue::try_new`] returns that as an
    /// error.
    pub fn new(maxsize: usize) -> Self {
        Self::try_new(maxsize).unwrap_or_else(|e| panic!("csp: cannot create a queue: {e}"))
    }

    /// [`JoinableQueue::new`], returning arena errors.
    pub fn try_new(maxsize: usize) -> Result<Self, QueueError> {
        Queue::create(maxsize, true).map(JoinableQueue)
    }

    /// Marks one task (an item got earlier) as done. An error if called
    /// more times than items were put.
    pub fn task_done(&self) -> Result<(), QueueError> {
        if self.0.finish_task() {
            Ok(())
        } else {
            Err(QueueError::TaskDoneTooOften)
        }
    }
}

impl<T> JoinableQueue<T> {
    /// Items put and not yet marked done.
    pub fn unfinished_tasks(&self) -> u64 {
        self.0.aux().unfinished.load(SeqCst)
    }

    /// Waits until every item put has been marked done. A consumer that dies
    /// between `get` and `task_done` leaves its task unfinished: if every
    /// consumer died this returns [`QueueError::PeerLost`]; if others live,
    /// it waits for them (use [`join_timeout`](JoinableQueue::join_timeout)
    /// to bound that).
    pub fn join(&self) -> Result<(), QueueError> {
        self.join_until(None)
    }

    /// [`join`](JoinableQueue::join), waiting at most `timeout`
    /// ([`QueueError::Timeout`] after that).
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), QueueError> {
        self.join_until(crate::wait::deadline(Some(timeout)))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<(), QueueError> {
        let aux = self.0.aux();
        loop {
            let seen = aux.joined.observe();
            if aux.unfinished.load(SeqCst) == 0 {
                return Ok(());
            }
            if self.0.consumers_lost() {
                return Err(QueueError::PeerLost);
            }
            match aux.joined.wait(seen, deadline) {
                Woken::Changed => {}
                Woken::TimedOut => return Err(QueueError::Timeout),
                Woken::Slice => {
                    crate::process::sweep();
                }
            }
        }
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

impl<T> Clone for JoinableQueue<T> {
    /// Another handle on the same queue.
    fn clone(&self) -> Self {
        JoinableQueue(self.0.clone())
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let q = Queue::<T>::deserialize(d)?;
        if !q.joinable() {
            return Err(serde::de::Error::custom(
                "a plain queue is not a joinable queue",
            ));
        }
        Ok(JoinableQueue(q))
    }
}
