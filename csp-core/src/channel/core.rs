//! The untyped channel in the arena: slots (a lock-free ring for buffered
//! channels, one slot under a robust lock for a rendezvous), live counts of
//! ends per side, retire/poison/lost flags, and two events (readable,
//! writable) that blocked ends sleep on. See `README.md`.

use crate::ChannelError;
use crate::process::record::{self, COUNTERS};

/// Kinds of channel ends: `HANDLES`, `READERS`, `WRITERS`.
pub(crate) const KINDS: usize = 3;

/// The ledger column of ends of kind `k` that this process has encoded into
/// a message not delivered yet.
const fn in_flight(k: usize) -> usize {
    KINDS + k
}

const _: () = assert!(COUNTERS == 2 * KINDS);
use crate::shm::{self, Block};
use crate::sys::{LockState, RobustMutex};
use crate::wait::{Event, Woken};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Instant;

pub(crate) const HANDLES: usize = 0;
pub(crate) const READERS: usize = 1;
pub(crate) const WRITERS: usize = 2;

pub(crate) const POISONED: u32 = 1;
pub(crate) const R_RETIRED: u32 = 2;
pub(crate) const W_RETIRED: u32 = 4;
pub(crate) const R_LOST: u32 = 8;
pub(crate) const W_LOST: u32 = 16;
/// A message carrying channel ends has been put in this channel: messages
/// nobody can read any more must be dropped, not just freed (see
/// [`purge_if_unreadable`]).
pub(crate) const CARRIES_ENDS: u32 = 32;

/// Bytes of a message stored inside its slot; larger ones go to the heap.
pub(crate) const INLINE: usize = 40;
const SLOT_SIZE: u64 = 64;
const HEADER_SIZE: u64 = 256;
/// Alternations that can wait on one channel at once.
pub(crate) const ALT_SLOTS: usize = 8;

#[repr(C)]
pub(crate) struct Chan {
    pub counts: [AtomicU32; KINDS],
    pub refs: AtomicU32,
    pub flags: AtomicU32,
    pub generation: AtomicU64,
    pub cap: AtomicU32,
    pub rendezvous: AtomicU32,
    pub head: AtomicU64,
    pub tail: AtomicU64,
    pub lock: RobustMutex,
    /// How many processes holding this channel died (moves on every death,
    /// so structures built on a channel can notice any holder's death).
    pub dead_holders: AtomicU32,
    /// Arena offset of an auxiliary block owned by the channel (state of a
    /// structure built on it), freed with the channel; 0 if none.
    pub aux: AtomicU64,
    /// Readers blocked in `take` now (lets a rendezvous `try_write` know
    /// whether a reader is there to take its value).
    pub read_waiting: AtomicU32,
    /// Writers waiting for room or for their rendezvous to be taken: a
    /// reader wakes writers only when this is non-zero.
    pub write_waiting: AtomicU32,
    /// Readers wait here for data (or retire/poison).
    pub readable: Event,
    /// Writers wait here for room, or for their rendezvous to be taken.
    pub writable: Event,
    /// Arena offsets of the [`Event`]s of alternations waiting on this
    /// channel (0 = free). Each is the first field of an alternation's
    /// `alt::cell::Cell`, which is never freed.
    pub alts: [AtomicU64; ALT_SLOTS],
    /// `fn(Taken)` that decodes one message as the channel's type and drops
    /// it (releasing the ends inside), set by the typed `Channel`; 0 if none.
    /// Code addresses are the same in every process sharing the arena: all
    /// are forks of the one that created it.
    pub dropper: AtomicU64,
    /// Ends of each kind encoded into messages and not decoded yet (a part
    /// of `counts`): decoding one takes one, so the same bytes decoded
    /// twice, or a forged end, cannot take a count nobody gave.
    pub transit: [AtomicU32; KINDS],
}

const _: () = assert!(std::mem::size_of::<Chan>() as u64 <= HEADER_SIZE);

#[repr(C)]
pub(crate) struct Slot {
    /// Sequence word of the lock-free ring (buffered channels; see `ring.rs`).
    /// In a rendezvous: 0 for a plain message, or the tag of an
    /// alternation's offer (see `alt/README.md`).
    pub seq: AtomicU64,
    /// Arena offset of a heap block holding the message, or 0 if inline.
    pub heap: AtomicU64,
    pub len: AtomicU32,
    pub len_hi: AtomicU32,
    /// A message of at most `INLINE` bytes; written and read only by the
    /// process that owns the slot at the time (see `fill` and `take`).
    inline: std::cell::UnsafeCell<[u8; INLINE]>,
}

