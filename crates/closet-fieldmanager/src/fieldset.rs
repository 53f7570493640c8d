//! [`FieldSet`]: a set of field paths, stored as a tree, with upstream's set algebra.

use std::collections::{BTreeMap, BTreeSet};

use crate::path::{Path, PathElement};

/// A set of fields of one object: what one manager owns, or what changed between two
/// versions of an object.
///
/// A path is a *member* when the field itself is in the set. A field can also have members
/// below it without being one (owning `.spec.replicas` does not mean owning `.spec`). The
/// empty path (the whole object) is never a member.
///
/// The JSON form is FieldsV1 ([`FieldSet::from_fields_v1`], [`FieldSet::to_json`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub(crate) members: BTreeSet<PathElement>,
    /// Never holds an empty set.
    pub(crate) children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no path is a member.
    pub fn is_empty(&self) -> bool {
        // Children are never empty, so any child means a member below it.
        self.members.is_empty() && self.children.is_empty()
    }

    /// The number of member paths.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Adds `path` as a member (its parents are not added). The empty path is ignored.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// The members below `element`, relative to it.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// Every member path, parents before children (upstream's iteration order).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            prefix.push(member.clone());
            out.push(Path::new(prefix.clone()));
            prefix.pop();
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            match out.children.get_mut(element) {
                Some(mine) => *mine = mine.union(child),
                None => {
                    out.children.insert(element.clone(), child.clone());
                }
            }
        }
        out
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: self
                .children
                .iter()
                .filter_map(|(element, child)| {
                    let theirs = other.children.get(element)?;
                    non_empty(element, child.intersection(theirs))
                })
                .collect(),
        }
    }

    /// The paths of `self` that are not in `other`. Only exact paths are taken out: removing
    /// `.spec` leaves `.spec.replicas` in, and removing `.spec.replicas` leaves `.spec` in.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: self
                .children
                .iter()
                .filter_map(|(element, child)| match other.children.get(element) {
                    Some(theirs) => non_empty(element, child.difference(theirs)),
                    None => Some((element.clone(), child.clone())),
                })
                .collect(),
        }
    }

    /// The paths of `self` that neither are in `other` nor lie below a member of `other`:
    /// removing `.spec` takes `.spec.replicas` out too.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: self
                .children
                .iter()
                .filter(|(element, _)| !other.members.contains(*element))
                .filter_map(|(element, child)| match other.children.get(element) {
                    Some(theirs) => non_empty(element, child.recursive_difference(theirs)),
                    None => Some((element.clone(), child.clone())),
                })
                .collect(),
        }
    }
}

fn non_empty(element: &PathElement, set: FieldSet) -> Option<(PathElement, FieldSet)> {
    (!set.is_empty()).then(|| (element.clone(), set))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn set(paths: &[&[&str]]) -> FieldSet {
        let mut out = FieldSet::new();
        for path in paths {
            let path: Vec<PathElement> = path.iter().map(|n| f(n)).collect();
            out.insert(&path);
        }
        out
    }

    #[test]
    fn difference_is_exact_and_recursive_difference_is_not() {
        let a = set(&[&["spec"], &["spec", "replicas"], &["spec", "paused"]]);
        let b = set(&[&["spec"]]);
        assert_eq!(
            a.difference(&b),
            set(&[&["spec", "replicas"], &["spec", "paused"]])
        );
        assert!(a.recursive_difference(&b).is_empty());
        let c = set(&[&["spec", "replicas"]]);
        assert_eq!(a.difference(&c), set(&[&["spec"], &["spec", "paused"]]));
    }

    #[test]
    fn union_and_intersection() {
        let a = set(&[&["a", "b"], &["c"]]);
        let b = set(&[&["a", "d"], &["c"]]);
        assert_eq!(a.union(&b), set(&[&["a", "b"], &["a", "d"], &["c"]]));
        assert_eq!(a.intersection(&b), set(&[&["c"]]));
        assert_eq!(a.union(&b).len(), 3);
    }

    #[test]
    fn contains_and_paths() {
        let a = set(&[&["spec", "replicas"], &["spec"], &["kind"]]);
        assert!(a.contains(&[f("spec"), f("replicas")]));
        assert!(a.contains(&[f("spec")]));
        assert!(!a.contains(&[]));
        let paths: Vec<String> = a.paths().iter().map(Path::to_string).collect();
        assert_eq!(paths, [".kind", ".spec", ".spec.replicas"]);
    }
}
