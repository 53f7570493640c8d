//! [`Conflicts`]: the fields an apply would take from other managers, worded as upstream's
//! 409 Status.

use std::fmt;

use crate::fieldset::FieldSet;
use crate::go_json;
use crate::managed::{Identity, Operation};
use crate::path::Path;

/// One field an apply would change although another manager owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// How the other manager wrote the field.
    pub operation: Operation,
    /// The version the other manager wrote at (named in the message for Update managers).
    pub api_version: String,
    /// The subresource the other manager wrote through, or empty.
    pub subresource: String,
    /// The field.
    pub path: Path,
}

impl Conflict {
    /// The field as the Status cause's `field`: `.spec.replicas`,
    /// `.spec.containers[name="web"].image`.
    pub fn field(&self) -> String {
        self.path.to_string()
    }

    /// The Status cause's `message`: `conflict with "kubectl-client-side-apply" using apps/v1`.
    pub fn message(&self) -> String {
        format!("conflict with {}", self.manager_text())
    }

    /// The manager as upstream prints it: quoted, with its subresource, and for Update
    /// managers the version.
    fn manager_text(&self) -> String {
        let mut out = go_json::quote(&self.manager);
        if !self.subresource.is_empty() {
            out.push_str(" with subresource ");
            out.push_str(&go_json::quote(&self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(" using ");
            out.push_str(&self.api_version);
        }
        out
    }

    fn identity(&self) -> Identity {
        Identity::new(
            &self.manager,
            self.operation,
            &self.api_version,
            &self.subresource,
        )
    }
}

/// The conflicts of a refused apply; never empty. The apiserver answers 409 `Conflict` with
/// [`Conflicts::message`] as the message and one `FieldManagerConflict` cause per conflict
/// ([`Conflict::field`], [`Conflict::message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts {
    conflicts: Vec<Conflict>,
}

impl Conflicts {
    /// Conflicts from each manager's conflicting fields, managers in upstream's order.
    pub(crate) fn from_sets(sets: Vec<(Identity, String, FieldSet)>) -> Self {
        let mut sets = sets;
        sets.sort_by_key(|(identity, _, _)| identity.key());
        let conflicts = sets
            .into_iter()
            .flat_map(|(identity, api_version, set)| {
                set.paths().into_iter().map(move |path| Conflict {
                    manager: identity.manager.clone(),
                    operation: identity.operation,
                    api_version: api_version.clone(),
                    subresource: identity.subresource.clone(),
                    path,
                })
            })
            .collect();
        Conflicts { conflicts }
    }

    pub(crate) fn from_vec(conflicts: Vec<Conflict>) -> Self {
        Conflicts { conflicts }
    }

    /// The conflicts, grouped by manager.
    pub fn iter(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts.iter()
    }

    /// How many fields conflict.
    pub fn len(&self) -> usize {
        self.conflicts.len()
    }

    /// Always false; a refused apply has at least one conflict.
    pub fn is_empty(&self) -> bool {
        self.conflicts.is_empty()
    }

    /// The Status message, word for word upstream's:
    /// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`,
    /// or for several, one `conflicts with <manager>:` line per manager followed by its
    /// `- <field>` lines.
    pub fn message(&self) -> String {
        if let [only] = self.conflicts.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager_text(),
                only.path
            );
        }
        let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
        for conflict in &self.conflicts {
            let key = conflict.identity().key();
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, paths)) => paths.push(conflict.field()),
                None => groups.push((key, conflict.manager_text(), vec![conflict.field()])),
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::new();
        for (_, manager, paths) in groups {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Conflicts {}

impl<'a> IntoIterator for &'a Conflicts {
    type Item = &'a Conflict;
    type IntoIter = std::slice::Iter<'a, Conflict>;

    fn into_iter(self) -> Self::IntoIter {
        self.conflicts.iter()
    }
}
