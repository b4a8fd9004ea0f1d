//! The operations the commands share (cargo's `ops`, uv's project operations): typed
//! functions over the lower layers that print nothing and return values and typed errors.
//! Commands call them and decide what to print and which exit status to give; they never
//! call one another.
//!
//! - [`lockfiles`]: the project's lockfile set (names, selection per layer and key, staleness,
//!   all-or-nothing writing).
//! - [`environments`]: which declared environment a command installs or reads, and the
//!   lockfiles seen from it (a universal lock's markers evaluated).
//! - [`indexes`]: the declared indexes as the client needs them, and as the origins a
//!   lockfile's artifacts may come from.
//! - [`layers`] and [`locking`]: locking, per key the Foundation, then the Application
//!   against it.
//! - [`syncing`]: the key, the desired environment, and a sync through `install`.
//! - [`examine`]: an environment against the lockfiles, with the comparison `sync` plans with.

pub mod building;
pub mod environments;
pub mod examine;
pub mod git;
pub mod indexes;
pub mod layers;
pub mod local;
pub mod lockfiles;
pub mod locking;
pub mod syncing;
pub mod universal;
