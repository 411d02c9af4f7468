//! Dead peers (issue 3): a process blocked on a channel whose every peer
//! died (SIGKILL, `exit`) gets `ChannelError::PeerLost` instead of hanging;
//! a peer that dies while others on its side live changes nothing for the
//! survivors; buffered messages are still delivered first.
//!
//! The victims are killed with real signals. Every test has a watchdog: a
//! blocked operation that never returns fails the test. No test asserts how
//! fast the error came; the delay is printed (`--nocapture`) for reference.
//!
//! Not covered: a process killed while holding a channel's internal robust
//! lock (the channel is then poisoned); it cannot be staged reliably from
//! outside the runtime.

mod common;

use csp::FailureKind;
use csp::prelude::*;
use std::time::{Duration, Instant};

fn seen(e: &ChannelError) -> String {
    format!("{e:?}")
}

/// What a survivor may see when its peer was killed at a random moment:
/// `PeerLost`, or `Poisoned` if the kill landed in the middle of a channel
/// operation (holding the channel's robust lock, or between claiming and
/// publishing a ring slot), which poisons the channel by design.
fn lost_or_poisoned(e: &str) -> bool {
    e == "PeerLost" || e == "Poisoned"
}

/// Writes `0..n`, says so on `wrote`, then writes nothing more and sleeps
/// (to be killed).
#[process]
fn write_then_hang(out: Writer<u64>, n: u64, wrote: Writer<()>) {
    for i in 0..n {
        out.write(i).unwrap();
    }
    wrote.write(()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// Writes forever (to be killed at some point).
#[process]
fn write_forever(out: Writer<u64>) -> String {
    for i in 0.. {
        if let Err(e) = out.write(i) {
            return seen(&e);
        }
    }
    unreachable!()
}

/// Reads until an error: the values and the error.
#[process]
fn read_until_error(inp: Reader<u64>) -> (Vec<u64>, String) {
    let mut got = Vec::new();
    loop {
        match inp.read() {
            Ok(v) => got.push(v),
            Err(e) => return (got, seen(&e)),
        }
    }
}

/// Reads `n`, says so on `read`, then sleeps holding its reader.
#[process]
fn read_then_hang(inp: Reader<u64>, n: u64, read: Writer<()>) {
    for _ in 0..n {
        inp.read().unwrap();
    }
    read.write(()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// Writes until an error: how many it wrote and the error.
#[process]
fn write_until_error(out: Writer<u64>) -> (u64, String) {
    let mut n = 0;
    loop {
        match out.write(n) {
            Ok(()) => n += 1,
            Err(e) => return (n, seen(&e)),
        }
    }
}

fn assert_killed<R: serde::de::DeserializeOwned>(h: Handle<R>) {
    let Err(err) = h.join() else {
        panic!("the victim must fail")
    };
    assert!(
        matches!(
            err.failures()[0].kind,
            FailureKind::Signaled { signal: 9, .. }
        ),
        "{err}"
    );
}

#[test]
fn writer_killed_mid_stream_gives_blocked_reader_peer_lost() {
    let _wd = common::watchdog(
        "writer_killed_mid_stream_gives_blocked_reader_peer_lost",
        Duration::from_secs(60),
    );
    for ch in [Channel::<u64>::new(), Channel::buffered(8)] {
        let wrote = Channel::<()>::buffered(1);
        let reader = read_until_error(ch.reader()).spawn().unwrap();
        let writer = write_then_hang(ch.writer(), 100, wrote.writer())
            .spawn()
            .unwrap();
        wrote.reader().read().unwrap();
        std::thread::sleep(Duration::from_millis(30)); // the reader is blocked now
        let t0 = Instant::now();
        writer.kill().unwrap();
        // The writer is not reaped yet: the blocked reader notices alone.
        let (got, err) = reader.join().unwrap();
        eprintln!("reader got PeerLost {:?} after the kill", t0.elapsed());
        assert_eq!(err, "PeerLost");
        assert_eq!(
            got,
            (0..100).collect::<Vec<u64>>(),
            "everything written arrives first"
        );
        assert_killed(writer);
    }
}

#[test]
fn writer_killed_at_a_random_moment() {
    let _wd = common::watchdog("writer_killed_at_a_random_moment", Duration::from_secs(120));
    for (i, ch) in [
        Channel::<u64>::new(),
        Channel::buffered(4),
        Channel::new(),
        Channel::buffered(1),
    ]
    .into_iter()
    .enumerate()
    {
        let reader = read_until_error(ch.reader()).spawn().unwrap();
        let writer = write_forever(ch.writer()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(20 + 17 * i as u64));
        writer.kill().unwrap();
        let (got, err) = reader.join().unwrap();
        assert!(lost_or_poisoned(&err), "{err}");
        // A prefix of what was written: nothing lost in the middle, nothing
        // duplicated.
        assert_eq!(got, (0..got.len() as u64).collect::<Vec<u64>>());
        assert_killed(writer);
    }
}

#[test]
fn reader_killed_gives_blocked_writer_peer_lost() {
    let _wd = common::watchdog(
        "reader_killed_gives_blocked_writer_peer_lost",
        Duration::from_secs(60),
    );
    for ch in [Channel::<u64>::new(), Channel::buffered(4)] {
        let read = Channel::<()>::buffered(1);
        let writer = write_until_error(ch.writer()).spawn().unwrap();
        let reader = read_then_hang(ch.reader(), 10, read.writer())
            .spawn()
            .unwrap();
        read.reader().read().unwrap();
        std::thread::sleep(Duration::from_millis(30)); // the writer is blocked now
        let t0 = Instant::now();
        reader.kill().unwrap();
        let (n, err) = writer.join().unwrap();
        eprintln!("writer got PeerLost {:?} after the kill", t0.elapsed());
        assert_eq!(err, "PeerLost");
        // Rendezvous: exactly the 10 read; buffered: those plus a full buffer.
        assert_eq!(n, 10 + ch.len() as u64);
        assert_killed(reader);
    }
}

#[test]
fn one_of_two_writers_killed_the_other_carries_on() {
    let _wd = common::watchdog(
        "one_of_two_writers_killed_the_other_carries_on",
        Duration::from_secs(60),
    );
    #[process]
    fn on_signal(out: Writer<u64>, go: Reader<()>, vals: Vec<u64>) {
        go.read().unwrap();
        for v in vals {
            out.write(v).unwrap();
        }
        out.retire();
    }
    for ch in [Channel::<u64>::new(), Channel::buffered(4)] {
        let wrote = Channel::<()>::buffered(1);
        let go = Channel::<()>::new();
        let reader = read_until_error(ch.reader()).spawn().unwrap();
        let victim = write_then_hang(ch.writer(), 3, wrote.writer())
            .spawn()
            .unwrap();
        let survivor = on_signal(ch.writer(), go.reader(), vec![10, 11, 12])
            .spawn()
            .unwrap();
        wrote.reader().read().unwrap();
        victim.kill().unwrap();
        // Reaping the victim releases its writer (the count drops from two
        // to one) before the survivor goes on.
        assert_killed(victim);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            reader.is_alive(),
            "the reader must keep waiting for the survivor"
        );
        go.writer().write(()).unwrap();
        survivor.join().unwrap();
        let (got, err) = reader.join().unwrap();
        assert_eq!(got, [0, 1, 2, 10, 11, 12]);
        assert_eq!(
            err, "Retired",
            "the last writer retired: Retired, not PeerLost"
        );
    }
}

#[test]
fn one_of_two_writers_killed_parent_reads() {
    let _wd = common::watchdog(
        "one_of_two_writers_killed_parent_reads",
        Duration::from_secs(60),
    );
    let ch = Channel::<u64>::buffered(2);
    let wrote = Channel::<()>::buffered(1);
    let survivor_go = Channel::<()>::new();
    let r = ch.reader();
    let victim = write_then_hang(ch.writer(), 1, wrote.writer())
        .spawn()
        .unwrap();
    let w = ch.writer();
    let g = survivor_go.reader();
    let survivor = csp::Process::new("survivor", move || {
        g.read().unwrap();
        w.write(50).unwrap();
    })
    .with(&ch.writer())
    .with(&survivor_go.reader())
    .spawn()
    .unwrap();
    wrote.reader().read().unwrap();
    victim.kill().unwrap();
    assert_eq!(r.read(), Ok(0));
    // The victim may or may not have been noticed yet: either way, the
    // survivor still counts, so this is a timeout, not PeerLost.
    assert_eq!(
        r.read_timeout(Duration::from_millis(100)),
        Err(ChannelError::Timeout)
    );
    assert_killed(victim);
    assert_eq!(
        r.read_timeout(Duration::from_millis(50)),
        Err(ChannelError::Timeout)
    );
    survivor_go.writer().write(()).unwrap();
    assert_eq!(r.read(), Ok(50));
    survivor.join().unwrap();
    assert_eq!(r.read(), Err(ChannelError::Retired));
}

#[test]
fn one_of_two_readers_killed_the_writer_carries_on() {
    let _wd = common::watchdog(
        "one_of_two_readers_killed_the_writer_carries_on",
        Duration::from_secs(60),
    );
    let ch = Channel::<u64>::new();
    let read = Channel::<()>::buffered(1);
    let w = ch.writer();
    let victim = read_then_hang(ch.reader(), 2, read.writer())
        .spawn()
        .unwrap();
    // The survivor's reader exists from the start (the side never drops to
    // zero ends), but it starts reading only once the victim has its two.
    let survivor = read_until_error(ch.reader());
    for i in 0..2 {
        w.write(i).unwrap();
    }
    read.reader().read().unwrap();
    let survivor = survivor.spawn().unwrap();
    victim.kill().unwrap();
    assert_killed(victim);
    for i in 2..6 {
        w.write(i).unwrap();
    }
    w.retire();
    let (got, err) = survivor.join().unwrap();
    assert_eq!(err, "Retired");
    assert_eq!(
        got,
        [2, 3, 4, 5],
        "the victim took two, the survivor the rest"
    );
}

#[test]
fn killed_before_it_ever_ran() {
    let _wd = common::watchdog("killed_before_it_ever_ran", Duration::from_secs(60));
    // Killed right after the fork: possibly before the child took its life
    // lock. Its writer is still released.
    for _ in 0..10 {
        let ch = Channel::<u64>::new();
        let r = ch.reader();
        let writer = write_forever(ch.writer()).spawn().unwrap();
        writer.kill().unwrap();
        loop {
            match r.read() {
                Ok(_) => continue, // it got some writes in before the signal
                Err(e) => {
                    assert!(lost_or_poisoned(&seen(&e)), "{e:?}");
                    break;
                }
            }
        }
        assert_killed(writer);
    }
}

#[test]
fn killed_middle_of_a_pipeline() {
    let _wd = common::watchdog("killed_middle_of_a_pipeline", Duration::from_secs(60));
    #[process]
    fn forward(inp: Reader<u64>, out: Writer<u64>) {
        while let Ok(v) = inp.read() {
            out.write(v).unwrap();
        }
    }
    let a = Channel::<u64>::new();
    let b = Channel::<u64>::new();
    let head = write_until_error(a.writer()).spawn().unwrap();
    let middle = forward(a.reader(), b.writer()).spawn().unwrap();
    let tail = read_until_error(b.reader()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    middle.kill().unwrap();
    let (n, herr) = head.join().unwrap();
    let (got, terr) = tail.join().unwrap();
    assert!(lost_or_poisoned(&herr), "head saw {herr}");
    assert!(lost_or_poisoned(&terr), "tail saw {terr}");
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<u64>>());
    // The middle holds at most one value it read but did not pass on.
    assert!(
        n >= got.len() as u64 && n <= got.len() as u64 + 1,
        "head wrote {n}, tail got {}",
        got.len()
    );
    assert_killed(middle);
}

#[test]
fn exit_without_returning_is_a_lost_peer() {
    let _wd = common::watchdog(
        "exit_without_returning_is_a_lost_peer",
        Duration::from_secs(60),
    );
    #[process]
    fn write_then_exit(out: Writer<u64>) {
        out.write(1).unwrap();
        std::process::exit(3);
    }
    let ch = Channel::<u64>::new();
    let r = ch.reader();
    let h = write_then_exit(ch.writer()).spawn().unwrap();
    assert_eq!(r.read(), Ok(1));
    assert_eq!(r.read(), Err(ChannelError::PeerLost));
    assert_eq!(
        h.join().unwrap_err().failures()[0].kind,
        FailureKind::Exited(3)
    );
}

#[test]
fn panicking_writer_retires_its_end() {
    let _wd = common::watchdog("panicking_writer_retires_its_end", Duration::from_secs(60));
    #[process]
    fn write_then_panic(out: Writer<u64>) {
        out.write(1).unwrap();
        panic!("writer gives up");
    }
    let ch = Channel::<u64>::new();
    let r = ch.reader();
    let h = write_then_panic(ch.writer()).spawn().unwrap();
    assert_eq!(r.read(), Ok(1));
    // A panic unwinds: the end is dropped (retired), not lost.
    assert_eq!(r.read(), Err(ChannelError::Retired));
    assert!(matches!(
        h.join().unwrap_err().failures()[0].kind,
        FailureKind::Panicked(_)
    ));
}

#[test]
fn killing_a_holder_of_a_channel_handle_only_changes_nothing() {
    let _wd = common::watchdog(
        "killing_a_holder_of_a_channel_handle_only_changes_nothing",
        Duration::from_secs(60),
    );
    let ch = Channel::<u64>::buffered(2);
    let held = ch.clone();
    let holder = csp::Process::new("holder", move || {
        let _keep = held;
        std::thread::sleep(Duration::from_secs(600));
    })
    .with(&ch)
    .spawn()
    .unwrap();
    let (r, w) = (ch.reader(), ch.writer());
    holder.kill().unwrap();
    assert_killed(holder);
    w.write(4).unwrap();
    assert_eq!(r.read(), Ok(4));
    assert_eq!(
        r.read_timeout(Duration::from_millis(20)),
        Err(ChannelError::Timeout)
    );
    drop(w);
    assert_eq!(r.read(), Err(ChannelError::Retired));
}

#[process]
fn sends_ends_until_blocked(
    out: Writer<Writer<u32>>,
    a: Writer<u32>,
    b: Writer<u32>,
    ready: Writer<()>,
) {
    out.write(a).unwrap(); // fills the buffer: delivered
    ready.write(()).unwrap();
    let _ = out.write(b); // blocks: the buffer is full and nobody reads
}

#[test]
fn ends_in_flight_with_a_killed_sender_are_released() {
    // Regression: the writer of `b` is encoded into a message its sender
    // is still trying to deliver when the sender is killed. It was counted
    // in transit with nothing to release it, so `b`'s reader hung.
    let _wd = common::watchdog(
        "ends_in_flight_with_a_killed_sender_are_released",
        Duration::from_secs(60),
    );
    let outer = Channel::<Writer<u32>>::buffered(1);
    let (a, b, ready) = (
        Channel::<u32>::buffered(1),
        Channel::<u32>::buffered(1),
        Channel::<()>::new(),
    );
    let (ro, ra, rb) = (outer.reader(), a.reader(), b.reader());
    let h = sends_ends_until_blocked(outer.writer(), a.writer(), b.writer(), ready.writer())
        .spawn()
        .unwrap();
    drop((a, b));
    ready.reader().read().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // in its second write
    h.kill().unwrap();
    let _ = h.join();
    assert_eq!(
        rb.read_timeout(Duration::from_secs(5)),
        Err(ChannelError::PeerLost)
    );
    // The delivered message still carries `a`'s writer, which works.
    let wa = ro.read().unwrap();
    wa.write(9).unwrap();
    assert_eq!(ra.read(), Ok(9));
    drop(outer);
}
