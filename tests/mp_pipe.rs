//! `mp::pipe` and `mp::pipe_oneway` across real OS processes: Python's
//! `multiprocessing.Pipe`, where a closed peer is end of file and a dead
//! peer is an error, never a hang.

mod common;

use csp::process;
use csp_core::mp::{Connection, PipeError, PipeWriter, pipe, pipe_oneway};
use csp_core::{Channel, Process};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Answers every string with its length until end of file.
#[process]
fn lengths(conn: Connection<usize, String>) -> u32 {
    let mut n = 0;
    while let Ok(s) = conn.recv() {
        conn.send(s.len()).unwrap();
        n += 1;
    }
    n
}

#[test]
fn duplex_round_trips_with_two_types() {
    let _wd = common::watchdog("duplex_round_trips_with_two_types", WATCHDOG);
    let (parent, child) = pipe::<String, usize>();
    let p = lengths(child).spawn().unwrap();
    for i in 0..500 {
        parent.send("x".repeat(i)).unwrap();
        assert_eq!(parent.recv().unwrap(), i);
    }
    drop(parent); // the child reads end of file
    assert_eq!(p.join().unwrap(), 500);
}

#[process]
fn send_vectors(w: PipeWriter<Vec<u32>>, n: u32) {
    for i in 0..n {
        w.send(vec![i; (i % 20) as usize]).unwrap();
    }
}

#[test]
fn oneway_drains_then_reads_end_of_file() {
    let _wd = common::watchdog("oneway_drains_then_reads_end_of_file", WATCHDOG);
    let (r, w) = pipe_oneway::<Vec<u32>>();
    let p = send_vectors(w, 300).spawn().unwrap();
    let mut got = 0;
    loop {
        match r.recv() {
            Ok(v) => {
                assert_eq!(v, vec![got; (got % 20) as usize]);
                got += 1;
            }
            Err(e) => {
                assert_eq!(e, PipeError::Closed);
                break;
            }
        }
    }
    assert_eq!(got, 300);
    p.join().unwrap();
}

#[test]
fn timeouts_and_poll() {
    let _wd = common::watchdog("timeouts_and_poll", WATCHDOG);
    let (a, b) = pipe::<u32, u32>();
    assert_eq!(
        a.recv_timeout(Duration::from_millis(30)),
        Err(PipeError::Timeout)
    );
    assert_eq!(a.try_recv(), Err(PipeError::WouldBlock));
    assert!(!a.poll(Duration::ZERO));
    assert!(!a.poll(Duration::from_millis(30)));
    let b2 = b.clone();
    let p = Process::new("late", move || {
        std::thread::sleep(Duration::from_millis(100));
        b2.send(42).unwrap();
        b2.send(43).unwrap();
    })
    .with(&b)
    .spawn()
    .unwrap();
    drop(b);
    assert!(a.poll(Duration::from_secs(30)));
    assert!(a.poll(Duration::ZERO)); // still there: poll does not consume
    assert_eq!(a.recv().unwrap(), 42);
    assert_eq!(a.recv_timeout(Duration::from_secs(30)).unwrap(), 43);
    p.join().unwrap();
    // End of file counts as readable, as in Python.
    assert!(a.poll(Duration::from_secs(30)));
    assert_eq!(a.recv(), Err(PipeError::Closed));
    assert_eq!(a.send(1), Err(PipeError::Closed));
}

#[test]
fn closed_peer_is_end_of_file_both_ways() {
    let _wd = common::watchdog("closed_peer_is_end_of_file_both_ways", WATCHDOG);
    let (a, b) = pipe::<u8, u8>();
    b.send(1).unwrap();
    b.close();
    assert_eq!(b.send(2), Err(PipeError::Closed));
    assert_eq!(b.recv(), Err(PipeError::Closed));
    assert_eq!(a.recv(), Ok(1));
    assert_eq!(a.recv(), Err(PipeError::Closed));
    assert_eq!(a.send(3), Err(PipeError::Closed));

    let (r, w) = pipe_oneway::<u8>();
    drop(r);
    assert_eq!(w.send(1), Err(PipeError::Closed));
}

