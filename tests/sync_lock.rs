//! `sync::Lock` and `sync::RLock` across real OS processes: mutual
//! exclusion, try/timeout forms, reentrancy, and holders that die (SIGKILL
//! or panic) leaving `OwnerDied` with the guard to the next locker.

mod common;

use csp::prelude::*;
use csp_core::sync::{Event, Lock, LockError, RLock};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use common::Words;

/// A deliberately racy increment: load, maybe yield, store. Only a lock
/// makes concurrent ones add up.
fn racy_increment(w: &AtomicU64) {
    let v = w.load(SeqCst);
    if v % 7 == 0 {
        std::thread::yield_now();
    }
    w.store(v + 1, SeqCst);
}

#[process]
fn increment_under_lock(l: Lock, words: Words, n: u64) {
    for _ in 0..n {
        let _g = l.lock().unwrap();
        racy_increment(words.at(0));
    }
}

#[process]
fn increment_under_rlock_twice(l: RLock, words: Words, n: u64) {
    for _ in 0..n {
        let _a = l.lock().unwrap();
        let _b = l.lock().unwrap();
        racy_increment(words.at(0));
    }
}

/// (try_lock would block, lock_timeout timed out)
#[process]
fn contend(l: Lock) -> (bool, bool) {
    let busy = matches!(l.try_lock(), Err(LockError::WouldBlock));
    let timed = matches!(
        l.lock_timeout(Duration::from_millis(50)),
        Err(LockError::Timeout)
    );
    (busy, timed)
}

#[process]
fn take_and_check_held(l: Lock) -> bool {
    let g = l.lock_timeout(Duration::from_secs(30));
    g.is_ok() && l.try_lock().is_err()
}

#[process]
fn hold_for_ms(l: Lock, locked: Event, ms: u64) {
    let _g = l.lock().unwrap();
    locked.set();
    std::thread::sleep(Duration::from_millis(ms));
}

/// Locks, starts an update it never finishes, and sleeps (to be killed).
#[process]
fn hold_mid_update(l: Lock, locked: Event, words: Words) {
    let _g = l.lock().unwrap();
    words.at(0).store(1, SeqCst); // half-done update
    locked.set();
    std::thread::sleep(Duration::from_secs(3600));
    words.at(0).store(2, SeqCst);
}

/// Blocks in `lock()`; expects `OwnerDied`, repairs the state.
#[process]
fn lock_and_recover(l: Lock, words: Words) -> bool {
    match l.lock() {
        Err(LockError::OwnerDied(g)) => {
            assert_eq!(words.at(0).load(SeqCst), 1);
            words.at(0).store(0, SeqCst);
            drop(g);
            true
        }
        _ => false,
    }
}

#[process]
fn panic_holding(l: Lock) {
    let _g = l.lock().unwrap();
    panic!("holder gives up mid-update");
}

#[process]
fn rlock_try(l: RLock) -> bool {
    matches!(l.try_lock(), Err(LockError::WouldBlock))
}

#[process]
fn rlock_hold_twice(l: RLock, locked: Event) {
    let _a = l.lock().unwrap();
    let _b = l.lock().unwrap();
    locked.set();
    std::thread::sleep(Duration::from_secs(3600));
}

