use csp::prelude::*;

trait Job {
    #[process]
    fn run(n: u64) -> u64;
}

fn main() {}
