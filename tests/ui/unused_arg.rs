#![deny(unused_variables, unused_mut)]
// Lints on the body still point at the user's own tokens.

use csp::prelude::*;

#[process]
fn idle(n: u64, mut m: u64) -> u64 {
    m
}

fn main() {}
