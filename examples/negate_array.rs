//! A child process negates a shared `Array` in place; the parent prints it.
//! The classic `multiprocessing.Value` / `Array` demo.
//!
//! ```text
//! cargo run --example negate_array
//! ```

use csp::prelude::*;
use csp_core::mp::{Array, Value};

#[process]
fn negate(num: Value<f64>, arr: Array<i32>) {
    num.set(std::f64::consts::PI).unwrap();
    for x in arr.get_lock().unwrap().iter_mut() {
        *x = -*x;
    }
}

fn main() -> Result<(), csp::Error> {
    let num = Value::new(0.0f64);
    let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>());
    negate(num.clone(), arr.clone()).run()?;
    let (n, a) = (num.get().unwrap(), arr.to_vec().unwrap());
    println!("{n}");
    println!("{a:?}");
    assert_eq!(n, std::f64::consts::PI);
    assert_eq!(a, (0..10).map(|x: i32| -x).collect::<Vec<_>>());
    Ok(())
}
