//! Commstime, the classic occam benchmark: four processes in a ring,
//!
//! ```text
//!   Prefix(0) --a--> Delta --b--> Successor --c--> Prefix
//!                      \--d--> Consumer
//! ```
//!
//! Prefix outputs 0 then copies; Delta copies each value to Successor and
//! to Consumer; Successor adds one. Each cycle is four communications over
//! rendezvous channels between four OS processes. Delta's two outputs run
//! in sequence (`seq`) or in parallel (`par`: an alternation over both
//! output guards, then the one left), as in the original. Prints the time
//! per communication.
//!
//! ```text
//! cargo run --release --example commstime [cycles]
//! ```

#[path = "shared/commstime_ring.rs"]
mod commstime_ring;

use commstime_ring::ring;
use csp::prelude::*;
use std::time::Instant;

/// Reads `warm` values, then times `n`; poisons its input to stop the
/// ring. Returns nanoseconds for the `n` cycles.
#[process]
fn consumer(inp: Reader<u64>, warm: u64, n: u64) -> u64 {
    for _ in 0..warm {
        inp.read().expect("commstime: the ring stopped");
    }
    let t0 = Instant::now();
    let mut last = 0;
    for _ in 0..n {
        last = inp.read().expect("commstime: the ring stopped");
    }
    let ns = t0.elapsed().as_nanos() as u64;
    assert_eq!(last, warm + n - 1, "values went missing");
    inp.poison();
    ns
}

fn run(par: bool, cycles: u64) -> Result<u64, csp::Error> {
    let (d, [prefix, delta, successor]) = ring(par);
    let ((), (), (), ns) = Parallel!(prefix, delta, successor, consumer(d, 1000, cycles))?;
    Ok(ns)
}

fn main() -> Result<(), csp::Error> {
    let cycles: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    println!("commstime: {cycles} cycles, 4 communications each, 4 OS processes");
    for (name, par) in [("seq delta", false), ("par delta", true)] {
        let ns = run(par, cycles)?;
        let per_comm = ns as f64 / (cycles * 4) as f64 / 1000.0;
        let per_cycle = ns as f64 / cycles as f64 / 1000.0;
        println!("  {name}: {per_cycle:.2} µs per cycle, {per_comm:.2} µs per communication");
    }
    Ok(())
}
