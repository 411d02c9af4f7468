//! Channels between two OS processes, with the peers side by side in the
//! same run: ipc-channel (between a forked child and its parent),
//! crossbeam-channel (between two threads: the in-process ceiling), a raw
//! pipe (the kernel floor) and a shared-memory spin flag (the hardware
//! floor). Scenarios and results: `benches/README.md`.
//!
//! ```text
//! cargo bench --bench channel            # about 2 minutes, prints a table of medians
//! cargo bench --bench channel -- 'round trip'
//! CSP_BENCH_PIN=1 cargo bench --bench channel   # each 1:1 pair on two different cores
//! # No criterion: n csp round trips, then n one-way messages, for strace/perf
//! # (CSP_BENCH_ONLY=rt or oneway for one of them):
//! CSP_BENCH_COUNT=200000 perf stat -e task-clock,context-switches,syscalls:sys_enter_futex \
//!     target/release/deps/channel-<hash>
//! ```
//!
//! Long-lived peers (an echo process, a sink process) are started once per
//! benchmark and handed work per sample through a control channel, so
//! process start-up is never timed. One-way scenarios time, in the sender,
//! from the first write until the receiver acknowledges the last message.

mod summary;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use csp::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The small struct of the scenarios (28 bytes of payload).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
struct Msg {
    a: u64,
    b: u32,
    c: [u8; 16],
}

fn msg(i: u64) -> Msg {
    Msg {
        a: i,
        b: i as u32,
        c: [7; 16],
    }
}

/// Size of one raw-pipe message in the small-struct scenarios.
const MSG_BYTES: usize = std::mem::size_of::<Msg>();
/// The large message: 64 KiB.
const BIG: usize = 64 << 10;

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    samples: usize,
    secs: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(samples)
        .measurement_time(Duration::from_secs(secs))
        .warm_up_time(Duration::from_secs(1));
    g
}

/// `CSP_BENCH_PIN=1`: the bench process runs on CPU 0 and every 1:1 peer
/// (process or thread) on CPU 1, so a pair never shares a core; the 4 × 4
/// scenario's processes stay free. Unset: nothing is pinned (the goals).
fn pinned() -> bool {
    std::env::var_os("CSP_BENCH_PIN").is_some_and(|v| v == "1")
}

/// Pins the calling thread to `cpu`, or frees it (`None`), in pinned mode.
fn pin(cpu: Option<usize>) {
    if !pinned() {
        return;
    }
    // SAFETY: `cpu_set_t` is a plain bit array: all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // Online CPUs (`available_parallelism` would give our own, pinned, set).
    // SAFETY: `sysconf` has no preconditions.
    let all = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    for c in cpu.map_or(0..all, |c| c..c + 1) {
        // SAFETY: `c` is below the number of CPUs, far inside the set's
        // 1024 bits; `set` is a valid, initialised set.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is valid for its size.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    assert_eq!(r, 0, "sched_setaffinity");
}

// ---- csp peers ----------------------------------------------------------------

/// Sends back every message until its input retires.
#[process]
fn echo(inp: Reader<Msg>, out: Writer<Msg>) {
    pin(Some(1));
    for m in inp.iter() {
        if out.write(m).is_err() {
            break;
        }
    }
}

/// For every `n` on `ctl`: reads `n` messages from `data`, then acknowledges.
#[process]
fn sink<T: Serialize + DeserializeOwned>(ctl: Reader<u64>, data: Reader<T>, ack: Writer<()>) {
    pin(Some(1));
    for n in ctl.iter() {
        for _ in 0..n {
            if data.read().is_err() {
                return;
            }
        }
        if ack.write(()).is_err() {
            return;
        }
    }
}

/// One-way: a csp sink process fed through a `buffered(cap)` channel.
struct CspOneWay<T: Serialize + DeserializeOwned> {
    ctl: Writer<u64>,
    data: Writer<T>,
    ack: Reader<()>,
    handle: Handle<()>,
}

impl<T: Serialize + DeserializeOwned + 'static> CspOneWay<T> {
    fn start(cap: usize) -> Self {
        let (ctl, data, ack) = (
            Channel::<u64>::new(),
            Channel::<T>::buffered(cap),
            Channel::<()>::new(),
        );
        let handle = sink::<T>(ctl.reader(), data.reader(), ack.writer())
            .spawn()
            .expect("spawn sink");
        CspOneWay {
            ctl: ctl.writer(),
            data: data.writer(),
            ack: ack.reader(),
            handle,
        }
    }

    fn run(&self, iters: u64, make: impl Fn(u64) -> T) -> Duration {
        let t = Instant::now();
        self.ctl.write(iters).expect("ctl");
        for i in 0..iters {
            self.data.write(make(i)).expect("data");
        }
        self.ack.read().expect("ack");
        t.elapsed()
    }

    fn finish(self) {
        let CspOneWay {
            ctl,
            data,
            ack,
            handle,
        } = self;
        drop((ctl, data, ack));
        handle.join().expect("sink");
    }
}

