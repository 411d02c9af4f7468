//! The commstime ring's processes, shared by `examples/commstime.rs` and
//! `benches/alt.rs`:
//!
//! ```text
//!   Prefix(n0) --a--> Delta --b--> Successor --c--> Prefix
//!                       \--d--> Consumer
//! ```

use csp::prelude::*;

#[process]
pub fn prefix(n0: u64, inp: Reader<u64>, out: Writer<u64>) {
    if out.write(n0).is_err() {
        return;
    }
    while let Ok(v) = inp.read() {
        if out.write(v).is_err() {
            return;
        }
    }
}

/// Outputs in sequence: `to_succ ! v; to_cons ! v`.
#[process]
pub fn delta_seq(inp: Reader<u64>, to_succ: Writer<u64>, to_cons: Writer<u64>) {
    while let Ok(v) = inp.read() {
        if to_succ.write(v).is_err() || to_cons.write(v).is_err() {
            return;
        }
    }
}

/// Outputs in parallel: `PAR (to_succ ! v; to_cons ! v)`, as an
/// alternation over both output guards, then the other one.
#[process]
pub fn delta_par(inp: Reader<u64>, to_succ: Writer<u64>, to_cons: Writer<u64>) {
    while let Ok(v) = inp.read() {
        let rest = pri_alt! {
            write(to_succ, v) -> r => r.and_then(|()| to_cons.write(v)),
            write(to_cons, v) -> r => r.and_then(|()| to_succ.write(v)),
        };
        if rest.is_err() {
            return;
        }
    }
}

#[process]
pub fn successor(inp: Reader<u64>, out: Writer<u64>) {
    while let Ok(v) = inp.read() {
        if out.write(v + 1).is_err() {
            return;
        }
    }
}

/// Builds the ring's Prefix, Delta (its outputs in parallel if `par`) and
/// Successor, and the reader a Consumer reads from.
pub fn ring(par: bool) -> (Reader<u64>, [Process<()>; 3]) {
    let (a, b, c, d) = (
        Channel::new(),
        Channel::new(),
        Channel::new(),
        Channel::new(),
    );
    let delta = if par {
        delta_par(a.reader(), b.writer(), d.writer())
    } else {
        delta_seq(a.reader(), b.writer(), d.writer())
    };
    let procs = [
        prefix(0, c.reader(), a.writer()),
        delta,
        successor(b.reader(), c.writer()),
    ];
    (d.reader(), procs)
}
