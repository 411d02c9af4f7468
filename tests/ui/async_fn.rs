use csp::prelude::*;

#[process]
async fn fetch(n: u64) -> u64 {
    n
}

fn main() {
    // The stub keeps the signature: no follow-on error here.
    let _p: Process<u64> = fetch(1);
}
