//! The base every primitive is built on: a channel handle whose `aux` block
//! holds the primitive's state. The channel gives refcounted freeing, a
//! place in every holder's ledger (so a holder's death moves
//! `dead_holders` and wakes the waiters), serialization, and an event to
//! sleep on (`readable`, which the runtime also notifies on every death).

use super::SyncError;
use crate::channel::Channel;
use crate::channel::core::{self, Chan};
use crate::process::record;
use crate::shm;
use crate::wait::Woken;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Instant;

/// State kept in a channel's aux block.
///
/// # Safety
/// All-zero bytes must be a valid value of the type (atomics, robust
/// mutexes before `init`), and it must need no drop.
pub(crate) unsafe trait State: Sync + Sized + 'static {
    /// Tells the primitives apart, so that a handle decoded as the wrong
    /// type is refused instead of misreading another primitive's state.
    const KIND: u64;
}

#[repr(C)]
struct Aux<S> {
    kind: AtomicU64,
    state: S,
}

/// A handle on a primitive: one channel handle count, and its state.
pub(crate) struct Shared<S: State> {
    ch: Channel<()>,
    state: &'static S,
}

impl<S: State> Shared<S> {
    /// A fresh primitive. `init` finishes the zeroed state before anyone
    /// else can see it.
    pub(crate) fn create(init: impl FnOnce(&S)) -> Result<Self, SyncError> {
        let ch = Channel::<()>::try_new().map_err(SyncError::from_channel)?;
        let a = shm::arena()?;
        let size = std::mem::size_of::<Aux<S>>();
        let b = shm::alloc(size as u64)?;
        // SAFETY: a fresh block of at least `size` bytes, 64-byte aligned,
        // that only we know about until its offset is published below.
        unsafe { std::ptr::write_bytes(a.ptr(b.off), 0, size) };
        // SAFETY: the block is zeroed, which is a valid `Aux<S>` (`State`
        // contract), aligned, and stays allocated as long as the channel
        // (which frees its aux block when its last handle goes).
        let aux = unsafe { a.at::<Aux<S>>(b.off) };
        init(&aux.state);
        aux.kind.store(S::KIND, Release);
        core::chan(ch.offset()).aux.store(b.off, Release);
        Ok(Shared {
            ch,
            state: &aux.state,
        })
    }

    /// Attaches to the state of a channel received from elsewhere.
    fn attach(ch: Channel<()>) -> Option<Self> {
        let off = core::chan(ch.offset()).aux.load(Acquire);
        let a = shm::arena().ok()?;
        let size = std::mem::size_of::<Aux<S>>() as u64;
        if off < shm::HEAP_OFF || !off.is_multiple_of(64) || off.saturating_add(size) > a.size() {
            return None;
        }
        // SAFETY: `off` is the aux block of a live channel we hold a handle
        // on (checked by the channel's decoder); its first word is written
        // before the offset is published. We only read `kind` before
        // trusting the rest.
        let aux = unsafe { a.at::<Aux<S>>(off) };
        (aux.kind.load(Acquire) == S::KIND).then(|| Shared {
            ch,
            state: &aux.state,
        })
    }

    pub(crate) fn state(&self) -> &'static S {
        self.state
    }

    pub(crate) fn chan(&self) -> &'static Chan {
        core::chan(self.ch.offset())
    }

    /// Whether two handles name the same primitive.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.ch.offset() == other.ch.offset()
    }

    /// How many holders of this primitive have died so far.
    pub(crate) fn deaths(&self) -> u32 {
        self.chan().dead_holders.load(SeqCst)
    }

    /// Wakes every process sleeping in [`Shared::sleep_until`].
    pub(crate) fn wake_all(&self) {
        self.chan().readable.notify();
    }

    /// Sleeps until `check` gives an answer or the deadline passes (then
    /// `check` runs once more; `None` means timed out). `check` gets `true`
    /// when a quiet slice has just passed and dead processes were looked
    /// for (so it may scan for holders that died). Every state change that
    /// `check` looks at must be followed by [`Shared::wake_all`].
    pub(crate) fn sleep_until<R>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut(bool) -> Option<R>,
    ) -> Option<R> {
        let ev = &self.chan().readable;
        let mut swept = false;
        loop {
            // Observe before checking: a change made after the check is
            // followed by a notify that moves the counter past `obs`.
            let obs = ev.observe();
            if let Some(r) = check(swept) {
                return Some(r);
            }
            swept = false;
            match ev.wait(obs, deadline) {
                Woken::Changed => {}
                Woken::Slice => {
                    record::sweep();
                    swept = true;
                }
                Woken::TimedOut => return check(true),
            }
        }
    }
}

impl<S: State> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared {
            ch: self.ch.clone(),
            state: self.state,
        }
    }
}

impl<S: State> Serialize for Shared<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        self.ch.serialize(s)
    }
}

impl<'de, S: State> Deserialize<'de> for Shared<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ch = Channel::<()>::deserialize(d)?;
        Shared::attach(ch)
            .ok_or_else(|| serde::de::Error::custom("not a handle on this kind of sync primitive"))
    }
}

/// A name of the calling thread, unique among the live threads of the
/// whole process tree: this process's record and incarnation, and a
/// per-process thread number. Never 0.
pub(crate) fn thread_token() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(1);
    thread_local! {
        static SEQ: Cell<u32> = const { Cell::new(0) };
    }
    let seq = SEQ.with(|s| {
        if s.get() == 0 {
            s.set(NEXT.fetch_add(1, Relaxed).max(1));
        }
        s.get()
    });
    // 37 bits of the process tag (record index and the low bits of its
    // incarnation), 26 bits of thread number, and a top bit.
    let tag = record::my_tag() & ((1 << 37) - 1);
    (tag << 26) | (seq as u64 & ((1 << 26) - 1)) | (1 << 63)
}

/// A name of the calling process for holder tables (see `semaphore.rs`):
/// its record tag, with the top bit set so it is never 0.
pub(crate) fn process_token() -> u64 {
    record::my_tag() | (1 << 63)
}

/// Whether the process named by a [`process_token`] has ended.
pub(crate) fn process_gone(token: u64) -> bool {
    record::tag_gone(token & !(1 << 63))
}
