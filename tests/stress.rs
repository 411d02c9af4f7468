//! Stress suite: any-to-any channels with 8 writer and 8 reader processes
//! moving many messages of mixed sizes (8 B to 1 MiB: mostly small and
//! inline in a slot, some on the arena heap, a few large), through
//! rendezvous and buffered channels.
//!
//! Checked for every message: delivered exactly once (per-writer sequence
//! numbers), intact (length and a checksum of the payload), and in order
//! where the channel promises it. The promise, for both kinds of channel:
//! **each reader sees each writer's messages in the order they were
//! written** (a writer's messages take increasing ring positions, and a
//! reader takes increasing positions). So a single reader sees every
//! writer's messages in order; with several readers, each one's share of a
//! writer's messages is in order, but nothing orders two readers.
//!
//! Default: 10^5 messages per scenario; `CSP_LONG=1`: 10^6.

mod common;

use csp::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const WRITERS: u32 = 8;
const READERS: u32 = 8;

fn total_messages() -> u64 {
    if std::env::var_os("CSP_LONG").is_some_and(|v| v != "0") {
        1_000_000
    } else {
        100_000
    }
}

/// One message: who wrote it, its sequence number, and a payload whose
/// length and checksum are known from (writer, seq).
#[derive(Serialize, Deserialize, Debug)]
struct Msg {
    w: u32,
    seq: u64,
    sum: u64,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The payload size of message (w, seq): 90% 8..=32 B (inline in a slot),
/// ~10% 33 B..4 KiB (arena heap), 1 in 2000 64 KiB..=1 MiB.
fn size_of(w: u32, seq: u64) -> usize {
    let r = mix(((w as u64) << 40) ^ seq ^ 0x5eed);
    if r % 2000 == 0 {
        (64 << 10) + (r >> 16) as usize % ((1 << 20) - (64 << 10) + 1)
    } else if r % 10 == 0 {
        33 + (r >> 16) as usize % (4096 - 33)
    } else {
        8 + (r >> 16) as usize % 25
    }
}

fn payload(w: u32, seq: u64) -> Vec<u8> {
    let n = size_of(w, seq);
    let mut out = Vec::with_capacity(n + 8);
    let mut x = mix(((w as u64) << 40) ^ seq);
    while out.len() < n {
        x = mix(x.wrapping_add(0x9e37_79b9_7f4a_7c15));
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// FNV-1a, 64 bit.
fn checksum(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// How the ends wait: plain blocking calls, or short timeouts and `try_`
/// forms retried until they succeed (which exercises withdrawing a
/// rendezvous message that a reader may be taking at that very moment).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Blocking,
    Impatient,
}

/// A short wait for the impatient style: 0..=200 µs, or a `try_`.
fn patience(x: u64) -> Option<Duration> {
    match x % 4 {
        0 => None,
        _ => Some(Duration::from_micros(mix(x) % 201)),
    }
}

#[process]
fn producer(out: Writer<Msg>, w: u32, count: u64, style: Style) -> Seen {
    let mut bytes = 0;
    let mut retries = 0u64;
    for seq in 0..count {
        let data = payload(w, seq);
        bytes += data.len() as u64;
        let mut m = Msg {
            w,
            seq,
            sum: checksum(&data),
            data,
        };
        loop {
            let r = match (style, patience(seq + retries)) {
                (Style::Blocking, _) => out
                    .write(m)
                    .map_err(|e| panic!("writer {w}: message {seq}: {e}")),
                (Style::Impatient, None) => out.try_write(m),
                (Style::Impatient, Some(d)) => out.write_timeout(m, d),
            };
            match r {
                Ok(()) => break,
                Err(e) if matches!(e.error, ChannelError::Timeout | ChannelError::WouldBlock) => {
                    retries += 1;
                    m = e.into_inner();
                }
                Err(e) => panic!("writer {w}: message {seq}: {}", e.error),
            }
        }
    }
    out.retire();
    Seen {
        bytes,
        ..Seen::default()
    }
}

/// What a reader saw: every message as `w << 40 | seq`, in arrival order,
/// and any message that arrived damaged; for a writer, the bytes it sent.
#[derive(Serialize, Deserialize, Debug, Default)]
struct Seen {
    arrivals: Vec<u64>,
    damaged: Vec<String>,
    bytes: u64,
}

#[process]
fn consumer(inp: Reader<Msg>, style: Style) -> Seen {
    let mut s = Seen::default();
    let mut tries = 0u64;
    loop {
        tries += 1;
        let got = match (style, patience(tries)) {
            (Style::Blocking, _) => inp.read(),
            (Style::Impatient, None) => inp.try_read(),
            (Style::Impatient, Some(d)) => inp.read_timeout(d),
        };
        match got {
            Err(ChannelError::Timeout | ChannelError::WouldBlock) => continue,
            Ok(m) => {
                if m.data.len() != size_of(m.w, m.seq) || checksum(&m.data) != m.sum {
                    s.damaged.push(format!(
                        "writer {} seq {} ({} bytes)",
                        m.w,
                        m.seq,
                        m.data.len()
                    ));
                }
                s.arrivals.push((m.w as u64) << 40 | m.seq);
            }
            Err(ChannelError::Retired) => return s,
            Err(e) => panic!("reader: {e}"),
        }
    }
}

struct Outcome {
    delivered: u64,
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    bytes: u64,
}

fn run(name: &str, cap: usize, writers: u32, readers: u32, style: Style) -> Outcome {
    let total = total_messages();
    let per = total / writers as u64;
    let ch = Channel::<Msg>::buffered(cap);
    let mut procs: Vec<Process<Seen>> = Vec::new();
    for w in 0..writers {
        procs.push(producer(ch.writer(), w, per, style).named(format!("writer{w}")));
    }
    for r in 0..readers {
        procs.push(consumer(ch.reader(), style).named(format!("reader{r}")));
    }
    drop(ch);
    let t0 = Instant::now();
    let results = csp::parallel(procs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let took = t0.elapsed();

    let bytes: u64 = results.iter().map(|s| s.bytes).sum();
    let mut count = vec![0u32; (writers as u64 * per) as usize];
    let mut out_of_order = 0;
    let mut damaged = Vec::new();
    for seen in &results {
        damaged.extend(seen.damaged.iter().cloned());
        let mut last: Vec<Option<u64>> = vec![None; writers as usize];
        for &a in &seen.arrivals {
            let (w, seq) = ((a >> 40) as usize, a & ((1 << 40) - 1));
            assert!(
                w < writers as usize && seq < per,
                "{name}: a message nobody wrote: {w}/{seq}"
            );
            count[w * per as usize + seq as usize] += 1;
            if last[w].is_some_and(|l| l >= seq) {
                out_of_order += 1;
            }
            last[w] = Some(seq);
        }
    }
    let delivered = count.iter().filter(|&&c| c >= 1).count() as u64;
    let lost = count.iter().filter(|&&c| c == 0).count() as u64;
    let duplicated = count.iter().map(|&c| c.saturating_sub(1) as u64).sum();
    eprintln!(
        "stress {name}: {writers} writers x {readers} readers, cap {cap}, {style:?}: {} messages, {:.1} MiB: \
         delivered {delivered}, lost {lost}, duplicated {duplicated}, out of order per (writer, reader) \
         {out_of_order}, damaged {}; {took:?}",
        writers as u64 * per,
        bytes as f64 / (1 << 20) as f64,
        damaged.len()
    );
    assert!(
        damaged.is_empty(),
        "{name}: damaged messages: {:?}",
        &damaged[..damaged.len().min(10)]
    );
    Outcome {
        delivered,
        lost,
        duplicated,
        out_of_order,
        bytes,
    }
}

fn check(name: &str, cap: usize, writers: u32, readers: u32, style: Style) {
    let _wd = common::watchdog(
        "stress",
        Duration::from_secs(if total_messages() > 100_000 {
            7200
        } else {
            600
        }),
    );
    let o = run(name, cap, writers, readers, style);
    assert_eq!(
        (o.lost, o.duplicated),
        (0, 0),
        "{name}: lost or duplicated messages"
    );
    assert_eq!(
        o.out_of_order, 0,
        "{name}: a reader saw a writer's messages out of order"
    );
    assert_eq!(
        o.delivered,
        total_messages() / writers as u64 * writers as u64
    );
    assert!(o.bytes > 0);
}

#[test]
fn any_to_any_rendezvous() {
    check(
        "any_to_any_rendezvous",
        0,
        WRITERS,
        READERS,
        Style::Blocking,
    );
}

#[test]
fn any_to_any_buffered() {
    check("any_to_any_buffered", 64, WRITERS, READERS, Style::Blocking);
}

#[test]
fn any_to_any_buffered_cap1() {
    check(
        "any_to_any_buffered_cap1",
        1,
        WRITERS,
        READERS,
        Style::Blocking,
    );
}

/// One reader: every writer's messages arrive in the order written.
#[test]
fn fan_in_buffered_single_reader() {
    check(
        "fan_in_buffered_single_reader",
        16,
        WRITERS,
        1,
        Style::Blocking,
    );
}

/// One reader on a rendezvous: the same promise.
#[test]
fn fan_in_rendezvous_single_reader() {
    check(
        "fan_in_rendezvous_single_reader",
        0,
        WRITERS,
        1,
        Style::Blocking,
    );
}

/// Writers and readers that give up after 0-200 µs (or at once) and try
/// again: a timed-out rendezvous write withdraws its message unless a
/// reader took it first; either way it is delivered exactly once.
#[test]
fn any_to_any_rendezvous_impatient() {
    check(
        "any_to_any_rendezvous_impatient",
        0,
        WRITERS,
        READERS,
        Style::Impatient,
    );
}

#[test]
fn any_to_any_buffered_impatient() {
    check(
        "any_to_any_buffered_impatient",
        4,
        WRITERS,
        READERS,
        Style::Impatient,
    );
}
