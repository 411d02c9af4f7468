use csp::prelude::*;

struct Worker;

impl Worker {
    #[process]
    fn run(self, n: u64) -> u64 {
        n
    }
}

fn main() {
    // The stub keeps the method: no follow-on error here.
    let _p: Process<u64> = Worker.run(1);
}
