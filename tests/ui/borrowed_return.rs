use csp::prelude::*;

#[process]
fn motto() -> &'static str {
    "share nothing"
}

fn main() {
    let _p = motto();
}