const _: () = assert!(std::mem::size_of::<Slot>() as u64 == SLOT_SIZE);

impl Slot {
    /// Stores message `p` in the slot (it is published separately).
    ///
    /// # Safety
    /// The caller owns the slot's payload: nobody reads or writes it until
    /// the caller publishes it.
    pub(crate) unsafe fn fill(&self, p: Payload) {
        let (heap, n) = match p {
            Payload::Inline(bytes, n) => {
                // SAFETY: forwarded to the caller: the payload is ours; n
                // is at most INLINE, the size of `inline`.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.inline.get().cast::<u8>(), n)
                };
                (0, n)
            }
            Payload::Heap(b, n) => (b.off, n),
        };
        self.heap.store(heap, Relaxed);
        self.len.store(n as u32, Relaxed);
        self.len_hi.store((n >> 32) as u32, Relaxed);
    }

    /// Copies the message out of the slot (a heap message's block becomes
    /// the caller's to free).
    ///
    /// # Safety
    /// The slot holds a published message that the caller alone is taking.
    pub(crate) unsafe fn take(&self) -> Taken {
        let n = self.len.load(Relaxed) as usize | (self.len_hi.load(Relaxed) as usize) << 32;
        match self.heap.load(Relaxed) {
            0 => {
                let n = n.min(INLINE);
                let mut bytes = [0u8; INLINE];
                // SAFETY: forwarded to the caller: a published inline
                // message of n <= INLINE bytes that only we read now.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.inline.get().cast::<u8>(),
                        bytes.as_mut_ptr(),
                        n,
                    )
                };
                Taken::Inline(bytes, n)
            }
            heap => Taken::Heap(heap, n),
        }
    }
}

/// A message ready to be put in a slot.
pub(crate) enum Payload {
    Inline([u8; INLINE], usize),
    Heap(Block, usize),
}

impl Payload {
    pub(crate) fn free(self) {
        if let Payload::Heap(b, _) = self {
            shm::free(b.off);
        }
    }
}

/// Allocates a channel with room for `cap` buffered messages (0 =
/// rendezvous). The caller holds one handle count.
pub(crate) fn create(cap: u32) -> Result<(u64, u64), ChannelError> {
    let a = shm::arena()?;
    let slots = cap.max(1) as u64;
    let size = HEADER_SIZE + slots * SLOT_SIZE;
    let b = shm::alloc(size)?;
    // SAFETY: fresh block of `size` bytes, owned by us until published.
    unsafe { std::ptr::write_bytes(a.ptr(b.off), 0, size as usize) };
    // SAFETY: the block is zeroed and big enough for a Chan header.
    let c = unsafe { a.at::<Chan>(b.off) };
    // SAFETY: the mutex is in the fresh block; nobody else sees it yet.
    unsafe { RobustMutex::init(&c.lock as *const RobustMutex as *mut RobustMutex) };
    let generation = a.next_generation();
    c.generation.store(generation, Relaxed);
    c.cap.store(cap.max(1), Relaxed);
    c.rendezvous.store((cap == 0) as u32, Relaxed);
    c.counts[HANDLES].store(1, Relaxed);
    if cap > 0 {
        super::ring::init(b.off, cap as u64);
    }
    c.refs.store(1, Release);
    record::ledger_add(b.off, HANDLES, 1);
    Ok((b.off, generation))
}

pub(crate) fn chan(off: u64) -> &'static Chan {
    // SAFETY: `off` comes from a live end or handle, which keeps the channel
    // allocated (refs > 0).
    unsafe { shm::mapped().at::<Chan>(off) }
}

/// Checks that `off`/`generation` name a live channel (for ends arriving in
/// messages, which may be corrupt).
pub(crate) fn valid(off: u64, generation: u64) -> bool {
    let Ok(a) = shm::arena() else { return false };
    off >= shm::HEAP_OFF
        && off.is_multiple_of(64)
        && off.saturating_add(HEADER_SIZE) <= a.size()
        && generation != 0
        && chan(off).generation.load(Acquire) == generation
        && chan(off).refs.load(Acquire) > 0
}

