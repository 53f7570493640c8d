//! What the garbage collector should do, decided from a snapshot of every object's metadata
//! without I/O, so the rules are unit-tested apart from the API.
//!
//! The rules follow upstream's garbage collector: a dependent whose owners are all gone is
//! deleted; one that keeps a live owner only loses its references to the gone ones; an owner
//! deleted in the foreground first sees its dependents deleted and loses its
//! `foregroundDeletion` finalizer once no dependent with `blockOwnerDeletion` remains; an owner
//! deleted with `orphan` first has its references removed from its dependents.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// The finalizer that orphans an object's dependents before it goes.
pub const ORPHAN: &str = "orphan";
/// The finalizer that deletes an object's dependents before it goes.
pub const FOREGROUND: &str = "foregroundDeletion";

/// One object as the collector sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Index of the object's resource type in the collector's type table.
    pub kind: usize,
    /// Namespace, `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// resourceVersion when seen, for writes that must not act on a stale view.
    pub resource_version: String,
    /// `metadata.ownerReferences`.
    pub owners: Vec<OwnerReference>,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

impl Node {
    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    fn waits_for_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }
}

/// How an object is to be deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Delete now, dependents afterwards.
    Background,
    /// Delete the dependents first.
    Foreground,
    /// Keep the dependents, without the reference.
    Orphan,
}

/// A write the collector makes.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Delete the dependent (by UID precondition).
    Delete(Node, Policy),
    /// Remove the owner references with these UIDs from the object.
    RemoveOwners(Node, Vec<String>),
    /// Remove a finalizer from the object.
    RemoveFinalizer(Node, &'static str),
}

/// An owner reference whose owner is not in the snapshot: it may be gone, or the snapshot may
/// be behind, so it is checked against the API before anything is done about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Unverified {
    /// The dependent's namespace: a namespaced owner lives there.
    pub namespace: Option<String>,
    /// The reference.
    pub owner: OwnerReferenceKey,
}

/// The identifying parts of an owner reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerReferenceKey {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `uid`.
    pub uid: String,
}

impl From<&OwnerReference> for OwnerReferenceKey {
    fn from(r: &OwnerReference) -> Self {
        Self {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
        }
    }
}

/// The plan for one pass.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Writes to make.
    pub actions: Vec<Action>,
    /// Owners to look up before the next pass can decide about their dependents.
    pub verify: Vec<Unverified>,
}

enum Owner {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Being deleted in the foreground.
    Waiting,
    /// Confirmed gone.
    Dangling,
    /// Not in the snapshot and not yet confirmed gone.
    Unknown,
}

/// Decides the writes for a snapshot. `gone` holds owner UIDs the API confirmed absent.
pub fn plan(nodes: &[Node], gone: &HashSet<String>) -> Plan {
    let by_uid: HashMap<&str, &Node> = nodes.iter().map(|n| (n.uid.as_str(), n)).collect();
    let mut dependents: HashMap<&str, Vec<(&Node, &OwnerReference)>> = HashMap::new();
    for n in nodes {
        for r in &n.owners {
            dependents.entry(r.uid.as_str()).or_default().push((n, r));
        }
    }
    let mut out = Plan::default();
    let mut verify = HashSet::new();
    for n in nodes {
        if !n.owners.is_empty() && !n.deleting {
            dependent(n, &by_uid, &dependents, gone, &mut out, &mut verify);
        }
        if n.deleting {
            owner(n, &dependents, &mut out);
        }
    }
    out.verify = verify.into_iter().collect();
    out
}

fn classify(
    n: &Node,
    r: &OwnerReference,
    by_uid: &HashMap<&str, &Node>,
    gone: &HashSet<String>,
) -> Owner {
    match by_uid.get(r.uid.as_str()) {
        // A namespaced owner must share the dependent's namespace; one elsewhere is not it.
        Some(o) if o.namespace.is_none() || o.namespace == n.namespace => {
            if o.waits_for_dependents() {
                Owner::Waiting
            } else {
                Owner::Solid
            }
        }
        _ if gone.contains(&r.uid) => Owner::Dangling,
        _ => Owner::Unknown,
    }
}

fn dependent(
    n: &Node,
    by_uid: &HashMap<&str, &Node>,
    dependents: &HashMap<&str, Vec<(&Node, &OwnerReference)>>,
    gone: &HashSet<String>,
    out: &mut Plan,
    verify: &mut HashSet<Unverified>,
) {
    let (mut solid, mut waiting, mut dangling, mut unknown) = (0, vec![], vec![], 0);
    for r in &n.owners {
        match classify(n, r, by_uid, gone) {
            Owner::Solid => solid += 1,
            Owner::Waiting => waiting.push(r.uid.clone()),
            Owner::Dangling => dangling.push(r.uid.clone()),
            Owner::Unknown => {
                unknown += 1;
                verify.insert(Unverified {
                    namespace: n.namespace.clone(),
                    owner: r.into(),
                });
            }
        }
    }
    if solid > 0 {
        // A live owner keeps the object; references to gone or departing owners go.
        let drop: Vec<String> = dangling.into_iter().chain(waiting).collect();
        if !drop.is_empty() {
            out.actions.push(Action::RemoveOwners(n.clone(), drop));
        }
        return;
    }
    if unknown > 0 || (dangling.is_empty() && waiting.is_empty()) {
        return;
    }
    let policy = if dangling.is_empty() {
        // Every owner waits for its dependents: an object with dependents of its own goes in
        // the foreground too, so the wait covers the whole tree.
        if dependents.contains_key(n.uid.as_str()) {
            Policy::Foreground
        } else {
            Policy::Background
        }
    } else if n.has_finalizer(ORPHAN) {
        Policy::Orphan
    } else if n.has_finalizer(FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    };
    out.actions.push(Action::Delete(n.clone(), policy));
}

fn owner(n: &Node, dependents: &HashMap<&str, Vec<(&Node, &OwnerReference)>>, out: &mut Plan) {
    let deps = dependents
        .get(n.uid.as_str())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    // Only dependents in the owner's namespace (or any, for a cluster-scoped owner) are its.
    let mine = deps
        .iter()
        .filter(|(d, _)| n.namespace.is_none() || d.namespace == n.namespace);
    if n.has_finalizer(ORPHAN) {
        let mut any = false;
        for (d, _) in mine {
            any = true;
            out.actions
                .push(Action::RemoveOwners((*d).clone(), vec![n.uid.clone()]));
        }
        if !any {
            out.actions.push(Action::RemoveFinalizer(n.clone(), ORPHAN));
        }
        return;
    }
    if n.has_finalizer(FOREGROUND) {
        let blocked = mine
            .into_iter()
            .any(|(_, r)| r.block_owner_deletion == Some(true));
        if !blocked {
            out.actions
                .push(Action::RemoveFinalizer(n.clone(), FOREGROUND));
        }
    }
}
