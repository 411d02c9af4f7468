//! Synchronisation primitives across processes: [`Event`], [`Barrier`],
//! [`Lock`], [`RLock`], [`Condition`], [`Semaphore`], [`BoundedSemaphore`]
//! (the set of Python's `multiprocessing`, with Rust's guard-based API).
//!
//! Each is built on a channel: a handle is a channel handle, and the
//! primitive's state lives in the channel's `aux` block. So, like channel
//! ends, every primitive is `Clone` (another handle to the same object),
//! `Send`, and serializable: it can be a `#[process]` argument or travel in
//! a message, and it is freed when the last handle in any process goes. A
//! process that holds one and dies is noticed (its death moves the
//! channel's `dead_holders` and wakes every waiter), so no primitive leaves
//! the others hanging when a participant is killed:
//!
//! - a [`Barrier`] breaks ([`SyncError::BrokenBarrier`] for everyone);
//! - a [`Lock`]/[`RLock`] holder's death gives the next locker
//!   [`LockError::OwnerDied`] with the guard, to recover;
//! - permits held through a [`SemaphoreGuard`] come back;
//! - every blocking call has a `_timeout` form.
//!
//! See `README.md` beside this file for how each is built.
//!
//! ```
//! use csp_core::sync::{Barrier, Event};
//! use csp_core::Process;
//!
//! let go = Event::new();
//! let barrier = Barrier::new(2);
//! let (g, b) = (go.clone(), barrier.clone());
//! let child = Process::new("worker", move || {
//!     g.wait();
//!     b.wait().map(|r| r.is_leader()).unwrap_or(false)
//! })
//! .with(&(&go, &barrier))
//! .spawn()
//! .unwrap();
//! go.set();
//! let me = barrier.wait().unwrap();
//! let other = child.join().unwrap();
//! assert!(me.is_leader() != other);
//! ```

mod barrier;
mod condition;
mod error;
mod event;
mod lock;
mod rlock;
mod semaphore;
mod shared;

pub use barrier::{Barrier, BarrierWaitResult, MAX_PARTIES};
pub use condition::{Condition, WaitTimeoutResult};
pub use error::{LockError, SyncError};
pub use event::Event;
pub use lock::{Lock, LockGuard, LockResult};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};

const _: () = {
    const fn shared<T: Send + Sync + Clone>() {}
    shared::<Event>();
    shared::<Barrier>();
    shared::<Lock>();
    shared::<RLock>();
    shared::<Condition>();
    shared::<Semaphore>();
    shared::<BoundedSemaphore>();
};
