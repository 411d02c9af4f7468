//! Alternation: wait for whichever of several guards is ready first.
//!
//! A guard is an input (`read` on a [`Reader`]), an output (`write` of a
//! value on a [`Writer`]), a timeout, or `skip`. Exactly one guard fires
//! per selection, across any number of processes alternating over the same
//! channels: a message is never lost and never taken twice. A guard whose
//! channel is retired, poisoned or lost is ready with that error.
//!
//! Three flavours choose among the guards that are ready:
//! - **priority** ([`pri_alt!`](crate::pri_alt), [`Select::pri_select`]):
//!   the first ready guard in written order;
//! - **fair** ([`fair_alt!`](crate::fair_alt), [`Select::fair_select`]):
//!   the ready guard chosen least recently (state kept per call site and
//!   thread by the macro, in a [`Fair`] for the builder), so none starves;
//! - **arbitrary** ([`alt!`](crate::alt), [`Select::select`]): no
//!   promise (a rotating start, so no systematic bias).
//!
//! `skip` and `timeout` fire only when no other guard is ready (like
//! crossbeam's `default`).
//!
//! ```
//! use csp_core::{Channel, pri_alt};
//! use std::time::Duration;
//!
//! let (a, b) = (Channel::<u64>::buffered(1), Channel::<String>::new());
//! let (ra, wb) = (a.reader(), b.writer());
//! a.writer().write(7).unwrap();
//! let got = pri_alt! {
//!     read(ra) -> v => format!("read {:?}", v),
//!     write(wb, "hi".to_string()) -> r => format!("wrote: {r:?}"),
//!     timeout(Duration::from_millis(10)) => "nothing".to_string(),
//! };
//! assert_eq!(got, "read Ok(7)");
//! ```
//!
//! For guards known only at run time, [`Select`] builds a selection over
//! any mix of guards, and [`Alt`] reads from whichever of a list of
//! readers is ready. How it works across processes: `README.md` beside
//! this file.

pub(crate) mod cell;
mod engine;
mod macros;
pub(crate) mod offer;

use self::engine::{Fired, Op, Scratch};
use crate::channel::core::Taken;
use crate::channel::{Reader, Writer, decode_taken};
use crate::codec::Sent;
use crate::error::ChannelError;
use crate::shm;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::Cell as StdCell;
use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// The state of fair selection: the guards' order, least recently chosen
/// first. Keep one per selection site and pass it to every call.
#[derive(Debug, Default, Clone)]
pub struct Fair {
    order: Vec<usize>,
}

impl Fair {
    /// A fresh state (every guard equally recent).
    pub fn new() -> Self {
        Self::default()
    }

    fn order(&mut self, n: usize) -> &[usize] {
        if self.order.len() != n {
            self.order = (0..n).collect();
        }
        &self.order
    }

    fn chose(&mut self, i: usize) {
        if let Some(p) = self.order.iter().position(|&x| x == i) {
            self.order.remove(p);
            self.order.push(i);
        }
    }
}

/// How a selection orders the ready guards.
enum Policy<'f> {
    Pri,
    Fair(&'f mut Fair),
    Any,
}

thread_local! {
    static ROTOR: StdCell<u64> = const { StdCell::new(0x9E37_79B9_7F4A_7C15) };
}

fn fill_order(order: &mut Vec<usize>, n: usize, policy: &mut Policy<'_>) {
    order.clear();
    match policy {
        Policy::Pri => order.extend(0..n),
        Policy::Fair(f) => order.extend_from_slice(f.order(n)),
        Policy::Any => {
            // xorshift: a cheap rotating start.
            let r = ROTOR.with(|c| {
                let mut x = c.get();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.set(x);
                x
            });
            let s = if n == 0 { 0 } else { (r % n as u64) as usize };
            order.extend((s..n).chain(0..s));
        }
    }
}

/// Names the read guard of a [`Select`]; gives the value back through
/// [`Selected::read`].
pub struct ReadKey<T> {
    index: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T> ReadKey<T> {
    /// The guard's index.
    pub fn index(&self) -> usize {
        self.index
    }
}
impl<T> Clone for ReadKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ReadKey<T> {}
impl<T> fmt::Debug for ReadKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadKey({})", self.index)
    }
}

