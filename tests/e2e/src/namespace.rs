//! One test's corner of a cluster: its own namespace (created through kubectl) and working
//! directory, so tests can share a server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tempfile::TempDir;

use crate::Cluster;
use crate::kubectl::{self, Background, KubectlOutput};

/// A namespace and a working directory for one test. The namespace is left behind when the
/// test ends (the cluster's data dir goes away with it); if the test panicked, the tail of
/// the server log is printed.
pub struct TestNs<'a> {
    cluster: &'a Cluster,
    name: String,
    dir: TempDir,
}

/// A name that is unique in this process and valid as a DNS-1123 label: `prefix` (or the
/// current test's name) cut down to letters, digits and dashes, plus a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut base: String = prefix
        .rsplit("::")
        .next()
        .unwrap_or(prefix)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    base.truncate(40);
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "t" } else { base };
    format!("{base}-{n}")
}

impl<'a> TestNs<'a> {
    /// Creates a namespace named after the running test (see [`crate::test_ns!`]).
    pub fn new(cluster: &'a Cluster) -> Self {
        let thread = std::thread::current();
        let name = unique_name(thread.name().unwrap_or("test"));
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(cluster.scratch())
            .expect("create the test's working directory");
        let ns = Self { cluster, name, dir };
        let manifest = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n",
            ns.name
        );
        // `create -f -` posts JSON; `kubectl create namespace` would post protobuf.
        let out = kubectl::run(
            cluster,
            &ns.cache_dir(),
            None,
            &["create", "-f", "-"],
            Some(&manifest),
        );
        if !out.success() {
            cluster.fail(format!(
                "cannot create the test namespace: {}",
                out.describe()
            ));
        }
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster this namespace lives on.
    pub fn cluster(&self) -> &'a Cluster {
        self.cluster
    }

    /// The test's working directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes `contents` to `file` in the working directory and returns its path as a string
    /// ready for `-f`.
    pub fn write(&self, file: &str, contents: &str) -> String {
        let path = self.dir.path().join(file);
        std::fs::write(&path, contents).expect("write a file in the test's working directory");
        path.to_string_lossy().into_owned()
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join(".kube-cache")
    }

    /// Runs `kubectl -n <ns> args...`; does not check the result.
    pub fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        kubectl::run(
            self.cluster,
            &self.cache_dir(),
            Some(&self.name),
            args,
            None,
        )
    }

    /// Runs `kubectl -n <ns> args...` with `stdin`; does not check the result.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> KubectlOutput {
        kubectl::run(
            self.cluster,
            &self.cache_dir(),
            Some(&self.name),
            args,
            Some(stdin),
        )
    }

    /// Runs `kubectl -n <ns> args...`, fails (with the server log) unless it exits 0, and
    /// returns stdout.
    #[track_caller]
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.success() {
            self.cluster.fail(out.describe());
        }
        out.stdout
    }

    /// Runs `kubectl -n <ns> args...`, fails unless it exits non-zero, and returns stderr.
    #[track_caller]
    pub fn kubectl_err(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if out.success() {
            self.cluster
                .fail(format!("expected a failure; {}", out.describe()));
        }
        out.stderr
    }

    /// The `kubectl -n <ns> args...` command, for tests that manage the process themselves
    /// (a pty, a port-forward). The caller kills it by its PID.
    pub fn kubectl_command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = kubectl::command(self.cluster, &self.cache_dir(), Some(&self.name));
        cmd.args(args);
        cmd
    }

    /// The same command as one shell-quoted line, for `script -c`.
    pub fn kubectl_command_line(&self, args: &[&str]) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let cache = self.cache_dir();
        let mut words = vec![
            "env".to_owned(),
            format!(
                "KUBECONFIG={}",
                quote(&self.cluster.kubeconfig().to_string_lossy())
            ),
            format!("HOME={}", quote(&cache.to_string_lossy())),
            "kubectl".to_owned(),
            "--cache-dir".to_owned(),
            quote(&cache.to_string_lossy()),
            "--namespace".to_owned(),
            quote(&self.name),
        ];
        words.extend(args.iter().map(|a| quote(a)));
        words.join(" ")
    }

    /// Starts `kubectl -n <ns> args...` in the background.
    pub fn kubectl_spawn(&self, args: &[&str]) -> Background {
        let mut cmd = kubectl::command(self.cluster, &self.cache_dir(), Some(&self.name));
        cmd.args(args);
        Background::spawn(cmd).unwrap_or_else(|e| self.cluster.fail(e))
    }

    /// Waits (up to two minutes) until `pod` is Ready; fails with its YAML and the server
    /// log otherwise.
    #[track_caller]
    pub fn wait_ready(&self, pod: &str) {
        let out = self.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{pod}"),
            "--timeout=120s",
        ]);
        if !out.success() {
            let yaml = self.kubectl(&["get", "pod", pod, "-o", "yaml"]).stdout;
            self.cluster.fail(format!(
                "{pod} never became Ready: {}\n{yaml}",
                out.describe()
            ));
        }
    }

    /// Retries `check` for up to `timeout` (scaled); on time-out fails with the server log.
    #[track_caller]
    pub fn eventually<T, E: std::fmt::Display>(
        &self,
        timeout: Duration,
        check: impl FnMut() -> Result<T, E>,
    ) -> T {
        crate::eventually::try_eventually(timeout, check).unwrap_or_else(|e| self.cluster.fail(e))
    }
}

impl Drop for TestNs<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- closet server log, tail ---\n{}",
                self.cluster.log_tail()
            );
        }
    }
}
