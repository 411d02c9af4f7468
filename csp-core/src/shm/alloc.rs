//! The arena allocator: power-of-two size classes up to 1 MiB kept on free
//! lists, page-granular large blocks above that (best fit, their pages given
//! back to the kernel on free), a bump pointer for fresh memory. One robust
//! lock guards it; allocations are rare on hot paths (small messages live
//! inline in channel slots).

use super::{ArenaError, mapped};
use crate::sys;
use std::sync::atomic::{AtomicU64, Ordering::*};

pub(crate) const SMALL_CLASSES: usize = 15; // 64 B .. 1 MiB
const MIN_CLASS: u64 = 64;
const HDR: u64 = 64; // block header; keeps payloads 64-byte aligned
const PAGE: u64 = 4096;
const LARGE_MAGIC: u64 = 0x4c41_5247; // "LARG"

#[repr(C)]
struct BlockHeader {
    /// Total bytes of the block, header included.
    cap: AtomicU64,
    /// Free-list link (offset of the next free block's header) while free.
    next: AtomicU64,
    magic: AtomicU64,
}

/// An allocation: `off` is the payload's arena offset, `len` its usable size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub off: u64,
    pub len: u64,
}

fn class_of(total: u64) -> Option<usize> {
    let size = total.max(MIN_CLASS).next_power_of_two();
    let c = (size.trailing_zeros() - MIN_CLASS.trailing_zeros()) as usize;
    (c < SMALL_CLASSES).then_some(c)
}

struct Locked;

fn lock() -> Locked {
    // An allocator whose previous lock holder died may hold a half-done list
    // operation; each operation writes the list head last, so the lists stay
    // walkable. At worst a block leaks.
    mapped().header().alloc_lock.lock();
    Locked
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: created only by `lock()`, on this thread.
        unsafe { mapped().header().alloc_lock.unlock() };
    }
}

fn hdr(off: u64) -> &'static BlockHeader {
    // SAFETY: `off` is the header offset of a block carved by this allocator.
    unsafe { mapped().at::<BlockHeader>(off) }
}

fn bump(total: u64, align: u64) -> Result<u64, ArenaError> {
    let a = mapped();
    let h = a.header();
    let mut cur = h.bump.load(Relaxed);
    loop {
        let start = cur.div_ceil(align) * align;
        let end = start
            .checked_add(total)
            .ok_or(ArenaError::Exhausted(total))?;
        if end > a.size() {
            return Err(ArenaError::Exhausted(total));
        }
        match h.bump.compare_exchange(cur, end, Relaxed, Relaxed) {
            Ok(_) => return Ok(start),
            Err(v) => cur = v,
        }
    }
}

/// Allocates at least `len` bytes, 64-byte aligned. Contents are unspecified.
pub fn alloc(len: u64) -> Result<Block, ArenaError> {
    let total = len.checked_add(HDR).ok_or(ArenaError::Exhausted(len))?;
    let a = mapped();
    let h = a.header();
    let block_off = if let Some(c) = class_of(total) {
        let size = MIN_CLASS << c;
        let _g = lock();
        let head = h.free_small[c].load(Relaxed);
        let off = if head != 0 {
            h.free_small[c].store(hdr(head).next.load(Relaxed), Relaxed);
            head
        } else {
            bump(size, 64)?
        };
        let b = hdr(off);
        b.cap.store(size, Relaxed);
        b.magic.store(c as u64, Relaxed);
        off
    } else {
        let size = total.div_ceil(PAGE) * PAGE;
        let _g = lock();
        // Best fit among free large blocks.
        let mut prev: Option<u64> = None;
        let mut cur = h.free_large.load(Relaxed);
        let mut best: Option<(Option<u64>, u64, u64)> = None;
        while cur != 0 {
            let cap = hdr(cur).cap.load(Relaxed);
            if cap >= size && best.is_none_or(|(_, _, bc)| cap < bc) {
                best = Some((prev, cur, cap));
            }
            prev = Some(cur);
            cur = hdr(cur).next.load(Relaxed);
        }
        let off = if let Some((prev, off, _)) = best {
            let next = hdr(off).next.load(Relaxed);
            match prev {
                Some(p) => hdr(p).next.store(next, Relaxed),
                None => h.free_large.store(next, Relaxed),
            }
            off
        } else {
            let off = bump(size, PAGE)?;
            hdr(off).cap.store(size, Relaxed);
            off
        };
        hdr(off).magic.store(LARGE_MAGIC, Relaxed);
        off
    };
    let cap = hdr(block_off).cap.load(Relaxed);
    h.in_use.fetch_add(cap, Relaxed);
    Ok(Block {
        off: block_off + HDR,
        len: cap - HDR,
    })
}

/// Frees a block returned by [`alloc`].
pub fn free(off: u64) {
    let a = mapped();
    let h = a.header();
    let block_off = off - HDR;
    let b = hdr(block_off);
    let cap = b.cap.load(Relaxed);
    h.in_use.fetch_sub(cap, Relaxed);
    if b.magic.load(Relaxed) == LARGE_MAGIC {
        // Give the pages (all but the header page) back to the kernel.
        sys::release_pages(a.ptr(block_off + PAGE), (cap - PAGE) as usize);
        let _g = lock();
        b.next.store(h.free_large.load(Relaxed), Relaxed);
        h.free_large.store(block_off, Relaxed);
    } else {
        let c = class_of(cap).expect("csp: corrupt arena block header");
        let _g = lock();
        b.next.store(h.free_small[c].load(Relaxed), Relaxed);
        h.free_small[c].store(block_off, Relaxed);
    }
}
