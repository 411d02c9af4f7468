//! `sync::Barrier` across real OS processes: rounds, leaders, timeouts,
//! abort/reset, and parties killed with SIGKILL.

mod common;

use csp::prelude::*;
use csp_core::sync::{Barrier, Event, MAX_PARTIES, SyncError};
use std::time::Duration;

/// Polls until `n` parties wait in the barrier.
fn until_waiting(b: &Barrier, n: usize) {
    while b.n_waiting() < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

const PARTIES: usize = 4;
const ROUNDS: usize = 100;

/// Writes one message to `log` before each round; between the two waits of
/// a round nobody writes, so the leader sees them all. Returns how many
/// rounds it led and its arrival index in each.
#[process]
fn logging_party(b: Barrier, log: Channel<u32>, w: Writer<u32>) -> (usize, Vec<usize>) {
    let mut led = 0;
    let mut indexes = Vec::new();
    for round in 0..ROUNDS {
        w.write(round as u32).unwrap();
        let r = b.wait().unwrap();
        indexes.push(r.index());
        if r.is_leader() {
            led += 1;
            assert_eq!(log.len(), PARTIES * (round + 1), "round {round}");
            assert_eq!(r.index(), PARTIES - 1);
        }
        b.wait().unwrap();
    }
    (led, indexes)
}

/// Waits `n` rounds; returns how many it led.
#[process]
fn rounds(b: Barrier, n: usize) -> usize {
    (0..n).filter(|_| b.wait().unwrap().is_leader()).count()
}

#[process]
fn wait_once(b: Barrier) -> Result<usize, SyncError> {
    b.wait().map(|r| r.index())
}

/// Says it is ready, then would arrive after an hour (it is killed).
#[process]
fn arrive_after_an_hour(b: Barrier, ready: Event) -> Result<usize, SyncError> {
    ready.set();
    std::thread::sleep(Duration::from_secs(3600));
    b.wait().map(|r| r.index())
}

#[process]
fn receive_and_wait(r: Reader<Barrier>) -> Result<usize, SyncError> {
    r.read().unwrap().wait().map(|r| r.index())
}

#[test]
fn rounds_hold_everyone_and_elect_one_leader() {
    let _wd = common::watchdog("rounds_hold_everyone", Duration::from_secs(60));
    let b = Barrier::new(PARTIES);
    let log = Channel::<u32>::buffered(PARTIES * ROUNDS);
    let hs: Vec<_> = (0..PARTIES)
        .map(|_| {
            logging_party(b.clone(), log.clone(), log.writer())
                .spawn()
                .unwrap()
        })
        .collect();
    let results: Vec<(usize, Vec<usize>)> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    // One leader per round.
    let leaders: usize = results.iter().map(|(l, _)| l).sum();
    assert_eq!(leaders, ROUNDS);
    // In every round the arrival indexes are a permutation of 0..PARTIES.
    for round in 0..ROUNDS {
        let mut idx: Vec<usize> = results.iter().map(|(_, v)| v[round]).collect();
        idx.sort();
        assert_eq!(idx, (0..PARTIES).collect::<Vec<_>>());
    }
    assert!(!b.is_broken());
}

#[test]
fn parent_can_be_a_party() {
    let _wd = common::watchdog("parent_can_be_a_party", Duration::from_secs(60));
    let b = Barrier::new(3);
    let hs: Vec<_> = (0..2)
        .map(|_| rounds(b.clone(), 50).spawn().unwrap())
        .collect();
    let mine = (0..50).filter(|_| b.wait().unwrap().is_leader()).count();
    let theirs: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(mine + theirs, 50);
    assert_eq!(b.parties(), 3);
}

#[test]
fn timeout_breaks_the_barrier_for_the_others() {
    let _wd = common::watchdog("timeout_breaks", Duration::from_secs(60));
    let b = Barrier::new(3);
    let patient = wait_once(b.clone()).spawn().unwrap();
    until_waiting(&b, 1);
    // Only two of three arrive; this one gives up.
    assert_eq!(
        b.wait_timeout(Duration::from_millis(50)),
        Err(SyncError::Timeout)
    );
    assert_eq!(patient.join().unwrap(), Err(SyncError::BrokenBarrier));
    assert!(b.is_broken());
    assert_eq!(b.wait(), Err(SyncError::BrokenBarrier));
    // reset makes it usable again.
    b.reset();
    assert!(!b.is_broken());
    let hs: Vec<_> = (0..2)
        .map(|_| wait_once(b.clone()).spawn().unwrap())
        .collect();
    assert!(b.wait_timeout(Duration::from_secs(30)).is_ok());
    assert!(hs.into_iter().all(|h| h.join().unwrap().is_ok()));
}

#[test]
fn abort_wakes_waiters_with_broken_barrier() {
    let _wd = common::watchdog("abort_wakes_waiters", Duration::from_secs(60));
    let b = Barrier::new(4);
    let hs: Vec<_> = (0..2)
        .map(|_| wait_once(b.clone()).spawn().unwrap())
        .collect();
    until_waiting(&b, 2);
    b.abort();
    for h in hs {
        assert_eq!(h.join().unwrap(), Err(SyncError::BrokenBarrier));
    }
    assert!(b.is_broken());
}

#[test]
fn reset_breaks_the_current_round_only() {
    let _wd = common::watchdog("reset_breaks_current_round", Duration::from_secs(60));
    let b = Barrier::new(2);
    let h = wait_once(b.clone()).spawn().unwrap();
    until_waiting(&b, 1);
    b.reset();
    assert_eq!(h.join().unwrap(), Err(SyncError::BrokenBarrier));
    assert_eq!(b.n_waiting(), 0);
    let h = wait_once(b.clone()).spawn().unwrap();
    let me = b.wait().unwrap();
    assert_eq!(me.index() + h.join().unwrap().unwrap(), 1);
}

#[test]
fn party_killed_while_waiting_breaks_the_barrier() {
    let _wd = common::watchdog("party_killed_while_waiting", Duration::from_secs(60));
    let b = Barrier::new(4);
    let victim = wait_once(b.clone()).spawn().unwrap();
    let other = wait_once(b.clone()).spawn().unwrap();
    until_waiting(&b, 2);
    victim.kill().unwrap();
    // The other party is woken with BrokenBarrier (it finds the death
    // itself, without anyone reaping the victim).
    assert_eq!(other.join().unwrap(), Err(SyncError::BrokenBarrier));
    assert!(victim.join().is_err());
    assert!(b.is_broken());
    assert_eq!(b.wait(), Err(SyncError::BrokenBarrier));
}

#[test]
fn party_killed_before_arriving_breaks_the_barrier() {
    let _wd = common::watchdog("party_killed_before_arriving", Duration::from_secs(60));
    let b = Barrier::new(3);
    let ready = Event::new();
    let victim = arrive_after_an_hour(b.clone(), ready.clone())
        .spawn()
        .unwrap();
    let other = wait_once(b.clone()).spawn().unwrap();
    ready.wait();
    until_waiting(&b, 1);
    victim.kill().unwrap();
    // The parent, a party too, is not left waiting for the dead one.
    assert_eq!(b.wait(), Err(SyncError::BrokenBarrier));
    assert_eq!(other.join().unwrap(), Err(SyncError::BrokenBarrier));
    assert!(victim.join().is_err());
    // After a reset the survivors (and a newcomer) carry on.
    b.reset();
    let hs: Vec<_> = (0..2)
        .map(|_| wait_once(b.clone()).spawn().unwrap())
        .collect();
    assert!(b.wait().is_ok());
    assert!(hs.into_iter().all(|h| h.join().unwrap().is_ok()));
}

#[test]
fn barrier_travels_in_a_message() {
    let _wd = common::watchdog("barrier_travels_in_a_message", Duration::from_secs(60));
    let ch = Channel::<Barrier>::buffered(1);
    let h = receive_and_wait(ch.reader()).spawn().unwrap();
    let b = Barrier::new(2);
    ch.writer().write(b.clone()).unwrap();
    let me = b.wait().unwrap();
    assert_eq!(me.index() + h.join().unwrap().unwrap(), 1);
}

#[test]
fn zero_parties_is_one_and_too_many_is_an_error() {
    let b = Barrier::new(0);
    assert_eq!(b.parties(), 1);
    assert!(b.wait().unwrap().is_leader());
    assert_eq!(
        Barrier::try_new(MAX_PARTIES + 1).err(),
        Some(SyncError::TooManyParties(MAX_PARTIES + 1))
    );
}
