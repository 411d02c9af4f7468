//! Leak checks: after many network runs — clean ones and ones in which a
//! process dies by SIGKILL — the test process has the same open file
//! descriptors and memory mappings as before, no zombie children, nothing
//! new in /dev/shm, and the shared arena's bytes in use back where they
//! started.
//!
//! One test function (tests of one binary run in parallel threads, and
//! these counts are per process). Default: 150 runs; `CSP_LONG=1`: 1000.
//!
//! What may legitimately stay allocated, and is allowed for:
//! - one-time state made by the first runs (the arena mapping itself, the
//!   root process's ledger index, thread-local encoder buffers, glibc's
//!   cache of thread stacks): a warm-up round runs before the baseline;
//! - after crash runs only: arena blocks that a process killed mid-way
//!   owned alone (a heap message it had taken but not yet decoded, a
//!   ledger block it was growing, a channel whose count it was changing
//!   under the channel lock): nobody else can know them. The check
//!   reports them; the clean phase must give back every byte exactly.

mod common;
#[path = "reliability/nets.rs"]
mod nets;

use csp::prelude::*;
use nets::{Rng, Shape};
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    fds: usize,
    maps: usize,
    zombies: Vec<i32>,
    dev_shm: BTreeSet<String>,
    arena_in_use: u64,
}

fn count_dir(p: &str) -> usize {
    std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0)
}

fn zombies() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut z = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": fields after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|p| p.parse::<i32>().ok()));
        if ppid == Some(me) && state == Some("Z") {
            z.push(pid);
        }
    }
    z
}

fn snapshot() -> Snapshot {
    Snapshot {
        fds: count_dir("/proc/self/fd"),
        maps: std::fs::read_to_string("/proc/self/maps")
            .map(|s| s.lines().count())
            .unwrap_or(0),
        zombies: zombies(),
        dev_shm: std::fs::read_dir("/dev/shm")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        arena_in_use: csp_core::shm::arena().expect("arena").in_use(),
    }
}

/// Moves big (arena heap) messages through a buffered channel and a
/// rendezvous, some left unread when the channel goes away.
#[process]
fn big_writer(out: Writer<Vec<u8>>, n: u64) {
    for i in 0..n {
        let size = [8usize, 100, 5000, 200_000][i as usize % 4];
        if out.write(vec![i as u8; size]).is_err() {
            return;
        }
    }
}

#[process]
fn big_reader(inp: Reader<Vec<u8>>, n: u64) -> u64 {
    let mut got = 0;
    for _ in 0..n {
        match inp.read() {
            Ok(v) => got += v.len() as u64,
            Err(_) => break,
        }
    }
    got
}

fn big_messages(cap: usize) {
    let ch = Channel::<Vec<u8>>::buffered(cap);
    // The reader stops early: with a buffer, messages stay unread in it
    // and must be freed with the channel.
    let (_, got) = Parallel!(big_writer(ch.writer(), 12), big_reader(ch.reader(), 8)).unwrap();
    assert!(got > 0);
}

/// One network run of `shape`: clean when `kill` is false, else one
/// process dies (killed from outside at a random moment, or by itself at a
/// random step).
fn one_run(seed: u64, shape: Shape, kill: bool) {
    let mut rng = Rng::new(seed);
    let cap = [0, 1, 8][rng.below(3) as usize];
    let n = if shape == Shape::Pipeline || shape == Shape::Farm {
        60
    } else {
        15
    };
    if !kill {
        let net = nets::build(shape, cap, n, None);
        let out = nets::run(net.procs, None, Duration::from_secs(60));
        assert!(!out.hung, "seed {seed}: clean run hung");
        for r in &out.results {
            assert!(
                r.as_ref().is_ok_and(|r| r.end == "done"),
                "seed {seed}: {r:?}"
            );
        }
        return;
    }
    let victim = rng.below(shape.procs() as u64) as usize;
    if rng.below(2) == 0 {
        let net = nets::build(shape, cap, n, None);
        let us = rng.below(8000);
        let out = nets::run(
            net.procs,
            Some((victim, Duration::from_micros(us))),
            Duration::from_secs(60),
        );
        assert!(!out.hung, "seed {seed}: crash run hung");
    } else {
        let step = rng.below(nets::steps(shape, victim, n) + 1);
        let net = nets::build(shape, cap, n, Some((victim, step)));
        let err = csp::parallel(net.procs).expect_err("the victim dies");
        assert!(err.to_string().contains("SIGKILL"), "{err}");
    }
}

