//! The only place with `libc`/`nix` calls. Everything above this module is
//! portable logic over the names exported here.

mod futex;
mod robust;

pub use futex::{futex_wait, futex_wake};
pub use robust::{LockState, RobustMutex};

use std::io;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Creates an anonymous shared memory file of `size` bytes and maps it
/// read-write, shared. Returns the base address.
pub fn map_shared_anonymous(size: usize) -> io::Result<*mut u8> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; both valid.
    let fd = unsafe { libc::memfd_create(c"csp-arena".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a valid memfd we own; ftruncate makes it sparse `size` bytes.
    if unsafe { libc::ftruncate(fd, size as libc::off_t) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: fd is ours and not used after this.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: mapping a valid fd of at least `size` bytes; the kernel picks the address.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            fd,
            0,
        )
    };
    // The mapping keeps the file alive; the descriptor is no longer needed, so
    // nothing (no fd, no /dev/shm name) outlives the last mapping.
    // SAFETY: fd is ours and not used after this.
    unsafe { libc::close(fd) };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// Gives the pages of `[ptr, ptr+len)` back to the kernel (they read as zero
/// afterwards). `ptr` must be page aligned; `len` is rounded down to pages.
pub fn release_pages(ptr: *mut u8, len: usize) {
    let len = len & !(page_size() - 1);
    if len == 0 {
        return;
    }
    // SAFETY: the range lies inside the shared arena mapping and the caller
    // owns it (freed block); MADV_REMOVE only punches a hole in the memfd.
    unsafe { libc::madvise(ptr.cast(), len, libc::MADV_REMOVE) };
}

pub fn page_size() -> usize {
    4096
}

pub fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// The result of `fork`.
#[derive(Debug)]
pub enum Forked {
    Child,
    Parent(i32),
}

/// Forks the calling process.
///
/// # Safety
/// In the child only the calling thread exists; the caller must only run
/// code that does not depend on locks held by other threads of the parent,
/// and must end the child with [`exit_now`].
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: forwarded to the caller's contract.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// The pid of this process's csp parent (0 in the root process).
static PARENT_PID: AtomicI32 = AtomicI32::new(0);
/// The signal the kernel sends a child when its parent *thread* exits (see
/// [`die_with_parent`]); 0 until [`prepare_for_children`] chose it.
static PARENT_DEATH_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The parent-death signal's handler: the kernel sends it when the thread
/// that forked us exits, which is not always the death of our parent
/// process (a thread of it may have spawned us and ended). Only if we now
/// belong to another process (the parent process is gone) do we die.
extern "C" fn on_parent_thread_exit(_sig: libc::c_int) {
    // SAFETY: getppid, getpid and kill through syscall(2) are
    // async-signal-safe and have no preconditions.
    unsafe {
        let parent = PARENT_PID.load(Relaxed);
        if parent != 0 && libc::syscall(libc::SYS_getppid) as i32 != parent {
            let me = libc::syscall(libc::SYS_getpid);
            libc::syscall(libc::SYS_kill, me, libc::SIGKILL);
        }
    }
}

/// Makes this (child) process die by SIGKILL when its parent process dies,
/// and exits at once if the parent is already gone.
///
/// `PR_SET_PDEATHSIG` fires when the parent *thread* exits, so a process
/// spawned from a short-lived thread would die with that thread. Instead
/// the kernel sends a real-time signal whose handler (installed by
/// [`prepare_for_children`], inherited through fork) kills the process
/// only if it was reparented away from its parent process. The signal is
/// `SIGRTMAX - 2`; user code in a process must leave it alone.
///
/// Child-side calls go through `syscall(2)`, which the parent has already
/// bound: a libc function called for the first time in a fresh child costs a
/// lazy symbol lookup and a copy-on-write fault of the GOT in *every* child.
pub fn die_with_parent(parent_pid: i32) {
    PARENT_PID.store(parent_pid, Relaxed);
    let sig = match PARENT_DEATH_SIGNAL.load(Relaxed) {
        0 => libc::SIGKILL,
        s => s,
    };
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal number.
    unsafe { libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) };
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::syscall(libc::SYS_getppid) } as i32 != parent_pid {
        exit_now(111);
    }
}

