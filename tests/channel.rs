//! Channels across OS processes: delivery, blocking, bounds, sizes, mobile
//! ends, timeouts, encode/decode failures (issue 3).

mod common;

use csp::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[process]
fn write_range(out: Writer<u64>, from: u64, to: u64) {
    for i in from..to {
        out.write(i).unwrap();
    }
}

#[process]
fn collect_all(inp: Reader<u64>) -> Vec<u64> {
    inp.iter().collect()
}

fn exactly_once(ch: Channel<u64>, writers: u64, readers: usize, total: u64) {
    let per = total / writers;
    let ws: Vec<_> = (0..writers)
        .map(|w| write_range(ch.writer(), w * per, (w + 1) * per))
        .collect();
    let hs: Vec<_> = ws.into_iter().map(|p| p.spawn().unwrap()).collect();
    let rs: Vec<_> = (0..readers).map(|_| collect_all(ch.reader())).collect();
    drop(ch);
    let got = csp::parallel(rs).unwrap();
    for h in hs {
        h.join().unwrap();
    }
    let mut all: Vec<u64> = got.into_iter().flatten().collect();
    assert_eq!(
        all.len() as u64,
        per * writers,
        "lost or duplicated messages"
    );
    all.sort_unstable();
    assert!(
        all.iter().enumerate().all(|(i, v)| *v == i as u64),
        "a value missing or twice"
    );
}

#[test]
fn exactly_once_4x4_buffered() {
    let _wd = common::watchdog("exactly_once_4x4_buffered", Duration::from_secs(120));
    exactly_once(Channel::buffered(64), 4, 4, 100_000);
}

#[test]
fn exactly_once_4x4_rendezvous() {
    let _wd = common::watchdog("exactly_once_4x4_rendezvous", Duration::from_secs(120));
    exactly_once(Channel::new(), 4, 4, 100_000);
}

#[test]
fn exactly_once_tiny_ring() {
    let _wd = common::watchdog("exactly_once_tiny_ring", Duration::from_secs(120));
    exactly_once(Channel::buffered(1), 3, 3, 30_000);
}

#[process]
fn slow_reader(inp: Reader<u64>, delay_ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(delay_ms));
    inp.read().unwrap()
}

#[test]
fn rendezvous_write_blocks_until_read() {
    let _wd = common::watchdog(
        "rendezvous_write_blocks_until_read",
        Duration::from_secs(60),
    );
    let ch = Channel::<u64>::new();
    let h = slow_reader(ch.reader(), 300).spawn().unwrap();
    let w = ch.writer();
    let start = Instant::now();
    w.write(7).unwrap();
    // Lower bound on behaviour: the write could not return before the
    // reader, asleep for 300 ms, took the value.
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(h.join().unwrap(), 7);
}

