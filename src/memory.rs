//! The process's dealings with its memory allocator: tuning glibc's at start, handing freed
//! heap memory back to the operating system between pieces of long work (elsewhere, on musl,
//! macOS and Windows, both do nothing), and freeing a large structure off the thread that
//! finishes a command.

/// glibc serves a freed large block's size from its heaps from then on (the mmap threshold
/// rises to it, up to 32 MiB), so the buffers of simple pages, megabytes each, fragment the
/// heaps of every thread that parsed one and stay resident. A fixed threshold maps each such
/// buffer on its own and returns it when freed. Regression: a cold lock of the standard set
/// peaked at 115 MiB resident for a 60 MiB heap; under 90 MiB with it.
///
/// glibc also gives each thread that allocates an arena of its own, up to eight per core, and
/// each keeps what was freed in it: a cold sync spreads downloads, unpacking and linking over
/// the runtime's workers, the blocking pool and rayon's threads, and peaked at 170 MiB
/// resident for a 34 MiB heap. One arena per core is as many as can run at once.
///
/// Call it first thing in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a parameter of the allocator, and runs (see above) before
    // any other thread exists; a value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

/// Hand the free pages inside glibc's heaps back to the operating system.
///
/// glibc returns memory only from the top of a heap; what is freed below stays resident
/// until reused, and the holes that unpacking wheels leave (tens of KiB each, between
/// longer-lived allocations) mostly are not. A cold sync of the standard set, with 5 to
/// 30 MiB in use at any time, grew its heaps to 70-120 MiB resident. Called after every few
/// MiB of wheels unpacked, `malloc_trim` took its peak to 55-65 MiB at no measurable CPU
/// cost (it walks the free lists and advises the kernel of whole free pages).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() {
    // SAFETY: `malloc_trim` takes the allocator's own locks and only releases pages that
    // hold no allocation; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}

/// Drop `value` on a thread of its own, so that the caller need not wait for it to be freed;
/// where no thread can be started, here. For what holds only memory and is done with as a
/// command ends: the process may exit before the thread is through, which loses nothing.
///
/// Regression: a warm lock of the standard set spent 5-9 ms of its ~190 ms, after the
/// lockfile was written, freeing the pages and metadata its index set had read.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    // Where no thread can be started, `spawn` drops the closure, and `value` with it, here.
    let _ = std::thread::Builder::new()
        .name("sanctuary-drop".into())
        .spawn(move || drop(value));
}
