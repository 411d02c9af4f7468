//! `pipe` and `pipe_oneway`: Python's `multiprocessing.Pipe` over channels.
//!
//! A duplex pipe is two buffered channels, one each way; each connection
//! holds the writer of one and the reader of the other, so the channels'
//! own counts say when the other end was closed (dropped: end of file) or
//! died (`PeerLost`), and the usual dead-peer detection applies: a process
//! blocked on a pipe whose other end died gets an error, never a hang.

use crate::codec::Mode;
use crate::error::{ChannelError, WriteError};
use crate::process::record;
use crate::shm::ArenaError;
use crate::{Channel, Reader, Writer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages a pipe holds each way before `send` blocks (a socket pair in
/// Python holds about 64 KiB).
const PIPE_BUFFER: usize = 64;

/// The error of a pipe operation.
/// Serializable, so a process can return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PipeError {
    /// The other end was closed (dropped) and nothing is left to read, or
    /// this end was closed: Python's `EOFError` / `BrokenPipeError`.
    #[error("the pipe is closed (end of file)")]
    Closed,
    /// The process holding the other end died.
    #[error("the process at the other end of the pipe died")]
    PeerLost,
    /// `recv_timeout` ran out.
    #[error("the pipe operation timed out")]
    Timeout,
    /// `try_recv` found nothing to read, or `try_send` found no room.
    #[error("the pipe operation would block")]
    WouldBlock,
    /// A process died in the middle of an operation on the pipe.
    #[error("the pipe is poisoned: a process died in the middle of an operation on it")]
    Poisoned,
    /// The message could not be encoded.
    #[error("could not encode the message: {0}")]
    Encode(String),
    /// A message could not be decoded into the receiver's type.
    #[error("could not decode the message: {0}")]
    Decode(String),
    /// The shared arena had no room.
    #[error(transparent)]
    Arena(
        #[from]
        #[serde(with = "super::ArenaErrorDef")]
        ArenaError,
    ),
}

impl From<ChannelError> for PipeError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Retired => PipeError::Closed,
            ChannelError::Poisoned => PipeError::Poisoned,
            ChannelError::PeerLost => PipeError::PeerLost,
            ChannelError::Timeout => PipeError::Timeout,
            ChannelError::WouldBlock => PipeError::WouldBlock,
            ChannelError::Encode(m) => PipeError::Encode(m),
            ChannelError::Decode(m) => PipeError::Decode(m),
            ChannelError::Arena(a) => PipeError::Arena(a),
        }
    }
}

/// Messages taken early by `poll`, kept for the next `recv`s of the same
/// process, oldest first (each tagged with its process: a forked child's
/// copy of the queue is not its own). Several threads may poll at once, so
/// this is a queue: none of their messages is lost.
struct Peeked<R> {
    /// How many messages the queue holds (so `recv` skips the lock when 0).
    count: AtomicUsize,
    slot: Mutex<VecDeque<(u64, R)>>,
}

impl<R> Peeked<R> {
    fn new() -> Arc<Self> {
        Arc::new(Peeked {
            count: AtomicUsize::new(0),
            slot: Mutex::new(VecDeque::new()),
        })
    }

    /// The oldest message `poll` took in this process, if any.
    fn take(&self) -> Option<R> {
        if self.count.load(Acquire) == 0 {
            return None;
        }
        let mut q = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let me = record::my_tag();
        let i = q.iter().position(|(tag, _)| *tag == me)?;
        let (_, v) = q.remove(i)?;
        self.count.store(q.len(), Release);
        Some(v)
    }

    fn holds_mine(&self) -> bool {
        self.count.load(Acquire) != 0 && {
            let me = record::my_tag();
            let q = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            q.iter().any(|(tag, _)| *tag == me)
        }
    }

    fn put(&self, v: R) {
        let mut q = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back((record::my_tag(), v));
        self.count.store(q.len(), Release);
    }
}

/// The receiving half shared by [`Connection`] and [`PipeReader`].
struct RecvHalf<R> {
    rx: Reader<R>,
    peeked: Arc<Peeked<R>>,
}

impl<R: DeserializeOwned> RecvHalf<R> {
    fn recv(&self) -> Result<R, PipeError> {
        if let Some(v) = self.peeked.take() {
            return Ok(v);
        }
        Ok(self.rx.read()?)
    }

    fn recv_timeout(&self, timeout: Duration) -> Result<R, PipeError> {
        if let Some(v) = self.peeked.take() {
            return Ok(v);
        }
        Ok(self.rx.read_timeout(timeout)?)
    }

    fn try_recv(&self) -> Result<R, PipeError> {
        if let Some(v) = self.peeked.take() {
            return Ok(v);
        }
        Ok(self.rx.try_read()?)
    }