// ---- forked peers (ipc-channel, raw pipe, spin flag) --------------------------------

/// Forks; the child runs `f` and `_exit`s without touching the parent's state.
fn fork_child(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the bench is single-threaded when it forks (crossbeam threads
    // are joined before the next fork); the child runs `f`, which uses only
    // descriptors and memory it inherited, and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        pin(Some(1));
        f();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    pid
}

fn reap(pid: libc::pid_t) {
    let mut st = 0;
    // SAFETY: waits for our own child, with a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
    assert_eq!(r, pid, "waitpid");
}

/// The "stop" word on control channels of forked peers. (A forked child
/// inherits the parent's copies of every sender, so it never sees end of
/// file: it is told to stop.)
const STOP: u64 = u64::MAX;

/// One-way: an ipc-channel receiver in a forked child.
struct IpcOneWay<T: Serialize + DeserializeOwned> {
    ctl: ipc_channel::ipc::IpcSender<u64>,
    data: ipc_channel::ipc::IpcSender<T>,
    ack: ipc_channel::ipc::IpcReceiver<()>,
    pid: libc::pid_t,
}

impl<T: Serialize + DeserializeOwned> IpcOneWay<T> {
    fn start() -> Self {
        let (ctl, ctl_rx) = ipc_channel::ipc::channel::<u64>().expect("ipc");
        let (data, data_rx) = ipc_channel::ipc::channel::<T>().expect("ipc");
        let (ack_tx, ack) = ipc_channel::ipc::channel::<()>().expect("ipc");
        let pid = fork_child(move || {
            while let Ok(n) = ctl_rx.recv() {
                if n == STOP {
                    break;
                }
                for _ in 0..n {
                    if data_rx.recv().is_err() {
                        return;
                    }
                }
                if ack_tx.send(()).is_err() {
                    return;
                }
            }
        });
        IpcOneWay {
            ctl,
            data,
            ack,
            pid,
        }
    }

    fn run(&self, iters: u64, make: impl Fn(u64) -> T) -> Duration {
        let t = Instant::now();
        self.ctl.send(iters).expect("ctl");
        for i in 0..iters {
            self.data.send(make(i)).expect("data");
        }
        self.ack.recv().expect("ack");
        t.elapsed()
    }

    fn finish(self) {
        self.ctl.send(STOP).expect("ctl");
        reap(self.pid);
    }
}

fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills the valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    (fds[0], fds[1])
}

fn close(fd: i32) {
    // SAFETY: closes a descriptor this process owns and no longer uses.
    unsafe { libc::close(fd) };
}

