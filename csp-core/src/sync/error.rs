//! Errors of the sync primitives: [`SyncError`] for everything but locks,
//! and [`LockError`], which hands the guard back when a holder died.

use crate::ChannelError;
use crate::shm::ArenaError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The error of an Event, Barrier or Semaphore operation, or of creating
/// any primitive. Serializable, so a process can return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SyncError {
    /// The timeout ran out. (For a barrier: this party gave up, which broke
    /// the barrier for the others.)
    #[error("the operation timed out")]
    Timeout,
    /// A `try_` operation could not complete at once.
    #[error("the operation would block")]
    WouldBlock,
    /// The barrier is broken: a party timed out or died, or someone called
    /// `abort()`. Call `reset()` to use it again.
    #[error(
        "the barrier is broken (a party timed out or died, or abort() was called); reset() makes it usable again"
    )]
    BrokenBarrier,
    /// `release()` would raise a bounded semaphore above its initial value.
    #[error("release() would raise the bounded semaphore above its bound of {0}")]
    Bound(u32),
    /// A barrier was asked for more parties than it can count.
    #[error("a barrier holds at most {max} parties ({0} asked)", max = super::barrier::MAX_PARTIES)]
    TooManyParties(usize),
    /// The shared arena had no room for the primitive.
    #[error(transparent)]
    Arena(
        #[from]
        #[serde(with = "ArenaErrorDef")]
        ArenaError,
    ),
}

/// Serde's view of [`ArenaError`] (defined elsewhere, without serde).
#[derive(Serialize, Deserialize)]
#[serde(remote = "ArenaError")]
enum ArenaErrorDef {
    Exhausted(u64),
    Map(String),
}

impl SyncError {
    /// Creating the underlying channel fails only on arena errors.
    pub(crate) fn from_channel(e: ChannelError) -> Self {
        match e {
            ChannelError::Arena(a) => SyncError::Arena(a),
            other => SyncError::Arena(ArenaError::Map(other.to_string())),
        }
    }
}

/// The error of taking a [`Lock`](super::Lock) or [`RLock`](super::RLock)
/// (or of a [`Condition`](super::Condition) wait, which retakes one).
///
/// `OwnerDied` is not a failure to lock: the caller holds the lock, and
/// gets the guard inside, like `std::sync::PoisonError`. The previous
/// holder died (killed, or panicked) while holding it, so whatever it
/// guarded may be half-updated. Only the first locker after the death is
/// told; the lock is usable again as soon as that guard is dropped.
#[derive(thiserror::Error)]
pub enum LockError<G> {
    /// A previous holder died holding the lock; the lock is now held by the
    /// caller, through this guard.
    #[error("a previous holder died holding the lock; you hold it now (recover with into_inner)")]
    OwnerDied(G),
    /// `try_lock` found the lock held.
    #[error("the lock is held by someone else")]
    WouldBlock,
    /// `lock_timeout` ran out.
    #[error("timed out waiting for the lock")]
    Timeout,
}

impl<G> LockError<G> {
    /// The guard, if the lock was taken (after an owner died).
    pub fn into_inner(self) -> Option<G> {
        match self {
            LockError::OwnerDied(g) => Some(g),
            _ => None,
        }
    }

    /// Whether a previous owner died (the caller then holds the lock).
    pub fn is_owner_died(&self) -> bool {
        matches!(self, LockError::OwnerDied(_))
    }

    /// The same error with its guard transformed.
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> LockError<H> {
        match self {
            LockError::OwnerDied(g) => LockError::OwnerDied(f(g)),
            LockError::WouldBlock => LockError::WouldBlock,
            LockError::Timeout => LockError::Timeout,
        }
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            LockError::WouldBlock => f.write_str("WouldBlock"),
            LockError::Timeout => f.write_str("Timeout"),
        }
    }
}
