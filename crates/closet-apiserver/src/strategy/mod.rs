//! Per-kind write rules: what the server sets on create, what an update may change, and how
//! deletion proceeds (DESIGN.md §5, the registry's "strategy").
//!
//! Upstream keeps these in one strategy per kind; here the few kind-specific differences are
//! matched on the resource so the general rules stay in one readable place.

mod defaults;
mod deletion;
mod immutable;
mod job;
mod propagation;
mod required;
mod rules;

use closet_types::FieldError;
use serde_json::{Map, Value, json};

use crate::object::{meta, meta_mut, timestamp};
use crate::registry::{NameRule, ResourceInfo};

pub use deletion::{Deletion, deletion, grace_seconds, mark_deleted, ready_to_remove};
pub use propagation::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER, gc_finalizers};

/// Whether the kind splits `status` off into a subresource, so that main-resource writes keep
/// the stored status and status writes keep everything else.
fn has_status(info: &ResourceInfo) -> bool {
    info.has_subresource("status")
}

/// The status a new object starts with, for kinds whose status is owned by the server.
fn initial_status(info: &ResourceInfo) -> Value {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => json!({"phase": "Pending"}),
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "persistentvolumeclaims") | ("", "persistentvolumes") => json!({"phase": "Pending"}),
        ("", "services") => json!({"loadBalancer": {}}),
        _ => json!({}),
    }
}

/// Fills in what the server owns on a new object: uid, creation time, generation, and the
/// initial status. `metadata.name` is already final.
pub fn prepare_create(info: &ResourceInfo, obj: &mut Value, now: jiff::Timestamp) {
    let m = meta_mut(obj);
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(timestamp(now)));
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    // Only objects with a desired state have generations (ConfigMaps, for one, do not).
    if obj.get("spec").is_some() {
        meta_mut(obj).insert("generation".into(), json!(1));
    }
    if has_status(info) {
        set_field(obj, "status", Some(initial_status(info)));
    }
    normalize(info, obj);
    if info.group == "batch" && info.kind == "Job" {
        job::generate_selector(obj);
    }
    if info.is_core("namespaces") {
        // The namespace lifecycle controller removes this finalizer once the namespace is
        // empty; until then a deleted namespace stays Terminating.
        if let Some(Value::Object(spec)) = obj
            .as_object_mut()
            .map(|o| o.entry("spec").or_insert_with(|| json!({})))
        {
            spec.entry("finalizers")
                .or_insert_with(|| json!(["kubernetes"]));
        }
    }
}

/// Metadata fields a client can never change on update.
const IMMUTABLE_META: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

/// Metadata fields a status write can never change (upstream resets them to the stored
/// values on status updates).
const STATUS_KEEPS_META: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// What a PUT or PATCH may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateScope {
    /// The main resource: everything but status (when status is a subresource).
    Main,
    /// The `status` subresource: only status.
    Status,
    /// A namespace's `finalize` subresource: only `spec.finalizers`.
    Finalize,
}

/// Turns a client's object into the object to store, given the stored one.
pub fn prepare_update(info: &ResourceInfo, old: &Value, new: &mut Value, scope: UpdateScope) {
    match scope {
        UpdateScope::Main => {
            if has_status(info) {
                set_field(new, "status", old.get("status").cloned());
            }
        }
        UpdateScope::Status => {
            let status = new.get("status").cloned();
            let new_meta = meta(new).cloned().unwrap_or_default();
            *new = old.clone();
            set_field(new, "status", status);
            // The rest of metadata follows the request (managedFields, for instance).
            let m = meta_mut(new);
            for (k, v) in new_meta {
                if !STATUS_KEEPS_META.contains(&k.as_str()) && !IMMUTABLE_META.contains(&k.as_str())
                {
                    m.insert(k, v);
                }
            }
        }
        UpdateScope::Finalize => {
            let finalizers = new.get("spec").and_then(|s| s.get("finalizers")).cloned();
            *new = old.clone();
            if let Some(Value::Object(spec)) = new
                .as_object_mut()
                .map(|o| o.entry("spec").or_insert_with(|| json!({})))
            {
                spec.insert("finalizers".into(), finalizers.unwrap_or_else(|| json!([])));
            }
        }
    }
    let old_meta = meta(old).cloned().unwrap_or_default();
    let m = meta_mut(new);
    for field in IMMUTABLE_META {
        match old_meta.get(*field) {
            Some(v) => m.insert((*field).to_string(), v.clone()),
            None => m.remove(*field),
        };
    }
    normalize(info, new);
    if scope == UpdateScope::Main && spec_changed(old, new) {
        let generation = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        meta_mut(new).insert("generation".into(), json!(generation + 1));
    }
}

/// Kind-specific rewrites applied on every write.
fn normalize(info: &ResourceInfo, obj: &mut Value) {
    defaults::apply(info, obj);
    if info.is_core("secrets") {
        merge_string_data(obj);
    }
    if is_crd(info) {
        let accepted = crate::crd::accepted_status(obj, &timestamp(jiff::Timestamp::now()));
        let status = obj.get("status").cloned().unwrap_or_else(|| json!({}));
        // Keep the original transition times once the CRD has been accepted.
        let keep = status
            .get("conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        let mut next = if keep { status } else { accepted.clone() };
        next["acceptedNames"] = accepted["acceptedNames"].clone();
        next["storedVersions"] = accepted["storedVersions"].clone();
        set_field(obj, "status", Some(next));
    }
    if let Some(schema) = info.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        crate::crd::schema::prune_and_default(schema, obj);
    }
}

fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions"
}

/// A Secret's `stringData` is write-only: each entry is base64-encoded into `data`,
/// replacing the same key there, and `stringData` itself is never stored.
fn merge_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(map) = secret.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Value::Object(data) = data {
        for (k, v) in string_data {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            data.insert(k, Value::String(encoded));
        }
    }
}

/// Whether anything outside metadata and status differs: upstream bumps `generation` only
/// for such changes.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(old) != strip(new)
}

fn set_field(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => map.insert(field.to_string(), v),
            None => map.remove(field),
        };
    }
}

/// Checks the name and metadata syntax; returns upstream-worded field errors.
pub fn validate(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = crate::object::name(obj);
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for why in name_errors(info.name_rule, name) {
            errors.push(FieldError::invalid("metadata.name", name, why));
        }
    }
    errors.extend(required::check(info, obj));
    errors.extend(rules::check(info, obj));
    if is_crd(info) {
        errors.extend(crate::crd::validate(obj));
    }
    if let Some(schema) = info.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        errors.extend(crate::crd::schema::validate(schema, obj));
    }
    if let Some(m) = meta(obj) {
        if let Some(labels) = m.get("labels") {
            validate_string_map(labels, "metadata.labels", true, &mut errors);
        }
        if let Some(annotations) = m.get("annotations") {
            validate_string_map(annotations, "metadata.annotations", false, &mut errors);
        }
        if let Some(f) = m.get("finalizers")
            && !f.is_null()
            && !f.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        {
            errors.push(FieldError::invalid(
                "metadata.finalizers",
                f.to_string(),
                "must be a list of strings",
            ));
        }
    }
    errors
}

fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    use closet_types::names;
    match rule {
        NameRule::Subdomain => names::is_dns1123_subdomain(name),
        NameRule::Label => names::is_dns1123_label(name),
        NameRule::PathSegment => names::is_valid_path_segment_name(name),
    }
}

/// Largest total size of annotations, as upstream.
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

fn validate_string_map(v: &Value, field: &str, labels: bool, errors: &mut Vec<FieldError>) {
    if v.is_null() {
        return;
    }
    let Some(map) = v.as_object() else {
        errors.push(FieldError::invalid(
            field,
            v.to_string(),
            "must be a map of strings",
        ));
        return;
    };
    for (k, val) in map {
        let Some(s) = val.as_str() else {
            errors.push(FieldError::invalid(
                field,
                val.to_string(),
                "values must be strings",
            ));
            continue;
        };
        // Upstream lowercases annotation keys before checking them.
        let key = if labels {
            k.clone()
        } else {
            k.to_ascii_lowercase()
        };
        for why in closet_types::names::is_qualified_name(&key) {
            errors.push(FieldError::invalid(field, k.as_str(), why));
        }
        if labels {
            for why in closet_types::names::is_label_value(s) {
                errors.push(FieldError::invalid(field, s, why));
            }
        }
    }
    if !labels {
        let total: usize = map
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if total > MAX_ANNOTATION_BYTES {
            errors.push(FieldError::too_long(field, MAX_ANNOTATION_BYTES));
        }
    }
}

/// Changes a client's object makes to the stored object's identity (uid, creation time),
/// checked before the server restores them.
pub fn validate_identity(old: &Value, requested: &Value) -> Vec<FieldError> {
    immutable::identity(old, requested)
}

/// Changes an update makes to fields that may not change once set.
pub fn validate_update(info: &ResourceInfo, old: &Value, new: &Value) -> Vec<FieldError> {
    immutable::check(info, old, new)
}

/// Every container of a pod spec, regular and init, with the path it has in upstream's
/// messages (`spec.containers[0]`, `spec.template.spec.initContainers[1]`).
fn containers<'a>(
    spec: &'a Value,
    path: &'a str,
) -> impl Iterator<Item = (String, &'a Value)> + 'a {
    ["containers", "initContainers"]
        .into_iter()
        .flat_map(move |list| {
            spec.get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(i, c)| (format!("{path}.{list}[{i}]"), c))
        })
}

/// Field values for field selectors: the generic dotted lookup, with the defaults upstream
/// reports for absent booleans.
pub fn field_lookup(obj: &Value, field: &str) -> Option<String> {
    if field == "metadata.name" {
        return Some(crate::object::name(obj).to_string());
    }
    if field == "metadata.namespace" {
        return Some(
            crate::object::meta_str(obj, "namespace")
                .unwrap_or("")
                .to_string(),
        );
    }
    let value = crate::object::field_value(obj, field);
    if value.is_empty() && matches!(field, "spec.unschedulable" | "spec.hostNetwork") {
        return Some("false".into());
    }
    Some(value)
}

#[cfg(test)]
mod tests;
