//! The runtime of `csp`: use the `csp` facade crate.
//!
//! Layers, each using only those below it: `sys` (all OS calls), `shm` (the
//! shared arena), `wait` (futex waits), `process` (fork, records, results),
//! `codec` (bincode 2), `channel`.

pub mod alt;
pub mod channel;
pub mod codec;
pub mod error;
pub mod mp;
pub mod process;
pub mod shm;
pub mod sync;
pub mod sys;
pub mod wait;

pub use channel::{Channel, Iter, Reader, Writer};
pub use error::{ChannelError, Error, Failure, FailureKind, WriteError};
pub use process::{Handle, Process, Status, parallel, sequence};

#[doc(hidden)]
pub mod __private {
    pub use crate::process::Transfer;
    pub use crate::process::reclaim_orphans;
    pub use crate::process::tuple::Processes;
    use serde::Serialize;

    /// Wraps a process argument for [`collect_arg!`](crate::collect_arg).
    #[allow(missing_debug_implementations)]
    pub struct CollectArg<'a, T>(pub &'a T);

    /// Arguments that serialize: walk them for channel ends.
    pub trait ViaSerde {
        fn __csp_collect(&self, t: &mut Transfer);
    }
    impl<T: Serialize> ViaSerde for CollectArg<'_, T> {
        fn __csp_collect(&self, t: &mut Transfer) {
            crate::channel::collect(t, self.0);
        }
    }

    /// Other arguments hold no trackable ends.
    pub trait ViaNothing {
        fn __csp_collect(&self, t: &mut Transfer);
    }
    impl<T> ViaNothing for &CollectArg<'_, T> {
        fn __csp_collect(&self, _t: &mut Transfer) {}
    }
}

/// Records the channel ends inside a process argument (used by `#[process]`).
#[doc(hidden)]
#[macro_export]
macro_rules! collect_arg {
    ($t:ident, $a:ident) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaNothing as _, ViaSerde as _};
        (&$crate::__private::CollectArg(&$a)).__csp_collect(&mut $t);
    }};
}