    fn poll(&self, timeout: Duration) -> bool {
        if self.peeked.holds_mine() {
            return true;
        }
        let r = if timeout.is_zero() {
            self.rx.try_read()
        } else {
            self.rx.read_timeout(timeout)
        };
        match r {
            Ok(v) => {
                self.peeked.put(v);
                true
            }
            Err(ChannelError::Timeout | ChannelError::WouldBlock) => false,
            // Closed, lost, poisoned, undecodable: `recv` will not block.
            Err(_) => true,
        }
    }
}

impl<R> RecvHalf<R> {
    fn check_sendable<E: serde::ser::Error>(&self) -> Result<(), E> {
        // Spawning a child (collect) or sizing is fine: the message stays
        // with this process. Sending the end away would lose it.
        let sending = !matches!(crate::codec::mode(), Some(Mode::Collect | Mode::Size));
        if sending && self.peeked.holds_mine() {
            return Err(E::custom(
                "this connection holds a message taken by poll(); recv it before sending the connection",
            ));
        }
        Ok(())
    }
}

impl<R> Clone for RecvHalf<R> {
    fn clone(&self) -> Self {
        RecvHalf {
            rx: self.rx.clone(),
            peeked: self.peeked.clone(),
        }
    }
}

/// One end of a duplex pipe: sends `S`, receives `R`. Made by [`pipe`].
///
/// Dropping every handle on an end closes it: the other end reads what is
/// left, then gets [`PipeError::Closed`] (end of file). If the process
/// holding the other end dies, `recv` and `send` get
/// [`PipeError::PeerLost`].
pub struct Connection<S, R> {
    tx: Writer<S>,
    rx: RecvHalf<R>,
}

impl<S, R> fmt::Debug for Connection<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Connection(send@{:#x}, recv@{:#x})",
            self.tx.offset(),
            self.rx.rx.offset()
        )
    }
}

/// The two ends of a duplex pipe: the first sends `A` and receives `B`.
pub type PipePair<A, B> = (Connection<A, B>, Connection<B, A>);

/// A duplex pipe: two connected ends; what one sends the other receives.
/// The first end sends `A` and receives `B`. Panics only if the shared
/// arena cannot be mapped or is full; [`try_pipe`] returns that as an
/// error.
///
/// ```
/// use csp_core::Process;
/// use csp_core::mp::pipe;
///
/// let (parent, child) = pipe::<String, usize>();
/// let c = child.clone();
/// let p = Process::new("child", move || {
///     let s = c.recv().unwrap();
///     c.send(s.len()).unwrap();
/// })
/// .with(&child)
/// .spawn()
/// .unwrap();
/// drop(child);
/// parent.send("hello".to_string()).unwrap();
/// assert_eq!(parent.recv().unwrap(), 5);
/// p.join().unwrap();
/// ```
pub fn pipe<A, B>() -> PipePair<A, B>
where
    A: Serialize + DeserializeOwned,
    B: Serialize + DeserializeOwned,
{
    try_pipe().unwrap_or_else(|e| panic!("csp: cannot create a pipe: {e}"))
}

/// [`pipe`], returning arena errors.
pub fn try_pipe<A, B>() -> Result<PipePair<A, B>, PipeError>
where
    A: Serialize + DeserializeOwned,
    B: Serialize + DeserializeOwned,
{
    let ab = Channel::<A>::try_buffered(PIPE_BUFFER)?;
    let ba = Channel::<B>::try_buffered(PIPE_BUFFER)?;
    let first = Connection {
        tx: ab.writer(),
        rx: RecvHalf {
            rx: ba.reader(),
            peeked: Peeked::new(),
        },
    };
    let second = Connection {
        tx: ba.writer(),
        rx: RecvHalf {
            rx: ab.reader(),
            peeked: Peeked::new(),
        },
    };
    Ok((first, second))
}

impl<S: Serialize, R: DeserializeOwned> Connection<S, R> {
    /// Sends `msg` to the other end; blocks only if the pipe's buffer is
    /// full. `Closed` if the other end was closed, `PeerLost` if it died.
    pub fn send(&self, msg: S) -> Result<(), PipeError> {
        Ok(self.tx.write(msg)?)
    }

    /// Sends only if there is room now; on failure the message comes back.
    pub fn try_send(&self, msg: S) -> Result<(), WriteError<S>> {
        self.tx.try_write(msg)
    }

    /// [`send`](Connection::send), waiting at most `timeout` for room; on
    /// failure the message comes back (`Timeout`, or the pipe's error).
    pub fn send_timeout(&self, msg: S, timeout: Duration) -> Result<(), WriteError<S>> {
        self.tx.write_timeout(msg, timeout)
    }

    /// Receives the next message, blocking until one arrives. `Closed` once
    /// the other end was closed and everything it sent has been read;
    /// `PeerLost` if it died.
    pub fn recv(&self) -> Result<R, PipeError> {
        self.rx.recv()
    }

