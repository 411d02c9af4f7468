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

pub use csp_core::{
    Channel, ChannelError, Error, Failure, FailureKind, Handle, Iter, Process, Reader, Status,
    WriteError, Writer, parallel, sequence,
};
pub use csp_macros::process;

/// Everything a network needs: `use csp::prelude::*;`.
pub mod prelude {
    pub use crate::{Parallel, Sequence, Spawn};
    pub use csp_core::{
        Channel, ChannelError, Error, Handle, Process, Reader, WriteError, Writer, parallel,
        sequence,
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
