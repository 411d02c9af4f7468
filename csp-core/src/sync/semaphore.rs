//! [`Semaphore`] and [`BoundedSemaphore`]: a counter of permits in the aux
//! block, taken and given back by CAS, with a table of the processes that
//! hold permits through guards, so a dead holder's permits come back.

use super::SyncError;
use super::shared::{Shared, State, process_gone, process_token};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// Processes that can hold guarded permits at once and get them back if
/// they die. More holders still work; their permits are just not tracked.
const HOLDER_SLOTS: usize = 32;

#[repr(C)]
struct Holder {
    /// The holding process's `process_token`, or 0 for a free slot.
    who: AtomicU64,
    /// Permits it holds through guards.
    held: AtomicU32,
    _pad: AtomicU32,
}

#[repr(C)]
struct SemAux {
    value: AtomicU32,
    /// The initial value, for a bounded semaphore.
    bound: AtomicU32,
    bounded: AtomicU32,
    /// `dead_holders` when the holder table was last checked.
    dead_seen: AtomicU32,
    holders: [Holder; HOLDER_SLOTS],
}

// SAFETY: atomics only; all-zero is "no permits, no holders"; no drop.
unsafe impl State for SemAux {
    const KIND: u64 = 0x5345_4d41_5048_0001; // "SEMAPH"
}

/// The shared implementation of both semaphores.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct Core {
    s: Shared<SemAux>,
}

impl Core {
    fn create(value: u32, bounded: bool) -> Result<Self, SyncError> {
        let s = Shared::create(|st: &SemAux| {
            st.value.store(value, Relaxed);
            st.bound.store(value, Relaxed);
            st.bounded.store(bounded as u32, Relaxed);
        })?;
        Ok(Core { s })
    }

    fn st(&self) -> &'static SemAux {
        self.s.state()
    }

    fn try_take(&self) -> bool {
        let v = &self.st().value;
        let mut cur = v.load(SeqCst);
        while cur > 0 {
            match v.compare_exchange_weak(cur, cur - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Adds `n` permits, capped at the bound (bounded) or at `u32::MAX`.
    /// `Err` if a bounded semaphore is already full.
    fn give(&self, n: u32) -> Result<(), SyncError> {
        let st = self.st();
        let cap = if st.bounded.load(Relaxed) != 0 {
            st.bound.load(Relaxed)
        } else {
            u32::MAX
        };
        let mut cur = st.value.load(SeqCst);
        loop {
            if cur >= cap {
                return Err(SyncError::Bound(cap));
            }
            let next = cur.saturating_add(n).min(cap);
            match st.value.compare_exchange_weak(cur, next, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.s.wake_all();
        Ok(())
    }

    fn take(&self, deadline: Option<Instant>, blocking: bool) -> Result<(), SyncError> {
        if self.try_take() {
            return Ok(());
        }
        if !blocking {
            self.recover(false);
            return if self.try_take() {
                Ok(())
            } else {
                Err(SyncError::WouldBlock)
            };
        }
        self.s
            .sleep_until(deadline, |swept| {
                if self.try_take() {
                    return Some(());
                }
                self.recover(swept);
                None
            })
            .ok_or(SyncError::Timeout)
    }

    /// Gives back the guarded permits of holders that died. Scans the table
    /// when a holder's death was noticed, or when `force` (a slice passed
    /// and dead processes were just looked for).
    fn recover(&self, force: bool) {
        let st = self.st();
        let deaths = self.s.deaths();
        let seen = st.dead_seen.load(SeqCst);
        if !force && seen == deaths {
            return;
        }
        let _ = st.dead_seen.compare_exchange(seen, deaths, SeqCst, SeqCst);
        for h in &st.holders {
            let who = h.who.load(SeqCst);
            if who == 0 || !process_gone(who) {
                continue;
            }
            // The holder is gone: nobody else writes its slot but
            // recoverers, and the swap gives its permits to one of them.
            let n = h.held.swap(0, SeqCst);
            let _ = h.who.compare_exchange(who, 0, SeqCst, SeqCst);
            if n > 0 {
                let _ = self.give(n);
            }
        }
    }

    /// Records one guarded permit for this process. `false` if the table
    /// is full (the permit is then not tracked).
    fn track(&self) -> bool {
        let st = self.st();
        let me = process_token();
        for attempt in 0..2 {
            if let Some(h) = st.holders.iter().find(|h| h.who.load(SeqCst) == me) {
                h.held.fetch_add(1, SeqCst);
                return true;
            }
            for h in &st.holders {
                if h.who.compare_exchange(0, me, SeqCst, SeqCst).is_ok() {
                    h.held.fetch_add(1, SeqCst);
                    return true;
                }
            }
            if attempt == 0 {
                self.recover(true);
            }
        }
        false
    }

    fn untrack(&self) {
        let me = process_token();
        for h in &self.st().holders {
            if h.who.load(SeqCst) == me {
                let mut cur = h.held.load(SeqCst);
                while cur > 0 {
                    match h.held.compare_exchange_weak(cur, cur - 1, SeqCst, SeqCst) {
                        Ok(_) => return,
                        Err(now) => cur = now,
                    }
                }
            }
        }
    }

    fn guard(&self, deadline: Option<Instant>, blocking: bool) -> Result<bool, SyncError> {
        self.take(deadline, blocking)?;
        // Taken first, recorded second: a holder killed in between loses
        // its permit rather than handing out one too many.
        Ok(self.track())
    }

    fn drop_guard(&self, tracked: bool) {
        if tracked {
            self.untrack();
        }
        let _ = self.give(1);
    }

    fn value(&self) -> u32 {
        self.st().value.load(SeqCst)
    }
}

/// Holds one permit of a [`Semaphore`] or [`BoundedSemaphore`]; gives it
/// back when dropped, or, if its process dies, when a waiter notices.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    core: &'a Core,
    tracked: bool,
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard")
            .field("tracked", &self.tracked)
            .finish()
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        self.core.drop_guard(self.tracked);
    }
}

macro_rules! semaphore_common {
    ($Sem:ident) => {
        impl fmt::Debug for $Sem {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($Sem))
                    .field("value", &self.value())
                    .finish()
            }
        }

        impl $Sem {
            /// Takes a permit, blocking until one is free.
            pub fn acquire(&self) {
                let _ = self.core.take(None, true);
            }

            /// Takes a permit only if one is free now (`WouldBlock`).
            pub fn try_acquire(&self) -> Result<(), SyncError> {
                self.core.take(None, false)
            }

            /// Takes a permit, waiting at most `timeout` (`Timeout`).
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), SyncError> {
                self.core.take(crate::wait::deadline(Some(timeout)), true)
            }

            /// Takes a permit held by a guard, which gives it back when
            /// dropped, and also if this process dies holding it.
            pub fn access(&self) -> SemaphoreGuard<'_> {
                let tracked = self.core.guard(None, true).unwrap_or(false);
                SemaphoreGuard {
                    core: &self.core,
                    tracked,
                }
            }

            /// [`access`](Self::access) only if a permit is free now.
            pub fn try_access(&self) -> Result<SemaphoreGuard<'_>, SyncError> {
                let tracked = self.core.guard(None, false)?;
                Ok(SemaphoreGuard {
                    core: &self.core,
                    tracked,
                })
            }

            /// [`access`](Self::access), waiting at most `timeout`.
            pub fn access_timeout(
                &self,
                timeout: Duration,
            ) -> Result<SemaphoreGuard<'_>, SyncError> {
                let tracked = self
                    .core
                    .guard(crate::wait::deadline(Some(timeout)), true)?;
                Ok(SemaphoreGuard {
                    core: &self.core,
                    tracked,
                })
            }

            /// The permits free now.
            pub fn value(&self) -> usize {
                self.core.value() as usize
            }
        }
    };
}