#[test]
fn buffering_bounds() {
    let _wd = common::watchdog("buffering_bounds", Duration::from_secs(60));
    let ch = Channel::<u64>::buffered(3);
    let (w, r) = (ch.writer(), ch.reader());
    for i in 0..3 {
        w.try_write(i).unwrap();
    }
    assert_eq!(ch.len(), 3);
    let e = w.try_write(99).unwrap_err();
    assert_eq!(e.error, ChannelError::WouldBlock);
    assert_eq!(e.value, 99);
    let e = w.write_timeout(98, Duration::from_millis(30)).unwrap_err();
    assert_eq!((e.error, e.value), (ChannelError::Timeout, 98));
    assert_eq!(r.read().unwrap(), 0);
    w.try_write(3).unwrap();
    assert_eq!(
        (1..4).map(|_| r.read().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(r.try_read(), Err(ChannelError::WouldBlock));
    assert_eq!(
        r.read_timeout(Duration::from_millis(30)),
        Err(ChannelError::Timeout)
    );
}

#[test]
fn rendezvous_try_write_needs_a_waiting_reader() {
    let _wd = common::watchdog("rendezvous_try_write", Duration::from_secs(60));
    let ch = Channel::<u64>::new();
    let w = ch.writer();
    let _r = ch.reader();
    let e = w.try_write(1).unwrap_err();
    assert_eq!((e.error, e.value), (ChannelError::WouldBlock, 1));
    let e = w.write_timeout(2, Duration::from_millis(50)).unwrap_err();
    assert_eq!((e.error, e.value), (ChannelError::Timeout, 2));
    // The withdrawn value is not delivered later.
    let h = slow_reader(ch.reader(), 0).spawn().unwrap();
    w.write(3).unwrap();
    assert_eq!(h.join().unwrap(), 3);
}

#[process]
fn echo_bytes(inp: Reader<Vec<u8>>, out: Writer<Vec<u8>>) {
    for v in inp.iter() {
        out.write(v).unwrap();
    }
}

#[test]
fn sizes_around_the_inline_limit_and_large() {
    let _wd = common::watchdog("sizes", Duration::from_secs(120));
    let to = Channel::<Vec<u8>>::buffered(4);
    let from = Channel::<Vec<u8>>::new();
    let h = echo_bytes(to.reader(), from.writer()).spawn().unwrap();
    let (w, r) = (to.writer(), from.reader());
    let mut sizes: Vec<usize> = (0..80).collect();
    sizes.extend([
        255,
        256,
        4095,
        4096,
        65_536,
        1 << 20,
        (1 << 20) + 1,
        3 << 20,
    ]);
    for n in sizes {
        let v: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        w.write(v.clone()).unwrap();
        assert_eq!(r.read().unwrap(), v, "size {n}");
    }
    w.retire();
    h.join().unwrap();
}

#[process]
fn checksum(inp: Reader<serde_bytes::ByteBuf>) -> (usize, u64) {
    let b = inp.read().unwrap();
    (b.len(), b.iter().map(|x| *x as u64).sum())
}

#[test]
fn sixty_four_mib_message() {
    let _wd = common::watchdog("sixty_four_mib_message", Duration::from_secs(120));
    let ch = Channel::<serde_bytes::ByteBuf>::new();
    let h = checksum(ch.reader()).spawn().unwrap();
    let data: Vec<u8> = (0..64usize << 20).map(|i| (i % 253) as u8).collect();
    let sum: u64 = data.iter().map(|x| *x as u64).sum();
    ch.writer().write(serde_bytes::ByteBuf::from(data)).unwrap();
    assert_eq!(h.join().unwrap(), (64 << 20, sum));
}

#[process]
fn sample(inp: Reader<serde_bytes::ByteBuf>) -> (usize, Vec<u8>) {
    let b = inp.read().unwrap();
    // Every 1 MiB, plus the last byte: enough to see the message is whole
    // without a slow debug-build pass over all of it.
    let mut picks: Vec<u8> = b.iter().step_by(1 << 20).copied().collect();
    picks.extend(b.last());
    (b.len(), picks)
}

#[test]
fn message_larger_than_256_mib() {
    let _wd = common::watchdog("message_larger_than_256_mib", Duration::from_secs(120));
    let n = (256usize << 20) + 7;
    let ch = Channel::<serde_bytes::ByteBuf>::buffered(1);
    let h = sample(ch.reader()).spawn().unwrap();
    let mut data = vec![0u8; n];
    for i in (0..n).step_by(1 << 20) {
        data[i] = (i >> 20) as u8 ^ 0x5a;
    }
    data[n - 1] = 0xee;
    let mut want: Vec<u8> = data.iter().step_by(1 << 20).copied().collect();
    want.push(0xee);
    ch.writer().write(serde_bytes::ByteBuf::from(data)).unwrap();
    assert_eq!(h.join().unwrap(), (n, want));
}

#[process]
fn use_mobile_writer(ends: Reader<Writer<u64>>, n: u64) {
    let w = ends.read().unwrap();
    for i in 0..n {
        w.write(i).unwrap();
    }
}

#[process]
fn use_mobile_reader(ends: Reader<Reader<u64>>) -> u64 {
    let r = ends.read().unwrap();
    r.iter().sum()
}

#[test]
fn mobile_ends() {
    let _wd = common::watchdog("mobile_ends", Duration::from_secs(60));
    let data = Channel::<u64>::buffered(8);
    let wends = Channel::<Writer<u64>>::new();
    let rends = Channel::<Reader<u64>>::new();
    let hw = use_mobile_writer(wends.reader(), 100).spawn().unwrap();
    let hr = use_mobile_reader(rends.reader()).spawn().unwrap();
    // Send the ends, then drop ours: the channel must stay alive in the
    // receivers, and retire only when the receiving writer is done.
    wends.writer().write(data.writer()).unwrap();
    rends.writer().write(data.reader()).unwrap();
    drop(data);
    hw.join().unwrap();
    assert_eq!(hr.join().unwrap(), (0..100).sum::<u64>());
}

#[derive(Debug)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Unencodable)
    }
}

#[test]
fn encode_failure_leaves_channel_usable() {
    let _wd = common::watchdog("encode_failure", Duration::from_secs(60));
    let ch = Channel::<Unencodable>::buffered(2);
    let e = ch.writer().try_write(Unencodable).unwrap_err();
    assert!(
        matches!(e.error, ChannelError::Encode(ref m) if m.contains("refuses")),
        "{e:?}"
    );
    assert!(ch.is_empty());
    let ch2 = Channel::<Result<u64, String>>::buffered(2);
    ch2.writer().write(Ok(5)).unwrap();
    assert_eq!(ch2.reader().read().unwrap(), Ok(5));
}

#[test]
fn decode_failure_is_an_error() {
    let _wd = common::watchdog("decode_failure", Duration::from_secs(60));
    // The same channel seen with two types: round-trip a handle through serde.
    let ch = Channel::<String>::buffered(4);
    let bytes = bincode::serde::encode_to_vec(&ch, bincode::config::standard()).unwrap();
    let (as_u64, _): (Channel<u64>, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    let (w, r, wrong) = (ch.writer(), ch.reader(), as_u64.reader());
    w.write("not a number at all".into()).unwrap();
    match wrong.read() {
        Err(ChannelError::Decode(_)) => {}
        other => panic!("expected a decode error, got {other:?}"),
    }
    // Still usable afterwards.
    w.write("ok".into()).unwrap();
    assert_eq!(r.read().unwrap(), "ok");
}

#[test]
fn forged_end_is_rejected() {
    let bytes =
        bincode::serde::encode_to_vec((123_456u64, 42u64), bincode::config::standard()).unwrap();
    let r: Result<(Reader<u64>, usize), _> =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
    assert!(r.is_err());
}
