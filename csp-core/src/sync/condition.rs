//! [`Condition`]: a condition variable across processes, used with a
//! [`Lock`].
//!
//! Its own bookkeeping sits under a robust mutex `m` in the aux block (not
//! the user's lock, which notifiers need not hold):
//! - every waiter takes a ticket (`next_ticket`) and counts itself in
//!   `waiters` *before* it lets go of the user's lock, so no notify that
//!   follows can miss it;
//! - `notify(n)` grants up to `n` more wake-ups (`permits`, never more than
//!   the waiters) to the waiters present now: tickets below `limit`. A
//!   waiter that arrives later cannot take them.
//! - everyone sleeps on the channel's event; a woken waiter takes a permit
//!   if it may, or sleeps again.
//!
//! A waiter that dies leaves its count behind. So when a holder's death is
//! noticed (`dead_holders` moved) or `m`'s holder died, the bookkeeping is
//! rebuilt: `epoch` moves, which wakes every waiter of the old epoch (a
//! spurious wake-up, which condition-variable users must allow for), and
//! the counts restart from zero.

use super::SyncError;
use super::lock::{Lock, LockGuard, LockResult};
use super::shared::{Shared, State};
use crate::sys::{LockState, RobustMutex};
use crate::wait::Woken;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

#[repr(C)]
struct CondAux {
    m: RobustMutex,
    next_ticket: AtomicU64,
    limit: AtomicU64,
    waiters: AtomicU32,
    permits: AtomicU32,
    epoch: AtomicU32,
    dead_seen: AtomicU32,
}

// SAFETY: the mutex is initialised in `Condition::try_with_lock` before the
// state is shared; the rest are atomics (zero: no waiters); no drop.
unsafe impl State for CondAux {
    const KIND: u64 = 0x434f_4e44_0000_0001; // "COND"
}

/// A condition variable shared by processes, like Python's
/// `multiprocessing.Condition`, with the API of `std::sync::Condvar`.
///
/// It comes with a [`Lock`] ([`Condition::new`] makes one,
/// [`Condition::with_lock`] uses yours). A waiter holds the lock, calls
/// [`wait`](Condition::wait) with its guard, which releases the lock while
/// it sleeps and retakes it before returning. Notifiers call
/// [`notify_one`](Condition::notify_one) / [`notify_all`](Condition::notify_all)
/// (holding the lock or not).
///
/// As with every condition variable, a wait may return without a notify
/// (here: after a process holding the condition died): check the
/// condition in a loop, or use [`wait_while`](Condition::wait_while).
///
/// If the lock's holder dies, the waiter that retakes it gets
/// [`LockError::OwnerDied`](super::LockError::OwnerDied) with its guard.
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition {
    s: Shared<CondAux>,
    lock: Lock,
}

/// Whether a timed wait ran out (like `std::sync::WaitTimeoutResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout ran out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &self.s.state().waiters.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

/// Holds the condition's own mutex.
struct Inner<'a>(&'a Condition);

impl Drop for Inner<'_> {
    fn drop(&mut self) {
        // SAFETY: `Inner` exists only while this thread holds `m`.
        unsafe { self.0.s.state().m.unlock() };
    }
}

