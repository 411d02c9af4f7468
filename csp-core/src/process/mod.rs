//! Processes: start (fork), run, return value, exit status, supervision.
//!
//! # What code inside a process may rely on
//!
//! A process is forked from its parent. In the child only the forking thread
//! exists. The library holds no process-local lock across `fork` except the
//! ones it takes on purpose (stdout and stderr, so that neither is left
//! locked by a thread that does not exist in the child), and the shared
//! structures in the arena use process-shared locks that other processes
//! release normally. User code in a process may use the heap, std I/O,
//! channels, spawn threads and spawn processes. It must not rely on locks
//! that *other threads of the parent* might have held at the moment of the
//! fork (a `static Mutex` of the user's, a logger's internal lock): such a
//! lock stays locked forever in the child. The child never returns into the
//! parent's stack, never runs the parent's destructors or `atexit`
//! handlers, and flushes its own stdout and stderr before it ends.

pub(crate) mod record;
#[doc(hidden)]
pub use record::reclaim_orphans;

use crate::codec;
use crate::error::{Error, Failure, FailureKind};
use crate::shm;
use crate::sys::{self, ExitStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use std::io::Write;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

pub use record::{Transfer, sweep};

/// A process that has not started yet: calling a `#[process]` function
/// builds one and runs nothing. Start it with [`Process::spawn`], or run
/// several with `Parallel!`, `Sequence!` or [`parallel`].
#[must_use = "a Process does nothing until it is spawned or run"]
pub struct Process<R> {
    name: String,
    transfer: Transfer,
    body: Box<dyn FnOnce() -> R>,
}

impl<R> std::fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<R: Serialize + DeserializeOwned + 'static> Process<R> {
    /// A process from a closure. Channel ends captured by the closure are
    /// not tracked as moved into the child: pass them with [`Process::with`]
    /// (or use a `#[process]` function, which does this for its arguments),
    /// so that dropping the parent's copy does not retire them.
    pub fn new(name: impl Into<String>, body: impl FnOnce() -> R + 'static) -> Self {
        Process {
            name: name.into(),
            transfer: Transfer::new(),
            body: Box::new(body),
        }
    }

    #[doc(hidden)]
    pub fn __from_parts(
        name: &'static str,
        transfer: Transfer,
        body: impl FnOnce() -> R + 'static,
    ) -> Self {
        Process {
            name: name.to_string(),
            transfer,
            body: Box::new(body),
        }
    }

    /// Declares that the closure owns `value` (anything serializable that
    /// holds channel ends), so the ends count as moved into the child.
    pub fn with<T: Serialize>(mut self, value: &T) -> Self {
        crate::channel::collect(&mut self.transfer, value);
        self
    }

    /// Sets the process's name (used in errors and by [`Handle::name`]).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the process as a new OS process.
    pub fn spawn(self) -> Result<Handle<R>, Error> {
        let Process {
            name,
            transfer,
            body,
        } = self;
        shm::arena()?;
        let idx = record::alloc_record().ok_or_else(|| Error::Spawn {
            name: name.clone(),
            source: std::io::Error::other("the process table is full"),
        })?;
        record::give(idx, &transfer);
        let parent_pid = sys::getpid();
        sys::prepare_for_children();
        // Touch this thread's encoder state now, so the child (which
        // encodes its result) does not register a thread-local destructor.
        codec::warm_up();
        // Hold stdout and stderr across the fork: no other thread can then
        // hold them at the moment of the fork, so the child finds them free.
        let out = std::io::stdout();
        let err = std::io::stderr();
        let mut out_guard = out.lock();
        let err_guard = err.lock();
        let _ = out_guard.flush();
        // SAFETY: the child only runs `child_main`, which ends in `exit_now`;
        // it takes no lock another parent thread could hold (see module docs).
        let forked = unsafe { sys::fork() };
        match forked {
            Ok(sys::Forked::Child) => {
                drop(err_guard);
                drop(out_guard);
                child_main(idx, parent_pid, body)
            }
            Ok(sys::Forked::Parent(pid)) => {
                record::record(idx)
                    .pid
                    .store(pid, std::sync::atomic::Ordering::Relaxed);
                drop(err_guard);
                drop(out_guard);
                // The ends the closure holds now live in the child: dropping
                // them here releases only this process's counts.
                drop(body);
                Ok(Handle {
                    pid,
                    idx,
                    name,
                    status: Cell::new(None),
                    joined: false,
                    _r: PhantomData,
                })
            }
            Err(source) => {
                drop(err_guard);
                drop(out_guard);
                record::abandon(idx);
                Err(Error::Spawn { name, source })
            }
        }
    }

    /// Runs the process to completion in its own OS process and returns its
    /// value.
    pub fn run(self) -> Result<R, Error> {
        self.spawn()?.join()
    }
}

