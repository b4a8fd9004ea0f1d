//! What this process asked of the network: requests sent and body bytes received, counted
//! by every [`super::HttpClient`] for `--timings`. Process-wide (a command runs once per
//! process), so the operations need not carry the counters up to the command.

use std::sync::atomic::{AtomicU64, Ordering};

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// A request was sent (each retry too).
pub(crate) fn request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// `n` bytes of a body arrived.
pub(crate) fn received(n: usize) {
    BYTES.fetch_add(n as u64, Ordering::Relaxed);
}

/// Requests sent and body bytes received so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub bytes: u64,
}

/// The counters now.
pub fn now() -> Counters {
    Counters {
        requests: REQUESTS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}
