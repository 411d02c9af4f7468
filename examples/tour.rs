//! A tour of csp: a few small networks of real OS processes, what they do,
//! and how long they take. Run it with
//!
//! ```text
//! cargo run --release --example tour
//! ```

use csp::prelude::*;
use std::time::{Duration, Instant};

/// Writes 0..n, then retires.
#[process]
fn generate(out: Writer<u64>, n: u64) {
    for i in 0..n {
        if out.write(i).is_err() {
            return;
        }
    }
    out.retire();
}

/// Squares what it reads until its input retires; returns how many it did.
#[process]
fn square(inp: Reader<u64>, out: Writer<u64>) -> u64 {
    let mut done = 0;
    for v in inp.iter() {
        if out.write(v * v).is_err() {
            break;
        }
        done += 1;
    }
    out.retire();
    done
}

/// Sums its input until every writer has retired.
#[process]
fn total(inp: Reader<u64>) -> u64 {
    inp.iter().sum()
}

/// Answers every ping with a pong.
#[process]
fn echo(inp: Reader<u64>, out: Writer<u64>) {
    for v in inp.iter() {
        if out.write(v).is_err() {
            break;
        }
    }
    out.retire();
}

/// Reads until the channel fails, and says how it failed.
#[process]
fn listen(inp: Reader<u64>) -> String {
    loop {
        if let Err(e) = inp.read() {
            return e.to_string();
        }
    }
}

/// Works forever, until it is killed.
#[process]
fn doomed(out: Writer<u64>) {
    let mut i = 0;
    loop {
        if out.write(i).is_err() {
            return;
        }
        i += 1;
    }
}

fn farm() -> Result<(), csp::Error> {
    let n = 200_000u64;
    let work = Channel::<u64>::buffered(256);
    let results = Channel::<u64>::buffered(256);
    let start = Instant::now();
    // Four workers share one input and one output channel (any-to-any).
    let workers = (0..4)
        .map(|_| square(work.reader(), results.writer()).spawn())
        .collect::<Result<Vec<_>, _>>()?;
    let ((), sum) = Parallel!(generate(work.writer(), n), total(results.reader()))?;
    let mut shares = Vec::new();
    for w in workers {
        shares.push(w.join()?);
    }
    let expect: u64 = (0..n).map(|i| i * i).sum();
    println!(
        "farm:      1 generator -> 4 squarers {shares:?} -> 1 summer, {n} numbers: sum {} ({}) in {:?}",
        sum,
        if sum == expect { "correct" } else { "WRONG" },
        start.elapsed()
    );
    assert_eq!(sum, expect);
    Ok(())
}

fn ping_pong() -> Result<(), csp::Error> {
    let ping = Channel::<u64>::new();
    let pong = Channel::<u64>::new();
    let handle = echo(ping.reader(), pong.writer()).spawn()?;
    let (out, inp) = (ping.writer(), pong.reader());
    let rounds = 100_000u64;
    let start = Instant::now();
    for i in 0..rounds {
        out.write(i).expect("ping");
        assert_eq!(inp.read().expect("pong"), i);
    }
    let took = start.elapsed();
    out.retire();
    handle.join()?;
    println!(
        "ping-pong: {rounds} rendezvous round trips between 2 processes: {:.2} µs each",
        took.as_secs_f64() * 1e6 / rounds as f64
    );
    Ok(())
}

fn poison() -> Result<(), csp::Error> {
    let ch = Channel::<u64>::new();
    let listeners: Vec<_> = (0..3)
        .map(|_| listen(ch.reader()).spawn())
        .collect::<Result<_, _>>()?;
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    ch.poison();
    for h in listeners {
        let name = h.name().to_string();
        println!("poison:    `{name}` stopped with: {}", h.join()?);
    }
    println!(
        "poison:    3 blocked readers shut down in {:?}",
        start.elapsed()
    );
    Ok(())
}

fn crash() -> Result<(), csp::Error> {
    let ch = Channel::<u64>::buffered(16);
    let victim = doomed(ch.writer()).spawn()?;
    let survivor = listen(ch.reader()).spawn()?;
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    victim.kill().map_err(|source| csp::Error::Spawn {
        name: "kill".into(),
        source,
    })?;
    println!(
        "crash:     killed `doomed` (pid {}) with SIGKILL",
        victim.pid()
    );
    match victim.join() {
        Err(e) => println!("crash:     join says: {e}"),
        Ok(()) => println!("crash:     the victim somehow finished"),
    }
    println!(
        "crash:     the survivor's read ended with `{}` after {:?}",
        survivor.join()?,
        start.elapsed()
    );
    Ok(())
}

fn main() -> Result<(), csp::Error> {
    println!(
        "csp tour: every process below is a real OS process (pid {})",
        std::process::id()
    );
    let start = Instant::now();
    farm()?;
    ping_pong()?;
    poison()?;
    crash()?;
    println!("tour done in {:?}", start.elapsed());
    Ok(())
}
