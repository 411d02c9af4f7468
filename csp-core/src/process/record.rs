//! Process records: one per live process of the tree, in the arena.
//!
//! A record says whether its process is alive (a robust mutex the process
//! holds for its whole life: when it dies, the kernel marks the mutex), what
//! the process holds (its ledger of channel ends, so that whoever notices
//! its death can release them), and its result once it has finished.

use crate::shm::{self, Arena, PROC_TABLE_OFF};
use crate::sys::{LockState, RobustMutex};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

pub(crate) const FREE: u32 = 0;
pub(crate) const STARTING: u32 = 1;
pub(crate) const RUNNING: u32 = 2;
pub(crate) const EXITED: u32 = 3;
pub(crate) const DEAD: u32 = 4;
pub(crate) const ROOT: u32 = 5;
/// Dead, and someone is releasing what it held: the record must not be
/// freed until that is done (it then becomes `DEAD`).
pub(crate) const DYING: u32 = 6;

pub(crate) const RESULT_NONE: u32 = 0;
pub(crate) const RESULT_OK: u32 = 1;
pub(crate) const RESULT_PANIC: u32 = 2;
pub(crate) const RESULT_ERROR: u32 = 3;

const RECORD_SIZE: u64 = 256;
/// Results up to this size are stored in the record itself.
pub(crate) const RESULT_INLINE: usize = 96;
const MAX_PROCS: u32 = ((shm::HEAP_OFF - PROC_TABLE_OFF) / RECORD_SIZE) as u32;

/// Number of counters each ledgered object carries: for a channel, the
/// ends of each kind this process holds (handles, readers, writers), then
/// the ends of each kind it has encoded into a message not yet delivered
/// (see `channel::core::add_transit`).
pub const COUNTERS: usize = 6;

#[repr(C)]
pub(crate) struct Record {
    life: RobustMutex,
    pub state: AtomicU32,
    pub pid: AtomicI32,
    ledger_off: AtomicU64,
    ledger_cap: AtomicU32,
    ledger_len: AtomicU32,
    pub result_off: AtomicU64,
    pub result_len: AtomicU64,
    pub result_kind: AtomicU32,
    /// Moves on every allocation of this record, so a (record, incarnation)
    /// pair names one process even after the record is reused.
    pub incarnation: AtomicU64,
    /// The tag (see [`my_tag`]) of the process that spawned this one: once
    /// both have ended, nobody will join this one (see [`reclaim_orphans`]).
    parent: AtomicU64,
    /// 1 once `life` has been set up (see `claim_record`).
    life_ready: AtomicU32,
    /// While `DYING`: the tag of the process releasing the record, so that
    /// if it dies too, a waiter takes over (see [`mark_dead_from`]).
    releaser: AtomicU64,
    /// A small result, stored here instead of in a heap block.
    result_inline: std::cell::UnsafeCell<[u8; RESULT_INLINE]>,
}

impl Record {
    /// The inline result buffer. Only the record's process writes it,
    /// before it publishes `result_kind`; only its parent reads it, after
    /// reaping the process.
    pub(crate) fn inline_result(&self) -> *mut [u8; RESULT_INLINE] {
        self.result_inline.get()
    }
}

const _: () = assert!(std::mem::size_of::<Record>() as u64 <= RECORD_SIZE);

/// One ledger line: what the process holds of object `obj`.
#[repr(C)]
struct Entry {
    obj: AtomicU64,
    counts: [AtomicU32; COUNTERS],
}

/// The object-side hooks for ledgered objects (channels): how to add
/// counts and how to release what a process held.
struct Hooks {
    retain: fn(obj: u64, counts: [u32; COUNTERS]),
    /// Release what a process held of `obj`: `take` empties its ledger line
    /// and must be called under the object's own lock (see `channel::core`).
    release_dead: fn(obj: u64, take: &dyn Fn() -> [u32; COUNTERS]),
    release_exit: fn(obj: u64, take: &dyn Fn() -> [u32; COUNTERS]),
}

fn hooks() -> Option<&'static Hooks> {
    static H: Hooks = Hooks {
        retain: crate::channel::retain_counts,
        release_dead: crate::channel::release_dead,
        release_exit: crate::channel::release_exit,
    };
    Some(&H)
}

/// This process's record index (0 is the root of the tree).
static ME: AtomicU32 = AtomicU32::new(0);

pub(crate) fn me() -> u32 {
    ME.load(Relaxed)
}

