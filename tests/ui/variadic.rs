use csp::prelude::*;

#[process]
fn sum(first: u64, rest: ...) -> u64 {
    first
}

fn main() {}
