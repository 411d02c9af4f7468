use csp::prelude::*;

#[process(name = "worker")]
fn work() {}

fn main() {}
