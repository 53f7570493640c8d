use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::CriError;

/// The sandbox (pause) image until closet imports its own (issue 4, "Pause image").
pub const DEFAULT_SANDBOX_IMAGE: &str = "closet.local/pause:1";

/// Where Debian's `containernetworking-plugins` installs the CNI plugins.
pub const DEFAULT_CNI_BIN_DIR: &str = "/usr/lib/cni";

/// `sun_path` is 108 bytes on Linux, including the trailing NUL.
const MAX_SOCKET_PATH: usize = 107;

/// containerd serves ttrpc on `<grpc address>.ttrpc`, so that path must fit too.
const TTRPC_SUFFIX: &str = ".ttrpc";

/// Settings for the supervised containerd. Every path it uses lives under `agent_dir`.
#[derive(Clone, Debug)]
pub struct ContainerdConfig {
    /// `<data-dir>/agent`: containerd's root, state, socket, config and log go below it.
    pub agent_dir: PathBuf,
    /// The CRI sandbox (pause) image.
    pub sandbox_image: String,
    /// Where the CNI plugin binaries are.
    pub cni_bin_dir: PathBuf,
    /// How long [`crate::Containerd::start`] waits for the socket to answer CRI `Version`.
    pub ready_timeout: Duration,
    /// How long a stop waits after SIGTERM before it sends SIGKILL.
    pub stop_grace: Duration,
    /// Keep containers' `oom_score_adj` at or above closet's own. Needed where closet runs
    /// without CAP_SYS_RESOURCE (an LXC container on Proxmox, some VMs): runc cannot lower
    /// the score there, and every sandbox would fail to start. [`Self::for_this_process`]
    /// turns it on when the capability is missing.
    pub restrict_oom_score_adj: bool,
}

impl ContainerdConfig {
    /// Defaults for the given `<data-dir>/agent` directory.
    pub fn new(agent_dir: impl Into<PathBuf>) -> Self {
        Self {
            agent_dir: agent_dir.into(),
            sandbox_image: DEFAULT_SANDBOX_IMAGE.to_owned(),
            cni_bin_dir: PathBuf::from(DEFAULT_CNI_BIN_DIR),
            ready_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
            restrict_oom_score_adj: false,
        }
    }

    /// Adapts the config to what this process may do: see `restrict_oom_score_adj`.
    pub fn for_this_process(mut self) -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        self.restrict_oom_score_adj |= !has_capability(&status, CAP_SYS_RESOURCE);
        self
    }

    /// Sets the CRI sandbox image.
    pub fn with_sandbox_image(mut self, image: impl Into<String>) -> Self {
        self.sandbox_image = image.into();
        self
    }

    /// containerd's own directory: `<agent>/containerd`.
    pub fn containerd_dir(&self) -> PathBuf {
        self.agent_dir.join("containerd")
    }

    /// containerd's persistent root (content store, snapshots, metadata).
    pub fn root_dir(&self) -> PathBuf {
        self.containerd_dir().join("root")
    }

    /// containerd's state directory (runtime state, FIFOs).
    pub fn state_dir(&self) -> PathBuf {
        self.containerd_dir().join("state")
    }

    /// The gRPC socket, which also serves CRI.
    pub fn socket_path(&self) -> PathBuf {
        self.containerd_dir().join("containerd.sock")
    }

    /// The config file closet renders at every start.
    pub fn config_path(&self) -> PathBuf {
        self.containerd_dir().join("config.toml")
    }

    /// containerd's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.agent_dir.join("containerd.log")
    }

    /// Where the running containerd's PID is recorded.
    pub fn pid_path(&self) -> PathBuf {
        self.containerd_dir().join("containerd.pid")
    }

    /// Where per-registry `hosts.toml` files go (`certs.d/<host>/hosts.toml`).
    pub fn registry_config_dir(&self) -> PathBuf {
        self.containerd_dir().join("certs.d")
    }

    /// The CNI config directory the agent writes its conflist into.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.agent_dir.join("cni").join("net.d")
    }

    /// The directories [`crate::Containerd::start`] creates before it starts containerd.
    pub fn dirs(&self) -> [PathBuf; 4] {
        [
            self.containerd_dir(),
            self.root_dir(),
            self.state_dir(),
            self.cni_conf_dir(),
        ]
    }

    /// Checks that the socket path fits a unix socket address; containerd's own error for
    /// this is obscure.
    pub fn check_socket_path(&self) -> Result<(), CriError> {
        let path = self.socket_path();
        let len = path.as_os_str().len() + TTRPC_SUFFIX.len();
        if len > MAX_SOCKET_PATH {
            return Err(CriError::SocketPathTooLong {
                path,
                len,
                max: MAX_SOCKET_PATH,
            });
        }
        Ok(())
    }

    /// Renders containerd's config (format version 2, as containerd 1.6 reads it).
    pub fn render(&self) -> Result<String, CriError> {
        let root = toml_path(&self.root_dir())?;
        let state = toml_path(&self.state_dir())?;
        let socket = toml_path(&self.socket_path())?;
        let opt = toml_path(&self.containerd_dir().join("opt"))?;
        let sandbox_image = toml_string(&self.sandbox_image);
        let cni_bin = toml_path(&self.cni_bin_dir)?;
        let cni_conf = toml_path(&self.cni_conf_dir())?;
        let certs = toml_path(&self.registry_config_dir())?;
        const CRI: &str = r#"plugins."io.containerd.grpc.v1.cri""#;
        let restrict = if self.restrict_oom_score_adj {
            "  # No CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj below closet's.\n  restrict_oom_score_adj = true\n"
        } else {
            ""
        };

        let mut out = String::new();
        // `writeln!` into a String cannot fail.
        let _ = writeln!(
            out,
            "# Written by closet at every start; edits here are overwritten.\n\
             version = 2\n\
             root = {root}\n\
             state = {state}\n\
             # Fail at start, not at the first pod, if the CRI plugin cannot load.\n\
             required_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             \n\
             [grpc]\n  address = {socket}\n\
             \n\
             # The default is /opt/containerd, outside closet's data dir.\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = {opt}\n\
             \n\
             [{CRI}]\n  sandbox_image = {sandbox_image}\n\
             \x20 # exec, attach and port-forward streams: loopback only, for the agent's node API.\n\
             \x20 stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n\
             {restrict}\
             \n\
             # Per-registry settings (mirrors, plain-HTTP registries): certs.d/<host>/hosts.toml.\n\
             [{CRI}.registry]\n  config_path = {certs}\n\
             \n\
             [{CRI}.containerd]\n  snapshotter = \"overlayfs\"\n  default_runtime_name = \"runc\"\n\
             \n\
             [{CRI}.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n\
             \n\
             [{CRI}.cni]\n  bin_dir = {cni_bin}\n  conf_dir = {cni_conf}"
        );
        Ok(out)
    }
}

