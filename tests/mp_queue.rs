//! `mp::Queue` and `mp::JoinableQueue` across real OS processes: Python's
//! `multiprocessing.Queue` semantics, plus what Python lacks: a dead
//! producer or consumer is an error, never a hang.

mod common;

use csp::process;
use csp_core::mp::{JoinableQueue, PutError, Queue, QueueError};
use csp_core::{Channel, FailureKind, Process};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

#[process]
fn count_into(q: Queue<u64>, n: u64) {
    for i in 0..n {
        q.put(i).unwrap();
    }
}

#[test]
fn fifo_across_processes() {
    let _wd = common::watchdog("fifo_across_processes", WATCHDOG);
    let q = Queue::<u64>::new(8);
    let producer = count_into(q.clone(), 2000).spawn().unwrap();
    for i in 0..2000u64 {
        assert_eq!(q.get().unwrap(), i);
    }
    producer.join().unwrap();
    assert!(q.is_empty());
}

#[process]
fn tagged_producer(q: Queue<(u32, u32)>, p: u32, n: u32) {
    for i in 0..n {
        q.put((p, i)).unwrap();
    }
}

/// Gets until the sentinel `(u32::MAX, _)`, then reports what it got.
#[process]
fn collecting_consumer(q: Queue<(u32, u32)>, out: Queue<Vec<(u32, u32)>>) {
    let mut got = Vec::new();
    loop {
        match q.get().unwrap() {
            (u32::MAX, _) => break,
            item => got.push(item),
        }
    }
    out.put(got).unwrap();
}

#[test]
fn many_producers_many_consumers() {
    let _wd = common::watchdog("many_producers_many_consumers", WATCHDOG);
    let q = Queue::<(u32, u32)>::new(0);
    let results = Queue::<Vec<(u32, u32)>>::new(4);
    let handles: Vec<_> = (0..3u32)
        .map(|p| tagged_producer(q.clone(), p, 500).spawn().unwrap())
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            collecting_consumer(q.clone(), results.clone())
                .spawn()
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    q.put((u32::MAX, 0)).unwrap();
    q.put((u32::MAX, 0)).unwrap();
    let mut all: Vec<(u32, u32)> = results.get().unwrap();
    all.extend(results.get().unwrap());
    for c in consumers {
        c.join().unwrap();
    }
    // Every item exactly once, and each producer's items in order within
    // each consumer's share.
    let mut sorted = all.clone();
    sorted.sort();
    let expected: Vec<(u32, u32)> = (0..3).flat_map(|p| (0..500).map(move |i| (p, i))).collect();
    assert_eq!(sorted, expected);
}

#[test]
fn nowait_and_timeout_forms() {
    let _wd = common::watchdog("nowait_and_timeout_forms", WATCHDOG);
    let q = Queue::<String>::new(2);
    assert_eq!(q.maxsize(), 2);
    assert!(q.is_empty() && !q.is_full());
    assert_eq!(q.get_nowait(), Err(QueueError::Empty));
    assert_eq!(
        q.get_timeout(Duration::from_millis(30)),
        Err(QueueError::Empty)
    );
    q.put_nowait("a".into()).unwrap();
    q.put_timeout("b".into(), Duration::from_millis(30))
        .unwrap();
    assert_eq!(q.qsize(), 2);
    assert!(q.is_full());
    let e = q.put_nowait("c".into()).unwrap_err();
    assert_eq!(
        e,
        PutError {
            error: QueueError::Full,
            value: "c".to_string()
        }
    );
    let e = q
        .put_timeout("d".into(), Duration::from_millis(30))
        .unwrap_err();
    assert_eq!((e.error, e.value.as_str()), (QueueError::Full, "d"));
    assert_eq!(q.get_nowait().unwrap(), "a");
    assert_eq!(q.get_timeout(Duration::from_millis(30)).unwrap(), "b");
    assert_eq!(Queue::<u8>::new(0).maxsize(), 0);
    assert_eq!(
        Queue::<u8>::new(0).capacity(),
        csp_core::mp::UNBOUNDED_CAPACITY
    );
}

#[test]
fn get_timeout_waits_for_a_late_put() {
    let _wd = common::watchdog("get_timeout_waits_for_a_late_put", WATCHDOG);
    let q = Queue::<u32>::new(1);
    let tx = q.clone();
    let p = Process::new("late", move || {
        std::thread::sleep(Duration::from_millis(100));
        tx.put(7).unwrap();
    })
    .with(&q)
    .spawn()
    .unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(30)), Ok(7));
    p.join().unwrap();
}

#[test]
fn blocked_put_resumes_when_a_consumer_gets() {
    let _wd = common::watchdog("blocked_put_resumes_when_a_consumer_gets", WATCHDOG);
    let q = Queue::<u32>::new(1);
    q.put(1).unwrap();
    let rx = q.clone();
    let c = Process::new("slow consumer", move || {
        std::thread::sleep(Duration::from_millis(100));
        rx.get().unwrap() + rx.get().unwrap()
    })
    .with(&q)
    .spawn()
    .unwrap();
    q.put(2).unwrap(); // blocks until the child took the first
    assert_eq!(c.join().unwrap(), 3);
}

