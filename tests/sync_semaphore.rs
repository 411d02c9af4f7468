//! `sync::Semaphore` and `sync::BoundedSemaphore` across real OS
//! processes: counting, try/timeout forms, the bound, and holders killed
//! with SIGKILL (guarded permits come back; bare ones leave a timeout).

mod common;

use csp::prelude::*;
use csp_core::sync::{BoundedSemaphore, Event, Semaphore, SyncError};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use common::Words;

/// Enters 100 times, alternating the guard form and the bare form;
/// records how many are inside at once (word 0), the most ever (word 1),
/// and the entries (word 2).
#[process]
fn enter_and_count(s: Semaphore, w: Words, i: usize) {
    let (inside, most, total) = (w.at(0), w.at(1), w.at(2));
    for j in 0..100 {
        let guard = if (i + j) % 2 == 0 {
            Some(s.access())
        } else {
            None
        };
        if guard.is_none() {
            s.acquire();
        }
        let now = inside.fetch_add(1, SeqCst) + 1;
        most.fetch_max(now, SeqCst);
        std::thread::yield_now();
        total.fetch_add(1, SeqCst);
        inside.fetch_sub(1, SeqCst);
        if guard.is_none() {
            s.release();
        }
    }
}

#[process]
fn release_later(s: Semaphore) {
    std::thread::sleep(Duration::from_millis(20));
    s.release();
}

#[process]
fn release_many(s: Semaphore, n: u32) {
    for _ in 0..n {
        s.release();
    }
}

#[process]
fn release_twice(s: BoundedSemaphore) -> (Result<(), SyncError>, Result<(), SyncError>) {
    (s.release(), s.release())
}

/// Holds `n` permits through guards, then sleeps (to be killed).
#[process]
fn hold_guards(s: Semaphore, n: usize, holding: Event) {
    let _g: Vec<_> = (0..n).map(|_| s.access()).collect();
    holding.set();
    std::thread::sleep(Duration::from_secs(3600));
}

#[process]
fn hold_bounded_guard(s: BoundedSemaphore, holding: Event) {
    let _g = s.access();
    holding.set();
    std::thread::sleep(Duration::from_secs(3600));
}

/// Takes a permit with bare `acquire`, then sleeps (to be killed).
#[process]
fn hold_bare(s: Semaphore, holding: Event) {
    s.acquire();
    holding.set();
    std::thread::sleep(Duration::from_secs(3600));
    s.release();
}

#[process]
fn access_once(s: Semaphore) -> bool {
    let _g = s.access();
    true
}

#[test]
fn at_most_n_inside() {
    let _wd = common::watchdog("at_most_n_inside", Duration::from_secs(60));
    let w = Words::new();
    let sem = Semaphore::new(2);
    let hs: Vec<_> = (0..5)
        .map(|i| enter_and_count(sem.clone(), w, i).spawn().unwrap())
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(w.at(1).load(SeqCst) <= 2);
    assert_eq!(w.at(2).load(SeqCst), 500);
    assert_eq!(sem.value(), 2);
}

#[test]
fn try_and_timeout_forms() {
    let _wd = common::watchdog("try_and_timeout_forms", Duration::from_secs(60));
    let sem = Semaphore::new(1);
    sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire(), Err(SyncError::WouldBlock));
    assert_eq!(
        sem.acquire_timeout(Duration::from_millis(30)),
        Err(SyncError::Timeout)
    );
    assert_eq!(sem.try_access().err(), Some(SyncError::WouldBlock));
    assert_eq!(
        sem.access_timeout(Duration::from_millis(30)).err(),
        Some(SyncError::Timeout)
    );
    // Released by another process: a waiter with a long timeout gets it.
    let h = release_later(sem.clone()).spawn().unwrap();
    sem.acquire_timeout(Duration::from_secs(30)).unwrap();
    h.join().unwrap();
    assert_eq!(sem.value(), 0);
}

