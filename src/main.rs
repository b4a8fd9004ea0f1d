//! The `sanctuary` binary: parse the command line, run, turn errors into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    sanctuary::memory::tune_allocator();
    sanctuary::cli::main()
}