/// A counting semaphore shared by processes, like Python's
/// `multiprocessing.Semaphore`.
///
/// [`acquire`](Semaphore::acquire) / [`release`](Semaphore::release) work
/// on the counter as in Python: any process may release, so it also serves
/// as a counter of items or events. [`access`](Semaphore::access) takes a
/// permit held by a guard instead, for "at most `n` at a time".
///
/// If a process dies holding permits through guards, the permits come back
/// once a waiter notices the death (within a few tens of milliseconds).
/// Permits taken with bare `acquire` are a counter operation and do not
/// come back: nothing says who would have released them. A waiter that
/// must not hang when that happens uses
/// [`acquire_timeout`](Semaphore::acquire_timeout).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Semaphore {
    core: Core,
}

semaphore_common!(Semaphore);

impl Semaphore {
    /// A semaphore with `n` permits. Panics only if the shared arena cannot
    /// be mapped or is full; [`Semaphore::try_new`] returns that.
    pub fn new(n: u32) -> Self {
        Self::try_new(n).unwrap_or_else(|e| panic!("csp: cannot create a Semaphore: {e}"))
    }

    /// [`Semaphore::new`], returning arena errors.
    pub fn try_new(n: u32) -> Result<Self, SyncError> {
        Ok(Semaphore {
            core: Core::create(n, false)?,
        })
    }

    /// Adds a permit, waking a waiter (saturates at `u32::MAX` permits).
    pub fn release(&self) {
        let _ = self.core.give(1);
    }
}

/// A semaphore whose [`release`](BoundedSemaphore::release) fails with
/// [`SyncError::Bound`] instead of raising it above its initial value,
/// like Python's `multiprocessing.BoundedSemaphore`. Otherwise as
/// [`Semaphore`]; permits coming back from dead holders never exceed the
/// bound either.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BoundedSemaphore {
    core: Core,
}

semaphore_common!(BoundedSemaphore);

impl BoundedSemaphore {
    /// A bounded semaphore with `n` permits, at most `n` at any time.
    /// Panics only if the shared arena cannot be mapped or is full.
    pub fn new(n: u32) -> Self {
        Self::try_new(n).unwrap_or_else(|e| panic!("csp: cannot create a BoundedSemaphore: {e}"))
    }

    /// [`BoundedSemaphore::new`], returning arena errors.
    pub fn try_new(n: u32) -> Result<Self, SyncError> {
        Ok(BoundedSemaphore {
            core: Core::create(n, true)?,
        })
    }

    /// Gives a permit back, waking a waiter; `Bound` if that would exceed
    /// the initial value.
    pub fn release(&self) -> Result<(), SyncError> {
        self.core.give(1)
    }

    /// The bound (the initial value).
    pub fn bound(&self) -> usize {
        self.core.st().bound.load(Relaxed) as usize
    }
}