fn child_main<R: Serialize>(idx: u32, parent_pid: i32, body: Box<dyn FnOnce() -> R>) -> ! {
    sys::die_with_parent(parent_pid);
    record::become_child(idx);
    let r = record::record(idx);
    let outcome = catch_unwind(AssertUnwindSafe(body));
    let code = match outcome {
        Ok(value) => match store_result(r, &value) {
            Ok((off, len)) => {
                r.result_off
                    .store(off, std::sync::atomic::Ordering::Relaxed);
                r.result_len
                    .store(len, std::sync::atomic::Ordering::Relaxed);
                r.result_kind
                    .store(record::RESULT_OK, std::sync::atomic::Ordering::Release);
                // The value may hold channel ends: they travel in the encoded
                // result; dropping the local copy must not retire them.
                drop(value);
                0
            }
            Err(e) => {
                store_text(r, record::RESULT_ERROR, &e.to_string());
                drop(value);
                1
            }
        },
        Err(payload) => {
            let msg = panic_message(&*payload);
            store_text(r, record::RESULT_PANIC, &msg);
            // Dropping a panic payload can itself panic; leak it.
            std::mem::forget(payload);
            101
        }
    };
    record::exit_normally();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    sys::exit_now(code)
}

/// Stores a result: in the record if small, else in an arena block
/// (offset 0 means inline).
fn store_result<R: Serialize>(
    r: &record::Record,
    value: &R,
) -> Result<(u64, u64), codec::CodecError> {
    let n = codec::encoded_size(value)?;
    if n <= record::RESULT_INLINE {
        // SAFETY: this process owns its record's result until it publishes
        // `result_kind`; nobody reads it before then.
        let buf = unsafe { &mut (&mut *r.inline_result())[..n] };
        codec::encode_into(value, buf)?.commit();
        return Ok((0, n as u64));
    }
    codec::encode_to_arena(value)
}

fn store_text(r: &record::Record, kind: u32, text: &str) {
    if let Ok((off, len)) = store_result(r, &text) {
        r.result_off
            .store(off, std::sync::atomic::Ordering::Relaxed);
        r.result_len
            .store(len, std::sync::atomic::Ordering::Relaxed);
    }
    r.result_kind
        .store(kind, std::sync::atomic::Ordering::Release);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// A running process. Join it for its value; a handle dropped without
/// `join` is reaped in the background, so it leaves no zombie.
#[must_use = "a Handle should be joined to learn whether the process succeeded"]
pub struct Handle<R> {
    pid: i32,
    idx: u32,
    name: String,
    status: Cell<Option<ExitStatus>>,
    joined: bool,
    _r: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("status", &self.status.get())
            .finish()
    }
}

/// How a process ended.
pub use sys::ExitStatus as Status;