pub(crate) fn record(idx: u32) -> &'static Record {
    let a = shm::mapped();
    // SAFETY: the process table is part of the arena header area, zeroed at
    // mapping time; every record is valid for all indexes below MAX_PROCS.
    unsafe { a.at::<Record>(PROC_TABLE_OFF + idx as u64 * RECORD_SIZE) }
}

/// Called once when the arena is mapped: the mapping process is the root.
pub(crate) fn init_root(a: Arena) {
    // SAFETY: as in `record`; the table is fresh and private to us.
    let r = unsafe { a.at::<Record>(PROC_TABLE_OFF) };
    // SAFETY: the record memory is zeroed and not shared yet.
    unsafe { RobustMutex::init(&r.life as *const RobustMutex as *mut RobustMutex) };
    r.state.store(ROOT, Relaxed);
    r.pid.store(crate::sys::getpid(), Relaxed);
    a.header().procs_hwm.store(1, Relaxed);
}

/// Claims a free record for a child about to be forked. When the table is
/// full, first frees the records of orphans nobody will join.
pub(crate) fn alloc_record() -> Option<u32> {
    claim_record().or_else(|| {
        reclaim_orphans();
        claim_record()
    })
}

fn claim_record() -> Option<u32> {
    let h = shm::mapped().header();
    for i in 1..MAX_PROCS {
        let r = record(i);
        if r.state.load(Relaxed) == FREE
            && r.state
                .compare_exchange(FREE, STARTING, Acquire, Relaxed)
                .is_ok()
        {
            // The life mutex is set up once per record, never again: a
            // sweep that found the last incarnation dead may still hold it
            // for a moment after marking it DEAD (and the record being
            // freed and claimed again); re-initialising it under that sweep
            // would corrupt its robust list. A dead owner's mutex is taken
            // over by the next `lock` (owner-died, made consistent).
            if r.life_ready.load(Relaxed) == 0 {
                // SAFETY: we own this record now (CAS from FREE) and its
                // mutex was never set up, so nobody else uses it.
                unsafe { RobustMutex::init(&r.life as *const RobustMutex as *mut RobustMutex) };
                r.life_ready.store(1, Relaxed);
            }
            r.ledger_len.store(0, Relaxed);
            r.result_kind.store(RESULT_NONE, Relaxed);
            r.result_off.store(0, Relaxed);
            r.result_len.store(0, Relaxed);
            r.pid.store(0, Relaxed);
            r.parent.store(my_tag(), Relaxed);
            r.incarnation.fetch_add(1, Release);
            h.procs_hwm.fetch_max(i + 1, Relaxed);
            return Some(i);
        }
    }
    None
}

/// Frees a record once its process has been reaped and its result read.
pub(crate) fn free_record(idx: u32) {
    let r = record(idx);
    let off = r.ledger_off.swap(0, Relaxed);
    r.ledger_cap.store(0, Relaxed);
    r.ledger_len.store(0, Relaxed);
    if off != 0 {
        shm::free(off);
    }
    // A sweep that sees the next incarnation STARTING must not read this
    // one's pid (released with FREE below, acquired through the claim).
    r.pid.store(0, Relaxed);
    r.state.store(FREE, Release);
}

// ---------------------------------------------------------------------------
// The ledger.

/// The process-local index of this process's ledger: object -> entry index.
struct LocalIndex {
    map: Mutex<HashMap<u64, u32>>,
}

static LOCAL: AtomicPtr<LocalIndex> = AtomicPtr::new(std::ptr::null_mut());

fn local() -> &'static LocalIndex {
    let p = LOCAL.load(Acquire);
    if !p.is_null() {
        // SAFETY: pointers stored in LOCAL come from Box::leak and are never freed.
        return unsafe { &*p };
    }
    // First use in this process: index the ledger its parent prepared.
    let r = record(me());
    let mut map = HashMap::new();
    let (base, len) = entries(r);
    for i in 0..len {
        map.insert(entry(base, i).obj.load(Relaxed), i);
    }
    let fresh = Box::into_raw(Box::new(LocalIndex {
        map: Mutex::new(map),
    }));
    match LOCAL.compare_exchange(std::ptr::null_mut(), fresh, AcqRel, Acquire) {
        Ok(_) => {
            // SAFETY: just leaked above, never freed.
            unsafe { &*fresh }
        }
        Err(existing) => {
            // SAFETY: `fresh` was never shared; `existing` is leaked forever.
            unsafe {
                drop(Box::from_raw(fresh));
                &*existing
            }
        }
    }
}

fn entries(r: &Record) -> (*mut Entry, u32) {
    let off = r.ledger_off.load(Acquire);
    if off == 0 {
        return (std::ptr::null_mut(), 0);
    }
    (shm::mapped().ptr(off).cast(), r.ledger_len.load(Acquire))
}