pub(crate) fn slot(off: u64, i: u64) -> &'static Slot {
    let cap = chan(off).cap.load(Relaxed) as u64;
    // SAFETY: slots follow the header; `i % cap` is within the ring.
    unsafe { shm::mapped().at::<Slot>(off + HEADER_SIZE + (i % cap) * SLOT_SIZE) }
}

/// The channel lock, held. A holder that died leaves the channel poisoned.
pub(crate) struct Guard(&'static Chan);

pub(crate) fn lock(c: &'static Chan) -> Guard {
    if c.lock.lock() == LockState::OwnerDied {
        c.flags.fetch_or(POISONED, SeqCst);
    }
    Guard(c)
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: a Guard exists only while this thread holds the lock.
        unsafe { self.0.lock.unlock() };
    }
}

/// Wakes everyone who waits on the channel: both sides and alternations.
pub(crate) fn notify_all(c: &Chan) {
    c.readable.notify();
    c.writable.notify();
    notify_alts(c);
}

pub(crate) fn notify_alts(c: &Chan) {
    for a in &c.alts {
        let off = a.load(Acquire);
        if off != 0 {
            // SAFETY: a registered alternation keeps its event allocated
            // until it has unregistered from every channel.
            unsafe { shm::mapped().at::<Event>(off) }.notify();
        }
    }
}

/// Registers an alternation's event; false if every slot is taken.
/// A thread's selections share its event, so one event may hold several
/// slots (a kept `Alt` and a `Select` over the same channel): each
/// registration takes a slot, each unregistration frees one.
pub(crate) fn register_alt(c: &Chan, ev: u64) -> bool {
    c.alts
        .iter()
        .any(|a| a.load(Relaxed) == 0 && a.compare_exchange(0, ev, AcqRel, Relaxed).is_ok())
}

/// Undoes one [`register_alt`] of `ev`.
pub(crate) fn unregister_alt(c: &Chan, ev: u64) {
    for a in &c.alts {
        if a.load(Relaxed) == ev && a.compare_exchange(ev, 0, AcqRel, Relaxed).is_ok() {
            return;
        }
    }
}

/// The error a writer gets now, if any.
pub(crate) fn write_error(c: &Chan) -> Option<ChannelError> {
    let f = c.flags.load(SeqCst);
    if f & POISONED != 0 {
        Some(ChannelError::Poisoned)
    } else if f & R_RETIRED != 0 {
        Some(ChannelError::Retired)
    } else if f & R_LOST != 0 && c.counts[READERS].load(SeqCst) == 0 {
        Some(ChannelError::PeerLost)
    } else {
        None
    }
}

/// The error a reader gets now when nothing is buffered, if any.
pub(crate) fn read_error(c: &Chan) -> Option<ChannelError> {
    let f = c.flags.load(SeqCst);
    if f & POISONED != 0 {
        Some(ChannelError::Poisoned)
    } else if f & W_RETIRED != 0 {
        Some(ChannelError::Retired)
    } else if f & W_LOST != 0 && c.counts[WRITERS].load(SeqCst) == 0 {
        Some(ChannelError::PeerLost)
    } else {
        None
    }
}

/// What to do when an operation cannot complete at once.
#[derive(Clone, Copy)]
pub(crate) enum Block_ {
    No,
    Until(Option<Instant>),
}

/// Waits on `ev` of channel `off` from `observed`; maps the outcome to an
/// error on timeout. After a quiet slice, looks for dead processes (which
/// releases their ends and wakes us if that changes anything) and for a
/// ring slot left half-done by a dead process (which poisons the channel).
fn wait(off: u64, ev: &Event, observed: u32, how: Block_) -> Result<(), ChannelError> {
    match how {
        Block_::No => Err(ChannelError::WouldBlock),
        Block_::Until(deadline) => match ev.wait(observed, deadline) {
            Woken::Changed => Ok(()),
            Woken::TimedOut => Err(ChannelError::Timeout),
            Woken::Slice => {
                record::sweep();
                slice_checks(off);
                Ok(())
            }
        },
    }
}

