//! [`Barrier`]: `n` parties wait until all have arrived, round after round.
//!
//! The whole state is one 64-bit word, changed only by CAS:
//!
//! ```text
//!  63          32 31   25  24      23        0
//! [ generation   | epoch  | broken | arrived    ]
//! ```
//!
//! An arriving party adds one to `arrived`; the last one instead moves to
//! the next generation with `arrived = 0` (that releases the round). A
//! waiter is released when the generation moves past its own, and gets
//! `BrokenBarrier` when, still in its generation, `broken` is set (abort,
//! a timeout, a death) or the epoch moved (`reset`).

use super::SyncError;
use super::shared::{Shared, State};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// The most parties a barrier can count.
pub const MAX_PARTIES: usize = (1 << 24) - 1;

const ARRIVED: u64 = (1 << 24) - 1;
const BROKEN: u64 = 1 << 24;
const EPOCH_SHIFT: u32 = 25;
const EPOCH: u64 = 0x7f << EPOCH_SHIFT;
const GEN_SHIFT: u32 = 32;

fn generation(w: u64) -> u64 {
    w >> GEN_SHIFT
}

fn epoch(w: u64) -> u64 {
    w & EPOCH
}

#[repr(C)]
struct BarrierState {
    word: AtomicU64,
    parties: AtomicU32,
    /// `dead_holders` when the barrier was made or last reset: any death
    /// since breaks it.
    dead_seen: AtomicU32,
}

// SAFETY: atomics only; all-zero is "generation 0, nobody arrived"; no drop.
unsafe impl State for BarrierState {
    const KIND: u64 = 0x4241_5252_4945_0001; // "BARRIE"
}

/// A reusable barrier for `n` parties across processes, like Python's
/// `multiprocessing.Barrier` and Rust's `std::sync::Barrier`.
///
/// [`wait`](Barrier::wait) blocks until `n` parties have called it, then
/// releases them all; the barrier is then ready for the next round. Exactly
/// one party per round is the leader ([`BarrierWaitResult::is_leader`]).
///
/// The barrier *breaks* when a party gives up ([`wait_timeout`] runs out),
/// when someone calls [`abort`](Barrier::abort), or when any process that
/// holds a handle to it dies (SIGKILL included). Everyone waiting, and
/// everyone who arrives later, then gets [`SyncError::BrokenBarrier`]
/// instead of blocking forever, until [`reset`](Barrier::reset).
///
/// Deaths are noticed through the runtime's ledger: pass the barrier to a
/// process as a `#[process]` argument (or with `Process::with`), or send
/// it in a message, so the process is known to hold it.
///
/// [`wait_timeout`]: Barrier::wait_timeout
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Barrier {
    s: Shared<BarrierState>,
}

/// What [`Barrier::wait`] returns to each party of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    index: usize,
    leader: bool,
}

