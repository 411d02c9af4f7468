use csp::prelude::*;

#[process]
fn apply(f: impl Fn(u64) -> u64) -> u64 {
    f(1)
}

fn main() {}
