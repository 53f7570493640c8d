//! The CNI network config the agent writes for containerd: a `closet0` bridge with
//! host-local addresses from the node's pod CIDR, and port mappings for `hostPort`.
//!
//! containerd sets up each sandbox's loopback interface itself (its default `lo` network,
//! which runs the `loopback` plugin from the same bin dir), so the chain below covers the
//! pod's `eth0` only.

use std::path::Path;

use serde_json::json;

/// The bridge every pod on the node is attached to.
pub const BRIDGE: &str = "closet0";
/// The CNI network's name.
pub const NETWORK: &str = "closet";
/// The conflist's file name; containerd loads the first file in name order.
pub const FILE_NAME: &str = "10-closet.conflist";

/// The conflist for `pod_cidr`, with IPAM state kept under `ipam_dir`.
pub fn conflist(pod_cidr: &str, ipam_dir: &Path) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                // Pod egress is masqueraded by the service proxy's table (closet-proxy),
                // which leaves pod-to-pod traffic between nodes alone.
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": pod_cidr }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                    "dataDir": ipam_dir.to_string_lossy(),
                },
            },
            { "type": "portmap", "capabilities": { "portMappings": true } },
        ],
    })
}

/// Writes the conflist into `conf_dir` atomically, only when its content changes.
pub fn write(conf_dir: &Path, pod_cidr: &str, ipam_dir: &Path) -> std::io::Result<bool> {
    std::fs::create_dir_all(conf_dir)?;
    let text =
        serde_json::to_string_pretty(&conflist(pod_cidr, ipam_dir)).unwrap_or_default() + "\n";
    let path = conf_dir.join(FILE_NAME);
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    let tmp = conf_dir.join(format!(".{FILE_NAME}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

/// The CNI plugins the conflist (and containerd's own loopback network) needs.
pub const REQUIRED_PLUGINS: &[&str] = &["bridge", "host-local", "portmap", "loopback"];

/// Why pods cannot get a network on this machine, if they cannot: plugins missing from
/// `bin_dir`, or no `iptables` for the bridge's masquerading and port mappings. The text
/// says what to install; the node reports it as its Ready condition's message.
pub fn missing_prerequisites(bin_dir: &Path, path: &std::ffi::OsStr) -> Option<String> {
    let missing: Vec<&str> = REQUIRED_PLUGINS
        .iter()
        .copied()
        .filter(|p| !bin_dir.join(p).is_file())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "CNI plugins missing from {}: {}; install them with `apt-get install containernetworking-plugins`",
            bin_dir.display(),
            missing.join(", ")
        ));
    }
    let has_iptables = std::env::split_paths(path).any(|dir| dir.join("iptables").is_file());
    (!has_iptables).then(|| {
        "`iptables` is not installed (pod networking needs it for masquerading and host ports); install it with `apt-get install iptables`".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflist_bridges_pods_on_the_node_cidr() {
        let list = conflist("10.42.3.0/24", Path::new("/var/lib/closet/agent/cni/ipam"));
        assert_eq!(list["plugins"][0]["bridge"], "closet0");
        assert_eq!(
            list["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.3.0/24"
        );
        assert_eq!(list["plugins"][1]["type"], "portmap");
        // Pod egress is masqueraded by the service proxy, not per pod by the bridge plugin.
        assert_eq!(list["plugins"][0]["ipMasq"], false);
    }

    #[test]
    fn missing_plugins_and_iptables_say_what_to_install() {
        let bin = tempfile::tempdir().unwrap();
        let sbin = tempfile::tempdir().unwrap();
        let path = sbin.path().as_os_str().to_owned();
        let why = missing_prerequisites(bin.path(), &path).unwrap();
        assert!(
            why.contains("bridge, host-local, portmap, loopback"),
            "{why}"
        );
        assert!(
            why.contains("apt-get install containernetworking-plugins"),
            "{why}"
        );
        for plugin in REQUIRED_PLUGINS {
            std::fs::write(bin.path().join(plugin), "").unwrap();
        }
        let why = missing_prerequisites(bin.path(), &path).unwrap();
        assert!(why.contains("apt-get install iptables"), "{why}");
        std::fs::write(sbin.path().join("iptables"), "").unwrap();
        assert_eq!(missing_prerequisites(bin.path(), &path), None);
    }

    #[test]
    fn writing_is_atomic_and_skipped_when_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = dir.path().join("ipam");
        assert!(write(dir.path(), "10.42.0.0/24", &ipam).unwrap());
        assert!(!write(dir.path(), "10.42.0.0/24", &ipam).unwrap());
        assert!(write(dir.path(), "10.42.1.0/24", &ipam).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }
}
