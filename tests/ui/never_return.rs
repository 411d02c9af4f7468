use csp::prelude::*;

#[process]
fn serve(inp: Reader<u64>) -> ! {
    loop {
        let _ = inp.read();
    }
}

fn main() {}
