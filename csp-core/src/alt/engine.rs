//! The selection algorithm, written once for every kind of guard: try the
//! guards in the policy's order; if none is ready, register on their
//! channels, post offers for rendezvous writes, and wait on the thread's
//! cell until a channel moves or a peer takes an offer. See `README.md`.

use super::cell::{self, Cell, Claim};
use super::offer::{self, Post, Took};
use crate::ChannelError;
use crate::channel::core::{self, Payload, Taken, chan};
use crate::wait::Woken;
use std::sync::atomic::{Ordering::*, fence};
use std::time::{Duration, Instant};

/// One guard, untyped.
pub(crate) enum Op {
    /// Input from channel `off`; `err` is set when the end cannot read
    /// (retired): the guard is ready with that error.
    Read { off: u64, err: Option<ChannelError> },
    /// Output to channel `off` of an encoded value; `err` is set when it
    /// could not be encoded or the end is retired. `posted`: the payload is
    /// in the rendezvous slot as our offer.
    Write {
        off: u64,
        payload: Option<Payload>,
        err: Option<ChannelError>,
        posted: bool,
    },
    /// Fires once the deadline passes with nothing else ready (`None`:
    /// never).
    Timeout(Option<Instant>),
    /// Fires at once if nothing else is ready.
    Skip,
}

impl Drop for Op {
    fn drop(&mut self) {
        // A value never posted (or given back): free its heap block.
        if let Op::Write { payload, .. } = self
            && let Some(p) = payload.take()
        {
            p.free();
        }
    }
}

/// What the chosen guard did.
pub(crate) enum Fired {
    Read(Result<Taken, ChannelError>),
    Write(Result<(), ChannelError>),
    Timeout,
    Skip,
}

/// A `skip` (or an expired timeout) over rendezvous writes whose channel
/// has a reader waiting gives that reader this long to take the offer
/// (like `try_write`'s grace, shorter).
const SKIP_GRACE: Duration = Duration::from_millis(5);
/// How often to look again when a channel's `alts` slots are all taken.
const POLL: Duration = Duration::from_millis(1);

fn rendezvous(off: u64) -> bool {
    chan(off).rendezvous.load(Relaxed) != 0
}

/// Whether a read on `off` might succeed now (cheap, unlocked; a false
/// "yes" costs a failed attempt).
fn maybe_readable(off: u64) -> bool {
    let c = chan(off);
    c.flags.load(Acquire) & ENDING != 0 || c.tail.load(Acquire) != c.head.load(Acquire)
}

/// Whether a buffered write on `off` might succeed now.
fn maybe_writable(off: u64) -> bool {
    let c = chan(off);
    let used = c.tail.load(Acquire).wrapping_sub(c.head.load(Acquire));
    c.flags.load(Acquire) & ENDING != 0 || used < c.cap.load(Relaxed) as u64
}

/// The flags that can end an operation (not `CARRIES_ENDS`, which stays set
/// on channels of channels and says nothing about readiness).
const ENDING: u32 = crate::channel::core::POISONED
    | crate::channel::core::R_RETIRED
    | crate::channel::core::W_RETIRED
    | crate::channel::core::R_LOST
    | crate::channel::core::W_LOST;

/// Reusable state of a selection: the channels its cell is registered on.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    registered: Vec<u64>,
    /// Keep the registrations from one selection to the next (an `Alt`,
    /// which selects over the same channels again and again); they go when
    /// the scratch is dropped.
    keep: bool,
    /// The (process tag, cell) the kept registrations belong to.
    owner: (u64, u64),
    /// Every kept registration has had its locked look (see `run`).
    locked: bool,
}

impl Scratch {
    /// A scratch that keeps its registrations between selections.
    pub(crate) fn kept() -> Self {
        let mut s = Self::default();
        s.keep = true;
        s
    }

    /// Drops the registrations (only in the process that made them: a
    /// forked child's copy names its parent's cell).
    fn release(&mut self) {
        if !self.registered.is_empty() && self.owner.0 == crate::process::record::my_tag() {
            for &off in &self.registered {
                core::unregister_alt(chan(off), self.owner.1);
            }
        }
        self.registered.clear();
        self.locked = false;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            self.release();
        }
    }
}

/// The selection's own state while it waits.
struct Me {
    off: u64,
    cell: &'static Cell,
    epoch: u64,
    /// The word is open: peers may claim it, so every guard must claim it
    /// before it consumes anything.
    open: bool,
}

/// What one pass over the guards found.
enum Scan {
    Fired(usize, Fired),
    /// Nothing ready.
    Nothing,
    /// Our word is decided or busy: look at it before anything else.
    Stop,
}

