//! What DNS needs from Services and EndpointSlices, taken out of the API objects once per
//! watch event so that building the zone never touches the full objects again.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label an EndpointSlice names its Service with.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A Service as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// What the name resolves to.
    pub kind: ServiceKind,
    /// The Service's ports.
    pub ports: Vec<PortInfo>,
    /// `spec.publishNotReadyAddresses`: headless names list endpoints that are not ready too.
    pub publish_not_ready: bool,
}

/// How a Service's name resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A virtual address (or one per family); empty while none is assigned yet.
    ClusterIps(Vec<IpAddr>),
    /// `clusterIP: None`: the name lists the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: the name is an alias of another name.
    ExternalName(String),
}

/// A named or unnamed port of a Service or an EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The port's name; SRV records exist only for named ports.
    pub name: Option<String>,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: u16,
}

/// An EndpointSlice as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceInfo {
    /// The slice's namespace.
    pub namespace: String,
    /// The Service the slice belongs to.
    pub service: String,
    /// The ports every endpoint of the slice serves.
    pub ports: Vec<PortInfo>,
    /// The endpoints.
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint of a slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Its addresses (one, in practice).
    pub addresses: Vec<IpAddr>,
    /// The pod's hostname when its subdomain is the Service.
    pub hostname: Option<String>,
    /// Whether it takes traffic; an unset condition counts as ready, as the API says.
    pub ready: bool,
}

impl ServiceInfo {
    /// The DNS view of `service`, or `None` when it has no name or namespace.
    pub fn from_service(service: &Service) -> Option<ServiceInfo> {
        let namespace = service.metadata.namespace.clone()?;
        let name = service.metadata.name.clone()?;
        let spec = service.spec.as_ref();
        let kind = match spec.and_then(|s| s.type_.as_deref()) {
            Some("ExternalName") => ServiceKind::ExternalName(
                spec.and_then(|s| s.external_name.clone())
                    .unwrap_or_default(),
            ),
            _ if spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None") => {
                ServiceKind::Headless
            }
            _ => {
                let listed = spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default();
                let single = spec.and_then(|s| s.cluster_ip.clone());
                let texts = if listed.is_empty() {
                    single.into_iter().collect()
                } else {
                    listed
                };
                ServiceKind::ClusterIps(texts.iter().filter_map(|t| t.parse().ok()).collect())
            }
        };
        let ports = spec
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(PortInfo {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                    port: u16::try_from(p.port).ok()?,
                })
            })
            .collect();
        Some(ServiceInfo {
            namespace,
            name,
            kind,
            ports,
            publish_not_ready: spec
                .and_then(|s| s.publish_not_ready_addresses)
                .unwrap_or(false),
        })
    }
}

impl SliceInfo {
    /// The DNS view of `slice`, or `None` when it names no Service or carries FQDNs.
    pub fn from_slice(slice: &EndpointSlice) -> Option<SliceInfo> {
        if slice.address_type == "FQDN" {
            return None;
        }
        let namespace = slice.metadata.namespace.clone()?;
        let service = slice
            .metadata
            .labels
            .as_ref()?
            .get(SERVICE_NAME_LABEL)?
            .clone();
        let ports = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(PortInfo {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                    port: u16::try_from(p.port?).ok()?,
                })
            })
            .collect();
        let endpoints = slice
            .endpoints
            .iter()
            .map(|e| EndpointInfo {
                addresses: e.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                hostname: e.hostname.clone().filter(|h| !h.is_empty()),
                ready: e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true),
            })
            .collect();
        Some(SliceInfo {
            namespace,
            service,
            ports,
            endpoints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(json: serde_json::Value) -> Service {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn service_kinds_follow_the_spec() {
        let cluster = service(serde_json::json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"clusterIP": "10.43.0.50", "ports": [{"name": "http", "port": 80}]}
        }));
        let info = ServiceInfo::from_service(&cluster).unwrap();
        assert_eq!(
            info.kind,
            ServiceKind::ClusterIps(vec!["10.43.0.50".parse().unwrap()])
        );
        assert_eq!(info.ports[0].protocol, "TCP");
        assert_eq!(info.ports[0].name.as_deref(), Some("http"));

        let headless = service(serde_json::json!({
            "metadata": {"name": "db", "namespace": "apps"},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": true}
        }));
        let info = ServiceInfo::from_service(&headless).unwrap();
        assert_eq!(info.kind, ServiceKind::Headless);
        assert!(info.publish_not_ready);

        let alias = service(serde_json::json!({
            "metadata": {"name": "ext", "namespace": "apps"},
            "spec": {"type": "ExternalName", "externalName": "db.example.test"}
        }));
        assert_eq!(
            ServiceInfo::from_service(&alias).unwrap().kind,
            ServiceKind::ExternalName("db.example.test".into())
        );

        let pending = service(serde_json::json!({
            "metadata": {"name": "new", "namespace": "apps"}, "spec": {}
        }));
        assert_eq!(
            ServiceInfo::from_service(&pending).unwrap().kind,
            ServiceKind::ClusterIps(vec![])
        );
    }

    #[test]
    fn slices_need_a_service_label_and_ip_addresses() {
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db-1", "namespace": "apps",
                         "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "conditions": {"ready": false}},
                {"addresses": ["10.42.0.7"]}
            ]
        }))
        .unwrap();
        let info = SliceInfo::from_slice(&slice).unwrap();
        assert_eq!(info.service, "db");
        assert_eq!(info.ports[0].port, 5432);
        let ready: Vec<bool> = info.endpoints.iter().map(|e| e.ready).collect();
        assert_eq!(ready, [true, false, true]);
        assert_eq!(info.endpoints[0].hostname.as_deref(), Some("db-0"));

        let mut unlabelled = slice.clone();
        unlabelled.metadata.labels = None;
        assert!(SliceInfo::from_slice(&unlabelled).is_none());
        let mut fqdn = slice;
        fqdn.address_type = "FQDN".into();
        assert!(SliceInfo::from_slice(&fqdn).is_none());
    }
}
