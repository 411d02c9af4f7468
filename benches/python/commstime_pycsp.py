#!/usr/bin/env python3
"""Commstime in PyCSP with OS processes, for comparison with
examples/commstime.rs and the `commstime` benchmark of benches/alt.rs.

    python3 -m venv target/pycsp && target/pycsp/bin/pip install pycsp==0.9.2
    PYCSP_HOST=127.0.0.1 target/pycsp/bin/python benches/python/commstime_pycsp.py [cycles]

(PYCSP_HOST: PyCSP 0.9.2 fails on Python 3 when it has to guess its own
LAN address.)

The occam ring: Prefix -> Delta -> Successor -> Prefix, and Delta ->
Consumer; each process is an OS process (`@multiprocess`), Delta's two
outputs in sequence. Prints microseconds per communication (a cycle is
four communications), best of three runs.
"""

import sys
import time

from pycsp.parallel import Channel, Parallel, multiprocess, poison, process, shutdown


@multiprocess
def prefix(cin, cout, n0):
    cout(n0)
    while True:
        cout(cin())


@multiprocess
def delta(cin, to_succ, to_cons):
    while True:
        v = cin()
        to_succ(v)
        to_cons(v)


@multiprocess
def successor(cin, cout):
    while True:
        cout(cin() + 1)


@multiprocess
def consumer(cin, cycles, report):
    cin()  # the ring is running
    t0 = time.perf_counter()
    for _ in range(cycles):
        cin()
    dt = time.perf_counter() - t0
    report(dt)
    poison(cin)


@process
def receive(cin, into):
    # A thread of the main program: keeps the figure the consumer reports.
    into.append(cin())


def run(cycles):
    a, b, c, d, r = Channel(), Channel(), Channel(), Channel(), Channel()
    got = []
    Parallel(
        prefix(c.reader(), a.writer(), 0),
        delta(a.reader(), b.writer(), d.writer()),
        successor(b.reader(), c.writer()),
        consumer(d.reader(), cycles, r.writer()),
        receive(r.reader(), got),
    )
    return got[0]


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    best = min(run(cycles) / (cycles * 4) * 1e6 for _ in range(3))
    print(
        f"pycsp 0.9.2 (parallel, @multiprocess), commstime, {cycles} cycles, "
        f"Delta in sequence: {best:.1f} us per communication (best of 3)"
    )
    shutdown()


if __name__ == "__main__":
    main()
