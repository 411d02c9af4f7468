//! Alternation between OS processes, side by side with the plain
//! operations it replaces (see benches/README.md):
//!
//! - `commstime`: the occam ring (Prefix, Delta, Successor, Consumer) over
//!   rendezvous channels, Delta's outputs in sequence and in parallel (an
//!   alternation over two output guards); the bench process is the
//!   Consumer. Reported time is per communication (a cycle is four).
//! - `select8 ping-pong`: a round trip to an echo process that reads with
//!   a plain `read` on one channel, vs. one that selects over 8 channels
//!   (`Alt::fair_read`, and `pri_alt!` with 8 read guards); the requests go
//!   round the 8 channels.
//!
//! `cargo bench --bench alt`

#[path = "../examples/shared/commstime_ring.rs"]
mod commstime_ring;

use commstime_ring::ring;
use criterion::{Criterion, criterion_group, criterion_main};
use csp::prelude::*;
use csp_core::alt::Alt;
use csp_core::pri_alt;
use std::time::{Duration, Instant};

// ---- commstime --------------------------------------------------------------

/// Starts the ring; returns the Consumer's input and the handles.
fn start_ring(par: bool) -> (Reader<u64>, Vec<Handle<()>>) {
    let (d, procs) = ring(par);
    (d, procs.into_iter().map(|p| p.spawn().unwrap()).collect())
}

fn commstime(c: &mut Criterion) {
    let mut g = c.benchmark_group("commstime (per communication)");
    g.measurement_time(Duration::from_secs(5));
    for (name, par) in [
        ("seq delta", false),
        ("par delta (alt over 2 outputs)", true),
    ] {
        let (inp, hs) = start_ring(par);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let cycles = iters.div_ceil(4);
                let t0 = Instant::now();
                for _ in 0..cycles {
                    inp.read().unwrap();
                }
                t0.elapsed() * iters as u32 / (cycles * 4) as u32
            })
        });
        inp.poison();
        for h in hs {
            let _ = h.join();
        }
    }
    g.finish();
}

// ---- select over 8 ping-pong --------------------------------------------------

#[process]
fn echo_plain(inp: Reader<u64>, out: Writer<u64>) {
    while let Ok(v) = inp.read() {
        if out.write(v).is_err() {
            return;
        }
    }
}

#[process]
fn echo_alt8(inp: Vec<Reader<u64>>, out: Writer<u64>) {
    let mut alt = Alt::new(&inp);
    loop {
        match alt.fair_read() {
            (_, Ok(v)) => {
                if out.write(v).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

#[process]
fn echo_pri_alt8(r: Vec<Reader<u64>>, out: Writer<u64>) {
    loop {
        let v = pri_alt! {
            read(r[0]) -> v => v,
            read(r[1]) -> v => v,
            read(r[2]) -> v => v,
            read(r[3]) -> v => v,
            read(r[4]) -> v => v,
            read(r[5]) -> v => v,
            read(r[6]) -> v => v,
            read(r[7]) -> v => v,
        };
        match v {
            Ok(v) if out.write(v).is_ok() => {}
            _ => return,
        }
    }
}

fn select8(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping-pong round trip");
    g.measurement_time(Duration::from_secs(5));
    {
        let (req, rep) = (Channel::<u64>::new(), Channel::<u64>::new());
        let h = echo_plain(req.reader(), rep.writer()).spawn().unwrap();
        let (w, r) = (req.writer(), rep.reader());
        g.bench_function("plain read", |b| {
            let mut i = 0u64;
            b.iter(|| {
                w.write(i).unwrap();
                i += 1;
                r.read().unwrap()
            })
        });
        req.poison();
        let _ = h.join();
    }
    for (name, pri) in [
        ("select over 8 (Alt::fair_read)", false),
        ("select over 8 (pri_alt!)", true),
    ] {
        let reqs: Vec<Channel<u64>> = (0..8).map(|_| Channel::new()).collect();
        let rep = Channel::<u64>::new();
        let ends = reqs.iter().map(|c| c.reader()).collect();
        let h = if pri {
            echo_pri_alt8(ends, rep.writer())
        } else {
            echo_alt8(ends, rep.writer())
        }
        .spawn()
        .unwrap();
        let ws: Vec<_> = reqs.iter().map(|c| c.writer()).collect();
        let r = rep.reader();
        g.bench_function(name, |b| {
            let mut i = 0u64;
            b.iter(|| {
                ws[(i % 8) as usize].write(i).unwrap();
                i += 1;
                r.read().unwrap()
            })
        });
        rep.poison();
        for c in &reqs {
            c.poison();
        }
        let _ = h.join();
    }
    g.finish();
}

criterion_group!(benches, select8, commstime);
criterion_main!(benches);
