//! Service addresses through the real API: kube-rs against the in-process apiserver.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeSet;

use closet_apiserver::services::{PortRange, ServiceCidr};
use closet_apiserver::{ApiServer, Config, auth::User};
use closet_store::sqlite::{Options, SqliteStore};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

struct Server {
    _dir: tempfile::TempDir,
    api: ApiServer,
    client: kube::Client,
}

async fn server_with(config: Config) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, config);
    api.bootstrap().await.unwrap();
    let admin = User {
        name: "test-admin".into(),
        groups: vec!["system:masters".into()],
    };
    let client = kube::Client::new(api.router_as(admin), "default");
    Server {
        _dir: dir,
        api,
        client,
    }
}

async fn server() -> Server {
    server_with(Config::default()).await
}

fn service(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn create(api: &Api<Service>, name: &str, spec: serde_json::Value) -> kube::Result<Service> {
    api.create(&PostParams::default(), &service(name, spec))
        .await
}

fn invalid(result: kube::Result<Service>) -> String {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        other => panic!("expected a 422, got {other:?}"),
    }
}

fn cluster_ip(svc: &Service) -> String {
    svc.spec
        .as_ref()
        .unwrap()
        .cluster_ip
        .clone()
        .unwrap_or_default()
}

fn node_ports(svc: &Service) -> Vec<i32> {
    svc.spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.node_port)
        .collect()
}

