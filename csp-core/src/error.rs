//! Error types: one per kind of operation, small and matchable.

use crate::shm::ArenaError;
use std::fmt;

/// Why a process failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The process panicked; the panic message.
    Panicked(String),
    /// The process was killed by a signal.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Its name (`SIGKILL`...).
        name: &'static str,
    },
    /// The process exited without reporting a result (with this code; 0 if
    /// the body called `std::process::exit(0)`).
    Exited(i32),
    /// The process finished but its return value could not be carried back.
    Result(String),
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Panicked(m) => write!(f, "panicked: {m}"),
            FailureKind::Signaled { signal, name } => {
                write!(f, "was killed by signal {signal} ({name})")
            }
            FailureKind::Exited(c) => write!(f, "exited with code {c}"),
            FailureKind::Result(m) => write!(f, "could not return its value: {m}"),
        }
    }
}

/// One process that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The process's name (its function's name unless set).
    pub name: String,
    /// Its OS process id.
    pub pid: i32,
    /// What went wrong.
    pub kind: FailureKind,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "process `{}` (pid {}) {}",
            self.name, self.pid, self.kind
        )
    }
}

/// The error of running processes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more processes failed; every one is listed.
    #[error("{}", failed_list(.0))]
    Failed(Vec<Failure>),
    /// A process could not be started.
    #[error("could not start process `{name}`: {source}")]
    Spawn {
        /// The process's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The shared arena could not be set up or is full.
    #[error(transparent)]
    Arena(#[from] ArenaError),
    /// `join_timeout` ran out; the process is still running.
    #[error("process `{name}` (pid {pid}) is still running after the timeout")]
    Timeout {
        /// The process's name.
        name: String,
        /// Its OS process id.
        pid: i32,
    },
    /// The process was already joined.
    #[error("process `{0}` was already joined")]
    AlreadyJoined(String),
    /// Waiting for the process failed at the OS level.
    #[error("waiting for process `{name}` failed: {source}")]
    Wait {
        /// The process's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn failed_list(v: &[Failure]) -> String {
    let parts: Vec<String> = v.iter().map(|f| f.to_string()).collect();
    if v.len() == 1 {
        parts[0].clone()
    } else {
        format!("{} processes failed: {}", v.len(), parts.join("; "))
    }
}

impl Error {
    /// The failed processes, if this error is about failed processes.
    pub fn failures(&self) -> &[Failure] {
        match self {
            Error::Failed(v) => v,
            _ => &[],
        }
    }

    /// Merges several errors into one, keeping every failure.
    pub(crate) fn merge(errors: Vec<Error>) -> Option<Error> {
        if errors.is_empty() {
            return None;
        }
        if errors.iter().all(|e| matches!(e, Error::Failed(_))) {
            let mut all = Vec::new();
            for e in errors {
                if let Error::Failed(v) = e {
                    all.extend(v);
                }
            }
            return Some(Error::Failed(all));
        }
        // Report the first non-process error; it is the most actionable.
        errors.into_iter().find(|e| !matches!(e, Error::Failed(_)))
    }
}

/// The error of a channel operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Every end on the other side has retired (and, for readers, nothing
    /// is left buffered).
    #[error("the channel is retired: every end on the other side has retired")]
    Retired,
    /// The channel was poisoned.
    #[error("the channel is poisoned")]
    Poisoned,
    /// Every process that could complete the operation died.
    #[error("every peer that could complete this operation has died")]
    PeerLost,
    /// The timeout ran out.
    #[error("the operation timed out")]
    Timeout,
    /// A `try_` operation could not complete at once.
    #[error("the operation would block")]
    WouldBlock,
    /// The value could not be encoded; the channel is unchanged.
    #[error("could not encode the message: {0}")]
    Encode(String),
    /// A message could not be decoded into the reader's type.
    #[error("could not decode the message: {0}")]
    Decode(String),
    /// The shared arena had no room for the message.
    #[error(transparent)]
    Arena(#[from] ArenaError),
}

/// A failed `try_write`/`write_timeout`: the error and the value handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError<T> {
    /// Why it failed.
    pub error: ChannelError,
    /// The value that was not sent.
    pub value: T,
}

impl<T> WriteError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for WriteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: fmt::Debug> std::error::Error for WriteError<T> {}

impl<T> From<WriteError<T>> for ChannelError {
    fn from(e: WriteError<T>) -> Self {
        e.error
    }
}