#[test]
fn close_fails_puts_and_drains_gets() {
    let _wd = common::watchdog("close_fails_puts_and_drains_gets", WATCHDOG);
    let q = Queue::<u32>::new(4);
    let rx = q.clone();
    // A consumer blocked on an empty queue wakes with Closed.
    let waiting = Process::new("waiting", move || rx.get())
        .with(&q)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    q.close();
    assert_eq!(waiting.join().unwrap(), Err(QueueError::Closed));

    let q = Queue::<u32>::new(4);
    q.put(1).unwrap();
    q.put(2).unwrap();
    let other = q.clone();
    q.close();
    assert!(other.is_closed());
    assert_eq!(other.put(3), Err(QueueError::Closed));
    assert_eq!(other.put_nowait(4).unwrap_err().value, 4);
    let rx = q.clone();
    let drainer = Process::new("drainer", move || {
        let a = rx.get();
        let b = rx.get();
        let c = rx.get();
        (a, b, c)
    })
    .with(&q)
    .spawn()
    .unwrap();
    assert_eq!(
        drainer.join().unwrap(),
        (Ok(1), Ok(2), Err(QueueError::Closed))
    );
}

/// A value whose encoding always fails.
#[derive(Debug, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("cannot encode this"))
    }
}

#[test]
fn unencodable_item_is_an_error_at_put() {
    let _wd = common::watchdog("unencodable_item_is_an_error_at_put", WATCHDOG);
    let q = Queue::<Unencodable>::new(4);
    assert!(
        matches!(q.put(Unencodable), Err(QueueError::Encode(m)) if m.contains("cannot encode"))
    );
    assert!(matches!(
        q.put_nowait(Unencodable),
        Err(PutError {
            error: QueueError::Encode(_),
            ..
        })
    ));
    assert!(q.is_empty());
    // A joinable queue does not count the task that was never put.
    let j = JoinableQueue::<Unencodable>::new(4);
    assert!(j.put(Unencodable).is_err());
    assert_eq!(j.unfinished_tasks(), 0);
}

#[test]
fn queue_travels_through_a_channel() {
    let _wd = common::watchdog("queue_travels_through_a_channel", WATCHDOG);
    let q = Queue::<u64>::new(16);
    let mail = Channel::<Queue<u64>>::buffered(1);
    let (r, w) = (mail.reader(), mail.writer());
    let child = Process::new("receiver", move || {
        let q = r.read().unwrap();
        for i in 0..10 {
            q.put(i * i).unwrap();
        }
    })
    .with(&mail.reader())
    .spawn()
    .unwrap();
    w.write(q.clone()).unwrap();
    let got: Vec<u64> = (0..10).map(|_| q.get().unwrap()).collect();
    assert_eq!(got, (0..10).map(|i| i * i).collect::<Vec<_>>());
    child.join().unwrap();
}

/// Python hangs here; we do not: a consumer blocked on an empty queue whose
/// only producer is SIGKILLed gets `PeerLost`.
#[test]
fn consumer_learns_its_only_producer_was_killed() {
    let _wd = common::watchdog("consumer_learns_its_only_producer_was_killed", WATCHDOG);
    let q = Queue::<u32>::new(4);
    let started = Queue::<()>::new(1);
    let producer = put_then_hang(q.clone(), 1).spawn().unwrap();
    let (rx, st) = (q.clone(), started.clone());
    let consumer = Process::new("consumer", move || {
        let first = rx.get();
        st.put(()).unwrap();
        let second = rx.get(); // blocks: nothing more will come
        (first, second)
    })
    .with(&(&q, &started))
    .spawn()
    .unwrap();
    started.get().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let it block
    producer.kill().unwrap();
    assert_eq!(consumer.join().unwrap(), (Ok(0), Err(QueueError::PeerLost)));
    let e = producer.join().unwrap_err();
    assert!(
        matches!(e.failures()[0].kind, FailureKind::Signaled { .. }),
        "{e}"
    );
    // Later gets learn it at once too.
    assert_eq!(q.get(), Err(QueueError::PeerLost));
    assert_eq!(q.get_nowait(), Err(QueueError::PeerLost));
    // A new producer makes the queue usable again.
    q.put(5).unwrap();
    assert_eq!(q.get(), Ok(5));
}

/// Puts `0..n`, then hangs until killed.
#[process]
fn put_then_hang(q: Queue<u32>, n: u32) {
    for i in 0..n {
        q.put(i).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3600));
}

#[test]
fn items_of_a_killed_producer_are_still_delivered() {
    let _wd = common::watchdog("items_of_a_killed_producer_are_still_delivered", WATCHDOG);
    let q = Queue::<u32>::new(8);
    let producer = put_then_hang(q.clone(), 3).spawn().unwrap();
    while q.qsize() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    producer.kill().unwrap();
    let _ = producer.join();
    assert_eq!((q.get(), q.get(), q.get()), (Ok(0), Ok(1), Ok(2)));
    assert_eq!(q.get(), Err(QueueError::PeerLost));
}

