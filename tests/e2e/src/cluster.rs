//! A real `closet server` process in a temporary data dir, on a free port of 127.0.0.1.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{self, sigterm, wait_timeout};
use crate::raw;

/// Where the API listens unless a test says otherwise.
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long a start may take before the harness gives up (scaled by the patience).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SIGTERM may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How many log lines go into a failure message.
const LOG_TAIL_LINES: usize = 80;

/// A running (or stopped) closet server owned by one test, or shared by a test binary.
pub struct Cluster {
    dir: TempDir,
    port: u16,
    /// Whether the server runs its node agent (and so containerd and pods).
    agent: bool,
    running: Mutex<Option<Running>>,
    starts: Mutex<u32>,
    /// Extra lines for the server's config file.
    settings: String,
    /// The address the API listens on (`--bind-address`).
    bind: IpAddr,
}

struct Running {
    child: Child,
    watchdog: Option<Child>,
}

impl Cluster {
    /// Starts a server in a fresh temp dir on a free port and waits until `/readyz` answers.
    pub fn start() -> Self {
        Self::launch(LOOPBACK, "", false)
    }

    /// Starts a server without an agent, with extra config-file lines (`settings`, YAML keys
    /// mirroring the flags), for tests that join a separate `closet agent`.
    pub fn start_with(settings: &str) -> Self {
        Self::launch(LOOPBACK, settings, false)
    }

    /// Like [`Cluster::start_with`], with the API listening on `bind` instead of 127.0.0.1
    /// (an address on a bridge that agents in other network namespaces reach). The serving
    /// certificate covers it; the admin kubeconfig and [`Cluster::url`] name it.
    pub fn start_on(bind: IpAddr, settings: &str) -> Self {
        Self::launch(bind, settings, false)
    }

    /// Starts a server with its node agent (containerd, CNI, pods) and waits until the node
    /// is Ready. Tests using it run one at a time (see `.config/nextest.toml`): every agent on
    /// the machine shares the `closet0` bridge and the default pod CIDR.
    pub fn with_agent() -> Self {
        Self::with_agent_settings("")
    }

    /// [`Cluster::with_agent`] with extra config-file lines (`settings`, YAML keys mirroring
    /// the flags).
    pub fn with_agent_settings(settings: &str) -> Self {
        let cluster = Self::launch(LOOPBACK, settings, true);
        cluster.wait_node_ready();
        cluster
    }

    /// A server in a fresh temp dir on a free port of `bind`, started and answering `/readyz`.
    fn launch(bind: IpAddr, settings: &str, agent: bool) -> Self {
        crate::install_crypto();
        let prefix = if agent {
            "closet-e2e-node-"
        } else {
            "closet-e2e-"
        };
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("create a temp dir for the cluster");
        let cluster = Self {
            dir,
            port: free_port(),
            agent,
            running: Mutex::new(None),
            starts: 0.into(),
            settings: settings.to_owned(),
            bind,
        };
        cluster.spawn(false);
        cluster
    }

    /// The name of the agent's node.
    pub const NODE: &'static str = "e2e-node";

