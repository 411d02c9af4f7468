//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Aborts the whole test binary (so CI fails loudly instead of hanging) if
/// the guard is still alive after `limit`. Never asserts a run time: the
/// limit is a hang detector, set far above any normal run.
pub struct Watchdog {
    done: Arc<AtomicBool>,
}

pub fn watchdog(name: &'static str, limit: Duration) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if d.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("watchdog: test `{name}` still running after {limit:?}: aborting (hang)");
        std::process::abort();
    });
    Watchdog { done }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
    }
}

/// Eight words of memory shared with the children forked after `new`.
#[derive(Clone, Copy)]
pub struct Words(usize);

impl Words {
    pub fn new() -> Self {
        // SAFETY: an anonymous shared mapping of one page, never unmapped.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        Words(p as usize)
    }

    pub fn at(self, i: usize) -> &'static AtomicU64 {
        assert!(i < 8);
        // SAFETY: the page stays mapped for the life of the process (and of
        // its forked children); zeroed memory is a valid, aligned AtomicU64.
        unsafe { &*((self.0 as *const AtomicU64).add(i)) }
    }
}
