//! The lock-free ring of buffered channels: a bounded MPMC queue in the
//! style of Vyukov's, with one change so that a process that dies in the
//! middle of an operation is noticed instead of wedging the ring.
//!
//! Each slot has a sequence word. For position `pos` (slot `pos % cap`):
//! - `seq == 2*pos`: free for the writer of `pos`;
//! - `seq == W_CLAIM | tag`: a writer (process `tag`) is filling it;
//! - `seq == 2*pos + 1`: holds the message of `pos`;
//! - `seq == R_CLAIM | tag`: a reader (process `tag`) is emptying it;
//! - `seq == 2*(pos + cap)`: free for the writer of the next lap.
//!
//! (Doubling keeps "free" and "full" apart even when `cap == 1`, where
//! Vyukov's original encoding would confuse them.)
//!
//! A writer claims a slot by CAS `2*pos -> W_CLAIM|lap|tag` *before* moving
//! `tail` (and a writer that finds a claim *of the same lap* at `tail`
//! helps move it), so a claim always names its owner. The lap (`pos / cap`,
//! 24 bits) tells a claim for `pos` from a slow one left from `pos - cap`,
//! which must be waited for, not helped past. A reader does the same with
//! `2*pos + 1 -> R_CLAIM|lap|tag` and `head`. If a waiter finds the slot it needs claimed by
//! a process that has ended, that process died mid-operation: the channel is
//! poisoned, as when a process dies holding a lock.

use super::core::{Chan, Payload, Slot, Taken};
use crate::process::record;
use std::sync::atomic::{Ordering::*, fence};

const W_CLAIM: u64 = 1 << 63;
const R_CLAIM: u64 = 1 << 62;
const CLAIMS: u64 = W_CLAIM | R_CLAIM;
const TAG: u64 = (1 << record::TAG_BITS) - 1;
const LAP_MASK: u64 = (1 << 24) - 1;

/// The claim word for position `pos` by this process.
fn claim(flag: u64, pos: u64, cap: u64) -> u64 {
    flag | (((pos / cap) & LAP_MASK) << record::TAG_BITS) | record::my_tag()
}

/// Whether `seq` is a claim of kind `flag` for the lap of `pos`.
fn claimed_for(seq: u64, flag: u64, pos: u64, cap: u64) -> bool {
    seq & flag != 0 && (seq >> record::TAG_BITS) & LAP_MASK == (pos / cap) & LAP_MASK
}

/// Sets up the sequence words of a fresh ring.
pub(crate) fn init(off: u64, cap: u64) {
    for i in 0..cap {
        super::core::slot(off, i).seq.store(2 * i, Relaxed);
    }
}

/// A ring operation could not go ahead: full (for writers) or empty (for
/// readers), or the slot needed is claimed by someone mid-operation.
pub(crate) struct Stuck;

/// Claims the next free slot for writing. `Err` if the ring is full (or
/// the slot is still being emptied by a slow reader of the previous lap).
fn claim_write(c: &Chan, off: u64) -> Result<(u64, &'static Slot), Stuck> {
    let cap = c.cap.load(Relaxed) as u64;
    let mut pos = c.tail.load(Acquire);
    loop {
        let s = super::core::slot(off, pos);
        let seq = s.seq.load(SeqCst);
        if seq == 2 * pos {
            let mine = claim(W_CLAIM, pos, cap);
            if s.seq.compare_exchange(seq, mine, AcqRel, Relaxed).is_ok() {
                let _ = c.tail.compare_exchange(pos, pos + 1, AcqRel, Relaxed);
                return Ok((pos, s));
            }
        } else if claimed_for(seq, W_CLAIM, pos, cap) {
            // Another writer claimed `pos`: help move `tail` on.
            let _ = c.tail.compare_exchange(pos, pos + 1, AcqRel, Relaxed);
        } else if c.tail.load(Acquire) == pos {
            return Err(Stuck);
        }
        pos = c.tail.load(Acquire);
    }
}

/// Tries to put `p` without blocking.
pub(crate) fn try_push(c: &Chan, off: u64, p: Payload) -> Result<u64, (Stuck, Payload)> {
    let (pos, s) = match claim_write(c, off) {
        Ok(x) => x,
        Err(e) => return Err((e, p)),
    };
    // SAFETY: we own the slot (W_CLAIM with our tag) until we publish it
    // below; nobody else reads or writes its payload meanwhile.
    unsafe { s.fill(p) };
    s.seq.store(2 * pos + 1, Release);
    // Dekker with a reader that announces it waits (a SeqCst increment of
    // `read_waiting`) and then looks at the slot again with a SeqCst load:
    // either that load sees this publication, or our later load of
    // `read_waiting` sees the reader (C++ [atomics.order]: a SeqCst load
    // after a SeqCst fence in the single total order sees what was written
    // before the fence). SeqCst loads cost what Acquire loads do on x86 and
    // AArch64; a second fence on the waiting side would not.
    fence(SeqCst);
    Ok(pos + 1)
}

/// Tries to take a message without blocking.
pub(crate) fn try_pop(c: &Chan, off: u64) -> Result<Taken, Stuck> {
    let cap = c.cap.load(Relaxed) as u64;
    let mut pos = c.head.load(Acquire);
    loop {
        let s = super::core::slot(off, pos);
        let seq = s.seq.load(SeqCst);
        if seq == 2 * pos + 1 {
            let mine = claim(R_CLAIM, pos, cap);
            if s.seq.compare_exchange(seq, mine, AcqRel, Relaxed).is_ok() {
                let _ = c.head.compare_exchange(pos, pos + 1, AcqRel, Relaxed);
                // SAFETY: we own the slot (R_CLAIM with our tag); its writer
                // published the message before `2*pos + 1`.
                let taken = unsafe { s.take() };
                s.seq.store(2 * (pos + cap), Release);
                fence(SeqCst);
                return Ok(taken);
            }
        } else if claimed_for(seq, R_CLAIM, pos, cap) {
            // Another reader claimed `pos`: help move `head` on.
            let _ = c.head.compare_exchange(pos, pos + 1, AcqRel, Relaxed);
        } else if c.head.load(Acquire) == pos {
            return Err(Stuck); // empty, or its writer is still filling it
        }
        pos = c.head.load(Acquire);
    }
}

/// Frees the heap blocks of messages still in the ring (the channel is
/// being destroyed: nobody else uses it).
pub(crate) fn drain_heap(c: &Chan, off: u64) {
    let cap = c.cap.load(Relaxed) as u64;
    for i in 0..cap {
        let s = super::core::slot(off, i);
        let seq = s.seq.load(Acquire);
        // Published and unread: seq == 2*pos + 1 with pos % cap == i.
        if seq & CLAIMS == 0 && seq % 2 == 1 && (seq / 2) % cap == i {
            let h = s.heap.load(Relaxed);
            if h != 0 {
                crate::shm::free(h);
            }
        }
    }
}

/// Whether the slot at `head` or `tail` is claimed by a process that has
/// ended: it died mid-operation and the ring cannot get past that slot.
pub(crate) fn stuck_on_dead(c: &Chan, off: u64) -> bool {
    for pos in [c.head.load(Acquire), c.tail.load(Acquire)] {
        let seq = super::core::slot(off, pos).seq.load(Acquire);
        if seq & CLAIMS != 0 && record::tag_gone(seq & TAG) {
            // Re-read: a live claim may have completed in between.
            if super::core::slot(off, pos).seq.load(Acquire) == seq {
                return true;
            }
        }
    }
    false
}