    /// [`recv`](Connection::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<R, PipeError> {
        self.rx.recv_timeout(timeout)
    }

    /// Receives a message only if one is there now (`WouldBlock` otherwise).
    pub fn try_recv(&self) -> Result<R, PipeError> {
        self.rx.try_recv()
    }

    /// Whether `recv` would return at once, waiting at most `timeout` for
    /// that: a message is there, or the pipe is closed or its peer lost (as
    /// in Python, end of file counts as readable). A message that arrives
    /// is kept for this process's next `recv`.
    pub fn poll(&self, timeout: Duration) -> bool {
        self.rx.poll(timeout)
    }
}

impl<S, R> Connection<S, R> {
    /// Closes this handle on the end at once (dropping it does the same):
    /// once every handle on this end is closed, the other end reads end of
    /// file. Later operations on this handle fail with `Closed`.
    pub fn close(&self) {
        self.tx.retire();
        self.rx.rx.retire();
    }
}

impl<S, R> Clone for Connection<S, R> {
    /// Another handle on the same end.
    fn clone(&self) -> Self {
        Connection {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl<S, R> Serialize for Connection<S, R> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.rx.check_sendable()?;
        (&self.tx, &self.rx.rx).serialize(s)
    }
}

impl<'de, S, R> Deserialize<'de> for Connection<S, R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (tx, rx) = <(Writer<S>, Reader<R>)>::deserialize(d)?;
        Ok(Connection {
            tx,
            rx: RecvHalf {
                rx,
                peeked: Peeked::new(),
            },
        })
    }
}

/// The receiving end of a one-way pipe. Made by [`pipe_oneway`].
pub struct PipeReader<T>(RecvHalf<T>);

/// The sending end of a one-way pipe. Made by [`pipe_oneway`].
pub struct PipeWriter<T>(Writer<T>);

impl<T> fmt::Debug for PipeReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PipeReader@{:#x}", self.0.rx.offset())
    }
}

impl<T> fmt::Debug for PipeWriter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PipeWriter@{:#x}", self.0.offset())
    }
}

/// A one-way pipe: `(receiving end, sending end)`, in the order of Python's
/// `Pipe(duplex=False)`. Panics only if the shared arena cannot be mapped or
/// is full.
pub fn pipe_oneway<T: Serialize + DeserializeOwned>() -> (PipeReader<T>, PipeWriter<T>) {
    let ch = Channel::<T>::buffered(PIPE_BUFFER);
    (
        PipeReader(RecvHalf {
            rx: ch.reader(),
            peeked: Peeked::new(),
        }),
        PipeWriter(ch.writer()),
    )
}

impl<T: DeserializeOwned> PipeReader<T> {
    /// Receives the next message; see [`Connection::recv`].
    pub fn recv(&self) -> Result<T, PipeError> {
        self.0.recv()
    }

    /// [`recv`](PipeReader::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, PipeError> {
        self.0.recv_timeout(timeout)
    }

    /// Receives a message only if one is there now.
    pub fn try_recv(&self) -> Result<T, PipeError> {
        self.0.try_recv()
    }

    /// Whether `recv` would return at once; see [`Connection::poll`].
    pub fn poll(&self, timeout: Duration) -> bool {
        self.0.poll(timeout)
    }
}

impl<T> PipeReader<T> {
    /// Closes this handle on the end (dropping it does the same).
    pub fn close(&self) {
        self.0.rx.retire();
    }
}

impl<T: Serialize> PipeWriter<T> {
    /// Sends `msg`; see [`Connection::send`].
    pub fn send(&self, msg: T) -> Result<(), PipeError> {
        Ok(self.0.write(msg)?)
    }

    /// Sends only if there is room now; on failure the message comes back.
    pub fn try_send(&self, msg: T) -> Result<(), WriteError<T>> {
        self.0.try_write(msg)
    }

    /// Sends `msg`, waiting at most `timeout` for room; see
    /// [`Connection::send_timeout`].
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), WriteError<T>> {
        self.0.write_timeout(msg, timeout)
    }
}

impl<T> PipeWriter<T> {
    /// Closes this handle on the end (dropping it does the same): once every
    /// handle is closed, the reader gets end of file.
    pub fn close(&self) {
        self.0.retire();
    }
}

impl<T> Clone for PipeReader<T> {
    fn clone(&self) -> Self {
        PipeReader(self.0.clone())
    }
}

impl<T> Clone for PipeWriter<T> {
    fn clone(&self) -> Self {
        PipeWriter(self.0.clone())
    }
}

impl<T> Serialize for PipeReader<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.0.check_sendable()?;
        self.0.rx.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for PipeReader<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PipeReader(RecvHalf {
            rx: Reader::deserialize(d)?,
            peeked: Peeked::new(),
        }))
    }
}

impl<T> Serialize for PipeWriter<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for PipeWriter<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PipeWriter(Writer::deserialize(d)?))
    }
}