/// CAP_SYS_RESOURCE: lowering a process's `oom_score_adj` needs it.
const CAP_SYS_RESOURCE: u32 = 24;

/// Whether `/proc/<pid>/status` text shows `cap` among the effective capabilities.
fn has_capability(status: &str, cap: u32) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|caps| u64::from_str_radix(caps.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

fn toml_path(path: &Path) -> Result<String, CriError> {
    let s = path
        .to_str()
        .ok_or_else(|| CriError::NonUtf8Path(path.to_path_buf()))?;
    Ok(toml_string(s))
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_path_under_the_agent_dir() {
        let config = ContainerdConfig::new("/var/lib/closet/agent");
        let text = config.render().expect("render");
        let expected = r#"# Written by closet at every start; edits here are overwritten.
version = 2
root = "/var/lib/closet/agent/containerd/root"
state = "/var/lib/closet/agent/containerd/state"
# Fail at start, not at the first pod, if the CRI plugin cannot load.
required_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "/var/lib/closet/agent/containerd/containerd.sock"

# The default is /opt/containerd, outside closet's data dir.
[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/closet/agent/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "closet.local/pause:1"
  # exec, attach and port-forward streams: loopback only, for the agent's node API.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

# Per-registry settings (mirrors, plain-HTTP registries): certs.d/<host>/hosts.toml.
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/var/lib/closet/agent/containerd/certs.d"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/var/lib/closet/agent/cni/net.d"
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn oom_score_restriction_follows_the_capability() {
        let with = "CapEff:\t000001ffffffffff\n";
        let without = "CapEff:\t000001fffeffffff\n";
        assert!(has_capability(with, CAP_SYS_RESOURCE));
        assert!(!has_capability(without, CAP_SYS_RESOURCE));
        let mut config = ContainerdConfig::new("/a");
        assert!(
            !config
                .render()
                .expect("render")
                .contains("restrict_oom_score_adj")
        );
        config.restrict_oom_score_adj = true;
        assert!(
            config
                .render()
                .expect("render")
                .contains("  restrict_oom_score_adj = true\n")
        );
    }

    #[test]
    fn sandbox_image_is_configurable_and_escaped() {
        let config = ContainerdConfig::new("/a").with_sandbox_image("reg.lan/pause:\"3\"");
        let text = config.render().expect("render");
        assert!(
            text.contains(r#"sandbox_image = "reg.lan/pause:\"3\"""#),
            "{text}"
        );
    }

    #[test]
    fn paths_with_quotes_and_backslashes_stay_valid_toml() {
        assert_eq!(toml_string(r#"/x"y\z"#), r#""/x\"y\\z""#);
        assert_eq!(toml_string("a\nb"), r#""a\u000Ab""#);
    }

    #[test]
    fn a_socket_path_too_long_for_sun_path_is_refused() {
        assert!(
            ContainerdConfig::new("/var/lib/closet/agent")
                .check_socket_path()
                .is_ok()
        );
        let long = format!("/{}", "d".repeat(100));
        let err = ContainerdConfig::new(long)
            .check_socket_path()
            .expect_err("too long");
        assert!(err.to_string().contains("longer than the 107"), "{err}");
    }
}
