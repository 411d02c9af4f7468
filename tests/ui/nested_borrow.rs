use csp::prelude::*;

#[process]
fn total(parts: Vec<&'static u64>) -> u64 {
    parts.into_iter().sum()
}

fn main() {}