#[tokio::test]
async fn cluster_ips_are_allocated_and_collisions_are_422() {
    let s = server().await;
    let api: Api<Service> = Api::default_namespaced(s.client.clone());
    let web = create(
        &api,
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    let ip = cluster_ip(&web);
    let cidr = ServiceCidr::default();
    assert!(cidr.assignable(ip.parse().unwrap()), "{ip}");
    let spec = web.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ips.as_deref(), Some(&[ip.clone()][..]));
    assert_eq!(spec.ip_families.as_deref(), Some(&["IPv4".to_string()][..]));
    assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));

    let message = invalid(
        create(
            &api,
            "copy",
            json!({"clusterIP": ip, "ports": [{"port": 80}]}),
        )
        .await,
    );
    assert!(message.contains("spec.clusterIPs"), "{message}");
    assert!(
        message.contains("provided IP is already allocated"),
        "{message}"
    );
    let message = invalid(
        create(
            &api,
            "far",
            json!({"clusterIP": "10.99.0.1", "ports": [{"port": 80}]}),
        )
        .await,
    );
    assert!(message.contains("is not in the valid range"), "{message}");
    // The kubernetes Service holds the first address; the DNS address is free to ask for.
    let message = invalid(
        create(
            &api,
            "first",
            json!({"clusterIP": "10.43.0.1", "ports": [{"port": 80}]}),
        )
        .await,
    );
    assert!(message.contains("already allocated"), "{message}");
    let dns = create(
        &api,
        "dns",
        json!({"clusterIP": "10.43.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}),
    )
    .await
    .unwrap();
    assert_eq!(cluster_ip(&dns), "10.43.0.10");

    // Deleting a Service frees its address.
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let again = create(
        &api,
        "again",
        json!({"clusterIP": ip, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    assert_eq!(cluster_ip(&again), ip);
}

#[tokio::test]
async fn node_ports_follow_the_type() {
    let s = server_with(Config {
        service_node_port_range: PortRange::parse("31000-31099").unwrap(),
        ..Config::default()
    })
    .await;
    let api: Api<Service> = Api::default_namespaced(s.client.clone());
    let np = create(&api, "np", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31050}, {"name": "b", "port": 81}]}))
        .await;
    let np = np.unwrap();
    let ports = node_ports(&np);
    assert_eq!(ports[0], 31050);
    assert!((31000..=31099).contains(&ports[1]), "{ports:?}");

    let message = invalid(
        create(
            &api,
            "clash",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31050}]}),
        )
        .await,
    );
    assert!(message.contains("spec.ports[0].nodePort"), "{message}");
    assert!(
        message.contains("provided port is already allocated"),
        "{message}"
    );
    let message = invalid(
        create(
            &api,
            "out",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]}),
        )
        .await,
    );
    assert!(
        message.contains("The range of valid ports is 31000-31099"),
        "{message}"
    );

    // ClusterIP -> LoadBalancer allocates; -> ClusterIP drops the node ports;
    // -> ExternalName drops the address.
    let svc = create(&api, "moving", json!({"ports": [{"port": 80}]}))
        .await
        .unwrap();
    let ip = cluster_ip(&svc);
    assert!(node_ports(&svc).is_empty());
    let patch = |v: serde_json::Value| Patch::Merge(v);
    let lb = api
        .patch(
            "moving",
            &PatchParams::default(),
            &patch(json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}})),
        )
        .await
        .unwrap();
    assert_eq!(cluster_ip(&lb), ip);
    assert_eq!(node_ports(&lb).len(), 1);
    let spec = lb.spec.as_ref().unwrap();
    assert!(spec.health_check_node_port.is_some());
    assert_eq!(spec.allocate_load_balancer_node_ports, Some(true));
    let back = api
        .patch(
            "moving",
            &PatchParams::default(),
            &patch(json!({"spec": {"type": "ClusterIP"}})),
        )
        .await
        .unwrap();
    assert!(node_ports(&back).is_empty());
    let spec = back.spec.as_ref().unwrap();
    assert!(spec.health_check_node_port.is_none());
    assert!(spec.external_traffic_policy.is_none());
    assert_eq!(cluster_ip(&back), ip);
    let external = api
        .patch(
            "moving",
            &PatchParams::default(),
            &patch(json!({"spec": {"type": "ExternalName", "externalName": "nas.home.arpa"}})),
        )
        .await
        .unwrap();
    assert!(external.spec.as_ref().unwrap().cluster_ip.is_none());
    // Its address is free again.
    create(
        &api,
        "taker",
        json!({"clusterIP": ip, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();

    // A replace that leaves the allocated values out keeps them.
    let mut replaced = api.get("np").await.unwrap();
    let spec = replaced.spec.as_mut().unwrap();
    spec.cluster_ip = None;
    spec.cluster_ips = None;
    for p in spec.ports.iter_mut().flatten() {
        p.node_port = None;
    }
    let replaced = api
        .replace("np", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(node_ports(&replaced), ports);
    assert_eq!(cluster_ip(&replaced), cluster_ip(&np));
}

#[tokio::test]
async fn headless_and_external_name_services_have_no_address() {
    let s = server().await;
    let api: Api<Service> = Api::default_namespaced(s.client.clone());
    let headless = create(
        &api,
        "db",
        json!({"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}),
    )
    .await
    .unwrap();
    assert_eq!(cluster_ip(&headless), "None");
    assert_eq!(
        headless.spec.as_ref().unwrap().cluster_ips.as_deref(),
        Some(&["None".to_string()][..])
    );
    let ext = create(
        &api,
        "nas",
        json!({"type": "ExternalName", "externalName": "nas.home.arpa"}),
    )
    .await
    .unwrap();
    let spec = ext.spec.as_ref().unwrap();
    assert!(spec.cluster_ip.is_none() && spec.cluster_ips.is_none() && spec.ip_families.is_none());
    let message = invalid(create(&api, "ext2", json!({"type": "ExternalName"})).await);
    assert!(message.contains("spec.externalName"), "{message}");
}

#[tokio::test]
async fn concurrent_creates_get_distinct_addresses_and_ports() {
    let s = server_with(Config {
        service_cidr: ServiceCidr::parse("10.77.0.0/26").unwrap(),
        service_node_port_range: PortRange::parse("30000-30059").unwrap(),
        ..Config::default()
    })
    .await;
    let api: Api<Service> = Api::default_namespaced(s.client.clone());
    let creates = (0..40).map(|i| {
        let api = api.clone();
        async move {
            create(
                &api,
                &format!("s{i}"),
                json!({"type": "NodePort", "ports": [{"port": 80}]}),
            )
            .await
            .unwrap()
        }
    });
    let created = futures::future::join_all(creates).await;
    let ips: BTreeSet<String> = created.iter().map(cluster_ip).collect();
    let ports: BTreeSet<i32> = created.iter().flat_map(node_ports).collect();
    assert_eq!(ips.len(), 40, "{ips:?}");
    assert_eq!(ports.len(), 40, "{ports:?}");
    // 64 addresses: network, broadcast, .1 (kubernetes) and .10 are never drawn, so 60 can be
    // drawn, 40 are gone and 20 remain; the next 20 succeed and then the range is full.
    for i in 40..60 {
        create(&api, &format!("s{i}"), json!({"ports": [{"port": 80}]}))
            .await
            .unwrap();
    }
    match create(&api, "one-too-many", json!({"ports": [{"port": 80}]})).await {
        Err(kube::Error::Api(status)) => {
            assert!(status.message.contains("range is full"), "{status:?}")
        }
        other => panic!("expected the range to be full, got {other:?}"),
    }
}

#[tokio::test]
async fn the_kubernetes_service_points_at_the_server_and_comes_back() {
    let endpoint: std::net::SocketAddr = "192.168.1.10:6443".parse().unwrap();
    let s = server_with(Config {
        kubernetes_endpoint: Some(endpoint),
        ..Config::default()
    })
    .await;
    let services: Api<Service> = Api::default_namespaced(s.client.clone());
    let svc = services.get("kubernetes").await.unwrap();
    assert_eq!(cluster_ip(&svc), "10.43.0.1");
    let spec = svc.spec.as_ref().unwrap();
    assert!(spec.selector.is_none());
    let port = &spec.ports.as_ref().unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(6443))
    );
    let eps: Api<Endpoints> = Api::default_namespaced(s.client.clone());
    let ep = eps.get("kubernetes").await.unwrap();
    let subset = &ep.subsets.as_ref().unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "192.168.1.10");
    assert_eq!(subset.ports.as_ref().unwrap()[0].port, 6443);
    let slices: Api<EndpointSlice> = Api::default_namespaced(s.client.clone());
    let slice = slices.get("kubernetes").await.unwrap();
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.endpoints[0].addresses, ["192.168.1.10"]);
    let labels = slice.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/service-name"], "kubernetes");
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "kube-apiserver"
    );

    // Deleted, it comes back with the same address; a second bootstrap changes nothing.
    services
        .delete("kubernetes", &DeleteParams::default())
        .await
        .unwrap();
    slices
        .delete("kubernetes", &DeleteParams::default())
        .await
        .unwrap();
    let before = eps
        .get("kubernetes")
        .await
        .unwrap()
        .metadata
        .resource_version;
    s.api.bootstrap().await.unwrap();
    assert_eq!(
        cluster_ip(&services.get("kubernetes").await.unwrap()),
        "10.43.0.1"
    );
    assert!(slices.get("kubernetes").await.is_ok());
    assert_eq!(
        eps.get("kubernetes")
            .await
            .unwrap()
            .metadata
            .resource_version,
        before
    );
}

#[tokio::test]
async fn dry_run_allocates_nothing() {
    let s = server().await;
    let api: Api<Service> = Api::default_namespaced(s.client.clone());
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let dry = api
        .create(
            &params,
            &service(
                "dry",
                json!({"clusterIP": "10.43.0.77", "ports": [{"port": 80}]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(cluster_ip(&dry), "10.43.0.77");
    assert!(api.get_opt("dry").await.unwrap().is_none());
    create(
        &api,
        "real",
        json!({"clusterIP": "10.43.0.77", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
}
