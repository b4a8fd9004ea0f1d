//! The commands: each takes its checked settings ([`crate::settings`]), calls the
//! operations ([`crate::ops`]), prints through a [`crate::printer::Printer`] and returns an
//! exit status. They never import one another, nor the command line module.

pub mod detect;
pub mod diff;
pub mod doctor;
pub mod export;
pub mod init;
pub mod lock;
pub mod sync;
pub mod tree;