fn entry<'a>(base: *mut Entry, i: u32) -> &'a Entry {
    // SAFETY: callers pass i < ledger_len of a ledger block that holds at
    // least ledger_cap initialised entries.
    unsafe { &*base.add(i as usize) }
}

/// Appends a fresh entry for `obj` to the record's ledger, growing it.
fn append(r: &Record, obj: u64) -> u32 {
    let len = r.ledger_len.load(Relaxed);
    let cap = r.ledger_cap.load(Relaxed);
    if len == cap {
        let new_cap = (cap * 2).max(16);
        let size = new_cap as u64 * std::mem::size_of::<Entry>() as u64;
        let b = shm::alloc(size).expect("csp: arena exhausted while growing a process ledger");
        let a = shm::mapped();
        let old = r.ledger_off.load(Relaxed);
        // SAFETY: the new block has room for new_cap entries; the old one
        // holds `len` initialised entries; the blocks do not overlap.
        unsafe {
            std::ptr::write_bytes(a.ptr(b.off), 0, size as usize);
            if old != 0 {
                std::ptr::copy_nonoverlapping(
                    a.ptr(old),
                    a.ptr(b.off),
                    len as usize * std::mem::size_of::<Entry>(),
                );
            }
        }
        r.ledger_off.store(b.off, Release);
        r.ledger_cap.store(new_cap, Relaxed);
        if old != 0 {
            shm::free(old);
        }
    }
    let base = shm::mapped()
        .ptr(r.ledger_off.load(Relaxed))
        .cast::<Entry>();
    let e = entry(base, len);
    e.obj.store(obj, Relaxed);
    for c in &e.counts {
        c.store(0, Relaxed);
    }
    r.ledger_len.store(len + 1, Release);
    len
}

/// Adds `n` to this process's count `which` of `obj`.
pub fn ledger_add(obj: u64, which: usize, n: u32) {
    let r = record(me());
    let mut map = local().map.lock().unwrap_or_else(|p| p.into_inner());
    let i = match map.get(&obj) {
        Some(&i) => i,
        None => {
            let i = append(r, obj);
            map.insert(obj, i);
            i
        }
    };
    let (base, _) = entries(r);
    entry(base, i).counts[which].fetch_add(n, Relaxed);
}

/// Takes one off this process's count `which` of `obj`. Returns `false` if
/// this process holds none (an inherited copy it never owned): the caller
/// must then leave the object's live counts alone.
pub fn ledger_sub(obj: u64, which: usize) -> bool {
    let r = record(me());
    let map = local().map.lock().unwrap_or_else(|p| p.into_inner());
    let Some(&i) = map.get(&obj) else {
        return false;
    };
    let (base, _) = entries(r);
    let c = &entry(base, i).counts[which];
    let mut cur = c.load(Relaxed);
    loop {
        if cur == 0 {
            return false;
        }
        match c.compare_exchange(cur, cur - 1, Relaxed, Relaxed) {
            Ok(_) => return true,
            Err(v) => cur = v,
        }
    }
}

/// What a process hands to a child: counts of objects it moves into it.
#[derive(Debug, Default, Clone)]
pub struct Transfer {
    items: Vec<(u64, [u32; COUNTERS])>,
}

impl Transfer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one more count `which` of `obj`.
    pub fn add(&mut self, obj: u64, which: usize) {
        if let Some((_, c)) = self.items.iter_mut().find(|(o, _)| *o == obj) {
            c[which] += 1;
        } else {
            let mut c = [0; COUNTERS];
            c[which] = 1;
            self.items.push((obj, c));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: Transfer) {
        for (obj, counts) in other.items {
            for (k, n) in counts.iter().enumerate() {
                for _ in 0..*n {
                    self.add(obj, k);
                }
            }
        }
    }
}

/// Gives the child record `idx` the counts in `t` (before fork): its ledger
/// holds them, and the objects count them as live.
pub(crate) fn give(idx: u32, t: &Transfer) {
    let r = record(idx);
    for (obj, counts) in &t.items {
        let i = append(r, *obj);
        let (base, _) = entries(r);
        let e = entry(base, i);
        for (k, n) in counts.iter().enumerate() {
            e.counts[k].store(*n, Relaxed);
        }
        if let Some(h) = hooks() {
            (h.retain)(*obj, *counts);
        }
    }
}

