//! Retire and poison with PyCSP semantics, through networks of processes
//! (issue 3). The pipeline shape follows PyCSP's retire/poison examples.

mod common;

use csp::prelude::*;
use std::time::Duration;

#[process]
fn source(out: Writer<u64>, n: u64) {
    for i in 0..n {
        if out.write(i).is_err() {
            return;
        }
    }
    out.retire();
}

/// Adds one to everything; on retire retires its output, on poison
/// poisons it; reports how its input ended.
#[process]
fn stage(inp: Reader<u64>, out: Writer<u64>) -> String {
    loop {
        match inp.read() {
            Ok(v) => match out.write(v + 1) {
                Ok(()) => {}
                Err(ChannelError::Poisoned) => {
                    inp.poison();
                    return "poisoned".into();
                }
                Err(e) => return format!("output: {e}"),
            },
            Err(ChannelError::Retired) => {
                out.retire();
                return "retired".into();
            }
            Err(ChannelError::Poisoned) => {
                out.poison();
                return "poisoned".into();
            }
            Err(e) => return format!("input: {e}"),
        }
    }
}

#[process]
fn sink(inp: Reader<u64>) -> (Vec<u64>, String) {
    let mut got = Vec::new();
    loop {
        match inp.read() {
            Ok(v) => got.push(v),
            Err(e) => return (got, format!("{e:?}")),
        }
    }
}

#[process]
fn sink_that_poisons(inp: Reader<u64>, after: usize) -> usize {
    for i in 0..after {
        if inp.read().is_err() {
            return i;
        }
    }
    inp.poison();
    after
}

#[test]
fn retire_travels_through_a_pipeline() {
    let _wd = common::watchdog("retire_pipeline", Duration::from_secs(60));
    let chans: Vec<Channel<u64>> = (0..6).map(|_| Channel::new()).collect();
    let stages: Vec<_> = (0..5)
        .map(|i| stage(chans[i].reader(), chans[i + 1].writer()))
        .collect();
    let hs: Vec<_> = stages.into_iter().map(|p| p.spawn().unwrap()).collect();
    let ((), (got, end)) =
        Parallel!(source(chans[0].writer(), 100), sink(chans[5].reader())).unwrap();
    assert_eq!(got, (5..105).collect::<Vec<_>>());
    assert_eq!(end, "Retired");
    for h in hs {
        assert_eq!(h.join().unwrap(), "retired");
    }
}

#[test]
fn poison_from_the_tail_reaches_every_process() {
    let _wd = common::watchdog("poison_tail", Duration::from_secs(60));
    let chans: Vec<Channel<u64>> = (0..6).map(|_| Channel::buffered(4)).collect();
    let stages: Vec<_> = (0..5)
        .map(|i| stage(chans[i].reader(), chans[i + 1].writer()))
        .collect();
    let hs: Vec<_> = stages.into_iter().map(|p| p.spawn().unwrap()).collect();
    let ((), n) = Parallel!(
        source(chans[0].writer(), u64::MAX),
        sink_that_poisons(chans[5].reader(), 50)
    )
    .unwrap();
    assert_eq!(n, 50);
    for h in hs {
        assert_eq!(h.join().unwrap(), "poisoned");
    }
    for c in &chans {
        assert_eq!(c.reader().try_read(), Err(ChannelError::Poisoned));
        assert_eq!(
            c.writer().try_write(1).unwrap_err().error,
            ChannelError::Poisoned
        );
    }
}

#[process]
fn poison_later(ch: Channel<u64>, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    ch.poison();
}

#[test]
fn poison_from_the_middle() {
    let _wd = common::watchdog("poison_middle", Duration::from_secs(60));
    let chans: Vec<Channel<u64>> = (0..6).map(|_| Channel::new()).collect();
    let stages: Vec<_> = (0..5)
        .map(|i| stage(chans[i].reader(), chans[i + 1].writer()))
        .collect();
    let hs: Vec<_> = stages.into_iter().map(|p| p.spawn().unwrap()).collect();
    let poisoner = poison_later(chans[3].clone(), 100).spawn().unwrap();
    let ((), (_, end)) =
        Parallel!(source(chans[0].writer(), u64::MAX), sink(chans[5].reader())).unwrap();
    assert_eq!(end, "Poisoned");
    poisoner.join().unwrap();
    for h in hs {
        assert_eq!(h.join().unwrap(), "poisoned");
    }
}