/// The peer is SIGKILLed while we are blocked in `recv`.
#[test]
fn recv_learns_a_killed_peer() {
    let _wd = common::watchdog("recv_learns_a_killed_peer", WATCHDOG);
    let (a, b) = pipe::<u8, u8>();
    let b2 = b.clone();
    let peer = Process::new("peer", move || {
        b2.send(1).unwrap();
        std::thread::sleep(Duration::from_secs(3600));
    })
    .with(&b)
    .spawn()
    .unwrap();
    drop(b);
    assert_eq!(a.recv(), Ok(1));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        peer.kill().unwrap();
        peer
    });
    assert_eq!(a.recv(), Err(PipeError::PeerLost));
    assert_eq!(a.send(2), Err(PipeError::PeerLost));
    assert!(a.poll(Duration::ZERO));
    let _ = killer.join().unwrap().join();
}

/// A child blocked in `recv` learns that the process holding the other end
/// was SIGKILLed.
#[test]
fn blocked_child_learns_its_peer_was_killed() {
    let _wd = common::watchdog("blocked_child_learns_its_peer_was_killed", WATCHDOG);
    let (a, b) = pipe::<u8, u8>();
    let b2 = b.clone();
    let holder = Process::new("holder", move || {
        b2.send(0).unwrap();
        std::thread::sleep(Duration::from_secs(3600));
    })
    .with(&b)
    .spawn()
    .unwrap();
    drop(b);
    let a2 = a.clone();
    let waiter = Process::new("waiter", move || {
        let first = a2.recv();
        let second = a2.recv();
        (first, second)
    })
    .with(&a)
    .spawn()
    .unwrap();
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    holder.kill().unwrap();
    assert_eq!(waiter.join().unwrap(), (Ok(0), Err(PipeError::PeerLost)));
    let _ = holder.join();
}

#[test]
fn connection_travels_through_a_channel() {
    let _wd = common::watchdog("connection_travels_through_a_channel", WATCHDOG);
    let mail = Channel::<Connection<u64, u64>>::buffered(1);
    let r = mail.reader();
    let p = Process::new("doubler", move || {
        let conn = r.read().unwrap();
        while let Ok(v) = conn.recv() {
            conn.send(v * 2).unwrap();
        }
    })
    .with(&mail.reader())
    .spawn()
    .unwrap();
    let (mine, theirs) = pipe::<u64, u64>();
    mail.writer().write(theirs).unwrap();
    for i in 0..100 {
        mine.send(i).unwrap();
        assert_eq!(mine.recv().unwrap(), i * 2);
    }
    // A connection holding a message taken by poll cannot be sent away.
    mine.send(7).unwrap();
    assert!(mine.poll(Duration::from_secs(30)));
    assert!(mail.writer().write(mine.clone()).is_err());
    assert_eq!(mine.recv().unwrap(), 14);
    drop(mine);
    p.join().unwrap();
}

#[test]
fn threads_polling_one_connection_lose_nothing() {
    let _wd = common::watchdog(
        "threads_polling_one_connection_lose_nothing",
        Duration::from_secs(60),
    );
    let (a, b) = pipe::<u32, u32>();
    for round in 0..50u32 {
        a.send(2 * round).unwrap();
        a.send(2 * round + 1).unwrap();
        // Two threads poll the same connection at once: each may take a
        // message ahead of `recv`; both must come out.
        std::thread::scope(|s| {
            s.spawn(|| assert!(b.poll(Duration::from_secs(5))));
            s.spawn(|| assert!(b.poll(Duration::from_secs(5))));
        });
        let mut got = [b.recv().unwrap(), b.recv().unwrap()];
        got.sort();
        assert_eq!(got, [2 * round, 2 * round + 1]);
        assert!(!b.poll(Duration::ZERO));
    }
}

#[test]
fn send_timeout_on_a_full_pipe_hands_the_message_back() {
    let (a, b) = pipe::<u32, u32>();
    let mut sent = 0;
    while a.try_send(sent).is_ok() {
        sent += 1;
    }
    assert!(sent > 0);
    let e = a.send_timeout(777, Duration::from_millis(30)).unwrap_err();
    assert_eq!(e.error, csp::ChannelError::Timeout);
    assert_eq!(e.into_inner(), 777);
    // Room again: the same call goes through.
    assert_eq!(b.recv(), Ok(0));
    a.send_timeout(777, Duration::from_secs(5)).unwrap();
    let (r, w) = pipe_oneway::<u8>();
    w.send_timeout(5, Duration::from_secs(1)).unwrap();
    assert_eq!(r.recv(), Ok(5));
}
