//! [`Event`]: a flag that processes wait on until it is set.

use super::SyncError;
use super::shared::{Shared, State};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::time::Duration;

#[repr(C)]
struct EventState {
    flag: AtomicU32,
}

// SAFETY: one atomic; all-zero is "not set"; no drop.
unsafe impl State for EventState {
    const KIND: u64 = 0x4556_454e_5400_0001; // "EVENT"
}

/// A flag shared by processes, like Python's `multiprocessing.Event`:
/// [`set`](Event::set) wakes every process in [`wait`](Event::wait) and lets
/// later waiters through until [`clear`](Event::clear).
///
/// `Clone` gives another handle to the same event; handles are `Send` and
/// serializable, so they can be process arguments or travel in messages.
///
/// If every process that could set the event dies, a plain `wait` waits
/// forever (as with Python's); use [`wait_timeout`](Event::wait_timeout)
/// when the setter may die.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event {
    s: Shared<EventState>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// A new event, not set. Panics only if the shared arena cannot be
    /// mapped or is full; [`Event::try_new`] returns that as an error.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("csp: cannot create an Event: {e}"))
    }

    /// [`Event::new`], returning arena errors.
    pub fn try_new() -> Result<Self, SyncError> {
        Ok(Event {
            s: Shared::create(|_| {})?,
        })
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        if self.s.state().flag.swap(1, SeqCst) == 0 {
            self.s.wake_all();
        }
    }

    /// Clears the flag: later waiters block until the next `set`.
    pub fn clear(&self) {
        self.s.state().flag.store(0, SeqCst);
    }

    /// Whether the flag is set now.
    pub fn is_set(&self) -> bool {
        self.s.state().flag.load(SeqCst) != 0
    }

    /// Waits until the flag is set (returns at once if it is).
    pub fn wait(&self) {
        let _ = self.s.sleep_until(None, |_| self.is_set().then_some(()));
    }

    /// Waits at most `timeout` for the flag. Returns whether it is set
    /// (`false`: the timeout ran out first).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = crate::wait::deadline(Some(timeout));
        self.s
            .sleep_until(deadline, |_| self.is_set().then_some(()))
            .is_some()
    }
}