fn write_all(fd: i32, buf: &[u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes from the unwritten tail of a valid slice.
        let n = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unread tail of a valid slice.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

/// One-way through a raw pipe: one `write` and one `read` of `size` bytes
/// per message, a control pipe and an acknowledgement pipe.
struct PipeOneWay {
    ctl: i32,
    data: i32,
    ack: i32,
    size: usize,
    pid: libc::pid_t,
}

impl PipeOneWay {
    fn start(size: usize) -> Self {
        let ((ctl_r, ctl), (data_r, data), (ack, ack_w)) = (pipe(), pipe(), pipe());
        let pid = fork_child(move || {
            for fd in [ctl, data, ack] {
                close(fd);
            }
            let mut buf = vec![0u8; size];
            let mut word = [0u8; 8];
            while read_exact(ctl_r, &mut word) {
                for _ in 0..u64::from_ne_bytes(word) {
                    if !read_exact(data_r, &mut buf) {
                        return;
                    }
                }
                if !write_all(ack_w, &[1]) {
                    return;
                }
            }
        });
        for fd in [ctl_r, data_r, ack_w] {
            close(fd);
        }
        PipeOneWay {
            ctl,
            data,
            ack,
            size,
            pid,
        }
    }

    fn run(&self, iters: u64) -> Duration {
        let buf = vec![0x5au8; self.size];
        let t = Instant::now();
        assert!(write_all(self.ctl, &iters.to_ne_bytes()));
        for _ in 0..iters {
            assert!(write_all(self.data, black_box(&buf)));
        }
        assert!(read_exact(self.ack, &mut [0]));
        t.elapsed()
    }

    fn finish(self) {
        for fd in [self.ctl, self.data, self.ack] {
            close(fd);
        }
        reap(self.pid);
    }
}

/// One-way between two threads through a crossbeam channel.
fn crossbeam_one_way<T: Send + 'static>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    cap: usize,
    make: impl Fn(u64) -> T,
) {
    let (ctl, ctl_rx) = crossbeam_channel::bounded::<u64>(0);
    let (data, data_rx) = crossbeam_channel::bounded::<T>(cap);
    let (ack_tx, ack) = crossbeam_channel::bounded::<()>(0);
    let t = std::thread::spawn(move || {
        pin(Some(1));
        for n in ctl_rx {
            for _ in 0..n {
                if data_rx.recv().is_err() {
                    return;
                }
            }
            if ack_tx.send(()).is_err() {
                return;
            }
        }
    });
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            ctl.send(iters).expect("ctl");
            for i in 0..iters {
                data.send(make(i)).expect("data");
            }
            ack.recv().expect("ack");
            t.elapsed()
        })
    });
    drop(ctl);
    t.join().expect("crossbeam sink");
}

/// A page of shared memory holding two counters, for the spin-flag floor.
struct Flags {
    ptr: *mut AtomicU64,
}

impl Flags {
    fn new() -> Self {
        // SAFETY: a fresh anonymous shared mapping of one page; no existing
        // memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        Flags { ptr: p.cast() }
    }

    fn ping(&self) -> &AtomicU64 {
        // SAFETY: the page is mapped for the life of `self`, zero-filled (a
        // valid `AtomicU64`), and 8-byte aligned.
        unsafe { &*self.ptr }
    }

    fn pong(&self) -> &AtomicU64 {
        // SAFETY: as `ping`; offset 64 keeps the two words on different
        // cache lines, inside the page.
        unsafe { &*self.ptr.add(8) }
    }
}

impl Drop for Flags {
    fn drop(&mut self) {
        // SAFETY: unmaps the page mapped in `new`; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), 4096) };
    }
}

/// Waits until `word` reaches `want`: spins in bursts of 64 with a
/// `sched_yield` after each (the runtime's strategy), never sleeps.
fn spin_until(word: &AtomicU64, want: u64) {
    loop {
        for _ in 0..64 {
            if word.load(Ordering::Acquire) >= want {
                return;
            }
            std::hint::spin_loop();
        }
        // SAFETY: `sched_yield` has no preconditions.
        unsafe { libc::sched_yield() };
    }
}

// ---- scenarios --------------------------------------------------------------------

const RT: &str = "round trip (small struct)";
const RT_ROWS: &[&str] = &[
    "csp rendezvous",
    "ipc-channel",
    "crossbeam bounded(0) threads",
    "raw pipe",
    "shm spin flag",
];

