//! Crash suite: networks of the shapes people build (pipeline, farm,
//! client/server; rendezvous and buffered) in which one randomly chosen
//! process dies by SIGKILL at a random moment, over many seeds.
//!
//! Every run must end: the survivors get `PeerLost`, `Retired` or
//! `Poisoned` (or finish normally when the death does not concern them),
//! the run's error names the dead process, nothing is duplicated, nothing
//! is lost beyond what the dead process held, and no join hangs.
//!
//! Three ways to die, taken in turn:
//! - `outside`: the test kills the victim after a random delay (it may land
//!   in the middle of a channel operation, before the victim has started,
//!   or after it finished);
//! - `self-join`: the victim raises SIGKILL at a random step; every process
//!   is joined separately so the survivors' reports can be checked;
//! - `self-parallel`: the same through `Parallel!` / `csp::parallel`, whose
//!   error must name the victim and only it.
//!
//! `CSP_LONG=1` runs 25 times as many seeds. `CSP_SEED=<n>` replays one
//! run of every scenario.

mod common;
#[path = "reliability/nets.rs"]
mod nets;

use csp::prelude::*;
use nets::{Net, Report, Rng, Shape};
use std::time::{Duration, Instant};

/// A join that takes longer than this after the kill is a hang.
const HANG_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
enum Mode {
    Outside,
    SelfJoin,
    SelfParallel,
}

#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    killed: u64,
    too_late: u64,
    hangs: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    recoveries: Vec<Duration>,
    problems: Vec<String>,
}

fn long() -> bool {
    std::env::var_os("CSP_LONG").is_some_and(|v| v != "0")
}

fn runs(default: u64) -> u64 {
    if long() { default * 25 } else { default }
}

/// Runs `Parallel!` over the 5 processes of a pipeline (the tuple form),
/// or `csp::parallel` over any network, and returns the error, if any.
fn run_parallel(shape: Shape, procs: Vec<Process<Report>>) -> Result<(), csp::Error> {
    if shape == Shape::Pipeline {
        let Ok::<[Process<Report>; 5], _>([a, b, c, d, e]) = procs.try_into() else {
            panic!("a pipeline has 5 processes");
        };
        Parallel!(a, b, c, d, e).map(|_| ())
    } else {
        csp::parallel(procs).map(|_| ())
    }
}