/// What a waiter on channel `off` checks after a quiet slice (besides the
/// sweep): a ring slot left half-done by a dead process (which poisons the
/// channel), a lock whose holder died (poisons too), or a rendezvous offer
/// left by a dead alternation (withdrawn).
pub(crate) fn slice_checks(off: u64) {
    let c = chan(off);
    // A process that died holding the lock (half way through changing
    // counts, see `sub_locked`) poisons the channel. Rendezvous operations
    // find that out when they lock; ring operations never lock, so look.
    if let Some(state) = c.lock.try_lock() {
        // SAFETY: try_lock succeeded: this thread holds the lock.
        unsafe { c.lock.unlock() };
        if state == LockState::OwnerDied {
            poison(off);
        }
    }
    if c.rendezvous.load(Relaxed) == 0 {
        if super::ring::stuck_on_dead(c, off) {
            poison(off);
        }
    } else {
        crate::alt::offer::reap_dead(off);
    }
}

/// [`try_put`] for buffered channels: the lock-free ring.
fn ring_put(
    c: &'static Chan,
    off: u64,
    mut p: Payload,
    register: bool,
) -> Result<u64, (ChannelError, Payload, Option<u32>)> {
    let mut obs = None;
    loop {
        if let Some(e) = write_error(c) {
            if obs.is_some() && register {
                unregister_writer(off);
            }
            return Err((e, p, None));
        }
        match super::ring::try_push(c, off, p) {
            Ok(t) => {
                if obs.is_some() && register {
                    unregister_writer(off);
                }
                if c.read_waiting.load(SeqCst) != 0 {
                    c.readable.notify();
                }
                notify_alts(c);
                return Ok(t);
            }
            Err((_, back)) => {
                p = back;
                if let Some(o) = obs {
                    // Still full after announcing ourselves: the caller
                    // waits (and unregisters if we registered).
                    return Err((ChannelError::WouldBlock, p, Some(o)));
                }
                if register {
                    c.write_waiting.fetch_add(1, SeqCst);
                    // Dekker with the fence after a slot changes hands
                    // (`ring.rs`): the retry's SeqCst look at the slot
                    // sees the change, or the other side sees us.
                }
                obs = Some(c.writable.observe());
            }
        }
    }
}

/// [`try_take`] for buffered channels: the lock-free ring.
fn ring_take(
    c: &'static Chan,
    off: u64,
    register: bool,
) -> Result<Taken, (ChannelError, Option<u32>)> {
    let mut obs = None;
    let done = |obs: &Option<u32>| {
        if obs.is_some() && register {
            unregister_reader(off);
        }
    };
    loop {
        if c.flags.load(SeqCst) & POISONED != 0 {
            done(&obs);
            return Err((ChannelError::Poisoned, None));
        }
        match super::ring::try_pop(c, off) {
            Ok(t) => {
                done(&obs);
                if c.write_waiting.load(SeqCst) != 0 {
                    c.writable.notify();
                }
                notify_alts(c);
                return Ok(t);
            }
            Err(_) => {
                if let Some(o) = obs {
                    if let Some(e) = read_error(c) {
                        // The flag was set after the last message was
                        // published: one more look drains it.
                        if let Ok(t) = super::ring::try_pop(c, off) {
                            done(&obs);
                            if c.write_waiting.load(SeqCst) != 0 {
                                c.writable.notify();
                            }
                            notify_alts(c);
                            return Ok(t);
                        }
                        done(&obs);
                        return Err((e, None));
                    }
                    return Err((ChannelError::WouldBlock, Some(o)));
                }
                if register {
                    c.read_waiting.fetch_add(1, SeqCst);
                    // Dekker with the fence after a slot changes hands
                    // (`ring.rs`): the retry's SeqCst look at the slot
                    // sees the change, or the other side sees us.
                }
                obs = Some(c.readable.observe());
            }
        }
    }
}