fn round_trip(c: &mut Criterion) {
    let mut g = group(c, RT, 30, 4);

    let (ping, pong) = (Channel::<Msg>::new(), Channel::<Msg>::new());
    let h = echo(ping.reader(), pong.writer())
        .spawn()
        .expect("spawn echo");
    let (w, r) = (ping.writer(), pong.reader());
    drop((ping, pong));
    g.bench_function(RT_ROWS[0], |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            w.write(msg(i)).expect("write");
            r.read().expect("read")
        })
    });
    drop((w, r));
    h.join().expect("echo");

    let (tx1, rx1) = ipc_channel::ipc::channel::<Msg>().expect("ipc");
    let (tx2, rx2) = ipc_channel::ipc::channel::<Msg>().expect("ipc");
    let pid = fork_child(move || {
        while let Ok(m) = rx1.recv() {
            if m.a == STOP || tx2.send(m).is_err() {
                break;
            }
        }
    });
    g.bench_function(RT_ROWS[1], |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            tx1.send(msg(i)).expect("send");
            rx2.recv().expect("recv")
        })
    });
    tx1.send(msg(STOP)).expect("send");
    reap(pid);

    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let pid = fork_child(move || {
        close(w1);
        close(r2);
        let mut buf = [0u8; MSG_BYTES];
        while read_exact(r1, &mut buf) && write_all(w2, &buf) {}
    });
    close(r1);
    close(w2);
    g.bench_function(RT_ROWS[3], |b| {
        let mut buf = [1u8; MSG_BYTES];
        b.iter(|| {
            assert!(write_all(w1, black_box(&buf)));
            assert!(read_exact(r2, &mut buf));
        })
    });
    close(w1);
    close(r2);
    reap(pid);

    // One child per sample, so nothing spins between samples.
    g.bench_function(RT_ROWS[4], |b| {
        b.iter_custom(|iters| {
            let f = Flags::new();
            let pid = fork_child(|| {
                for i in 1..=iters + 1 {
                    spin_until(f.ping(), i);
                    f.pong().store(i, Ordering::Release);
                }
            });
            // One untimed exchange: the child is up.
            f.ping().store(1, Ordering::Release);
            spin_until(f.pong(), 1);
            let t = Instant::now();
            for i in 2..=iters + 1 {
                f.ping().store(i, Ordering::Release);
                spin_until(f.pong(), i);
            }
            let dt = t.elapsed();
            reap(pid);
            dt
        })
    });

    // Threads last: nothing forks while they live.
    let (tx1, rx1) = crossbeam_channel::bounded::<Msg>(0);
    let (tx2, rx2) = crossbeam_channel::bounded::<Msg>(0);
    let t = std::thread::spawn(move || {
        pin(Some(1));
        for m in rx1 {
            if tx2.send(m).is_err() {
                break;
            }
        }
    });
    g.bench_function(RT_ROWS[2], |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            tx1.send(msg(i)).expect("send");
            rx2.recv().expect("recv")
        })
    });
    drop(tx1);
    t.join().expect("crossbeam echo");
    g.finish();
}

const SMALL: &str = "one-way small struct";
const SMALL_ROWS: &[&str] = &[
    "csp buffered(1024)",
    "ipc-channel",
    "crossbeam bounded(1024) threads",
    "raw pipe (write+read per msg)",
];

fn one_way_small(c: &mut Criterion) {
    let mut g = group(c, SMALL, 20, 4);
    g.throughput(Throughput::Elements(1));

    let csp = CspOneWay::<Msg>::start(1024);
    g.bench_function(SMALL_ROWS[0], |b| b.iter_custom(|n| csp.run(n, msg)));
    csp.finish();

    let ipc = IpcOneWay::<Msg>::start();
    g.bench_function(SMALL_ROWS[1], |b| b.iter_custom(|n| ipc.run(n, msg)));
    ipc.finish();

    let raw = PipeOneWay::start(MSG_BYTES);
    g.bench_function(SMALL_ROWS[3], |b| b.iter_custom(|n| raw.run(n)));
    raw.finish();

    crossbeam_one_way(&mut g, SMALL_ROWS[2], 1024, msg);
    g.finish();
}

const LARGE: &str = "one-way 64 KiB ByteBuf";
const LARGE_ROWS: &[&str] = &[
    "csp buffered(16)",
    "csp buffered(1024)",
    "ipc-channel",
    "crossbeam bounded(16) threads",
    "raw pipe (write+read per msg)",
    "sender's clone alone",
];