impl<R: DeserializeOwned> Handle<R> {
    /// The OS process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the process ended, if it has ended and been reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status.get()
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        if self.status.get().is_some() {
            return false;
        }
        match sys::try_wait_pid(self.pid) {
            Ok(Some(s)) => {
                self.status.set(Some(s));
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Asks the process to stop (SIGTERM).
    pub fn terminate(&self) -> std::io::Result<()> {
        self.signal(sys::SIGTERM)
    }

    /// Kills the process (SIGKILL).
    pub fn kill(&self) -> std::io::Result<()> {
        self.signal(sys::SIGKILL)
    }

    fn signal(&self, sig: i32) -> std::io::Result<()> {
        if self.status.get().is_some() {
            return Ok(()); // already ended; its pid may belong to someone else now
        }
        sys::send_signal(self.pid, sig)
    }

    /// Waits for the process to end and returns its value.
    pub fn join(mut self) -> Result<R, Error> {
        self.join_inner(None)
    }

    /// Waits at most `timeout`. On `Error::Timeout` the handle is still
    /// valid and the process still running.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<R, Error> {
        self.join_inner(Some(timeout))
    }

    fn join_inner(&mut self, timeout: Option<Duration>) -> Result<R, Error> {
        if self.joined {
            return Err(Error::AlreadyJoined(self.name.clone()));
        }
        let status = match self.status.get() {
            Some(s) => s,
            None => {
                let waited = match timeout {
                    None => sys::wait_pid(self.pid).map(Some),
                    Some(t) => sys::wait_pid_timeout(self.pid, t),
                };
                match waited {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        return Err(Error::Timeout {
                            name: self.name.clone(),
                            pid: self.pid,
                        });
                    }
                    Err(source) => {
                        return Err(Error::Wait {
                            name: self.name.clone(),
                            source,
                        });
                    }
                }
            }
        };
        self.status.set(Some(status));
        self.joined = true;
        finish(self.idx, self.pid, &self.name, status)
    }
}

fn read_result<R: DeserializeOwned>(
    r: &record::Record,
    off: u64,
    len: u64,
) -> Result<R, codec::CodecError> {
    if off == 0 {
        let n = (len as usize).min(record::RESULT_INLINE);
        // SAFETY: the process that wrote the record has been reaped; its
        // parent (us) is the only one reading it now.
        let buf = unsafe { &(&*r.inline_result())[..n] };
        return codec::decode(buf);
    }
    codec::decode_from_arena(off, len)
}

/// Reads the result of a reaped process and frees its record.
fn finish<R: DeserializeOwned>(
    idx: u32,
    pid: i32,
    name: &str,
    status: ExitStatus,
) -> Result<R, Error> {
    let r = record::record(idx);
    use std::sync::atomic::Ordering::*;
    let abnormal = record::mark_dead(idx); // no-op if it exited normally
    let kind = r.result_kind.load(Acquire);
    let off = r.result_off.load(Relaxed);
    let len = r.result_len.load(Relaxed);
    let fail = |kind| {
        Err(Error::Failed(vec![Failure {
            name: name.to_string(),
            pid,
            kind,
        }]))
    };
    let out = match (status, kind) {
        (ExitStatus::Code(0), record::RESULT_OK) if !abnormal => read_result::<R>(r, off, len)
            .map_err(|e| {
                Error::Failed(vec![Failure {
                    name: name.to_string(),
                    pid,
                    kind: FailureKind::Result(e.to_string()),
                }])
            }),
        (_, record::RESULT_PANIC) | (_, record::RESULT_ERROR) => {
            let text =
                read_result::<String>(r, off, len).unwrap_or_else(|_| "(message lost)".to_string());
            if kind == record::RESULT_PANIC {
                fail(FailureKind::Panicked(text))
            } else {
                fail(FailureKind::Result(text))
            }
        }
        (ExitStatus::Signal(s), _) => fail(FailureKind::Signaled {
            signal: s,
            name: sys::signal_name(s),
        }),
        (ExitStatus::Code(c), _) => fail(FailureKind::Exited(c)),
    };
    if off != 0 {
        shm::free(off);
    }
    record::free_record(idx);
    out
}

