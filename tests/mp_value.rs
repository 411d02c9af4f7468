//! `mp::Value`, `mp::Array` and `mp::AtomicValue` across real OS processes:
//! Python's shared `Value`/`Array`, where a lock holder that dies leaves the
//! data poisoned (the next locker learns it) instead of silently corrupt.

mod common;

use csp::process;
use csp_core::mp::{Array, AtomicValue, SharedError, Value};
use csp_core::{Channel, Process};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

#[process]
fn adder(v: Value<u64>, n: u32) {
    for _ in 0..n {
        let mut g = v.get_lock().unwrap();
        // A read-modify-write that would lose updates unlocked.
        let x = *g;
        std::hint::black_box(&x);
        *g = x + 1;
    }
}

#[test]
fn increments_under_the_lock_from_four_processes() {
    let _wd = common::watchdog("increments_under_the_lock_from_four_processes", WATCHDOG);
    let v = Value::new(0u64);
    csp::parallel((0..4).map(|_| adder(v.clone(), 10_000))).unwrap();
    assert_eq!(v.get().unwrap(), 40_000);
    v.set(3).unwrap();
    assert_eq!(v.get(), Ok(3));
}

#[test]
fn values_of_arrays_and_floats() {
    let _wd = common::watchdog("values_of_arrays_and_floats", WATCHDOG);
    let v = Value::new([1.5f64, -2.0, 0.25]);
    let w = v.clone();
    Process::new("scaler", move || {
        let mut g = w.get_lock().unwrap();
        for x in g.iter_mut() {
            *x *= 2.0;
        }
    })
    .with(&v)
    .run()
    .unwrap();
    assert_eq!(v.get().unwrap(), [3.0, -4.0, 0.5]);
    let flag = Value::new(false);
    let f = flag.clone();
    Process::new("flagger", move || f.set(true).unwrap())
        .with(&flag)
        .run()
        .unwrap();
    assert!(flag.get().unwrap());
}

#[process]
fn negate(a: Array<i32>) {
    for x in a.get_lock().unwrap().iter_mut() {
        *x = -*x;
    }
}

#[test]
fn child_negates_an_array_in_place() {
    let _wd = common::watchdog("child_negates_an_array_in_place", WATCHDOG);
    let a = Array::from_slice(&[1i32, -2, 3, -4, 5]);
    assert_eq!(a.len(), 5);
    negate(a.clone()).run().unwrap();
    assert_eq!(a.to_vec().unwrap(), vec![-1, 2, -3, 4, -5]);
    assert_eq!(a.get(1), Ok(2));
    a.set(1, 20).unwrap();
    assert_eq!(a.get(1), Ok(20));
    assert_eq!(a.get(5), Err(SharedError::OutOfBounds { index: 5, len: 5 }));
    assert_eq!(
        a.set(9, 0),
        Err(SharedError::OutOfBounds { index: 9, len: 5 })
    );
    let z = Array::<u8>::zeroed(1000);
    assert!(z.to_vec().unwrap().iter().all(|&x| x == 0));
    assert!(Array::<u64>::zeroed(0).is_empty());
}

#[test]
fn array_rows_written_by_many_processes() {
    let _wd = common::watchdog("array_rows_written_by_many_processes", WATCHDOG);
    let a = Array::<u64>::zeroed(4 * 256);
    let procs: Vec<_> = (0..4u64)
        .map(|p| {
            let b = a.clone();
            Process::new("row", move || {
                for i in 0..256u64 {
                    b.set((p * 256 + i) as usize, p * 1000 + i).unwrap();
                }
            })
            .with(&a)
        })
        .collect();
    csp_core::parallel(procs).unwrap();
    let v = a.to_vec().unwrap();
    for p in 0..4u64 {
        for i in 0..256u64 {
            assert_eq!(v[(p * 256 + i) as usize], p * 1000 + i);
        }
    }
}

#[test]
fn atomic_value_from_four_processes() {
    let _wd = common::watchdog("atomic_value_from_four_processes", WATCHDOG);
    let n = AtomicValue::new(0u64);
    let cas_wins = AtomicValue::new(0i32);
    let procs: Vec<_> = (0..4)
        .map(|_| {
            let (n2, c2) = (n.clone(), cas_wins.clone());
            Process::new("atomics", move || {
                for _ in 0..10_000 {
                    n2.fetch_add(1);
                }
                // Exactly one process wins this.
                if c2.compare_exchange(0, 1).is_ok() {
                    c2.fetch_add(10);
                }
            })
            .with(&(&n, &cas_wins))
        })
        .collect();
    csp_core::parallel(procs).unwrap();
    assert_eq!(n.load(), 40_000);
    assert_eq!(cas_wins.load(), 11);
    assert_eq!(n.swap(5), 40_000);
    assert_eq!(n.fetch_sub(2), 5);
    assert_eq!(n.compare_exchange(1, 9), Err(3));
    n.store(0);
    assert_eq!(n.load(), 0);
}

