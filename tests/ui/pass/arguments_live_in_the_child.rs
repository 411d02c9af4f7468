#![deny(warnings)]
// An argument the body never names, or names only in part, still moves into
// the child: the parent does not drop it when the process is built.

use csp::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Holds a writer without naming it until `release` says so.
#[process]
fn hold(_keep: Writer<u64>, release: Reader<()>) {
    release.read().unwrap();
}

#[derive(Serialize, Deserialize)]
struct Ends {
    out: Writer<u64>,
    release: Reader<()>,
}

/// Uses one field only; the other still lives in the child.
#[process]
fn hold_field(ends: Ends) {
    ends.release.read().unwrap();
}

/// Binds the writer to `_`: it still lives until the body ends.
#[process]
fn hold_wildcard(_: Writer<u64>, release: Reader<()>) {
    release.read().unwrap();
}

fn check(start: impl FnOnce(Writer<u64>, Reader<()>) -> Handle<()>) {
    let data = Channel::<u64>::new();
    let go = Channel::<()>::new();
    let inp = data.reader();
    let h = start(data.writer(), go.reader());
    // The child's writer keeps the channel open.
    assert_eq!(
        inp.read_timeout(Duration::from_millis(200)),
        Err(ChannelError::Timeout)
    );
    go.writer().write(()).unwrap();
    h.join().unwrap();
    assert_eq!(
        inp.read_timeout(Duration::from_secs(10)),
        Err(ChannelError::Retired)
    );
}

fn main() {
    check(|w, r| hold(w, r).spawn().unwrap());
    check(|out, release| hold_field(Ends { out, release }).spawn().unwrap());
    check(|w, r| hold_wildcard(w, r).spawn().unwrap());
}