/// Tries once to put `p`; gives it back if the channel is full. With
/// `register`, a writer that finds no room is counted in `write_waiting`
/// (under the lock) and must call [`unregister_writer`] when it stops
/// waiting; a rendezvous writer that succeeds is counted the same way until
/// its message is taken.
pub(crate) fn try_put(
    off: u64,
    p: Payload,
    register: bool,
) -> Result<u64, (ChannelError, Payload, Option<u32>)> {
    let c = chan(off);
    if c.rendezvous.load(Relaxed) == 0 {
        return ring_put(c, off, p, register);
    }
    let g = lock(c);
    if let Some(e) = write_error(c) {
        return Err((e, p, None));
    }
    let (head, tail) = (c.head.load(Relaxed), c.tail.load(Relaxed));
    if tail - head >= c.cap.load(Relaxed) as u64 {
        if register {
            c.write_waiting.fetch_add(1, SeqCst);
        }
        let obs = c.writable.observe();
        drop(g);
        return Err((ChannelError::WouldBlock, p, Some(obs)));
    }
    let s = slot(off, tail);
    // SAFETY: the slot at `tail` is free (tail - head < cap) and we hold
    // the lock; readers only touch slots below `tail`.
    unsafe { s.fill(p) };
    c.tail.store(tail + 1, Release);
    if register && c.rendezvous.load(Relaxed) != 0 {
        c.write_waiting.fetch_add(1, SeqCst);
    }
    drop(g);
    if c.read_waiting.load(SeqCst) != 0 {
        c.readable.notify();
    }
    notify_alts(c);
    Ok(tail + 1)
}

/// Ends a writer's wait begun by a registering [`try_put`].
pub(crate) fn unregister_writer(off: u64) {
    chan(off).write_waiting.fetch_sub(1, SeqCst);
}

/// Puts `p`, waiting for room as `how` says. Returns the ticket (the
/// message's position + 1).
/// A rendezvous writer that succeeds stays counted in `write_waiting`; it
/// must call [`unregister_writer`] once [`await_taken`] returns.
///
/// `register` must be true when `how` blocks, and for every rendezvous put.
pub(crate) fn put(
    off: u64,
    mut p: Payload,
    how: Block_,
    register: bool,
) -> Result<u64, (ChannelError, Payload)> {
    loop {
        match try_put(off, p, register) {
            Ok(t) => return Ok(t),
            Err((ChannelError::WouldBlock, back, Some(obs))) => {
                p = back;
                let r = wait(off, &chan(off).writable, obs, how);
                if register {
                    unregister_writer(off);
                }
                if let Err(e) = r {
                    return Err((e, p));
                }
            }
            Err((e, back, _)) => return Err((e, back)),
        }
    }
}

/// For a rendezvous: waits until the message with `ticket` has been taken.
/// On error the message is withdrawn (if still there) and its payload freed;
/// `Ok` means a reader took it.
pub(crate) fn await_taken(off: u64, ticket: u64, how: Block_) -> Result<(), ChannelError> {
    let c = chan(off);
    loop {
        let obs = c.writable.observe();
        if c.head.load(Acquire) >= ticket {
            return Ok(());
        }
        let err = match write_error(c) {
            Some(e) => Some(e),
            None => wait(off, &c.writable, obs, how).err(),
        };
        if let Some(e) = err {
            return withdraw(off, ticket).map_or(Ok(()), |()| Err(e));
        }
    }
}

/// Takes back the unread message `ticket`. `None` if a reader took it first.
fn withdraw(off: u64, ticket: u64) -> Option<()> {
    let c = chan(off);
    let g = lock(c);
    if c.head.load(Relaxed) >= ticket {
        return None;
    }
    // Rendezvous rings hold one message: ours, at `ticket - 1 == head`.
    let s = slot(off, ticket - 1);
    let heap = s.heap.swap(0, Relaxed);
    c.tail.store(ticket - 1, Release);
    drop(g);
    if heap != 0 {
        shm::free(heap);
    }
    c.writable.notify();
    notify_alts(c);
    Some(())
}

/// A message taken out of the channel.
pub(crate) enum Taken {
    Inline([u8; INLINE], usize),
    Heap(u64, usize),
}

/// Tries once to take a message. On `WouldBlock` also returns the readable
/// counter observed under the lock.
///
/// With `register`, a reader that finds nothing is counted in
/// `read_waiting` (under the lock, so a writer that puts afterwards sees it)
/// and must call [`unregister_reader`] when it stops waiting.
pub(crate) fn try_take(off: u64, register: bool) -> Result<Taken, (ChannelError, Option<u32>)> {
    try_take_with(off, register, None)
}

