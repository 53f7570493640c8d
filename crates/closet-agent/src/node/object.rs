//! The Node object the agent registers and the status it reports.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::facts::{HostFacts, label_value};

/// Pods a node accepts, as upstream's default.
pub const MAX_PODS: u32 = 110;
/// Memory held back from pods: upstream's default hard eviction threshold.
const EVICTION_MEMORY_BYTES: u64 = 100 * 1024 * 1024;
/// Share of the data filesystem held back from pods (upstream's `nodefs.available<10%`).
const EVICTION_DISK_PERCENT: u64 = 10;

/// The version string nodes report as their kubelet version: the API level closet
/// implements, with closet's own version as build metadata (`v1.35.0+closet-0.1.0`), the way
/// k3s reports `v1.30.2+k3s1`.
pub fn kubelet_version() -> String {
    format!("v1.35.0+closet-{}", env!("CARGO_PKG_VERSION"))
}

/// The node condition saying whether Services are reachable through this node.
pub const SERVICE_PROXY_CONDITION: &str = "ServiceProxyReady";

/// What the node reports beyond the host facts.
#[derive(Clone, Debug)]
pub struct NodeReport<'a> {
    /// The node's name.
    pub name: &'a str,
    /// The node's addresses, InternalIP first.
    pub addresses: &'a [IpAddr],
    /// The hostname.
    pub hostname: &'a str,
    /// `containerd://1.6.20~ds1`.
    pub runtime_version: &'a str,
    /// Port of the node API.
    pub node_api_port: u16,
    /// Whether the runtime and network are ready for pods, and if not, why.
    pub ready: Result<(), String>,
    /// Whether the service proxy can program this node, and if not, why (a missing `nft`
    /// does not keep pods from running, so it is not part of `ready`).
    pub service_proxy: Result<(), String>,
    /// The images the runtime holds (the scheduler places pods where their images are);
    /// `None` keeps what the API has.
    pub images: Option<&'a [ContainerImage]>,
}

/// The labels every node carries.
pub fn labels(name: &str, facts: &HostFacts) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), name.to_owned()),
        ("kubernetes.io/arch".to_owned(), facts.architecture.clone()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        (
            "beta.kubernetes.io/arch".to_owned(),
            facts.architecture.clone(),
        ),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
    ]);
    if let Some(model) = facts.model.as_deref().and_then(label_value) {
        labels.insert("node.kubernetes.io/instance-type".to_owned(), model);
    }
    labels
}

/// A new Node with its labels; the status is written separately.
pub fn new_node(name: &str, facts: &HostFacts) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels(name, facts)),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn quantity(value: u64) -> Quantity {
    Quantity(value.to_string())
}

fn kibibytes(bytes: u64) -> Quantity {
    Quantity(format!("{}Ki", bytes / 1024))
}

/// The node's status: capacity, allocatable, conditions, addresses, system info.
pub fn status(
    report: &NodeReport<'_>,
    facts: &HostFacts,
    previous: Option<&NodeStatus>,
    now: jiff::Timestamp,
) -> NodeStatus {
    let capacity = BTreeMap::from([
        ("cpu".to_owned(), quantity(u64::from(facts.cpus))),
        ("memory".to_owned(), kibibytes(facts.memory_bytes)),
        ("pods".to_owned(), quantity(u64::from(MAX_PODS))),
        (
            "ephemeral-storage".to_owned(),
            kibibytes(facts.ephemeral_storage_bytes),
        ),
    ]);
    let mut allocatable = capacity.clone();
    allocatable.insert(
        "memory".to_owned(),
        kibibytes(facts.memory_bytes.saturating_sub(EVICTION_MEMORY_BYTES)),
    );
    allocatable.insert(
        "ephemeral-storage".to_owned(),
        quantity(facts.ephemeral_storage_bytes / 100 * (100 - EVICTION_DISK_PERCENT)),
    );
    let mut addresses: Vec<NodeAddress> = report
        .addresses
        .iter()
        .map(|ip| NodeAddress {
            type_: "InternalIP".to_owned(),
            address: ip.to_string(),
        })
        .collect();
    addresses.push(NodeAddress {
        type_: "Hostname".to_owned(),
        address: report.hostname.to_owned(),
    });
    let (ready_status, ready_reason, ready_message) = match &report.ready {
        Ok(()) => (
            "True",
            "KubeletReady",
            "closet agent is posting ready status".to_owned(),
        ),
        Err(why) => ("False", "KubeletNotReady", why.clone()),
    };
    let (proxy_status, proxy_reason, proxy_message) = match &report.service_proxy {
        Ok(()) => (
            "True",
            "ServiceProxyReady",
            "the service proxy programs nftables".to_owned(),
        ),
        Err(why) => ("False", "ServiceProxyUnavailable", why.clone()),
    };
    let conditions = vec![
        condition(
            previous,
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "closet agent has sufficient memory available",
            now,
        ),
        condition(
            previous,
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "closet agent has no disk pressure",
            now,
        ),
        condition(
            previous,
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "closet agent has sufficient PID available",
            now,
        ),
        condition(
            previous,
            "Ready",
            ready_status,
            ready_reason,
            &ready_message,
            now,
        ),
        condition(
            previous,
            SERVICE_PROXY_CONDITION,
            proxy_status,
            proxy_reason,
            &proxy_message,
            now,
        ),
    ];
    NodeStatus {
        capacity: Some(capacity),
        allocatable: Some(allocatable),
        conditions: Some(conditions),
        addresses: Some(addresses),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(report.node_api_port),
            }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: facts.architecture.clone(),
            boot_id: facts.boot_id.clone(),
            container_runtime_version: report.runtime_version.to_owned(),
            kernel_version: facts.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: kubelet_version(),
            machine_id: facts.machine_id.clone(),
            operating_system: "linux".to_owned(),
            os_image: facts.os_image.clone(),
            system_uuid: facts.machine_id.clone(),
            ..Default::default()
        }),
        // Volumes and the rest stay as the API has them.
        images: report
            .images
            .map(<[ContainerImage]>::to_vec)
            .or_else(|| previous.and_then(|p| p.images.clone())),
        ..Default::default()
    }
}

