//! [`Lock`]: a mutual-exclusion lock across processes, on a robust
//! process-shared pthread mutex in the channel's aux block.

use super::shared::{Shared, State};
use super::{LockError, SyncError};
use crate::sys::{LockState, RobustMutex};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::time::Duration;

#[repr(C)]
struct LockAux {
    mutex: RobustMutex,
    /// Set when a guard is dropped while its thread panics: the holder is
    /// dying, and the next locker must be told, as for a killed holder.
    died: AtomicU32,
}

// SAFETY: the mutex is initialised in `Lock::try_new` before the state is
// shared; the flag is an atomic (zero: nobody died); no drop.
unsafe impl State for LockAux {
    const KIND: u64 = 0x4c4f_434b_0000_0001; // "LOCK"
}

/// A lock shared by processes, like Python's `multiprocessing.Lock`, with
/// the guard-based API of `std::sync::Mutex` (it guards no data of its own:
/// it protects whatever the processes agree it protects, e.g. a shared
/// `Value`).
///
/// [`lock`](Lock::lock) returns a [`LockGuard`] that releases the lock when
/// dropped. If a holder dies with the lock held (killed by a signal, or
/// panicking), Python's lock stays locked forever; here the next locker
/// gets [`LockError::OwnerDied`] carrying the guard: it holds the lock and
/// can repair the guarded state, like `std::sync::PoisonError::into_inner`.
///
/// Not reentrant: a thread that locks it twice deadlocks (see
/// [`RLock`](super::RLock)). `Clone` gives another handle to the same lock.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lock {
    s: Shared<LockAux>,
}

/// Holds a [`Lock`]; releases it when dropped. Not `Send`: the thread that
/// locked must unlock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    _not_send: PhantomData<*const ()>,
}

/// What every lock operation returns: the guard, or why not.
pub type LockResult<G> = Result<G, LockError<G>>;

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl Lock {
    /// A new, unlocked lock. Panics only if the shared arena cannot be
    /// mapped or is full; [`Lock::try_new`] returns that as an error.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("csp: cannot create a Lock: {e}"))
    }

    /// [`Lock::new`], returning arena errors.
    pub fn try_new() -> Result<Self, SyncError> {
        let s = Shared::create(|st: &LockAux| {
            // SAFETY: the state is fresh and not yet visible to anyone else.
            unsafe { RobustMutex::init(&st.mutex as *const RobustMutex as *mut RobustMutex) }
        })?;
        Ok(Lock { s })
    }

    fn mutex(&self) -> &'static RobustMutex {
        &self.s.state().mutex
    }

    fn acquired(&self, how: LockState) -> LockResult<LockGuard<'_>> {
        let g = LockGuard {
            lock: self,
            _not_send: PhantomData,
        };
        let died = &self.s.state().died;
        // `died` is only touched with the lock held.
        let panicked = died.load(Relaxed) != 0 && died.swap(0, Relaxed) != 0;
        if how == LockState::OwnerDied || panicked {
            Err(LockError::OwnerDied(g))
        } else {
            Ok(g)
        }
    }

    /// Takes the lock, blocking until it is free. `Err(OwnerDied(guard))`
    /// means the caller holds it but the previous holder died holding it.
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        let how = self.mutex().lock();
        self.acquired(how)
    }

    /// Takes the lock only if it is free now (`WouldBlock` otherwise).
    pub fn try_lock(&self) -> LockResult<LockGuard<'_>> {
        match self.mutex().try_lock() {
            Some(how) => self.acquired(how),
            None => Err(LockError::WouldBlock),
        }
    }

    /// Takes the lock, waiting at most `timeout` (`Timeout` otherwise).
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<LockGuard<'_>> {
        match self.mutex().lock_timeout(timeout) {
            Some(how) => self.acquired(how),
            None => Err(LockError::Timeout),
        }
    }

    /// Whether `other` is a handle to the same lock.
    pub fn same_as(&self, other: &Lock) -> bool {
        self.s.same(&other.s)
    }
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &'a Lock {
        self.lock
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.lock.s.state().died.store(1, Relaxed);
        }
        // SAFETY: a guard exists only while this thread holds the mutex
        // (it is not Send), and each guard unlocks once.
        unsafe { self.lock.mutex().unlock() };
    }
}
