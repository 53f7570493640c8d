//! Storage admission on create, as upstream's `DefaultStorageClass` and
//! `StorageObjectInUseProtection` plugins: a claim that names no class gets the default
//! StorageClass, and claims and volumes get the protection finalizers that keep them until
//! nothing uses them (the storage controller removes the finalizers).

use closet_store::ListRequest;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::object::{self, meta_mut};
use crate::registry::ResourceInfo;

/// Keeps a claim until no pod uses it.
const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// Keeps a volume until it is no longer bound to a claim.
const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
/// Marks the default class; the beta key is still honoured upstream.
const DEFAULT_CLASS_KEYS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];
/// The annotation that predates `spec.storageClassName`.
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// Applies the storage admission rules to a new object of kind `info`.
pub(crate) async fn admit_create(
    shared: &Shared,
    info: &ResourceInfo,
    obj: &mut Value,
) -> ApiResult<()> {
    if info.is_core("persistentvolumes") {
        add_finalizer(obj, PV_PROTECTION);
    } else if info.is_core("persistentvolumeclaims") {
        add_finalizer(obj, PVC_PROTECTION);
        if needs_class(obj)
            && let Some(class) = default_class(shared).await?
            && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert("storageClassName".into(), json!(class));
        }
    }
    Ok(())
}

/// A claim without `storageClassName` (absent or null; `""` asks for no class) and without
/// the beta annotation.
fn needs_class(obj: &Value) -> bool {
    let annotated = object::meta(obj)
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
        .is_some();
    let named = obj
        .get("spec")
        .and_then(|s| s.get("storageClassName"))
        .is_some_and(|c| !c.is_null());
    !annotated && !named
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let list = meta_mut(obj)
        .entry("finalizers")
        .or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut()
        && !items.iter().any(|f| f.as_str() == Some(finalizer))
    {
        items.push(json!(finalizer));
    }
}

/// The default StorageClass: of several, the newest wins, as upstream since 1.26.
async fn default_class(shared: &Shared) -> ApiResult<Option<String>> {
    let page = shared
        .store
        .list(ListRequest {
            prefix: "/storage.k8s.io/storageclasses/".into(),
            ..Default::default()
        })
        .await
        .map_err(ApiError::from_store_general)?;
    let mut best: Option<(String, String)> = None;
    for kv in &page.items {
        let class = object::from_kv(kv)?;
        if !is_default(&class) {
            continue;
        }
        let created = object::meta_str(&class, "creationTimestamp")
            .unwrap_or_default()
            .to_owned();
        let name = object::name(&class).to_owned();
        if best
            .as_ref()
            .is_none_or(|(c, n)| (&created, &name) > (c, n))
        {
            best = Some((created, name));
        }
    }
    Ok(best.map(|(_, name)| name))
}

fn is_default(class: &Value) -> bool {
    let annotations = object::meta(class).and_then(|m| m.get("annotations"));
    DEFAULT_CLASS_KEYS
        .iter()
        .any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_naming_no_class_needs_one_and_an_empty_name_asks_for_none() {
        assert!(needs_class(&json!({"spec": {}})));
        assert!(needs_class(&json!({"spec": {"storageClassName": null}})));
        assert!(!needs_class(&json!({"spec": {"storageClassName": ""}})));
        assert!(!needs_class(&json!({"spec": {"storageClassName": "fast"}})));
        let beta = json!({"metadata": {"annotations": {BETA_CLASS_ANNOTATION: "x"}}, "spec": {}});
        assert!(!needs_class(&beta));
    }

    #[test]
    fn finalizers_are_added_once() {
        let mut obj = json!({"metadata": {"finalizers": ["a"]}});
        add_finalizer(&mut obj, PVC_PROTECTION);
        add_finalizer(&mut obj, PVC_PROTECTION);
        assert_eq!(obj["metadata"]["finalizers"], json!(["a", PVC_PROTECTION]));
    }

    #[test]
    fn default_is_read_from_either_annotation() {
        let class = |k: &str, v: &str| json!({"metadata": {"annotations": {k: v}}});
        assert!(is_default(&class(DEFAULT_CLASS_KEYS[0], "true")));
        assert!(is_default(&class(DEFAULT_CLASS_KEYS[1], "true")));
        assert!(!is_default(&class(DEFAULT_CLASS_KEYS[0], "false")));
    }
}
