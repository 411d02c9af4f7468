//! `sync::Event` across real OS processes: set/clear/wait, timeouts, a
//! setter killed with SIGKILL, events sent in messages.

mod common;

use csp::prelude::*;
use csp_core::sync::Event;
use std::time::Duration;

#[process]
fn wait_then_return(e: Event, i: u32) -> u32 {
    e.wait();
    assert!(e.is_set());
    i
}

#[process]
fn set_later(e: Event) {
    std::thread::sleep(Duration::from_millis(20));
    e.set();
}

#[process]
fn wait_for_ms(e: Event, ms: u64) -> bool {
    e.wait_timeout(Duration::from_millis(ms))
}

/// Says it is ready, then would set `e` after an hour (it is killed).
#[process]
fn set_after_an_hour(e: Event, ready: Event) {
    ready.set();
    std::thread::sleep(Duration::from_secs(3600));
    e.set();
}

#[process]
fn receive_and_set(r: Reader<Event>) {
    r.read().unwrap().set();
}

#[process]
fn pong(ping: Event, pong: Event, n: u32) {
    for _ in 0..n {
        ping.wait();
        ping.clear();
        pong.set();
    }
}

#[test]
fn set_releases_every_waiter() {
    let _wd = common::watchdog("set_releases_every_waiter", Duration::from_secs(60));
    let ev = Event::new();
    let hs: Vec<_> = (0..3)
        .map(|i| wait_then_return(ev.clone(), i).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert!(!ev.is_set());
    ev.set();
    let mut got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec![0, 1, 2]);
}

#[test]
fn set_in_child_wakes_parent() {
    let _wd = common::watchdog("set_in_child_wakes_parent", Duration::from_secs(60));
    let ev = Event::new();
    let h = set_later(ev.clone()).spawn().unwrap();
    ev.wait();
    assert!(ev.is_set());
    h.join().unwrap();
}

#[test]
fn clear_and_timeouts() {
    let _wd = common::watchdog("clear_and_timeouts", Duration::from_secs(60));
    let ev = Event::new();
    assert!(!ev.wait_timeout(Duration::from_millis(30)));
    ev.set();
    assert!(ev.wait_timeout(Duration::from_millis(30)));
    ev.wait(); // set: returns at once
    ev.clear();
    assert!(!ev.is_set());
    assert!(!wait_for_ms(ev.clone(), 50).run().unwrap());
    // A later set is seen by a waiter with a long timeout.
    let h = wait_for_ms(ev.clone(), 30_000).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    ev.set();
    assert!(h.join().unwrap());
}

#[test]
fn waiter_whose_setter_died_times_out_cleanly() {
    let _wd = common::watchdog("waiter_whose_setter_died", Duration::from_secs(60));
    let ev = Event::new();
    let ready = Event::new();
    let setter = set_after_an_hour(ev.clone(), ready.clone())
        .spawn()
        .unwrap();
    let waiter = wait_for_ms(ev.clone(), 300).spawn().unwrap();
    ready.wait();
    setter.kill().unwrap();
    assert!(setter.join().is_err());
    assert!(!waiter.join().unwrap(), "nobody set the event");
    // The event still works for those who are left.
    ev.set();
    assert!(ev.wait_timeout(Duration::from_millis(1)));
}

#[test]
fn event_travels_in_a_message() {
    let _wd = common::watchdog("event_travels_in_a_message", Duration::from_secs(60));
    let ch = Channel::<Event>::buffered(1);
    let h = receive_and_set(ch.reader()).spawn().unwrap();
    let ev = Event::new();
    ch.writer().write(ev.clone()).unwrap();
    ev.wait();
    h.join().unwrap();
}

#[test]
fn many_set_clear_cycles() {
    let _wd = common::watchdog("many_set_clear_cycles", Duration::from_secs(60));
    // Ping-pong with two events: each side waits for its event, clears it,
    // and sets the other's.
    let (ping, pong_ev) = (Event::new(), Event::new());
    let h = pong(ping.clone(), pong_ev.clone(), 500).spawn().unwrap();
    for _ in 0..500 {
        ping.set();
        pong_ev.wait();
        pong_ev.clear();
    }
    h.join().unwrap();
}
