use csp_core::*;
use std::time::Duration;

#[test]
fn producer_consumer() {
    let ch = Channel::<u64>::new();
    let w = ch.writer();
    let r = ch.reader();
    let wt = __private::Transfer::new();
    let _ = wt;
    let mut p_t = __private::Transfer::new();
    channel::collect(&mut p_t, &w);
    let mut c_t = __private::Transfer::new();
    channel::collect(&mut c_t, &r);
    let p = Process::__from_parts("producer", p_t, move || {
        for i in 0..1000u64 {
            w.write(i).unwrap();
        }
        w.retire();
    });
    let c = Process::__from_parts("consumer", c_t, move || r.iter().sum::<u64>());
    let ((), total) = __private::Processes::run_parallel((p, c)).unwrap();
    assert_eq!(total, 499_500);
}

#[test]
fn panic_reported() {
    let e = Process::new("boom", || -> u32 { panic!("kaboom") })
        .run()
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("boom") && s.contains("kaboom"), "{s}");
}

#[test]
fn timeout_read() {
    let ch = Channel::<u64>::buffered(4);
    let r = ch.reader();
    let _w = ch.writer();
    assert_eq!(
        r.read_timeout(Duration::from_millis(50)),
        Err(ChannelError::Timeout)
    );
}

fn mpmc(cap: usize, writers: u64, readers: usize, per: u64) {
    let ch = Channel::<u64>::buffered(cap);
    let mut procs = Vec::new();
    for w in 0..writers {
        let wr = ch.writer();
        let mut t = __private::Transfer::new();
        channel::collect(&mut t, &wr);
        procs.push(Process::__from_parts("w", t, move || {
            for i in 0..per {
                wr.write(w * per + i).unwrap();
            }
            Vec::<u64>::new()
        }));
    }
    for _ in 0..readers {
        let r = ch.reader();
        let mut t = __private::Transfer::new();
        channel::collect(&mut t, &r);
        procs.push(Process::__from_parts("r", t, move || {
            r.iter().collect::<Vec<u64>>()
        }));
    }
    let out = parallel(procs).unwrap();
    let mut all: Vec<u64> = out.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all.len() as u64, writers * per);
    for (i, v) in all.iter().enumerate() {
        assert_eq!(*v, i as u64);
    }
}

#[test]
fn mpmc_small_ring() {
    mpmc(4, 4, 4, 25_000);
}

#[test]
fn mpmc_cap1() {
    mpmc(1, 3, 3, 5_000);
}

#[test]
fn mpmc_rendezvous() {
    mpmc(0, 3, 3, 5_000);
}
