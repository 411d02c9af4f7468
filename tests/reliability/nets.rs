//! Networks of the shapes people build, shared by the crash and leak suites:
//! a pipeline, a farm and a client/server, each over rendezvous or buffered
//! channels, with one process chosen to die by SIGKILL — either killed from
//! outside at a random moment, or killing itself at a random step.
//!
//! Every process follows the PyCSP shutdown discipline: `Retired` on an
//! input is the normal end (retire the outputs, return); any other error
//! (`PeerLost`, `Poisoned`) poisons the process's channels and returns the
//! error's name, so a death anywhere ends the whole network.
#![allow(dead_code)]

use csp::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A small deterministic PRNG (splitmix64): one seed, one run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` if `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// What a process reports back: the items it received (sinks, collectors,
/// clients), how many operations it completed, and how it ended: `"done"`
/// or the name of the channel error that stopped it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub items: Vec<u64>,
    pub count: u64,
    pub end: String,
}

/// How a survivor may end after a crash.
pub const ALLOWED_ENDS: [&str; 4] = ["done", "PeerLost", "Retired", "Poisoned"];

fn name_of(e: &ChannelError) -> String {
    match e {
        ChannelError::Retired => "Retired".into(),
        ChannelError::Poisoned => "Poisoned".into(),
        ChannelError::PeerLost => "PeerLost".into(),
        other => format!("{other:?}"),
    }
}

fn ended(items: Vec<u64>, count: u64, e: Option<&ChannelError>) -> Report {
    Report {
        items,
        count,
        end: e.map_or_else(|| "done".to_string(), name_of),
    }
}

