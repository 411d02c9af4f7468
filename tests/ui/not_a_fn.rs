use csp::prelude::*;

#[process]
struct Worker {
    id: u64,
}

fn main() {
    // The item is kept: no follow-on error here.
    let _w = Worker { id: 1 };
}
