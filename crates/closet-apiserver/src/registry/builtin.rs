//! The built-in kinds, as upstream Kubernetes 1.35 serves them (names, short names,
//! categories, scope, subresources). A flat table on purpose: one line per kind.

use super::{NameRule, ResourceInfo};

/// Scope of a kind.
#[derive(Clone, Copy)]
enum Scope {
    Namespaced,
    Cluster,
}
use Scope::{Cluster, Namespaced};

/// One row of the table below.
struct Row {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    all: bool,
    scope: Scope,
    subresources: &'static [&'static str],
    name_rule: NameRule,
    fields: &'static [&'static str],
}

const S: NameRule = NameRule::Subdomain;
const STATUS: &[&str] = &["status"];
const SCALE: &[&str] = &["scale", "status"];
const NONE: &[&str] = &[];

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];
const EVENTS_V1_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // core/v1
    Row { group: "", version: "v1", kind: "Namespace", plural: "namespaces", short: &["ns"], all: false, scope: Cluster, subresources: &["status", "finalize"], name_rule: NameRule::Label, fields: &["status.phase"] },
    Row { group: "", version: "v1", kind: "Pod", plural: "pods", short: &["po"], all: true, scope: Namespaced, subresources: &["status", "binding", "eviction"], name_rule: S, fields: POD_FIELDS },
    Row { group: "", version: "v1", kind: "Service", plural: "services", short: &["svc"], all: true, scope: Namespaced, subresources: STATUS, name_rule: NameRule::Label, fields: NONE },
    Row { group: "", version: "v1", kind: "Endpoints", plural: "endpoints", short: &["ep"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", short: &["cm"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "Secret", plural: "secrets", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: &["type"] },
    Row { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", short: &["sa"], all: false, scope: Namespaced, subresources: &["token"], name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "Event", plural: "events", short: &["ev"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: EVENT_FIELDS },
    Row { group: "", version: "v1", kind: "Node", plural: "nodes", short: &["no"], all: false, scope: Cluster, subresources: &["status", "proxy"], name_rule: S, fields: &["spec.unschedulable"] },
    Row { group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", short: &["pv"], all: false, scope: Cluster, subresources: STATUS, name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", short: &["pvc"], all: false, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "LimitRange", plural: "limitranges", short: &["limits"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    Row { group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", short: &["quota"], all: false, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    // apps/v1
    Row { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", short: &["deploy"], all: true, scope: Namespaced, subresources: SCALE, name_rule: S, fields: NONE },
    Row { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", short: &["rs"], all: true, scope: Namespaced, subresources: SCALE, name_rule: S, fields: &["status.replicas"] },
    Row { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", short: &["sts"], all: true, scope: Namespaced, subresources: SCALE, name_rule: S, fields: NONE },
    Row { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", short: &["ds"], all: true, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    Row { group: "apps", version: "v1", kind: "ControllerRevision", plural: "controllerrevisions", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    // batch/v1
    Row { group: "batch", version: "v1", kind: "Job", plural: "jobs", short: &[], all: true, scope: Namespaced, subresources: STATUS, name_rule: S, fields: &["status.successful"] },
    Row { group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", short: &["cj"], all: true, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    // autoscaling/v2
    Row { group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", short: &["hpa"], all: true, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    // networking.k8s.io/v1
    Row { group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", short: &["ing"], all: false, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    Row { group: "networking.k8s.io", version: "v1", kind: "IngressClass", plural: "ingressclasses", short: &[], all: false, scope: Cluster, subresources: NONE, name_rule: S, fields: NONE },
    Row { group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", short: &["netpol"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    // discovery.k8s.io/v1
    Row { group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: &["addressType"] },
    // events.k8s.io/v1
    Row { group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", short: &["ev"], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: EVENTS_V1_FIELDS },
    // coordination.k8s.io/v1
    Row { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: S, fields: NONE },
    // scheduling.k8s.io/v1
    Row { group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", plural: "priorityclasses", short: &["pc"], all: false, scope: Cluster, subresources: NONE, name_rule: S, fields: NONE },
    // policy/v1
    Row { group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", short: &["pdb"], all: false, scope: Namespaced, subresources: STATUS, name_rule: S, fields: NONE },
    // rbac.authorization.k8s.io/v1
    Row { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: NameRule::PathSegment, fields: NONE },
    Row { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", short: &[], all: false, scope: Namespaced, subresources: NONE, name_rule: NameRule::PathSegment, fields: NONE },
    Row { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", short: &[], all: false, scope: Cluster, subresources: NONE, name_rule: NameRule::PathSegment, fields: NONE },
    Row { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", short: &[], all: false, scope: Cluster, subresources: NONE, name_rule: NameRule::PathSegment, fields: NONE },
    // storage.k8s.io/v1
    Row { group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", short: &["sc"], all: false, scope: Cluster, subresources: NONE, name_rule: S, fields: NONE },
    // apiextensions.k8s.io/v1
    Row { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", short: &["crd", "crds"], all: false, scope: Cluster, subresources: STATUS, name_rule: S, fields: NONE },
    // admissionregistration.k8s.io/v1
    Row { group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingWebhookConfiguration", plural: "mutatingwebhookconfigurations", short: &[], all: false, scope: Cluster, subresources: NONE, name_rule: S, fields: NONE },
    Row { group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingWebhookConfiguration", plural: "validatingwebhookconfigurations", short: &[], all: false, scope: Cluster, subresources: NONE, name_rule: S, fields: NONE },
];

/// Every verb a stored kind serves.
pub(crate) const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Review kinds: a client POSTs a question and gets the answer back; nothing is stored.
/// SelfSubjectReview is also served as v1beta1, which kubectl 1.27 asks for.
const REVIEWS: &[(&str, &str, &str)] = &[
    ("authentication.k8s.io", "v1", "SelfSubjectReview"),
    ("authentication.k8s.io", "v1", "TokenReview"),
    ("authentication.k8s.io", "v1beta1", "SelfSubjectReview"),
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
];

/// Discovery order of groups: core first, then as upstream lists them.
const GROUP_ORDER: &[&str] = &[
    "",
    "apps",
    "events.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
];

/// Sort key of a group in discovery; unknown groups (CRDs) go last, alphabetically.
pub(super) fn group_rank(group: &str) -> (usize, String) {
    let rank = GROUP_ORDER
        .iter()
        .position(|g| *g == group)
        .unwrap_or(GROUP_ORDER.len());
    (rank, group.to_string())
}

/// Every built-in resource.
pub(super) fn resources() -> Vec<ResourceInfo> {
    TABLE
        .iter()
        .map(|r| ResourceInfo {
            group: r.group.to_string(),
            version: r.version.to_string(),
            kind: r.kind.to_string(),
            plural: r.plural.to_string(),
            singular: r.kind.to_lowercase(),
            short_names: r.short.iter().map(|s| s.to_string()).collect(),
            categories: if r.all {
                vec!["all".to_string()]
            } else {
                Vec::new()
            },
            namespaced: matches!(r.scope, Namespaced),
            subresources: r.subresources.iter().map(|s| s.to_string()).collect(),
            name_rule: r.name_rule,
            field_selectors: r.fields.iter().map(|s| s.to_string()).collect(),
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            custom: None,
        })
        .chain(REVIEWS.iter().map(|(group, version, kind)| ResourceInfo {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: format!("{}s", kind.to_lowercase()),
            singular: String::new(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced: false,
            subresources: Vec::new(),
            name_rule: NameRule::Subdomain,
            field_selectors: Vec::new(),
            verbs: vec!["create".into()],
            custom: None,
        }))
        .collect()
}
