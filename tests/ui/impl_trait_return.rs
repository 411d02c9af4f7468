use csp::prelude::*;

#[process]
fn numbers(n: u64) -> impl Iterator<Item = u64> {
    0..n
}

fn main() {
    let _p = numbers(3);
}
