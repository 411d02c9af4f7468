//! The alternation cell: one per (process, thread) that alternates, in the
//! arena, never freed. It holds the thread's wake [`Event`] (registered in
//! the `alts` slots of the channels it waits on) and its *claim word*, the
//! word that peers compete for with CAS when they take one of its offers.
//! See `README.md` beside this file for the protocol.

use crate::ChannelError;
use crate::process::record;
use crate::shm;
use crate::wait::Event;
use std::cell::Cell as StdCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// An alternation's shared state. `event` must stay the first field: the
/// `alts` slots of a channel hold the cell's offset as the event's.
#[repr(C)]
pub(crate) struct Cell {
    /// Woken by every change on a channel the alternation waits on, and by
    /// a peer that chose it.
    pub event: Event,
    /// The claim word (see the layout below).
    pub word: AtomicU64,
    /// The process tag of the owner (to tell a dead owner).
    pub owner: AtomicU64,
    /// Set by whoever ends a tentative claim on this word that someone
    /// backed off from: the owner then wakes the channels it offers on.
    pub renotify: AtomicU32,
}

const CELL_SIZE: u64 = 64;
const _: () = assert!(std::mem::size_of::<Cell>() as u64 <= CELL_SIZE);

// The claim word: | state:2 | nudge:1 | epoch:23 | payload:38 |.
const STATE_SHIFT: u32 = 62;
/// Not in a selection that anyone can claim.
pub(crate) const IDLE: u64 = 0;
/// Has offers out: the first peer to CAS it to CHOSEN completes one.
pub(crate) const WAITING: u64 = 1;
/// Tentatively claimed by the process whose tag is the payload; resolves
/// to CHOSEN or back to WAITING within a few instructions.
pub(crate) const BUSY: u64 = 2;
/// Decided: payload is `SELF` (the owner chose) or the offset / 64 of the
/// channel whose offer a peer took.
pub(crate) const CHOSEN: u64 = 3;
/// Someone backed off because the word was BUSY and waits to be told.
pub(crate) const NUDGE: u64 = 1 << 61;
const EPOCH_SHIFT: u32 = 38;
pub(crate) const EPOCH_BITS: u32 = 23;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const PAYLOAD_MASK: u64 = (1 << EPOCH_SHIFT) - 1;
/// CHOSEN payload: the owner chose one of its guards itself.
pub(crate) const SELF: u64 = 0;

const _: () = assert!(record::TAG_BITS == EPOCH_SHIFT);

pub(crate) fn pack(state: u64, epoch: u64, payload: u64) -> u64 {
    (state << STATE_SHIFT) | ((epoch & EPOCH_MASK) << EPOCH_SHIFT) | (payload & PAYLOAD_MASK)
}
pub(crate) fn state(w: u64) -> u64 {
    w >> STATE_SHIFT
}
pub(crate) fn epoch(w: u64) -> u64 {
    (w >> EPOCH_SHIFT) & EPOCH_MASK
}
pub(crate) fn payload(w: u64) -> u64 {
    w & PAYLOAD_MASK
}

/// The CHOSEN payload naming channel `off`.
pub(crate) fn chan_payload(off: u64) -> u64 {
    off / 64
}

/// An offer's tag (stored in the rendezvous slot): the cell and epoch.
pub(crate) fn tag(cell_off: u64, epoch: u64) -> u64 {
    ((cell_off / CELL_SIZE) << EPOCH_BITS) | (epoch & EPOCH_MASK)
}

/// The cell offset and epoch of an offer's tag.
pub(crate) fn untag(tag: u64) -> (u64, u64) {
    ((tag >> EPOCH_BITS) * CELL_SIZE, tag & EPOCH_MASK)
}

pub(crate) fn cell(off: u64) -> &'static Cell {
    // SAFETY: `off` names a cell (from `mine`, an offer tag or an `alts`
    // slot, all of which only ever hold cell offsets); cells are never
    // freed, so the reference stays valid.
    unsafe { shm::mapped().at::<Cell>(off) }
}

thread_local! {
    /// This thread's cell: (process tag it was made for, offset). A forked
    /// child inherits the parent's value; the tag tells it to make its own.
    static MINE: StdCell<(u64, u64)> = const { StdCell::new((u64::MAX, 0)) };
}