/// Names a write, timeout or skip guard of a [`Select`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardKey {
    index: usize,
}

impl GuardKey {
    /// The guard's index.
    pub fn index(&self) -> usize {
        self.index
    }
}

/// A selection over guards known at run time (any mix of reads, writes,
/// timeouts and skips), used once.
///
/// ```
/// use csp_core::Channel;
/// use csp_core::alt::Select;
///
/// let chans: Vec<Channel<u32>> = (0..4).map(|_| Channel::buffered(1)).collect();
/// let readers: Vec<_> = chans.iter().map(|c| c.reader()).collect();
/// chans[2].writer().write(5).unwrap();
///
/// let mut sel = Select::new();
/// let keys: Vec<_> = readers.iter().map(|r| sel.read(r)).collect();
/// let mut done = sel.pri_select();
/// let i = done.index();
/// assert_eq!(i, 2);
/// assert_eq!(done.read(keys[i]), Ok(5));
/// ```
pub struct Select<'a> {
    ops: Vec<Op>,
    sents: Vec<Option<Sent>>,
    order: Vec<usize>,
    scratch: Scratch,
    _ends: PhantomData<&'a ()>,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Select({} guards)", self.ops.len())
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Select<'a> {
    /// An empty selection. (With no guard at all, a selection waits
    /// forever, like occam's `STOP` and crossbeam's empty `select!`.)
    pub fn new() -> Self {
        Select {
            ops: Vec::with_capacity(8),
            sents: Vec::with_capacity(8),
            order: Vec::with_capacity(8),
            scratch: Scratch::default(),
            _ends: PhantomData,
        }
    }

    fn push(&mut self, op: Op, sent: Option<Sent>) -> usize {
        self.ops.push(op);
        self.sents.push(sent);
        self.ops.len() - 1
    }

    /// An input guard: ready when `r` has a message (or an error).
    pub fn read<T>(&mut self, r: &'a Reader<T>) -> ReadKey<T> {
        let err = r.is_retired().then_some(ChannelError::Retired);
        let index = self.push(
            Op::Read {
                off: r.offset(),
                err,
            },
            None,
        );
        ReadKey {
            index,
            _t: PhantomData,
        }
    }

    /// An output guard: ready when `value` can be written on `w` (for a
    /// rendezvous, when a reader takes it). The value is encoded now; if
    /// another guard fires, it is dropped unsent.
    pub fn write<T: Serialize>(&mut self, w: &'a Writer<T>, value: T) -> GuardKey {
        let off = w.offset();
        let op = |payload, err| Op::Write {
            off,
            payload,
            err,
            posted: false,
        };
        let index = if w.is_retired() {
            self.push(op(None, Some(ChannelError::Retired)), None)
        } else {
            match w.encode(&value) {
                Ok((p, sent)) => self.push(op(Some(p), None), Some(sent)),
                Err(e) => self.push(op(None, Some(e)), None),
            }
        };
        // Its ends (if any) now travel in the encoded copy, counted in
        // transit until the selection commits or undoes them.
        drop(value);
        GuardKey { index }
    }

    /// A timeout guard: fires after `d` if nothing else is ready.
    pub fn timeout(&mut self, d: Duration) -> GuardKey {
        GuardKey {
            index: self.push(Op::Timeout(crate::wait::deadline(Some(d))), None),
        }
    }

    /// A deadline guard: fires at `at` if nothing else is ready.
    pub fn deadline(&mut self, at: Instant) -> GuardKey {
        GuardKey {
            index: self.push(Op::Timeout(Some(at)), None),
        }
    }

    /// A skip guard: fires at once if nothing else is ready.
    pub fn skip(&mut self) -> GuardKey {
        GuardKey {
            index: self.push(Op::Skip, None),
        }
    }

    /// How many guards there are.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is no guard.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn run(mut self, mut policy: Policy<'_>) -> Selected {
        fill_order(&mut self.order, self.ops.len(), &mut policy);
        let (index, fired) = engine::run(&mut self.ops, &self.order, &mut self.scratch);
        if let Policy::Fair(f) = policy {
            f.chose(index);
        }
        if let Fired::Write(Ok(())) = fired
            && let Some(Some(s)) = self.sents.get_mut(index).map(Option::take)
        {
            let carries = s.carries_ends();
            s.commit();
            if carries && let Op::Write { off, .. } = &self.ops[index] {
                crate::channel::core::purge_if_unreadable(*off);
            }
        }
        // Other writes' transit counts are undone as `sents` drops.
        let dropper = match (&fired, &self.ops[index]) {
            (Fired::Read(Ok(_)), Op::Read { off, .. }) => crate::channel::core::dropper_of(*off),
            _ => None,
        };
        Selected {
            index,
            fired: Some(fired),
            dropper,
        }
    }

    /// Selects the first ready guard in the order they were added.
    pub fn pri_select(self) -> Selected {
        self.run(Policy::Pri)
    }

    /// Selects the ready guard chosen least recently according to `fair`.
    pub fn fair_select(self, fair: &mut Fair) -> Selected {
        self.run(Policy::Fair(fair))
    }

    /// Selects any ready guard.
    pub fn select(self) -> Selected {
        self.run(Policy::Any)
    }
}

