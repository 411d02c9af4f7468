use csp::prelude::*;

#[process]
extern "C" fn callback(n: u64) -> u64 {
    n + 1
}

fn main() {}