/// This thread's cell, made on first use. Cells are never freed: a peer
/// may still notify an event it read from an `alts` slot just before we
/// unregistered (a spurious wake-up, harmless; a freed and reused block
/// would be corrupted).
pub(crate) fn mine() -> Result<u64, ChannelError> {
    let tag = record::my_tag();
    let (t, off) = MINE.with(|m| m.get());
    if t == tag && off != 0 {
        return Ok(off);
    }
    let b = shm::alloc(CELL_SIZE)?;
    // SAFETY: a fresh block of CELL_SIZE bytes that only we know of.
    unsafe { std::ptr::write_bytes(shm::mapped().ptr(b.off), 0, CELL_SIZE as usize) };
    let c = cell(b.off);
    c.owner.store(tag, Release);
    MINE.with(|m| m.set((tag, b.off)));
    Ok(b.off)
}

/// Starts a selection: a new epoch, not claimable yet. Only the owner
/// writes the word outside WAITING/BUSY, and a selection always ends
/// CHOSEN (or never left IDLE), so nobody holds it now.
pub(crate) fn begin(c: &Cell) -> u64 {
    let e = (epoch(c.word.load(Relaxed)) + 1) & EPOCH_MASK;
    c.word.store(pack(IDLE, e, 0), SeqCst);
    e
}

/// The owner opens its word to claims (before its first offer is visible).
pub(crate) fn open(c: &Cell, e: u64) {
    c.word.store(pack(WAITING, e, 0), SeqCst);
}

/// The outcome of a claim attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The claim succeeded.
    Got,
    /// The word is tentatively held by someone; we set NUDGE, so whoever
    /// releases it makes its owner wake the channels it offers on.
    Busy,
    /// The word is decided (or of another selection): no claim possible.
    Lost,
}

/// CAS `c` from WAITING(e) to `target`; on BUSY, sets NUDGE. Never blocks
/// (it runs under channel locks).
fn claim(c: &Cell, e: u64, target: u64) -> Claim {
    let mut w = c.word.load(SeqCst);
    loop {
        if epoch(w) != e {
            return Claim::Lost;
        }
        match state(w) {
            WAITING => match c.word.compare_exchange(w, target, SeqCst, SeqCst) {
                Ok(_) => return Claim::Got,
                Err(now) => w = now,
            },
            BUSY if w & NUDGE != 0 => return Claim::Busy,
            BUSY => match c.word.compare_exchange(w, w | NUDGE, SeqCst, SeqCst) {
                Ok(_) => return Claim::Busy,
                Err(now) => w = now,
            },
            _ => return Claim::Lost,
        }
    }
}

/// Claims `c` for good: WAITING(e) -> CHOSEN(e, payload), and wakes it.
pub(crate) fn choose(c: &Cell, e: u64, payload: u64) -> Claim {
    let r = claim(c, e, pack(CHOSEN, e, payload));
    if r == Claim::Got {
        c.event.notify();
    }
    r
}

/// Claims `c` tentatively: WAITING(e) -> BUSY(e, our process tag). The
/// caller must [`finish`] or [`revert`] it before doing anything that can
/// block.
pub(crate) fn hold(c: &Cell, e: u64) -> Claim {
    claim(c, e, pack(BUSY, e, record::my_tag()))
}

/// Ends a tentative claim by choosing: BUSY -> CHOSEN(e, payload).
pub(crate) fn finish(c: &Cell, e: u64, payload: u64) {
    // Only the holder changes a BUSY word (others only add NUDGE, which
    // CHOSEN makes moot), so a plain swap is enough.
    c.word.swap(pack(CHOSEN, e, payload), SeqCst);
    c.event.notify();
}

/// Ends a tentative claim without choosing: BUSY -> WAITING(e). If someone
/// backed off meanwhile, asks the owner to wake its offer channels.
pub(crate) fn revert(c: &Cell, e: u64) {
    let old = c.word.swap(pack(WAITING, e, 0), SeqCst);
    if old & NUDGE != 0 {
        c.renotify.store(1, SeqCst);
        c.event.notify();
    }
}

/// For the owner after a quiet slice: a word left BUSY by a process that
/// died between its tentative claim and its end goes back to WAITING.
pub(crate) fn unstick(c: &Cell, e: u64) {
    let w = c.word.load(SeqCst);
    if state(w) == BUSY && epoch(w) == e && record::tag_gone(payload(w)) {
        let back = pack(WAITING, e, 0);
        if c.word.compare_exchange(w, back, SeqCst, SeqCst).is_ok() && w & NUDGE != 0 {
            c.renotify.store(1, SeqCst);
            c.event.notify();
        }
    }
}

/// Whether the process that owns cell `off` has ended.
pub(crate) fn owner_gone(off: u64) -> bool {
    record::tag_gone(cell(off).owner.load(Acquire))
}
