//! `sync::Condition` across real OS processes: wait/notify with shared
//! state, notify_one vs notify_all, timeouts, and participants killed with
//! SIGKILL.

mod common;

use csp::prelude::*;
use csp_core::sync::{Condition, Event, Lock, LockError};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use common::Words;

/// Polls `f` until it holds.
fn until(mut f: impl FnMut() -> bool) {
    while !f() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

const ITEMS: usize = 0;
const CONSUMED: usize = 1;
const N: u64 = 300;

/// Takes items (word 0) until `N` have been consumed in all; returns how
/// many it took.
#[process]
fn consumer(c: Condition, w: Words) -> u64 {
    let (items, consumed) = (w.at(ITEMS), w.at(CONSUMED));
    let mut got = 0;
    loop {
        let g = c.lock().unwrap();
        let g = c
            .wait_while(g, || items.load(SeqCst) == 0 && consumed.load(SeqCst) < N)
            .unwrap();
        if items.load(SeqCst) == 0 {
            drop(g);
            return got; // everything was consumed
        }
        items.fetch_sub(1, SeqCst);
        consumed.fetch_add(1, SeqCst);
        got += 1;
        if consumed.load(SeqCst) == N {
            c.notify_all(); // wake the other consumer to finish
        }
        drop(g);
    }
}

#[process]
fn producer(c: Condition, w: Words) {
    for _ in 0..N {
        let g = c.lock().unwrap();
        w.at(ITEMS).fetch_add(1, SeqCst);
        c.notify_one();
        drop(g);
    }
}

/// Counts itself in word 0 (holding the lock), waits once, counts itself
/// in word 1.
#[process]
fn wait_once(c: Condition, w: Words) {
    let g = c.lock().unwrap();
    w.at(0).fetch_add(1, SeqCst);
    let g = c.wait(g).unwrap();
    w.at(1).fetch_add(1, SeqCst);
    drop(g);
}

/// Counts itself in word 0, then waits while word 1 is 0.
#[process]
fn wait_for_flag(c: Condition, w: Words) {
    let g = c.lock().unwrap();
    w.at(0).fetch_add(1, SeqCst);
    let g = c.wait_while(g, || w.at(1).load(SeqCst) == 0).unwrap();
    drop(g);
}

/// (timed out, lock held again on return)
#[process]
fn wait_50ms(c: Condition) -> (bool, bool) {
    let g = c.lock().unwrap();
    let (g, r) = c.wait_timeout(g, Duration::from_millis(50)).unwrap();
    let still_held = c.as_lock().try_lock().is_err();
    drop(g);
    (r.timed_out(), still_held)
}

/// Waits up to 30 s for word 0 to become non-zero; returns whether it
/// timed out.
#[process]
fn wait_for_flag_30s(c: Condition, w: Words) -> bool {
    let g = c.lock().unwrap();
    let (_g, r) = c
        .wait_timeout_while(g, Duration::from_secs(30), || w.at(0).load(SeqCst) == 0)
        .unwrap();
    r.timed_out()
}

#[process]
fn lock_is_held(c: Condition) -> bool {
    c.as_lock().try_lock().is_err()
}

/// Waits once; expects to retake the lock with `OwnerDied`.
#[process]
fn wait_expect_owner_died(c: Condition, w: Words) -> bool {
    let g = c.lock().unwrap();
    w.at(0).store(1, SeqCst);
    match c.wait(g) {
        Err(LockError::OwnerDied(g)) => {
            drop(g);
            true
        }
        _ => false,
    }
}

/// Notifies while holding the lock, then sleeps holding it (to be killed).
#[process]
fn notify_and_hold(c: Condition, locked: Event) {
    let _g = c.lock().unwrap();
    c.notify_all();
    locked.set();
    std::thread::sleep(Duration::from_secs(3600));
}

/// Would notify after an hour (it is killed).
#[process]
fn notify_after_an_hour(c: Condition, ready: Event) {
    ready.set();
    std::thread::sleep(Duration::from_secs(3600));
    c.notify_all();
}

#[test]
fn producer_consumer_with_wait_while() {
    let _wd = common::watchdog("producer_consumer_with_wait_while", Duration::from_secs(60));
    let w = Words::new();
    let cond = Condition::new();
    let consumers: Vec<_> = (0..2)
        .map(|_| consumer(cond.clone(), w).spawn().unwrap())
        .collect();
    producer(cond.clone(), w).run().unwrap();
    let total: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, N);
    assert_eq!(w.at(ITEMS).load(SeqCst), 0);
}