fn one_run(
    scenario: &str,
    shape: Shape,
    cap: usize,
    n: u64,
    seed: u64,
    calib: Duration,
    t: &mut Tally,
) {
    let mut rng = Rng::new(seed);
    let mode = match seed % 3 {
        0 => Mode::Outside,
        1 => Mode::SelfJoin,
        _ => Mode::SelfParallel,
    };
    let victim = rng.below(shape.procs() as u64) as usize;
    let what =
        |detail: String| format!("{scenario} seed {seed} ({mode:?}, victim {victim}): {detail}");
    t.runs += 1;
    match mode {
        Mode::Outside | Mode::SelfJoin => {
            let (net, kill) = match mode {
                Mode::Outside => {
                    // Mostly during the run; now and then at once (before
                    // the victim has even started).
                    let us = if rng.below(8) == 0 {
                        0
                    } else {
                        rng.below(calib.as_micros() as u64 + 1)
                    };
                    (
                        nets::build(shape, cap, n, None),
                        Some((victim, Duration::from_micros(us))),
                    )
                }
                _ => {
                    let step = rng.below(nets::steps(shape, victim, n) + 1);
                    (nets::build(shape, cap, n, Some((victim, step))), None)
                }
            };
            let Net { procs, names, .. } = net;
            let out = nets::run(procs, kill, HANG_LIMIT);
            if out.hung {
                t.hangs += 1;
                let stuck: Vec<_> = out
                    .results
                    .iter()
                    .zip(&names)
                    .filter(|(r, _)| matches!(r, Err(csp::Error::Timeout { .. })))
                    .map(|(_, n)| n.as_str())
                    .collect();
                t.problems.push(what(format!(
                    "HANG: {stuck:?} still running after {HANG_LIMIT:?}"
                )));
                return;
            }
            match nets::check(shape, n, &names, &out.results, victim) {
                Ok((d, killed)) => {
                    if killed {
                        t.killed += 1;
                        t.recoveries.push(out.recovery);
                    } else {
                        t.too_late += 1;
                    }
                    t.delivered += d.delivered;
                    t.lost += d.lost;
                    t.duplicated += d.duplicated;
                    if d.lost + d.duplicated > 0 {
                        t.problems.push(what(format!("{d:?}")));
                    }
                }
                Err(e) => t.problems.push(what(e)),
            }
        }
        Mode::SelfParallel => {
            let step = rng.below(nets::steps(shape, victim, n) + 1);
            let Net { procs, names, .. } = nets::build(shape, cap, n, Some((victim, step)));
            let wd_name: &'static str = Box::leak(what("Parallel! hung".into()).into_boxed_str());
            let _wd = common::watchdog(wd_name, HANG_LIMIT * 3);
            let t0 = Instant::now();
            match run_parallel(shape, procs) {
                Ok(()) => t
                    .problems
                    .push(what("the run succeeded though the victim died".into())),
                Err(e) => {
                    let f = e.failures();
                    let ok = f.len() == 1
                        && f[0].name == names[victim]
                        && matches!(f[0].kind, csp::FailureKind::Signaled { signal: 9, .. })
                        && e.to_string().contains(&format!("`{}`", names[victim]))
                        && e.to_string().contains("SIGKILL");
                    if ok {
                        t.killed += 1;
                        t.recoveries.push(t0.elapsed());
                    } else {
                        t.problems.push(what(format!("unexpected error: {e}")));
                    }
                }
            }
        }
    }
}

/// How long the network takes without a crash (and that it works then).
fn calibrate(shape: Shape, cap: usize, n: u64) -> Duration {
    let Net { procs, names, .. } = nets::build(shape, cap, n, None);
    let t0 = Instant::now();
    let out = nets::run(procs, None, HANG_LIMIT);
    let took = t0.elapsed();
    assert!(!out.hung, "{shape:?} hung without a crash");
    for (r, name) in out.results.iter().zip(&names) {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} failed without a crash: {e}"));
        assert_eq!(r.end, "done", "{name} without a crash");
    }
    match nets::check(shape, n, &names, &out.results, usize::MAX) {
        Ok((d, false)) => assert_eq!((d.lost, d.duplicated), (0, 0)),
        other => panic!("{shape:?} without a crash: {other:?}"),
    }
    took
}

fn scenario(name: &str, shape: Shape, cap: usize, n: u64, default_runs: u64) {
    let _wd = common::watchdog("crash scenario (overall)", Duration::from_secs(3600 * 4));
    let calib = calibrate(shape, cap, n);
    let mut t = Tally::default();
    let seeds: Vec<u64> = match std::env::var("CSP_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => (0..runs(default_runs)).collect(),
    };
    let t0 = Instant::now();
    for seed in seeds {
        one_run(name, shape, cap, n, seed, calib, &mut t);
    }
    t.recoveries.sort();
    let pct = |p: usize| {
        t.recoveries
            .get(t.recoveries.len().saturating_sub(1) * p / 100)
            .copied()
            .unwrap_or_default()
    };
    eprintln!(
        "crash {name}: runs {} (killed {}, finished before the kill {}), hangs {}, delivered {}, lost {}, duplicated {}; \
         end after the kill: median {:?}, p99 {:?}, max {:?}; calibration run {calib:?}; total {:?}",
        t.runs,
        t.killed,
        t.too_late,
        t.hangs,
        t.delivered,
        t.lost,
        t.duplicated,
        pct(50),
        pct(99),
        pct(100),
        t0.elapsed()
    );
    assert!(
        t.problems.is_empty(),
        "{name}: {} problem(s):\n{}",
        t.problems.len(),
        t.problems.join("\n")
    );
    assert_eq!(t.hangs, 0);
}

