//! [`RLock`]: a reentrant lock: the robust mutex of [`Lock`](super::Lock)
//! plus the owning thread's name and a depth.

use super::lock::LockResult;
use super::shared::{Shared, State, thread_token};
use super::{LockError, SyncError};
use crate::sys::{LockState, RobustMutex};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

#[repr(C)]
struct RLockAux {
    mutex: RobustMutex,
    /// The holding thread's [`thread_token`], 0 when free. Written only by
    /// the holder.
    owner: AtomicU64,
    /// How many guards the holder has. Touched only by the holder.
    depth: AtomicU32,
    /// A holder panicked (see `Lock`).
    died: AtomicU32,
}

// SAFETY: the mutex is initialised in `RLock::try_new` before the state is
// shared; the rest are atomics (zero: free); no drop.
unsafe impl State for RLockAux {
    const KIND: u64 = 0x524c_4f43_4b00_0001; // "RLOCK"
}

/// A reentrant lock shared by processes, like Python's
/// `multiprocessing.RLock`: the thread that holds it may lock it again (in
/// the same process); it is released when every guard has been dropped.
///
/// A holder that dies with it held leaves [`LockError::OwnerDied`] to the
/// next locker, with the guard, as for [`Lock`](super::Lock).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RLock {
    s: Shared<RLockAux>,
}

/// Holds an [`RLock`] once; the lock is released when the holder's last
/// guard is dropped. Not `Send`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock").finish_non_exhaustive()
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("depth", &self.lock.depth())
            .finish()
    }
}

impl Default for RLock {
    fn default() -> Self {
        Self::new()
    }
}

impl RLock {
    /// A new, unlocked reentrant lock. Panics only if the shared arena
    /// cannot be mapped or is full; [`RLock::try_new`] returns that.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("csp: cannot create an RLock: {e}"))
    }

    /// [`RLock::new`], returning arena errors.
    pub fn try_new() -> Result<Self, SyncError> {
        let s = Shared::create(|st: &RLockAux| {
            // SAFETY: the state is fresh and not yet visible to anyone else.
            unsafe { RobustMutex::init(&st.mutex as *const RobustMutex as *mut RobustMutex) }
        })?;
        Ok(RLock { s })
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// If this thread holds the lock already: one more level.
    fn reenter(&self, me: u64) -> Option<RLockGuard<'_>> {
        let st = self.s.state();
        // Only the holder writes its own token here, so reading ours means
        // we hold it (a dead holder's token is never anyone else's).
        (st.owner.load(Relaxed) == me).then(|| {
            st.depth.fetch_add(1, Relaxed);
            self.guard()
        })
    }

    fn acquired(&self, me: u64, how: LockState) -> LockResult<RLockGuard<'_>> {
        let st = self.s.state();
        st.owner.store(me, Relaxed);
        st.depth.store(1, Relaxed);
        let panicked = st.died.load(Relaxed) != 0 && st.died.swap(0, Relaxed) != 0;
        let g = self.guard();
        if how == LockState::OwnerDied || panicked {
            Err(LockError::OwnerDied(g))
        } else {
            Ok(g)
        }
    }

    /// Takes the lock (again, if this thread holds it), blocking until it
    /// is free. `Err(OwnerDied(guard))`: held now, but a previous holder
    /// died holding it.
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        let me = thread_token();
        if let Some(g) = self.reenter(me) {
            return Ok(g);
        }
        let how = self.s.state().mutex.lock();
        self.acquired(me, how)
    }

    /// Takes the lock only if it is free now or held by this thread.
    pub fn try_lock(&self) -> LockResult<RLockGuard<'_>> {
        let me = thread_token();
        if let Some(g) = self.reenter(me) {
            return Ok(g);
        }
        match self.s.state().mutex.try_lock() {
            Some(how) => self.acquired(me, how),
            None => Err(LockError::WouldBlock),
        }
    }

    /// Takes the lock, waiting at most `timeout`.
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<RLockGuard<'_>> {
        let me = thread_token();
        if let Some(g) = self.reenter(me) {
            return Ok(g);
        }
        match self.s.state().mutex.lock_timeout(timeout) {
            Some(how) => self.acquired(me, how),
            None => Err(LockError::Timeout),
        }
    }

    /// Whether the calling thread holds the lock.
    pub fn is_owned(&self) -> bool {
        self.s.state().owner.load(Relaxed) == thread_token()
    }

    /// How many guards the calling thread holds (0 if it does not hold it).
    pub fn depth(&self) -> usize {
        if self.is_owned() {
            self.s.state().depth.load(Relaxed) as usize
        } else {
            0
        }
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let st = self.lock.s.state();
        if std::thread::panicking() {
            st.died.store(1, Relaxed);
        }
        if st.depth.fetch_sub(1, Relaxed) == 1 {
            st.owner.store(0, Relaxed);
            // SAFETY: a guard exists only while this thread holds the mutex
            // (guards are not Send); the last one unlocks it, once.
            unsafe { st.mutex.unlock() };
        }
    }
}
