//! The `sanctuary` binary: parse the command line, run, turn errors into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    sanctuary::cli::main()
}

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
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a parameter of the allocator, and runs here before any
    // other thread exists; a value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
