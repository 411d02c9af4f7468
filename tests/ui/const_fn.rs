use csp::prelude::*;

#[process]
const fn seven() -> u64 {
    7
}

fn main() {}
