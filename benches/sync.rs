//! Sync primitives across real OS processes (criterion, release build):
//!
//! - `barrier_round_4proc`: four processes (the bench thread and three
//!   children) wait on one `Barrier(4)` in a loop; time per round. Python's
//!   `multiprocessing.Barrier` does the same in `benches/python/mp_bench.py`.
//! - `lock_uncontended`: lock + unlock of a `Lock` by one process.
//! - `lock_contended_2proc`: two processes each lock + unlock the same
//!   `Lock` in a loop; time per iteration = one lock/unlock by *each*
//!   process (throughput counts both acquisitions).
//! - `rlock_uncontended`, `semaphore_guard_uncontended`: as `lock_uncontended`.
//! - `event_ping_pong`: two processes hand control back and forth with two
//!   `Event`s (set, wait, clear); time per round trip.
//!
//! ```text
//! cargo bench --bench sync
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use csp_core::Process;
use csp_core::sync::{Barrier, Event, Lock, RLock, Semaphore};
use std::time::{Duration, Instant};

/// Runs `child(iters)` in `n` children and `me(iters)` here, all starting
/// together; returns the time from the start until all have finished.
fn with_children<T: serde::Serialize + Clone + 'static>(
    n: usize,
    shared: &T,
    iters: u64,
    child: fn(&T, u64),
    me: impl FnOnce(u64),
) -> Duration {
    let start = Barrier::new(n + 1);
    let end = Barrier::new(n + 1);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (s, b, e) = (shared.clone(), start.clone(), end.clone());
            Process::new("bench-child", move || {
                b.wait().expect("start");
                child(&s, iters);
                e.wait().expect("end");
            })
            .with(&(shared, &start, &end))
            .spawn()
            .expect("spawn")
        })
        .collect();
    start.wait().expect("start");
    let t0 = Instant::now();
    me(iters);
    end.wait().expect("end");
    let dt = t0.elapsed();
    for h in handles {
        h.join().expect("bench child");
    }
    dt
}

fn barrier(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync");
    g.bench_function("barrier_round_4proc", |b| {
        b.iter_custom(|iters| {
            let bar = Barrier::new(4);
            with_children(
                3,
                &bar,
                iters,
                |bar, n| {
                    for _ in 0..n {
                        bar.wait().expect("round");
                    }
                },
                |n| {
                    for _ in 0..n {
                        bar.wait().expect("round");
                    }
                },
            )
        })
    });
    g.finish();
}

fn locks(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync");
    let lock = Lock::new();
    g.bench_function("lock_uncontended", |b| b.iter(|| drop(lock.lock())));
    let rlock = RLock::new();
    g.bench_function("rlock_uncontended", |b| b.iter(|| drop(rlock.lock())));
    let sem = Semaphore::new(1);
    g.bench_function("semaphore_guard_uncontended", |b| {
        b.iter(|| drop(sem.access()))
    });
    g.throughput(Throughput::Elements(2));
    g.bench_function("lock_contended_2proc", |b| {
        b.iter_custom(|iters| {
            let lock = Lock::new();
            with_children(
                1,
                &lock,
                iters,
                |l, n| {
                    for _ in 0..n {
                        drop(l.lock());
                    }
                },
                |n| {
                    for _ in 0..n {
                        drop(lock.lock());
                    }
                },
            )
        })
    });
    g.finish();
}

fn events(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync");
    g.bench_function("event_ping_pong", |b| {
        b.iter_custom(|iters| {
            let pair = (Event::new(), Event::new());
            with_children(
                1,
                &pair,
                iters,
                |(ping, pong), n| {
                    for _ in 0..n {
                        ping.wait();
                        ping.clear();
                        pong.set();
                    }
                },
                |n| {
                    for _ in 0..n {
                        pair.0.set();
                        pair.1.wait();
                        pair.1.clear();
                    }
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, barrier, locks, events);
criterion_main!(benches);
