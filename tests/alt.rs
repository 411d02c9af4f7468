//! Alternation (issue 4): `pri_alt!`, `fair_alt!`, `alt!`, `Select`, `Alt`
//! across real OS processes: priority and fairness, exactly-once delivery
//! with many alternating readers and writers (both sides alternating on
//! rendezvous channels), timeout and skip, poison, and a writer SIGKILLed
//! while a reader selects on it.

mod common;

use csp::prelude::*;
use csp_core::alt::{Alt, Fair, Select};
use csp_core::{alt, fair_alt, pri_alt};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn buffered_set(n: usize, cap: usize) -> Vec<Channel<u64>> {
    (0..n).map(|_| Channel::buffered(cap)).collect()
}

#[test]
fn priority_takes_the_first_ready_guard() {
    let _wd = common::watchdog(
        "priority_takes_the_first_ready_guard",
        Duration::from_secs(60),
    );
    let ch = buffered_set(4, 4);
    let r: Vec<_> = ch.iter().map(|c| c.reader()).collect();
    let w: Vec<_> = ch.iter().map(|c| c.writer()).collect();
    // Every subset of ready channels: the lowest index wins.
    for mask in 1u32..16 {
        for (i, w) in w.iter().enumerate() {
            if mask & (1 << i) != 0 {
                w.write(100 + i as u64).unwrap();
            }
        }
        let first = mask.trailing_zeros() as usize;
        let (i, v) = pri_alt! {
            read(r[0]) -> v => (0, v),
            read(r[1]) -> v => (1, v),
            read(r[2]) -> v => (2, v),
            read(r[3]) -> v => (3, v),
        };
        assert_eq!((i, v), (first, Ok(100 + first as u64)), "mask {mask:04b}");
        // Drain the rest, in priority order.
        let mut rest = Vec::new();
        loop {
            let got = pri_alt! {
                read(r[0]) -> v => Some(v.unwrap()),
                read(r[1]) -> v => Some(v.unwrap()),
                read(r[2]) -> v => Some(v.unwrap()),
                read(r[3]) -> v => Some(v.unwrap()),
                skip => None,
            };
            match got {
                Some(v) => rest.push(v),
                None => break,
            }
        }
        let expect: Vec<u64> = (0..4)
            .filter(|i| mask & (1 << i) != 0 && *i != first)
            .map(|i| 100 + i as u64)
            .collect();
        assert_eq!(rest, expect);
    }
    // The dynamic forms agree.
    w[3].write(3).unwrap();
    w[1].write(1).unwrap();
    let mut a = Alt::new(&r);
    assert_eq!(a.pri_read(), (1, Ok(1)));
    let mut sel = Select::new();
    let keys: Vec<_> = r.iter().map(|r| sel.read(r)).collect();
    let mut done = sel.pri_select();
    let i = done.index();
    assert_eq!(i, 3);
    assert_eq!(done.read(keys[i]), Ok(3));
}

#[process]
fn priority_in_child(r: Vec<Reader<u64>>, go: Reader<()>) -> Vec<usize> {
    go.read().unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(pri_alt! {
            read(r[0]) -> _v => 0,
            read(r[1]) -> _v => 1,
            read(r[2]) -> _v => 2,
        });
    }
    seen
}

#[test]
fn priority_across_processes() {
    let _wd = common::watchdog("priority_across_processes", Duration::from_secs(60));
    let ch = buffered_set(3, 4);
    let go = Channel::<()>::buffered(1);
    let h = priority_in_child(ch.iter().map(|c| c.reader()).collect(), go.reader())
        .spawn()
        .unwrap();
    let ws: Vec<_> = ch.iter().map(|c| c.writer()).collect();
    for w in ws.iter().rev() {
        w.write(1).unwrap();
    }
    go.writer().write(()).unwrap();
    assert_eq!(h.join().unwrap(), [0, 1, 2]);
}

#[process]
fn fair_selections(r: Vec<Reader<u64>>, n: u64) -> Vec<u64> {
    let mut counts = vec![0u64; r.len()];
    for _ in 0..n {
        let i = fair_alt! {
            read(r[0]) -> v => { v.unwrap(); 0 }
            read(r[1]) -> v => { v.unwrap(); 1 }
            read(r[2]) -> v => { v.unwrap(); 2 }
            read(r[3]) -> v => { v.unwrap(); 3 }
        };
        counts[i] += 1;
    }
    counts
}

