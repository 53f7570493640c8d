//! OpenAPI v3 component schemas and strategic-merge metadata for closet's built-in kinds
//! (DESIGN.md §5). Sans I/O: the apiserver serves what this crate generates, and the patch
//! engines walk the merge metadata.
//!
//! The schemas come from k8s-openapi's `schemars` implementations (upstream definition names and
//! field descriptions, so `kubectl explain` prints real documentation), enriched with what
//! kubectl and the merge engines read from an upstream server's documents:
//! `x-kubernetes-group-version-kind` on each kind, and `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type` on the fields upstream marks (the table in `markers`).
//!
//! Start with [`schemas_for`] (a document's `components.schemas`) and [`patch_meta`] (merge
//! metadata by path). Both generate one group-version at a time, on first use, and keep only
//! the compact results: the serialized schemas and a small shape tree.

mod generate;
mod kinds;
mod list;
mod markers;
mod patch_meta;

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

pub use patch_meta::{ListStrategy, ListType, Node, NodeKind, PatchMeta};

/// One cache slot per built-in group-version, filled on first use.
#[derive(Default)]
struct Slot {
    /// The serialized `components.schemas` object.
    json: OnceLock<Arc<str>>,
    /// The compiled merge metadata.
    tree: OnceLock<Arc<patch_meta::Tree>>,
}

fn slot(index: usize) -> &'static Slot {
    static SLOTS: OnceLock<Vec<Slot>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        kinds::GROUP_VERSIONS
            .iter()
            .map(|_| Slot::default())
            .collect()
    });
    &slots[index]
}

/// The built-in group-versions this crate has schemas for, as `(group, version)`; the core
/// group is `""`.
pub fn group_versions() -> impl Iterator<Item = (&'static str, &'static str)> {
    kinds::GROUP_VERSIONS
        .iter()
        .map(|gv| (gv.group, gv.version))
}

/// The `components.schemas` of the group-version's OpenAPI v3 document: every schema reachable
/// from its kinds, keyed by definition name. Empty for a group-version that is not built in
/// (custom resources).
pub fn schemas_for(group: &str, version: &str) -> Map<String, Value> {
    schemas_json(group, version)
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// [`schemas_for`] already serialized as one compact JSON object, to splice into a document
/// without building it again. Generated on first use, then shared.
pub fn schemas_json(group: &str, version: &str) -> Option<Arc<str>> {
    let index = kinds::index_of(group, version)?;
    let json = slot(index).json.get_or_init(|| {
        let schemas = generate::generate(&kinds::GROUP_VERSIONS[index]);
        Value::Object(schemas).to_string().into()
    });
    Some(json.clone())
}

/// The schemas every document needs whatever its kinds: ObjectMeta, ListMeta, Status,
/// DeleteOptions and what they reference. For documents of custom resources, whose own schemas
/// come from their CustomResourceDefinitions; generated on each call (a few small schemas).
pub fn meta_schemas() -> Map<String, Value> {
    generate::meta()
}

/// The definition name of a built-in kind (or list kind), e.g.
/// `("apps", "v1", "Deployment")` → `io.k8s.api.apps.v1.Deployment`. Costs no generation.
pub fn definition_name(group: &str, version: &str, kind: &str) -> Option<String> {
    kinds::find(group, version, kind).map(|(_, k)| (k.name)().into_owned())
}

/// The merge metadata of a built-in kind, walked by field path. `None` for kinds that are not
/// built in: strategic merge patch does not apply to custom resources.
pub fn patch_meta(group: &str, version: &str, kind: &str) -> Option<PatchMeta> {
    let (index, found) = kinds::find(group, version, kind)?;
    let tree = slot(index).tree.get_or_init(|| {
        // Compile from the cached serialization when a document was already served, so the
        // schemas are generated once either way.
        let schemas = match slot(index).json.get() {
            Some(json) => serde_json::from_str(json).unwrap_or_default(),
            None => generate::generate(&kinds::GROUP_VERSIONS[index]),
        };
        Arc::new(patch_meta::Tree::compile(&schemas))
    });
    PatchMeta::new(tree.clone(), &(found.name)())
}

#[cfg(test)]
mod tests;
