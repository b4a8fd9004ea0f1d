//! The commands: each takes checked settings and does its work.

pub mod detect;
pub mod diff;
pub mod doctor;
pub mod export;
pub mod lock;
pub mod sync;
pub mod tree;
