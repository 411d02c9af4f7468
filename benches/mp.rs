//! `mp`: Python's `multiprocessing` structures, ours. Side by side with
//! `benches/python/mp_bench.py` (same scenario names, Python's numbers).
//!
//! `cargo bench --bench mp` and `python3 benches/python/mp_bench.py`
//!
//! Each scenario keeps one helper process alive for the whole benchmark
//! and hands it work per sample, so process start-up is not measured:
//! - `value_lock_increment_2proc`: the parent and the helper each add 1 to
//!   a `Value<u64>` under its lock, `iters` times; one iteration = one
//!   increment in each process (throughput counts both).
//! - `atomic_value_fetch_add_2proc`: the same with `AtomicValue::fetch_add`.
//! - `queue_oneway_u64`: the parent puts `iters` small items into a
//!   `Queue::new(0)`; the helper gets them; timed until it has them all.
//! - `pipe_round_trip`: the parent sends a `u64` through a duplex pipe, the
//!   helper sends it back; one iteration = one round trip.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use csp::process;
use csp_core::mp::{AtomicValue, Connection, Queue, Value, pipe};
use std::time::{Duration, Instant};

/// Adds `n` to `v` under its lock for every `n` it is sent; answers each.
#[process]
fn locked_adder(v: Value<u64>, work: Queue<u64>, done: Queue<()>) {
    while let Ok(n) = work.get() {
        for _ in 0..n {
            *v.get_lock().unwrap() += 1;
        }
        done.put(()).unwrap();
    }
}

/// The same with a lock-free atomic.
#[process]
fn atomic_adder(v: AtomicValue<u64>, work: Queue<u64>, done: Queue<()>) {
    while let Ok(n) = work.get() {
        for _ in 0..n {
            v.fetch_add(1);
        }
        done.put(()).unwrap();
    }
}

/// Gets `n` items for every `n` it is sent; answers each.
#[process]
fn queue_sink(items: Queue<u64>, work: Queue<u64>, done: Queue<()>) {
    while let Ok(n) = work.get() {
        for _ in 0..n {
            items.get().unwrap();
        }
        done.put(()).unwrap();
    }
}

/// Sends back what it receives until end of file.
#[process]
fn echo(conn: Connection<u64, u64>) {
    while let Ok(v) = conn.recv() {
        if conn.send(v).is_err() {
            break;
        }
    }
}

/// A helper's work and answer queues.
struct Helper {
    work: Queue<u64>,
    done: Queue<()>,
}

impl Helper {
    fn new() -> Self {
        Helper {
            work: Queue::new(1),
            done: Queue::new(1),
        }
    }

    /// Times `mine` (run here) against the helper doing its share of `n`.
    fn timed(&self, n: u64, mine: impl FnOnce()) -> Duration {
        let t = Instant::now();
        self.work.put(n).unwrap();
        mine();
        self.done.get().unwrap();
        t.elapsed()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.work.close();
    }
}

fn shared_values(c: &mut Criterion) {
    let mut g = c.benchmark_group("mp");
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(2));

    let v = Value::new(0u64);
    let h = Helper::new();
    let p = locked_adder(v.clone(), h.work.clone(), h.done.clone())
        .spawn()
        .unwrap();
    g.bench_function("value_lock_increment_2proc", |b| {
        b.iter_custom(|iters| {
            h.timed(iters, || {
                for _ in 0..iters {
                    *v.get_lock().unwrap() += 1;
                }
            })
        })
    });
    drop(h);
    p.join().unwrap();

    let a = AtomicValue::new(0u64);
    let h = Helper::new();
    let p = atomic_adder(a.clone(), h.work.clone(), h.done.clone())
        .spawn()
        .unwrap();
    g.bench_function("atomic_value_fetch_add_2proc", |b| {
        b.iter_custom(|iters| {
            h.timed(iters, || {
                for _ in 0..iters {
                    a.fetch_add(1);
                }
            })
        })
    });
    drop(h);
    p.join().unwrap();
    g.finish();
}

fn queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("mp");
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    let items = Queue::<u64>::new(0);
    let h = Helper::new();
    let p = queue_sink(items.clone(), h.work.clone(), h.done.clone())
        .spawn()
        .unwrap();
    g.bench_function("queue_oneway_u64", |b| {
        b.iter_custom(|iters| {
            h.timed(iters, || {
                for i in 0..iters {
                    items.put(i).unwrap();
                }
            })
        })
    });
    drop(h);
    p.join().unwrap();
    g.finish();
}

fn pipes(c: &mut Criterion) {
    let mut g = c.benchmark_group("mp");
    g.measurement_time(Duration::from_secs(5));
    let (mine, theirs) = pipe::<u64, u64>();
    let p = echo(theirs).spawn().unwrap();
    mine.send(0).unwrap();
    mine.recv().unwrap(); // the helper is up
    g.bench_function("pipe_round_trip", |b| {
        b.iter(|| {
            mine.send(1).unwrap();
            mine.recv().unwrap()
        })
    });
    drop(mine);
    p.join().unwrap();
    g.finish();
}

criterion_group!(benches, shared_values, queue, pipes);
criterion_main!(benches);