    /// Waits until the agent's Node reports Ready.
    pub fn wait_node_ready(&self) {
        let deadline = Instant::now() + crate::scaled(START_TIMEOUT);
        loop {
            let out = self
                .kubectl(&[
                    "get",
                    "node",
                    Self::NODE,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])
                .stdout;
            if out.trim() == "True" {
                return;
            }
            if Instant::now() > deadline {
                self.fail(format!(
                    "node {} not Ready after {START_TIMEOUT:?}: {out}",
                    Self::NODE
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The agent's containerd socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.data_dir()
            .join("agent")
            .join("containerd")
            .join("containerd.sock")
    }

    /// One cluster per test binary, started on first use, for tests that each work in their
    /// own namespace. It is never dropped: its watchdog kills it and removes its data dir
    /// when the test binary exits.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            crate::install_crypto();
            let dir = tempfile::Builder::new()
                .prefix("closet-e2e-shared-")
                .tempdir()
                .expect("create a temp dir for the cluster");
            let cluster = Self {
                dir,
                port: free_port(),
                agent: false,
                running: Mutex::new(None),
                starts: 0.into(),
                settings: String::new(),
                bind: LOOPBACK,
            };
            cluster.spawn(true);
            cluster
        })
    }

    /// The port the API listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://<bind address>:<port>` (127.0.0.1 unless started with [`Cluster::start_on`]).
    pub fn url(&self) -> String {
        format!(
            "https://{}",
            std::net::SocketAddr::new(self.bind, self.port)
        )
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The admin kubeconfig the server wrote (`--write-kubeconfig`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    /// The file holding the server's stdout and stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A scratch directory beside the data dir (kubectl's cache lives here).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The whole server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The last lines of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[from..].join("\n")
    }

    /// The last lines of the agent's containerd log (every containerd of this data dir).
    pub fn containerd_log_tail(&self) -> String {
        let path = self.data_dir().join("agent").join("containerd.log");
        let log = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[from..].join("\n")
    }

    /// Panics with `msg` followed by the tail of the server log.
    #[track_caller]
    pub fn fail(&self, msg: impl std::fmt::Display) -> ! {
        panic!(
            "{msg}\n--- closet server log (last {LOG_TAIL_LINES} lines) ---\n{}",
            self.log_tail()
        )
    }

    /// A raw HTTPS connection factory; with `client_cert` false it is anonymous.
    pub fn raw(&self, client_cert: bool) -> raw::Tls {
        raw::Tls::from_kubeconfig(&self.kubeconfig(), self.port, client_cert)
            .map(|tls| tls.at(self.bind))
            .unwrap_or_else(|e| self.fail(e))
    }

    /// A kube-rs client over TLS with the admin certificate. Build one per test: a client
    /// keeps connections on the runtime that created it.
    pub async fn client(&self) -> kube::Client {
        let config = self.client_config().await;
        kube::Client::try_from(config).unwrap_or_else(|e| self.fail(format!("kube client: {e}")))
    }

    /// The kube-rs configuration read from the admin kubeconfig.
    pub async fn client_config(&self) -> kube::Config {
        crate::install_crypto();
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig())
            .unwrap_or_else(|e| self.fail(format!("read kubeconfig: {e}")));
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap_or_else(|e| self.fail(format!("kubeconfig to kube config: {e}")))
    }

    /// SIGKILLs the server and reaps it.
    pub fn kill9(&self) {
        let mut running = self.lock();
        if let Some(mut r) = running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
            r.stop_watchdog();
        }
    }