const N: u64 = 100;

#[test]
fn pipeline_rendezvous() {
    scenario("pipeline_rendezvous", Shape::Pipeline, 0, N, 250);
}

#[test]
fn pipeline_buffered() {
    scenario("pipeline_buffered", Shape::Pipeline, 8, N, 250);
}

#[test]
fn farm_rendezvous() {
    scenario("farm_rendezvous", Shape::Farm, 0, N, 250);
}

#[test]
fn farm_buffered() {
    scenario("farm_buffered", Shape::Farm, 8, N, 250);
}

#[test]
fn client_server_rendezvous() {
    scenario(
        "client_server_rendezvous",
        Shape::ClientServer,
        0,
        N / 4,
        250,
    );
}

#[test]
fn client_server_buffered() {
    scenario("client_server_buffered", Shape::ClientServer, 4, N / 4, 250);
}

#[test]
fn client_server_alt_rendezvous() {
    scenario(
        "client_server_alt_rendezvous",
        Shape::ClientServerAlt,
        0,
        N / 4,
        250,
    );
}

#[test]
fn client_server_alt_buffered() {
    scenario(
        "client_server_alt_buffered",
        Shape::ClientServerAlt,
        4,
        N / 4,
        250,
    );
}

// ---------------------------------------------------------------------------
// Regressions found by the suite, each as a minimal reproduction.

#[process]
fn write_one(out: Writer<u64>) -> String {
    match out.write(7) {
        Ok(()) => "written".into(),
        Err(e) => format!("{e:?}"),
    }
}

#[process]
fn read_one(inp: Reader<u64>) -> u64 {
    inp.read().unwrap_or(0)
}

/// A process killed right after `spawn` returns, before it has started
/// running (its record still `STARTING`): its peer must still learn that it
/// died, even while the parent is busy joining that peer.
#[test]
fn killed_before_it_started() {
    let _wd = common::watchdog("killed_before_it_started", Duration::from_secs(60));
    for _ in 0..20 {
        let ch = Channel::<u64>::new();
        let w = write_one(ch.writer()).spawn().unwrap();
        let r = read_one(ch.reader()).spawn().unwrap();
        r.kill().unwrap();
        drop(ch);
        let mut w = w;
        let got = w.join_timeout(Duration::from_secs(10));
        assert!(
            !matches!(got, Err(csp::Error::Timeout { .. })),
            "the writer hangs: its reader was killed before it started"
        );
        // The reader may have run (and read) before the kill landed.
        match (got.unwrap().as_str(), r.join()) {
            ("PeerLost", Err(e)) => assert!(e.to_string().contains("SIGKILL"), "{e}"),
            ("written", _) => {}
            (w, r) => panic!("writer {w}, reader {r:?}"),
        }
    }
}

#[process]
fn churn_ends(w: Writer<u64>) {
    // Clones and drops ends all the time: a kill lands, most of the time,
    // half way through changing a channel's counts and this process's
    // ledger line.
    loop {
        let w2 = w.clone();
        drop(w2);
    }
}

#[process]
fn read_until_error(r: Reader<u64>) -> String {
    loop {
        if let Err(e) = r.read() {
            return format!("{e:?}");
        }
    }
}