/// Runs a selection over `ops`, trying them in `order`. Returns the index
/// of the guard that fired and what it did.
pub(crate) fn run(ops: &mut [Op], order: &[usize], scratch: &mut Scratch) -> (usize, Fired) {
    // The guard that fires when nothing else does, and when.
    let mut give_up: Option<(usize, Option<Instant>, bool)> = None; // (index, deadline, is_skip)
    for &i in order {
        match &ops[i] {
            Op::Skip if !matches!(give_up, Some((_, _, true))) => {
                give_up = Some((i, Some(Instant::now()), true));
            }
            Op::Timeout(Some(d)) => match give_up {
                Some((_, _, true)) => {}
                Some((_, Some(t), _)) if t <= *d => {}
                _ => give_up = Some((i, Some(*d), false)),
            },
            _ => {}
        }
    }
    let fire_give_up = |(i, _, skip): (usize, Option<Instant>, bool)| {
        (i, if skip { Fired::Skip } else { Fired::Timeout })
    };

    // Pass 1: everything that can complete at once, nothing posted.
    let mut me: Option<Me> = None;
    if let Scan::Fired(i, f) = scan(ops, order, &mut me, false, true) {
        return (i, f);
    }
    if let Some(g) = give_up.as_mut()
        && g.1.is_some_and(|d| d <= Instant::now())
    {
        // A reader already waiting on one of our rendezvous gets a moment
        // to take an offer; otherwise give up now.
        let waiting = ops.iter().any(|o| match o {
            Op::Write { off, err: None, .. } if rendezvous(*off) => {
                let c = chan(*off);
                c.read_waiting.load(SeqCst) != 0 || c.alts.iter().any(|a| a.load(Relaxed) != 0)
            }
            _ => false,
        });
        if !waiting {
            return fire_give_up(*g);
        }
        g.1 = Some(Instant::now() + SKIP_GRACE);
    }

    // Pass 2: register, post offers, wait.
    let cell_off = match cell::mine() {
        Ok(o) => o,
        Err(e) => return first_with_error(ops, order, e),
    };
    let c = cell::cell(cell_off);
    let epoch = cell::begin(c);
    me = Some(Me {
        off: cell_off,
        cell: c,
        epoch,
        open: false,
    });
    let owner = (crate::process::record::my_tag(), cell_off);
    if !scratch.keep || scratch.owner != owner {
        scratch.release();
        scratch.owner = owner;
    }
    let mut all_registered = true;
    let mut fresh = false;
    for op in ops.iter() {
        let off = match op {
            Op::Read { off, .. } | Op::Write { off, .. } => *off,
            _ => continue,
        };
        if scratch.registered.contains(&off) {
            continue;
        }
        if register(off, cell_off) {
            scratch.registered.push(off);
            fresh = true;
        } else {
            all_registered = false;
        }
    }
    // Pairs with the fence (or lock) after every channel change and before
    // its `notify_alts`: either we see the change in the scan, or the
    // changer sees our registration and wakes us.
    fence(SeqCst);

    let mut stops = 0u32;
    let mut last_slice = Instant::now();
    // Whether every rendezvous guard has been looked at under its lock
    // since we registered: from then on, any writer that puts there sees
    // our registration (its critical section comes after ours) and wakes
    // us, so unlocked looks are enough.
    let mut locked_round = scratch.locked && !fresh && all_registered;
    let result = loop {
        let obs = c.event.observe();
        let m = me.as_ref().is_some_and(|m| m.open);
        if c.renotify.swap(0, SeqCst) != 0 {
            renotify(ops);
        }
        if m && let Some(r) = chosen_by_peer(ops, c, epoch) {
            break r;
        }
        match scan(ops, order, &mut me, true, locked_round) {
            Scan::Fired(i, f) => break (i, f),
            Scan::Stop => {
                // Decided: loop to read it; busy: wait for its holder (and
                // now and then make sure the holder is alive: a busy
                // channel may keep us from ever seeing a quiet slice).
                let w = c.word.load(SeqCst);
                if cell::state(w) == cell::CHOSEN {
                    continue;
                }
                stops += 1;
                if stops.is_multiple_of(64) {
                    cell::unstick(c, epoch);
                }
            }
            Scan::Nothing => locked_round = true,
        }
        let mut until = give_up.and_then(|g| g.1);
        if !all_registered {
            let poll = Instant::now() + POLL;
            until = Some(until.map_or(poll, |u| u.min(poll)));
        }
        let woken = match c.event.wait(obs, until) {
            // Polling never sees a quiet slice: do its work now and then.
            Woken::TimedOut if !all_registered && last_slice.elapsed() >= crate::wait::SLICE => {
                Woken::Slice
            }
            w => w,
        };
        match woken {
            Woken::Changed => {}
            Woken::TimedOut => {
                let Some(g) = give_up else { continue };
                if g.1.is_some_and(|d| d > Instant::now()) {
                    continue; // a poll tick, not the deadline
                }
                let open = me.as_ref().is_some_and(|m| m.open);
                if !open || cell::choose(c, epoch, cell::SELF) == Claim::Got {
                    break fire_give_up(g);
                }
                // Chosen by a peer (seen next round), or busy: wait for it.
            }
            Woken::Slice => {
                last_slice = Instant::now();
                crate::process::sweep();
                cell::unstick(c, epoch);
                for &off in &scratch.registered {
                    core::slice_checks(off);
                }
                if !all_registered {
                    all_registered = retry_register(ops, cell_off, &mut scratch.registered);
                    locked_round = false;
                }
            }
        }
    };

    // Take back the offers nobody took; stop listening.
    let tag = cell::tag(cell_off, epoch);
    for op in ops.iter_mut() {
        // A taken offer is marked not posted by `chosen_by_peer`.
        if let Op::Write {
            off,
            posted: posted @ true,
            ..
        } = op
        {
            offer::withdraw(*off, tag);
            *posted = false;
        }
    }
    if scratch.keep {
        scratch.locked = locked_round && all_registered;
    } else {
        scratch.release();
    }
    result
}

