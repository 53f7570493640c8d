//! A StatefulSet pod's stable identity: its name `<set>-<ordinal>`, its labels, its
//! hostname and subdomain (the set's governing Service), and its claims
//! `<template>-<set>-<ordinal>` made from the set's `volumeClaimTemplates`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

use super::revision::REVISION_LABEL;

/// The pod label holding the pod's own name.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The pod label holding the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The set's name.
pub fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

/// The first ordinal (`spec.ordinals.start`, 0 by default).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// `spec.replicas`, 1 by default.
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

/// The ordinal in a pod's name, if the pod is one of `set`'s.
pub fn ordinal_of(set: &StatefulSet, pod_name: &str) -> Option<i32> {
    let rest = pod_name.strip_prefix(set_name(set))?.strip_prefix('-')?;
    if rest.starts_with('+') || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok().filter(|o: &i32| *o >= 0)
}

/// `<set>-<ordinal>`.
pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set_name(set))
}

/// `<template>-<set>-<ordinal>`.
pub fn claim_name(template: &str, set: &StatefulSet, ordinal: i32) -> String {
    format!("{template}-{}-{ordinal}", set_name(set))
}

/// The controller reference pods and revisions carry.
pub fn owner_reference(set: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "StatefulSet".to_owned(),
        name: set_name(set).to_owned(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `set` is the controller of an object with these owner references.
pub fn controlled_by(owners: Option<&Vec<OwnerReference>>, set: &StatefulSet) -> bool {
    owners
        .into_iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == set.metadata.uid.as_ref())
}

/// The claim templates of the set.
pub fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// The claims the pod at `ordinal` uses, made from the templates.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|template| {
            let template_name = template.metadata.name.clone().unwrap_or_default();
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&template_name, set, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod at `ordinal`, made from `template` (the template of `revision`).
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let name = pod_name(set, ordinal);
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.to_owned(), name.clone());
    labels.insert(POD_INDEX_LABEL.to_owned(), ordinal.to_string());
    labels.insert(REVISION_LABEL.to_owned(), revision.to_owned());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    let service = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    if service.is_some() {
        spec.subdomain = service;
    }
    // Each claim template becomes the pod's volume of that name, replacing one the
    // template may already declare, as upstream.
    let mut volumes: BTreeMap<String, Volume> = spec
        .volumes
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name.clone(), v))
        .collect();
    for claim in claim_templates(set) {
        let volume = claim.metadata.name.clone().unwrap_or_default();
        volumes.insert(
            volume.clone(),
            Volume {
                name: volume.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(&volume, set, ordinal),
                    read_only: None,
                }),
                ..Default::default()
            },
        );
    }
    if !volumes.is_empty() {
        spec.volumes = Some(volumes.into_values().collect());
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: Some(vec![owner_reference(set)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The revision a pod was made from.
pub fn revision_of(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "n", "uid": "u"},
            "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}],
                                           "volumes": [{"name": "www", "emptyDir": {}}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": "1Gi"}}}}]},
        }))
        .unwrap()
    }

    #[test]
    fn ordinals_come_only_from_canonical_names_of_this_set() {
        let s = set();
        assert_eq!(ordinal_of(&s, "web-0"), Some(0));
        assert_eq!(ordinal_of(&s, "web-12"), Some(12));
        assert_eq!(ordinal_of(&s, "web-01"), None);
        assert_eq!(ordinal_of(&s, "web-x"), None);
        assert_eq!(ordinal_of(&s, "webby-1"), None);
        assert_eq!(ordinal_of(&s, "web--1"), None);
    }

    #[test]
    fn a_pod_has_a_stable_identity_and_its_claims() {
        let s = set();
        let template = s.spec.clone().unwrap().template;
        let pod = new_pod(&s, &template, "web-abc", 2);
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let volumes = spec.volumes.unwrap();
        assert_eq!(volumes.len(), 1);
        let claim = volumes[0].persistent_volume_claim.as_ref().unwrap();
        assert_eq!(claim.claim_name, "www-web-2");
        assert!(controlled_by(pod.metadata.owner_references.as_ref(), &s));
        let claims = claims_for(&s, 2);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("www-web-2"));
        assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "web");
    }
}