/// Forgets a process whose value nobody will read: releases what a dead
/// one held, frees its result and its record.
fn discard(idx: u32) {
    record::mark_dead(idx);
    let off = record::record(idx)
        .result_off
        .load(std::sync::atomic::Ordering::Relaxed);
    if off != 0 {
        shm::free(off);
    }
    record::free_record(idx);
}

impl<R> Drop for Handle<R> {
    fn drop(&mut self) {
        if self.joined {
            return;
        }
        let (pid, idx) = (self.pid, self.idx);
        if self.status.get().is_some() || matches!(sys::try_wait_pid(pid), Ok(Some(_))) {
            discard(idx);
        } else {
            // Still running: a small thread waits for it, so no zombie stays.
            let reaper = move || {
                let _ = sys::wait_pid(pid);
                discard(idx);
            };
            if std::thread::Builder::new()
                .name("csp-reaper".into())
                .spawn(reaper)
                .is_err()
            {
                // No thread to be had: the zombie is reaped by whoever reaps us.
            }
        }
    }
}

/// Runs every process of `procs` in parallel, each in its own OS process,
/// waits for all, and returns their values in input order. If any fail,
/// the error lists every one that failed.
pub fn parallel<R, I>(procs: I) -> Result<Vec<R>, Error>
where
    R: Serialize + DeserializeOwned + 'static,
    I: IntoIterator<Item = Process<R>>,
{
    let mut handles = Vec::new();
    let mut errors = Vec::new();
    for p in procs {
        match p.spawn() {
            Ok(h) => handles.push(Some(h)),
            Err(e) => {
                errors.push(e);
                handles.push(None);
            }
        }
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles.into_iter().flatten() {
        match h.join() {
            Ok(v) => out.push(v),
            Err(e) => errors.push(e),
        }
    }
    match Error::merge(errors) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Runs the processes one after another, each in its own OS process,
/// stopping at the first failure.
pub fn sequence<R, I>(procs: I) -> Result<Vec<R>, Error>
where
    R: Serialize + DeserializeOwned + 'static,
    I: IntoIterator<Item = Process<R>>,
{
    procs.into_iter().map(Process::run).collect()
}

#[doc(hidden)]
pub mod tuple {
    //! `Parallel!` and `Sequence!` over tuples of processes of different types.
    use super::*;

    /// A tuple of processes.
    pub trait Processes {
        /// The tuple of their values.
        type Output;
        /// Runs all at once.
        fn run_parallel(self) -> Result<Self::Output, Error>;
        /// Runs one after another.
        fn run_sequence(self) -> Result<Self::Output, Error>;
    }

    macro_rules! tuple_impl {
        ($($P:ident $h:ident),+) => {
            impl<$($P: Serialize + DeserializeOwned + 'static),+> Processes for ($(Process<$P>,)+) {
                type Output = ($($P,)+);
                #[allow(non_snake_case)]
                fn run_parallel(self) -> Result<Self::Output, Error> {
                    let ($($P,)+) = self;
                    let mut errors = Vec::new();
                    $(let $h = match $P.spawn() { Ok(h) => Some(h), Err(e) => { errors.push(e); None } };)+
                    $(let $P = match $h.map(Handle::join) {
                        Some(Ok(v)) => Some(v),
                        Some(Err(e)) => { errors.push(e); None }
                        None => None,
                    };)+
                    match Error::merge(errors) {
                        Some(e) => Err(e),
                        None => Ok(($($P.expect("every process succeeded"),)+)),
                    }
                }
                #[allow(non_snake_case)]
                fn run_sequence(self) -> Result<Self::Output, Error> {
                    let ($($P,)+) = self;
                    $(let $P = $P.run()?;)+
                    Ok(($($P,)+))
                }
            }
        };
    }
    tuple_impl!(A a);
    tuple_impl!(A a, B b);
    tuple_impl!(A a, B b, C c);
    tuple_impl!(A a, B b, C c, D d);
    tuple_impl!(A a, B b, C c, D d, E e);
    tuple_impl!(A a, B b, C c, D d, E e, F f);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o);
    tuple_impl!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, Q q);
}
