//! Pods across nodes: two agents, each in its own network namespace on one bridge (two
//! machines on one LAN), route each other's pod CIDRs through the other's address, so a
//! pod on one node reaches a pod on the other directly; logs and exec reach pods on both
//! through their node APIs; each finds the other's Service by name through its own node's
//! DNS and reaches it through its own node's proxy; a Node's removal takes its route away.
//!
//! `.config/nextest.toml` runs this binary in the node-agent group (one at a time).

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_e2e::{MultiNode, NetnsNode, TestNs, eventually, node};

/// Why this machine cannot run node agents in namespaces, if it cannot.
fn skip_reason() -> Option<String> {
    if !closet_e2e::kubectl_available() {
        return Some("no kubectl on the PATH".into());
    }
    if let Err(e) = closet_cri::find_binaries(&std::env::var_os("PATH").unwrap_or_default()) {
        return Some(e.to_string());
    }
    if let Some(why) = closet_e2e::netns::unavailable() {
        return Some(why);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned));
    (euid.as_deref() != Some("0")).then(|| "network namespaces and agents need root".to_owned())
}

fn jsonpath(ns: &TestNs<'_>, args: &[&str], path: &str) -> String {
    let mut all = args.to_vec();
    let out = format!("jsonpath={path}");
    all.extend(["-o", &out]);
    ns.kubectl_ok(&all).trim().to_owned()
}

/// A busybox httpd pod pinned to `node`, serving a page that names the node.
fn web_pod(name: &str, node: &str) -> String {
    let script = format!(
        "echo serving on {node}; mkdir -p /www && echo hello from {node} > /www/index.html && exec httpd -f -v -p 8080 -h /www"
    );
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n  containers:\n  - name: web\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {script:?}]\n",
        image = node::BUSYBOX,
    )
}

/// Closet's routes in `node`'s namespace (`ip route show proto 0xc1`).
fn closet_routes(node: &NetnsNode) -> String {
    node.netns().ip(&["route", "show", "proto", "0xc1"])
}

/// `wget` from pod `from` to `url`, retried until it answers `page`.
fn fetch(ns: &TestNs<'_>, nodes: &MultiNode, from: &str, url: &str, page: &str) {
    let got = closet_e2e::try_eventually(Duration::from_secs(60), || {
        // Bounded by busybox's `timeout`: this busybox's `wget -T` crashes.
        let out = ns.kubectl(&["exec", from, "--", "timeout", "10", "wget", "-qO-", url]);
        if out.success() && out.stdout.trim() == page {
            Ok(())
        } else {
            Err(format!("{from} -> {url}: {}", out.describe()))
        }
    });
    if let Err(e) = got {
        let routes: String = nodes
            .nodes()
            .iter()
            .map(|n| format!("{}: {}\n", n.name(), n.netns().ip(&["route"])))
            .collect();
        nodes.fail(format!("{e}\nroutes:\n{routes}"));
    }
}