#[test]
fn producer_blocked_on_full_queue_learns_its_consumer_was_killed() {
    let _wd = common::watchdog(
        "producer_blocked_on_full_queue_learns_its_consumer_was_killed",
        WATCHDOG,
    );
    let q = Queue::<u32>::new(1);
    let rx = q.clone();
    let consumer = Process::new("consumer", move || {
        rx.get().unwrap();
        std::thread::sleep(Duration::from_secs(3600));
    })
    .with(&q)
    .spawn()
    .unwrap();
    let tx = q.clone();
    let producer = Process::new("producer", move || {
        let a = tx.put(1);
        let b = tx.put(2);
        let c = tx.put(3); // blocks: the queue is full and nobody gets
        (a, b, c)
    })
    .with(&q)
    .spawn()
    .unwrap();
    while !q.is_full() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    consumer.kill().unwrap();
    assert_eq!(
        producer.join().unwrap(),
        (Ok(()), Ok(()), Err(QueueError::PeerLost))
    );
    let _ = consumer.join();
}

/// Doubles tasks until the queue is closed, marking each done.
#[process]
fn doubling_worker(tasks: JoinableQueue<u64>, out: Queue<u64>) {
    while let Ok(n) = tasks.get() {
        std::thread::sleep(Duration::from_micros(200));
        out.put(n * 2).unwrap();
        tasks.task_done().unwrap();
    }
}

#[test]
fn joinable_queue_join_waits_for_every_task() {
    let _wd = common::watchdog("joinable_queue_join_waits_for_every_task", WATCHDOG);
    let q = JoinableQueue::<u64>::new(0);
    let done = Queue::<u64>::new(0);
    let workers: Vec<_> = (0..3)
        .map(|_| doubling_worker(q.clone(), done.clone()).spawn().unwrap())
        .collect();
    for i in 0..200 {
        q.put(i).unwrap();
    }
    q.join().unwrap();
    // Every task was done before join returned: all results are there.
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(done.qsize(), 200);
    let total: u64 = (0..200).map(|_| done.get().unwrap()).sum();
    assert_eq!(total, 2 * (0..200).sum::<u64>());
    q.close();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn joinable_queue_errors() {
    let _wd = common::watchdog("joinable_queue_errors", WATCHDOG);
    let q = JoinableQueue::<u8>::new(4);
    assert_eq!(q.task_done(), Err(QueueError::TaskDoneTooOften));
    q.join().unwrap(); // nothing unfinished
    q.put(1).unwrap();
    assert_eq!(
        q.join_timeout(Duration::from_millis(30)),
        Err(QueueError::Timeout)
    );
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(
        q.join_timeout(Duration::from_millis(30)),
        Err(QueueError::Timeout)
    );
    q.task_done().unwrap();
    q.join_timeout(Duration::from_millis(30)).unwrap();
    assert_eq!(q.task_done(), Err(QueueError::TaskDoneTooOften));
}

#[test]
fn join_learns_its_only_worker_was_killed() {
    let _wd = common::watchdog("join_learns_its_only_worker_was_killed", WATCHDOG);
    let q = JoinableQueue::<u8>::new(4);
    let rx = q.clone();
    let worker = Process::new("worker", move || {
        let _ = rx.get();
        std::thread::sleep(Duration::from_secs(3600)); // never task_done
    })
    .with(&q)
    .spawn()
    .unwrap();
    q.put(1).unwrap();
    while !q.is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    worker.kill().unwrap();
    assert_eq!(q.join(), Err(QueueError::PeerLost));
    let _ = worker.join();
}

#[test]
fn joinable_queue_travels_and_type_is_checked() {
    let _wd = common::watchdog("joinable_queue_travels_and_type_is_checked", WATCHDOG);
    let q = JoinableQueue::<u32>::new(4);
    let mail = Channel::<JoinableQueue<u32>>::buffered(1);
    mail.writer().write(q.clone()).unwrap();
    let back = mail.reader().read().unwrap();
    back.put(3).unwrap();
    assert_eq!(q.unfinished_tasks(), 1);
    assert_eq!(q.get(), Ok(3));
    back.task_done().unwrap();
    q.join().unwrap();
    // A plain queue is not a joinable one.
    let plain = Queue::<u32>::new(4);
    let s = serde_json::to_string(&plain).unwrap();
    assert!(serde_json::from_str::<JoinableQueue<u32>>(&s).is_err());
    // Nor a queue of another item type.
    let s = serde_json::to_string(&plain).unwrap();
    assert!(serde_json::from_str::<Queue<String>>(&s).is_err());
    let s = serde_json::to_string(&plain).unwrap();
    let same: Queue<u32> = serde_json::from_str(&s).unwrap();
    same.put(9).unwrap();
    assert_eq!(plain.get(), Ok(9));
}