#[test]
fn fair_selection_shares_always_ready_channels() {
    let _wd = common::watchdog(
        "fair_selection_shares_always_ready_channels",
        Duration::from_secs(120),
    );
    const N: u64 = 100_000;
    // Pre-filled: always ready from the first selection to the last.
    let ch = buffered_set(4, N as usize);
    for c in &ch {
        let w = c.writer();
        for i in 0..N {
            w.write(i).unwrap();
        }
    }
    let counts = fair_selections(ch.iter().map(|c| c.reader()).collect(), N)
        .run()
        .unwrap();
    assert_eq!(counts.iter().sum::<u64>(), N);
    for &c in &counts {
        assert!((N / 5..=N * 3 / 10).contains(&c), "unfair: {counts:?}");
    }
    // The builder with a Fair kept by the caller.
    let ch = buffered_set(4, 1000);
    let r: Vec<_> = ch.iter().map(|c| c.reader()).collect();
    for c in &ch {
        let w = c.writer();
        for i in 0..1000 {
            w.write(i).unwrap();
        }
    }
    let mut fair = Fair::new();
    let mut counts = [0u32; 4];
    for _ in 0..2000 {
        let mut sel = Select::new();
        let keys: Vec<_> = r.iter().map(|r| sel.read(r)).collect();
        let mut done = sel.fair_select(&mut fair);
        let i = done.index();
        done.read(keys[i]).unwrap();
        counts[i] += 1;
    }
    assert_eq!(counts, [500; 4]);
    let mut a = Alt::new(&r);
    let mut counts = [0u32; 4];
    for _ in 0..400 {
        counts[a.fair_read().0] += 1;
    }
    assert_eq!(counts, [100; 4]);
}

