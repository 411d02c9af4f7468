use csp::prelude::*;

#[process]
fn each(visit: fn(impl std::fmt::Debug)) {
    visit(1);
}

fn main() {}