/// The outcome of a selection: which guard fired and what it did.
pub struct Selected {
    index: usize,
    fired: Option<Fired>,
    /// Drops a message taken but never read (releasing the ends inside);
    /// taken from the channel while it was surely alive.
    dropper: Option<fn(Taken)>,
}

impl fmt::Debug for Selected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.fired {
            Some(Fired::Read(Ok(_))) => "read",
            Some(Fired::Read(Err(_))) => "read error",
            Some(Fired::Write(Ok(()))) => "written",
            Some(Fired::Write(Err(_))) => "write error",
            Some(Fired::Timeout) => "timeout",
            Some(Fired::Skip) => "skip",
            None => "taken",
        };
        write!(f, "Selected({}, {what})", self.index)
    }
}

impl Selected {
    /// The index of the guard that fired (guards are numbered from 0 in
    /// the order they were added).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The value (or error) of read guard `key`. If another guard fired,
    /// `Err(WouldBlock)` (and a message that guard took stays here for its
    /// own key). A message never read is dropped with the `Selected`.
    pub fn read<T: DeserializeOwned>(&mut self, key: ReadKey<T>) -> Result<T, ChannelError> {
        if key.index != self.index {
            return Err(ChannelError::WouldBlock);
        }
        match self.fired.take() {
            Some(Fired::Read(Ok(t))) => decode_taken(t),
            Some(Fired::Read(Err(e))) => Err(e),
            _ => Err(ChannelError::WouldBlock),
        }
    }

    /// The result of write guard `key`. If another guard fired,
    /// `Err(WouldBlock)`.
    pub fn write(&mut self, key: GuardKey) -> Result<(), ChannelError> {
        if key.index != self.index {
            return Err(ChannelError::WouldBlock);
        }
        match self.fired.take() {
            Some(Fired::Write(r)) => r,
            _ => Err(ChannelError::WouldBlock),
        }
    }

    /// Whether the guard that fired was a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.fired, Some(Fired::Timeout))
    }

    /// Whether the guard that fired was a skip.
    pub fn is_skip(&self) -> bool {
        matches!(self.fired, Some(Fired::Skip))
    }
}

impl Drop for Selected {
    fn drop(&mut self) {
        // A message taken but never read: drop it as the channel's type
        // (releasing any ends inside), or at least free its heap block.
        if let Some(Fired::Read(Ok(t))) = self.fired.take() {
            match (self.dropper, t) {
                (Some(f), t) => f(t),
                (None, Taken::Heap(off, _)) => shm::free(off),
                (None, Taken::Inline(..)) => {}
            }
        }
    }
}