/// Dies by SIGKILL when `step` reaches `die_at` (self-kill mode).
fn die_at_step(step: u64, die_at: u64) {
    if step == die_at {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Dies by SIGKILL at the end if `die_at` was not reached (self-kill mode:
/// the victim always dies).
fn die_anyway(die_at: u64) {
    if die_at != NEVER {
        die_at_step(die_at, die_at);
    }
}

/// `die_at` of a process that is not the self-killing victim.
pub const NEVER: u64 = u64::MAX;

// ---------------------------------------------------------------------------
// Pipeline: source -> stage -> stage -> stage -> sink.

fn source_body(out: Writer<u64>, n: u64, die_at: u64) -> Report {
    for i in 0..n {
        die_at_step(i, die_at);
        if let Err(e) = out.write(i) {
            out.poison();
            return ended(vec![], i, Some(&e));
        }
    }
    out.retire();
    die_anyway(die_at);
    ended(vec![], n, None)
}

#[process]
fn source(out: Writer<u64>, n: u64, die_at: u64) -> Report {
    source_body(out, n, die_at)
}

fn stage_body(inp: Reader<u64>, out: Writer<u64>, die_at: u64) -> Report {
    let mut step = 0;
    loop {
        die_at_step(step, die_at);
        match inp.read() {
            Ok(v) => {
                if let Err(e) = out.write(v) {
                    inp.poison();
                    out.poison();
                    return ended(vec![], step, Some(&e));
                }
            }
            Err(ChannelError::Retired) => break,
            Err(e) => {
                inp.poison();
                out.poison();
                return ended(vec![], step, Some(&e));
            }
        }
        step += 1;
    }
    out.retire();
    die_anyway(die_at);
    ended(vec![], step, None)
}

#[process]
fn stage(inp: Reader<u64>, out: Writer<u64>, die_at: u64) -> Report {
    stage_body(inp, out, die_at)
}

fn sink_body(inp: Reader<u64>, die_at: u64) -> Report {
    let mut items = Vec::new();
    loop {
        die_at_step(items.len() as u64, die_at);
        match inp.read() {
            Ok(v) => items.push(v),
            Err(ChannelError::Retired) => break,
            Err(e) => {
                inp.poison();
                let n = items.len() as u64;
                return ended(items, n, Some(&e));
            }
        }
    }
    die_anyway(die_at);
    let n = items.len() as u64;
    ended(items, n, None)
}

#[process]
fn sink(inp: Reader<u64>, die_at: u64) -> Report {
    sink_body(inp, die_at)
}

// ---------------------------------------------------------------------------
// Farm: dispatcher -> any-to-any jobs -> N workers -> any-to-any results ->
// collector.

// The farm's processes do what the pipeline's do; their own names are what
// failure reports (and the checks on them) name.

#[process]
fn dispatcher(out: Writer<u64>, n: u64, die_at: u64) -> Report {
    source_body(out, n, die_at)
}

#[process]
fn worker(inp: Reader<u64>, out: Writer<u64>, die_at: u64) -> Report {
    // One job in hand at a time, like a pipeline stage.
    stage_body(inp, out, die_at)
}

#[process]
fn collector(inp: Reader<u64>, die_at: u64) -> Report {
    sink_body(inp, die_at)
}

// ---------------------------------------------------------------------------
// Client/server: clients send (id, seq) on one shared request channel and
// read the answer on their own reply channel; the server answers each.

/// The server's answer to request `seq`.
pub fn answer(seq: u64) -> u64 {
    seq.wrapping_mul(2).wrapping_add(1)
}

#[process]
fn server(req: Reader<(u32, u64)>, replies: Vec<Writer<u64>>, die_at: u64) -> Report {
    let mut replies: Vec<Option<Writer<u64>>> = replies.into_iter().map(Some).collect();
    let mut served = 0;
    loop {
        die_at_step(served, die_at);
        match req.read() {
            Ok((id, seq)) => {
                let Some(w) = replies.get(id as usize).and_then(Option::as_ref) else {
                    continue; // that client died earlier
                };
                match w.write(answer(seq)) {
                    Ok(()) => served += 1,
                    // The client died: forget it, serve the others.
                    Err(ChannelError::PeerLost) => replies[id as usize] = None,
                    Err(e) => {
                        req.poison();
                        replies.iter().flatten().for_each(|w| w.poison());
                        return ended(vec![], served, Some(&e));
                    }
                }
            }
            Err(ChannelError::Retired) => break,
            Err(e) => {
                req.poison();
                replies.iter().flatten().for_each(|w| w.poison());
                return ended(vec![], served, Some(&e));
            }
        }
    }
    for w in replies.iter().flatten() {
        w.retire();
    }
    die_anyway(die_at);
    ended(vec![], served, None)
}

#[process]
fn client(id: u32, req: Writer<(u32, u64)>, rep: Reader<u64>, k: u64, die_at: u64) -> Report {
    let mut items = Vec::new();
    for seq in 0..k {
        die_at_step(seq, die_at);
        let e = match req.write((id, seq)) {
            Ok(()) => match rep.read() {
                Ok(v) if v == answer(seq) => {
                    items.push(seq);
                    continue;
                }
                Ok(v) => {
                    return ended(
                        items,
                        seq,
                        Some(&ChannelError::Decode(format!("wrong answer {v} to {seq}"))),
                    );
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        // A client that loses its server just stops; it does not poison
        // the shared request channel (the server may still serve others).
        return ended(items, seq, Some(&e));
    }
    req.retire();
    die_anyway(die_at);
    ended(items, k, None)
}

/// The server of the alternation variant: one request channel per client,
/// read by alternation (`Alt::fair_read`) over the clients still there.
#[process]
fn alt_server(reqs: Vec<Reader<u64>>, replies: Vec<Writer<u64>>, die_at: u64) -> Report {
    let mut live: Vec<usize> = (0..reqs.len()).collect();
    let mut served = 0;
    let fail = |e: &ChannelError, served| {
        reqs.iter().for_each(Reader::poison);
        replies.iter().for_each(Writer::poison);
        ended(vec![], served, Some(e))
    };
    while !live.is_empty() {
        die_at_step(served, die_at);
        let (k, got) = csp_core::alt::Alt::new(live.iter().map(|&i| &reqs[i])).fair_read();
        let id = live[k];
        match got {
            Ok(seq) => match replies[id].write(answer(seq)) {
                Ok(()) => served += 1,
                Err(ChannelError::PeerLost) => {
                    live.remove(k);
                }
                Err(e) => return fail(&e, served),
            },
            // That client is done, or died: serve the others.
            Err(ChannelError::Retired | ChannelError::PeerLost) => {
                live.remove(k);
            }
            Err(e) => return fail(&e, served),
        }
    }
    replies.iter().for_each(Writer::retire);
    die_anyway(die_at);
    ended(vec![], served, None)
}

#[process]
fn alt_client(req: Writer<u64>, rep: Reader<u64>, k: u64, die_at: u64) -> Report {
    let mut items = Vec::new();
    for seq in 0..k {
        die_at_step(seq, die_at);
        let e = match req.write(seq) {
            Ok(()) => match rep.read() {
                Ok(v) if v == answer(seq) => {
                    items.push(seq);
                    continue;
                }
                Ok(v) => ChannelError::Decode(format!("wrong answer {v} to {seq}")),
                Err(e) => e,
            },
            Err(e) => e,
        };
        return ended(items, seq, Some(&e));
    }
    req.retire();
    die_anyway(die_at);
    ended(items, k, None)
}

// ---------------------------------------------------------------------------
// Building and checking networks.

/// The network shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// source -> 3 stages -> sink.
    Pipeline,
    /// dispatcher -> `WORKERS` workers -> collector.
    Farm,
    /// `CLIENTS` clients, one server.
    ClientServer,
    /// `CLIENTS` clients, each with its own request channel; one server
    /// reading them by alternation.
    ClientServerAlt,
}

pub const WORKERS: usize = 4;
pub const CLIENTS: usize = 4;

impl Shape {
    /// How many processes the network has.
    pub fn procs(self) -> usize {
        match self {
            Shape::Pipeline => 5,
            Shape::Farm => WORKERS + 2,
            Shape::ClientServer | Shape::ClientServerAlt => CLIENTS + 1,
        }
    }
}

/// A network to run: its processes (named uniquely) and what the checker
/// needs to know.
pub struct Net {
    pub shape: Shape,
    pub procs: Vec<Process<Report>>,
    pub names: Vec<String>,
    pub n: u64,
}

/// Builds a network moving `n` messages (per client for client/server) over
/// channels of capacity `cap` (0 = rendezvous). `die` = (victim, step) makes
/// the victim kill itself at that step.
pub fn build(shape: Shape, cap: usize, n: u64, die: Option<(usize, u64)>) -> Net {
    let die_at = |i: usize| match die {
        Some((v, s)) if v == i => s,
        _ => NEVER,
    };
    let procs: Vec<Process<Report>> = match shape {
        Shape::Pipeline => {
            let chans: Vec<Channel<u64>> = (0..4).map(|_| Channel::buffered(cap)).collect();
            let mut v = vec![source(chans[0].writer(), n, die_at(0)).named("source")];
            for s in 0..3 {
                v.push(
                    stage(chans[s].reader(), chans[s + 1].writer(), die_at(s + 1))
                        .named(format!("stage{}", s + 1)),
                );
            }
            v.push(sink(chans[3].reader(), die_at(4)).named("sink"));
            v
        }
        Shape::Farm => {
            let jobs = Channel::<u64>::buffered(cap);
            let results = Channel::<u64>::buffered(cap);
            let mut v = vec![dispatcher(jobs.writer(), n, die_at(0)).named("dispatcher")];
            for w in 0..WORKERS {
                v.push(
                    worker(jobs.reader(), results.writer(), die_at(w + 1))
                        .named(format!("worker{w}")),
                );
            }
            v.push(collector(results.reader(), die_at(WORKERS + 1)).named("collector"));
            v
        }
        Shape::ClientServer => {
            let req = Channel::<(u32, u64)>::buffered(cap);
            let reps: Vec<Channel<u64>> = (0..CLIENTS).map(|_| Channel::buffered(cap)).collect();
            let mut v = vec![
                server(
                    req.reader(),
                    reps.iter().map(Channel::writer).collect(),
                    die_at(0),
                )
                .named("server"),
            ];
            for (c, rep) in reps.iter().enumerate() {
                v.push(
                    client(c as u32, req.writer(), rep.reader(), n, die_at(c + 1))
                        .named(format!("client{c}")),
                );
            }
            v
        }
        Shape::ClientServerAlt => {
            let reqs: Vec<Channel<u64>> = (0..CLIENTS).map(|_| Channel::buffered(cap)).collect();
            let reps: Vec<Channel<u64>> = (0..CLIENTS).map(|_| Channel::buffered(cap)).collect();
            let mut v = vec![
                alt_server(
                    reqs.iter().map(Channel::reader).collect(),
                    reps.iter().map(Channel::writer).collect(),
                    die_at(0),
                )
                .named("server"),
            ];
            for c in 0..CLIENTS {
                v.push(
                    alt_client(reqs[c].writer(), reps[c].reader(), n, die_at(c + 1))
                        .named(format!("client{c}")),
                );
            }
            v
        }
    };
    let names = procs.iter().map(|p| p.name().to_string()).collect();
    Net {
        shape,
        procs,
        names,
        n,
    }
}

/// How many steps a process of the network takes at most (for choosing a
/// self-kill step).
pub fn steps(shape: Shape, idx: usize, n: u64) -> u64 {
    match shape {
        Shape::Farm if (1..=WORKERS).contains(&idx) => n / WORKERS as u64 + 1,
        Shape::ClientServer | Shape::ClientServerAlt if idx == 0 => n * CLIENTS as u64,
        _ => n,
    }
}

/// What one run delivered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Delivery {
    /// Messages that reached their final destination.
    pub delivered: u64,
    /// Messages missing beyond what the crash may take with it.
    pub lost: u64,
    /// Messages that arrived more than once.
    pub duplicated: u64,
}

/// Counts duplicates and values outside `0..n` in `items`.
fn dups(items: &[u64], n: u64) -> (u64, u64) {
    let mut seen = vec![false; n as usize];
    let (mut dup, mut bad) = (0, 0);
    for &i in items {
        match seen.get_mut(i as usize) {
            Some(s) if *s => dup += 1,
            Some(s) => *s = true,
            None => bad += 1,
        }
    }
    (dup, bad)
}

/// Checks one run. `results[i]` is process i's outcome; `victim` the
/// process chosen to die; `killed` whether it really died (an outside kill
/// may come after it finished). Returns what was delivered, or what is
/// wrong.
pub fn check(
    net_shape: Shape,
    n: u64,
    names: &[String],
    results: &[Result<Report, csp::Error>],
    victim: usize,
) -> Result<(Delivery, bool), String> {
    // The victim either died by SIGKILL (and the error names it) or, when
    // killed from outside too late, finished normally.
    let killed = match results.get(victim) {
        None | Some(Ok(_)) => false,
        Some(Err(e)) => {
            let f = e.failures();
            let named = f.iter().any(|f| {
                f.name == names[victim]
                    && matches!(f.kind, csp::FailureKind::Signaled { signal: 9, .. })
            });
            if !named || !e.to_string().contains(&format!("`{}`", names[victim])) {
                return Err(format!("victim {}: unexpected error {e}", names[victim]));
            }
            true
        }
    };
    for (i, r) in results.iter().enumerate() {
        if i == victim {
            continue;
        }
        match r {
            Ok(rep) if ALLOWED_ENDS.contains(&rep.end.as_str()) => {
                if !killed && rep.end != "done" {
                    return Err(format!("{} ended {} though nobody died", names[i], rep.end));
                }
            }
            Ok(rep) => return Err(format!("{} ended with {}", names[i], rep.end)),
            Err(e) => return Err(format!("survivor {} failed: {e}", names[i])),
        }
    }
    let ok = |i: usize| results[i].as_ref().ok();
    let mut d = Delivery::default();
    match net_shape {
        Shape::Pipeline => {
            if let Some(s) = ok(4) {
                // Single-process stages keep order: the sink sees a prefix.
                let k = s.items.len() as u64;
                d.delivered = k;
                let (dup, bad) = dups(&s.items, n);
                d.duplicated = dup;
                if s.items.iter().copied().ne(0..k) {
                    d.lost += 1.max(bad);
                    if dup == 0 {
                        return Err(format!("sink saw a non-prefix sequence: {:?}", s.items));
                    }
                }
                if !killed && k != n {
                    d.lost += n - k;
                }
            }
        }
        Shape::Farm => {
            let c = WORKERS + 1;
            if let Some(s) = ok(c) {
                let (dup, bad) = dups(&s.items, n);
                d.duplicated = dup;
                d.lost += bad;
                let uniq = s.items.len() as u64 - dup;
                d.delivered = uniq;
                // A dead worker takes at most the one job in its hands; a
                // poisoned network may lose anything in flight.
                let allowance = if !killed {
                    0
                } else if (1..=WORKERS).contains(&victim) {
                    1
                } else {
                    0
                };
                if s.end == "done" {
                    d.lost += (n - uniq.min(n)).saturating_sub(allowance);
                }
            }
        }
        Shape::ClientServer | Shape::ClientServerAlt => {
            let server_done = ok(0).is_some_and(|r| r.end == "done");
            for (c, name) in names.iter().enumerate().take(CLIENTS + 1).skip(1) {
                if let Some(r) = ok(c) {
                    let k = r.items.len() as u64;
                    d.delivered += k;
                    if r.items.iter().copied().ne(0..k) {
                        return Err(format!("{name} got answers out of order: {:?}", r.items));
                    }
                    if server_done && k != n {
                        d.lost += n - k;
                    }
                }
            }
            if let Some(s) = ok(0) {
                // Every answer a surviving client got was served once; a
                // dead client may have been served some too.
                let survivors: u64 = (1..=CLIENTS).filter_map(ok).map(|r| r.count).sum();
                let slack = if killed && victim != 0 { n } else { 0 };
                if s.count < survivors || s.count > survivors + slack {
                    return Err(format!(
                        "server answered {} requests, surviving clients got {survivors}",
                        s.count
                    ));
                }
            }
        }
    }
    Ok((d, killed))
}

/// The outcome of one network run.
pub struct RunOutcome {
    pub results: Vec<Result<Report, csp::Error>>,
    /// Whether some join ran past the hang limit (the stragglers were then
    /// killed so the suite can go on).
    pub hung: bool,
    /// From the kill (or the start, without one) to the last join.
    pub recovery: Duration,
}

/// Starts every process; with `kill = Some((victim, delay))` kills the
/// victim with SIGKILL after `delay`; joins all, in order, each within
/// `limit` of the kill.
pub fn run(
    procs: Vec<Process<Report>>,
    kill: Option<(usize, Duration)>,
    limit: Duration,
) -> RunOutcome {
    let mut handles = Vec::new();
    let mut results: Vec<Option<Result<Report, csp::Error>>> = Vec::new();
    for p in procs {
        match p.spawn() {
            Ok(h) => {
                handles.push(Some(h));
                results.push(None);
            }
            Err(e) => {
                handles.push(None);
                results.push(Some(Err(e)));
            }
        }
    }
    if let Some((victim, delay)) = kill {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if let Some(h) = &handles[victim] {
            // Safe even if it already ended: it is not reaped before we join.
            let _ = h.kill();
        }
    }
    let t0 = Instant::now();
    let deadline = t0 + limit;
    let mut hung = false;
    for (i, h) in handles.iter_mut().enumerate() {
        let Some(h) = h.as_mut() else { continue };
        let left = deadline.saturating_duration_since(Instant::now());
        match h.join_timeout(left) {
            Err(csp::Error::Timeout { .. }) => {
                hung = true;
                results[i] = Some(Err(csp::Error::Timeout {
                    name: h.name().to_string(),
                    pid: h.pid(),
                }));
            }
            r => results[i] = Some(r),
        }
    }
    let recovery = t0.elapsed();
    if hung {
        // Kill the stragglers so the suite can report and go on.
        for h in handles.iter().flatten() {
            if h.is_alive() {
                let _ = h.kill();
            }
        }
        for (i, h) in handles.into_iter().enumerate() {
            if let Some(h) = h {
                if matches!(results[i], Some(Err(csp::Error::Timeout { .. }))) {
                    let _ = h.join();
                }
            }
        }
    }
    let results = results
        .into_iter()
        .map(|r| r.expect("every process has an outcome"))
        .collect();
    RunOutcome {
        results,
        hung,
        recovery,
    }
}