#[test]
fn pods_on_two_nodes_reach_each_other_through_host_gateway_routes() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return;
    }
    let nodes = MultiNode::start(2, "");
    nodes.import_busybox();
    let ns = TestNs::new(nodes.cluster());
    let (a, b) = (nodes.node(0), nodes.node(1));

    // Both nodes report their namespace's address and have pod CIDRs of their own.
    let mut cidrs = Vec::new();
    for node in [a, b] {
        let ip = jsonpath(
            &ns,
            &["get", "node", node.name()],
            "{.status.addresses[?(@.type==\"InternalIP\")].address}",
        );
        assert_eq!(
            ip,
            node.address().to_string(),
            "{}'s InternalIP",
            node.name()
        );
        let cidr = jsonpath(&ns, &["get", "node", node.name()], "{.spec.podCIDR}");
        assert!(
            cidr.starts_with("10.42."),
            "{}'s pod CIDR {cidr:?}",
            node.name()
        );
        cidrs.push(cidr);
    }
    assert_ne!(cidrs[0], cidrs[1], "the nodes share a pod CIDR");

    // Each namespace routes the other's pod CIDR through the other's address, and only that.
    for (node, other, other_cidr, own_cidr) in
        [(a, b, &cidrs[1], &cidrs[0]), (b, a, &cidrs[0], &cidrs[1])]
    {
        let want = format!("{other_cidr} via {}", other.address());
        eventually(Duration::from_secs(30), || {
            let routes = closet_routes(node);
            if routes.contains(&want) && !routes.contains(own_cidr.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "{}'s closet routes: {routes:?}, want {want}",
                    node.name()
                ))
            }
        });
    }

    // The host namespace (where no agent runs) gets no pod routes: only the namespaces do.
    let host = closet_e2e::netns::ip(&["route", "show", "proto", "0xc1"]);
    assert!(
        host.trim().is_empty(),
        "closet routes in the host namespace: {host}"
    );

    for (pod, node) in [("web-a", a), ("web-b", b)] {
        let path = ns.write(&format!("{pod}.yaml"), &web_pod(pod, node.name()));
        ns.kubectl_ok(&["apply", "-f", &path]);
    }
    for pod in ["web-a", "web-b"] {
        let out = ns.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{pod}"),
            "--timeout=120s",
        ]);
        if !out.success() {
            nodes.fail(format!("{pod} never became Ready: {}", out.describe()));
        }
    }
    let mut ips = Vec::new();
    for (pod, node, cidr) in [("web-a", a, &cidrs[0]), ("web-b", b, &cidrs[1])] {
        let on = jsonpath(&ns, &["get", "pod", pod], "{.spec.nodeName}");
        assert_eq!(on, node.name(), "{pod} runs on the wrong node");
        let ip = jsonpath(&ns, &["get", "pod", pod], "{.status.podIP}");
        let prefix = cidr.trim_end_matches("0/24");
        assert!(ip.starts_with(prefix), "{pod}'s IP {ip} is not in {cidr}");
        ips.push(ip);
    }

    // Pod to pod across the nodes, both ways.
    fetch(
        &ns,
        &nodes,
        "web-a",
        &format!("http://{}:8080/", ips[1]),
        &format!("hello from {}", b.name()),
    );
    fetch(
        &ns,
        &nodes,
        "web-b",
        &format!("http://{}:8080/", ips[0]),
        &format!("hello from {}", a.name()),
    );

    // Logs and exec go through each node's API at its namespace address.
    for (pod, node) in [("web-a", a), ("web-b", b)] {
        let logs = ns.kubectl_ok(&["logs", pod]);
        assert!(
            logs.contains(&format!("serving on {}", node.name())),
            "{pod} logs: {logs}"
        );
        let hostname = ns.kubectl_ok(&["exec", pod, "--", "hostname"]);
        assert_eq!(hostname.trim(), pod);
    }

    // Services across the nodes: each pod finds the other's Service by name through its own
    // node's DNS, and its node's proxy takes the connection to the pod on the other node.
    for (service, pod) in [("svc-a", "web-a"), ("svc-b", "web-b")] {
        ns.kubectl_ok(&["create", "service", "clusterip", service, "--tcp=80:8080"]);
        ns.kubectl_ok(&["set", "selector", "service", service, &format!("app={pod}")]);
    }
    let fqdn = format!("svc-a.{}.svc.cluster.local", ns.name());
    for (from, name, page) in [
        ("web-a", "svc-b", format!("hello from {}", b.name())),
        ("web-b", fqdn.as_str(), format!("hello from {}", a.name())),
    ] {
        let script = format!(
            "ip=$(nslookup {name} | awk '/^Address: /{{a=$2}} END{{print a}}'); echo \"resolved $ip\" >&2; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 nc $ip 80 | tail -n 1"
        );
        let got = closet_e2e::try_eventually(Duration::from_secs(60), || {
            let out = ns.kubectl(&["exec", from, "--", "sh", "-c", &script]);
            if out.success() && out.stdout.trim() == page {
                Ok(())
            } else {
                Err(format!("{from} -> {name}: {}", out.describe()))
            }
        });
        if let Err(e) = got {
            nodes.fail(e);
        }
    }

    // A node whose address is only reachable through a router gets no route, and the
    // agents say why, naming both nodes.
    let far = "apiVersion: v1\nkind: Node\nmetadata:\n  name: far-away\n";
    let path = ns.write("far.yaml", far);
    ns.kubectl_ok(&["create", "-f", &path]);
    ns.kubectl_ok(&[
        "patch",
        "node",
        "far-away",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"addresses":[{"type":"InternalIP","address":"192.168.77.5"}]}}"#,
    ]);
    let warning = format!(
        "node far-away's address 192.168.77.5 is not on a network node {} is attached to",
        a.name()
    );
    eventually(Duration::from_secs(30), || {
        if a.log().contains(&warning) {
            Ok(())
        } else {
            Err(format!("{}'s log has no {warning:?}", a.name()))
        }
    });
    let far_cidr = jsonpath(&ns, &["get", "node", "far-away"], "{.spec.podCIDR}");
    assert!(!far_cidr.is_empty(), "far-away got no pod CIDR");
    assert!(
        !closet_routes(a).contains(&far_cidr),
        "a route to far-away's pods: {}",
        closet_routes(a)
    );
    ns.kubectl_ok(&["delete", "node", "far-away"]);

    // Node b's machine dies and the node is deleted: a loses the route to b's pods.
    nodes.kill(1);
    ns.kubectl_ok(&["delete", "node", b.name(), "--wait=false"]);
    eventually(Duration::from_secs(30), || {
        let routes = closet_routes(a);
        if routes.contains(cidrs[1].as_str()) {
            Err(format!("{}'s closet routes still: {routes:?}", a.name()))
        } else {
            Ok(())
        }
    });
    // The node's own and the host's routes are untouched: a still reaches its own pod.
    let own = ns.kubectl(&[
        "exec",
        "web-a",
        "--",
        "timeout",
        "10",
        "wget",
        "-qO-",
        &format!("http://{}:8080/", ips[0]),
    ]);
    assert_eq!(
        own.stdout.trim(),
        format!("hello from {}", a.name()),
        "{}",
        own.describe()
    );
}
