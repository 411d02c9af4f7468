use csp::prelude::*;

struct Worker;

impl Worker {
    #[process]
    fn run(self, n: u64) -> u64 {
        n
    }
}

fn main() {}
