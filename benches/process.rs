//! Starting processes: `Parallel!` / `csp::parallel` of trivial processes
//! against bare `fork` + `waitpid` of the same count, in the same run.
//!
//! `cargo bench --bench process`

use criterion::{Criterion, criterion_group, criterion_main};
use csp::prelude::*;
use std::time::Duration;

#[process]
fn trivial() {}

fn bare_fork(n: usize) {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        // SAFETY: the child calls only async-signal-safe `_exit`.
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
        // SAFETY: waiting for our own child with a valid out pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("start");
    g.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.bench_function("Parallel!(2 trivial)", |b| {
        b.iter(|| Parallel!(trivial(), trivial()).unwrap())
    });
    g.bench_function("bare fork+waitpid x2", |b| b.iter(|| bare_fork(2)));
    g.bench_function("csp::parallel(16 trivial)", |b| {
        b.iter(|| csp::parallel((0..16).map(|_| trivial())).unwrap())
    });
    g.bench_function("bare fork+waitpid x16", |b| b.iter(|| bare_fork(16)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
