//! Test support shared by the integration test crates: the scenario model ([`scenario`]),
//! the wheel and sdist generator ([`wheelgen`]), buildable sdists with the in-tree PEP 517
//! test backend ([`sdistgen`]), local projects and git repositories built the same way
//! ([`project`]), hostile sdists ([`hostile`]) and the tar writer they share ([`tarball`]),
//! the local package index server ([`server`]), and the local PyTorch mirror under
//! `fixtures/` ([`mirror`]). Include it
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

pub mod hostile;
pub mod mirror;
pub mod project;
pub mod scenario;
pub mod sdistgen;
pub mod server;
pub mod tarball;
pub mod wheelgen;

pub use scenario::{
    BuildSpec, Fault, Format, MetadataMode, Scenario, SdistPkgInfo, ServerOptions, VersionSpec,
    Yanked,
};
pub use server::{RequestRecord, ServedFile, TestIndex};
