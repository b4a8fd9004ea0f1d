//! Helpers shared by unit tests.

use std::path::Path;
use std::process::Command;

/// Write an executable script. A child process writes it: a file this (multi-threaded) test
/// process held open for writing could be inherited by a child forked meanwhile by another
/// test, and executing it would then fail with "text file busy" (ETXTBSY).
pub fn write_script(path: &Path, body: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"printf '%s' "$1" > "$2" && chmod 755 "$2""#)
        .arg("sh")
        .arg(body)
        .arg(path)
        .status()
        .expect("run sh");
    assert!(status.success(), "cannot write {}", path.display());
}