#[test]
fn retire_is_counted_per_end() {
    let _wd = common::watchdog("retire_per_end", Duration::from_secs(60));
    let ch = Channel::<u64>::buffered(8);
    let (w1, w2, r) = (ch.writer(), ch.writer(), ch.reader());
    w1.write(1).unwrap();
    w1.retire();
    assert_eq!(w1.write(9), Err(ChannelError::Retired)); // a retired end is done
    w2.write(2).unwrap();
    assert_eq!(r.read().unwrap(), 1);
    assert_eq!(r.read().unwrap(), 2);
    assert_eq!(
        r.read_timeout(Duration::from_millis(20)),
        Err(ChannelError::Timeout)
    );
    w2.write(3).unwrap();
    drop(w2); // dropping retires too
    assert_eq!(r.read().unwrap(), 3); // drained before Retired
    assert_eq!(r.read(), Err(ChannelError::Retired));
    // And the other way round: all readers retired -> writers see Retired.
    let ch = Channel::<u64>::buffered(8);
    let (w, r1, r2) = (ch.writer(), ch.reader(), ch.reader());
    r1.retire();
    w.write(1).unwrap();
    drop(r2);
    assert_eq!(w.write(2), Err(ChannelError::Retired));
}

#[process]
fn count_until_retired(inp: Reader<u64>) -> u64 {
    inp.iter().count() as u64
}

#[test]
fn end_moved_into_child_is_not_retired_by_parent_drop() {
    let _wd = common::watchdog("moved_end", Duration::from_secs(60));
    let ch = Channel::<u64>::new();
    let w = ch.writer();
    let h = count_until_retired(ch.reader()).spawn().unwrap();
    // The reader was moved into the child; the parent's copy was dropped
    // after the fork. Writes must still find a reader.
    for i in 0..10 {
        w.write(i).unwrap();
    }
    drop(w);
    assert_eq!(h.join().unwrap(), 10);
}

#[test]
fn poison_is_immediate_and_sticky() {
    let ch = Channel::<u64>::buffered(4);
    let (w, r) = (ch.writer(), ch.reader());
    w.write(1).unwrap();
    r.poison();
    assert_eq!(r.read(), Err(ChannelError::Poisoned));
    assert_eq!(w.write(2), Err(ChannelError::Poisoned));
    let late = ch.reader();
    assert_eq!(late.try_read(), Err(ChannelError::Poisoned));
}

#[test]
fn the_clone_of_a_retired_end_is_retired() {
    let ch = Channel::<u32>::buffered(4);
    let (r, w) = (ch.reader(), ch.writer());
    drop(ch);
    r.retire();
    let again = r.clone();
    assert!(again.is_retired());
    assert_eq!(again.try_read(), Err(ChannelError::Retired));
    // The readers' side stays retired: the writer sees it.
    assert_eq!(w.try_write(1).unwrap_err().error, ChannelError::Retired);
    // A retired end has let go of the channel: poisoning through it is a
    // no-op, and the live end is not poisoned.
    again.poison();
    r.poison();
    assert_eq!(w.try_write(2).unwrap_err().error, ChannelError::Retired);
    let wc = w.clone();
    w.retire();
    assert!(w.clone().is_retired());
    assert!(!wc.is_retired());
}

#[test]
fn ends_in_messages_nobody_can_read_are_released() {
    // The only writer of `inner` sits in a buffered message of `outer`.
    let outer = Channel::<Writer<u32>>::buffered(2);
    let inner = Channel::<u32>::buffered(1);
    let r = inner.reader();
    outer.writer().write(inner.writer()).unwrap();
    drop(inner);
    assert_eq!(
        r.read_timeout(Duration::from_millis(50)),
        Err(ChannelError::Timeout),
        "the writer in transit still counts while the message can be read"
    );
    // Nobody can read `outer` now: its message is dropped, and the writer
    // inside it with it.
    drop(outer);
    assert_eq!(
        r.read_timeout(Duration::from_secs(5)),
        Err(ChannelError::Retired)
    );

    // The same when the last reader retires (the channel still exists:
    // a writer holds it).
    let outer = Channel::<Writer<u32>>::buffered(2);
    let inner = Channel::<u32>::buffered(1);
    let r = inner.reader();
    let (or, ow) = (outer.reader(), outer.writer());
    drop(outer);
    ow.write(inner.writer()).unwrap();
    drop(inner);
    or.retire();
    assert_eq!(
        r.read_timeout(Duration::from_secs(5)),
        Err(ChannelError::Retired)
    );
    drop(ow);
}
