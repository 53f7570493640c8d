#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn ctx() -> SandboxContext {
    SandboxContext {
        attempt: 2,
        log_directory: PathBuf::from("/var/log/pods/shop_web_u-1"),
        cluster_dns: Some("10.43.0.10".parse().unwrap()),
        cluster_domain: "cluster.local".into(),
        host_resolv_conf: ResolvConf::parse("nameserver 192.168.1.1\nsearch lan\n"),
        cgroup_parent: Some("/kubepods/burstable/podu-1".into()),
    }
}

fn pod(spec: serde_json::Value) -> Pod {
    let mut value = json!({
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "u-1",
            "labels": {"app": "web"}, "annotations": {"a": "b"}
        },
        "spec": spec
    });
    if value["spec"]["containers"].is_null() {
        value["spec"]["containers"] = json!([{"name": "app", "image": "app"}]);
    }
    serde_json::from_value(value).unwrap()
}

#[test]
fn metadata_labels_logs_and_dns() {
    let config = sandbox_config(&pod(json!({})), &ctx()).unwrap();
    let meta = config.metadata.unwrap();
    assert_eq!(
        (
            meta.name.as_str(),
            meta.namespace.as_str(),
            meta.uid.as_str()
        ),
        ("web", "shop", "u-1")
    );
    assert_eq!(meta.attempt, 2);
    assert_eq!(config.hostname, "web");
    assert_eq!(config.log_directory, "/var/log/pods/shop_web_u-1");
    assert_eq!(config.labels["app"], "web");
    assert_eq!(config.labels[labels::POD_UID], "u-1");
    assert_eq!(config.annotations["a"], "b");
    let dns = config.dns_config.unwrap();
    assert_eq!(dns.servers, ["10.43.0.10"]);
    assert_eq!(dns.searches[0], "shop.svc.cluster.local");
    let linux = config.linux.unwrap();
    assert_eq!(linux.cgroup_parent, "/kubepods/burstable/podu-1");
    let sc = linux.security_context.unwrap();
    assert!(!sc.privileged);
    let ns = sc.namespace_options.unwrap();
    assert_eq!(ns.network, cri::NamespaceMode::Pod as i32);
    assert_eq!(ns.pid, cri::NamespaceMode::Container as i32);
}

#[test]
fn log_directory_layout() {
    let dir = pod_log_directory(Path::new("/var/log/pods"), &pod(json!({})));
    assert_eq!(dir, Path::new("/var/log/pods/shop_web_u-1"));
}

#[test]
fn hostnames() {
    let config =
        sandbox_config(&pod(json!({"hostname": "db-0", "subdomain": "db"})), &ctx()).unwrap();
    assert_eq!(config.hostname, "db-0");
    let (_, domain) =
        hostname_and_domain(&pod(json!({"subdomain": "db"})), "cluster.local").unwrap();
    assert_eq!(domain, "db.shop.svc.cluster.local");

    let fqdn = json!({"hostname": "db-0", "subdomain": "db", "setHostnameAsFQDN": true});
    assert_eq!(
        sandbox_config(&pod(fqdn), &ctx()).unwrap().hostname,
        "db-0.db.shop.svc.cluster.local"
    );

    let long =
        json!({"hostname": "h".repeat(40), "subdomain": "s".repeat(20), "setHostnameAsFQDN": true});
    let err = sandbox_config(&pod(long), &ctx()).unwrap_err();
    assert!(err.to_string().contains("is too long"), "{err}");
    assert_eq!(err.reason(), "ContainerCreating");

    let bad = sandbox_config(&pod(json!({"hostname": "Not_A_Label"})), &ctx()).unwrap_err();
    assert!(bad.to_string().contains("not a valid DNS label"), "{bad}");

    let mut long_name = pod(json!({}));
    long_name.metadata.name = Some(format!("{}-{}", "a".repeat(62), "b".repeat(10)));
    assert_eq!(
        sandbox_config(&long_name, &ctx()).unwrap().hostname,
        "a".repeat(62)
    );
}

#[test]
fn host_network_keeps_the_node_hostname_and_namespaces() {
    let config =
        sandbox_config(&pod(json!({"hostNetwork": true, "hostIPC": true})), &ctx()).unwrap();
    assert_eq!(config.hostname, "");
    assert_eq!(config.dns_config.unwrap().servers, ["192.168.1.1"]);
    let ns = config
        .linux
        .unwrap()
        .security_context
        .unwrap()
        .namespace_options
        .unwrap();
    assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
    assert_eq!(ns.ipc, cri::NamespaceMode::Node as i32);
}

#[test]
fn host_ports_become_port_mappings() {
    let config = sandbox_config(
        &pod(json!({"containers": [
            {"name": "a", "image": "a", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
                {"containerPort": 9090}
            ]},
            {"name": "b", "image": "b", "ports": [{"containerPort": 80, "hostPort": 8080}]}
        ]})),
        &ctx(),
    )
    .unwrap();
    assert_eq!(
        config.port_mappings,
        [
            cri::PortMapping {
                protocol: cri::Protocol::Tcp as i32,
                container_port: 80,
                host_port: 8080,
                host_ip: String::new()
            },
            cri::PortMapping {
                protocol: cri::Protocol::Udp as i32,
                container_port: 53,
                host_port: 5353,
                host_ip: "127.0.0.1".into()
            },
        ]
    );
}

#[test]
fn pod_security_context_sysctls_and_overhead() {
    let config = sandbox_config(
        &pod(json!({
            "securityContext": {
                "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000, "supplementalGroups": [3000],
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
                "seccompProfile": {"type": "RuntimeDefault"}
            },
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "initContainers": [{"name": "i", "image": "i", "securityContext": {"privileged": true}}]
        })),
        &ctx(),
    )
    .unwrap();
    let linux = config.linux.unwrap();
    assert_eq!(linux.sysctls["net.ipv4.ip_unprivileged_port_start"], "0");
    let sc = linux.security_context.unwrap();
    assert_eq!(sc.run_as_user.unwrap().value, 1000);
    assert_eq!(sc.run_as_group.unwrap().value, 1000);
    assert_eq!(sc.supplemental_groups, [2000, 3000]);
    assert!(sc.privileged);
    assert_eq!(
        sc.seccomp.unwrap().profile_type,
        cri::security_profile::ProfileType::RuntimeDefault as i32
    );
    let overhead = linux.overhead.unwrap();
    assert_eq!(overhead.cpu_shares, 256);
    assert_eq!(overhead.memory_limit_in_bytes, 120 << 20);
}

#[test]
fn forbidden_sysctls_follow_the_safe_list() {
    let pod = pod(json!({"securityContext": {"sysctls": [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
        {"name": "net/ipv4/tcp_syncookies", "value": "1"},
        {"name": "net.core.somaxconn", "value": "1024"},
        {"name": "kernel.msgmax", "value": "1"}
    ]}}));
    assert_eq!(
        forbidden_sysctls(&pod, &[]),
        ["net.core.somaxconn", "kernel.msgmax"]
    );
    assert_eq!(
        forbidden_sysctls(&pod, &["net.core.*", "kernel.msgmax"]),
        Vec::<String>::new()
    );
    let host = self::pod(json!({"hostNetwork": true, "securityContext": {"sysctls": [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
        {"name": "kernel.shm_rmid_forced", "value": "1"}
    ]}}));
    assert_eq!(
        forbidden_sysctls(&host, &[]),
        ["net.ipv4.ip_unprivileged_port_start"]
    );
}
