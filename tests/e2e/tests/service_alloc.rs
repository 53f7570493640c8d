//! Service addresses through real kubectl: `kubectl create service` of each type, `expose`,
//! the `kubernetes` Service, a collision as kubectl prints it, and the ranges set in the
//! server's config file.

#![allow(clippy::unwrap_used, reason = "tests")]

use closet_e2e::{Cluster, TestNs};

fn in_range(ip: &str, prefix: &str) -> bool {
    ip.starts_with(prefix) && ip.parse::<std::net::Ipv4Addr>().is_ok()
}

#[test]
fn kubectl_creates_services_of_every_type() {
    if !closet_e2e::kubectl_available() {
        eprintln!("skipping: no kubectl on the PATH");
        return;
    }
    let cluster = Cluster::shared();
    let ns = TestNs::new(cluster);
    let jsonpath = |name: &str, path: &str| {
        ns.kubectl_ok(&["get", "svc", name, "-o", &format!("jsonpath={{{path}}}")])
    };

    ns.kubectl_ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let web_ip = jsonpath("web", ".spec.clusterIP");
    assert!(in_range(&web_ip, "10.43."), "{web_ip}");
    assert_eq!(jsonpath("web", ".spec.ipFamilies[0]"), "IPv4");

    ns.kubectl_ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let node_port: u16 = jsonpath("np", ".spec.ports[0].nodePort").parse().unwrap();
    assert!((30000..=32767).contains(&node_port), "{node_port}");

    ns.kubectl_ok(&["create", "service", "loadbalancer", "lb", "--tcp=443"]);
    let lb_port: u16 = jsonpath("lb", ".spec.ports[0].nodePort").parse().unwrap();
    assert_ne!(lb_port, node_port);

    ns.kubectl_ok(&["create", "service", "clusterip", "db", "--clusterip=None"]);
    assert_eq!(jsonpath("db", ".spec.clusterIP"), "None");

    ns.kubectl_ok(&[
        "create",
        "service",
        "externalname",
        "nas",
        "--external-name=nas.home.arpa",
    ]);
    assert_eq!(jsonpath("nas", ".spec.clusterIP"), "");
    let table = ns.kubectl_ok(&["get", "svc", "nas", "--no-headers"]);
    assert!(
        table.contains("ExternalName") && table.contains("nas.home.arpa"),
        "{table}"
    );

    ns.kubectl_ok(&["expose", "service", "web", "--name=web-alt", "--port=90"]);
    let alt_ip = jsonpath("web-alt", ".spec.clusterIP");
    assert!(in_range(&alt_ip, "10.43.") && alt_ip != web_ip, "{alt_ip}");

    // Collisions, as kubectl prints them.
    let clash = ns.kubectl_err(&[
        "create",
        "service",
        "clusterip",
        "clash",
        "--tcp=80",
        &format!("--clusterip={web_ip}"),
    ]);
    assert!(
        clash.contains("spec.clusterIPs") && clash.contains("provided IP is already allocated"),
        "{clash}"
    );
    let clash = ns.kubectl_err(&[
        "create",
        "service",
        "nodeport",
        "clash",
        "--tcp=80",
        &format!("--node-port={node_port}"),
    ]);
    assert!(
        clash.contains("spec.ports[0].nodePort")
            && clash.contains("provided port is already allocated"),
        "{clash}"
    );

    let kubernetes =
        cluster.kubectl_ok(&["get", "svc", "kubernetes", "-n", "default", "--no-headers"]);
    assert!(
        kubernetes.contains("10.43.0.1 ") && kubernetes.contains("443/TCP"),
        "{kubernetes}"
    );
    let endpoints = cluster.kubectl_ok(&[
        "get",
        "endpoints",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.subsets[0].ports[0].port}",
    ]);
    assert_eq!(endpoints, cluster.port().to_string());
}

#[test]
fn the_ranges_come_from_the_config_file() {
    if !closet_e2e::kubectl_available() {
        eprintln!("skipping: no kubectl on the PATH");
        return;
    }
    let cluster =
        Cluster::start_with("service-cidr: 10.96.0.0/16\nservice-node-port-range: 31000-31099\n");
    let ip = cluster.kubectl_ok(&[
        "get",
        "svc",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(ip, "10.96.0.1");
    let ns = TestNs::new(&cluster);
    ns.kubectl_ok(&["create", "service", "nodeport", "np", "--tcp=80"]);
    let port: u16 = ns
        .kubectl_ok(&[
            "get",
            "svc",
            "np",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .parse()
        .unwrap();
    assert!((31000..=31099).contains(&port), "{port}");
    let ip = ns.kubectl_ok(&["get", "svc", "np", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(in_range(&ip, "10.96."), "{ip}");
}
