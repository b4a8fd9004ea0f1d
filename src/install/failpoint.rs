//! Test hook: stop the process at a named point of a sync, so that tests can SIGKILL it
//! there and check that the next sync repairs the environment.
//!
//! `SANCTUARY_FAILPOINT=<name>:<n>` makes the `n`-th arrival (1-based) at [`hit`]`(<name>)`
//! print `failpoint <name> reached` on stderr and then wait forever for the signal. Unset
//! (always, outside tests), [`hit`] costs one relaxed atomic load after the first call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static COUNT: AtomicU64 = AtomicU64::new(0);

/// Mark the point `name`; see the module documentation.
pub fn hit(name: &str) {
    let armed = ARMED.get_or_init(|| {
        let value = std::env::var("SANCTUARY_FAILPOINT").ok()?;
        let (point, n) = value.rsplit_once(':').unwrap_or((value.as_str(), "1"));
        Some((point.to_string(), n.parse().unwrap_or(1)))
    });
    let Some((point, n)) = armed else { return };
    if point != name {
        return;
    }
    if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
