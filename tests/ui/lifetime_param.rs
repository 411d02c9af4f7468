use csp::prelude::*;

#[process]
fn keep<'a>(v: Vec<u8>, _tag: std::marker::PhantomData<&'a ()>) -> usize {
    v.len()
}

fn main() {}
