use csp::prelude::*;
use std::borrow::Cow;

#[process]
fn label(n: u64) -> Cow<'_, str> {
    Cow::Owned(n.to_string())
}

fn main() {}