/// Fires the first read or write guard with `e` (the arena is unusable).
fn first_with_error(ops: &[Op], order: &[usize], e: ChannelError) -> (usize, Fired) {
    for &i in order {
        match ops[i] {
            Op::Read { .. } => return (i, Fired::Read(Err(e))),
            Op::Write { .. } => return (i, Fired::Write(Err(e))),
            _ => {}
        }
    }
    (order.first().copied().unwrap_or(0), Fired::Timeout)
}

/// Registers cell `cell_off` on channel `off`; if every slot is taken,
/// frees the slots of alternations whose process has died and tries again.
fn register(off: u64, cell_off: u64) -> bool {
    let c = chan(off);
    if core::register_alt(c, cell_off) {
        return true;
    }
    for a in &c.alts {
        let v = a.load(Acquire);
        if v != 0 && v != cell_off && cell::owner_gone(v) {
            let _ = a.compare_exchange(v, 0, AcqRel, Relaxed);
        }
    }
    core::register_alt(c, cell_off)
}

fn retry_register(ops: &[Op], cell_off: u64, registered: &mut Vec<u64>) -> bool {
    let mut all = true;
    for op in ops {
        let off = match op {
            Op::Read { off, .. } | Op::Write { off, .. } => *off,
            _ => continue,
        };
        if registered.contains(&off) {
            continue;
        }
        if register(off, cell_off) {
            registered.push(off);
        } else {
            all = false;
        }
    }
    all
}

/// Someone backed off from our busy word: wake the channels we offer on.
fn renotify(ops: &[Op]) {
    for op in ops {
        if let Op::Write {
            off, posted: true, ..
        } = op
        {
            let c = chan(*off);
            c.readable.notify();
            core::notify_alts(c);
        }
    }
}

/// If a peer took one of our offers, the guard it completed.
fn chosen_by_peer(ops: &mut [Op], c: &Cell, epoch: u64) -> Option<(usize, Fired)> {
    let w = c.word.load(SeqCst);
    if cell::state(w) != cell::CHOSEN || cell::epoch(w) != epoch || cell::payload(w) == cell::SELF {
        return None;
    }
    let p = cell::payload(w);
    for (i, op) in ops.iter_mut().enumerate() {
        if let Op::Write { off, posted, .. } = op
            && *posted
            && cell::chan_payload(*off) == p
        {
            // The reader took the payload with the message.
            *posted = false;
            return Some((i, Fired::Write(Ok(()))));
        }
    }
    None
}

/// Fires guard `i` with a result that consumed nothing (an error), after
/// claiming our word if it is open.
fn fire_plain(me: &Option<Me>, i: usize, f: Fired) -> Scan {
    match me {
        Some(m) if m.open => match cell::choose(m.cell, m.epoch, cell::SELF) {
            Claim::Got => Scan::Fired(i, f),
            _ => Scan::Stop,
        },
        _ => Scan::Fired(i, f),
    }
}

