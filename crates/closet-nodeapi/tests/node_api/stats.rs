//! `/stats/summary` from CRI stats and /proc.

use closet_cri::cri;
use closet_nodeapi::client::{NodeClient, NodeEndpoint};
use closet_nodeapi::summary::Summary;

use crate::harness::Node;

fn container_stats(id: &str, cpu_nanos: u64, working_set: u64) -> cri::ContainerStats {
    cri::ContainerStats {
        attributes: Some(cri::ContainerAttributes {
            id: id.into(),
            ..Default::default()
        }),
        cpu: Some(cri::CpuUsage {
            timestamp: 1,
            usage_core_nano_seconds: Some(cri::UInt64Value { value: cpu_nanos }),
            usage_nano_cores: None,
        }),
        memory: Some(cri::MemoryUsage {
            timestamp: 1,
            working_set_bytes: Some(cri::UInt64Value { value: working_set }),
            usage_bytes: Some(cri::UInt64Value {
                value: working_set * 2,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn summary_of_the_node_and_its_pods() {
    let node = Node::start().await;
    node.add_web_pod(false);
    *node.runtime.stats.lock().unwrap() = vec![container_stats("c1", 5_000_000_000, 4 << 20)];
    let client = NodeClient::new(node.pki.client_config(&node.pki.apiserver));
    let endpoint = NodeEndpoint {
        host: "127.0.0.1".into(),
        port: node.addr.port(),
    };
    let summary: Summary = client.get_json(&endpoint, "/stats/summary").await.unwrap();
    assert_eq!(summary.node.node_name, "node-1");
    let node_cpu = summary.node.cpu.expect("node CPU from /proc/stat");
    assert!(node_cpu.usage_nano_cores.is_some());
    assert!(node_cpu.window_seconds.unwrap() >= 1.0);
    assert!(summary.node.memory.unwrap().working_set_bytes.unwrap() > 0);

    let pod = &summary.pods[0];
    assert_eq!(
        (
            pod.pod_ref.namespace.as_str(),
            pod.pod_ref.name.as_str(),
            pod.pod_ref.uid.as_str()
        ),
        ("default", "web", "uid-1")
    );
    let app = &pod.containers[0];
    assert_eq!(app.name, "app");
    // The counter did not move between the two samples: no CPU in use.
    assert_eq!(app.cpu.as_ref().unwrap().usage_nano_cores, Some(0));
    assert_eq!(
        app.memory.as_ref().unwrap().working_set_bytes,
        Some(4 << 20)
    );
    assert_eq!(
        node.runtime
            .fake
            .calls()
            .iter()
            .filter(|c| **c == "ListContainerStats")
            .count(),
        2
    );

    // A second summary right away reuses the kept samples: a single new CRI call.
    *node.runtime.stats.lock().unwrap() = vec![container_stats("c1", 7_000_000_000, 4 << 20)];
    let summary: Summary = client.get_json(&endpoint, "/stats/summary").await.unwrap();
    let cores = summary.pods[0].containers[0]
        .cpu
        .as_ref()
        .unwrap()
        .usage_nano_cores
        .unwrap();
    assert!(
        cores > 0,
        "2 s of CPU since the base sample is a positive rate"
    );
    assert_eq!(
        node.runtime
            .fake
            .calls()
            .iter()
            .filter(|c| **c == "ListContainerStats")
            .count(),
        3
    );
}