const PLAIN: [Shape; 3] = [Shape::Pipeline, Shape::Farm, Shape::ClientServer];

/// Arena bytes of one alternation cell (a 64-byte cell in a 128-byte
/// block), which `csp_core::alt` never frees: see the known leak below.
const ALT_CELL_BLOCK: u64 = 128;

#[test]
fn nothing_leaks_across_many_runs() {
    let long = std::env::var_os("CSP_LONG").is_some_and(|v| v != "0");
    let runs: u64 = if long { 1000 } else { 150 };
    let _wd = common::watchdog(
        "nothing_leaks_across_many_runs",
        Duration::from_secs(if long { 7200 } else { 600 }),
    );

    // Warm-up: one-time allocations happen here, before the baseline.
    for seed in 0..12 {
        one_run(seed, PLAIN[seed as usize % 3], false);
        one_run(seed, Shape::ClientServerAlt, false);
    }
    big_messages(4);
    big_messages(0);
    let base = snapshot();

    // Clean runs without alternation: every byte must come back.
    let per_phase = runs / 3;
    for seed in 0..per_phase {
        one_run(1000 + seed, PLAIN[seed as usize % 3], false);
        if seed % 10 == 0 {
            big_messages(seed as usize % 5);
        }
    }
    let clean = snapshot();

    // Clean runs of the client/server with alternation: the server
    // process alternates, and its alternation cell stays allocated.
    for seed in 0..per_phase {
        one_run(3000 + seed, Shape::ClientServerAlt, false);
    }
    let alt = snapshot();

    // Crash runs of every shape.
    for seed in 0..per_phase {
        let shape = [
            Shape::Pipeline,
            Shape::Farm,
            Shape::ClientServer,
            Shape::ClientServerAlt,
        ][seed as usize % 4];
        one_run(5000 + seed, shape, true);
    }
    let crashed = snapshot();

    eprintln!(
        "leak: {} runs ({per_phase} clean, {per_phase} clean with alternation, {per_phase} with a SIGKILL): \
         fds {} -> {} -> {} -> {}, maps {} -> {} -> {} -> {}, zombies {:?}, /dev/shm {} -> {} entries, \
         arena in use {} -> {} (clean) -> {} (alternation) -> {} bytes (crashes)",
        3 * per_phase,
        base.fds,
        clean.fds,
        alt.fds,
        crashed.fds,
        base.maps,
        clean.maps,
        alt.maps,
        crashed.maps,
        crashed.zombies,
        base.dev_shm.len(),
        crashed.dev_shm.len(),
        base.arena_in_use,
        clean.arena_in_use,
        alt.arena_in_use,
        crashed.arena_in_use,
    );
    for (phase, s) in [
        ("clean", &clean),
        ("alternation", &alt),
        ("crash", &crashed),
    ] {
        assert_eq!(s.fds, base.fds, "{phase}: file descriptors leaked");
        assert_eq!(s.maps, base.maps, "{phase}: memory mappings leaked");
        assert!(
            s.zombies.is_empty(),
            "{phase}: zombie children {:?}",
            s.zombies
        );
        assert_eq!(s.dev_shm, base.dev_shm, "{phase}: /dev/shm changed");
    }
    assert_eq!(
        clean.arena_in_use, base.arena_in_use,
        "clean runs leaked arena bytes"
    );
    // KNOWN LEAK (reported): one alternation cell per alternating process.
    let alt_kept = alt.arena_in_use - clean.arena_in_use;
    eprintln!(
        "leak: alternation kept {alt_kept} bytes over {per_phase} runs (known: one cell per alternating process)"
    );
    assert!(
        alt_kept <= per_phase * ALT_CELL_BLOCK,
        "alternation leaked more than its cells: {alt_kept}"
    );
    // After crashes: what a killed process owned alone (see the header),
    // plus the alternation cells of the crash runs that alternated.
    let crash_kept = crashed.arena_in_use.saturating_sub(alt.arena_in_use);
    eprintln!(
        "leak: crash runs kept {crash_kept} bytes over {per_phase} runs ({:.1} per run)",
        crash_kept as f64 / per_phase as f64
    );
    // Measured: nothing beyond the alternation cells. The slack (one large
    // block) is for a message block or ledger block a killed process owned.
    let alt_crash_runs = per_phase.div_ceil(4);
    assert!(
        crash_kept <= alt_crash_runs * ALT_CELL_BLOCK + 4096,
        "crash runs kept {crash_kept} bytes: more than the alternation cells and one block"
    );
}
