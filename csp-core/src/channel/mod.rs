//! Channels: typed any-to-any ends over the untyped ring in [`core`].
//!
//! `Channel::<T>::new()` is a rendezvous: `write` returns once a reader has
//! taken the value. `Channel::<T>::buffered(n)` holds up to `n` messages.
//! Ends are `Clone` (many readers, many writers, each message delivered
//! exactly once), `Send`, and serializable: an end sent through a channel
//! works in the process that receives it.

pub(crate) mod core;
mod ring;

use self::core::{Block_, HANDLES, INLINE, Payload, READERS, Taken, WRITERS};
use crate::codec::{self, Mode};
use crate::error::{ChannelError, WriteError};
use crate::process::Transfer;
use crate::shm;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) use self::core::delivered;
pub use self::core::{release_dead, release_exit, retain_counts, undo_transit};

/// Finds the channel ends inside `value` (for a process's arguments).
pub fn collect<T: Serialize + ?Sized>(t: &mut Transfer, value: &T) {
    let found = codec::collect(value);
    t.merge(found);
}

/// An any-to-any channel carrying `T`. Holding a `Channel` keeps it
/// allocated; it is neither a reader nor a writer.
pub struct Channel<T> {
    off: u64,
    generation: u64,
    _t: PhantomData<fn(T) -> T>,
}

/// The reading end of a channel.
pub struct Reader<T> {
    off: u64,
    generation: u64,
    retired: AtomicBool,
    _t: PhantomData<fn() -> T>,
}

/// The writing end of a channel.
pub struct Writer<T> {
    off: u64,
    generation: u64,
    retired: AtomicBool,
    _t: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel@{:#x}", self.off)
    }
}
impl<T> fmt::Debug for Reader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader@{:#x}", self.off)
    }
}
impl<T> fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Writer@{:#x}", self.off)
    }
}

impl<T: Serialize + DeserializeOwned> Default for Channel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Serialize + DeserializeOwned> Channel<T> {
    /// A rendezvous channel. Panics only if the shared arena cannot be
    /// mapped or is full; [`Channel::try_new`] returns that as an error.
    pub fn new() -> Self {
        Self::try_buffered(0).unwrap_or_else(|e| panic!("csp: cannot create a channel: {e}"))
    }

    /// A channel holding up to `n` messages (`0` is a rendezvous).
    pub fn buffered(n: usize) -> Self {
        Self::try_buffered(n).unwrap_or_else(|e| panic!("csp: cannot create a channel: {e}"))
    }

    /// [`Channel::new`], returning arena errors.
    pub fn try_new() -> Result<Self, ChannelError> {
        Self::try_buffered(0)
    }

    /// [`Channel::buffered`], returning arena errors.
    pub fn try_buffered(n: usize) -> Result<Self, ChannelError> {
        let n = u32::try_from(n).map_err(|_| shm::ArenaError::Exhausted(u64::MAX))?;
        let (off, generation) = core::create(n)?;
        core::set_dropper(off, drop_message::<T>);
        Ok(Channel {
            off,
            generation,
            _t: PhantomData,
        })
    }