#[test]
fn lock_excludes_other_processes() {
    let _wd = common::watchdog("lock_excludes_other_processes", Duration::from_secs(60));
    let words = Words::new();
    let lock = Lock::new();
    let hs: Vec<_> = (0..4)
        .map(|_| {
            increment_under_lock(lock.clone(), words, 2000)
                .spawn()
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(words.at(0).load(SeqCst), 4 * 2000);
}

#[test]
fn try_lock_and_lock_timeout() {
    let _wd = common::watchdog("try_lock_and_lock_timeout", Duration::from_secs(60));
    let lock = Lock::new();
    let g = lock.lock().unwrap();
    assert_eq!(contend(lock.clone()).run().unwrap(), (true, true));
    drop(g);
    assert!(take_and_check_held(lock.clone()).run().unwrap());
    assert!(lock.try_lock().is_ok());
}

#[test]
fn lock_timeout_gets_a_lock_released_meanwhile() {
    let _wd = common::watchdog("lock_timeout_released_meanwhile", Duration::from_secs(60));
    let lock = Lock::new();
    let locked = Event::new();
    let h = hold_for_ms(lock.clone(), locked.clone(), 50)
        .spawn()
        .unwrap();
    locked.wait();
    assert!(lock.lock_timeout(Duration::from_secs(30)).is_ok());
    h.join().unwrap();
}

#[test]
fn holder_killed_next_locker_gets_owner_died_and_recovers() {
    let _wd = common::watchdog("holder_killed_owner_died", Duration::from_secs(60));
    let words = Words::new();
    let lock = Lock::new();
    let locked = Event::new();
    let victim = hold_mid_update(lock.clone(), locked.clone(), words)
        .spawn()
        .unwrap();
    locked.wait();
    // A contender already blocked in lock() when the holder dies is woken.
    let waiter = lock_and_recover(lock.clone(), words).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    victim.kill().unwrap();
    assert!(waiter.join().unwrap(), "the next locker must get OwnerDied");
    assert!(victim.join().is_err());
    // Only the first locker after the death is told; then it is a lock again.
    let g = lock.lock().expect("clean after recovery");
    assert_eq!(words.at(0).load(SeqCst), 0);
    drop(g);
}

#[test]
fn holder_killed_lock_timeout_and_try_lock_see_owner_died() {
    let _wd = common::watchdog("holder_killed_timeout_forms", Duration::from_secs(60));
    for use_try in [false, true] {
        let lock = Lock::new();
        let locked = Event::new();
        let victim = hold_for_ms(lock.clone(), locked.clone(), 3_600_000)
            .spawn()
            .unwrap();
        locked.wait();
        victim.kill().unwrap();
        assert!(victim.join().is_err());
        let r = if use_try {
            lock.try_lock()
        } else {
            lock.lock_timeout(Duration::from_secs(30))
        };
        let g = r
            .expect_err("owner died")
            .into_inner()
            .expect("the guard comes back");
        drop(g);
        assert!(lock.try_lock().is_ok());
    }
}

#[test]
fn holder_panicking_counts_as_died() {
    let _wd = common::watchdog("holder_panicking_counts_as_died", Duration::from_secs(60));
    let lock = Lock::new();
    assert!(panic_holding(lock.clone()).run().is_err());
    assert!(lock.lock().unwrap_err().is_owner_died());
    assert!(lock.lock().is_ok());
}

#[test]
fn rlock_is_reentrant_for_its_thread_only() {
    let _wd = common::watchdog("rlock_is_reentrant", Duration::from_secs(60));
    let rl = RLock::new();
    let g1 = rl.lock().unwrap();
    let g2 = rl.lock().unwrap();
    let g3 = rl.try_lock().unwrap();
    assert_eq!(rl.depth(), 3);
    assert!(rl.is_owned());
    // Another thread of this process, and another process, cannot take it.
    let other = rl.clone();
    let t = std::thread::spawn(move || {
        (
            matches!(other.try_lock(), Err(LockError::WouldBlock)),
            other.is_owned(),
        )
    });
    assert_eq!(t.join().unwrap(), (true, false));
    assert!(rlock_try(rl.clone()).run().unwrap());
    drop(g3);
    drop(g2);
    assert!(
        rlock_try(rl.clone()).run().unwrap(),
        "still held at depth 1"
    );
    drop(g1);
    assert_eq!(rl.depth(), 0);
    assert!(
        !rlock_try(rl.clone()).run().unwrap(),
        "free once every guard is dropped"
    );
}

#[test]
fn rlock_excludes_other_processes() {
    let _wd = common::watchdog("rlock_excludes_other_processes", Duration::from_secs(60));
    let words = Words::new();
    let rl = RLock::new();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            increment_under_rlock_twice(rl.clone(), words, 1000)
                .spawn()
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(words.at(0).load(SeqCst), 3000);
}

#[test]
fn rlock_holder_killed_gives_owner_died() {
    let _wd = common::watchdog("rlock_holder_killed", Duration::from_secs(60));
    let rl = RLock::new();
    let locked = Event::new();
    let victim = rlock_hold_twice(rl.clone(), locked.clone())
        .spawn()
        .unwrap();
    locked.wait();
    victim.kill().unwrap();
    assert!(victim.join().is_err());
    let g = rl
        .lock_timeout(Duration::from_secs(30))
        .unwrap_err()
        .into_inner()
        .unwrap();
    assert_eq!(rl.depth(), 1, "the dead holder's depth is not inherited");
    let g2 = rl.lock().unwrap();
    drop(g2);
    drop(g);
    assert!(
        !rlock_try(rl.clone()).run().unwrap(),
        "released after recovery"
    );
}
