//! The command line: clap definitions parsed into checked settings, and the one place where
//! errors become exit codes.

use std::process::ExitCode;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