impl BarrierWaitResult {
    /// The order in which this party arrived in its round: `0` for the
    /// first, `n - 1` for the last (like the value Python's `wait` returns).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether this party is the round's leader: exactly one per round (the
    /// last to arrive).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("waiting", &self.n_waiting())
            .field("broken", &self.is_broken())
            .finish()
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` is treated as `1`). Panics only if
    /// the shared arena cannot be mapped or is full, or if `n` exceeds
    /// [`MAX_PARTIES`]; [`Barrier::try_new`] returns those as errors.
    pub fn new(n: usize) -> Self {
        Self::try_new(n).unwrap_or_else(|e| panic!("csp: cannot create a Barrier: {e}"))
    }

    /// [`Barrier::new`], returning errors.
    pub fn try_new(n: usize) -> Result<Self, SyncError> {
        if n > MAX_PARTIES {
            return Err(SyncError::TooManyParties(n));
        }
        let s = Shared::create(|st: &BarrierState| st.parties.store(n.max(1) as u32, Relaxed))?;
        Ok(Barrier { s })
    }

    /// Waits until every party has arrived. Returns this party's arrival
    /// index and whether it leads the round, or `BrokenBarrier`.
    pub fn wait(&self) -> Result<BarrierWaitResult, SyncError> {
        self.wait_until(None)
    }

    /// [`Barrier::wait`] for at most `timeout`. If it runs out, this party
    /// gets `Timeout` and the barrier breaks: the others get
    /// `BrokenBarrier` (as in Python).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, SyncError> {
        self.wait_until(crate::wait::deadline(Some(timeout)))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<BarrierWaitResult, SyncError> {
        let st = self.s.state();
        if self.death_seen() {
            self.abort();
            return Err(SyncError::BrokenBarrier);
        }
        let parties = st.parties.load(Relaxed) as u64;
        let mut w = st.word.load(SeqCst);
        let (mine, index) = loop {
            if w & BROKEN != 0 {
                return Err(SyncError::BrokenBarrier);
            }
            let arrived = w & ARRIVED;
            if arrived + 1 >= parties {
                // Last to arrive: release the round.
                let next = ((generation(w) + 1) << GEN_SHIFT) | epoch(w);
                match st.word.compare_exchange_weak(w, next, SeqCst, SeqCst) {
                    Ok(_) => {
                        self.s.wake_all();
                        return Ok(BarrierWaitResult {
                            index: arrived as usize,
                            leader: true,
                        });
                    }
                    Err(now) => w = now,
                }
                continue;
            }
            match st.word.compare_exchange_weak(w, w + 1, SeqCst, SeqCst) {
                Ok(_) => break (w, arrived as usize),
                Err(now) => w = now,
            }
        };
        let released = BarrierWaitResult {
            index,
            leader: false,
        };
        let outcome = self.s.sleep_until(deadline, |_| {
            let now = st.word.load(SeqCst);
            if generation(now) != generation(mine) {
                Some(true)
            } else if now & BROKEN != 0 || epoch(now) != epoch(mine) {
                Some(false)
            } else if self.death_seen() {
                Some(!self.break_round(mine))
            } else {
                None
            }
        });
        match outcome {
            Some(true) => Ok(released),
            Some(false) => Err(SyncError::BrokenBarrier),
            // Timed out: give up, which breaks the round, unless it was
            // released at the last moment.
            None if self.break_round(mine) => Err(SyncError::Timeout),
            None => Ok(released),
        }
    }

    /// Whether a holder died since the barrier was made or last reset.
    fn death_seen(&self) -> bool {
        self.s.deaths() != self.s.state().dead_seen.load(SeqCst)
    }

    /// Breaks the round a waiter arrived in (`mine`, the word before its
    /// arrival). Returns `false` if that round was released meanwhile.
    fn break_round(&self, mine: u64) -> bool {
        let st = self.s.state();
        let mut w = st.word.load(SeqCst);
        loop {
            if generation(w) != generation(mine) {
                return false;
            }
            if w & BROKEN != 0 || epoch(w) != epoch(mine) {
                return true;
            }
            match st.word.compare_exchange_weak(w, w | BROKEN, SeqCst, SeqCst) {
                Ok(_) => {
                    self.s.wake_all();
                    return true;
                }
                Err(now) => w = now,
            }
        }
    }

    /// Breaks the barrier: every party waiting now, and every later
    /// arrival, gets `BrokenBarrier` until [`Barrier::reset`].
    pub fn abort(&self) {
        let st = self.s.state();
        if st.word.fetch_or(BROKEN, SeqCst) & BROKEN == 0 {
            self.s.wake_all();
        }
    }

    /// Makes the barrier usable again, empty. Parties waiting now get
    /// `BrokenBarrier`; deaths so far are forgiven.
    pub fn reset(&self) {
        let st = self.s.state();
        st.dead_seen.store(self.s.deaths(), SeqCst);
        let mut w = st.word.load(SeqCst);
        loop {
            let next_epoch = (epoch(w) + (1 << EPOCH_SHIFT)) & EPOCH;
            let next = (generation(w) << GEN_SHIFT) | next_epoch;
            match st.word.compare_exchange_weak(w, next, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        self.s.wake_all();
    }

    /// Whether the barrier is broken (see [`Barrier`]).
    pub fn is_broken(&self) -> bool {
        self.s.state().word.load(SeqCst) & BROKEN != 0 || self.death_seen()
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.s.state().parties.load(Relaxed) as usize
    }

    /// How many parties are waiting in the current round.
    pub fn n_waiting(&self) -> usize {
        (self.s.state().word.load(SeqCst) & ARRIVED) as usize
    }
}
