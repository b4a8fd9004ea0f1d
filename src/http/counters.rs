//! What this process asked of the network, counted by every [`super::HttpClient`] for
//! `--timings`: requests sent, body bytes received, how long at least one request was in
//! flight (the network was busy), and when the first answer's head arrived. Process-wide (a
//! command runs once per process), so the operations need not carry the counters up to the
//! command.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static BUSY: Mutex<Busy> = Mutex::new(Busy::new());

/// When requests were in flight.
#[derive(Debug)]
struct Busy {
    /// Requests sent whose answer is not all read (or given up).
    in_flight: usize,
    /// Since when `in_flight` has been above zero.
    since: Option<Instant>,
    /// The busy spans that ended.
    total: Duration,
    /// The first answer head to arrive.
    first_head: Option<Instant>,
}

impl Busy {
    const fn new() -> Busy {
        Busy {
            in_flight: 0,
            since: None,
            total: Duration::ZERO,
            first_head: None,
        }
    }

    fn start(&mut self, now: Instant) {
        if self.in_flight == 0 {
            self.since = Some(now);
        }
        self.in_flight += 1;
    }

    fn end(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0
            && let Some(since) = self.since.take()
        {
            self.total += now.saturating_duration_since(since);
        }
    }

    /// Busy time up to `now`, the span still open included.
    fn busy(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

fn busy() -> std::sync::MutexGuard<'static, Busy> {
    // A poisoned lock only means a thread panicked while counting: keep the counts.
    BUSY.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request in flight, from when it is sent until it is dropped (its body read, or the
/// attempt given up): the network is busy meanwhile.
#[derive(Debug)]
pub(crate) struct InFlight(());

/// A request was sent (each retry too).
pub(crate) fn sent() -> InFlight {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    busy().start(Instant::now());
    InFlight(())
}

impl InFlight {
    /// The head of its answer arrived.
    pub(crate) fn answered(&self) {
        busy().first_head.get_or_insert_with(Instant::now);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        busy().end(Instant::now());
    }
}

/// `n` bytes of a body arrived.
pub(crate) fn received(n: usize) {
    BYTES.fetch_add(n as u64, Ordering::Relaxed);
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub bytes: u64,
    /// How long requests were in flight so far.
    pub busy: Duration,
    /// When the first answer's head arrived, if one has.
    pub first_head: Option<Instant>,
}

/// The counters now.
pub fn now() -> Counters {
    let busy = busy();
    Counters {
        requests: REQUESTS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
        busy: busy.busy(Instant::now()),
        first_head: busy.first_head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_counts_overlapping_requests_once() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut b = Busy::new();
        b.start(at(0));
        b.start(at(5)); // overlaps the first
        b.end(at(10));
        assert_eq!(b.busy(at(12)), Duration::from_millis(12), "still open");
        b.end(at(20));
        b.start(at(50)); // idle from 20 to 50
        b.end(at(60));
        assert_eq!(b.busy(at(100)), Duration::from_millis(30));
        // An end without a start (cannot happen) does not underflow.
        b.end(at(70));
        assert_eq!(b.busy(at(100)), Duration::from_millis(30));
    }
}
