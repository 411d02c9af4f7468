#![deny(warnings)]
// Every kind of argument pattern, run for real.

use csp::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

#[process]
fn shapes(
    mut count: u64,
    (a, b): (u64, u64),
    Point { x, y }: Point,
    [first, .., last]: [u64; 4],
    _: String,
    _unused: u64,
    ref name: String,
) -> String {
    count += a + b;
    format!("{name}:{count}:{x}:{y}:{first}:{last}")
}

/// `?` and `return` leave the process body, not some outer function.
#[process]
fn parse_sum(words: Vec<String>) -> Result<u64, String> {
    let mut total = 0;
    for w in words {
        if w == "stop" {
            return Ok(total);
        }
        total += w.parse::<u64>().map_err(|e| e.to_string())?;
    }
    Ok(total)
}

fn main() {
    let p = shapes(
        1,
        (2, 3),
        Point { x: -4, y: 5 },
        [6, 7, 8, 9],
        "x".into(),
        0,
        "s".into(),
    );
    assert_eq!(p.name(), "shapes");
    assert_eq!(p.run().unwrap(), "s:6:-4:5:6:9");
    let words = |w: &[&str]| w.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        parse_sum(words(&["1", "2", "stop", "x"])).run().unwrap(),
        Ok(3)
    );
    assert!(parse_sum(words(&["1", "x"])).run().unwrap().is_err());
}