    /// A power cut: SIGKILLs the server, its containerd, the containerd shims and every
    /// container process, all at once, leaving the data dir as it was. [`Cluster::restart`]
    /// brings the server back on the same data dir and port. Returns how many runtime
    /// processes (containerd, shims, containers) were killed.
    pub fn power_cut(&self) -> usize {
        let runtime = if self.agent {
            crate::node::runtime_processes(&self.containerd_socket())
        } else {
            Vec::new()
        };
        self.kill9();
        process::sigkill_all(&runtime);
        // Bounded wait until the processes are gone, so the restart finds no live containerd.
        for _ in 0..100 {
            if runtime
                .iter()
                .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        runtime.len()
    }

    /// SIGTERMs the server and asserts that it exits 0 in time.
    pub fn stop(&self) {
        let Some(mut r) = self.lock().take() else {
            return;
        };
        sigterm(r.child.id());
        let status = wait_timeout(&mut r.child, crate::scaled(STOP_TIMEOUT));
        r.stop_watchdog();
        match status {
            Some(s) if s.success() => {}
            Some(s) => self.fail(format!("closet server exited with {s} after SIGTERM")),
            None => {
                let _ = r.child.kill();
                let _ = r.child.wait();
                self.fail(format!(
                    "closet server still running {STOP_TIMEOUT:?} after SIGTERM"
                ))
            }
        }
    }

    /// Starts the server again on the same data dir and port (after [`Cluster::kill9`] or
    /// [`Cluster::stop`]; a running server is killed first).
    pub fn restart(&self) {
        self.kill9();
        self.spawn(false);
    }

    /// Whether the server process is still running.
    pub fn is_running(&self) -> bool {
        let mut running = self.lock();
        match running.as_mut() {
            Some(r) => matches!(r.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        // A test that panicked while holding the lock leaves nothing half-done in it.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(&self, remove_dir_on_exit: bool) {
        let binary = closet_binary();
        let start = {
            let mut starts = self.starts.lock().unwrap_or_else(|e| e.into_inner());
            *starts += 1;
            *starts
        };
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log");
        let _ = writeln!(
            log,
            "=== closet-e2e: start {start} on port {} ===",
            self.port
        );
        let log_err = log.try_clone().expect("clone the log file handle");
        // An explicit config file must exist; this one only restates a flag.
        let config = self.dir.path().join("config.yaml");
        let mut settings = if self.agent {
            format!("node-name: {}\nnode-api-port: 0\n", Self::NODE)
        } else {
            "disable-agent: true\n".to_owned()
        };
        // Tests never resolve names beyond this machine: the scheduler asks only the local
        // test registry which architectures an image offers.
        settings.push_str("registry-lookups-local-only: true\n");
        settings.push_str(&self.settings);
        std::fs::write(&config, settings).expect("write the server config file");
        let mut cmd = Command::new(&binary);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--https-listen-port", &self.port.to_string()])
            .args(["--bind-address", &self.bind.to_string()])
            .arg("--write-kubeconfig")
            .arg(self.kubeconfig())
            .arg("--config")
            .arg(self.dir.path().join("config.yaml"))
            // Plain log lines: the log is read by people and searched by tests.
            .env("NO_COLOR", "1")
            .env(
                "CLOSET_LOG",
                std::env::var("CLOSET_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let cleanup = remove_dir_on_exit.then(|| self.dir.path());
        let watchdog = process::watchdog(child.id(), cleanup);
        *self.lock() = Some(Running { child, watchdog });
        self.wait_ready();
    }

    /// Waits until `/readyz` answers 200 over TLS, failing early if the process exits.
    fn wait_ready(&self) {
        let deadline = Instant::now() + crate::scaled(START_TIMEOUT);
        let mut last;
        loop {
            if let Some(r) = self.lock().as_mut()
                && let Ok(Some(status)) = r.child.try_wait()
            {
                self.fail(format!(
                    "closet server exited with {status} before it was ready"
                ));
            }
            if self.kubeconfig().exists() {
                match raw::Tls::from_kubeconfig(&self.kubeconfig(), self.port, true)
                    .and_then(|tls| tls.at(self.bind).send(&raw::Request::get("/readyz")))
                {
                    Ok(resp) if resp.status == 200 => return,
                    Ok(resp) => last = format!("/readyz answered {}: {}", resp.status, resp.text()),
                    Err(e) => last = e,
                }
            } else {
                last = format!("{} not written yet", self.kubeconfig().display());
            }
            if Instant::now() >= deadline {
                self.fail(format!(
                    "closet server not ready after {START_TIMEOUT:?}: {last}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Running {
    fn stop_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- closet server log (last {LOG_TAIL_LINES} lines) ---\n{}",
                self.log_tail()
            );
            if self.agent {
                eprintln!(
                    "--- containerd log (last {LOG_TAIL_LINES} lines) ---\n{}",
                    self.containerd_log_tail()
                );
            }
        }
        self.kill9();
        if self.agent {
            crate::node::remove_pods(&self.containerd_socket());
            crate::node::remove_proxy_table();
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The binary under test: `$CLOSET_E2E_BINARY` if set (a release build, say), otherwise
/// `target/<profile>/closet`, found by walking up from this test binary
/// (`target/<profile>/deps/<test>-<hash>`).
pub fn closet_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("CLOSET_E2E_BINARY") {
                return PathBuf::from(path);
            }
            let exe = std::env::current_exe().expect("path of the test binary");
            let found = exe.ancestors().skip(1).map(|dir| dir.join("closet")).find(|p| p.is_file());
            found.unwrap_or_else(|| {
                panic!(
                    "no closet binary next to {} or above it: build it with `cargo build -p closet`",
                    exe.display()
                )
            })
        })
        .clone()
}
