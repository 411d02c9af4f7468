//! A process-shared, robust mutex (glibc `pthread_mutex_t` with
//! `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`). When the thread that
//! holds it dies (SIGKILL included), the kernel marks it, and the next locker
//! learns that the data it guards may be half-updated.

use std::cell::UnsafeCell;

/// A robust mutex that lives in shared memory. It never moves once
/// initialised (it sits at a fixed arena offset).
#[repr(C)]
pub struct RobustMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: pthread mutexes are made to be used from many threads and, being
// PTHREAD_PROCESS_SHARED, from many processes.
unsafe impl Sync for RobustMutex {}
// SAFETY: as above.
unsafe impl Send for RobustMutex {}

/// What a successful lock found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// The previous holder unlocked normally.
    Clean,
    /// The previous holder died holding the lock; the guarded data may be
    /// inconsistent. The lock is held and marked consistent again.
    OwnerDied,
}

impl RobustMutex {
    /// Initialises the mutex in place.
    ///
    /// # Safety
    /// `this` must point at writable memory of the right size that no other
    /// thread or process uses yet.
    pub unsafe fn init(this: *mut RobustMutex) {
        // SAFETY: attr is a local, initialised before use and destroyed after;
        // `this` is valid for writes per the caller.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutex_init((*this).inner.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
    }

    fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// Locks, blocking. Returns whether the previous owner died.
    pub fn lock(&self) -> LockState {
        // SAFETY: the mutex was initialised by `init` and never moves.
        let r = unsafe { libc::pthread_mutex_lock(self.ptr()) };
        self.after_lock(r).expect("robust mutex lock failed")
    }

    /// Tries to lock without blocking. `None` if someone else holds it.
    pub fn try_lock(&self) -> Option<LockState> {
        // SAFETY: the mutex was initialised by `init` and never moves.
        let r = unsafe { libc::pthread_mutex_trylock(self.ptr()) };
        if r == libc::EBUSY {
            return None;
        }
        self.after_lock(r)
    }

    /// Locks, waiting at most `timeout`. `None` if it ran out first.
    pub fn lock_timeout(&self, timeout: std::time::Duration) -> Option<LockState> {
        if let Some(s) = self.try_lock() {
            return Some(s);
        }
        // pthread_mutex_timedlock takes an absolute CLOCK_REALTIME deadline.
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into a valid local.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX / 2);
        // time_t and c_long are narrower than i64 on some targets.
        #[allow(clippy::useless_conversion)]
        let (now_sec, now_nsec) = (i64::from(now.tv_sec), i64::from(now.tv_nsec));
        let mut nsec = now_nsec + i64::from(timeout.subsec_nanos());
        let mut sec = now_sec.saturating_add(secs);
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec = sec.saturating_add(1);
        }
        let abs = libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: nsec as libc::c_long,
        };
        // SAFETY: the mutex was initialised by `init` and never moves; `abs`
        // is a valid, normalised timespec.
        let r = unsafe { libc::pthread_mutex_timedlock(self.ptr(), &abs) };
        if r == libc::ETIMEDOUT {
            return None;
        }
        self.after_lock(r)
    }

    fn after_lock(&self, r: i32) -> Option<LockState> {
        match r {
            0 => Some(LockState::Clean),
            libc::EOWNERDEAD => {
                // SAFETY: we hold the mutex (EOWNERDEAD means acquired).
                unsafe { libc::pthread_mutex_consistent(self.ptr()) };
                Some(LockState::OwnerDied)
            }
            _ => None,
        }
    }

    /// Unlocks.
    ///
    /// # Safety
    /// The calling thread must hold the lock.
    pub unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock.
        unsafe { libc::pthread_mutex_unlock(self.ptr()) };
    }
}

impl std::fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RobustMutex")
    }
}
