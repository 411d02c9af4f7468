//! Cross-process wait and wake on arena words: a short spin, a few
//! yields, then a shared futex. See `README.md` beside this file.

use crate::sys;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::time::{Duration, Instant};

/// How long one futex sleep lasts at most before the waiter looks for dead
/// peers. Bounds how late a waiter learns that its peers died.
pub const SLICE: Duration = Duration::from_millis(25);

/// Spin iterations per burst (about 1.7 µs at 26 ns per `pause`). On a
/// 2-core machine a long spin only steals the core the peer needs, so each
/// burst stays short and ends with a yield.
const SPINS: u32 = 64;
/// Bursts (each followed by `sched_yield`) before sleeping on the futex.
const ROUNDS: u32 = 16;

/// An event counter in shared memory: waiters sleep until it changes.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Event {
    seq: AtomicU32,
    waiters: AtomicU32,
}

/// Why [`Event::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The counter moved: re-check the condition.
    Changed,
    /// The deadline passed.
    TimedOut,
    /// A slice passed with no change: look for dead peers, then wait again.
    Slice,
}

impl Event {
    /// Reads the counter. Take this reading while the condition is known to
    /// be false (under the structure's lock), then [`Event::wait`] on it.
    pub fn observe(&self) -> u32 {
        self.seq.load(SeqCst)
    }

    /// Moves the counter and wakes every waiter.
    pub fn notify(&self) {
        self.seq.fetch_add(1, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            sys::futex_wake(&self.seq, i32::MAX);
        }
    }

    /// Waits until the counter differs from `observed`, the deadline passes,
    /// or one slice passes.
    pub fn wait(&self, observed: u32, deadline: Option<Instant>) -> Woken {
        // Spin in short bursts with a yield between them: if the peer runs on
        // another core the answer lands during a burst; if it shares our
        // core, the yield lets it run.
        for _ in 0..ROUNDS {
            for _ in 0..SPINS {
                if self.seq.load(Acquire) != observed {
                    return Woken::Changed;
                }
                std::hint::spin_loop();
            }
            if self.seq.load(Acquire) != observed {
                return Woken::Changed;
            }
            sys::yield_now();
        }
        let mut slice = SLICE;
        if let Some(d) = deadline {
            let now = Instant::now();
            if now >= d {
                return Woken::TimedOut;
            }
            slice = slice.min(d - now);
        }
        self.waiters.fetch_add(1, SeqCst);
        sys::futex_wait(&self.seq, observed, Some(slice));
        self.waiters.fetch_sub(1, SeqCst);
        if self.seq.load(Acquire) != observed {
            Woken::Changed
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            Woken::TimedOut
        } else {
            Woken::Slice
        }
    }
}

/// A deadline `d` from now (`None` for no timeout).
pub fn deadline(d: Option<Duration>) -> Option<Instant> {
    d.map(|d| {
        Instant::now()
            .checked_add(d)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365))
    })
}
