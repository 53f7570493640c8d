//! Pods reach Services by ClusterIP (both backends, hairpin, a refusal for a Service without
//! endpoints, session affinity), a "LAN client" reaches a NodePort and a LoadBalancer
//! Service, and `externalTrafficPolicy: Local` keeps its source address; closet's table goes
//! away on a clean stop and is replaced, not duplicated, after a kill -9.

use std::collections::BTreeSet;
use std::time::Duration;

use closet_e2e::{eventually, test_ns};

use super::lan::{LAN_CLIENT, LAN_HOST, LanClient};
use super::{
    answer, apply, backend, closet_tables, get_from_node, node_cluster, node_ip, peer, plain_pod,
    service, wait_endpoints, wget_from,
};

#[test]
fn services_reach_pods_from_pods_and_from_the_lan_and_the_table_follows_closet() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let web = "    app: web";
    apply(&ns, &backend("web-a", &format!("{web}\n    name: web-a")));
    apply(&ns, &backend("web-b", &format!("{web}\n    name: web-b")));
    apply(&ns, &plain_pod("client", "sleep 3600"));
    apply(&ns, &service("web", "10.43.0.60", web, "", ""));
    apply(
        &ns,
        &service("self", "10.43.0.61", "    name: web-a", "", ""),
    );
    apply(
        &ns,
        &service("empty", "10.43.0.62", "    app: nothing", "", ""),
    );
    apply(
        &ns,
        &service(
            "sticky",
            "10.43.0.63",
            web,
            "  sessionAffinity: ClientIP\n",
            "",
        ),
    );
    for pod in ["web-a", "web-b", "client"] {
        ns.wait_ready(pod);
    }
    wait_endpoints(&ns, "web", 2);
    wait_endpoints(&ns, "self", 1);

    // ClusterIP: random choice reaches both backends.
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        seen.insert(answer(&ns, "client", "http://10.43.0.60/"));
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["web-a".to_owned(), "web-b".to_owned()])
    );

    // The node itself reaches a ClusterIP: its route into the bridge lets the output hook's
    // DNAT happen (a blackhole route would fail `connect()` first).
    let body = eventually(Duration::from_secs(10), || {
        get_from_node("10.43.0.60:80", "/")
    });
    assert!(body == "web-a" || body == "web-b", "{body}");

    // Hairpin: a pod reaches itself through its own Service.
    assert_eq!(answer(&ns, "web-a", "http://10.43.0.61/"), "web-a");

    // No endpoints: refused at once, not left to time out.
    let refused = eventually(Duration::from_secs(30), || {
        match wget_from(&ns, "client", "http://10.43.0.62/") {
            Err(e) if e.contains("refused") => Ok(e),
            other => Err(format!("not refused yet: {other:?}")),
        }
    });
    assert!(refused.contains("Connection refused"), "{refused}");

    // Session affinity: every request from one client lands on the same backend.
    let first = answer(&ns, "client", "http://10.43.0.63/");
    for _ in 0..12 {
        assert_eq!(answer(&ns, "client", "http://10.43.0.63/"), first);
    }

    // From the LAN: a NodePort on the node's address facing the client, and a LoadBalancer
    // at the node's InternalIP with externalTrafficPolicy Local.
    let node_ip = node_ip(&cluster);
    apply(
        &ns,
        &service(
            "nodeport",
            "10.43.0.64",
            web,
            "  type: NodePort\n",
            "    nodePort: 30080\n",
        ),
    );
    apply(
        &ns,
        &service(
            "lb",
            "10.43.0.65",
            web,
            "  type: LoadBalancer\n  externalTrafficPolicy: Local\n",
            "    nodePort: 30081\n",
        ),
    );
    let status = format!(r#"{{"status":{{"loadBalancer":{{"ingress":[{{"ip":"{node_ip}"}}]}}}}}}"#);
    ns.kubectl_ok(&[
        "patch",
        "service",
        "lb",
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
    wait_endpoints(&ns, "nodeport", 2);
    wait_endpoints(&ns, "lb", 2);
    let lan = LanClient::new();
    let body = eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/"))
    });
    assert!(body == "web-a" || body == "web-b", "{body}");
    // Cluster policy: the backend sees the node (masqueraded), not the client.
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/cgi-bin/peer"))
    }));
    assert!(
        seen.starts_with("10.42."),
        "externalTrafficPolicy Cluster masquerades: {seen}"
    );
    // Local policy, through the LoadBalancer address: the client's own address arrives.
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{node_ip}/cgi-bin/peer"))
    }));
    assert_eq!(seen, LAN_CLIENT);
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30081/cgi-bin/peer"))
    }));
    assert_eq!(seen, LAN_CLIENT);

    // kill -9 leaves the table; the restarted server replaces it with exactly one, and the
    // running pods are reachable through their Services again.
    assert_eq!(closet_tables(), 1);
    cluster.kill9();
    assert_eq!(closet_tables(), 1, "a killed proxy cannot clean up");
    cluster.restart();
    cluster.wait_node_ready();
    assert_eq!(closet_tables(), 1);
    // The restarted agent adopts the running containers before exec reaches them again.
    eventually(Duration::from_secs(90), || {
        let out = ns.kubectl(&["exec", "web-a", "--", "true"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    assert_eq!(answer(&ns, "web-a", "http://10.43.0.61/"), "web-a");
    let body = eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/"))
    });
    assert!(body == "web-a" || body == "web-b", "{body}");

    // A clean stop removes it.
    cluster.stop();
    assert_eq!(closet_tables(), 0);
}