/// A process SIGKILLed while it holds the value's lock: the next locker
/// learns it (the value is poisoned) instead of seeing a silently torn
/// update, or hanging.
#[test]
fn next_locker_learns_the_holder_was_killed() {
    let _wd = common::watchdog("next_locker_learns_the_holder_was_killed", WATCHDOG);
    let v = Value::new(10u64);
    let locked = AtomicValue::new(0u32);
    let (w, l) = (v.clone(), locked.clone());
    let holder = Process::new("holder", move || {
        let mut g = w.get_lock().unwrap();
        *g = 11; // half way through an update
        l.store(1);
        std::thread::sleep(Duration::from_secs(3600));
        *g = 12;
    })
    .with(&(&v, &locked))
    .spawn()
    .unwrap();
    while locked.load() == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    // A child blocked on the lock when the holder dies learns it too.
    let w = v.clone();
    let blocked = Process::new("blocked", move || w.get_lock().is_err())
        .with(&v)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    holder.kill().unwrap();
    let _ = holder.join();
    assert!(
        blocked.join().unwrap(),
        "the blocked locker did not learn of the death"
    );
    let e = v.get_lock().unwrap_err();
    assert_eq!(*e.into_inner(), 11); // the data is reachable to repair
    assert!(v.is_poisoned());
    assert_eq!(v.get(), Err(SharedError::Poisoned));
    assert_eq!(v.set(1), Err(SharedError::Poisoned));
    v.clear_poison();
    v.set(13).unwrap();
    assert_eq!(v.get(), Ok(13));
}

#[test]
fn killed_array_holder_poisons_the_array() {
    let _wd = common::watchdog("killed_array_holder_poisons_the_array", WATCHDOG);
    let a = Array::<u8>::zeroed(4);
    let locked = AtomicValue::new(0u8);
    let (b, l) = (a.clone(), locked.clone());
    let holder = Process::new("holder", move || {
        let _g = b.get_lock().unwrap();
        l.store(1);
        std::thread::sleep(Duration::from_secs(3600));
    })
    .with(&(&a, &locked))
    .spawn()
    .unwrap();
    while locked.load() == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(matches!(
        a.try_get_lock(),
        Err(std::sync::TryLockError::WouldBlock)
    ));
    holder.kill().unwrap();
    let _ = holder.join();
    assert!(a.get_lock().is_err());
    assert_eq!(a.to_vec(), Err(SharedError::Poisoned));
    a.clear_poison();
    assert_eq!(a.to_vec(), Ok(vec![0; 4]));
    assert!(a.try_get_lock().is_ok());
}

#[test]
fn panic_while_holding_poisons() {
    let _wd = common::watchdog("panic_while_holding_poisons", WATCHDOG);
    let v = Value::new(1u8);
    let w = v.clone();
    let r = Process::new("panicker", move || -> () {
        let _g = w.get_lock().unwrap();
        panic!("oops");
    })
    .with(&v)
    .run();
    assert!(r.is_err());
    assert!(v.is_poisoned());
}

#[test]
fn shared_handles_travel_and_types_are_checked() {
    let _wd = common::watchdog("shared_handles_travel_and_types_are_checked", WATCHDOG);
    let v = Value::new(7u64);
    let a = Array::from_slice(&[1u16, 2, 3]);
    let mail = Channel::<(Value<u64>, Array<u16>)>::buffered(1);
    let r = mail.reader();
    let p = Process::new("receiver", move || {
        let (v, a) = r.read().unwrap();
        v.set(v.get().unwrap() * 2).unwrap();
        a.set(0, 100).unwrap();
    })
    .with(&mail.reader())
    .spawn()
    .unwrap();
    mail.writer().write((v.clone(), a.clone())).unwrap();
    p.join().unwrap();
    assert_eq!(v.get(), Ok(14));
    assert_eq!(a.to_vec(), Ok(vec![100, 2, 3]));
    // A handle decoded as another type is refused.
    let s = serde_json::to_string(&v).unwrap();
    assert!(serde_json::from_str::<Value<i64>>(&s).is_err());
    let s = serde_json::to_string(&v).unwrap();
    assert!(serde_json::from_str::<Array<u64>>(&s).is_err());
    let s = serde_json::to_string(&v).unwrap();
    assert!(serde_json::from_str::<AtomicValue<u64>>(&s).is_err());
    let s = serde_json::to_string(&v).unwrap();
    assert_eq!(
        serde_json::from_str::<Value<u64>>(&s).unwrap().get(),
        Ok(14)
    );
}

#[process]
fn holds_the_lock(v: Value<u64>, a: Array<u8>, held: csp::Writer<()>, ms: u64) {
    let _gv = v.get_lock().unwrap();
    let _ga = a.get_lock().unwrap();
    held.write(()).unwrap();
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn get_lock_timeout_waits_for_a_holder_in_another_process() {
    let _wd = common::watchdog(
        "get_lock_timeout_waits_for_a_holder_in_another_process",
        Duration::from_secs(60),
    );
    let v = Value::new(1u64);
    let a = Array::from_slice(&[1u8, 2, 3]);
    let held = Channel::<()>::new();
    let h = holds_the_lock(v.clone(), a.clone(), held.writer(), 300)
        .spawn()
        .unwrap();
    held.reader().read().unwrap();
    assert!(matches!(
        v.get_lock_timeout(Duration::from_millis(20)),
        Err(std::sync::TryLockError::WouldBlock)
    ));
    assert!(matches!(
        a.get_lock_timeout(Duration::from_millis(20)),
        Err(std::sync::TryLockError::WouldBlock)
    ));
    // The holder lets go after its nap: a long enough wait gets the lock.
    assert_eq!(*v.get_lock_timeout(Duration::from_secs(10)).unwrap(), 1);
    assert_eq!(a.get_lock_timeout(Duration::from_secs(10)).unwrap()[2], 3);
    h.join().unwrap();
}
