//! Workers released together by an `Event` and kept in step by a `Barrier`
//! over several rounds — the classic `multiprocessing` demo, with every
//! worker a real OS process. Then the part Python cannot do: a worker is
//! killed in the middle of a round, and instead of hanging forever the
//! others get `BrokenBarrier`.
//!
//! ```text
//! cargo run --release --example workers_event_barrier
//! ```

use csp::prelude::*;
use csp_core::sync::{Barrier, Event, SyncError};
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
const ROUNDS: usize = 3;

/// Milliseconds since `t0` (each process gets the same `t0` at fork).
fn ms(t0: Instant) -> u128 {
    t0.elapsed().as_millis()
}

/// One worker: waits for the start signal, then does `ROUNDS` rounds of
/// (uneven) work, meeting the others at the barrier after each. Returns how
/// many rounds it led.
#[process]
fn worker(id: usize, start: Event, barrier: Barrier, t0: Instant) -> Result<usize, SyncError> {
    println!(
        "[{:4} ms] worker {id} (pid {}) ready, waiting for the start",
        ms(t0),
        std::process::id()
    );
    start.wait();
    let mut led = 0;
    for round in 0..ROUNDS {
        // Work of different lengths: the barrier makes the fast ones wait.
        std::thread::sleep(Duration::from_millis(
            10 + 15 * ((id + round) % WORKERS) as u64,
        ));
        println!(
            "[{:4} ms] worker {id} finished round {round}, waiting for the others",
            ms(t0)
        );
        let r = barrier.wait()?;
        if r.is_leader() {
            led += 1;
            println!(
                "[{:4} ms] -- round {round} complete: worker {id} arrived last and leads",
                ms(t0)
            );
        }
    }
    Ok(led)
}

/// Waits at the barrier once and says what happened.
#[process]
fn survivor(id: usize, b: Barrier, t0: Instant) -> Result<(), SyncError> {
    let r = b.wait().map(|_| ());
    println!(
        "[{:4} ms] survivor {id}: barrier.wait() returned {r:?}",
        ms(t0)
    );
    r
}

/// Holds the barrier but never arrives (it is killed).
#[process]
fn never_arrives(b: Barrier) -> bool {
    std::thread::sleep(Duration::from_secs(3600));
    b.wait().is_ok()
}

fn main() {
    let t0 = Instant::now();
    let start = Event::new();
    let barrier = Barrier::new(WORKERS);

    println!("== {WORKERS} workers, {ROUNDS} rounds ==");
    let handles: Vec<_> = (0..WORKERS)
        .map(|id| {
            worker(id, start.clone(), barrier.clone(), t0)
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    println!("[{:4} ms] main: releasing the workers", ms(t0));
    start.set();
    let led: usize = handles
        .into_iter()
        .map(|h| h.join().expect("worker").expect("barrier"))
        .sum();
    println!(
        "[{:4} ms] main: all workers done; {led} rounds, one leader each\n",
        ms(t0)
    );

    println!("== a worker is killed in the middle of a round ==");
    let barrier = Barrier::new(3);
    let survivors: Vec<_> = (0..2)
        .map(|id| survivor(id, barrier.clone(), t0).spawn().expect("spawn"))
        .collect();
    let victim = never_arrives(barrier.clone()).spawn().expect("spawn");
    while barrier.n_waiting() < 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "[{:4} ms] main: two parties wait for the third; killing it (SIGKILL)",
        ms(t0)
    );
    victim.kill().expect("kill");
    for h in survivors {
        let r = h.join().expect("survivor");
        assert_eq!(r, Err(SyncError::BrokenBarrier));
    }
    println!(
        "[{:4} ms] main: victim ended: {}",
        ms(t0),
        victim.join().unwrap_err()
    );
    println!(
        "main: barrier broken = {}; reset() makes it usable again",
        barrier.is_broken()
    );
    barrier.reset();
    assert!(!barrier.is_broken());
}
