//! Integration tests: the `sanctuary` binary against the project's local package index server
//! (`tests/support`), offline. One test binary with modules, to keep link time down.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod credentials;
mod doctor;
mod errors;
mod export;
mod first_minutes;
mod forge;
mod foundation;
mod indexes;
mod local_projects;
mod lock;
mod network;
mod rules;
mod sdists;
mod sync;
mod sync_wheels;
mod timings;
mod tree;
mod universal;
mod universal_sync;