fn one_way_large(c: &mut Criterion) {
    let mut g = group(c, LARGE, 20, 4);
    g.throughput(Throughput::Bytes(BIG as u64));
    // Every sender makes a fresh value per message (a clone: malloc + 64 KiB
    // copy), as a real producer would; the last row is that cost alone.
    let big = ByteBuf::from(vec![0xabu8; BIG]);
    let make = |_| big.clone();

    for (cap, row) in [(16, LARGE_ROWS[0]), (1024, LARGE_ROWS[1])] {
        let csp = CspOneWay::<ByteBuf>::start(cap);
        g.bench_function(row, |b| b.iter_custom(|n| csp.run(n, make)));
        csp.finish();
    }

    let ipc = IpcOneWay::<ByteBuf>::start();
    g.bench_function(LARGE_ROWS[2], |b| b.iter_custom(|n| ipc.run(n, make)));
    ipc.finish();

    let raw = PipeOneWay::start(BIG);
    g.bench_function(LARGE_ROWS[4], |b| b.iter_custom(|n| raw.run(n)));
    raw.finish();

    g.bench_function(LARGE_ROWS[5], |b| b.iter(|| black_box(big.clone())));

    crossbeam_one_way(&mut g, LARGE_ROWS[3], 16, make);
    g.finish();
}

/// For every `n` on `ctl`: writes `n` messages, then a `None` marker.
#[process]
fn feeder(ctl: Reader<u64>, out: Writer<Option<Msg>>) {
    pin(None);
    for n in ctl.iter() {
        for i in 0..n {
            if out.write(Some(msg(i))).is_err() {
                return;
            }
        }
        if out.write(None).is_err() {
            return;
        }
    }
}

/// Reads messages; on each `None` marker acknowledges with how many it read
/// since the last one. Returns its total.
#[process]
fn eater(inp: Reader<Option<Msg>>, ack: Writer<u64>) -> u64 {
    pin(None);
    let (mut total, mut since) = (0, 0);
    loop {
        match inp.read() {
            Ok(Some(_)) => since += 1,
            Ok(None) => {
                total += since;
                if ack.write(since).is_err() {
                    break;
                }
                since = 0;
            }
            Err(_) => break,
        }
    }
    total + since
}

const MANY: &str = "4 writers x 4 readers, small struct";
const MANY_ROWS: &[&str] = &[
    "csp buffered(1024), 8 processes",
    "crossbeam bounded(1024), 8 threads",
];
const K: usize = 4;

/// The share of `iters` messages of feeder `k` of `K`.
fn share(iters: u64, k: usize) -> u64 {
    iters / K as u64 + u64::from((k as u64) < iters % K as u64)
}

fn many_to_many(c: &mut Criterion) {
    let mut g = group(c, MANY, 10, 6);
    g.throughput(Throughput::Elements(1));

    // Each sample: the parent gives each feeder its share, then waits for the
    // four `None` markers to be read. The channel is FIFO, so once the last
    // marker is taken every message has been taken.
    let data = Channel::<Option<Msg>>::buffered(1024);
    let ack = Channel::<u64>::buffered(K);
    let ctls: Vec<_> = (0..K).map(|_| Channel::<u64>::new()).collect();
    let feeders: Vec<_> = ctls
        .iter()
        .map(|ctl| {
            feeder(ctl.reader(), data.writer())
                .spawn()
                .expect("spawn feeder")
        })
        .collect();
    let eaters: Vec<_> = (0..K)
        .map(|_| {
            eater(data.reader(), ack.writer())
                .spawn()
                .expect("spawn eater")
        })
        .collect();
    let ctl_w: Vec<_> = ctls.iter().map(Channel::writer).collect();
    let ack_r = ack.reader();
    drop((data, ack, ctls));
    let mut sent = 0;
    g.bench_function(MANY_ROWS[0], |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for (k, w) in ctl_w.iter().enumerate() {
                w.write(share(iters, k)).expect("ctl");
            }
            for _ in 0..K {
                ack_r.read().expect("ack");
            }
            sent += iters;
            t.elapsed()
        })
    });
    drop((ctl_w, ack_r));
    for f in feeders {
        f.join().expect("feeder");
    }
    let got: u64 = eaters.into_iter().map(|e| e.join().expect("eater")).sum();
    assert_eq!(got, sent, "every message read exactly once");

    let (data, data_rx) = crossbeam_channel::bounded::<Option<Msg>>(1024);
    let (ack_tx, ack) = crossbeam_channel::bounded::<()>(K);
    let mut ctls = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..K {
        let (ctl, ctl_rx) = crossbeam_channel::bounded::<u64>(0);
        let out = data.clone();
        threads.push(std::thread::spawn(move || {
            pin(None);
            for n in ctl_rx {
                for i in 0..n {
                    out.send(Some(msg(i))).expect("send");
                }
                out.send(None).expect("send");
            }
        }));
        ctls.push(ctl);
        let (inp, ack) = (data_rx.clone(), ack_tx.clone());
        threads.push(std::thread::spawn(move || {
            pin(None);
            for m in inp {
                if m.is_none() && ack.send(()).is_err() {
                    break;
                }
            }
        }));
    }
    drop((data, data_rx, ack_tx));
    g.bench_function(MANY_ROWS[1], |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for (k, w) in ctls.iter().enumerate() {
                w.send(share(iters, k)).expect("ctl");
            }
            for _ in 0..K {
                ack.recv().expect("ack");
            }
            t.elapsed()
        })
    });
    drop(ctls);
    for t in threads {
        t.join().expect("crossbeam thread");
    }
    g.finish();
}

