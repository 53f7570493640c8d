use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{ContainerdConfig, CriClient, CriError, RuntimeExt};

/// How often start polls the socket.
const POLL: Duration = Duration::from_millis(100);

/// How long one readiness probe (connect + `Version`) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The binaries the supervised containerd needs, and the Debian package of each.
/// containerd starts `containerd-shim-runc-v2` (same package), which runs `runc`.
const REQUIRED: [(&str, &str); 2] = [("containerd", "containerd"), ("runc", "runc")];

/// A containerd child process owned by closet, with everything under `<data-dir>/agent/`.
///
/// Dropping it (or [`Containerd::stop`]) sends SIGTERM, then SIGKILL after the grace period.
/// Containers keep running in their shims, as with a system containerd, so a restarted agent
/// can adopt them.
#[derive(Debug)]
pub struct Containerd {
    config: ContainerdConfig,
    client: CriClient,
    child: ChildGuard,
}

impl Containerd {
    /// Starts containerd with the process's `PATH` and waits until it answers CRI `Version`.
    pub async fn start(config: ContainerdConfig) -> Result<Self, CriError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        Self::start_with_path(config, &path).await
    }

    /// Like [`Containerd::start`], with an explicit `PATH` used both to find the binaries and
    /// as containerd's own `PATH` (so the `runc` that was checked is the one it runs).
    pub async fn start_with_path(config: ContainerdConfig, path: &OsStr) -> Result<Self, CriError> {
        let containerd = find_binaries(path)?;
        config.check_socket_path()?;
        for dir in config.dirs() {
            fs::create_dir_all(&dir).map_err(|source| CriError::CreateDir { path: dir, source })?;
        }
        let socket = config.socket_path();
        // containerd removes a stale socket file and listens anew; if a live containerd still
        // serves it, ours would block on its metadata lock while the probe below talked to the
        // old one.
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            // A containerd left behind by a closet that was killed (kill -9, a crash) still
            // serves the socket. It is ours if its PID file says so: stop it and start afresh.
            // The containers survive (their shims keep them running) and the new containerd
            // picks them up again.
            if !stop_leftover(&config.pid_path(), config.stop_grace).await {
                return Err(CriError::AlreadyRunning { socket });
            }
        }
        let config_path = config.config_path();
        fs::write(&config_path, config.render()?).map_err(|source| CriError::WriteConfig {
            path: config_path.clone(),
            source,
        })?;

        let log_path = config.log_path();
        let log = open_log(&log_path)?;
        let log_err = log.try_clone().map_err(|source| CriError::OpenLog {
            path: log_path.clone(),
            source,
        })?;
        let child = Command::new(&containerd)
            .arg("--config")
            .arg(&config_path)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| CriError::Spawn {
                binary: containerd.clone(),
                source,
            })?;
        // From here on, an early return drops the guard, which stops the child.
        let mut child = ChildGuard {
            child: Some(child),
            grace: config.stop_grace,
        };
        tracing::info!(pid = child.pid(), socket = %socket.display(), "started containerd");
        if let Some(pid) = child.pid() {
            let _ = fs::write(config.pid_path(), pid.to_string());
        }

        let client = wait_ready(&mut child, &config).await?;
        Ok(Self {
            config,
            client,
            child,
        })
    }

    /// A CRI client on the supervised containerd's socket.
    pub fn client(&self) -> &CriClient {
        &self.client
    }

    /// The config containerd was started with.
    pub fn config(&self) -> &ContainerdConfig {
        &self.config
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    /// Stops containerd: SIGTERM, then SIGKILL after the grace period. Returns its exit status.
    pub async fn stop(mut self) -> Result<ExitStatus, CriError> {
        let Some(child) = self.child.child.take() else {
            unreachable!("the child is only taken by stop, which consumes self")
        };
        let grace = self.child.grace;
        let pid = child.id();
        tokio::task::spawn_blocking(move || terminate(child, grace))
            .await
            .map_err(|e| CriError::Stop {
                pid,
                source: std::io::Error::other(e),
            })?
    }
}

/// Stops the containerd named by `pid_file` if it still runs; true once it is gone.
async fn stop_leftover(pid_file: &Path, grace: Duration) -> bool {
    let Some(pid) = fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    let comm =
        fs::read_to_string(format!("/proc/{}/comm", pid.as_raw_nonzero())).unwrap_or_default();
    if comm.trim() != "containerd" {
        return false;
    }
    tracing::info!(
        pid = pid.as_raw_nonzero().get(),
        "stopping the containerd a previous closet left running"
    );
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if rustix::process::test_kill_process(pid).is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    tokio::time::sleep(Duration::from_millis(200)).await;
    rustix::process::test_kill_process(pid).is_err()
}

