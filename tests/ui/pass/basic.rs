#![deny(warnings)]

use csp::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Report {
    seen: u64,
}

/// Doc comments and attributes are kept.
#[process]
#[allow(clippy::needless_pass_by_value)]
pub fn count(inp: Reader<u64>, mut limit: u64, (a, b): (u8, u8)) -> Report {
    let mut seen = u64::from(a) + u64::from(b);
    while limit > 0 {
        match inp.read() {
            Ok(_) => seen += 1,
            Err(_) => return Report { seen },
        }
        limit -= 1;
    }
    Report { seen }
}

#[process]
fn generic<T>(value: T) -> T
where
    T: Serialize + serde::de::DeserializeOwned + Clone,
{
    value.clone()
}

#[process]
fn unit() {}

fn main() {
    let ch = Channel::<u64>::new();
    let _p: Process<Report> = count(ch.reader(), 3, (1, 2));
    let _q: Process<String> = generic(String::from("x"));
    let _r: Process<()> = unit();
}
