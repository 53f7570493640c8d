//! CustomResourceDefinitions: a stored CRD adds its resources to the registry, so routing,
//! discovery, OpenAPI and Tables serve them like built-in kinds; custom objects are checked
//! against the version's `openAPIV3Schema` ([`schema`]); deleting the CRD deletes them.
//!
//! The registry follows the store: every successful write of a CRD calls [`on_change`], and
//! [`load_all`] rebuilds the entries at start.

mod columns;
pub(crate) mod schema;

use std::sync::Arc;

use closet_store::ListRequest;
use closet_types::FieldError;
use serde_json::{Value, json};

use crate::Shared;
use crate::object;
use crate::registry::{ALL_VERBS, NameRule, ResourceInfo};

pub(crate) use columns::{PrinterColumn, cells, table_columns};

/// What a CRD declares for one served version, beyond names and scope.
#[derive(Debug, Clone, Default)]
pub struct CustomInfo {
    /// `additionalPrinterColumns` of the version.
    pub printer_columns: Vec<PrinterColumn>,
    /// The version's `openAPIV3Schema`, if any.
    pub schema: Option<Value>,
    /// JSON paths of the scale subresource, when declared.
    pub scale: Option<ScalePaths>,
}

/// Where the scale subresource reads and writes, as `.spec.replicas`-style paths.
#[derive(Debug, Clone)]
pub struct ScalePaths {
    /// `specReplicasPath`.
    pub spec_replicas: String,
    /// `statusReplicasPath`.
    pub status_replicas: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, p| v.get(p))?.as_str()
}

fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
    path.iter()
        .try_fold(v, |v, p| v.get(p))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a CRD's spec; the messages follow upstream's field paths.
pub(crate) fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let group = str_at(crd, &["spec", "group"]).unwrap_or("");
    let plural = str_at(crd, &["spec", "names", "plural"]).unwrap_or("");
    if group.is_empty() || !group.contains('.') {
        errors.push(FieldError::invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    for (field, value) in [
        ("plural", plural),
        (
            "kind",
            str_at(crd, &["spec", "names", "kind"]).unwrap_or(""),
        ),
    ] {
        if value.is_empty() {
            errors.push(FieldError::required(format!("spec.names.{field}"), ""));
        }
    }
    let expected = format!("{plural}.{group}");
    if object::name(crd) != expected {
        errors.push(FieldError::invalid(
            "metadata.name",
            object::name(crd),
            format!("must be spec.names.plural+\".\"+spec.group ({expected})"),
        ));
    }
    match str_at(crd, &["spec", "scope"]) {
        Some("Namespaced" | "Cluster") => {}
        other => errors.push(FieldError::not_supported(
            "spec.scope",
            other.unwrap_or(""),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = crd
        .get("spec")
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array);
    let versions = versions.map(Vec::as_slice).unwrap_or(&[]);
    if versions.is_empty() {
        errors.push(FieldError::required(
            "spec.versions",
            "must have at least one version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            storage.to_string(),
            "must have exactly one version marked as storage version",
        ));
    }
    errors
}

/// The resources a CRD serves, one per served version.
fn resources(crd: &Value) -> Vec<ResourceInfo> {
    let group = str_at(crd, &["spec", "group"]).unwrap_or("").to_string();
    let names = |f: &str| str_at(crd, &["spec", "names", f]).unwrap_or("").to_string();
    let kind = names("kind");
    let singular = match names("singular") {
        s if s.is_empty() => kind.to_lowercase(),
        s => s,
    };
    let namespaced = str_at(crd, &["spec", "scope"]) == Some("Namespaced");
    let versions = crd
        .get("spec")
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array);
    versions
        .into_iter()
        .flatten()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .filter_map(|v| {
            let name = v.get("name")?.as_str()?.to_string();
            let subs = v.get("subresources");
            let mut subresources = Vec::new();
            if subs.and_then(|s| s.get("status")).is_some() {
                subresources.push("status".to_string());
            }
            let scale = subs.and_then(|s| s.get("scale")).map(|s| ScalePaths {
                spec_replicas: str_at(s, &["specReplicasPath"])
                    .unwrap_or(".spec.replicas")
                    .into(),
                status_replicas: str_at(s, &["statusReplicasPath"])
                    .unwrap_or(".status.replicas")
                    .into(),
            });
            if scale.is_some() {
                subresources.push("scale".to_string());
            }
            let custom = CustomInfo {
                printer_columns: columns::parse(v.get("additionalPrinterColumns")),
                schema: v
                    .get("schema")
                    .and_then(|s| s.get("openAPIV3Schema"))
                    .cloned(),
                scale,
            };
            Some(ResourceInfo {
                group: group.clone(),
                version: name,
                kind: kind.clone(),
                plural: names("plural"),
                singular: singular.clone(),
                short_names: strings_at(crd, &["spec", "names", "shortNames"]),
                categories: strings_at(crd, &["spec", "names", "categories"]),
                namespaced,
                subresources,
                name_rule: NameRule::Subdomain,
                field_selectors: Vec::new(),
                verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
                custom: Some(Arc::new(custom)),
            })
        })
        .collect()
}

/// The status the API reports for an accepted CRD (upstream's establishing controller's
/// work, done at write time: names never conflict here because each CRD owns its group and
/// plural).
pub(crate) fn accepted_status(crd: &Value, now: &str) -> Value {
    let storage: Vec<Value> = crd
        .get("spec")
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    json!({
        "acceptedNames": crd.get("spec").and_then(|s| s.get("names")).cloned().unwrap_or_else(|| json!({})),
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": storage,
    })
}

/// Keeps the registry in step with a CRD that was just written (`gone` when deleted); when a
/// CRD is deleted, its custom objects go with it.
pub(crate) async fn on_change(shared: &Shared, info: &ResourceInfo, crd: &Value, gone: bool) {
    if !(info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions") {
        return;
    }
    let group = str_at(crd, &["spec", "group"]).unwrap_or("");
    let plural = str_at(crd, &["spec", "names", "plural"]).unwrap_or("");
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let prefix = format!("/{group}/{plural}/");
    shared.registry.remove(group, plural);
    if gone {
        delete_objects(shared, &prefix).await;
        return;
    }
    for resource in resources(crd) {
        shared.registry.insert(resource);
    }
}

/// Deletes every custom object under `prefix`. Failures are logged; a restart leaves the
/// objects unreachable (no CRD serves them) rather than half-deleted in view.
async fn delete_objects(shared: &Shared, prefix: &str) {
    loop {
        let req = ListRequest {
            prefix: prefix.to_string(),
            limit: Some(500),
            ..Default::default()
        };
        let page = match shared.store.list(req).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(prefix, error = %err, "could not list custom objects to delete");
                return;
            }
        };
        for kv in &page.items {
            if let Err(err) = shared.store.delete(&kv.key, None).await {
                tracing::warn!(key = %kv.key, error = %err, "could not delete a custom object");
            }
        }
        if !page.more || page.items.is_empty() {
            return;
        }
    }
}

/// Registers every stored CRD: the registry lives in memory, the CRDs in the store.
pub(crate) async fn load_all(shared: &Shared) -> Result<(), closet_store::StoreError> {
    let Some(crds) = shared
        .registry
        .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return Ok(());
    };
    let page = shared
        .store
        .list(ListRequest {
            prefix: crds.storage_prefix(),
            ..Default::default()
        })
        .await?;
    for kv in &page.items {
        if let Ok(crd) = serde_json::from_slice::<Value>(&kv.value)
            && !object::is_deleting(&crd)
        {
            on_change(shared, &crds, &crd, false).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
