//! The arena: one shared mapping per process tree, and its allocator.
//!
//! The first process that needs it maps an anonymous shared memory file
//! (`memfd_create` + `mmap(MAP_SHARED)`), large and sparse. Every process
//! forked afterwards inherits the mapping at the same address, so an arena
//! offset means the same thing in every process of the tree. See
//! `README.md` beside this file for the layout.

mod alloc;

pub use alloc::{Block, alloc, free};

use crate::sys;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// Arena errors.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ArenaError {
    /// The arena has no room for an allocation of this many bytes.
    #[error(
        "the shared arena is exhausted (asked for {0} bytes); set CSP_ARENA_SIZE to a larger size"
    )]
    Exhausted(u64),
    /// The arena could not be mapped.
    #[error("could not map the shared arena: {0}")]
    Map(String),
}

/// Default virtual size: pages cost memory only once touched.
const DEFAULT_SIZE: u64 = 32 << 30;
/// Where the process table starts.
pub(crate) const PROC_TABLE_OFF: u64 = 4096;
/// Where the heap starts.
pub(crate) const HEAP_OFF: u64 = 2 << 20;

/// The arena header at offset 0.
#[repr(C)]
pub(crate) struct Header {
    pub magic: AtomicU64,
    pub size: AtomicU64,
    pub alloc_lock: sys::RobustMutex,
    pub bump: AtomicU64,
    pub free_small: [AtomicU64; alloc::SMALL_CLASSES],
    pub free_large: AtomicU64,
    /// One past the highest process record ever used.
    pub procs_hwm: AtomicU32,
    /// Bytes currently handed out (for leak checks and stats).
    pub in_use: AtomicU64,
    /// Next channel generation.
    pub next_gen: AtomicU64,
}

const MAGIC: u64 = 0x4353_5041_5245_4e41; // "CSPARENA"

/// The mapped arena.
#[derive(Debug, Clone, Copy)]
pub struct Arena {
    base: *mut u8,
    size: u64,
}

// SAFETY: the arena is plain shared memory; all access to it goes through
// atomics or through structures protected by arena locks.
unsafe impl Send for Arena {}
// SAFETY: as above.
unsafe impl Sync for Arena {}

static ARENA: OnceLock<Result<Arena, ArenaError>> = OnceLock::new();

fn configured_size() -> u64 {
    let Ok(s) = std::env::var("CSP_ARENA_SIZE") else {
        return DEFAULT_SIZE;
    };
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('G' | 'g') => (&s[..s.len() - 1], 1u64 << 30),
        Some('M' | 'm') => (&s[..s.len() - 1], 1u64 << 20),
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .unwrap_or(DEFAULT_SIZE)
        .max(HEAP_OFF * 2)
}

/// The arena of this process tree, mapping it on first use.
pub fn arena() -> Result<Arena, ArenaError> {
    ARENA
        .get_or_init(|| {
            let size = configured_size();
            let base = sys::map_shared_anonymous(size as usize)
                .map_err(|e| ArenaError::Map(e.to_string()))?;
            let a = Arena { base, size };
            // SAFETY: the mapping is fresh (all zero), private to this
            // process until the first fork, and large enough for the header.
            unsafe {
                let h = base as *mut Header;
                sys::RobustMutex::init(&raw mut (*h).alloc_lock);
                (*h).size = AtomicU64::new(size);
                (*h).bump = AtomicU64::new(HEAP_OFF);
                (*h).next_gen = AtomicU64::new(1);
                (*h).magic = AtomicU64::new(MAGIC);
            }
            crate::process::record::init_root(a);
            Ok(a)
        })
        .clone()
}

/// The arena, which must already be mapped (any object holding an arena
/// offset proves that it is).
pub(crate) fn mapped() -> Arena {
    match ARENA.get() {
        Some(Ok(a)) => *a,
        _ => panic!("csp: arena used before it was mapped"),
    }
}

impl Arena {
    pub(crate) fn header(&self) -> &'static Header {
        // SAFETY: the header was initialised in `arena()` and lives for the
        // whole life of the mapping, which is never unmapped.
        unsafe { &*(self.base as *const Header) }
    }

    /// The address of `off`.
    pub fn ptr(&self, off: u64) -> *mut u8 {
        debug_assert!(off < self.size);
        // SAFETY: `off` is inside the mapping (callers hold valid offsets).
        unsafe { self.base.add(off as usize) }
    }

    /// Total virtual size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes currently allocated.
    pub fn in_use(&self) -> u64 {
        self.header()
            .in_use
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A reference to a `T` at `off`.
    ///
    /// # Safety
    /// `off` must hold an initialised `T`, suitably aligned, that stays
    /// allocated for `'static` use by the caller's protocol.
    pub unsafe fn at<T>(&self, off: u64) -> &'static T {
        // SAFETY: forwarded to the caller.
        unsafe { &*(self.ptr(off) as *const T) }
    }

    pub(crate) fn next_generation(&self) -> u64 {
        self.header()
            .next_gen
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}
