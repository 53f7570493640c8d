//! Network namespaces and a bridge standing in for a home LAN: a Linux bridge in the host
//! namespace with the ".1" address of a private /24, and one namespace per machine joined to
//! it by a veth pair (`eth0` inside, with the ".2", ".3"... address and a default route via
//! the bridge). Everything is created with `ip` and removed by Drop guards, and by a
//! watchdog shell if the test process dies before its guards run. Nothing here touches the
//! machine's real interfaces or adds routes in the host namespace beyond the bridge's own
//! on-link route.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::run_with_timeout;

/// How long one `ip` command may take.
const IP_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `ip args...` and panics, naming the command, if it fails.
pub fn ip(args: &[&str]) -> String {
    let out = ip_output(args);
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ip args...` (bounded) and returns what it did.
pub fn ip_output(args: &[&str]) -> Output {
    run_with_timeout(Command::new("ip").args(args), None, IP_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Why this machine cannot build namespaces and bridges, if it cannot.
pub fn unavailable() -> Option<String> {
    let works = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !works("ip", "-V") {
        return Some("`ip` (package iproute2) is not installed".to_owned());
    }
    (!works("nsenter", "--version"))
        .then(|| "`nsenter` (package util-linux) is not installed".to_owned())
}

/// A name part unique on this machine while this process lives: the process id and a
/// counter.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The bridge: a private /24 whose ".1" is the host's address on it.
pub struct Bridge {
    name: String,
    subnet: u8,
    watchdog: Option<Child>,
    suffix: String,
}

impl Bridge {
    /// Creates `cb<pid>x<n>` with 172.31.N.1/24 for an N from 100 to 250 that no address or
    /// route of this machine mentions.
    pub fn create() -> Self {
        let suffix = unique_suffix();
        let name = format!("cb{suffix}");
        assert!(name.len() <= 15, "bridge name {name} is too long");
        let routes = ip(&["-4", "route", "show", "table", "all"]);
        let addresses = ip(&["-4", "-o", "addr", "show"]);
        // Start at a place that depends on the process, so concurrent harnesses rarely race
        // for the same subnet.
        let start = std::process::id() % 151;
        let subnet = (0..151u32)
            .filter_map(|k| u8::try_from(100 + (start + k) % 151).ok())
            .find(|n| {
                let prefix = format!("172.31.{n}.");
                !routes.contains(&prefix) && !addresses.contains(&prefix)
            })
            .expect("no free 172.31.N.0/24 between 100 and 250");
        ip(&["link", "add", &name, "type", "bridge"]);
        let mut bridge = Self {
            name,
            subnet,
            watchdog: None,
            suffix,
        };
        bridge.watchdog = watchdog(&bridge.name, &bridge.netns_prefix());
        let address = format!("{}/24", bridge.gateway());
        ip(&["addr", "add", &address, "dev", &bridge.name]);
        ip(&["link", "set", &bridge.name, "up"]);
        bridge
    }

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address on the bridge (172.31.N.1).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(172, 31, self.subnet, 1)
    }

    /// The address of machine `index` (0-based): 172.31.N.(2 + index).
    pub fn address(&self, index: u8) -> Ipv4Addr {
        Ipv4Addr::new(172, 31, self.subnet, 2 + index)
    }

    /// Every namespace joined to this bridge is named with this prefix.
    fn netns_prefix(&self) -> String {
        format!("closet-e2e-{}-", self.suffix)
    }

    /// Creates a namespace with `eth0` on the bridge at [`Bridge::address`]`(index)`, a
    /// default route via the bridge, and IPv4 forwarding on (it is a router for its pods).
    pub fn join(&self, index: u8) -> Netns {
        let name = format!("{}{index}", self.netns_prefix());
        ip(&["netns", "add", &name]);
        let netns = Netns { name };
        let host_side = format!("cv{}n{index}", self.suffix);
        assert!(host_side.len() <= 15, "veth name {host_side} is too long");
        let inside = format!("cp{}n{index}", self.suffix);
        ip(&[
            "link",
            "add",
            &host_side,
            "type",
            "veth",
            "peer",
            "name",
            &inside,
            "netns",
            &netns.name,
        ]);
        ip(&["link", "set", &host_side, "master", &self.name, "up"]);
        netns.ip(&["link", "set", &inside, "name", "eth0"]);
        netns.ip(&["link", "set", "lo", "up"]);
        netns.ip(&["link", "set", "eth0", "up"]);
        let address = format!("{}/24", self.address(index));
        netns.ip(&["addr", "add", &address, "dev", "eth0"]);
        netns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &self.gateway().to_string(),
        ]);
        let out = netns.exec(&["sysctl", "-w", "net.ipv4.ip_forward=1"]);
        assert!(
            out.status.success(),
            "enabling forwarding in {}: {}",
            netns.name,
            String::from_utf8_lossy(&out.stderr)
        );
        netns
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = ip_output(&["link", "del", &self.name]);
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// A network namespace, deleted when dropped (which also removes its veth pair).
pub struct Netns {
    name: String,
}

impl Netns {
    /// Its name, as `ip netns` lists it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <netns> args...`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `command...` inside the namespace, bounded.
    pub fn exec(&self, command: &[&str]) -> Output {
        let mut cmd = self.enter();
        cmd.args(command);
        run_with_timeout(&mut cmd, None, IP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A command that runs `program` inside the namespace, to spawn long-running processes.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut cmd = self.enter();
        cmd.arg(program);
        cmd
    }

    /// `nsenter --net=/run/netns/<name> --`: only the network namespace changes, and
    /// `nsenter` execs the program, so a spawned child's pid is the program's. (`ip netns
    /// exec` would also give the program a mount namespace with a fresh `/sys`, hiding the
    /// cgroup filesystem from containerd and runc.)
    fn enter(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.name)).arg("--");
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip_output(&["netns", "del", &self.name]);
    }
}

/// A shell that, once this test process is gone without running its guards, waits for the
/// agents' own watchdogs to kill them, then deletes the namespaces named `<prefix>*` and the
/// bridge.
fn watchdog(bridge: &str, netns_prefix: &str) -> Option<Child> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        sleep 3
        for ns in $(ip netns list | cut -d' ' -f1); do
            case "$ns" in "$3"*) ip netns del "$ns" ;; esac
        done
        ip link del "$2" 2>/dev/null
        exit 0
    "#;
    Command::new("sh")
        .args(["-c", script, "closet-e2e-net-watchdog"])
        .arg(std::process::id().to_string())
        .arg(bridge)
        .arg(netns_prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}
