//! Child processes with bounded waits. Everything here ends processes by the PID it holds
//! (`Child::kill`, `kill -TERM <pid>`), never by name.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Collects a spawned child's piped stdout and stderr and waits for it, killing it after
/// `timeout`.
pub fn run_with_timeout_child(mut child: std::process::Child, timeout: Duration) -> Output {
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let status = match wait_timeout(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            child.wait().expect("reap the child")
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs `cmd` to completion, feeding `stdin`, and kills it if it outlives `timeout`.
/// Returns the output, or an error saying it timed out (with what it printed so far).
pub fn run_with_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        // A writer thread, so a child that does not read its input cannot block us.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let status = wait_timeout(&mut child, timeout);
    let status = match status {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let out = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
            let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            return Err(format!(
                "{cmd:?} did not finish within {timeout:?}; stdout:\n{out}\nstderr:\n{err}"
            ));
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Waits up to `timeout` for `child` to exit; `None` if it is still running.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => return None,
        }
    }
}

/// Sends SIGTERM to the process `pid` (which the caller started and has not reaped).
pub(crate) fn sigterm(pid: u32) {
    // `kill(1)` rather than libc: the workspace forbids unsafe code.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Starts a shell that SIGKILLs `server` (by PID) once this test process is gone, so no
/// server outlives its test binary, even one that was killed or that never drops its cluster
/// (a shared cluster in a static). With `cleanup`, it then removes that directory too. It
/// exits early when the server dies first and there is nothing to clean up.
pub(crate) fn watchdog(server: u32, cleanup: Option<&Path>) -> Option<Child> {
    let script = r#"
        while kill -0 "$2" 2>/dev/null; do
            if ! kill -0 "$1" 2>/dev/null; then gone=1; [ -z "$3" ] && exit 0; fi
            sleep 1
        done
        [ -z "$gone" ] && kill -9 "$1" 2>/dev/null
        [ -n "$3" ] && sleep 1 && rm -rf -- "$3"
        exit 0
    "#;
    Command::new("sh")
        .args(["-c", script, "closet-e2e-watchdog"])
        .arg(server.to_string())
        .arg(std::process::id().to_string())
        .arg(cleanup.map(Path::as_os_str).unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// SIGKILLs every pid in `pids` with one `kill(1)`.
pub(crate) fn sigkill_all(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