/// One pass over the guards in `order`. With `post`, rendezvous writes
/// post their offers (opening our word first).
fn scan(ops: &mut [Op], order: &[usize], me: &mut Option<Me>, post: bool, peek: bool) -> Scan {
    for &i in order {
        let open = me.as_ref().is_some_and(|m| m.open);
        match &mut ops[i] {
            Op::Read { off, err } => {
                let off = *off;
                if let Some(e) = err {
                    let e = e.clone();
                    return fire_plain(me, i, Fired::Read(Err(e)));
                }
                // An unlocked look first, except for a rendezvous in the
                // first scan after registering: there only the lock orders
                // our look against a writer's `notify_alts` (README.md).
                let rv = rendezvous(off);
                if (peek || !rv) && !maybe_readable(off) {
                    continue;
                }
                if !open {
                    match core::try_take(off, false) {
                        Ok(t) => return Scan::Fired(i, Fired::Read(Ok(t))),
                        Err((ChannelError::WouldBlock, _)) => {}
                        Err((e, _)) => return Scan::Fired(i, Fired::Read(Err(e))),
                    }
                    continue;
                }
                let Some(m) = me.as_ref() else { continue };
                if rv {
                    let mut took = Took::Nothing;
                    let (mo, me_e) = (m.off, m.epoch);
                    let mut f = |tag: u64| offer::claim_for_take(off, tag, mo, me_e, &mut took);
                    match core::try_take_with(off, false, Some(&mut f)) {
                        Ok(t) => return Scan::Fired(i, Fired::Read(Ok(t))),
                        Err((ChannelError::WouldBlock, _)) => {
                            if took == Took::Me {
                                return Scan::Stop;
                            }
                        }
                        Err((e, _)) => return fire_plain(me, i, Fired::Read(Err(e))),
                    }
                } else {
                    match cell::hold(m.cell, m.epoch) {
                        Claim::Got => {}
                        _ => return Scan::Stop,
                    }
                    match core::try_take(off, false) {
                        Ok(t) => {
                            cell::finish(m.cell, m.epoch, cell::SELF);
                            return Scan::Fired(i, Fired::Read(Ok(t)));
                        }
                        Err((ChannelError::WouldBlock, _)) => cell::revert(m.cell, m.epoch),
                        Err((e, _)) => {
                            cell::finish(m.cell, m.epoch, cell::SELF);
                            return Scan::Fired(i, Fired::Read(Err(e)));
                        }
                    }
                }
            }
            Op::Write {
                off,
                payload,
                err,
                posted,
            } => {
                let off = *off;
                if let Some(e) = err {
                    let e = e.clone();
                    return fire_plain(me, i, Fired::Write(Err(e)));
                }
                if rendezvous(off) {
                    if *posted {
                        if let Some(e) = core::write_error(chan(off)) {
                            return fire_plain(me, i, Fired::Write(Err(e)));
                        }
                        continue;
                    }
                    if !post {
                        if let Some(e) = core::write_error(chan(off)) {
                            if let Some(p) = payload.take() {
                                p.free();
                            }
                            return Scan::Fired(i, Fired::Write(Err(e)));
                        }
                        continue;
                    }
                    let Some(m) = me.as_mut() else { continue };
                    let Some(p) = payload.take() else { continue };
                    if !m.open {
                        cell::open(m.cell, m.epoch);
                        m.open = true;
                    }
                    match offer::post(off, p, cell::tag(m.off, m.epoch)) {
                        Post::Posted => *posted = true,
                        Post::Full(p) => *payload = Some(p),
                        Post::Failed(e, p) => {
                            *payload = Some(p);
                            return fire_plain(me, i, Fired::Write(Err(e)));
                        }
                    }
                    continue;
                }
                // Buffered.
                if !maybe_writable(off) {
                    continue;
                }
                let Some(p) = payload.take() else { continue };
                let held = match me.as_ref() {
                    Some(m) if m.open => {
                        if cell::hold(m.cell, m.epoch) != Claim::Got {
                            *payload = Some(p);
                            return Scan::Stop;
                        }
                        Some(m)
                    }
                    _ => None,
                };
                match core::try_put(off, p, false) {
                    Ok(_) => {
                        if let Some(m) = held {
                            cell::finish(m.cell, m.epoch, cell::SELF);
                        }
                        return Scan::Fired(i, Fired::Write(Ok(())));
                    }
                    Err((ChannelError::WouldBlock, p, _)) => {
                        *payload = Some(p);
                        if let Some(m) = held {
                            cell::revert(m.cell, m.epoch);
                        }
                    }
                    Err((e, p, _)) => {
                        *payload = Some(p);
                        if let Some(m) = held {
                            cell::finish(m.cell, m.epoch, cell::SELF);
                        }
                        return Scan::Fired(i, Fired::Write(Err(e)));
                    }
                }
            }
            Op::Timeout(_) | Op::Skip => {}
        }
    }
    Scan::Nothing
}