/// Prepares this process to spawn children: installs the parent-death
/// handler once (see [`die_with_parent`]), and binds, in the parent, the
/// libc entry points that children use, so that no child pays for lazy
/// binding.
pub fn prepare_for_children() {
    if PARENT_DEATH_SIGNAL.load(Relaxed) == 0 {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let sig = libc::SIGRTMAX() - 2;
            // SAFETY: a zeroed sigaction is valid; we fill in the handler,
            // an empty mask and SA_RESTART (interrupted calls resume).
            let ok = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_parent_thread_exit as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut()) == 0
            };
            // Without the handler, fall back to plain SIGKILL (dies with
            // the parent thread, never outlives the parent process).
            if ok {
                PARENT_DEATH_SIGNAL.store(sig, Relaxed);
            }
        });
    }
    // SAFETY: getppid through syscall(2): no preconditions, no effect.
    unsafe { libc::syscall(libc::SYS_getppid) };
}

/// Ends the process at once: no destructors, no atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: exit_group ends every thread of the process at once, like
    // _exit, and never returns.
    unsafe { libc::syscall(libc::SYS_exit_group, code) };
    // SAFETY: not reached; _exit as a fallback has no preconditions.
    unsafe { libc::_exit(code) }
}

/// How a child ended, from `waitpid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {} ({})", s, signal_name(s)),
        }
    }
}

/// The conventional name of a signal number (`SIGKILL`...).
pub fn signal_name(sig: i32) -> &'static str {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str(),
        Err(_) => "unknown signal",
    }
}

fn decode_status(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}

/// Waits for `pid` to end (blocking) and reaps it.
pub fn wait_pid(pid: i32) -> io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a child pid with a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(decode_status(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reaps `pid` if it has ended; `None` if it is still running.
pub fn try_wait_pid(pid: i32) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: waitpid on a child pid with a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match r {
        0 => Ok(None),
        r if r == pid => Ok(Some(decode_status(status))),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Waits up to `timeout` for `pid` to end, then reaps it. `None` on timeout.
pub fn wait_pid_timeout(pid: i32, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    // A century is forever here, and keeps `Instant + timeout` in range.
    let timeout = timeout.min(Duration::from_secs(100 * 365 * 86_400));
    // SAFETY: pidfd_open on a pid we have not reaped yet (it is our child).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        // Old kernel: fall back to polling.
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = try_wait_pid(pid)? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let deadline = Instant::now() + timeout;
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, if left.is_zero() { 0 } else { ms.max(1) }) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(e);
        }
        if r > 0 {
            break wait_pid(pid).map(Some);
        }
        if Instant::now() >= deadline {
            break Ok(None);
        }
    };
    // SAFETY: fd is the pidfd we opened.
    unsafe { libc::close(fd) };
    result
}

/// Sends `sig` to `pid`.
pub fn send_signal(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill with a pid and a valid signal number.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub const SIGKILL: i32 = libc::SIGKILL;
pub const SIGTERM: i32 = libc::SIGTERM;

/// Writes all of `buf` to a raw file descriptor, ignoring errors (used for
/// last-words reporting in a child that is about to exit).
pub fn write_fd_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: writing from a valid slice to a descriptor.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Yields the CPU to another runnable thread.
pub fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe { libc::sched_yield() };
}

/// Whether process `pid` has ended (exited or killed; reaped or still a
/// zombie), as any process of the tree can tell, not only its parent: its
/// `/proc` entry is gone or in state `Z`/`X`. Unknown (an unreadable entry
/// for another reason) counts as not ended.
pub fn process_ended(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => match stat.iter().rposition(|&b| b == b')') {
            Some(i) => matches!(stat.get(i + 2), Some(b'Z' | b'X')),
            None => false,
        },
        Err(e) => e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH),
    }
}
