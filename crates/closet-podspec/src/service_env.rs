//! Service link variables (`KUBERNETES_SERVICE_HOST`, `REDIS_PORT_6379_TCP_ADDR` ...).
//!
//! In-cluster clients (client-go, kube-rs) find the API through `KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT`, so the `kubernetes` Service of the `default` namespace is always
//! exported; other Services of the pod's namespace only when `enableServiceLinks` is not false.
//! The names and values are upstream's (`pkg/kubelet/envvars`), Docker link style included.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};

/// The service variables for `pod`, from the Services the agent can see (all namespaces or
/// just the two that matter; Services without a cluster IP are ignored).
pub fn service_env(pod: &Pod, services: &[Service]) -> BTreeMap<String, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let mut chosen: BTreeMap<&str, &Service> = BTreeMap::new();
    for service in services.iter().filter(|s| cluster_ip(s).is_some()) {
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let service_namespace = service.metadata.namespace.as_deref().unwrap_or_default();
        if service_namespace == "default" && name == "kubernetes" {
            // The API server's Service wins over a same-named Service of the pod's namespace.
            chosen.entry(name).or_insert(service);
        } else if service_namespace == namespace && links {
            chosen.insert(name, service);
        }
    }
    let mut env = BTreeMap::new();
    for service in chosen.values() {
        add_service(&mut env, service);
    }
    env
}

fn cluster_ip(service: &Service) -> Option<&str> {
    let ip = service.spec.as_ref()?.cluster_ip.as_deref()?;
    (!ip.is_empty() && ip != "None").then_some(ip)
}

/// `my-svc` → `MY_SVC`.
fn env_name(name: &str) -> String {
    name.replace('-', "_").to_uppercase()
}

fn add_service(env: &mut BTreeMap<String, String>, service: &Service) {
    let Some(ip) = cluster_ip(service) else {
        return;
    };
    let prefix = env_name(service.metadata.name.as_deref().unwrap_or_default());
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    env.insert(format!("{prefix}_SERVICE_HOST"), ip.to_owned());
    let Some(first) = ports.first() else { return };
    let port_var = format!("{prefix}_SERVICE_PORT");
    env.insert(port_var.clone(), first.port.to_string());
    for port in ports {
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            env.insert(
                format!("{port_var}_{}", env_name(name)),
                port.port.to_string(),
            );
        }
    }
    // Docker link variables.
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    for (index, port) in ports.iter().enumerate() {
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        let lower = protocol.to_lowercase();
        let url = format!("{lower}://{host}:{}", port.port);
        if index == 0 {
            env.insert(format!("{prefix}_PORT"), url.clone());
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", port.port, protocol.to_uppercase());
        env.insert(format!("{port_prefix}_PROTO"), lower);
        env.insert(format!("{port_prefix}_PORT"), port.port.to_string());
        env.insert(format!("{port_prefix}_ADDR"), ip.to_owned());
        env.insert(port_prefix, url);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn service(namespace: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": ports}
        }))
        .unwrap()
    }

    fn pod(links: Option<bool>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"containers": [], "enableServiceLinks": links}
        }))
        .unwrap()
    }

    fn services() -> Vec<Service> {
        vec![
            service(
                "default",
                "kubernetes",
                "10.43.0.1",
                json!([{"name": "https", "port": 443}]),
            ),
            service("shop", "redis-main", "10.43.0.20", json!([{"port": 6379}])),
            service("shop", "headless", "None", json!([{"port": 80}])),
            service("other", "db", "10.43.0.30", json!([{"port": 5432}])),
        ]
    }

    #[test]
    fn kubernetes_and_namespace_services() {
        let env = service_env(&pod(None), &services());
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.43.0.1");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["KUBERNETES_SERVICE_PORT_HTTPS"], "443");
        assert_eq!(env["KUBERNETES_PORT"], "tcp://10.43.0.1:443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP"], "tcp://10.43.0.1:443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP_PROTO"], "tcp");
        assert_eq!(env["KUBERNETES_PORT_443_TCP_PORT"], "443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP_ADDR"], "10.43.0.1");
        assert_eq!(env["REDIS_MAIN_SERVICE_HOST"], "10.43.0.20");
        assert_eq!(env["REDIS_MAIN_PORT_6379_TCP_ADDR"], "10.43.0.20");
        assert!(
            !env.keys()
                .any(|k| k.starts_with("HEADLESS") || k.starts_with("DB_"))
        );
    }

    #[test]
    fn links_disabled_keeps_only_the_api_service() {
        let env = service_env(&pod(Some(false)), &services());
        assert!(env.contains_key("KUBERNETES_SERVICE_HOST"));
        assert!(!env.keys().any(|k| k.starts_with("REDIS")));
    }

    #[test]
    fn ipv6_addresses_are_bracketed_in_urls() {
        let v6 = [service(
            "shop",
            "web",
            "fd00::10",
            json!([{"port": 80, "protocol": "UDP"}]),
        )];
        let env = service_env(&pod(None), &v6);
        assert_eq!(env["WEB_PORT"], "udp://[fd00::10]:80");
        assert_eq!(env["WEB_PORT_80_UDP_ADDR"], "fd00::10");
    }
}