#[test]
fn semaphore_as_a_counter_between_processes() {
    let _wd = common::watchdog("semaphore_as_a_counter", Duration::from_secs(60));
    // Python's idiom: one process releases per item, another acquires.
    let items = Semaphore::new(0);
    let h = release_many(items.clone(), 1000).spawn().unwrap();
    for _ in 0..1000 {
        items.acquire();
    }
    h.join().unwrap();
    assert_eq!(items.value(), 0);
}

#[test]
fn bounded_release_past_the_bound_is_an_error() {
    let _wd = common::watchdog("bounded_release_past_bound", Duration::from_secs(60));
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.bound(), 2);
    assert_eq!(sem.release(), Err(SyncError::Bound(2)));
    sem.acquire();
    assert_eq!(
        release_twice(sem.clone()).run().unwrap(),
        (Ok(()), Err(SyncError::Bound(2)))
    );
    assert_eq!(sem.value(), 2);
    {
        let _a = sem.access();
        let _b = sem.access();
        assert_eq!(sem.value(), 0);
    }
    assert_eq!(sem.value(), 2);
}

#[test]
fn guarded_permits_of_a_killed_holder_come_back() {
    let _wd = common::watchdog("guarded_permits_come_back", Duration::from_secs(60));
    let sem = Semaphore::new(2);
    let holding = Event::new();
    let victim = hold_guards(sem.clone(), 2, holding.clone())
        .spawn()
        .unwrap();
    holding.wait();
    assert_eq!(sem.value(), 0);
    victim.kill().unwrap();
    // A waiter notices the death and gets both permits back.
    sem.acquire_timeout(Duration::from_secs(30)).unwrap();
    sem.acquire_timeout(Duration::from_secs(30)).unwrap();
    assert!(victim.join().is_err());
    assert_eq!(sem.value(), 0);
}

#[test]
fn bounded_permits_of_a_killed_holder_come_back_within_the_bound() {
    let _wd = common::watchdog("bounded_permits_come_back", Duration::from_secs(60));
    let sem = BoundedSemaphore::new(2);
    let holding = Event::new();
    let victim = hold_bounded_guard(sem.clone(), holding.clone())
        .spawn()
        .unwrap();
    holding.wait();
    let mine = sem.access();
    victim.kill().unwrap();
    assert!(victim.join().is_err());
    // Reaping the victim noticed the death; the next waiter gives its
    // permit back.
    let g = sem.access_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(sem.value(), 0);
    drop(g);
    drop(mine);
    assert_eq!(sem.value(), 2);
    assert_eq!(
        sem.release(),
        Err(SyncError::Bound(2)),
        "never above the bound"
    );
}

#[test]
fn waiter_blocked_when_holder_killed_gets_the_permit() {
    let _wd = common::watchdog("waiter_blocked_when_holder_killed", Duration::from_secs(60));
    let sem = Semaphore::new(1);
    let holding = Event::new();
    let victim = hold_guards(sem.clone(), 1, holding.clone())
        .spawn()
        .unwrap();
    holding.wait();
    // Blocked in a plain access() (no timeout) when the holder dies.
    let waiter = access_once(sem.clone()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    victim.kill().unwrap();
    assert!(waiter.join().unwrap());
    assert!(victim.join().is_err());
    assert_eq!(sem.value(), 1);
}

#[test]
fn bare_permits_of_a_killed_holder_leave_a_clean_timeout() {
    let _wd = common::watchdog("bare_permits_killed", Duration::from_secs(60));
    let sem = Semaphore::new(1);
    let holding = Event::new();
    let victim = hold_bare(sem.clone(), holding.clone()).spawn().unwrap();
    holding.wait();
    victim.kill().unwrap();
    assert!(victim.join().is_err());
    // A bare acquire is a counter operation: its permit is not given back,
    // but nobody hangs who uses a timeout.
    assert_eq!(
        sem.acquire_timeout(Duration::from_millis(100)),
        Err(SyncError::Timeout)
    );
    sem.release();
    sem.acquire_timeout(Duration::from_secs(30)).unwrap();
}
