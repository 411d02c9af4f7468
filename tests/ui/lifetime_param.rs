use csp::prelude::*;
use std::borrow::Cow;

#[process]
fn greet<'a>(name: Cow<'a, str>) -> String {
    format!("hello, {name}")
}

fn main() {}
