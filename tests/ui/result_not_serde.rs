use csp::prelude::*;

struct Opaque(u64);

#[process]
fn make(n: u64) -> Opaque {
    Opaque(n)
}

fn main() {}
