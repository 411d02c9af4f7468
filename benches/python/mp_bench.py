#!/usr/bin/env python3
"""Python's multiprocessing on the scenarios of benches/mp.rs, for comparison.

    python3 benches/python/mp_bench.py

Each scenario runs real OS processes (start method `fork`, as ours) and is
timed after every process has started; the best of a few runs is printed.
Scenarios (same names as the criterion benches):

- value_lock_increment_2proc: two processes each add 1 to a shared
  Value('q') under its lock (`with v.get_lock(): v.value += 1`);
  rate = increments by both / time.
- queue_oneway_u64: one process puts small ints into a Queue(), another
  gets them; rate = items / time until the consumer has them all.
- pipe_round_trip: the parent sends an int through a duplex Pipe, a child
  sends it back; time per round trip.
- barrier_round_4proc: four processes wait on one Barrier(4) in a loop;
  time per round.
"""

import multiprocessing as mp
import sys
import time

ctx = mp.get_context("fork")
RUNS = 3


def _inc(v, n, ready, go):
    ready.set()
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def value_lock(n):
    v = ctx.Value("q", 0)
    ready, go = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_inc, args=(v, n, ready, go))
    p.start()
    ready.wait()
    t0 = time.perf_counter()
    go.set()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    p.join()
    dt = time.perf_counter() - t0
    assert v.value == 2 * n, v.value
    return 2 * n / dt


def _consume(q, n, ready, done):
    ready.set()
    for _ in range(n):
        q.get()
    done.set()


def queue_oneway(n):
    q = ctx.Queue()
    ready, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_consume, args=(q, n, ready, done))
    p.start()
    ready.wait()
    t0 = time.perf_counter()
    for i in range(n):
        q.put(i)
    done.wait()
    dt = time.perf_counter() - t0
    p.join()
    return n / dt


def _echo(conn, other):
    other.close()  # else the parent's close never reads as end of file here
    while True:
        try:
            v = conn.recv()
        except EOFError:
            return
        conn.send(v)


def pipe_round_trip(n):
    a, b = ctx.Pipe()
    p = ctx.Process(target=_echo, args=(b, a))
    p.start()
    b.close()
    a.send(0)
    a.recv()  # the child is up
    t0 = time.perf_counter()
    for i in range(n):
        a.send(i)
        a.recv()
    dt = time.perf_counter() - t0
    a.close()
    p.join()
    return dt / n


def _rounds(barrier, n):
    for _ in range(n + 1):
        barrier.wait()


def barrier_round(n, parties=4):
    barrier = ctx.Barrier(parties)
    ps = [ctx.Process(target=_rounds, args=(barrier, n)) for _ in range(parties - 1)]
    for p in ps:
        p.start()
    barrier.wait()  # everyone is up
    t0 = time.perf_counter()
    for _ in range(n):
        barrier.wait()
    dt = time.perf_counter() - t0
    for p in ps:
        p.join()
    return dt / n


def best(f, n, higher_is_better):
    xs = [f(n) for _ in range(RUNS)]
    return max(xs) if higher_is_better else min(xs)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(f"python {sys.version.split()[0]}, multiprocessing start method fork, best of {RUNS}")
    r = best(value_lock, int(200_000 * scale), True)
    print(f"value_lock_increment_2proc  {r / 1e6:8.3f} M increments/s")
    r = best(queue_oneway, int(200_000 * scale), True)
    print(f"queue_oneway_u64            {r / 1e3:8.1f} k items/s")
    t = best(pipe_round_trip, int(20_000 * scale), False)
    print(f"pipe_round_trip             {t * 1e6:8.1f} us")
    t = best(barrier_round, int(5_000 * scale), False)
    print(f"barrier_round_4proc         {t * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
