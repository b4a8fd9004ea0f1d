//! Where a command's time went below its phases, for `--timings`: the time spent on each
//! kind of work ([`Work`]: waiting for the index, reading the cache, parsing, building,
//! hashing, inflating, writing), summed over the threads that did it.
//!
//! Process-wide, like [`crate::http::counters`] (a command runs once per process), and off
//! until [`enable`]d: measuring is a clock read on each side of a piece of work, which the
//! hot loops (inflating a wheel 64 KiB at a time) should not pay when nobody asked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A kind of work, as `--timings` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// The resolver blocked on a page or a wheel's metadata that was not there yet.
    Waiting,
    /// After resolving from cached pages, waiting for the index to say they are current.
    Revalidating,
    /// Reading pages, metadata and facts from the cache.
    ReadingCache,
    /// Parsing index pages and metadata (and decoding the cache's compact pages).
    Parsing,
    /// Running build backends (metadata or wheels from source).
    Building,
    /// sha256 of downloads and of the files a wheel's RECORD lists.
    Hashing,
    /// Inflating wheel entries.
    Inflating,
    /// Creating and writing files: downloads and unpacked wheels.
    Writing,
}

impl Work {
    /// Every kind, in the order `--timings` lists them.
    pub const ALL: [Work; 8] = [
        Work::Waiting,
        Work::Revalidating,
        Work::ReadingCache,
        Work::Parsing,
        Work::Building,
        Work::Hashing,
        Work::Inflating,
        Work::Writing,
    ];

    /// What `--timings` calls it.
    pub fn label(self) -> &'static str {
        match self {
            Work::Waiting => "the resolver waiting for pages and metadata",
            Work::Revalidating => "waiting for the index to confirm the cached pages",
            Work::ReadingCache => "reading the cache",
            Work::Parsing => "parsing pages and metadata",
            Work::Building => "building from source",
            Work::Hashing => "hashing (downloads, and the files their RECORDs list)",
            Work::Inflating => "inflating wheels",
            Work::Writing => "creating and writing files",
        }
    }
}

/// The switch and the totals. One per process ([`METER`]); tests make their own.
struct Meter {
    on: AtomicBool,
    nanos: [AtomicU64; Work::ALL.len()],
}

static METER: Meter = Meter::new();

impl Meter {
    const fn new() -> Meter {
        Meter {
            on: AtomicBool::new(false),
            nanos: [const { AtomicU64::new(0) }; Work::ALL.len()],
        }
    }

    fn add(&self, work: Work, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[work as usize].fetch_add(nanos, Ordering::Relaxed);
    }

    fn timer(&self, work: Work) -> Option<Timer<'_>> {
        self.on.load(Ordering::Relaxed).then(|| Timer {
            meter: self,
            work,
            started: Instant::now(),
        })
    }

    fn now(&self) -> Spent {
        Spent(std::array::from_fn(|i| {
            self.nanos[i].load(Ordering::Relaxed)
        }))
    }
}

/// Start measuring (`--timings` asked for it).
pub fn enable() {
    METER.on.store(true, Ordering::Relaxed);
}

/// Add `spent` to `work` (already measured: counted whether measuring or not).
pub fn add(work: Work, spent: Duration) {
    METER.add(work, spent);
}

/// Run `f`, counting its time as `work` when measuring.
pub fn time<T>(work: Work, f: impl FnOnce() -> T) -> T {
    let _timer = timer(work);
    f()
}

/// A timer counting as `work` until dropped (across `.await`s too); `None` when not
/// measuring.
pub fn timer(work: Work) -> Option<Timer<'static>> {
    METER.timer(work)
}

/// See [`timer`].
pub struct Timer<'a> {
    meter: &'a Meter,
    work: Work,
    started: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.meter.add(self.work, self.started.elapsed());
    }
}

/// The time spent on each kind of work so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent([u64; Work::ALL.len()]);

impl Spent {
    /// What was spent since `earlier`, on each kind that took any time, in [`Work::ALL`]'s
    /// order.
    pub fn since(&self, earlier: &Spent) -> Vec<(Work, Duration)> {
        Work::ALL
            .iter()
            .map(|w| {
                let i = *w as usize;
                (
                    *w,
                    Duration::from_nanos(self.0[i].saturating_sub(earlier.0[i])),
                )
            })
            .filter(|(_, d)| !d.is_zero())
            .collect()
    }
}

/// The totals now.
pub fn now() -> Spent {
    METER.now()
}

/// The CPU time this process used so far, user and system (`None` where not known).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn cpu() -> Option<(Duration, Duration)> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given, and only reads `RUSAGE_SELF`.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let of = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).ok()?)
            .checked_add(Duration::from_micros(u64::try_from(t.tv_usec).ok()?))
    };
    Some((of(usage.ru_utime)?, of(usage.ru_stime)?))
}

/// The CPU time this process used so far (not known on this platform).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn cpu() -> Option<(Duration, Duration)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn cpu_time_grows_with_work() {
        let (user, _) = cpu().expect("getrusage works here");
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (after, _) = cpu().expect("getrusage works here");
        assert!(after > user, "{user:?} then {after:?}");
    }

    #[test]
    fn nothing_is_timed_until_enabled() {
        let meter = Meter::new();
        assert!(meter.timer(Work::Inflating).is_none());
        assert_eq!(meter.now(), Spent::default());
    }

    #[test]
    fn work_is_reported_by_kind_in_order() {
        let meter = Meter::new();
        meter.on.store(true, Ordering::Relaxed);
        let before = meter.now();
        {
            let _t = meter.timer(Work::Hashing);
            std::thread::sleep(Duration::from_millis(3));
        }
        {
            let _t = meter.timer(Work::Building);
            std::thread::sleep(Duration::from_millis(2));
        }
        meter.add(Work::Writing, Duration::from_millis(5));
        meter.add(Work::Writing, Duration::from_millis(1));
        let spent = meter.now().since(&before);
        let kinds: Vec<Work> = spent.iter().map(|(w, _)| *w).collect();
        assert_eq!(kinds, [Work::Building, Work::Hashing, Work::Writing]);
        assert!(spent[0].1 >= Duration::from_millis(2), "{spent:?}");
        assert!(spent[1].1 >= Duration::from_millis(3), "{spent:?}");
        assert_eq!(spent[2].1, Duration::from_millis(6));
        assert_eq!(meter.now().since(&meter.now()), Vec::new());
    }
}