impl Condition {
    /// A condition variable with a new lock of its own. Panics only if the
    /// shared arena cannot be mapped or is full ([`Condition::try_new`]).
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("csp: cannot create a Condition: {e}"))
    }

    /// [`Condition::new`], returning arena errors.
    pub fn try_new() -> Result<Self, SyncError> {
        Self::try_with_lock(&Lock::try_new()?)
    }

    /// A condition variable used with `lock` (a handle to the same lock).
    pub fn with_lock(lock: &Lock) -> Self {
        Self::try_with_lock(lock).unwrap_or_else(|e| panic!("csp: cannot create a Condition: {e}"))
    }

    /// [`Condition::with_lock`], returning arena errors.
    pub fn try_with_lock(lock: &Lock) -> Result<Self, SyncError> {
        let s = Shared::create(|st: &CondAux| {
            // SAFETY: the state is fresh and not yet visible to anyone else.
            unsafe { RobustMutex::init(&st.m as *const RobustMutex as *mut RobustMutex) }
        })?;
        Ok(Condition {
            s,
            lock: lock.clone(),
        })
    }

    /// The condition's lock.
    pub fn as_lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the condition's lock (see [`Lock::lock`]).
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        self.lock.lock()
    }

    /// Takes the bookkeeping mutex; rebuilds the bookkeeping if its holder
    /// died or any holder of the condition died since it was last looked at.
    fn inner(&self) -> Inner<'_> {
        let st = self.s.state();
        let how = st.m.lock();
        let g = Inner(self);
        let deaths = self.s.deaths();
        if how == LockState::OwnerDied || st.dead_seen.load(Relaxed) != deaths {
            st.dead_seen.store(deaths, Relaxed);
            st.epoch.fetch_add(1, SeqCst);
            st.waiters.store(0, Relaxed);
            st.permits.store(0, Relaxed);
            st.limit.store(st.next_ticket.load(Relaxed), Relaxed);
            self.s.wake_all();
        }
        g
    }

    /// Waits for a notify: releases the guard's lock while sleeping, and
    /// retakes it before returning. May also return spuriously.
    pub fn wait<'a>(&self, guard: LockGuard<'a>) -> LockResult<LockGuard<'a>> {
        self.wait_until(guard, None)
            .map(|(g, _)| g)
            .map_err(|e| e.map(|(g, _)| g))
    }

    /// [`Condition::wait`] for at most `timeout`.
    pub fn wait_timeout<'a>(
        &self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        self.wait_until(guard, crate::wait::deadline(Some(timeout)))
    }

    /// Waits while `condition()` is true (checked with the lock held, first
    /// before any wait), like `std::sync::Condvar::wait_while`.
    pub fn wait_while<'a>(
        &self,
        mut guard: LockGuard<'a>,
        mut condition: impl FnMut() -> bool,
    ) -> LockResult<LockGuard<'a>> {
        while condition() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// [`Condition::wait_while`] for at most `timeout` in all; the result
    /// says whether it ran out with the condition still true.
    pub fn wait_timeout_while<'a>(
        &self,
        mut guard: LockGuard<'a>,
        timeout: Duration,
        mut condition: impl FnMut() -> bool,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let deadline = crate::wait::deadline(Some(timeout));
        while condition() {
            let (g, r) = self.wait_until(guard, deadline)?;
            guard = g;
            if r.timed_out() {
                let still = condition();
                return Ok((guard, WaitTimeoutResult(still)));
            }
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    fn wait_until<'a>(
        &self,
        guard: LockGuard<'a>,
        deadline: Option<Instant>,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let st = self.s.state();
        let ev = &self.s.chan().readable;
        let lock = guard.lock();
        let (ticket, epoch, mut obs) = {
            let _m = self.inner();
            let ticket = st.next_ticket.fetch_add(1, Relaxed);
            st.waiters.fetch_add(1, Relaxed);
            (ticket, st.epoch.load(Relaxed), ev.observe())
        };
        drop(guard);
        let mut timed_out = false;
        loop {
            match ev.wait(obs, deadline) {
                Woken::Changed => {}
                Woken::Slice => {
                    crate::process::sweep();
                }
                Woken::TimedOut => timed_out = true,
            }
            let _m = self.inner();
            if st.epoch.load(Relaxed) != epoch {
                // The bookkeeping was rebuilt without us: a spurious wake.
                break;
            }
            let permits = st.permits.load(Relaxed);
            if permits > 0 && ticket < st.limit.load(Relaxed) {
                st.permits.store(permits - 1, Relaxed);
                st.waiters.fetch_sub(1, Relaxed);
                timed_out = false;
                break;
            }
            if timed_out {
                st.waiters.fetch_sub(1, Relaxed);
                break;
            }
            obs = ev.observe();
        }
        let r = WaitTimeoutResult(timed_out);
        match lock.lock() {
            Ok(g) => Ok((g, r)),
            Err(e) => Err(e.map(|g| (g, r))),
        }
    }

    /// Wakes up to `n` of the processes waiting now.
    pub fn notify(&self, n: usize) {
        if n == 0 {
            return;
        }
        let st = self.s.state();
        let changed = {
            let _m = self.inner();
            let waiters = st.waiters.load(Relaxed);
            let permits = st.permits.load(Relaxed);
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let grant = permits.saturating_add(n).min(waiters);
            st.limit.store(st.next_ticket.load(Relaxed), Relaxed);
            st.permits.store(grant, Relaxed);
            grant != permits
        };
        if changed {
            self.s.wake_all();
        }
    }

    /// Wakes one of the processes waiting now, if any.
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every process waiting now.
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }
}
