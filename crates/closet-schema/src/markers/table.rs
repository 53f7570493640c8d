//! The markers themselves: one block per definition, fields in name order. Transcribed from the
//! upstream 1.35 type definitions; `every_marker_names_a_property` keeps it honest.

use super::{ListMarker, Marks};

const NONE: Marks = Marks {
    strategy: None,
    merge_key: None,
    list: None,
    map_type: None,
};
const ATOMIC: Marks = Marks {
    list: Some(ListMarker::Atomic),
    ..NONE
};
const SET: Marks = Marks {
    list: Some(ListMarker::Set),
    ..NONE
};
/// A set of scalars that strategic merge patch merges too (`finalizers`, `podCIDRs`).
const MERGE_SET: Marks = Marks {
    strategy: Some("merge"),
    ..SET
};
const RETAIN_KEYS: Marks = Marks {
    strategy: Some("retainKeys"),
    ..NONE
};
const REPLACE: Marks = Marks {
    strategy: Some("replace"),
    ..NONE
};

const fn map(keys: &'static [&'static str]) -> Marks {
    Marks {
        list: Some(ListMarker::Map(keys)),
        ..NONE
    }
}

/// Merged by `key` in strategic merge patch, a map keyed by `keys` in server-side apply.
const fn merge(key: &'static str, keys: &'static [&'static str]) -> Marks {
    Marks {
        strategy: Some("merge"),
        merge_key: Some(key),
        list: Some(ListMarker::Map(keys)),
        map_type: None,
    }
}

/// As [`merge`], and each element keeps only the keys the patch lists (`$retainKeys`).
const fn merge_retain(key: &'static str, keys: &'static [&'static str]) -> Marks {
    Marks {
        strategy: Some("merge,retainKeys"),
        ..merge(key, keys)
    }
}

/// Merged by `key` in strategic merge patch but atomic in server-side apply.
const fn merge_atomic(key: &'static str) -> Marks {
    Marks {
        strategy: Some("merge"),
        merge_key: Some(key),
        list: Some(ListMarker::Atomic),
        map_type: None,
    }
}

const fn map_type(kind: &'static str) -> Marks {
    Marks {
        map_type: Some(kind),
        ..NONE
    }
}

/// Field markers, by definition.
#[rustfmt::skip]
pub(crate) const FIELDS: &[(&str, &[(&str, Marks)])] = &[
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", &[
        ("admissionReviewVersions", ATOMIC),
        ("matchConditions", merge("name", &["name"])),
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration", &[
        ("webhooks", merge("name", &["name"])),
    ]),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", &[
        ("apiGroups", ATOMIC),
        ("apiVersions", ATOMIC),
        ("operations", ATOMIC),
        ("resources", ATOMIC),
    ]),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", &[
        ("admissionReviewVersions", ATOMIC),
        ("matchConditions", merge("name", &["name"])),
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration", &[
        ("webhooks", merge("name", &["name"])),
    ]),
    ("io.k8s.api.apps.v1.DaemonSetStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.apps.v1.DeploymentSpec", &[
        ("strategy", RETAIN_KEYS),
    ]),
    ("io.k8s.api.apps.v1.DeploymentStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.apps.v1.StatefulSetSpec", &[
        ("volumeClaimTemplates", ATOMIC),
    ]),
    ("io.k8s.api.apps.v1.StatefulSetStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.authentication.v1.UserInfo", &[
        ("groups", ATOMIC),
    ]),
    ("io.k8s.api.authorization.v1.FieldSelectorAttributes", &[
        ("requirements", ATOMIC),
    ]),
    ("io.k8s.api.authorization.v1.LabelSelectorAttributes", &[
        ("requirements", ATOMIC),
    ]),
    ("io.k8s.api.authorization.v1.NonResourceRule", &[
        ("nonResourceURLs", ATOMIC),
        ("verbs", ATOMIC),
    ]),
    ("io.k8s.api.authorization.v1.ResourceRule", &[
        ("apiGroups", ATOMIC),
        ("resourceNames", ATOMIC),
        ("resources", ATOMIC),
        ("verbs", ATOMIC),
    ]),
    ("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", &[
        ("nonResourceRules", ATOMIC),
        ("resourceRules", ATOMIC),
    ]),
    ("io.k8s.api.autoscaling.v2.HPAScalingRules", &[
        ("policies", ATOMIC),
    ]),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", &[
        ("metrics", ATOMIC),
    ]),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", &[
        ("conditions", merge("type", &["type"])),
        ("currentMetrics", ATOMIC),
    ]),
    ("io.k8s.api.batch.v1.CronJobStatus", &[
        ("active", ATOMIC),
    ]),
    ("io.k8s.api.batch.v1.JobStatus", &[
        ("conditions", merge_atomic("type")),
    ]),
    ("io.k8s.api.batch.v1.PodFailurePolicy", &[
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", &[
        ("values", SET),
    ]),
    ("io.k8s.api.batch.v1.PodFailurePolicyRule", &[
        ("onPodConditions", ATOMIC),
    ]),
    ("io.k8s.api.batch.v1.SuccessPolicy", &[
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", &[
        ("failed", SET),
        ("succeeded", SET),
    ]),
    ("io.k8s.api.core.v1.Capabilities", &[
        ("add", ATOMIC),
        ("drop", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.CephFSPersistentVolumeSource", &[
        ("monitors", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.CephFSVolumeSource", &[
        ("monitors", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ConfigMapProjection", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.Container", &[
        ("args", ATOMIC),
        ("command", ATOMIC),
        ("env", merge("name", &["name"])),
        ("envFrom", ATOMIC),
        ("ports", merge("containerPort", &["containerPort", "protocol"])),
        ("resizePolicy", ATOMIC),
        ("restartPolicyRules", ATOMIC),
        ("volumeDevices", merge("devicePath", &["devicePath"])),
        ("volumeMounts", merge("mountPath", &["mountPath"])),
    ]),
    ("io.k8s.api.core.v1.ContainerImage", &[
        ("names", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes", &[
        ("values", SET),
    ]),
    ("io.k8s.api.core.v1.ContainerStatus", &[
        ("allocatedResourcesStatus", merge("name", &["name"])),
        ("volumeMounts", merge("mountPath", &["mountPath"])),
    ]),
    ("io.k8s.api.core.v1.DownwardAPIProjection", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.EndpointSubset", &[
        ("addresses", ATOMIC),
        ("notReadyAddresses", ATOMIC),
        ("ports", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.Endpoints", &[
        ("subsets", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.EphemeralContainer", &[
        ("args", ATOMIC),
        ("command", ATOMIC),
        ("env", merge("name", &["name"])),
        ("envFrom", ATOMIC),
        ("ports", merge("containerPort", &["containerPort", "protocol"])),
        ("resizePolicy", ATOMIC),
        ("restartPolicyRules", ATOMIC),
        ("volumeDevices", merge("devicePath", &["devicePath"])),
        ("volumeMounts", merge("mountPath", &["mountPath"])),
    ]),
    ("io.k8s.api.core.v1.ExecAction", &[
        ("command", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.FCVolumeSource", &[
        ("targetWWNs", ATOMIC),
        ("wwids", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.HTTPGetAction", &[
        ("httpHeaders", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.HostAlias", &[
        ("hostnames", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", &[
        ("portals", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", &[
        ("portals", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.LimitRangeSpec", &[
        ("limits", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.LinuxContainerUser", &[
        ("supplementalGroups", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.LoadBalancerIngress", &[
        ("ports", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.LoadBalancerStatus", &[
        ("ingress", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NamespaceSpec", &[
        ("finalizers", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NamespaceStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.core.v1.NodeAffinity", &[
        ("preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NodeSelector", &[
        ("nodeSelectorTerms", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", &[
        ("values", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NodeSelectorTerm", &[
        ("matchExpressions", ATOMIC),
        ("matchFields", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NodeSpec", &[
        ("podCIDRs", MERGE_SET),
        ("taints", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.NodeStatus", &[
        ("addresses", merge("type", &["type"])),
        ("conditions", merge("type", &["type"])),
        ("declaredFeatures", ATOMIC),
        ("images", ATOMIC),
        ("runtimeHandlers", ATOMIC),
        ("volumesAttached", ATOMIC),
        ("volumesInUse", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", &[
        ("accessModes", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", &[
        ("accessModes", ATOMIC),
        ("allocatedResourceStatuses", map_type("granular")),
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", &[
        ("accessModes", ATOMIC),
        ("claimRef", map_type("granular")),
        ("mountOptions", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodAffinity", &[
        ("preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
        ("requiredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodAffinityTerm", &[
        ("matchLabelKeys", ATOMIC),
        ("mismatchLabelKeys", ATOMIC),
        ("namespaces", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodAntiAffinity", &[
        ("preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
        ("requiredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodDNSConfig", &[
        ("nameservers", ATOMIC),
        ("options", ATOMIC),
        ("searches", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodExtendedResourceClaimStatus", &[
        ("requestMappings", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodSecurityContext", &[
        ("supplementalGroups", ATOMIC),
        ("sysctls", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.PodSpec", &[
        ("containers", merge("name", &["name"])),
        ("ephemeralContainers", merge("name", &["name"])),
        ("hostAliases", merge("ip", &["ip"])),
        ("imagePullSecrets", merge("name", &["name"])),
        ("initContainers", merge("name", &["name"])),
        ("nodeSelector", map_type("atomic")),
        ("readinessGates", ATOMIC),
        ("resourceClaims", merge_retain("name", &["name"])),
        ("schedulingGates", merge("name", &["name"])),
        ("tolerations", ATOMIC),
        ("topologySpreadConstraints", merge("topologyKey", &["topologyKey", "whenUnsatisfiable"])),
        ("volumes", merge_retain("name", &["name"])),
    ]),
    ("io.k8s.api.core.v1.PodStatus", &[
        ("conditions", merge("type", &["type"])),
        ("containerStatuses", ATOMIC),
        ("ephemeralContainerStatuses", ATOMIC),
        ("hostIPs", merge_atomic("ip")),
        ("initContainerStatuses", ATOMIC),
        ("podIPs", merge("ip", &["ip"])),
        ("resourceClaimStatuses", merge_retain("name", &["name"])),
    ]),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", &[
        ("sources", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.RBDPersistentVolumeSource", &[
        ("monitors", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.RBDVolumeSource", &[
        ("monitors", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ResourceQuotaSpec", &[
        ("scopes", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ResourceRequirements", &[
        ("claims", map(&["name"])),
    ]),
    ("io.k8s.api.core.v1.ResourceStatus", &[
        ("resources", map(&["resourceID"])),
    ]),
    ("io.k8s.api.core.v1.ScopeSelector", &[
        ("matchExpressions", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", &[
        ("values", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.SecretProjection", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.SecretVolumeSource", &[
        ("items", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.ServiceAccount", &[
        ("imagePullSecrets", ATOMIC),
        ("secrets", merge("name", &["name"])),
    ]),
    ("io.k8s.api.core.v1.ServiceSpec", &[
        ("clusterIPs", ATOMIC),
        ("externalIPs", ATOMIC),
        ("ipFamilies", ATOMIC),
        ("loadBalancerSourceRanges", ATOMIC),
        ("ports", merge("port", &["port", "protocol"])),
        ("selector", map_type("atomic")),
    ]),
    ("io.k8s.api.core.v1.ServiceStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.core.v1.TopologySelectorLabelRequirement", &[
        ("values", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.TopologySelectorTerm", &[
        ("matchLabelExpressions", ATOMIC),
    ]),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", &[
        ("matchLabelKeys", ATOMIC),
    ]),
    ("io.k8s.api.discovery.v1.Endpoint", &[
        ("addresses", SET),
    ]),
    ("io.k8s.api.discovery.v1.EndpointHints", &[
        ("forNodes", ATOMIC),
        ("forZones", ATOMIC),
    ]),
    ("io.k8s.api.discovery.v1.EndpointSlice", &[
        ("endpoints", ATOMIC),
        ("ports", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.HTTPIngressRuleValue", &[
        ("paths", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.IPBlock", &[
        ("except", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.IngressLoadBalancerIngress", &[
        ("ports", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.IngressLoadBalancerStatus", &[
        ("ingress", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.IngressSpec", &[
        ("rules", ATOMIC),
        ("tls", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.IngressTLS", &[
        ("hosts", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.NetworkPolicyEgressRule", &[
        ("ports", ATOMIC),
        ("to", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.NetworkPolicyIngressRule", &[
        ("from", ATOMIC),
        ("ports", ATOMIC),
    ]),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", &[
        ("egress", ATOMIC),
        ("ingress", ATOMIC),
        ("policyTypes", ATOMIC),
    ]),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", &[
        ("selector", REPLACE),
    ]),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", &[
        ("conditions", merge("type", &["type"])),
    ]),
    ("io.k8s.api.rbac.v1.AggregationRule", &[
        ("clusterRoleSelectors", ATOMIC),
    ]),
    ("io.k8s.api.rbac.v1.ClusterRole", &[
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", &[
        ("subjects", ATOMIC),
    ]),
    ("io.k8s.api.rbac.v1.PolicyRule", &[
        ("apiGroups", ATOMIC),
        ("nonResourceURLs", ATOMIC),
        ("resourceNames", ATOMIC),
        ("resources", ATOMIC),
        ("verbs", ATOMIC),
    ]),
    ("io.k8s.api.rbac.v1.Role", &[
        ("rules", ATOMIC),
    ]),
    ("io.k8s.api.rbac.v1.RoleBinding", &[
        ("subjects", ATOMIC),
    ]),
    ("io.k8s.api.storage.v1.StorageClass", &[
        ("allowedTopologies", ATOMIC),
        ("mountOptions", ATOMIC),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames", &[
        ("categories", ATOMIC),
        ("shortNames", ATOMIC),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec", &[
        ("versions", ATOMIC),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", &[
        ("conditions", map(&["type"])),
        ("storedVersions", ATOMIC),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion", &[
        ("additionalPrinterColumns", ATOMIC),
        ("selectableFields", ATOMIC),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", &[
        ("allOf", ATOMIC),
        ("anyOf", ATOMIC),
        ("enum", ATOMIC),
        ("oneOf", ATOMIC),
        ("required", ATOMIC),
        ("x-kubernetes-list-map-keys", ATOMIC),
        ("x-kubernetes-validations", merge("rule", &["rule"])),
    ]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion", &[
        ("conversionReviewVersions", ATOMIC),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", &[
        ("dryRun", ATOMIC),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", &[
        ("values", ATOMIC),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", &[
        ("matchExpressions", ATOMIC),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", &[
        ("values", ATOMIC),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", &[
        ("finalizers", MERGE_SET),
        ("managedFields", ATOMIC),
        ("ownerReferences", merge("uid", &["uid"])),
    ]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", &[
        ("causes", ATOMIC),
    ]),
];

/// Definitions upstream marks `+structType=atomic`: server-side apply replaces them whole.
#[rustfmt::skip]
pub(crate) const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.EndpointAddress",
    "io.k8s.api.core.v1.EndpointPort",
    "io.k8s.api.core.v1.FileKeySelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ScopeSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.networking.v1.ServiceBackendPort",
    "io.k8s.api.rbac.v1.RoleRef",
    "io.k8s.api.rbac.v1.Subject",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
];
