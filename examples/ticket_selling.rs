//! Ticket selling: ten processes race to buy tickets from a JSON file, one
//! `Lock` keeps every sale whole. The classic `multiprocessing.Lock` demo.
//!
//! ```text
//! cargo run --example ticket_selling
//! ```
//!
//! Each buyer, under the lock, reads the file, takes a ticket if one is
//! left, and writes the file back (pausing in between, as a slow disk
//! would, to give a race every chance). Without the lock two buyers would
//! read the same count and sell the same ticket; with it, exactly as many
//! sales happen as there were tickets.

use csp::prelude::*;
use csp_core::sync::Lock;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

const TICKETS: u32 = 25;
const BUYERS: u32 = 10;

#[derive(Serialize, Deserialize)]
struct Office {
    left: u32,
    sold_to: Vec<u32>,
}

fn read(path: &PathBuf) -> Office {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the ticket file"))
        .expect("a valid ticket file")
}

fn write(path: &PathBuf, office: &Office) {
    std::fs::write(path, serde_json::to_string(office).expect("encode"))
        .expect("write the ticket file");
}

/// Buys tickets until none are left; returns how many this buyer got.
#[process]
fn buyer(id: u32, path: PathBuf, lock: Lock) -> u32 {
    let mut bought = 0;
    loop {
        let _held = lock.lock().expect("no buyer dies holding the lock");
        let mut office = read(&path);
        if office.left == 0 {
            return bought;
        }
        std::thread::sleep(Duration::from_millis(1)); // a slow disk
        office.left -= 1;
        office.sold_to.push(id);
        write(&path, &office);
        bought += 1;
        println!("buyer {id} bought a ticket, {} left", office.left);
    }
}

fn main() -> Result<(), csp::Error> {
    let dir = std::env::temp_dir().join(format!("csp-tickets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make a temp dir");
    let path = dir.join("tickets.json");
    write(
        &path,
        &Office {
            left: TICKETS,
            sold_to: Vec::new(),
        },
    );

    let lock = Lock::new();
    let counts = csp::parallel((0..BUYERS).map(|id| buyer(id, path.clone(), lock.clone())))?;

    let office = read(&path);
    let sales: u32 = counts.iter().sum();
    println!("sales per buyer: {counts:?}");
    println!(
        "{sales} sold, {} recorded in the file, {} left",
        office.sold_to.len(),
        office.left
    );
    assert_eq!(sales, TICKETS, "every ticket sold exactly once");
    assert_eq!(office.sold_to.len() as u32, TICKETS);
    assert_eq!(office.left, 0);
    std::fs::remove_dir_all(&dir).expect("clean up");
    println!("ok: exactly {TICKETS} sales for {TICKETS} tickets");
    Ok(())
}
