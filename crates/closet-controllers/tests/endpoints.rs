//! The endpoints controller against a real apiserver, in-process: Endpoints and
//! EndpointSlices follow pod readiness, selector changes and the Service's deletion.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::{client, wait_for};

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Endpoints, Pod, PodSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

async fn add_pod(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "web".into())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            hostname: Some(name.into()),
            subdomain: Some("web".into()),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pods.create(&PostParams::default(), &pod).await.unwrap();
    set_ready(pods, name, ip, ready).await;
}

async fn set_ready(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let status = json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// (ready IPs, not-ready IPs, ports) of the Endpoints object.
fn summary(ep: Option<&Endpoints>) -> (Vec<String>, Vec<String>, Vec<i32>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for subset in ep.and_then(|e| e.subsets.clone()).unwrap_or_default() {
        out.0.extend(
            subset
                .addresses
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.ip),
        );
        out.1.extend(
            subset
                .not_ready_addresses
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.ip),
        );
        out.2
            .extend(subset.ports.unwrap_or_default().into_iter().map(|p| p.port));
    }
    out
}

#[tokio::test]
async fn endpoints_and_slices_follow_pods_and_service() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(closet_controllers::endpoints::run(
        client.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    add_pod(&pods, "a", "10.42.0.5", true).await;
    add_pod(&pods, "b", "10.42.0.6", false).await;
    let svc = Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".into(), "web".into())])),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    services.create(&PostParams::default(), &svc).await.unwrap();

    let want = (
        vec!["10.42.0.5".to_owned()],
        vec!["10.42.0.6".to_owned()],
        vec![8080],
    );
    let got = wait_for(Duration::from_secs(20), || async {
        let s = summary(eps.get_opt("web").await.unwrap().as_ref());
        (s == want, s)
    })
    .await;
    assert_eq!(got, want);
    let ep = eps.get("web").await.unwrap();
    let address = &ep.subsets.unwrap()[0].addresses.clone().unwrap()[0];
    assert_eq!(address.node_name.as_deref(), Some("n1"));
    assert_eq!(address.hostname.as_deref(), Some("a"));
    assert_eq!(
        address.target_ref.as_ref().unwrap().name.as_deref(),
        Some("a")
    );

    let list = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
        .await
        .unwrap()
        .items;
    assert_eq!(list.len(), 1);
    let slice = &list[0];
    let labels = slice.metadata.labels.clone().unwrap();
    assert_eq!(
        labels
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.ports.as_ref().unwrap()[0].port, Some(8080));
    let ready: BTreeMap<String, bool> = slice
        .endpoints
        .iter()
        .map(|e| {
            (
                e.addresses[0].clone(),
                e.conditions.as_ref().unwrap().ready.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ready,
        BTreeMap::from([("10.42.0.5".into(), true), ("10.42.0.6".into(), false)])
    );

    // b becomes ready.
    set_ready(&pods, "b", "10.42.0.6", true).await;
    let want = (
        vec!["10.42.0.5".to_owned(), "10.42.0.6".to_owned()],
        vec![],
        vec![8080],
    );
    let got = wait_for(Duration::from_secs(20), || async {
        let s = summary(eps.get_opt("web").await.unwrap().as_ref());
        (s == want, s)
    })
    .await;
    assert_eq!(got, want);

    // The selector moves away: no addresses, one empty slice.
    let patch = json!({"spec": {"selector": {"app": "other"}}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let got = wait_for(Duration::from_secs(20), || async {
        let s = summary(eps.get_opt("web").await.unwrap().as_ref());
        (s.0.is_empty() && s.1.is_empty(), s)
    })
    .await;
    assert!(got.0.is_empty() && got.1.is_empty(), "{got:?}");
    let empty = wait_for(Duration::from_secs(20), || async {
        let l = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .unwrap()
            .items;
        (l.len() == 1 && l[0].endpoints.is_empty(), l)
    })
    .await;
    assert!(empty.len() == 1 && empty[0].endpoints.is_empty());

    // The service goes: so do its endpoints and slices.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_for(Duration::from_secs(20), || async {
        let ep = eps.get_opt("web").await.unwrap();
        let l = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .unwrap()
            .items;
        let gone = ep.is_none() && l.is_empty();
        (gone, gone)
    })
    .await;
    assert!(gone);

    let _ = stop_tx.send(());
    controller.await.unwrap();
}

#[tokio::test]
async fn services_without_selector_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(closet_controllers::endpoints::run(
        client.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let svc = Service {
        metadata: ObjectMeta {
            name: Some("external".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 5432,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    services.create(&PostParams::default(), &svc).await.unwrap();
    let mine: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.168.1.9"}], "ports": [{"port": 5432}]}],
    }))
    .unwrap();
    eps.create(&PostParams::default(), &mine).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kept = summary(eps.get_opt("external").await.unwrap().as_ref());
    assert_eq!(kept.0, vec!["192.168.1.9".to_owned()]);
    let _ = stop_tx.send(());
    controller.await.unwrap();
}