/// In a freshly forked child: become record `idx`, with a fresh local index
/// of the ledger the parent prepared.
pub(crate) fn become_child(idx: u32) {
    ME.store(idx, Relaxed);
    let r = record(idx);
    // The parent's index may be locked by a thread that does not exist here,
    // and indexes the parent's ledger: drop it (leaked on purpose); the first
    // use builds this process's own from its ledger.
    LOCAL.store(std::ptr::null_mut(), Release);
    // Hold the life lock for the rest of this process's life.
    r.life.lock();
    r.state.store(RUNNING, Release);
}

/// Drains a record's ledger, calling `f` on every non-zero line with a
/// function that empties the line (which `f` calls under the object's
/// lock, so the line and the object's counts change together).
fn drain(r: &Record, f: fn(u64, &dyn Fn() -> [u32; COUNTERS])) {
    let (base, len) = entries(r);
    for i in 0..len {
        let e = entry(base, i);
        if e.counts.iter().all(|c| c.load(Acquire) == 0) {
            continue;
        }
        let take = || {
            let mut counts = [0; COUNTERS];
            for (k, c) in e.counts.iter().enumerate() {
                counts[k] = c.swap(0, AcqRel);
            }
            counts
        };
        f(e.obj.load(Relaxed), &take);
    }
}

/// In a child that finished normally: release what it still holds, then
/// mark the record exited and let go of the life lock.
pub(crate) fn exit_normally() {
    let r = record(me());
    if let Some(h) = hooks() {
        drain(r, h.release_exit);
    }
    r.state.store(EXITED, Release);
    // SAFETY: this thread locked `life` in `become_child`.
    unsafe { r.life.unlock() };
}

/// Gives up a record whose process never started, returning what it was
/// given as if it had been dropped.
pub(crate) fn abandon(idx: u32) {
    let r = record(idx);
    if let Some(h) = hooks() {
        drain(r, h.release_exit);
    }
    free_record(idx);
}

/// Marks record `idx` dead if it was live, releasing what it held. Called by
/// the parent after reaping an abnormal exit, and by sweeps.
pub(crate) fn mark_dead(idx: u32) -> bool {
    mark_dead_from(idx, &[RUNNING, STARTING])
}

/// [`mark_dead`] from one of the states `from` only. Whoever moves the
/// record to `DYING` releases its ledger, then marks it `DEAD`; anyone else
/// who finds it `DYING` waits for that, so the parent never frees a record
/// (and its ledger) that a sweep is still releasing.
///
/// A releaser killed half way would leave the record `DYING` for good:
/// waiters check now and then whether it is still alive, and one of them
/// takes over. Releasing twice is harmless: each ledger line is emptied by
/// whoever takes it, under its channel's lock.
fn mark_dead_from(idx: u32, from: &[u32]) -> bool {
    let r = record(idx);
    let mut spins = 0u32;
    loop {
        for &f in from {
            if r.state.compare_exchange(f, DYING, AcqRel, Relaxed).is_ok() {
                r.releaser.store(my_tag(), Release);
                release_and_bury(r);
                return true;
            }
        }
        if r.state.load(Acquire) != DYING {
            return false;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) {
            let by = r.releaser.load(Acquire);
            if by != 0
                && releaser_gone(by)
                && r.releaser
                    .compare_exchange(by, my_tag(), AcqRel, Relaxed)
                    .is_ok()
                && r.state.load(Acquire) == DYING
            {
                release_and_bury(r);
                return true;
            }
        }
        std::thread::yield_now();
    }
}

/// Releases what the dead process of record `r` held, then marks it `DEAD`.
fn release_and_bury(r: &Record) {
    if let Some(h) = hooks() {
        drain(r, h.release_dead);
    }
    r.state.store(DEAD, Release);
}

/// Whether the process that tagged a record `DYING` has gone (without a
/// sweep: sweeps themselves wait on `DYING` records).
fn releaser_gone(tag: u64) -> bool {
    if ended(tag) {
        return true;
    }
    let pid = record((tag & ((1 << 14) - 1)) as u32).pid.load(Acquire);
    pid > 0 && crate::sys::process_ended(pid)
}

/// For a sweep: marks record `idx` dead if it is still the `STARTING`
/// record of process `pid`, which has ended without ever running (killed
/// between fork and taking its life lock, so only the OS can tell).
fn mark_dead_starting(idx: u32, pid: i32) -> bool {
    let r = record(idx);
    if r.state
        .compare_exchange(STARTING, DYING, AcqRel, Relaxed)
        .is_err()
    {
        return false;
    }
    // The record may have been freed and claimed again between our reading
    // its pid and the claim above: a fresh claim has another pid (0 until
    // its parent stores it; `free_record` clears it before `FREE`).
    if r.pid.load(Acquire) != pid {
        // Not ours: give it back, unless its process has moved on already.
        let _ = r.state.compare_exchange(DYING, STARTING, AcqRel, Relaxed);
        return false;
    }
    r.releaser.store(my_tag(), Release);
    release_and_bury(r);
    true
}

