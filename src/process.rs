//! Waiting for a child process with a time limit: std has no timed wait, so the child's
//! stdout and stderr are read on threads (a chatty child never blocks on a full pipe), the
//! end of its stdout (normally its exit) is awaited with a timeout, and then it is polled.
//! Used for the helpers sanctuary runs and must not hang on: `nvidia-smi`, the interpreter
//! query.

use std::io::Read;
use std::process::{Child, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Wait for `child` (spawned with piped stdout and stderr) to exit and collect its output,
/// or kill it once `timeout` has passed (`Ok(None)`). `Err` only when it cannot be waited
/// for.
pub fn wait_with_output_within(
    mut child: Child,
    timeout: Duration,
) -> std::io::Result<Option<Output>> {
    let deadline = Instant::now() + timeout;
    let (closed, stdout_closed) = mpsc::channel::<()>();
    let reader = |pipe: Option<Box<dyn Read + Send>>, closed: Option<mpsc::Sender<()>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            drop(closed);
            bytes
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _), Some(closed));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _), None);
    // Returns when the reader drops the sender, or at the deadline.
    let _ = stdout_closed.recv_timeout(timeout);
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The readers end when the pipes close; a grandchild holding one open must not
            // hold us, so they are not waited for.
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let join = |h: std::thread::JoinHandle<Vec<u8>>| h.join().unwrap_or_default();
    Ok(Some(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    }))
}