/// A process killed while it clones and drops ends must not leave a count
/// that no ledger backs (its peer would wait for it forever). Before the
/// fix, about half of these runs hung; now the peer gets `PeerLost`, or
/// `Poisoned` when the kill landed inside the count update.
#[test]
fn killed_while_cloning_ends() {
    let _wd = common::watchdog("killed_while_cloning_ends", Duration::from_secs(120));
    let runs = if long() { 2000 } else { 60 };
    let (mut lost, mut poisoned) = (0, 0);
    for i in 0..runs {
        let ch = Channel::<u64>::buffered(if i % 2 == 0 { 0 } else { 4 });
        let c = churn_ends(ch.writer()).spawn().unwrap();
        let mut r = read_until_error(ch.reader()).spawn().unwrap();
        drop(ch);
        std::thread::sleep(Duration::from_micros(500 + (i * 397) % 3000));
        c.kill().unwrap();
        let got = r.join_timeout(HANG_LIMIT);
        assert!(
            !matches!(got, Err(csp::Error::Timeout { .. })),
            "run {i}: the reader hangs"
        );
        match got.unwrap().as_str() {
            "PeerLost" => lost += 1,
            "Poisoned" => poisoned += 1,
            other => panic!("run {i}: the reader ended with {other}"),
        }
        assert!(c.join().unwrap_err().to_string().contains("SIGKILL"));
    }
    eprintln!(
        "killed_while_cloning_ends: {runs} runs: PeerLost {lost}, Poisoned {poisoned}, hangs 0"
    );
}

#[process]
fn hold_many(ends: Vec<Writer<u64>>) {
    // Ends at once: the kill lands while its exit releases the ends.
    drop(ends);
}

/// A process killed while its exit releases many ends: every channel must
/// still end (`Retired` for those released, `PeerLost` for the others, or
/// `Poisoned` for the one being released at the kill).
#[test]
fn killed_while_releasing_ends() {
    let _wd = common::watchdog("killed_while_releasing_ends", Duration::from_secs(120));
    let runs = if long() { 400 } else { 20 };
    for i in 0..runs {
        let chans: Vec<Channel<u64>> = (0..64).map(|_| Channel::buffered(1)).collect();
        let readers: Vec<Reader<u64>> = chans.iter().map(Channel::reader).collect();
        let h = hold_many(chans.iter().map(Channel::writer).collect())
            .spawn()
            .unwrap();
        drop(chans);
        std::thread::sleep(Duration::from_micros((i * 131) % 1500));
        let _ = h.kill();
        let _ = h.join();
        for (k, r) in readers.iter().enumerate() {
            match r.read_timeout(HANG_LIMIT) {
                Err(ChannelError::Retired | ChannelError::PeerLost | ChannelError::Poisoned) => {}
                other => panic!("run {i}, channel {k}: {other:?}"),
            }
        }
    }
}

#[process]
fn never_reads(req: Reader<(u64, Writer<u64>)>) {
    std::thread::sleep(Duration::from_secs(30));
    drop(req);
}

#[process]
fn ask(req: Writer<(u64, Writer<u64>)>, rep: Channel<u64>) -> String {
    let r = rep.reader();
    if let Err(e) = req.write((1, rep.writer())) {
        return format!("write: {e:?}");
    }
    drop(rep);
    match r.read() {
        Ok(v) => format!("got {v}"),
        Err(e) => format!("{e:?}"),
    }
}

/// Regression (was a hang): a client sends the writer of its reply channel
/// inside a request; the server dies before reading it. The end stayed
/// counted "in transit" in a message nobody would ever read, so the reply
/// channel never lost its last writer and the client waited forever. Now a
/// channel nobody can read any more drops the messages that carry ends.
#[test]
fn reply_end_in_a_request_nobody_reads() {
    let _wd = common::watchdog(
        "reply_end_in_a_request_nobody_reads",
        Duration::from_secs(60),
    );
    let req = Channel::<(u64, Writer<u64>)>::buffered(4);
    let rep = Channel::<u64>::new();
    let s = never_reads(req.reader()).spawn().unwrap();
    let mut c = ask(req.writer(), rep.clone()).spawn().unwrap();
    drop((rep, req));
    std::thread::sleep(Duration::from_millis(100));
    s.kill().unwrap();
    let got = c.join_timeout(Duration::from_secs(5));
    let hung = matches!(got, Err(csp::Error::Timeout { .. }));
    if hung {
        c.kill().unwrap();
        let _ = c.join();
    }
    let _ = s.join();
    assert!(
        !hung,
        "the client hangs: its reply writer is in a request nobody will read"
    );
    assert_eq!(got.unwrap(), "PeerLost");
}
