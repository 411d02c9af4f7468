//! Starting processes: `Parallel!` / `csp::parallel` of trivial processes
//! against bare `fork` + `waitpid` of the same count, in the same run.
//! Scenarios and results: `benches/README.md`.
//!
//! ```text
//! cargo bench --bench process            # about 30 s, prints a table of medians
//! ```

mod summary;

use criterion::Criterion;
use csp::prelude::*;
use std::time::{Duration, SystemTime};

#[process]
fn trivial() {}

/// Forks `n` children that `_exit(0)` at once, then reaps them all.
fn bare_fork(n: usize) {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        // SAFETY: the bench is single-threaded; the child calls only the
        // async-signal-safe `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(0) };
        }
        assert!(pid > 0, "fork failed");
        pids.push(pid);
    }
    for pid in pids {
        let mut status = 0;
        // SAFETY: waits for our own child, with a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid, "waitpid");
    }
}

const START: &str = "start";
const ROWS: &[&str] = &[
    "Parallel!(2 trivial)",
    "bare fork+waitpid x2",
    "csp::parallel(16 trivial)",
    "bare fork+waitpid x16",
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group(START);
    g.sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function(ROWS[0], |b| {
        b.iter(|| Parallel!(trivial(), trivial()).expect("Parallel!"))
    });
    g.bench_function(ROWS[1], |b| b.iter(|| bare_fork(2)));
    g.bench_function(ROWS[2], |b| {
        b.iter(|| csp::parallel((0..16).map(|_| trivial())).expect("parallel"))
    });
    g.bench_function(ROWS[3], |b| b.iter(|| bare_fork(16)));
    g.finish();
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();

    let rows = summary::collect(started);
    summary::print(&rows, &[(START, &ROWS[..2]), (START, &ROWS[2..])]);
    let get = |n: &str| rows.get(&format!("{START}/{n}"));
    if let (Some(o), Some(b)) = (get(ROWS[0]), get(ROWS[1])) {
        let ratio = o.median_ns / b.median_ns;
        summary::goal(
            "Parallel!(2) within 1.3× of bare fork",
            Some(ratio <= 1.3),
            format!("{ratio:.2}×"),
        );
    }
    if let (Some(o), Some(b)) = (get(ROWS[2]), get(ROWS[3])) {
        println!(
            "- parallel(16) ÷ bare fork x16: {:.2}× (no goal set)",
            o.median_ns / b.median_ns
        );
    }
}
