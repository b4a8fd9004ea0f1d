//! sanctuary: locks and installs Python environments for ML teams.
//!
//! The modules follow the data: [`manifest`] (what the user asked for) -> [`target`] and
//! [`wheel`] (what can run where, pure) -> [`index`] (pages and metadata, over [`http`] and
//! the [`cache`]) -> [`resolve`] (PubGrub) -> [`pylock`] (PEP 751 files) -> [`ops`] (the operations) -> [`commands`]. See
//! `ARCHITECTURE.md`.

pub mod build;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod environment;
pub mod error;
pub mod fs;
pub mod hardware;
pub mod http;
pub mod index;
pub mod install;
pub mod manifest;
pub mod memory;
pub mod ops;
pub mod printer;
pub mod process;
pub mod pylock;
pub mod requirement;
pub mod resolve;
pub mod sdist;
pub mod settings;
pub mod spent;
pub mod target;
pub mod universe;
pub mod wheel;

pub use pep440_rs::{Version, VersionSpecifiers};
pub use pep508_rs::{ExtraName, PackageName, Requirement};

#[cfg(test)]
mod test_util;