#[test]
fn notify_one_wakes_one_and_notify_all_wakes_all() {
    let _wd = common::watchdog("notify_one_wakes_one", Duration::from_secs(60));
    let w = Words::new();
    let (entered, woken) = (w.at(0), w.at(1));
    let cond = Condition::new();
    let hs: Vec<_> = (0..3)
        .map(|_| wait_once(cond.clone(), w).spawn().unwrap())
        .collect();
    // Every waiter is inside `wait` once it has let go of the lock.
    until(|| entered.load(SeqCst) == 3);
    drop(cond.lock().unwrap());
    cond.notify_one();
    until(|| woken.load(SeqCst) >= 1);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(woken.load(SeqCst), 1, "notify_one woke more than one");
    cond.notify_all();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(woken.load(SeqCst), 3);
}

#[test]
fn a_notify_before_waiting_is_not_remembered() {
    let _wd = common::watchdog("notify_before_waiting", Duration::from_secs(60));
    let cond = Condition::new();
    cond.notify_all();
    let g = cond.lock().unwrap();
    let (g, r) = cond.wait_timeout(g, Duration::from_millis(50)).unwrap();
    assert!(r.timed_out());
    drop(g);
}

#[test]
fn wait_timeout_and_wait_timeout_while() {
    let _wd = common::watchdog("wait_timeout_forms", Duration::from_secs(60));
    let w = Words::new();
    let flag = w.at(0);
    let cond = Condition::new();
    // Nobody notifies: times out, holding the lock again.
    assert_eq!(wait_50ms(cond.clone()).run().unwrap(), (true, true));
    // The condition becomes true in time.
    let h = wait_for_flag_30s(cond.clone(), w).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    {
        let _g = cond.lock().unwrap();
        flag.store(1, SeqCst);
        cond.notify_all();
    }
    assert!(!h.join().unwrap());
    // ...or not.
    flag.store(0, SeqCst);
    let g = cond.lock().unwrap();
    let (_g, r) = cond
        .wait_timeout_while(g, Duration::from_millis(50), || flag.load(SeqCst) == 0)
        .unwrap();
    assert!(r.timed_out());
}

#[test]
fn with_an_existing_lock() {
    let _wd = common::watchdog("with_an_existing_lock", Duration::from_secs(60));
    let lock = Lock::new();
    let cond = Condition::with_lock(&lock);
    assert!(cond.as_lock().same_as(&lock));
    let g = lock.lock().unwrap();
    assert!(
        lock_is_held(cond.clone()).run().unwrap(),
        "the condition's lock is the one held"
    );
    // Waiting with a guard of the shared lock works as usual.
    let (g, r) = cond.wait_timeout(g, Duration::from_millis(10)).unwrap();
    assert!(r.timed_out());
    drop(g);
}

#[test]
fn waiter_killed_does_not_swallow_a_notify() {
    let _wd = common::watchdog("waiter_killed", Duration::from_secs(60));
    let w = Words::new();
    let cond = Condition::new();
    let victim = wait_for_flag(cond.clone(), w).spawn().unwrap();
    let survivor = wait_for_flag(cond.clone(), w).spawn().unwrap();
    until(|| w.at(0).load(SeqCst) == 2);
    drop(cond.lock().unwrap());
    victim.kill().unwrap();
    assert!(victim.join().is_err());
    {
        let _g = cond.lock().unwrap();
        w.at(1).store(1, SeqCst);
    }
    cond.notify_one();
    survivor.join().unwrap();
}

#[test]
fn lock_holder_killed_waiter_gets_owner_died() {
    let _wd = common::watchdog("lock_holder_killed_waiter", Duration::from_secs(60));
    let w = Words::new();
    let cond = Condition::new();
    let waiter = wait_expect_owner_died(cond.clone(), w).spawn().unwrap();
    until(|| w.at(0).load(SeqCst) == 1);
    // The notifier notifies while holding the lock, then dies holding it.
    let locked = Event::new();
    let victim = notify_and_hold(cond.clone(), locked.clone())
        .spawn()
        .unwrap();
    locked.wait();
    victim.kill().unwrap();
    assert!(
        waiter.join().unwrap(),
        "the waiter retakes the lock with OwnerDied"
    );
    assert!(victim.join().is_err());
}

#[test]
fn notifier_died_waiter_times_out() {
    let _wd = common::watchdog("notifier_died", Duration::from_secs(60));
    let cond = Condition::new();
    let ready = Event::new();
    let victim = notify_after_an_hour(cond.clone(), ready.clone())
        .spawn()
        .unwrap();
    ready.wait();
    victim.kill().unwrap();
    let g = cond.lock().unwrap();
    // A spurious wake-up (the death is noticed) is allowed; the wait still
    // ends, and a timed wait for a condition that never comes times out.
    let (_g, r) = cond
        .wait_timeout_while(g, Duration::from_millis(200), || true)
        .unwrap();
    assert!(r.timed_out());
    assert!(victim.join().is_err());
}
