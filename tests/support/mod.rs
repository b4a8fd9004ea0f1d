//! Test support shared by the integration test crates: the scenario model ([`scenario`]),
//! the wheel and sdist generator ([`wheelgen`]) and the local package index server
//! ([`server`]), and the local PyTorch mirror under `fixtures/` ([`mirror`]). Include it
//! with `mod support;` (from `tests/<name>.rs`) or
//! `#[path = "../support/mod.rs"] mod support;` (from `tests/<dir>/main.rs`).
//!
//! ```ignore
//! use support::{Scenario, TestIndex, VersionSpec};
//! let index = TestIndex::start(
//!     Scenario::new("tiny")
//!         .root(["a"])
//!         .version("a", "1.0.0", VersionSpec::new().requires(["b>=1"]))
//!         .versions("b", &["1.0.0", "2.0.0"]),
//! );
//! // run `sanctuary lock --index-url {index.index_url()}` ...
//! assert!(index.requests_to("/files/").is_empty());
//! ```
#![allow(dead_code, unused_imports)]

pub mod mirror;
pub mod scenario;
pub mod server;
pub mod wheelgen;

pub use scenario::{Fault, Format, Scenario, ServerOptions, VersionSpec, Yanked};
pub use server::{RequestRecord, ServedFile, TestIndex};