    /// A new reading end.
    pub fn reader(&self) -> Reader<T> {
        core::add_local(self.off, READERS);
        Reader {
            off: self.off,
            generation: self.generation,
            retired: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// A new writing end.
    pub fn writer(&self) -> Writer<T> {
        core::add_local(self.off, WRITERS);
        Writer {
            off: self.off,
            generation: self.generation,
            retired: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// Poisons the channel: every end, now and later, gets `Poisoned`.
    pub fn poison(&self) {
        core::poison(self.off);
    }

    /// Messages buffered now.
    pub fn len(&self) -> usize {
        let c = core::chan(self.off);
        // `head` first: it never passes the `tail` read after it.
        let head = c.head.load(Ordering::Acquire);
        c.tail.load(Ordering::Acquire).saturating_sub(head) as usize
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Channel<T> {
    /// The channel's arena offset (for structures built on a channel, such
    /// as the `sync` primitives, which keep their state in its `aux` block).
    pub(crate) fn offset(&self) -> u64 {
        self.off
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        core::add_local(self.off, HANDLES);
        Channel {
            off: self.off,
            generation: self.generation,
            _t: PhantomData,
        }
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        core::release_local(self.off, HANDLES);
    }
}

/// Why decoding an end can fail although it names a live channel.
const NOT_IN_TRANSIT: &str = "no channel end of this kind is in transit on that channel (decoded twice, forged, or its sender died before delivering it)";

macro_rules! end_common {
    ($End:ident, $which:expr) => {
        impl<T> $End<T> {
            /// Retires this end. When every end on one side has retired, the
            /// other side gets `ChannelError::Retired`. Idempotent.
            pub fn retire(&self) {
                if !self.retired.swap(true, Ordering::AcqRel) {
                    core::release_local(self.off, $which);
                }
            }

            /// Poisons the channel: every end, now and later, gets `Poisoned`.
            /// A retired end has let go of the channel (which may be gone
            /// already), so poisoning through it does nothing.
            pub fn poison(&self) {
                if !self.is_retired() {
                    core::poison(self.off);
                }
            }

            /// Whether this end has been retired.
            pub fn is_retired(&self) -> bool {
                self.retired.load(Ordering::Acquire)
            }

            fn check_live(&self) -> Result<(), ChannelError> {
                if self.retired.load(Ordering::Acquire) {
                    Err(ChannelError::Retired)
                } else {
                    Ok(())
                }
            }

            #[allow(dead_code)]
            pub(crate) fn offset(&self) -> u64 {
                self.off
            }
        }

        impl<T> Clone for $End<T> {
            /// Another end on the same side (counted separately for retire).
            /// The clone of a retired end is retired: it cannot bring back a
            /// side that has retired.
            fn clone(&self) -> Self {
                let retired = self.is_retired();
                if !retired {
                    core::add_local(self.off, $which);
                }
                $End {
                    off: self.off,
                    generation: self.generation,
                    retired: AtomicBool::new(retired),
                    _t: PhantomData,
                }
            }
        }

        impl<T> Drop for $End<T> {
            fn drop(&mut self) {
                if !*self.retired.get_mut() {
                    core::release_local(self.off, $which);
                }
            }
        }

        impl<T> Serialize for $End<T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match codec::mode() {
                    Some(Mode::Size) => {}
                    Some(Mode::Collect) => {
                        if !self.is_retired() {
                            codec::note_collected(self.off, $which)
                        }
                    }
                    Some(Mode::Send) | None => {
                        if self.is_retired() {
                            return Err(serde::ser::Error::custom(
                                "a retired channel end cannot be sent",
                            ));
                        }
                        let sending = codec::mode().is_some();
                        core::add_transit(self.off, $which, sending);
                        if sending {
                            codec::note_transit(self.off, $which);
                        }
                    }
                }
                (self.off, self.generation).serialize(s)
            }
        }

        impl<'de, T> Deserialize<'de> for $End<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (off, generation) = <(u64, u64)>::deserialize(d)?;
                if !core::valid(off, generation) {
                    return Err(serde::de::Error::custom("not a live channel end"));
                }
                if !core::adopt_transit(off, $which) {
                    return Err(serde::de::Error::custom(NOT_IN_TRANSIT));
                }
                Ok($End {
                    off,
                    generation,
                    retired: AtomicBool::new(false),
                    _t: PhantomData,
                })
            }
        }
    };
}

end_common!(Reader, READERS);
end_common!(Writer, WRITERS);

impl<T> Serialize for Channel<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match codec::mode() {
            Some(Mode::Size) => {}
            Some(Mode::Collect) => codec::note_collected(self.off, HANDLES),
            Some(Mode::Send) | None => {
                let sending = codec::mode().is_some();
                core::add_transit(self.off, HANDLES, sending);
                if sending {
                    codec::note_transit(self.off, HANDLES);
                }
            }
        }
        (self.off, self.generation).serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Channel<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (off, generation) = <(u64, u64)>::deserialize(d)?;
        if !core::valid(off, generation) {
            return Err(serde::de::Error::custom("not a live channel"));
        }
        if !core::adopt_transit(off, HANDLES) {
            return Err(serde::de::Error::custom(NOT_IN_TRANSIT));
        }
        Ok(Channel {
            off,
            generation,
            _t: PhantomData,
        })
    }
}

/// How long a `try_write` on a rendezvous waits for a reader that was
/// already waiting to take the value.
const TRY_GRACE: Duration = Duration::from_millis(100);

impl<T: Serialize> Writer<T> {
    pub(crate) fn encode(&self, value: &T) -> Result<(Payload, codec::Sent), ChannelError> {
        let (payload, sent) = self.encode_payload(value)?;
        if sent.carries_ends() {
            core::note_carries_ends(self.off);
        }
        Ok((payload, sent))
    }

    fn encode_payload(&self, value: &T) -> Result<(Payload, codec::Sent), ChannelError> {
        let n = codec::encoded_size(value)?;
        if n <= INLINE {
            let mut buf = [0u8; INLINE];
            let sent = codec::encode_into(value, &mut buf[..n])?;
            Ok((Payload::Inline(buf, n), sent))
        } else {
            let b = shm::alloc(n as u64)?;
            // SAFETY: a fresh block of at least n bytes that only we use.
            let buf = unsafe { std::slice::from_raw_parts_mut(shm::mapped().ptr(b.off), n) };
            match codec::encode_into(value, buf) {
                Ok(sent) => Ok((Payload::Heap(b, n), sent)),
                Err(e) => {
                    shm::free(b.off);
                    Err(e.into())
                }
            }
        }
    }

