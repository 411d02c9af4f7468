//! Producers and consumers on one `Queue`: the classic
//! `multiprocessing.Queue` demo, across real OS processes.
//!
//! ```text
//! cargo run --example queue_producer_consumer
//! ```
//!
//! Three producers put numbered jobs, two consumers square them and put the
//! results on a second queue; the parent sends one "stop" per consumer once
//! the producers are done, then checks that every job came back once.

use csp::prelude::*;
use csp_core::mp::Queue;

const PRODUCERS: u64 = 3;
const CONSUMERS: usize = 2;
const JOBS_EACH: u64 = 1000;

#[process]
fn producer(jobs: Queue<Option<u64>>, id: u64) {
    for i in 0..JOBS_EACH {
        jobs.put(Some(id * JOBS_EACH + i)).unwrap();
    }
    println!("producer {id}: put {JOBS_EACH} jobs");
}

/// Squares jobs until it gets `None`; returns how many it did.
#[process]
fn consumer(jobs: Queue<Option<u64>>, results: Queue<(u64, u64)>, id: usize) -> u64 {
    let mut done = 0;
    while let Some(n) = jobs.get().unwrap() {
        results.put((n, n * n)).unwrap();
        done += 1;
    }
    println!("consumer {id}: did {done} jobs");
    done
}

fn main() -> Result<(), csp::Error> {
    let jobs = Queue::<Option<u64>>::new(64);
    let results = Queue::<(u64, u64)>::new(0);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|id| consumer(jobs.clone(), results.clone(), id).spawn())
        .collect::<Result<_, _>>()?;
    csp::parallel((0..PRODUCERS).map(|id| producer(jobs.clone(), id)))?;
    for _ in 0..CONSUMERS {
        jobs.put(None).unwrap();
    }
    let mut done = 0;
    for c in consumers {
        done += c.join()?;
    }
    let total = PRODUCERS * JOBS_EACH;
    assert_eq!(done, total);
    let mut seen = vec![false; total as usize];
    for _ in 0..total {
        let (n, sq) = results.get().unwrap();
        assert_eq!(sq, n * n);
        assert!(
            !std::mem::replace(&mut seen[n as usize], true),
            "job {n} came back twice"
        );
    }
    assert!(results.is_empty() && seen.iter().all(|&s| s));
    println!("ok: {total} jobs, each squared exactly once");
    Ok(())
}