/// Bits of a process tag (see [`my_tag`]).
pub(crate) const TAG_BITS: u32 = 38;
const INC_MASK: u64 = (1 << (TAG_BITS - 14)) - 1;

/// A compact name of this process for marks left in shared structures:
/// record index in the low 14 bits, the record's incarnation (24 bits)
/// above.
pub(crate) fn my_tag() -> u64 {
    let i = me();
    ((record(i).incarnation.load(Relaxed) & INC_MASK) << 14) | i as u64
}

/// Whether the process named by `tag` (see [`my_tag`]) has ended: its record
/// was reused, freed, or marked dead or exited. Looks for dead processes
/// first, so a SIGKILLed one is noticed.
pub(crate) fn tag_gone(tag: u64) -> bool {
    let idx = (tag & ((1 << 14) - 1)) as u32;
    let inc = tag >> 14;
    let r = record(idx);
    if r.state.load(Acquire) == RUNNING {
        sweep();
    }
    let state = r.state.load(Acquire);
    (r.incarnation.load(Acquire) & INC_MASK) != inc || matches!(state, FREE | EXITED | DEAD | DYING)
}

/// Frees the records of processes that have ended and whose parent has
/// ended too, so that nobody will ever join them: a process that exited
/// (or was killed) without joining its children leaves their records
/// behind, and the table would fill up. Returns how many it freed.
#[doc(hidden)]
pub fn reclaim_orphans() -> usize {
    let Ok(a) = shm::arena() else { return 0 };
    sweep();
    let hwm = a.header().procs_hwm.load(Relaxed);
    let mut freed = 0;
    for i in 1..hwm {
        let r = record(i);
        let inc = r.incarnation.load(Acquire);
        let state = r.state.load(Acquire);
        if !matches!(state, EXITED | DEAD) || !ended(r.parent.load(Relaxed)) {
            continue;
        }
        // Claim it (a parent's join or another reclaimer may race us), and
        // make sure it is still the incarnation whose parent we checked.
        if r.state
            .compare_exchange(state, DYING, AcqRel, Relaxed)
            .is_err()
        {
            continue;
        }
        r.releaser.store(my_tag(), Release);
        if r.incarnation.load(Acquire) != inc {
            r.state.store(state, Release);
            continue;
        }
        let off = r.result_off.swap(0, Relaxed);
        if off != 0 {
            shm::free(off);
        }
        free_record(i);
        freed += 1;
    }
    freed
}

/// Whether the process named by `tag` has ended (no sweep first).
fn ended(tag: u64) -> bool {
    let r = record((tag & ((1 << 14) - 1)) as u32);
    (r.incarnation.load(Acquire) & INC_MASK) != tag >> 14
        || matches!(r.state.load(Acquire), FREE | EXITED | DEAD | DYING)
}

/// Looks for processes of the tree that died without anyone noticing
/// (SIGKILL, abort) and releases what they held. Cheap: one atomic load
/// per record, and a non-blocking try-lock per running one.
pub fn sweep() -> bool {
    let Ok(a) = shm::arena() else { return false };
    let hwm = a.header().procs_hwm.load(Relaxed);
    let mut found = false;
    for i in 1..hwm {
        let r = record(i);
        let state = r.state.load(Acquire);
        if state == STARTING {
            // Forked but not yet holding its life lock: a process killed in
            // that window is noticed only through the OS. (A pid of 0: not
            // forked yet, or the parent has not stored it yet.)
            let pid = r.pid.load(Acquire);
            if pid > 0 && crate::sys::process_ended(pid) {
                found |= mark_dead_starting(i, pid);
            }
            continue;
        }
        if state != RUNNING {
            continue;
        }
        match r.life.try_lock() {
            None => {} // held: alive
            Some(LockState::OwnerDied) => {
                found |= mark_dead_from(i, &[RUNNING]);
                // SAFETY: try_lock succeeded, we hold it.
                unsafe { r.life.unlock() };
            }
            Some(LockState::Clean) => {
                // Exited normally between our load and the try-lock.
                // SAFETY: try_lock succeeded, we hold it.
                unsafe { r.life.unlock() };
            }
        }
    }
    found
}