/// Without criterion, for `strace -c -f` / `perf stat` / `perf record`: `n`
/// csp round trips, then `n` csp `buffered(1024)` one-way messages, each
/// timed once (`CSP_BENCH_ONLY=rt` or `oneway` runs just one of them).
fn count_mode(n: u64) {
    let only = std::env::var("CSP_BENCH_ONLY").unwrap_or_default();
    if only != "oneway" {
        count_round_trip(n);
    }
    if only != "rt" {
        let csp = CspOneWay::<Msg>::start(1024);
        let dt = csp.run(n, msg);
        println!(
            "csp buffered(1024) one-way: {n} in {dt:?}, {:.2} M msgs/s",
            n as f64 / dt.as_secs_f64() / 1e6
        );
        csp.finish();
    }
}

fn count_round_trip(n: u64) {
    let (ping, pong) = (Channel::<Msg>::new(), Channel::<Msg>::new());
    let h = echo(ping.reader(), pong.writer())
        .spawn()
        .expect("spawn echo");
    let (w, r) = (ping.writer(), pong.reader());
    drop((ping, pong));
    let chunk = (n / 10).max(1);
    let mut chunks = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        if i % chunk == 0 {
            chunks.push(Instant::now());
        }
        w.write(msg(i)).expect("write");
        black_box(r.read().expect("read"));
    }
    let dt = t.elapsed();
    chunks.push(Instant::now());
    let each: Vec<_> = chunks
        .windows(2)
        .map(|p| format!("{:?}", (p[1] - p[0]) / chunk as u32))
        .collect();
    println!(
        "csp round trip: {n} in {dt:?}, {:?} each; by tenths: {}",
        dt / n as u32,
        each.join(" ")
    );
    drop((w, r));
    h.join().expect("echo");
}

fn main() {
    pin(Some(0));
    if let Some(n) = std::env::var("CSP_BENCH_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return count_mode(n);
    }
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    round_trip(&mut c);
    one_way_small(&mut c);
    one_way_large(&mut c);
    many_to_many(&mut c);
    c.final_summary();

    let rows = summary::collect(started);
    summary::print(
        &rows,
        &[
            (RT, RT_ROWS),
            (SMALL, SMALL_ROWS),
            (LARGE, LARGE_ROWS),
            (MANY, MANY_ROWS),
        ],
    );
    let get = |g: &str, n: &str| rows.get(&format!("{g}/{n}"));
    if let Some(rt) = get(RT, RT_ROWS[0]) {
        summary::goal(
            "round trip ≤ 2.5 µs",
            Some(rt.median_ns <= 2500.0),
            summary::time(rt.median_ns),
        );
        let ipc = get(RT, RT_ROWS[1]);
        summary::goal(
            "round trip ≤ 0.25× ipc-channel",
            ipc.map(|i| rt.median_ns <= 0.25 * i.median_ns),
            ipc.map_or(String::new(), |i| {
                format!("{:.3}×", rt.median_ns / i.median_ns)
            }),
        );
    }
    if let Some(r) = get(SMALL, SMALL_ROWS[0]) {
        summary::goal(
            "buffered(1024) ≥ 5 M msgs/s",
            r.rate().map(|x| x >= 5e6),
            summary::rate(r),
        );
    }
    if let Some(r) = get(LARGE, LARGE_ROWS[0]) {
        summary::goal(
            "64 KiB one-way ≥ 4 GB/s",
            r.rate().map(|x| x >= 4e9),
            summary::rate(r),
        );
    }
}