    fn send(&self, value: T, how: Block_) -> Result<(), WriteError<T>> {
        if let Err(error) = self.check_live() {
            return Err(WriteError { error, value });
        }
        let rendezvous = core::chan(self.off).rendezvous.load(Ordering::Relaxed) != 0;
        // A rendezvous try_write with no reader waiting fails before any
        // encoding work (polling loops call it often).
        if rendezvous
            && matches!(how, Block_::No)
            && core::chan(self.off).read_waiting.load(Ordering::SeqCst) == 0
        {
            let error = core::write_error(core::chan(self.off)).unwrap_or(ChannelError::WouldBlock);
            return Err(WriteError { error, value });
        }
        let (payload, sent) = match self.encode(&value) {
            Ok(x) => x,
            Err(error) => return Err(WriteError { error, value }),
        };
        let register = rendezvous || matches!(how, Block_::Until(_));
        let ticket = match core::put(self.off, payload, how, register) {
            Ok(t) => t,
            Err((error, payload)) => {
                payload.free();
                return Err(WriteError { error, value });
            }
        };
        if rendezvous {
            // A try_write goes ahead only when a reader is waiting; it gives
            // that reader a moment to take the value, then withdraws it.
            let how = match how {
                Block_::No => Block_::Until(crate::wait::deadline(Some(TRY_GRACE))),
                b => b,
            };
            let r = core::await_taken(self.off, ticket, how);
            core::unregister_writer(self.off);
            if let Err(error) = r {
                return Err(WriteError { error, value });
            }
        }
        let carries = sent.carries_ends();
        sent.commit();
        // The value's own ends now travel in the message; this copy goes.
        drop(value);
        if carries {
            // The last reader may have gone as we put it (see `core`).
            core::purge_if_unreadable(self.off);
        }
        Ok(())
    }

    /// Writes `value`, blocking: for a rendezvous until a reader has taken
    /// it, for a buffered channel until there is room.
    pub fn write(&self, value: T) -> Result<(), ChannelError> {
        self.send(value, Block_::Until(None)).map_err(|e| e.error)
    }

    /// [`Writer::write`] with a timeout; on failure the value comes back.
    pub fn write_timeout(&self, value: T, timeout: Duration) -> Result<(), WriteError<T>> {
        self.send(value, Block_::Until(crate::wait::deadline(Some(timeout))))
    }

    /// Writes only if that can happen now: room in the buffer, or for a
    /// rendezvous, a reader waiting (which then has up to 100 ms to take the
    /// value before it is withdrawn). On failure the value comes back with
    /// `WouldBlock` or the channel's error.
    pub fn try_write(&self, value: T) -> Result<(), WriteError<T>> {
        self.send(value, Block_::No)
    }
}

impl<T: DeserializeOwned> Reader<T> {
    fn recv(&self, how: Block_) -> Result<T, ChannelError> {
        self.check_live()?;
        let taken = core::take(self.off, how)?;
        decode_taken(taken)
    }

    /// Reads a value, blocking until one arrives.
    pub fn read(&self) -> Result<T, ChannelError> {
        self.recv(Block_::Until(None))
    }

    /// [`Reader::read`] with a timeout.
    pub fn read_timeout(&self, timeout: Duration) -> Result<T, ChannelError> {
        self.recv(Block_::Until(crate::wait::deadline(Some(timeout))))
    }

    /// Reads a value only if one is there now (`WouldBlock` otherwise).
    pub fn try_read(&self) -> Result<T, ChannelError> {
        self.recv(Block_::No)
    }

    /// Iterates over the values read until the channel retires (or any
    /// other error: poison, a lost peer).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { r: self }
    }
}

/// Decodes one message and drops it: releases the ends inside a message
/// nobody will read (see `core::purge_if_unreadable`).
fn drop_message<T: DeserializeOwned>(taken: Taken) {
    let _ = decode_taken::<T>(taken);
}

pub(crate) fn decode_taken<T: DeserializeOwned>(taken: Taken) -> Result<T, ChannelError> {
    match taken {
        Taken::Inline(bytes, n) => Ok(codec::decode(&bytes[..n])?),
        Taken::Heap(off, n) => {
            let a = shm::mapped();
            // SAFETY: the reader took the message out of the ring under the
            // lock; the block is ours alone until we free it below.
            let bytes = unsafe { std::slice::from_raw_parts(a.ptr(off), n) };
            let r = codec::decode(bytes);
            shm::free(off);
            Ok(r?)
        }
    }
}

/// Iterator over a reader's values; see [`Reader::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    r: &'a Reader<T>,
}

impl<T: DeserializeOwned> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.r.read().ok()
    }
}

impl<'a, T: DeserializeOwned> IntoIterator for &'a Reader<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
