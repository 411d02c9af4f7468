//! Message encoding: serde + bincode 2, straight into arena memory.
//!
//! Encoding runs in one of three modes, kept in a thread-local so that the
//! `Serialize` impls of channel ends know what an encode means:
//! - `Size`: only counting bytes (no side effects);
//! - `Send`: a real message: an end inside it is "in transit" and keeps its
//!   channel's counts until a receiver decodes it;
//! - `Collect`: walking a process's arguments to find the ends that move
//!   into the child.

use crate::process::Transfer;
use crate::shm;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// What an encode currently in progress on this thread is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Size,
    Send,
    Collect,
}

#[derive(Default)]
struct State {
    mode: Option<Mode>,
    /// Transit counts taken by the current `Send` encode: (obj, counter).
    transits: Vec<(u64, usize)>,
    transfer: Transfer,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Initialises this thread's encoder state (see `Process::spawn`).
pub(crate) fn warm_up() {
    STATE.with(|_| {});
}

/// The current mode, if an encode is in progress.
pub(crate) fn mode() -> Option<Mode> {
    STATE.with(|s| s.borrow().mode)
}

/// Notes that a `Send` encode took a transit count (so it can be undone).
pub(crate) fn note_transit(obj: u64, which: usize) {
    STATE.with(|s| s.borrow_mut().transits.push((obj, which)));
}

/// Notes an end found by a `Collect` walk.
pub(crate) fn note_collected(obj: u64, which: usize) {
    STATE.with(|s| s.borrow_mut().transfer.add(obj, which));
}

struct ModeGuard(Option<Mode>);

fn enter(m: Mode) -> ModeGuard {
    STATE.with(|s| ModeGuard(s.borrow_mut().mode.replace(m)))
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        STATE.with(|s| s.borrow_mut().mode = self.0);
    }
}

/// Counts bytes.
struct Counter(usize);

impl bincode::enc::write::Writer for Counter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0 += bytes.len();
        Ok(())
    }
}

/// An encoding failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value could not be encoded.
    #[error("{0}")]
    Encode(String),
    /// The bytes could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// No room in the arena.
    #[error(transparent)]
    Arena(#[from] shm::ArenaError),
}

impl From<CodecError> for crate::ChannelError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Encode(m) => crate::ChannelError::Encode(m),
            CodecError::Decode(m) => crate::ChannelError::Decode(m),
            CodecError::Arena(a) => crate::ChannelError::Arena(a),
        }
    }
}

/// The encoded size of `v`.
pub fn encoded_size<T: Serialize + ?Sized>(v: &T) -> Result<usize, CodecError> {
    let _g = enter(Mode::Size);
    let mut c = Counter(0);
    bincode::serde::encode_into_writer(v, &mut c, config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(c.0)
}

/// The transit counts taken by a `Send` encode. Call [`Sent::commit`] once
/// the message is delivered into a channel; dropping it undoes them.
#[must_use]
pub(crate) struct Sent(Vec<(u64, usize)>);

impl Sent {
    /// Whether the message carries channel ends.
    pub(crate) fn carries_ends(&self) -> bool {
        !self.0.is_empty()
    }

    /// The message is delivered: it holds its ends' counts now.
    pub(crate) fn commit(mut self) {
        for (obj, which) in self.0.drain(..) {
            crate::channel::delivered(obj, which);
        }
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        for (obj, which) in self.0.drain(..) {
            crate::channel::undo_transit(obj, which);
        }
    }
}

/// Encodes `v` into `buf`, which must be exactly its encoded size.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    v: &T,
    buf: &mut [u8],
) -> Result<Sent, CodecError> {
    let before = STATE.with(|s| s.borrow().transits.len());
    let r = {
        let _g = enter(Mode::Send);
        bincode::serde::encode_into_slice(v, buf, config())
    };
    let taken = STATE.with(|s| {
        let transits = &mut s.borrow_mut().transits;
        // `split_off(0)` would allocate a fresh Vec on every message.
        if transits.len() == before {
            Vec::new()
        } else {
            transits.split_off(before)
        }
    });
    let sent = Sent(taken);
    match r {
        Ok(n) if n == buf.len() => Ok(sent),
        Ok(n) => Err(CodecError::Encode(format!(
            "the value encoded to {n} bytes after sizing at {} (a Serialize impl that is not deterministic)",
            buf.len()
        ))),
        Err(e) => Err(CodecError::Encode(e.to_string())),
    }
}

