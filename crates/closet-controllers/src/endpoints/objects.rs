//! The Endpoints object and the EndpointSlices for a service's [`Member`]s.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Service,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

use super::build::{Member, Port, is_headless};

/// Label naming the service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const SLICE_MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value for [`SLICE_MANAGED_BY_LABEL`], as upstream's.
pub const SLICE_MANAGER: &str = "endpointslice-controller.k8s.io";
/// Label naming the controller that manages an Endpoints object.
pub const ENDPOINTS_MANAGED_BY_LABEL: &str = "endpoints.kubernetes.io/managed-by";
/// This controller's value for [`ENDPOINTS_MANAGED_BY_LABEL`], as upstream's.
pub const ENDPOINTS_MANAGER: &str = "endpoint-controller";
/// Endpoints per slice, as upstream's default `--max-endpoints-per-slice`.
pub const MAX_PER_SLICE: usize = 100;
/// Label upstream puts on endpoints of headless services.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

fn labels(service: &Service, extra: (&str, &str)) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(extra.0.into(), extra.1.into());
    labels
}

fn target_ref(m: &Member) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: Some(m.namespace.clone()),
        name: Some(m.pod_name.clone()),
        uid: m.uid.clone(),
        ..Default::default()
    }
}

/// The Endpoints object for `service`: members grouped into subsets by port set, ready ones
/// in `addresses`, the others in `notReadyAddresses`.
pub fn endpoints(service: &Service, members: &[Member]) -> Endpoints {
    let mut by_ports: BTreeMap<Vec<Port>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    let headless_without_ports = is_headless(service)
        && service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .is_none_or(Vec::is_empty);
    for m in members {
        // A pod none of whose ports resolve serves nothing, except for a port-less headless
        // service, whose addresses are all DNS needs.
        if m.ports.is_empty() && !headless_without_ports {
            continue;
        }
        let address = EndpointAddress {
            ip: m.ip.clone(),
            hostname: m.hostname.clone(),
            node_name: m.node_name.clone(),
            target_ref: Some(target_ref(m)),
        };
        let entry = by_ports.entry(m.ports.clone()).or_default();
        if m.ready {
            entry.0.push(address);
        } else {
            entry.1.push(address);
        }
    }
    let subsets: Vec<EndpointSubset> = by_ports
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: Some(ready).filter(|a| !a.is_empty()),
            not_ready_addresses: Some(not_ready).filter(|a| !a.is_empty()),
            ports: Some(
                ports
                    .into_iter()
                    .map(|p| EndpointPort {
                        name: p.name,
                        port: p.port,
                        protocol: Some(p.protocol),
                        app_protocol: p.app_protocol,
                    })
                    .collect::<Vec<_>>(),
            )
            .filter(|p| !p.is_empty()),
        })
        .collect();
    Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels(
                service,
                (ENDPOINTS_MANAGED_BY_LABEL, ENDPOINTS_MANAGER),
            )),
            ..Default::default()
        },
        subsets: Some(subsets).filter(|s| !s.is_empty()),
    }
}

/// The EndpointSlices for `service`, named `<service>-<n>`: members grouped by address type
/// and port set, at most [`MAX_PER_SLICE`] each; one empty slice when there are none.
pub fn slices(service: &Service, members: &[Member]) -> Vec<EndpointSlice> {
    let mut groups: BTreeMap<(String, Vec<Port>), Vec<&Member>> = BTreeMap::new();
    for m in members {
        let family = if m.ip.contains(':') { "IPv6" } else { "IPv4" };
        groups
            .entry((family.to_owned(), m.ports.clone()))
            .or_default()
            .push(m);
    }
    let mut chunks: Vec<(String, Vec<Port>, Vec<&Member>)> = Vec::new();
    for ((family, ports), group) in groups {
        for chunk in group.chunks(MAX_PER_SLICE) {
            chunks.push((family.clone(), ports.clone(), chunk.to_vec()));
        }
    }
    if chunks.is_empty() {
        chunks.push(("IPv4".into(), Vec::new(), Vec::new()));
    }
    let base = service.metadata.name.clone().unwrap_or_default();
    chunks
        .into_iter()
        .enumerate()
        .map(|(n, (family, ports, group))| slice(service, &base, n, family, ports, &group))
        .collect()
}

fn slice(
    service: &Service,
    base: &str,
    n: usize,
    family: String,
    ports: Vec<Port>,
    group: &[&Member],
) -> EndpointSlice {
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: base.to_owned(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut labels = labels(service, (SLICE_MANAGED_BY_LABEL, SLICE_MANAGER));
    labels.insert(SERVICE_NAME_LABEL.into(), base.to_owned());
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name(base, n)),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        address_type: family,
        endpoints: group
            .iter()
            .map(|m| Endpoint {
                addresses: vec![m.ip.clone()],
                conditions: Some(EndpointConditions {
                    ready: Some(m.ready && !m.terminating),
                    serving: Some(m.ready),
                    terminating: Some(m.terminating),
                }),
                hostname: m.hostname.clone(),
                node_name: m.node_name.clone(),
                target_ref: Some(target_ref(m)),
                ..Default::default()
            })
            .collect(),
        ports: Some(
            ports
                .into_iter()
                .map(|p| SlicePort {
                    name: p.name,
                    port: Some(p.port),
                    protocol: Some(p.protocol),
                    app_protocol: p.app_protocol,
                })
                .collect::<Vec<_>>(),
        )
        .filter(|p| !p.is_empty()),
    }
}

/// The name of slice `n` of a service, within the 63 characters of a label-style name.
pub fn slice_name(service: &str, n: usize) -> String {
    let suffix = format!("-{n}");
    let keep = 63usize.saturating_sub(suffix.len()).min(service.len());
    let mut base = service[..keep].to_owned();
    while base.ends_with('-') {
        base.pop();
    }
    format!("{base}{suffix}")
}
