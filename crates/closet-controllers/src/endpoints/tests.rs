use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::{build, objects};

fn service(publish: bool, target: IntOrString) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("ns".into()),
            uid: Some("svc-uid".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".into(), "web".into())])),
            publish_not_ready_addresses: Some(publish),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(target),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod(name: &str, ip: &str, ready: bool, port: i32, terminating: bool) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            deletion_timestamp: terminating.then_some(Time(jiff::Timestamp::UNIX_EPOCH)),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("web".into()),
                    container_port: port,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

#[test]
fn named_target_ports_resolve_per_pod_into_separate_subsets() {
    let svc = service(false, IntOrString::String("web".into()));
    let pods = [
        pod("a", "10.0.0.1", true, 8080, false),
        pod("b", "10.0.0.2", true, 9090, false),
    ];
    let ep = objects::endpoints(&svc, &build::members(&svc, &pods, false));
    let subsets = ep.subsets.unwrap();
    assert_eq!(subsets.len(), 2);
    let ports: Vec<i32> = subsets
        .iter()
        .map(|s| s.ports.as_ref().unwrap()[0].port)
        .collect();
    assert_eq!(ports, vec![8080, 9090]);
    let slices = objects::slices(&svc, &build::members(&svc, &pods, true));
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[0].metadata.name.as_deref(), Some("web-0"));
    let owner = &slices[0].metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", "svc-uid")
    );
}

#[test]
fn terminating_pods_leave_endpoints_but_stay_in_slices_marked() {
    let svc = service(false, IntOrString::Int(8080));
    let pods = [
        pod("a", "10.0.0.1", true, 8080, false),
        pod("b", "10.0.0.2", true, 8080, true),
        pod("c", "10.0.0.3", false, 8080, false),
    ];
    let ep = objects::endpoints(&svc, &build::members(&svc, &pods, false));
    let subset = &ep.subsets.unwrap()[0];
    let ips = |a: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
        a.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ips(&subset.addresses), vec!["10.0.0.1"]);
    assert_eq!(ips(&subset.not_ready_addresses), vec!["10.0.0.3"]);
    let slices = objects::slices(&svc, &build::members(&svc, &pods, true));
    let conditions: Vec<(bool, bool, bool)> = slices[0]
        .endpoints
        .iter()
        .map(|e| {
            let c = e.conditions.clone().unwrap();
            (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
        })
        .collect();
    assert_eq!(
        conditions,
        vec![
            (true, true, false),
            (false, true, true),
            (false, false, false)
        ]
    );
}

#[test]
fn publish_not_ready_makes_every_address_ready() {
    let svc = service(true, IntOrString::Int(8080));
    let pods = [pod("c", "10.0.0.3", false, 8080, false)];
    let ep = objects::endpoints(&svc, &build::members(&svc, &pods, false));
    let subset = &ep.subsets.unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap().len(), 1);
    assert!(subset.not_ready_addresses.is_none());
}

#[test]
fn slices_hold_at_most_a_hundred_and_an_empty_service_has_one() {
    let svc = service(false, IntOrString::Int(8080));
    let pods: Vec<Pod> = (0..250)
        .map(|i| {
            pod(
                &format!("p{i}"),
                &format!("10.0.{}.{}", i / 200, i % 200),
                true,
                8080,
                false,
            )
        })
        .collect();
    let slices = objects::slices(&svc, &build::members(&svc, &pods, true));
    let sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    let empty = objects::slices(&svc, &[]);
    assert_eq!(empty.len(), 1);
    assert!(empty[0].endpoints.is_empty());
    let long = "a".repeat(70);
    assert_eq!(objects::slice_name(&long, 12).len(), 63);
}

#[test]
fn finished_pods_and_pods_without_ip_are_left_out() {
    let mut done = pod("d", "10.0.0.4", false, 8080, false);
    done.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    assert!(!build::include(&done, true));
    let mut no_ip = pod("e", "", true, 8080, false);
    no_ip.status.as_mut().unwrap().pod_ip = None;
    assert!(!build::include(&no_ip, true));
}