/// Reads with an alternation over `r` until every channel has retired;
/// drops each channel from the set once it reports an error.
#[process]
fn alting_reader(r: Vec<Reader<u64>>, fair: bool) -> Vec<u64> {
    let mut live: Vec<&Reader<u64>> = r.iter().collect();
    let mut got = Vec::new();
    while !live.is_empty() {
        let mut a = Alt::new(live.iter().copied());
        let (i, v) = if fair { a.fair_read() } else { a.read() };
        match v {
            Ok(v) => got.push(v),
            Err(ChannelError::Retired) => {
                live.remove(i);
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    got
}

/// A plain reader on one of the channels, alongside the alting ones.
#[process]
fn plain_reader(r: Reader<u64>) -> Vec<u64> {
    r.iter().collect()
}

#[process]
fn plain_writer(w: Writer<u64>, from: u64, n: u64) {
    for v in from..from + n {
        w.write(v).unwrap();
    }
    w.retire();
}

fn assert_exactly_once(parts: Vec<Vec<u64>>, n: u64) {
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut seen = HashSet::with_capacity(total);
    for v in parts.into_iter().flatten() {
        assert!(seen.insert(v), "{v} delivered twice");
    }
    assert_eq!(total as u64, n, "messages lost");
    assert!((0..n).all(|v| seen.contains(&v)));
}

#[test]
fn four_alting_readers_four_writers_exactly_once() {
    let _wd = common::watchdog(
        "four_alting_readers_four_writers_exactly_once",
        Duration::from_secs(180),
    );
    const N: u64 = 100_000;
    for cap in [0usize, 16] {
        let ch = buffered_set(4, cap);
        let readers: Vec<_> = (0..4)
            .map(|k| {
                alting_reader(ch.iter().map(|c| c.reader()).collect(), k % 2 == 0)
                    .spawn()
                    .unwrap()
            })
            .collect();
        // A plain reader shares channel 0 with the alting ones.
        let plain = plain_reader(ch[0].reader()).spawn().unwrap();
        let per = N / 4;
        let writers: Vec<_> = (0..4u64)
            .map(|k| {
                plain_writer(ch[k as usize].writer(), k * per, per)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let mut parts: Vec<Vec<u64>> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        parts.push(plain.join().unwrap());
        assert_exactly_once(parts, N);
    }
}

/// Writes `from..from+n` with an alternation over every writer.
#[process]
fn alting_writer(w: Vec<Writer<u64>>, from: u64, n: u64) {
    for v in from..from + n {
        let done = match w.len() {
            4 => alt! {
                write(w[0], v) -> r => r,
                write(w[1], v) -> r => r,
                write(w[2], v) -> r => r,
                write(w[3], v) -> r => r,
            },
            _ => unreachable!(),
        };
        done.unwrap();
    }
    for w in &w {
        w.retire();
    }
}

#[test]
fn output_guards_with_alting_readers_on_both_sides() {
    let _wd = common::watchdog(
        "output_guards_with_alting_readers_on_both_sides",
        Duration::from_secs(180),
    );
    const N: u64 = 40_000;
    for cap in [0usize, 2] {
        let ch = buffered_set(4, cap);
        let readers: Vec<_> = (0..4)
            .map(|k| {
                alting_reader(ch.iter().map(|c| c.reader()).collect(), k % 2 == 1)
                    .spawn()
                    .unwrap()
            })
            .collect();
        let per = N / 4;
        let writers: Vec<_> = (0..4u64)
            .map(|k| {
                alting_writer(ch.iter().map(|c| c.writer()).collect(), k * per, per)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let parts: Vec<Vec<u64>> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        assert_exactly_once(parts, N);
    }
}

#[process]
fn alting_writer_plain_readers(w: Vec<Writer<u64>>, n: u64) {
    for v in 0..n {
        pri_alt! {
            write(w[0], v) -> r => r.unwrap(),
            write(w[1], v) -> r => r.unwrap(),
        }
    }
}

#[test]
fn output_guards_with_plain_readers() {
    let _wd = common::watchdog("output_guards_with_plain_readers", Duration::from_secs(60));
    const N: u64 = 20_000;
    let ch = buffered_set(2, 0);
    let w = alting_writer_plain_readers(ch.iter().map(|c| c.writer()).collect(), N)
        .spawn()
        .unwrap();
    let readers: Vec<_> = ch
        .iter()
        .map(|c| plain_reader(c.reader()).spawn().unwrap())
        .collect();
    w.join().unwrap();
    let parts: Vec<Vec<u64>> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    assert_exactly_once(parts, N);
}

#[test]
fn a_rendezvous_write_guard_completes_only_when_read() {
    let _wd = common::watchdog(
        "a_rendezvous_write_guard_completes_only_when_read",
        Duration::from_secs(60),
    );
    let ch = Channel::<String>::new();
    let (w, r0) = (ch.writer(), ch.reader());
    // No reader: the write guard cannot fire; the timeout does, and the
    // offer is withdrawn (a later reader finds nothing).
    let got = pri_alt! {
        write(w, "lost".to_string()) -> r => format!("{r:?}"),
        timeout(Duration::from_millis(30)) => "timeout".to_string(),
    };
    assert_eq!(got, "timeout");
    assert_eq!(
        r0.read_timeout(Duration::from_millis(30)),
        Err(ChannelError::Timeout)
    );
    // A plain reader in another process completes it.
    let (r, back) = (ch.reader(), Channel::<String>::buffered(1));
    let bw = back.writer();
    let h = Process::new("reader", move || {
        bw.write(r.read().unwrap()).unwrap();
    })
    .with(&ch.reader())
    .with(&back.writer())
    .spawn()
    .unwrap();
    let got = pri_alt! {
        write(w, "hello".to_string()) -> r => format!("{r:?}"),
        timeout(Duration::from_secs(30)) => "timeout".to_string(),
    };
    assert_eq!(got, "Ok(())");
    assert_eq!(back.reader().read().unwrap(), "hello");
    h.join().unwrap();
    // A large value (heap payload) through an offer.
    let big = "x".repeat(100_000);
    let r = ch.reader();
    let t = std::thread::spawn(move || r.read().unwrap().len());
    let got = pri_alt! {
        write(w, big) -> r => r,
    };
    assert_eq!(got, Ok(()));
    assert_eq!(t.join().unwrap(), 100_000);
}

#[test]
fn timeout_and_skip() {
    let _wd = common::watchdog("timeout_and_skip", Duration::from_secs(60));
    let (a, b) = (Channel::<u64>::new(), Channel::<u64>::buffered(1));
    let (ra, rb, wb) = (a.reader(), b.reader(), b.writer());
    let t0 = Instant::now();
    let got = pri_alt! {
        read(ra) -> _v => "a",
        read(rb) -> _v => "b",
        timeout(Duration::from_millis(50)) => "timeout",
    };
    assert_eq!(got, "timeout");
    assert!(t0.elapsed() >= Duration::from_millis(50));
    let got = alt! {
        read(ra) -> _v => "a",
        read(rb) -> _v => "b",
        skip => "skip",
    };
    assert_eq!(got, "skip");
    // Skip and timeout fire only when nothing else is ready, whatever the
    // flavour or position.
    wb.write(5).unwrap();
    let got = fair_alt! {
        skip => None,
        timeout(Duration::ZERO) => None,
        read(rb) -> v => Some(v),
    };
    assert_eq!(got, Some(Ok(5)));
    // The earliest of several timeouts fires.
    let got = pri_alt! {
        timeout(Duration::from_secs(30)) => 30,
        timeout(Duration::from_millis(20)) => 20,
        read(ra) -> _v => 0,
    };
    assert_eq!(got, 20);
    // Alt's timeout forms.
    let rs = [ra.clone(), rb.clone()];
    let mut al = Alt::new(&rs);
    assert_eq!(al.pri_read_timeout(Duration::from_millis(10)), None);
    // A buffered write guard is ready at once; a full one is not.
    let got = pri_alt! {
        write(wb, 1) -> r => r.is_ok(),
        skip => false,
    };
    assert!(got);
    let got = pri_alt! {
        write(wb, 2) -> r => r.is_ok(),
        skip => false,
    };
    assert!(!got);
    assert_eq!(rb.read(), Ok(1));
    assert_eq!(
        rb.try_read(),
        Err(ChannelError::WouldBlock),
        "the skipped write left nothing"
    );
}

#[test]
fn poisoned_and_retired_guards_are_ready_with_their_error() {
    let _wd = common::watchdog(
        "poisoned_and_retired_guards_are_ready_with_their_error",
        Duration::from_secs(60),
    );
    let (a, b) = (Channel::<u64>::new(), Channel::<u64>::new());
    let (ra, rb) = (a.reader(), b.reader());
    let wa = a.writer();
    b.poison();
    let got = pri_alt! {
        read(ra) -> v => (0, v),
        read(rb) -> v => (1, v),
    };
    assert_eq!(got, (1, Err(ChannelError::Poisoned)));
    // A write guard on a poisoned channel.
    let wb = b.writer();
    let got = pri_alt! {
        write(wb, 1) -> r => r,
        timeout(Duration::from_secs(30)) => Err(ChannelError::Timeout),
    };
    assert_eq!(got, Err(ChannelError::Poisoned));
    // Poisoned while the selection waits (from another process).
    let c = Channel::<u64>::new();
    let cw = c.writer();
    let h = Process::new("poisoner", move || {
        std::thread::sleep(Duration::from_millis(30));
        cw.poison();
    })
    .with(&c.writer())
    .spawn()
    .unwrap();
    let rc = c.reader();
    let got = pri_alt! {
        read(ra) -> v => (0, v),
        read(rc) -> v => (1, v),
    };
    assert_eq!(got, (1, Err(ChannelError::Poisoned)));
    h.join().unwrap();
    // A retired end, and a channel whose writers all retired.
    ra.retire();
    let got = pri_alt! {
        read(ra) -> v => v,
        timeout(Duration::from_secs(30)) => Err(ChannelError::Timeout),
    };
    assert_eq!(got, Err(ChannelError::Retired));
    let d = Channel::<u64>::new();
    let rd = d.reader();
    d.writer().retire();
    let got = pri_alt! {
        read(rd) -> v => v,
        timeout(Duration::from_secs(30)) => Err(ChannelError::Timeout),
    };
    assert_eq!(got, Err(ChannelError::Retired));
    drop(wa);
}

#[process]
fn write_then_sleep(w: Writer<u64>, ready: Writer<()>) {
    ready.write(()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
    w.write(1).unwrap();
}

#[process]
fn select_two(a: Reader<u64>, b: Reader<u64>) -> (usize, String) {
    pri_alt! {
        read(a) -> v => (0, format!("{v:?}")),
        read(b) -> v => (1, format!("{v:?}")),
    }
}

#[test]
fn writer_killed_while_reader_selects_gives_peer_lost() {
    let _wd = common::watchdog(
        "writer_killed_while_reader_selects_gives_peer_lost",
        Duration::from_secs(60),
    );
    for cap in [0usize, 4] {
        let (a, b) = (Channel::<u64>::buffered(cap), Channel::<u64>::buffered(cap));
        let ready = Channel::<()>::buffered(1);
        let victim = write_then_sleep(a.writer(), ready.writer())
            .spawn()
            .unwrap();
        let keep_b = b.writer(); // b stays live: only a's writer dies
        let reader = select_two(a.reader(), b.reader()).spawn().unwrap();
        ready.reader().read().unwrap();
        std::thread::sleep(Duration::from_millis(50)); // the reader is waiting now
        victim.kill().unwrap();
        let (i, what) = reader.join().unwrap();
        assert_eq!((i, what.as_str()), (0, "Err(PeerLost)"));
        assert!(victim.join().is_err());
        drop(keep_b);
    }
}

#[process]
fn offer_then_hang(w: Writer<u64>, b: Writer<u64>, ready: Writer<()>) {
    ready.write(()).unwrap();
    pri_alt! {
        write(w, 7) -> r => r.unwrap(),
        write(b, 8) -> r => r.unwrap(),
    }
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn alting_writer_killed_with_offers_out_wedges_nobody() {
    let _wd = common::watchdog(
        "alting_writer_killed_with_offers_out_wedges_nobody",
        Duration::from_secs(60),
    );
    let (a, b) = (Channel::<u64>::new(), Channel::<u64>::new());
    let ready = Channel::<()>::buffered(1);
    let victim = offer_then_hang(a.writer(), b.writer(), ready.writer())
        .spawn()
        .unwrap();
    ready.reader().read().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // its offers are out
    victim.kill().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Either the offer is still taken (it was made before the death) or the
    // reader learns its writer is gone; never a hang, never both channels.
    let (ra, rb) = (a.reader(), b.reader());
    let got: Vec<Result<u64, ChannelError>> = vec![ra.read(), rb.read()];
    let delivered = got.iter().filter(|r| r.is_ok()).count();
    assert!(delivered <= 1, "{got:?}");
    for r in &got {
        assert!(
            matches!(r, Ok(7) | Ok(8) | Err(ChannelError::PeerLost)),
            "{got:?}"
        );
    }
    assert!(victim.join().is_err());
}

#[test]
fn a_reader_and_an_alting_writer_in_one_process_on_two_threads() {
    let _wd = common::watchdog(
        "a_reader_and_an_alting_writer_in_one_process_on_two_threads",
        Duration::from_secs(60),
    );
    let ch = buffered_set(3, 0);
    let rs: Vec<_> = ch.iter().map(|c| c.reader()).collect();
    let t = std::thread::spawn(move || {
        let mut a = Alt::new(&rs);
        (0..3000).map(|_| a.read().1.unwrap()).sum::<u64>()
    });
    let ws: Vec<_> = ch.iter().map(|c| c.writer()).collect();
    for v in 0..3000u64 {
        fair_alt! {
            write(ws[0], v) -> r => r.unwrap(),
            write(ws[1], v) -> r => r.unwrap(),
            write(ws[2], v) -> r => r.unwrap(),
        }
    }
    assert_eq!(t.join().unwrap(), (0..3000).sum::<u64>());
}

/// Alternates over writes *and* reads of the same two rendezvous channels
/// (so alternations with offers out take each other's offers), forwarding
/// what it reads to `sink`, until the channels are poisoned.
#[process]
fn exchanger(
    ra: Reader<u64>,
    rb: Reader<u64>,
    wa: Writer<u64>,
    wb: Writer<u64>,
    from: u64,
    k: u64,
    sink: Writer<u64>,
) -> u64 {
    let (mut next, end, mut got) = (from, from + k, 0u64);
    loop {
        let r = if next < end {
            fair_alt! {
                write(wa, next) -> r => r.map(|()| next += 1),
                read(ra) -> v => v.map(|v| { sink.write(v).unwrap(); got += 1; }),
                write(wb, next) -> r => r.map(|()| next += 1),
                read(rb) -> v => v.map(|v| { sink.write(v).unwrap(); got += 1; }),
            }
        } else {
            fair_alt! {
                read(ra) -> v => v.map(|v| { sink.write(v).unwrap(); got += 1; }),
                read(rb) -> v => v.map(|v| { sink.write(v).unwrap(); got += 1; }),
            }
        };
        if r.is_err() {
            return got;
        }
    }
}

#[test]
fn alternations_with_reads_and_writes_take_each_others_offers() {
    let _wd = common::watchdog(
        "alternations_with_reads_and_writes_take_each_others_offers",
        Duration::from_secs(180),
    );
    const K: u64 = 5_000;
    const P: u64 = 4;
    let (a, b) = (Channel::<u64>::new(), Channel::<u64>::new());
    let sink = Channel::<u64>::buffered((K * P) as usize);
    let hs: Vec<_> = (0..P)
        .map(|p| {
            exchanger(
                a.reader(),
                b.reader(),
                a.writer(),
                b.writer(),
                p * K,
                K,
                sink.writer(),
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let s = sink.reader();
    let got: Vec<u64> = (0..K * P).map(|_| s.read().unwrap()).collect();
    a.poison();
    b.poison();
    let counts: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), K * P, "{counts:?}");
    assert_exactly_once(vec![got], K * P);
    assert_eq!(s.try_read(), Err(ChannelError::Retired), "nothing extra");
}

#[process]
fn use_sent_writer(via: Reader<Writer<u64>>) {
    let w = via.read().unwrap();
    w.write(42).unwrap();
}

#[test]
fn ends_travel_through_write_guards() {
    let _wd = common::watchdog("ends_travel_through_write_guards", Duration::from_secs(60));
    let back = Channel::<u64>::new();
    let br = back.reader();
    let via = Channel::<Writer<u64>>::new();
    let other = Channel::<Writer<u64>>::new();
    let (vw, ow, _keep) = (via.writer(), other.writer(), other.reader());
    let h = use_sent_writer(via.reader()).spawn().unwrap();
    // `other` has a reader that never reads: only `via` can fire. The end
    // in the unchosen guard is dropped unsent.
    let got = pri_alt! {
        write(ow, back.writer()) -> r => ("other", r),
        write(vw, back.writer()) -> r => ("via", r),
    };
    assert_eq!(got, ("via", Ok(())));
    assert_eq!(br.read(), Ok(42));
    h.join().unwrap();
    // Every writer of `back` is gone now (the child's at its exit, the
    // unsent one with its guard): the reader sees the channel retired.
    assert_eq!(
        br.read_timeout(Duration::from_secs(10)),
        Err(ChannelError::Retired)
    );
}

#[process]
fn alt_read_once(r: Reader<u64>, other: Reader<u64>) -> u64 {
    pri_alt! {
        read(other) -> v => v.unwrap() + 1000,
        read(r) -> v => v.unwrap(),
    }
}

#[test]
fn more_alternations_than_alt_slots_on_one_channel() {
    let _wd = common::watchdog(
        "more_alternations_than_alt_slots_on_one_channel",
        Duration::from_secs(60),
    );
    // Twelve alternations wait on one channel that has room to register
    // eight: the others poll. Every value reaches exactly one.
    let (ch, other) = (Channel::<u64>::new(), Channel::<u64>::new());
    let _ow = other.writer();
    let hs: Vec<_> = (0..12)
        .map(|_| alt_read_once(ch.reader(), other.reader()).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let w = ch.writer();
    for v in 0..12 {
        w.write(v).unwrap();
    }
    let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_exactly_once(vec![got], 12);
}

#[test]
fn a_selected_message_survives_a_wrong_key_and_is_dropped_whole() {
    let a = Channel::<u32>::buffered(1);
    let b = Channel::<u32>::buffered(1);
    let (ra, rb) = (a.reader(), b.reader());
    b.writer().write(7).unwrap();
    let mut sel = Select::new();
    let (ka, kb) = (sel.read(&ra), sel.read(&rb));
    let mut done = sel.pri_select();
    assert_eq!(done.read(ka), Err(ChannelError::WouldBlock));
    assert_eq!(done.read(kb), Ok(7));

    // A message carrying an end, taken by a selection and never read, is
    // dropped as its type: the end inside is released.
    let outer = Channel::<Writer<u32>>::buffered(1);
    let inner = Channel::<u32>::buffered(1);
    let ri = inner.reader();
    outer.writer().write(inner.writer()).unwrap();
    drop(inner);
    let ro = outer.reader();
    let mut sel = Select::new();
    let _k = sel.read(&ro);
    let done = sel.pri_select();
    assert_eq!(done.index(), 0);
    drop(done);
    assert_eq!(
        ri.read_timeout(Duration::from_secs(5)),
        Err(ChannelError::Retired)
    );
}
