#![deny(warnings)]
// `impl Trait` arguments become generic parameters with a `'static` bound.

use csp::prelude::*;
use std::fmt::Display;

#[process]
fn apply(f: impl Fn(u64) -> u64, x: u64) -> u64 {
    f(x)
}

#[process]
fn describe(items: impl IntoIterator<Item = impl Display>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn main() {
    let k = 3;
    assert_eq!(apply(move |x| x * k, 5).run().unwrap(), 15);
    assert_eq!(describe(vec![1, 2, 3]).run().unwrap(), "1,2,3");
}
