#![deny(warnings)]
// References inside function types are the function's own arguments, not
// borrowed data: they are fine, as is `'static` data.

use csp::prelude::*;
use std::borrow::Cow;

#[process]
fn measure(
    len: fn(&str) -> usize,
    trim: Box<dyn for<'a> Fn(&'a str) -> &'a str>,
    count: impl Fn(&str) -> usize,
    text: Cow<'static, str>,
) -> (usize, usize, usize) {
    (len(&text), trim(&text).len(), count(&text))
}

fn main() {
    let p = measure(
        str::len,
        Box::new(str::trim),
        |s| s.split(' ').count(),
        " a b ".into(),
    );
    assert_eq!(p.run().unwrap(), (5, 3, 4));
}
