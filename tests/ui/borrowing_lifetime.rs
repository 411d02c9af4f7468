use csp::prelude::*;
use std::borrow::Cow;

#[process]
fn greet(name: Cow<'_, str>) -> String {
    format!("hello, {name}")
}

fn main() {}