/// Decodes a `T` from `bytes`; every byte must be used.
///
/// bincode allocates an owned string or byte buffer for the length it reads
/// *before* reading the bytes, so a corrupt length prefix (say 2^40) would
/// make the allocation fail, which aborts the process. Bincode's limit stops
/// that: it caps the memory a decode may claim in total. A buffer claims its
/// length and consumes as many bytes; a primitive claims its size in memory
/// (at most 16 bytes) and consumes at least one byte, or none for `()`,
/// which claims nothing; sequences and maps claim nothing themselves (serde
/// grows them as it reads). So a valid message of `n` bytes claims at most
/// `16 n`, and the limit is the first power of 16 at or above that (at
/// least 1 MiB): every valid message decodes, and a corrupt one can ask for
/// at most `max(1 MiB, 256 n)` bytes (no limit past 64 GiB messages). The
/// limit is a type parameter, hence one instantiation per size class.
///
/// The limit costs a check per primitive (it tripled the decode time of a
/// small struct), so it is only used when it can matter: a length of 2^32
/// or more is a varint that starts with the byte 253 or 254. A message
/// without those bytes can ask for at most 4 GiB, which on a 64-bit system
/// is only address space (`calloc` maps it lazily; the read that follows
/// fails at once and frees it).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    use bincode::config::Configuration as C;
    #[cfg(target_pointer_width = "64")]
    if !bytes
        .iter()
        .fold(false, |any, &b| any | (b == 253) | (b == 254))
    {
        return decode_with::<T, C>(bytes, config());
    }
    let need = (bytes.len() as u64).saturating_mul(16);
    match need {
        x if x <= 1 << 20 => decode_with(bytes, config().with_limit::<{ 1 << 20 }>()),
        x if x <= 1 << 24 => decode_with(bytes, config().with_limit::<{ 1 << 24 }>()),
        x if x <= 1 << 28 => decode_with(bytes, config().with_limit::<{ 1 << 28 }>()),
        #[cfg(target_pointer_width = "64")]
        x if x <= 1 << 32 => decode_with(bytes, config().with_limit::<{ 1 << 32 }>()),
        #[cfg(target_pointer_width = "64")]
        x if x <= 1 << 36 => decode_with(bytes, config().with_limit::<{ 1 << 36 }>()),
        #[cfg(target_pointer_width = "64")]
        x if x <= 1 << 40 => decode_with(bytes, config().with_limit::<{ 1 << 40 }>()),
        _ => decode_with::<T, C>(bytes, config()),
    }
}

fn decode_with<T: DeserializeOwned, C: bincode::config::Config>(
    bytes: &[u8],
    config: C,
) -> Result<T, CodecError> {
    match bincode::serde::decode_from_slice::<T, _>(bytes, config) {
        Ok((v, n)) if n == bytes.len() => Ok(v),
        Ok((_, n)) => Err(CodecError::Decode(format!(
            "{} trailing bytes after the message (the reader's type does not match the writer's)",
            bytes.len() - n
        ))),
        Err(bincode::error::DecodeError::LimitExceeded) => Err(CodecError::Decode(format!(
            "the message ({} bytes) claims more memory than it can hold: corrupt, or the reader's type does not match the writer's",
            bytes.len()
        ))),
        Err(e) => Err(CodecError::Decode(e.to_string())),
    }
}

/// Walks `v` and returns the channel ends inside it.
pub(crate) fn collect<T: Serialize + ?Sized>(v: &T) -> Transfer {
    let _g = enter(Mode::Collect);
    let saved = STATE.with(|s| std::mem::take(&mut s.borrow_mut().transfer));
    let mut c = Counter(0);
    let _ = bincode::serde::encode_into_writer(v, &mut c, config());
    STATE.with(|s| std::mem::replace(&mut s.borrow_mut().transfer, saved))
}

/// Encodes `v` into a fresh arena block; returns (offset, length).
/// Ends inside `v` are committed as in transit.
pub(crate) fn encode_to_arena<T: Serialize + ?Sized>(v: &T) -> Result<(u64, u64), CodecError> {
    let n = encoded_size(v)?;
    let b = shm::alloc(n.max(1) as u64)?;
    let a = shm::mapped();
    // SAFETY: the block is freshly allocated, at least n bytes, owned by us.
    let buf = unsafe { std::slice::from_raw_parts_mut(a.ptr(b.off), n) };
    match encode_into(v, buf) {
        Ok(sent) => {
            sent.commit();
            Ok((b.off, n as u64))
        }
        Err(e) => {
            shm::free(b.off);
            Err(e)
        }
    }
}

/// Decodes a `T` from an arena block written by [`encode_to_arena`].
pub(crate) fn decode_from_arena<T: DeserializeOwned>(off: u64, len: u64) -> Result<T, CodecError> {
    if off == 0 {
        return Err(CodecError::Decode("no value was stored".into()));
    }
    let a = shm::mapped();
    // SAFETY: the block was written by the process that owned it, which has
    // ended; nobody else touches it until we free it.
    let bytes = unsafe { std::slice::from_raw_parts(a.ptr(off), len as usize) };
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let n = encoded_size(&v).unwrap();
        let mut buf = vec![0u8; n];
        bincode::serde::encode_into_slice(&v, &mut buf, config()).unwrap();
        assert_eq!(decode::<T>(&buf).unwrap(), v);
    }

    #[test]
    fn the_limit_never_refuses_a_valid_message() {
        // The worst claim-to-byte ratios: 16 bytes of memory per encoded
        // byte (u128 zeros), 4 per byte (chars, enum tags).
        round_trip(vec![0u128; 100_000]);
        round_trip(vec![0i128; 10]);
        round_trip("a".repeat(70_000).chars().collect::<Vec<char>>());
        round_trip(vec![Some(()); 1000]);
        round_trip(vec![(); 1 << 20]);
        round_trip(vec![String::new(); 100_000]);
    }

    #[test]
    fn impossible_lengths_are_decode_errors() {
        let huge = [253u8, 0, 0, 0, 0, 0, 1, 0, 0]; // length 2^40
        assert!(matches!(
            decode::<String>(&huge),
            Err(CodecError::Decode(_))
        ));
        assert!(matches!(
            decode::<Vec<u8>>(&huge),
            Err(CodecError::Decode(_))
        ));
        // Below 2^32 no limit applies: the buffer is only mapped, and the
        // read that follows fails.
        let big = [252u8, 0xf0, 0xff, 0xff, 0xff]; // length 2^32 - 16
        assert!(matches!(decode::<String>(&big), Err(CodecError::Decode(_))));
        assert!(matches!(
            decode::<Vec<u8>>(&big),
            Err(CodecError::Decode(_))
        ));
    }
}