/// [`try_take`], for a rendezvous with a say in taking the message: `claim`
/// is called under the lock with the slot's offer tag (0 for a plain
/// message; see `alt/README.md`) and the message is taken only if it
/// returns true; otherwise the slot counts as empty. Without `claim`, a
/// plain message is taken and an alternation's offer only if
/// [`crate::alt::offer::accept`] wins it. Buffered channels ignore `claim`.
pub(crate) fn try_take_with(
    off: u64,
    register: bool,
    claim: Option<&mut dyn FnMut(u64) -> bool>,
) -> Result<Taken, (ChannelError, Option<u32>)> {
    let c = chan(off);
    if c.rendezvous.load(Relaxed) == 0 {
        return ring_take(c, off, register);
    }
    let g = lock(c);
    if c.flags.load(SeqCst) & POISONED != 0 {
        return Err((ChannelError::Poisoned, None));
    }
    let (head, tail) = (c.head.load(Relaxed), c.tail.load(Relaxed));
    // The slot's offer tag: non-zero only for an alternation's offer.
    let tag = if tail == head {
        0
    } else {
        slot(off, head).seq.load(Relaxed)
    };
    // A reader that backs off from a busy offer must not miss the wake-up
    // its owner sends once the offer is free again: observe before trying.
    let early = (tag != 0).then(|| c.readable.observe());
    let ready = tail != head
        && match claim {
            Some(f) => f(tag),
            None => tag == 0 || crate::alt::offer::accept(off, tag),
        };
    if !ready {
        if let Some(e) = read_error(c) {
            return Err((e, None));
        }
        if register {
            c.read_waiting.fetch_add(1, SeqCst);
        }
        let obs = early.unwrap_or_else(|| c.readable.observe());
        drop(g);
        return Err((ChannelError::WouldBlock, Some(obs)));
    }
    let s = slot(off, head);
    // SAFETY: the slot at `head` holds a message written under this lock;
    // we hold the lock.
    let taken = unsafe { s.take() };
    if tag != 0 {
        s.seq.store(0, Relaxed);
    }
    c.head.store(head + 1, Release);
    drop(g);
    if c.write_waiting.load(SeqCst) != 0 {
        c.writable.notify();
    }
    notify_alts(c);
    Ok(taken)
}

