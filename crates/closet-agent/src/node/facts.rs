//! What the agent reports about its machine: CPU, memory, disk, kernel, OS, architecture,
//! addresses. Read from /proc, /sys, /etc and the kernel, never from configuration.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

/// The facts a Node object carries.
#[derive(Clone, Debug, PartialEq)]
pub struct HostFacts {
    /// Logical CPUs this process may use.
    pub cpus: u32,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Size of the filesystem holding the agent's data, in bytes.
    pub ephemeral_storage_bytes: u64,
    /// `uname -r`.
    pub kernel_version: String,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os_image: String,
    /// The architecture in Go's naming (`amd64`, `arm64`, `arm`, ...), as images use it.
    pub architecture: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// The kernel's boot id, which changes on every reboot.
    pub boot_id: String,
    /// The board or product name, when the firmware says (e.g. `Raspberry Pi 4 Model B`).
    pub model: Option<String>,
}

impl HostFacts {
    /// Reads the facts of this machine; `data_dir` is measured for ephemeral storage.
    pub fn read(data_dir: &Path) -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let memory_bytes = read("/proc/meminfo")
            .as_deref()
            .and_then(mem_total_bytes)
            .unwrap_or(0);
        let ephemeral_storage_bytes = rustix::fs::statvfs(data_dir)
            .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
            .unwrap_or(0);
        let uname = rustix::system::uname();
        Self {
            cpus,
            memory_bytes,
            ephemeral_storage_bytes,
            kernel_version: uname.release().to_string_lossy().into_owned(),
            os_image: read("/etc/os-release")
                .as_deref()
                .and_then(pretty_name)
                .unwrap_or_else(|| "Linux".to_owned()),
            architecture: go_arch(std::env::consts::ARCH).to_owned(),
            machine_id: read("/etc/machine-id")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            boot_id: read("/proc/sys/kernel/random/boot_id")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            model: read("/proc/device-tree/model")
                .or_else(|| read("/sys/class/dmi/id/product_name"))
                .map(|m| {
                    m.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .to_owned()
                })
                .filter(|m| !m.is_empty() && !is_placeholder_model(m)),
        }
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Rust's architecture names to Go's, which OCI image platforms and `kubernetes.io/arch` use.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn pretty_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
    Some(value.trim().trim_matches('"').to_owned())
}

/// Firmware fills the DMI product name with filler on many boards.
fn is_placeholder_model(model: &str) -> bool {
    let lower = model.to_ascii_lowercase();
    [
        "to be filled",
        "default string",
        "system product name",
        "not specified",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// A model name as a label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and
/// ending alphanumeric (`Raspberry Pi 4 Model B Rev 1.4` → `Raspberry-Pi-4-Model-B-Rev-1.4`).
pub fn label_value(text: &str) -> Option<String> {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut out = String::new();
    for c in mapped.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out: String = out.chars().take(63).collect();
    let out = out
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    (!out.is_empty()).then_some(out)
}

/// The address other machines reach this one at: the source address of the route towards
/// `towards` (the API server, or any routable address), found without sending a packet; the
/// first non-loopback interface address is not knowable without netlink, so loopback is the
/// last resort on a machine with no route at all.
pub fn primary_address(towards: Option<IpAddr>) -> IpAddr {
    // TEST-NET-1: never answered, and connect() on UDP sends nothing.
    let target = towards
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect((target, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_and_os_release() {
        assert_eq!(
            mem_total_bytes("MemTotal:        8000 kB\nMemFree: 1 kB\n"),
            Some(8000 * 1024)
        );
        assert_eq!(mem_total_bytes("nothing"), None);
        assert_eq!(
            pretty_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn architectures_use_go_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("arm"), "arm");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }

    #[test]
    fn model_names_become_valid_label_values() {
        assert_eq!(
            label_value("Raspberry Pi 4 Model B Rev 1.4").as_deref(),
            Some("Raspberry-Pi-4-Model-B-Rev-1.4")
        );
        assert_eq!(
            label_value("  (ThinkPad) X220 ").as_deref(),
            Some("ThinkPad-X220")
        );
        assert_eq!(label_value("???"), None);
        assert_eq!(label_value(&"x".repeat(100)).map(|s| s.len()), Some(63));
        assert!(is_placeholder_model("To Be Filled By O.E.M."));
    }

    #[test]
    fn this_machine_has_facts() {
        let facts = HostFacts::read(Path::new("/"));
        assert!(facts.cpus >= 1);
        assert!(facts.memory_bytes > 0);
        assert!(facts.ephemeral_storage_bytes > 0);
        assert!(!facts.kernel_version.is_empty());
    }
}
