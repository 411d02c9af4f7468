use csp::prelude::*;

#[process]
unsafe fn peek(addr: usize) -> u8 {
    unsafe { *(addr as *const u8) }
}

fn main() {}
