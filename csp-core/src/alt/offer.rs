//! Offers: how an alternation writes on a rendezvous without committing.
//!
//! The alternation puts its encoded value in the channel's one slot, tagged
//! (`Slot::seq`) with its cell and epoch. A reader may take a tagged
//! message only after winning the owner's claim word (WAITING -> CHOSEN);
//! a reader that loses leaves the slot alone and treats it as empty. The
//! owner withdraws whatever offers are still there once it has chosen.
//! See `README.md` beside this file.

use super::cell::{self, Claim};
use crate::ChannelError;
use crate::channel::core::{self, Payload, chan, lock, slot};
use crate::shm;
use std::sync::atomic::Ordering::*;

/// What became of an offer.
pub(crate) enum Post {
    /// In the slot: a reader may take it.
    Posted,
    /// The slot holds another message or offer; try again when woken.
    Full(Payload),
    /// The channel refuses writes.
    Failed(ChannelError, Payload),
}

/// Puts `p` in rendezvous `off`'s slot as an offer tagged `tag`. The owner
/// must have opened its word (WAITING) first, or a reader could find the
/// offer, judge it stale and sleep through it.
pub(crate) fn post(off: u64, p: Payload, tag: u64) -> Post {
    let c = chan(off);
    let g = lock(c);
    if let Some(e) = core::write_error(c) {
        return Post::Failed(e, p);
    }
    let (head, tail) = (c.head.load(Relaxed), c.tail.load(Relaxed));
    if tail != head {
        return Post::Full(p);
    }
    let s = slot(off, tail);
    // SAFETY: the rendezvous slot is free (tail == head) and we hold the
    // lock; readers only touch it below `tail`, under the lock.
    unsafe { s.fill(p) };
    s.seq.store(tag, Relaxed);
    c.tail.store(tail + 1, Release);
    drop(g);
    if c.read_waiting.load(SeqCst) != 0 {
        c.readable.notify();
    }
    core::notify_alts(c);
    Post::Posted
}

/// Takes back the offer `tag` from `off` if it is still there (and frees
/// its payload). False if it is gone: a reader took it.
pub(crate) fn withdraw(off: u64, tag: u64) -> bool {
    let c = chan(off);
    let g = lock(c);
    let (head, tail) = (c.head.load(Relaxed), c.tail.load(Relaxed));
    if tail == head || slot(off, head).seq.load(Relaxed) != tag {
        return false;
    }
    let s = slot(off, head);
    let heap = s.heap.swap(0, Relaxed);
    s.seq.store(0, Relaxed);
    c.tail.store(head, Release);
    drop(g);
    if heap != 0 {
        shm::free(heap);
    }
    // Writers (plain or alternating) may wait for the slot.
    if c.write_waiting.load(SeqCst) != 0 {
        c.writable.notify();
    }
    core::notify_alts(c);
    true
}

/// A plain reader found offer `tag` in `off`'s slot (under the channel
/// lock): it may take it only if it wins the owner's word.
pub(crate) fn accept(off: u64, tag: u64) -> bool {
    let (cell_off, e) = cell::untag(tag);
    cell::choose(cell::cell(cell_off), e, cell::chan_payload(off)) == Claim::Got
}

/// What an alternating reader's claim found (see [`claim_for_take`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Took {
    /// Nothing tried yet.
    Nothing,
    /// Both words claimed: the message is ours.
    Won,
    /// The message is not available now (its offer is decided or busy).
    NotNow,
    /// Our own word is decided or busy: stop and look at it.
    Me,
}

/// An alternating reader that others can claim (it has offers out) takes
/// the message tagged `tag` from `off` (under the channel lock) only if it
/// wins its own word (`me`, epoch `me_e`) and, for an offer, the offer's
/// owner's word too. The two words are claimed in address order, the first
/// tentatively (BUSY), so two alternations reading each other's offers
/// cannot both hold one word and wait for the other.
pub(crate) fn claim_for_take(off: u64, tag: u64, me: u64, me_e: u64, out: &mut Took) -> bool {
    let mine = cell::cell(me);
    if tag == 0 {
        return match cell::choose(mine, me_e, cell::SELF) {
            Claim::Got => {
                *out = Took::Won;
                true
            }
            _ => {
                *out = Took::Me;
                false
            }
        };
    }
    let (other, e) = cell::untag(tag);
    if other == me {
        // Our own offer: we cannot read it.
        *out = Took::NotNow;
        return false;
    }
    let theirs = cell::cell(other);
    let pay = cell::chan_payload(off);
    if me < other {
        match cell::hold(mine, me_e) {
            Claim::Got => {}
            _ => {
                *out = Took::Me;
                return false;
            }
        }
        if cell::choose(theirs, e, pay) == Claim::Got {
            cell::finish(mine, me_e, cell::SELF);
            *out = Took::Won;
            true
        } else {
            cell::revert(mine, me_e);
            *out = Took::NotNow;
            false
        }
    } else {
        if cell::hold(theirs, e) != Claim::Got {
            *out = Took::NotNow;
            return false;
        }
        if cell::choose(mine, me_e, cell::SELF) == Claim::Got {
            cell::finish(theirs, e, pay);
            *out = Took::Won;
            true
        } else {
            cell::revert(theirs, e);
            *out = Took::Me;
            false
        }
    }
}

/// After a quiet slice on rendezvous `off`: an offer whose owner has died
/// is withdrawn, so it neither blocks writers nor waits for a reader
/// forever. (Checked outside the lock: `owner_gone` may sweep, which locks
/// channels.)
pub(crate) fn reap_dead(off: u64) {
    let c = chan(off);
    let head = c.head.load(Acquire);
    if c.tail.load(Acquire) == head {
        return;
    }
    let tag = slot(off, head).seq.load(Acquire);
    if tag == 0 {
        return;
    }
    let (cell_off, _) = cell::untag(tag);
    if cell::owner_gone(cell_off) && withdraw(off, tag) {
        c.readable.notify();
    }
}
