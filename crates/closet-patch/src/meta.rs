//! The patch metadata the engine consults while it walks an object.

/// How a list field is patched: the `x-kubernetes-patch-strategy` and
/// `x-kubernetes-patch-merge-key` of its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original whole. The default for every list without
    /// a merge strategy (`args`, `tolerations`, `selector.matchExpressions`, every list of
    /// a custom resource).
    Replace,
    /// A list of objects merged element by element, matching elements by the value of
    /// this key (`containers` by `name`, `ports` by `containerPort`).
    MergeByKey(String),
    /// A list of primitives merged as a set (`metadata.finalizers`, `spec.podCIDRs`).
    MergePrimitives,
}

impl ListStrategy {
    /// The merge key, for a list of objects merged by key.
    pub(crate) fn merge_key(&self) -> Option<&str> {
        match self {
            ListStrategy::MergeByKey(key) => Some(key),
            ListStrategy::Replace | ListStrategy::MergePrimitives => None,
        }
    }
}

/// Patch metadata for one level of an object: what the engine asks about the fields of the
/// object (or list element) it is looking at.
///
/// An implementation describes one schema node; [`PatchMeta::child`] steps into a field.
/// Every lookup is total: a field the schema does not know is a [`ListStrategy::Replace`]
/// list, has no `retainKeys`, and its child is [`NoMeta`]. For a map with arbitrary keys
/// (`additionalProperties`, such as `resources.limits`), `child` returns the metadata of
/// the map's values whatever the key.
///
/// The trait is object safe; the engine only ever holds `&dyn PatchMeta`.
pub trait PatchMeta {
    /// Strategy for the list at `field` of the current object.
    fn list_strategy(&self, field: &str) -> ListStrategy;

    /// Whether `field` has the `retainKeys` strategy. For a map field the map itself is a
    /// union whose unset members are cleared (`DeploymentSpec.strategy`); for a list of
    /// objects each element is (`PodSpec.volumes`, strategy `merge,retainKeys`).
    ///
    /// Only computing a patch consults this, to emit `$retainKeys`; applying one follows
    /// the patch's own `$retainKeys`, as upstream does.
    fn retain_keys(&self, field: &str) -> bool;

    /// Metadata for the value at `field`: the object there, or the elements of the list of
    /// objects there.
    fn child(&self, field: &str) -> Box<dyn PatchMeta + '_>;
}

/// Metadata that knows no field: every list is replaced whole and nothing retains keys.
///
/// This is what custom resources and unknown types get, and with it a strategic merge
/// patch behaves like a JSON merge patch (RFC 7386), directives aside.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMeta;

impl PatchMeta for NoMeta {
    fn list_strategy(&self, _field: &str) -> ListStrategy {
        ListStrategy::Replace
    }

    fn retain_keys(&self, _field: &str) -> bool {
        false
    }

    fn child(&self, _field: &str) -> Box<dyn PatchMeta + '_> {
        Box::new(NoMeta)
    }
}
