//! # csp: Communicating Sequential Processes, one OS process each
//!
//! A function marked [`#[process]`](process) becomes a process; [`Parallel!`]
//! runs a network of them; they talk only through typed [`Channel`]s that
//! live in shared memory.
//!
//! ```
//! use csp::prelude::*;
//!
//! #[process]
//! fn producer(out: Writer<u64>, n: u64) {
//!     for i in 0..n {
//!         out.write(i).unwrap();
//!     }
//!     out.retire();
//! }
//!
//! #[process]
//! fn consumer(inp: Reader<u64>) -> u64 {
//!     inp.iter().sum() // ends when every writer has retired
//! }
//!
//! let ch = Channel::<u64>::new();
//! let ((), total) = Parallel!(producer(ch.writer(), 1000), consumer(ch.reader())).unwrap();
//! assert_eq!(total, 499_500);
//! ```
//!
//! ## Processes
//!
//! Calling a `#[process]` function runs nothing: it returns a [`Process`].
//! [`Parallel!`] runs several at once, [`Sequence!`] one after another,
//! [`parallel`] a list known at run time, and [`Spawn!`] (or
//! [`Process::spawn`]) starts one and hands back a [`Handle`]. Return values
//! of any serde type travel back to the parent. Failures are reported, never
//! hung: a panic, a signal or a non-zero exit becomes an [`Error`] naming
//! every process that failed.
//!
//! ```
//! use csp::prelude::*;
//! use std::time::Duration;
//!
//! #[process]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! #[process]
//! fn nap(ms: u64) -> String {
//!     std::thread::sleep(Duration::from_millis(ms));
//!     "rested".to_string()
//! }
//!
//! let squares = csp::parallel((0..8).map(square)).unwrap();
//! assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49]);
//!
//! let mut h = nap(300).spawn().unwrap();
//! assert!(matches!(h.join_timeout(Duration::from_millis(10)), Err(csp::Error::Timeout { .. })));
//! assert_eq!(h.join().unwrap(), "rested");
//!
//! #[process]
//! fn boom() {
//!     panic!("out of coffee");
//! }
//! let err = Parallel!(boom(), square(3)).unwrap_err();
//! assert!(err.to_string().contains("`boom`") && err.to_string().contains("out of coffee"));
//! ```
//!
//! ## Channels
//!
//! [`Channel::new`] is a rendezvous: a write returns once a reader has taken
//! the value. [`Channel::buffered`] holds up to `n` messages. Ends are
//! `Clone` (any-to-any), and serializable, so an end can be sent through a
//! channel. Every blocking operation has `_timeout` and `try_` forms.
//!
//! ```
//! use csp::prelude::*;
//! use std::time::Duration;
//!
//! let ch = Channel::<String>::buffered(2);
//! let (w, r) = (ch.writer(), ch.reader());
//! w.write("a".into()).unwrap();
//! w.try_write("b".into()).unwrap();
//! let back = w.try_write("c".into()).unwrap_err(); // full: the value comes back
//! assert_eq!(back.error, ChannelError::WouldBlock);
//! assert_eq!(back.into_inner(), "c");
//! assert_eq!(r.read().unwrap(), "a");
//! w.retire(); // readers drain what is buffered, then see Retired
//! assert_eq!(r.read().unwrap(), "b");
//! assert_eq!(r.read_timeout(Duration::from_millis(10)), Err(ChannelError::Retired));
//! ```
//!
//! Retire and poison follow PyCSP: when every reader has retired, writers
//! get [`ChannelError::Retired`] (and the other way round); [`Channel::poison`]
//! (or `poison()` on any end) makes every end, now and later, fail with
//! [`ChannelError::Poisoned`], so a network can be shut down from any point.
//! A process blocked on a channel whose peers all died gets
//! [`ChannelError::PeerLost`] instead of hanging.

pub use csp_core::{
    Channel, ChannelError, Error, Failure, FailureKind, Handle, Iter, Process, Reader, Status,
    WriteError, Writer, parallel, sequence,
};
pub use csp_macros::process;

pub use csp_core::alt::{Alt, Fair, Select, Selected};
/// Alternation: the `alt` module and the [`alt!`], [`pri_alt!`] and
/// [`fair_alt!`] macros.
pub use csp_core::{alt, fair_alt, pri_alt};

/// Event, Barrier, Condition, Lock, RLock and semaphores across processes.
pub use csp_core::sync;
pub use csp_core::sync::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, LockError, RLock, Semaphore, SyncError,
};

/// Python's `multiprocessing` toolkit: Queue, Pipe, Value and Array.
pub use csp_core::mp;
pub use csp_core::mp::{Array, AtomicValue, JoinableQueue, Queue, Value, pipe, pipe_oneway};

/// Everything a network needs: `use csp::prelude::*;`.
pub mod prelude {
    pub use crate::{Parallel, Sequence, Spawn};
    pub use csp_core::alt::{Alt, Select};
    pub use csp_core::{
        Channel, ChannelError, Error, Handle, Process, Reader, WriteError, Writer, alt, fair_alt,
        parallel, pri_alt, sequence,
    };
    pub use csp_macros::process;
}

#[doc(hidden)]
pub mod __private {
    pub use csp_core::__private::*;
    pub use csp_core::collect_arg;
}

/// Runs every process as its own OS process, waits for all, and returns
/// `Result<(R1, R2, ...), csp::Error>`. If any fail, the error names every
/// one that failed.
#[macro_export]
macro_rules! Parallel {
    ($($p:expr),+ $(,)?) => {
        $crate::__private::Processes::run_parallel(($($p,)+))
    };
}

/// Runs the processes one after another, each in its own OS process, and
/// returns `Result<(R1, R2, ...), csp::Error>`; stops at the first failure.
#[macro_export]
macro_rules! Sequence {
    ($($p:expr),+ $(,)?) => {
        $crate::__private::Processes::run_sequence(($($p,)+))
    };
}

/// Starts one process and returns `Result<Handle<R>, csp::Error>`.
#[macro_export]
macro_rules! Spawn {
    ($p:expr) => {
        $crate::Process::spawn($p)
    };
}
