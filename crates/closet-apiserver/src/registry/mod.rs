//! The resource registry: one description per served kind (DESIGN.md §5).
//!
//! Routing, discovery, Tables, field selectors and the write strategies all read these
//! descriptions, so adding a kind is one entry in `builtin`. CustomResourceDefinitions will
//! add entries at run time, which is why the registry sits behind a lock and hands out `Arc`s.

mod builtin;

pub(crate) use builtin::ALL_VERBS;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// How names of a kind are validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Subdomain,
    /// RFC 1123 label: namespaces, services.
    Label,
    /// Anything that is a valid path segment: RBAC kinds.
    PathSegment,
}

/// One served resource (a plural name in one group-version).
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name used in paths, e.g. `deployments`.
    pub plural: String,
    /// Singular name, e.g. `deployment`.
    pub singular: String,
    /// Short names kubectl accepts, e.g. `deploy`.
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    pub categories: Vec<String>,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Subresources served, e.g. `status`.
    pub subresources: Vec<String>,
    /// How object names are validated.
    pub name_rule: NameRule,
    /// Field selectors this kind supports besides `metadata.name` and `metadata.namespace`.
    pub field_selectors: Vec<String>,
    /// Verbs served; review kinds (SelfSubjectAccessReview...) only answer `create`.
    pub verbs: Vec<String>,
    /// What a CustomResourceDefinition declares for this resource; `None` for built-ins.
    pub custom: Option<Arc<crate::crd::CustomInfo>>,
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kind of this resource's lists, e.g. `DeploymentList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether this is the core-group resource `plural`.
    pub fn is_core(&self, plural: &str) -> bool {
        self.group.is_empty() && self.plural == plural
    }

    /// Whether this is a review: a create-only kind computed per request, never stored.
    pub fn is_review(&self) -> bool {
        self.verbs.len() == 1 && self.verbs[0] == "create"
    }

    /// Whether `sub` is served for this resource.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }

    /// The store key prefix of all objects of this resource.
    pub fn storage_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("/{group}/{}/", self.plural)
    }

    /// The store key prefix of this resource's objects in one namespace (or all of them when
    /// `namespace` is `None` or the resource is cluster-scoped).
    pub fn prefix_for(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.storage_prefix()),
            _ => self.storage_prefix(),
        }
    }

    /// The store key of one object.
    pub fn key_for(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.prefix_for(namespace))
    }

    /// Whether a field selector on `field` is supported.
    pub fn supports_field(&self, field: &str) -> bool {
        field == "metadata.name"
            || (field == "metadata.namespace" && self.namespaced)
            || self.field_selectors.iter().any(|f| f == field)
    }
}

/// Every served resource, indexed by group, version and plural.
#[derive(Debug)]
pub struct Registry {
    by_path: RwLock<BTreeMap<(String, String, String), Arc<ResourceInfo>>>,
}

impl Registry {
    /// A registry with every built-in kind.
    pub fn builtin() -> Self {
        let mut map = BTreeMap::new();
        for info in builtin::resources() {
            map.insert(
                (
                    info.group.clone(),
                    info.version.clone(),
                    info.plural.clone(),
                ),
                Arc::new(info),
            );
        }
        Self {
            by_path: RwLock::new(map),
        }
    }

    /// The resource served at `group/version/plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        let map = self.by_path.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every resource, sorted by group, version and plural.
    pub fn all(&self) -> Vec<Arc<ResourceInfo>> {
        let map = self.by_path.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// Served groups with their versions, in discovery order: core first, then as upstream
    /// lists them.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for info in self.all() {
            match groups.iter_mut().find(|(g, _)| *g == info.group) {
                Some((_, versions)) => {
                    if !versions.contains(&info.version) {
                        versions.push(info.version.clone());
                    }
                }
                None => groups.push((info.group.clone(), vec![info.version.clone()])),
            }
        }
        groups.sort_by_key(|(g, _)| builtin::group_rank(g));
        groups
    }

    /// Removes every version of `group/plural` (a deleted or changed CustomResourceDefinition).
    pub fn remove(&self, group: &str, plural: &str) {
        let mut map = self.by_path.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|(g, _, p), _| !(g == group && p == plural));
    }

    /// Adds or replaces a resource (CustomResourceDefinitions).
    pub fn insert(&self, info: ResourceInfo) {
        let mut map = self.by_path.write().unwrap_or_else(|e| e.into_inner());
        map.insert(
            (
                info.group.clone(),
                info.version.clone(),
                info.plural.clone(),
            ),
            Arc::new(info),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_group_keys() {
        let reg = Registry::builtin();
        let pods = reg.get("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key_for(Some("default"), "web"),
            "/core/pods/default/web"
        );
        assert_eq!(pods.prefix_for(None), "/core/pods/");
        let nodes = reg.get("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key_for(Some("ignored"), "n1"), "/core/nodes/n1");
        let deploy = reg.get("apps", "v1", "deployments").unwrap();
        assert_eq!(deploy.api_version(), "apps/v1");
    }

    #[test]
    fn every_kind_the_issue_lists_is_served() {
        let reg = Registry::builtin();
        let plurals: Vec<String> = reg.all().iter().map(|r| r.plural.clone()).collect();
        for p in [
            "namespaces",
            "pods",
            "services",
            "endpoints",
            "endpointslices",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "events",
            "nodes",
            "persistentvolumes",
            "persistentvolumeclaims",
            "storageclasses",
            "limitranges",
            "resourcequotas",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "controllerrevisions",
            "jobs",
            "cronjobs",
            "ingresses",
            "ingressclasses",
            "networkpolicies",
            "leases",
            "priorityclasses",
            "poddisruptionbudgets",
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
            "horizontalpodautoscalers",
            "customresourcedefinitions",
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ] {
            assert!(plurals.iter().any(|x| x == p), "{p} missing");
        }
    }

    #[test]
    fn core_group_comes_first() {
        let reg = Registry::builtin();
        assert_eq!(reg.groups()[0].0, "");
        assert_eq!(reg.groups()[1].0, "apps");
    }
}
