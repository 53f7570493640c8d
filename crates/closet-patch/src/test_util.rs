//! A table-driven [`PatchMeta`] for tests: a few built-in kinds with the patch strategies
//! and merge keys of k8s.io/api (kubectl-wire.md §3.5).

use crate::meta::{ListStrategy, NoMeta, PatchMeta};

#[derive(Clone, Copy)]
enum List {
    Replace,
    Key(&'static str),
    Primitives,
}

struct Row {
    field: &'static str,
    ty: Option<&'static str>,
    list: List,
    retain: bool,
}

const fn object(field: &'static str, ty: &'static str) -> Row {
    Row {
        field,
        ty: Some(ty),
        list: List::Replace,
        retain: false,
    }
}

const fn union(field: &'static str, ty: &'static str) -> Row {
    Row {
        retain: true,
        ..object(field, ty)
    }
}

const fn list(field: &'static str, ty: Option<&'static str>, list: List) -> Row {
    Row {
        field,
        ty,
        list,
        retain: false,
    }
}

const TYPES: &[(&str, &[Row])] = &[
    (
        "Deployment",
        &[
            object("metadata", "ObjectMeta"),
            object("spec", "DeploymentSpec"),
        ],
    ),
    (
        "Pod",
        &[object("metadata", "ObjectMeta"), object("spec", "PodSpec")],
    ),
    (
        "ObjectMeta",
        &[
            list("finalizers", None, List::Primitives),
            list("ownerReferences", None, List::Key("uid")),
        ],
    ),
    (
        "DeploymentSpec",
        &[
            object("template", "PodTemplateSpec"),
            union("strategy", "DeploymentStrategy"),
        ],
    ),
    (
        "PodTemplateSpec",
        &[object("metadata", "ObjectMeta"), object("spec", "PodSpec")],
    ),
    (
        "PodSpec",
        &[
            list("containers", Some("Container"), List::Key("name")),
            list("initContainers", Some("Container"), List::Key("name")),
            Row {
                retain: true,
                ..list("volumes", Some("Volume"), List::Key("name"))
            },
            list("tolerations", None, List::Replace),
            list("imagePullSecrets", None, List::Key("name")),
        ],
    ),
    (
        "Container",
        &[
            list("env", None, List::Key("name")),
            list("ports", None, List::Key("containerPort")),
            list("volumeMounts", None, List::Key("mountPath")),
            list("args", None, List::Replace),
        ],
    ),
    // The test type of upstream's strategicpatch tests, for its conformance cases.
    (
        "Item",
        &[
            list("mergingList", Some("Item"), List::Key("name")),
            list("mergingIntList", None, List::Primitives),
            list("mergeItemPtr", Some("Item"), List::Key("name")),
            list("nonMergingList", None, List::Replace),
            union("retainKeysMap", "Item"),
            Row {
                retain: true,
                ..list("retainKeysMergingList", Some("Item"), List::Key("name"))
            },
            object("simpleMap", "Map"),
        ],
    ),
];

/// Metadata for one type of [`TYPES`]; an unknown type behaves as [`NoMeta`].
pub(crate) struct TableMeta {
    ty: Option<&'static str>,
}

impl TableMeta {
    fn row(&self, field: &str) -> Option<&'static Row> {
        let ty = self.ty?;
        let (_, rows) = TYPES.iter().find(|(name, _)| *name == ty)?;
        rows.iter().find(|row| row.field == field)
    }
}

impl PatchMeta for TableMeta {
    fn list_strategy(&self, field: &str) -> ListStrategy {
        match self.row(field).map(|row| row.list) {
            Some(List::Key(key)) => ListStrategy::MergeByKey(key.to_owned()),
            Some(List::Primitives) => ListStrategy::MergePrimitives,
            Some(List::Replace) | None => ListStrategy::Replace,
        }
    }

    fn retain_keys(&self, field: &str) -> bool {
        self.row(field).is_some_and(|row| row.retain)
    }

    fn child(&self, field: &str) -> Box<dyn PatchMeta + '_> {
        match self.row(field).and_then(|row| row.ty) {
            Some(ty) => Box::new(TableMeta { ty: Some(ty) }),
            None => Box::new(NoMeta),
        }
    }
}

pub(crate) fn pod_meta() -> TableMeta {
    TableMeta { ty: Some("Pod") }
}

pub(crate) fn deployment_meta() -> TableMeta {
    TableMeta {
        ty: Some("Deployment"),
    }
}

/// Upstream's `mergeItem` test type.
pub(crate) fn item_meta() -> TableMeta {
    TableMeta { ty: Some("Item") }
}