/// Reads from whichever of a list of readers is ready: a reusable
/// selection over input guards known at run time. While it lives, an `Alt`
/// stays registered on its channels (so writers wake it, harmlessly, even
/// between selections), which makes each selection cheaper.
///
/// ```
/// use csp_core::Channel;
/// use csp_core::alt::Alt;
///
/// let chans: Vec<Channel<u32>> = (0..3).map(|_| Channel::buffered(4)).collect();
/// let readers: Vec<_> = chans.iter().map(|c| c.reader()).collect();
/// chans[1].writer().write(9).unwrap();
/// let mut alt = Alt::new(&readers);
/// assert_eq!(alt.fair_read(), (1, Ok(9)));
/// ```
pub struct Alt<'a, T> {
    readers: Vec<&'a Reader<T>>,
    ops: Vec<Op>,
    order: Vec<usize>,
    fair: Fair,
    scratch: Scratch,
}

impl<T> fmt::Debug for Alt<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Alt({} readers)", self.readers.len())
    }
}

impl<'a, T: DeserializeOwned> Alt<'a, T> {
    /// A selection over `readers`; guard `i` is `readers[i]`.
    pub fn new<I: IntoIterator<Item = &'a Reader<T>>>(readers: I) -> Self {
        Alt {
            readers: readers.into_iter().collect(),
            ops: Vec::new(),
            order: Vec::new(),
            fair: Fair::new(),
            scratch: Scratch::kept(),
        }
    }

    /// The readers, in guard order.
    pub fn readers(&self) -> &[&'a Reader<T>] {
        &self.readers
    }

    fn run(
        &mut self,
        pri: Option<bool>,
        deadline: Option<Instant>,
    ) -> Option<(usize, Result<T, ChannelError>)> {
        self.ops.clear();
        for r in &self.readers {
            let err = r.is_retired().then_some(ChannelError::Retired);
            self.ops.push(Op::Read {
                off: r.offset(),
                err,
            });
        }
        let n = self.ops.len();
        if let Some(d) = deadline {
            self.ops.push(Op::Timeout(Some(d)));
        }
        let mut policy = match pri {
            Some(true) => Policy::Pri,
            Some(false) => Policy::Fair(&mut self.fair),
            None => Policy::Any,
        };
        fill_order(&mut self.order, n, &mut policy);
        if deadline.is_some() {
            self.order.push(n);
        }
        let (i, fired) = engine::run(&mut self.ops, &self.order, &mut self.scratch);
        if i < n
            && let Policy::Fair(f) = policy
        {
            f.chose(i);
        }
        match fired {
            Fired::Read(Ok(t)) => Some((i, decode_taken(t))),
            Fired::Read(Err(e)) => Some((i, Err(e))),
            _ => None,
        }
    }

    /// Reads from the first ready reader in list order: (index, value).
    pub fn pri_read(&mut self) -> (usize, Result<T, ChannelError>) {
        self.run(Some(true), None)
            .unwrap_or((0, Err(ChannelError::Timeout)))
    }

    /// Reads from the ready reader chosen least recently.
    pub fn fair_read(&mut self) -> (usize, Result<T, ChannelError>) {
        self.run(Some(false), None)
            .unwrap_or((0, Err(ChannelError::Timeout)))
    }

    /// Reads from any ready reader.
    pub fn read(&mut self) -> (usize, Result<T, ChannelError>) {
        self.run(None, None)
            .unwrap_or((0, Err(ChannelError::Timeout)))
    }

    /// [`Alt::pri_read`], giving up after `d` (`None`).
    pub fn pri_read_timeout(&mut self, d: Duration) -> Option<(usize, Result<T, ChannelError>)> {
        self.run(Some(true), crate::wait::deadline(Some(d)))
    }

    /// [`Alt::fair_read`], giving up after `d` (`None`).
    pub fn fair_read_timeout(&mut self, d: Duration) -> Option<(usize, Result<T, ChannelError>)> {
        self.run(Some(false), crate::wait::deadline(Some(d)))
    }

    /// [`Alt::read`], giving up after `d` (`None`).
    pub fn read_timeout(&mut self, d: Duration) -> Option<(usize, Result<T, ChannelError>)> {
        self.run(None, crate::wait::deadline(Some(d)))
    }
}

/// One level of a macro selection (used by the `alt!` macros).
#[doc(hidden)]
#[derive(Debug)]
pub enum Step<R> {
    /// A guard's body ran and gave this.
    Done(R),
    /// Not yet dispatched.
    Pending(Selected),
}