/// Looks for `containerd` and `runc` on `path` (a `PATH`-style list) and returns containerd's
/// path, or an error naming the Debian package to install.
pub fn find_binaries(path: &OsStr) -> Result<PathBuf, CriError> {
    let mut containerd = None;
    for (binary, package) in REQUIRED {
        let found = which(binary, path).ok_or(CriError::MissingBinary { binary, package })?;
        if binary == "containerd" {
            containerd = Some(found);
        }
    }
    containerd.ok_or(CriError::MissingBinary {
        binary: "containerd",
        package: "containerd",
    })
}

fn which(binary: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(binary))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn open_log(path: &Path) -> Result<File, CriError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| CriError::OpenLog {
            path: path.to_path_buf(),
            source,
        })
}

async fn wait_ready(
    child: &mut ChildGuard,
    config: &ContainerdConfig,
) -> Result<CriClient, CriError> {
    let socket = config.socket_path();
    let deadline = Instant::now() + config.ready_timeout;
    let mut last = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(CriError::Exited {
                status: status.to_string(),
                socket,
                log: config.log_path(),
            });
        }
        if socket.exists() {
            match tokio::time::timeout(PROBE_TIMEOUT, probe(&socket)).await {
                Ok(Ok(client)) => return Ok(client),
                Ok(Err(e)) => last = Some(Box::new(e)),
                Err(_elapsed) => {}
            }
        }
        if Instant::now() >= deadline {
            return Err(CriError::NotReady {
                socket,
                timeout: config.ready_timeout,
                log: config.log_path(),
                last,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn probe(socket: &Path) -> Result<CriClient, CriError> {
    let client = CriClient::connect(socket).await?;
    let version = client.runtime_version().await?;
    tracing::debug!(runtime = %version.runtime_name, version = %version.runtime_version, "containerd ready");
    Ok(client)
}

// === impl ChildGuard ===

/// Owns the child so that every way out of [`Containerd`] — error, drop, stop — ends it.
#[derive(Debug)]
struct ChildGuard {
    child: Option<Child>,
    grace: Duration,
}

impl ChildGuard {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, CriError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let pid = child.id();
        child
            .try_wait()
            .map_err(|source| CriError::Stop { pid, source })
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let pid = child.id();
            // Blocks for at most the grace period; `Containerd::stop` is the async way.
            if let Err(error) = terminate(child, self.grace) {
                tracing::warn!(pid, %error, "stopping containerd");
            }
        }
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; always reaps the child.
fn terminate(mut child: Child, grace: Duration) -> Result<ExitStatus, CriError> {
    let pid = child.id();
    let stop_err = |source| CriError::Stop { pid, source };
    if let Some(status) = child.try_wait().map_err(stop_err)? {
        return Ok(status);
    }
    let target = rustix::process::Pid::from_child(&child);
    if let Err(errno) = rustix::process::kill_process(target, rustix::process::Signal::TERM) {
        tracing::warn!(pid, %errno, "sending SIGTERM to containerd");
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(stop_err)? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(pid, ?grace, "containerd ignored SIGTERM; killing it");
    child.kill().map_err(stop_err)?;
    child.wait().map_err(stop_err)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    /// Tests build a `PATH` of their own instead of touching the process environment.
    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).expect("join paths")
    }

    fn fake_binary(dir: &Path, name: &str) {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn an_empty_path_names_the_containerd_package() {
        let err = find_binaries(OsStr::new("")).expect_err("nothing on an empty PATH");
        assert_eq!(
            err.to_string(),
            "`containerd` not found on PATH; install it with `apt-get install containerd`"
        );
    }

    #[test]
    fn a_missing_runc_names_the_runc_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        fake_binary(dir.path(), "containerd");
        let err = find_binaries(&path_of(&[dir.path()])).expect_err("no runc");
        assert_eq!(
            err.to_string(),
            "`runc` not found on PATH; install it with `apt-get install runc`"
        );
    }

    #[test]
    fn binaries_are_found_across_path_entries_and_must_be_executable() {
        let (a, b) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        fake_binary(a.path(), "containerd");
        fake_binary(b.path(), "runc");
        let path = path_of(&[a.path(), b.path()]);
        assert_eq!(
            find_binaries(&path).expect("found"),
            a.path().join("containerd")
        );

        fs::set_permissions(b.path().join("runc"), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(matches!(
            find_binaries(&path),
            Err(CriError::MissingBinary { binary: "runc", .. })
        ));
    }

    #[tokio::test]
    async fn start_with_an_empty_path_fails_before_writing_anything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ContainerdConfig::new(dir.path().join("agent"));
        let err = Containerd::start_with_path(config, OsStr::new(""))
            .await
            .expect_err("no binaries");
        assert!(
            matches!(
                err,
                CriError::MissingBinary {
                    binary: "containerd",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!dir.path().join("agent").exists());
    }
}