/// Takes a message, waiting as `how` says.
pub(crate) fn take(off: u64, how: Block_) -> Result<Taken, ChannelError> {
    let c = chan(off);
    let register = matches!(how, Block_::Until(_));
    loop {
        match try_take(off, register) {
            Ok(t) => return Ok(t),
            Err((ChannelError::WouldBlock, Some(obs))) => {
                let r = wait(off, &c.readable, obs, how);
                if register {
                    unregister_reader(off);
                }
                r?;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Ends a reader's wait begun by a registering [`try_take`].
pub(crate) fn unregister_reader(off: u64) {
    chan(off).read_waiting.fetch_sub(1, SeqCst);
}

/// Poisons the channel: every end, now and later, gets `Poisoned`.
pub(crate) fn poison(off: u64) {
    let c = chan(off);
    {
        let _g = lock(c);
        c.flags.fetch_or(POISONED, SeqCst);
    }
    notify_all(c);
}

// ---------------------------------------------------------------------------
// Counts.

fn side_flag(which: usize, lost: bool) -> u32 {
    match (which, lost) {
        (READERS, false) => R_RETIRED,
        (WRITERS, false) => W_RETIRED,
        (READERS, true) => R_LOST,
        (WRITERS, true) => W_LOST,
        _ => 0,
    }
}

/// Takes `n` off count `which`, under the channel lock; true if the side's
/// count reached zero (the caller then wakes everyone).
///
/// Counts change under the lock together with the ledger line that backs
/// them: a process killed in between dies holding the lock, which poisons
/// the channel (loudly) instead of leaving a count that no ledger backs
/// and nobody will ever release (which would hang the other side).
fn sub_locked(c: &Chan, which: usize, n: u32, lost: bool) -> bool {
    if n == 0 {
        return false;
    }
    let prev = c.counts[which].fetch_sub(n, SeqCst);
    let zeroed = prev == n && which != HANDLES;
    if zeroed {
        c.flags.fetch_or(side_flag(which, lost), SeqCst);
    }
    zeroed
}

/// Sets the function that drops one message of the channel's type.
pub(crate) fn set_dropper(off: u64, f: fn(Taken)) {
    chan(off).dropper.store(f as usize as u64, Release);
}

/// Notes that a message carrying ends is about to go into channel `off`.
pub(crate) fn note_carries_ends(off: u64) {
    let c = chan(off);
    if c.flags.load(Relaxed) & CARRIES_ENDS == 0 {
        c.flags.fetch_or(CARRIES_ENDS, SeqCst);
    }
}

/// The function that drops one message of channel `off`'s type, if set.
pub(crate) fn dropper_of(off: u64) -> Option<fn(Taken)> {
    dropper(chan(off))
}

fn dropper(c: &Chan) -> Option<fn(Taken)> {
    match c.dropper.load(Acquire) {
        0 => None,
        // SAFETY: stored by `set_dropper` from a `fn(Taken)` in a process of
        // this tree; all are forks of one image, so the address is the same
        // function here.
        p => Some(unsafe { std::mem::transmute::<usize, fn(Taken)>(p as usize) }),
    }
}

/// Drops the buffered messages of channel `off` if nobody can read them
/// any more (no reader and no handle to make one) and some message carries
/// channel ends. Such an end stays counted while in transit, so a message
/// nobody will ever read would keep its channel's side alive forever (a
/// client waiting on a reply channel whose writer sits in a request the
/// dead server never read). Decoding and dropping the message releases
/// them. Call with no channel lock held, while still holding a reference.
pub(crate) fn purge_if_unreadable(off: u64) {
    let c = chan(off);
    if c.flags.load(SeqCst) & CARRIES_ENDS == 0 || c.rendezvous.load(Relaxed) != 0 {
        return;
    }
    if c.counts[READERS].load(SeqCst) != 0 || c.counts[HANDLES].load(SeqCst) != 0 {
        return;
    }
    let Some(f) = dropper(c) else { return };
    // Messages stranded by dead readers strand the ends inside them the
    // same way: their peers get `PeerLost`, not `Retired`.
    let lost = c.flags.load(SeqCst) & R_LOST != 0;
    let before = DROPPING_LOST.replace(lost);
    while let Ok(t) = super::ring::try_pop(c, off) {
        f(t);
    }
    DROPPING_LOST.set(before);
}

thread_local! {
    /// Set while this thread drops messages that dead readers stranded: the
    /// ends inside go as lost (see [`purge_if_unreadable`]).
    static DROPPING_LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn unref(off: u64, n: u32) {
    if n == 0 {
        return;
    }
    let c = chan(off);
    if c.refs.fetch_sub(n, AcqRel) == n {
        destroy(off);
    }
}

/// Frees a channel nothing refers to: its buffered heap messages, then it.
fn destroy(off: u64) {
    let c = chan(off);
    let drop_ends = c.flags.load(Acquire) & CARRIES_ENDS != 0;
    if let Some(f) = dropper(c).filter(|_| drop_ends) {
        if c.rendezvous.load(Relaxed) == 0 {
            while let Ok(t) = super::ring::try_pop(c, off) {
                f(t);
            }
        } else {
            let (head, tail) = (c.head.load(Acquire), c.tail.load(Acquire));
            for i in head..tail {
                let s = slot(off, i);
                // SAFETY: nobody refers to the channel any more.
                let t = unsafe { s.take() };
                // The message is the dropper's now: not freed again below.
                s.heap.store(0, Relaxed);
                f(t);
            }
        }
    }
    if c.rendezvous.load(Relaxed) == 0 {
        super::ring::drain_heap(c, off);
    } else {
        let (head, tail) = (c.head.load(Acquire), c.tail.load(Acquire));
        for i in head..tail {
            let h = slot(off, i).heap.load(Relaxed);
            if h != 0 {
                shm::free(h);
            }
        }
    }
    c.generation.store(0, Release);
    let aux = c.aux.swap(0, AcqRel);
    if aux != 0 {
        shm::free(aux);
    }
    shm::free(off);
}

/// A new end or handle in this process. The count and the ledger line
/// change together under the channel lock (see [`sub_locked`]).
pub(crate) fn add_local(off: u64, which: usize) {
    let c = chan(off);
    let _g = lock(c);
    c.refs.fetch_add(1, AcqRel);
    c.counts[which].fetch_add(1, SeqCst);
    record::ledger_add(off, which, 1);
}

/// An end or handle of this process goes away (drop or retire). The ledger
/// line and the count change together under the channel lock.
pub(crate) fn release_local(off: u64, which: usize) {
    let c = chan(off);
    let zeroed = {
        let _g = lock(c);
        if !record::ledger_sub(off, which) {
            return;
        }
        sub_locked(c, which, 1, DROPPING_LOST.get())
    };
    if zeroed {
        notify_all(c);
    }
    if which != WRITERS {
        purge_if_unreadable(off);
    }
    // A process killed here leaves `refs` one too high: the channel's
    // memory leaks, nobody hangs.
    unref(off, 1);
}

/// An end is put in a message: it stays counted until decoded. With
/// `ledger` (a real send, see `codec::Sent`), this process's ledger holds
/// it as in flight until the message is delivered ([`delivered`]) or
/// given up ([`undo_transit`]): a sender killed in between (blocked on a
/// full channel, say) releases it with the rest of what it held, instead
/// of leaving a count that nothing backs.
pub(crate) fn add_transit(off: u64, which: usize, ledger: bool) {
    let c = chan(off);
    let _g = lock(c);
    c.refs.fetch_add(1, AcqRel);
    c.counts[which].fetch_add(1, SeqCst);
    c.transit[which].fetch_add(1, AcqRel);
    if ledger {
        record::ledger_add(off, in_flight(which), 1);
    }
}

/// The message carrying an end of kind `which` of channel `off` is
/// delivered: the message holds the count now, not this process.
pub(crate) fn delivered(off: u64, which: usize) {
    let c = chan(off);
    let _g = lock(c);
    record::ledger_sub(off, in_flight(which));
}

/// Takes one end of kind `which` out of transit, if there is one.
fn take_transit(c: &Chan, which: usize) -> bool {
    c.transit[which]
        .fetch_update(AcqRel, Acquire, |n| n.checked_sub(1))
        .is_ok()
}

/// A decoded end becomes this process's. False if no end of that kind is
/// in transit on the channel (the bytes were decoded before, or forged):
/// the end must be refused, or the counts would go below zero.
pub(crate) fn adopt_transit(off: u64, which: usize) -> bool {
    if !take_transit(chan(off), which) {
        return false;
    }
    record::ledger_add(off, which, 1);
    true
}

/// Undoes [`add_transit`] for a message that was never sent.
pub fn undo_transit(off: u64, which: usize) {
    let c = chan(off);
    let (undone, zeroed) = {
        let _g = lock(c);
        if record::ledger_sub(off, in_flight(which)) && take_transit(c, which) {
            (true, sub_locked(c, which, 1, false))
        } else {
            (false, false)
        }
    };
    if zeroed {
        notify_all(c);
    }
    if undone {
        if which != WRITERS {
            purge_if_unreadable(off);
        }
        unref(off, 1);
    }
}

/// Ledger hook: counts moved into a child before it is forked.
pub fn retain_counts(off: u64, counts: [u32; COUNTERS]) {
    let c = chan(off);
    let held = &counts[..KINDS];
    c.refs.fetch_add(held.iter().sum(), AcqRel);
    for (k, n) in held.iter().enumerate() {
        c.counts[k].fetch_add(*n, SeqCst);
    }
}

/// Ledger hook: the counts held by a process that died. `take` empties its
/// ledger line; it runs under the channel lock, so a releaser killed half
/// way poisons the channel instead of losing the counts.
pub fn release_dead(off: u64, take: &dyn Fn() -> [u32; COUNTERS]) {
    release(off, take, true);
}

/// Ledger hook: the counts still held by a process that exited normally
/// (`take` as for [`release_dead`]).
pub fn release_exit(off: u64, take: &dyn Fn() -> [u32; COUNTERS]) {
    release(off, take, false);
}

fn release(off: u64, take: &dyn Fn() -> [u32; COUNTERS], lost: bool) {
    let c = chan(off);
    let total = {
        let _g = lock(c);
        let counts = take();
        if lost {
            c.dead_holders.fetch_add(1, SeqCst);
        }
        let mut total = 0;
        for k in 0..KINDS {
            sub_locked(c, k, counts[k], lost);
            total += counts[k];
            // Ends it had encoded into messages never delivered. One whose
            // message was delivered and decoded meanwhile is no longer in
            // transit: the decoder owns that count, not us.
            for _ in 0..counts[in_flight(k)] {
                if take_transit(c, k) {
                    sub_locked(c, k, 1, lost);
                    total += 1;
                }
            }
        }
        total
    };
    // A death moves `dead_holders`: wake everyone even if no side emptied.
    notify_all(c);
    purge_if_unreadable(off);
    unref(off, total);
}
