#![deny(warnings)]
// Generics, const generics, where-clauses, visibility, raw names and
// associated functions keep working.

use csp::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

mod inner {
    use csp::prelude::*;

    /// Visible outside its module.
    #[process]
    pub(crate) fn first<T, const N: usize>(items: [T; N]) -> Option<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        items.into_iter().next()
    }
}

#[process]
fn r#loop(n: u64) -> u64 {
    n
}

struct Pool;

impl Pool {
    /// Associated functions without `self` are fine.
    #[process]
    fn double(n: u64) -> u64 {
        2 * n
    }
}

#[process]
fn echo<T: Serialize + DeserializeOwned>(value: T) -> T {
    value
}

fn main() {
    assert_eq!(inner::first([7u8, 8, 9]).run().unwrap(), Some(7));
    let p = r#loop(4);
    assert_eq!(p.name(), "loop");
    assert_eq!(p.run().unwrap(), 4);
    assert_eq!(Pool::double(21).run().unwrap(), 42);
    assert_eq!(echo::<String>("hi".into()).run().unwrap(), "hi");
    let ((), two) = Parallel!(echo(()), Pool::double(1)).unwrap();
    assert_eq!(two, 2);
}