/// A condition whose transition time moves only when its status changes.
fn condition(
    previous: Option<&NodeStatus>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> NodeCondition {
    let before = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_));
    let transition = match before {
        Some(b) if b.status == status => b.last_transition_time.clone(),
        _ => Some(Time(now)),
    };
    NodeCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: transition,
    }
}

/// Whether two statuses differ in anything but heartbeat times: only then is a write due
/// before the next periodic report.
pub fn meaningfully_different(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(a) != strip(b)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn facts() -> HostFacts {
        HostFacts {
            cpus: 4,
            memory_bytes: 8 * 1024 * 1024 * 1024,
            ephemeral_storage_bytes: 100 * 1024 * 1024 * 1024,
            kernel_version: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            architecture: "arm64".into(),
            machine_id: "abc".into(),
            boot_id: "def".into(),
            model: Some("Raspberry Pi 4 Model B Rev 1.4".into()),
        }
    }

    fn report(ready: Result<(), String>) -> NodeReport<'static> {
        static ADDRS: [IpAddr; 1] = [IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20))];
        NodeReport {
            name: "pi1",
            addresses: &ADDRS,
            hostname: "pi1",
            runtime_version: "containerd://1.6.20~ds1",
            node_api_port: 10250,
            ready,
            service_proxy: Ok(()),
            images: None,
        }
    }

    #[test]
    fn a_missing_nft_is_its_own_condition_and_leaves_the_node_ready() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let why = "`nft` is not installed; install the package `nftables`".to_owned();
        let s = status(
            &NodeReport {
                service_proxy: Err(why.clone()),
                ..report(Ok(()))
            },
            &facts(),
            None,
            now,
        );
        let find = |t: &str| {
            s.conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == t)
                .unwrap()
                .clone()
        };
        assert_eq!(find("Ready").status, "True");
        let proxy = find(SERVICE_PROXY_CONDITION);
        assert_eq!(proxy.status, "False");
        assert_eq!(proxy.message.as_deref(), Some(why.as_str()));
        let fine = status(&report(Ok(())), &facts(), None, now);
        assert!(
            fine.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == SERVICE_PROXY_CONDITION && c.status == "True")
        );
    }

    #[test]
    fn labels_name_arch_os_and_board() {
        let labels = labels("pi1", &facts());
        assert_eq!(labels["kubernetes.io/arch"], "arm64");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/hostname"], "pi1");
        assert_eq!(
            labels["node.kubernetes.io/instance-type"],
            "Raspberry-Pi-4-Model-B-Rev-1.4"
        );
    }

    #[test]
    fn status_reports_capacity_allocatable_and_ready() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let s = status(&report(Ok(())), &facts(), None, now);
        let cap = s.capacity.as_ref().unwrap();
        assert_eq!(cap["cpu"].0, "4");
        assert_eq!(cap["memory"].0, "8388608Ki");
        assert_eq!(cap["pods"].0, "110");
        assert_eq!(s.allocatable.as_ref().unwrap()["memory"].0, "8286208Ki");
        let ready = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(
            s.node_info.as_ref().unwrap().kubelet_version,
            kubelet_version()
        );
        assert_eq!(s.addresses.as_ref().unwrap()[0].address, "192.168.1.20");
        assert_eq!(
            s.daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port,
            10250
        );
    }

    #[test]
    fn transition_times_move_only_on_change_and_heartbeats_alone_are_not_a_change() {
        let t1 = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let t2 = jiff::Timestamp::from_second(1_700_000_100).unwrap();
        let first = status(&report(Ok(())), &facts(), None, t1);
        let same = status(&report(Ok(())), &facts(), Some(&first), t2);
        assert!(!meaningfully_different(&first, &same));
        let ready = |s: &NodeStatus| {
            s.conditions
                .clone()
                .unwrap()
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .unwrap()
        };
        assert_eq!(ready(&same).last_transition_time, Some(Time(t1)));
        let down = status(
            &report(Err("runtime down".into())),
            &facts(),
            Some(&same),
            t2,
        );
        assert!(meaningfully_different(&same, &down));
        assert_eq!(ready(&down).last_transition_time, Some(Time(t2)));
        assert_eq!(ready(&down).message.as_deref(), Some("runtime down"));
    }
}
